"""The inbox's door: store each inbound event before it is acknowledged.

Group commit: events that arrive while a batch is being committed wait for the next one, so
under load one commit stores many events and each ack still follows its own event's commit.
The ack futures carry each event's outcome back to its request.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Callable

from bot.model import InboundMessage
from bot.ports import StorageUnavailable, UnitOfWork
from bot.trace import current_event

log = logging.getLogger(__name__)

INBOX_BATCH = 500  # events per inbox commit at most (a few hundred KiB of payloads)

# An event waiting to be stored: the event, its ack's future (the inbox id, None for a
# duplicate) and when it arrived (the event loop's clock).
Arrival = tuple[InboundMessage, asyncio.Future[int | None], float]


def _settle(stored: asyncio.Future[int | None], outcome: int | None | Exception) -> None:
    """Hand a waiting ack its event's outcome (unless its request was cancelled meanwhile:
    the event is stored all the same, and the platform's retry will be a duplicate)."""
    if stored.done():
        return
    if isinstance(outcome, Exception):
        stored.set_exception(outcome)
    else:
        stored.set_result(outcome)


class Intake:
    def __init__(self, uow_factory: Callable[[], UnitOfWork],
                 on_stored: Callable[[], None]) -> None:
        self.uow_factory = uow_factory
        self._on_stored = on_stored  # new events are in the inbox: wake whoever handles them
        # Events waiting for the next inbox commit (with when each arrived), the task
        # committing them, when the oldest event of the batch it has in hand arrived, and a
        # signal after each batch.
        self._arrivals: list[Arrival] = []
        self._storing: asyncio.Task[None] | None = None
        self._storing_since: float | None = None
        self._stored = asyncio.Event()

    async def receive(self, msg: InboundMessage) -> bool:
        """Store an inbound event before it is acknowledged. False for a duplicate delivery.

        Events that arrive while a batch is being committed wait for the next one; an event
        that arrives alone is committed at once."""
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

    # ---- what the worker asks, to let acks go first ------------------------------------------

    @property
    def acks_waiting(self) -> bool:
        return bool(self._arrivals) or (self._storing is not None and not self._storing.done())

    def ack_lag(self) -> float:
        """How long the event that has waited longest to be stored has waited (0: none)."""
        oldest = self._storing_since
        if oldest is None and self._arrivals:
            oldest = self._arrivals[0][2]
        return 0.0 if oldest is None else asyncio.get_running_loop().time() - oldest

    async def batch_stored(self, at_most: float) -> None:
        """Wait until the batch being stored is committed, `at_most` seconds."""
        self._stored.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stored.wait(), at_most)

    # ---- group commit -------------------------------------------------------------------------

    async def _store_arrivals(self) -> None:
        batch: list[Arrival] = []
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
                    self._on_stored()
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

    async def _store_singly(self, batch: list[Arrival]) -> list[int | None]:
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
