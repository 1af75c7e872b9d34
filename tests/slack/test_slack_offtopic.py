"""Off-topic messages in a discovery thread and the Edit form, through Slack: signed events and
block_actions into the bot's server, Web API calls out to the fake."""

from __future__ import annotations

import json
from typing import Any

from bot.model import Team
from tests.slack.conftest import SlackClient, make_producer, payload
from tests.slack.test_slack_e2e import posts

T1 = Team("slack", "T1")


def buttons(call: Any) -> dict[str, tuple[str, str]]:
    """{label: (action_id, value)} of a posted message's buttons."""
    blocks = call.data["blocks"]
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    return {e["text"]["text"]: (e["action_id"], e["value"])
            for b in blocks if b["type"] == "actions" for e in b["elements"]}


async def the_request(slack: SlackClient):  # type: ignore[no-untyped-def]
    async with slack.app.db.uow() as uow:
        return await uow.requests.get(T1, 1)


async def _discovery_at_who(slack: SlackClient) -> str:
    await make_producer(slack)
    await slack.command("USH", "/request", "CSV export of invoices")
    [root] = await slack.fake.wait_for(lambda: posts(slack, "CGEN", contains="What problem"))
    thread = root.response["ts"]
    await slack.say("USH", "Finance retypes invoice rows by hand every Friday", thread=thread)
    await slack.fake.wait_for(lambda: posts(slack, "CGEN", thread=thread, contains="Who has"))
    return thread


async def test_a_release_question_is_held_and_yes_stores_it_once(slack: SlackClient) -> None:
    thread = await _discovery_at_who(slack)
    await slack.say("USH", "hey btw when is the next release?", thread=thread)
    [ask] = await slack.fake.wait_for(lambda: posts(slack, "CGEN", thread=thread,
                                                    contains="Is that your answer"))
    assert "who has this problem" in ask.data["text"]
    assert "who" not in (await the_request(slack)).answers
    action_id, yes = buttons(ask)["Yes"]
    assert yes.startswith("answer 1 yes ")
    status, _ = await slack.click("USH", yes, action_id=action_id,
                                  message_ts=ask.response["ts"], thread_ts=thread)
    assert status == 200
    await slack.fake.wait_for(lambda: posts(slack, "CGEN", thread=thread, contains="How do they cope"))
    assert (await the_request(slack)).answers["who"] == "hey btw when is the next release?"
    # The same button clicked again (a double click, a second device): nothing stored twice.
    await slack.click("USH", yes, action_id=action_id, message_ts=ask.response["ts"],
                      thread_ts=thread)
    await slack.fake.wait_for(lambda: [c for c in slack.fake.of("chat.postEphemeral")
                                       if "already settled" in c.data["text"]])
    r = await the_request(slack)
    assert r.discovery_step == 2 and "coping" not in r.answers
    assert len(posts(slack, "CGEN", thread=thread, contains="How do they cope")) == 1


async def test_no_tracks_a_blocker_report_and_keeps_the_question(slack: SlackClient) -> None:
    thread = await _discovery_at_who(slack)
    await slack.say("USH", "I'm blocked on staging DB creds, waiting for ops", thread=thread)
    [ask] = await slack.fake.wait_for(lambda: posts(slack, "CGEN", thread=thread,
                                                    contains="Is that your answer"))
    action_id, no = buttons(ask)["No"]
    await slack.click("USH", no, action_id=action_id, message_ts=ask.response["ts"],
                      thread_ts=thread)
    await slack.fake.wait_for(lambda: posts(slack, "CGEN", thread=thread, contains="Still waiting on"))
    await slack.fake.wait_for(lambda: posts(slack, "CGEN", contains="blocker #1"))
    async with slack.app.db.uow() as uow:
        blocker = await uow.blockers.get(T1, 1)
    assert blocker is not None and "staging DB creds" in blocker.text
    assert "who" not in (await the_request(slack)).answers


async def test_the_edit_button_opens_a_prefilled_modal_and_saving_applies_it(
        slack: SlackClient) -> None:
    thread = await _discovery_at_who(slack)
    await slack.say("USH", "the finance team", thread=thread)
    await slack.fake.wait_for(lambda: posts(slack, "CGEN", thread=thread, contains="How do they cope"))
    await slack.say("USH", "done", thread=thread)
    [ready] = await slack.fake.wait_for(lambda: posts(slack, "CGEN", thread=thread,
                                                      contains="ready for review"))
    action_id, value = buttons(ready)["Edit answers"]
    assert action_id.startswith("form:") and value == "edit 1"
    # Someone else's click opens nothing: the core tells them why.
    await slack.click("UENG", value, action_id=action_id, message_ts=ready.response["ts"],
                      thread_ts=thread)
    await slack.fake.wait_for(lambda: [c for c in slack.fake.of("chat.postEphemeral")
                                       if "Only the person who filed" in c.data["text"]])
    assert slack.fake.of("views.open") == []
    await slack.click("USH", value, action_id=action_id, message_ts=ready.response["ts"],
                      thread_ts=thread)
    [opened] = await slack.fake.wait_for(lambda: slack.fake.of("views.open"))
    view = opened.data["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert view["callback_id"] == "form"
    initial = {b["block_id"]: b["element"].get("initial_value") for b in view["blocks"]}
    assert initial["who"] == "the finance team" and initial["coping"] is None
    assert initial["problem"] == "Finance retypes invoice rows by hand every Friday"
    submission = payload("view_submission")
    submission["view"].update(id="V0009", callback_id="form",
                              private_metadata=view["private_metadata"],
                              state={"values": {field: {"value": {
                                  "type": "plain_text_input", "value": text}}
                                  for field, text in (("problem", initial["problem"]),
                                                      ("who", "finance and ops"),
                                                      ("coping", "a shared spreadsheet"),
                                                      ("success", None))}})
    status, text = await slack.interact(submission)
    assert status == 200 and text == ""
    await slack.fake.wait_for(lambda: posts(slack, "CGEN", thread=thread,
                                            contains="Updated request #1"))
    r = await the_request(slack)
    assert r.answers["who"] == "finance and ops" and r.answers["coping"] == "a shared spreadsheet"
    # The producer already had the review: told what changed.
    await slack.fake.wait_for(lambda: [c for c in slack.fake.of("chat.postMessage")
                                       if "edited request #1" in c.data["text"]])
