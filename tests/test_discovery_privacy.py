"""What a review of the discovery work found, each reproduced first: private requests reached
places they should not, an outsider could read titles by number, a long run of "k"s froze the
worker, and a superscript digit crashed a command."""

from __future__ import annotations

from adapters.slack import translate
from bot.model import Where
from bot.offtopic import off_topic
from bot.text import parse_number
from tests.conftest import Harness, flatten
from tests.test_core import file_request
from tests.test_voices import voices_of

HR = Where("console", "acme", "hr-private")
LEGAL = Where("console", "acme", "legal-private")
GENERAL = Where("console", "acme", "general")


async def test_private_requests_of_different_people_are_not_merged(chat: Harness) -> None:
    await chat.say("kim", "request salary bands export", direct=False, private=True,
                   addressed=True, where=HR)
    await chat.say("sam", "request contract export", direct=False, private=True,
                   addressed=True, where=LEGAL)
    reply = await chat.reply_text("pat", "merge 1 into 2")
    assert "different people" in reply
    assert await voices_of(chat, 2) == []


async def test_an_outsider_cannot_read_titles_by_typing_numbers(chat: Harness) -> None:
    await chat.say("sam", "request Secret acquisition dashboard", direct=False, addressed=True,
                   where=Where("console", "acme", "leadership"))
    reply = await chat.reply_text("vendor", "metoo 1", outsider=True, direct=False,
                                  addressed=True, where=Where("console", "acme", "shared"))
    assert "no request #1 in this conversation" in reply and "acquisition" not in reply
    assert await voices_of(chat, 1) == []


async def test_a_producers_edit_elsewhere_is_answered_privately(chat: Harness) -> None:
    await chat.say("kim", "request salary bands export", direct=False, private=True,
                   addressed=True, where=HR)
    await chat.say("kim", "HR rebuilds salary bands by hand every quarter", direct=False,
                   where=HR.in_thread("m1"))
    sent = await chat.say("pat", "edit 1 success bands in a day", direct=False, addressed=True,
                          where=GENERAL)
    in_general = [o for o in sent if o.where.channel == "general"]
    assert any("Updated request #1" in flatten(o) for o in in_general)
    assert all(o.private_to == "pat" for o in in_general), [flatten(o) for o in in_general]
    assert not any("salary" in flatten(o) for o in sent if o.where.channel == "general"
                   and o.private_to is None)


def test_a_long_run_of_chatter_words_is_read_at_once() -> None:
    # Before: one pattern over the whole message backtracked exponentially (37 s for 39 "k"s).
    assert off_topic("k " + "k" * 95 + "#") is None
    assert off_topic("😀 " + "😀" * 60 + "x") is None
    assert off_topic("thanks all!") == "chatter" and off_topic("ok cool") == "chatter"


def test_superscript_digits_are_not_numbers() -> None:
    assert parse_number("²") is None and parse_number("#7") == 7


async def test_metoo_with_a_superscript_number_gets_the_usage(chat: Harness) -> None:
    await file_request(chat)
    reply = await chat.reply_text("erin", "metoo ²")
    assert "metoo" in reply and "wrong" not in reply


def test_slack_private_channels_and_group_dms_are_private_places() -> None:
    def event(channel: str, channel_type: str) -> dict:
        return {"team_id": "T1", "event_id": "Ev1", "event": {
            "type": "message", "user": "U1", "text": "blocked on creds", "ts": "1.1",
            "channel": channel, "channel_type": channel_type}}
    assert translate.message_event(event("C1", "group"), "UBOT").private
    assert translate.message_event(event("G1", "mpim"), "UBOT").private
    assert not translate.message_event(event("C1", "channel"), "UBOT").private
    command = {"team_id": "T1", "command": "/request", "text": "x", "user_id": "U1",
               "trigger_id": "t1", "channel_id": "C9", "channel_name": "privategroup"}
    assert translate.slash_command(command).private
    command.update(channel_name="general")
    assert not translate.slash_command(command).private


async def test_a_voice_for_a_chain_of_merges_is_pointed_at_the_open_end(chat: Harness) -> None:
    for title in ("CSV export", "Invoice spreadsheet", "Download invoices"):
        await file_request(chat, "sam" if title == "CSV export" else "kim", title)
    await chat.say("pat", "merge 3 into 2")
    await chat.say("pat", "merge 2 into 1")
    reply = await chat.reply_text("erin", "metoo 3")
    assert "Its people are on #1 now" in reply and "[Add my voice to #1|metoo 1]" in reply


async def test_a_bare_edit_during_discovery_is_not_taken_for_an_answer(chat: Harness) -> None:
    await chat.say("sam", "request CSV export")
    await chat.say("sam", "Finance retypes invoice rows by hand every Friday")
    reply = await chat.reply_text("sam", "edit")
    assert "edit <number>" in reply
    async with chat.db.uow() as uow:
        assert "who" not in (await uow.requests.get(chat.team, 1)).answers


async def test_a_cancel_during_discovery_tells_the_voices_too(chat: Harness) -> None:
    await chat.say("sam", "request CSV export")
    await chat.say("erin", "metoo 1 support retypes them too")
    sent = await chat.say("sam", "cancel")
    told = [flatten(o) for o in sent if o.to_user == "erin"]
    assert len(told) == 1 and "was withdrawn" in told[0]
