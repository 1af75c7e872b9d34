"""Demos and acceptance: a producer's `demo` shows the agenda (what was delivered since the
last demo, each with the problem it was meant to solve and how its requester said we would know
it worked) and invites the people behind each request; `demo done` records the demo and asks
each of them, 1:1, for their verdict against that check.

A requester's verdict is their `solved` / `notyet` (bot.usecases.requests: it moves the request);
a voice's is recorded here and told to the producers, and never moves the request."""

from __future__ import annotations

from bot.model import (
    NOT_YET_VERDICT,
    SOLVED_VERDICT,
    Action,
    Demo,
    Request,
    RequestState,
    Section,
    Verdict,
)
from bot.text import age, mention, one_line
from bot.turn import Command, Turn
from bot.usecases.voices import evidence
from bot.views import Evidence, plural, private_note, request_line

DEMO_USAGE = "demo [done]"
INVITED = "demo-invite"  # the claim (Runs) that invites a person once per demo and request


def verdict_actions(number: int) -> tuple[Action, ...]:
    """What someone shown a delivery at a demo may answer: the same `solved` / `notyet` as at
    delivery, or a new request when the demo showed them what they need next."""
    return (
        Action("Solved", f"solved {number}", style="primary"),
        Action("Not yet, because ...", f"notyet {number}", needs_reason=True),
        Action("New request", "request", needs_reason=True),
    )


async def _agenda(turn: Turn) -> tuple[Demo | None, list[Request]]:
    """The team's last demo and what was delivered since (or ever, when there was none)."""
    last = await turn.uow.demos.last(turn.team)
    return last, await turn.uow.demos.delivered_since(turn.team, last.at if last else None)


def _since(turn: Turn, last: Demo | None) -> str:
    if last is None:
        return "so far (no demo recorded yet)"
    return f"since the last demo (#{last.number}, {age(last.at, turn.now)} ago)"


def _item(r: Request, found: Evidence) -> str:
    """`• #3 *CSV export* (requested by @sam, 3 people)`, its problem and its success check."""
    details = [f"requested by {mention(r.requester)}"]
    if found.people > 1:
        details.append(found.summary)
    if r.state == RequestState.SOLVED:
        details.append("already confirmed solved")
    line = request_line(r.number, r.title, *details, problem=r.problem, problem_limit=200,
                        unstated="_not stated_")
    success = r.answers.get("success")
    return line + ("\n    How will we know it worked? "
                   + (one_line(success, 200) if success else "_not said_"))


async def cmd_demo(turn: Turn, args: str) -> None:
    word = args.strip().lower()
    if word not in ("", "done"):
        await turn.reply(f"Usage: {turn.usage(DEMO_USAGE)}: `demo` shows the agenda, "
                         "`demo done` records the demo and asks for verdicts.", private=True)
        return
    if not turn.is_producer:
        await turn.deny("run demos" if word == "" else "record demos")
        return
    await (_record(turn) if word == "done" else _show(turn))


async def _show(turn: Turn) -> None:
    last, delivered = await _agenda(turn)
    shared = not turn.msg.direct
    # In a channel, only what was said where everyone could read it; 1:1, the producer's all.
    shown = [r for r in delivered if r.shown_to(None if shared else turn.user, not shared)]
    hidden = private_note(len(delivered) - len(shown), "request")
    since = _since(turn, last)
    if not shown:
        await turn.reply(f"Nothing was delivered {since}, so there is nothing to demo yet."
                         + hidden, private=True)
        return
    found = await evidence(turn.uow, shown)
    title = f"Demo agenda: {plural(len(shown), 'request')} delivered {since}"
    agenda = (Section("\n".join(_item(r, found[r.number]) for r in shown)),)
    if not shared:
        await turn.reply(f"{title}.{hidden}", sections=agenda + (Section(
            "Say `demo` in the channel where you hold the demo (mention me, or use the slash "
            "command) to post this agenda there and invite each requester and voice 1:1. "
            "After the demo, `demo done` records it and asks them whether it solved their "
            "problem.", title="To post it"),))
        return
    invited = await _invite(turn, (last.number if last else 0) + 1, shown)
    told = (f" I've invited {plural(invited, 'person', 'people')} 1:1." if invited
            else " Everyone on it has been invited already.")
    await turn.reply(f"{title}.{told}{hidden}", sections=agenda)


async def _invite(turn: Turn, demo: int, shown: list[Request]) -> int:
    """Each requester and voice of what is shown, 1:1, once per demo and request."""
    heard = await turn.uow.voices.of(turn.team, [r.number for r in shown])
    channel = f"<#{turn.msg.where.channel}>"
    invited = 0
    for r in shown:
        title = one_line(r.title, 80)
        people = [(r.requester, f"Your request #{r.number} ({title}) is on the demo agenda in "
                                f"{channel}: come and see whether it solves your problem.")]
        people += [(v.user, f"Request #{r.number} ({title}), which you added your voice to, is "
                            f"on the demo agenda in {channel}.") for v in heard.get(r.number, [])]
        for user, text in people:
            if user == turn.user or not await turn.uow.runs.claim(
                    turn.team, INVITED, user, f"demo {demo} #{r.number}", turn.now):
                continue
            await turn.tell(user, text)
            invited += 1
    return invited


async def _record(turn: Turn) -> None:
    last, delivered = await _agenda(turn)
    if not delivered:
        await turn.reply((f"Nothing was delivered since the last demo (#{last.number}, "
                          f"{age(last.at, turn.now)} ago), so there is no demo to record."
                          if last else "Nothing has been delivered yet, so there is no demo "
                          "to record."), private=True)
        return
    demo = Demo(turn.team, (last.number if last else 0) + 1, turn.now, turn.user,
                tuple(r.number for r in delivered))
    if not await turn.uow.demos.add(demo):  # another producer's `demo done` came first
        await turn.reply(f"Demo #{demo.number} was just recorded by another producer; its "
                         "people have been asked for their verdict.", private=True)
        return
    asked = await _ask(turn, demo, delivered)
    shown = ", ".join(f"#{n}" for n in demo.requests)
    await turn.reply(f"Demo #{demo.number} recorded ({shown}). I've asked "
                     f"{plural(asked, 'person', 'people')} 1:1 whether it solved their problem, "
                     "against their own success criterion.")


async def _ask(turn: Turn, demo: Demo, shown: list[Request]) -> int:
    """Each requester still to answer, and every voice, 1:1 with the verdict buttons."""
    heard = await turn.uow.voices.of(turn.team, [r.number for r in shown])
    producers = set(await turn.producers())
    asked = 0
    for r in shown:
        title = one_line(r.title, 80)
        success = r.answers.get("success")
        if r.state == RequestState.DELIVERED:  # a requester who confirmed is not asked again
            await turn.tell(r.requester, f"Request #{r.number} ({title}) was shown at demo "
                            f"#{demo.number}. Did it solve your problem"
                            + (f" ({one_line(r.problem, 200)})?" if r.problem else "?")
                            + (f" You said we would know it worked when: {one_line(success, 300)}"
                               if success else ""), actions=verdict_actions(r.number))
            asked += 1
        for voice in heard.get(r.number, []):
            if not r.shown_to(voice.user, voice.user in producers):
                continue
            await turn.tell(voice.user, f"Request #{r.number} ({title}), which you added your "
                            f"voice to, was shown at demo #{demo.number}. Did it solve the "
                            "problem for you"
                            + (f" ({one_line(voice.problem, 200)})?" if voice.problem else "?")
                            + (f" {mention(r.requester)} said we would know it worked when: "
                               f"{one_line(success, 300)}" if success else ""),
                            actions=verdict_actions(r.number))
            asked += 1
    return asked


async def voice_verdict(turn: Turn, request: Request, solved: bool, note: str) -> bool:
    """`solved <n>` / `notyet <n> [why]` from someone who added their voice to #n: recorded
    for the demo that showed it (0: none), told to the producers; the request stays where it
    is. False when the sender is no voice on it (nothing done)."""
    voice = await turn.uow.voices.get(turn.team, request.number, turn.user)
    if voice is None:
        return False
    n, title = request.number, one_line(request.title, 80)
    if request.delivered_at is None:
        await turn.reply(f"Request #{n} hasn't been delivered yet; I'll ask you when it has "
                         "been shown.", private=True)
        return True
    demo = await turn.uow.demos.showing(turn.team, n)
    await turn.uow.demos.put_verdict(Verdict(
        turn.team, n, turn.user, SOLVED_VERDICT if solved else NOT_YET_VERDICT, turn.now,
        demo.number if demo else 0, note or None))
    if solved:
        told = f"{mention(turn.user)}, who added their voice to request #{n} ({title}), says " \
               "it solved their problem."
        await turn.reply(f"Thanks: I've noted that request #{n} solved your problem and told the "
                         "producers.", private=True)
    else:
        told = (f"{mention(turn.user)}, who added their voice to request #{n} ({title}), says "
                "it hasn't solved their problem yet" + (f": {one_line(note, 300)}" if note
                                                         else "."))
        await turn.reply(f"Thanks: I've told the producers request #{n} hasn't solved your "
                         f"problem yet. Only {mention(request.requester)}, who asked for it, "
                         "reopens it; to ask for something new, use "
                         f"{turn.usage('request <what you need>')}.", private=True)
    for producer in await turn.producers():
        if producer != turn.user:
            await turn.tell(producer, told)
    return True


COMMANDS = (
    Command("demo", "[done]", "the demo agenda (delivered since the last demo); `demo done` "
            "records it and asks each requester and voice for their verdict", cmd_demo,
            "For producers"),
)
