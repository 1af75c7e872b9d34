"""The composition root: the one place that picks implementations and wires them together.
Nothing connects to anything at import time; everything starts from `open_app`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

from adapters.config import Settings
from bot.core import Core
from bot.ports import Sender
from bot.service import Bot
from storage.db import Database, is_sqlite
from storage.migrate import upgrade

log = logging.getLogger(__name__)


@dataclass
class App:
    settings: Settings
    db: Database
    bot: Bot


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
        bot = Bot(db.uow, Core(), senders or {})
        yield App(settings, db, bot)
    finally:
        await db.dispose()
