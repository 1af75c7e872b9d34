"""A request's life after discovery: producers accept, decline, start and deliver it (or the
team's tracker says so, through its webhooks); the requester says whether the delivery solved
their problem; either may withdraw it. Which state
may go where is `Request.move`'s table (bot.model); this module says who may and what people
hear."""

from __future__ import annotations

import logging

from bot.model import (
    ACCEPT,
    DECLINE,
    DELIVER,
    OPEN_REQUEST_STATES,
    REOPEN,
    SOLVE,
    START,
    WITHDRAW,
    Action,
    InboundMessage,
    Member,
    Move,
    Outgoing,
    Request,
    RequestState,
    Role,
    Section,
)
from bot.ports import UnitOfWork
from bot.text import MAX_TEXT, mention, one_line
from bot.turn import Command, Turn
from bot.usecases import demos, tracking
from bot.usecases.discovery import withdraw
from bot.usecases.voices import evidence, sections, tell_voices, voice_buttons
from bot.views import delivery_actions, plural, private_note, request_line

log = logging.getLogger(__name__)

# What a tracker's webhook can report (adapters/trackers/base.py CHANGES).
STARTED, DONE, NOT_PLANNED, REOPENED = "started", "done", "not_planned", "reopened"


async def cmd_requests(turn: Turn, args: str) -> None:
    mine = args.lower() == "mine" or turn.outsider  # an outsider sees their own
    states = None if args.lower() == "all" else OPEN_REQUEST_STATES
    found = await turn.uow.requests.list(turn.team, states=states,
                                         requester=turn.user if mine else None)
    requests = [r for r in found if r.shown_to(turn.user, turn.is_producer)]
    hidden = private_note(len(found) - len(requests), "request")
    if not requests:
        await turn.reply(("No requests yet." if not mine else "You have no open requests.")
                         + hidden, private=True)
        return
    shown = requests[-40:]
    found = await evidence(turn.uow, shown)
    # A merged request's people count on the request it was merged into, not here.
    lines = [request_line(r.number, r.title, r.status, mention(r.requester),
                          *([found[r.number].summary] if found[r.number].people > 1
                            and r.state != RequestState.MERGED else []),
                          *([r.issue_label] if r.issue_label else []),
                          problem=r.problem, problem_limit=120) for r in shown]
    more = f" (showing the newest 40 of {len(requests)})" if len(requests) > 40 else ""
    # Buttons for the open requests of others the sender has not voiced yet.
    voiced = set(await turn.uow.voices.by_user(turn.team, turn.user))
    others = [r for r in shown if r.requester != turn.user and r.number not in voiced
              and r.state in OPEN_REQUEST_STATES]
    await turn.reply(f"{plural(len(requests), 'request')}{more}.{hidden}",
                     sections=(Section("\n".join(lines)),), actions=voice_buttons(others),
                     private=True)


async def _refused(turn: Turn, request: Request, move: Move) -> bool:
    """Tell the sender why the request can't take this step; False when it can."""
    if request.can(move):
        return False
    if request.state == RequestState.NEEDS_DISCOVERY:
        why = (f"it has no problem statement yet; {mention(request.requester)} is still "
               "answering the discovery questions")
    else:
        why = f"it is {request.state.value}"
    await turn.reply(f"Request #{request.number} can't be {move.verb}: {why}.", private=True)
    return True


async def _decide(turn: Turn, args: str, word: str, move: Move,
                  reason_needed: bool = False) -> tuple[Request, str] | None:
    """A producer's `accept|decline|start|deliver <n> [text]`: once it is known that they may
    and that the request can take that step, take it. The request and the text, or None (the
    sender has been told why not)."""
    parsed = await turn.number_arg(args, f"{word} <number>")
    if parsed is None:
        return None
    if not turn.is_producer:
        await turn.deny(f"{word} requests")
        return None
    number, rest = parsed
    request = await turn.request(number)
    if request is None:
        return None
    if reason_needed and not rest:
        await turn.reply(f"Please give the requester a reason: "
                         f"{turn.usage(f'{word} {request.number} <reason>')}", private=True)
        return None
    if await _refused(turn, request, move):
        return None
    request.move(move, turn.now, by=turn.user, note=rest[:MAX_TEXT])
    await turn.save(request)
    return request, rest


async def _notify_requester(turn: Turn, request: Request, text: str,
                            actions: tuple[Action, ...] = ()) -> None:
    if request.requester != turn.user:
        await turn.tell(request.requester, text, sections=await sections(turn, request),
                        actions=actions)


async def cmd_accept(turn: Turn, args: str) -> None:
    decided = await _decide(turn, args, "accept", ACCEPT)
    if decided is None:
        return
    request, _ = decided
    project = await tracking.file(turn, request)
    if project:
        filing = f" Filing it in {tracking.named(project)}; the link follows here."
    elif request.private and await tracking.project_for(turn.uow, turn.team, turn.trackers):
        filing = (" It was filed in a private conversation, so it is not in the tracker: "
                  f"{turn.usage(f'track {request.number}')} puts it there, words and all.")
    else:
        filing = ""
    await turn.reply(f"Request #{request.number} accepted by {mention(turn.user)}.{filing}",
                     actions=(Action("Start work", f"start {request.number}"),
                              Action("Mark delivered", f"deliver {request.number}")))
    await _notify_requester(turn, request, f"Good news: your request #{request.number} "
                            f"({one_line(request.title, 80)}) was accepted.")
    await tell_voices(turn, request, f"Good news: request #{request.number} "
                      f"({one_line(request.title, 80)}), which you added your voice to, was "
                      "accepted.")


async def cmd_decline(turn: Turn, args: str) -> None:
    decided = await _decide(turn, args, "decline", DECLINE, reason_needed=True)
    if decided is None:
        return
    request, reason = decided
    await turn.reply(f"Request #{request.number} declined by {mention(turn.user)}.")
    await tell_declined(turn, request, reason)


async def tell_declined(turn: Turn, request: Request, reason: str) -> None:
    await _notify_requester(turn, request, f"Your request #{request.number} "
                            f"({one_line(request.title, 80)}) was declined: "
                            f"{one_line(reason, 300)}")
    await tell_voices(turn, request, f"Request #{request.number} ({one_line(request.title, 80)}),"
                      f" which you added your voice to, was declined: {one_line(reason, 300)}")


async def cmd_start(turn: Turn, args: str) -> None:
    decided = await _decide(turn, args, "start", START)
    if decided is None:
        return
    request, _ = decided
    await turn.reply(f"Request #{request.number} is in progress.",
                     actions=(Action("Mark delivered", f"deliver {request.number}"),))
    await tell_started(turn, request)


async def tell_started(turn: Turn, request: Request) -> None:
    await _notify_requester(turn, request, f"Work on your request #{request.number} "
                            f"({one_line(request.title, 80)}) has started.")


async def cmd_deliver(turn: Turn, args: str) -> None:
    decided = await _decide(turn, args, "deliver", DELIVER)
    if decided is None:
        return
    request, note = decided
    await turn.reply(f"Request #{request.number} delivered. I've asked "
                     f"{mention(request.requester)} whether it solved their problem.")
    await tell_delivered(turn, request, note)


async def tell_delivered(turn: Turn, request: Request, note: str) -> None:
    """The requester is asked whether the delivery solved their problem, with the check they
    gave themselves (their success criterion); every voice hears it was delivered."""
    success = request.answers.get("success")
    question = (f"Request #{request.number} ({one_line(request.title, 80)}) was delivered"
                + (f": {one_line(note, 200)}" if note else ".")
                + " Did it solve your problem"
                + (f" ({one_line(request.problem, 200)})?" if request.problem else "?")
                + (f" You said we would know it worked when: {one_line(success, 300)}"
                   if success else ""))
    if request.requester == turn.user:
        await turn.reply(question, actions=delivery_actions(request))
    else:
        await turn.tell(request.requester, question, actions=delivery_actions(request))
    # Each voice is asked too, against the same check: their answer is recorded as theirs
    # (bot.usecases.demos.voice_verdict) and never moves the request.
    await tell_voices(turn, request, f"Request #{request.number} ({one_line(request.title, 80)}),"
                      " which you added your voice to, was delivered"
                      + (f": {one_line(note, 200)}" if note else ".")
                      + " Did it solve the problem for you too?"
                      + (f" {mention(request.requester)} said we would know it worked when: "
                         f"{one_line(success, 300)}" if success else ""),
                      actions=delivery_actions(request, voice=True))


async def _outcome(turn: Turn, args: str, solved: bool) -> None:
    verb = "solved" if solved else "notyet"
    parsed = await turn.number_arg(args, f"{verb} <number>")
    if parsed is None:
        return
    number, note = parsed
    request = await turn.request(number)
    if request is None:
        return
    if request.requester != turn.user:
        if await demos.voice_verdict(turn, request, solved, note[:MAX_TEXT]):
            return  # recorded as one voice's verdict: the request stays where it is
        await turn.reply(f"Only {mention(request.requester)}, who asked for #{number}, can say "
                         "whether it solved their problem.", private=True)
        return
    move = SOLVE if solved else REOPEN
    if not request.can(move):
        await turn.reply(f"Request #{number} is {request.state.value}, not waiting for your "
                         "confirmation.", private=True)
        return
    request.move(move, turn.now, by=turn.user, note=note[:MAX_TEXT])
    await turn.save(request)
    if solved:
        text = f"{mention(turn.user)} confirmed request #{number} solved their problem."
        await turn.reply(f"Thanks for confirming: request #{number} is done. 🎉")
    else:
        text = (f"{mention(turn.user)} says request #{number} hasn't solved their problem yet"
                + (f": {one_line(note, 300)}" if note else "."))
        await turn.reply(f"Thanks, I've reopened request #{number} and told the producers."
                         + (f" I've reopened {request.issue_label} too." if request.issue_ref
                            else ""))
        await tracking.reopen(turn, request, "The requester says this has not solved their "
                              "problem yet" + (f": {note[:2000]}" if note else "."))
    producers = await turn.producers()
    for producer in producers:
        if producer != turn.user:
            await turn.tell(producer, text)
    if solved:  # producers heard it above: nobody is told twice
        await tell_voices(turn, request, f"Request #{number} ({one_line(request.title, 80)}), "
                          f"which you added your voice to, is solved: {mention(turn.user)} "
                          "confirmed the delivery solved the problem. 🎉", skip=producers)


async def cmd_solved(turn: Turn, args: str) -> None:
    await _outcome(turn, args, solved=True)


async def cmd_notyet(turn: Turn, args: str) -> None:
    await _outcome(turn, args, solved=False)


async def cmd_withdraw(turn: Turn, args: str) -> None:
    parsed = await turn.number_arg(args, "withdraw <number>")
    if parsed is None:
        return
    request = await turn.request(parsed[0])
    if request is None:
        return
    if request.requester != turn.user and not turn.is_producer:
        await turn.reply(f"Only {mention(request.requester)} or a producer can withdraw "
                         f"request #{request.number}.", private=True)
        return
    if not await _refused(turn, request, WITHDRAW):
        await withdraw(turn, request)  # its voices hear it there


# ---- what a tracker's webhook reports (bot.usecases.tracking files the issue) -----------------


def _as_tracker(msg: InboundMessage, uow: UnitOfWork, request: Request, base: Turn) -> Turn:
    """A turn in the request's conversation for what happened in the tracker, acting as the
    tracker (never a member of the team: it holds no role and is nobody's mention)."""
    where, _ = tracking.place_of(request)
    actor = f"{msg.where.platform}:{(msg.form or {}).get('actor') or 'webhook'}"
    inbound = InboundMessage(where=where, user=actor, text=msg.text, event_id=msg.event_id,
                             at=msg.at, kind=msg.kind)
    return Turn(inbound, uow, Member(request.team, actor, Role.MEMBER), "", False,
                base.assistant, spellings=base.spellings, trackers=base.trackers)


async def tracker_changed(turn: Turn) -> None:
    """A tracker's webhook said an issue changed; `turn.msg.form` says how (see TRACKER_EVENT)."""
    msg, uow = turn.msg, turn.uow
    form = msg.form or {}
    change, kind = form.get("change", ""), msg.where.platform
    request = await uow.requests.by_issue(kind, form.get("issue", ""))
    if request is None:
        log.info("%s webhook about an issue no request was filed as; ignored", kind)
        return
    here = _as_tracker(msg, uow, request, turn)
    label = request.issue_label or form.get("label") or "the issue"
    by = f" by {one_line(form['actor'], 60)}" if form.get("actor") else ""
    why = one_line(msg.text, 300) if msg.text else ""
    n = request.number
    if change == STARTED and request.can(START):
        request.move(START, msg.at, note=None)
        await here.save(request)
        await _say(here, request, f"{label} was started{by}: request #{n} is in progress.")
        await tell_started(here, request)
    elif change == DONE and request.can(DELIVER):
        request.move(DELIVER, msg.at, note=f"{label} closed as done")
        await here.save(request)
        await _say(here, request, f"{label} was closed as done{by}: request #{n} is delivered. "
                   f"I've asked {mention(request.requester)} whether it solved their problem.")
        await tell_delivered(here, request, f"{label} was closed as done")
    elif change == NOT_PLANNED and request.can(DECLINE):
        reason = f"{label} was closed as not planned" + (f": {why}" if why else "")
        request.move(DECLINE, msg.at, note=reason)
        await here.save(request)
        await _say(here, request, f"{reason}{by}. Request #{n} is declined.")
        await tell_declined(here, request, reason)
    elif change == REOPENED and request.can(REOPEN):
        request.move(REOPEN, msg.at, note=f"{label} was reopened")
        await here.save(request)
        await _say(here, request, f"{label} was reopened{by}: request #{n} is in progress again.")
    else:
        log.info("%s webhook: %s on request #%s (%s) changes nothing", kind, change, n,
                 request.state.value)


async def _say(turn: Turn, request: Request, text: str) -> None:
    """In the request's conversation, for everyone there."""
    where, key = tracking.place_of(request)
    await turn.say(Outgoing(where=where, thread_key=key, text=text))


COMMANDS = (
    Command("requests", "[mine|all]", "requests and where they stand", cmd_requests,
            "Requests"),
    Command("withdraw", "<number>", "withdraw your request", cmd_withdraw, "Requests"),
    Command("solved", "<number>", "the delivery solved your problem", cmd_solved, "Requests"),
    Command("notyet", "<number> [why]", "the delivery hasn't solved it yet", cmd_notyet,
            "Requests", aliases=("not-yet",)),
    Command("accept", "<number>", "accept a reviewed request", cmd_accept, "For producers"),
    Command("decline", "<number> <reason>", "decline a request, with a reason", cmd_decline,
            "For producers"),
    Command("start", "<number>", "mark an accepted request in progress", cmd_start,
            "For producers"),
    Command("deliver", "<number> [note]", "mark a request delivered; I ask the requester",
            cmd_deliver, "For producers"),
)
