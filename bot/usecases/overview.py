"""Where things stand: digests (asked for, scheduled or sent from the command line), the
personal overview (`home`, Slack's Home tab) and `help`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime

from bot.assistant import Assistant
from bot.digest import build_digest, digest_message
from bot.model import Outgoing, Role, Section, Team, Where
from bot.ports import UnitOfWork


async def producers(uow: UnitOfWork, team: Team) -> list[str]:
    return [m.user for m in await uow.members.list(team) if m.role == Role.PRODUCER]


def with_headline(out: Outgoing, headline: str | None) -> Outgoing:
    """The model's headline, when there is one, leads; the factual headline stays in `text`."""
    if not headline:
        return out
    return replace(out, sections=(Section(headline, title="In short"), *out.sections))


async def send_digest(uow: UnitOfWork, team: Team, period: str, now: datetime, *,
                      channel: str | None = None, assistant: Assistant | None = None,
                      claim: Callable[[str], Awaitable[bool]] | None = None) -> list[str]:
    """Put the team's digest in the outbox for its readers: the channel, or else each producer
    1:1. Returns who it went to ([]: nobody to send it to).

    `claim(recipient)` may refuse a recipient (the scheduler's once-per-run claim); the digest
    and its headline are built once, and only when somebody is to receive it."""
    recipients = [channel] if channel else await producers(uow, team)
    place = Where(team.platform, team.tenant, channel or "")
    message: Outgoing | None = None
    served = []
    for recipient in recipients:
        if claim is not None and not await claim(recipient):
            continue
        if message is None:
            digest = await build_digest(uow, team, period, now)
            # One model headline per digest, not per recipient.
            headline = await assistant.summarize(digest, where=place) if assistant else None
            message = with_headline(digest_message(digest, place), headline)
        await uow.outbox.add(replace(message, to_user=None if channel else recipient))
        served.append(recipient)
    return served
