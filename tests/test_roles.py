"""Roles that fit: nobody gets a role by speaking; reporting makes an engineer, filing a
stakeholder; standup prompts go to those who take part; a role can be taken away."""

from __future__ import annotations

from datetime import timedelta

from bot.model import Role, Where
from bot.scheduling import Scheduler
from storage.db import Database
from tests.conftest import NOW, Harness
from tests.test_scheduling import CRON, only, tick

CHANNEL = Where("console", "acme", "C1")


async def roles(h: Harness) -> dict[str, Role]:
    async with h.db.uow() as uow:
        return {m.user: m.role for m in await uow.members.list(h.team)}


async def test_speaking_gives_no_role_doing_does(db: Database) -> None:
    h = Harness(db)
    await h.say("pat", "role me producer")
    await h.say("ann", "hi all, lunch at noon?", where=CHANNEL, direct=False)
    await h.say("erin", "blocker waiting on ops for the staging creds")
    await h.say("sam", "request CSV export")
    await h.say("pat", "blocker legal has not signed the DPA")  # a producer stays producer
    assert await roles(h) == {"pat": Role.PRODUCER, "ann": Role.MEMBER, "erin": Role.ENGINEER,
                              "sam": Role.STAKEHOLDER}
    listed = await h.reply_text("pat", "roles")
    assert "*no role yet*: <@ann>" in listed
    assert "*in standups*: <@pat>, <@erin>" in listed


async def test_a_role_can_be_taken_away(chat: Harness) -> None:
    assert "<@sam> has no role now" in await chat.reply_text("pat", "role @sam none")
    assert (await roles(chat))["sam"] == Role.MEMBER
    assert "or none to take a role away" in await chat.reply_text("pat", "role @sam boss")


async def test_standup_prompts_go_to_those_who_take_part(db: Database) -> None:
    h = Harness(db)
    await h.say("pat", "role me producer")
    await h.say("erin", "standup fixed the flaky login test")
    await h.say("sam", "request CSV export")
    await h.say("ann", "hello")
    await h.say("sam", "standup join")  # a stakeholder who wants in
    assert "no longer take part" in await h.reply_text("erin", "standup leave")
    assert "<@ann> now takes part" in await h.reply_text("pat", "standup join @ann")
    assert "Only producers" in await h.reply_text("sam", "standup leave @ann")
    async with db.uow() as uow:
        for schedule in only(h.team, standup=True):
            await uow.schedules.put(schedule)
        await uow.commit()
    monday_930 = NOW.replace(hour=9, minute=30)
    sent = await tick(h, Scheduler(db.uow, CRON), monday_930 - timedelta(minutes=1),
                      monday_930 + timedelta(minutes=1))
    prompted = {o.to_user for o in sent if o.text.startswith("Standup time")}
    assert prompted == {"pat", "sam", "ann"}


async def test_the_digest_expects_updates_only_from_those_in_standups(db: Database) -> None:
    h = Harness(db)
    await h.say("pat", "role me producer")
    await h.say("erin", "blocker waiting on ops")
    await h.say("sam", "request CSV export")
    await h.say("you", "hello")  # the console's own user, say: a member, not counted
    digest = await h.reply_text("pat", "digest week")
    assert "0 of 2 posted an update this week (not yet: <@erin>, <@pat>)" in digest
