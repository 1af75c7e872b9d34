"""The message flow around the core: inbox, core, outbox, senders.

    receive()   store the event in the inbox (a duplicate delivery stops here); the adapter acks
                (events arriving together share a commit)
    process()   claim one inbox row and run the core on it, in one unit of work and one commit
                (the worker claims and handles several per unit of work when it can)
    dispatch()  lease due outbox rows, send them, mark them sent or schedule a retry

Nothing the bot owes a user lives only in memory: a crash between any two steps leaves rows
that the next `drain()` picks up.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from bot.assistant import Assistant, Planner
from bot.core import Core
from bot.model import InboundMessage, Outgoing
from bot.ports import (
    OutboxItem,
    RetryLater,
    Sender,
    StorageUnavailable,
    Undeliverable,
    UnitOfWork,
    reply_place,
)
from bot.trace import current_event

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_ATTEMPTS = 8
THREAD_WAIT_ATTEMPTS = 3
LEASE_SECONDS = 60.0
INBOX_BATCH = 500  # events per inbox commit at most (a few hundred KiB of payloads)
SLICE_EVENTS = 200  # events the worker handles in one unit of work at most ...
WORKER_SLICE_SECONDS = 0.05  # ... and for about how long ...
MIN_SLICE_SECONDS = 0.01  # ... or this long when acks are lagging
CLAIM_GROUP = 4  # events claimed by one statement
ACK_LAG_SECONDS = 0.02  # acks are lagging when an event has waited this long to be stored
ACK_WAIT_SECONDS = 0.05  # the worker waits this long at most for the batch being stored ...
SATURATED = 0.8  # ... and goes on waiting while the process computed this share of the time ...
ACK_FIRST_SECONDS = 1.0  # ... for this long at most


def utcnow() -> datetime:
    return datetime.now(UTC)


def _settle(stored: asyncio.Future[int | None], outcome: int | None | Exception) -> None:
    """Hand a waiting ack its event's outcome (unless its request was cancelled meanwhile:
    the event is stored all the same, and the platform's retry will be a duplicate)."""
    if stored.done():
        return
    if isinstance(outcome, Exception):
        stored.set_exception(outcome)
    else:
        stored.set_result(outcome)


def backoff(attempts: int) -> float:
    """Seconds before the next try after `attempts` failures: 2, 4, 8 ... capped at 5 minutes."""
    return float(min(300, 2 ** max(1, attempts)))


class Relay:
    def __init__(self, uow_factory: Callable[[], UnitOfWork], core: Core,
                 senders: Mapping[str, Sender], clock: Callable[[], datetime] = utcnow) -> None:
        self.uow_factory = uow_factory
        self.core = core
        self.senders = dict(senders)
        self.clock = clock
        self._wake = asyncio.Event()
        self._drain_lock = asyncio.Lock()
        self.backlog: int | None = None  # outbox rows not yet sent, as of the last drain
        # When each channel may next be sent to (this process's share of the platform's pace).
        self._next_free: dict[tuple[str, str, str], datetime] = {}
        # Events waiting for the next inbox commit (with when each arrived), the task
        # committing them, when the oldest event of the batch it has in hand arrived, and a
        # signal after each batch.
        self._arrivals: list[tuple[InboundMessage, asyncio.Future[int | None], float]] = []
        self._storing: asyncio.Task[None] | None = None
        self._storing_since: float | None = None
        self._stored = asyncio.Event()

    # ---- inbound -------------------------------------------------------------------------

    async def receive(self, msg: InboundMessage) -> bool:
        """Store an inbound event before it is acknowledged. False for a duplicate delivery.

        Group commit: events that arrive while a batch is being committed wait for the next
        one, so under load one commit stores many events and each ack still follows its own
        event's commit. An event that arrives alone is committed at once."""
        current_event.set(msg.event_id)
        loop = asyncio.get_running_loop()
        stored: asyncio.Future[int | None] = loop.create_future()
        self._arrivals.append((msg, stored, loop.time()))
        if self._storing is None or self._storing.done():
            # A context of its own: a batch belongs to no single event's log lines.
            self._storing = asyncio.create_task(self._store_arrivals(),
                                                context=contextvars.Context())
        if await stored is None:
            log.info("duplicate event ignored")
            return False
        return True

    async def _store_arrivals(self) -> None:
        batch: list[tuple[InboundMessage, asyncio.Future[int | None], float]] = []
        failure: Exception = RuntimeError("shutting down before the event was stored")
        try:
            while self._arrivals:
                batch = self._arrivals[:INBOX_BATCH]
                del self._arrivals[:INBOX_BATCH]
                self._storing_since = batch[0][2]
                try:
                    ids = await self._store([msg for msg, _, _ in batch])
                except StorageUnavailable as exc:  # the database, not the data: all fail now
                    ids = [None] * len(batch)
                    for _, stored, _ in batch:
                        _settle(stored, exc)
                except Exception as exc:
                    if len(batch) == 1:
                        ids = [None]
                        _settle(batch[0][1], exc)
                    else:
                        # One bad event must not fail the others: store them one by one.
                        log.warning("storing %d events together failed (%s); storing them "
                                    "singly", len(batch), type(exc).__name__)
                        ids = await self._store_singly(batch)
                for (_, stored, _), inbox_id in zip(batch, ids, strict=True):
                    _settle(stored, inbox_id)  # no-op where an exception was set
                if any(inbox_id is not None for inbox_id in ids):
                    self._wake.set()
                batch, self._storing_since = [], None
                self._stored.set()
                # SQLite's pool has one connection, and the next batch would take it back
                # before a worker woken to wait for it runs (asyncio's queue is not fair):
                # give the worker its turn, or in a flood it would never get one.
                await asyncio.sleep(0)
        except Exception as exc:  # a bug here must not leave acks waiting for ever
            log.exception("storing inbound events failed")
            failure = exc
        finally:  # or cancelled (shutting down)
            for _, stored, _ in batch + self._arrivals:
                _settle(stored, failure)
            self._arrivals.clear()
            self._storing_since = None
            self._stored.set()

    async def _store_singly(self, batch: list[tuple[InboundMessage, asyncio.Future[int | None],
                                                    float]]) -> list[int | None]:
        ids: list[int | None] = []
        outage: StorageUnavailable | None = None
        for msg, stored, _ in batch:
            try:
                if outage:
                    raise outage  # the database went away meanwhile: don't wait on it again
                ids.append((await self._store([msg]))[0])
            except Exception as exc:
                outage = exc if isinstance(exc, StorageUnavailable) else outage
                ids.append(None)
                _settle(stored, exc)
        return ids

    async def _store(self, messages: list[InboundMessage]) -> list[int | None]:
        async with self.uow_factory() as uow:
            ids = await uow.inbox.add_many(messages)
            await uow.commit()
        return ids

    async def process(self, inbox_id: int) -> bool:
        """Run the core on one inbox row; False if someone else already handled it."""
        try:
            prepared = await self._prepare(inbox_id)
            async with self.uow_factory() as uow:
                msg = await uow.inbox.claim(inbox_id)
                if msg is None:
                    return False
                token = current_event.set(msg.event_id)
                try:
                    await self.core.handle(msg, uow, prepared)
                finally:
                    current_event.reset(token)
                await uow.commit()
                return True
        except Exception as exc:  # a bug must not wedge the inbox or go unanswered
            log.exception("handling inbox row %s failed", inbox_id)
            await self._failed(inbox_id, exc)
            return True

    async def _prepare(self, inbox_id: int) -> Assistant | None:
        """With a remote assistant (a language model), find out what the core will ask it by
        a rehearsal that is rolled back, and ask with no transaction open: a slow model must
        never hold database locks (on SQLite that would stall every other write)."""
        if not self.core.assistant.remote:
            return None
        planner = Planner()
        async with self.uow_factory() as uow:
            msg = await uow.inbox.claim(inbox_id)
            if msg is None:
                return None
            await self.core.handle(msg, uow, planner)
            # no commit: the rehearsal leaves nothing behind
        return await planner.prepare(self.core.assistant)

    async def _failed(self, inbox_id: int, exc: Exception) -> None:
        async with self.uow_factory() as uow:
            msg = await uow.inbox.claim(inbox_id)
            if msg is None:
                return
            await uow.inbox.fail(inbox_id, f"{type(exc).__name__}: {exc}"[:2000])
            await uow.outbox.add(Outgoing(
                where=reply_place(msg),
                text="Sorry, something went wrong on my side and nothing was recorded. "
                     "Please try again in a minute.",
                private_to=None if msg.direct else msg.user))
            await uow.commit()

    async def process_pending(self, limit: int = 200) -> int:
        handled = 0
        while True:
            async with self.uow_factory() as uow:
                ids = await uow.inbox.pending(limit)
            if not ids:
                return handled
            queue = deque(ids)
            while queue:
                await self._after_acks()
                if self.core.assistant.remote:
                    # A language model is asked outside any transaction (see _prepare), so
                    # each event has its own.
                    handled += await self.process(queue.popleft())
                else:
                    handled += await self._process_slice(queue)
            if len(ids) < limit:
                return handled

    @property
    def _acks_waiting(self) -> bool:
        return bool(self._arrivals) or (self._storing is not None and not self._storing.done())

    def _ack_lag(self) -> float:
        """How long the event that has waited longest to be stored has waited (0: none)."""
        oldest = self._storing_since
        if oldest is None and self._arrivals:
            oldest = self._arrivals[0][2]
        return 0.0 if oldest is None else asyncio.get_running_loop().time() - oldest

    async def _after_acks(self) -> None:
        """Acks first: Slack wants its 200 within 3 s, the work behind an event can wait.

        While events are being stored the worker waits for them (ACK_WAIT_SECONDS at most).
        If the process spent that time computing (SATURATED: a flood of requests, each of
        which the worker's time would come out of) it goes on waiting, batch after batch,
        for ACK_FIRST_SECONDS at most: a flood slows the worker down but cannot stop it.
        If the process mostly waited (for the database: at moderate rates some batch is
        nearly always being committed) the worker goes ahead, or it would starve while the
        process idles."""
        loop = asyncio.get_running_loop()
        started, cpu = loop.time(), time.thread_time()
        while self._acks_waiting and (left := started + ACK_FIRST_SECONDS - loop.time()) > 0:
            self._stored.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stored.wait(), min(left, ACK_WAIT_SECONDS))
            waited = loop.time() - started
            if time.thread_time() - cpu < SATURATED * waited:
                break
        # SQLite's pool has one connection, which it hands to whoever asks before the event
        # loop runs again: yielding lets an ack that just arrived ask first.
        await asyncio.sleep(0)

    async def _process_slice(self, queue: deque[int]) -> int:
        """Handle events from the front of `queue` in one unit of work: one commit for many
        events. With acks waiting (on SQLite they wait for this connection) it claims one event
        at a time, and it ends after WORKER_SLICE_SECONDS, or after MIN_SLICE_SECONDS once
        acks are lagging. If any event fails, the slice is rolled back and its events handled
        one at a time."""
        loop = asyncio.get_running_loop()
        started, taken, handled = loop.time(), [], 0
        try:
            async with self.uow_factory() as uow:
                while queue and len(taken) < SLICE_EVENTS:
                    size = 1 if self._acks_waiting else CLAIM_GROUP
                    group = [queue.popleft() for _ in range(min(size, len(queue)))]
                    taken += group
                    for _, msg in await uow.inbox.claim_many(group):  # gone: another process
                        token = current_event.set(msg.event_id)
                        try:
                            await self.core.handle(msg, uow)
                        finally:
                            current_event.reset(token)
                        handled += 1
                    spent = loop.time() - started
                    if spent >= WORKER_SLICE_SECONDS or (
                            spent >= MIN_SLICE_SECONDS and self._ack_lag() > ACK_LAG_SECONDS):
                        break
                await uow.commit()
            return handled
        except Exception:
            # Nothing of the slice was kept. The single path runs each event again on its own,
            # so only the one that fails is recorded as failed (and logged with its trace).
            if len(taken) > 1:
                log.warning("handling %d events together failed; handling them one by one",
                            len(taken))
            return sum([await self.process(inbox_id) for inbox_id in taken])

    # ---- outbound ------------------------------------------------------------------------

    async def dispatch(self, limit: int = 100) -> int:
        """Send what is due now; returns how many were sent."""
        now = self.clock()
        async with self.uow_factory() as uow:
            items = await uow.outbox.claim_due(now, limit, LEASE_SECONDS)
            await uow.commit()
        sent = 0
        for item in items:
            await asyncio.sleep(0)  # acks first, as in process_pending
            message = await self._threaded(item)
            if message is None:
                continue
            sender = self.senders.get(message.where.platform)
            wait = self._pace(message, sender)
            if wait:
                async with self.uow_factory() as uow:
                    await uow.outbox.postpone(item.id, self.clock() + timedelta(seconds=wait))
                    await uow.commit()
                continue
            outcome: tuple[str, float, str] | None = None
            result = None
            if sender is None:
                outcome = ("give_up", 0, f"no sender for {item.message.where.platform}")
            else:
                try:
                    result = await sender.find_sent(message) if item.maybe_sent else None
                    if result is None:
                        result = await sender.send(message)
                    else:
                        log.warning("outbox row %s was delivered by an earlier attempt; "
                                    "not sending it again", item.id)
                except RetryLater as exc:  # a definite "not delivered"
                    outcome = ("retry" if exc.counts else "wait", exc.after, str(exc))
                except Undeliverable as exc:
                    outcome = ("give_up", 0, str(exc))
                except Exception as exc:  # MaybeDelivered, timeouts, resets: nobody knows
                    log.warning("sending outbox row %s failed: %s", item.id, exc)
                    outcome = ("uncertain", backoff(item.attempts + 1),
                               f"{type(exc).__name__}: {exc}")
            async with self.uow_factory() as uow:
                if outcome is None:
                    await uow.outbox.sent(item.id, self.clock())
                    key, message_id = message.key, result.message_id if result else None
                    if key and message_id:
                        channel = result.channel if result and result.channel else message.where.channel
                        await uow.posted.remember(message.where.team, key, channel, message_id)
                    sent += 1
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
                await uow.commit()
        return sent

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

    async def drain(self, stop: asyncio.Event | None = None) -> None:
        """Process every pending event and send everything due, until there is nothing left
        (or until `stop` is set: shutting down finishes the batch at hand, not the backlog)."""
        async with self._drain_lock:
            while stop is None or not stop.is_set():
                handled = await self.process_pending()
                sent = await self.dispatch()
                if not handled and not sent:
                    break
            async with self.uow_factory() as uow:
                self.backlog = await uow.outbox.backlog()

    async def perform(self, action: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        """Run a use case that is not a message (an adapter's fact about a person, the command
        line's digest) in a unit of work of its own, and commit what it wrote."""
        async with self.uow_factory() as uow:
            result = await action(uow)
            await uow.commit()
        self._wake.set()  # it may have written to the outbox
        return result

    # ---- background worker ------------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    async def run_worker(self, stop: asyncio.Event | None = None,
                         poll_seconds: float = 1.0) -> None:
        """Drain whenever woken, and every `poll_seconds` for retries that came due, until
        `stop` is set; the pass under way is finished first, what is left stays in the database."""
        stop = stop or asyncio.Event()
        while not stop.is_set():
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=poll_seconds)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                await self.drain(stop)
            except Exception:
                log.exception("worker pass failed; retrying on the next tick")
