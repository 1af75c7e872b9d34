"""Slack over slack-bolt: verify, translate, store in the inbox, acknowledge. Nothing slow runs
before the acknowledgement; the bot's worker does the rest and replies through the outbox.

`process_before_response=True` makes Bolt finish our listener (one inbox insert) before it
answers Slack, so an event is stored before it is acknowledged; if the database is down the
answer is a 5xx and Slack retries instead of the event being lost.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization.async_authorize import AsyncInstallationStoreAuthorize
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.request.async_internals import build_async_context
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.config import ConfigError, Settings
from adapters.slack import translate
from adapters.slack.render import home_view, message_payload, reason_modal, request_modal
from bot.model import InboundMessage, Outgoing, Team
from bot.ports import MaybeDelivered, RetryLater, Sender, Sent, Undeliverable
from bot.relay import Relay

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://slack.com/api/"
# The fewest scopes that work: post and DM (chat:write, im:write), slash commands, read the
# messages of channels the bot was invited to and of its DMs, and people's time zones.
SCOPES = ["chat:write", "commands", "im:write", "channels:history", "groups:history",
          "im:history", "users:read"]
SLASH_COMMANDS = ("/request", "/blocker", "/standup", "/digest", "/producer")

METADATA_EVENT = "producer_bot_delivery"
_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # seconds since 1970, ASCII digits only
# Slack errors a later attempt can get past; any other error gives the message up (logged).
# Slack documents that after the first two "some aspect of the operation" may have succeeded.
_MAYBE_POSTED_ERRORS = {"internal_error", "fatal_error"}
_TRANSIENT_ERRORS = {"ratelimited", "service_unavailable", "request_timeout"}
# The bot may not post in that conversation (not a member, private, archived).
_NOT_THERE_ERRORS = {"not_in_channel", "channel_not_found", "is_archived"}


def one_to_one(message: Outgoing, person: str) -> Outgoing:
    """The message as a 1:1 to `person`, saying why it did not appear where they asked."""
    channel = f"<#{message.where.channel}>"
    note = (f"I'm not a member of {channel}, so I'm answering you here. To have me answer in "
            f"{channel}, add me to it: `/invite @producer-bot`.")
    return replace(message, text=f"{note}\n\n{message.text}", to_user=person, private_to=None,
                   reply_to=None, thread_key=None, where=message.where.in_thread(None))


def retry_handlers() -> list[Any]:
    return [AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=2),
            AsyncServerErrorRetryHandler(max_retry_count=1)]


def web_client(settings: Settings, token: str | None = None,
               retries: bool = True) -> AsyncWebClient:
    """A Web API client. The outbox's client has no retries of its own (`retries=False`):
    slack_sdk would post again after a connection cut off once the request was sent, doubling
    a message Slack did take; the outbox retries instead, and first looks for the message in
    the channel's history (SlackSender.find_sent). It also waits out a 429 without holding
    the sending loop."""
    return AsyncWebClient(token=token, base_url=settings.slack_api_url or DEFAULT_API_URL,
                          retry_handlers=retry_handlers() if retries else [])


def _header(headers: Any, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name.lower():
            return value[0] if isinstance(value, list) else value
    return None


class SlackSender(Sender):
    """Delivers Outgoing messages with the Web API; one client per workspace token."""

    pace, burst = 1.0, 3  # chat.postMessage: about one message per second per channel

    def __init__(self, client_for: Callable[[str], Awaitable[AsyncWebClient]]) -> None:
        self.client_for = client_for

    async def send(self, message: Outgoing) -> Sent:
        client = await self.client_for(message.where.tenant)
        try:
            return await self._send(client, message)
        except SlackApiError as exc:
            response = exc.response
            error = response.get("error") if hasattr(response, "get") else None
            person = message.private_to or message.reply_to
            if error in _NOT_THERE_ERRORS and person and not message.to_user \
                    and message.surface == "message":
                # Slash commands and shortcuts work in channels the bot was never invited to;
                # the answer then goes to the person, with how to invite the bot.
                log.info("slack: cannot post in %s (%s); answering 1:1",
                         message.where.channel, error)
                return await self.send(one_to_one(message, person))
            if response.status_code == 429 or error == "ratelimited":
                after = _header(response.headers, "Retry-After") or "1"
                raise RetryLater(float(after) if after.isdigit() else 1.0, "ratelimited",
                                 counts=False) from exc
            if error in _MAYBE_POSTED_ERRORS or (response.status_code >= 500
                                                 and error not in _TRANSIENT_ERRORS):
                raise MaybeDelivered(f"slack {response.status_code} {error}") from exc
            if response.status_code >= 500 or error in _TRANSIENT_ERRORS:
                raise RetryLater(5.0, f"slack {response.status_code} {error}") from exc
            raise Undeliverable(f"slack refused: {error}") from exc

    async def find_sent(self, message: Outgoing) -> Sent | None:
        """Look for the message's delivery id in recent history (Slack keeps the metadata we
        attach): a cut-off attempt that did reach Slack is not posted twice. An answer that
        may have gone 1:1 instead (see `send`) is looked for there too."""
        if message.surface == "home" or not message.delivery_id:
            return None  # Home views leave no history; publishing one again is harmless
        person = message.private_to or message.reply_to
        if not message.private_to:  # ephemerals leave no history where they were shown
            found = await self._in_history(message)
            if found is not None:
                return found
        if person and not message.to_user:
            return await self._in_history(one_to_one(message, person))
        return None

    async def _in_history(self, message: Outgoing) -> Sent | None:
        client = await self.client_for(message.where.tenant)
        try:
            channel = await self._channel(client, message)
            history = await client.conversations_history(
                channel=channel, limit=100, include_all_metadata=True)
        except SlackApiError:
            return None  # not readable (the bot is not in it): nothing found
        for posted in history.get("messages") or []:
            payload = (posted.get("metadata") or {}).get("event_payload") or {}
            if payload.get("delivery_id") == message.delivery_id:
                return Sent(message_id=posted.get("ts"), channel=channel)
        return None

    @staticmethod
    async def _channel(client: AsyncWebClient, message: Outgoing) -> str:
        if message.to_user:
            opened = await client.conversations_open(users=message.to_user)
            return opened["channel"]["id"]
        return message.where.channel

    async def _send(self, client: AsyncWebClient, message: Outgoing) -> Sent:
        if message.surface == "home":
            user = message.to_user or message.private_to
            await client.views_publish(user_id=user, view=home_view(message))
            return Sent()
        channel = await self._channel(client, message)
        thread = message.where.thread
        payload = message_payload(message)
        if message.delivery_id:
            payload["metadata"] = {"event_type": METADATA_EVENT,
                                   "event_payload": {"delivery_id": message.delivery_id}}
        if message.private_to:
            await client.chat_postEphemeral(channel=channel, user=message.private_to,
                                            thread_ts=thread, **payload)
            return Sent(channel=channel)
        posted = await client.chat_postMessage(channel=channel, thread_ts=thread, **payload)
        return Sent(message_id=posted.get("ts"), channel=posted.get("channel") or channel)


@dataclass
class Slack:
    app: AsyncApp
    sender: SlackSender
    settings: Settings
    directory: Directory
    installation_store: AsyncSQLAlchemyInstallationStore | None = None
    state_store: AsyncSQLAlchemyOAuthStateStore | None = None
    socket: AsyncSocketModeHandler | None = field(default=None, repr=False)

    def mount(self, web_app: web.Application) -> None:
        async def events(request: web.Request) -> web.Response:
            # Slack signs UTF-8 bytes: decode them ourselves (aiohttp's text() trusts the
            # Content-Type charset and raises on an unknown one).
            try:
                raw = (await request.read()).decode("utf-8")
            except UnicodeDecodeError:
                return web.json_response({"error": "invalid request"}, status=401)
            timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
            signature = request.headers.get("X-Slack-Signature", "")
            # Checked here as well as in Bolt: slack_sdk's verifier raises (a 500) on a
            # timestamp that is not a plain number and on a non-ASCII signature, and a malformed
            # body must be refused only once we know Slack sent it.
            if not _TIMESTAMP.fullmatch(timestamp) or not signature.isascii() \
                    or not verifier.is_valid(raw, timestamp, signature):
                return web.json_response({"error": "invalid request"}, status=401)
            try:
                body = translate.parse_body(raw, request.content_type)
            except translate.BadPayload as exc:
                return web.json_response({"error": str(exc)}, status=400)
            # Bolt is handed our parse rather than parsing again: ours is the stricter one
            # (Bolt reads any form body containing the word "payload" as interactivity and
            # gets {} for a command like `/request payload export`), and every event would
            # otherwise be decoded twice on the way to its ack.
            bolt_request = AsyncBoltRequest(
                body="", query=request.query_string,
                headers={k.lower(): request.headers.getall(k) for k in request.headers})
            bolt_request.raw_body, bolt_request.body = raw, body
            bolt_request.context = build_async_context(AsyncBoltContext({}), body)
            return await to_aiohttp_response(await self.app.async_dispatch(bolt_request))

        if self.settings.slack_signing_secret:
            verifier = SignatureVerifier(self.settings.slack_signing_secret)
            web_app.router.add_post("/slack/events", events)
        flow = self.app.oauth_flow
        if flow is not None:
            async def install(request: web.Request) -> web.Response:
                return await to_aiohttp_response(await flow.handle_installation(
                    await to_bolt_request(request)))

            async def oauth_redirect(request: web.Request) -> web.Response:
                try:
                    return await to_aiohttp_response(await flow.handle_callback(
                        await to_bolt_request(request)))
                except Exception:  # Slack unreachable: a clear page, not a 500 traceback
                    log.exception("Slack OAuth callback failed")
                    return web.Response(status=502, text="Could not reach Slack to finish the "
                                        "installation. Please try installing again.")

            web_app.router.add_get("/slack/install", install)
            web_app.router.add_get("/slack/oauth_redirect", oauth_redirect)

    async def start(self) -> None:
        if self.installation_store and self.state_store:
            # slack_sdk's own tables, created in the bot's database (idempotent).
            await self.installation_store.create_tables()
            await self.state_store.create_tables()
        if self.settings.slack_app_token:
            self.socket = AsyncSocketModeHandler(self.app, self.settings.slack_app_token)
            # connect_async retries forever on failure; a bad token must not hang start-up.
            await asyncio.wait_for(self.socket.connect_async(), timeout=30)
            log.info("slack: connected in Socket Mode")

    async def stop(self) -> None:
        if self.socket is not None:
            await self.socket.close_async()
        await self.directory.close()


def check(settings: Settings) -> None:
    """Fail fast, naming the variable, instead of answering every request with a 500."""
    if settings.slack_app_token and not (settings.slack_bot_token or settings.slack_client_id):
        raise ConfigError("SLACK_APP_TOKEN (Socket Mode) also needs SLACK_BOT_TOKEN: the bot "
                          "token under OAuth & Permissions in your Slack app's settings")
    if not settings.slack_app_token and not settings.slack_signing_secret:
        raise ConfigError("SLACK_SIGNING_SECRET is required to verify Slack's requests: find it "
                          "under Basic Information > App Credentials in your Slack app's settings")
    if settings.slack_client_id and not settings.slack_client_secret:
        raise ConfigError("SLACK_CLIENT_ID is set but SLACK_CLIENT_SECRET is not: both come from "
                          "Basic Information > App Credentials")


def build_slack(settings: Settings, relay: Relay, engine: AsyncEngine) -> Slack:
    check(settings)
    client = web_client(settings, settings.slack_bot_token)
    kwargs: dict[str, Any] = dict(
        # Socket Mode needs no signing secret; the HTTP route is then not mounted at all.
        signing_secret=settings.slack_signing_secret or "unused-in-socket-mode",
        client=client,
        process_before_response=True,
        # The HTTP route checks every signature before Bolt sees the request (more strictly
        # than Bolt, see Slack.mount); Socket Mode has none to check.
        request_verification_enabled=False,
    )
    installation_store = state_store = None
    if settings.slack_client_id and not settings.slack_bot_token:
        installation_store = AsyncSQLAlchemyInstallationStore(
            client_id=settings.slack_client_id, engine=engine)
        state_store = AsyncSQLAlchemyOAuthStateStore(expiration_seconds=600, engine=engine)
        kwargs.update(
            installation_store=installation_store,
            oauth_settings=AsyncOAuthSettings(
                client_id=settings.slack_client_id, client_secret=settings.slack_client_secret,
                scopes=SCOPES, installation_store=installation_store, state_store=state_store),
            # Cached: without it Bolt calls auth.test on every single request.
            authorize=AsyncInstallationStoreAuthorize(
                logger=log, installation_store=installation_store,
                client_id=settings.slack_client_id, client_secret=settings.slack_client_secret,
                cache_enabled=True, client=client),
        )

        async def client_for(tenant: str) -> AsyncWebClient:
            found = await installation_store.async_find_bot(enterprise_id=None, team_id=tenant)
            if found is None or not found.bot_token:
                raise Undeliverable(f"no Slack installation for workspace {tenant}")
            return web_client(settings, found.bot_token, retries=False)
    else:
        sending = web_client(settings, settings.slack_bot_token, retries=False)

        async def client_for(tenant: str) -> AsyncWebClient:
            return sending

    app = AsyncApp(**kwargs)
    directory = Directory(relay)
    register(app, relay, directory)
    return Slack(app, SlackSender(client_for), settings, directory, installation_store,
                 state_store)


class Directory:
    """Learns people's names and time zones from users.info, after the ack, once per person
    per process: standup prompts go out in each member's own morning."""

    def __init__(self, relay: Relay) -> None:
        self.relay = relay
        self.seen: set[tuple[str, str]] = set()
        self.tasks: set[asyncio.Task[None]] = set()

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    def learn(self, msg: InboundMessage | None, client: AsyncWebClient) -> None:
        if msg is None or (msg.where.tenant, msg.user) in self.seen:
            return
        self.seen.add((msg.where.tenant, msg.user))
        task = asyncio.create_task(self._refresh(msg.where.team, msg.user, client))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _refresh(self, team: Team, user: str, client: AsyncWebClient) -> None:
        try:
            info = (await client.users_info(user=user)).get("user") or {}
        except Exception as exc:  # a missing scope or an outage: the team zone is the fallback
            log.info("slack: users.info failed for a member: %s", exc)
            return
        tz, name = info.get("tz"), info.get("real_name") or info.get("name")
        if not tz and not name:
            return
        async with self.relay.uow_factory() as uow:
            await uow.tenants.ensure(team)
            await uow.members.ensure(team, user, name=name, tz=tz)
            await uow.commit()


def register(app: AsyncApp, relay: Relay, directory: Directory) -> None:
    """The listeners. Each one translates, stores and acknowledges; none does slow work."""

    @app.error
    async def on_error(error: Exception, response: BoltResponse | None, logger: Any) -> Any:
        if isinstance(error, translate.BadPayload):
            log.warning("slack: malformed payload: %s", error)
            if response is not None:
                return BoltResponse(status=400, body=f"bad request: {error}")
        else:
            log.exception("slack: listener failed", exc_info=error)
        if response is not None:
            # 5xx makes Slack retry an event later: better than acknowledging it and losing it.
            return BoltResponse(status=503, body="temporarily unavailable")
        return None

    @app.event("message")
    async def on_message(body: dict[str, Any], context: Any, client: AsyncWebClient) -> None:
        msg = translate.message_event(body, context.get("bot_user_id"))
        if msg is not None:
            await relay.receive(msg)
            directory.learn(msg, client)

    @app.event("app_home_opened")
    async def on_home(body: dict[str, Any]) -> None:
        msg = translate.home_opened(body)
        if msg is not None:
            await relay.receive(msg)

    # Every other event (joins, reactions, app_uninstalled, ...) is acknowledged and ignored;
    # without this Bolt answers 404 and Slack keeps retrying them.
    @app.event(re.compile(".*"))
    async def on_other_event() -> None:
        return None

    async def on_command(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        if body.get("command") == "/request" and not (body.get("text") or "").strip():
            await ack()
            channel = body.get("channel_id")
            await client.views_open(trigger_id=body.get("trigger_id"), view=request_modal(
                {"channel": channel, "direct": translate._is_dm(channel or "")}))
            return
        msg = translate.slash_command(body)
        await relay.receive(msg)
        await ack()
        directory.learn(msg, client)

    for name in SLASH_COMMANDS:
        app.command(name)(on_command)

    @app.action(re.compile(r"^cmd:\d+$"))
    async def on_button(ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await relay.receive(translate.button_click(body, str(action.get("value") or "")))
        await ack()

    @app.action(re.compile(r"^reason:\d+$"))
    async def on_reason_button(ack: Any, body: dict[str, Any], action: dict[str, Any],
                               client: AsyncWebClient) -> None:
        await ack()
        channel, thread, ts, direct = translate._container_place(body)
        command = str(action.get("value") or "")
        label = (action.get("text") or {}).get("text") or "Reason"
        await client.views_open(trigger_id=body.get("trigger_id"), view=reason_modal(
            command, label, {"channel": channel, "thread": thread, "message": ts,
                             "direct": direct}))

    @app.view("reason")
    async def on_reason(ack: Any, body: dict[str, Any]) -> None:
        metadata, values = translate.view_submission(body)
        reason = values.get("reason", "").strip()
        if not reason:
            await ack(response_action="errors", errors={"reason": "Please give a reason."})
            return
        command = str(metadata.get("command") or "")
        await relay.receive(translate.submitted(body, metadata, text=f"{command} {reason}"))
        await ack()

    @app.view("request_form")
    async def on_request_form(ack: Any, body: dict[str, Any]) -> None:
        metadata, values = translate.view_submission(body)
        errors = {}
        if not values.get("title", "").strip():
            errors["title"] = "A short title, please."
        if not values.get("problem", "").strip():
            errors["problem"] = "This is the one question a request needs."
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await relay.receive(translate.submitted(body, metadata, text="", command="request",
                                              form=values))
        await ack()

    @app.shortcut("track_blocker")
    async def on_track_blocker(ack: Any, body: dict[str, Any]) -> None:
        await relay.receive(translate.message_shortcut(body, "blocker"))
        await ack()

    @app.shortcut("file_request")
    async def on_file_request(ack: Any, body: dict[str, Any]) -> None:
        await relay.receive(translate.message_shortcut(body, "request"))
        await ack()
