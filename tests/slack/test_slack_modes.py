"""Socket Mode, the OAuth install flow, Web API outages and configuration errors."""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp
import pytest

from adapters.compose import open_app
from adapters.config import ConfigError, Settings
from adapters.server import serving
from adapters.slack.app import check
from bot.model import Team
from tests.slack.conftest import SlackClient, payload, slack_settings
from tests.slack.fake_slack import FakeSlack


async def test_socket_mode_acks_envelopes_and_dedupes_redeliveries(tmp_path: Path,
                                                                   fake_slack: FakeSlack) -> None:
    settings = slack_settings(tmp_path, fake_slack, slack_app_token="xapp-1-test",
                              slack_signing_secret=None)
    async with open_app(settings) as app, serving(app, host="127.0.0.1", port=0) as server:
        await fake_slack.wait_for(lambda: fake_slack.sockets)
        opened = fake_slack.of("apps.connections.open")
        assert opened and opened[0].token == "xapp-1-test"
        event = payload("message")
        await fake_slack.push({"envelope_id": "env-1", "type": "events_api", "payload": event,
                               "accepts_response_payload": False, "retry_attempt": 0,
                               "retry_reason": ""})
        await fake_slack.wait_for(lambda: [a for a in fake_slack.acks if a["envelope_id"] == "env-1"])
        [reply] = await fake_slack.wait_for(lambda: fake_slack.of("chat.postMessage"))
        assert "blocker #1" in reply.data["text"]
        # Slack redelivers the same event (it did not see our ack in time).
        await fake_slack.push({"envelope_id": "env-2", "type": "events_api", "payload": event,
                               "retry_attempt": 1, "retry_reason": "timeout"})
        await fake_slack.wait_for(lambda: [a for a in fake_slack.acks if a["envelope_id"] == "env-2"])
        # A slash command over the socket works too.
        await fake_slack.push({"envelope_id": "env-3", "type": "slash_commands", "payload": {
            "team_id": "T1", "channel_id": "CGEN", "user_id": "UENG", "command": "/blocker",
            "text": "waiting on the DPA from legal", "trigger_id": "t.sock.1",
            "response_url": "https://hooks.slack.com/x", "api_app_id": "A1"}})
        await fake_slack.wait_for(lambda: [c for c in fake_slack.of("chat.postMessage")
                                           if "blocker #2" in c.data["text"]])
        await app.relay.drain()
        assert len(fake_slack.of("chat.postMessage")) == 2
        # Without a signing secret the HTTP route is not there at all: nothing unverified.
        async with aiohttp.ClientSession() as session, \
                session.post(f"{server.url}/slack/events", data="{}") as response:
            assert response.status in (404, 405)


async def test_oauth_install_stores_the_workspace_and_its_events_are_answered_with_its_token(
        tmp_path: Path, fake_slack: FakeSlack) -> None:
    settings = slack_settings(tmp_path, fake_slack, slack_bot_token=None,
                              slack_client_id="111.222", slack_client_secret="shh")
    async with open_app(settings) as app, serving(app, host="127.0.0.1", port=0) as server:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{server.url}/slack/install", allow_redirects=False) as r:
                assert r.status == 200
                page = await r.text()
                cookie = r.headers.getall("Set-Cookie")[0]
            state = re.search(r"slack-app-oauth-state=([0-9a-f-]+)", cookie).group(1)
            assert f"state={state}" in page and "client_id=111.222" in page
            assert "chat%3Awrite" in page or "chat:write" in page
            # A callback without the browser's state cookie is refused.
            async with session.get(f"{server.url}/slack/oauth_redirect?code=c1&state={state}",
                                   headers={"Cookie": ""}) as r:
                assert r.status == 400
            async with session.get(f"{server.url}/slack/oauth_redirect?code=c1&state={state}",
                                   headers={"Cookie": f"slack-app-oauth-state={state}"}) as r:
                assert r.status == 200
            # The state is single-use.
            async with session.get(f"{server.url}/slack/oauth_redirect?code=c1&state={state}",
                                   headers={"Cookie": f"slack-app-oauth-state={state}"}) as r:
                assert r.status == 401
        access = fake_slack.of("oauth.v2.access")
        assert len(access) == 1 and access[0].data["code"] == "c1"
        slack = SlackClient(server.url, app, fake_slack)
        event = payload("message", team_id="T2", event_id="EvT2")
        event["authorizations"][0]["team_id"] = "T2"
        assert (await slack.event(event))[0] == 200
        [reply] = await fake_slack.wait_for(lambda: fake_slack.of("chat.postMessage"))
        assert reply.token == "xoxb-installed"  # the installed workspace's own token
        async with app.db.uow() as uow:
            assert len(await uow.blockers.open(Team("slack", "T2"))) == 1
            assert await uow.blockers.open(Team("slack", "T1")) == []
        # From a Slack Connect channel: the event's team_id is the sender's organisation (T9);
        # the reply still goes out with the installation's token, into the installation's data.
        shared = payload("message_slack_connect")
        shared["authorizations"][0]["team_id"] = shared["context_team_id"] = "T2"
        assert (await slack.event(shared))[0] == 200
        [_, reply] = await fake_slack.wait_for(lambda: fake_slack.of("chat.postMessage")[1:]
                                               and fake_slack.of("chat.postMessage"))
        assert reply.token == "xoxb-installed" and reply.data["channel"] == "CSHARED"
        async with app.db.uow() as uow:
            assert len(await uow.blockers.open(Team("slack", "T2"))) == 2
            assert await uow.blockers.open(Team("slack", "T9")) == []
        await slack.close()


async def test_web_api_outages_delay_but_never_lose_or_double_a_reply(
        slack: SlackClient) -> None:
    fake = slack.fake
    fake.fail("chat.postMessage", 429, count=1, retry_after="0")
    await slack.command("UENG", "/blocker", "waiting on ops")
    await fake.wait_for(lambda: [c for c in fake.of("chat.postMessage") if c.response.get("ok")])
    fake.fail("chat.postMessage", 500, count=1)
    await slack.command("UENG", "/blocker", "waiting on legal")
    await fake.wait_for(lambda: len([c for c in fake.of("chat.postMessage")
                                     if c.response.get("ok")]) == 2)
    await slack.app.relay.drain()
    delivered = [c.data["text"] for c in fake.of("chat.postMessage") if c.response.get("ok")]
    assert len(delivered) == 2 and len(set(delivered)) == 2
    assert len(fake.of("chat.postMessage")) == 4  # two failures, each retried once


async def test_a_refused_message_is_given_up_not_retried_forever(slack: SlackClient) -> None:
    from tests.slack.fake_slack import Failure

    slack.fake.failures["chat.postMessage"] = Failure(status=200, count=0)
    original = slack.fake._answer

    def refuse(method, data, token):  # type: ignore[no-untyped-def]
        if method == "chat.postMessage":
            return {"ok": False, "error": "invalid_blocks"}
        return original(method, data, token)

    slack.fake._answer = refuse  # type: ignore[method-assign]
    await slack.command("UENG", "/blocker", "waiting on ops", channel="CGONE")
    await slack.fake.wait_for(lambda: slack.fake.of("chat.postMessage"))
    await slack.app.relay.drain()
    async with slack.app.db.uow() as uow:
        assert await uow.outbox.backlog() == 0
    assert len(slack.fake.of("chat.postMessage")) == 1


@pytest.mark.parametrize(("settings", "variable"), [
    (Settings(slack_bot_token="xoxb-1"), "SLACK_SIGNING_SECRET"),
    (Settings(slack_app_token="xapp-1"), "SLACK_BOT_TOKEN"),
    (Settings(slack_client_id="1.2", slack_signing_secret="s"), "SLACK_CLIENT_SECRET"),
])
def test_missing_slack_settings_name_the_variable(settings: Settings, variable: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        check(settings)


async def test_a_message_delivered_just_before_a_crash_is_not_posted_again(
        slack: SlackClient) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from storage.tables import OutboxRow

    await slack.command("UENG", "/blocker", "waiting on ops")
    [post] = await slack.fake.wait_for(lambda: slack.fake.of("chat.postMessage"))
    assert post.data["metadata"]["event_payload"]["delivery_id"].startswith("outbox-")
    await slack.app.relay.drain()  # waits for the worker to record the send
    # The process died after Slack took the message but before it recorded "sent": the row
    # is still leased ("sending") and its lease has run out.
    async with slack.app.db.sessions() as session, session.begin():
        await session.execute(update(OutboxRow).values(
            status="sending", next_attempt_at=datetime.now(UTC) - timedelta(seconds=1)))
    await slack.app.relay.drain()
    assert len(slack.fake.of("chat.postMessage")) == 1
    assert len(slack.fake.of("conversations.history")) == 1
    async with slack.app.db.uow() as uow:
        assert await uow.outbox.backlog() == 0
    # A row whose cut-off attempt never reached Slack is sent on the retry.
    async with slack.app.db.uow() as uow:
        from bot.model import Outgoing, Where
        await uow.outbox.add(Outgoing(where=Where("slack", "T1", "CGEN"), text="second"))
        await uow.commit()
    async with slack.app.db.sessions() as session, session.begin():
        await session.execute(update(OutboxRow).where(OutboxRow.status == "pending").values(
            status="sending", next_attempt_at=datetime.now(UTC) - timedelta(seconds=1)))
    await slack.app.relay.drain()
    assert [c.data["text"] for c in slack.fake.of("chat.postMessage")][-1] == "second"


async def test_a_timed_out_post_that_slack_did_take_is_not_posted_again(
        slack: SlackClient) -> None:
    from tests.slack.fake_slack import Failure

    client = await slack.app.relay.senders["slack"].client_for("T1")
    client.timeout = 1  # the fake answers after 3 s: the bot gives up waiting first
    slack.fake.failures["chat.postMessage"] = Failure(status=200, count=1, hang=3)
    await slack.command("UENG", "/blocker", "waiting on ops")
    await slack.fake.wait_for(lambda: slack.fake.of("conversations.history"), within=30)
    await slack.app.relay.drain()
    posts = [c for c in slack.fake.of("chat.postMessage") if c.response.get("ok")]
    assert len(posts) == 1  # the retry found it in the history instead of posting twice
    async with slack.app.db.uow() as uow:
        assert await uow.outbox.backlog() == 0


async def test_a_post_cut_off_after_slack_took_it_is_not_posted_again(
        slack: SlackClient) -> None:
    """slack_sdk would retry a cut-off connection itself and post twice; the outbox's client
    leaves it to the outbox, which finds the message in the channel's history."""
    from tests.slack.fake_slack import Failure

    slack.fake.failures["chat.postMessage"] = Failure(status=200, count=1, cut=True)
    await slack.command("UENG", "/blocker", "waiting on ops")
    await slack.fake.wait_for(lambda: slack.fake.of("conversations.history"), within=30)
    await slack.app.relay.drain()
    posts = slack.fake.of("chat.postMessage")
    assert len(posts) == 1 and posts[0].response.get("ok")
    async with slack.app.db.uow() as uow:
        assert await uow.outbox.backlog() == 0


async def test_the_outbox_sender_leaves_retries_to_the_outbox(slack: SlackClient) -> None:
    """A 429 comes back at once with Slack's wait (no sleeping inside the sending loop), and
    a 500 (`internal_error`, which Slack says may have posted) as "maybe delivered"."""
    from bot.model import Outgoing, Where
    from bot.ports import MaybeDelivered, RetryLater

    sender = slack.app.relay.senders["slack"]
    message = Outgoing(where=Where("slack", "T1", "CGEN"), text="hello")
    slack.fake.fail("chat.postMessage", 429, retry_after="7")
    with pytest.raises(RetryLater) as waited:
        await sender.send(message)
    assert waited.value.after == 7
    slack.fake.fail("chat.postMessage", 500)
    with pytest.raises(MaybeDelivered):
        await sender.send(message)
    assert len(slack.fake.of("chat.postMessage")) == 2  # one call each: slack_sdk retried neither


async def test_an_answer_in_a_channel_without_the_bot_goes_to_the_person(
        slack: SlackClient) -> None:
    """Slash commands work in channels the bot was never invited to; Slack then refuses the
    bot's post there. The person gets the answer 1:1, with how to invite the bot."""
    original = slack.fake._answer

    def not_a_member(method, data, token):  # type: ignore[no-untyped-def]
        if method in ("chat.postMessage", "chat.postEphemeral") and data.get("channel") == "CNOBOT":
            return {"ok": False, "error": "not_in_channel"}
        return original(method, data, token)

    slack.fake._answer = not_a_member  # type: ignore[method-assign]
    await slack.command("UENG", "/blocker", "waiting on ops", channel="CNOBOT")
    await slack.fake.wait_for(lambda: [c for c in slack.fake.of("chat.postMessage")
                                       if c.response.get("ok")])
    await slack.app.relay.drain()
    [answer] = [c for c in slack.fake.of("chat.postMessage") if c.response.get("ok")]
    assert answer.data["channel"] == "DUENG"  # the person's DM with the bot
    assert "/invite @producer-bot" in answer.data["text"] and "waiting on ops" in str(
        answer.data["blocks"])
    async with slack.app.db.uow() as uow:
        assert await uow.outbox.backlog() == 0
        assert [b.text for b in await uow.blockers.open(Team("slack", "T1"))] == ["waiting on ops"]


@pytest.mark.parametrize("private", [True, False])
async def test_an_answer_that_went_one_to_one_is_found_there_before_a_resend(
        slack: SlackClient, private: bool) -> None:
    """If the 1:1 post's outcome is unknown, the next attempt must find it in the DM rather
    than post it again (an ephemeral leaves no history where it was shown)."""
    from bot.model import Outgoing, Where

    original = slack.fake._answer

    def not_a_member(method, data, token):  # type: ignore[no-untyped-def]
        if data.get("channel") == "CNOBOT":
            return {"ok": False, "error": "channel_not_found"}
        return original(method, data, token)

    slack.fake._answer = not_a_member  # type: ignore[method-assign]
    sender = slack.app.relay.senders["slack"]
    person = {"private_to": "UENG"} if private else {"reply_to": "UENG"}
    message = Outgoing(where=Where("slack", "T1", "CNOBOT"), text="tracked", delivery_id="d-1",
                       **person)  # type: ignore[arg-type]
    assert await sender.find_sent(message) is None  # not sent yet: nowhere to be found
    sent = await sender.send(message)
    assert sent.channel == "DUENG"
    found = await sender.find_sent(message)
    assert found is not None and found.channel == "DUENG"
