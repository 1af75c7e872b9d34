"""Demos and acceptance through the real core and real storage (SQLite; PostgreSQL with
TEST_DATABASE_URL): the agenda, the invitations, `demo done` and everyone's verdict, and the
digest's "awaiting acceptance"."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select

from bot.core import Core
from bot.digest import build_digest, render_text
from bot.model import Demo, Outgoing, RequestState, Role, Verdict, Where
from storage.tables import DemoRow
from tests.conftest import NOW, Harness, flatten
from tests.test_core import file_request, request

CHANNEL = Where("console", "acme", "demo-room")


def to(sent: list[Outgoing], user: str) -> str:
    """Everything one person was told 1:1 in these messages."""
    return "\n".join(flatten(o) for o in sent if o.to_user == user)


def answer(sent: list[Outgoing]) -> str:
    """What the sender was answered (the harness speaks 1:1 unless told otherwise)."""
    return "\n".join(flatten(o) for o in sent if o.to_user is None)


async def delivered(h: Harness, title: str = "CSV export", user: str = "sam",
                    at_offset: timedelta = timedelta()) -> int:
    number = await file_request(h, user=user, title=title)
    await h.say("pat", f"accept {number}")
    await h.say("pat", f"deliver {number}", at=h.now + at_offset)
    return number


async def verdicts(h: Harness, number: int) -> list[Verdict]:
    async with h.db.uow() as uow:
        return await uow.demos.verdicts(h.team, [number])


async def demos(h: Harness) -> int:
    async with h.db.engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(DemoRow))).scalar_one()


async def test_nothing_delivered_is_a_short_line(chat: Harness) -> None:
    await file_request(chat)  # filed, not delivered
    assert await chat.reply_text("pat", "demo") == (
        "Nothing was delivered so far (no demo recorded yet), so there is nothing to demo yet.")
    assert await chat.reply_text("pat", "demo done") == (
        "Nothing has been delivered yet, so there is no demo to record.")
    assert await demos(chat) == 0


async def test_only_producers_run_demos(chat: Harness) -> None:
    await delivered(chat)
    assert "Only producers can run demos" in await chat.reply_text("sam", "demo")
    assert "Only producers can record demos" in await chat.reply_text("erin", "demo done")
    assert "Usage: `demo [done]`" in await chat.reply_text("pat", "demo tomorrow")
    assert await demos(chat) == 0


async def test_the_agenda_said_one_to_one_is_private_with_a_hint(chat: Harness) -> None:
    number = await delivered(chat)
    await chat.say("erin", f"metoo {number} support retypes them too")
    sent = await chat.say("pat", "demo")
    assert [o.to_user for o in sent] == [None]  # nobody invited from a 1:1 look
    text = flatten(sent[0])
    assert sent[0].text == "Demo agenda: 1 request delivered so far (no demo recorded yet)."
    assert "• #1 *CSV export* (requested by <@sam>, 2 people)" in text
    assert "Problem: Finance copies invoice rows by hand every Friday" in text
    assert "How will we know it worked? reconciliation done in under 30 minutes" in text
    assert "Say `demo` in the channel where you hold the demo" in text


async def test_in_a_channel_the_agenda_is_posted_and_each_person_invited_once(
        chat: Harness) -> None:
    number = await delivered(chat)
    await chat.say("erin", f"metoo {number}")
    sent = await chat.say("pat", "demo", where=CHANNEL, direct=False, addressed=True)
    [posted] = [o for o in sent if o.to_user is None]
    assert posted.where.channel == "demo-room" and posted.private_to is None
    assert posted.text == ("Demo agenda: 1 request delivered so far (no demo recorded yet). "
                           "I've invited 2 people 1:1.")
    assert "requested by <@sam>, 2 people" in flatten(posted)
    assert to(sent, "sam") == ("Your request #1 (CSV export) is on the demo agenda in "
                               "<#demo-room>: come and see whether it solves your problem.")
    assert to(sent, "erin") == ("Request #1 (CSV export), which you added your voice to, is on "
                                "the demo agenda in <#demo-room>.")
    again = await chat.say("pat", "demo", where=CHANNEL, direct=False, addressed=True)
    assert [o.to_user for o in again] == [None]  # nobody is invited twice for one demo
    assert "Everyone on it has been invited already." in again[0].text


async def test_a_private_request_stays_off_the_channel_agenda(chat: Harness) -> None:
    secret = Where("console", "acme", "hr-private")
    await chat.say("sam", "request salary bands export", direct=False, private=True,
                   addressed=True, where=secret)
    await chat.say("sam", "HR rebuilds the bands sheet by hand every month", where=secret,
                   direct=False, private=True)
    async with chat.db.uow() as uow:  # straight to delivered: its discovery is not the point
        r = await uow.requests.get(chat.team, 1)
        assert r is not None
        r.state, r.delivered_at = RequestState.DELIVERED, NOW
        await uow.requests.save(r)
        await uow.commit()
    sent = await chat.say("pat", "demo", where=CHANNEL, direct=False, addressed=True)
    text = "\n".join(flatten(o) for o in sent)
    assert "salary" not in text and "Nothing was delivered" in text
    assert "1 more request from private conversations" in text
    assert "salary bands export" in await chat.reply_text("pat", "demo")  # 1:1: all of it


async def test_demo_done_asks_the_requester_and_each_voice_once(chat: Harness) -> None:
    number = await delivered(chat)
    await chat.say("erin", f"metoo {number} support retypes them too")
    sent = await chat.say("pat", "demo done")
    assert answer(sent) == ("Demo #1 recorded (#1). I've asked 2 people 1:1 whether it solved "
                            "their problem, against their own success criterion.")
    asked = to(sent, "sam")
    assert asked.startswith("Request #1 (CSV export) was shown at demo #1. Did it solve your "
                            "problem (Finance copies invoice rows by hand")
    assert "You said we would know it worked when: reconciliation done in under 30 minutes" \
        in asked
    assert "[Solved|solved 1]" in asked and "[Not yet, because ...|notyet 1]" in asked
    assert "[New request|request]" in asked
    [button] = [a for o in sent if o.to_user == "sam" for a in o.actions if a.command == "request"]
    assert button.needs_reason  # the click asks what they need, then files it
    voice = to(sent, "erin")
    assert "which you added your voice to, was shown at demo #1" in voice
    assert "(support retypes them too)?" in voice
    assert "<@sam> said we would know it worked when: reconciliation" in voice
    # Nothing delivered since: a second `demo done` records nothing and asks nobody.
    again = await chat.say("pat", "demo done")
    assert [o.to_user for o in again] == [None]
    assert again[0].text == ("Nothing was delivered since the last demo (#1, 1m ago), so there "
                             "is no demo to record.")
    assert await demos(chat) == 1
    # The next demo shows only what was delivered after the first.
    chat.now = NOW + timedelta(days=7)
    await delivered(chat, title="SSO login")
    agenda = await chat.reply_text("pat", "demo")
    assert "since the last demo (#1, 7d ago)" in agenda
    assert "SSO login" in agenda and "CSV export" not in agenda


async def test_the_requesters_verdict_is_solved_or_notyet(chat: Harness) -> None:
    await delivered(chat)
    await delivered(chat, title="SSO login")
    await chat.say("pat", "demo done")
    solved = await chat.say("sam", "solved 1")
    assert answer(solved) == "Thanks for confirming: request #1 is done. 🎉"
    assert "confirmed request #1 solved their problem" in to(solved, "pat")
    assert (await request(chat, 1)).state == RequestState.SOLVED
    notyet = await chat.say("sam", "notyet 2 the export misses credit notes")
    assert "I've reopened request #2 and told the producers" in answer(notyet)
    assert (await request(chat, 2)).state == RequestState.IN_PROGRESS
    assert await verdicts(chat, 1) == [] and await verdicts(chat, 2) == []


async def test_a_voices_verdict_is_recorded_and_told_but_moves_nothing(chat: Harness) -> None:
    number = await delivered(chat)
    await chat.say("erin", f"metoo {number}")
    await chat.say("pat", "demo done")
    sent = await chat.say("erin", "solved 1")
    assert "noted that request #1 solved your problem" in answer(sent)
    assert to(sent, "pat") == ("<@erin>, who added their voice to request #1 (CSV export), says "
                               "it solved their problem.")
    assert to(sent, "sam") == ""  # the requester still answers for themselves
    assert (await request(chat, 1)).state == RequestState.DELIVERED
    [verdict] = await verdicts(chat, 1)
    assert (verdict.user, verdict.verdict, verdict.demo, verdict.note) == ("erin", "solved", 1,
                                                                           None)
    # Changing their mind replaces the verdict for that demo: one per person and demo.
    sent = await chat.say("erin", "notyet 1 support still retypes credit notes")
    assert "Only <@sam>, who asked for it, reopens it" in answer(sent)
    assert to(sent, "pat").endswith("says it hasn't solved their problem yet: support still "
                                    "retypes credit notes")
    [verdict] = await verdicts(chat, 1)
    assert (verdict.verdict, verdict.note) == ("not-yet", "support still retypes credit notes")
    assert (await request(chat, 1)).state == RequestState.DELIVERED
    # Someone who is neither the requester nor a voice is told who may say.
    assert "Only <@sam>, who asked for #1, can say" in await chat.reply_text("raj", "solved 1")


async def test_a_voice_before_delivery_is_told_to_wait(chat: Harness) -> None:
    await file_request(chat)
    await chat.say("erin", "metoo 1")
    assert "hasn't been delivered yet" in await chat.reply_text("erin", "solved 1")
    assert await verdicts(chat, 1) == []


async def test_two_producers_saying_demo_done_at_once_record_one_demo(chat: Harness) -> None:
    await chat.set_role("paula", Role.PRODUCER)
    await delivered(chat)
    core = Core()

    async def done(user: str) -> None:
        msg = chat.message(user, "demo done")
        async with chat.db.uow() as uow:
            await core.handle(msg, uow)
            await uow.commit()

    before = len(chat.sender.sent)
    await asyncio.gather(done("pat"), done("paula"))
    await chat.relay.drain()
    sent = chat.sender.sent[before:]
    assert await demos(chat) == 1
    async with chat.db.uow() as uow:
        last = await uow.demos.last(chat.team)
    assert last is not None and last.number == 1 and last.requests == (1,)
    assert len([o for o in sent if o.to_user == "sam" and "shown at demo" in o.text]) == 1
    # The other producer hears why nothing more happened.
    assert "Demo #1 recorded" in answer(sent)
    assert ("just recorded by another producer" in answer(sent)
            or "Nothing was delivered since the last demo" in answer(sent))


async def test_the_digest_lists_what_awaits_acceptance_with_its_age(chat: Harness) -> None:
    await delivered(chat, at_offset=timedelta(days=-3))
    await file_request(chat, title="SSO login")
    async with chat.db.uow() as uow:
        digest = await build_digest(uow, chat.team, "week", NOW)
    [line] = digest.awaiting_confirmation
    assert (line.number, line.delivered) == (1, "3d")
    assert line.success == "reconciliation done in under 30 minutes"
    text = render_text(digest)
    section = text[text.index("Awaiting acceptance"):]
    assert section.startswith("Awaiting acceptance: delivered, no answer yet\n"
                              "• #1 *CSV export* (<@sam>) delivered 3d ago\n"
                              "    Check: reconciliation done in under 30 minutes")
    decisions = text[text.index("Decisions needed"):text.index("Awaiting acceptance")]
    assert "SSO login" in decisions and "CSV export" not in decisions
    await chat.say("sam", "solved 1")
    async with chat.db.uow() as uow:
        assert (await build_digest(uow, chat.team, "week", NOW)).awaiting_confirmation == ()


async def test_the_demo_number_is_recorded_once_however_many_try_at_once(chat: Harness) -> None:
    """The unique key under the use case: units of work recording the same number at once (on
    PostgreSQL the later ones wait for the first to commit, then find it there)."""

    async def record(by: str) -> bool:
        async with chat.db.uow() as uow:
            await uow.tenants.ensure(chat.team)
            added = await uow.demos.add(Demo(chat.team, 1, NOW, by, (1,)))
            await uow.commit()
            return added

    results = await asyncio.gather(*(record(f"p{i}") for i in range(4)))
    assert sorted(results) == [False, False, False, True]
    assert await demos(chat) == 1
