"""Activities to InboundMessages: pure functions on the recorded payloads."""

from __future__ import annotations

import pytest

from adapters.teams import translate
from adapters.teams.translate import BadActivity, CardThread
from tests.teams.activities import BOT, CHANNEL, ERIN, GROUP, PAT, TENANT, Activities, load

ACTS = Activities("https://smba.trafficmanager.net/emea/")


def test_a_personal_message() -> None:
    raw = load("personal_message")
    assert translate.tenant_of(raw) == TENANT
    msg = translate.message(raw, TENANT)
    assert msg is not None
    assert msg.where.platform == "teams" and msg.where.tenant == TENANT
    assert msg.where.channel == raw["conversation"]["id"] and msg.where.thread is None
    assert msg.user == raw["from"]["aadObjectId"] and msg.user_name == "Erin Engineer"
    assert msg.direct and not msg.addressed and msg.text == "help"
    assert msg.message_id == raw["id"] and raw["id"] in msg.event_id
    assert msg.user_tz == "Europe/Berlin"


def test_a_channel_mention_starts_a_reply_chain() -> None:
    raw = load("channel_mention")
    msg = translate.message(raw, TENANT)
    assert msg is not None
    assert msg.text == "blocker staging creds" and msg.addressed and not msg.direct
    # A new post: its own id is the root, so the answer starts the chain under it.
    assert msg.where.channel == CHANNEL and msg.where.thread is None
    reply = ACTS.channel(ERIN, "skip", root="1763283000000", mention=False)
    msg = translate.message(reply, TENANT)
    assert msg is not None and msg.where.thread == "1763283000000" and not msg.addressed


def test_other_mentions_become_neutral_mentions() -> None:
    raw = ACTS.channel(PAT, f"role {ERIN.mention} producer", mentions=(ERIN,))
    assert translate.mentioned_people(raw) == [(ERIN.account["id"], ERIN.name)]
    msg = translate.message(raw, TENANT, {ERIN.account["id"]: ERIN.aad})
    assert msg is not None and msg.text == f"role <@{ERIN.aad}> producer"


def test_a_group_chat_gives_each_person_a_thread() -> None:
    msg = translate.message(load("group_chat_message"), TENANT)
    assert msg is not None and msg.where.channel == GROUP
    assert msg.where.thread == f"chat:{ERIN.aad}" and not msg.direct and msg.addressed


def test_user_ids_fall_back_to_the_teams_account() -> None:
    raw = load("personal_message")
    del raw["from"]["aadObjectId"]
    msg = translate.message(raw, TENANT)
    assert msg is not None and msg.user == raw["from"]["id"]


def test_the_bots_own_message_is_nothing() -> None:
    raw = load("personal_message")
    raw["from"] = dict(BOT)
    assert translate.message(raw, TENANT) is None


def test_odd_but_harmless_fields() -> None:
    raw = load("personal_message")
    raw["text"] = None
    raw["entities"] = "nope"
    raw["localTimezone"] = "Mars/Olympus"
    msg = translate.message(raw, TENANT)
    assert msg is not None and msg.text == "" and msg.user_tz is None
    raw["text"] = "x" * (translate.MAX_INBOUND_TEXT + 10)
    msg = translate.message(raw, TENANT)
    assert msg is not None and len(msg.text) == translate.MAX_INBOUND_TEXT


@pytest.mark.parametrize("field, value", [("from", None), ("id", None), ("id", "x" * 300),
                                          ("conversation", {"id": 5})])
def test_malformed_parts_raise(field: str, value: object) -> None:
    raw = load("personal_message")
    raw[field] = value
    with pytest.raises(BadActivity):
        translate.message(raw, TENANT)


def test_a_click_remembers_the_card_to_replace() -> None:
    raw = load("card_execute")
    msg = translate.card_action(raw, TENANT)
    assert msg.text == "resolve 1" and msg.addressed and msg.user == ERIN.aad
    card = CardThread.parse(msg.where.thread)
    assert card == CardThread(raw["replyToId"], "1763283660555", "resolve 1")
    assert CardThread.parse(card.encode()) == card
    assert CardThread.parse("1763283660555") is None and CardThread.parse(None) is None


def test_a_reason_is_appended_from_the_named_input() -> None:
    data = {"command": "decline 3", "input": "reason_1", "reason_1": "  out of scope "}
    msg = translate.card_action(ACTS.execute(PAT, data, card=None), TENANT)
    assert msg.text == "decline 3 out of scope" and msg.where.thread is None


def test_an_action_submit_reads_the_value() -> None:
    msg = translate.card_action(load("card_submit"), TENANT)
    assert msg.text == "resolve 1" and msg.direct


def test_the_request_form() -> None:
    data = {"form": "request", "title": " CSV ", "problem": "retyping", "who": "",
            "ignored": "x"}
    msg = translate.card_action(ACTS.execute(ERIN, data, card=None), TENANT)
    assert msg.command == "request" and msg.form == {"title": "CSV", "problem": "retyping"}


def test_install_welcomes_whoever_added_the_bot() -> None:
    raw = load("conversation_update_team")
    msg = translate.installed(raw, TENANT)
    assert msg is not None and msg.command == "help" and msg.user == ERIN.aad
    assert msg.where.channel == CHANNEL and not msg.direct
    raw["membersAdded"] = [{"id": "29:someone-else"}]
    assert translate.installed(raw, TENANT) is None


def test_split_conversation() -> None:
    assert translate.split_conversation(f"{CHANNEL};messageid=42") == (CHANNEL, "42")
    assert translate.split_conversation(GROUP) == (GROUP, None)


# ---- quoted replies ----------------------------------------------------------------------------


def test_a_quoted_reply_keeps_only_what_was_said() -> None:
    raw = load("quoted_reply")
    msg = translate.message(raw, TENANT)
    assert msg is not None and msg.text == "blocker waiting for the security review"


@pytest.mark.parametrize("text, expected", [
    ('<quoted messageId="1"/> blocker x', "blocker x"),
    ('<quoted messageId="1"/><quoted messageId="2"/> both', "both"),
    ('<quoted messageId="1"/> first <quoted messageId="2"/> second', "first second"),
    ('<quoted messageId="1">the old text, with <b>tags</b>\nand lines</quoted> the answer',
     "the answer"),
    ('<QUOTED messageId="1" />answer', "answer"),
    ('&lt;quoted messageId="1"/&gt; escaped', "escaped"),
    ('<quoted messageId="1"> never closed', "never closed"),
    ("a <quotedness> of words", "a <quotedness> of words"),
    ('<quoted messageId="1"/>', ""),
])
def test_quote_placeholders_are_removed(text: str, expected: str) -> None:
    raw = ACTS.personal(ERIN, text)
    msg = translate.message(raw, TENANT)
    assert msg is not None and msg.text == expected


def test_a_quoted_mention_of_the_bot_does_not_address_it() -> None:
    raw = ACTS.group(ERIN, "I agree", mention=False)
    raw["text"] = '<quoted messageId="9"><at>Producer Bot</at> help</quoted> I agree'
    raw["entities"].append({"mentioned": dict(BOT), "text": "<at>Producer Bot</at>",
                            "type": "mention"})
    msg = translate.message(raw, TENANT)
    assert msg is not None and msg.text == "I agree" and not msg.addressed


def test_stripping_quotes_stays_linear_on_hostile_text() -> None:
    text = '<quoted messageId="x">' * 12_000 + "tail"
    assert translate.strip_quotes(text) == "tail"
    assert translate.strip_quotes("</quoted>" * 10_000 + "<quoted a=1/>x") == "</quoted>" * 10_000 + "x"


# ---- edits and deletions -------------------------------------------------------------------------


def test_an_edit_is_the_new_text_of_the_edited_message() -> None:
    raw = load("message_edit")
    msg = translate.edited(raw, TENANT)
    assert msg is not None and msg.kind == "edit"
    assert msg.message_id == raw["id"] == load("personal_message")["id"]
    assert msg.text == "blocker waiting for the staging DB credentials"
    assert msg.user == ERIN.aad and msg.direct and msg.where.thread is None
    original = translate.message(load("personal_message"), TENANT)
    assert original is not None and msg.event_id != original.event_id
    again = translate.edited(load("message_edit"), TENANT)
    assert again is not None and again.event_id == msg.event_id  # a resent edit is a duplicate
    later = load("message_edit")
    later["timestamp"] = "2026-11-16T09:08:00.0000000Z"
    assert translate.edited(later, TENANT).event_id != msg.event_id  # type: ignore[union-attr]


def test_an_edit_in_a_channel_handles_mentions_like_a_message() -> None:
    post = ACTS.channel(PAT, "request CSV export", root="1763283000000")
    raw = ACTS.edit(post, f"role {ERIN.mention} engineer")
    raw["entities"].append({"mentioned": {"id": ERIN.account["id"], "name": ERIN.name},
                            "text": ERIN.mention, "type": "mention"})
    msg = translate.edited(raw, TENANT, {ERIN.account["id"]: ERIN.aad})
    assert msg is not None and msg.kind == "edit" and msg.addressed
    assert msg.text == f"role <@{ERIN.aad}> engineer"
    assert msg.where.channel == CHANNEL and msg.where.thread == "1763283000000"


def test_a_soft_deletion_names_the_deleted_message() -> None:
    raw = load("message_soft_delete")
    msg = translate.deleted(raw, TENANT)
    assert msg is not None and msg.kind == "delete" and msg.text == ""
    assert msg.message_id == raw["id"] and msg.user == ERIN.aad
    edit = translate.edited(load("message_edit"), TENANT)
    assert edit is not None and msg.event_id not in (edit.event_id,)


def test_other_updates_and_the_bots_own_are_nothing() -> None:
    undelete = load("message_edit")
    undelete["channelData"]["eventType"] = "undeleteMessage"
    assert translate.edited(undelete, TENANT) is None
    no_event = load("message_edit")
    del no_event["channelData"]["eventType"]
    assert translate.edited(no_event, TENANT) is None
    hard = load("message_soft_delete")
    hard["channelData"]["eventType"] = "hardDeleteMessage"
    assert translate.deleted(hard, TENANT) is None
    for raw, read in ((load("message_edit"), translate.edited),
                      (load("message_soft_delete"), translate.deleted)):
        raw["from"] = dict(BOT)
        assert read(raw, TENANT) is None


# ---- private places ------------------------------------------------------------------------------


@pytest.mark.parametrize("raw, direct, private", [
    (ACTS.personal(ERIN, "help"), True, False),
    (ACTS.group(ERIN, "help"), False, True),
    (ACTS.channel(ERIN, "help"), False, False),
    (load("private_channel_mention"), False, True),
    (ACTS.private_channel(ERIN, "help", kind="shared"), False, True),
    (ACTS.private_channel(ERIN, "help", kind="Private"), False, True),
    (ACTS.private_channel(ERIN, "help", kind="standard"), False, False),
])
def test_group_chats_and_private_or_shared_channels_are_private(raw: dict, direct: bool,
                                                                private: bool) -> None:
    msg = translate.message(raw, TENANT)
    assert msg is not None and (msg.direct, msg.private) == (direct, private)


def test_other_ways_teams_names_a_private_channel() -> None:
    graph = ACTS.private_channel(ERIN, "help", kind="standard")
    graph["channelData"]["channel"] = {"id": graph["channelData"]["channel"]["id"],
                                       "membershipType": "private"}
    team = ACTS.channel(ERIN, "help")
    team["channelData"]["team"]["type"] = "sharedChannel"
    for raw in (graph, team):
        msg = translate.message(raw, TENANT)
        assert msg is not None and msg.private
    click = ACTS.execute(ERIN, {"command": "help"}, card=None, where="group")
    assert translate.card_action(click, TENANT).private


# ---- tenants -------------------------------------------------------------------------------------


def test_an_upper_cased_tenant_is_the_same_tenant() -> None:
    raw = load("personal_message")
    raw["channelData"]["tenant"]["id"] = TENANT.upper()
    assert translate.tenant_of(raw) == TENANT
    del raw["channelData"]["tenant"]
    raw["conversation"]["tenantId"] = TENANT.upper()
    assert translate.tenant_of(raw) == TENANT
    raw["conversation"]["tenantId"] = "\u0130" * 100  # 100 characters, 200 once lowered
    assert translate.tenant_of(raw) is None
