"""Stored conversation references: how an adapter reaches a user or a conversation later,
outside any request (Teams proactive messages). Adapter-facing, so it is not a core port."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from bot.model import Team
from storage.db import Database
from storage.repositories import _insert_ignore, _team_filter
from storage.tables import ConversationRefRow, utcnow


class ConversationStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def save(self, team: Team, scope: str, ref_id: str, reference: dict[str, Any]) -> None:
        """Insert or replace (the service URL of a conversation can change)."""
        async with self.db.sessions() as session, session.begin():
            new = await _insert_ignore(session, ConversationRefRow, dict(
                platform=team.platform, tenant=team.tenant, scope=scope, ref_id=ref_id,
                reference=reference, updated_at=utcnow()))
            if new is None:
                await session.execute(update(ConversationRefRow).where(
                    _team_filter(ConversationRefRow, team), ConversationRefRow.scope == scope,
                    ConversationRefRow.ref_id == ref_id,
                ).values(reference=reference, updated_at=utcnow()))

    async def get(self, team: Team, scope: str, ref_id: str) -> dict[str, Any] | None:
        async with self.db.sessions() as session:
            return (await session.execute(select(ConversationRefRow.reference).where(
                _team_filter(ConversationRefRow, team), ConversationRefRow.scope == scope,
                ConversationRefRow.ref_id == ref_id))).scalar_one_or_none()
