"""TeamsSender against the fake connector: where each kind of message goes, proactive 1:1 chats,
and how the connector's refusals map to retries and give-ups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from adapters.teams.sender import TransientError, retry_after
from bot.model import Action, Outgoing, Where
from bot.ports import RetryLater, Undeliverable
from tests.teams.activities import CHANNEL, ERIN, PAT, SAM, TENANT
from tests.teams.conftest import Stack


def where(channel: str = CHANNEL, thread: str | None = None) -> Where:
    return Where("teams", TENANT, channel, thread)


async def test_a_channel_message_starts_a_post_or_answers_in_a_chain(stack: Stack) -> None:
    await stack.say(stack.acts.installed(PAT, "channel"))
    sent = await stack.teams.sender.send(Outgoing(where(), "top level"))
    assert stack.connector.calls[-1].path == f"/v3/conversations/{CHANNEL}/activities"
    assert sent.message_id == stack.connector.calls[-1].returned and sent.channel == CHANNEL
    await stack.teams.sender.send(Outgoing(where(thread="1763283699999"), "in the chain"))
    assert stack.connector.calls[-1].path == (
        f"/v3/conversations/{CHANNEL};messageid=1763283699999/activities")


async def test_an_unknown_conversation_is_undeliverable(stack: Stack) -> None:
    with pytest.raises(Undeliverable, match="added there first"):
        await stack.teams.sender.send(Outgoing(where("19:never-seen@thread.tacv2"), "hello"))


async def test_to_user_opens_a_1_1_chat_once_and_reuses_it(stack: Stack) -> None:
    # Sam spoke in the channel only: the bot knows his Teams account but has no 1:1 chat.
    await stack.say(stack.acts.channel(SAM, "help"))
    mark = stack.connector.mark()
    await stack.teams.sender.send(Outgoing(where(), "psst", to_user=SAM.aad))
    create, post = stack.connector.calls[mark:]
    assert create.method == "POST" and create.path == "/v3/conversations"
    assert create.body["members"] == [{"id": SAM.account["id"]}]
    assert create.body["channelData"] == {"tenant": {"id": TENANT}} and create.body["isGroup"] is False
    assert post.conversation.startswith("a:created-")
    mark = stack.connector.mark()
    await stack.teams.sender.send(Outgoing(where(), "again", to_user=SAM.aad))
    (again,) = stack.connector.calls[mark:]
    assert again.conversation == post.conversation


async def test_to_user_never_seen_uses_the_entra_id_and_any_conversation_of_the_tenant(
        stack: Stack) -> None:
    await stack.say(stack.acts.channel(SAM, "help"))
    mark = stack.connector.mark()
    await stack.teams.sender.send(Outgoing(where(), "welcome", to_user="aad-of-someone-new"))
    create = stack.connector.calls[mark]
    assert create.path == "/v3/conversations"
    assert create.body["members"] == [{"id": "aad-of-someone-new"}]


async def test_to_user_in_an_unknown_tenant_is_undeliverable(stack: Stack) -> None:
    with pytest.raises(Undeliverable, match="nobody there has talked to the bot"):
        await stack.teams.sender.send(Outgoing(where(), "hello", to_user=ERIN.aad))


async def test_a_1_1_chat_that_cannot_be_opened_is_undeliverable(stack: Stack) -> None:
    await stack.say(stack.acts.channel(SAM, "help"))
    stack.connector.fail(403, method="POST", path_contains="/v3/conversations",
                         code="BotNotInConversationRoster")
    with pytest.raises(Undeliverable, match="must be installed"):
        await stack.teams.sender.send(Outgoing(where(), "hello", to_user=SAM.aad))


async def test_private_answers_go_to_the_1_1_chat_when_there_is_one(stack: Stack) -> None:
    await stack.say(stack.acts.installed(PAT, "channel"))
    await stack.say(stack.acts.installed(ERIN, "personal"))
    await stack.teams.sender.send(Outgoing(where(thread="1763283699999"), "only for Erin",
                                           private_to=ERIN.aad))
    assert stack.connector.calls[-1].conversation == ERIN.personal
    # Sam has no 1:1 chat: the answer stays where he asked.
    await stack.say(stack.acts.channel(SAM, "help"))
    await stack.teams.sender.send(Outgoing(where(thread="1763283699999"), "for Sam",
                                           private_to=SAM.aad))
    assert stack.connector.calls[-1].path == (
        f"/v3/conversations/{CHANNEL};messageid=1763283699999/activities")


async def test_home_overview_is_a_1_1_message(stack: Stack) -> None:
    await stack.say(stack.acts.installed(ERIN, "personal"))
    sent = await stack.say(stack.acts.channel(ERIN, "home"))
    assert len(sent) == 1 and sent[0].conversation == ERIN.personal
    assert "Your open blockers" in sent[0].text


@pytest.mark.parametrize("status, error", [
    (429, RetryLater), (500, TransientError), (502, TransientError), (503, TransientError),
    (401, Undeliverable), (403, Undeliverable), (404, Undeliverable), (413, Undeliverable),
])
async def test_connector_errors_map_to_retry_or_give_up(stack: Stack, status: int,
                                                        error: type[Exception]) -> None:
    await stack.say(stack.acts.installed(PAT, "channel"))
    stack.connector.fail(status, headers={"Retry-After": "7"} if status == 429 else None)
    with pytest.raises(error) as raised:
        await stack.teams.sender.send(Outgoing(where(), "hello"))
    if status == 429:
        assert raised.value.after == 7.0  # type: ignore[attr-defined]


async def test_throttling_through_the_outbox_waits_for_retry_after(stack: Stack) -> None:
    await stack.say(stack.acts.installed(PAT, "channel"))
    stack.connector.fail(429, headers={"Retry-After": "30"})
    async with stack.app.db.uow() as uow:
        await uow.outbox.add(Outgoing(where(), "the daily digest"))
        await uow.commit()
    await stack.drain()
    (row,) = [r for r in await stack.outbox() if r.status != "sent"]
    # A rate limit is no failed attempt: a message is never given up for being throttled.
    assert row.attempts == 0 and "429" in (row.last_error or "")
    assert row.next_attempt_at - datetime.now(UTC) > timedelta(seconds=20)
    # Once the wait is over the message goes out.
    real_clock = stack.app.relay.clock
    stack.app.relay.clock = lambda: real_clock() + timedelta(seconds=31)
    await stack.drain()
    assert {r.status for r in await stack.outbox()} == {"sent"}
    assert "the daily digest" in stack.connector.sent()[-1].text


async def test_a_removed_bot_is_given_up_on(stack: Stack) -> None:
    await stack.say(stack.acts.installed(PAT, "channel"))
    stack.connector.fail(403, code="BotNotInConversationRoster")
    async with stack.app.db.uow() as uow:
        await uow.outbox.add(Outgoing(where(), "anyone there?"))
        await uow.commit()
    await stack.drain()
    failed = [r for r in await stack.outbox() if r.status == "failed"]
    assert len(failed) == 1 and "removed" in (failed[0].last_error or "")


async def test_a_card_that_is_gone_gets_the_answer_as_a_new_message(stack: Stack) -> None:
    await stack.say(stack.acts.installed(ERIN, "personal"))
    sent = await stack.teams.sender.send(Outgoing(
        Where("teams", TENANT, ERIN.personal), "blocker #1",
        actions=(Action("Resolve", "resolve 1"),)))
    card = f"card:{sent.message_id}||resolve 1"
    answer = Outgoing(Where("teams", TENANT, ERIN.personal, card), "resolved")
    stack.connector.fail(404, method="PUT", code="ActivityNotFoundInConversation")
    await stack.teams.sender.send(answer)
    put, post = stack.connector.calls[-2:]
    assert (put.method, post.method) == ("PUT", "POST") and "resolved" in post.text
    # Throttling while updating is retried, not turned into a new message.
    stack.connector.fail(429, method="PUT", headers={"Retry-After": "3"})
    mark = stack.connector.mark()
    with pytest.raises(RetryLater):
        await stack.teams.sender.send(answer)
    assert [c.method for c in stack.connector.calls[mark:]] == ["PUT"]  # once: the outbox retries


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert retry_after({"Retry-After": "12"}) == 12.0
    assert retry_after({"Retry-After": "0"}) == 1.0
    assert retry_after({"Retry-After": "999999"}) == 3600.0
    assert retry_after({}) == 5.0
    assert retry_after({"Retry-After": "soon"}) == 5.0
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    assert 100 < retry_after({"Retry-After": later}) <= 120
