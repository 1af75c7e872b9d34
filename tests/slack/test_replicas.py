"""Several `producer-bot serve` processes on one PostgreSQL database: every scheduled prompt
and digest reaches Slack exactly once, even when one process is killed mid-way."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from bot.model import Role, Schedule, Team
from storage.db import Database
from storage.tables import ScheduleRunRow
from tests.conftest import postgres_url, reset_postgres
from tests.slack.conftest import SECRET
from tests.slack.fake_slack import FakeSlack

EXE = Path(sys.executable).with_name("producer-bot")
T1 = Team("slack", "T1")
ENGINEERS = ["U1", "U2", "U3", "U4"]

pytestmark = pytest.mark.postgres


async def seed(url: str) -> None:
    db = Database(url)
    try:
        async with db.uow() as uow:
            await uow.tenants.ensure(T1)
            for user in [*ENGINEERS, "UP"]:
                await uow.members.ensure(T1, user)
                await uow.members.set_role(T1, user, Role.ENGINEER)  # members take part in no standup
            await uow.members.set_role(T1, "UP", Role.PRODUCER)
            # Every minute, so that three minutes show three runs of each.
            await uow.schedules.put(Schedule(T1, "standup", "* * * * *", "UTC"))
            await uow.schedules.put(Schedule(T1, "weekly-digest", "* * * * *", "UTC"))
            await uow.schedules.put(Schedule(T1, "standup-summary", "0 11 * * *", "UTC",
                                             enabled=False))
            await uow.commit()
    finally:
        await db.dispose()


async def sent_claims(url: str) -> Counter[str]:
    db = Database(url)
    try:
        async with db.sessions() as session:
            rows = await session.execute(select(ScheduleRunRow.recipient).where(
                ScheduleRunRow.status == "sent"))
            return Counter(rows.scalars())
    finally:
        await db.dispose()


async def backlog(url: str) -> int:
    db = Database(url)
    try:
        async with db.uow() as uow:
            return await uow.outbox.backlog()
    finally:
        await db.dispose()


async def test_three_processes_send_each_scheduled_message_once(tmp_path: Path) -> None:
    url = postgres_url()
    if url is None:
        pytest.skip("TEST_DATABASE_URL is not set")
    await reset_postgres(url)
    env = {**os.environ, "DATABASE_URL": url, "SLACK_BOT_TOKEN": "xoxb-test",
           "SLACK_SIGNING_SECRET": SECRET, "HOST": "127.0.0.1", "PORT": "0",
           "SCHEDULE_TICK_SECONDS": "3", "LOG_LEVEL": "WARNING"}
    subprocess.run([str(EXE), "db", "upgrade"], env=env, check=True, capture_output=True,
                   timeout=120)
    await seed(url)
    fake = FakeSlack()
    server = TestServer(fake.app(), host="127.0.0.1", port=0)
    await server.start_server()
    env["SLACK_API_URL"] = str(server.make_url("/api/"))
    processes = [subprocess.Popen([str(EXE), "serve"], env=env, stdout=subprocess.DEVNULL,
                                  stderr=open(tmp_path / f"serve{i}.log", "w"))
                 for i in range(3)]
    try:
        def prompts() -> list:
            return [c for c in fake.of("chat.postMessage") if "Standup time" in c.data["text"]]

        # The first minute's prompts arrive; then one process dies without warning.
        await fake.wait_for(lambda: len(prompts()) >= len(ENGINEERS) + 1, within=90)
        processes[0].send_signal(signal.SIGKILL)
        await asyncio.to_thread(processes[0].wait, 30)
        # Two more minutes on the survivors.
        await fake.wait_for(lambda: len(prompts()) >= 3 * (len(ENGINEERS) + 1), within=200)
        for _ in range(600):  # let the survivors finish what they claimed (bounded)
            if await backlog(url) == 0:
                break
            await asyncio.sleep(0.1)
        assert await backlog(url) == 0
    finally:
        for p in processes:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in processes:  # the fake keeps answering while they shut down
            await asyncio.to_thread(p.wait, 60)
        await server.close()

    claims = await sent_claims(url)
    delivered = Counter()
    for call in fake.of("chat.postMessage"):
        delivered[call.data["channel"].removeprefix("D")] += 1
    # Each person got exactly one message per claimed run: prompts for everyone, plus one
    # digest per run for the producer. Nothing doubled, nothing lost.
    for user in ENGINEERS:
        assert delivered[user] == claims[user] >= 3
    assert delivered["UP"] == claims["UP"] >= 6
    assert fake.violations == []
    for i in (1, 2):
        assert processes[i].returncode == 0, (tmp_path / f"serve{i}.log").read_text()
