"""The ports the core needs. Storage and adapters implement them; the core only sees these.

Repositories hand out plain domain objects (bot.model) and take them back with `save`. Every
method is scoped by a Team: there is no way to ask for another tenant's rows by accident.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Self

from bot.model import (
    Blocker,
    BlockerEvent,
    Demo,
    InboundMessage,
    Member,
    Outgoing,
    Request,
    RequestState,
    Role,
    Schedule,
    StandupAnswer,
    Team,
    TeamSettings,
    Verdict,
    Voice,
    Where,
)


class Tenants(ABC):
    """Each team's own row: settings, numbering. (A team is a tenant: a Slack workspace, a
    Microsoft Teams tenant, the console.)"""

    @abstractmethod
    async def ensure(self, team: Team) -> None:
        """Create the team's row if it is new (idempotent, safe under concurrency)."""

    @abstractmethod
    async def next_number(self, team: Team, kind: str) -> int:
        """The next per-team number for "blocker" or "request" (#1, #2, ...)."""

    @abstractmethod
    async def get(self, team: Team) -> TeamSettings: ...

    @abstractmethod
    async def update(self, settings: TeamSettings) -> None: ...

    @abstractmethod
    async def all(self) -> list[TeamSettings]:
        """Every team. Only the scheduler walks across tenants, one team at a time."""


class Members(ABC):
    @abstractmethod
    async def ensure(self, team: Team, user: str, name: str | None = None,
                     tz: str | None = None, outsider: bool = False) -> Member:
        """The member, created if new; a name or zone given replaces the stored one, and
        `outsider` marks them as from another organisation for good."""

    @abstractmethod
    async def get(self, team: Team, user: str) -> Member | None: ...

    @abstractmethod
    async def set_role(self, team: Team, user: str, role: Role) -> None: ...

    @abstractmethod
    async def list(self, team: Team) -> list[Member]: ...

    @abstractmethod
    async def set_away(self, team: Team, user: str, until: datetime | None) -> None: ...

    @abstractmethod
    async def set_standup(self, team: Team, user: str, taking_part: bool | None) -> None:
        """Whether they take part in standups (None: as their role has it)."""


class Blockers(ABC):
    @abstractmethod
    async def add(self, blocker: Blocker) -> None: ...

    @abstractmethod
    async def get(self, team: Team, number: int) -> Blocker | None: ...

    @abstractmethod
    async def save(self, blocker: Blocker) -> None: ...

    @abstractmethod
    async def open(self, team: Team, reporter: str | None = None) -> list[Blocker]:
        """Open blockers, oldest first."""

    @abstractmethod
    async def resolved_between(self, team: Team, start: datetime, end: datetime) -> list[Blocker]: ...

    @abstractmethod
    async def touching(self, team: Team, start: datetime, end: datetime) -> list[Blocker]:
        """Blockers of any status opened before `end` and not resolved (or dismissed) before
        `start`, in one query, oldest first: what the flow figures of a window read."""

    @abstractmethod
    async def open_in_thread(self, team: Team, channel: str, thread: str) -> list[Blocker]:
        """Open blockers said in that thread, or opened by its first message."""

    @abstractmethod
    async def recent_open(self, team: Team, reporter: str, limit: int) -> list[Blocker]:
        """The reporter's newest open blockers, newest first, `limit` at most."""

    @abstractmethod
    async def by_message(self, team: Team, channel: str, message_id: str) -> Blocker | None:
        """The blocker the message `message_id` in `channel` opened, if it opened one."""

    @abstractmethod
    async def add_event(self, team: Team, event: BlockerEvent) -> None: ...

    @abstractmethod
    async def history(self, team: Team, number: int) -> list[BlockerEvent]:
        """The blocker's events, oldest first."""

    @abstractmethod
    async def mark_escalated(self, team: Team, number: int, at: datetime) -> bool:
        """Set escalated_at if it was unset; False if another process got there first."""


class Requests(ABC):
    @abstractmethod
    async def add(self, request: Request) -> None: ...

    @abstractmethod
    async def get(self, team: Team, number: int) -> Request | None: ...

    @abstractmethod
    async def save(self, request: Request) -> None: ...

    @abstractmethod
    async def list(self, team: Team, states: Sequence[RequestState] | None = None,
                   requester: str | None = None) -> list[Request]:
        """Requests oldest first, optionally filtered."""

    @abstractmethod
    async def changed_between(self, team: Team, start: datetime, end: datetime) -> list[Request]:
        """Closed requests (solved, declined, withdrawn) whose last change falls in the window."""

    @abstractmethod
    async def touching(self, team: Team, start: datetime, end: datetime) -> list[Request]:
        """Requests created, made ready, decided, delivered or answered in [start, end), or
        still open and created before `end`, in one query, by number."""

    @abstractmethod
    async def in_direct_discovery(self, team: Team, user: str, channel: str) -> Request | None:
        """The user's newest request whose discovery runs in this 1:1 conversation."""

    @abstractmethod
    async def by_thread(self, team: Team, channel: str, thread: str) -> Request | None: ...

    @abstractmethod
    async def by_issue(self, kind: str, ref: str) -> Request | None:
        """The request filed as issue `ref` in a tracker of `kind` ("github", ...), whichever
        team it belongs to: a tracker's webhook names the issue, not the team."""


class Voices(ABC):
    """Who else has a request's problem: one voice per person and request."""

    @abstractmethod
    async def add(self, voice: Voice) -> bool:
        """Add the voice; False (and nothing changed) when that person is already a voice on
        that request, even when another process added it a moment ago."""

    @abstractmethod
    async def save(self, voice: Voice) -> None:
        """Update an existing voice's team and words."""

    @abstractmethod
    async def get(self, team: Team, number: int, user: str) -> Voice | None: ...

    @abstractmethod
    async def of(self, team: Team, numbers: Sequence[int]) -> dict[int, list[Voice]]:
        """The voices of these requests, oldest first, in one query (a request without
        voices has no key)."""

    @abstractmethod
    async def by_user(self, team: Team, user: str) -> list[int]:
        """The numbers of the requests the user is a voice on."""


class Demos(ABC):
    """The team's demos and the verdicts of those who added their voice to what was shown."""

    @abstractmethod
    async def last(self, team: Team) -> Demo | None: ...

    @abstractmethod
    async def add(self, demo: Demo) -> bool:
        """Record it; False (nothing changed) when a demo with its number exists, even one
        another process recorded a moment ago."""

    @abstractmethod
    async def delivered_since(self, team: Team, since: datetime | None) -> list[Request]:
        """Requests delivered (still delivered, or since confirmed solved) after `since`, or
        ever when None, in the order they were delivered."""

    @abstractmethod
    async def showing(self, team: Team, number: int) -> Demo | None:
        """The newest demo that showed request #number."""

    @abstractmethod
    async def put_verdict(self, verdict: Verdict) -> None:
        """Insert, or replace that person's verdict on that request for that demo."""

    @abstractmethod
    async def verdicts(self, team: Team, numbers: Sequence[int]) -> list[Verdict]:
        """The verdicts on these requests, oldest first."""


class Standups(ABC):
    @abstractmethod
    async def add(self, answer: StandupAnswer, replaces_since: datetime | None = None) -> None:
        """Record an answer; the user's answers since `replaces_since` are replaced by it."""

    @abstractmethod
    async def between(self, team: Team, start: datetime, end: datetime) -> list[StandupAnswer]: ...


class PostedMessages(ABC):
    """What the platform called the messages the bot sent, remembered by their Outgoing.key."""

    @abstractmethod
    async def remember(self, team: Team, key: str, channel: str, message_id: str) -> None: ...

    @abstractmethod
    async def key_for(self, team: Team, channel: str, message_id: str) -> str | None: ...

    @abstractmethod
    async def find(self, team: Team, key: str) -> tuple[str, str] | None:
        """(channel, message id) of the message sent under `key`, if it was sent."""


class Schedules(ABC):
    @abstractmethod
    async def list(self, team: Team) -> list[Schedule]:
        """The team's stored schedules (kinds not stored run on their defaults)."""

    @abstractmethod
    async def put(self, schedule: Schedule) -> None: ...


class Runs(ABC):
    """Claims on scheduled effects: one row per (team, kind, recipient, period), ever."""

    @abstractmethod
    async def claim(self, team: Team, kind: str, recipient: str, period: str, at: datetime,
                    status: str = "sent") -> bool:
        """True if this process may produce the effect; False if it was already claimed."""

    @abstractmethod
    async def last_sent(self, team: Team, kind: str, recipient: str) -> datetime | None: ...

    @abstractmethod
    async def last_tick(self) -> datetime | None: ...

    @abstractmethod
    async def set_last_tick(self, at: datetime) -> None: ...


class Inbox(ABC):
    @abstractmethod
    async def add_many(self, messages: Sequence[InboundMessage]) -> list[int | None]:
        """Store inbound events in one statement: each one's new id, in order, or None where
        (platform, event id) was already stored (or came earlier in the same batch)."""

    async def add(self, message: InboundMessage) -> int | None:
        """Store one inbound event; None when (platform, event id) is already there."""
        return (await self.add_many([message]))[0]

    @abstractmethod
    async def claim(self, inbox_id: int) -> InboundMessage | None:
        """Mark a pending event handled, inside this unit of work, and return it.

        None when it is not pending (already handled, possibly by another process): the mark
        commits together with the effects, so an event's effects happen exactly once.
        """

    @abstractmethod
    async def claim_many(self, inbox_ids: Sequence[int]) -> list[tuple[int, InboundMessage]]:
        """`claim` for several events in one statement: those still pending, by id."""

    @abstractmethod
    async def pending(self, limit: int) -> list[int]: ...

    @abstractmethod
    async def pending_messages(self, limit: int) -> list[tuple[int, InboundMessage]]:
        """The oldest pending events with what they say, oldest first, without claiming them."""

    @abstractmethod
    async def fail(self, inbox_id: int, error: str) -> None: ...


@dataclass(frozen=True)
class OutboxItem:
    id: int
    message: Outgoing
    attempts: int
    # An earlier attempt was cut off (its process died mid-send): it may have been delivered.
    maybe_sent: bool = False


# Outbox rows that are not chat messages: tracker effects (surfaces "issue", "issue-comment",
# "issue-reopen") go to the sender registered as TRACKER, whatever chat platform their team is
# on, in a lane of their own: a slow tracker never holds up a chat message.
TRACKER = "tracker"


def route(message: Outgoing) -> str:
    """The sender a message goes through, and its outbox lane: TRACKER or its chat platform."""
    return TRACKER if message.surface.startswith("issue") else message.where.platform


class Outbox(ABC):
    @abstractmethod
    async def add(self, message: Outgoing) -> None: ...

    @abstractmethod
    async def claim_due(self, now: datetime, limit: int, lease_seconds: float,
                        trackers: bool = False) -> list[OutboxItem]:
        """Lease due messages for sending (chat messages, or with `trackers` tracker effects
        only); a lease that runs out (a crash) frees them again."""

    @abstractmethod
    async def sent(self, item_id: int, now: datetime) -> None: ...

    @abstractmethod
    async def retry(self, item_id: int, at: datetime, error: str,
                    uncertain: bool = False) -> None:
        """Try again at `at`. `uncertain`: the attempt got no definite answer (a timeout), so
        it may have been delivered; the next attempt checks before sending again."""

    @abstractmethod
    async def give_up(self, item_id: int, error: str) -> None: ...

    @abstractmethod
    async def postpone(self, item_id: int, at: datetime, reason: str | None = None) -> None:
        """Not yet (pacing, a rate limit): due again at `at`, without counting as a failed
        attempt; `reason` is kept as the row's last error."""

    @abstractmethod
    async def backlog(self) -> int: ...


class StorageUnavailable(Exception):
    """The database could not be reached (down, restarting, no connection free): nothing was
    written, and trying again with other data would not help."""


class UnitOfWork(ABC):
    """One transaction. Leaving the `async with` block without `commit()` rolls back."""

    tenants: Tenants
    members: Members
    blockers: Blockers
    requests: Requests
    voices: Voices
    demos: Demos
    standups: Standups
    schedules: Schedules
    runs: Runs
    posted: PostedMessages
    inbox: Inbox
    outbox: Outbox

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.rollback()

    @abstractmethod
    async def commit(self) -> None: ...

    @abstractmethod
    async def rollback(self) -> None: ...


# ---- sending ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    message_id: str | None = None  # the platform's id for the message (Slack ts, Teams activity id)
    channel: str | None = None  # where it landed (a DM's channel id, say)
    # A tracker issue: what people call it ("owner/repo#12", "PROJ-12") and its web address.
    label: str | None = None
    link: str | None = None


class RetryLater(Exception):
    """The platform asked us to slow down or is briefly unavailable. A rate limit is not a
    failed attempt (`counts=False`): the message waits as long as it is told, however often."""

    def __init__(self, after: float, reason: str = "", counts: bool = True) -> None:
        super().__init__(reason or f"retry after {after}s")
        self.after = after
        self.counts = counts


class Undeliverable(Exception):
    """The platform refused the message for good (channel gone, bot removed)."""


class MaybeDelivered(Exception):
    """The attempt failed in a way that can come after the message was posted (a cut
    connection, a timeout, Slack's `internal_error`): the next attempt first asks the platform
    (`Sender.find_sent`) so that it is not sent twice."""


class Sender(ABC):
    # The platform's pace per channel or person: on average one message every `pace` seconds,
    # with up to `burst` at once (Slack: about 1/s per channel). The dispatcher postpones what
    # comes too soon; it never sleeps.
    pace: float = 0.0
    burst: int = 1

    @abstractmethod
    async def send(self, message: Outgoing) -> Sent:
        """Deliver one message; raise RetryLater or Undeliverable when it could not be, and
        MaybeDelivered when it may have been (the next attempt asks `find_sent` first)."""

    async def find_sent(self, message: Outgoing) -> Sent | None:
        """Was this message (by its delivery_id) already delivered by a cut-off attempt?
        Senders that cannot tell return None, and the message is sent again."""
        return None


class Cron(ABC):
    """Cron arithmetic, zone-aware. Implemented with APScheduler outside the core."""

    @abstractmethod
    def check(self, expression: str) -> str | None:
        """None if the expression is valid, else a message saying what is wrong."""

    @abstractmethod
    def fire_times(self, expression: str, tz: str, start: datetime,
                   end: datetime) -> list[datetime]:
        """Fire times t with start < t <= end, as aware datetimes in zone `tz`."""


def reply_place(message: InboundMessage) -> Where:
    """Where an answer to `message` goes: its thread, or a new thread under it in a channel."""
    if message.direct or message.where.thread:
        return message.where
    return message.where.in_thread(message.message_id)
