"""The Teams test stack, all over real HTTP on 127.0.0.1:

- FakeConnector: a Bot Framework connector (aiohttp) that records /v3/conversations calls, answers
  like the service, can be told to fail (429 with Retry-After, 5xx, 403...), and checks every
  Adaptive Card it receives against the vendored 1.5 schema and the size budget.
- Stack: the bot's own aiohttp app with POST /api/messages, built the way `serve` builds it,
  on a fresh SQLite database; the worker is driven with `drain()`.
- OpenId: a locally generated RSA key, served as OpenID metadata + JWKS from a thread (botbuilder
  fetches them with blocking `requests`), and tokens signed with it.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from botframework.connector.auth import (
    AppCredentials,
    ChannelValidation,
    MicrosoftAppCredentials,
    PasswordServiceClientCredentialFactory,
)
from botframework.connector.auth.jwt_token_extractor import JwtTokenExtractor
from cryptography.hazmat.primitives.asymmetric import rsa
from jsonschema import Draft6Validator
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import select

from adapters.compose import App, open_app
from adapters.config import Settings
from adapters.server import make_web_app
from adapters.teams.app import ROUTE, TeamsPlatform, build_teams
from bot.model import Role, Team
from storage.tables import InboxRow, OutboxRow
from tests.teams.activities import TENANT, Activities

SCHEMA_DIR = Path(__file__).parent / "schema"
CARD_SCHEMA = json.loads((SCHEMA_DIR / "adaptive-card-1.5.json").read_text())
CARD_VALIDATOR = Draft6Validator(CARD_SCHEMA)
CARD_TYPE = "application/vnd.microsoft.card.adaptive"
# Teams refuses messages over ~100 KB (40 KB on older clients, 28 KB through some connectors).
TEAMS_SIZE_LIMIT = 28_000
# A card may carry a chart as an inline PNG (a data: URL) on top of that: the whole activity
# must stay under Teams' ~100 KB (413 MessageSizeTooBig past it).
TEAMS_MESSAGE_LIMIT = 100_000
_DATA_URL = re.compile(r'"data:image/[a-z]+;base64,[A-Za-z0-9+/=]*"')


def words_size(body: Any) -> int:
    """The activity's size without its inline images: what the words and buttons take."""
    return len(_DATA_URL.sub('""', json.dumps(body, ensure_ascii=False)).encode())
TEAM = Team("teams", TENANT)


def card_problems(card: Any) -> list[str]:
    problems = [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
                for e in CARD_VALIDATOR.iter_errors(card)]
    if not isinstance(card, dict) or card.get("version") not in ("1.0", "1.1", "1.2", "1.3", "1.4",
                                                                  "1.5"):
        problems.append("card version must be 1.5 or lower (what Teams renders)")
    return problems


# ---- the fake connector --------------------------------------------------------------------------


@dataclass
class Call:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    returned: str | None = None  # the activity id the connector answered with

    @property
    def cards(self) -> list[dict[str, Any]]:
        if not isinstance(self.body, dict):
            return []
        return [a.get("content") for a in self.body.get("attachments") or []
                if a.get("contentType") == CARD_TYPE]

    @property
    def text(self) -> str:
        """Everything readable in the activity: text, summary and the cards' text and buttons."""
        parts = [str(self.body.get("text") or ""), str(self.body.get("summary") or "")] \
            if isinstance(self.body, dict) else []
        for card in self.cards:
            parts.append(json.dumps(card, ensure_ascii=False))
        return "\n".join(parts)

    @property
    def conversation(self) -> str:
        return self.path.split("/")[3] if self.path.count("/") >= 3 else ""


@dataclass
class Failure:
    status: int
    method: str | None
    path_contains: str | None
    headers: dict[str, str]
    code: str


class FakeConnector:
    """Answers like the Bot Connector service (smba.trafficmanager.net)."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.failures: list[Failure] = []
        self.bad_cards: list[str] = []
        self.members: dict[str, dict[str, Any]] = {}
        # When set, member lookups wait for it: a connector that is slow to answer them.
        self.member_gate: asyncio.Event | None = None
        self.count = 0
        self.app = web.Application()
        self.app.router.add_route("*", "/{tail:.*}", self.handle)
        self.url = ""

    def fail(self, status: int, *, times: int = 1, method: str | None = None,
             path_contains: str | None = None, headers: dict[str, str] | None = None,
             code: str = "ServiceError") -> None:
        for _ in range(times):
            self.failures.append(Failure(status, method, path_contains, headers or {}, code))

    def _failure_for(self, method: str, path: str) -> Failure | None:
        for failure in self.failures:
            if (failure.method in (None, method)) and (failure.path_contains is None
                                                     or failure.path_contains in path):
                self.failures.remove(failure)
                return failure
        return None

    def next_id(self) -> str:
        self.count += 1
        return f"17632{self.count:08d}"

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else None
        call = Call(request.method, request.path, dict(request.headers), body)
        self.calls.append(call)
        for card in call.cards:
            problems = card_problems(card)
            size, words = len(json.dumps(body, ensure_ascii=False).encode()), words_size(body)
            if words > TEAMS_SIZE_LIMIT:
                problems.append(f"activity is {words} bytes without images, over "
                                f"{TEAMS_SIZE_LIMIT}")
            if size > TEAMS_MESSAGE_LIMIT:
                problems.append(f"activity is {size} bytes, over {TEAMS_MESSAGE_LIMIT}")
            self.bad_cards += [f"{request.method} {request.path}: {p}" for p in problems]
        failure = self._failure_for(request.method, request.path)
        if failure is not None:
            return web.json_response({"error": {"code": failure.code, "message": "scripted"}},
                                     status=failure.status, headers=failure.headers)
        parts = request.path.strip("/").split("/")
        if request.method == "POST" and parts == ["v3", "conversations"]:
            return web.json_response({"id": f"a:created-{self.next_id()}",
                                      "activityId": self.next_id()}, status=201)
        if request.method == "GET" and len(parts) == 5 and parts[3] == "members":
            if self.member_gate is not None:
                await self.member_gate.wait()
            member = self.members.get(parts[4])
            if member is None:
                return web.json_response({"error": {"code": "MemberNotFoundInConversation",
                                                    "message": "no such member"}}, status=404)
            return web.json_response(member)
        if request.method == "PUT":
            call.returned = parts[-1]
            return web.json_response({"id": parts[-1]})
        if request.method == "POST" and len(parts) >= 4 and parts[3] == "activities":
            call.returned = self.next_id()
            return web.json_response({"id": call.returned}, status=201)
        return web.json_response({"error": {"code": "BadSyntax", "message": "unknown route"}},
                                 status=400)

    # ---- what was sent ----------------------------------------------------------------------

    def sent(self, since: int = 0) -> list[Call]:
        """Messages posted or updated (not lookups), from call number `since` on."""
        return [c for c in self.calls[since:] if c.method in ("POST", "PUT")
                and "/activities" in c.path]

    def mark(self) -> int:
        return len(self.calls)


@pytest.fixture
async def connector() -> AsyncIterator[FakeConnector]:
    fake = FakeConnector()
    runner = web.AppRunner(fake.app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    fake.url = f"http://127.0.0.1:{runner.addresses[0][1]}/"
    yield fake
    await runner.cleanup()
    # Every Adaptive Card the bot sent in the test is valid and small enough for Teams.
    assert fake.bad_cards == []


# ---- outbound credentials without MSAL --------------------------------------------------------------


OUTBOUND_TOKEN = "fake-outbound-token"


class StaticTokenCredentials(AppCredentials):
    """AppCredentials puts `Authorization: Bearer <token>` on every connector request."""

    def __init__(self, app_id: str, token: str, oauth_scope: str | None = None) -> None:
        super().__init__(app_id=app_id, oauth_scope=oauth_scope)
        self._token = token

    def get_access_token(self, force_refresh: bool = False) -> str:
        return self._token


class StaticTokenFactory(PasswordServiceClientCredentialFactory):
    """MSAL cannot reach login.microsoftonline.com from a test; everything else is botbuilder's."""

    async def create_credentials(self, app_id: str, oauth_scope: str, login_endpoint: str,
                                 validate_authority: bool) -> AppCredentials:
        if await self.is_authentication_disabled():
            return MicrosoftAppCredentials.empty()
        if not await self.is_valid_app_id(app_id):
            raise PermissionError("invalid app id")
        return StaticTokenCredentials(app_id, OUTBOUND_TOKEN, oauth_scope)


# ---- the bot ----------------------------------------------------------------------------------------


@dataclass
class Stack:
    app: App
    teams: TeamsPlatform
    connector: FakeConnector
    client: TestClient
    acts: Activities
    headers: Callable[[dict[str, Any]], dict[str, str]] = field(default=lambda activity: {})

    async def post(self, activity: Any, *, headers: dict[str, str] | None = None,
                   raw: bytes | None = None) -> tuple[int, Any]:
        data = raw if raw is not None else json.dumps(activity).encode()
        sent_headers = {"Content-Type": "application/json"}
        if headers is None and isinstance(activity, dict):
            sent_headers.update(self.headers(activity))
        sent_headers.update(headers or {})
        response = await self.client.post(ROUTE, data=data, headers=sent_headers)
        text = await response.text()
        try:
            return response.status, json.loads(text) if text else None
        except ValueError:
            return response.status, text

    async def send(self, activity: dict[str, Any], status: int = 200) -> Any:
        code, body = await self.post(activity)
        assert code == status, (code, body)
        return body

    async def say(self, activity: dict[str, Any]) -> list[Call]:
        """Post an activity, let the worker run, and return what the bot sent."""
        mark = self.connector.mark()
        await self.send(activity)
        await self.drain()
        return self.connector.sent(mark)

    async def drain(self) -> None:
        await asyncio.wait_for(self.app.relay.drain(), timeout=60)

    async def set_role(self, user: str, role: Role, name: str | None = None) -> None:
        async with self.app.db.uow() as uow:
            await uow.tenants.ensure(TEAM)
            await uow.members.ensure(TEAM, user, name=name)
            await uow.members.set_role(TEAM, user, role)
            await uow.commit()

    async def inbox(self) -> list[InboxRow]:
        async with self.app.db.sessions() as session:
            return list((await session.execute(select(InboxRow).order_by(InboxRow.id))).scalars())

    async def outbox(self) -> list[OutboxRow]:
        async with self.app.db.sessions() as session:
            return list((await session.execute(select(OutboxRow).order_by(OutboxRow.id))).scalars())


StackFactory = Callable[..., Awaitable[Stack]]


@pytest.fixture
async def make_stack(tmp_path: Path, connector: FakeConnector) -> AsyncIterator[StackFactory]:
    opened: list[tuple[Any, TestClient, TeamsPlatform]] = []

    async def make(*, env: dict[str, str] | None = None, credentials_factory: Any = None,
                   headers: Callable[[dict[str, Any]], dict[str, str]] | None = None,
                   **settings: Any) -> Stack:
        settings.setdefault("database_url", f"sqlite:///{tmp_path / f'bot{len(opened)}.db'}")
        # Without MicrosoftAppId the stack is the Bot Framework Emulator's (TEAMS_EMULATOR=1).
        settings.setdefault("teams_emulator_requested", not settings.get("microsoft_app_id"))
        context = open_app(Settings(**settings))
        app = await context.__aenter__()
        web_app = make_web_app(app)
        teams = build_teams(app.settings, app.relay, app.db, env=env or {},
                            credentials_factory=credentials_factory)
        app.relay.senders["teams"] = teams.sender
        teams.mount(web_app)
        client = TestClient(TestServer(web_app, host="127.0.0.1", port=0))
        await client.start_server()
        await teams.start()
        opened.append((context, client, teams))
        stack = Stack(app, teams, connector, client, Activities(connector.url))
        if headers is not None:
            stack.headers = headers
        return stack

    yield make
    for context, client, teams in reversed(opened):
        await teams.stop()
        await client.close()
        await context.__aexit__(None, None, None)


@pytest.fixture
async def stack(make_stack: StackFactory) -> Stack:
    """Emulator mode (no MicrosoftAppId, TEAMS_EMULATOR=1): no tokens, loopback only."""
    return await make_stack()


# ---- tokens ------------------------------------------------------------------------------------------


class OpenId:
    """A signing key whose public half is served as the Bot Framework's OpenID metadata."""

    issuer = "https://api.botframework.com"

    def __init__(self, kid: str = "test-key-1") -> None:
        self.kid = kid
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update(kid=kid, use="sig", alg="RS256", endorsements=["msteams"])
        self.jwks = {"keys": [jwk]}
        self.hits: list[str] = []
        self.server: ThreadingHTTPServer | None = None
        self.url = ""

    def token(self, claims: dict[str, Any], *, key: Any = None, kid: str | None = "") -> str:
        headers = {"kid": self.kid if kid == "" else kid} if kid is not None else {}
        return jwt.encode(claims, key or self.key, algorithm="RS256", headers=headers)

    def claims(self, app_id: str, service_url: str, **changes: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": app_id, "serviceurl": service_url,
                  "nbf": now - 10, "exp": now + 3600}
        claims.update(changes)
        return {k: v for k, v in claims.items() if v is not None}

    def serve(self) -> None:
        openid = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return None

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                openid.hits.append(self.path)
                port = self.server.server_address[1]
                if self.path == "/v1/.well-known/openidconfiguration":
                    body: Any = {"issuer": openid.issuer,
                                 "jwks_uri": f"http://127.0.0.1:{port}/v1/.well-known/keys",
                                 "id_token_signing_alg_values_supported": ["RS256"]}
                elif self.path == "/v1/.well-known/keys":
                    body = openid.jwks
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        # A thread, not the test's event loop: botbuilder fetches with blocking requests.get,
        # which would deadlock against a server on its own loop.
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/.well-known/openidconfiguration"


@pytest.fixture
def openid(monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenId]:
    served = OpenId()
    served.serve()
    # botbuilder's channel metadata URL is a class attribute: point it at the local server.
    monkeypatch.setattr(ChannelValidation, "open_id_metadata_endpoint", served.url)
    yield served
    assert served.server is not None
    served.server.shutdown()
    served.server.server_close()
    JwtTokenExtractor.metadataCache.pop(served.url, None)
