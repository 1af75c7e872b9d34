"""Who is on the team: what the platforms tell us about people, and the console's own roles.

These run in a unit of work the relay opens (`Relay.perform`): adapters hand facts in, they never
write to storage themselves."""

from __future__ import annotations

from collections.abc import Iterable

from bot.model import Role, Team
from bot.ports import UnitOfWork

MAX_NAMED = 50  # display names looked up for one message at most


async def learn_profile(uow: UnitOfWork, team: Team, user: str, *, name: str | None = None,
                        tz: str | None = None) -> None:
    """A person's display name and time zone, as their platform's directory has them (standup
    prompts go out in each member's own morning)."""
    if not name and not tz:
        return
    await uow.tenants.ensure(team)
    await uow.members.ensure(team, user, name=name, tz=tz)


async def display_names(uow: UnitOfWork, team: Team, users: Iterable[str]) -> dict[str, str]:
    """The names people last gave us, for the users a message mentions."""
    found: dict[str, str] = {}
    for user in sorted(set(users))[:MAX_NAMED]:
        member = await uow.members.get(team, user)
        if member is not None and member.name:
            found[user] = member.name
    return found


async def play_as(uow: UnitOfWork, team: Team, user: str, role: Role | None) -> Role | None:
    """The console is a local admin tool: whoever it plays may take any role directly. With no
    role given, the first person in a team without a producer becomes its producer, so the demo
    works. Returns the role given, if any."""
    await uow.tenants.ensure(team)
    await uow.members.ensure(team, user, name=user)
    if role is None:
        members = await uow.members.list(team)
        if not any(m.role == Role.PRODUCER for m in members):
            role = Role.PRODUCER
    if role is not None:
        await uow.members.set_role(team, user, role)
    return role
