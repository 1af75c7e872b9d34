"""Batching on both sides of the inbox: events that arrive together are stored by one commit
(group commit), and the worker handles several events in one unit of work. Neither may lose,
double or mix up an event, even when one of them cannot be stored or handled."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import event, func, select

from bot.codec import inbound_from_dict, inbound_to_dict
from bot.core import Core
from bot.model import InboundMessage, Where
from bot.ports import UnitOfWork
from bot.relay import Relay, intake
from bot.relay import worker as inbox_worker
from storage.db import Database
from storage.tables import BlockerRow, InboxRow
from tests.conftest import NOW, TEAM, RecordingSender


def message(n: int, text: str = "chatter", **kw: object) -> InboundMessage:
    return InboundMessage(where=Where(TEAM.platform, TEAM.tenant, "D1"), user=f"u{n % 3}",
                          text=text, event_id=f"ev-{n}", at=NOW, direct=True,
                          **kw)  # type: ignore[arg-type]


class Commits:
    """Counts the commits that reach the database."""

    def __init__(self, db: Database) -> None:
        self.count = 0
        event.listen(db.engine.sync_engine, "commit", self._one)

    def _one(self, _conn: object) -> None:
        self.count += 1


async def inbox(db: Database) -> list[tuple[str, str]]:
    async with db.engine.connect() as conn:
        rows = await conn.execute(select(InboxRow.event_id, InboxRow.status).order_by(InboxRow.id))
        return [tuple(r) for r in rows]


async def test_events_that_arrive_together_share_a_commit_and_are_each_stored_once(
        db: Database) -> None:
    relay = Relay(db.uow, Core(), {})
    commits = Commits(db)
    events = [message(n) for n in range(50)]
    retries = events[:10]  # Slack's retries, arriving while their originals wait to be stored

    results = await asyncio.gather(*(relay.receive(m) for m in events + retries))

    assert results[:50] == [True] * 50
    assert results[50:] == [False] * 10
    assert [event_id for event_id, _ in await inbox(db)] == [m.event_id for m in events]
    assert commits.count <= 2  # 60 acks, one or two commits
    # A retry that comes after its original was stored is a duplicate too.
    assert await relay.receive(events[3]) is False


async def test_an_event_that_cannot_be_stored_fails_alone(db: Database) -> None:
    relay = Relay(db.uow, Core(), {})
    unstorable = message(7, form={"field": object()})  # type: ignore[dict-item]
    events = [message(n) for n in range(5)] + [unstorable] + [message(n) for n in range(10, 15)]

    results = await asyncio.gather(*(relay.receive(m) for m in events), return_exceptions=True)

    assert isinstance(results[5], Exception)  # its ack fails: the platform will retry it
    assert results[:5] + results[6:] == [True] * 10
    stored = [event_id for event_id, _ in await inbox(db)]
    assert sorted(stored) == sorted(m.event_id for m in events if m is not unstorable)


class FailsOn(Core):
    """The core, with a bug that one message sets off."""

    def __init__(self, trigger: str) -> None:
        super().__init__()
        self.trigger = trigger

    async def handle(self, msg: InboundMessage, uow: UnitOfWork, assistant: object = None,
                     ) -> None:
        await super().handle(msg, uow, assistant)  # type: ignore[arg-type]
        if self.trigger in msg.text:
            raise RuntimeError("a bug")


async def test_a_failing_event_rolls_back_its_batch_and_the_rest_happen_exactly_once(
        db: Database, caplog: pytest.LogCaptureFixture) -> None:
    sender = RecordingSender()
    relay = Relay(db.uow, FailsOn("explode"), {TEAM.platform: sender})
    texts = ["blocker staging is down", "blocker no VPN", "blocker explode the build",
             "blocker waiting on legal", "blocker no test data"]
    async with db.uow() as uow:  # stored together, so the worker takes them in one batch
        await uow.inbox.add_many([message(n, text) for n, text in enumerate(texts)])
        await uow.commit()

    await relay.drain()

    assert "handling 4 events together failed" in caplog.text  # a batch was rolled back
    async with db.engine.connect() as conn:
        blockers = (await conn.execute(select(BlockerRow.text).order_by(BlockerRow.number)))
        assert [b for (b,) in blockers] == [
            "staging is down", "no VPN", "waiting on legal", "no test data"]
    assert dict(await inbox(db)) == {
        "ev-0": "done", "ev-1": "done", "ev-2": "failed", "ev-3": "done", "ev-4": "done"}
    replies = [out.text for out in sender.sent]
    assert sum("tracking" in r.lower() or "blocker #" in r for r in replies) == 4
    assert sum("something went wrong" in r for r in replies) == 1


class Counting(Core):
    def __init__(self) -> None:
        super().__init__()
        self.handled = 0

    async def handle(self, msg: InboundMessage, uow: UnitOfWork, assistant: object = None,
                     ) -> None:
        await super().handle(msg, uow, assistant)  # type: ignore[arg-type]
        self.handled += 1


async def test_events_arriving_back_to_back_do_not_starve_the_worker(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """Senders that always have an event waiting to be stored keep one batch after another
    in hand: the worker still gets its turn at the database, even at SQLite's single
    connection, which the next batch would otherwise always take first."""
    monkeypatch.setattr(inbox_worker, "ACK_FIRST_SECONDS", 0.05)  # stand aside 50 ms at most
    # Small batches, so that while one is committed the next is already waiting (under
    # load, requests keep coming in during every commit).
    monkeypatch.setattr(intake, "INBOX_BATCH", 5)
    core = Counting()
    relay = Relay(db.uow, core, {})
    stop = asyncio.Event()
    worker = asyncio.create_task(relay.run_worker(stop))
    sent = 0

    async def sender(lane: int) -> None:
        nonlocal sent
        while core.handled < 10 and sent < 1_000:  # ends by the worker, or fails below
            sent += 1
            assert await relay.receive(message(sent * 100 + lane))

    await asyncio.gather(*(sender(lane) for lane in range(20)))
    during = core.handled
    stop.set()
    relay.wake()
    await worker
    assert during >= 10, f"the worker handled {during} of {sent} events while they came"


async def test_two_workers_on_one_inbox_handle_each_event_once(db: Database) -> None:
    """Two processes' workers draining the same inbox at once (on PostgreSQL one waits for
    the rows the other holds, then finds them handled)."""
    senders = [RecordingSender(), RecordingSender()]
    relays = [Relay(db.uow, Core(), {TEAM.platform: sender}) for sender in senders]
    async with db.uow() as uow:
        await uow.inbox.add_many([message(n, f"blocker thing {n}") for n in range(40)])
        await uow.commit()

    handled = await asyncio.gather(*(relay.process_pending() for relay in relays))

    assert sum(handled) == 40
    async with db.engine.connect() as conn:
        texts = (await conn.execute(select(BlockerRow.text))).scalars().all()
        assert sorted(texts) == sorted(f"thing {n}" for n in range(40))
    assert {status for _, status in await inbox(db)} == {"done"}


async def test_claim_many_takes_only_what_is_still_pending(db: Database) -> None:
    async with db.uow() as uow:
        ids = await uow.inbox.add_many([message(n) for n in range(4)])
        await uow.commit()
    assert None not in ids
    async with db.uow() as uow:
        assert await uow.inbox.claim(ids[1]) is not None
        await uow.commit()
    async with db.uow() as uow:
        claimed = await uow.inbox.claim_many(list(reversed(ids)))
        assert [(i, m.event_id) for i, m in claimed] == [
            (ids[0], "ev-0"), (ids[2], "ev-2"), (ids[3], "ev-3")]
        assert await uow.inbox.claim_many(ids) == []  # within the same unit of work, too
        await uow.commit()
    async with db.engine.connect() as conn:
        pending = await conn.execute(select(func.count()).where(InboxRow.status == "pending"))
        assert pending.scalar_one() == 0


async def test_what_is_stored_is_what_comes_back_out(db: Database) -> None:
    """The inbox takes a batch as one JSON document: every character a person can type (and
    a few they cannot) must come back unchanged."""
    texts = ["blocker: deploy \"prod\" ', -- DROP TABLE inbox; \\n", "שלום 🚀 مرحبا",
             "tab\there\u2028line\u0007bell\u0000nul", "x" * 40_000]
    sent = [message(n, t, form={"title": t[:50], "n": n}) for n, t in enumerate(texts)]
    async with db.uow() as uow:
        ids = await uow.inbox.add_many(sent)
        await uow.commit()
    async with db.uow() as uow:
        claimed = await uow.inbox.claim_many([i for i in ids if i is not None])
        await uow.commit()
    assert [m for _, m in claimed] == sent


@pytest.mark.parametrize("msg", [
    message(1),
    message(2, text="/request export", command="request", message_id="1700000000.000100",
            addressed=True, user_name="Sam", user_tz="Europe/Berlin",
            form={"title": "CSV export", "problem": "finance retypes numbers"}),
])
def test_an_inbound_message_survives_the_inbox_unchanged(msg: InboundMessage) -> None:
    data = inbound_to_dict(msg)
    assert inbound_from_dict(data) == msg
    if msg.form is not None:
        data["form"]["title"] = "changed"  # the stored copy is the inbox's own
        assert msg.form["title"] == "CSV export"


def test_rows_written_by_a_newer_version_are_still_read() -> None:
    """In a rolling upgrade an older process may claim a row a newer one wrote."""
    from bot.codec import outgoing_from_dict, outgoing_to_dict
    from bot.model import Action, Outgoing, Section

    out = Outgoing(where=Where("slack", "T1", "C1"), text="hi", reply_to="U1")
    assert outgoing_from_dict({**outgoing_to_dict(out), "added_later": 1}) == out
    assert inbound_from_dict({**inbound_to_dict(message(3)), "added_later": 1}) == message(3)
    # ... and fields added further down, too.
    nested = inbound_to_dict(message(4))
    nested["where"]["added_later"] = 1
    assert inbound_from_dict(nested) == message(4)
    sectioned = Outgoing(where=Where("slack", "T1", "C1"), text="hi",
                         sections=(Section("#1 no VPN", title="Blockers"),),
                         actions=(Action("Resolve", "resolve 1"),))
    data = outgoing_to_dict(sectioned)
    data["where"]["added_later"] = data["sections"][0]["added_later"] = 1
    data["actions"][0]["added_later"] = 1
    assert outgoing_from_dict(data) == sectioned
