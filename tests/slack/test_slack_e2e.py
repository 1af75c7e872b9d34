"""The whole producer loop through Slack: signed requests in, Web API calls out, real HTTP."""

from __future__ import annotations

from bot.model import RequestState, Team
from storage.db import Database
from tests.slack.conftest import SlackClient

T1 = Team("slack", "T1")


def posts(slack: SlackClient, channel: str | None = None, thread: str | None = None,
          contains: str = "") -> list:
    return [c for c in slack.fake.of("chat.postMessage")
            if (channel is None or c.data.get("channel") == channel)
            and (thread is None or c.data.get("thread_ts") == thread)
            and contains in (c.data.get("text", "") + c.blocks_text())]


async def test_the_whole_loop_in_slack(slack: SlackClient, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level("INFO")
    fake = slack.fake
    # A producer claims the role (the first one in a workspace may).
    status, _ = await slack.command("UPRO", "/producer", "role me producer")
    assert status == 200
    await fake.wait_for(lambda: posts(slack, "CGEN", contains="is now producer"))

    # An engineer says they are blocked in plain words: confirmed in a thread with buttons.
    ts = await slack.say("UENG", "I'm blocked on staging DB creds, waiting for ops")
    [confirm] = await fake.wait_for(lambda: posts(slack, "CGEN", thread=ts))
    assert "blocker #1" in confirm.data["text"]
    assert '"value": "resolve 1"' in confirm.blocks_text()
    assert '"value": "dismiss 1"' in confirm.blocks_text()

    # A stakeholder files a request; the bot opens a thread and runs discovery there.
    status, _ = await slack.command("USH", "/request", "CSV export of invoices")
    assert status == 200
    [root] = await fake.wait_for(lambda: posts(slack, "CGEN", contains="What problem does this solve?"))
    assert "thread_ts" not in root.data or root.data["thread_ts"] is None
    thread = root.response["ts"]
    await slack.say("USH", "add an export button", thread=thread)
    await fake.wait_for(lambda: posts(slack, "CGEN", thread=thread, contains="sounds like a solution"))
    await slack.say("USH", "Finance retypes invoice rows by hand every Friday, three hours",
                    thread=thread)
    await fake.wait_for(lambda: posts(slack, "CGEN", thread=thread, contains="Who has this problem"))
    await slack.say("USH", "the finance team", thread=thread)
    await fake.wait_for(lambda: posts(slack, "CGEN", thread=thread, contains="How do they cope"))
    await slack.say("USH", "skip", thread=thread)
    await fake.wait_for(lambda: posts(slack, "CGEN", thread=thread, contains="How will we know"))
    await slack.say("USH", "reconciliation takes under 30 minutes", thread=thread)
    # The producer gets a DM with Accept / Decline.
    [to_producer] = await fake.wait_for(lambda: posts(slack, "DUPRO", contains="ready for your review"))
    assert '"value": "accept 1"' in to_producer.blocks_text()
    assert [c.data["users"] for c in fake.of("conversations.open")].count("UPRO") >= 1

    # The producer clicks Accept: the requester hears about it.
    status, _ = await slack.click("UPRO", "accept 1", channel="DUPRO", message_ts="1.1")
    assert status == 200
    await fake.wait_for(lambda: posts(slack, "DUSH", contains="was accepted"))
    # ...and marks it delivered: the requester is asked whether it solved the problem.
    await slack.click("UPRO", "deliver 1", channel="DUPRO", message_ts="1.1")
    [ask] = await fake.wait_for(lambda: posts(slack, "DUSH", contains="Did it solve your problem"))
    assert '"value": "solved 1"' in ask.blocks_text()
    # The requester confirms with the button.
    await slack.click("USH", "solved 1", channel="DUSH", message_ts="2.2")
    await fake.wait_for(lambda: posts(slack, "DUSH", contains="is done"))

    # /digest shows all of it.
    await slack.command("UPRO", "/digest", "week")
    [digest] = await fake.wait_for(lambda: posts(slack, "CGEN", contains="Weekly digest"))
    shown = digest.blocks_text()
    assert "Delivered and accepted" in shown and "CSV export of invoices" in shown
    assert "staging DB creds" in shown and "1 delivery accepted" in digest.data["text"]

    db: Database = slack.app.db
    async with db.uow() as uow:
        request = await uow.requests.get(T1, 1)
    assert request.state == RequestState.SOLVED
    assert request.answers["proposed_solution"] == "add an export button"
    # Nothing anyone wrote reaches the logs at INFO.
    for said in ("staging DB creds", "CSV export", "retypes invoice rows", "finance team"):
        assert said not in caplog.text
