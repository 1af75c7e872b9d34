"""The conversation core's router: one inbound message in, handed to the use case it is for, all
inside the caller's unit of work. The use cases live in bot/usecases/, one module per behaviour.

Commands are words (`blocker ...`, `accept 3`); buttons carry the same words, so a click and a
typed command share one parser and one set of permission checks. Anything else is an answer to
a discovery question, a standup answer, or free text the classifier looks at for blockers.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from bot.assistant import Assistant, HeuristicAssistant
from bot.model import TRACKER_EVENT, InboundMessage, Member, Outgoing
from bot.ports import Cron, Sent, UnitOfWork
from bot.text import MAX_TEXT, clean, one_line
from bot.turn import Command, Spelling, Trackers, Turn
from bot.usecases import (
    COMMANDS,
    blockers,
    chatter,
    corrections,
    discovery,
    overview,
    requests,
    standups,
    tracking,
)

log = logging.getLogger(__name__)


class Core:
    def __init__(self, assistant: Assistant | None = None, cron: Cron | None = None,
                 spellings: Mapping[str, Spelling] | None = None,
                 trackers: Trackers | None = None) -> None:
        """`spellings`: per platform, how a command reads as one of its slash commands (shown
        in usage hints to someone who used one). `trackers`: where accepted requests are filed."""
        self.assistant = assistant or HeuristicAssistant()
        self.cron = cron
        self.spellings = dict(spellings or {})
        self.trackers = trackers or Trackers()
        self.table: tuple[Command, ...] = COMMANDS
        self.commands: dict[str, Command] = {}
        for command in COMMANDS:
            for name in (command.name, *command.aliases):
                self.commands[name] = command

    async def handle(self, msg: InboundMessage, uow: UnitOfWork,
                     assistant: Assistant | None = None) -> None:
        """Handle one message. `assistant` overrides the core's own for this message (the
        relay passes answers it prepared before opening the unit of work)."""
        if msg.kind == TRACKER_EVENT:  # a tracker's webhook: its team is the request's
            await requests.tracker_changed(Turn(
                msg, uow, Member(msg.where.team, msg.user), "", False,
                assistant or self.assistant, spellings=self.spellings, trackers=self.trackers))
            return
        team = msg.where.team
        await uow.tenants.ensure(team)
        member = await uow.members.ensure(team, msg.user, name=msg.user_name, tz=msg.user_tz,
                                          outsider=msg.outsider)
        text = clean(msg.text)
        words = text.split(None, 1)
        explicit = bool(msg.command) or text.startswith("/")
        turn = Turn(msg, uow, member, text, slash=bool(msg.command),
                    assistant=assistant or self.assistant, cron=self.cron,
                    commands=self.table, spellings=self.spellings, trackers=self.trackers)

        if msg.kind in ("edit", "delete"):
            await corrections.handle(turn)
            return

        if len(msg.text) > MAX_TEXT:
            # In a busy channel an overlong message that isn't for the bot is none of its
            # business; anything addressed to it gets told why nothing happened.
            addressed = explicit or msg.direct or msg.addressed
            if addressed or await discovery.discovery_for(turn) is not None:
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
        request = await discovery.discovery_for(turn)
        if request is not None:
            await discovery.answer(turn, request)
            return
        await self._free_text(turn)

    async def sent(self, uow: UnitOfWork, message: Outgoing, sent: Sent) -> None:
        """The dispatcher delivered `message` (bot.relay.dispatch.OnSent)."""
        if message.surface == "issue":
            await tracking.filed(uow, message, sent.message_id, sent.label, sent.link)

    async def given_up(self, uow: UnitOfWork, message: Outgoing, error: str) -> None:
        """The dispatcher gave up on `message` (bot.relay.dispatch.OnGivenUp)."""
        if message.surface.startswith("issue"):
            await tracking.not_filed(uow, message, error)

    async def run(self, turn: Turn, name: str, args: str) -> None:
        if name == "producer":  # `/producer accept 3` is `accept 3`
            words = args.split(None, 1)
            if not words:
                await overview.cmd_help(turn, "")
                return
            name, args = words[0].lower().lstrip("/"), words[1] if len(words) > 1 else ""
        command = self.commands.get(name)
        if command is None:
            meant = chatter.nearest(name, self.commands)
            await turn.reply(
                f"I don't know the command `{one_line(name, 40)}`."
                + (f" Did you mean {turn.usage(meant)}?" if meant else "")
                + f" {turn.usage('help')} lists what I can do.", private=True)
            return
        await command.handler(turn, args.strip())

    async def _free_text(self, turn: Turn) -> None:
        msg = turn.msg
        # Said to the bot: a 1:1 message, or an @mention (a button's command was not typed).
        spoken_to = msg.direct or (msg.addressed and msg.kind == "message")
        if not turn.text:
            if spoken_to:  # a bare @mention
                await turn.reply(f"Say {turn.usage('help')} to see what I can do.")
            return
        if msg.direct and await standups.awaiting_answer(turn.uow, turn.team, turn.user, turn.now):
            await standups.cmd_standup(turn, turn.text)
            return
        result = await turn.assistant.classify(turn.text, where=msg.where)
        if await blockers.notice(turn, result):
            return
        if spoken_to:
            await chatter.answer(turn, result)
