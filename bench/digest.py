"""Digest benchmark: building digests stays a fixed number of SQL statements per team.

    .venv/bin/python bench/digest.py [--database-url URL] [--write]

Measures, in one run, (a) the weekly digest of one team holding 10,000 blockers and requests
next to a team holding 10, and (b) the digests of 1,000 teams of 20 members each. It reports
wall time and SQL statements per digest; the statement counts must not grow with team size.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import event, insert, make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.model import Team
from bot.usecases.insights import digest_with_flow
from storage.db import Database, async_url
from storage.migrate import upgrade
from storage.tables import BlockerRow, MemberRow, RequestRow, StandupRow, TeamRow

NOW = datetime(2026, 11, 16, 9, tzinfo=UTC)
STATES = ["needs-discovery", "ready-for-review", "accepted", "in-progress", "delivered",
          "solved", "declined"]


async def seed(db: Database, team: Team, items: int, members: int) -> None:
    """`items` split evenly between blockers and requests, spread over the last 30 days."""
    half = items // 2
    base = dict(platform=team.platform, tenant=team.tenant)
    async with db.engine.begin() as conn:
        await conn.execute(insert(TeamRow), [dict(**base, timezone="UTC", holidays=[],
                                                  escalate_after_days=2.0, next_blocker=half,
                                                  next_request=half, created_at=NOW)])
        await conn.execute(insert(MemberRow), [
            dict(**base, user_id=f"U{i}", role="producer" if i == 0 else "engineer",
                 created_at=NOW) for i in range(members)])
        if half:
            await conn.execute(insert(BlockerRow), [
                dict(**base, number=n + 1, text=f"waiting on dependency {n}", reporter=f"U{n % members}",
                     channel="C1", source="command", status="open" if n % 3 else "resolved",
                     opened_at=NOW - timedelta(hours=n % 720),
                     resolved_at=None if n % 3 else NOW - timedelta(hours=n % 100))
                for n in range(half)])
            await conn.execute(insert(RequestRow), [
                dict(**base, number=n + 1, title=f"request {n}", requester=f"U{n % members}",
                     channel="C1", state=STATES[n % len(STATES)],
                     answers={"problem": f"problem statement {n}"},
                     created_at=NOW - timedelta(hours=n % 720),
                     updated_at=NOW - timedelta(hours=n % 200))
                for n in range(half)])
        await conn.execute(insert(StandupRow), [
            dict(**base, user_id=f"U{i}", channel="D", text="update", at=NOW - timedelta(hours=5))
            for i in range(0, members, 2)])


class StatementCounter:
    def __init__(self, db: Database) -> None:
        self.count = 0
        event.listen(db.engine.sync_engine, "before_cursor_execute", self._seen)

    def _seen(self, *args: object) -> None:
        self.count += 1


async def timed_digest(db: Database, counter: StatementCounter, team: Team) -> tuple[float, int]:
    before = counter.count
    start = time.perf_counter()
    async with db.uow() as uow:
        await digest_with_flow(uow, team, "week", NOW)
    return time.perf_counter() - start, counter.count - before


@contextlib.asynccontextmanager
async def scratch_database(url: str | None) -> AsyncIterator[str]:
    """A database of its own: a temporary SQLite file, or a throwaway PostgreSQL database
    created next to the one `url` names (which is left untouched) and dropped afterwards."""
    if url is None:
        yield f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/bench.db"
        return
    server = make_url(async_url(url))
    name = f"producer_bot_bench_{os.getpid()}"
    admin = create_async_engine(server, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        await admin.dispose()


async def main(url: str | None, write: bool) -> str:
    async with scratch_database(url) as scratch:
        return await measure(scratch, write)


async def measure(url: str, write: bool) -> str:
    db = Database(url)
    await upgrade(db.engine)
    small, large = Team("bench", "small"), Team("bench", "large")
    await seed(db, small, 10, 20)
    await seed(db, large, 10_000, 20)
    counter = StatementCounter(db)
    rows = []
    for team in (small, large):
        await timed_digest(db, counter, team)  # warm-up
        runs = [await timed_digest(db, counter, team) for _ in range(5)]
        rows.append((team.tenant, statistics.median(t for t, _ in runs), runs[0][1]))
    teams = [Team("bench", f"t{i}") for i in range(1000)]
    for team in teams:
        await seed(db, team, 20, 20)
    before = counter.count
    start = time.perf_counter()
    for team in teams:
        async with db.uow() as uow:
            await digest_with_flow(uow, team, "week", NOW)
    total = time.perf_counter() - start
    per_team_statements = (counter.count - before) / len(teams)
    await db.dispose()

    backend = "PostgreSQL" if "postgresql" in url else "SQLite"
    (s_name, s_time, s_sql), (l_name, l_time, l_sql) = rows
    report = "\n".join([
        f"### Digest building ({backend}, {platform.machine()}, {platform.python_version()})",
        "",
        "| case | median time | SQL statements per digest |",
        "| --- | --- | --- |",
        f"| weekly digest, team with 10 items | {s_time * 1000:.1f} ms | {s_sql} |",
        f"| weekly digest, team with 10,000 blockers and requests | {l_time * 1000:.1f} ms | {l_sql} |",
        f"| 1,000 teams of 20 members, all digests | {total:.2f} s total, "
        f"{total / len(teams) * 1000:.1f} ms per team | {per_team_statements:g} |",
        "",
        f"Statements for the large team / the small team: {l_sql / s_sql:.2f} "
        "(1.00 means no N+1: the count does not grow with the team).",
        ""])
    print(report)
    if write:
        path = Path(__file__).with_name("RESULTS.md")
        text = path.read_text() if path.exists() else "# Benchmark results\n\n"
        marker = f"### Digest building ({backend}"
        kept = [part for part in text.split("\n### ") if not ("### " + part).startswith(marker)]
        path.write_text("\n### ".join(kept).rstrip() + "\n\n" + report)
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    parser.add_argument("--write", action="store_true", help="record the numbers in RESULTS.md")
    args = parser.parse_args()
    asyncio.run(main(args.database_url, args.write))
