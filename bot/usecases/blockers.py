"""Blockers: tracking what keeps people from moving (typed, noticed in chat, or said in a
standup), one blocker per problem ("still blocked on the cert" is news on the open one, not a
second blocker), listing them, their history, and closing them (offered when someone says it is
gone)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.classify import Classification, blocker_overlap, says_resolved
from bot.model import Action, Blocker, BlockerEvent, BlockerStatus, Role, Section
from bot.ports import reply_place
from bot.text import MAX_TEXT, age, mention, one_line, user_ref
from bot.turn import Command, Turn
from bot.views import blocker_actions, blocker_item, blocker_section, plural, private_note

# How sure the classifier must be before a message becomes a blocker nobody asked to track.
BLOCKER_CONFIDENCE = 0.7
# The same blocker again: this many shared words, making this share of the shorter statement's.
SAME_WORDS, SAME_SHARE = 2, 0.6
# Perhaps the same: ask rather than guess.
MAYBE_SHARE = 0.34
RECENT = 20  # a person's open blockers a new statement is compared with, newest first


def is_blocker(result: Classification) -> bool:
    return result.label == "blocker" and result.confidence >= BLOCKER_CONFIDENCE


@dataclass(frozen=True)
class Tracked:
    """What became of a blocker statement: a new blocker, news on an open one, or a question
    whether it is an open one (`kind` "new" | "updated" | "asked")."""

    kind: str
    blocker: Blocker
    text: str


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
    await turn.uow.blockers.add_event(turn.team, BlockerEvent(number, turn.now, "opened",
                                                              turn.user, blocker.text))
    await turn.becomes(Role.ENGINEER)
    person = user_ref(unblocker) if unblocker and unblocker.startswith("<@") else None
    if person and person != turn.user:  # told once, when it opens; nudges name them again
        await turn.tell(person, f"{mention(turn.user)} is blocked and says you can unblock "
                        f"it: {one_line(blocker.text, 300)} (blocker #{number}).",
                        actions=(Action(f"Resolve #{number}", f"resolve {number}",
                                        style="primary"),))
    return blocker


async def _match(turn: Turn, text: str) -> tuple[Blocker | None, bool]:
    """The open blocker this statement is about, and whether that is certain: one in this
    thread, or the sender's own that shares enough of what it is about."""
    thread = turn.msg.where.thread
    if thread:
        here = await turn.uow.blockers.open_in_thread(turn.team, turn.msg.where.channel, thread)
        if here:
            return here[-1], True
    best: tuple[int, float, Blocker] | None = None
    # A person's newest few: "still blocked on X" is about something recent, and the check
    # stays cheap however many blockers a team has open.
    for b in await turn.uow.blockers.recent_open(turn.team, turn.user, RECENT):
        shared, share = blocker_overlap(b.text, text)
        if shared and (best is None or (share, shared) > (best[1], best[0])):
            best = (shared, share, b)
    if best is None:
        return None, False
    shared, share, blocker = best
    if shared >= SAME_WORDS and share >= SAME_SHARE:
        return blocker, True
    return (blocker, False) if share >= MAYBE_SHARE else (None, False)


async def add_news(turn: Turn, blocker: Blocker, text: str) -> None:
    await turn.uow.blockers.add_event(turn.team, BlockerEvent(
        blocker.number, turn.now, "updated", turn.user, text[:MAX_TEXT]))


async def track(turn: Turn, text: str, result: Classification, source: str) -> Tracked:
    """A blocker statement said in chat or a standup: news on the open blocker it is about, a
    question when that is not certain, or a new blocker. (An explicit `blocker ...` is always
    new: its author asked for a blocker to be tracked.)"""
    match, sure = (None, False) if source == "command" else await _match(turn, text)
    if match is not None and sure:
        await add_news(turn, match, text)
        return Tracked("updated", match, text)
    if match is not None:
        return Tracked("asked", match, text)
    blocker = await record_blocker(turn, text, source=source, unblocker=result.unblocker,
                                   blocked_on=result.blocked_on)
    return Tracked("new", blocker, text)


def same_or_new(t: Tracked) -> tuple[Action, ...]:
    n = t.blocker.number
    return (Action(f"Same as #{n}", f"update {n} {one_line(t.text, 1500)}", style="primary"),
            Action("New blocker", f"track {one_line(t.text, 1500)}"))


async def say_tracked(turn: Turn, t: Tracked, lead: str) -> None:
    """The answer to one blocker statement; `lead` opens the answer to a new blocker."""
    b = t.blocker
    if t.kind == "updated":
        await turn.reply(f"Still tracking that as blocker #{b.number} (open "
                         f"{age(b.opened_at, turn.now)}); I've added this to its history.",
                         actions=blocker_actions(b), private=True)
    elif t.kind == "asked":
        await turn.reply(f"Is this blocker #{b.number} again ({one_line(b.text, 100)})?",
                         actions=same_or_new(t), private=True)
    else:
        await turn.reply(lead, sections=(blocker_section(b),), actions=blocker_actions(b))


async def gone_for(turn: Turn, text: str) -> Blocker | None:
    """The open blocker a "fixed" / "unblocked" / "got the creds" message is about: in this
    thread, the sender's own that shares words with it, or the only one they have open."""
    if not says_resolved(text):
        return None
    match, _ = await _match(turn, text)
    if match is not None and (match.reporter == turn.user or turn.is_producer):
        return match  # offered to who may close it, not to a teammate in the thread
    mine = await turn.uow.blockers.recent_open(turn.team, turn.user, 2)
    return mine[0] if len(mine) == 1 else None


async def offer_resolve(turn: Turn, blocker: Blocker) -> None:
    await turn.reply(f"Sounds like blocker #{blocker.number} ({one_line(blocker.text, 100)}) is "
                     "gone. Shall I close it?",
                     actions=(Action(f"Resolve #{blocker.number}", f"resolve {blocker.number}",
                                     style="primary"),), private=True)


async def notice(turn: Turn, result: Classification) -> bool:
    """Free text about a blocker: one said gone gets a one-click resolve, a new one is
    tracked, news goes on the open one. False: it was about no blocker."""
    gone = await gone_for(turn, turn.text)
    if gone is not None:
        await offer_resolve(turn, gone)
        return True
    if not is_blocker(result):
        return False
    tracked = await track(turn, turn.text, result, "message")
    await say_tracked(turn, tracked, (
        f"Sounds like you're blocked, so I'm tracking it as blocker #{tracked.blocker.number}. "
        "I'll keep it in front of the producers until it's resolved."))
    return True


async def cmd_blocker(turn: Turn, args: str) -> None:
    if not args:
        await turn.reply(f"What's blocking you? Usage: {turn.usage('blocker <what blocks you>')}",
                         private=True)
        return
    result = await turn.assistant.classify(args, where=turn.msg.where)
    tracked = await track(turn, args, result, "command")
    await say_tracked(turn, tracked, f"Tracking blocker #{tracked.blocker.number} for "
                                     f"{mention(turn.user)}.")


async def cmd_track(turn: Turn, args: str) -> None:
    """A new blocker, even one that looks like an open one (the "New blocker" button)."""
    if not args:
        await turn.reply(f"Usage: {turn.usage('track <what blocks you>')}", private=True)
        return
    result = await turn.assistant.classify(args, where=turn.msg.where)
    blocker = await record_blocker(turn, args, source="command", unblocker=result.unblocker,
                                   blocked_on=result.blocked_on)
    await say_tracked(turn, Tracked("new", blocker, args),
                      f"Tracking blocker #{blocker.number} for {mention(turn.user)}.")


async def cmd_update(turn: Turn, args: str) -> None:
    parsed = await turn.number_arg(args, "update <number> <news>")
    if parsed is None:
        return
    number, news = parsed
    blocker = await turn.blocker(number)
    if blocker is None:
        return
    if not news:
        await turn.reply(f"What's new? Usage: {turn.usage(f'update {number} <news>')}",
                         private=True)
        return
    if not blocker.is_open:
        await turn.reply(f"Blocker #{number} is already {blocker.status.value}.", private=True)
        return
    await add_news(turn, blocker, news)
    await say_tracked(turn, Tracked("updated", blocker, news), "")


async def cmd_history(turn: Turn, args: str) -> None:
    parsed = await turn.number_arg(args, "history <number>")
    if parsed is None:
        return
    blocker = await turn.blocker(parsed[0])
    if blocker is None:
        return
    if not blocker.shown_to(turn.user, turn.is_producer):
        await turn.reply(f"Blocker #{blocker.number} was reported in a private conversation; "
                         "its reporter and the producers can see it.", private=True)
        return
    lines = []
    for event in await turn.uow.blockers.history(turn.team, blocker.number):
        when = event.at.strftime("%a %d %b %H:%M")
        words = f": {one_line(event.text, 200)}" if event.text else ""
        lines.append(f"• {when} {_VERB[event.kind]} {mention(event.by)}{words}")
    state = "open" if blocker.is_open else blocker.status.value
    await turn.reply(f"Blocker #{blocker.number} ({state}, {age(blocker.opened_at, turn.now)} "
                     "since it opened)", sections=(blocker_section(blocker),
                                                   Section("\n".join(lines) or "No history.",
                                                           title="History")),
                     actions=blocker_actions(blocker) if blocker.is_open else (), private=True)


_VERB = {"opened": "opened by", "updated": "news from", "edited": "edited by",
         "resolved": "resolved by", "dismissed": "dismissed by"}


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
    # The person named as the one who can unblock it may say it is resolved too.
    unblocker = blocker.unblocker == mention(turn.user) and status == BlockerStatus.RESOLVED
    if blocker.reporter != turn.user and not turn.is_producer and not unblocker:
        await turn.reply(f"Only {mention(blocker.reporter)}, who reported blocker #{number}, or "
                         f"a producer can {verb} it.", private=True)
        return
    if not blocker.is_open:
        await turn.reply(f"Blocker #{number} is already {blocker.status.value}.", private=True)
        return
    blocker.close(status, turn.user, turn.now, note)
    await turn.uow.blockers.save(blocker)
    await turn.uow.blockers.add_event(turn.team, BlockerEvent(
        number, turn.now, status.value, turn.user, note[:MAX_TEXT] or None))
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
    Command("update", "<number> <news>", "add news to a blocker (still blocked, new detail)",
            cmd_update, "Blockers"),
    Command("history", "<number>", "a blocker's story: opened, news, resolved", cmd_history,
            "Blockers"),
    Command("resolve", "<number> [note]", "close a blocker (its reporter or a producer)",
            cmd_resolve, "Blockers"),
    Command("dismiss", "<number>", "not a blocker after all", cmd_dismiss, "Blockers"),
    Command("track", "<what blocks you>", "a new blocker, even if it looks like an open one",
            cmd_track, "Blockers"),
)
