"""What the bot says to words addressed to it that are no command: a typo gets the command it
was probably meant to be, a request in plain words gets a button to file it, a greeting or a
question about the bot gets a short answer. Nothing said to the bot goes unanswered."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

from bot.classify import Classification
from bot.model import Action
from bot.text import MAX_TITLE, one_line
from bot.turn import Turn
from bot.usecases import overview

_GREETING = re.compile(
    r"^(hi|hello|hey|hiya|yo|howdy|good (morning|afternoon|evening)|hola|buenos d[ií]as|ol[aá]|"
    r"bom dia|bonjour|salut|hallo|moin|guten (morgen|tag)|ciao|buongiorno|hoi|dzie[nń] dobry|"
    r"cze[sś][cć]|namaste)\b[\s!.,]*(?:\S+[\s!.]*)?$", re.IGNORECASE)
_THANKS = re.compile(r"^(thanks?|thank you|thx|ty|cheers|gracias|obrigad[oa]|merci|danke|grazie|"
                     r"dank je|dzi[eę]kuj[eę])\b", re.IGNORECASE)
_ABOUT_THE_BOT = re.compile(
    r"\b(help|what (can|do) you do|what are you|who are you|how (does|do) (this|it|you|i) "
    r"work|how do i use|commands?)\b", re.IGNORECASE)
REQUEST_CONFIDENCE = 0.7


def nearest(word: str, names: Iterable[str]) -> str | None:
    """The command a mistyped word most likely meant (`resolv` -> `resolve`), if any is close."""
    found = difflib.get_close_matches(word.lower(), list(names), n=1, cutoff=0.8)
    return found[0] if found else None


async def answer(turn: Turn, result: Classification) -> None:
    """Free text said to the bot (1:1, or with an @mention) that was not a blocker; `result`
    is what the classifier made of it."""
    text = turn.text
    words = text.split(None, 1)
    names = {name for command in turn.commands for name in (command.name, *command.aliases)}
    meant = nearest(words[0], names) if words and len(words[0]) >= 4 else None
    if meant:
        command = " ".join([meant, *words[1:]])
        await turn.reply(f"Did you mean {turn.usage(one_line(command, 80))}?",
                         actions=(Action(one_line(command, 40), command),), private=True)
        return
    if _ABOUT_THE_BOT.search(text):
        await overview.cmd_help(turn, "")
        return
    if _GREETING.match(text):
        await turn.reply(
            "Hi! I keep track of blockers, ask what problem each request solves, and send "
            f"standups and digests. {turn.usage('help')} lists what I can do.")
        return
    if _THANKS.match(text):
        await turn.reply("You're welcome.", private=True)
        return
    if result.label == "request" and result.confidence >= REQUEST_CONFIDENCE:
        title = one_line(text.split("\n", 1)[0], MAX_TITLE - 20)
        await turn.reply(
            "That sounds like a request. Shall I file it? I'll ask a few questions about the "
            f"problem it solves first. (Or say {turn.usage('request <title>')}.)",
            actions=(Action("File as request", f"request {title}", style="primary"),),
            private=True)
        return
    await turn.reply(
        f"I didn't catch a command there. {turn.usage('help')} lists them; to track "
        f"a blocker say {turn.usage('blocker <what blocks you>')}.",
        private=not turn.msg.direct)
