"""What Teams sends besides plain messages, through POST /api/messages: quoted replies, @mentions
that are no command, edits and deletions, private places, tenant ids in upper case."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from sqlalchemy import select

from storage.tables import ConversationRefRow, TeamRow
from tests.teams.activities import CHANNEL, ERIN, PAT, TENANT, Person
from tests.teams.conftest import TEAM, Stack


async def payloads(stack: Stack) -> list[dict[str, Any]]:
    return [row.payload for row in await stack.inbox()]


async def test_a_quoted_reply_files_what_was_said_not_the_quote(stack: Stack) -> None:
    first = await stack.say(stack.acts.personal(ERIN, "blocker waiting for ops"))
    card_id = first[0].returned
    assert card_id
    quoted = stack.acts.quoted(ERIN, "blocker waiting for the security review", card_id)
    assert quoted["text"].startswith(f'<quoted messageId="{card_id}"/>')
    sent = await stack.say(quoted)
    assert len(sent) == 1 and "blocker #2" in sent[0].text
    async with stack.app.db.uow() as uow:
        blocker = await uow.blockers.get(TEAM, 2)
    assert blocker is not None and blocker.text == "waiting for the security review"
    assert "quoted" not in sent[0].text and "messageId" not in sent[0].text


async def test_a_quote_with_the_quoted_text_inside_is_gone_too(stack: Stack) -> None:
    quoted = stack.acts.quoted(ERIN, "blocker the new one", "1763283661001",
                               inner="Noted blocker #1: waiting for ops")
    sent = await stack.say(quoted)
    async with stack.app.db.uow() as uow:
        blocker = await uow.blockers.get(TEAM, 1)
    assert blocker is not None and blocker.text == "the new one"
    assert "Noted blocker" not in sent[0].text


async def test_a_mention_that_is_no_command_is_answered_in_the_chain(stack: Stack) -> None:
    post = stack.acts.channel(ERIN, "reply to thread")
    assert post["text"] == "<at>Producer Bot</at> reply to thread"
    sent = await stack.say(post)
    assert len(sent) == 1, [c.text for c in sent]
    assert sent[0].conversation == f"{CHANNEL};messageid={post['id']}"
    [stored] = await payloads(stack)
    assert stored["addressed"] and stored["text"] == "reply to thread"
    assert "<at>" not in sent[0].text


async def test_edits_and_deletions_reach_the_core(stack: Stack) -> None:
    post = stack.acts.channel(ERIN, "blocker waiting for ops", root="1763283000000")
    await stack.say(post)
    (updated,) = await stack.say(stack.acts.edit(post, "blocker waiting for the ops lead"))
    assert "Updated blocker #1 to your edited words." in str(updated)
    (asked,) = await stack.say(stack.acts.delete(post))
    assert "deleted the message behind blocker #1" in str(asked)
    first, edit, delete = await payloads(stack)
    assert (edit["kind"], edit["message_id"], edit["text"]) == ("edit", post["id"],
                                                                 "blocker waiting for the ops lead")
    assert edit["addressed"] and edit["user"] == ERIN.aad
    assert edit["where"]["thread"] == "1763283000000"
    assert (delete["kind"], delete["message_id"], delete["text"]) == ("delete", post["id"], "")
    assert len({first["event_id"], edit["event_id"], delete["event_id"]}) == 3
    # A resent edit is a duplicate; the bot's own edits are not the core's business.
    await stack.say(stack.acts.edit(post, "blocker waiting for the ops lead"))
    own = stack.acts.edit(post, "an edit of the bot's card")
    own["from"] = dict(own["recipient"])
    await stack.say(own)
    assert len(await payloads(stack)) == 3
    assert all(r.status == "done" for r in await stack.inbox())
    async with stack.app.db.uow() as uow:
        blocker = await uow.blockers.get(TEAM, 1)
    assert blocker is not None and blocker.text == "waiting for the ops lead"
    assert blocker.status.value == "open"  # a deletion only asks


async def test_undeletions_and_unknown_updates_are_ignored(stack: Stack) -> None:
    post = stack.acts.personal(ERIN, "help")
    undelete = stack.acts.edit(post, "help")
    undelete["channelData"]["eventType"] = "undeleteMessage"
    assert await stack.say(undelete) == []
    odd = stack.acts.delete(post)
    odd["channelData"]["eventType"] = {"not": "a string"}
    assert await stack.say(odd) == []
    assert await stack.inbox() == []


async def test_group_chats_and_private_channels_are_private_places(stack: Stack) -> None:
    await stack.say(stack.acts.personal(ERIN, "help"))
    await stack.say(stack.acts.group(ERIN, "help"))
    await stack.say(stack.acts.channel(ERIN, "help"))
    await stack.say(stack.acts.private_channel(ERIN, "help"))
    await stack.say(stack.acts.private_channel(PAT, "help", kind="shared"))
    assert [(p["direct"], p["private"]) for p in await payloads(stack)] == [
        (True, False), (False, True), (False, False), (False, True), (False, True)]


async def test_an_upper_cased_tenant_is_the_same_team(stack: Stack) -> None:
    await stack.say(stack.acts.personal(ERIN, "blocker waiting for ops"))
    stack.acts.tenant = TENANT.upper()
    sent = await stack.say(stack.acts.personal(ERIN, "blockers"))
    assert "waiting for ops" in sent[0].text
    assert {r.tenant for r in await stack.inbox()} == {TENANT}
    async with stack.app.db.sessions() as session:
        teams = (await session.execute(select(TeamRow.tenant))).scalars().all()
        refs = (await session.execute(select(ConversationRefRow))).scalars().all()
    assert list(teams) == [TENANT]
    assert {r.tenant for r in refs} == {TENANT}
    assert all(r.reference["conversation"]["tenantId"] == TENANT for r in refs
               if isinstance(r.reference.get("conversation"), dict))


async def test_a_display_name_never_becomes_a_link_in_cards_or_notifications(stack: Stack) -> None:
    mallory = Person("mallory", "[Approve request #1](https://evil.example/approve)",
                     "6f1c2c3a-1f0d-4c1e-9d43-00000000ba0d")
    await stack.say(stack.acts.personal(mallory, "blocker waiting for ops"))
    sent = await stack.say(stack.acts.personal(PAT, "blockers"))
    assert len(sent) == 1
    call = sent[0]
    readable = [call.body.get("summary") or ""] + [json.dumps(c, ensure_ascii=False)
                                                   for c in call.cards]
    assert "Approve request #1" in "".join(readable)  # shown, as typed
    for text in readable:
        assert not re.search(r"\]\s*\(", text), text
        assert "https://evil" not in text


async def test_unknown_mentions_never_hold_up_the_ack(stack: Stack) -> None:
    """Ten people the bot never met, and a connector that does not answer lookups: the activity
    is stored and acknowledged anyway (it took 50 s, and Teams resends after 15), the people are
    looked up after the ack, and their next mention finds them."""
    people = tuple(Person(f"p{i}", f"Person {i}", f"6f1c2c3a-1f0d-4c1e-9d43-0000000010{i:02d}")
                   for i in range(10))
    for person in people:
        stack.connector.members[person.account["id"]] = dict(person.account)
    stack.connector.member_gate = asyncio.Event()
    post = stack.acts.channel(PAT, "blocked on " + " ".join(p.mention for p in people),
                              mentions=people)
    code, _ = await asyncio.wait_for(stack.post(post), timeout=4)
    assert code == 200
    [stored] = await payloads(stack)
    assert stored["text"].startswith("blocked on <@")
    stack.connector.member_gate.set()
    await asyncio.wait_for(stack.teams.handler.settled(), timeout=30)
    again = stack.acts.channel(PAT, "blocked on " + people[3].mention, mentions=(people[3],))
    calls = stack.connector.mark()
    await stack.send(again)
    assert (await payloads(stack))[-1]["text"] == f"blocked on <@{people[3].aad}>"
    assert not any("/members/" in c.path for c in stack.connector.calls[calls:])
