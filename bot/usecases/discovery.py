"""Filing a request and its discovery: before a request counts, the requester says what problem
it solves (and, optionally, who has it, how they cope and how we will know it worked). An answer
that is a solution in disguise gets one polite follow-up; similar requests are pointed at."""

from __future__ import annotations

from bot.model import (
    DISCOVERY_QUESTIONS,
    OPEN_REQUEST_STATES,
    READY,
    WITHDRAW,
    Action,
    Request,
    RequestState,
    Role,
    Section,
    Where,
)
from bot.text import MAX_TEXT, MAX_TITLE, clean, mention, one_line
from bot.turn import Command, Turn
from bot.usecases import voices
from bot.views import plural, request_sections, review_actions, voice_action

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


async def answer(turn: Turn, request: Request) -> None:
    """One answer to the request's current discovery question."""
    question = request.current_question
    assert question is not None
    text = turn.text
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
        review = await turn.assistant.review_discovery(request, text, where=turn.msg.where)
        pushback = question.field == "problem" and (
            review.solution_in_disguise or review.dodge or not review.problem_stated)
        if pushback and not request.followup_asked:
            # Once per question, politely. Keep what they said: nothing a user said is lost,
            # and a proposed solution helps the team.
            field = "proposed_solution" if review.solution_in_disguise else "first_answer"
            request.answers[field] = text[:MAX_TEXT]
            request.followup_asked = True
            await turn.save(request)
            followup = SOLUTION_FOLLOWUP if review.solution_in_disguise else DODGE_FOLLOWUP
            await turn.reply(review.next_question or followup,
                             where=discovery_place(turn, request))
            return
        if pushback:  # the second try: accepted, and the producer sees it is unclear
            request.problem_unclear = True
        request.answers[question.field] = text[:MAX_TEXT]
        if turn.msg.message_id:
            request.answer_messages[question.field] = turn.msg.message_id
        request.discovery_step += 1
        if question.field == "problem" and request.can(READY):
            request.move(READY, turn.now)
    await turn.save(request)
    following = request.current_question
    if following is not None:
        asked = (review.next_question if review else None) or following.text
        await turn.reply(f"Thanks. {asked} (or `skip`)", where=discovery_place(turn, request))
        return
    await finished(turn, request)


async def finished(turn: Turn, request: Request, thread_key: str | None = None) -> None:
    """Discovery is over: the requester hears what happens next, the producers get the review.
    `thread_key`: answer in the thread of the message sent under that key (a form filed at the
    top of a channel)."""
    producers = await turn.producers()
    note = "" if producers else (
        f" (Nobody is a producer here yet: {turn.usage('role @someone producer')} fixes that.)")
    await turn.reply(
        f"Thanks, request #{request.number} is ready for review. A producer will accept or "
        f"decline it and I'll tell you either way.{note}",
        sections=request_sections(request), where=discovery_place(turn, request),
        thread_key=thread_key)
    for producer in producers:
        if producer == turn.user:
            continue
        await turn.tell(producer, f"Request #{request.number} is ready for your review: "
                        f"{one_line(request.title, 100)}",
                        sections=await voices.sections(turn, request),
                        actions=review_actions(request))


async def withdraw(turn: Turn, request: Request) -> None:
    request.move(WITHDRAW, turn.now)
    await turn.save(request)
    await turn.reply(f"Request #{request.number} is withdrawn. Nothing else to do.",
                     where=discovery_place(turn, request) if turn.msg.direct else None)


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
    # The hint is read where the request was filed: private requests only in a 1:1 chat, to
    # their requester or a producer.
    viewer = turn.user if msg.direct else None
    open_requests = [r for r in open_requests if r.shown_to(viewer, msg.direct and turn.is_producer)]
    candidates = [(r.number, r.title) for r in open_requests]
    similar = await turn.assistant.similar(title, candidates, where=msg.where)
    by_number = {r.number: r for r in open_requests}
    sections = []
    if similar:
        lines = [f"• #{s.number} {one_line(by_number[s.number].title, 80)} "
                 f"({by_number[s.number].state.value})" for s in similar]
        sections.append(Section(
            "\n".join(lines) + "\nIf one of these is the same thing, add your voice there "
            f"(the buttons, or {turn.usage('metoo <number> [how it affects you]')}) and "
            f"withdraw #{number}.", title=plural(len(similar), "similar request")))
    # Nothing is left hanging without a word: a request of theirs still waiting for its
    # problem statement is named, with the way to drop it.
    unfinished = [r for r in open_requests
                  if r.requester == turn.user and r.state == RequestState.NEEDS_DISCOVERY]
    actions: tuple[Action, ...] = tuple(
        voice_action(s.number, f"Add my voice to #{s.number}") for s in similar[:3])
    if similar:
        actions += (Action(f"Withdraw #{number}", f"withdraw {number}"),)
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

