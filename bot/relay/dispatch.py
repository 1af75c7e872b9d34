"""Sending the outbox: lease due rows, hold back what would outpace its channel, thread replies
under their parent message, send, and mark each row sent, due again later (retries with
backoff; rate limits are waited out without counting) or given up.

A row whose earlier attempt may have been delivered (MaybeDelivered, a timeout, a process that
died mid-send) is first looked for on the platform (`Sender.find_sent`), so it is not sent twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bot.model import Outgoing
from bot.ports import (
    TRACKER,
    OutboxItem,
    RetryLater,
    Sender,
    Sent,
    Undeliverable,
    UnitOfWork,
    route,
)

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
THREAD_WAIT_ATTEMPTS = 3
LEASE_SECONDS = 60.0

# What became of one attempt: (what to do, seconds to wait, why). None: it was delivered.
Outcome = tuple[str, float, str]
# What the core does, in the unit of work that marks an outbox row sent or given up, with what
# the platform answered or why it never will: a tracker's new issue is recorded on its request
# in the same commit as "sent", so a crash cannot leave one without the other.
OnSent = Callable[[UnitOfWork, Outgoing, Sent], Awaitable[None]]
OnGivenUp = Callable[[UnitOfWork, Outgoing, str], Awaitable[None]]

# Tracker effects (bot.ports.route) are claimed in their own lane, a few at a time, with a
# lease longer than a tracker's slowest answer (three calls of 30 s at most): a lease that ran
# out while a create was under way would let another process find nothing and create again.
TRACKER_LEASE_SECONDS = 600.0
TRACKERS_AT_ONCE = 8


def utcnow() -> datetime:
    return datetime.now(UTC)


def backoff(attempts: int) -> float:
    """Seconds before the next try after `attempts` failures: 2, 4, 8 ... capped at 5 minutes."""
    return float(min(300, 2 ** max(1, attempts)))


def reason(exc: BaseException) -> str:
    """What went wrong, never empty: a timeout's message is "" (TimeoutError: )."""
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class Dispatcher:
    def __init__(self, uow_factory: Callable[[], UnitOfWork], senders: Mapping[str, Sender],
                 clock: Callable[[], datetime] = utcnow, on_sent: OnSent | None = None,
                 on_given_up: OnGivenUp | None = None) -> None:
        self.uow_factory = uow_factory
        self.senders = dict(senders)
        self.clock = clock
        self.on_sent, self.on_given_up = on_sent, on_given_up
        # When each channel may next be sent to (this process's share of the platform's pace).
        self._next_free: dict[tuple[str, str, str], datetime] = {}
        # What the last dispatch tried and could not send yet, and why (the command line says).
        self.not_sent: list[tuple[Outgoing, str]] = []

    async def dispatch(self, limit: int = 100) -> int:
        """Send the chat messages due now; returns how many were sent."""
        now = self.clock()
        async with self.uow_factory() as uow:
            items = await uow.outbox.claim_due(now, limit, LEASE_SECONDS)
            await uow.commit()
        sent, self.not_sent = 0, []
        for item in items:
            await asyncio.sleep(0)  # acks first, as in process_pending
            sent += await self._deliver(item)
        return sent

    async def dispatch_trackers(self, limit: int = TRACKERS_AT_ONCE) -> int:
        """Perform the tracker effects due now, each project's in order and the projects side
        by side (one slow tracker holds up no other); returns how many were done."""
        async with self.uow_factory() as uow:
            items = await uow.outbox.claim_due(self.clock(), limit, TRACKER_LEASE_SECONDS,
                                               trackers=True)
            await uow.commit()
        projects: dict[tuple[str, str], list[OutboxItem]] = {}
        for item in items:
            projects.setdefault((item.message.where.tenant, item.message.where.channel),
                                []).append(item)

        async def one_project(queue: list[OutboxItem]) -> int:
            return sum([await self._deliver(item) for item in queue])

        return sum(await asyncio.gather(*(one_project(q) for q in projects.values())))

    async def _deliver(self, item: OutboxItem) -> int:
        """One row: paced, sent, recorded. 1 if it was sent."""
        message = await self._threaded(item)
        if message is None:
            return 0
        sender = self.senders.get(route(message))
        wait = self._pace(message, sender)
        if wait:
            async with self.uow_factory() as uow:
                await uow.outbox.postpone(item.id, self.clock() + timedelta(seconds=wait))
                await uow.commit()
            return 0
        outcome, result = await self._attempt(item, message, sender)
        await self._record(item, message, outcome, result)
        if outcome is None:
            return 1
        self.not_sent.append((message, outcome[2]))
        return 0

    async def _attempt(self, item: OutboxItem, message: Outgoing,
                       sender: Sender | None) -> tuple[Outcome | None, Sent | None]:
        if sender is None:
            return ("give_up", 0, f"no sender for {route(item.message)}"), None
        try:
            result = await sender.find_sent(message) if item.maybe_sent else None
            if result is None:
                result = await sender.send(message)
            else:
                log.warning("outbox row %s was delivered by an earlier attempt; "
                            "not sending it again", item.id)
        except RetryLater as exc:  # a definite "not delivered"
            return ("retry" if exc.counts else "wait", exc.after, reason(exc)), None
        except Undeliverable as exc:
            return ("give_up", 0, reason(exc)), None
        except Exception as exc:  # MaybeDelivered, timeouts, resets: nobody knows
            log.warning("sending outbox row %s failed: %s", item.id, reason(exc))
            return ("uncertain", backoff(item.attempts + 1), reason(exc)), None
        return None, result

    async def _record(self, item: OutboxItem, message: Outgoing, outcome: Outcome | None,
                      result: Sent | None) -> None:
        async with self.uow_factory() as uow:
            if outcome is None:
                await uow.outbox.sent(item.id, self.clock())
                key, message_id = message.key, result.message_id if result else None
                if key and message_id and route(message) != TRACKER:
                    channel = result.channel if result and result.channel else message.where.channel
                    await uow.posted.remember(message.where.team, key, channel, message_id)
                if self.on_sent is not None:
                    await self.on_sent(uow, message, result or Sent())
            elif outcome[0] == "wait":  # a rate limit: not an attempt that failed
                log.info("outbox row %s rate limited; waiting %.0fs", item.id, outcome[1])
                await uow.outbox.postpone(
                    item.id, self.clock() + timedelta(seconds=outcome[1]), outcome[2])
            elif outcome[0] in ("retry", "uncertain") and item.attempts + 1 < MAX_ATTEMPTS:
                at = self.clock() + timedelta(seconds=outcome[1])
                await uow.outbox.retry(item.id, at, outcome[2],
                                       uncertain=outcome[0] == "uncertain")
            else:
                log.error("giving up on outbox row %s: %s", item.id, outcome[2])
                await uow.outbox.give_up(item.id, outcome[2])
                if self.on_given_up is not None:
                    await self.on_given_up(uow, message, outcome[2])
            await uow.commit()

    def _pace(self, message: Outgoing, sender: Sender | None) -> float:
        """Seconds to hold `message` back so its channel stays within the platform's pace
        (a generic cell rate algorithm: sustained `pace`, bursts of `burst`); 0: send now."""
        if sender is None or not sender.pace or message.surface == "home":
            return 0.0
        where = message.where
        key = (where.platform, where.tenant, f"@{message.to_user}" if message.to_user
               else where.channel)
        now = self.clock()
        due = max(self._next_free.get(key, now), now)  # the channel's "theoretical arrival"
        early = (due - now).total_seconds() - sender.pace * (sender.burst - 1)
        if early > 0:
            return early
        self._next_free[key] = due + timedelta(seconds=sender.pace)
        return 0.0

    async def _threaded(self, item: OutboxItem) -> Outgoing | None:
        """Resolve `thread_key` to the parent's thread; wait for the parent a little if needed."""
        message = replace(item.message, delivery_id=f"outbox-{item.id}")
        if not message.thread_key:
            return message
        async with self.uow_factory() as uow:
            found = await uow.posted.find(message.where.team, message.thread_key)
            if found is None and item.attempts < THREAD_WAIT_ATTEMPTS:
                # The parent is not sent yet (rows go out in order, so it is being retried).
                await uow.outbox.retry(item.id, self.clock() + timedelta(seconds=5),
                                       "waiting for the parent message")
                await uow.commit()
                return None
        if found is None:
            return replace(message, thread_key=None)  # parent never made it: send unthreaded
        channel, parent = found
        where = message.where if message.to_user else replace(message.where, channel=channel)
        return replace(message, where=where.in_thread(parent), thread_key=None)
