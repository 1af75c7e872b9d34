"""Repositories and the unit of work over an AsyncSession.

Every query filters on (platform, tenant) first; nothing here can return another tenant's rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, bindparam, delete, exc, func, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import ports
from bot.codec import inbound_from_dict, inbound_to_dict, outgoing_from_dict, outgoing_to_dict
from bot.model import (
    Blocker,
    BlockerStatus,
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
)
from storage.tables import (
    BlockerRow,
    InboxRow,
    MemberRow,
    MessageRefRow,
    OutboxRow,
    RequestRow,
    ScheduleRow,
    SchedulerStateRow,
    ScheduleRunRow,
    StandupRow,
    TeamRow,
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
                            tuple(row.holidays or ()), row.escalate_after_days, row.created_at)

    async def get(self, team: Team) -> TeamSettings:
        row = (await self.session.execute(select(TeamRow).where(
            _team_filter(TeamRow, team)))).scalar_one_or_none()
        return self._settings(row) if row else TeamSettings(team)

    async def update(self, settings: TeamSettings) -> None:
        await self.session.execute(update(TeamRow).where(_team_filter(TeamRow, settings.team)).values(
            timezone=settings.timezone, holidays=sorted(set(settings.holidays)),
            escalate_after_days=settings.escalate_after_days))

    async def all(self) -> list[TeamSettings]:
        rows = await self.session.execute(select(TeamRow).order_by(TeamRow.id))
        return [self._settings(r) for r in rows.scalars()]


def _member(row: MemberRow) -> Member:
    return Member(Team(row.platform, row.tenant), row.user_id, Role(row.role), row.name, row.tz,
                  row.away_until)


class SqlMembers(_Repo, ports.Members):
    async def get(self, team: Team, user: str) -> Member | None:
        row = (await self.session.execute(select(MemberRow).where(
            _team_filter(MemberRow, team), MemberRow.user_id == user))).scalar_one_or_none()
        return _member(row) if row else None

    async def ensure(self, team: Team, user: str, name: str | None = None,
                     tz: str | None = None) -> Member:
        # Read first: nearly every event comes from someone already known, and then this is
        # one statement rather than an insert that does nothing plus a read.
        member = await self.get(team, user)
        if member is None:
            await _insert_ignore(self.session, MemberRow, dict(
                platform=team.platform, tenant=team.tenant, user_id=user,
                role=Role.ENGINEER.value, name=name, tz=tz, created_at=utcnow()))
            member = await self.get(team, user)
            assert member is not None
        changes = {k: v for k, v in (("name", name), ("tz", tz))
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


_BLOCKER_FIELDS = ("number", "text", "reporter", "channel", "thread", "blocked_on", "unblocker",
                   "source", "opened_at", "resolved_at", "resolved_by", "resolution",
                   "escalated_at")


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

    async def mark_escalated(self, team: Team, number: int, at: datetime) -> bool:
        done = await self.session.execute(update(BlockerRow).where(
            _team_filter(BlockerRow, team), BlockerRow.number == number,
            BlockerRow.escalated_at.is_(None)).values(escalated_at=at).returning(BlockerRow.id))
        return done.scalar_one_or_none() is not None


_REQUEST_FIELDS = ("number", "title", "requester", "channel", "thread", "discovery_step",
                   "followup_asked", "discovery_direct", "decision_reason", "decided_by",
                   "created_at", "ready_at", "decided_at", "delivered_at", "delivery_note",
                   "outcome_at", "outcome_note")


def _request(row: RequestRow) -> Request:
    return Request(team=Team(row.platform, row.tenant), state=RequestState(row.state),
                   answers=dict(row.answers or {}), updated_at=row.updated_at,
                   **{f: getattr(row, f) for f in _REQUEST_FIELDS})


def _request_values(r: Request) -> dict[str, Any]:
    return {**{f: getattr(r, f) for f in _REQUEST_FIELDS}, "state": r.state.value,
            "answers": dict(r.answers), "updated_at": r.updated_at or r.created_at}


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
                  RequestState.WITHDRAWN.value]
        rows = await self.session.execute(self._select(team).where(
            RequestRow.state.in_(closed), RequestRow.updated_at >= start,
            RequestRow.updated_at <= end).order_by(RequestRow.number))
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


# The inbox insert is the one statement on the ack path, so it is written out per dialect: the
# batch goes to the database whole (SQLite: one JSON array; PostgreSQL: one array per column),
# unpacked by the database in C, rather than as a parameter set per event that SQLAlchemy
# processes in Python (insertmanyvalues), which cost the event loop far more per event (the
# measurements: bench/RESULTS.md, "Why the code is shaped this way"). Conflicts (duplicate
# deliveries) insert nothing and return nothing; rows go in in the batch's order.
_INBOX_INSERT = {
    "sqlite": """
        INSERT INTO inbox (platform, tenant, event_id, payload, status, received_at)
        SELECT json_extract(value, '$.platform'), json_extract(value, '$.tenant'),
               json_extract(value, '$.event_id'), json_extract(value, '$.payload'),
               'pending', :now
        FROM json_each(:rows) WHERE true ORDER BY key
        ON CONFLICT DO NOTHING RETURNING id, platform, event_id""",
    # (WHERE true: without it SQLite reads ON CONFLICT as the start of a join constraint.)
    # Not one JSON array here: PostgreSQL's ->> refuses a document with \u0000 anywhere in it,
    # and a message's text may hold one (json columns store it as written).
    "postgresql": """
        INSERT INTO inbox (platform, tenant, event_id, payload, status, received_at)
        SELECT platform, tenant, event_id, payload, 'pending', :now
        FROM unnest(CAST(:platforms AS text[]), CAST(:tenants AS text[]),
                    CAST(:event_ids AS text[]), CAST(:payloads AS json[]))
             WITH ORDINALITY AS batch(platform, tenant, event_id, payload, n)
        ORDER BY n
        ON CONFLICT DO NOTHING RETURNING id, platform, event_id""",
}


class SqlInbox(_Repo, ports.Inbox):
    async def add_many(self, messages: Sequence[InboundMessage]) -> list[int | None]:
        if not messages:
            return []
        dialect = self.session.get_bind().dialect.name
        stmt = text(_INBOX_INSERT[dialect]).bindparams(
            bindparam("now", type_=InboxRow.__table__.c.received_at.type))
        params: dict[str, Any] = {"now": utcnow()}
        if dialect == "postgresql":
            params.update(platforms=[m.where.platform for m in messages],
                          tenants=[m.where.tenant for m in messages],
                          event_ids=[m.event_id for m in messages],
                          payloads=[json.dumps(inbound_to_dict(m)) for m in messages])
        else:
            params["rows"] = json.dumps([dict(
                platform=m.where.platform, tenant=m.where.tenant, event_id=m.event_id,
                payload=inbound_to_dict(m)) for m in messages])
        # In arrival order, which ids keep and the worker follows. (Two processes storing the
        # same retried events in different orders could deadlock; PostgreSQL then aborts one
        # batch, and its events fail their acks and come again.)
        with _reachable():
            result = await self.session.execute(stmt, params)
        new = {(platform, event_id): id_ for id_, platform, event_id in result}
        # A retry that arrives while its original is still queued is in the same batch:
        # the first of the two gets the row, the other is the duplicate.
        return [new.pop((m.where.platform, m.event_id), None) for m in messages]

    async def claim(self, inbox_id: int) -> InboundMessage | None:
        # The conditional UPDATE takes the row lock: a second process blocks here until the
        # first commits, then finds the row no longer pending.
        payload = (await self.session.execute(
            update(InboxRow).where(InboxRow.id == inbox_id, InboxRow.status == "pending")
            .values(status="done", processed_at=utcnow()).returning(InboxRow.payload)
        )).scalar_one_or_none()
        return inbound_from_dict(payload) if payload is not None else None

    async def claim_many(self, inbox_ids: Sequence[int]) -> list[tuple[int, InboundMessage]]:
        # Like claim: a second process waits for rows another holds rather than skipping
        # ahead of them, so a conversation's messages are handled in the order they came.
        rows = await self.session.execute(
            update(InboxRow).where(InboxRow.id.in_(inbox_ids), InboxRow.status == "pending")
            .values(status="done", processed_at=utcnow())
            .returning(InboxRow.id, InboxRow.payload))
        return sorted(((id_, inbound_from_dict(payload)) for id_, payload in rows),
                      key=lambda claimed: claimed[0])

    async def pending(self, limit: int) -> list[int]:
        rows = await self.session.execute(select(InboxRow.id).where(
            InboxRow.status == "pending").order_by(InboxRow.id).limit(limit))
        return list(rows.scalars())

    async def fail(self, inbox_id: int, error: str) -> None:
        await self.session.execute(update(InboxRow).where(InboxRow.id == inbox_id).values(
            status="failed", error=error))


class SqlOutbox(_Repo, ports.Outbox):
    async def add(self, message: Outgoing) -> None:
        now = utcnow()
        self.session.add(OutboxRow(platform=message.where.platform, tenant=message.where.tenant,
                                   payload=outgoing_to_dict(message), status="pending",
                                   attempts=0, next_attempt_at=now, created_at=now))
        await self.session.flush()

    async def claim_due(self, now: datetime, limit: int,
                        lease_seconds: float) -> list[ports.OutboxItem]:
        due = or_(OutboxRow.status == "pending", OutboxRow.status == "sending")
        stmt = (select(OutboxRow).where(due, OutboxRow.next_attempt_at <= now)
                .order_by(OutboxRow.id).limit(limit))
        if self.session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        rows = list((await self.session.execute(stmt)).scalars())
        lease_until = now + timedelta(seconds=lease_seconds)
        items = [ports.OutboxItem(r.id, outgoing_from_dict(r.payload), r.attempts,
                                  maybe_sent=r.status == "sending") for r in rows]
        for row in rows:
            # "sending" with a lease: if this process dies mid-send the row comes due again.
            row.status, row.next_attempt_at = "sending", lease_until
        await self.session.flush()
        return items

    async def sent(self, item_id: int, now: datetime) -> None:
        await self.session.execute(update(OutboxRow).where(OutboxRow.id == item_id).values(
            status="sent", sent_at=now))

    async def retry(self, item_id: int, at: datetime, error: str,
                    uncertain: bool = False) -> None:
        # "sending" is exactly "the last attempt's outcome is unknown" (see claim_due).
        await self.session.execute(update(OutboxRow).where(OutboxRow.id == item_id).values(
            status="sending" if uncertain else "pending", next_attempt_at=at,
            attempts=OutboxRow.attempts + 1, last_error=error[:2000]))

    async def postpone(self, item_id: int, at: datetime, reason: str | None = None) -> None:
        values: dict[str, Any] = dict(status="pending", next_attempt_at=at)
        if reason:
            values["last_error"] = reason[:2000]
        await self.session.execute(update(OutboxRow).where(OutboxRow.id == item_id)
                                   .values(**values))

    async def give_up(self, item_id: int, error: str) -> None:
        await self.session.execute(update(OutboxRow).where(OutboxRow.id == item_id).values(
            status="failed", attempts=OutboxRow.attempts + 1, last_error=error[:2000]))

    async def backlog(self) -> int:
        return (await self.session.execute(select(func.count()).select_from(OutboxRow).where(
            OutboxRow.status.in_(["pending", "sending"])))).scalar_one()


class SqlUnitOfWork(ports.UnitOfWork):
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self.session: AsyncSession | None = None

    async def __aenter__(self) -> SqlUnitOfWork:
        session = self.session = self._sessions()
        self.tenants = SqlTenants(session)
        self.members = SqlMembers(session)
        self.blockers = SqlBlockers(session)
        self.requests = SqlRequests(session)
        self.standups = SqlStandups(session)
        self.schedules = SqlSchedules(session)
        self.runs = SqlRuns(session)
        self.posted = SqlPostedMessages(session)
        self.inbox = SqlInbox(session)
        self.outbox = SqlOutbox(session)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.session is not None
        try:
            await self.session.rollback()  # a no-op after commit; the default otherwise
        finally:
            await self.session.close()

    async def commit(self) -> None:
        assert self.session is not None
        with _reachable():
            await self.session.commit()

    async def rollback(self) -> None:
        assert self.session is not None
        self.tenants.forget()
        await self.session.rollback()

