"""People change their minds: an edited message that opened a blocker or answered a discovery
question updates it; a deleted one makes the bot ask its author whether to drop what it opened.
Edits and deletions of any other message are none of the bot's business."""

from __future__ import annotations

import json
import re

from bot.model import DISCOVERY_QUESTIONS, OPEN_REQUEST_STATES, Action, Blocker, BlockerEvent, Request
from bot.text import MAX_TEXT, one_line
from bot.turn import Turn
from bot.usecases import discovery

# An edited `blocker <text>` keeps its command word; the blocker is the rest.
_COMMAND_WORD = re.compile(r"^/?blocker\s+", re.IGNORECASE)


async def _blocker(turn: Turn) -> Blocker | None:
    msg = turn.msg
    if not msg.message_id:
        return None
    blocker = await turn.uow.blockers.by_message(turn.team, msg.where.channel, msg.message_id)
    return blocker if blocker and blocker.reporter == turn.user and blocker.is_open else None


async def _answered(turn: Turn) -> tuple[Request, str] | None:
    """The sender's open request one of whose discovery answers this message gave, and the
    question's field."""
    if not turn.msg.message_id:
        return None
    for request in await turn.uow.requests.list(turn.team, states=OPEN_REQUEST_STATES,
                                                requester=turn.user):
        for field, message_id in request.answer_messages.items():
            if message_id == turn.msg.message_id:
                return request, field
    return None


def _question(field: str) -> str:
    return next(q.text for q in DISCOVERY_QUESTIONS if q.field == field)


async def handle(turn: Turn) -> None:
    if turn.msg.kind == "edit":
        await _edited(turn)
    else:
        await _deleted(turn)


async def _edited(turn: Turn) -> None:
    text = _COMMAND_WORD.sub("", turn.text)
    if not text:
        return  # emptied: a deletion in all but name, and deletions ask first
    blocker = await _blocker(turn)
    if blocker is not None:
        if blocker.text != text[:MAX_TEXT]:
            blocker.text = text[:MAX_TEXT]
            await turn.uow.blockers.save(blocker)
            await turn.uow.blockers.add_event(turn.team, BlockerEvent(
                blocker.number, turn.now, "edited", turn.user, blocker.text))
            await turn.reply(f"Updated blocker #{blocker.number} to your edited words.",
                             private=True)
        return
    if await _held(turn, text):
        return
    answered = await _answered(turn)
    if answered is not None:
        request, field = answered
        if request.answers.get(field) != text[:MAX_TEXT]:
            request.answers[field] = text[:MAX_TEXT]
            await turn.save(request)
            await turn.reply(f"Updated your answer to “{_question(field)}” on request "
                             f"#{request.number}.", private=True)


async def _held(turn: Turn, text: str) -> bool:
    """An edit of a message held back as maybe-not-an-answer (discovery.PENDING): its Yes
    stores the edited words. True: it was one."""
    if not turn.msg.message_id:
        return False
    for request in await turn.uow.requests.list(turn.team, states=OPEN_REQUEST_STATES,
                                                requester=turn.user):
        held = discovery.pending_of(request)
        if held and held.get("message") == turn.msg.message_id:
            held["text"] = text[:MAX_TEXT]
            request.answers[discovery.PENDING] = json.dumps(held)
            await turn.save(request)
            await turn.reply("Noted your edit: if that message is your answer, Yes stores it as "
                             "it reads now.", private=True)
            return True
    return False


async def _deleted(turn: Turn) -> None:
    blocker = await _blocker(turn)
    if blocker is not None:
        await turn.tell(turn.user, f"You deleted the message behind blocker #{blocker.number} "
                        f"({one_line(blocker.text, 80)}). Is it gone? If so, drop it; otherwise "
                        "I keep tracking it.",
                        actions=(Action(f"Drop blocker #{blocker.number}",
                                        f"dismiss {blocker.number}"),
                                 Action(f"Resolve #{blocker.number}",
                                        f"resolve {blocker.number}", style="primary")))
        return
    answered = await _answered(turn)
    if answered is not None:
        request, field = answered
        await turn.tell(turn.user, f"You deleted your answer to “{_question(field)}” on request "
                        f"#{request.number}; I still have it on file. If the request is no "
                        "longer needed, withdraw it.",
                        actions=(Action(f"Withdraw #{request.number}",
                                        f"withdraw {request.number}", style="danger"),))
