"""APScheduler: cron arithmetic for the core, and the tick that drives scheduled work.

One interval job per process calls `Scheduler.tick()`. The schedules themselves live in the
database and are evaluated on every tick, so an edit takes effect without a restart, and every
effect is claimed in the database, so several processes never send the same thing twice
(APScheduler's own job stores must not be shared between processes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.ports import Cron
from bot.scheduling import Scheduler

log = logging.getLogger(__name__)

TICK_SECONDS = 30.0


@lru_cache(maxsize=4096)
def _trigger(expression: str, tz: str) -> CronTrigger:
    return CronTrigger.from_crontab(expression, timezone=ZoneInfo(tz))


class ApsCron(Cron):
    def check(self, expression: str) -> str | None:
        if len(expression.split()) != 5:
            return "a cron expression has five fields: MIN HOUR DOM MON DOW"
        try:
            _trigger(expression, "UTC")
        except ValueError as exc:
            return f"not a valid cron expression: {exc}"
        return None

    def fire_times(self, expression: str, tz: str, start: datetime,
                   end: datetime) -> list[datetime]:
        try:
            trigger = _trigger(expression, tz)
        except (ValueError, ZoneInfoNotFoundError):
            log.warning("skipping an invalid schedule (%r in %r)", expression, tz)
            return []
        zone = ZoneInfo(tz)
        times: list[datetime] = []
        cursor = start + timedelta(microseconds=1)
        while len(times) < 10_000:
            fire = trigger.get_next_fire_time(None, cursor)
            if fire is None or fire > end:
                break
            if fire < cursor:
                # On a fall-back night APScheduler 3 can hand back a time before `cursor`;
                # step past it instead of looping on it.
                cursor += timedelta(minutes=1)
                continue
            times.append(fire.astimezone(zone))
            cursor = fire + timedelta(seconds=1)
        return times


class SchedulerRunner:
    """The APScheduler side: an AsyncIOScheduler running the tick in the serve process."""

    def __init__(self, scheduler: Scheduler, tick_seconds: float = TICK_SECONDS) -> None:
        self.scheduler = scheduler
        self.aps = AsyncIOScheduler(timezone="UTC")
        self.aps.add_job(self._tick, IntervalTrigger(seconds=tick_seconds), id="tick",
                         coalesce=True, max_instances=1, misfire_grace_time=None,
                         next_run_time=datetime.now(ZoneInfo("UTC")))
        self.last_tick: datetime | None = None
        self._running: asyncio.Task[object] | None = None

    async def _tick(self) -> None:
        self._running = asyncio.current_task()
        try:
            await self.scheduler.tick()
            self.last_tick = datetime.now(ZoneInfo("UTC"))
        except Exception:  # the next tick tries again; nothing is claimed for failed teams
            log.exception("scheduler tick failed")
        finally:
            self._running = None

    async def start(self) -> None:
        self.aps.start()

    async def stop(self) -> None:
        # APScheduler's asyncio executor cancels a running job on shutdown: pause (no new
        # ticks), let the tick in flight finish (its claims and messages commit together),
        # then shut down.
        self.aps.pause()
        running = self._running
        if running is not None and not running.done():
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(running), timeout=10)
        self.aps.shutdown(wait=False)
