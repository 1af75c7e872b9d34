"""What an operator does from the command line (`producer-bot schedule show/set`): the state the
chat commands change, without a chat message. These run in a unit of work the relay opens
(`Relay.perform`)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.model import Schedule, Team, TeamSettings
from bot.ports import UnitOfWork
from bot.scheduling import effective_schedules


@dataclass(frozen=True)
class TeamSchedules:
    """A team's settings and the schedules in effect for it, by kind (the stored ones, and the
    defaults for the kinds never set)."""

    settings: TeamSettings
    schedules: dict[str, Schedule]


async def team_schedules(uow: UnitOfWork, team: Team | None = None) -> list[TeamSchedules]:
    """One team's schedules, or every team's."""
    teams = [await uow.tenants.get(team)] if team else await uow.tenants.all()
    return [TeamSchedules(settings, effective_schedules(settings.team,
                                                         await uow.schedules.list(settings.team)))
            for settings in teams]


async def set_schedule(uow: UnitOfWork, schedule: Schedule) -> TeamSchedules:
    """Store one schedule of a team (a team new to the bot is created); returns the team's
    schedules as they now are."""
    await uow.tenants.ensure(schedule.team)
    await uow.schedules.put(schedule)
    return (await team_schedules(uow, schedule.team))[0]
