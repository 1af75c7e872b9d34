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
