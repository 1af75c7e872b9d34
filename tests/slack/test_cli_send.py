"""`producer-bot digest --send` against Slack (the fake Web API): it delivers to the producers,
or says exactly what failed and why, and exits non-zero when nothing was sent."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from bot.model import Role, Team
from storage.db import Database
from storage.migrate import upgrade
from tests.slack.conftest import SECRET
from tests.slack.fake_slack import FakeSlack

EXE = Path(sys.executable).with_name("producer-bot")
TEAM = Team("slack", "T1")


async def seed(url: str) -> None:
    db = Database(url)
    try:
        await upgrade(db.engine)
        async with db.uow() as uow:
            await uow.tenants.ensure(TEAM)
            await uow.members.ensure(TEAM, "UPRO")
            await uow.members.set_role(TEAM, "UPRO", Role.PRODUCER)
            await uow.commit()
    finally:
        await db.dispose()


async def send(tmp_path: Path, fake: FakeSlack) -> tuple[int, str, str]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    await seed(url)
    env = {**os.environ, "DATABASE_URL": url, "SLACK_BOT_TOKEN": "xoxb-test",
           "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": fake.base_url}  # type: ignore[attr-defined]
    # Not subprocess.run: the fake Slack answers from this test's event loop.
    process = await asyncio.create_subprocess_exec(
        str(EXE), "digest", "--team", "slack:T1", "--period", "week", "--send", env=env,
        cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_digest_send_reaches_the_producer(tmp_path: Path, fake_slack: FakeSlack) -> None:
    code, out, err = await send(tmp_path, fake_slack)
    assert code == 0, err
    assert "sent 1 message" in out
    (opened,) = fake_slack.of("conversations.open")
    assert opened.data["users"] == "UPRO"
    (posted,) = fake_slack.of("chat.postMessage")
    assert "Weekly digest" in posted.data["text"]


async def test_a_failed_send_says_what_and_why_and_exits_non_zero(
        tmp_path: Path, fake_slack: FakeSlack) -> None:
    fake_slack.fail("conversations.open", 200, count=10)  # answered {"ok": false, ...}
    code, out, err = await send(tmp_path, fake_slack)
    assert code == 1
    assert "sent 0 messages" in out
    # Who, and the exception's type and message: never an empty reason.
    assert "not sent to @UPRO: MaybeDelivered: slack 200 internal_error" in err


async def test_the_weekly_digest_sent_from_the_command_line_shows_its_chart(
        tmp_path: Path, fake_slack: FakeSlack) -> None:
    """A blocker resolved last week: the weekly digest's time-to-unblock chart is uploaded as a
    PNG into the producer's 1:1 chat, with the figures in words as its alt text."""
    from datetime import UTC, datetime, timedelta

    from bot.flow import last_week
    from bot.model import Blocker, BlockerStatus

    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    await seed(url)
    start, _ = last_week(datetime.now(UTC), "UTC")
    db = Database(url)
    try:
        async with db.uow() as uow:
            opened = start + timedelta(days=1)
            await uow.blockers.add(Blocker(
                TEAM, await uow.tenants.next_number(TEAM, "blocker"), "staging creds", "UENG",
                "CGEN", opened, status=BlockerStatus.RESOLVED, resolved_at=opened + timedelta(hours=6),
                resolved_by="UOPS"))
            await uow.commit()
    finally:
        await db.dispose()
    code, out, err = await send(tmp_path, fake_slack)
    assert code == 0, err
    (posted,) = fake_slack.of("chat.postMessage")
    assert "How we're doing" in posted.blocks_text()
    (upload,) = fake_slack.shared_files()
    assert upload.data is not None and upload.data.startswith(b"\x89PNG")
    assert upload.channel == posted.response["channel"]
    assert upload.alt_txt and "Median time to unblock by week" in upload.alt_txt
    assert "6 h" in upload.alt_txt
