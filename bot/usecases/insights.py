"""How we're doing: the flow figures of a period (bot.flow) read in a fixed number of
statements, and every blocker and request with the time of each stage, for export."""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bot import flow as figures
from bot.digest import Digest, build_digest
from bot.model import Blocker, Request, RequestState, Team
from bot.ports import UnitOfWork

EXPORT_COLUMNS = ("kind", "number", "title", "state", "person", "created", "problem_stated",
                  "decided", "delivered", "confirmed", "resolved", "resolved_by", "decided_by",
                  "unblocker")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


async def team_zone(uow: UnitOfWork, team: Team) -> str:
    return (await uow.tenants.get(team)).timezone or "UTC"


async def flow_for(uow: UnitOfWork, team: Team, start: datetime, end: datetime, now: datetime, *,
                   tz: str | None = None, viewer: str | None = None,
                   everything: bool = True) -> figures.Flow:
    """The flow figures of [start, end) against the four weeks before: five statements (four
    when the zone is given), whatever the team's size.

    As in the digest, a reader who may not see everything (`everything` False: a shared
    channel) gets figures over what was said where the whole team can read it, plus their own."""
    zone = tz or await team_zone(uow, team)
    since = figures.reads_from(start, end, zone)
    blockers = [b for b in await uow.blockers.touching(team, since, end)
                if b.shown_to(viewer, everything)]
    requests = [r for r in await uow.requests.touching(team, since, end)
                if r.shown_to(viewer, everything)]
    answers = await uow.standups.between(team, since, end)
    members = await uow.members.list(team)
    return figures.compute(team, zone, start, end, now, blockers, requests, answers, members)


async def digest_with_flow(uow: UnitOfWork, team: Team, period: str, now: datetime, *,
                           viewer: str | None = None, everything: bool = True) -> Digest:
    """The digest; a weekly one with "How we're doing": the last complete week (Monday to
    Sunday in the team's zone) against the four before. Five statements more, whatever the
    team's size."""
    digest = await build_digest(uow, team, period, now, viewer=viewer, everything=everything)
    if period != "week":
        return digest
    zone = await team_zone(uow, team)
    flow = await flow_for(uow, team, *figures.last_week(now, zone), now, tz=zone, viewer=viewer,
                          everything=everything)
    return replace(digest, flow=flow)


async def report(uow: UnitOfWork, team: Team, since: date | None, until: date | None,
                 now: datetime) -> figures.Flow:
    """The figures of the days `since` to `until` (both included, in the team's zone). Without
    either: the last complete week; with `since` alone: up to now; with `until` alone: the
    seven days ending with it."""
    zone = await team_zone(uow, team)
    if since is None and until is None:
        start, end = figures.last_week(now, zone)
    else:
        end = figures.local_midnight(until + timedelta(days=1), zone) if until else now
        start = figures.local_midnight(since, zone) if since else figures.weeks_back(end, zone, 1)
    if start >= end:
        raise ValueError(f"--since {since} is not before --until {until or 'now'}")
    return await flow_for(uow, team, start, end, now, tz=zone)


def flow_json(flow: figures.Flow) -> dict[str, Any]:
    """The figures as plain JSON values: times ISO in UTC, hours as floats."""

    def plain(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.astimezone(UTC).isoformat()
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        return value

    data = plain(asdict(flow))
    data["team"] = str(flow.team)
    data["summary"] = list(flow.summary)
    return data


def _iso(at: datetime | None) -> str:
    return at.astimezone(UTC).isoformat() if at else ""


def blocker_row(b: Blocker) -> dict[str, str]:
    return dict(kind="blocker", number=str(b.number), title=b.text, state=b.status.value,
                person=b.reporter, created=_iso(b.opened_at), problem_stated="", decided="",
                delivered="", confirmed="", resolved=_iso(b.resolved_at),
                resolved_by=b.resolved_by or "", decided_by="", unblocker=b.unblocker or "")


def request_row(r: Request) -> dict[str, str]:
    confirmed = r.outcome_at if r.state == RequestState.SOLVED else None
    return dict(kind="request", number=str(r.number), title=r.title, state=r.state.value,
                person=r.requester, created=_iso(r.created_at), problem_stated=_iso(r.ready_at),
                decided=_iso(r.decided_at), delivered=_iso(r.delivered_at),
                confirmed=_iso(confirmed), resolved="", resolved_by="",
                decided_by=r.decided_by or "", unblocker="")


async def export_rows(uow: UnitOfWork, team: Team, since: datetime | None,
                      now: datetime) -> list[dict[str, str]]:
    """Every blocker and request touching [since, now] (all of them without `since`), one row
    each, blockers first, by number. Two statements. For the operator: private ones included."""
    start, end = since or _EPOCH, now + timedelta(seconds=1)
    blockers = sorted(await uow.blockers.touching(team, start, end), key=lambda b: b.number)
    requests = await uow.requests.touching(team, start, end)
    return [*(blocker_row(b) for b in blockers), *(request_row(r) for r in requests)]


def _hours(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} h"


def _local(at: datetime, zone: str) -> str:
    return figures.local_date(at, zone).isoformat()


def render_markdown(flow: figures.Flow) -> str:
    """The figures as Markdown: headings, short tables, no colour to decode."""
    zone = flow.timezone
    last_day = figures.local_date(flow.end - timedelta(microseconds=1), zone)
    out = [f"# How we're doing: {flow.team}",
           f"{_local(flow.start, zone)} to {last_day.isoformat()} ({zone}), against the four "
           "weeks before", "", *(f"- {line}" for line in flow.summary)]
    if flow.quiet:
        return "\n".join(out) + "\n"
    out += ["", "## Time to unblock (hours)", "", "| week from | resolved | median | 85th pct |",
            "| --- | --- | --- | --- |"]
    rows = [(_local(w.start, zone), w.unblock) for w in flow.unblock_weeks]
    rows += [("four weeks before", flow.unblock_before), ("**this period**", flow.unblock)]
    out += [f"| {label} | {s.count} | {_hours(s.median)} | {_hours(s.p85)} |" for label, s in rows]
    out += ["", f"Blocked person-days: {flow.blocked_person_days} (the four weeks before: "
            f"{', '.join(str(n) for n in flow.blocked_person_days_before)})"]
    if flow.waiting_on:
        out.append("Waiting on: " + ", ".join(f"{who} {n}" for who, n in flow.waiting_on))
    if flow.themes:
        out.append("Recurring themes: " + ", ".join(f"{w} ({n})" for w, n in flow.themes))
    out += ["", "## Requests", "", "| stage | requests | median |", "| --- | --- | --- |"]
    out += [f"| {s.name.replace('->', '→')} | {s.count} | {_hours(s.median)} |"
            for s in flow.stages]
    o = flow.outcomes
    out += ["", f"Filed: {flow.filed}, with a stated problem: {flow.problem_stated}",
            f"Delivered: {o.delivered}: confirmed solved {o.solved}, not yet {o.not_yet}, "
            f"no answer {o.no_answer}"]
    if flow.decline_reasons:
        out.append("Declined because: " + "; ".join(f"{why} ({n})"
                                                    for why, n in flow.decline_reasons))
    out += ["", "## Standups (members taking part as they are now)", "",
            "| week from | answered | expected |", "| --- | --- | --- |"]
    out += [f"| {_local(t.start, zone)} | {t.answered} | {t.expected} |" for t in flow.standups]
    return "\n".join(out) + "\n"
