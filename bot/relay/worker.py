"""Handling the inbox: claim stored events and run the core on each, in a unit of work that
commits the claim together with the event's effects (so they happen exactly once).

Acks come first. Slack wants its 200 within 3 s and the work behind an event can wait, so the
worker stands aside while events are being stored, and claims and handles several events per
unit of work (one commit for many) when no language model has to be asked.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable

from bot.assistant import Assistant, Planner, Prepared
from bot.core import Core
from bot.model import TRACKER_EVENT, InboundMessage, Outgoing, Team
from bot.ports import UnitOfWork, reply_place
from bot.relay.intake import Intake
from bot.trace import current_event

log = logging.getLogger(__name__)

SLICE_EVENTS = 200  # events the worker handles in one unit of work at most ...
WORKER_SLICE_SECONDS = 0.05  # ... and for about how long ...
MIN_SLICE_SECONDS = 0.01  # ... or this long when acks are lagging
CLAIM_GROUP = 4  # events claimed by one statement
ACK_LAG_SECONDS = 0.02  # acks are lagging when an event has waited this long to be stored
ACK_WAIT_SECONDS = 0.05  # the worker waits this long at most for the batch being stored ...
SATURATED = 0.8  # ... and goes on waiting while the process computed this share of the time ...
ACK_FIRST_SECONDS = 1.0  # ... for this long at most
# With a language model: conversations handled side by side at most, and model questions under
# way at once per team. A slow model then delays only its own team's model questions.
LANES_AT_ONCE = 16
MODEL_CALLS_PER_TEAM = 4


def lane_of(msg: InboundMessage) -> tuple[str, str, str, str]:
    """Events of one person in one place keep their order; other conversations need not wait
    for them (a discovery answer must follow its question, not someone else's message)."""
    return (msg.where.platform, msg.where.tenant, msg.where.channel, msg.user)


class InboxWorker:
    def __init__(self, uow_factory: Callable[[], UnitOfWork], core: Core,
                 intake: Intake) -> None:
        self.uow_factory = uow_factory
        self.core = core
        self.intake = intake  # whose acks go first
        self._model_gates: dict[Team, asyncio.Semaphore] = {}

    async def process(self, inbox_id: int) -> bool:
        """Run the core on one inbox row; False if someone else already handled it."""
        try:
            prepared = await self._prepare(inbox_id)
            async with self.uow_factory() as uow:
                msg = await uow.inbox.claim(inbox_id)
                if msg is None:
                    return False
                await self._handle(msg, uow, prepared)
                await uow.commit()
                return True
        except Exception as exc:  # a bug must not wedge the inbox or go unanswered
            log.exception("handling inbox row %s failed", inbox_id)
            await self._failed(inbox_id, exc)
            return True

    async def process_pending(self, limit: int = 200) -> int:
        handled = 0
        while True:
            if self.core.assistant.remote:
                async with self.uow_factory() as uow:
                    pending = await uow.inbox.pending_messages(limit)
                if not pending:
                    return handled
                handled += await self._process_lanes(pending)
                count = len(pending)
            else:
                async with self.uow_factory() as uow:
                    ids = await uow.inbox.pending(limit)
                if not ids:
                    return handled
                queue = deque(ids)
                while queue:
                    await self._after_acks()
                    handled += await self._process_slice(queue)
                count = len(ids)
            if count < limit:
                return handled

    async def _process_lanes(self, pending: list[tuple[int, InboundMessage]]) -> int:
        """With a language model each event has its own unit of work (the model is asked
        outside any transaction, see _prepare), and conversations go side by side: one
        person's events in one place in order, others meanwhile, so a slow model answering one
        team's messages holds up neither another team nor a command that asks no model."""
        lanes: dict[tuple[str, str, str, str], list[int]] = {}
        for inbox_id, msg in pending:
            lanes.setdefault(lane_of(msg), []).append(inbox_id)
        gate = asyncio.Semaphore(LANES_AT_ONCE)

        async def run(ids: list[int]) -> int:
            handled = 0
            async with gate:
                for inbox_id in ids:
                    await self._after_acks()
                    handled += await self.process(inbox_id)
            return handled

        return sum(await asyncio.gather(*(run(ids) for ids in lanes.values())))

    async def _handle(self, msg: InboundMessage, uow: UnitOfWork,
                      assistant: Assistant | None = None) -> None:
        token = current_event.set(msg.event_id)
        try:
            await self.core.handle(msg, uow, assistant)
        finally:
            current_event.reset(token)

    async def _prepare(self, inbox_id: int) -> Assistant | None:
        """With a remote assistant (a language model), find out what the core will ask it by
        a rehearsal that is rolled back, and ask with no transaction open: a slow model must
        never hold database locks (on SQLite that would stall every other write). Why a
        rehearsal, and what becomes of a question it did not foresee: bot.assistant."""
        if not self.core.assistant.remote:
            return None
        planner = Planner()
        async with self.uow_factory() as uow:
            msg = await uow.inbox.claim(inbox_id)
            if msg is None:
                return None
            await self.core.handle(msg, uow, planner)
            # no commit: the rehearsal leaves nothing behind
        if not planner.questions:
            return Prepared({})  # a command that needs no model waits for none
        team = msg.where.team
        gate = self._model_gates.setdefault(team, asyncio.Semaphore(MODEL_CALLS_PER_TEAM))
        async with gate:  # one team's many questions do not crowd out another's
            return await planner.prepare(self.core.assistant)

    async def _failed(self, inbox_id: int, exc: Exception) -> None:
        async with self.uow_factory() as uow:
            msg = await uow.inbox.claim(inbox_id)
            if msg is None:
                return
            await uow.inbox.fail(inbox_id, f"{type(exc).__name__}: {exc}"[:2000])
            if msg.kind == TRACKER_EVENT:  # a webhook: nobody in a chat to apologise to
                await uow.commit()
                return
            await uow.outbox.add(Outgoing(
                where=reply_place(msg),
                text="Sorry, something went wrong on my side and nothing was recorded. "
                     "Please try again in a minute.",
                private_to=None if msg.direct else msg.user))
            await uow.commit()

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
        while self.intake.acks_waiting and (
                left := started + ACK_FIRST_SECONDS - loop.time()) > 0:
            await self.intake.batch_stored(min(left, ACK_WAIT_SECONDS))
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
                    size = 1 if self.intake.acks_waiting else CLAIM_GROUP
                    group = [queue.popleft() for _ in range(min(size, len(queue)))]
                    taken += group
                    for _, msg in await uow.inbox.claim_many(group):  # gone: another process
                        await self._handle(msg, uow)
                        handled += 1
                    spent = loop.time() - started
                    if spent >= WORKER_SLICE_SECONDS or (
                            spent >= MIN_SLICE_SECONDS
                            and self.intake.ack_lag() > ACK_LAG_SECONDS):
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
