"""Filing a request and its discovery: before a request counts, the requester says what problem
it solves (and, optionally, who has it, how they cope and how we will know it worked). An answer
that is a solution in disguise gets one polite follow-up; similar requests are pointed at."""

from __future__ import annotations

import hashlib
import json

from bot import offtopic
from bot.model import (
    DISCOVERY_QUESTIONS,
    OPEN_REQUEST_STATES,
    READY,
    WITHDRAW,
    Action,
    DiscoveryQuestion,
    Request,
    RequestState,
    Role,
    Section,
    Where,
)
from bot.similar import request_text
from bot.text import MAX_TEXT, MAX_TITLE, clean, mention, one_line
from bot.turn import Command, Turn
from bot.usecases import voices
from bot.views import edit_action, plural, request_sections, review_actions, voice_action

SOLUTION_FOLLOWUP = (
    "That sounds like a solution, which is useful, and I've noted it. What problem would it "
    "solve? Who is stuck or slowed down today without it, and what does that cost them?")
DODGE_FOLLOWUP = (
    "Thanks. To weigh it against everything else, I need the problem behind it: what happens "
    "today without it? Who loses time or money, and about how much?")
# The surface of the answer to a bare `request`: platforms with forms show the discovery form
# (Teams: a form card), the others its text.
REQUEST_FORM = "request-form"

_CANCEL = ("cancel", "withdraw", "never mind", "nevermind")
_SKIP = ("skip", "pass", "n/a", "dunno", "don't know", "no idea", "done")


def discovery_place(turn: Turn, request: Request) -> Where:
    """Where the questions go on: the 1:1 chat, or the request's thread."""
    if turn.msg.direct:
        return turn.msg.where
    return turn.msg.where.in_thread(turn.msg.where.thread or request.thread)


async def discovery_for(turn: Turn) -> Request | None:
    """The request whose discovery this message answers, if any: one whose thread it is in (or,
    in a 1:1 chat, the sender's newest request in discovery there)."""
    msg, uow = turn.msg, turn.uow
    request = None
    if msg.where.thread:
        key = await uow.posted.key_for(turn.team, msg.where.channel, msg.where.thread)
        if key and key.startswith("request:"):
            request = await uow.requests.get(turn.team, int(key.split(":", 1)[1]))
        if request is None:
            request = await uow.requests.by_thread(turn.team, msg.where.channel,
                                                   msg.where.thread)
    elif msg.direct:
        request = await uow.requests.in_direct_discovery(turn.team, msg.user, msg.where.channel)
    if request and request.requester == msg.user and request.in_discovery:
        return request
    return None


async def answer(turn: Turn, request: Request, text: str | None = None,
                 message_id: str | None = None, confirmed: bool = False) -> None:
    """One answer to the request's current discovery question: the message's text, or `text`
    (said earlier, `message_id`) once the requester `confirmed` it was meant as the answer."""
    question = request.current_question
    assert question is not None
    if text is None:
        text, message_id = turn.text, turn.msg.message_id
    lowered = text.lower().strip(" .!")
    if not text:
        return
    if lowered in _CANCEL:
        await withdraw(turn, request)
        return
    review = None
    if lowered in _SKIP:
        if question.required:
            await turn.reply(
                "That one I need before the request counts: what can't someone do today, "
                "or what does it cost them? One sentence is plenty.",
                where=discovery_place(turn, request))
            return
        if lowered == "done":
            request.discovery_step = len(DISCOVERY_QUESTIONS)
        else:
            request.discovery_step += 1
    else:
        if not confirmed and offtopic.off_topic(text):
            await _hold(turn, request, question, text)
            return
        review = await turn.assistant.review_discovery(request, text, where=turn.msg.where)
        pushback = question.field == "problem" and (
            review.solution_in_disguise or review.dodge or not review.problem_stated)
        if pushback and not request.followup_asked:
            # Once per question, politely. Keep what they said: nothing a user said is lost,
            # and a proposed solution helps the team.
            field = "proposed_solution" if review.solution_in_disguise else "first_answer"
            request.answers[field] = text[:MAX_TEXT]
            request.answers.pop(PENDING, None)
            request.followup_asked = True
            await turn.save(request)
            followup = SOLUTION_FOLLOWUP if review.solution_in_disguise else DODGE_FOLLOWUP
            await turn.reply(review.next_question or followup,
                             where=discovery_place(turn, request))
            return
        if pushback:  # the second try: accepted, and the producer sees it is unclear
            request.problem_unclear = True
        request.answers[question.field] = text[:MAX_TEXT]
        if message_id:
            request.answer_messages[question.field] = message_id
        request.discovery_step += 1
        if question.field == "problem" and request.can(READY):
            request.move(READY, turn.now)
    await go_on(turn, request, review.next_question if review else None)


async def go_on(turn: Turn, request: Request, asked: str | None = None,
                where: Where | None = None) -> None:
    """After a question was answered (or skipped): the next question (`asked`: in the model's
    words), or the end of discovery; in the discovery's place unless `where` says otherwise. A
    message held back as maybe-not-an-answer was about the question just settled, so it is
    dropped: the plain answer that came later supersedes it."""
    request.answers.pop(PENDING, None)
    await turn.save(request)
    following = request.current_question
    if following is not None:
        await turn.reply(f"Thanks. {asked or following.text} (or `skip`)",
                         where=where or discovery_place(turn, request))
        return
    await finished(turn, request, where=where)


# ---- a message that may not be an answer ------------------------------------------------------

# The reserved key of `Request.answers` under which a message that may not be an answer waits
# for the requester's Yes or No. No question's field starts with "_"; views and exports name the
# fields they show, so it is never shown.
PENDING = "_pending"


def short(question: DiscoveryQuestion) -> str:
    """"Who has this problem? (a team, ...)" as "who has this problem"."""
    return question.text.split("?", 1)[0].strip().lower()


def pending_of(request: Request) -> dict[str, str] | None:
    """The message held back ({"text", "field", "token", "message"}), if any."""
    raw = request.answers.get(PENDING)
    try:
        held = json.loads(raw) if raw else None
    except ValueError:
        return None
    return held if isinstance(held, dict) and isinstance(held.get("text"), str) else None


async def _hold(turn: Turn, request: Request, question: DiscoveryQuestion, text: str) -> None:
    """Keep `text` aside and ask whether it was meant as the answer. A newer one replaces it; the
    token in the buttons tells an old prompt's click from the current one's."""
    token = hashlib.sha256(f"{turn.msg.event_id}|{text}".encode()).hexdigest()[:8]
    request.answers[PENDING] = json.dumps({"text": text[:MAX_TEXT], "field": question.field,
                                           "token": token, "message": turn.msg.message_id or ""})
    await turn.save(request)
    n = request.number
    await turn.reply(f"Is that your answer to *{short(question)}*?",
                     actions=(Action("Yes", f"answer {n} yes {token}", style="primary"),
                              Action("No", f"answer {n} no {token}")),
                     where=discovery_place(turn, request))


async def finished(turn: Turn, request: Request, thread_key: str | None = None,
                   where: Where | None = None) -> None:
    """Discovery is over: the requester hears what happens next, the producers get the review.
    `thread_key`: answer in the thread of the message sent under that key (a form filed at the
    top of a channel)."""
    producers = await turn.producers()
    note = "" if producers else (
        f" (Nobody is a producer here yet: {turn.usage('role @someone producer')} fixes that.)")
    # With the problem stated, requests alike in what they solve show up even when their titles
    # differ; the ones pointed at when it was filed (by title) are not named again.
    others = [r for r in await turn.uow.requests.list(turn.team, states=OPEN_REQUEST_STATES)
              if r.number != request.number and _visible(turn, r)]
    shown = {r.number for r in await _similar_to(
        turn, request, [r for r in others if r.number < request.number], with_problem=False)}
    similar = [r for r in await _similar_to(turn, request, others, with_problem=True)
               if r.number not in shown]
    hint: tuple[Section, ...] = ()
    voice_actions: tuple[Action, ...] = ()
    if similar:
        section, voice_actions = _similar_hint(turn, request.number, similar)
        hint = (section,)
    await turn.reply(
        f"Thanks, request #{request.number} is ready for review. A producer will accept or "
        f"decline it and I'll tell you either way.{note}",
        sections=request_sections(request) + hint, actions=(edit_action(request), *voice_actions),
        where=where or discovery_place(turn, request), thread_key=thread_key)
    for producer in producers:
        if producer == turn.user:
            continue
        await turn.tell(producer, f"Request #{request.number} is ready for your review: "
                        f"{one_line(request.title, 100)}",
                        sections=await voices.sections(turn, request),
                        actions=review_actions(request))


def _visible(turn: Turn, other: Request) -> bool:
    """May `other` be named where this turn answers? Private requests only in a 1:1 chat, to
    their requester or a producer."""
    direct = turn.msg.direct
    return other.shown_to(turn.user if direct else None, direct and turn.is_producer)


async def _similar_to(turn: Turn, request: Request, candidates: list[Request], *,
                      with_problem: bool) -> list[Request]:
    """The candidates most like `request`: by title, or (`with_problem`) by title and problem
    statement, wherever both sides have one."""
    def text(r: Request) -> str:
        return request_text(r.title, r.problem if with_problem else None)

    if not candidates:
        return []
    by_number = {r.number: r for r in candidates}
    found = await turn.assistant.similar(text(request), [(r.number, text(r)) for r in candidates],
                                         where=turn.msg.where)
    return [by_number[s.number] for s in found if s.number in by_number]


def _similar_hint(turn: Turn, number: int,
                  similar: list[Request]) -> tuple[Section, tuple[Action, ...]]:
    """The hint naming requests like #`number`, at filing and when its discovery is over, with
    a button to add one's voice to each (and one to withdraw #`number`)."""
    lines = [f"• #{r.number} {one_line(r.title, 80)} ({r.state.value})" for r in similar]
    section = Section(
        "\n".join(lines) + "\nIf one of these is the same thing, add your voice there "
        f"(the buttons, or {turn.usage('metoo <number> [how it affects you]')}) and "
        f"withdraw #{number}.", title=plural(len(similar), "similar request"))
    actions = tuple(voice_action(r.number, f"Add my voice to #{r.number}") for r in similar[:3])
    return section, actions + (Action(f"Withdraw #{number}", f"withdraw {number}"),)


async def withdraw(turn: Turn, request: Request) -> None:
    """The request is withdrawn (`withdraw n`, or `cancel` during its discovery); whoever added
    their voice hears it, whichever way it was said."""
    request.move(WITHDRAW, turn.now)
    await turn.save(request)
    await turn.reply(f"Request #{request.number} is withdrawn. Nothing else to do.",
                     where=discovery_place(turn, request) if turn.msg.direct else None)
    await voices.tell_voices(turn, request, f"Request #{request.number} "
                             f"({one_line(request.title, 80)}), which you added your voice to, "
                             "was withdrawn. If you still have this problem, file it yourself "
                             f"with {turn.usage('request <title>')}.")


async def cmd_request(turn: Turn, args: str) -> None:
    form = turn.msg.form or {}
    title = clean(form.get("title", "")) or args.split("\n", 1)[0].strip()
    if not title:
        await turn.reply(f"What would you like? Usage: {turn.usage('request <short title>')}",
                         private=True, surface=REQUEST_FORM)
        return
    if len(title) > MAX_TITLE:
        await turn.reply(f"Please keep the title under {MAX_TITLE} characters; the details come "
                         "next, when I ask what problem it solves.", private=True)
        return
    open_requests = await turn.uow.requests.list(turn.team, states=OPEN_REQUEST_STATES)
    number = await turn.uow.tenants.next_number(turn.team, "request")
    msg = turn.msg
    request = Request(
        team=turn.team, number=number, title=title, requester=turn.user,
        channel=msg.where.channel, created_at=turn.now, updated_at=turn.now,
        thread=msg.where.thread, discovery_direct=msg.direct, private=msg.private,
    )
    if form:
        await _prefill(turn, request, form)
    await turn.uow.requests.add(request)
    await turn.becomes(Role.STAKEHOLDER)
    # Titles against titles: at filing time the title is all we have of the new request.
    open_requests = [r for r in open_requests if _visible(turn, r)]
    similar = await _similar_to(turn, request, open_requests, with_problem=False)
    sections: list[Section] = []
    actions: tuple[Action, ...] = ()
    if similar:
        hint, actions = _similar_hint(turn, number, similar)
        sections.append(hint)
    # Nothing is left hanging without a word: a request of theirs still waiting for its
    # problem statement is named, with the way to drop it.
    unfinished = [r for r in open_requests
                  if r.requester == turn.user and r.state == RequestState.NEEDS_DISCOVERY]
    if unfinished:
        sections.append(Section(
            "\n".join(f"• #{r.number} {one_line(r.title, 80)}" for r in unfinished)
            + "\nThey stay on file without a problem statement (a producer can't accept them "
            "yet) until you withdraw them or answer in their threads.",
            title=plural(len(unfinished), "earlier request") + " still without a problem"))
        actions += tuple(Action(f"Withdraw #{r.number}", f"withdraw {r.number}")
                         for r in unfinished[:3])
    where = msg.where if (msg.direct or msg.where.thread) else msg.where.in_thread(None)
    head = f"Request #{number} from {mention(turn.user)}: *{one_line(title, 150)}*."
    if not request.in_discovery:
        await turn.reply(head, sections=tuple(sections), actions=actions, where=where,
                         key=f"request:{number}")
        threaded = msg.direct or msg.where.thread
        await finished(turn, request, thread_key=None if threaded else f"request:{number}")
        return
    place = "here" if msg.direct else "in this thread"
    question = (SOLUTION_FOLLOWUP if request.followup_asked
                else DISCOVERY_QUESTIONS[request.discovery_step].text)
    await turn.reply(f"{head} Before it counts, a few quick questions; answer {place}.\n{question}",
                     sections=tuple(sections), actions=actions, where=where,
                     key=f"request:{number}")


async def _prefill(turn: Turn, request: Request, form: dict[str, str]) -> None:
    """Answers given up front in a form count as answered discovery questions."""
    for question in DISCOVERY_QUESTIONS:
        text = clean(form.get(question.field, ""))[:MAX_TEXT]
        if text:
            request.answers[question.field] = text
    problem = request.answers.get("problem")
    if problem and await turn.assistant.is_solution(problem, where=turn.msg.where):
        request.answers["proposed_solution"] = request.answers.pop("problem")
        request.followup_asked = True
    if "problem" in request.answers:
        request.move(READY, turn.now)
        request.discovery_step = len(DISCOVERY_QUESTIONS)


COMMANDS = (
    Command("request", "<title>", "file a request; I'll ask what problem it solves",
            cmd_request, "Requests"),
)

