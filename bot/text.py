"""Small text helpers shared by the use cases: cleaning what people type, user references,
and the ages and dates the bot prints."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime

# Slack's own message limit is 40,000 characters; nothing the bot tracks needs more than this,
# and a limit keeps digests and cards readable.
MAX_TEXT = 4000
MAX_TITLE = 200

# Dropped: controls, zero-width spaces, direction marks and overrides, the Arabic letter mark,
# the word joiner and invisible operators, the byte-order mark, and tag characters (they can
# spell out text nobody sees, which a language model would read; the price is that a
# subdivision flag such as Scotland's shows as a plain black flag).
# U+200C and U+200D (zero-width non-joiner and joiner) are not here: Persian spelling needs the
# first, and emoji sequences such as 👩‍💻 or 🏳️‍🌈 are glued together by the second.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f\u202a-\u202e"
                      r"\u2060-\u2064\u2066-\u2069\ufeff\U000e0000-\U000e007f]")
_SPACES = re.compile(r"[ \t]+")
_USER_REF = re.compile(r"^<@([A-Za-z0-9._\-]+)(?:\|[^>]*)?>$")


def clean(text: str) -> str:
    """Drop control and invisible direction-override characters, fold runs of blanks.

    Direction overrides (U+202E and friends) can make a stored title read differently from what
    was typed; emoji, right-to-left scripts and ordinary line breaks are kept as they are.
    """
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    # Normalised after the controls are gone: removing one afterwards could bring a letter and a
    # combining mark together that NFC composes, and clean(clean(x)) would differ from clean(x).
    text = unicodedata.normalize("NFC", text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return "\n".join(lines).strip()


def one_line(text: str, limit: int = 120) -> str:
    """A single-line preview, cut on a word boundary with an ellipsis."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1].rsplit(" ", 1)[0] or flat[: limit - 1]
    return cut + "…"


def user_ref(token: str) -> str | None:
    """The user id in `<@U123>`, `<@U123|name>`, `@name` or `name`; None for empty input."""
    token = token.strip()
    match = _USER_REF.match(token)
    if match:
        return match.group(1)
    token = token.lstrip("@").strip()
    return token or None


def mention(user: str) -> str:
    """The neutral mention token; every adapter renders it its own way."""
    return f"<@{user}>"


def age(start: datetime, now: datetime) -> str:
    seconds = max(0, int((now - start).total_seconds()))
    if seconds < 3600:
        return f"{max(1, seconds // 60)}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def parse_number(token: str) -> int | None:
    """`7`, `#7`, `R7`, `B7` -> 7."""
    token = token.strip().lstrip("#")
    if token[:1] in ("r", "R", "b", "B"):
        token = token[1:]
    # ASCII only: "²" is a digit to str.isdigit but not to int().
    return int(token) if token.isascii() and token.isdigit() and len(token) < 10 else None
