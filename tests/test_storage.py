"""The storage layer on a real database: unit of work, inbox, outbox, numbering, migrations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from bot.model import Blocker, Outgoing, Team, Voice, Where
from storage.db import Database, async_url
from storage.migrate import current, upgrade
from storage.tables import Base
from tests.conftest import NOW, Harness, reset_postgres

TEAM = Team("slack", "T1")


def a_blocker(number: int = 1, team: Team = TEAM) -> Blocker:
    return Blocker(team=team, number=number, text="creds", reporter="U1", channel="C1",
                   opened_at=NOW)


async def test_unit_of_work_rolls_back_unless_committed(db: Database) -> None:
    async with db.uow() as uow:
        await uow.tenants.ensure(TEAM)
        await uow.blockers.add(a_blocker())
        # no commit
    async with db.uow() as uow:
        assert await uow.blockers.get(TEAM, 1) is None
        await uow.blockers.add(a_blocker())
        await uow.commit()
    async with db.uow() as uow:
        assert (await uow.blockers.get(TEAM, 1)).text == "creds"


async def test_an_exception_inside_the_unit_of_work_rolls_back(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with db.uow() as uow:
            await uow.blockers.add(a_blocker())
            raise RuntimeError("boom")
    async with db.uow() as uow:
        assert await uow.blockers.get(TEAM, 1) is None


async def test_numbers_are_per_team_and_never_reused(db: Database) -> None:
    other = Team("slack", "T2")
    async with db.uow() as uow:
        for team in (TEAM, other):
            await uow.tenants.ensure(team)
            await uow.tenants.ensure(team)  # idempotent
        got = [await uow.tenants.next_number(TEAM, "blocker") for _ in range(3)]
        got.append(await uow.tenants.next_number(other, "blocker"))
        got.append(await uow.tenants.next_number(TEAM, "request"))
        await uow.commit()
    assert got == [1, 2, 3, 1, 1]


async def test_duplicate_inbox_event_is_ignored(db: Database) -> None:
    h = Harness(db, TEAM)
    msg = h.message("U1", "blocker creds")
    assert await h.relay.receive(msg) is True
    assert await h.relay.receive(msg) is False  # a platform retry of the same event
    await h.relay.drain()
    assert len(h.sender.sent) == 1
    # Same event id on another platform is a different event.
    other = h.message("U1", "blocker creds", where=Where("teams", "T1", "c"))
    other = type(other)(**{**other.__dict__, "event_id": msg.event_id})
    assert await h.relay.receive(other) is True


async def test_an_inbox_row_is_claimed_once(db: Database) -> None:
    h = Harness(db, TEAM)
    await h.relay.receive(h.message("U1", "blocker creds"))
    async with db.uow() as uow:
        [inbox_id] = await uow.inbox.pending(10)
    assert await h.relay.process(inbox_id) is True
    assert await h.relay.process(inbox_id) is False
    async with db.uow() as uow:
        assert len(await uow.blockers.open(TEAM)) == 1


async def test_restart_mid_discovery_resumes_where_it_was(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    first = Database(url)
    await upgrade(first.engine)
    h = Harness(first)
    await h.say("sam", "request CSV export")
    await h.say("sam", "finance retypes rows by hand every week")
    await first.dispose()  # the process stops

    second = Database(url)  # a new process on the same file
    h2 = Harness(second)
    h2.count = h.count
    reply = await h2.reply_text("sam", "the finance team")
    assert "How do they cope with it today?" in reply
    async with second.uow() as uow:
        r = await uow.requests.get(h2.team, 1)
    assert r.answers == {"problem": "finance retypes rows by hand every week",
                         "who": "the finance team"}
    await second.dispose()


async def test_outbox_retries_then_gives_up(db: Database) -> None:
    where = Where("slack", "T1", "C1")
    async with db.uow() as uow:
        await uow.outbox.add(Outgoing(where=where, text="hi"))
        await uow.commit()
    now = datetime.now(UTC)
    async with db.uow() as uow:
        [item] = await uow.outbox.claim_due(now, 10, 60)
        await uow.commit()
    async with db.uow() as uow:
        assert await uow.outbox.claim_due(now, 10, 60) == []  # leased
        assert await uow.outbox.backlog() == 1
    async with db.uow() as uow:
        await uow.outbox.retry(item.id, now + timedelta(seconds=5), "429")
        await uow.commit()
    async with db.uow() as uow:
        assert await uow.outbox.claim_due(now, 10, 60) == []
        [again] = await uow.outbox.claim_due(now + timedelta(seconds=6), 10, 60)
        assert again.attempts == 1 and again.message.text == "hi"
        await uow.outbox.give_up(again.id, "gone")
        await uow.commit()
    async with db.uow() as uow:
        assert await uow.outbox.backlog() == 0


async def test_an_expired_lease_frees_the_row_again(db: Database) -> None:
    async with db.uow() as uow:
        await uow.outbox.add(Outgoing(where=Where("slack", "T1", "C1"), text="hi"))
        await uow.commit()
    now = datetime.now(UTC)
    async with db.uow() as uow:
        assert len(await uow.outbox.claim_due(now, 10, 60)) == 1
        await uow.commit()
    # The sending process died: a minute later the row is due again.
    async with db.uow() as uow:
        assert len(await uow.outbox.claim_due(now + timedelta(seconds=61), 10, 60)) == 1


def test_plain_database_urls_map_to_async_drivers() -> None:
    assert async_url("sqlite:///x.db") == "sqlite+aiosqlite:///x.db"
    assert async_url("postgresql://u:p@h/db") == "postgresql+asyncpg://u:p@h/db"
    assert async_url("postgres://u@h/db") == "postgresql+asyncpg://u@h/db"
    assert async_url("postgresql+asyncpg://u@h/db") == "postgresql+asyncpg://u@h/db"
    with pytest.raises(ValueError, match="unsupported"):
        async_url("mysql://u@h/db")


@pytest.fixture
async def empty_url(database_url: str) -> str:
    if not database_url.startswith("sqlite"):
        await reset_postgres(database_url)
    return database_url


async def test_migrations_upgrade_an_empty_database_to_the_models(empty_url: str) -> None:
    db = Database(empty_url)
    try:
        assert await current(db.engine) is None
        await upgrade(db.engine)
        await upgrade(db.engine)  # a second upgrade is a no-op
        assert await current(db.engine) is not None

        def diff(connection):  # type: ignore[no-untyped-def]
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return compare_metadata(context, Base.metadata), inspect(connection).get_table_names()

        async with db.engine.connect() as conn:
            differences, tables = await conn.run_sync(diff)
        assert differences == []  # the migrations build exactly what the models describe
        assert {"inbox", "outbox", "blockers", "requests", "members", "teams"} <= set(tables)
    finally:
        await db.dispose()


async def test_conversation_references_are_saved_replaced_and_scoped(db: Database) -> None:
    from storage.conversations import ConversationStore

    store = ConversationStore(db)
    teams_a, teams_b = Team("teams", "tenant-a"), Team("teams", "tenant-b")
    await store.save(teams_a, "user", "29:abc", {"serviceUrl": "http://one"})
    await store.save(teams_a, "user", "29:abc", {"serviceUrl": "http://two"})
    assert await store.get(teams_a, "user", "29:abc") == {"serviceUrl": "http://two"}
    assert await store.get(teams_b, "user", "29:abc") is None
    assert await store.get(teams_a, "conversation", "29:abc") is None


async def test_voices_are_one_per_person_and_request_and_scoped_by_team(db: Database) -> None:
    other = Team("slack", "T2")
    async with db.uow() as uow:
        assert await uow.voices.add(Voice(TEAM, 1, "U2", NOW, problem="me too"))
        assert await uow.voices.add(Voice(TEAM, 1, "U3", NOW + timedelta(minutes=1),
                                          user_team="another organisation"))
        assert await uow.voices.add(Voice(TEAM, 2, "U2", NOW))
        assert await uow.voices.add(Voice(other, 1, "U2", NOW, problem="elsewhere"))
        # The same person on the same request again: refused without aborting the transaction.
        assert not await uow.voices.add(Voice(TEAM, 1, "U2", NOW, problem="again"))
        voice = await uow.voices.get(TEAM, 1, "U2")
        assert voice is not None and voice.problem == "me too"
        voice.problem = "two hours a week"
        await uow.voices.save(voice)
        await uow.commit()
    async with db.uow() as uow:
        found = await uow.voices.of(TEAM, [1, 2, 3])
        assert sorted(found) == [1, 2]
        assert [(v.user, v.problem, v.user_team) for v in found[1]] == [
            ("U2", "two hours a week", None), ("U3", None, "another organisation")]
        assert await uow.voices.by_user(TEAM, "U2") == [1, 2]
        assert [v.problem for v in (await uow.voices.of(other, [1]))[1]] == ["elsewhere"]
        assert await uow.voices.get(other, 2, "U2") is None
        assert await uow.voices.of(TEAM, []) == {}
