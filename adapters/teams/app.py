"""Teams over botbuilder's CloudAdapter: verify, translate, store in the inbox, answer. Nothing is
sent while a request is open; the bot's worker answers through the outbox and TeamsSender.

POST /api/messages is our own small aiohttp handler rather than CloudAdapter.process, which in
botbuilder 4.17.1 answers 500 where a 4xx belongs (malformed JSON, expired or badly signed tokens)
and serialises invoke response bodies twice, so every card action failed with a 500. The handler
authenticates through botbuilder, runs the turn through CloudAdapter.process_activity and the
TeamsActivityHandler below, and writes invoke bodies once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from aiohttp import web
from botbuilder.core import InvokeResponse, TurnContext, serializer_helper
from botbuilder.core.teams import TeamsActivityHandler, TeamsInfo
from botbuilder.integration.aiohttp import (
    CloudAdapter,
    ConfigurationBotFrameworkAuthentication,
    ConfigurationServiceClientCredentialFactory,
)
from botbuilder.schema import Activity
from botframework.connector.auth import AppCredentials, ServiceClientCredentialsFactory
from msrest.serialization import Model

from adapters.config import Settings
from adapters.teams import cards, checks, translate
from adapters.teams.options import TeamsOptions, app_type, check, emulator_mode, read_options
from adapters.teams.refs import References, place_of
from adapters.teams.sender import TeamsSender
from bot.model import Team
from bot.relay import Relay
from bot.usecases import people
from storage.conversations import ConversationStore
from storage.db import Database

log = logging.getLogger(__name__)

ROUTE = "/api/messages"
RAW = "producer_bot.activity"  # turn_state keys: the raw JSON and the tenant of this turn
TENANT = "producer_bot.tenant"
EMULATOR_TENANT = "emulator"  # the Bot Framework Emulator sends no tenant
MEMBER_LOOKUP_SECONDS = 5.0
# How long one activity's ack may wait for the people it mentions to be looked up, all of them
# together: Teams resends an activity it has no answer for after 15 s, and one slow connector
# call per mention made that 50 s. Lookups still running then finish after the ack.
MENTION_BUDGET_SECONDS = 1.0
# Teams messages are at most about 100 KB; an activity several times that is not from Teams.
MAX_BODY_BYTES = 256 * 1024


class BotFrameworkConfig:
    """The attribute names botbuilder reads, filled from our settings."""

    def __init__(self, settings: Settings) -> None:
        self.APP_ID = settings.microsoft_app_id or ""
        self.APP_PASSWORD = settings.microsoft_app_password or ""
        self.APP_TYPE = app_type(settings)
        self.APP_TENANTID = settings.microsoft_app_tenant_id or ""


class CachedCredentials(ServiceClientCredentialsFactory):
    """botbuilder builds new credentials (a new MSAL client, so a new token) for every turn and
    every proactive message; one per audience keeps MSAL's token cache doing its job."""

    def __init__(self, inner: ServiceClientCredentialsFactory) -> None:
        self.inner = inner
        self.cache: dict[tuple[Any, ...], AppCredentials] = {}

    async def is_valid_app_id(self, app_id: str) -> bool:
        return await self.inner.is_valid_app_id(app_id)

    async def is_authentication_disabled(self) -> bool:
        return await self.inner.is_authentication_disabled()

    async def create_credentials(self, app_id: str, oauth_scope: str, login_endpoint: str,
                                 validate_authority: bool) -> AppCredentials:
        key = (app_id, oauth_scope, login_endpoint, validate_authority)
        if key not in self.cache:
            self.cache[key] = await self.inner.create_credentials(
                app_id, oauth_scope, login_endpoint, validate_authority)
        return self.cache[key]


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _invoke_error(status: int, message: str) -> InvokeResponse:
    # The Universal Actions error shape: Teams shows the message on the card.
    return InvokeResponse(status=status, body={
        "statusCode": status, "type": "application/vnd.microsoft.error",
        "value": {"code": "BadRequest", "message": message}})


class TeamsHandler(TeamsActivityHandler):
    """Routes each activity: remember how to reach its conversation and sender, translate it,
    store it in the inbox. Raises translate.BadActivity for the HTTP handler to answer 400."""

    def __init__(self, relay: Relay, refs: References) -> None:
        self.relay = relay
        self.refs = refs
        self._lookups: set[asyncio.Task[str]] = set()  # member lookups that outlived their ack

    async def settled(self) -> None:
        """Wait for the member lookups still running after their acks."""
        while self._lookups:
            await asyncio.gather(*self._lookups, return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._lookups):
            task.cancel()
        await asyncio.gather(*self._lookups, return_exceptions=True)

    @staticmethod
    def _turn(turn_context: TurnContext) -> tuple[dict[str, Any], str, Team]:
        tenant = turn_context.turn_state[TENANT]
        return turn_context.turn_state[RAW], tenant, Team(translate.PLATFORM, tenant)

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        raw, tenant, team = self._turn(turn_context)
        if translate.from_the_bot(raw):
            return
        await self.refs.seen(team, raw)
        text = raw.get("text")
        if isinstance(raw.get("value"), dict) and not (isinstance(text, str) and text.strip()):
            await self.relay.receive(translate.card_action(raw, tenant))  # an Action.Submit
            return
        people = await self._resolve_mentions(turn_context, team, raw)
        msg = translate.message(raw, tenant, people)
        if msg is None:
            return
        await self.relay.receive(msg)

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
        name = turn_context.activity.name
        if name != "adaptiveCard/action":
            # The manifest declares no messaging extensions, task modules or tabs.
            return _invoke_error(400, f"this bot does not handle {str(name)[:60]!r} invokes")
        raw, tenant, team = self._turn(turn_context)
        await self.refs.seen(team, raw)
        try:
            msg = translate.card_action(raw, tenant)
        except translate.BadActivity as exc:
            return _invoke_error(400, str(exc))
        await self.relay.receive(msg)  # a resent invoke is a duplicate here, and answered the same
        if msg.form and msg.command == "request":
            return InvokeResponse(status=200, body={
                "statusCode": 200, "type": cards.CONTENT_TYPE,
                "value": cards.filed_card(msg.form["title"])})
        # The answer replaces the card when the worker has it; until then, a word of receipt.
        return InvokeResponse(status=200, body={
            "statusCode": 200, "type": "application/vnd.microsoft.activity.message",
            "value": "Working on it…"})

    async def on_conversation_update_activity(self, turn_context: TurnContext) -> None:
        # Not the base class: it would look every added member up with the connector first.
        raw, tenant, team = self._turn(turn_context)
        await self.refs.seen(team, raw)
        msg = translate.installed(raw, tenant)
        if msg is not None:
            await self.relay.receive(msg)

    async def on_installation_update(self, turn_context: TurnContext) -> None:
        raw, _, team = self._turn(turn_context)
        await self.refs.seen(team, raw)

    # Not the base class's: it would parse channelData into its model first, and fail on a
    # malformed one. The core decides what an edit or a deletion changes.
    async def on_message_update_activity(self, turn_context: TurnContext) -> None:
        raw, tenant, team = self._turn(turn_context)
        if translate.from_the_bot(raw) or translate.edited(raw, tenant) is None:
            return  # an undeletion, or something newer than this bot
        await self.refs.seen(team, raw)
        people = await self._resolve_mentions(turn_context, team, raw)
        msg = translate.edited(raw, tenant, people)
        if msg is not None:
            await self.relay.receive(msg)

    async def on_message_delete_activity(self, turn_context: TurnContext) -> None:
        raw, tenant, team = self._turn(turn_context)
        msg = translate.deleted(raw, tenant)
        if msg is not None:
            await self.refs.seen(team, raw)
            await self.relay.receive(msg)

    # Meeting events mean nothing to the bot.
    async def on_event_activity(self, turn_context: TurnContext) -> None:
        return None

    async def _resolve_mentions(self, turn_context: TurnContext, team: Team,
                                raw: dict[str, Any]) -> dict[str, str]:
        """Mentions carry Teams account ids (29:...); the core knows people by their Entra id.
        Someone the bot has not met yet is looked up once with the connector, all of them at
        once and within MENTION_BUDGET_SECONDS in all; a lookup that takes longer leaves the
        account id in this message and finishes after the ack, for the next mention."""
        people: dict[str, str] = {}
        pending: dict[str, asyncio.Task[str]] = {}
        for account, name in translate.mentioned_people(raw):
            record = await self.refs.user(team, account)
            if record and record.get("user"):
                people[account] = translate.user_id(record["user"])
                continue
            task = asyncio.create_task(self._look_up(turn_context, team, raw, account, name))
            self._lookups.add(task)
            task.add_done_callback(self._finished)
            pending[account] = task
        if pending:
            await asyncio.wait(pending.values(), timeout=MENTION_BUDGET_SECONDS)
        for account, task in pending.items():
            if task.done() and not task.cancelled() and task.exception() is None:
                people[account] = task.result()
        late = [a for a, t in pending.items() if not t.done()]
        if late:
            log.info("teams: %d mentioned account(s) still being looked up after %.1fs; "
                     "acknowledging first", len(late), MENTION_BUDGET_SECONDS)
        return people

    def _finished(self, task: asyncio.Task[str]) -> None:
        self._lookups.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("teams: remembering a mentioned person failed: %s", task.exception())

    async def _look_up(self, turn_context: TurnContext, team: Team, raw: dict[str, Any],
                       account: str, name: str | None) -> str:
        found: dict[str, Any] = {"id": account, "name": name}
        try:
            member = await asyncio.wait_for(TeamsInfo.get_member(turn_context, account),
                                            MEMBER_LOOKUP_SECONDS)
            found.update({k: v for k, v in (("name", member.name),
                                             ("aadObjectId", member.aad_object_id)) if v})
        except Exception as exc:  # no connector, not a member any more: keep the account id
            log.info("teams: could not look up mentioned account %s: %s", account, exc)
        found = {k: v for k, v in found.items() if isinstance(v, str) and v}
        await self.refs.person(team, found, place_of(raw))
        return translate.user_id(found)


@dataclass
class TeamsPlatform:
    adapter: CloudAdapter
    handler: TeamsHandler
    sender: TeamsSender
    settings: Settings
    options: TeamsOptions

    @property
    def emulator(self) -> bool:
        return emulator_mode(self.settings)

    def mount(self, web_app: web.Application) -> None:
        web_app.router.add_post(ROUTE, self.messages)

    async def start(self) -> None:
        if self.emulator:
            log.warning("teams: TEAMS_EMULATOR is set and MicrosoftAppId is not, so %s accepts "
                        "activities WITHOUT authentication (local emulator mode, loopback only). "
                        "Never expose it.", ROUTE)
        else:
            log.info("teams: %s verifies every activity for app %s (%s)", ROUTE,
                     self.settings.microsoft_app_id, app_type(self.settings))
        if self.options.allowed_tenants:
            log.info("teams: accepting tenants %s", ", ".join(sorted(self.options.allowed_tenants)))

    async def stop(self) -> None:
        await self.handler.close()

    async def messages(self, request: web.Request) -> web.StreamResponse:
        """Cheap checks first, the token next, botbuilder's model last: deserialising a large
        body into an Activity costs seconds of CPU, which nobody may spend without a token."""
        if request.content_type != "application/json":
            return _error(415, "expected an application/json activity")
        if (request.content_length or 0) > MAX_BODY_BYTES:
            return _error(413, f"an activity is at most {MAX_BODY_BYTES // 1024} KB")
        raw = await request.read()
        if len(raw) > MAX_BODY_BYTES:
            return _error(413, f"an activity is at most {MAX_BODY_BYTES // 1024} KB")
        try:
            body = json.loads(raw.decode(request.charset or "utf-8"))
        except (ValueError, UnicodeDecodeError, LookupError, RecursionError):
            # LookupError: an unknown charset; RecursionError: absurdly deep nesting.
            return _error(400, "the body is not valid JSON")
        if not isinstance(body, dict):
            return _error(400, "an activity is a JSON object")
        problem = checks.shape_problem(body)
        if problem:
            return _error(400, problem)
        conversation = body.get("conversation")
        # The raw JSON, not the model: msrest quietly turns a number into a string.
        if not isinstance(body.get("type"), str) or not body["type"] \
                or not isinstance(body.get("serviceUrl"), str) \
                or not isinstance(body.get("channelId", ""), str) \
                or not isinstance(conversation, dict) or not isinstance(conversation.get("id"), str) \
                or not 0 < len(conversation["id"]) <= translate.MAX_ID \
                or translate.has_control(conversation["id"]):
            # Checked before anything is stored (the conversation reference is, even for a
            # message that is later refused): PostgreSQL refuses NUL in text, a 5xx otherwise.
            return _error(400, "an activity needs a type, a serviceUrl and a conversation id")
        if not isinstance(body.get("channelData", {}), dict):
            return _error(400, "channelData must be an object")
        problem = checks.service_url_problem(body["serviceUrl"])
        if problem:
            # With a token, the token names the URL; still, nothing the sender would read
            # differently from the check is stored.
            return _error(400, problem)
        if self.emulator and not checks.loopback_service_url(body["serviceUrl"]):
            # Without authentication anyone could make the bot post to any URL.
            return _error(403, "in emulator mode only loopback service URLs are answered")
        try:
            # The token is checked against the channel and service URL it names: nothing else
            # of the body is needed for that.
            auth = await self.adapter.bot_framework_authentication.authenticate_request(
                Activity(channel_id=body.get("channelId"), service_url=body["serviceUrl"]),
                request.headers.get("Authorization", ""))
        except Exception as exc:  # every way a token can be wrong is a 401, not a 500
            log.info("teams: refused an activity: %s: %s", type(exc).__name__, exc)
            return _error(401, "unauthorized")
        try:
            activity = Activity().deserialize(body)
        except Exception:
            return _error(400, "the body is not a Bot Framework activity")
        tenant = translate.tenant_of(body) or (EMULATOR_TENANT if self.emulator else None)
        if tenant is None:
            return _error(400, "the activity has no tenant")
        if not self.options.allows(tenant.lower()):
            log.warning("teams: refused an activity from tenant %s (not in TEAMS_ALLOWED_TENANTS)",
                        tenant)
            return _error(403, "this bot does not serve your organisation")

        async def logic(turn_context: TurnContext) -> None:
            turn_context.turn_state[RAW] = body
            turn_context.turn_state[TENANT] = tenant
            await self.handler.on_turn(turn_context)

        try:
            response = await self.adapter.process_activity(auth, activity, logic)
        except translate.BadActivity as exc:
            return _error(400, str(exc))
        except Exception:
            # The event is not stored: a 5xx makes Teams send it again.
            log.exception("teams: handling a %s activity failed", activity.type)
            return _error(503, "temporarily unavailable")
        if response is None:
            return web.Response(status=200)
        out = response.body
        if isinstance(out, Model):
            out = serializer_helper(out)  # only models; botbuilder already serialised dicts
        return web.json_response(out, status=int(response.status))


def build_teams(settings: Settings, relay: Relay, db: Database, *, host: str | None = None,
                env: Mapping[str, str] | None = None,
                credentials_factory: ServiceClientCredentialsFactory | None = None) -> TeamsPlatform:
    """The Teams platform: mount() its route, put `sender` in bot.senders, start() it.

    `host` is the address the server binds (default settings.host): emulator mode refuses
    anything but loopback. `env` is where TEAMS_ALLOWED_TENANTS is read (default os.environ).
    `credentials_factory` replaces botbuilder's (MSAL) outbound credentials; tests use it.
    """
    check(settings, host)
    config = BotFrameworkConfig(settings)
    factory = credentials_factory or CachedCredentials(
        ConfigurationServiceClientCredentialFactory(config))
    adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(
        config, credentials_factory=factory))
    refs = References(ConversationStore(db))

    async def display_names(team: Team, users: Sequence[str]) -> Mapping[str, str]:
        return await relay.perform(partial(people.display_names, team=team, users=users))

    sender = TeamsSender(adapter, refs, config.APP_ID, display_names)
    return TeamsPlatform(adapter, TeamsHandler(relay, refs), sender, settings,
                 read_options(os.environ if env is None else env, settings))
