"""Bot Framework activities (the JSON Teams posts to /api/messages) to InboundMessages: pure
functions on the raw JSON, no I/O and no botbuilder types.

The raw JSON, not botbuilder's Activity model, because the model loses what we need: it drops the
mention entities' fields and conversation.tenantId when it serialises.

Where a Teams conversation maps to in the core's Where:
- a personal chat is `direct`; a group chat or channel is not.
- a channel reply chain (`19:...;messageid=ROOT`) is channel `19:...` and thread ROOT, so the bot
  answers in the chain and a request's discovery continues there.
- a group chat has no threads, so each person gets a thread of their own (`chat:USER`): the
  discovery a person started continues with their next messages, as in a 1:1 chat.
- a card click carries the card it came from (`card:...`, see CardThread): the answer replaces
  the card instead of piling up new messages.
- a group chat, and a private or shared channel, is `private`: not everyone in the team reads it.

Tenant ids are GUIDs, which Teams writes in lower case but which are the same in any case: they
are lower-cased here, once, so storage keys, TEAMS_ALLOWED_TENANTS and conversation references
agree.
"""

from __future__ import annotations

import hashlib
import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from adapters.teams.cards import FORM_INPUT, FORM_SUBMIT
from bot.model import DISCOVERY_QUESTIONS, InboundMessage, Where
from bot.text import clean

PLATFORM = "teams"
# Teams' own message limit is about 28 KB; anything longer is not a Teams message, and the core
# tells the sender politely about anything over its own, much smaller, limit.
MAX_INBOUND_TEXT = 100_000
MAX_ID = 256  # conversation ids go into String(256) columns
MAX_ACTIVITY_ID = 200
MAX_COMMAND = 300
MAX_FORM_FIELD = 4000
GROUP_THREAD = "chat:"
CARD_THREAD = "card:"
FORM_FIELDS = ("title",) + tuple(q.field for q in DISCOVERY_QUESTIONS)
_REASON_INPUT = re.compile(r"^reason_\d{1,2}$")
_FORM_INPUT = re.compile(rf"^{FORM_INPUT}([a-z]{{1,32}})$")


class BadActivity(ValueError):
    """The activity is malformed, or a card submit is missing or has forged fields. The message
    is safe to show to the person who clicked."""


# Ids and names go into database columns: one holding a control character is not from Teams
# (and PostgreSQL refuses NUL, which would turn the insert into a 5xx).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def has_control(text: str) -> bool:
    return bool(_CONTROL.search(text))


def _str(value: Any, what: str, limit: int = MAX_ID) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit \
            or _CONTROL.search(value):
        raise BadActivity(f"missing or invalid {what}")
    return value


def _opt_str(value: Any, limit: int = MAX_ID) -> str | None:
    return value if isinstance(value, str) and value and len(value) <= limit \
        and not _CONTROL.search(value) else None


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    # Not `value or ()`: a number there would be iterated, and raise TypeError (a 5xx).
    return value if isinstance(value, list) else []


def short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def tenant_of(activity: Mapping[str, Any]) -> str | None:
    """channelData.tenant.id, where Teams always puts it; conversation.tenantId as a fallback.
    Lower-cased: `72F988BF-...` is the same tenant as `72f988bf-...`."""
    tenant = as_dict(as_dict(activity.get("channelData")).get("tenant")).get("id")
    tenant = tenant or as_dict(activity.get("conversation")).get("tenantId")
    # Lowered before it is measured: a few characters grow when lowered (İ is two).
    return _opt_str(tenant.lower() if isinstance(tenant, str) else tenant, 128)


def split_conversation(conversation_id: str) -> tuple[str, str | None]:
    """`19:abc@thread.tacv2;messageid=123` -> (`19:abc@thread.tacv2`, `123`)."""
    base, _, root = conversation_id.partition(";messageid=")
    return base, root or None


def conversation_kind(activity: Mapping[str, Any]) -> str:
    kind = as_dict(activity.get("conversation")).get("conversationType")
    return kind if kind in ("personal", "groupChat", "channel") else "personal"


_CLOSED_CHANNELS = ("private", "shared", "privatechannel", "sharedchannel")


def private_channel(activity: Mapping[str, Any]) -> bool:
    """A private or shared channel: channelData.channel.type (the Bot Framework's ChannelInfo:
    standard, private, shared), its Graph name membershipType, or the team's type
    (TeamDetails: standard, privateChannel, sharedChannel)."""
    data = as_dict(activity.get("channelData"))
    channel, team = as_dict(data.get("channel")), as_dict(data.get("team"))
    kinds = (channel.get("type"), channel.get("membershipType"), team.get("type"))
    return any(isinstance(k, str) and k.lower() in _CLOSED_CHANNELS for k in kinds)


# ---- quoted replies ------------------------------------------------------------------------------

# A reply that quotes another message starts with a placeholder for the quote, sometimes with the
# quoted message's text inside it; a `quotedReply` entity names the quoted message. What was
# quoted was said before and is not what this person says now, so it goes, placeholder and all.
_QUOTE_OPEN = re.compile(r"<quoted\b[^<>]{0,500}>|&lt;quoted\b.{0,500}?&gt;", re.IGNORECASE)
_QUOTE_CLOSE = re.compile(r"</quoted\s*>|&lt;/quoted\s*&gt;", re.IGNORECASE)
_SELF_CLOSING = re.compile(r"/\s*(?:>|&gt;)$")


def strip_quotes(text: str) -> str:
    """`text` without quote placeholders and the quoted text inside them. Linear in the text
    however it is crafted: once no closing tag is left, later openings are dropped alone."""
    if "quoted" not in text.lower():
        return text
    kept: list[str] = []
    pos, closers = 0, True
    while (opening := _QUOTE_OPEN.search(text, pos)) is not None:
        kept.append(text[pos:opening.start()])
        pos = opening.end()
        if closers and not _SELF_CLOSING.search(opening.group(0)):
            closing = _QUOTE_CLOSE.search(text, pos)
            if closing is None:
                closers = False  # none further on either: every later opening stands alone
            else:
                pos = closing.end()
        while pos < len(text) and text[pos] in " \t":
            pos += 1
    kept.append(text[pos:])
    return "".join(kept).strip()


def user_id(account: Mapping[str, Any]) -> str:
    """The core's id for a person: the Entra object id (the same in every chat and for every bot),
    else the Teams account id."""
    return _opt_str(account.get("aadObjectId"), 128) or _str(account.get("id"), "user id", 128)


def event_id(conversation: str, activity_id: str) -> str:
    # Activity ids are only unique within a conversation (channel posts use timestamps).
    return f"{activity_id}@{short_hash(conversation)}"


def _timezone(value: Any) -> str | None:
    if not isinstance(value, str) or not value or len(value) > 64:
        return None
    try:
        zoneinfo.ZoneInfo(value)
    except (ValueError, zoneinfo.ZoneInfoNotFoundError):
        return None
    return value


def _mentions(activity: Mapping[str, Any]) -> list[tuple[str, str, str | None]]:
    """(text, account id, name) of each mention entity."""
    found = []
    for entity in as_list(activity.get("entities")):
        if not isinstance(entity, dict) or entity.get("type") != "mention":
            continue
        mentioned, text = as_dict(entity.get("mentioned")), entity.get("text")
        account = _opt_str(mentioned.get("id"))
        if account and isinstance(text, str) and text:
            found.append((text, account, _opt_str(mentioned.get("name"), 200)))
    return found


def mentioned_people(activity: Mapping[str, Any]) -> list[tuple[str, str | None]]:
    """(account id, name) of the people @mentioned, the bot excepted, for the caller to resolve."""
    bot = as_dict(activity.get("recipient")).get("id")
    seen: dict[str, str | None] = {}
    for _, account, name in _mentions(activity):
        if account != bot:
            seen.setdefault(account, name)
    return list(seen.items())[:10]


def _display_name(value: Any) -> str | None:
    """The sender's name as the core stores and shows it: without control characters or
    direction overrides, which would make the bot's messages about them read differently."""
    return _opt_str(clean(value), 200) if isinstance(value, str) else None


@dataclass(frozen=True)
class Source:
    """The common parts of every activity a person sends."""

    tenant: str
    channel: str  # the conversation id without the reply-chain suffix
    root: str | None  # the reply chain's root message, in channels
    kind: str  # personal | groupChat | channel
    user: str
    user_name: str | None
    activity_id: str
    private: bool = False  # a group chat, or a private or shared channel

    @property
    def direct(self) -> bool:
        return self.kind == "personal"


def source(activity: Mapping[str, Any], tenant: str) -> Source:
    sender = activity.get("from")
    if not isinstance(sender, dict):
        raise BadActivity("missing from")
    conversation = as_dict(activity.get("conversation"))
    channel, root = split_conversation(_str(conversation.get("id"), "conversation id"))
    kind = conversation_kind(activity)
    return Source(
        tenant=tenant, channel=channel, root=root, kind=kind,
        user=user_id(sender), user_name=_display_name(sender.get("name")),
        activity_id=_str(activity.get("id"), "activity id", MAX_ACTIVITY_ID),
        private=kind == "groupChat" or (kind == "channel" and private_channel(activity)),
    )


def _home_thread(src: Source) -> str | None:
    """Where an answer to this person belongs, before any card comes into it."""
    if src.kind == "channel":
        return src.root
    if src.kind == "groupChat":
        return GROUP_THREAD + src.user
    return None


def _received(src: Source, thread: str | None, text: str, **fields: Any) -> InboundMessage:
    """The InboundMessage of what `src` sent, timed at receipt, not at the activity's timestamp:
    the token does not sign the body."""
    fields.setdefault("event_id", event_id(src.channel, src.activity_id))
    return InboundMessage(
        where=Where(PLATFORM, src.tenant, src.channel, thread), user=src.user, text=text,
        at=datetime.now(UTC), message_id=src.activity_id, direct=src.direct,
        private=src.private, user_name=src.user_name, **fields)


def from_the_bot(activity: Mapping[str, Any]) -> bool:
    sender, bot = as_dict(activity.get("from")), as_dict(activity.get("recipient"))
    return bool(sender.get("id")) and sender.get("id") == bot.get("id")


def _typed(activity: Mapping[str, Any], people: Mapping[str, str] | None) -> tuple[str, bool]:
    """(the text a person typed, whether it @mentions the bot): quotes removed, other people's
    mentions as `<@USER>`, the bot's own mention removed."""
    text = activity.get("text") if isinstance(activity.get("text"), str) else ""
    # Quotes first: a mention inside a quoted message is not one this person made.
    text = strip_quotes(text[:MAX_INBOUND_TEXT])
    bot = as_dict(activity.get("recipient")).get("id")
    addressed = False
    for mention_text, account, _ in _mentions(activity):
        if account == bot:
            addressed = addressed or mention_text in text
            text = text.replace(mention_text, " ")
        else:
            text = text.replace(mention_text, f"<@{(people or {}).get(account, account)}>")
    return text.replace("&nbsp;", " ").replace("\u00a0", " ").strip(), addressed


def _message_thread(src: Source) -> str | None:
    thread = _home_thread(src)
    if src.kind == "channel" and thread == src.activity_id:
        thread = None  # a new post: the answer starts its reply chain
    return thread


def message(activity: Mapping[str, Any], tenant: str,
            people: Mapping[str, str] | None = None) -> InboundMessage | None:
    """A typed message. `people` maps mentioned Teams account ids to the core's user ids; other
    people's mentions become `<@USER>`, the core's neutral mention, and the bot's own is removed.
    None for what the bot must not act on (its own messages)."""
    if from_the_bot(activity):
        return None
    src = source(activity, tenant)
    text, addressed = _typed(activity, people)
    return _received(src, _message_thread(src), text, addressed=addressed,
                     user_tz=_timezone(activity.get("localTimezone")))


# ---- edits and deletions -------------------------------------------------------------------------


def _event_type(activity: Mapping[str, Any]) -> Any:
    return as_dict(activity.get("channelData")).get("eventType")


def _change_id(prefix: str, src: Source, activity: Mapping[str, Any], text: str) -> str:
    """An edit carries the id of the message it edits, so the message's own event id would make
    it a duplicate; a resent edit has the same timestamp and text, a later edit does not."""
    stamp = activity.get("timestamp") if isinstance(activity.get("timestamp"), str) else ""
    return f"{prefix}:{short_hash(stamp + '|' + text)}:{event_id(src.channel, src.activity_id)}"


def edited(activity: Mapping[str, Any], tenant: str,
           people: Mapping[str, str] | None = None) -> InboundMessage | None:
    """A messageUpdate that edits message `message_id` to read `text` (eventType editMessage);
    None for other updates (an undeletion) and for the bot's own messages."""
    if _event_type(activity) != "editMessage" or from_the_bot(activity):
        return None
    src = source(activity, tenant)
    text, addressed = _typed(activity, people)
    return _received(src, _message_thread(src), text, addressed=addressed, kind="edit",
                     event_id=_change_id("edit", src, activity, text))


def deleted(activity: Mapping[str, Any], tenant: str) -> InboundMessage | None:
    """A messageDelete of message `message_id` (eventType softDeleteMessage); None otherwise."""
    if _event_type(activity) != "softDeleteMessage" or from_the_bot(activity):
        return None
    src = source(activity, tenant)
    return _received(src, _message_thread(src), "", kind="delete",
                     event_id=_change_id("delete", src, activity, ""))


# ---- card clicks -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CardThread:
    """The thread of a card click: which card to replace with the answer, the reply chain to post
    in if it cannot be replaced, and the command the button stood for."""

    card: str
    root: str | None
    command: str

    def encode(self) -> str:
        text = f"{CARD_THREAD}{self.card}|{self.root or ''}|{self.command}"
        return text[:MAX_ID]

    @classmethod
    def parse(cls, thread: str | None) -> CardThread | None:
        if not thread or not thread.startswith(CARD_THREAD):
            return None
        card, _, rest = thread[len(CARD_THREAD):].partition("|")
        root, _, command = rest.partition("|")
        return cls(card, root or None, command) if card else None


def card_data(activity: Mapping[str, Any]) -> dict[str, Any]:
    """The data of a card action: Action.Execute arrives as an `adaptiveCard/action` invoke,
    Action.Submit as a message whose value is the data."""
    value = activity.get("value")
    if activity.get("type") == "invoke":
        action = as_dict(as_dict(value).get("action"))
        if action.get("type") != "Action.Execute":
            raise BadActivity("only Action.Execute card actions are supported")
        value = action.get("data")
    if not isinstance(value, dict):
        raise BadActivity("the card action carries no data")
    return value


def card_action(activity: Mapping[str, Any], tenant: str) -> InboundMessage:
    """A click on one of the bot's cards. The data says which command the button stands for; who
    clicked comes from the activity, never from the data, so forged data can only make the
    clicker run a command they could have typed."""
    src = source(activity, tenant)
    data = card_data(activity)
    if data.get("form") == "request":
        return _request_form(src, data)
    command = data.get("command")
    if not isinstance(command, str) or not command.strip() or len(command) > MAX_COMMAND \
            or "\n" in command:
        raise BadActivity("That button did not carry a command I understand, so nothing was done.")
    text = command.strip()
    field = data.get("input")
    if field is not None:
        reason = data.get(field) if isinstance(field, str) and _REASON_INPUT.match(field) else None
        if not isinstance(reason, str) or not reason.strip():
            raise BadActivity("Please give a reason.")
        text = f"{text} {reason.strip()[:MAX_FORM_FIELD]}"
    form = _fields(data) if data.get("form") == FORM_SUBMIT else None
    card = _opt_str(activity.get("replyToId"), MAX_ACTIVITY_ID)
    home = _home_thread(src)
    thread = CardThread(card, src.root, text.split("\n")[0][:80]).encode() if card else home
    return _received(src, thread, text, addressed=True, kind="click", form=form)


def _fields(data: Mapping[str, Any]) -> dict[str, str]:
    """The inputs of a prefilled form (Edit answers), by field: the core reads the ones it knows."""
    form: dict[str, str] = {}
    for key, value in data.items():
        match = _FORM_INPUT.match(key) if isinstance(key, str) else None
        if match and value is not None:
            if not isinstance(value, str):
                raise BadActivity(f"The form's {match.group(1)} field is not text.")
            form[match.group(1)] = value.strip()[:MAX_FORM_FIELD]
    return form


def _request_form(src: Source, data: Mapping[str, Any]) -> InboundMessage:
    form: dict[str, str] = {}
    for field in FORM_FIELDS:
        value = data.get(field)
        if value is None:
            continue
        if not isinstance(value, str):
            raise BadActivity(f"The form's {field} field is not text.")
        if value.strip():
            form[field] = value.strip()[:MAX_FORM_FIELD]
    if "title" not in form:
        raise BadActivity("A request needs a short title.")
    if "problem" not in form:
        raise BadActivity("Please say what problem this solves: it is the one question a request needs.")
    return _received(src, _home_thread(src), "", command="request", addressed=True, form=form)


# ---- installation --------------------------------------------------------------------------------


def bot_added(activity: Mapping[str, Any]) -> bool:
    bot = as_dict(activity.get("recipient")).get("id")
    return any(isinstance(m, dict) and m.get("id") == bot
               for m in as_list(activity.get("membersAdded")))


def installed(activity: Mapping[str, Any], tenant: str) -> InboundMessage | None:
    """The bot was added to a chat or team: the person who added it gets the help text."""
    if not bot_added(activity) or not isinstance(activity.get("from"), dict) \
            or from_the_bot(activity) or not _opt_str(activity.get("id"), MAX_ACTIVITY_ID):
        return None
    src = source(activity, tenant)
    return InboundMessage(
        where=Where(PLATFORM, tenant, src.channel, _home_thread(src)),
        user=src.user, text="", command="help",
        event_id="install:" + event_id(src.channel, src.activity_id),
        at=datetime.now(UTC), direct=src.direct, private=src.private, addressed=True,
        user_name=src.user_name)
