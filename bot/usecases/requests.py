"""A request's life after discovery: producers accept, decline, start and deliver it; the
requester says whether the delivery solved their problem; either may withdraw it. Which state
may go where is `Request.move`'s table (bot.model); this module says who may and what people
hear."""

from __future__ import annotations

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
    Move,
    Request,
    RequestState,
    Section,
)
from bot.text import MAX_TEXT, mention, one_line
from bot.turn import Command, Turn
from bot.usecases.discovery import withdraw
from bot.usecases.voices import evidence, sections, tell_voices, voice_buttons
from bot.views import delivery_actions, plural, private_note, request_line


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
    await turn.reply(f"Request #{request.number} accepted by {mention(turn.user)}.",
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
    await _notify_requester(turn, request, f"Work on your request #{request.number} "
                            f"({one_line(request.title, 80)}) has started.")


async def cmd_deliver(turn: Turn, args: str) -> None:
    decided = await _decide(turn, args, "deliver", DELIVER)
    if decided is None:
        return
    request, note = decided
    await turn.reply(f"Request #{request.number} delivered. I've asked "
                     f"{mention(request.requester)} whether it solved their problem.")
    question = (f"Request #{request.number} ({one_line(request.title, 80)}) was delivered"
                + (f": {one_line(note, 200)}" if note else ".")
                + " Did it solve your problem"
                + (f" ({one_line(request.problem, 200)})?" if request.problem else "?"))
    if request.requester == turn.user:
        await turn.reply(question, actions=delivery_actions(request))
    else:
        await turn.tell(request.requester, question, actions=delivery_actions(request))
    await tell_voices(turn, request, f"Request #{request.number} ({one_line(request.title, 80)}),"
                      " which you added your voice to, was delivered"
                      + (f": {one_line(note, 200)}" if note else ".")
                      + f" {mention(request.requester)} will confirm whether it solved the "
                      "problem; if it doesn't solve yours, tell a producer.")


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
        await turn.reply(f"Thanks, I've reopened request #{number} and told the producers.")
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
