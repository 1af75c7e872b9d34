"""The composition root: the one place that picks implementations and wires them together.
Nothing connects to anything at import time; everything starts from `open_app`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

from adapters import trackers
from adapters.config import ConfigError, Settings
from adapters.llm import open_assistant
from adapters.scheduler import ApsCron
from adapters.slack import commands as slack_commands
from bot import learned
from bot.core import Core
from bot.ports import TRACKER, Sender
from bot.relay import Relay
from bot.scheduling import Scheduler
from bot.turn import Trackers
from storage.db import Database, is_sqlite
from storage.migrate import schema_problem, upgrade

log = logging.getLogger(__name__)


@dataclass
class App:
    settings: Settings
    db: Database
    relay: Relay
    scheduler: Scheduler


@asynccontextmanager
async def open_app(settings: Settings, senders: Mapping[str, Sender] | None = None,
                   auto_migrate: bool | None = None) -> AsyncIterator[App]:
    """Open the database, bring a SQLite schema up to date, and build the bot."""
    db = Database(settings.database_url)
    try:
        if auto_migrate if auto_migrate is not None else is_sqlite(db.url):
            # SQLite is the zero-setup path, so it upgrades itself; PostgreSQL deployments run
            # `producer-bot db upgrade` as a deliberate step.
            await upgrade(db.engine)
        elif problem := await schema_problem(db.engine):
            raise ConfigError(problem)  # one line and a non-zero exit, not a traceback a second
        # Read the classifier's weights now, not on the first message someone types.
        learned.preload()
        cron = ApsCron()
        async with open_assistant(settings) as assistant:
            core = Core(assistant, cron=cron, spellings={"slack": slack_commands.spell},
                        trackers=Trackers(settings.tracker_kinds(), settings.default_tracker(),
                                          trackers.LINKS))
            relay = Relay(db.uow, core, senders or {})
            tracker = trackers.TrackerSender(trackers.tracker_factory(settings))
            relay.senders.setdefault(TRACKER, tracker)
            scheduler = Scheduler(db.uow, cron,
                                  grace=timedelta(hours=settings.schedule_grace_hours),
                                  assistant=assistant)
            try:
                yield App(settings, db, relay, scheduler)
            finally:
                await tracker.close()
    finally:
        await db.dispose()
