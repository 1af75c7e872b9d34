"""The conversation core: one inbound message in, state changes and outgoing messages out,
all inside the caller's unit of work.

Commands are words (`blocker ...`, `accept 3`); buttons carry the same words, so a click and a
typed command share one parser and one set of permission checks.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.assistant import Assistant, HeuristicAssistant
from bot.digest import PERIODS, build_digest, digest_message
from bot.model import (
    DISCOVERY_QUESTIONS,
    OPEN_REQUEST_STATES,
    SCHEDULE_KINDS,
    Action,
    Blocker,
    BlockerStatus,
    InboundMessage,
    Member,
    Outgoing,
    Request,
    RequestState,
    Role,
    Schedule,
    Section,
    StandupAnswer,
    Team,
    Where,
)
from bot.ports import Cron, UnitOfWork, reply_place
from bot.scheduling import ANSWER_WINDOW, effective_schedules
from bot.text import MAX_TEXT, MAX_TITLE, age, clean, mention, one_line, parse_number, user_ref

log = logging.getLogger(__name__)

# The commands that exist as slash commands of their own on Slack; everything else goes through
# `/producer <command>` there.
SLASH_COMMANDS = ("request", "blocker", "standup", "digest", "producer")

BLOCKER_CONFIDENCE = 0.7


@dataclass
class Turn:
    """One message being handled: who said it, where, and what the bot will say back."""

    msg: InboundMessage
    uow: UnitOfWork
    member: Member
    text: str
    slash: bool  # came as a slash command: show slash-style usage in hints
    assistant: Assistant

    @property
    def team(self) -> Team:
        return self.msg.where.team

    @property
    def now(self) -> datetime:
        return self.msg.at

    @property
    def user(self) -> str:
        return self.msg.user

    def usage(self, command: str) -> str:
        if not self.slash:
            return f"`{command}`"
        word = command.split(" ", 1)[0]
        return f"`/{command}`" if word in SLASH_COMMANDS else f"`/producer {command}`"

    async def say(self, out: Outgoing) -> None:
        await self.uow.outbox.add(out)

    async def reply(self, text: str, *, sections: tuple[Section, ...] = (),
                    actions: tuple[Action, ...] = (), private: bool = False,
                    key: str | None = None, where: Where | None = None,
                    surface: str = "message") -> None:
        """Answer in place: visibly, or only to the sender when `private`."""
        place = where or reply_place(self.msg)
        shared = not self.msg.direct
        await self.say(Outgoing(
            where=place, text=text, sections=sections, actions=actions, key=key,
            private_to=self.user if private and shared else None,
            reply_to=self.user if shared and not private else None, surface=surface,
        ))

    async def tell(self, user: str, text: str, *, sections: tuple[Section, ...] = (),
                   actions: tuple[Action, ...] = ()) -> None:
        """A 1:1 message to someone, wherever this turn happened."""
        if user == self.user and self.msg.direct:
            await self.reply(text, sections=sections, actions=actions)
            return
        await self.say(Outgoing(where=self.msg.where.in_thread(None), text=text,
                                sections=sections, actions=actions, to_user=user))


Handler = Callable[["Core", Turn, str], Awaitable[None]]


@dataclass(frozen=True)
class Command:
    name: str
    args: str
    summary: str
    handler: Handler
    group: str
    aliases: tuple[str, ...] = ()


class Core:
    def __init__(self, assistant: Assistant | None = None, cron: Cron | None = None) -> None:
        self.assistant = assistant or HeuristicAssistant()
        self.cron = cron
        self.commands: dict[str, Command] = {}
        for command in _COMMANDS:
            for name in (command.name, *command.aliases):
                self.commands[name] = command

    # ---- entry point ---------------------------------------------------------------------

    async def handle(self, msg: InboundMessage, uow: UnitOfWork,
                     assistant: Assistant | None = None) -> None:
        """Handle one message. `assistant` overrides the core's own for this message (the
        service passes answers it prepared before opening the unit of work)."""
        team = msg.where.team
        await uow.tenants.ensure(team)
        member = await uow.members.ensure(team, msg.user, name=msg.user_name, tz=msg.user_tz)
        text = clean(msg.text)
        words = text.split(None, 1)
        explicit = bool(msg.command) or text.startswith("/")
        turn = Turn(msg, uow, member, text, slash=bool(msg.command),
                    assistant=assistant or self.assistant)

        if len(msg.text) > MAX_TEXT:
            # In a busy channel an overlong message that isn't for the bot is none of its
            # business; anything addressed to it gets told why nothing happened.
            addressed = explicit or msg.direct or msg.addressed
            if addressed or await self._discovery_for(turn) is not None:
                await turn.reply(
                    f"That message is {len(msg.text):,} characters; I keep at most {MAX_TEXT:,}. "
                    "Nothing was recorded: please send a shorter version.", private=True)
            return

        if msg.command:
            name, args = msg.command.lstrip("/").lower(), text
        elif text.startswith("/"):
            name, args = words[0][1:].lower(), words[1] if len(words) > 1 else ""
        elif (msg.direct or msg.addressed) and words and words[0].lower() in self.commands:
            name, args = words[0].lower(), words[1] if len(words) > 1 else ""
        else:
            name, args = "", text

        if name:
            await self.run(turn, name, args)
            return
        request = await self._discovery_for(turn)
        if request is not None:
            await self._answer_discovery(turn, request)
            return
        await self._free_text(turn)

    async def run(self, turn: Turn, name: str, args: str) -> None:
        if name == "producer":  # `/producer accept 3` is `accept 3`
            words = args.split(None, 1)
            if not words:
                await cmd_help(self, turn, "")
                return
            name, args = words[0].lower().lstrip("/"), words[1] if len(words) > 1 else ""
        command = self.commands.get(name)
        if command is None:
            await turn.reply(
                f"I don't know the command `{one_line(name, 40)}`. {turn.usage('help')} lists "
                "what I can do.", private=True)
            return
        await command.handler(self, turn, args.strip())

    # ---- free text -------------------------------------------------------------------------

    async def _free_text(self, turn: Turn) -> None:
        if not turn.text:
            if turn.msg.direct:
                await turn.reply(f"Say {turn.usage('help')} to see what I can do.")
            return
        if turn.msg.direct and await _awaiting_standup(turn):
            await cmd_standup(self, turn, turn.text)
            return
        result = await turn.assistant.classify(turn.text, where=turn.msg.where)
        if result.label == "blocker" and result.confidence >= BLOCKER_CONFIDENCE:
            blocker = await _record_blocker(turn, turn.text, source="message",
                                            unblocker=result.unblocker,
                                            blocked_on=result.blocked_on)
            await turn.reply(
                f"Sounds like you're blocked, so I'm tracking it as blocker #{blocker.number}. "
                "I'll keep it in front of the producers until it's resolved.",
                sections=(_blocker_section(blocker),), actions=_blocker_actions(blocker))
        elif turn.msg.direct:
            await turn.reply(
                f"I didn't catch a command there. {turn.usage('help')} lists them; to track "
                f"a blocker say {turn.usage('blocker <what blocks you>')}.")

    # ---- discovery -------------------------------------------------------------------------

    async def _discovery_for(self, turn: Turn) -> Request | None:
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
            request = await uow.requests.in_direct_discovery(turn.team, msg.user,
                                                             msg.where.channel)
        if request and request.requester == msg.user and request.in_discovery:
            return request
        return None

    async def _answer_discovery(self, turn: Turn, request: Request) -> None:
        question = request.current_question
        assert question is not None
        answer = turn.text
        lowered = answer.lower().strip(" .!")
        if not answer:
            return
        if lowered in ("cancel", "withdraw", "never mind", "nevermind"):
            await _withdraw(turn, request)
            return
        review = None
        if lowered in ("skip", "pass", "n/a", "dunno", "don't know", "no idea", "done"):
            if question.required:
                await turn.reply(
                    "That one I need before the request counts: what can't someone do today, "
                    "or what does it cost them? One sentence is plenty.",
                    where=_discovery_place(turn, request))
                return
            if lowered == "done":
                request.discovery_step = len(DISCOVERY_QUESTIONS)
            else:
                request.discovery_step += 1
        else:
            review = await turn.assistant.review_discovery(request, answer,
                                                           where=turn.msg.where)
            if question.field == "problem" and not request.followup_asked \
                    and review.solution_in_disguise:
                # Keep what they proposed: nothing a user said is lost, and it helps the team.
                request.answers["proposed_solution"] = answer
                request.followup_asked = True
                await _save(turn, request)
                await turn.reply(review.next_question or _SOLUTION_FOLLOWUP,
                                 where=_discovery_place(turn, request))
                return
            request.answers[question.field] = answer[:MAX_TEXT]
            request.discovery_step += 1
            if question.field == "problem" and request.state == RequestState.NEEDS_DISCOVERY:
                request.state = RequestState.READY_FOR_REVIEW
                request.ready_at = turn.now
        await _save(turn, request)
        following = request.current_question
        if following is not None:
            asked = (review.next_question if review else None) or following.text
            await turn.reply(f"Thanks. {asked} (or `skip`)",
                             where=_discovery_place(turn, request))
            return
        await _discovery_finished(turn, request)


# ---- helpers shared by the commands ------------------------------------------------------

_SOLUTION_FOLLOWUP = (
    "That sounds like a solution, which is useful, and I've noted it. What problem would it "
    "solve? Who is stuck or slowed down today without it, and what does that cost them?")


async def _save(turn: Turn, request: Request) -> None:
    request.updated_at = turn.now
    await turn.uow.requests.save(request)


def _discovery_place(turn: Turn, request: Request) -> Where:
    if turn.msg.direct:
        return turn.msg.where
    return turn.msg.where.in_thread(turn.msg.where.thread or request.thread)


async def _producers(turn: Turn) -> list[str]:
    return [m.user for m in await turn.uow.members.list(turn.team) if m.role == Role.PRODUCER]


async def _is_producer(turn: Turn) -> bool:
    return turn.member.role == Role.PRODUCER


async def _deny(turn: Turn, what: str) -> None:
    producers = await _producers(turn)
    who = ", ".join(mention(p) for p in producers) if producers else "nobody yet"
    await turn.reply(f"Only producers can {what}. Producers here: {who}.", private=True)


def _blocker_section(b: Blocker) -> Section:
    lines = [f"*Blocker #{b.number}* for {mention(b.reporter)}", one_line(b.text, 500)]
    if b.unblocker:
        lines.append(f"Who can unblock: {b.unblocker}")
    return Section("\n".join(lines))


def _blocker_actions(b: Blocker) -> tuple[Action, ...]:
    return (
        Action("Resolve", f"resolve {b.number}", style="primary"),
        Action("Not a blocker", f"dismiss {b.number}"),
    )


def _request_sections(r: Request) -> tuple[Section, ...]:
    lines = [f"*Request #{r.number}: {one_line(r.title, 150)}* from {mention(r.requester)}",
             f"State: {r.state.value}"]
    for question in DISCOVERY_QUESTIONS:
        if question.field in r.answers:
            lines.append(f"*{question.text}* {one_line(r.answers[question.field], 400)}")
    if "proposed_solution" in r.answers:
        lines.append(f"*Proposed solution:* {one_line(r.answers['proposed_solution'], 300)}")
    if r.decision_reason:
        lines.append(f"*Reason:* {one_line(r.decision_reason, 300)}")
    return (Section("\n".join(lines)),)


def _review_actions(r: Request) -> tuple[Action, ...]:
    return (
        Action("Accept", f"accept {r.number}", style="primary"),
        Action("Decline", f"decline {r.number}", style="danger", needs_reason=True),
    )


def _delivery_actions(r: Request) -> tuple[Action, ...]:
    return (
        Action("It solved my problem", f"solved {r.number}", style="primary"),
        Action("Not yet", f"notyet {r.number}", needs_reason=True),
    )


async def _record_blocker(turn: Turn, text: str, *, source: str, unblocker: str | None = None,
                          blocked_on: str | None = None) -> Blocker:
    number = await turn.uow.tenants.next_number(turn.team, "blocker")
    place = reply_place(turn.msg)
    blocker = Blocker(
        team=turn.team, number=number, text=text[:MAX_TEXT], reporter=turn.user,
        channel=place.channel, thread=place.thread, opened_at=turn.now,
        blocked_on=blocked_on, unblocker=unblocker, source=source,
    )
    await turn.uow.blockers.add(blocker)
    return blocker


async def _number_arg(turn: Turn, args: str, usage: str) -> tuple[int, str] | None:
    words = args.split(None, 1)
    number = parse_number(words[0]) if words else None
    if number is None:
        await turn.reply(f"Which one? Usage: {turn.usage(usage)}", private=True)
        return None
    return number, (words[1].strip() if len(words) > 1 else "")


async def _get_blocker(turn: Turn, number: int) -> Blocker | None:
    blocker = await turn.uow.blockers.get(turn.team, number)
    if blocker is None:
        await turn.reply(f"There is no blocker #{number} here.", private=True)
    return blocker


async def _get_request(turn: Turn, number: int) -> Request | None:
    request = await turn.uow.requests.get(turn.team, number)
    if request is None:
        await turn.reply(f"There is no request #{number} here.", private=True)
    return request


async def _discovery_finished(turn: Turn, request: Request) -> None:
    producers = await _producers(turn)
    note = "" if producers else (
        f" (Nobody is a producer here yet: {turn.usage('role @someone producer')} fixes that.)")
    await turn.reply(
        f"Thanks, request #{request.number} is ready for review. A producer will accept or "
        f"decline it and I'll tell you either way.{note}",
        sections=_request_sections(request), where=_discovery_place(turn, request))
    for producer in producers:
        if producer == turn.user:
            continue
        await turn.tell(producer, f"Request #{request.number} is ready for your review: "
                        f"{one_line(request.title, 100)}",
                        sections=_request_sections(request), actions=_review_actions(request))


async def _withdraw(turn: Turn, request: Request) -> None:
    request.state = RequestState.WITHDRAWN
    await _save(turn, request)
    await turn.reply(f"Request #{request.number} is withdrawn. Nothing else to do.",
                     where=_discovery_place(turn, request) if turn.msg.direct else None)


async def _notify_requester(turn: Turn, request: Request, text: str,
                            actions: tuple[Action, ...] = ()) -> None:
    if request.requester != turn.user:
        await turn.tell(request.requester, text, sections=_request_sections(request),
                        actions=actions)


# ---- commands ------------------------------------------------------------------------------


async def cmd_help(core: Core, turn: Turn, args: str) -> None:
    groups: dict[str, list[str]] = {}
    seen = set()
    for command in core.commands.values():
        if command.name in seen:
            continue
        seen.add(command.name)
        usage = turn.usage(f"{command.name} {command.args}".strip())
        groups.setdefault(command.group, []).append(f"{usage} {command.summary}")
    sections = tuple(Section("\n".join(lines), title=group) for group, lines in groups.items())
    await turn.reply(
        "I keep track of blockers, run discovery on requests and send standups and digests. "
        "You can also just say you're blocked (\"blocked on staging creds, waiting for ops\").",
        sections=sections, private=True)


async def cmd_blocker(core: Core, turn: Turn, args: str) -> None:
    if not args:
        await turn.reply(f"What's blocking you? Usage: {turn.usage('blocker <what blocks you>')}",
                         private=True)
        return
    result = await turn.assistant.classify(args, where=turn.msg.where)
    blocker = await _record_blocker(turn, args, source="command", unblocker=result.unblocker,
                                    blocked_on=result.blocked_on)
    await turn.reply(f"Tracking blocker #{blocker.number} for {mention(turn.user)}.",
                     sections=(_blocker_section(blocker),), actions=_blocker_actions(blocker))


async def cmd_blockers(core: Core, turn: Turn, args: str) -> None:
    who = None
    if args.lower() == "mine":
        who = turn.user
    elif args and args.lower() != "all":
        who = user_ref(args)
    blockers = await turn.uow.blockers.open(turn.team, reporter=who)
    if not blockers:
        await turn.reply("No open blockers." if who is None else
                         f"No open blockers for {mention(who)}.", private=True)
        return
    lines = [f"• #{b.number} {one_line(b.text, 100)} ({mention(b.reporter)}, "
             f"{age(b.opened_at, turn.now)}"
             + (f", waiting on {b.unblocker}" if b.unblocker else "") + ")" for b in blockers]
    await turn.reply(f"{len(blockers)} open blocker{'s' if len(blockers) != 1 else ''}, "
                     "oldest first.", sections=(Section("\n".join(lines)),), private=True)


async def _close_blocker(turn: Turn, args: str, status: BlockerStatus) -> None:
    verb = "resolve" if status == BlockerStatus.RESOLVED else "dismiss"
    parsed = await _number_arg(turn, args, f"{verb} <number> [note]")
    if parsed is None:
        return
    number, note = parsed
    blocker = await _get_blocker(turn, number)
    if blocker is None:
        return
    if blocker.reporter != turn.user and not await _is_producer(turn):
        await turn.reply(f"Only {mention(blocker.reporter)}, who reported blocker #{number}, or "
                         f"a producer can {verb} it.", private=True)
        return
    if blocker.status != BlockerStatus.OPEN:
        await turn.reply(f"Blocker #{number} is already {blocker.status.value}.", private=True)
        return
    blocker.status = status
    blocker.resolved_at = turn.now
    blocker.resolved_by = turn.user
    blocker.resolution = note or None
    await turn.uow.blockers.save(blocker)
    took = age(blocker.opened_at, turn.now)
    if status == BlockerStatus.RESOLVED:
        text = f"Blocker #{number} resolved by {mention(turn.user)} after {took}."
    else:
        text = f"Blocker #{number} dismissed by {mention(turn.user)}: not a blocker after all."
    await turn.reply(text + (f" Note: {one_line(note, 300)}" if note else ""))
    if blocker.reporter != turn.user:
        await turn.tell(blocker.reporter, text)


async def cmd_resolve(core: Core, turn: Turn, args: str) -> None:
    await _close_blocker(turn, args, BlockerStatus.RESOLVED)


async def cmd_dismiss(core: Core, turn: Turn, args: str) -> None:
    await _close_blocker(turn, args, BlockerStatus.DISMISSED)


async def cmd_request(core: Core, turn: Turn, args: str) -> None:
    form = turn.msg.form or {}
    title = clean(form.get("title", "")) or args.split("\n", 1)[0].strip()
    if not title:
        await turn.reply(f"What would you like? Usage: {turn.usage('request <short title>')}",
                         private=True, surface="request-form")
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
        thread=msg.where.thread, discovery_direct=msg.direct,
    )
    if form:
        await _prefill(core, turn, request, form)
    await turn.uow.requests.add(request)
    # Titles against titles: at filing time the title is all we have of the new request.
    candidates = [(r.number, r.title) for r in open_requests]
    similar = await turn.assistant.similar(title, candidates, where=msg.where)
    by_number = {r.number: r for r in open_requests}
    sections = []
    if similar:
        lines = [f"• #{s.number} {one_line(by_number[s.number].title, 80)} "
                 f"({by_number[s.number].state.value})" for s in similar]
        n = len(similar)
        sections.append(Section(
            "\n".join(lines) + f"\nIf one of these is the same thing, `withdraw {number}` "
            "and add your voice there.",
            title=f"{n} similar request{'s' if n != 1 else ''}"))
    where = msg.where if (msg.direct or msg.where.thread) else msg.where.in_thread(None)
    head = f"Request #{number} from {mention(turn.user)}: *{one_line(title, 150)}*."
    if not request.in_discovery:
        await turn.reply(head, sections=tuple(sections), where=where, key=f"request:{number}")
        await _discovery_finished(turn, request)
        return
    place = "here" if msg.direct else "in this thread"
    question = (_SOLUTION_FOLLOWUP if request.followup_asked
                else DISCOVERY_QUESTIONS[request.discovery_step].text)
    await turn.reply(f"{head} Before it counts, a few quick questions; answer {place}.\n{question}",
                     sections=tuple(sections), where=where, key=f"request:{number}")


async def _prefill(core: Core, turn: Turn, request: Request, form: dict[str, str]) -> None:
    """Answers given up front in a form count as answered discovery questions."""
    for question in DISCOVERY_QUESTIONS:
        answer = clean(form.get(question.field, ""))[:MAX_TEXT]
        if answer:
            request.answers[question.field] = answer
    problem = request.answers.get("problem")
    if problem and await turn.assistant.is_solution(problem, where=turn.msg.where):
        request.answers["proposed_solution"] = request.answers.pop("problem")
        request.followup_asked = True
    if "problem" in request.answers:
        request.state, request.ready_at = RequestState.READY_FOR_REVIEW, turn.now
        request.discovery_step = len(DISCOVERY_QUESTIONS)


async def cmd_requests(core: Core, turn: Turn, args: str) -> None:
    mine = args.lower() == "mine"
    states = None if args.lower() == "all" else OPEN_REQUEST_STATES
    requests = await turn.uow.requests.list(turn.team, states=states,
                                            requester=turn.user if mine else None)
    if not requests:
        await turn.reply("No requests yet." if not mine else "You have no open requests.",
                         private=True)
        return
    lines = [f"• #{r.number} *{one_line(r.title, 80)}* ({r.state.value}, {mention(r.requester)})"
             + (f"\n    Problem: {one_line(r.problem, 120)}" if r.problem else "")
             for r in requests[-40:]]
    more = f" (showing the newest 40 of {len(requests)})" if len(requests) > 40 else ""
    await turn.reply(f"{len(requests)} request{'s' if len(requests) != 1 else ''}{more}.",
                     sections=(Section("\n".join(lines)),), private=True)


async def _decide(turn: Turn, args: str, verb: str) -> tuple[Request, str] | None:
    parsed = await _number_arg(turn, args, f"{verb} <number>")
    if parsed is None:
        return None
    if not await _is_producer(turn):
        await _deny(turn, f"{verb} requests")
        return None
    number, rest = parsed
    request = await _get_request(turn, number)
    return (request, rest) if request else None


async def _transition(turn: Turn, request: Request, allowed: tuple[RequestState, ...],
                      verb: str) -> bool:
    if request.state in allowed:
        return True
    if request.state == RequestState.NEEDS_DISCOVERY:
        why = (f"it has no problem statement yet; {mention(request.requester)} is still "
               "answering the discovery questions")
    else:
        why = f"it is {request.state.value}"
    await turn.reply(f"Request #{request.number} can't be {verb}: {why}.", private=True)
    return False


async def cmd_accept(core: Core, turn: Turn, args: str) -> None:
    decided = await _decide(turn, args, "accept")
    if decided is None:
        return
    request, _ = decided
    if not await _transition(turn, request, (RequestState.READY_FOR_REVIEW,), "accepted"):
        return
    request.state, request.decided_by, request.decided_at = RequestState.ACCEPTED, turn.user, turn.now
    await _save(turn, request)
    await turn.reply(f"Request #{request.number} accepted by {mention(turn.user)}.",
                     actions=(Action("Start work", f"start {request.number}"),
                              Action("Mark delivered", f"deliver {request.number}")))
    await _notify_requester(turn, request, f"Good news: your request #{request.number} "
                            f"({one_line(request.title, 80)}) was accepted.")


async def cmd_decline(core: Core, turn: Turn, args: str) -> None:
    decided = await _decide(turn, args, "decline")
    if decided is None:
        return
    request, reason = decided
    if not reason:
        await turn.reply(f"Please give the requester a reason: "
                         f"{turn.usage(f'decline {request.number} <reason>')}", private=True)
        return
    allowed = (RequestState.NEEDS_DISCOVERY, RequestState.READY_FOR_REVIEW,
               RequestState.ACCEPTED, RequestState.IN_PROGRESS)
    if not await _transition(turn, request, allowed, "declined"):
        return
    request.state, request.decided_by, request.decided_at = RequestState.DECLINED, turn.user, turn.now
    request.decision_reason = reason[:MAX_TEXT]
    await _save(turn, request)
    await turn.reply(f"Request #{request.number} declined by {mention(turn.user)}.")
    await _notify_requester(turn, request, f"Your request #{request.number} "
                            f"({one_line(request.title, 80)}) was declined: "
                            f"{one_line(reason, 300)}")


async def cmd_start(core: Core, turn: Turn, args: str) -> None:
    decided = await _decide(turn, args, "start")
    if decided is None:
        return
    request, _ = decided
    if not await _transition(turn, request, (RequestState.ACCEPTED,), "started"):
        return
    request.state = RequestState.IN_PROGRESS
    await _save(turn, request)
    await turn.reply(f"Request #{request.number} is in progress.",
                     actions=(Action("Mark delivered", f"deliver {request.number}"),))
    await _notify_requester(turn, request, f"Work on your request #{request.number} "
                            f"({one_line(request.title, 80)}) has started.")


async def cmd_deliver(core: Core, turn: Turn, args: str) -> None:
    decided = await _decide(turn, args, "deliver")
    if decided is None:
        return
    request, note = decided
    allowed = (RequestState.ACCEPTED, RequestState.IN_PROGRESS)
    if not await _transition(turn, request, allowed, "delivered"):
        return
    request.state, request.delivered_at = RequestState.DELIVERED, turn.now
    request.delivery_note = note[:MAX_TEXT] or None
    await _save(turn, request)
    await turn.reply(f"Request #{request.number} delivered. I've asked "
                     f"{mention(request.requester)} whether it solved their problem.")
    question = (f"Request #{request.number} ({one_line(request.title, 80)}) was delivered"
                + (f": {one_line(note, 200)}" if note else ".")
                + " Did it solve your problem"
                + (f" ({one_line(request.problem, 200)})?" if request.problem else "?"))
    if request.requester == turn.user:
        await turn.reply(question, actions=_delivery_actions(request))
    else:
        await turn.tell(request.requester, question, actions=_delivery_actions(request))


async def _outcome(turn: Turn, args: str, solved: bool) -> None:
    verb = "solved" if solved else "notyet"
    parsed = await _number_arg(turn, args, f"{verb} <number>")
    if parsed is None:
        return
    number, note = parsed
    request = await _get_request(turn, number)
    if request is None:
        return
    if request.requester != turn.user:
        await turn.reply(f"Only {mention(request.requester)}, who asked for #{number}, can say "
                         "whether it solved their problem.", private=True)
        return
    if request.state != RequestState.DELIVERED:
        await turn.reply(f"Request #{number} is {request.state.value}, not waiting for your "
                         "confirmation.", private=True)
        return
    request.outcome_at, request.outcome_note = turn.now, note[:MAX_TEXT] or None
    request.state = RequestState.SOLVED if solved else RequestState.IN_PROGRESS
    await _save(turn, request)
    if solved:
        text = f"{mention(turn.user)} confirmed request #{number} solved their problem."
        await turn.reply(f"Thanks for confirming: request #{number} is done. 🎉")
    else:
        text = (f"{mention(turn.user)} says request #{number} hasn't solved their problem yet"
                + (f": {one_line(note, 300)}" if note else "."))
        await turn.reply(f"Thanks, I've reopened request #{number} and told the producers.")
    for producer in await _producers(turn):
        if producer != turn.user:
            await turn.tell(producer, text)


async def cmd_solved(core: Core, turn: Turn, args: str) -> None:
    await _outcome(turn, args, solved=True)


async def cmd_notyet(core: Core, turn: Turn, args: str) -> None:
    await _outcome(turn, args, solved=False)


async def cmd_withdraw(core: Core, turn: Turn, args: str) -> None:
    parsed = await _number_arg(turn, args, "withdraw <number>")
    if parsed is None:
        return
    request = await _get_request(turn, parsed[0])
    if request is None:
        return
    if request.requester != turn.user and not await _is_producer(turn):
        await turn.reply(f"Only {mention(request.requester)} or a producer can withdraw "
                         f"request #{request.number}.", private=True)
        return
    allowed = (RequestState.NEEDS_DISCOVERY, RequestState.READY_FOR_REVIEW,
               RequestState.ACCEPTED, RequestState.IN_PROGRESS)
    if await _transition(turn, request, allowed, "withdrawn"):
        await _withdraw(turn, request)


_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\n+")


async def _standup_prompted_at(turn: Turn) -> datetime | None:
    prompted = await turn.uow.runs.last_sent(turn.team, "standup", turn.user)
    return prompted if prompted and turn.now - prompted <= ANSWER_WINDOW else None


async def _awaiting_standup(turn: Turn) -> bool:
    """Prompted recently and not answered yet: a plain reply in the 1:1 chat is the answer."""
    prompted = await _standup_prompted_at(turn)
    if prompted is None:
        return False
    answers = await turn.uow.standups.between(turn.team, prompted, turn.now)
    return not any(a.user == turn.user for a in answers)


async def cmd_standup(core: Core, turn: Turn, args: str) -> None:
    if not args:
        await turn.reply(f"What moved forward, and is anything blocking you? Usage: "
                         f"{turn.usage('standup <your update>')}", private=True)
        return
    # A second answer in the same standup replaces the first (people correct themselves).
    since = await _standup_prompted_at(turn) or turn.now - timedelta(hours=12)
    await turn.uow.standups.add(StandupAnswer(turn.team, turn.user, args, turn.now,
                                              turn.msg.where.channel), replaces_since=since)
    already = {b.text for b in await turn.uow.blockers.open(turn.team, reporter=turn.user)}
    tracked = []
    for sentence in filter(None, (s.strip() for s in _SENTENCE.split(args))):
        if sentence in already:
            continue  # the corrected answer repeats a blocker that is tracked already
        result = await turn.assistant.classify(sentence, where=turn.msg.where)
        if result.label == "blocker" and result.confidence >= BLOCKER_CONFIDENCE:
            tracked.append(await _record_blocker(turn, sentence, source="standup",
                                                 unblocker=result.unblocker,
                                                 blocked_on=result.blocked_on))
    if not tracked:
        await turn.reply(f"Thanks {mention(turn.user)}, your update is in.", private=True)
        return
    await turn.reply(
        f"Thanks {mention(turn.user)}, your update is in. I'm tracking "
        + ", ".join(f"#{b.number}" for b in tracked) + " as blockers.",
        sections=tuple(_blocker_section(b) for b in tracked),
        actions=tuple(a for b in tracked for a in _blocker_actions(b))[:10])


async def cmd_digest(core: Core, turn: Turn, args: str) -> None:
    period = (args or "week").lower()
    period = {"daily": "day", "weekly": "week", "today": "day"}.get(period, period)
    if period not in PERIODS:
        await turn.reply(f"Usage: {turn.usage('digest [day|week]')}", private=True)
        return
    digest = await build_digest(turn.uow, turn.team, period, turn.now)
    out = digest_message(digest, reply_place(turn.msg))
    # The model's headline, when there is one, leads; the factual headline stays in `text`.
    summary = await turn.assistant.summarize(digest, where=out.where)
    if summary:
        out = dataclasses.replace(out, sections=(Section(summary, title="In short"),
                                                 *out.sections))
    await turn.say(out)


AGING_DAYS = 2.0  # a blocker older than this is "aging" on the producers' overview


async def cmd_home(core: Core, turn: Turn, args: str) -> None:
    """The user's own overview: Slack shows it as the App Home tab, elsewhere it is a message."""
    uow, now = turn.uow, turn.now
    blockers = await uow.blockers.open(turn.team)
    requests = await uow.requests.list(turn.team, states=OPEN_REQUEST_STATES)
    mine = [b for b in blockers if b.reporter == turn.user]
    my_requests = [r for r in requests if r.requester == turn.user]
    sections = [
        Section("\n".join(f"• #{b.number} {one_line(b.text, 100)} ({age(b.opened_at, now)})"
                          for b in mine) or "None. 🎉", title="Your open blockers"),
        Section("\n".join(f"• #{r.number} *{one_line(r.title, 80)}* ({r.state.value})"
                          for r in my_requests) or "None open.", title="Your requests"),
    ]
    actions = [Action(f"Resolve #{b.number}", f"resolve {b.number}") for b in mine[:5]]
    actions += [Action(f"Solved #{r.number}", f"solved {r.number}", style="primary")
                for r in my_requests if r.state == RequestState.DELIVERED][:5]
    if await _is_producer(turn):
        aging = [b for b in blockers if b.age(now) >= AGING_DAYS]
        waiting = [r for r in requests if r.state == RequestState.READY_FOR_REVIEW]
        sections.append(Section(
            "\n".join(f"• #{b.number} {one_line(b.text, 90)} ({mention(b.reporter)}, "
                      f"{age(b.opened_at, now)}"
                      + (f", waiting on {b.unblocker}" if b.unblocker else "") + ")"
                      for b in aging) or "None.",
            title=f"Team blockers older than {AGING_DAYS:g} days"))
        sections.append(Section(
            "\n".join(f"• #{r.number} *{one_line(r.title, 80)}* ({mention(r.requester)})\n"
                      f"    Problem: {one_line(r.problem or '', 140)}" for r in waiting)
            or "Nothing waiting.", title="Requests waiting for your decision"))
        actions += [Action(f"Accept #{r.number}", f"accept {r.number}", style="primary")
                    for r in waiting[:5]]
    await turn.say(Outgoing(
        where=turn.msg.where.in_thread(None), text="Your blockers and requests",
        sections=tuple(sections), actions=tuple(actions), to_user=turn.user, surface="home"))


async def cmd_roles(core: Core, turn: Turn, args: str) -> None:
    members = await turn.uow.members.list(turn.team)
    lines = []
    for role in Role:
        people = [mention(m.user) for m in members if m.role == role]
        lines.append(f"*{role.value}s*: " + (", ".join(people) if people else "nobody yet"))
    await turn.reply("Roles in this team:", sections=(Section("\n".join(lines)),), private=True)


async def cmd_role(core: Core, turn: Turn, args: str) -> None:
    words = args.split()
    roles = ", ".join(r.value for r in Role)
    if len(words) != 2 or words[1].lower() not in {r.value for r in Role}:
        await turn.reply(f"Usage: {turn.usage('role @someone <role>')} where role is {roles}.",
                         private=True)
        return
    target = turn.user if words[0].lower() in ("me", "myself") else user_ref(words[0])
    role = Role(words[1].lower())
    producers = await _producers(turn)
    bootstrap = not producers and role == Role.PRODUCER
    if not bootstrap and not await _is_producer(turn):
        await _deny(turn, "change roles")
        return
    if target is None:
        await turn.reply("Who? Mention them or give their name.", private=True)
        return
    if producers == [target] and role != Role.PRODUCER:
        await turn.reply(f"{mention(target)} is the only producer; make someone else producer "
                         "first.", private=True)
        return
    await turn.uow.members.ensure(turn.team, target)
    await turn.uow.members.set_role(turn.team, target, role)
    extra = " (the team had no producer, so anyone could set the first)" if bootstrap else ""
    await turn.reply(f"{mention(target)} is now {role.value}{extra}.")


def _zone_ok(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


async def cmd_schedule(core: Core, turn: Turn, args: str) -> None:
    words = args.split()
    kinds = ", ".join(SCHEDULE_KINDS)
    usage = turn.usage("schedule <kind> MIN HOUR DOM MON DOW [ZONE] [here|dm]")
    if not words or words[0] == "show":
        schedules = effective_schedules(turn.team, await turn.uow.schedules.list(turn.team))
        settings = await turn.uow.tenants.get(turn.team)
        lines = []
        for kind, s in schedules.items():
            zone = s.tz or ("each member's zone" if kind == "standup" else settings.timezone)
            to = f"<#{s.channel}>" if s.channel else ("each member" if kind == "standup"
                                                     else "producers, 1:1")
            lines.append(f"*{kind}*: `{s.cron}` ({zone}) to {to}"
                         + ("" if s.enabled else " — *off*"))
        await turn.reply(f"Schedules (team zone {settings.timezone}). Change one with {usage}.",
                         sections=(Section("\n".join(lines)),), private=True)
        return
    if not await _is_producer(turn):
        await _deny(turn, "change schedules")
        return
    if words[0] in ("on", "off") and len(words) == 2 and words[1] in SCHEDULE_KINDS:
        current = effective_schedules(turn.team, await turn.uow.schedules.list(turn.team))[words[1]]
        await turn.uow.schedules.put(replace(current, enabled=words[0] == "on"))
        await turn.reply(f"The {words[1]} schedule is {words[0]}.")
        return
    if words[0] not in SCHEDULE_KINDS or len(words) < 6:
        await turn.reply(f"Usage: {usage}, or {turn.usage('schedule on|off <kind>')}. "
                         f"Kinds: {kinds}.", private=True)
        return
    kind, expression, rest = words[0], " ".join(words[1:6]), words[6:]
    problem = core.cron.check(expression) if core.cron else None
    if problem:
        await turn.reply(f"`{expression}`: {problem}.", private=True)
        return
    tz, channel = None, None
    for word in rest:
        if word == "here":
            channel = None if turn.msg.direct else turn.msg.where.channel
        elif word == "dm":
            channel = None
        elif _zone_ok(word):
            tz = word
        else:
            await turn.reply(f"`{one_line(word, 40)}` is neither a time zone (like Europe/Berlin) "
                             "nor `here` / `dm`.", private=True)
            return
    await turn.uow.schedules.put(Schedule(turn.team, kind, expression, tz, channel, True))
    where = f"<#{channel}>" if channel else "1:1 messages"
    await turn.reply(f"The {kind} schedule is now `{expression}` "
                     f"({tz or 'default zone'}), to {where}. It applies from the next run.")


async def cmd_timezone(core: Core, turn: Turn, args: str) -> None:
    settings = await turn.uow.tenants.get(turn.team)
    if not args:
        await turn.reply(f"This team's zone is {settings.timezone}.", private=True)
        return
    if not await _is_producer(turn):
        await _deny(turn, "change the team's time zone")
        return
    if not _zone_ok(args.strip()):
        await turn.reply(f"`{one_line(args, 40)}` is not a time zone; use a name like "
                         "Europe/Berlin or America/New_York.", private=True)
        return
    settings.timezone = args.strip()
    await turn.uow.tenants.update(settings)
    await turn.reply(f"The team's time zone is now {settings.timezone}.")


async def cmd_away(core: Core, turn: Turn, args: str) -> None:
    words = args.lower().split()
    if words in (["off"], ["back"], ["none"]):
        await turn.uow.members.set_away(turn.team, turn.user, None)
        await turn.reply("Welcome back: standup prompts resume.", private=True)
        return
    if len(words) == 2 and words[0] == "until":
        try:
            day = date.fromisoformat(words[1])
        except ValueError:
            day = None
        if day is not None:
            until = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
            await turn.uow.members.set_away(turn.team, turn.user, until)
            await turn.reply(f"Noted: no standup prompts for you until {day.isoformat()} "
                             "(inclusive).", private=True)
            return
    await turn.reply(f"Usage: {turn.usage('away until YYYY-MM-DD')} or "
                     f"{turn.usage('away off')}", private=True)


async def cmd_holiday(core: Core, turn: Turn, args: str) -> None:
    words = args.split()
    settings = await turn.uow.tenants.get(turn.team)
    if not words or words == ["list"]:
        days = ", ".join(settings.holidays) or "none"
        await turn.reply(f"Team holidays (no standups or daily digests): {days}.", private=True)
        return
    if not await _is_producer(turn):
        await _deny(turn, "change team holidays")
        return
    try:
        day = date.fromisoformat(words[1]) if len(words) == 2 else None
    except ValueError:
        day = None
    if day is None or words[0] not in ("add", "remove"):
        await turn.reply(f"Usage: {turn.usage('holiday add|remove YYYY-MM-DD')}", private=True)
        return
    days = set(settings.holidays)
    days = days | {day.isoformat()} if words[0] == "add" else days - {day.isoformat()}
    settings.holidays = tuple(sorted(days))
    await turn.uow.tenants.update(settings)
    await turn.reply(f"Holiday {day.isoformat()} {'added' if words[0] == 'add' else 'removed'}.")


_COMMANDS = (
    Command("blocker", "<what blocks you>", "track a blocker (or just say you're blocked)",
            cmd_blocker, "Blockers"),
    Command("blockers", "[mine|@someone]", "list open blockers, oldest first", cmd_blockers,
            "Blockers"),
    Command("resolve", "<number> [note]", "close a blocker (its reporter or a producer)",
            cmd_resolve, "Blockers"),
    Command("dismiss", "<number>", "not a blocker after all", cmd_dismiss, "Blockers"),
    Command("request", "<title>", "file a request; I'll ask what problem it solves",
            cmd_request, "Requests"),
    Command("requests", "[mine|all]", "requests and where they stand", cmd_requests,
            "Requests"),
    Command("withdraw", "<number>", "withdraw your request", cmd_withdraw, "Requests"),
    Command("solved", "<number>", "the delivery solved your problem", cmd_solved, "Requests"),
    Command("notyet", "<number> [why]", "the delivery hasn't solved it yet", cmd_notyet,
            "Requests", aliases=("not-yet",)),
    Command("standup", "<update>", "post your async standup update", cmd_standup,
            "Standups and digests"),
    Command("digest", "[day|week]", "where things stand: blockers, requests, outcomes",
            cmd_digest, "Standups and digests"),
    Command("accept", "<number>", "accept a reviewed request", cmd_accept, "For producers"),
    Command("decline", "<number> <reason>", "decline a request, with a reason", cmd_decline,
            "For producers"),
    Command("start", "<number>", "mark an accepted request in progress", cmd_start,
            "For producers"),
    Command("deliver", "<number> [note]", "mark a request delivered; I ask the requester",
            cmd_deliver, "For producers"),
    Command("home", "", "your blockers and requests; producers also see what waits for them",
            cmd_home, "Standups and digests"),
    Command("roles", "", "who is producer, engineer, stakeholder", cmd_roles, "For producers"),
    Command("role", "@someone <role>", "set a role (producers; anyone sets the first producer)",
            cmd_role, "For producers"),
    Command("away", "until YYYY-MM-DD | off", "pause your standup prompts", cmd_away,
            "Standups and digests"),
    Command("schedule", "[show] | <kind> <cron> [zone] [here|dm] | on|off <kind>",
            "when standups and digests run (producers change them)", cmd_schedule,
            "For producers"),
    Command("timezone", "[ZONE]", "the team's time zone", cmd_timezone, "For producers"),
    Command("holiday", "[list] | add|remove YYYY-MM-DD", "team holidays: no standups",
            cmd_holiday, "For producers", aliases=("holidays",)),
    Command("help", "", "this list", cmd_help, "Help"),
)
