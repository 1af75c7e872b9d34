"""Slack requests one by one: verification, dedupe, commands, buttons, modals, shortcuts, Home."""

from __future__ import annotations

import json
import time

from sqlalchemy import func, select

from bot.model import BlockerStatus, RequestState, Team
from storage.tables import InboxRow
from tests.slack.conftest import SlackClient, make_producer, payload

T1 = Team("slack", "T1")


async def inbox_count(slack: SlackClient) -> int:
    async with slack.app.db.sessions() as session:
        return (await session.execute(select(func.count()).select_from(InboxRow))).scalar_one()


# ---- verification -------------------------------------------------------------------------


async def test_url_verification_answers_the_challenge(slack: SlackClient) -> None:
    body = json.dumps({"token": "x", "challenge": "c-123", "type": "url_verification"})
    status, text = await slack.post(body, "application/json")
    assert status == 200 and json.loads(text) == {"challenge": "c-123"}


async def test_forged_stale_and_unsigned_requests_are_refused_and_store_nothing(slack: SlackClient) -> None:
    body = json.dumps(payload("message"))
    forged = slack.signed(body, "application/json")
    forged["X-Slack-Signature"] = "v0=" + "0" * 64
    # Well past Slack's five minutes either way: a second's margin made the future one valid
    # by the time a loaded machine sent it.
    stale = slack.signed(body, "application/json", timestamp=int(time.time()) - 400)
    future = slack.signed(body, "application/json", timestamp=int(time.time()) + 400)
    garbage_ts = {**slack.signed(body, "application/json"), "X-Slack-Request-Timestamp": "soon"}
    unsigned = {"Content-Type": "application/json"}
    for headers in (forged, stale, future, garbage_ts, unsigned):
        status, _ = await slack.post(body, "application/json", headers)
        assert status == 401
    # A replay of a correctly signed body under another body's signature fails too.
    other = json.dumps(payload("message", event_id="EvOther"))
    status, _ = await slack.post(other, "application/json", slack.signed(body, "application/json"))
    assert status == 401
    assert await inbox_count(slack) == 0
    assert slack.fake.of("chat.postMessage") == []


async def test_malformed_bodies_get_a_4xx_and_store_nothing(slack: SlackClient) -> None:
    for body, content_type in (("{not json", "application/json"),
                               ("[1, 2, 3]", "application/json"),
                               ("payload=%7Bbroken", "application/x-www-form-urlencoded"),
                               ("command=%2Frequest", "application/x-www-form-urlencoded")):
        status, _ = await slack.post(body, content_type)
        assert 400 <= status < 500, (body, status)
    # An event missing the fields the bot needs.
    broken = payload("message")
    del broken["event"]["channel"]
    status, _ = await slack.event(broken)
    assert status == 400
    assert await inbox_count(slack) == 0


# ---- events --------------------------------------------------------------------------------


async def test_a_retried_event_produces_nothing_new(slack: SlackClient) -> None:
    first = payload("message")
    assert (await slack.event(first))[0] == 200
    await slack.fake.wait_for(lambda: slack.fake.of("chat.postMessage"))
    for retry in (1, 2, 3):
        assert (await slack.event(first, retry_num=retry))[0] == 200
    # A *first* delivery that happens to carry a retry header is still processed.
    second = payload("message", event_id="Ev0099")
    second["event"].update(ts="1700000999.000999", text="stuck on the flaky iOS signing step")
    assert (await slack.event(second, retry_num=0))[0] == 200
    await slack.fake.wait_for(lambda: len(slack.fake.of("chat.postMessage")) == 2)
    await slack.app.relay.drain()
    assert len(slack.fake.of("chat.postMessage")) == 2
    assert await inbox_count(slack) == 2
    async with slack.app.db.uow() as uow:
        assert [b.number for b in await uow.blockers.open(T1)] == [1, 2]


async def test_joins_bots_and_unknown_events_are_acknowledged_and_ignored(slack: SlackClient) -> None:
    # (Edits and deletions reach the inbox: tests/slack/test_real_payloads.py.)
    for name in ("bot_message", "channel_join", "reaction_added"):
        status, _ = await slack.event(payload(name))
        assert status == 200, name
    own = payload("message", event_id="EvOwn")
    own["event"]["user"] = "UBOT"  # the bot's own message
    assert (await slack.event(own))[0] == 200
    await slack.app.relay.drain()
    assert await inbox_count(slack) == 0
    assert slack.fake.of("chat.postMessage") == []


async def test_a_40000_character_message_is_not_tracked(slack: SlackClient) -> None:
    long = payload("message", event_id="EvLong")
    long["event"]["text"] = "blocked on " + "x" * 40_000
    assert (await slack.event(long))[0] == 200
    dm = payload("message", event_id="EvLongDm")
    dm["event"].update(text="blocker " + "y" * 40_000, channel="DUENG", channel_type="im")
    assert (await slack.event(dm))[0] == 200
    [reply] = await slack.fake.wait_for(lambda: slack.fake.of("chat.postMessage"))
    assert "Nothing was recorded" in reply.data["text"] and reply.data["channel"] == "DUENG"
    async with slack.app.db.uow() as uow:
        assert await uow.blockers.open(T1) == []


async def test_broadcast_mentions_are_not_echoed_as_pings(slack: SlackClient) -> None:
    await slack.command("UENG", "/blocker",
                        "<!channel> prod is down, waiting for <!here> <!subteam^S1|@oncall>")
    [post] = await slack.fake.wait_for(lambda: slack.fake.of("chat.postMessage"))
    sent = post.data["text"] + post.blocks_text()
    assert "<!channel>" not in sent and "<!here>" not in sent and "<!subteam" not in sent
    assert "@\u200bchannel" in sent or "@\\u200bchannel" in sent


async def test_app_home_shows_the_users_items(slack: SlackClient) -> None:
    await slack.command("UENG", "/blocker", "waiting for the vendor sandbox")
    await slack.fake.wait_for(lambda: slack.fake.of("chat.postMessage"))
    assert (await slack.event(payload("app_home_opened")))[0] == 200
    [publish] = await slack.fake.wait_for(lambda: slack.fake.of("views.publish"))
    assert publish.data["user_id"] == "UENG"
    view = publish.data["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert view["type"] == "home"
    assert "waiting for the vendor sandbox" in publish.blocks_text()


# ---- commands, buttons, modals, shortcuts ----------------------------------------------------


async def test_every_slash_command_is_acknowledged_and_answered(slack: SlackClient) -> None:
    await make_producer(slack)
    for command, text, expect in (("/producer", "help", "I keep track of blockers"),
                                  ("/standup", "merged the importer", "your update is in"),
                                  ("/blocker", "need legal sign-off before I can publish",
                                   "Tracking blocker #1"),
                                  ("/digest", "", "Weekly digest"),
                                  ("/producer", "roles", "Roles in this team"),
                                  ("/producer", "frobnicate", "don't know the command")):
        status, _ = await slack.command("UPRO", command, text)
        assert status == 200, command
        await slack.fake.wait_for(lambda e=expect: [
            c for c in slack.fake.calls
            if c.method.startswith("chat.post") and e in c.data.get("text", "")])
    help_call = next(c for c in slack.fake.of("chat.postEphemeral")
                     if "I keep track" in c.data["text"])
    assert help_call.data["user"] == "UPRO"
    assert "/producer resolve" in help_call.blocks_text()  # Slack-style usage


async def test_request_without_a_title_opens_the_form_and_the_form_files_it(slack: SlackClient) -> None:
    await make_producer(slack)
    status, _ = await slack.command("USH", "/request", "")
    assert status == 200
    [opened] = await slack.fake.wait_for(lambda: slack.fake.of("views.open"))
    view = json.loads(opened.data["view"]) if isinstance(opened.data["view"], str) else opened.data["view"]
    assert view["callback_id"] == "request_form"
    assert [b["block_id"] for b in view["blocks"]] == ["title", "problem", "who", "coping", "success"]
    # Submitting without a problem is refused inside the modal.
    empty = payload("view_submission")
    empty["view"]["state"]["values"]["problem"]["value"]["value"] = "  "
    status, text = await slack.interact(empty)
    assert status == 200 and json.loads(text)["response_action"] == "errors"
    status, text = await slack.interact(payload("view_submission"))
    assert status == 200 and text == ""
    await slack.fake.wait_for(lambda: [c for c in slack.fake.of("chat.postMessage")
                                       if "ready for your review" in c.data["text"]])
    async with slack.app.db.uow() as uow:
        request = await uow.requests.get(T1, 1)
    assert request.state == RequestState.READY_FOR_REVIEW and request.title == "Invoice CSV export"
    assert request.answers == {"problem": "Finance retypes invoice rows every Friday, three hours",
                               "who": "the finance team", "success": "under 30 minutes"}


async def test_non_producers_get_an_ephemeral_explanation(slack: SlackClient) -> None:
    await make_producer(slack)
    await slack.command("USH", "/request", "dark mode")
    status, _ = await slack.click("UENG", "accept 1")
    assert status == 200
    [eph] = await slack.fake.wait_for(lambda: [c for c in slack.fake.of("chat.postEphemeral")
                                               if "Only producers" in c.data["text"]])
    assert eph.data["user"] == "UENG"


async def test_decline_asks_for_a_reason_in_a_modal(slack: SlackClient) -> None:
    await make_producer(slack)
    await slack.command("USH", "/request", "dark mode")
    await slack.say("USH", "night-shift support staff get eye strain", channel="CGEN",
                    thread=(await slack.fake.wait_for(lambda: slack.fake.of("chat.postMessage")))[0]
                    .response["ts"])
    status, _ = await slack.click("UPRO", "decline 1", action_id="reason:1")
    assert status == 200
    [opened] = await slack.fake.wait_for(lambda: slack.fake.of("views.open"))
    view = json.loads(opened.data["view"]) if isinstance(opened.data["view"], str) else opened.data["view"]
    submission = payload("view_submission")
    submission["user"]["id"] = "UPRO"
    submission["view"].update(id="V0002", callback_id="reason",
                              private_metadata=view["private_metadata"],
                              state={"values": {"reason": {"value": {
                                  "type": "plain_text_input", "value": "OS setting covers it"}}}})
    status, _ = await slack.interact(submission)
    assert status == 200
    await slack.fake.wait_for(lambda: [c for c in slack.fake.of("chat.postMessage")
                                       if "declined: OS setting covers it" in c.data["text"]])
    async with slack.app.db.uow() as uow:
        assert (await uow.requests.get(T1, 1)).decision_reason == "OS setting covers it"


async def test_resolve_button_and_track_as_blocker_shortcut(slack: SlackClient) -> None:
    status, _ = await slack.interact(payload("message_action"))
    assert status == 200
    [tracked] = await slack.fake.wait_for(lambda: slack.fake.of("chat.postMessage"))
    assert tracked.data["thread_ts"] == "1700000150.000150"  # threaded under the message
    assert "payments sandbox" in tracked.blocks_text()
    await slack.click("UPRO", "resolve 1", message_ts=tracked.response["ts"],
                      thread_ts="1700000150.000150")
    await slack.fake.wait_for(lambda: [c for c in slack.fake.of("chat.postMessage")
                                       if "resolved" in c.data["text"]])
    async with slack.app.db.uow() as uow:
        assert (await uow.blockers.get(T1, 1)).status == BlockerStatus.RESOLVED


async def test_file_as_request_shortcut_starts_discovery(slack: SlackClient) -> None:
    body = payload("message_action", callback_id="file_request")
    body["message"]["text"] = "customers keep asking whether we can export invoices to CSV\nthanks"
    assert (await slack.interact(body))[0] == 200
    [root] = await slack.fake.wait_for(lambda: slack.fake.of("chat.postMessage"))
    assert "What problem does this solve?" in root.data["text"]
    async with slack.app.db.uow() as uow:
        request = await uow.requests.get(T1, 1)
    assert request.title == "customers keep asking whether we can export invoices to CSV"


async def test_a_long_digest_stays_within_block_kit_limits(slack: SlackClient) -> None:
    slack.app.relay.senders["slack"].pace = 0  # 120 replies in one channel: pacing is not the point
    for n in range(120):
        await slack.command("UENG", "/blocker", f"blocker number {n} " + "detail " * 60)
    await slack.app.relay.drain()
    await slack.command("UENG", "/digest", "")
    [digest] = await slack.fake.wait_for(lambda: [c for c in slack.fake.of("chat.postMessage")
                                                  if "Weekly digest" in c.data["text"]])
    blocks = json.loads(digest.data["blocks"]) if isinstance(digest.data["blocks"], str) \
        else digest.data["blocks"]
    assert len(blocks) <= 50
    shown = json.dumps(blocks)
    assert "blocker number 14 " in shown and "blocker number 15 " not in shown
    assert "and 105 more" in shown  # what did not fit is said, not silently dropped


def test_block_kit_rendering_truncates_with_a_more_line_at_50_blocks() -> None:
    from adapters.slack.render import blocks_for
    from bot.model import Action, Outgoing, Section, Where

    out = Outgoing(where=Where("slack", "T1", "C1"), text="big",
                   sections=tuple(Section("x" * 2500, title=f"s{i}") for i in range(80)),
                   actions=(Action("Go", "digest"),))
    blocks = [b.to_dict() for b in blocks_for(out)]
    assert len(blocks) == 50
    assert blocks[-1]["type"] == "actions"  # the buttons survive truncation
    assert "and 33 more blocks not shown" in json.dumps(blocks[-2])


async def test_a_command_mentioning_payload_is_not_lost(slack: SlackClient) -> None:
    status, _ = await slack.command("USH", "/request", "payload export for the API")
    assert status == 200
    [root] = await slack.fake.wait_for(lambda: slack.fake.of("chat.postMessage"))
    assert "payload export for the API" in root.data["text"]


async def test_members_time_zones_are_learned_from_users_info(slack: SlackClient) -> None:
    await slack.command("UENG", "/standup", "merged the importer")
    await slack.fake.wait_for(lambda: slack.fake.of("users.info"))

    async def learned() -> bool:
        async with slack.app.db.uow() as uow:
            member = await uow.members.get(T1, "UENG")
        return member is not None and member.tz == "Europe/Berlin"

    for _ in range(200):  # the refresh runs after the ack; poll the database, bounded
        if await learned():
            break
        await slack.app.relay.drain()
    assert await learned()
    await slack.command("UENG", "/standup", "again")  # once per person: no second lookup
    await slack.fake.wait_for(lambda: len(slack.fake.of("chat.postEphemeral")) == 2)
    assert len(slack.fake.of("users.info")) == 1
