"""What an operator does from the command line (`producer-bot schedule show/set`, `producer-bot
tracker show/set`): the state the
chat commands change, without a chat message. These run in a unit of work the relay opens
(`Relay.perform`)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.model import NO_TRACKER, Schedule, Team, TeamSettings
from bot.ports import UnitOfWork
from bot.scheduling import effective_schedules
from bot.turn import Trackers
from bot.usecases.tracking import project_for
from bot.views import kind_of


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


@dataclass(frozen=True)
class TeamTracker:
    """Where a team's accepted requests are filed, and why there."""

    team: Team
    project: str | None  # "github:acme/app", or None: not filed anywhere
    why: str


async def team_trackers(uow: UnitOfWork, trackers: Trackers,
                        team: Team | None = None) -> list[TeamTracker]:
    """One team's tracker, or every team's."""
    teams = [await uow.tenants.get(team)] if team else await uow.tenants.all()
    found = []
    for settings in teams:
        project = await project_for(uow, settings.team, trackers)
        chosen = settings.tracker
        if chosen == NO_TRACKER:
            why = "switched off for this team with `tracker set ... none`"
        elif chosen and project is None:
            why = (f"chose {chosen}, but this deployment has no {kind_of(chosen)} credentials: "
                   "see the README's tracker sections")
        elif chosen:
            why = "chosen for this team with `tracker set`"
        elif project:
            why = "the environment's default"
        else:
            why = "no tracker in the environment and none chosen for this team"
        found.append(TeamTracker(settings.team, project, why))
    return found


async def set_tracker(uow: UnitOfWork, trackers: Trackers, team: Team,
                      project: str | None) -> TeamTracker:
    """Choose the team's tracker project (NO_TRACKER: none; None: the environment's default).
    A team new to the bot is created."""
    await uow.tenants.ensure(team)
    settings = await uow.tenants.get(team)
    settings.tracker = project
    await uow.tenants.update(settings)
    return (await team_trackers(uow, trackers, team))[0]
