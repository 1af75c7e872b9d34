"""Team settings: who is who (roles), when standups and digests run (schedules, the team's
zone, holidays), and a person's own pause (away)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.dates import parse_day
from bot.model import SCHEDULE_KINDS, Role, Schedule, Section, effective_schedules
from bot.text import mention, one_line, user_ref
from bot.turn import Command, Turn


async def cmd_roles(turn: Turn, args: str) -> None:
    if await turn.members_only("Who is who"):
        return
    members = [m for m in await turn.uow.members.list(turn.team) if not m.outsider]
    lines = []
    for role in (Role.PRODUCER, Role.ENGINEER, Role.STAKEHOLDER):
        people = [mention(m.user) for m in members if m.role == role]
        lines.append(f"*{role.value}s*: " + (", ".join(people) if people else "nobody yet"))
    others = [mention(m.user) for m in members if m.role == Role.MEMBER]
    if others:
        lines.append("*no role yet*: " + ", ".join(others))
    standups = [mention(m.user) for m in members if m.in_standups]
    lines.append("*in standups*: " + (", ".join(standups) if standups else "nobody"))
    await turn.reply("Roles in this team:", sections=(Section("\n".join(lines)),), private=True)


async def cmd_role(turn: Turn, args: str) -> None:
    words = args.split()
    if len(words) != 2 or words[1].lower() not in _ROLE_WORDS:
        await turn.reply(f"Usage: {turn.usage('role @someone <role>')} where role is producer, "
                         "engineer, stakeholder, or none to take a role away.", private=True)
        return
    if await turn.members_only("Setting roles"):
        return
    target = turn.user if words[0].lower() in ("me", "myself") else user_ref(words[0])
    role = _ROLE_WORDS[words[1].lower()]
    producers = await turn.producers()
    bootstrap = not producers and role == Role.PRODUCER
    if not bootstrap and not turn.is_producer:
        await turn.deny("change roles")
        return
    if target is None:
        await turn.reply("Who? Mention them or give their name.", private=True)
        return
    known = await turn.uow.members.get(turn.team, target)
    if known is not None and known.outsider:
        await turn.reply(f"{mention(target)} is from another organisation: people from outside "
                         "the team can report and request, but hold no role here.", private=True)
        return
    if producers == [target] and role != Role.PRODUCER:
        await turn.reply(f"{mention(target)} is the only producer; make someone else producer "
                         "first.", private=True)
        return
    await turn.uow.members.ensure(turn.team, target)
    await turn.uow.members.set_role(turn.team, target, role)
    if role == Role.MEMBER:
        await turn.reply(f"{mention(target)} has no role now.")
        return
    extra = " (the team had no producer, so anyone could set the first)" if bootstrap else ""
    await turn.reply(f"{mention(target)} is now {role.value}{extra}.")


_ROLE_WORDS = {"producer": Role.PRODUCER, "engineer": Role.ENGINEER,
               "stakeholder": Role.STAKEHOLDER, "none": Role.MEMBER, "member": Role.MEMBER}


def _zone_ok(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


async def cmd_schedule(turn: Turn, args: str) -> None:
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
    if not turn.is_producer:
        await turn.deny("change schedules")
        return
    if len(words) == 2 and words[0] in SCHEDULE_KINDS and words[1] in ("on", "off"):
        words.reverse()  # `schedule daily-digest on` is `schedule on daily-digest`
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
    problem = turn.cron.check(expression) if turn.cron else None
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


async def cmd_timezone(turn: Turn, args: str) -> None:
    settings = await turn.uow.tenants.get(turn.team)
    if not args:
        await turn.reply(f"This team's zone is {settings.timezone}.", private=True)
        return
    if not turn.is_producer:
        await turn.deny("change the team's time zone")
        return
    if not _zone_ok(args.strip()):
        await turn.reply(f"`{one_line(args, 40)}` is not a time zone; use a name like "
                         "Europe/Berlin or America/New_York.", private=True)
        return
    settings.timezone = args.strip()
    await turn.uow.tenants.update(settings)
    await turn.reply(f"The team's time zone is now {settings.timezone}.")


async def cmd_away(turn: Turn, args: str) -> None:
    words = args.lower().split()
    if words in (["off"], ["back"], ["none"]):
        await turn.uow.members.set_away(turn.team, turn.user, None)
        await turn.reply("Welcome back: standup prompts resume.", private=True)
        return
    settings = await turn.uow.tenants.get(turn.team)
    today = turn.now.astimezone(ZoneInfo(turn.member.tz or settings.timezone)).date()
    phrase = " ".join(words[1:]) if words[:1] == ["until"] else " ".join(words)
    day = parse_day(phrase, today) if words[:1] in (["until"], ["for"]) else None
    if day is not None and day < today:
        await turn.reply(f"{day.isoformat()} has passed; give a day from today on.", private=True)
        return
    if day is not None:
        until = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
        await turn.uow.members.set_away(turn.team, turn.user, until)
        await turn.reply(f"Noted: no standup prompts for you until {day.isoformat()} "
                         f"({day.strftime('%A')}, inclusive).", private=True)
        return
    await turn.reply(f"Usage: {turn.usage('away until <day>')} (a date like 2026-12-24 or 12-24, "
                     f"a weekday, `tomorrow`, `next week`), {turn.usage('away for 2 weeks')} or "
                     f"{turn.usage('away off')}", private=True)


async def cmd_holiday(turn: Turn, args: str) -> None:
    words = args.split()
    settings = await turn.uow.tenants.get(turn.team)
    if not words or words == ["list"]:
        days = ", ".join(settings.holidays) or "none"
        await turn.reply(f"Team holidays (no standups or daily digests): {days}.", private=True)
        return
    if not turn.is_producer:
        await turn.deny("change team holidays")
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


COMMANDS = (
    Command("roles", "", "who is producer, engineer, stakeholder", cmd_roles, "For producers"),
    Command("role", "@someone <role>", "set a role (producers; anyone sets the first producer)",
            cmd_role, "For producers"),
    Command("away", "until <day> | for <n> weeks | off", "pause your standup prompts", cmd_away,
            "Standups and digests"),
    Command("schedule", "[show] | <kind> <cron> [zone] [here|dm] | on|off <kind>",
            "when standups and digests run (producers change them)", cmd_schedule,
            "For producers"),
    Command("timezone", "[ZONE]", "the team's time zone", cmd_timezone, "For producers"),
    Command("holiday", "[list] | add|remove YYYY-MM-DD", "team holidays: no standups",
            cmd_holiday, "For producers", aliases=("holidays",)),
)
