"""GitHub Issues as a tracker: file, comment on and reopen issues (githubkit, REST), and read the
repository's signed `issues` webhooks.

Exactly once: an issue body ends with `<!-- marker -->` (invisible when rendered), a comment with
its delivery's marker, and we look for the marker before creating or commenting. Issues are found
by listing the newest ones (state=all, sort=created, direction=desc, 100), not with the search
API, whose index lags. Sources (docs.github.com): REST "Issues", "Issue comments", "Rate limits for
the REST API" (429, or 403 with x-ratelimit-remaining: 0 / retry-after); "Validating webhook
deliveries" (X-Hub-Signature-256); "Webhook events and payloads" (issues: assigned, closed with
issue.state_reason, reopened).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import re
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from githubkit import GitHub, TokenAuthStrategy
from githubkit.exception import RequestError, RequestFailed, RequestTimeout

from adapters.trackers.base import (
    COMMENT,
    DONE,
    ISSUE,
    NOT_PLANNED,
    REOPEN,
    REOPENED,
    STARTED,
    Tracker,
    TrackerChange,
    Webhook,
    json_object,
    marker,
    project_ref,
    signed,
)
from bot.model import Outgoing, Section
from bot.ports import MaybeDelivered, RetryLater, Sent, Undeliverable

KIND = "github"
BACKOFF = 30.0  # seconds before retrying after a 5xx or an unreachable API
TITLE_MAX = 256  # a title is one line; GitHub refuses very long ones (422)
BODY_MAX = 65_000  # GitHub's body limit is 65,536 characters; leave room for the marker
COMMENT_PAGES = 10  # comments are listed oldest first: look at up to 1,000 of them

_URL = re.compile(r"https?://[^\s<>]+[^\s<>.,;:!?)\]'\"]")
_BOLD = re.compile(r"\*([^*\n]+)\*")
_REF = re.compile(r"^([^/\s#]+/[^/\s#]+)#(\d+)$")


def issue_ref(repository: str, number: int) -> str:
    """Our id of an issue: "owner/repo#12", lower-cased (GitHub names are case-insensitive and
    webhooks spell the repository as `full_name`, maybe in another case than the settings)."""
    return f"{repository.lower()}#{number}"


def _escape(text: str) -> str:
    """Plain text as Markdown that renders as itself. `<` matters most: a stakeholder's text must
    not open an HTML comment (hiding the rest, or forging a marker). `@` gets a zero-width space so
    a quoted handle does not notify a stranger on a possibly public repository."""
    text = re.sub(r"([\\`*_\[\]|~])", r"\\\1", text)
    text = text.replace("<", "&lt;").replace(">", "&gt;").replace("@", "@\u200b")
    return re.sub(r"^(\s*)([#+\-=]|\d+\.)", r"\1\\\2", text, flags=re.M)


def _inline(text: str) -> str:
    """The neutral markup (*bold*, plain URLs) as GitHub Markdown; everything else escaped.
    URLs become autolinks (<...>), so escaping the text around them never breaks them."""
    return _tokens(text, _BOLD, lambda m: f"**{_links(m.group(1).strip())}**", _links)


def _links(text: str) -> str:
    return _tokens(text, _URL, lambda m: f"<{m.group(0)}>", _escape)


def _tokens(text: str, pattern: re.Pattern[str], found: Callable[[re.Match[str]], str],
            between: Callable[[str], str]) -> str:
    out, pos = [], 0
    for match in pattern.finditer(text):
        out += [between(text[pos:match.start()]), found(match)]
        pos = match.end()
    return "".join([*out, between(text[pos:])])


def render(sections: tuple[Section, ...]) -> str:
    """Markdown for an issue body or a comment. GitHub shows single line breaks in issues and
    comments as breaks, so they are kept as they are; a section title is a heading."""
    parts = []
    for section in sections:
        body = _inline(section.text)
        parts.append(f"### {_escape(section.title)}\n\n{body}" if section.title else body)
    return "\n\n".join(parts)


def _with_marker(markdown: str, token: str) -> str:
    return f"{markdown[:BODY_MAX]}\n\n<!-- {token} -->"


def _has_marker(body: str | None, token: str) -> bool:
    return f"<!-- {token} -->" in (body or "")


class _GitHub(GitHub):
    """githubkit 0.16 reads Retry-After with int() and fails on the HTTP-date form: read it
    (and x-ratelimit-reset) our way, so a rate limit is reported as one."""

    def _extract_retry_after(self, response: Any) -> timedelta:
        headers = response.headers
        return timedelta(seconds=_wait(headers.get("retry-after"), headers.get("x-ratelimit-reset")))


class _PooledTransport(httpx.AsyncHTTPTransport):
    """githubkit, used outside `async with`, makes a client per request and closes it after,
    which would close its transport too: this one survives that, so connections (and the TLS
    setup) are reused across requests until the tracker is closed."""

    async def aclose(self) -> None:
        pass

    async def close_pool(self) -> None:
        await super().aclose()


class GitHubTracker(Tracker):
    kind = KIND
    # GitHub's secondary rate limits punish bursts of content-creating requests; its advice is
    # to make them one at a time, a second apart ("Best practices for using the REST API").
    pace = 1.0
    burst = 1

    def __init__(self, token: str, repository: str, api_url: str = "https://api.github.com",
                 *, timeout: float = 20.0) -> None:
        owner, _, name = repository.strip().partition("/")
        if not owner or not name or "/" in name:
            raise ValueError(f"GITHUB_REPOSITORY must be owner/repo, not {repository!r}")
        self.repository = f"{owner}/{name}"
        self.project = project_ref(KIND, self.repository.lower())
        # No retries inside the client: the outbox retries, with its leases and bookkeeping.
        # No HTTP cache: find_sent must see the issue created a second ago.
        self._transport = _PooledTransport()
        self._github = _GitHub(TokenAuthStrategy(token), base_url=api_url.rstrip("/") + "/",
                              auto_retry=False, http_cache=False, timeout=timeout,
                              async_transport=self._transport)
        # Answers are read as plain JSON (`.json()`), not githubkit's pydantic models: we need
        # three fields, and a strict model would turn a field GitHub adds or nulls into a failure.
        self._issues = self._github.rest.issues

    async def close(self) -> None:
        await self._transport.close_pool()

    # ---- effects -------------------------------------------------------------------------

    async def send(self, message: Outgoing) -> Sent:
        try:
            return await self._send(message)
        except (RetryLater, Undeliverable, MaybeDelivered):
            raise
        except Exception as exc:  # an answer not shaped as documented, after we may have acted
            raise MaybeDelivered(f"unexpected answer from GitHub: {exc!r}") from None

    async def find_sent(self, message: Outgoing) -> Sent | None:
        try:
            return await self._find_sent(message)
        except (RetryLater, Undeliverable, MaybeDelivered):
            raise
        except Exception as exc:
            raise RetryLater(BACKOFF, f"unexpected answer from GitHub: {exc!r}") from None

    async def _send(self, message: Outgoing) -> Sent:
        if message.surface == ISSUE:
            found = await self._find_sent(message)
            return found if found is not None else await self._create(message)
        if message.surface == COMMENT:
            return await self._comment(message, message.text)
        if message.surface == REOPEN:
            return await self._reopen(message)
        raise Undeliverable(f"GitHub tracker cannot send surface {message.surface!r}")

    async def _find_sent(self, message: Outgoing) -> Sent | None:
        token = marker(message)
        if message.surface == ISSUE:
            owner, repo = self.repository.split("/")
            response = await self._call(self._issues.async_list_for_repo(
                owner, repo, state="all", sort="created", direction="desc", per_page=100))
            for issue in response.json():
                if _has_marker(issue.get("body"), token):
                    return self._sent(self.repository, int(issue["number"]), issue.get("html_url"))
            # Older than the newest hundred (a busy repository, a retry after a long backoff):
            # by then GitHub's search, which lags new issues by a minute or so, has it.
            found = await self._call(self._github.rest.search.async_issues_and_pull_requests(
                q=f'repo:{owner}/{repo} is:issue in:body "{token}"', per_page=10))
            for issue in found.json().get("items") or []:
                if _has_marker(issue.get("body"), token):
                    return self._sent(self.repository, int(issue["number"]), issue.get("html_url"))
            return None
        repository, number = self._target(message)
        comment = await self._find_comment(repository, number, token)
        return None if comment is None else self._sent(repository, number, comment.get("html_url"))

    async def _create(self, message: Outgoing) -> Sent:
        owner, repo = self.repository.split("/")
        body = _with_marker(render(message.sections), marker(message))
        title = " ".join(message.text.split())[:TITLE_MAX] or "Request"
        response = await self._call(self._issues.async_create(owner, repo, title=title, body=body),
                                    creates=True)
        issue = response.json()
        return self._sent(self.repository, int(issue["number"]), issue.get("html_url"))

    async def _comment(self, message: Outgoing, text: str) -> Sent:
        repository, number = self._target(message)
        token = marker(message)
        found = await self._find_comment(repository, number, token)
        if found is None:
            owner, repo = repository.split("/")
            body = _with_marker(_inline(text), token)
            response = await self._call(
                self._issues.async_create_comment(owner, repo, number, body=body), creates=True)
            found = response.json()
        return self._sent(repository, number, found.get("html_url"))

    async def _reopen(self, message: Outgoing) -> Sent:
        repository, number = self._target(message)
        owner, repo = repository.split("/")
        # Reopening an open issue changes nothing, so this part needs no marker.
        response = await self._call(self._issues.async_update(
            owner, repo, number, state="open", state_reason="reopened"))
        if message.text.strip():
            return await self._comment(message, message.text)
        return self._sent(repository, number, response.json().get("html_url"))

    # ---- helpers -------------------------------------------------------------------------

    def _target(self, message: Outgoing) -> tuple[str, int]:
        """The issue a comment or reopen is about, from the id we gave it when filing."""
        match = _REF.match((message.issue or "").strip())
        if match is None:
            raise Undeliverable(f"not a GitHub issue reference: {message.issue!r}")
        repository = match.group(1)
        # The reference is lower-cased; keep the configured spelling for labels when it is ours.
        if repository == self.repository.lower():
            repository = self.repository
        return repository, int(match.group(2))

    async def _find_comment(self, repository: str, number: int, token: str) -> dict | None:
        owner, repo = repository.split("/")
        for page in range(1, COMMENT_PAGES + 1):
            response = await self._call(self._issues.async_list_comments(
                owner, repo, number, per_page=100, page=page))
            comments = response.json()
            for comment in comments:
                if _has_marker(comment.get("body"), token):
                    return comment
            if len(comments) < 100:
                return None
        return None

    @staticmethod
    def _sent(repository: str, number: int, link: str | None) -> Sent:
        return Sent(message_id=issue_ref(repository, number), label=f"{repository}#{number}",
                    link=link)

    async def _call(self, request: Any, creates: bool = False) -> Any:
        """Await one githubkit request and translate every failure into the outbox's terms.
        `creates`: the request makes something, so an answer lost after sending may mean it
        was made (MaybeDelivered); a lost read is just tried again later."""
        try:
            return await request
        except RequestFailed as exc:
            raise _refusal(exc.response.status_code, exc.response.headers, _message(exc)) from None
        except RequestTimeout as exc:
            if isinstance(exc.exc, httpx.ConnectTimeout | httpx.PoolTimeout) or not creates:
                raise RetryLater(BACKOFF, f"GitHub timed out: {exc.exc!r}") from None
            raise MaybeDelivered(f"GitHub did not answer in time: {exc.exc!r}") from None
        except RequestError as exc:
            if isinstance(exc.exc, httpx.ConnectError) or not creates:
                raise RetryLater(BACKOFF, f"GitHub unreachable: {exc.exc!r}") from None
            raise MaybeDelivered(f"connection to GitHub lost: {exc.exc!r}") from None
        except (RetryLater, Undeliverable, MaybeDelivered):
            raise
        except Exception as exc:  # anything else a library raises: never let it reach the core
            if creates:
                raise MaybeDelivered(f"GitHub call failed: {exc!r}") from None
            raise RetryLater(BACKOFF, f"GitHub call failed: {exc!r}") from None


def _message(exc: RequestFailed) -> str:
    with contextlib.suppress(Exception):
        return str(exc.response.json().get("message") or "")
    return ""


def _refusal(status: int, headers: Mapping[str, str], message: str) -> Exception:
    """What an error answer means for the outbox."""
    retry_after = headers.get("retry-after")
    exhausted = headers.get("x-ratelimit-remaining") == "0"
    if status == 429 or (status == 403 and (retry_after or exhausted or "rate limit" in message.lower())):
        return RetryLater(_wait(retry_after, headers.get("x-ratelimit-reset")),
                          f"GitHub rate limit: {message}".strip(), counts=False)
    if status >= 500:
        return RetryLater(BACKOFF, f"GitHub answered {status}: {message}".strip())
    why = {
        401: "GitHub refused the token: check GITHUB_TOKEN",
        403: "GITHUB_TOKEN may not write issues in GITHUB_REPOSITORY (it needs the Issues: "
             "read and write permission)",
        404: "GitHub knows no such repository or issue, or GITHUB_TOKEN cannot see it: check "
             "GITHUB_REPOSITORY and the token's repository access",
        410: "issues are turned off in GITHUB_REPOSITORY: enable them in the repository settings",
        422: "GitHub refused the issue as invalid",
    }.get(status, f"GitHub refused the request ({status})")
    return Undeliverable(f"{why}: {message}" if message else why)


def _wait(retry_after: str | None, reset: str | None) -> float:
    """Seconds to wait: Retry-After (seconds or an HTTP date), else until x-ratelimit-reset."""
    now = time.time()
    with contextlib.suppress(TypeError, ValueError):
        if retry_after:
            return max(1.0, float(retry_after) if retry_after.strip().isdigit()
                       else parsedate_to_datetime(retry_after).timestamp() - now)
    with contextlib.suppress(ValueError):
        if reset:
            return max(1.0, float(reset) - now)
    return 60.0  # GitHub's advice when it says nothing: wait at least a minute


# ---- webhooks ------------------------------------------------------------------------------


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """A header whatever the case of the mapping's keys (aiohttp's ignore case, a dict's not)."""
    lower = name.lower()
    return headers.get(name) or next((v for k, v in headers.items() if k.lower() == lower), None)


def sign(secret: str, body: bytes) -> str:
    """The X-Hub-Signature-256 value GitHub sends for `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class GitHubWebhook(Webhook):
    kind = KIND

    def __init__(self, secret: str) -> None:
        self._secret = secret

    def verify(self, headers: Mapping[str, str], body: bytes) -> bool:
        try:
            given = _header(headers, "X-Hub-Signature-256")
            if not self._secret or not given:
                return False
            return given.strip().startswith("sha256=") and signed(
                self._secret, body, given.strip().removeprefix("sha256="))
        except Exception:
            return False

    def parse(self, headers: Mapping[str, str], body: bytes) -> list[TrackerChange]:
        payload = json_object(body, "GitHub")
        event = _header(headers, "X-GitHub-Event")
        if event != "issues":
            return []  # ping, issue_comment, push, ...: nothing the bot follows
        delivery = _header(headers, "X-GitHub-Delivery")
        issue, repository = payload.get("issue"), payload.get("repository")
        if not delivery or not isinstance(issue, dict) or not isinstance(repository, dict):
            raise ValueError("GitHub issues event without a delivery id, issue or repository")
        full_name, number = repository.get("full_name"), issue.get("number")
        if not isinstance(full_name, str) or "/" not in full_name or not isinstance(number, int):
            raise ValueError("GitHub issues event without repository.full_name or issue.number")
        action = payload.get("action")
        reason = None
        if action == "assigned":
            if issue.get("state") == "closed":
                return []  # assigning a closed issue starts nothing
            change = STARTED
        elif action == "closed":
            state_reason = issue.get("state_reason")
            if state_reason in (None, "completed"):
                change = DONE
            else:  # "not_planned", "duplicate"
                change = NOT_PLANNED
                comment = payload.get("comment")
                said = comment.get("body") if isinstance(comment, dict) else None
                # "Not planned" is what the core says anyway; a duplicate says so.
                kind = "a duplicate" if state_reason == "duplicate" else None
                reason = ": ".join(part for part in (kind, said) if part) or None
        elif action == "reopened":
            change = REOPENED
        else:
            return []
        sender = payload.get("sender")
        actor = sender.get("login") if isinstance(sender, dict) else None
        return [TrackerChange(project=project_ref(KIND, full_name.lower()),
                              issue=issue_ref(full_name, number), change=change, delivery=delivery,
                              actor=actor, reason=reason, label=f"{full_name}#{number}",
                              link=issue.get("html_url"))]
