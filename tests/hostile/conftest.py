"""Servers for the hostile-input corpus: one real bot per platform and database, shared by every
case of the module so a few hundred cases stay fast.

- Slack: the real aiohttp server (`serving`, as `producer-bot serve` runs it) with slack-bolt and
  a SQLite database, against the fake Slack Web API of tests/slack, over loopback HTTP.
- Teams: the real /api/messages handler with botbuilder's JWT validation ON (MicrosoftAppId set),
  keys served by tests/teams' local OpenID server, replies to tests/teams' fake connector.

Both start from the same seeded state (a producer, blocker #1 of an engineer, request #1 of a
stakeholder ready for review), which every case must leave exactly as it was.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from botframework.connector.auth import ChannelValidation
from botframework.connector.auth.jwt_token_extractor import JwtTokenExtractor

from adapters.compose import App, open_app
from adapters.config import Settings
from adapters.server import Server, make_web_app, serving
from adapters.teams.app import build_teams
from bot.model import BlockerStatus, RequestState, Role, Team
from tests.conftest import postgres_url, reset_postgres
from tests.slack.conftest import SlackClient, payload, slack_settings
from tests.slack.fake_slack import FakeSlack
from tests.teams.activities import APP_ID, ERIN, PAT, SAM, TENANT, Activities
from tests.teams.conftest import FakeConnector, OpenId, Stack, StaticTokenFactory

SLACK_TEAM = Team("slack", "T1")
TEAMS_TEAM = Team("teams", TENANT)
SEEDED_BLOCKER = "waiting for ops to rotate the staging DB creds"
SEEDED_REQUEST = "Invoice CSV export"


@dataclass
class SlackEnv:
    app: App
    server: Server
    fake: FakeSlack
    client: SlackClient

    @property
    def db(self) -> Any:
        return self.app.db

    async def drain(self) -> None:
        await self.app.relay.drain()


@dataclass
class TeamsEnv:
    stack: Stack
    openid: OpenId
    connector: FakeConnector

    @property
    def app(self) -> App:
        return self.stack.app

    @property
    def db(self) -> Any:
        return self.stack.app.db

    async def drain(self) -> None:
        await self.stack.drain()


async def _check_seed(db: Any, team: Team, requester: str) -> None:
    async with db.uow() as uow:
        blocker = await uow.blockers.get(team, 1)
        request = await uow.requests.get(team, 1)
    assert blocker is not None and blocker.status == BlockerStatus.OPEN, blocker
    assert blocker.text == SEEDED_BLOCKER
    assert request is not None and request.state == RequestState.READY_FOR_REVIEW, request
    assert request.requester == requester and request.title == SEEDED_REQUEST


@pytest.fixture(scope="module")
def database_url(request: pytest.FixtureRequest) -> str:
    """"sqlite" (a file per server) or "postgres" (TEST_DATABASE_URL, `make test-postgres`):
    PostgreSQL refuses what SQLite stores (NUL characters, over-long ids), so both matter."""
    kind = getattr(request, "param", "sqlite")
    if kind == "sqlite":
        return "sqlite"
    url = postgres_url()
    if url is None:
        pytest.skip("TEST_DATABASE_URL is not set (PostgreSQL suite: make test-postgres)")
    return url


class Servers:
    """Starts the server a case needs and stops the other one: on PostgreSQL both use the same
    database, which each start resets."""

    def __init__(self, database_url: str, tmp: Path) -> None:
        self.database_url = database_url
        self.tmp = tmp
        self.started: dict[str, Any] = {}
        self.stack = AsyncExitStack()

    def url_for(self, name: str) -> str:
        if self.database_url == "sqlite":
            return f"sqlite+aiosqlite:///{self.tmp / f'{name}.db'}"
        return self.database_url

    async def _switch(self, name: str) -> bool:
        if name in self.started:
            return False
        await self.close()
        if self.database_url != "sqlite":
            await reset_postgres(self.database_url)
        return True

    async def close(self) -> None:
        self.started.clear()
        await self.stack.aclose()
        self.stack = AsyncExitStack()

    async def slack(self) -> SlackEnv:
        if await self._switch("slack"):
            self.started["slack"] = await self.stack.enter_async_context(
                _slack_env(self.url_for("slack")))
        return self.started["slack"]

    async def teams(self) -> TeamsEnv:
        if await self._switch("teams"):
            self.started["teams"] = await self.stack.enter_async_context(
                _teams_env(self.url_for("teams")))
        return self.started["teams"]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def servers(database_url: str, tmp_path_factory: pytest.TempPathFactory,
                  ) -> AsyncIterator[Servers]:
    started = Servers(database_url, tmp_path_factory.mktemp("hostile"))
    yield started
    await started.close()


@asynccontextmanager
async def _slack_env(url: str) -> AsyncIterator[SlackEnv]:
    fake = FakeSlack()
    fake_server = TestServer(fake.app(), host="127.0.0.1", port=0)
    await fake_server.start_server()
    fake.base_url = str(fake_server.make_url("/api/"))  # type: ignore[attr-defined]
    settings = slack_settings(Path("."), fake, database_url=url)
    try:
        async with open_app(settings, auto_migrate=True) as app, \
                serving(app, host="127.0.0.1", port=0, scheduler=False) as server:
            # Slack's pace (about 1 message a second per channel) is tested elsewhere; here it
            # would only make the corpus wait in real time between replies.
            app.relay.senders["slack"].pace = 0.0  # type: ignore[attr-defined]
            client = SlackClient(server.url, app, fake)
            env = SlackEnv(app, server, fake, client)
            try:
                await _seed_slack(env)
                yield env
            finally:
                await client.close()
    finally:
        await fake_server.close()


async def _seed_slack(env: SlackEnv) -> None:
    async with env.db.uow() as uow:
        await uow.tenants.ensure(SLACK_TEAM)
        for user, role in (("UPRO", Role.PRODUCER), ("UENG", Role.ENGINEER),
                           ("USH", Role.STAKEHOLDER)):
            await uow.members.ensure(SLACK_TEAM, user)
            await uow.members.set_role(SLACK_TEAM, user, role)
        await uow.commit()
    status, _ = await env.client.post(urlencode({
        "team_id": "T1", "channel_id": "DSEED", "channel_name": "directmessage",
        "user_id": "UENG", "command": "/blocker", "text": SEEDED_BLOCKER,
        "trigger_id": "seed.blocker"}), "application/x-www-form-urlencoded")
    assert status == 200
    form = payload("view_submission")
    form["view"]["private_metadata"] = json.dumps({"channel": "DSEEDSH", "direct": True})
    status, _ = await env.client.interact(form)
    assert status == 200
    await env.drain()
    await _check_seed(env.db, SLACK_TEAM, "USH")


@asynccontextmanager
async def _teams_env(url: str) -> AsyncIterator[TeamsEnv]:
    async with AsyncExitStack() as cleanup:
        connector = FakeConnector()
        runner = web.AppRunner(connector.app)
        await runner.setup()
        cleanup.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        connector.url = f"http://127.0.0.1:{runner.addresses[0][1]}/"

        openid = OpenId()
        openid.serve()
        assert openid.server is not None
        cleanup.callback(JwtTokenExtractor.metadataCache.pop, openid.url, None)
        cleanup.callback(openid.server.server_close)
        cleanup.callback(openid.server.shutdown)
        patch = pytest.MonkeyPatch()
        cleanup.callback(patch.undo)
        # botbuilder's channel metadata URL is a class attribute: point it at the local server.
        patch.setattr(ChannelValidation, "open_id_metadata_endpoint", openid.url)

        # Built the way tests/teams' make_stack builds it (and `serve` does), tokens checked.
        app = await cleanup.enter_async_context(open_app(Settings(
            database_url=url, microsoft_app_id=APP_ID, microsoft_app_password="secret"),
            auto_migrate=True))
        web_app = make_web_app(app)
        teams = build_teams(app.settings, app.relay, app.db, env={},
                            credentials_factory=StaticTokenFactory(APP_ID, "secret"))
        app.relay.senders["teams"] = teams.sender
        teams.sender.pace = 0.0  # as for Slack: pacing is tested elsewhere
        teams.mount(web_app)
        client = TestClient(TestServer(web_app, host="127.0.0.1", port=0))
        await client.start_server()
        cleanup.push_async_callback(client.close)
        await teams.start()
        cleanup.push_async_callback(teams.stop)
        stack = Stack(app, teams, connector, client, Activities(connector.url),
                      headers=lambda activity: {"Authorization": "Bearer " + openid.token(
                          openid.claims(APP_ID, activity["serviceUrl"]))})
        env = TeamsEnv(stack, openid, connector)
        await _seed_teams(env)
        yield env


async def _seed_teams(env: TeamsEnv) -> None:
    stack = env.stack
    await stack.set_role(PAT.aad, Role.PRODUCER, PAT.name)
    await stack.set_role(ERIN.aad, Role.ENGINEER, ERIN.name)
    await stack.set_role(SAM.aad, Role.STAKEHOLDER, SAM.name)
    await stack.say(stack.acts.personal(PAT, "help"))  # the producer's 1:1 chat is known
    await stack.say(stack.acts.personal(ERIN, f"blocker {SEEDED_BLOCKER}"))
    await stack.say(stack.acts.execute(SAM, {
        "form": "request", "title": SEEDED_REQUEST,
        "problem": "Finance retypes invoice rows every Friday, three hours"}, card=None))
    await _check_seed(env.db, TEAMS_TEAM, SAM.aad)
