"""The console adapter: chat with the bot in a terminal, through the same core and storage.

One terminal can play every part: `:as NAME [ROLE]` switches who is talking, so a newcomer can
walk the engineer, stakeholder and producer through the whole loop without an account.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TextIO

from adapters.charts import filename, render_png
from bot.model import Chart, InboundMessage, Outgoing, Role, Team, Where
from bot.ports import Sender, Sent
from bot.relay import Relay
from bot.usecases import people

log = logging.getLogger(__name__)

PLATFORM = "console"
TEAM = Team(PLATFORM, "local")
CHANNEL = "console"

_MENTION = re.compile(r"<@([^>|]+)(?:\|[^>]*)?>")
_BOLD = re.compile(r"\*([^*\n]+)\*")
_ITALIC = re.compile(r"(?<!\w)_([^_\n]+)_(?!\w)")

META_HELP = """Console commands:
  :as NAME [ROLE]   talk as someone else (ROLE: producer, engineer or stakeholder)
  :who              who you are now
  :quit             leave (Ctrl-D works too)
Anything else goes to the bot; try `help`."""


def plain(text: str) -> str:
    """Neutral markup to terminal text: mentions as @name, emphasis markers dropped."""
    text = _MENTION.sub(lambda m: "@" + m.group(1), text)
    text = _BOLD.sub(r"\1", text)
    return _ITALIC.sub(r"\1", text)


def render(out: Outgoing, chart: str | None = None) -> str:
    """The message as terminal text; `chart`: where its chart was saved, or why it was not."""
    if out.to_user:
        head = f"bot → @{out.to_user} (direct): "
    elif out.private_to:
        head = f"bot → @{out.private_to} (only they see this): "
    else:
        head = "bot: "
    lines = [head + plain(out.text)]
    for section in out.sections:
        if section.title:
            lines.append(f"  == {plain(section.title)} ==")
        lines += ["  " + plain(line) for line in section.text.split("\n")]
    if out.actions:
        buttons = "  ".join(f"[{a.label}: {a.command}{' <reason>' if a.needs_reason else ''}]"
                            for a in out.actions)
        lines.append("  " + buttons)
    if out.chart is not None:
        lines.append(f"  [chart: {plain(out.chart.title)}: {chart}]")
        lines.append(f"  ({plain(out.chart.alt)})")  # what it shows, for whoever can't open it
    return "\n".join(lines)


class ConsoleSender(Sender):
    """Prints messages; a message's chart is saved as a PNG in `chart_dir` (CHART_DIR, else
    `charts/` under the working directory) and the printed message gives its path."""

    def __init__(self, write: Callable[[str], None], chart_dir: str | Path = "charts") -> None:
        self.write = write
        self.chart_dir = Path(chart_dir)
        self.count = 0

    async def send(self, message: Outgoing) -> Sent:
        self.count += 1
        saved = None
        if message.chart is not None:
            name = message.delivery_id or f"console-{self.count}"
            try:
                # Drawing is CPU work and writing a file blocks: both off the event loop.
                saved = str(await asyncio.to_thread(self.save, message.chart, name))
            except Exception as exc:
                log.warning("console: the chart %r was not saved: %s", message.chart.title, exc)
                saved = f"not saved ({type(exc).__name__}: {exc})"
        self.write(render(message, saved))
        return Sent(message_id=f"console-{self.count}", channel=message.where.channel)

    def save(self, chart: Chart, name: str) -> Path:
        """Draw the chart and write it to `chart_dir`; its absolute path. A message sent again
        (the same outbox row) writes the same file."""
        day = datetime.now(UTC).strftime("%Y-%m-%d")
        path = (self.chart_dir / f"{day}-{filename(chart).removesuffix('.png')}-{name}.png")
        png = render_png(chart)
        self.chart_dir.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png)
        return path.resolve()


def to_inbound(line: str, user: str, at: datetime | None = None) -> InboundMessage:
    return InboundMessage(
        where=Where(PLATFORM, TEAM.tenant, CHANNEL),
        user=user,
        text=line,
        event_id=f"console-{uuid.uuid4()}",
        at=at or datetime.now(UTC),
        direct=True,
        user_name=user,
    )


class Console:
    def __init__(self, relay: Relay, user: str, out: TextIO) -> None:
        self.relay = relay
        self.user = user
        self.out = out
        # Who has been played: someone the console starts as but never speaks as (`you`,
        # before `:as erin`) is no member of the team and never counted in it.
        self.played: set[str] = set()

    def write(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    async def set_role(self, user: str, role: Role | None) -> None:
        """Play `user`, in `role` if one is given (people.play_as: the first person in a team
        without a producer becomes its producer)."""
        self.played.add(user)
        given = await self.relay.perform(partial(people.play_as, team=TEAM, user=user, role=role))
        if role is None and given == Role.PRODUCER:
            self.write(f"(@{user} is this team's producer: nobody else was yet)")

    async def meta(self, line: str) -> bool:
        """Handle a `:` line; False to stop."""
        words = line[1:].split()
        if not words or words[0] in ("help", "h", "?"):
            self.write(META_HELP)
        elif words[0] in ("quit", "q", "exit"):
            return False
        elif words[0] == "who":
            self.write(f"(you are @{self.user})")
        elif words[0] == "as" and len(words) in (2, 3):
            role = None
            if len(words) == 3:
                if words[2].lower() not in {r.value for r in Role}:
                    self.write("(roles are producer, engineer and stakeholder)")
                    return True
                role = Role(words[2].lower())
            self.user = words[1].lstrip("@")
            await self.set_role(self.user, role)
            self.write(f"(you are now @{self.user}{f', {role.value}' if role else ''})")
        else:
            self.write(f"(unknown console command {words[0]!r}; :help lists them)")
        return True

    async def say(self, line: str) -> None:
        if self.user not in self.played:
            await self.set_role(self.user, None)
        await self.relay.receive(to_inbound(line, self.user))
        await self.relay.drain()

    async def run(self, stdin: TextIO, interactive: bool) -> None:
        if interactive:
            self.write("producer-bot console. Type `help` for commands, `:help` for console "
                       "commands, Ctrl-D to leave.")
        while True:
            if interactive:
                print(f"{self.user}> ", end="", file=self.out, flush=True)
            line = await asyncio.to_thread(stdin.readline)
            if not line:  # EOF
                if interactive:
                    self.write("")
                return
            line = line.rstrip("\n")
            if not interactive and line.strip():
                self.write(f"{self.user}> {line}")  # a scripted session reads as a transcript
            if not line.strip():
                continue
            if line.startswith(":"):
                if not await self.meta(line.strip()):
                    return
                continue
            await self.say(line)


def interactive(stream: TextIO = sys.stdin) -> bool:
    return stream.isatty()
