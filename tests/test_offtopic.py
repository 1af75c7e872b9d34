"""A message in a discovery thread that is no answer (a question to the team, chatter, a blocker
report, news) is held back with a Yes/No; `edit` corrects answers before the decision."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.model import RequestState, Role, Where
from bot.offtopic import off_topic
from bot.usecases.discovery import PENDING
from tests.conftest import Harness

DATA = Path(__file__).parent / "data"


def _rows(name: str) -> list[dict[str, str]]:
    return [json.loads(line) for line in (DATA / name).read_text().splitlines() if line.strip()]


def test_the_labelled_set_is_big_enough_to_mean_something() -> None:
    rows = _rows("discovery_offtopic.jsonl")
    answers = [r for r in rows if r["label"] == "answer"]
    for question in ("problem", "who", "coping", "success"):
        assert sum(r["question"] == question for r in answers) >= 80, question
    assert sum(r["label"] == "offtopic" for r in rows) >= 60


def test_no_real_answer_is_bounced_and_most_off_topic_messages_are_caught() -> None:
    rows = _rows("discovery_offtopic.jsonl")
    bounced = [r["text"] for r in rows if r["label"] == "answer" and off_topic(r["text"])]
    assert bounced == []
    off = [r for r in rows if r["label"] == "offtopic"]
    caught = sum(off_topic(r["text"]) is not None for r in off)
    assert caught / len(off) >= 0.9


@pytest.mark.parametrize(("text", "why"), [
    ("hey btw when is the next release?", "question"), ("thanks!", "chatter"),
    ("I'm blocked on staging DB creds, waiting for ops", "blocker"),
    ("merged the retry PR", "update"), ("unrelated, but the build is red", "elsewhere")])
def test_why_a_message_is_no_answer(text: str, why: str) -> None:
    assert off_topic(text) == why


@pytest.mark.parametrize("text", ["finance", "the support team?", "well, spreadsheets",
                                  "hi! the support team mostly", "everyone", "", "   ",
                                  "engineers blocked on code review",
                                  "fixed bugs reach production the same day",
                                  "we're stuck waiting on ops for a staging environment every time"])
def test_short_and_hedged_answers_pass(text: str) -> None:
    assert off_topic(text) is None


async def the_request(h: Harness, number: int = 1):  # type: ignore[no-untyped-def]
    async with h.db.uow() as uow:
        return await uow.requests.get(h.team, number)


def _button(outs, label: str) -> str:  # type: ignore[no-untyped-def]
    return next(a.command for o in outs for a in o.actions if a.label == label)


async def _to_who(chat: Harness) -> None:
    await chat.say("sam", "request CSV export")
    await chat.say("sam", "Finance retypes invoice rows by hand every Friday")


async def test_a_question_to_the_team_is_not_stored_as_the_answer(chat: Harness) -> None:
    await _to_who(chat)
    outs = await chat.say("sam", "hey btw when is the next release?")
    text = "\n".join(o.text for o in outs)
    assert "Is that your answer to *who has this problem*?" in text
    r = await the_request(chat)
    assert "who" not in r.answers and r.current_question.field == "who"
    assert json.loads(r.answers[PENDING])["text"] == "hey btw when is the next release?"
    # Never shown: the summary names the fields it shows.
    assert "_pending" not in await chat.reply_text("sam", "requests mine")


async def test_yes_stores_it_and_discovery_goes_on_and_a_second_click_stores_nothing(
        chat: Harness) -> None:
    await _to_who(chat)
    outs = await chat.say("sam", "thanks!")
    yes = _button(outs, "Yes")
    reply = await chat.reply_text("sam", yes, kind="click")
    assert "How do they cope with it today?" in reply
    r = await the_request(chat)
    assert r.answers["who"] == "thanks!" and PENDING not in r.answers and r.discovery_step == 2
    again = await chat.reply_text("sam", yes, kind="click")
    assert "already settled" in again
    r = await the_request(chat)
    assert r.discovery_step == 2 and "coping" not in r.answers


async def test_yes_to_the_problem_question_still_pushes_back_on_a_solution(chat: Harness) -> None:
    await chat.say("sam", "request CSV export")
    outs = await chat.say("sam", "can you add an export button?")
    reply = await chat.reply_text("sam", _button(outs, "Yes"), kind="click")
    assert "sounds like a solution" in reply
    r = await the_request(chat)
    assert r.answers["proposed_solution"] == "can you add an export button?"
    assert "problem" not in r.answers


async def test_no_keeps_the_question_open_and_tracks_a_blocker_report(chat: Harness) -> None:
    await _to_who(chat)
    outs = await chat.say("sam", "I'm blocked on staging DB creds, waiting for ops")
    reply = await chat.reply_text("sam", _button(outs, "No"), kind="click")
    assert "Still waiting on: *Who has this problem?" in reply
    assert "tracking it as blocker #1" in reply
    r = await the_request(chat)
    assert "who" not in r.answers and PENDING not in r.answers
    async with chat.db.uow() as uow:
        blocker = await uow.blockers.get(chat.team, 1)
    assert blocker is not None and "staging DB creds" in blocker.text


async def test_no_to_a_question_tracks_nothing(chat: Harness) -> None:
    await _to_who(chat)
    outs = await chat.say("sam", "when is standup today?")
    reply = await chat.reply_text("sam", _button(outs, "No"), kind="click")
    assert "Still waiting on" in reply and "blocker" not in reply
    async with chat.db.uow() as uow:
        assert await uow.blockers.get(chat.team, 1) is None


async def test_a_later_plain_answer_supersedes_the_held_one(chat: Harness) -> None:
    await _to_who(chat)
    outs = await chat.say("sam", "lol")
    yes = _button(outs, "Yes")
    await chat.say("sam", "the finance team")
    r = await the_request(chat)
    assert r.answers["who"] == "the finance team" and PENDING not in r.answers
    assert "already settled" in await chat.reply_text("sam", yes, kind="click")
    assert (await the_request(chat)).answers["who"] == "the finance team"


async def test_an_old_prompt_cannot_store_a_newer_message(chat: Harness) -> None:
    await _to_who(chat)
    first = _button(await chat.say("sam", "lol"), "Yes")
    second = _button(await chat.say("sam", "thanks!"), "Yes")
    assert "earlier message" in await chat.reply_text("sam", first, kind="click")
    await chat.say("sam", second, kind="click")
    assert (await the_request(chat)).answers["who"] == "thanks!"


async def test_only_the_requester_answers_the_question(chat: Harness) -> None:
    await _to_who(chat)
    yes = _button(await chat.say("sam", "lol"), "Yes")
    assert "Only the person who filed" in await chat.reply_text("pat", yes, kind="click")
    assert "who" not in (await the_request(chat)).answers


async def test_a_typed_answer_starting_with_the_word_answer_is_kept(chat: Harness) -> None:
    await _to_who(chat)
    await chat.say("sam", "answer is the finance team")
    assert (await the_request(chat)).answers["who"] == "answer is the finance team"


# ---- edit ----------------------------------------------------------------------------------


async def _ready(chat: Harness) -> None:
    await _to_who(chat)
    await chat.say("sam", "the finance team")
    await chat.say("sam", "spreadsheets")
    await chat.say("sam", "reconciliation in 30 minutes")


async def test_the_summary_has_an_edit_button_with_the_answers(chat: Harness) -> None:
    await _to_who(chat)
    await chat.say("sam", "the finance team")
    await chat.say("sam", "spreadsheets")
    outs = await chat.say("sam", "reconciliation in 30 minutes")
    edit = next(a for o in outs for a in o.actions if a.command == "edit 1")
    assert ("who", "Who has this problem? (a team, a kind of customer, a person)",
            "the finance team") in edit.form
    usage = await chat.reply_text("sam", "edit 1")
    assert "`who`: the finance team" in usage and "`coping`: spreadsheets" in usage


async def test_edit_changes_an_answer_and_tells_the_producer(chat: Harness) -> None:
    await _ready(chat)
    outs = await chat.say("sam", "edit 1 users the finance and ops teams")
    r = await the_request(chat)
    assert r.answers["who"] == "the finance and ops teams" and "who" not in r.answer_messages
    told = [o for o in outs if o.to_user == "pat"]
    assert told and "was: the finance team" in told[0].text
    assert any(a.command == "accept 1" for a in told[0].actions)


async def test_edit_refuses_a_bad_field_and_names_the_fields(chat: Harness) -> None:
    await _ready(chat)
    reply = await chat.reply_text("sam", "edit 1 colour blue")
    assert "`colour`" in reply and "`problem`, `who`, `coping`, `success`" in reply


async def test_edit_after_the_decision_is_refused_with_why(chat: Harness) -> None:
    await _ready(chat)
    await chat.say("pat", "accept 1")
    reply = await chat.reply_text("sam", "edit 1 who everyone")
    assert "already accepted" in reply and "decision stands" in reply
    assert (await the_request(chat)).answers["who"] == "the finance team"


async def test_only_the_requester_or_a_producer_edits(chat: Harness) -> None:
    await _ready(chat)
    assert "Only the person who filed" in await chat.reply_text("erin", "edit 1 who us")
    await chat.say("pat", "edit 1 who finance controllers")
    assert (await the_request(chat)).answers["who"] == "finance controllers"


async def test_editing_the_problem_into_a_solution_marks_it_unclear_once(chat: Harness) -> None:
    await _ready(chat)
    reply = await chat.reply_text("sam", "edit 1 problem add an export button")
    assert "reads like a solution" in reply and "problem unclear" in reply
    r = await the_request(chat)
    assert r.problem_unclear and r.problem == "add an export button"
    assert r.state == RequestState.READY_FOR_REVIEW  # no follow-up question: no loop
    reply = await chat.reply_text("sam", "edit 1 problem Finance retypes 300 rows every Friday")
    assert "problem unclear* mark is gone" in reply
    assert not (await the_request(chat)).problem_unclear


async def test_editing_the_waiting_question_answers_it(chat: Harness) -> None:
    await chat.say("sam", "request CSV export")
    reply = await chat.reply_text("sam", "edit 1 problem Finance retypes rows every Friday")
    assert "Who has this problem?" in reply
    r = await the_request(chat)
    assert r.state == RequestState.READY_FOR_REVIEW and r.discovery_step == 1


async def test_a_submitted_form_applies_only_what_changed(chat: Harness) -> None:
    await _ready(chat)
    await chat.say("sam", "edit 1", kind="click", form={
        "problem": "Finance retypes invoice rows by hand every Friday", "who": "",
        "coping": "a shared spreadsheet", "success": "reconciliation in 30 minutes"})
    r = await the_request(chat)
    assert r.answers["coping"] == "a shared spreadsheet" and r.answers["who"] == "the finance team"


async def test_help_lists_edit(chat: Harness) -> None:
    await chat.set_role("sam", Role.STAKEHOLDER)
    assert "edit <n> <field> <new answer>" in await chat.reply_text("sam", "help")


async def test_a_typed_answer_starting_with_the_word_edit_is_kept(chat: Harness) -> None:
    await _to_who(chat)
    await chat.say("sam", "editors on the marketing team")  # not the command word
    await chat.say("sam", "edit the sheet by hand, then email it round")
    assert (await the_request(chat)).answers["coping"] == "edit the sheet by hand, then email it round"


async def test_an_edit_said_elsewhere_is_answered_privately_and_discovery_goes_on_at_home(
        chat: Harness) -> None:
    await chat.say("sam", "request CSV export")
    elsewhere = Where(chat.team.platform, chat.team.tenant, "pat-and-bot")  # a channel
    await chat.set_role("sam", Role.PRODUCER)  # sam may edit from anywhere, as a producer
    outs = await chat.say("sam", "edit 1 problem Finance retypes rows every Friday",
                          where=elsewhere, direct=False, addressed=True)
    there = [o for o in outs if o.where.channel == "pat-and-bot" and not o.to_user]
    assert there and all(o.private_to == "sam" for o in there)  # the answers stay out of that room
    assert any("Who has this problem?" in o.text for o in outs if o.where.channel == "general")
    r = await the_request(chat)
    assert r.discovery_step == 1 and r.state == RequestState.READY_FOR_REVIEW


async def test_an_edited_held_message_is_stored_as_edited(chat: Harness) -> None:
    await _to_who(chat)
    outs = await chat.say("sam", "lol", message_id="m-lol")
    await chat.say("sam", "lol, the finance team", message_id="m-lol", kind="edit")
    await chat.say("sam", _button(outs, "Yes"), kind="click")
    r = await the_request(chat)
    assert r.answers["who"] == "lol, the finance team" and r.answer_messages["who"] == "m-lol"
