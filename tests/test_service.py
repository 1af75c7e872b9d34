"""The dispatcher around the core: retries, give-ups, and refs of sent messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.model import Outgoing, Where
from bot.ports import RetryLater, Sender, Sent, Undeliverable
from bot.service import MAX_ATTEMPTS, Bot
from storage.db import Database


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
    bot = Bot(db.uow, None, {"slack": sender}, clock=clock)  # type: ignore[arg-type]
    await queue(db, Outgoing(where=Where("slack", "T1", "C1"), text="hello", key="request:1"))
    clock.advance(1)
    assert await bot.dispatch() == 0
    clock.advance(10)
    assert await bot.dispatch() == 0  # Retry-After not over yet
    clock.advance(25)
    assert await bot.dispatch() == 0  # connection error: backoff
    clock.advance(300)
    assert await bot.dispatch() == 1
    clock.advance(300)
    assert await bot.dispatch() == 0
    assert [m.text for m in sender.sent] == ["hello"]
    async with db.uow() as uow:
        assert await uow.refs.key_for(Where("slack", "T1", "C1").team, "C9", "ts-1") == "request:1"


async def test_undeliverable_and_exhausted_messages_are_given_up(db: Database) -> None:
    clock = Clock()
    sender = FlakySender([Undeliverable("channel_not_found")] +
                         [ConnectionError("down")] * MAX_ATTEMPTS)
    bot = Bot(db.uow, None, {"slack": sender}, clock=clock)  # type: ignore[arg-type]
    await queue(db, Outgoing(where=Where("slack", "T1", "C1"), text="a"))
    await queue(db, Outgoing(where=Where("slack", "T1", "C1"), text="b"))
    await queue(db, Outgoing(where=Where("nowhere", "T1", "C1"), text="c"))
    for _ in range(MAX_ATTEMPTS + 2):
        clock.advance(301)
        await bot.dispatch()
    assert sender.sent == []
    async with db.uow() as uow:
        assert await uow.outbox.backlog() == 0
