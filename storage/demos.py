"""The demos repository: the team's demos, what each showed, and the verdicts of those who
added their voice to a request shown."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update

from bot import ports
from bot.model import Demo, Request, RequestState, Team, Verdict
from storage.repositories import _insert_ignore, _Repo, _request, _team_filter
from storage.tables import DemoRow, RequestRow, VerdictRow

# Delivered, and still so or since confirmed: a "not yet" took it back to work (it is shown
# again once delivered again).
_SHOWN_STATES = (RequestState.DELIVERED.value, RequestState.SOLVED.value)
_RECENT_DEMOS = 50  # how far back `showing` looks: a request is shown at the demo after delivery


def _demo(row: DemoRow) -> Demo:
    return Demo(team=Team(row.platform, row.tenant), number=row.number, at=row.at,
                by=row.by_user, requests=tuple(int(n) for n in row.requests or ()))


def _verdict(row: VerdictRow) -> Verdict:
    return Verdict(team=Team(row.platform, row.tenant), number=row.number, user=row.user_id,
                   verdict=row.verdict, at=row.at, demo=row.demo, note=row.note)


class SqlDemos(_Repo, ports.Demos):
    async def last(self, team: Team) -> Demo | None:
        row = (await self.session.execute(select(DemoRow).where(
            _team_filter(DemoRow, team)).order_by(DemoRow.number.desc()).limit(1))
        ).scalar_one_or_none()
        return _demo(row) if row else None

    async def add(self, demo: Demo) -> bool:
        return await _insert_ignore(self.session, DemoRow, {
            "platform": demo.team.platform, "tenant": demo.team.tenant, "number": demo.number,
            "at": demo.at, "by_user": demo.by, "requests": list(demo.requests)}) is not None

    async def delivered_since(self, team: Team, since: datetime | None) -> list[Request]:
        stmt = select(RequestRow).where(_team_filter(RequestRow, team),
                                        RequestRow.state.in_(_SHOWN_STATES),
                                        RequestRow.delivered_at.is_not(None))
        if since is not None:
            stmt = stmt.where(RequestRow.delivered_at > since)
        rows = await self.session.execute(stmt.order_by(RequestRow.delivered_at, RequestRow.id))
        return [_request(row) for row in rows.scalars()]

    async def showing(self, team: Team, number: int) -> Demo | None:
        rows = await self.session.execute(select(DemoRow).where(
            _team_filter(DemoRow, team)).order_by(DemoRow.number.desc()).limit(_RECENT_DEMOS))
        return next((_demo(row) for row in rows.scalars() if number in (row.requests or ())),
                    None)

    async def put_verdict(self, verdict: Verdict) -> None:
        values = {"verdict": verdict.verdict, "note": verdict.note, "at": verdict.at}
        new = await _insert_ignore(self.session, VerdictRow, {
            "platform": verdict.team.platform, "tenant": verdict.team.tenant,
            "number": verdict.number, "user_id": verdict.user, "demo": verdict.demo, **values})
        if new is None:  # said before for this demo: the newer word counts
            await self.session.execute(update(VerdictRow).where(
                _team_filter(VerdictRow, verdict.team), VerdictRow.number == verdict.number,
                VerdictRow.user_id == verdict.user, VerdictRow.demo == verdict.demo,
            ).values(**values))

    async def verdicts(self, team: Team, numbers: Sequence[int]) -> list[Verdict]:
        if not numbers:
            return []
        rows = await self.session.execute(select(VerdictRow).where(
            _team_filter(VerdictRow, team), VerdictRow.number.in_(sorted(set(numbers))),
        ).order_by(VerdictRow.at, VerdictRow.id))
        return [_verdict(row) for row in rows.scalars()]
