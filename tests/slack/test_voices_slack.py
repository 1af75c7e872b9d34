"""Voices over Slack's real endpoint: `/producer metoo`, a 1:1 `metoo`, and the *Add my voice*
button clicked on a message, from the App Home tab (`container.type: "view"`) and by someone
from another organisation (Slack Connect)."""

from __future__ import annotations

import json
from typing import Any

from bot.model import Team
from tests.slack.conftest import SlackClient, make_producer, payload
from tests.slack.fake_slack import Call

T1 = Team("slack", "T1")


async def file_request(slack: SlackClient) -> None:
    """USH files request #1 through the request form: ready for review, producers told."""
    await make_producer(slack)
    assert (await slack.interact(payload("view_submission")))[0] == 200
    await slack.fake.wait_for(lambda: [c for c in slack.fake.of("chat.postMessage")
                                       if "ready for your review" in c.data["text"]])


def view_buttons(call: Call) -> list[dict[str, Any]]:
    view = call.data["view"]
    view = json.loads(view) if isinstance(view, str) else view
    return [e for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]]


async def voices(slack: SlackClient) -> dict[str, str | None]:
    async with slack.app.db.uow() as uow:
        return {v.user: v.problem for v in (await uow.voices.of(T1, [1])).get(1, [])}


async def test_the_review_card_carries_the_add_my_voice_button(slack: SlackClient) -> None:
    await file_request(slack)
    review = next(c for c in slack.fake.of("chat.postMessage")
                  if "ready for your review" in c.data["text"])
    values = [e["value"] for b in review.data["blocks"] if b["type"] == "actions"
              for e in b["elements"]]
    assert values == ["accept 1", "decline 1", "metoo 1"]


async def test_slash_metoo_and_a_direct_metoo_add_one_voice(slack: SlackClient) -> None:
    await file_request(slack)
    status, _ = await slack.command("UENG", "/producer", "metoo 1 support retypes them too")
    assert status == 200
    [eph] = await slack.fake.wait_for(lambda: [c for c in slack.fake.of("chat.postEphemeral")
                                               if "added your voice" in c.data["text"]])
    assert eph.data["user"] == "UENG" and "2 people" in eph.data["text"]
    assert await voices(slack) == {"UENG": "support retypes them too"}
    # The same person again, 1:1 with the bot: their words change, the count does not.
    await slack.say("UENG", "metoo 1 two hours every Friday", channel="DENG", channel_type="im")
    [answer] = await slack.fake.wait_for(lambda: [c for c in slack.fake.of("chat.postMessage")
                                                  if "updated what you said" in c.data["text"]])
    assert answer.data["channel"] == "DENG" and "2 people" in answer.data["text"]
    assert await voices(slack) == {"UENG": "two hours every Friday"}


async def test_clicking_add_my_voice_on_a_message_asks_how_it_affects_them(
        slack: SlackClient) -> None:
    await file_request(slack)
    status, _ = await slack.click("UENG", "metoo 1")
    assert status == 200
    [eph] = await slack.fake.wait_for(lambda: [c for c in slack.fake.of("chat.postEphemeral")
                                               if "added your voice" in c.data["text"]])
    assert eph.data["user"] == "UENG" and eph.data["channel"] == "CGEN"
    assert "How does this problem affect you?" in eph.data["text"]
    # As a Slack user can type it anywhere (the text is escaped on its way out).
    assert "/producer metoo 1 &lt;how it affects you&gt;" in eph.data["text"]
    assert await voices(slack) == {"UENG": None}


async def test_add_my_voice_from_the_home_tab(slack: SlackClient) -> None:
    await file_request(slack)
    assert (await slack.event(payload("app_home_opened")))[0] == 200
    [home] = await slack.fake.wait_for(lambda: slack.fake.of("views.publish"))
    assert "do you have this problem too?" in home.blocks_text()
    voice = next(e for e in view_buttons(home) if e["value"] == "metoo 1")
    assert voice["text"]["text"] == "Add my voice to #1"

    click = payload("block_actions_home")  # UENG, in the Home tab: container.type "view"
    assert click["container"]["type"] == "view" and "channel" not in click
    click["actions"][0].update(value=voice["value"], action_id=voice["action_id"],
                               text=voice["text"])
    status, body = await slack.interact(click)
    assert status == 200, body
    [answer] = await slack.fake.wait_for(lambda: [c for c in slack.fake.of("chat.postMessage")
                                                  if "added your voice" in c.data["text"]])
    assert answer.data["channel"] == "DUENG"  # answered 1:1: a Home tab has no channel
    assert await voices(slack) == {"UENG": None}
    [redrawn] = await slack.fake.wait_for(lambda: slack.fake.of("views.publish")[1:])
    assert redrawn.data["user_id"] == "UENG"
    assert "Requests you added your voice to" in redrawn.blocks_text()
    assert "Invoice CSV export* (ready-for-review, 2 people)" in redrawn.blocks_text()
    assert [e for e in view_buttons(redrawn) if e["value"] == "metoo 1"] == []


async def test_someone_from_another_organisation_counts_as_its_own_team(
        slack: SlackClient) -> None:
    await file_request(slack)
    click = payload("block_actions_slack_connect")
    click["actions"][0].update(value="metoo 1",
                               text={"type": "plain_text", "text": "Add my voice to #1"})
    assert (await slack.interact(click))[0] == 200
    [eph] = await slack.fake.wait_for(lambda: [c for c in slack.fake.of("chat.postEphemeral")
                                               if "added your voice" in c.data["text"]])
    assert eph.data["user"] == "UEXT"
    assert "2 people, 1 team: another organisation" in eph.data["text"]
    async with slack.app.db.uow() as uow:
        [voice] = (await uow.voices.of(T1, [1]))[1]
    assert voice.user == "UEXT" and voice.user_team == "another organisation"
