"""Async standup answers: `standup <update>`, or a plain reply to the prompt in the 1:1 chat.
Blockers mentioned in an update are tracked; a second answer to the same prompt replaces the
first. The scheduler sends the prompts, reminders and summaries (bot.scheduling)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from bot.model import Action, Role, StandupAnswer, Team
from bot.ports import UnitOfWork
from bot.text import mention, one_line, user_ref
from bot.turn import Command, Turn
from bot.usecases.blockers import gone_for, is_blocker, same_or_new, track
from bot.views import blocker_actions, blocker_section

STANDUP_QUESTIONS = ("What moved forward since last time?", "Anything blocking you?")
# How long after a prompt a plain reply in the 1:1 chat still counts as the standup answer.
ANSWER_WINDOW = timedelta(hours=20)

_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\n+")


async def prompted_at(uow: UnitOfWork, team: Team, user: str, now: datetime) -> datetime | None:
    """When `user` was last prompted for a standup, if that prompt is still open for answers."""
    prompted = await uow.runs.last_sent(team, "standup", user)
    return prompted if prompted and now - prompted <= ANSWER_WINDOW else None


async def awaiting_answer(uow: UnitOfWork, team: Team, user: str, now: datetime) -> bool:
    """Prompted recently and not answered yet: a plain reply in the 1:1 chat is the answer, and
    the reminder before the summary is due."""
    prompted = await prompted_at(uow, team, user, now)
    if prompted is None:
        return False
    answers = await uow.standups.between(team, prompted, now)
    return not any(a.user == user for a in answers)


async def _participation(turn: Turn, args: str) -> bool:
    """`standup join|leave [@someone]`: who takes part (anyone for themselves, producers for
    others). False: the words were an update."""
    words = args.split()
    if not words or words[0].lower() not in ("join", "leave") or len(words) > 2:
        return False
    joining = words[0].lower() == "join"
    target = turn.user if len(words) == 1 else user_ref(words[1])
    if target is None:
        return False
    if target != turn.user and not turn.is_producer:
        await turn.deny("set who takes part in standups")
        return True
    await turn.uow.members.ensure(turn.team, target)
    await turn.uow.members.set_standup(turn.team, target, joining)
    who = "You" if target == turn.user else mention(target)
    await turn.reply(f"{who} {'now take' if target == turn.user else 'now takes'} part in "
                     "standups." if joining else
                     f"{who} {'no longer take' if target == turn.user else 'no longer takes'} "
                     "part in standups.", private=target == turn.user)
    return True


async def cmd_standup(turn: Turn, args: str) -> None:
    if not args:
        await turn.reply(f"What moved forward, and is anything blocking you? Usage: "
                         f"{turn.usage('standup <your update>')} or "
                         f"{turn.usage('standup join|leave')}", private=True)
        return
    if await _participation(turn, args):
        return
    await turn.becomes(Role.ENGINEER)
    # A second answer in the same standup replaces the first (people correct themselves).
    since = await prompted_at(turn.uow, turn.team, turn.user, turn.now) \
        or turn.now - timedelta(hours=12)
    await turn.uow.standups.add(StandupAnswer(turn.team, turn.user, args, turn.now,
                                              turn.msg.where.channel), replaces_since=since)
    already = {b.text for b in await turn.uow.blockers.open(turn.team, reporter=turn.user)}
    outcomes, gone = [], []
    for sentence in filter(None, (s.strip() for s in _SENTENCE.split(args))):
        if sentence in already:
            continue  # the corrected answer repeats a blocker that is tracked already
        ended = await gone_for(turn, sentence)
        if ended is not None:
            gone.append(ended)
            continue
        result = await turn.assistant.classify(sentence, where=turn.msg.where)
        if is_blocker(result):
            outcomes.append(await track(turn, sentence, result, "standup"))
    new = [t.blocker for t in outcomes if t.kind == "new"]
    updated = [t.blocker for t in outcomes if t.kind == "updated"]
    asked = [t for t in outcomes if t.kind == "asked"]
    parts = [f"Thanks {mention(turn.user)}, your update is in."]
    if new:
        parts.append("I'm tracking " + ", ".join(f"#{b.number}" for b in new) + " as blockers.")
    if updated:
        parts.append("Added your news to " + ", ".join(f"#{b.number}" for b in updated) + ".")
    for t in asked:
        parts.append(f"Is “{one_line(t.text, 80)}” blocker #{t.blocker.number} again?")
    for b in gone:
        parts.append(f"Sounds like #{b.number} ({one_line(b.text, 60)}) is gone: close it?")
    actions = [a for b in new for a in blocker_actions(b)]
    actions += [a for t in asked for a in same_or_new(t)]
    actions += [Action(f"Resolve #{b.number}", f"resolve {b.number}", style="primary") for b in gone]
    await turn.reply(" ".join(parts), sections=tuple(blocker_section(b) for b in new),
                     actions=tuple(actions)[:10], private=not new)


COMMANDS = (
    Command("standup", "<update> | join | leave", "post your async standup update; join or leave",
            cmd_standup,
            "Standups and digests"),
)
