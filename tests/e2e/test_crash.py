"""Crash safety: 1,000 events at a running `producer-bot serve`, killed with SIGKILL part-way,
restarted, Slack's retries arriving: every effect exists once and every reply was sent once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestServer

from bot.model import RequestState, Team
from storage.db import Database
from tests.slack.conftest import SECRET, payload
from tests.slack.fake_slack import FakeSlack

EXE = Path(sys.executable).with_name("producer-bot")
T1 = Team("slack", "T1")
EVENTS = 1000


async def start(env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    process = subprocess.Popen([str(EXE), "serve"], env=env, stdout=subprocess.DEVNULL,
                               stderr=log.open("a"))
    for _ in range(600):  # until it says where it listens (bounded: 60 s)
        for line in log.read_text().splitlines():
            if "listening on" in line:
                url = json.loads(line)["msg"].split()[-1]
                if url not in getattr(start, "seen", set()):
                    start.seen = getattr(start, "seen", set()) | {url}  # type: ignore[attr-defined]
                    return process, url
        await asyncio.sleep(0.1)
    raise AssertionError(log.read_text())


def events() -> list[dict]:
    """Blockers said in channels, and ordinary chatter the bot must ignore."""
    bodies = []
    for n in range(EVENTS):
        channel = f"C{n % 100:03d}"
        ts = f"1700001000.{n:06d}"
        text = (f"I'm blocked on item-{n:04d}, waiting for ops" if n % 2 == 0
                else f"morning all, item-{n:04d} looks fine")
        body = payload("message", event_id=f"EvCrash{n:04d}")
        body["event"].update(text=text, ts=ts, channel=channel, event_ts=ts, user=f"U{n % 7}")
        bodies.append(body)
    return bodies


async def post_all(url: str, bodies: list[dict], retry: int | None,
                   stop_after: int | None = None) -> set[int]:
    """Send events concurrently (as Slack does); the indexes that got HTTP 200."""
    from slack_sdk.signature import SignatureVerifier

    signer = SignatureVerifier(SECRET)
    acked: set[int] = set()
    gate = asyncio.Semaphore(16)

    async def one(i: int, body: dict, session: aiohttp.ClientSession) -> None:
        raw = json.dumps(body)
        ts = str(int(time.time()))
        headers = {"Content-Type": "application/json", "X-Slack-Request-Timestamp": ts,
                   "X-Slack-Signature": signer.generate_signature(timestamp=ts, body=raw)}
        if retry is not None:
            headers.update({"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "timeout"})
        async with gate:
            try:
                async with session.post(f"{url}/slack/events", data=raw.encode(),
                                        headers=headers) as response:
                    if response.status == 200:
                        acked.add(i)
            except (aiohttp.ClientError, OSError):
                pass  # the server is gone: Slack will retry this one

    limit = stop_after if stop_after is not None else len(bodies)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        await asyncio.gather(*(one(i, b, session) for i, b in enumerate(bodies[:limit])))
    return acked


async def test_kill_nine_mid_stream_loses_and_doubles_nothing(tmp_path: Path) -> None:
    fake = FakeSlack()
    server = TestServer(fake.app(), host="127.0.0.1", port=0)
    await server.start_server()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
           "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": SECRET,
           "SLACK_API_URL": str(server.make_url("/api/")), "HOST": "127.0.0.1", "PORT": "0",
           "LOG_LEVEL": "INFO"}
    env.pop("TEST_DATABASE_URL", None)
    log = tmp_path / "serve.log"
    bodies = events()
    first, url = await start(env, log)
    try:
        acked_before = await post_all(url, bodies, retry=None, stop_after=EVENTS // 2)
        # Let it get some replies out, then pull the plug without warning.
        await fake.wait_for(lambda: len(fake.of("chat.postMessage")) >= 50, within=60)
        first.send_signal(signal.SIGKILL)
        await asyncio.to_thread(first.wait, 30)
        second, url = await start(env, log)
        try:
            # Slack retries everything it sent (whatever it heard back), then the rest arrives.
            await post_all(url, bodies[: EVENTS // 2], retry=1)
            acked_after = await post_all(url, bodies, retry=None)
            blockers = [i for i in range(EVENTS) if i % 2 == 0]

            def replies() -> Counter[str]:
                return Counter(c.data.get("thread_ts") for c in fake.of("chat.postMessage")
                               if c.response.get("ok"))

            await fake.wait_for(lambda: len(replies()) >= len(blockers), within=180)
        finally:
            second.send_signal(signal.SIGTERM)
            await asyncio.to_thread(second.wait, 60)
    finally:
        await server.close()

    assert len(acked_before) > 0 and len(acked_after) == EVENTS
    # Every reply exactly once: one threaded confirmation per blocker said, none for chatter.
    counts = replies()
    assert set(counts) == {bodies[i]["event"]["ts"] for i in blockers}
    assert max(counts.values()) == 1
    # Every effect exactly once: one tracked blocker per blocker said, with its own text.
    db = Database(env["DATABASE_URL"])
    try:
        async with db.uow() as uow:
            tracked = await uow.blockers.open(T1)
            assert await uow.outbox.backlog() == 0
        texts = Counter(b.text.split(",")[0] for b in tracked)
        assert len(tracked) == len(blockers) and max(texts.values()) == 1
        async with db.uow() as uow:
            assert await uow.requests.list(T1, states=[RequestState.NEEDS_DISCOVERY]) == []
    finally:
        await db.dispose()
    assert fake.violations == []
    assert "Traceback" not in log.read_text().split("listening on")[-1]
