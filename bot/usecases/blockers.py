"""Blockers: tracking what keeps people from moving (typed, noticed in chat, or said in a
standup), listing them, and closing them."""

from __future__ import annotations

from bot.classify import Classification
from bot.model import Blocker, BlockerStatus, Role, Section
from bot.ports import reply_place
from bot.text import MAX_TEXT, age, mention, one_line, user_ref
from bot.turn import Command, Turn
from bot.views import blocker_actions, blocker_item, blocker_section, plural, private_note

# How sure the classifier must be before a message becomes a blocker nobody asked to track.
BLOCKER_CONFIDENCE = 0.7


async def record_blocker(turn: Turn, text: str, *, source: str, unblocker: str | None = None,
                         blocked_on: str | None = None) -> Blocker:
    number = await turn.uow.tenants.next_number(turn.team, "blocker")
    place = reply_place(turn.msg)
    blocker = Blocker(
        team=turn.team, number=number, text=text[:MAX_TEXT], reporter=turn.user,
        channel=place.channel, thread=place.thread, opened_at=turn.now,
        blocked_on=blocked_on, unblocker=unblocker, source=source,
        private=turn.msg.private, message_id=turn.msg.message_id,
    )
    await turn.uow.blockers.add(blocker)
    await turn.becomes(Role.ENGINEER)
    return blocker


def is_blocker(result: Classification) -> bool:
    return result.label == "blocker" and result.confidence >= BLOCKER_CONFIDENCE


async def notice(turn: Turn, result: Classification) -> bool:
    """Free text that says its author is blocked becomes a tracked blocker. False: it didn't."""
    if not is_blocker(result):
        return False
    blocker = await record_blocker(turn, turn.text, source="message", unblocker=result.unblocker,
                                   blocked_on=result.blocked_on)
    await turn.reply(
        f"Sounds like you're blocked, so I'm tracking it as blocker #{blocker.number}. "
        "I'll keep it in front of the producers until it's resolved.",
        sections=(blocker_section(blocker),), actions=blocker_actions(blocker))
    return True


async def cmd_blocker(turn: Turn, args: str) -> None:
    if not args:
        await turn.reply(f"What's blocking you? Usage: {turn.usage('blocker <what blocks you>')}",
                         private=True)
        return
    result = await turn.assistant.classify(args, where=turn.msg.where)
    blocker = await record_blocker(turn, args, source="command", unblocker=result.unblocker,
                                   blocked_on=result.blocked_on)
    await turn.reply(f"Tracking blocker #{blocker.number} for {mention(turn.user)}.",
                     sections=(blocker_section(blocker),), actions=blocker_actions(blocker))


async def cmd_blockers(turn: Turn, args: str) -> None:
    who = None
    if args.lower() == "mine" or turn.outsider:  # an outsider sees their own, not the team's
        who = turn.user
    elif args and args.lower() != "all":
        who = user_ref(args)
    found = await turn.uow.blockers.open(turn.team, reporter=who)
    blockers = [b for b in found if b.shown_to(turn.user, turn.is_producer)]
    hidden = private_note(len(found) - len(blockers), "blocker")
    if not blockers:
        await turn.reply(("No open blockers." if who is None else
                          f"No open blockers for {mention(who)}.") + hidden, private=True)
        return
    lines = [blocker_item(b, turn.now) for b in blockers]
    await turn.reply(f"{plural(len(blockers), 'open blocker')}, oldest first.{hidden}",
                     sections=(Section("\n".join(lines)),), private=True)


async def _close(turn: Turn, args: str, status: BlockerStatus) -> None:
    verb = "resolve" if status == BlockerStatus.RESOLVED else "dismiss"
    parsed = await turn.number_arg(args, f"{verb} <number> [note]")
    if parsed is None:
        return
    number, note = parsed
    blocker = await turn.blocker(number)
    if blocker is None:
        return
    if blocker.reporter != turn.user and not turn.is_producer:
        await turn.reply(f"Only {mention(blocker.reporter)}, who reported blocker #{number}, or "
                         f"a producer can {verb} it.", private=True)
        return
    if not blocker.is_open:
        await turn.reply(f"Blocker #{number} is already {blocker.status.value}.", private=True)
        return
    blocker.close(status, turn.user, turn.now, note)
    await turn.uow.blockers.save(blocker)
    took = age(blocker.opened_at, turn.now)
    if status == BlockerStatus.RESOLVED:
        text = f"Blocker #{number} resolved by {mention(turn.user)} after {took}."
    else:
        text = f"Blocker #{number} dismissed by {mention(turn.user)}: not a blocker after all."
    await turn.reply(text + (f" Note: {one_line(note, 300)}" if note else ""))
    if blocker.reporter != turn.user:
        await turn.tell(blocker.reporter, text)


async def cmd_resolve(turn: Turn, args: str) -> None:
    await _close(turn, args, BlockerStatus.RESOLVED)


async def cmd_dismiss(turn: Turn, args: str) -> None:
    await _close(turn, args, BlockerStatus.DISMISSED)


COMMANDS = (
    Command("blocker", "<what blocks you>", "track a blocker (or just say you're blocked)",
            cmd_blocker, "Blockers"),
    Command("blockers", "[mine|@someone]", "list open blockers, oldest first", cmd_blockers,
            "Blockers"),
    Command("resolve", "<number> [note]", "close a blocker (its reporter or a producer)",
            cmd_resolve, "Blockers"),
    Command("dismiss", "<number>", "not a blocker after all", cmd_dismiss, "Blockers"),
)
