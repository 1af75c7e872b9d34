"""The real bot (real aiohttp server, real slack-bolt, real SQLite) against the fake Slack."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from slack_sdk.signature import SignatureVerifier

from adapters.compose import App, open_app
from adapters.config import Settings
from adapters.server import serving
from bot.model import Role, Team
from tests.slack.fake_slack import FakeSlack

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
PAYLOADS = Path(__file__).parent / "payloads"


def payload(name: str, **changes: Any) -> dict[str, Any]:
    """A recorded payload with some fields changed (dotted paths: "event.text")."""
    data = json.loads((PAYLOADS / f"{name}.json").read_text())
    for path, value in changes.items():
        target = data
        *parents, last = path.split("__")
        for key in parents:
            target = target[key]
        target[last] = value
    return data


class SlackClient:
    """Sends signed requests to the running bot, as Slack does."""

    def __init__(self, url: str, app: App, fake: FakeSlack, secret: str = SECRET) -> None:
        self.url = url
        self.app = app
        self.fake = fake
        self.signer = SignatureVerifier(secret)
        self.session = aiohttp.ClientSession()
        self.counter = 0

    def signed(self, body: str, content_type: str, timestamp: int | None = None,
               **headers: str) -> dict[str, str]:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        return {"X-Slack-Request-Timestamp": ts, "Content-Type": content_type,
                "X-Slack-Signature": self.signer.generate_signature(timestamp=ts, body=body),
                **headers}

    async def post(self, body: str, content_type: str, headers: dict[str, str] | None = None,
                   ) -> tuple[int, str]:
        headers = headers if headers is not None else self.signed(body, content_type)
        async with self.session.post(f"{self.url}/slack/events", data=body.encode(),
                                     headers=headers) as response:
            return response.status, await response.text()

    async def event(self, body: dict[str, Any], retry_num: int | None = None) -> tuple[int, str]:
        raw = json.dumps(body)
        extra = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"} \
            if retry_num is not None else {}
        return await self.post(raw, "application/json",
                               self.signed(raw, "application/json", **extra))

    def next_id(self) -> int:
        self.counter += 1
        return self.counter

    async def say(self, user: str, text: str, channel: str = "CGEN", thread: str | None = None,
                  channel_type: str = "channel") -> str:
        """A person writes a message; returns its ts."""
        n = self.next_id()
        ts = f"1700001{n:03d}.000{n:03d}"
        event = {"type": "message", "user": user, "text": text, "ts": ts, "channel": channel,
                 "event_ts": ts, "channel_type": channel_type, "team": "T1"}
        if thread:
            event["thread_ts"] = thread
        status, _ = await self.event(payload("message", event=event, event_id=f"EvSay{n}"))
        assert status == 200
        return ts

    async def command(self, user: str, command: str, text: str = "", channel: str = "CGEN",
                      team: str = "T1") -> tuple[int, str]:
        n = self.next_id()
        body = urlencode({
            "token": "unused", "team_id": team, "team_domain": "acme", "channel_id": channel,
            "channel_name": "directmessage" if channel.startswith("D") else "general",
            "user_id": user, "user_name": user.lower(), "command": command, "text": text,
            "api_app_id": "A1", "is_enterprise_install": "false",
            "response_url": f"https://hooks.slack.com/commands/T1/{n}/x",
            "trigger_id": f"trigger.{n}.cmd"})
        return await self.post(body, "application/x-www-form-urlencoded")

    async def interact(self, body: dict[str, Any]) -> tuple[int, str]:
        raw = urlencode({"payload": json.dumps(body)})
        return await self.post(raw, "application/x-www-form-urlencoded")

    async def click(self, user: str, value: str, *, action_id: str = "cmd:0",
                    channel: str = "CGEN", message_ts: str = "1700000000.000001",
                    thread_ts: str | None = None) -> tuple[int, str]:
        n = self.next_id()
        body = payload("block_actions")
        body["user"]["id"] = user
        body["trigger_id"] = f"trigger.{n}.click"
        body["channel"]["id"] = channel
        body["container"].update(channel_id=channel, message_ts=message_ts)
        body["message"]["ts"] = message_ts
        if thread_ts:
            body["message"]["thread_ts"] = thread_ts
        body["actions"][0].update(value=value, action_id=action_id)
        return await self.interact(body)

    async def close(self) -> None:
        await self.session.close()


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack()
    server = TestServer(fake.app(), host="127.0.0.1", port=0)
    await server.start_server()
    fake.base_url = str(server.make_url("/api/"))
    fake.ws_url = str(server.make_url("/socket")).replace("http://", "ws://")
    yield fake
    await server.close()
    assert fake.violations == []  # every payload the bot sent was valid Block Kit


def slack_settings(tmp_path: Path, fake: FakeSlack, **overrides: Any) -> Settings:
    values: dict[str, Any] = dict(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        slack_bot_token="xoxb-test", slack_signing_secret=SECRET,
        slack_api_url=fake.base_url)  # type: ignore[attr-defined]
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
async def slack(tmp_path: Path, fake_slack: FakeSlack) -> AsyncIterator[SlackClient]:
    async with open_app(slack_settings(tmp_path, fake_slack)) as app, \
            serving(app, host="127.0.0.1", port=0) as server:
        client = SlackClient(server.url, app, fake_slack)
        yield client
        await client.close()


async def make_producer(slack: SlackClient, user: str = "UPRO", tenant: str = "T1") -> None:
    team = Team("slack", tenant)
    async with slack.app.db.uow() as uow:
        await uow.tenants.ensure(team)
        await uow.members.ensure(team, user)
        await uow.members.set_role(team, user, Role.PRODUCER)
        await uow.commit()


def copy_payload(data: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(data)
