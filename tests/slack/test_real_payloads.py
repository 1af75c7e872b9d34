"""What real Slack sends and what real attackers tried (issue #14), replayed through the real
endpoint: App Home and modal buttons, Slack Connect, Slack's markup echoed back, edits and
deletions, slow Web API calls before an ack, and OAuth states piling up.

The payloads are the recorded shapes in payloads/ (see payloads/README.md for their sources).
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore
from sqlalchemy import func, insert, select

from adapters.compose import open_app
from adapters.server import serving
from adapters.slack import listeners, oauth
from bot.model import BlockerStatus, RequestState, Team
from storage.tables import InboxRow
from tests.slack.conftest import SlackClient, make_producer, payload, slack_settings
from tests.slack.fake_slack import Failure, FakeSlack

T1 = Team("slack", "T1")
# What must never leave the bot in Slack: a link, a broadcast or a user group someone typed.
LIVE_MARKUP = re.compile(r"<(?:https?:|mailto:|!)", re.IGNORECASE)


async def inbox(slack: SlackClient) -> list[InboxRow]:
    async with slack.app.db.sessions() as session:
        return list((await session.execute(select(InboxRow).order_by(InboxRow.id))).scalars())


def sent(slack: SlackClient, *methods: str) -> str:
    """Everything the bot sent with these methods, as a reader's client receives it."""
    calls = [c for c in slack.fake.calls if c.method in methods]
    return "\n".join(json.dumps(c.data, ensure_ascii=False) + c.blocks_text() for c in calls)


# ---- 1. App Home and modal buttons ---------------------------------------------------------


async def test_a_home_tab_button_is_answered_one_to_one_and_the_home_is_redrawn(
        slack: SlackClient) -> None:
    await slack.command("UENG", "/blocker", "waiting for the vendor sandbox")
    await slack.fake.wait_for(lambda: slack.fake.of("chat.postMessage"))
    await slack.app.relay.drain()
    status, body = await slack.interact(payload("block_actions_home"))
    assert status == 200, body
    [answer] = await slack.fake.wait_for(lambda: [
        c for c in slack.fake.of("chat.postMessage") if "resolved" in c.data["text"]])
    assert answer.data["channel"] == "DUENG"  # the person's 1:1 with the bot, opened for it
    assert [c.data["users"] for c in slack.fake.of("conversations.open")] == ["UENG"]
    [home] = await slack.fake.wait_for(lambda: slack.fake.of("views.publish"))
    assert home.data["user_id"] == "UENG"
    assert "waiting for the vendor sandbox" not in home.blocks_text()  # the new state
    async with slack.app.db.uow() as uow:
        assert (await uow.blockers.get(T1, 1)).status == BlockerStatus.RESOLVED
    # Slack retries nothing here, but a replayed click changes nothing either.
    assert (await slack.interact(payload("block_actions_home")))[0] == 200
    await slack.app.relay.drain()
    assert len(slack.fake.of("views.publish")) == 1


async def test_a_producer_accepts_from_the_home_tab(slack: SlackClient) -> None:
    await make_producer(slack)
    await slack.interact(payload("view_submission"))  # USH files request #1, ready for review
    await slack.fake.wait_for(lambda: slack.fake.of("chat.postMessage"))
    click = payload("block_actions_home")
    click["user"].update(id="UPRO", username="pat", name="pat")
    click["actions"][0].update(value="accept 1", text={"type": "plain_text", "text": "Accept #1"})
    assert (await slack.interact(click))[0] == 200
    await slack.fake.wait_for(lambda: [c for c in slack.fake.of("views.publish")
                                       if c.data["user_id"] == "UPRO"])
    async with slack.app.db.uow() as uow:
        assert (await uow.requests.get(T1, 1)).state == RequestState.ACCEPTED


async def test_a_button_inside_a_modal_is_answered_where_the_modal_was_opened(
        slack: SlackClient) -> None:
    status, body = await slack.interact(payload("block_actions_modal"))
    assert status == 200, body
    [answer] = await slack.fake.wait_for(lambda: slack.fake.of("chat.postEphemeral"))
    assert answer.data["channel"] == "CGEN" and answer.data["user"] == "UPRO"
    assert answer.data["thread_ts"] == "1700000000.000001"
    assert "I keep track of blockers" in answer.data["text"]


async def test_a_reason_button_on_the_home_tab_opens_its_modal(slack: SlackClient) -> None:
    click = payload("block_actions_home")
    click["actions"][0].update(action_id="reason:0", value="decline 1")
    assert (await slack.interact(click))[0] == 200
    [opened] = slack.fake.of("views.open")
    view = json.loads(opened.data["view"]) if isinstance(opened.data["view"], str) \
        else opened.data["view"]
    metadata = json.loads(view["private_metadata"])
    assert metadata["direct"] is True and metadata["channel"] == "UENG"


# ---- 2. Slack Connect ------------------------------------------------------------------------


async def test_a_slack_connect_message_belongs_to_the_installation(slack: SlackClient) -> None:
    assert (await slack.event(payload("message_slack_connect")))[0] == 200
    [reply] = await slack.fake.wait_for(lambda: slack.fake.of("chat.postMessage"))
    assert reply.data["channel"] == "CSHARED" and "blocker #1" in reply.data["text"]
    [row] = await inbox(slack)
    assert row.tenant == "T1" and row.payload["outsider"] is True
    async with slack.app.db.uow() as uow:
        assert [b.reporter for b in await uow.blockers.open(T1)] == ["UEXT"]
        assert await uow.blockers.open(Team("slack", "T9")) == []


async def test_a_colleagues_message_in_a_shared_channel_is_no_outsiders(
        slack: SlackClient) -> None:
    body = payload("message_slack_connect")
    body["event"].update(user="UENG", team="T1", user_team="T1", source_team="T1")
    body["team_id"] = "T1"
    assert (await slack.event(body))[0] == 200
    [row] = await inbox(slack)
    assert row.tenant == "T1" and row.payload["outsider"] is False


async def test_slack_connect_clicks_and_forms_belong_to_the_installation(
        slack: SlackClient) -> None:
    assert (await slack.interact(payload("block_actions_slack_connect")))[0] == 200
    assert (await slack.interact(payload("view_submission_slack_connect")))[0] == 200
    click, form = await inbox(slack)
    assert (click.tenant, click.payload["outsider"]) == ("T1", True)
    assert (form.tenant, form.payload["outsider"]) == ("T1", True)
    await slack.fake.wait_for(lambda: [c for c in slack.fake.of("chat.postMessage")
                                       if c.data["channel"] == "CSHARED"])
    async with slack.app.db.uow() as uow:
        assert (await uow.requests.get(T1, 1)).title == "Webhook retries"
        assert await uow.requests.get(Team("slack", "T9"), 1) is None


# (In OAuth mode the reply goes out with the installation's token: test_slack_modes.py.)


# ---- 3. Slack's markup echoed back ----------------------------------------------------------


async def test_links_broadcasts_and_escapes_someone_typed_are_echoed_as_text(
        slack: SlackClient) -> None:
    assert (await slack.event(payload("message_markup")))[0] == 200
    await slack.fake.wait_for(lambda: slack.fake.of("chat.postMessage"))
    async with slack.app.db.uow() as uow:
        [blocker] = await uow.blockers.open(T1)
    # Stored as the person read it: the link's address beside its label, the real mention
    # kept (the core's neutral token), the broadcasts and the group as words.
    assert blocker.text.startswith("Approve request #1 (https://evil.example/login) for <@UCEO> "
                                   "@group @here @oncall in #general <!channel> & ")
    assert "<@UCEO>" not in blocker.text.split("&", 1)[1]  # typed, not a mention
    await slack.command("UENG", "/digest", "")
    await slack.fake.wait_for(lambda: [c for c in slack.fake.of("chat.postMessage")
                                       if "digest" in c.data["text"].lower()])
    await slack.app.relay.drain()
    out = sent(slack, "chat.postMessage", "chat.postEphemeral")
    assert not LIVE_MARKUP.search(out), LIVE_MARKUP.findall(out)
    assert "Approve request #1 (https://evil.example/login)" in out
    assert "&lt;!channel&gt;" in out and "&amp;" in out
    assert out.count("<@UCEO>") == out.count("Approve request")  # only the real mention lives


async def test_a_slash_command_with_escaped_markup_is_readable(slack: SlackClient) -> None:
    await slack.command("UENG", "/blocker",
                        "<!subteam^s0abc|@oncall> paged, see <https://evil.example|the runbook> "
                        "&lt;b&gt;now&lt;/b&gt;")
    [post] = await slack.fake.wait_for(lambda: slack.fake.of("chat.postMessage"))
    async with slack.app.db.uow() as uow:
        [blocker] = await uow.blockers.open(T1)
    assert blocker.text == "@oncall paged, see the runbook (https://evil.example) <b>now</b>"
    out = post.data["text"] + post.blocks_text()
    assert not LIVE_MARKUP.search(out) and "&lt;b&gt;now&lt;/b&gt;" in out


async def test_a_mention_typed_into_a_form_is_not_made_live(slack: SlackClient) -> None:
    form = payload("view_submission")
    form["view"]["state"]["values"]["problem"]["value"]["value"] = "<@UCEO> wants <#C0123> <!here>"
    assert (await slack.interact(form))[0] == 200
    await slack.fake.wait_for(lambda: slack.fake.of("chat.postMessage"))
    await slack.app.relay.drain()
    out = sent(slack, "chat.postMessage", "chat.postEphemeral")
    assert "<@UCEO>" not in out and "<#C0123>" not in out and not LIVE_MARKUP.search(out)
    assert "&lt;\u200c@UCEO&gt; wants &lt;\u200c#C0123&gt; &lt;!here&gt;" in out


# ---- 4. Edits and deletions --------------------------------------------------------------------


async def test_edits_and_deletions_reach_the_inbox_and_unchanged_edits_do_not(
        slack: SlackClient) -> None:
    for name in ("message_changed", "message_deleted", "message_changed_tombstone",
                 "message_changed_unfurl"):
        assert (await slack.event(payload(name)))[0] == 200, name
    bot_edit = payload("message_changed", event_id="EvBotEdit")
    bot_edit["event"]["message"].update(user="UBOT", bot_id="BBOT")
    assert (await slack.event(bot_edit))[0] == 200
    await slack.app.relay.drain()
    rows = [(r.event_id, r.payload["kind"], r.payload["message_id"], r.payload["user"],
             r.payload["text"]) for r in await inbox(slack)]
    assert rows == [
        ("Ev0002", "edit", "1700000100.000100", "UENG", "blocked on staging creds (edited)"),
        ("Ev0007", "delete", "1700000100.000100", "UENG", ""),
        ("Ev0009", "delete", "1700000120.000120", "UENG", ""),
    ]
    assert slack.fake.of("chat.postMessage") == [] and slack.fake.of("chat.postEphemeral") == []


# ---- 6. Nothing slow before the ack ---------------------------------------------------------------


@pytest.fixture
def quick_acks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(listeners, "BEFORE_ACK_SECONDS", 0.3)


@pytest.mark.usefixtures("quick_acks")
async def test_a_slow_views_open_does_not_hold_the_ack_of_a_bare_request(
        slack: SlackClient) -> None:
    slack.fake.failures["views.open"] = Failure(status=200, count=1, hang=30)
    status, _ = await asyncio.wait_for(slack.command("USH", "/request", ""), 10)
    assert status == 200
    [hint] = await slack.fake.wait_for(lambda: slack.fake.of("chat.postEphemeral"))
    assert "What would you like?" in hint.data["text"] and "/request" in hint.data["text"]


async def test_a_rate_limited_views_open_fails_fast_and_still_answers(
        slack: SlackClient) -> None:
    slack.fake.fail("views.open", 429, count=5, retry_after="5")
    status, _ = await asyncio.wait_for(slack.command("USH", "/request", ""), 4)
    assert status == 200
    assert len(slack.fake.of("views.open")) == 1  # not retried (slack_sdk would wait 5 s twice)
    await slack.fake.wait_for(lambda: [c for c in slack.fake.of("chat.postEphemeral")
                                       if "What would you like?" in c.data["text"]])


@pytest.mark.usefixtures("quick_acks")
async def test_a_slow_views_open_does_not_hold_the_ack_of_a_reason_button(
        slack: SlackClient) -> None:
    await make_producer(slack)
    slack.fake.failures["views.open"] = Failure(status=200, count=1, hang=30)
    status, _ = await asyncio.wait_for(
        slack.click("UPRO", "decline 1", action_id="reason:1"), 10)
    assert status == 200
    # The person is told what to do instead of being left with a spinner.
    await slack.fake.wait_for(lambda: [c for c in slack.fake.of("chat.postEphemeral")
                                       if c.data["user"] == "UPRO"])


# ---- 7. OAuth states ------------------------------------------------------------------------------


async def test_oauth_states_expire_and_are_capped(tmp_path: Path, fake_slack: FakeSlack,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(oauth, "MAX_LIVE_STATES", 5)
    settings = slack_settings(tmp_path, fake_slack, slack_bot_token=None,
                              slack_client_id="111.222", slack_client_secret="shh")
    async with open_app(settings) as app, serving(app, host="127.0.0.1", port=0) as server:
        store = AsyncSQLAlchemyOAuthStateStore(expiration_seconds=600, engine=app.db.engine)
        table = store.oauth_states  # slack_sdk's own table, which serving() created
        stale = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=1)
        async with store.engine.begin() as conn:
            await conn.execute(insert(table), [{"state": f"old-{i}", "expire_at": stale}
                                               for i in range(50)])

        async def rows() -> int:
            async with store.engine.connect() as conn:
                return (await conn.execute(select(func.count()).select_from(table))).scalar_one()

        async with aiohttp.ClientSession() as session:
            statuses = []
            for _ in range(7):
                async with session.get(f"{server.url}/slack/install",
                                       allow_redirects=False) as r:
                    statuses.append(r.status)
                    page = await r.text()
        assert statuses == [200] * 5 + [503] * 2
        assert "try again" in page.lower() and r.headers.get("Retry-After")
        assert await rows() == 5  # the expired ones went when new ones were issued


async def test_replies_find_the_token_of_org_wide_and_grid_workspace_installs(
        tmp_path: Path) -> None:
    """An org-wide install's tenant is its organisation (as Bolt reads is_enterprise_install);
    a workspace of an Enterprise Grid organisation is filed under both ids by slack_sdk."""
    from slack_sdk.oauth.installation_store import Installation
    from sqlalchemy.ext.asyncio import create_async_engine

    from adapters.config import Settings

    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'installs.db'}")
    installs = oauth.installations(Settings(slack_client_id="111.222",
                                            slack_client_secret="shh"), engine)
    assert installs is not None
    await installs.create_tables()
    for enterprise, team, token, org_wide in (("E1", None, "xoxb-org", True),
                                              ("E2", "T5", "xoxb-grid-workspace", False),
                                              (None, "T6", "xoxb-plain", False)):
        await installs.installation_store.async_save(Installation(
            app_id="A1", enterprise_id=enterprise, team_id=team, user_id="UINSTALLER",
            bot_token=token, bot_id="BBOT", bot_user_id="UBOT",
            is_enterprise_install=org_wide))
    for tenant, token in (("E1", "xoxb-org"), ("T5", "xoxb-grid-workspace"), ("T6", "xoxb-plain")):
        assert (await installs.client_for(tenant)).token == token
    await engine.dispose()


async def test_a_modal_cannot_send_its_answer_to_someone_elses_one_to_one(
        slack: SlackClient) -> None:
    """A person's id as the place is their own 1:1 only: never another's, whatever a (forged)
    modal metadata says."""
    form = payload("view_submission")
    form["view"]["private_metadata"] = json.dumps({"channel": "UCEO", "direct": True})
    assert (await slack.interact(form))[0] == 200
    click = payload("block_actions_modal")
    click["view"]["private_metadata"] = json.dumps({"channel": "UCEO", "direct": True})
    assert (await slack.interact(click))[0] == 200
    await slack.app.relay.drain()
    assert {c.data["users"] for c in slack.fake.of("conversations.open")} <= {"USH", "UPRO"}
    assert [r.payload["where"]["channel"] for r in await inbox(slack)] == ["USH", "UPRO"]
