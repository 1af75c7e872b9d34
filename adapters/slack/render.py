"""Outgoing messages to Block Kit, built with slack_sdk's models, within Slack's limits. Every
text is escaped (markup.escape): people's words in it are shown, never parsed as markup."""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    SectionBlock,
)
from slack_sdk.models.views import View

from adapters.slack.markup import escape
from bot.model import DISCOVERY_QUESTIONS, Outgoing

MAX_BLOCKS = 50  # per message (the SDK does not check this one)
MAX_VIEW_BLOCKS = 100
MAX_SECTION = 3000
MAX_BUTTONS = 25
MAX_FALLBACK = 3000  # the notification text; the blocks carry the rest


def _cut(line: str, limit: int) -> int:
    """Where to hard-cut an overlong line: not inside an escape (`&lt;`) or a token (`<@U1>`)."""
    head = line[:limit]
    for opener, closer in (("&", ";"), ("<", ">")):
        start = head.rfind(opener)
        if 0 < start and closer not in head[start:] and limit - start <= 48:
            return start
    return limit


def _chunks(text: str, limit: int = MAX_SECTION) -> list[str]:
    """Split on line boundaries so each piece fits a section block."""
    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:  # one enormous line: hard cut
            if current:
                pieces.append(current)
                current = ""
            cut = _cut(line, limit)
            pieces.append(line[:cut])
            line = line[cut:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            pieces.append(current)
            current = line
        else:
            current = candidate
    if current:
        pieces.append(current)
    return pieces or [""]


def action_id(index: int, needs_reason: bool, form: bool = False) -> str:
    """`cmd:0` runs its command; `reason:0` asks for a reason first, `form:0` for a form."""
    return f"{'form' if form else 'reason' if needs_reason else 'cmd'}:{index}"


def blocks_for(out: Outgoing, max_blocks: int = MAX_BLOCKS) -> list[Block]:
    # Escaped before it is cut: what counts against Slack's limits is the text as sent.
    body: list[Block] = [SectionBlock(text=chunk) for chunk in _chunks(escape(out.text))]
    for section in out.sections:
        text = escape((f"*{section.title}*\n" if section.title else "") + section.text)
        body += [SectionBlock(text=chunk) for chunk in _chunks(text)]
    buttons = [
        ButtonElement(text=a.label[:75], action_id=action_id(i, a.needs_reason, bool(a.form)),
                      value=a.command[:2000], style=a.style if a.style in ("primary", "danger") else None)
        for i, a in enumerate(out.actions[:MAX_BUTTONS])
    ]
    tail: list[Block] = [ActionsBlock(elements=buttons)] if buttons else []
    room = max_blocks - len(tail)
    if len(body) > room:
        hidden = len(body) - (room - 1)
        body = body[: room - 1] + [ContextBlock(elements=[MarkdownTextObject(
            text=f"…and {hidden} more block{'s' if hidden != 1 else ''} not shown here.")])]
    return body + tail


def message_payload(out: Outgoing) -> dict[str, Any]:
    """Arguments for chat.postMessage / chat.postEphemeral: text fallback plus blocks."""
    text = out.text if len(out.text) <= MAX_FALLBACK else out.text[: MAX_FALLBACK - 1] + "…"
    return {"text": escape(text), "blocks": [b.to_dict() for b in blocks_for(out)]}


def home_view(out: Outgoing) -> View:
    return View(type="home", blocks=blocks_for(out, MAX_VIEW_BLOCKS))


def _input(block_id: str, label: str, *, optional: bool, multiline: bool, max_length: int,
           initial: str | None = None) -> InputBlock:
    return InputBlock(block_id=block_id, label=label, optional=optional, element=PlainTextInputElement(
        action_id="value", multiline=multiline, max_length=max_length, initial_value=initial))


def reason_modal(command: str, label: str, metadata: dict[str, Any]) -> View:
    """Asks for the line of text an action needs (a decline reason, why "not yet")."""
    return View(
        type="modal", callback_id="reason", title=label[:24], submit="Send", close="Cancel",
        private_metadata=json.dumps({**metadata, "command": command}),
        blocks=[_input("reason", "Reason (the requester sees it)", optional=False, multiline=True,
                       max_length=2000)],
    )


def request_modal(metadata: dict[str, Any]) -> View:
    """`/request` with no title: the title and the discovery questions in one form."""
    fields = [_input("title", "Title", optional=False, multiline=False, max_length=200)]
    for question in DISCOVERY_QUESTIONS:
        fields.append(_input(question.field, question.text, optional=not question.required,
                             multiline=True, max_length=2000))
    return View(type="modal", callback_id="request_form", title="New request", submit="File it",
                close="Cancel", private_metadata=json.dumps(metadata), blocks=fields)


def form_modal(command: str, title: str, fields: tuple[tuple[str, str, str], ...],
               metadata: dict[str, Any]) -> View:
    """A prefilled form an action needs (Edit answers); submitted, it runs `command` with the
    fields. Emptied fields are optional: the core keeps the answer it had."""
    blocks = [_input(field, label[:2000], optional=True, multiline=True, max_length=2000,
                     initial=value[:2000] or None) for field, label, value in fields]
    return View(type="modal", callback_id="form", title=title[:24], submit="Save", close="Cancel",
                private_metadata=json.dumps({**metadata, "command": command}),
                blocks=blocks[:MAX_VIEW_BLOCKS])
