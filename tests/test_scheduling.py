"""Scheduled work on a controlled clock: zones, DST, weekends, holidays, away, missed runs,
exactly-once claims, standup capture and summaries, digests, escalation."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from adapters.scheduler import ApsCron
from bot.model import Role, Schedule, Team, TeamSettings
from bot.scheduling import Scheduler, local_period, working_days
from storage.db import Database
from tests.conftest import Harness

CRON = ApsCron()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


async def setup(db: Database, members: dict[str, tuple[Role, str | None]],
                schedules: list[Schedule] = (), tz: str = "UTC") -> Harness:
    h = Harness(db)
    async with db.uow() as uow:
        await uow.tenants.ensure(h.team)
        await uow.tenants.update(TeamSettings(h.team, timezone=tz))
        for user, (role, member_tz) in members.items():
            await uow.members.ensure(h.team, user, tz=member_tz)
            await uow.members.set_role(h.team, user, role)
        for schedule in schedules:
            await uow.schedules.put(schedule)
        await uow.commit()
    return h


async def tick(h: Harness, scheduler: Scheduler, *times: datetime) -> list:
    before = len(h.sender.sent)
    for now in times:
        await scheduler.tick(now)
        await h.relay.drain()
    return h.sender.sent[before:]


def only(team: Team, **kinds: bool) -> list[Schedule]:
    """Switch the default schedules on or off."""
    from bot.model import DEFAULT_SCHEDULES
    return [Schedule(team, k, DEFAULT_SCHEDULES[k][0], enabled=kinds.get(k, False))
            for k in DEFAULT_SCHEDULES]


# ---- cron and zones ------------------------------------------------------------------------


def test_dst_neither_skips_nor_doubles_a_local_run() -> None:
    berlin = "Europe/Berlin"
    spring = CRON.fire_times("30 2 * * *", berlin, utc(2026, 3, 28, 12), utc(2026, 3, 30, 12))
    assert [local_period(f) for f in spring] == ["2026-03-29T02:30", "2026-03-30T02:30"]
    autumn = CRON.fire_times("30 2 * * *", berlin, utc(2026, 10, 24, 12), utc(2026, 10, 26, 12))
    # 02:30 happens twice on the fall-back night; both share one claim key.
    assert len({local_period(f) for f in autumn}) == 2
    ny = CRON.fire_times("30 9 * * mon-fri", "America/New_York", utc(2026, 3, 6), utc(2026, 3, 10))
    assert [f.astimezone(UTC).hour for f in ny] == [14, 13]  # EST then EDT, same 09:30 local
    assert CRON.check("61 9 * * *") and CRON.check("every day") and CRON.check("30 9 * * mon") is None


def test_working_days_skip_weekends() -> None:
    friday_5pm = utc(2026, 11, 20, 17)
    assert working_days(friday_5pm, utc(2026, 11, 23, 17)) == 1.0  # Monday 5pm
    assert working_days(friday_5pm, utc(2026, 11, 24, 17)) == 2.0  # Tuesday 5pm


async def test_standups_are_prompted_in_each_members_own_morning(db: Database) -> None:
    h = await setup(db, {"priya": (Role.ENGINEER, "Asia/Kolkata"),
                         "nate": (Role.ENGINEER, "America/New_York"),
                         "sam": (Role.STAKEHOLDER, None)},
                    only(Team("console", "acme"), standup=True))
    s = Scheduler(db.uow, CRON)
    monday = utc(2026, 11, 16)
    # 09:30 in Kolkata is 04:00 UTC; in New York (EST) 14:30 UTC.
    sent = await tick(h, s, monday.replace(hour=3, minute=59), monday.replace(hour=4, minute=1))
    assert [o.to_user for o in sent] == ["priya"]
    sent = await tick(h, s, monday.replace(hour=14, minute=29), monday.replace(hour=14, minute=31))
    assert [o.to_user for o in sent] == ["nate"]
    assert "What moved forward since last time?" in sent[0].text
    # Ticking the same window again (another replica, or a restart) sends nothing new.
    assert await tick(h, s, monday.replace(hour=14, minute=31)) == []
    # Saturday: the default schedule is weekdays only.
    saturday = utc(2026, 11, 21)
    assert await tick(h, s, saturday.replace(hour=3, minute=59),
                      saturday.replace(hour=4, minute=1)) == []


async def test_holidays_and_people_away_get_no_prompt(db: Database) -> None:
    team = Team("console", "acme")
    h = await setup(db, {"ann": (Role.ENGINEER, None), "bo": (Role.ENGINEER, None)},
                    only(team, standup=True))
    await h.say("bo", "away until 2026-11-17")
    s = Scheduler(db.uow, CRON)
    sent = await tick(h, s, utc(2026, 11, 17, 9, 29), utc(2026, 11, 17, 9, 31))
    assert [o.to_user for o in sent] == ["ann"]
    await h.set_role("pat", Role.PRODUCER)
    await h.say("pat", "holiday add 2026-11-18")
    assert await tick(h, s, utc(2026, 11, 18, 9, 29), utc(2026, 11, 18, 9, 31)) == []
    sent = await tick(h, s, utc(2026, 11, 19, 9, 29), utc(2026, 11, 19, 9, 31))
    assert sorted(o.to_user for o in sent) == ["ann", "bo", "pat"]


async def test_missed_runs_inside_the_grace_period_are_sent_once_older_ones_skipped(db: Database) -> None:
    h = await setup(db, {"ann": (Role.ENGINEER, None)}, only(Team("console", "acme"), standup=True))
    s = Scheduler(db.uow, CRON)  # grace 6h
    await tick(h, s, utc(2026, 11, 16, 8, 0))  # last tick before the outage
    # Down from 08:00 to 12:00: the 09:30 prompt is 2.5 hours late, inside the grace period.
    sent = await tick(h, s, utc(2026, 11, 16, 12, 0))
    assert [o.to_user for o in sent] == ["ann"]
    # Down from Tuesday 08:00 to 17:00: the 09:30 prompt is 7.5 hours late: skipped.
    await tick(h, s, utc(2026, 11, 17, 8, 0))
    assert await tick(h, s, utc(2026, 11, 17, 17, 0)) == []
    async with db.uow() as uow:
        assert not await uow.runs.claim(h.team, "standup", "ann", "2026-11-17T09:30", utc(2026, 11, 17))


async def test_concurrent_schedulers_send_each_prompt_once(db: Database) -> None:
    h = await setup(db, {f"u{i}": (Role.ENGINEER, None) for i in range(5)},
                    only(Team("console", "acme"), standup=True, **{"weekly-digest": True}))
    await h.set_role("u0", Role.PRODUCER)
    replicas = [Scheduler(db.uow, CRON) for _ in range(3)]
    for r in replicas:
        await r.tick(utc(2026, 11, 16, 8, 59))
    await asyncio.gather(*(r.tick(utc(2026, 11, 16, 9, 31)) for r in replicas))
    await h.relay.drain()
    prompts = [o.to_user for o in h.sender.sent if "Standup time" in o.text]
    digests = [o.to_user for o in h.sender.sent if "Weekly digest" in o.text]
    assert sorted(prompts) == [f"u{i}" for i in range(5)]
    assert digests == ["u0"]


# ---- standup answers and summaries -------------------------------------------------------------


async def test_a_reply_to_the_prompt_is_the_answer_and_the_summary_threads_details(db: Database) -> None:
    team = Team("console", "acme")
    h = await setup(db, {"pat": (Role.PRODUCER, None), "ann": (Role.ENGINEER, None),
                         "bo": (Role.ENGINEER, None)},
                    only(team, standup=True, **{"standup-summary": True}))
    s = Scheduler(db.uow, CRON)
    await tick(h, s, utc(2026, 11, 16, 9, 29), utc(2026, 11, 16, 9, 31))
    reply = await h.reply_text("ann", "shipped the importer. blocked on the staging DB creds, "
                               "waiting for ops", at=utc(2026, 11, 16, 9, 40))
    assert "your update is in" in reply and "#1" in reply
    # A corrected answer replaces the first and does not track the same blocker twice.
    await h.say("ann", "standup shipped the importer and the docs. blocked on the staging DB "
                "creds, waiting for ops", at=utc(2026, 11, 16, 9, 45))
    await h.say("pat", "standup reviewing the Q4 plan", at=utc(2026, 11, 16, 9, 50))
    # One reminder an hour before the 11:00 summary, only to who has not answered.
    sent = await tick(h, s, utc(2026, 11, 16, 9, 58), utc(2026, 11, 16, 10, 1))
    assert [(o.to_user, "reminder" in o.text) for o in sent] == [("bo", True)]
    assert await tick(h, s, utc(2026, 11, 16, 10, 30)) == []
    sent = await tick(h, s, utc(2026, 11, 16, 11, 1))
    summary = [o for o in sent if o.key]
    assert len(summary) == 1 and summary[0].to_user == "pat"
    assert summary[0].text == "Standup: 2 of 3 shared an update; 1 new blocker. Details in the thread."
    assert "No update yet" in [sec.title for sec in summary[0].sections]
    details = [o for o in sent if o.where.thread]
    assert sorted(o.text for o in details) == [
        "<@ann>: shipped the importer and the docs. blocked on the staging DB creds, waiting for ops",
        "<@pat>: reviewing the Q4 plan"]
    assert {o.where.thread for o in details} == {f"m{h.sender.sent.index(summary[0]) + 1}"}
    async with db.uow() as uow:
        assert len(await uow.blockers.open(team)) == 1


async def test_no_answers_and_no_changes_means_no_summary(db: Database) -> None:
    team = Team("console", "acme")
    h = await setup(db, {"pat": (Role.PRODUCER, None), "ann": (Role.ENGINEER, None)},
                    only(team, **{"standup-summary": True}))
    s = Scheduler(db.uow, CRON)
    assert await tick(h, s, utc(2026, 11, 16, 10, 59), utc(2026, 11, 16, 11, 1)) == []
    # A blocker with no answers still gets one line.
    await h.say("ann", "blocker waiting on legal", at=utc(2026, 11, 17, 8))
    sent = await tick(h, s, utc(2026, 11, 17, 10, 59), utc(2026, 11, 17, 11, 1))
    assert [o.text for o in sent] == ["No standup updates today; 1 new blocker since yesterday."]


# ---- digests, escalation, editing schedules ----------------------------------------------------


async def test_weekly_digest_goes_to_producers_or_to_the_chosen_channel(db: Database) -> None:
    team = Team("console", "acme")
    h = await setup(db, {"pat": (Role.PRODUCER, None), "ann": (Role.ENGINEER, None)},
                    only(team, **{"weekly-digest": True}), tz="Europe/Berlin")
    s = Scheduler(db.uow, CRON)
    monday_9_berlin = datetime(2026, 11, 16, 9, tzinfo=ZoneInfo("Europe/Berlin")).astimezone(UTC)
    sent = await tick(h, s, monday_9_berlin - timedelta(minutes=1),
                      monday_9_berlin + timedelta(minutes=1))
    assert [(o.to_user, o.text) for o in sent] == [
        ("pat", "Weekly digest: Nothing open and nothing changed this week.")]
    # A producer moves it to a channel, in chat; the next run uses it without a restart.
    reply = await h.reply_text("pat", "schedule weekly-digest 0 9 * * mon Europe/Berlin here",
                               command="producer", direct=False)
    assert "to <#general>" in reply
    next_monday = monday_9_berlin + timedelta(days=7)
    sent = await tick(h, s, next_monday - timedelta(minutes=1), next_monday + timedelta(minutes=1))
    assert [(o.to_user, o.where.channel) for o in sent] == [(None, "general")]


async def test_schedule_changes_are_for_producers_and_validated(db: Database) -> None:
    h = await setup(db, {"pat": (Role.PRODUCER, None), "ann": (Role.ENGINEER, None)})
    h.relay.core.cron = CRON
    assert "Only producers" in await h.reply_text("ann", "schedule weekly-digest 0 9 * * mon")
    assert "not a valid cron" in await h.reply_text("pat", "schedule weekly-digest 0 25 * * mon")
    assert "neither a time zone" in await h.reply_text("pat", "schedule standup 0 9 * * * Mars/Base")
    assert "Usage" in await h.reply_text("pat", "schedule fortnightly 0 9 * * *")
    assert "is off" in await h.reply_text("pat", "schedule off standup")
    shown = await h.reply_text("ann", "schedule")
    assert "standup*: `30 9 * * mon-fri` (each member's zone) to each member — *off*" in shown
    assert "weekly-digest*: `0 9 * * mon` (UTC) to producers, 1:1" in shown


async def test_old_blockers_are_escalated_to_producers_once(db: Database) -> None:
    team = Team("console", "acme")
    h = await setup(db, {"pat": (Role.PRODUCER, None), "ann": (Role.ENGINEER, None)},
                    only(team))
    await h.say("ann", "blocker waiting on the vendor", at=utc(2026, 11, 20, 17))  # a Friday
    s = Scheduler(db.uow, CRON)
    assert await tick(h, s, utc(2026, 11, 23, 17, 1)) == []  # Monday: 1 working day
    sent = await tick(h, s, utc(2026, 11, 24, 17, 1))  # Tuesday: 2 working days
    assert [(o.to_user, o.text) for o in sent] == [
        ("pat", "1 blocker has been open more than 2 working days.")]
    assert [a.command for a in sent[0].actions] == ["resolve 1"]
    assert await tick(h, s, utc(2026, 11, 25, 17, 1)) == []
