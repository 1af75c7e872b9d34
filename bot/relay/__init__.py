"""The message flow around the core: inbox, core, outbox, senders.

    receive()   store the event in the inbox (a duplicate delivery stops here); the adapter acks
                (events arriving together share a commit)                      -> intake.py
    process()   claim one inbox row and run the core on it, in one unit of work and one commit
                (the worker claims and handles several per unit of work when it can) -> worker.py
    dispatch()  lease due outbox rows, send them, mark them sent or schedule a retry -> dispatch.py

Nothing the bot owes a user lives only in memory: a crash between any two steps leaves rows
that the next `drain()` picks up.

Each module owns its tunables (intake.INBOX_BATCH, worker.ACK_FIRST_SECONDS, ...): patch them
there.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import TypeVar

from bot.core import Core
from bot.model import InboundMessage
from bot.ports import Sender, UnitOfWork
from bot.relay.dispatch import MAX_ATTEMPTS, Dispatcher, backoff, utcnow
from bot.relay.intake import Intake
from bot.relay.worker import InboxWorker

__all__ = ["MAX_ATTEMPTS", "Relay", "backoff", "utcnow"]

log = logging.getLogger(__name__)
T = TypeVar("T")


class Relay:
    """The intake, the inbox worker and the dispatcher of one process, and the loop that
    keeps them going."""

    def __init__(self, uow_factory: Callable[[], UnitOfWork], core: Core,
                 senders: Mapping[str, Sender], clock: Callable[[], datetime] = utcnow) -> None:
        self._wake = asyncio.Event()
        self._tracker_wake = asyncio.Event()
        self._drain_lock = asyncio.Lock()
        self.backlog: int | None = None  # outbox rows not yet sent, as of the last drain
        self.intake = Intake(uow_factory, on_stored=self._wake.set)
        self.worker = InboxWorker(uow_factory, core, self.intake)
        self.dispatcher = Dispatcher(uow_factory, senders, clock)
        self.core = core  # and what the dispatcher tells it
        self._uow_factory = uow_factory

    # ---- what the parts share (settable, as plain attributes were) ----------------------

    @property
    def uow_factory(self) -> Callable[[], UnitOfWork]:
        return self._uow_factory

    @uow_factory.setter
    def uow_factory(self, uow_factory: Callable[[], UnitOfWork]) -> None:
        self._uow_factory = self.intake.uow_factory = uow_factory
        self.worker.uow_factory = self.dispatcher.uow_factory = uow_factory

    @property
    def core(self) -> Core:
        return self.worker.core

    @core.setter
    def core(self, core: Core) -> None:
        self.worker.core = core
        if core is not None:  # some tests relay without a core
            self.dispatcher.on_sent, self.dispatcher.on_given_up = core.sent, core.given_up

    @property
    def senders(self) -> dict[str, Sender]:
        return self.dispatcher.senders

    @senders.setter
    def senders(self, senders: Mapping[str, Sender]) -> None:
        self.dispatcher.senders = dict(senders)

    @property
    def clock(self) -> Callable[[], datetime]:
        return self.dispatcher.clock

    @clock.setter
    def clock(self, clock: Callable[[], datetime]) -> None:
        self.dispatcher.clock = clock

    # ---- the steps ------------------------------------------------------------------------

    async def receive(self, msg: InboundMessage) -> bool:
        """Store an inbound event before it is acknowledged. False for a duplicate delivery."""
        return await self.intake.receive(msg)

    async def process(self, inbox_id: int) -> bool:
        """Run the core on one inbox row; False if someone else already handled it."""
        return await self.worker.process(inbox_id)

    async def process_pending(self, limit: int = 200) -> int:
        return await self.worker.process_pending(limit)

    async def dispatch(self, limit: int = 100) -> int:
        """Send what is due now; returns how many were sent."""
        return await self.dispatcher.dispatch(limit)

    async def drain(self, stop: asyncio.Event | None = None, trackers: bool = True) -> None:
        """Process every pending event and send everything due, until there is nothing left
        (or until `stop` is set: shutting down finishes the batch at hand, not the backlog).
        `trackers=False` leaves tracker effects to their own loop (`run_worker`)."""
        async with self._drain_lock:
            while stop is None or not stop.is_set():
                handled = await self.process_pending()
                sent = await self.dispatch()
                if trackers:
                    sent += await self.dispatcher.dispatch_trackers()
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
        trackers = asyncio.create_task(self._run_trackers(stop, poll_seconds))
        try:
            while not stop.is_set():
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=poll_seconds)
                except TimeoutError:
                    pass
                self._wake.clear()
                self._tracker_wake.set()  # new work may include tracker effects
                try:
                    await self.drain(stop, trackers=False)
                except Exception:
                    log.exception("worker pass failed; retrying on the next tick")
        finally:
            # The effects under way finish (their outcome is recorded); the rest stays due.
            self._tracker_wake.set()
            await trackers

    async def _run_trackers(self, stop: asyncio.Event, poll_seconds: float) -> None:
        """Tracker effects, beside the chat messages: a tracker that takes its time delays no
        message (and what it answered, a new issue's link, wakes the chat side)."""
        while not stop.is_set():
            try:
                await asyncio.wait_for(self._tracker_wake.wait(), timeout=poll_seconds)
            except TimeoutError:
                pass
            self._tracker_wake.clear()
            try:
                while not stop.is_set() and await self.dispatcher.dispatch_trackers():
                    self._wake.set()
            except Exception:
                log.exception("tracker pass failed; retrying on the next tick")
