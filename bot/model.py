"""Domain types of the conversation core.

Plain frozen dataclasses: no platform, database or LLM library appears here, so the same values
travel from any adapter through the core into storage and back out to any renderer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from bot.chart import Chart, Series  # noqa: F401  (a message may carry one)


@dataclass(frozen=True)
class Team:
    """A tenant: one Slack workspace, one Teams tenant, or the local console."""

    platform: str  # "slack" | "teams" | "console"
    tenant: str

    def __str__(self) -> str:
        return f"{self.platform}:{self.tenant}"

    @classmethod
    def parse(cls, text: str) -> Team:
        platform, sep, tenant = text.partition(":")
        if not sep or not platform or not tenant:
            raise ValueError(f"expected PLATFORM:TENANT, got {text!r}")
        return cls(platform, tenant)


@dataclass(frozen=True)
class Where:
    """A place in a chat platform."""

    platform: str
    tenant: str
    channel: str
    thread: str | None = None

    @property
    def team(self) -> Team:
        return Team(self.platform, self.tenant)

    def in_thread(self, thread: str | None) -> Where:
        return Where(self.platform, self.tenant, self.channel, thread)


@dataclass(frozen=True)
class InboundMessage:
    """Something a person said or did, translated by an adapter.

    Button clicks arrive here too: an action carries the text command it stands for, so a click
    and a typed command go through the same parsing and the same permission checks.
    """

    where: Where
    user: str
    text: str
    event_id: str  # dedupe key, unique per platform
    at: datetime
    command: str | None = None  # "request", "blocker", ... when it came as a slash command
    message_id: str | None = None  # the platform's id of this message (Slack ts), to reply in thread
    direct: bool = False  # said in a 1:1 conversation with the bot
    addressed: bool = False  # the bot was @mentioned: bare commands apply, as in a 1:1
    user_name: str | None = None
    user_tz: str | None = None  # IANA zone, when the platform told us
    form: dict[str, str] | None = None  # fields of a submitted form (a modal, a form card)
    # "message"; "click": a button's command, not something typed; "edit": `message_id` was
    # edited to read `text`; "delete": `message_id` was deleted
    kind: str = "message"
    # Said where not everyone in the team can read it (a private channel, a group DM, a Teams
    # group chat or private channel): what it opens is shown in full only to producers 1:1
    # and to the person who said it.
    private: bool = False
    # The sender belongs to another organisation (a Slack Connect channel): they may report and
    # request, but never hold a role or see the whole team's lists.
    outsider: bool = False


class Role(StrEnum):
    PRODUCER = "producer"
    ENGINEER = "engineer"
    STAKEHOLDER = "stakeholder"
    # Nobody gets a role by speaking: a member becomes an engineer by reporting a blocker or a
    # standup, a stakeholder by filing a request, or is given a role by a producer.
    MEMBER = "member"


class BlockerStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"
    DISMISSED = "dismissed"  # "not a blocker": kept for the record, never counted


class RequestState(StrEnum):
    NEEDS_DISCOVERY = "needs-discovery"
    READY_FOR_REVIEW = "ready-for-review"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    IN_PROGRESS = "in-progress"
    DELIVERED = "delivered"
    SOLVED = "solved"  # the requester confirmed the delivery solved their problem
    WITHDRAWN = "withdrawn"
    MERGED = "merged"  # the same problem as another request: its people count there now


OPEN_REQUEST_STATES = (
    RequestState.NEEDS_DISCOVERY,
    RequestState.READY_FOR_REVIEW,
    RequestState.ACCEPTED,
    RequestState.IN_PROGRESS,
    RequestState.DELIVERED,
)


@dataclass
class Member:
    team: Team
    user: str
    role: Role = Role.MEMBER
    name: str | None = None
    tz: str | None = None
    away_until: datetime | None = None
    outsider: bool = False  # from another organisation (Slack Connect): never a role
    # Takes part in standups: True or False when they (or a producer) said so; None: by role
    # (engineers and producers do, stakeholders and members don't).
    standup: bool | None = None

    @property
    def in_standups(self) -> bool:
        if self.standup is not None:
            return self.standup
        return self.role in (Role.ENGINEER, Role.PRODUCER)

    @property
    def label(self) -> str:
        return self.name or self.user


@dataclass
class Blocker:
    team: Team
    number: int
    text: str
    reporter: str
    channel: str
    opened_at: datetime
    thread: str | None = None
    blocked_on: str | None = None
    unblocker: str | None = None
    source: str = "command"  # "command" | "message" | "standup" | "shortcut"
    status: BlockerStatus = BlockerStatus.OPEN
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    resolution: str | None = None
    escalated_at: datetime | None = None
    private: bool = False  # said where not everyone in the team can read it (InboundMessage)
    message_id: str | None = None  # the platform's id of the message that opened it

    @property
    def owner(self) -> str:
        # The reporter owns the blocker until someone reassigns it; the unblocker is who can end it.
        return self.reporter

    @property
    def is_open(self) -> bool:
        return self.status == BlockerStatus.OPEN

    def shown_to(self, viewer: str | None, everything: bool) -> bool:
        """May it appear, in full, where `viewer` reads (None: a shared place)? `everything`:
        a producer reading 1:1."""
        return not self.private or everything or (viewer is not None and viewer == self.reporter)

    def close(self, status: BlockerStatus, by: str, at: datetime, note: str | None = None) -> None:
        """Resolve or dismiss: only an open blocker closes, and only once."""
        if not self.is_open or status == BlockerStatus.OPEN:
            raise ValueError(f"blocker #{self.number} is {self.status.value}")
        self.status, self.resolved_at, self.resolved_by = status, at, by
        self.resolution = note or None

    def age(self, now: datetime) -> float:
        """Age in days, fractional."""
        return max(0.0, (now - self.opened_at).total_seconds() / 86400)


@dataclass(frozen=True)
class BlockerEvent:
    """One line of a blocker's history: opened, updated ("still blocked ..."), edited,
    resolved or dismissed; by whom, when, and in their words."""

    number: int
    at: datetime
    kind: str  # "opened" | "updated" | "edited" | "resolved" | "dismissed"
    by: str
    text: str | None = None


@dataclass(frozen=True)
class DiscoveryQuestion:
    field: str
    text: str
    required: bool


# Asked one at a time, in this order. Only the problem is required before a request can be
# reviewed; the rest make it better and can be skipped.
DISCOVERY_QUESTIONS: tuple[DiscoveryQuestion, ...] = (
    DiscoveryQuestion("problem", "What problem does this solve?", True),
    DiscoveryQuestion("who", "Who has this problem? (a team, a kind of customer, a person)", False),
    DiscoveryQuestion("coping", "How do they cope with it today?", False),
    DiscoveryQuestion("success", "How will we know it worked?", False),
)


@dataclass
class Request:
    team: Team
    number: int
    title: str
    requester: str
    channel: str
    created_at: datetime
    thread: str | None = None
    state: RequestState = RequestState.NEEDS_DISCOVERY
    answers: dict[str, str] = field(default_factory=dict)
    discovery_step: int = 0  # index into DISCOVERY_QUESTIONS of the question awaiting an answer
    followup_asked: bool = False  # the one "that sounds like a solution" follow-up was asked
    discovery_direct: bool = False  # discovery runs in a 1:1 conversation (no thread)
    decision_reason: str | None = None
    decided_by: str | None = None
    ready_at: datetime | None = None
    decided_at: datetime | None = None
    delivered_at: datetime | None = None
    delivery_note: str | None = None
    outcome_at: datetime | None = None
    outcome_note: str | None = None
    updated_at: datetime | None = None
    private: bool = False  # filed where not everyone in the team can read it (InboundMessage)
    # Asked twice what problem it solves, the answer still named no pain or cost: accepted for
    # review, marked so the producer sees it.
    problem_unclear: bool = False
    # The platform's id of the message that gave each discovery answer (field -> message id), so
    # that an edit of that message corrects the answer.
    answer_messages: dict[str, str] = field(default_factory=dict)
    merged_into: int | None = None  # MERGED: the request its people now count on
    # Its issue in the team's tracker. `issue_project` ("github:acme/app") is set when filing
    # is queued; the rest when the tracker has answered (`issue_ref`: the adapter's own id of
    # the issue, `issue_label`: "acme/app#12", `issue_link`: its web address).
    issue_project: str | None = None
    issue_ref: str | None = None
    issue_label: str | None = None
    issue_link: str | None = None

    @property
    def problem(self) -> str | None:
        return self.answers.get("problem")

    @property
    def in_discovery(self) -> bool:
        return self.discovery_step < len(DISCOVERY_QUESTIONS) and self.state in (
            RequestState.NEEDS_DISCOVERY,
            RequestState.READY_FOR_REVIEW,
        )

    @property
    def current_question(self) -> DiscoveryQuestion | None:
        if not self.in_discovery:
            return None
        return DISCOVERY_QUESTIONS[self.discovery_step]

    def can(self, move: Move) -> bool:
        return self.state in move.sources

    @property
    def status(self) -> str:
        """Its state as people read it: `merged into #4` rather than a bare `merged`."""
        if self.state == RequestState.MERGED and self.merged_into is not None:
            return f"merged into #{self.merged_into}"
        return self.state.value

    def shown_to(self, viewer: str | None, everything: bool) -> bool:
        """See Blocker.shown_to."""
        return not self.private or everything or (viewer is not None and viewer == self.requester)

    def move(self, move: Move, at: datetime, by: str | None = None,
             note: str | None = None) -> None:
        """Take one step of the lifecycle, recording when, by whom and why. `note` is the
        decline reason, the delivery note or the requester's word on the outcome."""
        if not self.can(move):
            raise ValueError(f"request #{self.number} is {self.state.value}: it can't be {move.verb}")
        self.state, self.updated_at = move.target, at
        if move is READY:
            self.ready_at = at
        elif move in (ACCEPT, DECLINE, MERGE):
            self.decided_by, self.decided_at = by, at
            if move is DECLINE:
                self.decision_reason = note
        elif move is DELIVER:
            self.delivered_at, self.delivery_note = at, note or None
        elif move in (SOLVE, REOPEN):
            self.outcome_at, self.outcome_note = at, note or None


@dataclass(frozen=True)
class Move:
    """One step of a request's lifecycle: from which states it may be taken, and where it leads.
    `verb` is how people read it ("can't be accepted")."""

    verb: str
    sources: frozenset[RequestState]
    target: RequestState


_S = RequestState
_BEFORE_DELIVERY = frozenset({_S.NEEDS_DISCOVERY, _S.READY_FOR_REVIEW, _S.ACCEPTED, _S.IN_PROGRESS})

# The request lifecycle, in one table: every state change a request can make.
READY = Move("ready for review", frozenset({_S.NEEDS_DISCOVERY}), _S.READY_FOR_REVIEW)
ACCEPT = Move("accepted", frozenset({_S.READY_FOR_REVIEW}), _S.ACCEPTED)
DECLINE = Move("declined", _BEFORE_DELIVERY, _S.DECLINED)
START = Move("started", frozenset({_S.ACCEPTED}), _S.IN_PROGRESS)
DELIVER = Move("delivered", frozenset({_S.ACCEPTED, _S.IN_PROGRESS}), _S.DELIVERED)
SOLVE = Move("solved", frozenset({_S.DELIVERED}), _S.SOLVED)  # the requester confirms
REOPEN = Move("reopened", frozenset({_S.DELIVERED}), _S.IN_PROGRESS)  # "not yet"
WITHDRAW = Move("withdrawn", _BEFORE_DELIVERY, _S.WITHDRAWN)
# A producer's "this is the same problem as #m": the request closes, its people move to #m.
MERGE = Move("merged", _BEFORE_DELIVERY, _S.MERGED)
MOVES = (READY, ACCEPT, DECLINE, START, DELIVER, SOLVE, REOPEN, WITHDRAW, MERGE)


@dataclass
class Voice:
    """Someone else who has the problem a request states ("me too"): who, their own team when
    known (a department, or another organisation for an outsider), how it affects them, and
    when they said so. One per person and request."""

    team: Team
    number: int  # the request's
    user: str
    at: datetime
    user_team: str | None = None
    problem: str | None = None  # in their own words, optional
    merged_from: int | None = None  # came with request #merged_from when it was merged


@dataclass(frozen=True)
class Demo:
    """A demo the team held (`demo done`): its per-team number, when, which producer recorded
    it, and the requests shown (delivered since the demo before)."""

    team: Team
    number: int
    at: datetime
    by: str
    requests: tuple[int, ...]


@dataclass(frozen=True)
class Verdict:
    """Someone who added their voice to a request says whether its delivery solved their
    problem. One per person, request and demo (0: outside any demo); it never moves the
    request: only its requester's `solved` / `notyet` does."""

    team: Team
    number: int  # the request's
    user: str
    verdict: str  # SOLVED_VERDICT | NOT_YET_VERDICT
    at: datetime
    demo: int = 0
    note: str | None = None


SOLVED_VERDICT, NOT_YET_VERDICT = "solved", "not-yet"


SCHEDULE_KINDS = ("standup", "standup-summary", "daily-digest", "weekly-digest")


@dataclass(frozen=True)
class Schedule:
    """When something recurring happens for a team, in which zone, and where it goes.

    `tz` None means: standup prompts in each member's own zone, everything else in the team's.
    `channel` None means: standup prompts to each member, summaries and digests to producers.
    """

    team: Team
    kind: str
    cron: str  # "MIN HOUR DOM MON DOW"
    tz: str | None = None
    channel: str | None = None
    enabled: bool = True


DEFAULT_SCHEDULES = {
    "standup": ("30 9 * * mon-fri", True),
    "standup-summary": ("0 11 * * mon-fri", True),
    "daily-digest": ("0 9 * * mon-fri", False),  # opt-in: a daily report is ceremony for most
    "weekly-digest": ("0 9 * * mon", True),
}


def effective_schedules(team: Team, stored: list[Schedule]) -> dict[str, Schedule]:
    """Every kind's schedule for the team: as stored, or else its default."""
    by_kind = {s.kind: s for s in stored}
    return {kind: by_kind.get(kind) or Schedule(team, kind, cron, enabled=enabled)
            for kind, (cron, enabled) in DEFAULT_SCHEDULES.items()}


@dataclass
class TeamSettings:
    team: Team
    timezone: str = "UTC"
    holidays: tuple[str, ...] = ()  # ISO dates in the team's zone
    escalate_after_days: float = 2.0  # working days before an open blocker goes to producers
    created_at: datetime | None = None
    # Where accepted requests are filed: a tracker project ("github:acme/app", "jira:PROJ",
    # "linear:ENG"), NO_TRACKER for none, or None for the environment's default.
    tracker: str | None = None


NO_TRACKER = "none"
# InboundMessage.kind of a tracker's webhook: an issue changed. Its `where` is the tracker
# (platform "github", tenant the project ref), its `form` says what happened (bot.usecases.tracking).
TRACKER_EVENT = "tracker"


@dataclass
class StandupAnswer:
    team: Team
    user: str
    text: str
    at: datetime
    channel: str


# ---- what the bot says -------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    """A block of the message. `text` uses a tiny neutral markup: *bold* and line breaks;
    user mentions are written `<@USER>` and rendered by each adapter."""

    text: str
    title: str | None = None


@dataclass(frozen=True)
class Action:
    """A button. `command` is the text command it runs, as if the clicking user had typed it."""

    label: str
    command: str
    style: str | None = None  # "primary" | "danger"
    needs_reason: bool = False  # ask the user for a line of text first; appended to the command
    # A form to fill first, prefilled: (field, label, current value) per input. Submitted, it
    # arrives as the command with `InboundMessage.form` holding the fields.
    form: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True)
class Outgoing:
    """A platform-neutral message. Adapters render it to Block Kit, Adaptive Cards or text."""

    where: Where
    text: str  # always present: notifications and screen readers use it
    sections: tuple[Section, ...] = ()
    actions: tuple[Action, ...] = ()
    private_to: str | None = None  # visible only to this user, inside `where` (ephemeral)
    to_user: str | None = None  # deliver as a 1:1 message to this user; where.channel is ignored
    key: str | None = None  # e.g. "request:7": the sent message's id is remembered under it
    # "message"; "home": the user's own overview (Slack's Home tab); "request-form": the
    # answer to a bare `request`, shown as the request form where a platform has one
    surface: str = "message"
    thread_key: str | None = None  # reply in the thread of the message sent under this key
    delivery_id: str | None = None  # set by the dispatcher: lets a sender recognise a resend
    # The person this answers, in a shared place: where the bot may not post (it was never
    # invited there), the adapter tells them 1:1 instead of dropping the answer.
    reply_to: str | None = None
    # A tracker effect (surface "issue-comment" / "issue-reopen"): the tracker's id of the issue.
    issue: str | None = None
    chart: Chart | None = None  # a picture of figures the text also gives
