"""The requester's Yes or No to "Is that your answer to *who has this problem*?", asked when a
message in a discovery thread looked like something else (bot.offtopic). Yes records it exactly
as a typed answer; No leaves the question open and treats the message as what it looked like."""

from __future__ import annotations

import dataclasses

from bot.text import parse_number
from bot.turn import Command, Turn
from bot.usecases import blockers, discovery


async def cmd_answer(turn: Turn, args: str) -> None:
    words = args.split()
    number = parse_number(words[0]) if words else None
    if number is None or len(words) < 2 or words[1].lower() not in ("yes", "no"):
        request = await discovery.discovery_for(turn)
        if request is not None:  # in a 1:1 discovery, "answer ..." may be someone's answer
            await discovery.answer(turn, request)
        else:
            await turn.reply(f"Usage: {turn.usage('answer <number> yes|no')} (the buttons under "
                             "my question do this for you).", private=True)
        return
    yes, token = words[1].lower() == "yes", (words[2] if len(words) > 2 else "")
    request = await turn.uow.requests.get(turn.team, number)
    if request is None or request.requester != turn.user:
        await turn.reply(f"Only the person who filed request #{number} can say what their "
                         "message meant.", private=True)
        return
    question = request.current_question
    held = discovery.pending_of(request)
    if held is None or question is None or held.get("field") != question.field:
        # A second click on the same buttons, or a prompt overtaken by a plain answer.
        await turn.reply(f"That's already settled for request #{number}; nothing changed.",
                         private=True)
        return
    if token and held.get("token") != token:  # typed without one: the message held now
        await turn.reply("Those buttons were for an earlier message; please use the newest "
                         "ones.", private=True)
        return
    where = discovery.discovery_place(turn, request)
    text = held["text"]
    if yes:
        await discovery.answer(turn, request, text=text, message_id=held.get("message") or None,
                               confirmed=True)
        return
    request.answers.pop(discovery.PENDING, None)
    await turn.save(request)
    await turn.reply(f"OK, I'll leave that one out. Still waiting on: *{question.text}* "
                     "(or `skip`)", where=where)
    # Not an answer: then it is what it looked like. A blocker report is tracked as it would
    # have been anywhere else; anything else (a question, news) is for the team to read.
    said = dataclasses.replace(turn.msg, text=text, kind="message",
                               message_id=held.get("message") or None)
    as_said = dataclasses.replace(turn, msg=said, text=text)
    await blockers.notice(as_said, await turn.assistant.classify(text, where=said.where))


COMMANDS = (
    Command("answer", "<n> yes|no", "(a button) was your message the answer to the question "
            "waiting on request n?", cmd_answer, "Requests"),
)
