"""A demo over Slack's real endpoint: `/producer demo done` asks the requester and each voice
1:1 with the verdict buttons, and a voice's click on *Solved* records their verdict."""

from __future__ import annotations

from bot.model import RequestState, Team
from tests.slack.conftest import SlackClient
from tests.slack.test_voices_slack import file_request

T1 = Team("slack", "T1")


async def test_demo_done_sends_the_verdict_buttons_and_a_click_records_it(
        slack: SlackClient) -> None:
    await file_request(slack)  # USH's request #1, ready for UPRO's review
    for words in ("accept 1", "deliver 1"):
        assert (await slack.command("UPRO", "/producer", words))[0] == 200
    assert (await slack.command("UENG", "/producer", "metoo 1 support retypes them too"))[0] \
        == 200
    await slack.fake.wait_for(lambda: [c for c in slack.fake.of("chat.postEphemeral")
                                       if "added your voice" in c.data["text"]])
    assert (await slack.command("UPRO", "/producer", "demo done"))[0] == 200

    def asked(user: str) -> list:  # type: ignore[type-arg]
        return [c for c in slack.fake.of("chat.postMessage")
                if "shown at demo #1" in c.data["text"] and c.data["channel"] == f"D{user}"]

    for user in ("USH", "UENG"):
        [call] = await slack.fake.wait_for(lambda user=user: asked(user))
        buttons = [e for b in call.data["blocks"] if b["type"] == "actions"
                   for e in b["elements"]]
        assert [(e["text"]["text"], e["value"]) for e in buttons] == [
            ("Solved", "solved 1"), ("Not yet, because ...", "notyet 1"),
            ("New request", "request")]
        # The two that need words first open a prompt for them.
        assert [e["action_id"].split(":")[0] for e in buttons] == ["cmd", "reason", "reason"]

    status, _ = await slack.click("UENG", "solved 1", channel="DUENG")
    assert status == 200
    await slack.fake.wait_for(lambda: [c for c in slack.fake.of("chat.postMessage")
                                       if "noted that request #1 solved your problem"
                                       in c.data["text"]])
    async with slack.app.db.uow() as uow:
        [verdict] = await uow.demos.verdicts(T1, [1])
        request = await uow.requests.get(T1, 1)
    assert (verdict.user, verdict.verdict, verdict.demo) == ("UENG", "solved", 1)
    assert request is not None and request.state == RequestState.DELIVERED  # a voice moves nothing
