"""The producer loop driven through Teams activities over HTTP: blocker, request with discovery,
accept, deliver, confirm, digest; card clicks, the request form, proactive messages, dedupe."""

from __future__ import annotations

from adapters.teams.app import EMULATOR_TENANT
from bot.digest import build_digest, digest_message
from bot.model import BlockerStatus, Role, Where
from bot.relay import utcnow
from tests.teams.activities import CHANNEL, ERIN, GROUP, PAT, SAM, TENANT
from tests.teams.conftest import TEAM, Call, Stack


def only(calls: list[Call]) -> Call:
    assert len(calls) == 1, [(c.method, c.path, c.text[:200]) for c in calls]
    return calls[0]


def buttons(call: Call) -> list[str]:
    """The commands of every button on the call's cards, reason forms included."""
    found: list[str] = []

    def walk(actions: list[dict]) -> None:
        for action in actions:
            if action["type"] == "Action.Execute":
                found.append(action["data"]["command"])
            elif action["type"] == "Action.ShowCard":
                walk(action["card"].get("actions", []))

    for card in call.cards:
        walk(card.get("actions", []))
        for element in card["body"]:
            if element["type"] == "ActionSet":
                walk(element["actions"])
    return found


async def setup_team(stack: Stack) -> None:
    """Three people have the app in their 1:1 chat; Pat is the producer."""
    for person in (ERIN, PAT, SAM):
        await stack.say(stack.acts.installed(person, "personal"))
    await stack.set_role(PAT.aad, Role.PRODUCER, PAT.name)
    await stack.set_role(SAM.aad, Role.STAKEHOLDER, SAM.name)


async def test_install_stores_the_conversation_and_welcomes_the_installer(stack: Stack) -> None:
    sent = await stack.say(stack.acts.installed(PAT, "channel"))
    welcome = only(sent)
    # Pat has no 1:1 chat with the bot yet: the help goes where the app was added.
    assert welcome.conversation == CHANNEL and "keep track of blockers" in welcome.text
    sent = await stack.say(stack.acts.installed(PAT, "personal"))
    assert only(sent).conversation == PAT.personal


async def test_blocker_in_a_channel_then_resolved_with_the_card(stack: Stack) -> None:
    await setup_team(stack)
    post = stack.acts.channel(ERIN, "I'm blocked on staging DB creds, waiting for ops")
    reply = only(await stack.say(post))
    # Answered in the reply chain of Erin's post, as a card with the two buttons.
    assert reply.method == "POST"
    assert reply.path == f"/v3/conversations/{CHANNEL};messageid={post['id']}/activities"
    assert "blocker #1" in reply.text and "Erin Engineer" in reply.text
    assert buttons(reply) == ["resolve 1", "dismiss 1"]
    card_id = reply.returned

    click = stack.acts.execute(ERIN, {"command": "resolve 1"}, card=card_id, where="channel",
                               root=post["id"])
    assert await stack.send(click) == {
        "statusCode": 200, "type": "application/vnd.microsoft.activity.message",
        "value": "Working on it…"}
    await stack.drain()
    update = only(stack.connector.sent(len(stack.connector.calls) - 1))
    # The card itself is replaced: the answer below it, its buttons gone.
    assert update.method == "PUT" and update.path.endswith(f"/activities/{card_id}")
    assert "Blocker #1 resolved by **Erin Engineer**" in update.text
    assert buttons(update) == []
    async with stack.app.db.uow() as uow:
        blocker = await uow.blockers.get(TEAM, 1)
    assert blocker is not None and blocker.status == BlockerStatus.RESOLVED


async def test_request_discovery_in_a_channel_thread_then_accept_deliver_solved(stack: Stack) -> None:
    await setup_team(stack)
    acts = stack.acts
    filed = only(await stack.say(acts.channel(SAM, "request CSV export of invoices")))
    # A new post in the channel, whose reply chain is where discovery happens.
    assert filed.path == f"/v3/conversations/{CHANNEL}/activities"
    assert "Request #1" in filed.text and "What problem does this solve?" in filed.text
    root = filed.returned

    async def answer(text: str) -> Call:
        call = only(await stack.say(acts.channel(SAM, text, root=root)))
        assert call.path == f"/v3/conversations/{CHANNEL};messageid={root}/activities"
        return call

    assert "sounds like a solution" in (await answer("add an export button")).text
    assert "Who has this problem" in (await answer(
        "Finance retypes invoice rows by hand every Friday, three hours a week")).text
    assert "cope" in (await answer("the finance team")).text
    assert "know it worked" in (await answer("skip")).text
    mark = stack.connector.mark()
    await stack.send(acts.channel(SAM, "reconciliation under 30 minutes", root=root))
    await stack.drain()
    sent = stack.connector.sent(mark)
    assert any("ready for review" in c.text for c in sent)
    # Pat, the producer, is told in the 1:1 chat, with the decision buttons.
    review = only([c for c in sent if c.conversation == PAT.personal])
    assert buttons(review) == ["accept 1", "decline 1", "metoo 1"]
    review_id = review.returned

    accepted = await stack.say(acts.execute(PAT, {"command": "accept 1"}, card=review_id))
    update = only([c for c in accepted if c.method == "PUT"])
    assert update.conversation == PAT.personal and update.path.endswith(review_id)
    assert "accepted by **Pat Producer**" in update.text
    assert buttons(update) == ["start 1", "deliver 1"]
    told = only([c for c in accepted if c.conversation == SAM.personal])
    assert "was accepted" in told.text

    delivered = await stack.say(acts.execute(PAT, {"command": "deliver 1"}, card=review_id))
    # Start and deliver acted on request #1: both buttons go.
    assert buttons(only([c for c in delivered if c.method == "PUT"])) == []
    question = only([c for c in delivered if c.conversation == SAM.personal])
    assert "Did it solve your problem" in question.text
    assert buttons(question) == ["solved 1", "notyet 1"]
    question_id = question.returned

    confirmed = await stack.say(acts.execute(SAM, {"command": "solved 1"}, card=question_id))
    thanks = only([c for c in confirmed if c.method == "PUT"])
    assert thanks.conversation == SAM.personal and "request #1 is done" in thanks.text
    assert buttons(thanks) == []
    assert "confirmed request #1 solved" in only(
        [c for c in confirmed if c.conversation == PAT.personal]).text

    digest = only(await stack.say(acts.personal(PAT, "digest")))
    assert "Weekly digest" in digest.text and "Delivered and accepted" in digest.text


async def test_decline_asks_for_a_reason_in_the_card(stack: Stack) -> None:
    await setup_team(stack)
    acts = stack.acts
    await stack.say(acts.personal(SAM, "request Dark mode"))
    await stack.say(acts.personal(SAM, "people working at night get eye strain"))
    sent = await stack.say(acts.personal(SAM, "done"))
    review = only([c for c in sent if c.conversation == PAT.personal])
    card_id = review.returned
    show_card = next(a for a in review.cards[0]["actions"] if a["type"] == "Action.ShowCard")
    send = show_card["card"]["actions"][0]
    field = show_card["card"]["body"][0]["id"]
    assert show_card["card"]["body"][0]["isRequired"] is True

    # Teams merges the input's value into the data of the Send button.
    data = {**send["data"], field: "not this quarter"}
    declined = await stack.say(acts.execute(PAT, data, card=card_id))
    assert "declined: not this quarter" in only(
        [c for c in declined if c.conversation == SAM.personal]).text
    assert "declined by **Pat Producer**" in only([c for c in declined if c.method == "PUT"]).text


async def test_request_form_card_fills_discovery_in_one_go(stack: Stack) -> None:
    await setup_team(stack)
    form = only(await stack.say(stack.acts.personal(SAM, "request")))
    card = form.cards[0]
    assert [e.get("id") for e in card["body"] if e["type"] == "Input.Text"] == [
        "title", "problem", "who", "coping", "success"]
    submit = card["actions"][0]
    data = {**submit["data"], "title": "CSV export",
            "problem": "Finance retypes invoices by hand, three hours a week",
            "who": "finance", "coping": "", "success": "under 30 minutes"}
    body = await stack.send(stack.acts.execute(SAM, data, card=form.returned))
    # The form is replaced at once, so it cannot be sent twice.
    assert body["type"] == "application/vnd.microsoft.card.adaptive"
    assert "CSV export" in body["value"]["body"][0]["text"]
    await stack.drain()
    async with stack.app.db.uow() as uow:
        request = await uow.requests.get(TEAM, 1)
    assert request is not None and request.title == "CSV export"
    assert request.state.value == "ready-for-review" and request.answers["who"] == "finance"


async def test_the_request_form_is_shown_where_it_was_asked_for(stack: Stack) -> None:
    await setup_team(stack)  # Sam has a 1:1 chat with the bot, but asks in the group chat
    asked = stack.acts.group(SAM, "request")
    form = only(await stack.say(asked))
    assert form.conversation == GROUP and form.body["summary"] == "New request: tell me what you need."
    assert [e.get("id") for e in form.cards[0]["body"] if e["type"] == "Input.Text"][0] == "title"
    assert await stack.say(asked) == []  # Teams resending the activity: no second form


async def test_group_chat_discovery_continues_per_person(stack: Stack) -> None:
    await setup_team(stack)
    acts = stack.acts
    filed = only(await stack.say(acts.group(SAM, "request CSV export")))
    assert filed.conversation == GROUP and "What problem does this solve?" in filed.text
    # Erin chatting in between is not Sam's answer.
    await stack.say(acts.group(ERIN, "lunch at noon?", mention=False))
    answered = only(await stack.say(acts.group(
        SAM, "Finance retypes invoice rows by hand", mention=False)))
    assert "Who has this problem" in answered.text


async def test_mentioned_people_are_the_same_person_as_when_they_speak(stack: Stack) -> None:
    await setup_team(stack)
    stack.connector.members[ERIN.account["id"]] = {**ERIN.account, "tenantId": TENANT}
    # Pat makes Erin a producer by @mentioning her before Erin ever spoke.
    sent = await stack.say(stack.acts.channel(
        PAT, f"role {ERIN.mention} producer", mentions=(ERIN,)))
    assert "**Erin Engineer** is now producer" in only(sent).text
    async with stack.app.db.uow() as uow:
        erin = await uow.members.get(TEAM, ERIN.aad)
    assert erin is not None and erin.role == Role.PRODUCER


async def test_a_resent_activity_produces_nothing_new(stack: Stack) -> None:
    await setup_team(stack)
    post = stack.acts.channel(ERIN, "blocker staging creds")
    assert len(await stack.say(post)) == 1
    # Teams resends after 15 s without an answer; the same activity id is a duplicate.
    assert await stack.say(post) == []
    click = stack.acts.execute(ERIN, {"command": "resolve 1"}, card=None, where="channel",
                               root=post["id"])
    assert len(await stack.say(click)) == 1
    assert await stack.say(click) == []
    form = stack.acts.personal(SAM, "request")
    assert len(await stack.say(form)) == 1
    assert await stack.say(form) == []
    async with stack.app.db.uow() as uow:
        assert len(await uow.blockers.open(TEAM)) == 0
    assert len(await stack.inbox()) == 3 + 3


async def test_proactive_digest_and_status_change_reach_stored_conversations(stack: Stack) -> None:
    await setup_team(stack)
    await stack.say(stack.acts.installed(PAT, "channel"))
    await stack.say(stack.acts.channel(ERIN, "blocker waiting on legal review"))
    # The scheduler's digest enters the outbox like any other message.
    mark = stack.connector.mark()
    async with stack.app.db.uow() as uow:
        digest = await build_digest(uow, TEAM, "day", utcnow())
        await uow.outbox.add(digest_message(digest, Where("teams", TENANT, CHANNEL)))
        await uow.commit()
    await stack.drain()
    posted = only(stack.connector.sent(mark))
    assert posted.path == f"/v3/conversations/{CHANNEL}/activities"
    assert "Daily digest" in posted.text and "waiting on legal review" in posted.text


async def test_emulator_without_tenant_uses_a_local_one(stack: Stack) -> None:
    activity = stack.acts.personal(ERIN, "blocker the build is red")
    del activity["channelData"]["tenant"]
    del activity["conversation"]["tenantId"]
    assert len(await stack.say(activity)) == 1
    (row,) = await stack.inbox()
    assert row.tenant == EMULATOR_TENANT


async def test_plain_words_in_a_channel_without_a_mention(stack: Stack) -> None:
    """With the manifest's RSC permissions Teams delivers every channel message."""
    await setup_team(stack)
    assert await stack.say(stack.acts.channel(ERIN, "lunch at noon?", mention=False)) == []
    noticed = only(await stack.say(stack.acts.channel(
        ERIN, "can't deploy until ops rotates the staging DB password", mention=False)))
    assert "tracking it as blocker #1" in noticed.text
    # A bare command word is chat, a slash command is a command.
    assert await stack.say(stack.acts.channel(ERIN, "digest", mention=False)) == []
    assert "digest" in only(await stack.say(
        stack.acts.channel(ERIN, "/digest day", mention=False))).text.lower()
