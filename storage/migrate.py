"""Alembic, driven from code: `producer-bot db upgrade`, and automatically for SQLite."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the schema to `revision` over the engine's own (async) connection."""

    def run(connection: Connection) -> None:
        command.upgrade(alembic_config(connection), revision)

    async with engine.begin() as connection:
        await connection.run_sync(run)


async def current(engine: AsyncEngine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as connection:
        return await connection.run_sync(read)


def head() -> str:
    """The revision this version of the code needs."""
    from alembic.script import ScriptDirectory

    found = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert found is not None
    return found


async def schema_problem(engine: AsyncEngine) -> str | None:
    """Why the database cannot be used as it is (its schema is not this version's), in words
    that say what to do; None when it is ready."""
    from storage.repositories import _UNREACHABLE

    try:
        at = await current(engine)
    except _UNREACHABLE:
        return None  # not reachable yet: /readyz says so, and the schema is checked again there
    needed = head()
    if at == needed:
        return None
    state = "has no schema yet" if at is None else f"is at schema revision {at}"
    return (f"the database {state}; this version needs revision {needed}. Run `producer-bot db "
            "upgrade` first")
