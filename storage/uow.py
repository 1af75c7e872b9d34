"""The unit of work over one AsyncSession: every repository shares its transaction, and leaving
the `async with` block without `commit()` rolls back."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import ports
from storage.delivery import SqlInbox, SqlOutbox
from storage.demos import SqlDemos
from storage.repositories import (
    SqlBlockers,
    SqlMembers,
    SqlPostedMessages,
    SqlRequests,
    SqlRuns,
    SqlSchedules,
    SqlStandups,
    SqlTenants,
    SqlVoices,
    _reachable,
)


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
        self.voices = SqlVoices(session)
        self.demos = SqlDemos(session)
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

