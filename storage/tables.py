"""SQLAlchemy 2 typed tables. Every row carries its platform and tenant."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no zone; PostgreSQL does)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON}


class TeamRow(Base):
    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("platform", "tenant"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    tenant: Mapped[str] = mapped_column(String(128))
    name: Mapped[str | None] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    holidays: Mapped[list[str]] = mapped_column(JSON, default=list, server_default=text("'[]'"))
    escalate_after_days: Mapped[float] = mapped_column(default=2.0, server_default=text("2"))
    next_blocker: Mapped[int] = mapped_column(Integer, default=0)
    next_request: Mapped[int] = mapped_column(Integer, default=0)
    tracker: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime]


class MemberRow(Base):
    __tablename__ = "members"
    __table_args__ = (UniqueConstraint("platform", "tenant", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    tenant: Mapped[str] = mapped_column(String(128))
    user_id: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))
    name: Mapped[str | None] = mapped_column(String(200))
    tz: Mapped[str | None] = mapped_column(String(64))
    away_until: Mapped[datetime | None]
    outsider: Mapped[bool] = mapped_column(default=False, server_default=false())
    standup: Mapped[bool | None]
    created_at: Mapped[datetime]


class BlockerRow(Base):
    __tablename__ = "blockers"
    __table_args__ = (
        UniqueConstraint("platform", "tenant", "number"),
        Index("ix_blockers_team_status", "platform", "tenant", "status", "opened_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    tenant: Mapped[str] = mapped_column(String(128))
    number: Mapped[int]
    text: Mapped[str] = mapped_column(Text)
    reporter: Mapped[str] = mapped_column(String(128))
    channel: Mapped[str] = mapped_column(String(256))
    thread: Mapped[str | None] = mapped_column(String(256))
    blocked_on: Mapped[str | None] = mapped_column(String(256))
    unblocker: Mapped[str | None] = mapped_column(String(256))
    source: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    opened_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(128))
    resolution: Mapped[str | None] = mapped_column(Text)
    escalated_at: Mapped[datetime | None]
    private: Mapped[bool] = mapped_column(default=False, server_default=false())
    message_id: Mapped[str | None] = mapped_column(String(256))


class BlockerEventRow(Base):
    __tablename__ = "blocker_events"
    __table_args__ = (Index("ix_blocker_events_blocker", "platform", "tenant", "number", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    tenant: Mapped[str] = mapped_column(String(128))
    number: Mapped[int]
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(16))
    by: Mapped[str] = mapped_column(String(128))
    text: Mapped[str | None] = mapped_column(Text)


class RequestRow(Base):
    __tablename__ = "requests"
    __table_args__ = (
        UniqueConstraint("platform", "tenant", "number"),
        Index("ix_requests_team_state", "platform", "tenant", "state"),
        Index("ix_requests_thread", "platform", "tenant", "channel", "thread"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    tenant: Mapped[str] = mapped_column(String(128))
    number: Mapped[int]
    title: Mapped[str] = mapped_column(String(400))
    requester: Mapped[str] = mapped_column(String(128))
    channel: Mapped[str] = mapped_column(String(256))
    thread: Mapped[str | None] = mapped_column(String(256))
    state: Mapped[str] = mapped_column(String(24))
    answers: Mapped[dict[str, Any]]
    discovery_step: Mapped[int] = mapped_column(Integer, default=0)
    followup_asked: Mapped[bool] = mapped_column(default=False)
    discovery_direct: Mapped[bool] = mapped_column(default=False)
    decision_reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    ready_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    delivery_note: Mapped[str | None] = mapped_column(Text)
    outcome_at: Mapped[datetime | None]
    outcome_note: Mapped[str | None] = mapped_column(Text)
    private: Mapped[bool] = mapped_column(default=False, server_default=false())
    problem_unclear: Mapped[bool] = mapped_column(default=False, server_default=false())
    answer_messages: Mapped[dict[str, Any]] = mapped_column(default=dict,
                                                            server_default=text("'{}'"))
    merged_into: Mapped[int | None]
    issue_project: Mapped[str | None] = mapped_column(String(300))
    issue_ref: Mapped[str | None] = mapped_column(String(300), index=True)
    issue_label: Mapped[str | None] = mapped_column(String(300))
    issue_link: Mapped[str | None] = mapped_column(Text)


class VoiceRow(Base):
    """Someone else who has a request's problem. The unique key keeps one voice per person and
    request, however often or concurrently they say "me too"."""

    __tablename__ = "request_voices"
    __table_args__ = (UniqueConstraint("platform", "tenant", "number", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    tenant: Mapped[str] = mapped_column(String(128))
    number: Mapped[int]  # the request's
    user_id: Mapped[str] = mapped_column(String(128))
    user_team: Mapped[str | None] = mapped_column(String(200))
    problem: Mapped[str | None] = mapped_column(Text)
    merged_from: Mapped[int | None]
    at: Mapped[datetime]
    updated_at: Mapped[datetime]


class DemoRow(Base):
    """A demo the team held. The unique number is what makes two producers' simultaneous
    `demo done` record one demo."""

    __tablename__ = "demos"
    __table_args__ = (UniqueConstraint("platform", "tenant", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    tenant: Mapped[str] = mapped_column(String(128))
    number: Mapped[int]
    at: Mapped[datetime]
    by_user: Mapped[str] = mapped_column(String(128))
    requests: Mapped[list[int]] = mapped_column(JSON, default=list)  # the numbers shown


class VerdictRow(Base):
    """A voice's word on a delivered request: one per person, request and demo."""

    __tablename__ = "verdicts"
    __table_args__ = (UniqueConstraint("platform", "tenant", "number", "user_id", "demo"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    tenant: Mapped[str] = mapped_column(String(128))
    number: Mapped[int]  # the request's
    user_id: Mapped[str] = mapped_column(String(128))
    demo: Mapped[int]  # the demo's number; 0: said outside any demo
    verdict: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime]


class StandupRow(Base):
    __tablename__ = "standup_answers"
    __table_args__ = (Index("ix_standups_team_at", "platform", "tenant", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    tenant: Mapped[str] = mapped_column(String(128))
    user_id: Mapped[str] = mapped_column(String(128))
    channel: Mapped[str] = mapped_column(String(256))
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]


class MessageRefRow(Base):
    """Platform ids of messages the bot sent, under the key the core gave them."""

    __tablename__ = "message_refs"
    __table_args__ = (
        UniqueConstraint("platform", "tenant", "channel", "message_id"),
        Index("ix_message_refs_key", "platform", "tenant", "key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    tenant: Mapped[str] = mapped_column(String(128))
    key: Mapped[str] = mapped_column(String(128))
    channel: Mapped[str] = mapped_column(String(256))
    message_id: Mapped[str] = mapped_column(String(256))


class InboxRow(Base):
    __tablename__ = "inbox"
    __table_args__ = (
        UniqueConstraint("platform", "event_id"),
        Index("ix_inbox_status", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    tenant: Mapped[str] = mapped_column(String(128))
    event_id: Mapped[str] = mapped_column(String(256))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16))  # pending | done | failed
    received_at: Mapped[datetime]
    processed_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)


class OutboxRow(Base):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    tenant: Mapped[str] = mapped_column(String(128))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16))  # pending | sending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class ScheduleRow(Base):
    __tablename__ = "schedules"
    __table_args__ = (UniqueConstraint("platform", "tenant", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    tenant: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))
    cron: Mapped[str] = mapped_column(String(120))
    tz: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str | None] = mapped_column(String(256))
    enabled: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime]


class ScheduleRunRow(Base):
    """A claimed scheduled effect. The unique key is what makes it happen exactly once."""

    __tablename__ = "schedule_runs"
    __table_args__ = (
        UniqueConstraint("platform", "tenant", "kind", "recipient", "period"),
        Index("ix_schedule_runs_recipient", "platform", "tenant", "kind", "recipient", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    tenant: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))
    recipient: Mapped[str] = mapped_column(String(256))
    period: Mapped[str] = mapped_column(String(64))  # local wall-clock time of the run
    status: Mapped[str] = mapped_column(String(16))  # sent | skipped | quiet
    at: Mapped[datetime]


class SchedulerStateRow(Base):
    """When the scheduler last looked (shared by all replicas): downtime is what lies between."""

    __tablename__ = "scheduler_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    last_tick_at: Mapped[datetime]


class ConversationRefRow(Base):
    """How to reach a user or a conversation later (Teams proactive messages need this)."""

    __tablename__ = "conversation_refs"
    __table_args__ = (UniqueConstraint("platform", "tenant", "scope", "ref_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    tenant: Mapped[str] = mapped_column(String(128))
    scope: Mapped[str] = mapped_column(String(16))  # "user" | "conversation"
    ref_id: Mapped[str] = mapped_column(String(256))
    reference: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)
