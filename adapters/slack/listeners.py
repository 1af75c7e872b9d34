"""The Bolt listeners: what each kind of Slack request becomes. A modal is opened here, at once,
rather than through the outbox: its `trigger_id` lives 3 seconds."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import translate
from adapters.slack.commands import SLASH_COMMANDS
from adapters.slack.directory import Directory
from adapters.slack.render import reason_modal, request_modal
from bot.relay import Relay

log = logging.getLogger(__name__)


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
