"""The message flow around the core: inbox, core, outbox, senders.

    receive()   store the event in the inbox (a duplicate delivery stops here); the adapter acks
    process()   claim one inbox row and run the core on it, in one unit of work and one commit
    dispatch()  lease due outbox rows, send them, mark them sent or schedule a retry

Nothing the bot owes a user lives only in memory: a crash between any two steps leaves rows
that the next `drain()` picks up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bot.assistant import Assistant, Planner
from bot.core import Core
from bot.model import InboundMessage, Outgoing
from bot.ports import OutboxItem, RetryLater, Sender, Undeliverable, UnitOfWork, reply_place
from bot.trace import current_event

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
THREAD_WAIT_ATTEMPTS = 3
LEASE_SECONDS = 60.0


def utcnow() -> datetime:
    return datetime.now(UTC)


def backoff(attempts: int) -> float:
    """Seconds before the next try after `attempts` failures: 2, 4, 8 ... capped at 5 minutes."""
    return float(min(300, 2 ** max(1, attempts)))


class Bot:
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

    # ---- inbound -------------------------------------------------------------------------

    async def receive(self, msg: InboundMessage) -> bool:
        """Store an inbound event before it is acknowledged. False for a duplicate delivery."""
        current_event.set(msg.event_id)
        async with self.uow_factory() as uow:
            inbox_id = await uow.inbox.add(msg)
            await uow.commit()
        if inbox_id is None:
            log.info("duplicate event ignored")
            return False
        self._wake.set()
        return True

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
            for inbox_id in ids:
                # Let a waiting ack take the connection first: SQLite's pool has one, and the
                # pool hands a just-returned connection to whoever asks before the event loop
                # runs again, so without this the worker keeps it for its whole batch and
                # Slack's acks wait behind it (seconds, with a backlog).
                await asyncio.sleep(0)
                handled += await self.process(inbox_id)
            if len(ids) < limit:
                return handled

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
                    outcome = ("retry", exc.after, str(exc))
                except Undeliverable as exc:
                    outcome = ("give_up", 0, str(exc))
                except Exception as exc:  # timeouts, resets: delivered or not, nobody knows
                    log.warning("sending outbox row %s failed: %s", item.id, exc)
                    outcome = ("uncertain", backoff(item.attempts + 1),
                               f"{type(exc).__name__}: {exc}")
            async with self.uow_factory() as uow:
                if outcome is None:
                    await uow.outbox.sent(item.id, self.clock())
                    key, message_id = message.key, result.message_id if result else None
                    if key and message_id:
                        channel = result.channel if result and result.channel else message.where.channel
                        await uow.refs.remember(message.where.team, key, channel, message_id)
                    sent += 1
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
            found = await uow.refs.find(message.where.team, message.thread_key)
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
