"""Evidence: "do other people have this problem too?". Anyone who can see a request may add
their voice to it (`metoo`), once, in their own words; a producer merges a filing of the same
problem into the earlier one (`merge`), and its people count there. The requester and every
voice hear when the request moves (`tell_voices`)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import replace

from bot.model import (
    MERGE,
    OPEN_REQUEST_STATES,
    Action,
    Request,
    RequestState,
    Role,
    Section,
    Voice,
)
from bot.ports import UnitOfWork
from bot.text import MAX_TEXT, mention, one_line
from bot.turn import Command, Turn
from bot.views import (
    OUTSIDE_TEAM,
    Evidence,
    evidence_of,
    request_sections,
    team_of,
    voice_action,
)

METOO_USAGE = "metoo <number> [how it affects you]"
MERGE_USAGE = "merge <number> into <number>"
_MERGE_ARGS = re.compile(r"^#?(\d{1,9})\s+(?:(?:into|in|to|with)\s+)?#?(\d{1,9})$", re.IGNORECASE)


async def evidence(uow: UnitOfWork, requests: Sequence[Request]) -> dict[int, Evidence]:
    """The evidence of these requests, in a fixed number of queries."""
    if not requests:
        return {}
    team = requests[0].team
    voices = await uow.voices.of(team, [r.number for r in requests])
    members = {m.user: m for m in await uow.members.list(team)}
    return evidence_of(requests, voices, members)


async def sections(turn: Turn, request: Request) -> tuple[Section, ...]:
    """`request_sections` with who else has the problem."""
    found = await evidence(turn.uow, [request])
    return request_sections(request, found.get(request.number))


async def _visible(turn: Turn, number: int) -> Request | None:
    """The request, if the sender may see it; otherwise None, and they have been told why."""
    request = await turn.request(number)
    if request is None:
        return None
    if not request.shown_to(turn.user, turn.is_producer):
        await turn.reply(f"Request #{number} was filed in a private conversation, so I can't "
                         "show it to you or add your voice to it. A producer can tell you more.",
                         private=True)
        return None
    return request


def _closed(request: Request) -> str | None:
    """Why no voice can be added any more (None: it can)."""
    if request.state in OPEN_REQUEST_STATES:
        return None
    if request.state == RequestState.MERGED:
        return f"it was merged into #{request.merged_into}, the same problem"
    return f"it is {request.state.value}"


async def _open_end(turn: Turn, request: Request) -> int | None:
    """Where a merged request's people went in the end: #3 merged into #2, later merged into
    #1, is #1 (a few hops at most; None if the chain ends closed)."""
    for _ in range(10):
        if request.state != RequestState.MERGED or request.merged_into is None:
            break
        following = await turn.uow.requests.get(turn.team, request.merged_into)
        if following is None:
            return None
        request = following
    return request.number if request.state in OPEN_REQUEST_STATES else None


async def cmd_metoo(turn: Turn, args: str) -> None:
    parsed = await turn.number_arg(args, METOO_USAGE)
    if parsed is None:
        return
    number, words = parsed
    request = await _visible(turn, number)
    if request is None:
        return
    if turn.outsider and turn.msg.kind != "click" and request.channel != turn.msg.where.channel:
        # Someone from another organisation sees no team-wide lists: a typed number is not a
        # way to read titles one by one. They may join requests filed in the conversation they
        # share, or one the bot showed them with its button.
        await turn.reply(f"There is no request #{number} in this conversation.", private=True)
        return
    if request.requester == turn.user:
        await turn.reply(f"Request #{number} is your own, so you already count as its first "
                         "voice. 🙂 To say more about the problem, answer in its thread or ask a "
                         "producer.", private=True)
        return
    why = _closed(request)
    if why is not None:
        target = await _open_end(turn, request) if request.state == RequestState.MERGED else None
        await turn.reply(f"I can't add your voice to request #{number}: {why}."
                         + ((f" Add it there instead: {turn.usage(f'metoo {target}')}."
                             if target == request.merged_into else
                             f" Its people are on #{target} now: {turn.usage(f'metoo {target}')}.")
                            if target else ""),
                         actions=(voice_action(target, f"Add my voice to #{target}"),)
                         if target else (), private=True)
        return
    words = words[:MAX_TEXT]
    # A click has no typed form of its own: hints show the one the person can type anywhere
    # (Slack: the slash command), since a bare word in a channel is not read as a command.
    typed = replace(turn, slash=True) if turn.msg.kind == "click" else turn
    voice = await turn.uow.voices.get(turn.team, number, turn.user)
    title = one_line(request.title, 80)
    if voice is not None:
        if not words:
            await turn.reply(f"Your voice is already on request #{number} ({title}). To say how "
                             f"it affects you: {typed.usage(f'metoo {number} <how>')}",
                             private=True)
            return
        voice.problem = words
        await turn.uow.voices.save(voice)
        said = "Thanks, I've updated what you said about"
    else:
        voice = Voice(team=turn.team, number=number, user=turn.user, at=turn.now,
                      user_team=OUTSIDE_TEAM if turn.outsider else team_of(turn.member),
                      problem=words or None)
        await turn.uow.voices.add(voice)
        said = "Thanks, I've added your voice to"
    found = (await evidence(turn.uow, [request]))[number]
    text = f"{said} request #{number} ({title}). It now has {found.summary}."
    if not words and not voice.problem:
        # A click carries no sentence: ask for it, privately, in the words that fill it in.
        text += (" How does this problem affect you? Reply with "
                 f"{typed.usage(f'metoo {number} <how it affects you>')}; it helps the "
                 "producer weigh it.")
    await turn.reply(text, private=True)


def _merge_numbers(args: str) -> tuple[int, int] | None:
    match = _MERGE_ARGS.match(args.strip())
    return (int(match.group(1)), int(match.group(2))) if match else None


async def cmd_merge(turn: Turn, args: str) -> None:
    numbers = _merge_numbers(args)
    if numbers is None:
        await turn.reply(f"Which requests? Usage: {turn.usage(MERGE_USAGE)} (the second is the "
                         "one that stays open)", private=True)
        return
    if not turn.is_producer:
        await turn.deny("merge requests")
        return
    source_number, target_number = numbers
    if source_number == target_number:
        await turn.reply(f"Request #{source_number} can't be merged into itself: name the "
                         f"request it duplicates. {turn.usage(MERGE_USAGE)}", private=True)
        return
    source = await turn.request(source_number)
    target = await turn.request(target_number) if source is not None else None
    if source is None or target is None:
        return
    refusal = _merge_refusal(source, target)
    if refusal:
        await turn.reply(refusal, private=True)
        return
    source.move(MERGE, turn.now, by=turn.user)
    source.merged_into = target.number
    await turn.save(source)
    told = await _carry_voices(turn, source, target)
    found = (await evidence(turn.uow, [target]))[target.number]
    await turn.reply(f"Merged request #{source.number} into #{target.number} "
                     f"({one_line(target.title, 80)}): it now has {found.summary}."
                     + (f" I've told {', '.join(mention(u) for u in told)}." if told else ""),
                     private=True)


def _merge_refusal(source: Request, target: Request) -> str | None:
    """Why #source can't be merged into #target, in words; None when it can."""
    n, m = source.number, target.number
    if source.state == RequestState.MERGED:
        return f"Request #{n} is already merged into #{source.merged_into}."
    if not source.can(MERGE):
        return (f"Request #{n} can't be merged: it is {source.state.value}. Only a request "
                "that is not yet delivered or closed can be.")
    if target.state == RequestState.MERGED:
        return (f"Request #{m} is itself merged into #{target.merged_into}: merge #{n} into "
                f"#{target.merged_into} instead.")
    if target.state not in OPEN_REQUEST_STATES:
        return (f"Request #{m} is {target.state.value}, so #{n} can't be merged into it; "
                "its people would wait on a closed request.")
    if target.private and not source.private:
        return (f"Request #{m} was filed in a private conversation: merging #{n} into it would "
                f"hide it from the people behind #{n}. Merge #{m} into #{n} instead.")
    if target.private and source.private and target.requester != source.requester:
        # A private request is its requester's and the producers': the people behind one must
        # neither read the other nor be left unable to see where theirs went.
        return (f"Requests #{n} and #{m} were both filed in private conversations by different "
                "people: merging them would show each one's words to the other. Keep both open.")
    return None


async def _carry_voices(turn: Turn, source: Request, target: Request) -> list[str]:
    """#source's requester (with its problem statement) and voices become voices of #target,
    once each, never #target's own requester; they are told. Returns who was told."""
    uow = turn.uow
    members = {m.user: m for m in await uow.members.list(turn.team)}
    heard = (await uow.voices.of(turn.team, [source.number])).get(source.number, [])
    # Words said in a private place stay there: from a private request into a shared one, the
    # people are carried, not what they said.
    keep_words = target.private or not source.private
    incoming = [Voice(team=turn.team, number=target.number, user=source.requester,
                      at=turn.now, user_team=team_of(members.get(source.requester)),
                      problem=source.problem if keep_words else None,
                      merged_from=source.number)]
    incoming += [Voice(team=turn.team, number=target.number, user=v.user, at=turn.now,
                       user_team=v.user_team, problem=v.problem if keep_words else None,
                       merged_from=source.number)
                 for v in heard]
    people = []
    for voice in incoming:
        if voice.user == target.requester or voice.user in people:
            continue
        people.append(voice.user)
        if not await uow.voices.add(voice):
            # Already a voice there: keep what they said, unless they had said nothing yet.
            existing = await uow.voices.get(turn.team, target.number, voice.user)
            if existing is not None and not existing.problem and voice.problem:
                existing.problem = voice.problem
                await uow.voices.save(existing)
    producers = {u for u, m in members.items() if m.role == Role.PRODUCER}
    told = []
    for user in dict.fromkeys([source.requester, *(v.user for v in heard)]):
        if user == turn.user or user == target.requester:
            continue
        where = (f"#{target.number} ({one_line(target.title, 80)})"
                 if target.shown_to(user, user in producers) else "an earlier request")
        yours = "Your request" if user == source.requester else "Request"
        await turn.tell(user, f"{yours} #{source.number} ({one_line(source.title, 80)}) describes "
                        f"the same problem as {where}, so a producer merged it there. You count "
                        "as a voice on it now, and I'll tell you when it moves.")
        told.append(user)
    if target.requester != turn.user:
        # Whoever asked for #target learns that more people share their problem.
        found = (await evidence(uow, [target]))[target.number]
        shown = source.shown_to(target.requester, target.requester in producers)
        await turn.tell(target.requester, f"Request #{source.number}"
                        + (f" ({one_line(source.title, 80)})" if shown else "")
                        + " describes the same problem as your "
                        f"request #{target.number}, so a producer merged it into yours: it now "
                        f"has {found.summary}.")
        told.append(target.requester)
    return told


async def tell_voices(turn: Turn, request: Request, text: str, *,
                      skip: Iterable[str] = (), actions: tuple[Action, ...] = ()) -> None:
    """Tell everyone who added their voice to the request, once each: never the person acting,
    the requester (told in their own words) or anyone in `skip` (told already); a private
    request only to those who may see it."""
    heard = (await turn.uow.voices.of(turn.team, [request.number])).get(request.number, [])
    if not heard:
        return
    producers = set(await turn.producers())
    done = {turn.user, request.requester, *skip}
    for voice in heard:
        if voice.user in done or not request.shown_to(voice.user, voice.user in producers):
            continue
        done.add(voice.user)
        await turn.tell(voice.user, text, actions=actions)


def voice_buttons(requests: Iterable[Request], limit: int = 5) -> tuple[Action, ...]:
    """`Add my voice to #n` for the first few of these requests."""
    return tuple(voice_action(r.number, f"Add my voice to #{r.number}")
                 for r in list(requests)[:limit])


COMMANDS = (
    Command("metoo", "<number> [how it affects you]",
            "you have this problem too: add your voice to a request", cmd_metoo, "Requests",
            aliases=("me-too",)),
    Command("merge", "<number> into <number>",
            "the same problem: close the first, its people count on the second", cmd_merge,
            "For producers"),
)
