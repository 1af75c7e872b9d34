"""`edit <n> <field> <text>`: correcting a discovery answer before the producer decides. The
problem goes through the same judgement as an answer; after a decision the answers stay as they
were decided on. Like an edited message (corrections.py), an edit replaces the answer in place."""

from __future__ import annotations

import dataclasses
from dataclasses import replace

from bot.model import DISCOVERY_QUESTIONS, READY, Request, RequestState, Role, Team
from bot.ports import UnitOfWork
from bot.text import MAX_TEXT, clean, mention, one_line, parse_number
from bot.turn import Command, Turn
from bot.usecases import discovery, voices
from bot.views import edit_action, review_actions

QUESTIONS = {q.field: q for q in DISCOVERY_QUESTIONS}
# The words people reach for, each to one question's field.
ALIASES = {
    "problem": "problem", "pain": "problem", "issue": "problem", "why": "problem",
    "who": "who", "whom": "who", "users": "who", "people": "who", "audience": "who",
    "coping": "coping", "cope": "coping", "today": "coping", "workaround": "coping",
    "now": "coping", "current": "coping",
    "success": "success", "measure": "success", "metric": "success", "outcome": "success",
    "worked": "success", "done": "success",
}
EDITABLE = (RequestState.NEEDS_DISCOVERY, RequestState.READY_FOR_REVIEW)
FIELD_LIST = ", ".join(f"`{field}`" for field in QUESTIONS)


def _refusal(request: Request) -> str:
    n, state = request.number, request.state
    if state == RequestState.WITHDRAWN:
        return f"Request #{n} was withdrawn, so there is nothing to edit; file a new one instead."
    if state == RequestState.DECLINED:
        return (f"Request #{n} was already declined, and a decision stands on the answers it was "
                "made on. If things have changed, file a new request with the new answers.")
    who = f" by {mention(request.decided_by)}" if request.decided_by else ""
    return (f"Request #{n} was already accepted{who} (it is {state.value} now), and a decision "
            "stands on the answers it was made on. If something important changed, say so in "
            "its thread or tell the producer.")


def _current(request: Request) -> str:
    lines = [f"• `{q.field}`: {one_line(request.answers[q.field], 200)}"
             if q.field in request.answers else f"• `{q.field}`: (no answer yet)"
             for q in DISCOVERY_QUESTIONS]
    return "\n".join(lines)


async def form_for(uow: UnitOfWork, team: Team, user: str,
                   number: int) -> tuple[tuple[str, str, str], ...] | None:
    """The Edit form of request `number`, prefilled with its answers as they are now, when
    `user` may edit them now (a platform opens it before the click reaches the core); None
    otherwise: then the click goes through the core, which says why not."""
    request = await uow.requests.get(team, number)
    if request is None or request.state not in EDITABLE:
        return None
    member = await uow.members.get(team, user)
    producer = member is not None and member.role == Role.PRODUCER and not member.outsider
    if user != request.requester and not producer:
        return None
    return edit_action(request).form


async def cmd_edit(turn: Turn, args: str) -> None:
    words = args.split(None, 1)
    if words and parse_number(words[0]) is None:
        request = await discovery.discovery_for(turn)
        if request is not None:  # in a 1:1 discovery, "edit ..." may be someone's answer
            await discovery.answer(turn, request)
            return
    parsed = await turn.number_arg(args, "edit <number> <field> <new answer>")
    if parsed is None:
        return
    number, rest = parsed
    request = await turn.request(number)
    if request is None:
        return
    if turn.user != request.requester and not turn.is_producer:
        await turn.reply(f"Only the person who filed request #{number} or a producer can edit "
                         "its answers.", private=True)
        return
    if request.state not in EDITABLE:
        await turn.reply(_refusal(request), private=True)
        return
    changes = _from_form(request, turn.msg.form) if turn.msg.form is not None else None
    if changes is None:
        changes = await _from_words(turn, request, rest)
        if changes is None:
            return
    if not changes:
        await turn.reply(f"Nothing changed on request #{number}: the answers were already those.",
                         private=True)
        return
    await apply(turn, request, changes)


def _from_form(request: Request, form: dict[str, str]) -> dict[str, str]:
    """The fields a submitted form changed. An emptied field is left as it was: a form is no
    way to lose an answer by accident."""
    changes = {}
    for field in QUESTIONS:
        text = clean(form.get(field, ""))[:MAX_TEXT]
        if text and text != request.answers.get(field):
            changes[field] = text
    return changes


async def _from_words(turn: Turn, request: Request, rest: str) -> dict[str, str] | None:
    usage = turn.usage(f"edit {request.number} <field> <new answer>")
    words = rest.split(None, 1)
    if not words:
        await turn.reply(f"To change an answer of request #{request.number}: {usage}, where the "
                         f"field is one of {FIELD_LIST}. Its answers now:\n{_current(request)}",
                         private=True)
        return None
    field = ALIASES.get(words[0].lower().rstrip(":"))
    if field is None:
        await turn.reply(f"I don't know the field `{one_line(words[0], 30)}`. The fields are "
                         f"{FIELD_LIST}: {usage}", private=True)
        return None
    text = clean(words[1])[:MAX_TEXT] if len(words) > 1 else ""
    if not text:
        await turn.reply(f"What should the new answer to “{QUESTIONS[field].text}” be? {usage}",
                         private=True)
        return None
    return {field: text} if text != request.answers.get(field) else {}


async def apply(turn: Turn, request: Request, changes: dict[str, str]) -> None:
    """Replace the answers, judge a new problem as an answer is judged, go on with discovery if
    the question waiting was among them, and tell producers who already had the review."""
    reviewed = request.state == RequestState.READY_FOR_REVIEW and not request.in_discovery
    was_unclear = request.problem_unclear
    lines, why = [], None
    for field, text in changes.items():
        if field == "problem":
            why = await _problem_judgement(turn, request, text)
            request.problem_unclear = why is not None
        before = request.answers.get(field)
        request.answers[field] = text
        # The answer no longer comes from that message: editing it later must not undo this.
        request.answer_messages.pop(field, None)
        lines.append(f"*{QUESTIONS[field].text}* {one_line(text, 300)}"
                     + (f" (was: {one_line(before, 150)})" if before else ""))
    waiting = request.current_question
    answered_now = waiting is not None and waiting.field in changes
    while request.current_question and request.current_question.field in request.answers:
        request.discovery_step += 1
    if "problem" in request.answers and request.can(READY):
        request.move(READY, turn.now)
    text = f"Updated request #{request.number}:\n" + "\n".join(lines)
    if why:
        fix = turn.usage(f"edit {request.number} problem <what goes wrong today, for whom>")
        text += (f"\n{why}, so I've marked the request *problem unclear* for the producer. "
                 f"To clear it: {fix}.")
    elif was_unclear and "problem" in changes:
        text += "\nThe problem is clear now: the *problem unclear* mark is gone."
    # In the request's own conversation the discovery goes on there; said anywhere else (a
    # producer's 1:1 chat, another channel), the answer and what follows come in place.
    here = turn.msg.direct == request.discovery_direct and turn.msg.where.channel == request.channel
    # Said anywhere else (a producer in another channel), the answers are not for that room: the
    # editor is answered privately and discovery goes on in the request's own conversation.
    own = replace(turn.msg.where, channel=request.channel, thread=request.thread)
    place = discovery.discovery_place(turn, request) if here else None
    await turn.reply(text, where=place, private=not here)
    if answered_now:
        await discovery.go_on(turn, request, where=place or own)
    else:
        await turn.save(request)
    if reviewed:
        for producer in await turn.producers():
            if producer != turn.user:
                await turn.tell(producer, f"{mention(turn.user)} edited request "
                                f"#{request.number} ({one_line(request.title, 80)}) since you "
                                "got it for review:\n" + "\n".join(lines),
                                sections=await voices.sections(turn, request),
                                actions=review_actions(request))


async def _problem_judgement(turn: Turn, request: Request, text: str) -> str | None:
    """Why `text` does not state a problem (None: it does), judged exactly as an answer to
    "what problem does this solve?" is: as if that question were waiting."""
    probe = dataclasses.replace(request, state=RequestState.NEEDS_DISCOVERY, discovery_step=0,
                                answers=dict(request.answers))
    review = await turn.assistant.review_discovery(probe, text, where=turn.msg.where)
    if review.solution_in_disguise:
        return "That reads like a solution rather than the problem behind it"
    if review.dodge or not review.problem_stated:
        return "That says why it's wanted, not what goes wrong today or for whom"
    return None


COMMANDS = (
    Command("edit", "<n> <field> <new answer>", "correct a discovery answer before the decision "
            f"(fields: {', '.join(QUESTIONS)})", cmd_edit, "Requests"),
)
