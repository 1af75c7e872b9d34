"""Where things stand: digests (asked for, scheduled or sent from the command line), the
personal overview (`home`, Slack's Home tab) and `help`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime

from bot.assistant import Assistant
from bot.digest import PERIODS, digest_message
from bot.model import (
    OPEN_REQUEST_STATES,
    Action,
    Outgoing,
    Request,
    RequestState,
    Role,
    Section,
    Team,
    Where,
)
from bot.ports import UnitOfWork, reply_place
from bot.text import age, mention
from bot.turn import Command, Turn
from bot.usecases import voices
from bot.usecases.insights import digest_with_flow
from bot.usecases.voices import voice_buttons
from bot.views import blocker_item, blocker_line, issue_line, request_line

AGING_DAYS = 2.0  # a blocker older than this is "aging" on the producers' overview
_PERIOD_WORDS = {"daily": "day", "weekly": "week", "today": "day"}


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
            # A channel reads the shared view; producers 1:1 read everything.
            digest = await digest_with_flow(uow, team, period, now, everything=not channel)
            # One model headline per digest, not per recipient.
            headline = await assistant.summarize(digest, where=place) if assistant else None
            message = with_headline(digest_message(digest, place), headline)
        await uow.outbox.add(replace(message, to_user=None if channel else recipient))
        served.append(recipient)
    return served


async def cmd_digest(turn: Turn, args: str) -> None:
    if await turn.members_only("The team's digest"):
        return
    period = (args or "week").lower()
    period = _PERIOD_WORDS.get(period, period)
    if period not in PERIODS:
        await turn.reply(f"Usage: {turn.usage('digest [day|week]')}", private=True)
        return
    direct = turn.msg.direct
    digest = await digest_with_flow(turn.uow, turn.team, period, turn.now,
                                    viewer=turn.user if direct else None,
                                    everything=direct and turn.is_producer)
    out = digest_message(digest, reply_place(turn.msg))
    await turn.say(with_headline(out, await turn.assistant.summarize(digest, where=out.where)))


async def cmd_home(turn: Turn, args: str) -> None:
    """The user's own overview: Slack shows it as the App Home tab, elsewhere it is a message."""
    uow, now = turn.uow, turn.now
    blockers = await uow.blockers.open(turn.team)
    requests = await uow.requests.list(turn.team, states=OPEN_REQUEST_STATES)
    mine = [b for b in blockers if b.reporter == turn.user]
    my_requests = [r for r in requests if r.requester == turn.user]
    found = await voices.evidence(uow, requests)

    def people(r: Request) -> list[str]:
        return [found[r.number].summary] if found[r.number].people > 1 else []

    def line(r: Request, *details: str) -> str:
        issue = [issue_line(r)] if r.issue_label else []  # its key and link
        return request_line(r.number, r.title, *details, *people(r), *issue)

    voiced = set(await uow.voices.by_user(turn.team, turn.user))
    seen = [r for r in requests if r.requester != turn.user
            and r.shown_to(turn.user, turn.is_producer)]
    # Others' requests, most voices first: the ones someone is likeliest to share.
    others = sorted((r for r in seen if r.number not in voiced),
                    key=lambda r: (-found[r.number].people, r.created_at))[:5]
    sections = [
        Section("\n".join(blocker_line(b.number, b.text, since=age(b.opened_at, now))
                          for b in mine) or "None. 🎉", title="Your open blockers"),
        Section("\n".join(line(r, r.state.value) for r in my_requests)
                or "None open.", title="Your requests"),
        Section("\n".join(line(r, r.state.value) for r in seen if r.number in voiced)
                or "None yet.", title="Requests you added your voice to"),
    ]
    if others and not turn.outsider:  # an outsider sees their own, not the team's list
        sections.append(Section("\n".join(line(r, r.state.value) for r in others),
                                title="Others' requests: do you have this problem too?"))
    actions = [Action(f"Resolve #{b.number}", f"resolve {b.number}") for b in mine[:5]]
    actions += [Action(f"Solved #{r.number}", f"solved {r.number}", style="primary")
                for r in my_requests if r.state == RequestState.DELIVERED][:5]
    if others and not turn.outsider:
        actions += voice_buttons(others)
    if turn.is_producer:
        aging = [b for b in blockers if b.age(now) >= AGING_DAYS]
        waiting = sorted((r for r in requests if r.state == RequestState.READY_FOR_REVIEW),
                         key=lambda r: (-found[r.number].people, r.created_at))
        sections.append(Section("\n".join(blocker_item(b, now, limit=90) for b in aging)
                                or "None.", title=f"Team blockers older than {AGING_DAYS:g} days"))
        sections.append(Section(
            "\n".join(request_line(r.number, r.title, mention(r.requester), *people(r),
                                   problem=r.problem, unstated="") for r in waiting)
            or "Nothing waiting.", title="Requests waiting for your decision"))
        actions += [Action(f"Accept #{r.number}", f"accept {r.number}", style="primary")
                    for r in waiting[:5]]
    await turn.say(Outgoing(
        where=turn.msg.where.in_thread(None), text="Your blockers and requests",
        sections=tuple(sections), actions=tuple(actions), to_user=turn.user, surface="home"))


async def cmd_help(turn: Turn, args: str) -> None:
    groups: dict[str, list[str]] = {}
    for command in turn.commands:
        usage = turn.usage(f"{command.name} {command.args}".strip())
        groups.setdefault(command.group, []).append(f"{usage} {command.summary}")
    sections = tuple(Section("\n".join(lines), title=group) for group, lines in groups.items())
    await turn.reply(
        "I keep track of blockers, run discovery on requests and send standups and digests. "
        "You can also just say you're blocked (\"blocked on staging creds, waiting for ops\").",
        sections=sections, private=True)


COMMANDS = (
    Command("digest", "[day|week]", "where things stand: blockers, requests, outcomes",
            cmd_digest, "Standups and digests"),
    Command("home", "", "your blockers and requests; producers also see what waits for them",
            cmd_home, "Standups and digests"),
    Command("help", "", "this list", cmd_help, "Help"),
)
