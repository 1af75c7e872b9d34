"""Linear: issues filed through its GraphQL API (gql on aiohttp), state read back from its
signed webhooks.

Shapes used here, checked against public material (see tests/trackers/payloads/linear/):
- API: one POST endpoint, `Authorization: <personal API key>` sent bare (OAuth tokens take
  "Bearer"; personal keys do not; developers.linear.app "Getting started", and clients such
  as linear-cli's api.ts send the key as is).
- A rate limit is a GraphQL error with `extensions.code` "RATELIMITED" and reset headers like
  `X-RateLimit-Requests-Reset` (epoch); accounts differ on its HTTP status (400 or 429), so
  either is read as one (linear.app/developers/rate-limiting, as summarised on apis.io).
- Webhooks (developers.linear.app/docs/graphql/webhooks): `Linear-Signature` is the hex
  HMAC-SHA256 of the raw body, `Linear-Delivery` a UUID per delivery, the JSON body has
  `action`, `type`, `data` (the issue, with `state {name type}`, `identifier`, `url`, `team`),
  `updatedFrom` (the previous values of the changed fields), `actor`, `webhookTimestamp` (ms).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
from gql import Client, GraphQLRequest
from gql.transport.aiohttp import AIOHTTPTransport
from gql.transport.exceptions import TransportConnectionFailed, TransportError, TransportQueryError

from adapters.trackers import base
from adapters.trackers.base import (
    Tracker,
    TrackerChange,
    Webhook,
    defuse,
    json_object,
    marker,
    project_ref,
    signed,
)
from bot.model import Outgoing
from bot.ports import MaybeDelivered, RetryLater, Sent, Undeliverable

KIND = "linear"
TIMEOUT = 30  # seconds for one API call; a timeout after sending a mutation may have done it
BACKOFF = 30.0  # seconds before retrying after a 5xx or a refused connection
RATE_LIMIT_WAIT = 60.0  # when a rate limit says nothing about its reset
SKEW_MS = 60_000  # a webhook dated further than this from now is a replay (or a bad clock)
CLOSED_TYPES = ("completed", "canceled")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)

# Only the fields we read: Linear prices queries by complexity, so we keep them small.
STATES = "states { nodes { id name type position } }"
TEAM_BY_KEY = f"""query TrackerTeamByKey($key: String!) {{
  teams(filter: {{key: {{eq: $key}}}}) {{ nodes {{ id key {STATES} }} }} }}"""
TEAM_BY_ID = f"""query TrackerTeamById($id: String!) {{
  team(id: $id) {{ id key {STATES} }} }}"""
ISSUE_CREATE = """mutation IssueCreate($input: IssueCreateInput!) {
  issueCreate(input: $input) { success issue { id identifier url } } }"""
# `contains` is a plain substring filter on the stored description, read straight from the
# database (no search index that lags behind a create, unlike GitHub's search API).
ISSUES_BY_MARKER = """query IssuesByMarker($marker: String!) {
  issues(filter: {description: {contains: $marker}}, first: 20, includeArchived: true) {
    nodes { id identifier url description } } }"""
ISSUE_DETAIL = f"""query IssueDetail($id: String!) {{
  issue(id: $id) {{ id identifier url state {{ id type }} team {{ id {STATES} }}
    comments(first: 100) {{ nodes {{ id body url }} }} }} }}"""
COMMENT_CREATE = """mutation CommentCreate($input: CommentCreateInput!) {
  commentCreate(input: $input) { success comment { id url } } }"""
ISSUE_REOPEN = """mutation IssueReopen($id: String!, $stateId: String!) {
  issueUpdate(id: $id, input: {stateId: $stateId}) { success issue { id identifier url } } }"""


def render(message: Outgoing) -> str:
    """The body as Linear's Markdown: titled sections become headings, *bold* becomes **bold**;
    line breaks and plain URLs need nothing (Linear autolinks URLs)."""
    parts = []
    for section in message.sections:
        text = _markup(section.text)
        parts.append(f"### {section.title}\n\n{text}" if section.title else text)
    return "\n\n".join(p for p in parts if p.strip())


def _markup(text: str) -> str:
    text = defuse(text)
    text = re.sub(r"<@([^>\s]+)>", r"@\1", text)  # a chat mention means nothing in Linear
    return re.sub(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])", r"**\1**", text)


def _with_marker(text: str, token: str) -> str:
    # The marker is the description's (or comment's) last line: readable, survives Linear's
    # Markdown round trip (an HTML comment would not), and is what `contains` finds.
    return f"{text}\n\n{token}" if text.strip() else token


def _has_marker(text: str | None, token: str) -> bool:
    """Exactly this marker, as the last line (where `_with_marker` puts it): "...-issue-7"
    must not match "...-issue-70", nor a marker quoted in the text above it."""
    return bool(text) and text.rstrip().rsplit("\n", 1)[-1].strip() == token


class _Transport(AIOHTTPTransport):
    """gql's transport keeps the HTTP status only for non-GraphQL answers; a 401 or 429 with
    a GraphQL error body would come back as a plain query error. We need status and headers
    (Retry-After) to tell a bad key from a rate limit, so an HTTP error is raised as such."""

    async def _prepare_result(self, response: aiohttp.ClientResponse) -> Any:
        if response.status >= 400:
            raise _HttpError(response.status, dict(response.headers), await response.text())
        return await super()._prepare_result(response)


class _HttpError(TransportError):  # a TransportError, so gql re-raises it untouched
    def __init__(self, status: int, headers: dict[str, str], text: str) -> None:
        super().__init__(f"HTTP {status}")
        self.status, self.headers, self.text = status, headers, text


def _error_codes(errors: Any) -> list[str]:
    codes = []
    for error in errors if isinstance(errors, list) else []:
        if isinstance(error, dict):
            ext = error.get("extensions") or {}
            codes.append(str(ext.get("code") or ext.get("type") or "").upper())
            codes.append(str(error.get("message") or ""))
    return codes


def _rate_wait(headers: Mapping[str, str]) -> float:
    lowered = {k.lower(): v for k, v in headers.items()}
    if lowered.get("retry-after", "").replace(".", "", 1).isdigit():  # seconds, not a date
        return max(1.0, float(lowered["retry-after"]))
    for name in ("x-ratelimit-requests-reset", "x-ratelimit-complexity-reset",
                 "x-ratelimit-reset"):
        try:  # an epoch: milliseconds in Linear's documentation, seconds in some accounts
            reset = float(lowered[name])
            return max(1.0, (reset / 1000 if reset > 1e11 else reset) - time.time())
        except (KeyError, ValueError):
            continue
    return RATE_LIMIT_WAIT


class LinearTracker(Tracker):
    kind = KIND

    def __init__(self, api_key: str, team: str,
                 api_url: str = "https://api.linear.app/graphql") -> None:
        self.api_key, self.team, self.api_url = api_key, team, api_url
        # Webhooks name the team by its key, always upper case ("ENG"): the same ref here.
        self.project = project_ref(KIND, team if UUID.match(team) else team.upper())
        self._team: dict[str, Any] | None = None  # {id, key, states}: resolved once

    async def close(self) -> None:
        """Nothing held: every call opens and closes its own gql session (see `_call`)."""

    # ---- the effects ----------------------------------------------------------------------

    async def send(self, message: Outgoing) -> Sent:
        if message.surface == base.ISSUE:
            return await self._create(message)
        if message.surface in (base.COMMENT, base.REOPEN):
            if not message.issue:
                raise Undeliverable(f"a Linear {message.surface} without an issue id")
            return await self._comment_or_reopen(message)
        raise Undeliverable(f"Linear does not take surface {message.surface!r}")

    async def find_sent(self, message: Outgoing) -> Sent | None:
        if message.surface == base.ISSUE:
            return await self._find_issue(marker(message))
        if message.surface in (base.COMMENT, base.REOPEN) and message.issue:
            issue = await self._issue(message.issue)
            found = self._find_comment(issue, message)
            if message.surface == base.COMMENT or found is not None:
                return found
            if issue["state"]["type"] not in CLOSED_TYPES and not message.text.strip():
                return self._sent(issue)  # a reopen without words: done once it is open
        return None

    async def _create(self, message: Outgoing) -> Sent:
        token = marker(message)
        # One issue per request, ever: a resend (after a lease ran out, say) finds the first.
        found = await self._find_issue(token)
        if found is not None:
            return found
        team = await self._resolve_team()
        description = _with_marker(render(message), token)
        data = await self._call(ISSUE_CREATE, {"input": {
            "teamId": team["id"], "title": message.text.strip()[:255] or "Request",
            "description": description}}, mutation=True)
        result = data.get("issueCreate") or {}
        if not result.get("success") or not result.get("issue"):
            raise RetryLater(BACKOFF, "Linear did not create the issue")
        return self._sent(result["issue"])

    async def _comment_or_reopen(self, message: Outgoing) -> Sent:
        assert message.issue is not None
        issue = await self._issue(message.issue)
        if message.surface == base.REOPEN and issue["state"]["type"] in CLOSED_TYPES:
            # Reopening an open issue would move it (Todo -> In Progress): only a closed one.
            state = self._reopen_state(issue["team"])
            await self._call(ISSUE_REOPEN, {"id": issue["id"], "stateId": state}, mutation=True)
        if not message.text.strip():
            return self._sent(issue)
        found = self._find_comment(issue, message)
        if found is None:
            body = _markup(message.text.strip())  # a comment is Markdown too
            body = _with_marker(body, marker(message)) if message.delivery_id else body
            data = await self._call(COMMENT_CREATE, {"input": {
                "issueId": issue["id"], "body": body}}, mutation=True)
            result = data.get("commentCreate") or {}
            if not result.get("success") or not result.get("comment"):
                raise RetryLater(BACKOFF, "Linear did not create the comment")
            found = Sent(message_id=result["comment"]["id"], label=issue["identifier"],
                         link=result["comment"].get("url") or issue["url"])
        return found if message.surface == base.COMMENT else self._sent(issue)

    # ---- reading ---------------------------------------------------------------------------

    async def _find_issue(self, token: str) -> Sent | None:
        data = await self._call(ISSUES_BY_MARKER, {"marker": token})
        for node in ((data.get("issues") or {}).get("nodes") or []):
            if _has_marker(node.get("description"), token):
                return self._sent(node)
        return None

    async def _issue(self, issue_id: str) -> dict[str, Any]:
        data = await self._call(ISSUE_DETAIL, {"id": issue_id})
        if not data.get("issue"):
            raise Undeliverable(f"no Linear issue {issue_id} (deleted, or LINEAR_API_KEY "
                                "cannot see its team)")
        return data["issue"]

    @staticmethod
    def _find_comment(issue: dict[str, Any], message: Outgoing) -> Sent | None:
        if not message.delivery_id:
            return None
        for node in ((issue.get("comments") or {}).get("nodes") or []):
            if _has_marker(node.get("body"), marker(message)):
                return Sent(message_id=node["id"], label=issue["identifier"],
                            link=node.get("url") or issue["url"])
        return None

    @staticmethod
    def _reopen_state(team: dict[str, Any]) -> str:
        """The team's first "started" state (In Progress), else its first "unstarted" (Todo)."""
        states = sorted((team.get("states") or {}).get("nodes") or [],
                        key=lambda s: s.get("position") or 0)
        for kind in ("started", "unstarted"):
            for state in states:
                if state.get("type") == kind:
                    return state["id"]
        raise Undeliverable("the Linear team has no started or unstarted workflow state")

    async def _resolve_team(self) -> dict[str, Any]:
        if self._team is None:
            if UUID.match(self.team):
                team = (await self._call(TEAM_BY_ID, {"id": self.team})).get("team")
            else:
                data = await self._call(TEAM_BY_KEY, {"key": self.team.upper()})
                nodes = (data.get("teams") or {}).get("nodes") or []
                team = nodes[0] if nodes else None
            if not team:
                raise Undeliverable(f"no Linear team {self.team!r}: check LINEAR_TEAM (a team "
                                    "key like ENG, or its id) and that LINEAR_API_KEY sees it")
            self._team = team
        return self._team

    @staticmethod
    def _sent(issue: dict[str, Any]) -> Sent:
        return Sent(message_id=issue["id"], label=issue.get("identifier"), link=issue.get("url"))

    # ---- the wire ---------------------------------------------------------------------------

    async def _call(self, query: str, variables: dict[str, Any],
                    mutation: bool = False) -> dict[str, Any]:
        """One GraphQL operation, its failures in the outbox's words. A fresh session per call:
        trackers are called rarely, and a session that a cut connection broke is never reused."""
        transport = _Transport(url=self.api_url, headers={"Authorization": self.api_key},
                               timeout=TIMEOUT)
        try:
            async with Client(transport=transport, fetch_schema_from_transport=False,
                              execute_timeout=TIMEOUT) as session:
                return await session.execute(GraphQLRequest(query, variable_values=variables))
        except _HttpError as exc:
            raise self._http_error(exc) from None
        except TransportQueryError as exc:
            raise self._query_error(exc.errors) from None
        except TransportConnectionFailed as exc:
            if isinstance(exc.__cause__, aiohttp.ClientConnectorError) or not mutation:
                # Refused before anything was sent, or only a read: nothing happened.
                raise RetryLater(BACKOFF, f"Linear unreachable: {exc}") from None
            raise MaybeDelivered(f"Linear connection lost during a change: {exc}") from None
        except Exception as exc:  # no library exception escapes to the dispatcher
            if mutation:
                raise MaybeDelivered(f"Linear call failed: {exc!r}") from None
            raise RetryLater(BACKOFF, f"Linear call failed: {exc!r}") from None

    def _http_error(self, exc: _HttpError) -> Exception:
        try:
            codes = _error_codes(json.loads(exc.text).get("errors"))
        except (ValueError, AttributeError):
            codes = []
        if exc.status == 429 or "RATELIMITED" in codes:
            wait = _rate_wait(exc.headers)
            return RetryLater(wait, f"Linear rate limit, retry in {wait:.0f}s", counts=False)
        if exc.status >= 500:
            return RetryLater(BACKOFF, f"Linear answered HTTP {exc.status}")
        if exc.status == 400 and codes:  # Linear answers most GraphQL errors with a 400
            return self._query_error(json.loads(exc.text).get("errors"))
        if exc.status in (401, 403):
            return Undeliverable(f"Linear refused the API key (HTTP {exc.status}): check "
                                 "LINEAR_API_KEY")
        return Undeliverable(f"Linear answered HTTP {exc.status}: check LINEAR_TEAM and "
                             "LINEAR_API_URL")

    @staticmethod
    def _query_error(errors: Any) -> Exception:
        codes = _error_codes(errors)
        said = "; ".join(c for c in codes[1::2] if c) or "unknown error"
        if "RATELIMITED" in codes:
            return RetryLater(RATE_LIMIT_WAIT, "Linear rate limit", counts=False)
        if any(c in ("AUTHENTICATION_ERROR", "AUTHENTICATION ERROR") for c in codes):
            return Undeliverable(f"Linear refused the API key ({said}): check LINEAR_API_KEY")
        if any(c in ("FORBIDDEN", "FORBIDDEN ERROR") for c in codes):
            return Undeliverable(f"Linear forbids this ({said}): check that LINEAR_API_KEY "
                                 "may write to LINEAR_TEAM")
        if any("not found" in c.lower() for c in codes):
            return Undeliverable(f"Linear: {said} (deleted, or not visible to LINEAR_API_KEY; "
                                 "check LINEAR_TEAM)")
        if any(c == "INTERNAL_SERVER_ERROR" for c in codes):
            return RetryLater(BACKOFF, f"Linear failed: {said}")
        return Undeliverable(f"Linear refused the request ({said}): check LINEAR_TEAM")


class LinearWebhook(Webhook):
    kind = KIND

    def __init__(self, secret: str, clock: Callable[[], float] = time.time) -> None:
        self.secret, self.clock = secret, clock

    def verify(self, headers: Mapping[str, str], body: bytes) -> bool:
        try:
            signature = _header(headers, "linear-signature")
            if not signed(self.secret, body, signature):
                return False
            # The signature covers the body, so its timestamp is trustworthy: a replay of an
            # old delivery is refused even though it is signed.
            stamp = json.loads(body).get("webhookTimestamp")
            return isinstance(stamp, int | float) and not isinstance(stamp, bool) \
                and abs(self.clock() * 1000 - stamp) <= SKEW_MS
        except Exception:
            return False

    def parse(self, headers: Mapping[str, str], body: bytes) -> list[TrackerChange]:
        payload = json_object(body, "Linear")
        if not isinstance(payload.get("type"), str) or not isinstance(payload.get("action"), str):
            raise ValueError("not a Linear webhook body: no type/action")
        if payload["type"] != "Issue" or payload["action"] != "update":
            return []
        data, before = payload.get("data"), payload.get("updatedFrom") or {}
        if not isinstance(data, dict) or not isinstance(data.get("id"), str) \
                or not isinstance(before, dict):
            raise ValueError("a Linear Issue update without its issue")
        state = data.get("state") if isinstance(data.get("state"), dict) else {}
        now = state.get("type")
        change, reason = None, None
        if "stateId" in before:
            # updatedFrom holds only the old stateId, but closing sets completedAt/canceledAt
            # and reopening clears it, so the old value there says the issue was closed.
            was_closed = bool(before.get("completedAt") or before.get("canceledAt"))
            if was_closed and now in ("backlog", "unstarted", "started", "triage"):
                change = base.REOPENED
            elif now == "started":
                change = base.STARTED
            elif now == "completed":
                change = base.DONE
            elif now == "canceled":
                change, reason = base.NOT_PLANNED, state.get("name")
        if change is None and "assigneeId" in before and now not in CLOSED_TYPES \
                and (data.get("assigneeId") or data.get("assignee")):
            change = base.STARTED
        if change is None:
            return []
        team = data.get("team") if isinstance(data.get("team"), dict) else {}
        actor = payload.get("actor") if isinstance(payload.get("actor"), dict) else {}
        delivery = _header(headers, "linear-delivery") \
            or f"{data['id']}:{payload.get('webhookTimestamp')}"
        return [TrackerChange(
            project=project_ref(KIND, team.get("key") or data.get("teamId") or ""),
            issue=data["id"], change=change, delivery=delivery,
            actor=actor.get("name") or actor.get("email"), reason=reason,
            label=data.get("identifier"), link=data.get("url") or payload.get("url"))]


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """Headers arrive as aiohttp's case-insensitive mapping or, in tests, a plain dict."""
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None
