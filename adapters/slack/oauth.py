"""Installing the bot in many workspaces (OAuth v2), when SLACK_CLIENT_ID is set and
SLACK_BOT_TOKEN is not: slack_sdk's installation and state stores in the bot's own database,
Bolt's OAuth settings, and the /slack/install and /slack/oauth_redirect routes."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.authorization.async_authorize import AsyncInstallationStoreAuthorize
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.sqlalchemy_utils import normalize_datetime_for_db
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.config import Settings
from adapters.slack.sender import web_client
from bot.ports import Undeliverable

log = logging.getLogger(__name__)

# The fewest scopes that work: post and DM (chat:write, im:write), slash commands, read the
# messages of channels the bot was invited to and of its DMs, and people's time zones.
SCOPES = ["chat:write", "commands", "im:write", "channels:history", "groups:history",
          "im:history", "users:read", "files:write"]  # files:write: charts (files_upload_v2)

# Anyone can GET /slack/install, and each visit stores a state row (it lives 10 minutes, until
# the browser comes back with it). Real installs are a handful; past this many live states the
# install page says to come back later instead of the table growing without bound.
STATE_SECONDS = 600
MAX_LIVE_STATES = 500


class TooManyStates(Exception):
    """MAX_LIVE_STATES installs are under way: no new state now."""


class BoundedOAuthStateStore(AsyncSQLAlchemyOAuthStateStore):
    """slack_sdk's state store, whose expired rows are otherwise never deleted: issuing a state
    first deletes the expired ones, and refuses past MAX_LIVE_STATES live ones."""

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        now = normalize_datetime_for_db(datetime.now(UTC))
        table = self.oauth_states
        async with self.engine.begin() as conn:
            await conn.execute(table.delete().where(table.c.expire_at <= now))
            live = (await conn.execute(select(func.count()).select_from(table))).scalar_one()
        if live >= MAX_LIVE_STATES:
            raise TooManyStates(f"{live} installations under way")
        return await super().async_issue(*args, **kwargs)


@dataclass
class Installations:
    """The workspaces the bot is installed in, and how Bolt and the sender reach them."""

    settings: Settings
    installation_store: AsyncSQLAlchemyInstallationStore
    state_store: BoundedOAuthStateStore

    def app_options(self, client: AsyncWebClient) -> dict[str, Any]:
        """AsyncApp's keyword arguments for running from the installation store."""
        settings = self.settings
        return dict(
            installation_store=self.installation_store,
            oauth_settings=AsyncOAuthSettings(
                client_id=settings.slack_client_id, client_secret=settings.slack_client_secret,
                scopes=SCOPES, installation_store=self.installation_store,
                state_store=self.state_store),
            # Cached: without it Bolt calls auth.test on every single request.
            authorize=AsyncInstallationStoreAuthorize(
                logger=log, installation_store=self.installation_store,
                client_id=settings.slack_client_id, client_secret=settings.slack_client_secret,
                cache_enabled=True, client=client),
        )

    async def client_for(self, tenant: str) -> AsyncWebClient:
        """The outbox's client for one workspace (or organisation), with its own bot token."""
        store = self.installation_store
        if tenant.startswith("E"):  # an org-wide install: the tenant is the organisation
            found = await store.async_find_bot(enterprise_id=tenant, team_id=None,
                                               is_enterprise_install=True)
        else:  # a workspace, which slack_sdk files under its organisation when it has one
            found = await store.async_find_bot(enterprise_id=await self._organisation(tenant),
                                               team_id=tenant)
        if found is None or not found.bot_token:
            raise Undeliverable(f"no Slack installation for workspace {tenant}")
        return web_client(self.settings, found.bot_token, retries=False)

    async def _organisation(self, team: str) -> str | None:
        bots = self.installation_store.bots
        query = (select(bots.c.enterprise_id)
                 .where(bots.c.client_id == self.installation_store.client_id,
                        bots.c.team_id == team)
                 .order_by(bots.c.installed_at.desc()).limit(1))
        async with self.installation_store.engine.connect() as conn:
            return (await conn.execute(query)).scalar()

    async def create_tables(self) -> None:
        # slack_sdk's own tables, created in the bot's database (idempotent).
        await self.installation_store.create_tables()
        await self.state_store.create_tables()


def installations(settings: Settings, engine: AsyncEngine) -> Installations | None:
    """The stores, when the bot is installed through OAuth rather than with one bot token."""
    if not settings.slack_client_id or settings.slack_bot_token:
        return None
    return Installations(
        settings,
        AsyncSQLAlchemyInstallationStore(client_id=settings.slack_client_id, engine=engine),
        BoundedOAuthStateStore(expiration_seconds=STATE_SECONDS, engine=engine))


def mount(web_app: web.Application, flow: AsyncOAuthFlow) -> None:
    """GET /slack/install and GET /slack/oauth_redirect."""

    async def install(request: web.Request) -> web.Response:
        try:
            return await to_aiohttp_response(await flow.handle_installation(
                await to_bolt_request(request)))
        except TooManyStates as exc:
            log.warning("slack: install page refused: %s", exc)
            return web.Response(
                status=503, headers={"Retry-After": str(STATE_SECONDS)},
                text="Too many installations of this Slack app are under way right now. "
                     "Please try again in a few minutes.")

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
