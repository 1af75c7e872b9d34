"""Slack payloads to InboundMessages: pure functions, no I/O.

Each returns None for what the bot must not act on (its own messages, other bots, joins, edits
that changed no text), and raises BadPayload for payloads that are malformed rather than merely
uninteresting. Text people wrote arrives in Slack's markup and leaves readable (markup.py).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple
from urllib.parse import parse_qsl

from adapters.slack import markup, tenancy
from bot.model import InboundMessage, Where

PLATFORM = "slack"

# Message subtypes a person produces by writing; edits and deletions are read apart, and the
# rest (joins, channel topic changes, bot messages) is not something said to the bot.
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
    # (Bolt's unhandled-request log reads `view` whenever the key is there, even as null.)
    if "view" in data and not isinstance(data["view"], dict):
        raise BadPayload("view is not an object")
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
        # An edit or a deletion carries the message itself; Bolt looks for its user there too.
        for key in ("message", "previous_message"):
            inner = event.get(key)
            if inner is not None and not isinstance(inner, dict):
                raise BadPayload(f"event.{key} is not an object")
            _check_ids(inner or {}, f"event.{key}.")
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
    """The tenant: the installation the payload reached (tenancy.py says how it is read)."""
    what = "enterprise id" if tenancy.is_enterprise_install(body) else "team id"
    return _str(tenancy.installation(body), what)


MAX_EVENT_ID = 256  # the inbox's column


def _event_id(*parts: str) -> str:
    """An event id from Slack's ids, within the inbox's column: ids of Slack's own length
    limit can add up to more, and those are kept unique by a digest instead."""
    event_id = ":".join(parts)
    if len(event_id) <= MAX_EVENT_ID:
        return event_id
    return f"{parts[0]}:sha256:{hashlib.sha256(event_id.encode()).hexdigest()}"


def _at(ts: Any) -> datetime:
    try:
        return datetime.fromtimestamp(float(ts), UTC)
    except (TypeError, ValueError, OverflowError):
        return datetime.now(UTC)


def _is_dm(channel: str, channel_type: Any = None) -> bool:
    return channel_type == "im" or channel.startswith("D")


def _is_private(channel: str, channel_type: Any = None, channel_name: Any = None) -> bool:
    """Said where not everyone in the workspace can read it: a private channel or a group DM
    (events' `channel_type` "group" / "mpim"; commands' `channel_name` "privategroup" /
    "mpdm-..."; the older G-prefixed ids of both)."""
    return (channel_type in ("group", "mpim") or channel.startswith("G")
            or channel_name == "privategroup"
            or (isinstance(channel_name, str) and channel_name.startswith("mpdm-")))


def is_person(channel: str) -> bool:
    """A person's id where a channel goes: their 1:1 with the bot, whose id the payload lacked
    (an App Home click carries none). SlackSender opens the conversation to post there."""
    return markup.USER_ID.fullmatch(channel) is not None


def _text(value: Any) -> str:
    """Text a person wrote, as Slack encoded it, made readable (see markup.readable)."""
    if not isinstance(value, str):
        return ""
    return markup.readable(value[:MAX_INBOUND_TEXT])[:MAX_INBOUND_TEXT]


@functools.lru_cache(maxsize=1024)  # one bot user per workspace; built on every message
def _mention_of(bot_user_id: str | None) -> re.Pattern[str] | None:
    return re.compile(rf"<@{re.escape(bot_user_id)}(?:\|[^>]*)?>\s*") if bot_user_id else None


def _by_a_person(message: Mapping[str, Any], bot_user_id: str | None) -> str | None:
    user = message.get("user")
    if message.get("bot_id") or not _is_id(user) or user == bot_user_id:
        return None
    return user


def _said(body: Mapping[str, Any], event: Mapping[str, Any], message: Mapping[str, Any],
          user: str, ts: str, bot_user_id: str | None, kind: str,
          raw_text: Any = "") -> InboundMessage:
    """What `user` said (or changed, or took back) in `message`, posted in `event`'s channel."""
    channel = _str(event.get("channel"), "channel")
    text = raw_text[:MAX_INBOUND_TEXT] if isinstance(raw_text, str) else ""
    mention = _mention_of(bot_user_id)
    addressed = bool(mention and mention.search(text))
    if addressed and mention:
        text = mention.sub("", text, count=1).strip()
    thread = _opt_str(message.get("thread_ts"))
    tenant = team_of(body)
    return InboundMessage(
        where=Where(PLATFORM, tenant, channel, thread if thread != ts else None),
        user=user,
        text=_text(text),
        event_id=_str(body.get("event_id"), "event_id"),
        at=_at(event.get("event_ts") if kind != "message" else event.get("ts")),
        message_id=ts,
        direct=_is_dm(channel, event.get("channel_type")),
        private=_is_private(channel, event.get("channel_type")),
        addressed=addressed,
        kind=kind,
        outsider=tenancy.event_outsider(body, tenant, message),
    )


def message_event(body: Mapping[str, Any], bot_user_id: str | None) -> InboundMessage | None:
    """An Events API `message` event: something a person wrote, edited (kind "edit") or
    deleted (kind "delete"); None for anything else (bots, the bot itself, joins, topics)."""
    event = body.get("event")
    if not isinstance(event, dict) or event.get("type") != "message":
        raise BadPayload("not a message event")
    subtype = event.get("subtype")
    if subtype == "message_changed":
        return _edited(body, event, bot_user_id)
    if subtype == "message_deleted":
        return _deleted(body, event, bot_user_id, _opt_str(event.get("deleted_ts")))
    if subtype not in _HUMAN_SUBTYPES:
        return None
    user = _by_a_person(event, bot_user_id)
    if user is None:
        return None
    ts = _str(event.get("ts"), "message ts")
    return _said(body, event, event, user, ts, bot_user_id, "message", event.get("text"))


def _edited(body: Mapping[str, Any], event: Mapping[str, Any],
            bot_user_id: str | None) -> InboundMessage | None:
    new = _obj(event.get("message"), "message")
    old = _obj(event.get("previous_message"), "previous_message")
    if new.get("subtype") == "tombstone":
        # A thread's first message deleted while it has replies stays as a tombstone
        # ("This message was deleted.", by USLACKBOT): for the bot, a deletion.
        return _deleted(body, event, bot_user_id, _opt_str(new.get("ts")))
    user = _by_a_person(new, bot_user_id)
    # An unfurl, a thread's reply count, language detection: the message again, text unchanged.
    if user is None or new.get("subtype") not in _HUMAN_SUBTYPES \
            or new.get("text") == old.get("text"):
        return None
    ts = _str(new.get("ts"), "edited message ts")
    return _said(body, event, new, user, ts, bot_user_id, "edit", new.get("text"))


def _deleted(body: Mapping[str, Any], event: Mapping[str, Any], bot_user_id: str | None,
             ts: str | None) -> InboundMessage | None:
    old = _obj(event.get("previous_message"), "previous_message")
    user = _by_a_person(old, bot_user_id)  # no author given, no way to tell whose it was
    if user is None or ts is None:
        return None
    return _said(body, event, old, user, ts, bot_user_id, "delete")


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
    return InboundMessage(
        where=Where(PLATFORM, team_of(body), channel),
        user=_str(body.get("user_id"), "user_id"),
        text=_text(body.get("text")),  # the manifest's should_escape: Slack's markup, as in messages
        event_id="command:" + _str(body.get("trigger_id"), "trigger_id"),
        at=datetime.now(UTC),
        command=name,
        direct=_is_dm(channel, body.get("channel_name") == "directmessage" and "im"),
        private=_is_private(channel, channel_name=body.get("channel_name")),
    )


class Place(NamedTuple):
    """Where a click or a shortcut happened, and so where its answer goes."""

    channel: str
    thread: str | None
    message: str | None  # the ts of the message the button sits on
    direct: bool
    home: bool = False  # on the App Home tab: the tab is redrawn afterwards

    def as_metadata(self) -> dict[str, Any]:
        """The place as a modal's private metadata, so its submission answers here
        (`click_place` reads it back)."""
        return {"channel": self.channel, "thread": self.thread, "message": self.message,
                "direct": self.direct, "home": self.home}


def _metadata(view: Mapping[str, Any]) -> Mapping[str, Any]:
    try:
        metadata = json.loads(view.get("private_metadata") or "{}")
    except (TypeError, json.JSONDecodeError, RecursionError):
        return {}
    return metadata if isinstance(metadata, dict) else {}


def click_place(body: Mapping[str, Any]) -> Place:
    """The message a button or shortcut sits on; for a button on the App Home tab or in a modal
    (`container.type` "view": no channel, no message), the person's 1:1 with the bot, or where
    the modal was opened when its metadata says."""
    channel = _obj(body.get("channel"), "channel")
    container = _obj(body.get("container"), "container")
    message = _obj(body.get("message"), "message")
    view = _obj(body.get("view"), "view")
    if container.get("type") == "view" and not channel and not message:
        user = _str(_obj(body.get("user"), "user").get("id"), "user")
        opened = _metadata(view) if view.get("type") == "modal" else {}
        if _is_id(opened.get("channel")):
            return Place(_own(opened["channel"], user), _opt_str(opened.get("thread")),
                         _opt_str(opened.get("message")), bool(opened.get("direct")))
        return Place(user, None, None, True, home=view.get("type") == "home")
    channel_id = _str(channel.get("id") or container.get("channel_id"), "channel")
    ts = _opt_str(message.get("ts")) or _opt_str(container.get("message_ts"))
    thread = _opt_str(message.get("thread_ts")) or _opt_str(container.get("thread_ts"))
    return Place(channel_id, thread if thread != ts else None, ts, _is_dm(channel_id))


def _own(channel: str, user: str) -> str:
    """A 1:1 placeholder (a person's id) in a modal's metadata is only ever the person acting."""
    return user if is_person(channel) else channel


def _clicker(body: Mapping[str, Any]) -> tuple[str, str, bool]:
    """(tenant, user, outsider) of an interaction: the person is the payload's `user`."""
    user = _obj(body.get("user"), "user")
    tenant = team_of(body)
    return tenant, _str(user.get("id"), "user"), tenancy.outsider(body, tenant, user.get("team_id"))


def button_click(body: Mapping[str, Any], command: str) -> InboundMessage:
    """A click on one of the bot's buttons: the button's value is the command it stands for."""
    tenant, user, outsider = _clicker(body)
    place = click_place(body)
    return InboundMessage(
        where=Where(PLATFORM, tenant, place.channel, place.thread),
        user=user,
        text=command[:MAX_INBOUND_TEXT],
        event_id="action:" + _str(body.get("trigger_id"), "trigger_id"),
        at=datetime.now(UTC),
        message_id=place.message,
        direct=place.direct,
        addressed=True,
        kind="click",
        outsider=outsider,
    )


def home_after(msg: InboundMessage) -> InboundMessage:
    """The App Home tab drawn again for the person whose click (or form) `msg` is, once the
    core has handled it: the `home` command, its own event right after the click's."""
    return InboundMessage(
        where=Where(PLATFORM, msg.where.tenant, msg.user), user=msg.user, text="",
        event_id=_event_id("home-after", msg.event_id), at=msg.at, command="home", direct=True,
        outsider=msg.outsider)


def message_shortcut(body: Mapping[str, Any], command: str) -> InboundMessage:
    """"Track as blocker" / "File as request" on someone's message."""
    tenant, user, outsider = _clicker(body)
    place = click_place(body)
    text = _text(_obj(body.get("message"), "message").get("text"))
    if command == "request":
        # A message is rarely a title: take its first line, cut on a word boundary.
        first = text.strip().split("\n", 1)[0]
        text = first if len(first) <= 150 else first[:150].rsplit(" ", 1)[0] + "…"
    return InboundMessage(
        where=Where(PLATFORM, tenant, place.channel, place.thread),
        user=user,
        text=text,
        event_id="shortcut:" + _str(body.get("trigger_id"), "trigger_id"),
        at=datetime.now(UTC),
        command=command,
        message_id=place.message,
        direct=place.direct,
        outsider=outsider,
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
                    values[block_id] = markup.plain(action["value"])
    return metadata, values


def submitted(body: Mapping[str, Any], metadata: Mapping[str, Any], *, text: str,
              command: str | None = None, form: dict[str, str] | None = None) -> InboundMessage:
    """The InboundMessage a modal submission stands for, placed where the modal was opened."""
    channel = metadata.get("channel")
    if not _is_id(channel):
        raise BadPayload("modal without a channel")
    view = _obj(body.get("view"), "view")
    tenant, user, outsider = _clicker(body)
    return InboundMessage(
        where=Where(PLATFORM, tenant, _own(channel, user), _opt_str(metadata.get("thread"))),
        user=user,
        text=text[:MAX_INBOUND_TEXT],
        event_id=_event_id("view", _str(view.get("id"), "view id"), _opt_str(view.get("hash")) or ""),
        at=datetime.now(UTC),
        command=command,
        message_id=_opt_str(metadata.get("message")),
        direct=bool(metadata.get("direct")),
        addressed=True,
        form=form,
        outsider=outsider,
    )
