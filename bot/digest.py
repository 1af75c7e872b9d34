"""Digests: built as data first (`Digest`), rendered second, so every platform shows the same
numbers and the numbers are tested once."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot import classify as rules
from bot.chart import Chart, Series
from bot.flow import Flow, Week
from bot.model import (
    OPEN_REQUEST_STATES,
    Action,
    Blocker,
    Outgoing,
    Request,
    RequestState,
    Section,
    StandupAnswer,
    Team,
    Where,
)
from bot.ports import UnitOfWork
from bot.text import age, mention, one_line
from bot.views import Evidence, blocker_line, evidence_of, issue_line, plural, request_line

PERIODS = {"day": timedelta(days=1), "week": timedelta(days=7)}


@dataclass(frozen=True)
class BlockerLine:
    number: int
    text: str
    owner: str
    unblocker: str | None
    opened_at: datetime
    age: str  # open ones: how long open so far; resolved ones: how long they were open
    resolved_by: str | None = None
    resolution: str | None = None  # the note it was resolved with


@dataclass(frozen=True)
class RequestLine:
    number: int
    title: str
    state: str
    requester: str
    problem: str | None
    age: str
    reopened: str | None = None  # the requester's "not yet": why the delivery did not solve it
    problem_unclear: bool = False
    evidence: Evidence = Evidence()  # how many people have the problem, in which teams
    created_at: datetime | None = None
    merged_into: int | None = None
    issue: str | None = None  # its issue in the team's tracker: "acme/app#12 https://..."
    delivered: str | None = None  # how long ago it was delivered ("3d"), once it was
    success: str | None = None  # "How will we know it worked?": the acceptance check


@dataclass(frozen=True)
class Highlight:
    """One person's standup in a line: what moved, what blocks them."""

    user: str
    moved: str | None
    blocks: str | None


@dataclass(frozen=True)
class Participation:
    answered: tuple[str, ...]
    missing: tuple[str, ...]
    highlights: tuple[Highlight, ...] = ()  # the latest answer of each who answered


@dataclass(frozen=True)
class Digest:
    team: Team
    period: str
    start: datetime
    end: datetime
    open_blockers: tuple[BlockerLine, ...]  # oldest first
    resolved_blockers: tuple[BlockerLine, ...]  # resolved within the period
    requests_by_state: tuple[tuple[str, tuple[RequestLine, ...]], ...]  # open states, in order
    waiting_for_decision: tuple[RequestLine, ...]
    # Awaiting acceptance: delivered, the requester has not answered; the oldest delivery first
    awaiting_confirmation: tuple[RequestLine, ...]
    solved: tuple[RequestLine, ...]  # outcomes accepted within the period
    new_requests: int
    new_blockers: int
    standups: Participation
    # Open items said in private places, not shown to this digest's readers (only counted).
    private_blockers: int = 0
    private_requests: int = 0
    merged: tuple[RequestLine, ...] = ()  # merged into another request within the period
    # Weekly only: how the process is going, the last complete week against the four before
    # (bot.usecases.insights.digest_with_flow adds it).
    flow: Flow | None = None

    @property
    def quiet(self) -> bool:
        """Nothing open and nothing happened: the digest is one line, not an empty report."""
        return not (
            self.open_blockers or self.resolved_blockers or self.requests_by_state
            or self.waiting_for_decision or self.awaiting_confirmation
            or self.solved or self.merged or self.standups.answered or self.private_blockers
            or self.private_requests
        )

    @property
    def headline(self) -> str:
        if self.quiet:
            return f"Nothing open and nothing changed this {self.period}."
        parts = []
        if self.open_blockers:
            n = len(self.open_blockers)
            parts.append(f"{n} blocker{'s' if n != 1 else ''} open, oldest {self.open_blockers[0].age}")
        else:
            parts.append("no open blockers")
        if self.waiting_for_decision:
            n = len(self.waiting_for_decision)
            parts.append(f"{n} request{'s' if n != 1 else ''} waiting for your decision")
        if self.solved:
            n = len(self.solved)
            parts.append(f"{n} deliver{'ies' if n != 1 else 'y'} accepted")
        return "; ".join(parts).capitalize() + "."


def _blocker_line(b: Blocker, now: datetime) -> BlockerLine:
    if b.resolved_at is not None:  # how long it was open, not how long ago it opened
        return BlockerLine(b.number, b.text, b.owner, b.unblocker, b.opened_at,
                           age(b.opened_at, b.resolved_at), b.resolved_by, b.resolution)
    return BlockerLine(b.number, b.text, b.owner, b.unblocker, b.opened_at, age(b.opened_at, now))


def _request_line(r: Request, now: datetime, evidence: dict[int, Evidence]) -> RequestLine:
    reopened = (r.outcome_note or "no reason given") \
        if r.state == RequestState.IN_PROGRESS and r.outcome_at else None
    return RequestLine(r.number, r.title, r.state.value, r.requester, r.problem,
                       age(r.created_at, now), reopened, r.problem_unclear,
                       evidence.get(r.number, Evidence()), r.created_at, r.merged_into,
                       issue_line(r) if r.issue_label else None,
                       age(r.delivered_at, now) if r.delivered_at else None,
                       r.answers.get("success"))


def _by_voices(r: Request, evidence: dict[int, Evidence]) -> tuple[int, datetime]:
    """Decisions first where most people have the problem, then the oldest."""
    return -evidence.get(r.number, Evidence()).people, r.created_at


def _highlights(answers: list[StandupAnswer]) -> tuple[Highlight, ...]:
    latest: dict[str, StandupAnswer] = {}
    for answer in answers:  # oldest first: the last one of each person wins
        latest[answer.user] = answer
    found = []
    for user, answer in sorted(latest.items()):
        sentences = [s for s in (x.strip().rstrip(".;,") for x in _SENTENCES.split(answer.text))
                     if s]
        blocks = [s for s in sentences if rules.classify(s).label == "blocker"]
        moved = [s for s in sentences if s not in blocks]
        found.append(Highlight(user, "; ".join(moved[:2]) or None, "; ".join(blocks[:2]) or None))
    return tuple(found)


_SENTENCES = re.compile(r"(?<=[.!?;])\s+|\n+")
# Shown in "Decisions needed" (the section that asks for action), so not again by state.
_DECISION_STATES = (RequestState.READY_FOR_REVIEW, RequestState.DELIVERED)


async def build_digest(uow: UnitOfWork, team: Team, period: str, now: datetime, *,
                       viewer: str | None = None, everything: bool = True) -> Digest:
    """A fixed number of queries whatever the team's size.

    Who reads it decides what it shows: `everything` (a producer 1:1, the operator's command
    line) or, in a shared place (`viewer` None) or to anyone else, only what was said where
    everyone in the team could read it, plus the viewer's own; the rest is counted, not shown."""
    start = now - PERIODS[period]
    everything_blockers = await uow.blockers.open(team)
    everything_resolved = await uow.blockers.resolved_between(team, start, now)
    everything_open = await uow.requests.list(team, states=OPEN_REQUEST_STATES)
    everything_closed = await uow.requests.changed_between(team, start, now)
    open_blockers = [b for b in everything_blockers if b.shown_to(viewer, everything)]
    resolved = [b for b in everything_resolved if b.shown_to(viewer, everything)]
    open_requests = [r for r in everything_open if r.shown_to(viewer, everything)]
    closed = [r for r in everything_closed if r.shown_to(viewer, everything)]
    hidden = (len(everything_blockers) - len(open_blockers), len(everything_open) - len(open_requests))
    answers = await uow.standups.between(team, start, now)
    members = await uow.members.list(team)
    shown = open_requests + closed
    evidence = evidence_of(shown, await uow.voices.of(team, [r.number for r in shown]),
                           {m.user: m for m in members})

    by_state = []
    for state in OPEN_REQUEST_STATES:
        if state in _DECISION_STATES:
            continue
        lines = tuple(_request_line(r, now, evidence) for r in open_requests
                      if r.state == state)
        if lines:
            by_state.append((state.value, lines))
    answered = sorted({a.user for a in answers})
    expected = sorted(m.user for m in members if m.in_standups)
    new_blockers = sum(1 for b in open_blockers if b.opened_at >= start) + sum(
        1 for b in resolved if b.opened_at >= start)
    new_requests = sum(1 for r in open_requests + closed if r.created_at >= start)
    return Digest(
        team=team,
        period=period,
        start=start,
        end=now,
        open_blockers=tuple(_blocker_line(b, now) for b in open_blockers),
        resolved_blockers=tuple(_blocker_line(b, now) for b in resolved),
        requests_by_state=tuple(by_state),
        waiting_for_decision=tuple(
            _request_line(r, now, evidence) for r in sorted(
                (r for r in open_requests if r.state == RequestState.READY_FOR_REVIEW),
                key=lambda r: _by_voices(r, evidence))),
        awaiting_confirmation=tuple(
            _request_line(r, now, evidence) for r in sorted(
                (r for r in open_requests if r.state == RequestState.DELIVERED),
                key=lambda r: r.delivered_at or r.created_at)),
        solved=tuple(_request_line(r, now, evidence) for r in closed
                     if r.state == RequestState.SOLVED),
        merged=tuple(_request_line(r, now, evidence) for r in closed
                     if r.state == RequestState.MERGED),
        new_requests=new_requests,
        new_blockers=new_blockers,
        standups=Participation(tuple(answered), tuple(u for u in expected if u not in answered),
                               _highlights(answers)),
        private_blockers=hidden[0],
        private_requests=hidden[1],
    )


def _blocker_text(b: BlockerLine) -> str:
    if b.resolved_by:
        how = f"open {b.age}, resolved by {mention(b.resolved_by)}" + (
            f": {one_line(b.resolution, 120)}" if b.resolution else "")
        return blocker_line(b.number, b.text, reporter=b.owner, since=how, limit=90)
    return blocker_line(b.number, b.text, reporter=b.owner, since=b.age, unblocker=b.unblocker,
                        limit=90)


def _request_text(r: RequestLine, with_problem: bool = True) -> str:
    details = [mention(r.requester)]
    if r.evidence.people > 1:
        details.append(r.evidence.summary)
    if r.issue:
        details.append(r.issue)
    if not with_problem:
        return request_line(r.number, r.title, *details)
    line = request_line(r.number, r.title, *details, problem=r.problem,
                        unstated="_not stated yet_")
    if r.problem_unclear:
        line += " _(problem unclear)_"
    if r.reopened:
        line += f"\n    Reopened: {one_line(r.reopened, 140)}"
    return line


def _awaiting_text(r: RequestLine) -> str:
    """`• #3 *CSV export* (@sam) delivered 3d ago`, and the requester's own check."""
    line = f"{_request_text(r, False)} delivered {r.delivered or '?'} ago"
    return line + (f"\n    Check: {one_line(r.success, 140)}" if r.success
                   else "\n    Check: _none given_")


def _highlight_text(h: Highlight) -> str:
    parts = [one_line(h.moved, 140)] if h.moved else []
    if h.blocks:
        parts.append(f"blocked: {one_line(h.blocks, 120)}")
    return f"• {mention(h.user)}: " + ("; ".join(parts) or "an update")


MAX_LINES = 15  # per section: a digest is read, not searched; the rest is a command away


def _capped(lines: list[str], rest: str) -> str:
    if len(lines) <= MAX_LINES:
        return "\n".join(lines)
    hidden = len(lines) - MAX_LINES
    return "\n".join(lines[:MAX_LINES] + [f"…and {hidden} more ({rest})"])


def how_section(d: Digest) -> Section | None:
    """The weekly "How we're doing": the three figures that moved most, or one line."""
    if d.flow is None:
        return None
    return Section("\n".join(f"• {line}" for line in d.flow.summary), title="How we're doing")


def digest_sections(d: Digest) -> tuple[Section, ...]:
    how = how_section(d)
    if d.quiet:
        # Nothing open now, but the weeks before may still say something.
        return (how,) if how and d.flow and not d.flow.quiet else ()
    sections = []
    decisions = [_request_text(r) for r in d.waiting_for_decision]
    if decisions:
        sections.append(Section(_capped(decisions, "`requests` lists them"),
                                title="Decisions needed"))
    if d.awaiting_confirmation:
        sections.append(Section(_capped([_awaiting_text(r) for r in d.awaiting_confirmation],
                                        "`requests` lists them"),
                                title="Awaiting acceptance: delivered, no answer yet"))
    if d.open_blockers:
        sections.append(Section(_capped([_blocker_text(b) for b in d.open_blockers],
                                        "`blockers` lists them all"),
                                title="Open blockers, oldest first"))
    if d.resolved_blockers:
        sections.append(Section(_capped([_blocker_text(b) for b in d.resolved_blockers], "resolved"),
                                title=f"Blockers resolved this {d.period}"))
    for state, lines in d.requests_by_state:
        sections.append(Section(_capped([_request_text(r) for r in lines], "`requests all`"),
                                title=f"Requests {state} ({len(lines)})"))
    if d.solved:
        sections.append(Section(_capped([_request_text(r) for r in d.solved], "`requests all`"),
                                title="Delivered and accepted"))
    if d.merged:
        sections.append(Section(_capped(
            [f"{request_line(r.number, r.title)} merged into #{r.merged_into}" for r in d.merged],
            "`requests all`"), title=f"Merged this {d.period}: the same problem as another"))
    s = d.standups
    if s.answered or s.missing:
        total = len(s.answered) + len(s.missing)
        line = f"{len(s.answered)} of {total} posted an update this {d.period}"
        if s.missing:
            line += " (not yet: " + ", ".join(mention(u) for u in s.missing) + ")"
        lines = [line, *(_highlight_text(h) for h in s.highlights)]
        sections.append(Section(_capped(lines, "`digest day` for today's"), title="Standups"))
    if d.private_blockers or d.private_requests:
        counted = [plural(n, what) for n, what in ((d.private_blockers, "open blocker"),
                                                   (d.private_requests, "open request")) if n]
        sections.append(Section(
            f"{' and '.join(counted)} from private conversations. Producers see them in their "
            "own digest (`digest` in a 1:1 chat with me).", title="Not shown here"))
    if how:
        sections.append(how)
    return tuple(sections)


def digest_actions(d: Digest) -> tuple[Action, ...]:
    # Buttons for the first few decisions; the rest are a command away.
    return tuple(
        Action(f"Accept #{r.number}", f"accept {r.number}", style="primary")
        for r in d.waiting_for_decision[:3]
    )


def digest_message(d: Digest, where: Where, **kwargs: object) -> Outgoing:
    title = f"{'Daily' if d.period == 'day' else 'Weekly'} digest"
    return Outgoing(
        where=where,
        text=f"{title}: {d.headline}",
        sections=digest_sections(d),
        actions=digest_actions(d),
        chart=flow_chart(d.flow) if d.flow is not None else None,
        **kwargs,  # type: ignore[arg-type]
    )


def flow_chart(flow: Flow) -> Chart | None:
    """Time to unblock, week by week (the four weeks before and this one): the picture of the
    figure producers asked for first. None for a quiet team or weeks with nothing resolved."""
    weeks = (*flow.unblock_weeks, Week(flow.start, flow.end, flow.unblock))
    if flow.quiet or not any(w.unblock.count for w in weeks):
        return None
    zone = ZoneInfo(flow.timezone)
    x = tuple(w.start.astimezone(zone).strftime("%b %d").replace(" 0", " ") for w in weeks)
    median = tuple(_rounded(w.unblock.median) for w in weeks)
    p85 = tuple(_rounded(w.unblock.p85) for w in weeks)

    def said(values: tuple[float | None, ...]) -> str:
        return ", ".join(f"{label} {'no data' if v is None else f'{v:g} h'}"
                         for label, v in zip(x, values, strict=True))

    return Chart("Time to unblock, by week (hours)", x,
                 (Series("median", "h", median), Series("85th percentile", "h", p85)),
                 alt=f"Median time to unblock by week: {said(median)}. "
                     f"85th percentile: {said(p85)}.")


def _rounded(hours: float | None) -> float | None:
    return None if hours is None else round(hours, 1)


def render_text(d: Digest) -> str:
    """The digest as plain text (console, CLI, notification fallbacks)."""
    lines = [f"{'Daily' if d.period == 'day' else 'Weekly'} digest: {d.headline}"]
    for section in digest_sections(d):
        lines += ["", section.title or "", section.text]
    return "\n".join(lines)
