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
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_internals import build_async_context
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.config import ConfigError, Settings
from adapters.slack import oauth, translate
from adapters.slack.directory import Directory
from adapters.slack.listeners import register
from adapters.slack.oauth import Installations
from adapters.slack.sender import SlackSender, web_client
from bot.relay import Relay

log = logging.getLogger(__name__)

_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # seconds since 1970, ASCII digits only


@dataclass
class SlackPlatform:
    app: AsyncApp
    sender: SlackSender
    settings: Settings
    directory: Directory
    installations: Installations | None = None
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
        if self.app.oauth_flow is not None:
            oauth.mount(web_app, self.app.oauth_flow)

    async def start(self) -> None:
        if self.installations is not None:
            await self.installations.create_tables()
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


def _same_client(client: AsyncWebClient) -> Callable[[str], Awaitable[AsyncWebClient]]:
    """One bot token: every workspace (there is one) is reached with the same client."""

    async def client_for(tenant: str) -> AsyncWebClient:
        return client

    return client_for


def build_slack(settings: Settings, relay: Relay, engine: AsyncEngine) -> SlackPlatform:
    check(settings)
    client = web_client(settings, settings.slack_bot_token)
    kwargs: dict[str, Any] = dict(
        # Socket Mode needs no signing secret; the HTTP route is then not mounted at all.
        signing_secret=settings.slack_signing_secret or "unused-in-socket-mode",
        client=client,
        process_before_response=True,
        # The HTTP route checks every signature before Bolt sees the request (more strictly
        # than Bolt, see SlackPlatform.mount); Socket Mode has none to check.
        request_verification_enabled=False,
    )
    installs = oauth.installations(settings, engine)
    if installs is not None:
        kwargs.update(installs.app_options(client))
        client_for = installs.client_for
    else:
        client_for = _same_client(web_client(settings, settings.slack_bot_token, retries=False))
    app = AsyncApp(**kwargs)
    directory = Directory(relay)
    register(app, relay, directory)
    return SlackPlatform(app, SlackSender(client_for), settings, directory, installs)
