"""How the process is going: flow figures computed from a team's stored history.

Pure functions of lists of domain objects and a few datetimes: no I/O, nothing but the standard
library, so every figure is tested with fixed clocks. Weeks start on Monday at 00:00 in the team's
IANA zone; their bounds are built from local calendar dates with zoneinfo, so a week across a
daylight-saving change is 167 or 169 hours long, not 168.

Percentiles: the median is the middle value (the mean of the two middle values for an even count,
as `statistics.median`); the 85th percentile is by nearest rank (the smallest value with at least
85% of the values at or below it), so it is always a duration that really happened.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.model import Blocker, BlockerStatus, Member, Request, RequestState, StandupAnswer, Team

WEEKS_BEFORE = 4  # "this week against the previous four"
MIN_ITEMS = 3  # a figure over fewer items than this is not compared (too few data points)


# ---- time ------------------------------------------------------------------------------------


def local_midnight(day: date, tz: str) -> datetime:
    """00:00 of `day` in zone `tz`, in UTC. (A zone that skips midnight on a DST day gives the
    first instant of that day, as zoneinfo's fold rules have it.)"""
    return datetime.combine(day, time(0), ZoneInfo(tz)).astimezone(UTC)


def local_date(at: datetime, tz: str) -> date:
    return at.astimezone(ZoneInfo(tz)).date()


def week_start(at: datetime, tz: str) -> datetime:
    """The Monday 00:00 (local) that begins the week `at` falls in, in UTC."""
    day = local_date(at, tz)
    return local_midnight(day - timedelta(days=day.weekday()), tz)


def weeks_back(start: datetime, tz: str, weeks: int) -> datetime:
    """The same local wall-clock time `weeks` weeks before `start` (DST-correct), in UTC."""
    local = start.astimezone(ZoneInfo(tz)).replace(tzinfo=None) - timedelta(weeks=weeks)
    return local.replace(tzinfo=ZoneInfo(tz)).astimezone(UTC)


def reads_from(start: datetime, end: datetime, tz: str) -> datetime:
    """How far back the figures of [start, end) look: the four weeks before `start`, and the
    five weeks of standups up to `end`."""
    return min(weeks_back(start, tz, WEEKS_BEFORE), weeks_back(end, tz, WEEKS_BEFORE + 1))


def last_week(now: datetime, tz: str) -> tuple[datetime, datetime]:
    """The last complete week (Monday to Sunday, local) before `now`."""
    end = week_start(now, tz)
    return weeks_back(end, tz, 1), end


# ---- small figures ---------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest rank: the ceil(p/100 * n)-th smallest value; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Spread:
    """Durations in hours: how many, their median and 85th percentile (None when none)."""

    count: int
    median: float | None
    p85: float | None

    @classmethod
    def of(cls, hours: Sequence[float]) -> Spread:
        return cls(len(hours), statistics.median(hours) if hours else None, percentile(hours, 85))


@dataclass(frozen=True)
class Week:
    """Time to unblock of the blockers resolved in one week [start, end)."""

    start: datetime
    end: datetime
    unblock: Spread


@dataclass(frozen=True)
class Stage:
    """One step of a request's way: median hours over the requests that reached its end."""

    name: str  # "filed -> problem stated", ...
    count: int
    median: float | None


@dataclass(frozen=True)
class Outcomes:
    """What became of the requests delivered in the period."""

    delivered: int
    solved: int  # the requester confirmed it solved their problem
    not_yet: int  # reopened after delivery ("not yet, because ...")
    no_answer: int


@dataclass(frozen=True)
class Turnout:
    """Standup participation in one week: people who answered of people expected. Expected are
    the members taking part in standups as they are now (their past settings are not kept),
    plus anyone else who answered."""

    start: datetime
    answered: int
    expected: int


@dataclass(frozen=True)
class Flow:
    team: Team
    timezone: str
    start: datetime
    end: datetime
    unblock: Spread  # blockers resolved in [start, end)
    unblock_weeks: tuple[Week, ...]  # the four weeks before start, oldest first
    unblock_before: Spread  # those four weeks together
    blocked_person_days: int  # distinct (reporter, local day) with a blocker open, in the period
    blocked_person_days_before: tuple[int, ...]  # the same, each of the four weeks before
    waiting_on: tuple[tuple[str, int], ...]  # blockers open in the period by who can unblock
    blockers_before: int  # blockers open some time in the four weeks before
    themes: tuple[tuple[str, int], ...]  # words shared by >= 2 of those blockers, top 3
    stages: tuple[Stage, ...]  # request lead time per stage, in the period
    stages_before: tuple[Stage, ...]  # the same over the four weeks before
    filed: int  # requests filed in the period
    problem_stated: int  # of those, with a stated problem
    outcomes: Outcomes  # of the requests delivered in the period
    outcomes_before: Outcomes  # of those delivered in the four weeks before
    filed_before: int  # requests filed in the four weeks before
    problem_stated_before: int  # of those, with a stated problem
    decline_reasons: tuple[tuple[str, int], ...]  # top 5
    standups: tuple[Turnout, ...]  # the five weeks up to `end`, oldest first
    changes: tuple[str, ...]  # the (up to) three figures that moved most, as sentences
    quiet: bool  # no blockers and no requests in the five weeks

    @property
    def summary(self) -> tuple[str, ...]:
        """What the digest shows: the changes, or one line saying why there are none."""
        if self.quiet:
            last = local_date(self.end - timedelta(microseconds=1), self.timezone)
            return (f"A quiet stretch: no blockers and no requests in the five weeks up to "
                    f"{last:%a %d %b}.",)
        if self.changes:
            return self.changes
        return ("Nothing moved much against the four weeks before (or too few blockers and "
                "requests to tell).",)


# ---- blockers --------------------------------------------------------------------------------


def normalise_unblocker(who: str | None) -> str:
    """`@Ops`, `the ops`, `Ops ` -> `ops`; unset -> `unknown`."""
    text = " ".join((who or "").lower().split())
    text = text.lstrip("@").strip()
    if text.startswith("the "):
        text = text[4:].strip()
    return text.lstrip("@") or "unknown"


_STOPWORDS = frozenset("""
    about after again also been before being blocked blocker blocking block blocks cannot cant
    could does doesn done from have having into just like more need needs once only other over
    must same some still than that their them then there these they this those until very waiting wait
    want were what when where which while will with without would your
""".split())
_WORD = re.compile(r"[a-z]+")


def content_words(text: str) -> set[str]:
    """Words of >= 4 letters that are not stop words, a plural "s" folded ("keys" -> "key")."""
    words = set()
    for word in _WORD.findall(text.lower()):
        if len(word) < 4 or word in _STOPWORDS:
            continue
        if word.endswith("s") and not word.endswith("ss") and len(word) > 4:
            word = word[:-1]
        if word not in _STOPWORDS:
            words.add(word)
    return words


def themes(texts: Iterable[str], top: int = 3) -> tuple[tuple[str, int], ...]:
    """Content words shared by at least two texts, most shared first (then alphabetical)."""
    counts = Counter(w for text in texts for w in content_words(text))
    shared = sorted(((w, n) for w, n in counts.items() if n >= 2), key=lambda x: (-x[1], x[0]))
    return tuple(shared[:top])


def _counted(labels: Iterable[str], top: int | None = None) -> tuple[tuple[str, int], ...]:
    ordered = sorted(Counter(labels).items(), key=lambda x: (-x[1], x[0]))
    return tuple(ordered[:top] if top else ordered)


def _hours(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() / 3600


def _unblock_hours(blockers: Sequence[Blocker], start: datetime, end: datetime) -> list[float]:
    return [_hours(b.opened_at, b.resolved_at) for b in blockers
            if b.status == BlockerStatus.RESOLVED and b.resolved_at is not None
            and start <= b.resolved_at < end]


def _open_between(b: Blocker, start: datetime, end: datetime, now: datetime) -> bool:
    closed = b.resolved_at if b.resolved_at is not None else now
    return b.opened_at < end and closed > start and b.opened_at < closed


def person_days(blockers: Sequence[Blocker], start: datetime, end: datetime, tz: str,
                now: datetime) -> int:
    """Distinct (reporter, local date) pairs on which the reporter had a blocker open for some
    part of that day within [start, end). A still open blocker is open until `now`."""
    pairs = set()
    day = local_date(start, tz)
    while (day_start := max(local_midnight(day, tz), start)) < end:
        day_end = min(local_midnight(day + timedelta(days=1), tz), end)
        for b in blockers:
            if _open_between(b, day_start, day_end, now):
                pairs.add((b.reporter, day))
        day += timedelta(days=1)
    return len(pairs)


# ---- requests --------------------------------------------------------------------------------

STAGES = ("filed -> problem stated", "problem stated -> decided", "decided -> delivered",
          "delivered -> confirmed")


def _stage_hours(requests: Sequence[Request], start: datetime, end: datetime) -> list[list[float]]:
    """For each stage, the hours of the requests whose stage ended in [start, end)."""

    def within(at: datetime | None) -> bool:
        return at is not None and start <= at < end

    found: list[list[float]] = [[], [], [], []]
    for r in requests:
        if within(r.ready_at):
            found[0].append(_hours(r.created_at, r.ready_at))  # type: ignore[arg-type]
        if within(r.decided_at) and r.ready_at is not None:
            found[1].append(_hours(r.ready_at, r.decided_at))  # type: ignore[arg-type]
        if within(r.delivered_at) and r.decided_at is not None:
            found[2].append(_hours(r.decided_at, r.delivered_at))  # type: ignore[arg-type]
        if (r.state == RequestState.SOLVED and within(r.outcome_at)
                and r.delivered_at is not None):
            found[3].append(_hours(r.delivered_at, r.outcome_at))  # type: ignore[arg-type]
    return found


def _stages(requests: Sequence[Request], start: datetime, end: datetime) -> tuple[Stage, ...]:
    return tuple(Stage(name, len(h), statistics.median(h) if h else None)
                 for name, h in zip(STAGES, _stage_hours(requests, start, end), strict=True))


def outcomes(requests: Sequence[Request], start: datetime, end: datetime) -> Outcomes:
    delivered = [r for r in requests if r.delivered_at is not None and start <= r.delivered_at < end]
    solved = sum(1 for r in delivered if r.state == RequestState.SOLVED)
    # outcome_at is set only by "solved" and "not yet": later than the delivery and not solved
    # means the requester reopened it after this delivery.
    not_yet = sum(1 for r in delivered if r.state != RequestState.SOLVED
                  and r.outcome_at is not None and r.outcome_at > r.delivered_at)  # type: ignore[operator]
    return Outcomes(len(delivered), solved, not_yet, len(delivered) - solved - not_yet)


def normalise_reason(text: str | None) -> str:
    flat = " ".join((text or "").lower().split()).strip(" .!;,")
    return flat or "no reason given"


def _filed(requests: Sequence[Request], start: datetime, end: datetime) -> list[Request]:
    return [r for r in requests if start <= r.created_at < end]


# ---- standups --------------------------------------------------------------------------------


def turnout(answers: Sequence[StandupAnswer], members: Sequence[Member], start: datetime,
            end: datetime) -> tuple[int, int]:
    answered = {a.user for a in answers if start <= a.at < end}
    expected = {m.user for m in members if m.in_standups} | answered
    return len(answered), len(expected)


# ---- changes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Change:
    size: float  # relative change, for ranking
    sentence: str


def _verb(now: float, before: float, up: str = "rose", down: str = "fell") -> str:
    ratio = now / before if before else math.inf
    if 1.9 <= ratio <= 2.1:
        return "doubled"
    if 2.9 <= ratio <= 3.1:
        return "tripled"
    if 0.45 <= ratio <= 0.55:
        return "halved"
    return up if now > before else down


def _h(hours: float) -> str:
    return f"{hours:.0f} h" if hours >= 10 else f"{hours:.1f} h".replace(".0 h", " h")


def _relative(now: float, before: float) -> float:
    if before == 0:
        return math.inf if now else 0.0
    return abs(now - before) / abs(before)


def _pct(part: int | float, whole: int | float) -> str:
    return f"{round(100 * part / whole)}%" if whole else "-"


def changes(flow: Flow, resolved_now: Sequence[Blocker], top: int = 3) -> tuple[str, ...]:
    """The figures that moved most against the four weeks before, each as a sentence saying
    what it is and why it matters. Figures over fewer than MIN_ITEMS items on either side are
    left out: two blockers make no trend."""
    found: list[_Change] = []
    now, before = flow.unblock, flow.unblock_before
    if now.count >= MIN_ITEMS and before.count >= MIN_ITEMS and now.median and before.median:
        waited = Counter(normalise_unblocker(b.unblocker) for b in resolved_now)
        who, n = sorted(waited.items(), key=lambda x: (-x[1], x[0]))[0]
        why = (f"{n} of {now.count} waited on {who}." if who != "unknown" else
               f"{n} of {now.count} named nobody who could unblock them.")
        found.append(_Change(_relative(now.median, before.median), (
            f"Time to unblock {_verb(now.median, before.median)}: {_h(now.median)} (median) "
            f"against {_h(before.median)} the four weeks before; {why}")))
    earlier = flow.blocked_person_days_before
    average = sum(earlier) / len(earlier) if earlier else 0.0
    if (sum(n for _, n in flow.waiting_on) >= MIN_ITEMS
            and flow.blockers_before >= MIN_ITEMS and average):
        # A period other than a week (`report --since`) is compared per week.
        days = (local_date(flow.end, flow.timezone) - local_date(flow.start, flow.timezone)).days
        current = flow.blocked_person_days * 7 / days if days and days != 7 else None
        value = current if current is not None else flow.blocked_person_days
        shown = f"{current:.1f} a week" if current is not None else str(value)
        found.append(_Change(_relative(value, average), (
            f"Blocked person-days {_verb(value, average)}: {shown} against {average:.1f} a week "
            "the four weeks before; each is a day someone could not do what they planned.")))
    for stage, old in zip(flow.stages, flow.stages_before, strict=True):
        if stage.count >= MIN_ITEMS and old.count >= MIN_ITEMS and stage.median and old.median:
            slower = stage.median > old.median
            why = ("requests wait longer at this step." if slower else
                   "requests move through this step faster.")
            found.append(_Change(_relative(stage.median, old.median), (
                f"Lead time from {stage.name.replace(' -> ', ' to ')} "
                f"{_verb(stage.median, old.median)}: {_h(stage.median)} "
                f"(median) against {_h(old.median)} the four weeks before; {why}")))
    o, old_o = flow.outcomes, (flow.outcomes_before.solved, flow.outcomes_before.delivered)
    if o.delivered >= MIN_ITEMS and old_o[1] >= MIN_ITEMS:
        share, old_share = o.solved / o.delivered, old_o[0] / old_o[1]
        why = ("deliveries solve the problems they were for." if share >= old_share else
               "ask the requesters what is still missing.")
        found.append(_Change(_relative(share, old_share), (
            f"Deliveries confirmed solved {_verb(share, old_share)}: {o.solved} of {o.delivered} "
            f"({_pct(o.solved, o.delivered)}) against {_pct(*old_o)} the four weeks before; {why}")))
    stated_before = (flow.problem_stated_before, flow.filed_before)
    if flow.filed >= MIN_ITEMS and stated_before[1] >= MIN_ITEMS:
        share, old_share = flow.problem_stated / flow.filed, stated_before[0] / stated_before[1]
        why = ("decisions rest on real problems." if share >= old_share else
               "without a stated problem a decision is a guess.")
        found.append(_Change(_relative(share, old_share), (
            f"Requests with a stated problem {_verb(share, old_share)}: {flow.problem_stated} of "
            f"{flow.filed} ({_pct(flow.problem_stated, flow.filed)}) against "
            f"{_pct(*stated_before)} the four weeks before; {why}")))
    if flow.standups and flow.standups[-1].expected >= MIN_ITEMS:
        last, old_weeks = flow.standups[-1], flow.standups[:-1]
        old_answered = sum(t.answered for t in old_weeks)
        old_expected = sum(t.expected for t in old_weeks)
        if old_expected >= MIN_ITEMS:
            share, old_share = last.answered / last.expected, old_answered / old_expected
            why = ("the team shares what moves and what blocks it." if share >= old_share else
                   "blockers said nowhere are blockers nobody removes.")
            found.append(_Change(_relative(share, old_share), (
                f"Standup participation {_verb(share, old_share)}: {last.answered} of "
                f"{last.expected} ({_pct(last.answered, last.expected)}) against "
                f"{_pct(old_answered, old_expected)} the four weeks before; {why}")))
    ranked = sorted((c for c in found if c.size > 0), key=lambda c: -c.size)
    return tuple(c.sentence for c in ranked[:top])


# ---- all of it -------------------------------------------------------------------------------


def compute(team: Team, tz: str, start: datetime, end: datetime, now: datetime,
            blockers: Sequence[Blocker], requests: Sequence[Request],
            answers: Sequence[StandupAnswer], members: Sequence[Member]) -> Flow:
    """The flow figures of [start, end), against the four weeks before `start`."""
    counted = [b for b in blockers if b.status != BlockerStatus.DISMISSED]
    bounds = [weeks_back(start, tz, k) for k in range(WEEKS_BEFORE, 0, -1)] + [start]
    weeks = tuple(Week(a, b, Spread.of(_unblock_hours(counted, a, b)))
                  for a, b in zip(bounds, bounds[1:], strict=False))
    before_start = bounds[0]
    open_now = [b for b in counted if _open_between(b, start, end, now)]
    filed = _filed(requests, start, end)
    declined = [r for r in requests if r.state == RequestState.DECLINED
                and r.decided_at is not None and start <= r.decided_at < end]
    filed_before = _filed(requests, before_start, start)
    # Standups week by week: the five weeks up to `end`, whatever the period's length.
    standup_bounds = [weeks_back(end, tz, k) for k in range(WEEKS_BEFORE + 1, -1, -1)]
    five_weeks_start = reads_from(start, end, tz)
    quiet = not any(_open_between(b, five_weeks_start, end, now) for b in counted) and not any(
        _touches(r, five_weeks_start, end) for r in requests)
    flow = Flow(
        team=team, timezone=tz, start=start, end=end,
        unblock=Spread.of(_unblock_hours(counted, start, end)),
        unblock_weeks=weeks,
        unblock_before=Spread.of(_unblock_hours(counted, before_start, start)),
        blocked_person_days=person_days(counted, start, end, tz, now),
        blocked_person_days_before=tuple(person_days(counted, w.start, w.end, tz, now)
                                         for w in weeks),
        waiting_on=_counted(normalise_unblocker(b.unblocker) for b in open_now),
        blockers_before=sum(1 for b in counted if _open_between(b, before_start, start, now)),
        themes=themes(b.text for b in open_now),
        stages=_stages(requests, start, end),
        stages_before=_stages(requests, before_start, start),
        filed=len(filed),
        problem_stated=sum(1 for r in filed if r.problem),
        outcomes=outcomes(requests, start, end),
        outcomes_before=outcomes(requests, before_start, start),
        filed_before=len(filed_before),
        problem_stated_before=sum(1 for r in filed_before if r.problem),
        decline_reasons=_counted((normalise_reason(r.decision_reason) for r in declined), 5),
        standups=tuple(Turnout(a, *turnout(answers, members, a, b))
                       for a, b in zip(standup_bounds, standup_bounds[1:], strict=False)),
        changes=(), quiet=quiet)
    resolved_now = [b for b in counted if b.status == BlockerStatus.RESOLVED
                    and b.resolved_at is not None and start <= b.resolved_at < end]
    return flow if quiet else replace(flow, changes=changes(flow, resolved_now))


def _touches(r: Request, start: datetime, end: datetime) -> bool:
    stamps = (r.created_at, r.ready_at, r.decided_at, r.delivered_at, r.outcome_at)
    return any(t is not None and start <= t < end for t in stamps) or (
        r.state in _OPEN and r.created_at < end)


_OPEN = frozenset({RequestState.NEEDS_DISCOVERY, RequestState.READY_FOR_REVIEW,
                   RequestState.ACCEPTED, RequestState.IN_PROGRESS, RequestState.DELIVERED})
