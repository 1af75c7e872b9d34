"""Slack payloads to InboundMessages: pure functions, no I/O.

Each returns None for what the bot must not act on (its own messages, other bots, edits, joins),
and raises BadPayload for payloads that are malformed rather than merely uninteresting.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from bot.model import InboundMessage, Where

PLATFORM = "slack"

# Message subtypes a person produces by writing; everything else (edits, deletions, joins,
# channel topic changes, bot messages) is not something said to the bot.
_HUMAN_SUBTYPES = (None, "thread_broadcast", "file_share")
MAX_INBOUND_TEXT = 45_000  # Slack's own limit is 40,000; anything longer is not from Slack


class BadPayload(ValueError):
    """The payload is not shaped like anything Slack sends."""


def _str(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise BadPayload(f"missing or invalid {what}")
    return value


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def parse_body(raw: str, content_type: str) -> dict[str, Any]:
    """A request body as Slack sends it: JSON (events), a form (commands), or a form whose
    `payload` field is JSON (interactivity). Anything else is a BadPayload."""
    try:
        if content_type == "application/json" or raw.lstrip().startswith("{"):
            data = json.loads(raw)
        else:
            form = dict(parse_qsl(raw, keep_blank_values=True))
            data = json.loads(form["payload"]) if "payload" in form else form
    except (json.JSONDecodeError, ValueError) as exc:
        raise BadPayload("body is not valid JSON or form data") from exc
    if not isinstance(data, dict) or not data:
        raise BadPayload("empty or non-object body")
    if not any(key in data for key in ("type", "command", "ssl_check")):
        raise BadPayload("not a Slack event, command or interaction")
    if "command" in data and not isinstance(data.get("team_id"), str):
        raise BadPayload("command without team_id")
    return data


def team_of(body: Mapping[str, Any]) -> str:
    """The tenant: the workspace id, wherever this payload kind keeps it."""
    team = body.get("team")
    if isinstance(team, dict):
        team = team.get("id")
    team = team or body.get("team_id")
    if not team and isinstance(body.get("user"), dict):
        team = body["user"].get("team_id")
    if not team and isinstance(body.get("view"), dict):
        team = body["view"].get("team_id")
    return _str(team, "team id")


def _at(ts: Any) -> datetime:
    try:
        return datetime.fromtimestamp(float(ts), UTC)
    except (TypeError, ValueError, OverflowError):
        return datetime.now(UTC)


def _is_dm(channel: str, channel_type: Any = None) -> bool:
    return channel_type == "im" or channel.startswith("D")


def _mention_of(bot_user_id: str | None) -> re.Pattern[str] | None:
    return re.compile(rf"<@{re.escape(bot_user_id)}(?:\|[^>]*)?>\s*") if bot_user_id else None


def message_event(body: Mapping[str, Any], bot_user_id: str | None) -> InboundMessage | None:
    """An Events API `message` event; None for anything not written by a person."""
    event = body.get("event")
    if not isinstance(event, dict) or event.get("type") != "message":
        raise BadPayload("not a message event")
    if event.get("subtype") not in _HUMAN_SUBTYPES or event.get("bot_id"):
        return None
    user = event.get("user")
    if not isinstance(user, str) or not user or user == bot_user_id:
        return None
    channel = _str(event.get("channel"), "channel")
    ts = _str(event.get("ts"), "message ts")
    text = event.get("text")
    if not isinstance(text, str):
        text = ""
    text = text[:MAX_INBOUND_TEXT]
    thread = _opt_str(event.get("thread_ts"))
    direct = _is_dm(channel, event.get("channel_type"))
    mention = _mention_of(bot_user_id)
    addressed = bool(mention and mention.search(text))
    if addressed and mention:
        text = mention.sub("", text, count=1).strip()
    return InboundMessage(
        where=Where(PLATFORM, team_of(body), channel, thread if thread != ts else None),
        user=user,
        text=text,
        event_id=_str(body.get("event_id"), "event_id"),
        at=_at(event.get("ts")),
        message_id=ts,
        direct=direct,
        addressed=addressed,
    )


def home_opened(body: Mapping[str, Any]) -> InboundMessage | None:
    event = body.get("event") or {}
    if event.get("tab") not in (None, "home"):
        return None  # the Messages tab opened: nothing to draw
    user = _str(event.get("user"), "user")
    return InboundMessage(
        where=Where(PLATFORM, team_of(body), _opt_str(event.get("channel")) or user),
        user=user, text="", command="home", event_id=_str(body.get("event_id"), "event_id"),
        at=datetime.now(UTC), direct=True)


def slash_command(body: Mapping[str, Any]) -> InboundMessage:
    """A slash command. Slack does not retry commands; the trigger id is unique per use."""
    name = _str(body.get("command"), "command").lstrip("/")
    channel = _str(body.get("channel_id"), "channel_id")
    text = body.get("text") if isinstance(body.get("text"), str) else ""
    return InboundMessage(
        where=Where(PLATFORM, team_of(body), channel),
        user=_str(body.get("user_id"), "user_id"),
        text=text[:MAX_INBOUND_TEXT],
        event_id="command:" + _str(body.get("trigger_id"), "trigger_id"),
        at=datetime.now(UTC),
        command=name,
        direct=_is_dm(channel, body.get("channel_name") == "directmessage" and "im"),
    )


def _container_place(body: Mapping[str, Any]) -> tuple[str, str | None, str | None, bool]:
    """(channel, thread, message ts, direct) of the message a button or shortcut sits on."""
    channel = body.get("channel") or {}
    container = body.get("container") or {}
    message = body.get("message") or {}
    channel_id = _str(channel.get("id") or container.get("channel_id"), "channel")
    ts = _opt_str(message.get("ts")) or _opt_str(container.get("message_ts"))
    thread = _opt_str(message.get("thread_ts")) or _opt_str(container.get("thread_ts"))
    return channel_id, thread if thread != ts else None, ts, _is_dm(channel_id)


def button_click(body: Mapping[str, Any], command: str) -> InboundMessage:
    """A click on one of the bot's buttons: the button's value is the command it stands for."""
    user = body.get("user") or {}
    channel, thread, ts, direct = _container_place(body)
    return InboundMessage(
        where=Where(PLATFORM, team_of(body), channel, thread),
        user=_str(user.get("id"), "user"),
        text=command[:MAX_INBOUND_TEXT],
        event_id="action:" + _str(body.get("trigger_id"), "trigger_id"),
        at=datetime.now(UTC),
        message_id=ts,
        direct=direct,
        addressed=True,
    )


def message_shortcut(body: Mapping[str, Any], command: str) -> InboundMessage:
    """"Track as blocker" / "File as request" on someone's message."""
    channel, thread, ts, direct = _container_place(body)
    message = body.get("message") or {}
    text = message.get("text") if isinstance(message.get("text"), str) else ""
    if command == "request":
        # A message is rarely a title: take its first line, cut on a word boundary.
        first = text.strip().split("\n", 1)[0]
        text = first if len(first) <= 150 else first[:150].rsplit(" ", 1)[0] + "…"
    return InboundMessage(
        where=Where(PLATFORM, team_of(body), channel, thread),
        user=_str((body.get("user") or {}).get("id"), "user"),
        text=text[:MAX_INBOUND_TEXT],
        event_id="shortcut:" + _str(body.get("trigger_id"), "trigger_id"),
        at=datetime.now(UTC),
        command=command,
        message_id=ts,
        direct=direct,
    )


def view_submission(body: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """(private metadata, {block_id: value}) of a submitted modal."""
    view = body.get("view")
    if not isinstance(view, dict):
        raise BadPayload("missing view")
    try:
        metadata = json.loads(view.get("private_metadata") or "{}")
    except json.JSONDecodeError as exc:
        raise BadPayload("unreadable private_metadata") from exc
    if not isinstance(metadata, dict):
        raise BadPayload("unreadable private_metadata")
    values: dict[str, str] = {}
    state = (view.get("state") or {}).get("values") or {}
    for block_id, actions in state.items():
        if isinstance(actions, dict):
            for action in actions.values():
                if isinstance(action, dict) and isinstance(action.get("value"), str):
                    values[block_id] = action["value"]
    return metadata, values


def submitted(body: Mapping[str, Any], metadata: Mapping[str, Any], *, text: str,
              command: str | None = None, form: dict[str, str] | None = None) -> InboundMessage:
    """The InboundMessage a modal submission stands for, placed where the modal was opened."""
    channel = metadata.get("channel")
    if not isinstance(channel, str) or not channel:
        raise BadPayload("modal without a channel")
    view = body.get("view") or {}
    return InboundMessage(
        where=Where(PLATFORM, team_of(body), channel, _opt_str(metadata.get("thread"))),
        user=_str((body.get("user") or {}).get("id"), "user"),
        text=text[:MAX_INBOUND_TEXT],
        event_id="view:" + _str(view.get("id"), "view id") + ":" + str(view.get("hash", "")),
        at=datetime.now(UTC),
        command=command,
        message_id=_opt_str(metadata.get("message")),
        direct=bool(metadata.get("direct")),
        addressed=True,
        form=form,
    )
