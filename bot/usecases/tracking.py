"""A request's issue in the team's own tracker (GitHub, Jira, Linear): filed when a producer
accepts it (or says `track <n>`), carrying the problem, who has it, how they cope and how we
will know it worked; and followed back, as the tracker's webhooks report the issue started,
done, not planned or reopened.

Filing is an outbox effect like any message (adapters/trackers/base.py): the dispatcher files
it and, in the same commit that marks it sent, hands the tracker's answer to `filed`, so an
issue is recorded on its request exactly once. A webhook is an inbound event like any message:
stored in the inbox under its delivery id (a redelivery, or a second replica receiving it,
stops there) and handled by `requests.tracker_changed`, where the request's other moves are.
"""

from __future__ import annotations

import logging

from bot.model import (
    NO_TRACKER,
    Outgoing,
    Request,
    RequestState,
    Role,
    Section,
    Team,
    Where,
)
from bot.ports import UnitOfWork
from bot.text import one_line, parse_number
from bot.turn import Command, Trackers, Turn
from bot.usecases import blockers
from bot.views import issue_line, kind_of, named

log = logging.getLogger(__name__)


async def project_for(uow: UnitOfWork, team: Team, trackers: Trackers) -> str | None:
    """Where this team's accepted requests are filed, or None."""
    chosen = (await uow.tenants.get(team)).tracker
    if chosen == NO_TRACKER:
        return None
    project = chosen or trackers.default
    if project is None or kind_of(project) not in trackers.kinds:
        return None  # chosen, but this deployment has no credentials for that tracker
    return project


def place_of(request: Request) -> tuple[Where, str | None]:
    """Where the request's conversation is: its thread, or the thread of its first message."""
    where = Where(request.team.platform, request.team.tenant, request.channel, request.thread)
    if request.thread or request.discovery_direct:
        return where, None
    return where, f"request:{request.number}"


async def file(turn: Turn, request: Request, private_too: bool = False) -> str | None:
    """Queue the request's issue in the team's tracker; the project, or None without one.
    A request filed in a private place is not put where the whole team (or the public) reads
    it unless a producer says so (`private_too`: `track <n>`)."""
    project = await project_for(turn.uow, turn.team, turn.trackers)
    if project is None or (request.private and not private_too):
        return None
    request.issue_project = project
    await turn.save(request)
    await turn.say(Outgoing(
        where=Where(turn.team.platform, turn.team.tenant, project), text=one_line(request.title, 250),
        sections=await _body(turn, request), key=f"issue:{request.number}", surface="issue"))
    return project


async def _body(turn: Turn, request: Request) -> tuple[Section, ...]:
    """The issue's description: what discovery found, in people's names (a tracker cannot
    render chat mentions), and a way back to the conversation."""
    uow, team = turn.uow, turn.team
    members = {m.user: m for m in await uow.members.list(team)}

    def name(user: str) -> str:
        member = members.get(user)
        return member.name if member and member.name else user

    a = request.answers
    sections = [Section(a.get("problem") or "(not stated)", "Problem")]
    voices = (await uow.voices.of(team, [request.number])).get(request.number, [])
    who = [a["who"]] if a.get("who") else []
    if voices:
        who.append(f"{1 + len(voices)} people have it: {name(request.requester)} (requester), "
                   + ", ".join(name(v.user) + (f" ({v.user_team})" if v.user_team else "")
                               for v in voices) + ".")
        who += [f"{name(v.user)}: {one_line(v.problem, 300)}" for v in voices if v.problem]
    if who:
        sections.append(Section("\n".join(who), "Who has it"))
    if a.get("coping"):
        sections.append(Section(a["coping"], "How they cope today"))
    if a.get("success"):
        sections.append(Section(a["success"], "How we will know it worked"))
    # Its conversation: the thread it was filed in, or the message that opened it.
    where, key = place_of(request)
    posted = await uow.posted.find(team, key) if key else None
    if posted:
        where, message = Where(team.platform, team.tenant, posted[0]), posted[1]
    else:
        where, message = where.in_thread(None), request.thread
    to_chat = turn.trackers.links.get(team.platform)
    link = to_chat(where, message) if to_chat else None
    origin = (f"*{name(request.requester)}* asked for this on {request.created_at:%Y-%m-%d} "
              f"(request #{request.number} in {team.platform.capitalize()})")
    if link and not request.private:
        origin += f"\nThe conversation: {link}"
    sections.append(Section(origin + "\nWhen this issue is closed, the requester is asked "
                            "whether it solved their problem.", "Requested by"))
    return tuple(sections)


async def cmd_track(turn: Turn, args: str) -> None:
    """`track 7` files request #7; `track <words>` is the blockers' `track` (a new blocker even
    if it looks like an open one): one word, told apart by a bare number."""
    words = args.split()
    number = parse_number(words[0]) if len(words) == 1 else None
    if number is None:
        await blockers.cmd_track(turn, args)
        return
    if not turn.is_producer:
        await turn.deny("file requests in the tracker")
        return
    request = await turn.request(number)
    if request is None:
        return
    n = request.number
    if request.issue_label or request.issue_project:
        await turn.reply(f"Request #{n} is already filed: {issue_line(request)}.", private=True)
        return
    if request.state not in (RequestState.ACCEPTED, RequestState.IN_PROGRESS,
                             RequestState.DELIVERED):
        await turn.reply(f"Request #{n} is {request.status}: only accepted requests are filed "
                         "in the tracker.", private=True)
        return
    project = await file(turn, request, private_too=True)  # a producer's explicit word
    if project is None:
        await turn.reply("No tracker is set up for this team. An administrator sets one with "
                         "`producer-bot tracker set` (see the README).", private=True)
        return
    await turn.reply(f"Filing request #{n} in {named(project)}; I'll post the link here.")


# ---- what the tracker answered (called by the dispatcher, see bot.relay.dispatch.OnSent) -----


def _number(message: Outgoing) -> int:
    """The request a tracker effect is about: its key is "issue:<n>"."""
    return int((message.key or "").rsplit(":", 1)[-1])


async def filed(uow: UnitOfWork, message: Outgoing, ref: str | None, label: str | None,
                link: str | None) -> None:
    """The tracker filed the issue: record it on the request and say so in its conversation."""
    team, number = message.where.team, _number(message)
    request = await uow.requests.get(team, number)
    if request is None or not ref:  # an adapter always names the issue it filed
        log.error("request #%s of %s: filed, but the tracker named no issue", number, team)
        return
    request.issue_project = message.where.channel
    request.issue_ref, request.issue_label, request.issue_link = ref, label or ref, link
    await uow.requests.save(request)
    where, key = place_of(request)
    await uow.outbox.add(Outgoing(
        where=where, thread_key=key,
        text=f"Request #{number} is filed in {named(message.where.channel)} as "
             f"{request.issue_label}" + (f": {link}" if link else ".")))


async def not_filed(uow: UnitOfWork, message: Outgoing, error: str) -> None:
    """The tracker refused the effect for good: the producers hear why and what to do."""
    team = message.where.team
    producers = [m.user for m in await uow.members.list(team) if m.role == Role.PRODUCER]
    if message.surface == "issue":
        number = _number(message)
        request = await uow.requests.get(team, number)
        if request is not None and not request.issue_ref:
            request.issue_project = None  # `track` may try again
            await uow.requests.save(request)
        text = (f"I could not file request #{number} in {named(message.where.channel)}: "
                f"{one_line(error, 300)}. Once the tracker settings are fixed, "
                f"`track {number}` files it.")
    else:
        text = (f"I could not update the issue {message.issue} in "
                f"{named(message.where.channel)}: {one_line(error, 300)}.")
    for producer in producers:
        await uow.outbox.add(Outgoing(where=Where(team.platform, team.tenant, ""), text=text,
                                      to_user=producer))


async def reopen(turn: Turn, request: Request, text: str) -> None:
    """Reopen the request's issue, saying why (the requester's `notyet`)."""
    if not request.issue_ref or not request.issue_project:
        return
    await turn.say(Outgoing(
        where=Where(turn.team.platform, turn.team.tenant, request.issue_project), text=text,
        surface="issue-reopen", issue=request.issue_ref, key=f"issue:{request.number}"))


COMMANDS = (
    # After blockers' `track <what blocks you>` in the table, so this row's handler (which hands
    # anything but a bare number back to it) is the one the word runs.
    Command("track", "<request number>", "file an accepted request in the team's tracker",
            cmd_track, "For producers"),
)
