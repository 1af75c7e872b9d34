"""Jira Cloud: issues through REST v3 with plain aiohttp (there is no maintained async Jira client),
and its admin webhooks back. Shapes from Atlassian's REST v3 and webhook references (restated by
hookdeck.com's and trigger.dev's Jira webhook pages):
- `POST /rest/api/3/issue` -> 201 {"id", "key", "self"}, description in Atlassian Document Format
  (ADF), `labels` carry the marker; found with `POST /rest/api/3/search/jql` (the old `/search`
  is gone since 2025) -> {"issues": [...], "nextPageToken"}.
- rate limits: 429 with `Retry-After` (seconds) and/or `X-RateLimit-Reset` (ISO 8601).
- webhooks registered with a secret carry `X-Hub-Signature: sha256=<hex HMAC-SHA256 of the raw
  body>`, and `X-Atlassian-Webhook-Identifier` (the same on a retried delivery).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp

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
from bot.model import Outgoing, Section
from bot.ports import MaybeDelivered, RetryLater, Sent, Undeliverable

API = "/rest/api/3"
BACKOFF = 30.0  # a 5xx without Retry-After: Jira is having a bad minute, not a bad second
# Resolutions (and, in team-managed projects without resolutions, status names) that close an
# issue without doing it. Anything else in the "done" category counts as done.
NOT_PLANNED_NAMES = {"won't do", "won't fix", "wont do", "declined", "duplicate", "cannot reproduce",
                     "can't reproduce", "incomplete", "obsolete", "rejected", "cancelled",
                     "canceled", "abandoned", "not a bug"}
REOPEN_NAMES = ("reopen", "to do", "todo", "in progress", "open", "backlog")

_INLINE = re.compile(r"\*([^*\n]+)\*|(https?://[^\s<>]+[^\s<>.,;:!?)\]'\"])|<@([^>\s]+)>")


# ---- ADF rendering ---------------------------------------------------------------------------


def _inline(line: str) -> list[dict[str, Any]]:
    """One line of neutral markup as ADF text nodes: *bold* -> strong, URLs -> link marks.
    ADF refuses empty text nodes, so none are made."""
    nodes: list[dict[str, Any]] = []

    def text(value: str, marks: list[dict[str, Any]] | None = None) -> None:
        if value:
            nodes.append({"type": "text", "text": value, **({"marks": marks} if marks else {})})

    at = 0
    for match in _INLINE.finditer(line):
        text(line[at:match.start()])
        bold, url, user = match.groups()
        if bold is not None:  # (a link inside bold stays a link)
            nodes += [{**n, "marks": [*n.get("marks", []), {"type": "strong"}]} for n in _inline(bold)]
        elif url is not None:
            text(url, [{"type": "link", "attrs": {"href": url}}])
        else:
            text(f"@{user}")
        at = match.end()
    text(line[at:])
    return nodes


def _paragraphs(text: str) -> list[dict[str, Any]]:
    """Blank lines separate paragraphs; single line breaks become hardBreaks inside one."""
    blocks = []
    for chunk in re.split(r"\n\s*\n", defuse(text).strip()):
        lines = [nodes for line in chunk.split("\n") if (nodes := _inline(line.rstrip()))]
        content = [n for i, nodes in enumerate(lines)
                   for n in ([{"type": "hardBreak"}] if i else []) + nodes]
        if content:
            blocks.append({"type": "paragraph", "content": content})
    return blocks


def adf(sections: tuple[Section, ...] | list[Section], tail: str | None = None) -> dict[str, Any]:
    """A document: each section's title as a heading, its text as paragraphs; `tail` (a marker)
    as a last, code-marked line so people can tell it is machinery."""
    content: list[dict[str, Any]] = []
    for section in sections:
        if section.title:
            content.append({"type": "heading", "attrs": {"level": 3},
                            "content": [{"type": "text", "text": section.title}]})
        content.extend(_paragraphs(section.text))
    if tail:
        content.append({"type": "paragraph", "content": [
            {"type": "text", "text": tail, "marks": [{"type": "code"}]}]})
    return {"type": "doc", "version": 1, "content": content}


# ---- the client ------------------------------------------------------------------------------


class JiraTracker(Tracker):
    kind = "jira"

    def __init__(self, url: str, email: str, api_token: str, project: str,
                 issue_type: str = "Task", timeout: float = 30.0) -> None:
        self.url, self.timeout = url.rstrip("/"), timeout
        self.key, self.project, self.issue_type = project, project_ref("jira", project), issue_type
        # Basic auth by hand: aiohttp 3.13 deprecates BasicAuth and older ones lack its successor.
        token = base64.b64encode(f"{email}:{api_token}".encode()).decode()
        self._headers = {"Accept": "application/json", "Authorization": f"Basic {token}"}
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def send(self, message: Outgoing) -> Sent:
        try:
            return await self._send(message)
        except (KeyError, TypeError, AttributeError) as exc:  # an answer not shaped like Jira's
            raise MaybeDelivered(f"Jira answered {message.surface} unexpectedly: {exc!r}") from exc

    async def find_sent(self, message: Outgoing) -> Sent | None:
        try:
            return await self._find_sent(message)
        except (KeyError, TypeError, AttributeError) as exc:
            raise RetryLater(BACKOFF, f"Jira answered a lookup unexpectedly: {exc!r}") from exc

    async def _send(self, message: Outgoing) -> Sent:
        if message.surface == base.ISSUE:
            return await self._create(message)
        if message.surface in (base.COMMENT, base.REOPEN):
            if not message.issue:
                raise Undeliverable(f"{message.surface} without the issue it is for")
            if message.surface == base.REOPEN:
                await self._reopen(message.issue)
            if message.text and not await self._commented(message.issue, marker(message)):
                await self._request("POST", f"/issue/{message.issue}/comment", effect=True,
                                    json={"body": adf([Section(message.text)], marker(message))})
            return await self._sent(message.issue)
        raise Undeliverable(f"Jira does not handle the surface {message.surface!r}")

    async def _find_sent(self, message: Outgoing) -> Sent | None:
        if message.surface == base.ISSUE:
            return await self._find_issue(self._project_key(message), marker(message))
        if message.surface in (base.COMMENT, base.REOPEN) and message.issue:
            # A reopen transitions before it comments, so its comment proves the transition.
            if message.text:
                found = await self._commented(message.issue, marker(message))
            else:
                found = message.surface == base.REOPEN and await self._category(message.issue) != "done"
            return await self._sent(message.issue) if found else None
        return None

    async def _find_issue(self, project: str, mark: str) -> Sent | None:
        """The issue labelled `mark`. search/jql is eventually consistent (seconds, at times
        minutes: Atlassian's "search and reconcile" guide), so past the newest issue the index
        knows, issues are read by key, which is consistent, until a few keys in a row are free."""
        async def search(jql: str) -> dict[str, Any] | None:
            answer = await self._request("POST", "/search/jql", json={
                "jql": f'project = "{project}" {jql}', "fields": ["labels"], "maxResults": 1})
            return ((answer or {}).get("issues") or [None])[0]

        # JQL label equality is exact; the marker holds only [a-z0-9-] so quoting is safe.
        found = await search(f'AND labels = "{mark}"')
        newest = None if found else await search("ORDER BY created DESC")
        last, free = int(str((newest or {}).get("key", "-0")).rpartition("-")[2] or 0), 0
        for number in range(last + 1, last + 50):
            if found or free >= 3:
                break
            issue = await self._request("GET", f"/issue/{project}-{number}", absent=True,
                                        params={"fields": "labels"})
            free = 0 if issue else free + 1
            found = issue if issue and mark in issue["fields"].get("labels", []) else None
        return Sent(message_id=str(found["id"]), label=found.get("key"),
                    link=self._browse(found.get("key"))) if found else None

    async def _create(self, message: Outgoing) -> Sent:
        title = " ".join(message.text.split())[:255] or "(untitled)"  # summary: one line, <= 255
        fields: dict[str, Any] = {"project": {"key": self._project_key(message)}, "summary": title,
                                  "issuetype": {"name": self.issue_type}, "labels": [marker(message)]}
        if message.sections:
            fields["description"] = adf(message.sections)
        created = await self._request("POST", "/issue", json={"fields": fields}, effect=True)
        if not isinstance(created, dict) or "id" not in created:
            raise MaybeDelivered("Jira answered the create without an issue id")
        return Sent(message_id=str(created["id"]), label=created.get("key"),
                    link=self._browse(created.get("key")))

    async def _reopen(self, issue: str) -> None:
        """Move a done issue back through a transition the workflow offers; an issue that is not
        done is left alone, which makes a repeated reopen harmless."""
        if await self._category(issue) != "done":
            return
        answer = await self._request("GET", f"/issue/{issue}/transitions") or {}
        choices = [t for t in answer.get("transitions") or []
                   if ((t.get("to") or {}).get("statusCategory") or {}).get("key")
                   in ("new", "indeterminate")]
        if not choices:
            raise Undeliverable(f"the workflow of issue {issue} has no transition out of done; "
                                "add a Reopen transition to the JIRA_PROJECT's workflow")

        def rank(t: dict[str, Any]) -> int:
            names = f"{t.get('name', '')} {(t.get('to') or {}).get('name', '')}".lower()
            return next((i for i, n in enumerate(REOPEN_NAMES) if n in names), len(REOPEN_NAMES))

        chosen = min(choices, key=rank)
        await self._request("POST", f"/issue/{issue}/transitions", effect=True,
                            json={"transition": {"id": chosen["id"]}})

    async def _commented(self, issue: str, mark: str) -> bool:
        # Newest first: a retry follows its cut-off attempt closely, so one page suffices.
        answer = await self._request("GET", f"/issue/{issue}/comment",
                                     params={"orderBy": "-created", "maxResults": "100"}) or {}
        return any(mark in json.dumps(c.get("body")) for c in answer.get("comments") or [])

    async def _category(self, issue: str) -> str | None:
        answer = await self._request("GET", f"/issue/{issue}", params={"fields": "status"}) or {}
        return answer["fields"]["status"]["statusCategory"]["key"]

    async def _sent(self, issue: str) -> Sent:
        answer = await self._request("GET", f"/issue/{issue}", params={"fields": "status"}) or {}
        return Sent(message_id=issue, label=answer.get("key"), link=self._browse(answer.get("key")))

    def _project_key(self, message: Outgoing) -> str:
        # where.channel says which project ("jira:PROJ"); the configured one is the default.
        channel = message.where.channel or ""
        return channel.split(":", 1)[1] if channel.startswith("jira:") else self.key

    def _browse(self, key: str | None) -> str | None:
        return f"{self.url}/browse/{key}" if key else None

    async def _request(self, method: str, path: str, effect: bool = False, absent: bool = False,
                       **kwargs: Any) -> Any:
        """One call, with every failure translated: `effect` calls (they change something) that
        lose their answer raise MaybeDelivered; reads that fail simply retry. `absent`: a 404 is
        an answer (None)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout), headers=self._headers)
        try:
            async with self._session.request(method, self.url + API + path, **kwargs) as response:
                raw = await response.read()
                status, headers = response.status, response.headers
        except aiohttp.ClientConnectorError as exc:  # never connected: nothing was sent
            raise RetryLater(BACKOFF, f"Jira unreachable at JIRA_URL ({exc})") from exc
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            if effect:
                raise MaybeDelivered(f"Jira {method} {path}: {exc!r}") from exc
            raise RetryLater(BACKOFF, f"Jira {method} {path}: {exc!r}") from exc
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        if status < 300 or (absent and status == 404):
            return body if status < 300 else None
        if effect and status == 504:  # a gateway gave up waiting: Jira may have done it
            raise MaybeDelivered(f"Jira {method} {path}: 504 from a gateway")
        raise self._error(status, headers, body, f"{method} {path}")

    def _error(self, status: int, headers: Mapping[str, str], body: Any, what: str) -> Exception:
        detail, wait = _messages(body), _wait(headers)
        if status == 429 or (status == 403 and (  # a 403 carrying rate-limit headers is one too
                wait is not None or headers.get("X-RateLimit-Remaining") == "0")):
            return RetryLater(60.0 if wait is None else wait, f"Jira rate limit on {what}", counts=False)
        if status >= 500:
            return RetryLater(BACKOFF if wait is None else wait, f"Jira {status} on {what}: {detail}")
        if status == 401:
            return Undeliverable("Jira refused the credentials: check JIRA_EMAIL and JIRA_API_TOKEN")
        if status == 403:
            return Undeliverable(f"Jira forbids {what} to JIRA_EMAIL's account in {self.key}: "
                                 f"grant it project permissions ({detail})")
        if status in (404, 410):
            return Undeliverable(f"Jira has no such issue or project for {what}: check JIRA_URL and "
                                 f"JIRA_PROJECT ({detail})")
        return Undeliverable(f"Jira rejected {what} ({status}): {detail}; check JIRA_PROJECT "
                             f"and the issue type {self.issue_type!r}")


def _messages(body: Any) -> str:
    """Jira's error body: {"errorMessages": [...], "errors": {field: message}}."""
    body = body if isinstance(body, dict) else {}
    parts = [str(m) for m in body.get("errorMessages") or []]
    return "; ".join(parts + [f"{k}: {v}" for k, v in (body.get("errors") or {}).items()]) or "no details"


def _wait(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait: Retry-After, else X-RateLimit-Reset (ISO 8601, "2026-12-07T23:10Z")."""
    try:
        if headers.get("Retry-After"):
            return max(0.0, float(headers["Retry-After"]))
        if headers.get("X-RateLimit-Reset"):
            at = datetime.fromisoformat(headers["X-RateLimit-Reset"].replace("Z", "+00:00"))
            return max(0.0, (at.replace(tzinfo=at.tzinfo or UTC) - datetime.now(UTC)).total_seconds())
    except ValueError:
        pass
    return None


# ---- webhooks --------------------------------------------------------------------------------


class JiraWebhook(Webhook):
    kind = "jira"

    def __init__(self, secret: str) -> None:
        self._secret = secret.encode()

    def verify(self, headers: Mapping[str, str], body: bytes) -> bool:
        try:
            given = _header(headers, "X-Hub-Signature") or ""
            return given.startswith("sha256=") and signed(
                self._secret, body, given.removeprefix("sha256="))
        except Exception:
            return False

    def parse(self, headers: Mapping[str, str], body: bytes) -> list[TrackerChange]:
        payload = json_object(body, "Jira")
        if not isinstance(payload.get("webhookEvent"), str):
            raise ValueError("not a Jira webhook: no webhookEvent")
        if payload["webhookEvent"] != "jira:issue_updated":
            return []  # created, deleted, comments, sprints...: nothing the bot follows
        try:  # a field of an unexpected type deep inside is a malformed body, not a crash
            return self._read(headers, payload)
        except (AttributeError, TypeError, KeyError) as exc:
            raise ValueError(f"not a jira:issue_updated body Jira sends: {exc!r}") from exc

    def _read(self, headers: Mapping[str, str], payload: dict[str, Any]) -> list[TrackerChange]:
        issue, changelog = payload.get("issue"), payload.get("changelog") or {}
        if not isinstance(issue, dict) or not issue.get("id"):
            raise ValueError("jira:issue_updated without an issue")
        fields, items = issue.get("fields") or {}, changelog.get("items") or []
        if not isinstance(items, list):
            raise ValueError("changelog.items is not a list")
        change, reason = _change(fields, [i for i in items if isinstance(i, dict)])
        if change is None:
            return []
        key = issue.get("key")
        project = (fields.get("project") or {}).get("key") or str(key or "").rpartition("-")[0]
        if not project:
            raise ValueError("the issue names no project")
        # Jira retries a failed delivery with the same identifier; without one, the changelog id
        # names this one change.
        delivery = (_header(headers, "X-Atlassian-Webhook-Identifier")
                    or f"{issue['id']}:{changelog.get('id')}:{payload.get('timestamp')}")
        user = payload.get("user") or {}
        return [TrackerChange(
            project=project_ref("jira", project), issue=str(issue["id"]), change=change,
            delivery=delivery, actor=user.get("displayName") or user.get("accountId"),
            reason=reason, label=key, link=_link(issue))]


def _change(fields: dict[str, Any], items: list[dict[str, Any]]) -> tuple[str | None, str | None]:
    """What a changelog means. The payload's issue is as it is *after* the change, so the target
    status category comes from `fields.status`; where it came from only the changelog tells: a
    cleared resolution, or a status name that reads as closed."""
    status = fields.get("status") or {}
    category = (status.get("statusCategory") or {}).get("key")
    moved = next((i for i in items if (i.get("fieldId") or i.get("field")) == "status"), None)
    if moved is not None:
        if category == "done":
            resolution = ((fields.get("resolution") or {}).get("name")
                          or next((i.get("toString") for i in items
                                   if i.get("field") == "resolution" and i.get("toString")), None))
            name = resolution or status.get("name") or moved.get("toString")
            if name and name.strip().lower() in NOT_PLANNED_NAMES:
                return base.NOT_PLANNED, name
            return base.DONE, resolution
        if category in ("new", "indeterminate"):
            cleared = any(i.get("field") == "resolution" and i.get("fromString") and not i.get("to")
                          for i in items)
            was = str(moved.get("fromString") or "").strip().lower()
            if cleared or was in {"done", "closed", "resolved"} | NOT_PLANNED_NAMES:
                return base.REOPENED, None
            if category == "indeterminate":
                return base.STARTED, None
        return None, None
    assigned = any((i.get("fieldId") or i.get("field")) == "assignee" and i.get("to") for i in items)
    if assigned and category != "done":
        return base.STARTED, None
    return None, None


def _link(issue: dict[str, Any]) -> str | None:
    """The browse URL from the issue's `self` (https://site.atlassian.net/rest/api/2/issue/1)."""
    parts = urlsplit(str(issue.get("self") or ""))
    ok = parts.scheme and issue.get("key")
    return f"{parts.scheme}://{parts.netloc}/browse/{issue['key']}" if ok else None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive even when `headers` is a plain dict."""
    return next((v for k, v in headers.items() if k.lower() == name.lower()), None)
