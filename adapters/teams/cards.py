"""Outgoing messages to Adaptive Cards (schema 1.5, what Teams renders): pure functions.

Every message is a card. A TextBlock renders the same on every Teams client and never interprets
HTML, so what people typed is shown as typed; the card's fallback text and the activity's summary
carry the plain text for notifications and screen readers.

Buttons are Action.Execute (Universal Actions) whose data is the command they stand for; an action
that needs a reason opens an inline form (Action.ShowCard) with a required text input.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from bot.model import DISCOVERY_QUESTIONS, Action, Outgoing, Section
from bot.text import parse_number

CARD_VERSION = "1.5"
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
# Teams refuses messages over about 100 KB (older clients: 40 KB; some connectors: 28 KB). The
# bot stays well under the smallest of these so no client ever drops one of its cards.
MAX_CARD_BYTES = 24_000
# A card with a chart carries the PNG inline (a data: URL), and is allowed more: Teams takes bot
# messages up to about 100 KB and recommends staying within 80 KB for delivery to be sure. The
# words stay within MAX_CARD_BYTES as ever; a chart that would take the card past this is left
# out (the text and the chart's alt text say the same).
MAX_CHART_CARD_BYTES = 80_000
MAX_ALT_TEXT = 1000
MAX_TEXT_BLOCK = 4000
MAX_SUMMARY = 300
MAX_ACTIONS = 6  # what Teams shows in a card's action bar
MAX_BUTTONS = 25
# The core's answer to `request` with no title; Teams shows the form that files one instead.
REQUEST_FORM = "request-form"
REQUEST_FORM_SUMMARY = "New request: tell me what you need."
VERB = "command"

_MENTION = re.compile(r"<@([^>\s]{1,128})>")
_BOLD = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_CODE = re.compile(r"`([^`\n]+)`")
_OPAQUE = re.compile(r"^[0-9a-fA-F-]{32,36}$|:")
# The words of the core's commands that act on blockers; every other numbered button acts on a
# request. A click answered in place removes the buttons that acted on the same thing.
BLOCKER_COMMANDS = ("resolve", "dismiss")


def display_name(user: str, names: Mapping[str, str]) -> str:
    if names.get(user):
        return inert(names[user])
    # An Entra object id or a Teams account id means nothing to a reader.
    return "someone" if _OPAQUE.search(user) else user


def mentioned_users(out: Outgoing) -> set[str]:
    texts = [out.text] + [s.text for s in out.sections] + [s.title or "" for s in out.sections]
    return {m for t in texts for m in _MENTION.findall(t)}


# Card markdown turns [label](url) into a live link (and [label][ref] with a `[ref]: url` line).
# The core never sends links, so any in the text were typed by people: break the syntax (a
# zero-width space) so a typed "[Approve](evil)" cannot become a relabelled link inside the bot's
# own card. Bare URLs stay as typed: what they say is where they go.
_LINK = re.compile(r"\](\s*)([(\[:])")

# What the adapter inserts itself (a display name, a request title) is all the person's: every
# character card markdown reads as markup becomes a look-alike that is only text, since
# backslash escapes render differently on Teams' desktop and mobile clients. A name is no place
# for a URL either, so its scheme is broken too.
_INERT = str.maketrans({"*": "\u2217", "_": "\uff3f", "`": "\u02cb", "~": "\u223c",
                        "[": "\uff3b", "]": "\uff3d", "\\": "\u29f5"})
_AUTOLINK = re.compile(r"(?i)\b(https?|ftp|mailto|www)([:.])")


def inert(text: str) -> str:
    """`text`, which a person controls, as card markdown that shows it and nothing else: no
    bold, italics, code, links or autolinked URLs."""
    return _AUTOLINK.sub("\\1\u200b\\2", text.translate(_INERT))


def _defuse(text: str) -> str:
    return _LINK.sub("]\u200b\\1\\2", text)


def markdown(text: str, names: Mapping[str, str]) -> str:
    """The core's neutral markup (*bold*, `command`, <@USER>) as Adaptive Card markdown."""
    text = _BOLD.sub(r"**\1**", text)
    text = _CODE.sub(r"**\1**", text)  # cards have no code spans
    # Names last, so that no rule above reads them; they are inert, and the link syntax is
    # broken once more over the whole text.
    text = _defuse(_MENTION.sub(lambda m: f"**{display_name(m.group(1), names)}**", text))
    # A single line break is not one in card markdown on every client; a blank line always is.
    return "\n\n".join(line for line in text.split("\n"))


def plain(text: str, names: Mapping[str, str]) -> str:
    text = text.replace("*", "").replace("`", "")
    # The fallback text and the summary may be rendered as markdown too.
    text = _defuse(_MENTION.sub(lambda m: display_name(m.group(1), names), text))
    return " ".join(text.split())


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _text_block(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": _cut(text, MAX_TEXT_BLOCK), "wrap": True, **extra}


def _section(section: Section, names: Mapping[str, str]) -> dict[str, Any]:
    items = []
    if section.title:
        items.append(_text_block(markdown(section.title, names), weight="Bolder"))
    items.append(_text_block(markdown(section.text, names) or " ", spacing="Small"))
    return {"type": "Container", "separator": True, "spacing": "Medium", "items": items}


def _style(action: Action) -> str:
    return {"primary": "positive", "danger": "destructive"}.get(action.style or "", "default")


def action_element(action: Action, index: int) -> dict[str, Any]:
    title = _cut(action.label, 60)
    command = action.command[:300]
    if action.form:
        return _form_action(action, title, command)
    if not action.needs_reason:
        return {"type": "Action.Execute", "title": title, "verb": VERB,
                "data": {"command": command}, "style": _style(action)}
    # Input ids must be unique within a card; the data names the one to read.
    field = f"reason_{index}"
    return {"type": "Action.ShowCard", "title": title, "card": {
        "type": "AdaptiveCard",
        "body": [{"type": "Input.Text", "id": field, "label": "Reason (they will see it)",
                  "isMultiline": True, "isRequired": True, "maxLength": 2000,
                  "errorMessage": "Please give a reason."}],
        "actions": [{"type": "Action.Execute", "title": "Send", "verb": VERB, "style": _style(action),
                     "data": {"command": command, "input": field}}],
    }}


# A prefilled form's inputs are named `form_<field>`; the submit's data says to read them.
FORM_INPUT = "form_"
FORM_SUBMIT = "fields"


def _form_action(action: Action, title: str, command: str) -> dict[str, Any]:
    """An action that needs a form first (Edit answers): an inline card of prefilled inputs."""
    body = [{"type": "Input.Text", "id": f"{FORM_INPUT}{field}", "label": label,
             "value": value[:2000], "isMultiline": True, "maxLength": 2000}
            for field, label, value in action.form]
    return {"type": "Action.ShowCard", "title": title, "card": {
        "type": "AdaptiveCard", "body": body,
        "actions": [{"type": "Action.Execute", "title": "Save", "verb": VERB,
                     "style": "positive", "data": {"command": command, "form": FORM_SUBMIT}}],
    }}


def _actions(actions: tuple[Action, ...]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(the card's action bar, extra ActionSets for the body) within Teams' limits."""
    elements = [action_element(a, i) for i, a in enumerate(actions[:MAX_BUTTONS])]
    if len(elements) <= MAX_ACTIONS:
        return elements, []
    sets = [{"type": "ActionSet", "actions": elements[i:i + MAX_ACTIONS - 1]}
            for i in range(0, len(elements), MAX_ACTIONS - 1)]
    return [], sets


def _card(body: list[dict[str, Any]], actions: list[dict[str, Any]], fallback: str) -> dict[str, Any]:
    card: dict[str, Any] = {"type": "AdaptiveCard", "$schema": SCHEMA, "version": CARD_VERSION,
                            "body": body, "fallbackText": fallback}
    if actions:
        card["actions"] = actions
    return card


def size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False).encode())


def card_for(out: Outgoing, names: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The card for one Outgoing message, cut to fit: sections that would not fit are replaced
    by a line saying how many were left out."""
    names = names or {}
    fallback = _cut(plain(out.text, names), 1000)
    head = [_text_block(markdown(out.text, names) or " ")]
    bar, sets = _actions(out.actions)
    sections = [_section(s, names) for s in out.sections]
    kept = len(sections)
    while True:
        hidden = len(sections) - kept
        note = [_text_block(f"…and {hidden} more section{'s' if hidden != 1 else ''} not shown "
                            "here.", isSubtle=True, separator=True)] if hidden else []
        card = _card(head + sections[:kept] + note + sets, bar, fallback)
        if size(card) <= MAX_CARD_BYTES or kept == 0:
            return card
        kept -= 1


def chart_image(png: bytes, alt: str) -> dict[str, Any]:
    """The chart as an Image element: inline PNG (a data: URL, no image host needed), its alt
    text for screen readers, as wide as the card."""
    return {"type": "Image", "url": "data:image/png;base64," + base64.b64encode(png).decode(),
            "altText": _cut(alt, MAX_ALT_TEXT), "size": "stretch", "spacing": "Medium"}


def with_chart(card: dict[str, Any], png: bytes, alt: str) -> dict[str, Any] | None:
    """`card` with the chart shown under its first line (the message's text), or None when the
    card would then be too big for Teams."""
    body = list(card["body"])
    charted = {**card, "body": body[:1] + [chart_image(png, alt)] + body[1:]}
    return charted if size(charted) <= MAX_CHART_CARD_BYTES else None


def summary(out: Outgoing, names: Mapping[str, str] | None = None) -> str:
    """The notification text of a message."""
    return _cut(plain(out.text, names or {}), MAX_SUMMARY)


def request_form() -> dict[str, Any]:
    """`request` with no title: the title and the discovery questions in one form."""
    body: list[dict[str, Any]] = [
        _text_block("New request", weight="Bolder", size="Medium"),
        _text_block("Say what you need and, above all, what problem it solves. Only the title and "
                    "the problem are required.", isSubtle=True, spacing="Small"),
        {"type": "Input.Text", "id": "title", "label": "Title", "isRequired": True,
         "maxLength": 200, "errorMessage": "A short title, please."},
    ]
    for question in DISCOVERY_QUESTIONS:
        field: dict[str, Any] = {"type": "Input.Text", "id": question.field, "label": question.text,
                                 "isMultiline": True, "maxLength": 2000}
        if question.required:
            field.update(isRequired=True, errorMessage="This is the one question a request needs.")
        body.append(field)
    submit = {"type": "Action.Execute", "title": "File it", "verb": "request",
              "style": "positive", "data": {"form": "request"}}
    return _card(body, [submit], "A form to file a new request.")


def filed_card(title: str) -> dict[str, Any]:
    """What replaces the form once it is submitted, so it cannot be sent twice."""
    return _card([_text_block(f"Filing your request **{inert(_cut(title, 150))}**…")], [],
                 "Filing your request.")


# ---- answering a click on the card itself ------------------------------------------------------


def _subject(command: str) -> tuple[str, int] | None:
    words = command.split()
    number = parse_number(words[1]) if len(words) > 1 else None
    if number is None:
        return None
    return ("blocker" if words[0].lower() in BLOCKER_COMMANDS else "request", number)


def merge_answer(card: Outgoing, answer: Outgoing, clicked: str) -> Outgoing:
    """The card a click was answered on, updated: the buttons that acted on the same blocker or
    request go, the answer is added below, and the answer's own buttons come next."""
    subject = _subject(clicked)
    kept = tuple(a for a in card.actions
                 if a.command != clicked and (subject is None or _subject(a.command) != subject))
    return replace(card, sections=card.sections + (Section(answer.text),) + answer.sections,
                   actions=kept + answer.actions)
