"""Engines and sessions: one place that knows which database URL means which driver."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import StaticPool

from storage.uow import SqlUnitOfWork

DEFAULT_URL = "sqlite+aiosqlite:///producer-bot.db"


def async_url(url: str) -> str:
    """Map the plain URL forms people paste to the async drivers the bot uses."""
    parsed = make_url(url)
    driver = parsed.drivername
    if driver in ("sqlite", "sqlite+pysqlite"):
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif driver in ("postgresql", "postgres", "postgresql+psycopg2", "postgresql+psycopg"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    elif driver not in ("sqlite+aiosqlite", "postgresql+asyncpg"):
        raise ValueError(f"unsupported DATABASE_URL driver {driver!r}: use sqlite or postgresql")
    return parsed.render_as_string(hide_password=False)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def make_engine(url: str) -> AsyncEngine:
    url = async_url(url)
    if not is_sqlite(url):
        # pre-ping: a PostgreSQL restart costs one failed checkout, not a wave of errors.
        return create_async_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)
    database = make_url(url).database
    if not database or database == ":memory:":
        # One shared connection, or every session would see its own empty in-memory database.
        engine = create_async_engine(url, poolclass=StaticPool,
                                     connect_args={"check_same_thread": False})
    else:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
        # SQLite has one writer; one pooled connection serialises transactions in-process
        # instead of failing them with "database is locked".
        engine = create_async_engine(url, pool_size=1, max_overflow=0, pool_timeout=60,
                                     connect_args={"timeout": 30})

    @event.listens_for(engine.sync_engine, "connect")
    def _pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        cursor = dbapi_connection.cursor()
        if database and database != ":memory:":
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine


class Database:
    """An engine plus the unit-of-work factory the core is given."""

    def __init__(self, url: str) -> None:
        self.url = async_url(url)
        self.engine = make_engine(self.url)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.sessions)

    async def dispose(self) -> None:
        await self.engine.dispose()
