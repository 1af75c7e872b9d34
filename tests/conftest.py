"""Shared fixtures: a network guard, the database (SQLite always, PostgreSQL when
TEST_DATABASE_URL is set), and a harness that talks to the bot like a chat."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from hypothesis import settings
from sqlalchemy import text

from bot.core import Core
from bot.model import InboundMessage, Outgoing, Role, Team, Where
from bot.ports import Sender, Sent
from bot.relay import Relay
from storage.db import Database
from storage.tables import Base

# In CI, property tests draw the same examples every run (a red build is reproducible); on a
# developer's machine they keep exploring.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI") == "true":
    settings.load_profile("ci")

_real_connect = socket.socket.connect


def _guarded_connect(self: socket.socket, address: object) -> object:
    if self.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple):
        host = address[0]
        try:
            allowed = ipaddress.ip_address(host).is_loopback
        except ValueError:
            allowed = host == "localhost"
        if not allowed:
            raise RuntimeError(f"test tried to reach the network: {address!r}")
    return _real_connect(self, address)


@pytest.fixture(autouse=True, scope="session")
def no_internet() -> None:
    """No test may leave the machine: only loopback and Unix sockets connect."""
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec and callspec.params.get("database_url") == "postgres":
            item.add_marker(pytest.mark.postgres)


def postgres_url() -> str | None:
    return os.environ.get("TEST_DATABASE_URL") or None


async def reset_postgres(url: str) -> None:
    db = Database(url)
    try:
        async with db.engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    finally:
        await db.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path) -> str:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    url = postgres_url()
    if url is None:
        pytest.skip("TEST_DATABASE_URL is not set (PostgreSQL suite: make test-postgres)")
    return url


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    if not database_url.startswith("sqlite"):
        await reset_postgres(database_url)
    database = Database(database_url)
    async with database.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    yield database
    await database.dispose()


class RecordingSender(Sender):
    """Records every message the bot sends, as the platform would have received it."""

    def __init__(self) -> None:
        self.sent: list[Outgoing] = []

    async def send(self, message: Outgoing) -> Sent:
        self.sent.append(message)
        return Sent(message_id=f"m{len(self.sent)}", channel=message.where.channel)


TEAM = Team("console", "acme")
NOW = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)  # a Monday


class Harness:
    """A chat with the bot: `await h.say("alice", "blocker ...")` returns what the bot sent."""

    def __init__(self, db: Database, team: Team = TEAM) -> None:
        self.db = db
        self.team = team
        self.sender = RecordingSender()
        self.relay = Relay(db.uow, Core(), {team.platform: self.sender})
        self.count = 0
        self.now = NOW

    def message(self, user: str, text: str, **kw: object) -> InboundMessage:
        self.count += 1
        where = kw.pop("where", None) or Where(self.team.platform, self.team.tenant, "general")
        return InboundMessage(where=where, user=user, text=text,  # type: ignore[arg-type]
                              event_id=f"ev-{self.count}", at=kw.pop("at", self.now),
                              **{"direct": True, **kw})

    async def say(self, user: str, text: str, **kw: object) -> list[Outgoing]:
        before = len(self.sender.sent)
        await self.relay.receive(self.message(user, text, **kw))
        await self.relay.drain()
        return self.sender.sent[before:]

    async def reply_text(self, user: str, text: str, **kw: object) -> str:
        """Everything the bot said back, as one string (text, sections and button commands)."""
        return "\n".join(flatten(o) for o in await self.say(user, text, **kw))

    async def set_role(self, user: str, role: Role) -> None:
        async with self.db.uow() as uow:
            await uow.tenants.ensure(self.team)
            await uow.members.ensure(self.team, user)
            await uow.members.set_role(self.team, user, role)
            await uow.commit()


def flatten(out: Outgoing) -> str:
    parts = [out.text, *(s.title or "" for s in out.sections), *(s.text for s in out.sections)]
    parts += [f"[{a.label}|{a.command}]" for a in out.actions]
    return "\n".join(parts)


@pytest.fixture
async def chat(db: Database) -> Harness:
    h = Harness(db)
    await h.set_role("pat", Role.PRODUCER)
    await h.set_role("sam", Role.STAKEHOLDER)
    await h.set_role("erin", Role.ENGINEER)
    return h
