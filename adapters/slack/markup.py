"""Slack's text markup, both ways. Pure functions.

Everything in `<...>` is markup to Slack: `<@U123>` a mention, `<#C123|general>` a channel,
`<!here>` a broadcast, `<!subteam^S1|@oncall>` a user group, `<https://x|label>` a link whose
label may say anything. `&`, `<` and `>` that a person typed arrive as `&amp;`, `&lt;`, `&gt;`
(docs.slack.dev/messaging/formatting-message-text).

In (`readable`; `plain` for a form's inputs, which Slack sends as typed): what people wrote, as
they read it. A link becomes its label with the address beside it, broadcasts and groups become
words, escapes are decoded; only a real mention stays, as `<@U123>`, the core's own neutral
mention token.

Out (`escape`): text as Slack shows it and never as markup. Everything is escaped but the core's
`<@USER>` and `<#CHANNEL>` tokens, so nothing a person typed becomes a link, a broadcast or a
mention they did not make, however it is echoed (a reply, a list, a digest, the Home tab).
"""

from __future__ import annotations

import re

_MARKUP = re.compile(r"<([^<>]*)>")
_ENTITY = re.compile(r"&(amp|lt|gt);")
_DECODED = {"amp": "&", "lt": "<", "gt": ">"}
# The core's tokens, as Slack ids: users are U... or W..., channels C..., G... or D....
USER_ID = re.compile(r"[UW][A-Z0-9]{1,40}")
_TOKEN = re.compile(r"<(?:@[UW][A-Z0-9]{1,40}|#[CGD][A-Z0-9]{1,40})>")
# A typed "<@U1>" (it came as "&lt;@U1&gt;") would read as a mention once decoded: a zero-width
# non-joiner after the "<" keeps it visibly the same and no token (clean() keeps U+200C); so does
# one at the end of a piece of text, which the markup after it could complete ("<" + "@here").
_TOKEN_START = re.compile(r"<(?=[@#]|$)")
_BROADCAST_WORD = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
_SCHEMES = ("mailto:", "tel:", "https://", "http://")
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def _typed(text: str) -> str:
    """Literal text: its escapes decoded, with nothing in it that reads as a core token."""
    return _TOKEN_START.sub("<\u200c", _ENTITY.sub(lambda m: _DECODED[m.group(1)], text))


def _one(inner: str) -> str:
    target, _, label = inner.partition("|")
    label = _typed(label)
    if target.startswith("@"):
        user = target[1:]
        return f"<@{user}>" if USER_ID.fullmatch(user) else (label or _typed(target))
    if target.startswith("#"):
        return "#" + (label or _typed(target[1:]))
    if target.startswith("!"):
        special = target[1:]
        kind = special.split("^", 1)[0].lower()
        if kind == "subteam":
            return label if label.startswith("@") else "@" + (label or "group")
        if kind in ("here", "channel", "everyone", "group"):
            return "@" + kind
        return label or _typed(special)  # <!date^...|fallback> and whatever comes next
    # A link: the address stays in sight, whatever its label claims to be.
    url = _typed(target)
    bare = next((url[len(s):] for s in _SCHEMES if url.lower().startswith(s)), url)
    if not label or label in (url, bare):
        return label or url
    return f"{label} ({url})"


def readable(text: str) -> str:
    """Slack's encoded text (messages, slash commands) as the person read it."""
    pieces, end = [], 0
    for match in _MARKUP.finditer(text):
        pieces += [_typed(text[end:match.start()]), _one(match.group(1))]
        end = match.end()
    pieces.append(_typed(text[end:]))
    return "".join(pieces)


def plain(text: str) -> str:
    """Text typed into a modal's input, which Slack sends as typed (no markup, no escapes):
    kept as it is, but for what would read as a core token."""
    return _TOKEN_START.sub("<\u200c", text)


def escape(text: str) -> str:
    """Text for a Slack message, Home tab or modal: only the core's own tokens stay markup."""
    pieces, end = [], 0
    for match in _TOKEN.finditer(text):
        pieces += [text[end:match.start()].translate(_ESCAPES), match.group(0)]
        end = match.end()
    pieces.append(text[end:].translate(_ESCAPES))
    # Plain "@here" pings nobody without link_names (never set); a zero-width space keeps it so
    # should a client ever read it otherwise.
    return _BROADCAST_WORD.sub("@\u200b\\1", "".join(pieces))
