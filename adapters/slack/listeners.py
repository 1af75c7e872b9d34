"""The Bolt listeners: what each kind of Slack request becomes. A modal is opened here, at once,
rather than through the outbox: its `trigger_id` lives 3 seconds.

With `process_before_response` Bolt answers Slack only when the listener returns, so `ack()`
sends nothing early: whatever a listener awaits is on the ack's path and must be bounded.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import translate
from adapters.slack.commands import SLASH_COMMANDS
from adapters.slack.directory import Directory
from adapters.slack.render import form_modal, reason_modal, request_modal
from adapters.slack.sender import without_retries
from bot.model import InboundMessage
from bot.relay import Relay
from bot.text import parse_number
from bot.usecases import edits

log = logging.getLogger(__name__)

# Opening a modal is the one Web API call made before an ack: bounded well under Slack's 3 s
# (and the trigger id's), and made without slack_sdk's retries, which would sleep out a 429.
BEFORE_ACK_SECONDS = 2.0
# A form prefilled from the database reads it first, within what is left of the 3 s.
READ_SECONDS = 0.5


async def open_modal(client: AsyncWebClient, trigger_id: Any, view: Any) -> bool:
    """Open a modal now, or say it could not be done in time (the caller answers otherwise)."""
    try:
        await asyncio.wait_for(without_retries(client).views_open(trigger_id=trigger_id, view=view),
                               BEFORE_ACK_SECONDS)
        return True
    except Exception as exc:  # slow, rate limited, refused, unreachable: all fall back the same
        log.warning("slack: could not open a modal in time (%s: %s)", type(exc).__name__, exc)
        return False


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
        msg = translate.slash_command(body)
        if msg.command == "request" and not msg.text.strip() and await open_modal(
                client, body.get("trigger_id"),
                request_modal({"channel": msg.where.channel, "direct": msg.direct})):
            await ack()
            return
        # (A form that could not be opened: the core answers a bare `request` with its usage.)
        await relay.receive(msg)
        await ack()
        directory.learn(msg, client)

    for name in SLASH_COMMANDS:
        app.command(name)(on_command)

    async def receive_click(msg: InboundMessage, home: bool) -> None:
        # A click on the App Home tab is answered 1:1; the tab itself then shows the new state.
        if await relay.receive(msg) and home:
            await relay.receive(translate.home_after(msg))

    @app.action(re.compile(r"^cmd:\d+$"))
    async def on_button(ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        msg = translate.button_click(body, str(action.get("value") or ""))
        await receive_click(msg, translate.click_place(body).home)
        await ack()

    @app.action(re.compile(r"^reason:\d+$"))
    async def on_reason_button(ack: Any, body: dict[str, Any], action: dict[str, Any],
                               client: AsyncWebClient) -> None:
        command = str(action.get("value") or "")
        msg = translate.button_click(body, command)  # checks the payload before anything else
        place = translate.click_place(body)
        label = (action.get("text") or {}).get("text") or "Reason"
        metadata = place.as_metadata()
        if not await open_modal(client, body.get("trigger_id"),
                                reason_modal(command, label, metadata)):
            # No form: the command without its reason, which the core answers with its usage.
            await receive_click(msg, place.home)
        await ack()

    async def edit_form(msg: InboundMessage) -> tuple[tuple[str, str, str], ...] | None:
        """The Edit form's fields as they are now, read within the ack's budget; None: the click
        goes to the core instead (not allowed, not editable, or the database was slow)."""
        words = msg.text.split()
        number = parse_number(words[1]) if len(words) == 2 and words[0] == "edit" else None
        if number is None:
            return None
        try:
            return await asyncio.wait_for(relay.perform(
                lambda uow: edits.form_for(uow, msg.where.team, msg.user, number)), READ_SECONDS)
        except Exception as exc:  # slow or unreachable: the core answers the click instead
            log.warning("slack: could not read the form in time (%s: %s)", type(exc).__name__, exc)
            return None

    @app.action(re.compile(r"^form:\d+$"))
    async def on_form_button(ack: Any, body: dict[str, Any], action: dict[str, Any],
                             client: AsyncWebClient) -> None:
        command = str(action.get("value") or "")
        msg = translate.button_click(body, command)  # checks the payload before anything else
        place = translate.click_place(body)
        metadata = place.as_metadata()
        fields = await edit_form(msg)
        title = (action.get("text") or {}).get("text") or "Edit"
        if fields is None or not await open_modal(client, body.get("trigger_id"),
                                                  form_modal(command, title, fields, metadata)):
            # No form: the bare command, which the core answers (the current answers and the
            # usage, or why not).
            await receive_click(msg, place.home)
        await ack()

    @app.view("form")
    async def on_form(ack: Any, body: dict[str, Any]) -> None:
        metadata, values = translate.view_submission(body)
        command = str(metadata.get("command") or "")
        await receive_click(translate.submitted(body, metadata, text=command, form=values),
                            metadata.get("home") is True)
        await ack()

    @app.view("reason")
    async def on_reason(ack: Any, body: dict[str, Any]) -> None:
        metadata, values = translate.view_submission(body)
        reason = values.get("reason", "").strip()
        if not reason:
            await ack(response_action="errors", errors={"reason": "Please give a reason."})
            return
        command = str(metadata.get("command") or "")
        await receive_click(translate.submitted(body, metadata, text=f"{command} {reason}"),
                            metadata.get("home") is True)
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
