"""What every tracker adapter (GitHub, Jira, Linear) shares: the effects it performs for the
core, what a webhook tells the core, and the marker that makes filing exactly once.

A tracker effect travels through the outbox like a chat message (bot.model.Outgoing), so the
dispatcher's leases, retries and "may it have been delivered?" checks apply to it unchanged:

    surface "issue"          file an issue: `text` is the title, `sections` the body
                             (neutral markup: *bold*, line breaks, plain URLs); `key` is
                             "request:<n>". Returns Sent(message_id=<the tracker's id of the
                             issue>, label=<what people read: "owner/repo#12", "PROJ-12",
                             "ENG-12">, link=<its web URL>).
    surface "issue-comment"  comment on `issue` (the tracker's id): `text` is the comment.
    surface "issue-reopen"   reopen `issue` (back to an open / in-progress state); `text`, if
                             any, is said as a comment in the same effect.

`where.channel` names the tracker project the effect goes to: "github:owner/repo",
"jira:PROJ", "linear:ENG" (`project_ref`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass

from bot.model import Outgoing
from bot.ports import Sender

ISSUE, COMMENT, REOPEN = "issue", "issue-comment", "issue-reopen"
SURFACES = (ISSUE, COMMENT, REOPEN)

# What a webhook can say happened to an issue, in the core's words.
STARTED = "started"  # assigned, moved to an in-progress state
DONE = "done"  # closed as completed / done
NOT_PLANNED = "not_planned"  # closed as not planned, won't do, cancelled, duplicate
REOPENED = "reopened"  # opened again after being closed
CHANGES = (STARTED, DONE, NOT_PLANNED, REOPENED)


def project_ref(kind: str, target: str) -> str:
    """"github:owner/repo", "jira:PROJ", "linear:ENG": a tracker project, as stored."""
    return f"{kind}:{target}"


def marker(message: Outgoing) -> str:
    """A token the effect leaves in the tracker so a later attempt can find it there: for an
    issue the request it files (one issue per request, ever), for a comment the outbox row
    (`delivery_id`). The team appears only as a hash: issues can be public."""
    team = hashlib.sha256(
        f"{message.where.platform}:{message.where.tenant}".encode()).hexdigest()[:12]
    what = (message.key or "").replace(":", "-") if message.surface == ISSUE \
        else (message.delivery_id or "")
    return f"{MARKER_PREFIX}{team}-{what}"


MARKER_PREFIX = "producer-bot-"


def defuse(text: str) -> str:
    """What people wrote, unable to pass for a marker: a word joiner (invisible) inside any
    "producer-bot-" in it, so a marker quoted in a problem statement or a `notyet` note can
    never make a later effect look done already."""
    return text.replace(MARKER_PREFIX, "producer-bot\u2060-")


def signed(secret: str | bytes, body: bytes, hex_digest: str | None) -> bool:
    """Is `hex_digest` the HMAC-SHA256 of `body` under `secret`? (GitHub, Jira and Linear all
    sign this way, each in its own header.) Constant-time; False for a missing secret."""
    key = secret.encode() if isinstance(secret, str) else secret
    if not key or not hex_digest:
        return False
    expected = hmac.new(key, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, hex_digest.strip().lower())


def json_object(body: bytes, tracker: str) -> dict:  # type: ignore[type-arg]
    """A webhook body as the JSON object every tracker sends; ValueError for anything else."""
    try:
        payload = json.loads(body)
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        raise ValueError(f"not a {tracker} webhook body: {exc}") from None
    if not isinstance(payload, dict):
        raise ValueError(f"not a {tracker} webhook body: not an object")
    return payload


@dataclass(frozen=True)
class TrackerChange:
    """What one webhook delivery says happened to one issue."""

    project: str  # project_ref of the tracker project the issue is in
    issue: str  # the tracker's id of the issue, as Sent.message_id gave it when filed
    change: str  # one of CHANGES
    delivery: str  # the delivery's id (X-GitHub-Delivery, ...): one delivery, one effect
    actor: str | None = None  # who did it, as the tracker names them
    reason: str | None = None  # why, in the tracker's words (a resolution, a state name)
    label: str | None = None  # "owner/repo#12", "PROJ-12"
    link: str | None = None


class Tracker(Sender, ABC):
    """One tracker project's client. `send` performs an effect (see the module docstring);
    `find_sent` looks for its marker, so an effect cut off mid-way is not done twice. Errors:
    RetryLater (rate limits, 5xx before anything happened), Undeliverable (bad token, no such
    project: for good), MaybeDelivered (a cut connection or timeout during a create)."""

    kind: str  # "github" | "jira" | "linear"
    project: str  # project_ref

    async def close(self) -> None:
        """Release the HTTP client."""


class Webhook(ABC):
    """A tracker's webhook: verify a delivery against the shared secret, then read it."""

    kind: str

    @abstractmethod
    def verify(self, headers: Mapping[str, str], body: bytes) -> bool:
        """True only for a delivery signed with the configured secret (and, where the tracker
        dates its deliveries, a fresh one). Never raises."""

    @abstractmethod
    def parse(self, headers: Mapping[str, str], body: bytes) -> list[TrackerChange]:
        """The changes a verified delivery reports ([] for events that mean nothing to the
        bot). Raises ValueError for a body that is not what the tracker sends."""
