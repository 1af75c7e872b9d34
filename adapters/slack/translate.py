"""Slack payloads to InboundMessages: pure functions, no I/O.

Each returns None for what the bot must not act on (its own messages, other bots, edits, joins),
and raises BadPayload for payloads that are malformed rather than merely uninteresting.
"""

from __future__ import annotations

import functools
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


# Slack's ids (teams, users, channels, timestamps, triggers) are a few dozen letters, digits and
# dots, and they go into String(128) and String(256) columns. A longer one, or one holding a
# control character (PostgreSQL refuses NUL), is not from Slack: it is refused here, a 400,
# rather than failing the insert, a 5xx that Slack would retry.
MAX_ID = 128
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _is_id(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_ID and not _CONTROL.search(value)


def _str(value: Any, what: str) -> str:
    if not _is_id(value):
        raise BadPayload(f"missing or invalid {what}")
    return value


def _opt_str(value: Any) -> str | None:
    return value if _is_id(value) else None


def _obj(value: Any, what: str) -> Mapping[str, Any]:
    """An optional object of the payload: {} when absent, a BadPayload when it is not one."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadPayload(f"{what} is not an object")
    return value


def parse_body(raw: str, content_type: str) -> dict[str, Any]:
    """A request body as Slack sends it: JSON (events), a form (commands), or a form whose
    `payload` field is JSON (interactivity). Anything else is a BadPayload."""
    try:
        if content_type == "application/json" or raw.lstrip().startswith("{"):
            data = json.loads(raw)
        else:
            form = dict(parse_qsl(raw, keep_blank_values=True))
            data = json.loads(form["payload"]) if "payload" in form else form
    # RecursionError: JSON nested a hundred thousand levels deep is not from Slack either.
    except (json.JSONDecodeError, ValueError, RecursionError) as exc:
        raise BadPayload("body is not valid JSON or form data") from exc
    if not isinstance(data, dict) or not data:
        raise BadPayload("empty or non-object body")
    if not any(key in data for key in ("type", "command", "ssl_check")):
        raise BadPayload("not a Slack event, command or interaction")
    if "command" in data and not isinstance(data.get("team_id"), str):
        raise BadPayload("command without team_id")
    _check_envelope(data)
    return data


# slack-bolt routes a request by indexing and `in`-testing these fields before any listener runs
# (its extract_* helpers, matchers and unhandled-request log): a shape Slack never sends makes
# it raise, which would be a 5xx. They are checked here so such a body is a plain 400.
_IDS = ("user", "channel", "team", "enterprise")  # a string or an object
_OBJECTS = ("view", "message", "previous_message", "container", "item", "assistant_thread",
            "function_data", "workflow_step")


def _check_ids(data: Mapping[str, Any], where: str) -> None:
    for key in _IDS:
        value = data.get(key)
        if value is not None and not isinstance(value, (str, dict)):
            raise BadPayload(f"{where}{key} is neither a string nor an object")


def _check_envelope(data: Mapping[str, Any]) -> None:
    kind = data.get("type")
    for key in ("type", "command", "callback_id", "action_id"):
        if key in data and not isinstance(data[key], str):
            raise BadPayload(f"{key} is not a string")
    _check_ids(data, "")
    for key in _OBJECTS:
        if data.get(key) is not None and not isinstance(data[key], dict):
            raise BadPayload(f"{key} is not an object")
    view = data.get("view") or {}
    if any(k in view and not isinstance(view[k], str) for k in ("type", "callback_id")):
        raise BadPayload("view type or callback_id is not a string")
    if kind in ("view_submission", "view_closed") and not (
            isinstance(view.get("type"), str) and isinstance(view.get("callback_id"), str)):
        raise BadPayload(f"{kind} without a view type and callback_id")
    if kind == "workflow_step_edit" and not isinstance(data.get("workflow_step"), dict):
        raise BadPayload("workflow_step_edit without a workflow_step")
    if "event" in data:
        event = data["event"]
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            raise BadPayload("event is not an object with a type")
        _check_ids(event, "event.")
    for key in ("authorizations", "response_urls"):
        items = data.get(key)
        if items is not None and not (isinstance(items, list)
                                      and all(isinstance(i, dict) for i in items)):
            raise BadPayload(f"{key} is not a list of objects")
        for item in items or ():
            _check_ids(item, f"{key}[].")
    if kind in ("block_actions", "interactive_message"):
        actions = data.get("actions")
        if not isinstance(actions, list) or not actions or not all(
                isinstance(a, dict) and (kind != "block_actions" or isinstance(a.get("action_id"), str))
                for a in actions):
            raise BadPayload(f"{kind} without a list of actions")


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


@functools.lru_cache(maxsize=1024)  # one bot user per workspace; built on every message
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
    if not _is_id(user) or user == bot_user_id:
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
    event = _obj(body.get("event"), "event")
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
    channel = _obj(body.get("channel"), "channel")
    container = _obj(body.get("container"), "container")
    message = _obj(body.get("message"), "message")
    channel_id = _str(channel.get("id") or container.get("channel_id"), "channel")
    ts = _opt_str(message.get("ts")) or _opt_str(container.get("message_ts"))
    thread = _opt_str(message.get("thread_ts")) or _opt_str(container.get("thread_ts"))
    return channel_id, thread if thread != ts else None, ts, _is_dm(channel_id)


def button_click(body: Mapping[str, Any], command: str) -> InboundMessage:
    """A click on one of the bot's buttons: the button's value is the command it stands for."""
    user = _obj(body.get("user"), "user")
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
        kind="click",
    )


def message_shortcut(body: Mapping[str, Any], command: str) -> InboundMessage:
    """"Track as blocker" / "File as request" on someone's message."""
    channel, thread, ts, direct = _container_place(body)
    message = _obj(body.get("message"), "message")
    text = message.get("text") if isinstance(message.get("text"), str) else ""
    if command == "request":
        # A message is rarely a title: take its first line, cut on a word boundary.
        first = text.strip().split("\n", 1)[0]
        text = first if len(first) <= 150 else first[:150].rsplit(" ", 1)[0] + "…"
    return InboundMessage(
        where=Where(PLATFORM, team_of(body), channel, thread),
        user=_str(_obj(body.get("user"), "user").get("id"), "user"),
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
    raw = view.get("private_metadata") or "{}"
    try:
        metadata = json.loads(raw) if isinstance(raw, str) else None
    except (json.JSONDecodeError, RecursionError) as exc:
        raise BadPayload("unreadable private_metadata") from exc
    if not isinstance(metadata, dict):
        raise BadPayload("unreadable private_metadata")
    values: dict[str, str] = {}
    state = _obj(_obj(view.get("state"), "view state").get("values"), "view state values")
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
    if not _is_id(channel):
        raise BadPayload("modal without a channel")
    view = _obj(body.get("view"), "view")
    return InboundMessage(
        where=Where(PLATFORM, team_of(body), channel, _opt_str(metadata.get("thread"))),
        user=_str(_obj(body.get("user"), "user").get("id"), "user"),
        text=text[:MAX_INBOUND_TEXT],
        event_id="view:" + _str(view.get("id"), "view id") + ":" + (_opt_str(view.get("hash")) or ""),
        at=datetime.now(UTC),
        command=command,
        message_id=_opt_str(metadata.get("message")),
        direct=bool(metadata.get("direct")),
        addressed=True,
        form=form,
    )
