"""Repositories and the unit of work over an AsyncSession.

Every query filters on (platform, tenant) first; nothing here can return another tenant's rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, delete, exc, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot import ports
from bot.model import (
    OPEN_REQUEST_STATES,
    Blocker,
    BlockerEvent,
    BlockerStatus,
    Member,
    Request,
    RequestState,
    Role,
    Schedule,
    StandupAnswer,
    Team,
    TeamSettings,
    Voice,
)
from storage.tables import (
    BlockerEventRow,
    BlockerRow,
    MemberRow,
    MessageRefRow,
    RequestRow,
    ScheduleRow,
    SchedulerStateRow,
    ScheduleRunRow,
    StandupRow,
    TeamRow,
    VoiceRow,
    utcnow,
)

# What a database that is down, restarting or out of connections raises.
_UNREACHABLE = (exc.OperationalError, exc.InterfaceError, exc.TimeoutError,
                exc.DisconnectionError, OSError)


@contextmanager
def _reachable() -> Iterator[None]:
    try:
        yield
    except _UNREACHABLE as error:
        raise ports.StorageUnavailable(f"{type(error).__name__}: {error}"[:500]) from error


def _team_filter(model: Any, team: Team) -> Any:
    return and_(model.platform == team.platform, model.tenant == team.tenant)


async def _insert_ignore(session: AsyncSession, model: Any, values: dict[str, Any]) -> int | None:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING id: the new id, or None if it existed.

    A plain INSERT that hits a unique key would abort a PostgreSQL transaction; this does not.
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(model).values(**values).on_conflict_do_nothing().returning(model.id)
    return (await session.execute(stmt)).scalar_one_or_none()


class _Repo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session


class SqlTenants(_Repo, ports.Tenants):
    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session)
        # Teams ensured in this transaction: the worker handles a batch of events in one, and
        # team rows are never deleted, so once is enough (a rollback forgets them).
        self._ensured: set[Team] = set()

    def forget(self) -> None:
        self._ensured.clear()

    async def ensure(self, team: Team) -> None:
        if team in self._ensured:
            return
        await _insert_ignore(self.session, TeamRow, dict(
            platform=team.platform, tenant=team.tenant, timezone="UTC", holidays=[],
            escalate_after_days=2.0, next_blocker=0, next_request=0, created_at=utcnow()))
        self._ensured.add(team)

    async def next_number(self, team: Team, kind: str) -> int:
        column = {"blocker": TeamRow.next_blocker, "request": TeamRow.next_request}[kind]
        # An UPDATE ... RETURNING holds the row lock until commit, so two processes never get
        # the same number (PostgreSQL); SQLite has a single writer anyway.
        stmt = (update(TeamRow).where(_team_filter(TeamRow, team))
                .values({column: column + 1}).returning(column))
        return (await self.session.execute(stmt)).scalar_one()

    @staticmethod
    def _settings(row: TeamRow) -> TeamSettings:
        return TeamSettings(Team(row.platform, row.tenant), row.timezone or "UTC",
                            tuple(row.holidays or ()), row.escalate_after_days, row.created_at,
                            row.tracker)

    async def get(self, team: Team) -> TeamSettings:
        row = (await self.session.execute(select(TeamRow).where(
            _team_filter(TeamRow, team)))).scalar_one_or_none()
        return self._settings(row) if row else TeamSettings(team)

    async def update(self, settings: TeamSettings) -> None:
        await self.session.execute(update(TeamRow).where(_team_filter(TeamRow, settings.team)).values(
            timezone=settings.timezone, holidays=sorted(set(settings.holidays)),
            escalate_after_days=settings.escalate_after_days, tracker=settings.tracker))

    async def all(self) -> list[TeamSettings]:
        rows = await self.session.execute(select(TeamRow).order_by(TeamRow.id))
        return [self._settings(r) for r in rows.scalars()]


def _member(row: MemberRow) -> Member:
    return Member(Team(row.platform, row.tenant), row.user_id, Role(row.role), row.name, row.tz,
                  row.away_until, row.outsider, row.standup)


class SqlMembers(_Repo, ports.Members):
    async def get(self, team: Team, user: str) -> Member | None:
        row = (await self.session.execute(select(MemberRow).where(
            _team_filter(MemberRow, team), MemberRow.user_id == user))).scalar_one_or_none()
        return _member(row) if row else None

    async def ensure(self, team: Team, user: str, name: str | None = None,
                     tz: str | None = None, outsider: bool = False) -> Member:
        # Read first: nearly every event comes from someone already known, and then this is
        # one statement rather than an insert that does nothing plus a read.
        member = await self.get(team, user)
        if member is None:
            await _insert_ignore(self.session, MemberRow, dict(
                platform=team.platform, tenant=team.tenant, user_id=user,
                role=Role.MEMBER.value, name=name, tz=tz, outsider=outsider,
                created_at=utcnow()))
            member = await self.get(team, user)
            assert member is not None
        changes = {k: v for k, v in (("name", name), ("tz", tz), ("outsider", outsider))
                   if v and getattr(member, k) != v}
        if changes:
            await self.session.execute(update(MemberRow).where(
                _team_filter(MemberRow, team), MemberRow.user_id == user).values(**changes))
            member = replace(member, **changes)
        return member

    async def set_role(self, team: Team, user: str, role: Role) -> None:
        await self.session.execute(update(MemberRow).where(
            _team_filter(MemberRow, team), MemberRow.user_id == user).values(role=role.value))

    async def list(self, team: Team) -> list[Member]:
        rows = (await self.session.execute(select(MemberRow).where(
            _team_filter(MemberRow, team)).order_by(MemberRow.id))).scalars()
        return [_member(r) for r in rows]

    async def set_away(self, team: Team, user: str, until: datetime | None) -> None:
        await self.session.execute(update(MemberRow).where(
            _team_filter(MemberRow, team), MemberRow.user_id == user).values(away_until=until))

    async def set_standup(self, team: Team, user: str, taking_part: bool | None) -> None:
        await self.session.execute(update(MemberRow).where(
            _team_filter(MemberRow, team), MemberRow.user_id == user).values(standup=taking_part))


_BLOCKER_FIELDS = ("number", "text", "reporter", "channel", "thread", "blocked_on", "unblocker",
                   "source", "opened_at", "resolved_at", "resolved_by", "resolution",
                   "escalated_at", "private", "message_id")


def _blocker(row: BlockerRow) -> Blocker:
    return Blocker(team=Team(row.platform, row.tenant), status=BlockerStatus(row.status),
                   **{f: getattr(row, f) for f in _BLOCKER_FIELDS})


def _blocker_values(b: Blocker) -> dict[str, Any]:
    return {**{f: getattr(b, f) for f in _BLOCKER_FIELDS}, "status": b.status.value}


class SqlBlockers(_Repo, ports.Blockers):
    async def add(self, blocker: Blocker) -> None:
        self.session.add(BlockerRow(platform=blocker.team.platform, tenant=blocker.team.tenant,
                                    **_blocker_values(blocker)))
        await self.session.flush()

    async def get(self, team: Team, number: int) -> Blocker | None:
        row = (await self.session.execute(select(BlockerRow).where(
            _team_filter(BlockerRow, team), BlockerRow.number == number))).scalar_one_or_none()
        return _blocker(row) if row else None

    async def save(self, blocker: Blocker) -> None:
        await self.session.execute(update(BlockerRow).where(
            _team_filter(BlockerRow, blocker.team), BlockerRow.number == blocker.number,
        ).values(**_blocker_values(blocker)))

    async def open(self, team: Team, reporter: str | None = None) -> list[Blocker]:
        stmt = select(BlockerRow).where(_team_filter(BlockerRow, team),
                                        BlockerRow.status == BlockerStatus.OPEN.value)
        if reporter:
            stmt = stmt.where(BlockerRow.reporter == reporter)
        rows = await self.session.execute(stmt.order_by(BlockerRow.opened_at, BlockerRow.number))
        return [_blocker(r) for r in rows.scalars()]

    async def resolved_between(self, team: Team, start: datetime, end: datetime) -> list[Blocker]:
        rows = await self.session.execute(select(BlockerRow).where(
            _team_filter(BlockerRow, team), BlockerRow.status == BlockerStatus.RESOLVED.value,
            BlockerRow.resolved_at >= start, BlockerRow.resolved_at <= end,
        ).order_by(BlockerRow.resolved_at))
        return [_blocker(r) for r in rows.scalars()]

    async def touching(self, team: Team, start: datetime, end: datetime) -> list[Blocker]:
        rows = await self.session.execute(select(BlockerRow).where(
            _team_filter(BlockerRow, team), BlockerRow.opened_at < end,
            or_(BlockerRow.resolved_at.is_(None), BlockerRow.resolved_at >= start),
        ).order_by(BlockerRow.opened_at, BlockerRow.number))
        return [_blocker(r) for r in rows.scalars()]

    async def open_in_thread(self, team: Team, channel: str, thread: str) -> list[Blocker]:
        rows = await self.session.execute(select(BlockerRow).where(
            _team_filter(BlockerRow, team), BlockerRow.status == BlockerStatus.OPEN.value,
            BlockerRow.channel == channel,
            or_(BlockerRow.thread == thread, BlockerRow.message_id == thread),
        ).order_by(BlockerRow.opened_at, BlockerRow.number))
        return [_blocker(r) for r in rows.scalars()]

    async def recent_open(self, team: Team, reporter: str, limit: int) -> list[Blocker]:
        rows = await self.session.execute(select(BlockerRow).where(
            _team_filter(BlockerRow, team), BlockerRow.status == BlockerStatus.OPEN.value,
            BlockerRow.reporter == reporter,
        ).order_by(BlockerRow.opened_at.desc(), BlockerRow.number.desc()).limit(limit))
        return [_blocker(r) for r in rows.scalars()]

    async def by_message(self, team: Team, channel: str, message_id: str) -> Blocker | None:
        row = (await self.session.execute(select(BlockerRow).where(
            _team_filter(BlockerRow, team), BlockerRow.channel == channel,
            BlockerRow.message_id == message_id).order_by(BlockerRow.number).limit(1)
        )).scalar_one_or_none()
        return _blocker(row) if row else None

    async def add_event(self, team: Team, event: BlockerEvent) -> None:
        self.session.add(BlockerEventRow(platform=team.platform, tenant=team.tenant,
                                         number=event.number, at=event.at, kind=event.kind,
                                         by=event.by, text=event.text))
        await self.session.flush()

    async def history(self, team: Team, number: int) -> list[BlockerEvent]:
        rows = await self.session.execute(select(BlockerEventRow).where(
            _team_filter(BlockerEventRow, team), BlockerEventRow.number == number,
        ).order_by(BlockerEventRow.at, BlockerEventRow.id))
        return [BlockerEvent(r.number, r.at, r.kind, r.by, r.text) for r in rows.scalars()]

    async def mark_escalated(self, team: Team, number: int, at: datetime) -> bool:
        done = await self.session.execute(update(BlockerRow).where(
            _team_filter(BlockerRow, team), BlockerRow.number == number,
            BlockerRow.escalated_at.is_(None)).values(escalated_at=at).returning(BlockerRow.id))
        return done.scalar_one_or_none() is not None


_REQUEST_FIELDS = ("number", "title", "requester", "channel", "thread", "discovery_step",
                   "followup_asked", "discovery_direct", "decision_reason", "decided_by",
                   "created_at", "ready_at", "decided_at", "delivered_at", "delivery_note",
                   "outcome_at", "outcome_note", "private", "problem_unclear",
                   "merged_into", "issue_project", "issue_ref", "issue_label", "issue_link")


def _request(row: RequestRow) -> Request:
    return Request(team=Team(row.platform, row.tenant), state=RequestState(row.state),
                   answers=dict(row.answers or {}), updated_at=row.updated_at,
                   answer_messages=dict(row.answer_messages or {}),
                   **{f: getattr(row, f) for f in _REQUEST_FIELDS})


def _request_values(r: Request) -> dict[str, Any]:
    return {**{f: getattr(r, f) for f in _REQUEST_FIELDS}, "state": r.state.value,
            "answers": dict(r.answers), "updated_at": r.updated_at or r.created_at,
            "answer_messages": dict(r.answer_messages)}


class SqlRequests(_Repo, ports.Requests):
    def _select(self, team: Team) -> Select[tuple[RequestRow]]:
        return select(RequestRow).where(_team_filter(RequestRow, team))

    async def _one(self, stmt: Select[tuple[RequestRow]]) -> Request | None:
        row = (await self.session.execute(stmt.limit(1))).scalar_one_or_none()
        return _request(row) if row else None

    async def add(self, request: Request) -> None:
        self.session.add(RequestRow(platform=request.team.platform, tenant=request.team.tenant,
                                    **_request_values(request)))
        await self.session.flush()

    async def get(self, team: Team, number: int) -> Request | None:
        return await self._one(self._select(team).where(RequestRow.number == number))

    async def save(self, request: Request) -> None:
        await self.session.execute(update(RequestRow).where(
            _team_filter(RequestRow, request.team), RequestRow.number == request.number,
        ).values(**_request_values(request)))

    async def list(self, team: Team, states: Sequence[RequestState] | None = None,
                   requester: str | None = None) -> list[Request]:
        stmt = self._select(team)
        if states is not None:
            stmt = stmt.where(RequestRow.state.in_([s.value for s in states]))
        if requester:
            stmt = stmt.where(RequestRow.requester == requester)
        rows = await self.session.execute(stmt.order_by(RequestRow.number))
        return [_request(r) for r in rows.scalars()]

    async def changed_between(self, team: Team, start: datetime, end: datetime) -> list[Request]:
        closed = [RequestState.SOLVED.value, RequestState.DECLINED.value,
                  RequestState.WITHDRAWN.value, RequestState.MERGED.value]
        rows = await self.session.execute(self._select(team).where(
            RequestRow.state.in_(closed), RequestRow.updated_at >= start,
            RequestRow.updated_at <= end).order_by(RequestRow.number))
        return [_request(r) for r in rows.scalars()]

    async def touching(self, team: Team, start: datetime, end: datetime) -> list[Request]:
        stamps = (RequestRow.created_at, RequestRow.ready_at, RequestRow.decided_at,
                  RequestRow.delivered_at, RequestRow.outcome_at)
        still_open = and_(RequestRow.state.in_([s.value for s in OPEN_REQUEST_STATES]),
                          RequestRow.created_at < end)
        rows = await self.session.execute(self._select(team).where(or_(
            still_open, *(and_(t >= start, t < end) for t in stamps)),
        ).order_by(RequestRow.number))
        return [_request(r) for r in rows.scalars()]

    async def in_direct_discovery(self, team: Team, user: str, channel: str) -> Request | None:
        return await self._one(self._select(team).where(
            RequestRow.requester == user, RequestRow.channel == channel,
            RequestRow.discovery_direct.is_(True),
            RequestRow.state.in_([RequestState.NEEDS_DISCOVERY.value,
                                  RequestState.READY_FOR_REVIEW.value]),
        ).order_by(RequestRow.number.desc()))

    async def by_thread(self, team: Team, channel: str, thread: str) -> Request | None:
        return await self._one(self._select(team).where(
            RequestRow.channel == channel, RequestRow.thread == thread,
        ).order_by(RequestRow.number.desc()))

    async def by_issue(self, kind: str, ref: str) -> Request | None:
        # Across teams on purpose: a tracker's webhook names an issue, not a team. The issue's
        # reference is the tracker's own and unique within that tracker.
        row = (await self.session.execute(select(RequestRow).where(
            RequestRow.issue_ref == ref, RequestRow.issue_project.startswith(f"{kind}:"),
        ).order_by(RequestRow.id).limit(1))).scalar_one_or_none()
        return _request(row) if row else None


_VOICE_FIELDS = ("number", "at", "user_team", "problem", "merged_from")


def _voice(row: VoiceRow) -> Voice:
    return Voice(team=Team(row.platform, row.tenant), user=row.user_id,
                 **{f: getattr(row, f) for f in _VOICE_FIELDS})


class SqlVoices(_Repo, ports.Voices):
    async def add(self, voice: Voice) -> bool:
        values = {f: getattr(voice, f) for f in _VOICE_FIELDS}
        return await _insert_ignore(self.session, VoiceRow, {
            "platform": voice.team.platform, "tenant": voice.team.tenant,
            "user_id": voice.user, "updated_at": voice.at, **values}) is not None

    async def save(self, voice: Voice) -> None:
        await self.session.execute(update(VoiceRow).where(
            _team_filter(VoiceRow, voice.team), VoiceRow.number == voice.number,
            VoiceRow.user_id == voice.user,
        ).values(user_team=voice.user_team, problem=voice.problem, updated_at=utcnow()))

    async def get(self, team: Team, number: int, user: str) -> Voice | None:
        row = (await self.session.execute(select(VoiceRow).where(
            _team_filter(VoiceRow, team), VoiceRow.number == number,
            VoiceRow.user_id == user))).scalar_one_or_none()
        return _voice(row) if row else None

    async def of(self, team: Team, numbers: Sequence[int]) -> dict[int, list[Voice]]:
        found: dict[int, list[Voice]] = {}
        if not numbers:
            return found
        rows = await self.session.execute(select(VoiceRow).where(
            _team_filter(VoiceRow, team), VoiceRow.number.in_(sorted(set(numbers))),
        ).order_by(VoiceRow.at, VoiceRow.id))
        for row in rows.scalars():
            found.setdefault(row.number, []).append(_voice(row))
        return found

    async def by_user(self, team: Team, user: str) -> list[int]:
        rows = await self.session.execute(select(VoiceRow.number).where(
            _team_filter(VoiceRow, team), VoiceRow.user_id == user).order_by(VoiceRow.number))
        return list(rows.scalars())


class SqlStandups(_Repo, ports.Standups):
    async def add(self, answer: StandupAnswer, replaces_since: datetime | None = None) -> None:
        if replaces_since is not None:
            await self.session.execute(delete(StandupRow).where(
                _team_filter(StandupRow, answer.team), StandupRow.user_id == answer.user,
                StandupRow.at >= replaces_since))
        self.session.add(StandupRow(platform=answer.team.platform, tenant=answer.team.tenant,
                                    user_id=answer.user, channel=answer.channel,
                                    text=answer.text, at=answer.at))
        await self.session.flush()

    async def between(self, team: Team, start: datetime, end: datetime) -> list[StandupAnswer]:
        rows = await self.session.execute(select(StandupRow).where(
            _team_filter(StandupRow, team), StandupRow.at >= start, StandupRow.at <= end,
        ).order_by(StandupRow.at))
        return [StandupAnswer(team, r.user_id, r.text, r.at, r.channel) for r in rows.scalars()]


class SqlPostedMessages(_Repo, ports.PostedMessages):
    async def remember(self, team: Team, key: str, channel: str, message_id: str) -> None:
        await _insert_ignore(self.session, MessageRefRow, dict(
            platform=team.platform, tenant=team.tenant, key=key, channel=channel,
            message_id=message_id))

    async def key_for(self, team: Team, channel: str, message_id: str) -> str | None:
        return (await self.session.execute(select(MessageRefRow.key).where(
            _team_filter(MessageRefRow, team), MessageRefRow.channel == channel,
            MessageRefRow.message_id == message_id))).scalar_one_or_none()

    async def find(self, team: Team, key: str) -> tuple[str, str] | None:
        row = (await self.session.execute(select(MessageRefRow.channel, MessageRefRow.message_id)
                                          .where(_team_filter(MessageRefRow, team),
                                                 MessageRefRow.key == key)
                                          .order_by(MessageRefRow.id).limit(1))).first()
        return (row[0], row[1]) if row else None


class SqlSchedules(_Repo, ports.Schedules):
    async def list(self, team: Team) -> list[Schedule]:
        rows = await self.session.execute(select(ScheduleRow).where(
            _team_filter(ScheduleRow, team)).order_by(ScheduleRow.kind))
        return [Schedule(team, r.kind, r.cron, r.tz, r.channel, r.enabled) for r in rows.scalars()]

    async def put(self, schedule: Schedule) -> None:
        values = dict(cron=schedule.cron, tz=schedule.tz, channel=schedule.channel,
                      enabled=schedule.enabled, updated_at=utcnow())
        new = await _insert_ignore(self.session, ScheduleRow, dict(
            platform=schedule.team.platform, tenant=schedule.team.tenant, kind=schedule.kind,
            **values))
        if new is None:
            await self.session.execute(update(ScheduleRow).where(
                _team_filter(ScheduleRow, schedule.team), ScheduleRow.kind == schedule.kind,
            ).values(**values))


class SqlRuns(_Repo, ports.Runs):
    async def claim(self, team: Team, kind: str, recipient: str, period: str, at: datetime,
                    status: str = "sent") -> bool:
        new = await _insert_ignore(self.session, ScheduleRunRow, dict(
            platform=team.platform, tenant=team.tenant, kind=kind, recipient=recipient,
            period=period, status=status, at=at))
        return new is not None

    async def last_sent(self, team: Team, kind: str, recipient: str) -> datetime | None:
        return (await self.session.execute(select(func.max(ScheduleRunRow.at)).where(
            _team_filter(ScheduleRunRow, team), ScheduleRunRow.kind == kind,
            ScheduleRunRow.recipient == recipient, ScheduleRunRow.status == "sent",
        ))).scalar_one_or_none()

    async def last_tick(self) -> datetime | None:
        return (await self.session.execute(select(SchedulerStateRow.last_tick_at).where(
            SchedulerStateRow.id == 1))).scalar_one_or_none()

    async def set_last_tick(self, at: datetime) -> None:
        if await _insert_ignore(self.session, SchedulerStateRow, dict(id=1, last_tick_at=at)) is None:
            # Replicas race here; the latest tick wins, an older one never moves it back.
            await self.session.execute(update(SchedulerStateRow).where(
                SchedulerStateRow.id == 1, SchedulerStateRow.last_tick_at < at,
            ).values(last_tick_at=at))
