"""Edits and deletions: an edited message that opened a blocker or answered discovery updates
it; a deleted one gets its author asked whether to drop what it opened; others are ignored."""

from __future__ import annotations

from bot.model import BlockerStatus, Where
from tests.conftest import Harness, flatten

ENG = Where("console", "acme", "C-eng")


async def test_editing_the_message_that_opened_a_blocker_updates_it(chat: Harness) -> None:
    await chat.say("erin", "blocked on staging creds, waiting for ops", where=ENG, direct=False,
                   message_id="10.1")
    sent = await chat.say("erin", "blocked on prod creds, waiting for ops", where=ENG,
                          direct=False, message_id="10.1", kind="edit")
    assert len(sent) == 1 and "Updated blocker #1" in sent[0].text
    assert sent[0].private_to == "erin"
    async with chat.db.uow() as uow:
        b = await uow.blockers.get(chat.team, 1)
    assert b.text == "blocked on prod creds, waiting for ops"


async def test_someone_elses_edit_or_an_unrelated_edit_changes_nothing(chat: Harness) -> None:
    await chat.say("erin", "blocked on staging creds, waiting for ops", where=ENG, direct=False,
                   message_id="10.1")
    assert await chat.say("sam", "hijacked", where=ENG, direct=False, message_id="10.1",
                          kind="edit") == []
    assert await chat.say("erin", "lunch?", where=ENG, direct=False, message_id="10.9",
                          kind="edit") == []
    async with chat.db.uow() as uow:
        assert (await uow.blockers.get(chat.team, 1)).text.startswith("blocked on staging")
        assert len(await uow.blockers.open(chat.team)) == 1


async def test_editing_a_discovery_answer_corrects_it(chat: Harness) -> None:
    await chat.say("sam", "request CSV export")
    await chat.say("sam", "Finance retypes invoices every Friday", message_id="20.1")
    sent = await chat.say("sam", "Finance retypes 300 invoices every Friday, 3 hours",
                          message_id="20.1", kind="edit")
    assert "Updated your answer to “What problem does this solve?” on request #1" in sent[0].text
    async with chat.db.uow() as uow:
        r = await uow.requests.get(chat.team, 1)
    assert r.problem == "Finance retypes 300 invoices every Friday, 3 hours"
    assert r.current_question.field == "who"  # the edit is not taken as the next answer


async def test_deleting_a_blockers_message_asks_whether_to_drop_it(chat: Harness) -> None:
    await chat.say("erin", "blocked on staging creds, waiting for ops", where=ENG, direct=False,
                   message_id="10.1")
    (ask,) = await chat.say("erin", "", where=ENG, direct=False, message_id="10.1", kind="delete")
    assert ask.to_user == "erin" and "deleted the message behind blocker #1" in ask.text
    assert "[Drop blocker #1|dismiss 1]" in flatten(ask)
    async with chat.db.uow() as uow:
        assert (await uow.blockers.get(chat.team, 1)).status == BlockerStatus.OPEN
    assert await chat.say("erin", "", where=ENG, direct=False, message_id="10.7",
                          kind="delete") == []


async def test_a_form_filed_at_the_top_of_a_channel_answers_in_its_thread(chat: Harness) -> None:
    form = {"title": "CSV export", "problem": "Finance retypes invoices by hand every Friday"}
    sent = await chat.say("sam", "", where=ENG, direct=False, command="request", form=form)
    head, ready = sent[0], sent[1]
    assert head.key == "request:1" and head.where.thread is None
    assert "ready for review" in ready.text
    # The dispatcher threads the second message under the first (the key's message id).
    assert ready.where.thread == "m1"
