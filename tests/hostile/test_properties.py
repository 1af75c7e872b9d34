"""Property tests over the pure translation functions and clean().

For any JSON-like input, a translation function returns a well-formed InboundMessage (or None)
or raises its module's own bad-payload error, never anything else (anything else is a 5xx);
the tenant of the result always comes from the installation the payload names, read as slack-bolt
reads it (so a reply goes out with the token Bolt authorized the request with), or from the tenant
the handler read from the activity (Teams), and the user from the payload's sender, never from
data a button carries. Slack text in is readable and never live markup but a real mention; text
out is escaped but the core's own tokens. clean() never leaves a control character and is
idempotent.

Inputs are realistic payloads (tests/slack/payloads, tests/teams/payloads) with random fields
replaced by junk or removed, plus wholly random JSON, so the search reaches past the first check.
"""

from __future__ import annotations

import copy
import json
import re
import unicodedata
from datetime import datetime
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from slack_bolt.context import BoltContext
from slack_bolt.logger.messages import warning_unhandled_request
from slack_bolt.request import payload_utils
from slack_bolt.request.internals import (
    build_context,
    extract_enterprise_id,
    extract_is_enterprise_install,
    extract_team_id,
)

from adapters.slack import markup, tenancy
from adapters.slack import translate as slack
from adapters.teams import checks
from adapters.teams import translate as teams
from adapters.teams.translate import as_dict
from bot.model import InboundMessage
from bot.text import clean
from tests.slack.conftest import payload as slack_payload
from tests.teams.activities import load as teams_payload

# Modest: the whole tests/hostile run stays well under half a minute.
PROPERTY = settings(max_examples=150, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

# ---- inputs -----------------------------------------------------------------------------------

_text = st.text(st.characters(codec="utf-8"), max_size=12) | st.sampled_from(
    ["", " ", "T1", "U1", "C1", "D1", "message", "help", "resolve 1", "<!channel>", "im",
     "Action.Execute", "request", "personal", "channel", "groupChat", "mention", "reason_1",
     "adaptiveCard/action", "invoke", "\u0000", "\u202e", "1700000000.000100", "home",
     # the words Slack and Teams route on, as keys and as values
     "type", "event", "event_callback", "block_actions", "view_submission", "view_closed",
     "interactive_message", "workflow_step_edit", "workflow_step_execute", "workflow_step",
     "block_suggestion", "dialog_suggestion", "dialog_submission", "shortcut", "message_action",
     "callback_id", "action_id", "actions", "view", "team", "team_id", "user", "user_id",
     "enterprise", "authorizations", "response_urls", "is_ext_shared_channel", "command",
     "subtype", "channel_type", "from", "recipient", "conversation", "value", "data", "form",
     "command", "input", "title", "problem", "id", "aadObjectId", "tenant", "channelData"])
_scalar = st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.floats() | _text
JSONISH = st.recursive(_scalar, lambda inner: st.lists(inner, max_size=4)
                       | st.dictionaries(_text, inner, max_size=4), max_leaves=12)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = []
    if isinstance(value, dict):
        for key, inner in value.items():
            found.append(prefix + (key,))
            found += _paths(inner, prefix + (key,))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found.append(prefix + (index,))
            found += _paths(inner, prefix + (index,))
    return found


@st.composite
def mutated(draw: st.DrawFn, templates: list[dict[str, Any]]) -> dict[str, Any]:
    """A template with up to four fields (at any depth) replaced by junk or deleted."""
    body = copy.deepcopy(draw(st.sampled_from(templates)))
    for _ in range(draw(st.integers(0, 4))):
        paths = _paths(body)
        if not paths:
            break
        *parents, last = draw(st.sampled_from(paths))
        node = body
        for key in parents:
            node = node[key]
        if draw(st.integers(0, 4)) == 0:
            del node[last]
        else:
            node[last] = draw(JSONISH)
    return body


def payloads(templates: list[dict[str, Any]]) -> st.SearchStrategy[Any]:
    return mutated(templates) | st.dictionaries(_text, JSONISH, max_size=6)


# ---- what a result must look like ------------------------------------------------------------


def assert_well_formed(msg: Any, platform: str) -> None:
    assert isinstance(msg, InboundMessage)
    where = msg.where
    assert where.platform == platform
    for value in (where.tenant, where.channel, msg.user, msg.event_id):
        assert isinstance(value, str) and value.strip()
    assert where.thread is None or isinstance(where.thread, str)
    assert isinstance(msg.text, str)
    assert isinstance(msg.at, datetime) and msg.at.tzinfo is not None
    assert msg.command is None or isinstance(msg.command, str)
    assert msg.message_id is None or isinstance(msg.message_id, str)
    assert isinstance(msg.direct, bool) and isinstance(msg.addressed, bool)
    assert msg.user_name is None or isinstance(msg.user_name, str)
    assert msg.form is None or all(isinstance(k, str) and isinstance(v, str)
                                   for k, v in msg.form.items())


_BOLT_FAILS = (AttributeError, KeyError, TypeError, IndexError)


def slack_team(body: dict[str, Any]) -> Any:
    """The installation a Slack payload reached, as slack-bolt itself extracts it (the
    organisation for an org-wide install); `...` where Bolt's extraction fails on the shape."""
    try:
        if extract_is_enterprise_install(body):
            return extract_enterprise_id(body)
        return extract_team_id(body)
    except _BOLT_FAILS:
        return ...


def check_slack(call: Any, body: dict[str, Any]) -> InboundMessage | None:
    try:
        msg = call()
    except slack.BadPayload:
        return None
    if msg is None:
        return None
    assert_well_formed(msg, "slack")
    expected = slack_team(body)
    assert expected is ... or msg.where.tenant == expected
    return msg


# Slack markup other than a mention: a broadcast or group, a channel, a link.
LIVE = re.compile(r"<(?:[!#]|[a-z][a-z0-9+.-]*:)[^<>]*>", re.IGNORECASE)
CORE_TOKEN = re.compile(r"<(?:@[UW][A-Z0-9]+|#[CGD][A-Z0-9]+)>")


# ---- Slack ---------------------------------------------------------------------------------------

SLACK_EVENTS = [slack_payload(n) for n in (
    "message", "app_home_opened", "message_changed", "bot_message", "channel_join",
    "message_deleted", "message_changed_unfurl", "message_changed_tombstone",
    "message_slack_connect", "message_markup")]
SLACK_COMMAND = {"token": "x", "team_id": "T1", "channel_id": "C1", "channel_name": "general",
                 "user_id": "U1", "command": "/blocker", "text": "waiting on ops",
                 "trigger_id": "1.2.3", "response_url": "https://hooks.slack.com/x"}
SLACK_INTERACTIONS = [slack_payload(n) for n in (
    "block_actions", "view_submission", "message_action", "block_actions_home",
    "block_actions_modal", "block_actions_slack_connect", "view_submission_slack_connect")]


@PROPERTY
@given(payloads(SLACK_EVENTS), st.sampled_from([None, "UBOT", "UENG", ""]))
def test_slack_message_event(body: dict[str, Any], bot: str | None) -> None:
    msg = check_slack(lambda: slack.message_event(body, bot), body)
    if msg is not None:
        event = body["event"]
        # The author: of the message, of its new version, or of the one deleted.
        said = {"message": event, "edit": event.get("message"),
                "delete": event.get("previous_message")}[msg.kind]
        assert msg.user == said["user"] and msg.user != bot  # never the bot's own words
        assert msg.event_id == body["event_id"]
        assert msg.kind != "delete" or msg.text == ""
        if msg.outsider:
            assert body["is_ext_shared_channel"] is True and msg.where.tenant != said.get(
                "user_team", said.get("team"))
    check_slack(lambda: slack.home_opened(body), body)


@PROPERTY
@given(payloads([SLACK_COMMAND]))
def test_slack_slash_command(body: dict[str, Any]) -> None:
    msg = check_slack(lambda: slack.slash_command(body), body)
    if msg is not None:
        assert msg.user == body["user_id"] and msg.command == body["command"].lstrip("/")


@PROPERTY
@given(payloads(SLACK_INTERACTIONS), st.text(max_size=20))
def test_slack_button_click_and_shortcut(body: dict[str, Any], command: str) -> None:
    msg = check_slack(lambda: slack.button_click(body, command), body)
    if msg is not None:
        assert msg.user == body["user"]["id"] and msg.text == command  # the clicker, always
        assert msg.outsider == (body["user"].get("team_id") not in (None, msg.where.tenant)
                                and slack._is_id(body["user"].get("team_id"))
                                and not tenancy.is_enterprise_install(body)
                                and body["user"]["team_id"] != tenancy.enterprise(body))
        if msg.direct and slack.is_person(msg.where.channel):
            assert msg.where.channel == msg.user  # a 1:1 placeholder is the clicker's own
    msg = check_slack(lambda: slack.message_shortcut(body, "blocker"), body)
    if msg is not None:
        assert msg.user == body["user"]["id"] and msg.command == "blocker"


@PROPERTY
@given(payloads(SLACK_INTERACTIONS))
def test_slack_view_submission(body: dict[str, Any]) -> None:
    try:
        metadata, values = slack.view_submission(body)
    except slack.BadPayload:
        return
    assert isinstance(metadata, dict)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in values.items())
    msg = check_slack(lambda: slack.submitted(body, metadata, text="x", form=values), body)
    if msg is not None:
        assert msg.user == body["user"]["id"] and msg.where.channel == metadata["channel"]


_SLACK_TEXT = st.lists(st.sampled_from([
    "<", ">", "&", "&lt;", "&gt;", "&amp;", "|", "@", "#", "!", "U1", "UCEO", "C1", "here",
    "<!here>", "<!channel|@channel>", "<!subteam^s0abc|@oncall>", "<!subteam^S1>", "<@UCEO>",
    "<@UCEO|ceo>", "<#C1|general>", "<#C1>", "<https://evil.example|Approve>", "<mailto:a@b|a@b>",
    "<!date^1392734382^{date}|Feb 18>", "&lt;@UCEO&gt;", "&lt;!channel&gt;", "x", " ", "\n",
    "<https://x.example>", "<tel:123|call>", "<@bob>", "<!everyone>", "[a](https://b)"]),
    max_size=12).map("".join) | st.text(max_size=30)


@PROPERTY
@given(_SLACK_TEXT)
def test_slack_text_is_read_as_text_and_shown_as_text(text: str) -> None:
    """In: only real mentions stay markup. Out: only the core's tokens do, however often it is
    echoed; a mention in the output was a mention in the input."""
    read = markup.readable(text)
    if "&lt;" not in text and "<" not in _MARKUP_FREE.sub("", text):
        # Markup is read as words; what looks like markup afterwards was typed as such.
        assert not LIVE.search(read), read
    mentioned = set(re.findall(r"<@([^<>|]*)[|>]", text))
    for token in re.findall(r"<@([^>]*)>", read):
        assert markup.USER_ID.fullmatch(token) and token in mentioned, read
    shown = markup.escape(read)
    assert "<" not in CORE_TOKEN.sub("", shown) and ">" not in CORE_TOKEN.sub("", shown), shown
    assert not re.search(r"&(?!amp;|lt;|gt;)", shown), shown
    assert set(re.findall(r"<@([^>]*)>", shown)) <= mentioned


_MARKUP_FREE = re.compile(r"<[^<>]*>")


_CONTENT_TYPES = st.sampled_from(["application/json", "application/x-www-form-urlencoded",
                                  "text/plain", ""])


def _raw_bodies() -> st.SearchStrategy[str]:
    as_json = payloads(SLACK_EVENTS + SLACK_INTERACTIONS).map(json.dumps)
    as_form = payloads([SLACK_COMMAND]).map(
        lambda d: urlencode({str(k): str(v) for k, v in d.items()}))
    as_interaction = payloads(SLACK_INTERACTIONS).map(
        lambda d: urlencode({"payload": json.dumps(d)}))
    return as_json | as_form | as_interaction | st.text(max_size=60)


@PROPERTY
@given(_raw_bodies(), _CONTENT_TYPES)
# Found by this test: an edited message whose `user` is not a string or an object (Bolt looks
# for the user inside `event.message` too).
@example('{"type": "event_callback", "event": {"type": "message", "subtype": "message_changed",'
         ' "channel": "C1", "message": {"type": "message", "user": false, "ts": "1.1"}}}',
         "application/json")
@example('{"type": "event_callback", "event": {"type": "message", "message": "gone"}}',
         "application/json")
def test_slack_parse_body_accepts_only_what_bolt_can_route(raw: str, content_type: str) -> None:
    try:
        body = slack.parse_body(raw, content_type)
    except slack.BadPayload:
        return
    assert isinstance(body, dict) and body
    # slack-bolt builds its context and matches listeners on whatever parse_body lets through,
    # before any of our code runs: none of it may raise (that would be a 5xx).
    # Bolt also builds every listener argument eagerly (its kwargs_injection), for the error
    # handler too, and logs an unhandled request with a suggestion built from the body.
    build_context(BoltContext(), body)
    for build in (payload_utils.to_options, payload_utils.to_shortcut, payload_utils.to_action,
                  payload_utils.to_view, payload_utils.to_command, payload_utils.to_event,
                  payload_utils.to_message, payload_utils.to_step,
                  payload_utils.is_any_im_message_event, payload_utils.is_app_home_opened_event):
        build(body)
    warning_unhandled_request(SimpleNamespace(body=body))  # type: ignore[arg-type]
    action = payload_utils.to_action(body)
    if body.get("type") == "block_actions":
        assert isinstance(action, dict) and isinstance(action["action_id"], str)
    event = payload_utils.to_event(body)
    assert event is None or isinstance(event["type"], str)


# ---- Teams ---------------------------------------------------------------------------------------

TEAMS_ACTIVITIES = [teams_payload(n) for n in (
    "personal_message", "channel_mention", "group_chat_message", "card_execute", "card_submit",
    "conversation_update_team", "installation_update", "quoted_reply", "message_edit",
    "message_soft_delete", "private_channel_mention")]
TENANTS = st.sampled_from(["72f988bf-86f1-41af-91ab-2d7cd011db47", "emulator", "t"])


def check_teams(call: Any, activity: dict[str, Any], tenant: str) -> InboundMessage | None:
    try:
        msg = call()
    except teams.BadActivity as exc:
        assert str(exc)  # the message is shown to the person who clicked
        return None
    if msg is None:
        return None
    assert_well_formed(msg, "teams")
    assert msg.where.tenant == tenant  # the handler's, read from the activity itself
    sender = activity["from"]
    # Who acted comes from the activity, never from what a card's data says.
    assert msg.user in (sender.get("aadObjectId"), sender.get("id"))
    assert len(msg.where.channel) <= teams.MAX_ID and len(msg.event_id) <= 2 * teams.MAX_ID
    return msg


@PROPERTY
@given(payloads(TEAMS_ACTIVITIES), TENANTS)
def test_teams_message(activity: dict[str, Any], tenant: str) -> None:
    people = {account: "U" + str(i) for i, (account, _) in
              enumerate(teams.mentioned_people(activity))}
    msg = check_teams(lambda: teams.message(activity, tenant, people), activity, tenant)
    if msg is not None:
        assert msg.user_name is None or msg.user_name == clean(msg.user_name)


@PROPERTY
@given(payloads(TEAMS_ACTIVITIES), TENANTS)
def test_teams_card_action_and_install(activity: dict[str, Any], tenant: str) -> None:
    msg = check_teams(lambda: teams.card_action(activity, tenant), activity, tenant)
    if msg is not None and msg.form is None:
        assert "\n" not in msg.text.split(" ", 2)[0]  # one command, never a smuggled second line
    check_teams(lambda: teams.installed(activity, tenant), activity, tenant)


@PROPERTY
@given(payloads(TEAMS_ACTIVITIES))
def test_teams_tenant_comes_from_the_activity(activity: dict[str, Any]) -> None:
    tenant = teams.tenant_of(activity)
    channel_data = activity.get("channelData")
    conversation = activity.get("conversation")
    own = channel_data.get("tenant") if isinstance(channel_data, dict) else None
    own = own.get("id") if isinstance(own, dict) else None
    fallback = conversation.get("tenantId") if isinstance(conversation, dict) else None
    expected = own or fallback
    # A tenant id with control characters is refused (PostgreSQL cannot store NUL, and no real
    # tenant id has them).
    if isinstance(expected, str) and 0 < len(expected.lower()) <= 128 \
            and not teams.has_control(expected):
        assert tenant == expected.lower()  # one tenant, whatever the case it is written in
    else:
        assert tenant is None
    assert isinstance(teams.mentioned_people(activity), list)
    assert isinstance(teams.from_the_bot(activity), bool)


@PROPERTY
@given(payloads(TEAMS_ACTIVITIES), TENANTS)
def test_teams_edits_and_deletions(activity: dict[str, Any], tenant: str) -> None:
    edit = check_teams(lambda: teams.edited(activity, tenant), activity, tenant)
    if edit is not None:
        assert edit.kind == "edit" and edit.message_id
        assert as_dict(activity.get("channelData")).get("eventType") == "editMessage"
    deletion = check_teams(lambda: teams.deleted(activity, tenant), activity, tenant)
    if deletion is not None:
        assert deletion.kind == "delete" and deletion.text == "" and deletion.message_id
    for msg in (edit, deletion):
        assert msg is None or not teams.from_the_bot(activity)
        assert msg is None or len(msg.event_id) <= teams.MAX_ID  # the inbox's column


@PROPERTY
@given(payloads(TEAMS_ACTIVITIES), TENANTS)
def test_teams_private_places(activity: dict[str, Any], tenant: str) -> None:
    msg = check_teams(lambda: teams.message(activity, tenant), activity, tenant)
    if msg is not None:
        assert not (msg.direct and msg.private)  # a 1:1 chat is direct, never "private"
        if teams.conversation_kind(activity) == "groupChat":
            assert msg.private


_QUOTES = st.sampled_from(['<quoted messageId="1"/>', '<quoted messageId="x"/> ',
                           '<quoted messageId="2">what was said before</quoted>',
                           '&lt;quoted messageId="3"/&gt;', "<QUOTED messageId='4' />"])
_SAID = st.text(st.characters(codec="utf-8", exclude_characters="<&"), max_size=40).filter(
    lambda t: "quoted" not in t.lower())


@PROPERTY
@given(st.lists(_QUOTES, min_size=1, max_size=3), _SAID)
def test_quote_placeholders_leave_what_was_said(quotes: list[str], said: str) -> None:
    assert teams.strip_quotes("".join(quotes) + said) == said.strip(" \t").strip()


@PROPERTY
@given(st.text(max_size=300) | st.sampled_from(["<quoted", "<quoted a>", "</quoted>", "&lt;quoted"]))
def test_strip_quotes_accepts_anything(text: str) -> None:
    out = teams.strip_quotes(text)
    assert isinstance(out, str) and len(out) <= len(text)


_URL_PARTS = st.sampled_from(["http://", "https://", "HTTP://", "ftp://", "//", "http:/", "",
                              "127.0.0.1", "localhost", "[::1]", "evil.example", "0x7f.1",
                              "@", "\\", ":", "%2f", "/", "user:pw@", ":8080", "#", "?", " ",
                              "\r\n", "\u0000", "smba.trafficmanager.net", "/emea/"])


@PROPERTY
@given(st.lists(_URL_PARTS, max_size=7).map("".join))
def test_a_service_url_is_only_accepted_as_the_sender_reads_it(url: str) -> None:
    from urllib.parse import urlsplit

    from urllib3.util import parse_url

    if checks.service_url_problem(url) is None:
        theirs, ours = parse_url(url), urlsplit(url)
        assert (theirs.scheme or "").lower() in ("http", "https")
        assert theirs.auth is None and "@" not in url and "\\" not in url
        assert (ours.hostname or "") == (theirs.host or "").strip("[]").lower()
        if checks.loopback_service_url(url):
            assert (theirs.host or "").lower() in ("127.0.0.1", "localhost", "[::1]")


@PROPERTY
@given(JSONISH)
def test_the_shape_check_accepts_what_an_activity_looks_like(value: Any) -> None:
    assert checks.shape_problem(value) is None  # a few levels, a few entries
    assert checks.shape_problem({"a": [value] * 3000}) is not None


@PROPERTY
@given(st.text(max_size=80))
def test_a_name_in_a_card_is_only_text(name: str) -> None:
    from adapters.teams import cards

    shown = cards.inert(name)
    assert not re.search(r"[*_`~\[\]\\]", shown)
    assert not re.search(r"(?i)(https?|ftp|mailto):", shown)


# ---- clean() --------------------------------------------------------------------------------------

_FORBIDDEN = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064"
                        r"\u2066-\u2069\ufeff\U000e0000-\U000e007f]")
_TRICKY = st.sampled_from(["\u0000", "\r", "\r\n", "\n", "\t", " ", "\u0301", "\u0308", "e",
                           "\u202e", "\u2066", "\u200b", "\u200c", "\u200d", "\u200f", "\u0085",
                           "\u00a0", "\u3000", "\u2028", "👩", "💻", "\ufe0f", "א", "ي", "<!",
                           "\u061c", "\ufeff", "\u2060", "\U000e0041", "\U000e007f", "\U0001f3f4"])
TEXTS = st.text(st.characters(codec="utf-8"), max_size=40) | st.lists(_TRICKY, max_size=20).map(
    "".join)


@PROPERTY
@given(TEXTS)
def test_clean_leaves_no_control_characters_and_is_idempotent(text: str) -> None:
    cleaned = clean(text)
    assert not _FORBIDDEN.search(cleaned), repr(cleaned)
    assert all(unicodedata.category(c) != "Cc" or c == "\n" for c in cleaned)
    assert clean(cleaned) == cleaned
    assert cleaned == cleaned.strip()
    assert unicodedata.is_normalized("NFC", cleaned)


@PROPERTY
@given(st.text(st.characters(codec="utf-8", exclude_categories=["Cc", "Cf", "Zl", "Zp", "Zs"]),
               min_size=1, max_size=20))
def test_clean_keeps_what_people_write(text: str) -> None:
    """Letters, marks, symbols and emoji come out as they went in (normalised)."""
    assert clean(text) == unicodedata.normalize("NFC", text)


def test_clean_keeps_joiners() -> None:
    # U+200D glues 👩 and 💻 into one emoji; U+200C is part of Persian spelling (نمی‌توانم).
    for text in ("👩\u200d💻 🏳️\u200d🌈", "\u0646\u0645\u06cc\u200c\u062a\u0648\u0627\u0646\u0645"):
        assert clean(text) == text
