"""One message being handled (`Turn`), the shape of a command (`Command`), and the small checks
every use case shares: which number was meant, who may do what, where an answer goes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bot.assistant import Assistant
from bot.model import Action, Blocker, InboundMessage, Member, Outgoing, Request, Role, Section, Team, Where
from bot.ports import Cron, UnitOfWork, reply_place
from bot.text import mention, parse_number


@dataclass(frozen=True)
class Trackers:
    """The deployment's issue trackers (bot.usecases.tracking): the kinds it has credentials
    for (secrets stay in the environment), the project a team files into when it chose none
    ("github:acme/app"), and per chat platform a web link back to a place in it."""

    kinds: frozenset[str] = frozenset()
    default: str | None = None
    links: Mapping[str, Link] = field(default_factory=dict)


# A web address of a place in a chat platform: (the place, the message there) -> URL, or None.
Link = Callable[[Where, str | None], str | None]

# How a platform spells a command typed as one of its own slash commands (Slack: `/request`,
# `/producer accept 3`). The adapter that knows supplies it; elsewhere commands are plain words.
Spelling = Callable[[str], str]


@dataclass
class Turn:
    """One message being handled: who said it, where, and what the bot will say back."""

    msg: InboundMessage
    uow: UnitOfWork
    member: Member
    text: str
    slash: bool  # came as a slash command: show slash-style usage in hints
    assistant: Assistant
    cron: Cron | None = None
    commands: Sequence[Command] = ()  # the whole table, for `help`
    spellings: Mapping[str, Spelling] = field(default_factory=dict)
    trackers: Trackers = field(default_factory=lambda: Trackers())

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
        spell = self.spellings.get(self.msg.where.platform) if self.slash else None
        return f"`{spell(command) if spell else command}`"

    async def say(self, out: Outgoing) -> None:
        await self.uow.outbox.add(out)

    async def reply(self, text: str, *, sections: tuple[Section, ...] = (),
                    actions: tuple[Action, ...] = (), private: bool = False,
                    key: str | None = None, where: Where | None = None,
                    surface: str = "message", thread_key: str | None = None) -> None:
        """Answer in place: visibly, or only to the sender when `private`."""
        place = where or reply_place(self.msg)
        shared = not self.msg.direct
        await self.say(Outgoing(
            where=place, text=text, sections=sections, actions=actions, key=key,
            private_to=self.user if private and shared else None,
            reply_to=self.user if shared and not private else None, surface=surface,
            thread_key=thread_key,
        ))

    async def tell(self, user: str, text: str, *, sections: tuple[Section, ...] = (),
                   actions: tuple[Action, ...] = ()) -> None:
        """A 1:1 message to someone, wherever this turn happened."""
        if user == self.user and self.msg.direct:
            await self.reply(text, sections=sections, actions=actions)
            return
        await self.say(Outgoing(where=self.msg.where.in_thread(None), text=text,
                                sections=sections, actions=actions, to_user=user))

    # ---- checks the use cases share --------------------------------------------------------

    @property
    def is_producer(self) -> bool:
        return self.member.role == Role.PRODUCER and not self.outsider

    @property
    def outsider(self) -> bool:
        """From another organisation (a Slack Connect channel): may report and request, never
        hold a role or see the whole team's lists."""
        return self.msg.outsider or self.member.outsider

    async def becomes(self, role: Role) -> None:
        """What someone does gives them a role, once: reporting a blocker or a standup makes a
        member an engineer, filing a request a stakeholder. A role they have is kept."""
        if self.member.role == Role.MEMBER and not self.outsider:
            await self.uow.members.set_role(self.team, self.user, role)
            self.member.role = role

    async def members_only(self, what: str) -> bool:
        """Refuse `what` to an outsider (True: refused, and told why)."""
        if not self.outsider:
            return False
        await self.reply(f"{what} is for this team's own members; you are here from another "
                         "organisation. You can still report blockers and file requests.",
                         private=True)
        return True

    async def producers(self) -> list[str]:
        return [m.user for m in await self.uow.members.list(self.team) if m.role == Role.PRODUCER]

    async def deny(self, what: str) -> None:
        producers = await self.producers()
        who = ", ".join(mention(p) for p in producers) if producers else "nobody yet"
        await self.reply(f"Only producers can {what}. Producers here: {who}.", private=True)

    async def number_arg(self, args: str, usage: str) -> tuple[int, str] | None:
        """`7 some note` -> (7, "some note"); None (and a usage hint) without a number."""
        words = args.split(None, 1)
        number = parse_number(words[0]) if words else None
        if number is None:
            await self.reply(f"Which one? Usage: {self.usage(usage)}", private=True)
            return None
        return number, (words[1].strip() if len(words) > 1 else "")

    async def blocker(self, number: int) -> Blocker | None:
        blocker = await self.uow.blockers.get(self.team, number)
        if blocker is None:
            await self.reply(f"There is no blocker #{number} here.", private=True)
        return blocker

    async def request(self, number: int) -> Request | None:
        request = await self.uow.requests.get(self.team, number)
        if request is None:
            await self.reply(f"There is no request #{number} here.", private=True)
        return request

    async def save(self, request: Request) -> None:
        request.updated_at = self.now
        await self.uow.requests.save(request)


Handler = Callable[[Turn, str], Awaitable[None]]


@dataclass(frozen=True)
class Command:
    """A row of the command table: its word, how to call it, what `help` says, who runs it."""

    name: str
    args: str
    summary: str
    handler: Handler
    group: str
    aliases: tuple[str, ...] = ()
