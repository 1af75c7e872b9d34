"""Off-topic messages in discovery and the Edit form card, through Teams activities over HTTP."""

from __future__ import annotations

from typing import Any

from tests.teams.activities import CHANNEL, PAT, SAM
from tests.teams.conftest import TEAM, Call, Stack
from tests.teams.test_cards import valid
from tests.teams.test_loop import buttons, only, setup_team


async def the_request(stack: Stack):  # type: ignore[no-untyped-def]
    async with stack.app.db.uow() as uow:
        return await uow.requests.get(TEAM, 1)


def execute(call: Call, label: str) -> dict[str, Any]:
    """The data of the card's Action.Execute button labelled `label`."""
    return next(a["data"] for a in call.cards[0]["actions"]
                if a["type"] == "Action.Execute" and a["title"] == label)


async def test_a_channel_thread_question_is_held_then_yes_answers_and_a_repeat_does_not(
        stack: Stack) -> None:
    await setup_team(stack)
    acts = stack.acts
    filed = only(await stack.say(acts.channel(SAM, "request CSV export of invoices")))
    root = filed.returned
    await stack.say(acts.channel(SAM, "Finance retypes invoice rows by hand every Friday",
                                 root=root))
    ask = only(await stack.say(acts.channel(SAM, "hey btw when is the next release?", root=root)))
    assert ask.path == f"/v3/conversations/{CHANNEL};messageid={root}/activities"
    assert "Is that your answer to **who has this problem**?" in ask.text
    valid(ask.cards[0])
    yes = execute(ask, "Yes")
    assert yes["command"].startswith("answer 1 yes ") and buttons(ask)[1].startswith("answer 1 no")
    sent = await stack.say(acts.execute(SAM, yes, card=ask.returned, where="channel", root=root))
    # The card is answered in place: its buttons gone, the next question below.
    update = only([c for c in sent if c.method == "PUT"])
    assert "How do they cope" in update.text and buttons(update) == []
    assert (await the_request(stack)).answers["who"] == "hey btw when is the next release?"
    again = await stack.say(acts.execute(SAM, yes, card=ask.returned, where="channel", root=root))
    assert any("already settled" in c.text for c in again)
    r = await the_request(stack)
    assert r.discovery_step == 2 and "coping" not in r.answers


async def test_no_in_the_1to1_chat_keeps_the_question(stack: Stack) -> None:
    await setup_team(stack)
    acts = stack.acts
    await stack.say(acts.personal(SAM, "request Dark mode"))
    ask = only(await stack.say(acts.personal(SAM, "thanks!")))
    assert "what problem does this solve" in ask.text
    sent = await stack.say(acts.execute(SAM, execute(ask, "No"), card=ask.returned))
    assert any("Still waiting on: **What problem does this solve?**" in c.text for c in sent)
    r = await the_request(stack)
    assert "problem" not in r.answers and r.state.value == "needs-discovery"


async def test_the_edit_form_card_is_prefilled_and_saving_it_applies_the_changes(
        stack: Stack) -> None:
    await setup_team(stack)
    acts = stack.acts
    await stack.say(acts.personal(SAM, "request Dark mode"))
    await stack.say(acts.personal(SAM, "people working at night get eye strain"))
    sent = await stack.say(acts.personal(SAM, "done"))
    ready = only([c for c in sent if c.conversation == SAM.personal])
    valid(ready.cards[0])
    show = next(a for a in ready.cards[0]["actions"]
                if a["type"] == "Action.ShowCard" and a["title"] == "Edit answers")
    inputs = {i["id"]: i.get("value") for i in show["card"]["body"]}
    assert inputs["form_problem"] == "people working at night get eye strain"
    assert inputs["form_who"] == ""
    save = show["card"]["actions"][0]["data"]
    # Teams merges the inputs' values into the data of the Save button.
    data = {**save, **inputs, "form_who": "night-shift support staff"}
    edited = await stack.say(acts.execute(SAM, data, card=ready.returned))
    assert any("Updated request #1" in c.text for c in edited)
    # Pat already had the review: told what changed, with the decision buttons.
    told = only([c for c in edited if c.conversation == PAT.personal])
    assert "edited request #1" in told.text and buttons(told)[:1] == ["accept 1"]
    r = await the_request(stack)
    assert r.answers["who"] == "night-shift support staff"
    assert r.answers["problem"] == "people working at night get eye strain"


async def test_a_form_field_that_is_not_text_is_refused(stack: Stack) -> None:
    await setup_team(stack)
    await stack.say(stack.acts.personal(SAM, "request Dark mode"))
    answer = await stack.send(stack.acts.execute(
        SAM, {"command": "edit 1", "form": "fields", "form_who": ["x"]}, card="c1"), status=400)
    assert "who field is not text" in answer["value"]["message"]
    assert "who" not in (await the_request(stack)).answers
