"""Scheduled work: standup prompts, reminders and summaries, digests, blocker escalation.

A tick looks at the window since the previous tick (kept in the database, so downtime is part
of the window). Every effect is first claimed under (team, kind, recipient, local period) in the
same transaction that writes its outbox rows: whichever process claims it sends it, and a run
missed by more than the grace period is recorded as skipped instead of sent late.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.assistant import Assistant, HeuristicAssistant, Planner
from bot.model import (
    Action,
    Blocker,
    Member,
    Outgoing,
    Role,
    Schedule,
    Section,
    Team,
    TeamSettings,
    Where,
    effective_schedules,
)
from bot.ports import Cron, UnitOfWork
from bot.text import age, mention, user_ref
from bot.usecases.overview import send_digest
from bot.usecases.standups import STANDUP_QUESTIONS, awaiting_answer
from bot.views import blocker_item, blocker_line

log = logging.getLogger(__name__)

def working_days(start: datetime, end: datetime, tz: str = "UTC") -> float:
    """Days between two instants, not counting Saturdays and Sundays in the zone."""
    zone = ZoneInfo(tz)
    cursor, end = start.astimezone(zone), end.astimezone(zone)
    total = 0.0
    while cursor < end:
        midnight = datetime.combine(cursor.date() + timedelta(days=1), datetime.min.time(), zone)
        step_end = min(midnight, end)
        if cursor.weekday() < 5:
            total += (step_end - cursor).total_seconds() / 86400
        cursor = step_end
    return total


def local_period(fire: datetime) -> str:
    """The claim key of a run: its local wall-clock time. A fall-back hour that repeats 02:30
    yields one key, so the run happens once."""
    return fire.strftime("%Y-%m-%dT%H:%M")


def _away(member: Member, day: date) -> bool:
    return member.away_until is not None and day <= member.away_until.date()


@dataclass
class TickReport:
    sent: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)

    def count(self, kind: str, sent: bool) -> None:
        target = self.sent if sent else self.skipped
        target[kind] = target.get(kind, 0) + 1


class Scheduler:
    def __init__(self, uow_factory: Callable[[], UnitOfWork], cron: Cron,
                 grace: timedelta = timedelta(hours=6),
                 reminder_before: timedelta = timedelta(hours=1),
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 assistant: Assistant | None = None) -> None:
        self.uow_factory = uow_factory
        self.assistant = assistant or HeuristicAssistant()
        self.cron = cron
        self.grace = grace
        self.reminder_before = reminder_before
        self.clock = clock
        self.first_window = timedelta(minutes=1)
        self.max_lookback = timedelta(days=7)

    async def tick(self, now: datetime | None = None) -> TickReport:
        now = now or self.clock()
        async with self.uow_factory() as uow:
            last = await uow.runs.last_tick()
            teams = await uow.tenants.all()
            await uow.runs.set_last_tick(now)
            await uow.commit()
        # A little overlap with the previous window: claims make re-looking harmless.
        since = last - timedelta(minutes=2) if last else now - self.first_window
        since = max(since, now - self.max_lookback)
        report = TickReport()
        for settings in teams:
            try:
                await self._team(settings, since, now, report)
            except Exception:  # one team's failure must not stop the others
                log.exception("scheduled work for %s failed", settings.team)
        return report

    async def _team(self, settings: TeamSettings, since: datetime, now: datetime,
                    report: TickReport) -> None:
        assistant: Assistant = self.assistant
        if self.assistant.remote:
            # As for messages (bot.relay.worker): rehearse (rolled back) to learn what the
            # model will be asked, ask it with no transaction open, and run for real with the
            # prepared answers. Only digests ask anything, so without one due there is nothing
            # to rehearse; the real run still never gets the model itself: a question nobody
            # foresaw gets the rules' answer and a WARNING, not a network call with locks held.
            planner = Planner()
            if await self._digest_due(settings, since, now):
                await self._run_team(settings, since, now, TickReport(), planner, commit=False)
            assistant = await planner.prepare(self.assistant)
        await self._run_team(settings, since, now, report, assistant, commit=True)

    async def _digest_due(self, settings: TeamSettings, since: datetime, now: datetime) -> bool:
        """Whether a digest falls in the window: the only scheduled work that asks the
        assistant (for its headline)."""
        async with self.uow_factory() as uow:
            schedules = effective_schedules(settings.team, await uow.schedules.list(settings.team))
        return any(
            s.enabled and self.cron.fire_times(s.cron, s.tz or settings.timezone, since, now)
            for s in (schedules["daily-digest"], schedules["weekly-digest"]))

    async def _run_team(self, settings: TeamSettings, since: datetime, now: datetime,
                        report: TickReport, assistant: Assistant, commit: bool) -> None:
        team = settings.team
        async with self.uow_factory() as uow:
            schedules = effective_schedules(team, await uow.schedules.list(team))
            members = await uow.members.list(team)
            run = _Run(self, uow, settings, members, since, now, report, assistant)
            if schedules["standup"].enabled:
                await run.standup_prompts(schedules["standup"])
            if schedules["standup-summary"].enabled:
                await run.standup_reminders(schedules["standup-summary"])
                await run.standup_summaries(schedules["standup-summary"])
            for kind, period in (("daily-digest", "day"), ("weekly-digest", "week")):
                if schedules[kind].enabled:
                    await run.digests(schedules[kind], period)
            await run.escalations()
            if commit:
                await uow.commit()


@dataclass
class _Run:
    """One team's share of one tick, inside one unit of work."""

    scheduler: Scheduler
    uow: UnitOfWork
    settings: TeamSettings
    members: list[Member]
    since: datetime
    now: datetime
    report: TickReport
    assistant: Assistant

    @property
    def team(self) -> Team:
        return self.settings.team

    def producers(self) -> list[str]:
        return [m.user for m in self.members if m.role == Role.PRODUCER]

    def place(self, schedule: Schedule) -> Where:
        return Where(self.team.platform, self.team.tenant, schedule.channel or "")

    def fires(self, schedule: Schedule, tz: str, shift: timedelta = timedelta()) -> list[datetime]:
        return self.scheduler.cron.fire_times(schedule.cron, tz, self.since + shift,
                                              self.now + shift)

    def status(self, fire: datetime, day: date) -> str:
        if day.isoformat() in self.settings.holidays:
            return "holiday"
        if self.now - fire > self.scheduler.grace:
            return "skipped"  # missed by more than the grace period: late news is noise
        return "sent"

    async def claim(self, kind: str, recipient: str, fire: datetime, status: str) -> bool:
        """True when this process should produce the effect now."""
        won = await self.uow.runs.claim(self.team, kind, recipient, local_period(fire), self.now,
                                        status)
        if won:
            self.report.count(kind, status == "sent")
        return won and status == "sent"

    def recipients(self, schedule: Schedule) -> list[str]:
        """The schedule's channel, or else each producer (as a 1:1 message)."""
        return [schedule.channel] if schedule.channel else self.producers()

    def address(self, schedule: Schedule, recipient: str, text: str, **kwargs: object) -> Outgoing:
        to_user = None if schedule.channel else recipient
        return Outgoing(where=self.place(schedule), text=text, to_user=to_user, **kwargs)  # type: ignore[arg-type]

    # ---- standups ---------------------------------------------------------------------------

    def standup_members(self) -> list[Member]:
        return [m for m in self.members if m.in_standups]

    async def standup_prompts(self, schedule: Schedule) -> None:
        for member in self.standup_members():
            tz = schedule.tz or member.tz or self.settings.timezone
            for fire in self.fires(schedule, tz):
                status = self.status(fire, fire.date())
                if status == "sent" and _away(member, fire.date()):
                    status = "away"
                if await self.claim("standup", member.user, fire, status):
                    await self.uow.outbox.add(Outgoing(
                        where=Where(self.team.platform, self.team.tenant, ""),
                        to_user=member.user,
                        text=f"Standup time. {STANDUP_QUESTIONS[0]} {STANDUP_QUESTIONS[1]}",
                        sections=(Section(
                            "Reply here in a message or two. Blockers you mention are tracked "
                            "for you; a new reply before the summary replaces this one."),),
                    ))

    async def standup_reminders(self, summary: Schedule) -> None:
        tz = summary.tz or self.settings.timezone
        for fire in self.fires(summary, tz, shift=self.scheduler.reminder_before):
            status = self.status(fire, fire.date())
            for member in self.standup_members():
                if not await awaiting_answer(self.uow, self.team, member.user, self.now):
                    continue
                if await self.claim("standup-reminder", member.user, fire, status):
                    await self.uow.outbox.add(Outgoing(
                        where=Where(self.team.platform, self.team.tenant, ""), to_user=member.user,
                        text=f"A gentle reminder: the standup summary goes out at "
                             f"{fire.strftime('%H:%M')}. {STANDUP_QUESTIONS[0]} "
                             f"{STANDUP_QUESTIONS[1]}"))

    async def standup_summaries(self, schedule: Schedule) -> None:
        tz = schedule.tz or self.settings.timezone
        for fire in self.fires(schedule, tz):
            status = self.status(fire, fire.date())
            start = fire - timedelta(days=1)
            answers = {a.user: a for a in await self.uow.standups.between(self.team, start, fire)}
            # A summary posted in a channel names only blockers said where all could read them.
            opened = [b for b in await self.uow.blockers.open(self.team)
                      if b.opened_at >= start and b.shown_to(None, not schedule.channel)]
            if not answers and not opened:
                # Nobody answered and nothing changed: no summary at all (but remember why).
                for recipient in self.recipients(schedule):
                    await self.claim("standup-summary", recipient, fire, "quiet")
                continue
            missing = [m.user for m in self.standup_members() if m.user not in answers]
            for recipient in self.recipients(schedule):
                if not await self.claim("standup-summary", recipient, fire, status):
                    continue
                key = f"standup:{local_period(fire)}:{recipient}"
                await self.uow.outbox.add(self.address(
                    schedule, recipient, _summary_line(len(answers), missing, opened),
                    sections=_summary_sections(missing, opened), key=key))
                for answer in answers.values():  # the details, threaded under the summary
                    details = self.address(schedule, recipient,
                                           f"{mention(answer.user)}: {answer.text}",
                                           thread_key=key)
                    await self.uow.outbox.add(details)

    # ---- digests and escalation ----------------------------------------------------------------

    async def digests(self, schedule: Schedule, period: str) -> None:
        tz = schedule.tz or self.settings.timezone
        for fire in self.fires(schedule, tz):
            status = self.status(fire, fire.date())

            async def claim(recipient: str, fire: datetime = fire, status: str = status) -> bool:
                return await self.claim(schedule.kind, recipient, fire, status)

            await send_digest(self.uow, self.team, period, fire.astimezone(UTC),
                              channel=schedule.channel, assistant=self.assistant, claim=claim)

    async def escalations(self) -> None:
        producers = self.producers()
        if not producers:
            return  # kept for when a producer exists: nobody to escalate to yet
        limit = self.settings.escalate_after_days
        due: list[Blocker] = []
        for blocker in await self.uow.blockers.open(self.team):
            if blocker.escalated_at is not None:
                continue
            if (self.now - blocker.opened_at) < timedelta(days=limit):
                continue  # working days are never more than calendar days: cheap filter
            if working_days(blocker.opened_at, self.now, self.settings.timezone) < limit:
                continue
            if await self.uow.blockers.mark_escalated(self.team, blocker.number, self.now):
                due.append(blocker)
        if not due:
            return
        lines = "\n".join(blocker_item(b, self.now) for b in due)
        n = len(due)
        for producer in producers:
            await self.uow.outbox.add(Outgoing(
                where=Where(self.team.platform, self.team.tenant, ""), to_user=producer,
                text=f"{n} blocker{'s have' if n != 1 else ' has'} been open more than "
                     f"{limit:g} working days.",
                sections=(Section(lines),),
                actions=tuple(Action(f"Resolve #{b.number}", f"resolve {b.number}")
                              for b in due[:5])))
            self.report.count("escalation", True)
        # The nudge reaches the person named as the one who can unblock, too.
        for blocker in due:
            person = user_ref(blocker.unblocker) if (blocker.unblocker or "").startswith("<@") \
                else None
            if person and person not in producers and person != blocker.reporter:
                await self.uow.outbox.add(Outgoing(
                    where=Where(self.team.platform, self.team.tenant, ""), to_user=person,
                    text=f"A reminder: {mention(blocker.reporter)} is still blocked and says you "
                         f"can unblock it (blocker #{blocker.number}, open "
                         f"{age(blocker.opened_at, self.now)}).",
                    sections=(Section(blocker_item(blocker, self.now)),),
                    actions=(Action(f"Resolve #{blocker.number}", f"resolve {blocker.number}",
                                    style="primary"),)))
                self.report.count("escalation", True)


def _summary_line(answered: int, missing: list[str], opened: list[Blocker]) -> str:
    if not answered:
        return (f"No standup updates today; {len(opened)} new blocker"
                f"{'s' if len(opened) != 1 else ''} since yesterday.")
    total = answered + len(missing)
    line = f"Standup: {answered} of {total} shared an update"
    if opened:
        line += f"; {len(opened)} new blocker{'s' if len(opened) != 1 else ''}"
    return line + ". Details in the thread."


def _summary_sections(missing: list[str], opened: list[Blocker]) -> tuple[Section, ...]:
    sections = []
    if opened:
        sections.append(Section("\n".join(blocker_line(b.number, b.text, reporter=b.reporter)
                                          for b in opened), title="New blockers"))
    if missing:
        # Named once, in the summary, without a nudge: people have reasons.
        sections.append(Section(", ".join(mention(u) for u in missing), title="No update yet"))
    return tuple(sections)
