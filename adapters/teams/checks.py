"""What an activity's body must be before anything reads it: how it is shaped, and where the
bot's replies to it would go. Pure functions on the parsed JSON, checked before the token (a
large body costs botbuilder seconds of CPU) and before anything is stored."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from urllib3.util import parse_url

from adapters.config import is_loopback
from adapters.teams.translate import has_control

# ---- the shape of a body, checked before anything expensive -------------------------------------

# An activity is a few levels deep and holds a few lists of a few entries (mentions, attachments,
# members added); botbuilder's model spends seconds of CPU on a body of thousands of them, so
# anything far beyond what Teams sends is refused before it is read.
MAX_DEPTH = 32
MAX_ITEMS = 2000


def shape_problem(value: Any, max_depth: int = MAX_DEPTH, max_items: int = MAX_ITEMS) -> str | None:
    """Why a parsed JSON body is not shaped like an activity (too deep, too wide), or None.
    Iterative, so no body can make the check itself recurse."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > max_depth:
            return f"the body is nested more than {max_depth} levels deep"
        if len(node) > max_items:
            what = "an object" if isinstance(node, dict) else "a list"
            return f"the body holds {what} of more than {max_items} entries"
        stack.extend((child, depth + 1) for child in children)
    return None


# ---- where replies go ----------------------------------------------------------------------------

_HOST = re.compile(r"[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\]")


def service_url_problem(url: str) -> str | None:
    """Why the bot must not post replies to `url`, or None.

    botbuilder's connector sends through msrest and requests, so urllib3 reads the URL that is
    really connected to; urllib reads it differently (`http://evil\\@127.0.0.1/` is 127.0.0.1
    to urllib and evil to urllib3). Both must agree on the host, and what the two may read
    differently is refused outright: credentials (any `@`), backslashes, controls and spaces,
    percent signs in the authority, any scheme but http(s)."""
    if not url or len(url) > 2048 or "\\" in url or "@" in url or has_control(url) \
            or any(c.isspace() for c in url):
        return "the serviceUrl is not a plain http(s) URL"
    try:
        ours, theirs = urlsplit(url), parse_url(url)
        port = ours.port  # raises on a port that is not a number
    except ValueError:
        return "the serviceUrl is not a URL"
    scheme = (ours.scheme or "").lower()
    host = theirs.host or ""
    if scheme not in ("http", "https") or (theirs.scheme or "").lower() != scheme \
            or theirs.auth is not None or not _HOST.fullmatch(host) \
            or (ours.hostname or "") != host.strip("[]").lower() or (theirs.port or None) != port:
        return "the serviceUrl is not a plain http(s) URL"
    return None


def loopback_service_url(url: str) -> bool:
    """A service URL (one service_url_problem accepts) on this machine: the only kind answered
    in emulator mode, where no token says where replies may go."""
    return is_loopback((parse_url(url).host or "").strip("[]").lower())
