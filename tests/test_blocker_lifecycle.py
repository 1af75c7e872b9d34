"""One blocker per problem: news on an open blocker is not a second one, "fixed" offers a
one-click resolve, who can unblock is a person or a short name, and a blocker keeps its story."""

from __future__ import annotations

from datetime import timedelta

from bot.model import BlockerStatus, Role, Where
from bot.scheduling import Scheduler
from tests.conftest import NOW, Harness, flatten
from tests.test_scheduling import CRON

ENG = Where("console", "acme", "C-eng")


async def open_blockers(h: Harness) -> list:  # type: ignore[type-arg]
    async with h.db.uow() as uow:
        return await uow.blockers.open(h.team)


async def said(h: Harness, user: str, text: str, **kw: object) -> str:
    sent = await h.say(user, text, where=ENG, direct=False, **kw)
    return "\n".join(flatten(o) for o in sent)


async def test_still_blocked_is_news_on_the_open_blocker(chat: Harness) -> None:
    await said(chat, "erin", "can't deploy until the staging cert is renewed", message_id="1.1")
    reply = await chat.reply_text("erin", "standup fixed the login test. still blocked on the "
                                          "staging cert")
    assert "Added your news to #1" in reply and "tracking" not in reply.split("news")[0]
    assert [b.number for b in await open_blockers(chat)] == [1]
    story = await chat.reply_text("erin", "history 1")
    assert "opened by <@erin>: can't deploy until the staging cert is renewed" in story
    assert "news from <@erin>: still blocked on the staging cert" in story


async def test_a_reply_in_the_blockers_thread_is_news_on_it(chat: Harness) -> None:
    await said(chat, "erin", "blocked on prod DB access, waiting for ops", message_id="2.1")
    sent = await chat.say("sam", "still blocked here too, ops said maybe tomorrow",
                          where=ENG.in_thread("2.1"), direct=False, message_id="2.2")
    assert "Still tracking that as blocker #1" in sent[0].text
    assert len(await open_blockers(chat)) == 1


async def test_when_unsure_it_asks_same_or_new(chat: Harness) -> None:
    await said(chat, "erin", "blocked on the android build, it fails on the signing step",
               message_id="3.1")
    reply = await said(chat, "erin", "blocked: the ios build fails too, waiting for apple",
                       message_id="3.2")
    assert "Is this blocker #1 again" in reply
    assert "[Same as #1|update 1 blocked: the ios build fails too, waiting for apple]" in reply
    assert "[New blocker|track blocked: the ios build fails too, waiting for apple]" in reply
    assert len(await open_blockers(chat)) == 1
    assert "Tracking blocker #2" in await chat.reply_text(
        "erin", "track blocked: the ios build fails too, waiting for apple")
    assert len(await open_blockers(chat)) == 2


async def test_different_things_stay_different_blockers(chat: Harness) -> None:
    await said(chat, "erin", "blocked on PR #482, waiting for review", message_id="4.1")
    await said(chat, "erin", "blocked on PR #517, waiting for review", message_id="4.2")
    await said(chat, "erin", "blocked on staging creds, waiting for ops", message_id="4.3")
    await said(chat, "erin", "blocked on the prod deploy, waiting for ops", message_id="4.4")
    assert len(await open_blockers(chat)) == 4


async def test_words_that_say_it_is_gone_offer_a_one_click_resolve(chat: Harness) -> None:
    await said(chat, "erin", "android build is red, can't ship the beta", message_id="5.1")
    await said(chat, "erin", "blocked on legal for the DPA", message_id="5.2")
    for words in ("android build green again", "android build is fixed"):
        reply = await said(chat, "erin", words, message_id="5.3")
        assert "Sounds like blocker #1" in reply and "[Resolve #1|resolve 1]" in reply
    assert await said(chat, "erin", "is the android build fixed?", message_id="5.4") == ""
    assert await said(chat, "sam", "android build green again", message_id="5.5") == ""
    await chat.say("erin", "resolve 2")
    assert "[Resolve #1|resolve 1]" in await chat.reply_text("erin", "not blocked anymore")
    assert [b.status for b in await open_blockers(chat)] == [BlockerStatus.OPEN]  # only offered


async def test_who_can_unblock_is_a_name_not_a_fragment(chat: Harness) -> None:
    await chat.say("erin", "blocker blocked on the API keys from the vendor")
    await chat.say("erin", "blocker waiting on security review for PR #482 🙃")
    unblockers = [b.unblocker for b in await open_blockers(chat)]
    assert unblockers == ["the vendor", "security"]


async def test_a_mentioned_unblocker_is_told_once_may_resolve_and_gets_the_nudge(
        chat: Harness) -> None:
    sent = await chat.say("erin", "blocker waiting on <@uma> to approve the release notes")
    told = [o for o in sent if o.to_user == "uma"]
    assert len(told) == 1 and "says you can unblock it" in told[0].text
    await chat.say("erin", "update 1 still waiting, release is Friday")
    assert not [o for o in chat.sender.sent[len(sent):] if o.to_user == "uma"]  # once
    scheduler = Scheduler(chat.db.uow, CRON)
    await scheduler.tick(NOW + timedelta(days=3))
    await chat.relay.drain()
    nudged = [o for o in chat.sender.sent if o.to_user == "uma" and "still blocked" in o.text]
    assert len(nudged) == 1 and "[Resolve #1|resolve 1]" in flatten(nudged[0])
    await chat.set_role("uma", Role.ENGINEER)
    assert "resolved by <@uma>" in await chat.reply_text("uma", "resolve 1 approved")
    story = await chat.reply_text("erin", "history 1")
    assert "resolved by <@uma>: approved" in story
