"""The relay's tables: the inbox (every event, stored before it is acknowledged) and the outbox
(every message the bot owes someone, until it is sent or given up)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, or_, select, text, update

from bot import ports
from bot.codec import inbound_from_dict, inbound_to_dict, outgoing_from_dict, outgoing_to_dict
from bot.model import InboundMessage, Outgoing
from storage.repositories import _reachable, _Repo
from storage.tables import InboxRow, OutboxRow, utcnow

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

    async def pending_messages(self, limit: int) -> list[tuple[int, InboundMessage]]:
        rows = await self.session.execute(select(InboxRow.id, InboxRow.payload).where(
            InboxRow.status == "pending").order_by(InboxRow.id).limit(limit))
        return [(id_, inbound_from_dict(payload)) for id_, payload in rows]

    async def fail(self, inbox_id: int, error: str) -> None:
        await self.session.execute(update(InboxRow).where(InboxRow.id == inbox_id).values(
            status="failed", error=error))


class SqlOutbox(_Repo, ports.Outbox):
    async def add(self, message: Outgoing) -> None:
        now = utcnow()
        # The row's platform is its lane (ports.route): tracker effects are claimed apart.
        self.session.add(OutboxRow(platform=ports.route(message), tenant=message.where.tenant,
                                   payload=outgoing_to_dict(message), status="pending",
                                   attempts=0, next_attempt_at=now, created_at=now))
        await self.session.flush()

    async def claim_due(self, now: datetime, limit: int, lease_seconds: float,
                        trackers: bool = False) -> list[ports.OutboxItem]:
        due = or_(OutboxRow.status == "pending", OutboxRow.status == "sending")
        lane = (OutboxRow.platform == ports.TRACKER) if trackers \
            else (OutboxRow.platform != ports.TRACKER)
        stmt = (select(OutboxRow).where(due, lane, OutboxRow.next_attempt_at <= now)
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
