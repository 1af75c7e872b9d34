"""The dispatcher around the core: retries, give-ups, and refs of sent messages."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.assistant import HeuristicAssistant
from bot.classify import Classification
from bot.core import Core
from bot.model import InboundMessage, Outgoing, Where
from bot.ports import RetryLater, Sender, Sent, Undeliverable
from bot.relay import MAX_ATTEMPTS, Relay
from storage.db import Database
from storage.tables import OutboxRow


class FlakySender(Sender):
    def __init__(self, failures: list[Exception]) -> None:
        self.failures = failures
        self.sent: list[Outgoing] = []

    async def send(self, message: Outgoing) -> Sent:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(message)
        return Sent(message_id="ts-1", channel="C9")


async def queue(db: Database, out: Outgoing) -> None:
    async with db.uow() as uow:
        await uow.outbox.add(out)
        await uow.commit()


class Clock:
    """Starts at the real now (rows are stamped with it) and moves only when told."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


async def test_a_rate_limited_message_is_sent_once_after_retry_after(db: Database) -> None:
    sender = FlakySender([RetryLater(30), ConnectionError("reset")])
    clock = Clock()
    relay = Relay(db.uow, None, {"slack": sender}, clock=clock)  # type: ignore[arg-type]
    await queue(db, Outgoing(where=Where("slack", "T1", "C1"), text="hello", key="request:1"))
    clock.advance(1)
    assert await relay.dispatch() == 0
    clock.advance(10)
    assert await relay.dispatch() == 0  # Retry-After not over yet
    clock.advance(25)
    assert await relay.dispatch() == 0  # connection error: backoff
    clock.advance(300)
    assert await relay.dispatch() == 1
    clock.advance(300)
    assert await relay.dispatch() == 0
    assert [m.text for m in sender.sent] == ["hello"]
    async with db.uow() as uow:
        assert await uow.posted.key_for(Where("slack", "T1", "C1").team, "C9", "ts-1") == "request:1"


async def test_undeliverable_and_exhausted_messages_are_given_up(db: Database) -> None:
    clock = Clock()
    sender = FlakySender([Undeliverable("channel_not_found")] +
                         [ConnectionError("down")] * MAX_ATTEMPTS)
    relay = Relay(db.uow, None, {"slack": sender}, clock=clock)  # type: ignore[arg-type]
    await queue(db, Outgoing(where=Where("slack", "T1", "C1"), text="a"))
    await queue(db, Outgoing(where=Where("slack", "T1", "C1"), text="b"))
    await queue(db, Outgoing(where=Where("nowhere", "T1", "C1"), text="c"))
    for _ in range(MAX_ATTEMPTS + 2):
        clock.advance(301)
        await relay.dispatch()
    assert sender.sent == []
    async with db.uow() as uow:
        assert await uow.outbox.backlog() == 0


class SlowModel(HeuristicAssistant):
    """A remote assistant that thinks until released, and disagrees with the rules."""

    remote = True

    def __init__(self) -> None:
        self.asked = asyncio.Event()
        self.release = asyncio.Event()

    async def classify(self, text, *, where=None):  # type: ignore[no-untyped-def]
        self.asked.set()
        await self.release.wait()
        return Classification("blocker", 0.95, blocked_on="the DPA", unblocker="legal",
                              source="model")


async def test_a_slow_model_never_holds_the_database(db: Database) -> None:
    model = SlowModel()
    sender = FlakySender([])
    relay = Relay(db.uow, Core(model), {"console": sender})
    where = Where("console", "acme", "C1")
    now = datetime.now(UTC)

    def said(text: str, n: int) -> InboundMessage:
        return InboundMessage(where=where, user="erin", text=text, event_id=f"e{n}", at=now,
                              message_id=f"m{n}")

    await relay.receive(said("the launch sits there until the DPA is signed", 1))
    worker = asyncio.create_task(relay.process_pending())
    await asyncio.wait_for(model.asked.wait(), 10)
    # The model is thinking: the next event must still be stored (this is what the platform
    # waits for before its 3-second ack).
    assert await asyncio.wait_for(relay.receive(said("morning all", 2)), 5) is True
    model.release.set()
    await asyncio.wait_for(worker, 10)
    async with db.uow() as uow:
        [blocker] = await uow.blockers.open(where.team)
    assert blocker.unblocker == "legal"  # the model's answer, prepared outside the transaction


class PacedSender(FlakySender):
    pace, burst = 1.0, 2

    def __init__(self, clock: Clock) -> None:
        super().__init__([])
        self.clock = clock
        self.times: list[tuple[str, datetime]] = []

    async def send(self, message: Outgoing) -> Sent:
        self.times.append((message.where.channel, self.clock()))
        return await super().send(message)


async def test_each_channel_is_paced_and_keeps_its_order(db: Database) -> None:
    clock = Clock()
    sender = PacedSender(clock)
    relay = Relay(db.uow, None, {"slack": sender}, clock=clock)  # type: ignore[arg-type]
    for n in range(5):
        await queue(db, Outgoing(where=Where("slack", "T1", "C1"), text=f"c1-{n}"))
    await queue(db, Outgoing(where=Where("slack", "T1", "C2"), text="c2-0"))
    for _ in range(12):  # a worker waking every half second, on the fake clock
        await relay.dispatch()
        clock.advance(0.5)
    assert [m.text for m in sender.sent] == ["c1-0", "c1-1", "c2-0", "c1-2", "c1-3", "c1-4"]
    c1 = [at for channel, at in sender.times if channel == "C1"]
    # A burst of two, then one a second: never faster than the platform's pace.
    gaps = [(b - a).total_seconds() for a, b in zip(c1, c1[1:], strict=False)]
    assert gaps[0] == 0 and all(g >= 1.0 for g in gaps[1:])
    async with db.uow() as uow:
        assert await uow.outbox.backlog() == 0
    async with db.sessions() as session:  # postponing is not failing: no attempt was counted
        attempts = (await session.execute(select(OutboxRow.attempts))).scalars().all()
    assert attempts == [0] * 6


def test_a_failure_always_has_a_reason() -> None:
    from bot.relay.dispatch import reason

    assert reason(TimeoutError()) == "TimeoutError"  # str() of a timeout is empty
    assert reason(ValueError("bad")) == "ValueError: bad"
