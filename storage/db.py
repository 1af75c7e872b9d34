"""Engines and sessions: one place that knows which database URL means which driver, and whether
the database can be written to.

SQLite on a full disk is subtle. A write rolled back never reaches the disk, so it proves nothing;
and commits land in the write-ahead log (WAL), which SQLite copies into the database file (a
checkpoint) only once it holds 1,000 pages, 4 MB. On a volume smaller than that the WAL fills the
disk, the checkpoint then needs room to grow the database file, and the bot answered 503 after
space was freed. So: the free space of the database's volume is what says whether it can be
written, and `maintain` checkpoints and truncates the WAL before it grows large, and again as
soon as space returns after a failure.
"""

from __future__ import annotations

import logging
import os
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
# Below this much free space on its volume a SQLite database is reported as not writable: a
# commit appends a few pages to the WAL and a checkpoint grows the database file.
MIN_FREE_BYTES = 1024 * 1024
# A WAL larger than this is checkpointed and truncated by `maintain` (SQLite's own automatic
# checkpoint waits for 4 MB and never shrinks the file).
WAL_CHECKPOINT_BYTES = 1024 * 1024

log = logging.getLogger(__name__)


class DatabaseUnavailable(ValueError):
    """The database cannot be written to; the message says which and why, in one line."""


class DatabaseUnreachable(DatabaseUnavailable):
    """The database server does not answer (yet)."""


def free_bytes(directory: str | Path) -> int:
    """Free space for an unprivileged writer on the volume holding `directory`."""
    stats = os.statvfs(directory)
    return stats.f_bavail * stats.f_frsize


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)  # SQLAlchemy's wrapper: the driver's own message
    text = str(orig if orig is not None else exc) or type(exc).__name__
    return text.strip().splitlines()[0]


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
        try:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseUnavailable(
                f"cannot create the directory of the database {database}: "
                f"{exc.strerror or exc}") from exc
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
        database = make_url(self.url).database if is_sqlite(self.url) else None
        # The SQLite file, when there is one (not for PostgreSQL or an in-memory database).
        self.path = Path(database).absolute() if database and database != ":memory:" else None
        self.failing = False  # the last check found it not writable

    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.sessions)

    async def dispose(self) -> None:
        await self.engine.dispose()

    # ---- can it be written to? ----------------------------------------------------------------

    def __str__(self) -> str:
        return str(self.path) if self.path else make_url(self.url).render_as_string()

    def wal_bytes(self) -> int:
        if self.path is None:
            return 0
        try:
            return os.path.getsize(f"{self.path}-wal")
        except OSError:
            return 0

    async def check_writable(self) -> None:
        """Raise DatabaseUnavailable, in words, unless a write would succeed now: enough free
        space on a SQLite file's volume and a write lock it can take; a PostgreSQL server that
        is neither read-only nor a standby. A check that passes after one that failed first
        checkpoints the WAL, so the space a full disk left it is given back."""
        try:
            if self.path is not None:
                await self._check_sqlite()
            elif not is_sqlite(self.url):
                await self._check_postgres()
        except DatabaseUnavailable:
            self.failing = True
            raise
        if self.failing:
            self.failing = False
            await self.checkpoint()
            log.info("storage: %s can be written to again", self)

    async def _check_sqlite(self) -> None:
        assert self.path is not None
        try:
            free = free_bytes(self.path.parent)
        except OSError as exc:
            raise DatabaseUnavailable(f"cannot reach the directory of {self.path}: "
                                      f"{exc.strerror or exc}") from exc
        if free < MIN_FREE_BYTES:
            raise DatabaseUnavailable(f"the volume of {self.path} has only {free // 1024} KB "
                                      "free")
        try:
            async with self.engine.connect() as conn:
                # IMMEDIATE takes the write lock now, which a read-only file or directory
                # refuses; the header write proves the file takes writes (it is rolled back).
                version = (await conn.exec_driver_sql("PRAGMA user_version")).scalar()
                await conn.exec_driver_sql("BEGIN IMMEDIATE")
                await conn.exec_driver_sql(f"PRAGMA user_version = {int(version or 0)}")
                await conn.rollback()
        except Exception as exc:
            raise DatabaseUnavailable(f"cannot write to {self.path}: {_first_line(exc)}") from exc

    async def _check_postgres(self) -> None:
        try:
            async with self.engine.connect() as conn:
                standby, read_only = (await conn.exec_driver_sql(
                    "SELECT pg_is_in_recovery(), current_setting('transaction_read_only')")).one()
        except Exception as exc:
            raise DatabaseUnreachable(f"cannot reach the database: {_first_line(exc)}") from exc
        if standby or read_only == "on":
            raise DatabaseUnavailable("the database is read-only (a standby, or "
                                      "default_transaction_read_only is on)")

    async def checkpoint(self) -> bool:
        """Copy the WAL into the SQLite file and truncate it; True when that completed."""
        if self.path is None:
            return True
        try:
            async with self.engine.connect() as conn:
                busy, _, _ = (await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")).one()
                await conn.commit()
        except Exception as exc:
            log.info("storage: checkpointing %s failed: %s", self, _first_line(exc))
            return False
        return not busy

    async def maintain(self) -> str | None:
        """What the server runs every little while: check that the database can be written to
        (which recovers it once space returns) and keep the WAL small. The problem, or None."""
        try:
            await self.check_writable()
        except DatabaseUnavailable as exc:
            if self.path is not None:
                await self.checkpoint()  # gives space back if a little has been freed
            return str(exc)
        if self.wal_bytes() > WAL_CHECKPOINT_BYTES:
            await self.checkpoint()
        return None
