"""A small fake of GitHub's REST API for issues (and of its issues webhooks) on 127.0.0.1.

It serves the endpoints the GitHub tracker uses, the way GitHub answers them (status codes,
JSON shapes, rate-limit headers), checks the token, records every call, can be told to fail, and
sends signed `issues` webhooks to the bot the way GitHub's hookshot does.

`fail(what, ...)` names one of: "create" (POST issues), "list" (GET issues), "get" (GET an
issue), "update" (PATCH an issue: reopen), "comment" (POST a comment), "comments" (GET comments),
or "*" for any call ("issue", "find" and "reopen" are accepted too). A 429, or a 403 given a
`retry_after`, is a rate limit with GitHub's headers (x-ratelimit-remaining: 0, Retry-After).
`hang_next_create` (seconds) makes the next create answer late, for client timeouts.

Each of `issues` is {"ref": "acme/app#1", "label": "acme/app#1", "link", "title", "body" (the
Markdown body as GitHub keeps it, marker comment included: GitHub has no other text), "state":
"open" | "in_progress" (assigned) | "closed", "state_reason", "comments": [Markdown bodies],
"labels", "assignees", plus "number", "id" and "comment_objects" (the API's comment JSON)}.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web


@dataclass
class Call:
    method: str  # GET, POST, PATCH
    path: str
    json: Any  # the request's JSON body (None for a GET)
    query: dict[str, str] = field(default_factory=dict)
    status: int = 0


@dataclass
class Failure:
    status: int
    count: int
    retry_after: str | None = None


# Other names the bot's own tests may use for the same calls.
ALIASES = {"issue": "create", "find": "list", "reopen": "update", "comments-list": "comments"}

NAMES = {("POST", "issues"): "create", ("GET", "issues"): "list", ("GET", "issue"): "get",
         ("PATCH", "issue"): "update", ("POST", "comments"): "comment",
         ("GET", "comments"): "comments"}


@dataclass
class FakeGitHub:
    token: str = "ghp_fake_token"
    repository: str = "acme/app"
    issues: list[dict[str, Any]] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    cut_next_create: bool = False
    hang_next_create: float = 0.0  # perform the next create, then answer this many seconds late
    webhook_url: str | None = None
    webhook_secret: str | None = "github-webhook-secret"
    deliveries: dict[str, tuple[dict[str, str], bytes]] = field(default_factory=dict)
    failures: dict[str, Failure] = field(default_factory=dict)
    url: str = ""
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1001))
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None

    # ---- lifecycle ---------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/repos/{owner}/{repo}/issues", self._issues)
        app.router.add_get("/search/issues", self._search)
        app.router.add_route("*", "/repos/{owner}/{repo}/issues/{number:\\d+}", self._issue)
        app.router.add_route("*", "/repos/{owner}/{repo}/issues/{number:\\d+}/comments", self._comments)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def env(self) -> dict[str, str]:
        return {"GITHUB_TOKEN": self.token, "GITHUB_REPOSITORY": self.repository,
                "GITHUB_API_URL": self.url, "GITHUB_WEBHOOK_SECRET": self.webhook_secret or ""}

    # ---- test controls -----------------------------------------------------------------

    def fail(self, what: str, status: int, count: int = 1, retry_after: str | None = None) -> None:
        self.failures[ALIASES.get(what, what)] = Failure(status, count, retry_after)

    def issue(self, ref: str) -> dict[str, Any]:
        return next(i for i in self.issues if i["ref"] == ref)

    def of(self, name: str) -> list[Call]:
        """The calls of one kind ("create", "list", "comment", ...)."""
        return [c for c in self.calls if self._name(c) == name]

    async def wait_for(self, condition: Callable[[], Any], within: float = 10.0) -> Any:
        """Wait until `condition()` is truthy (re-checked on every call the bot makes)."""
        async def loop() -> Any:
            while True:
                result = condition()
                if result:
                    return result
                self._changed.clear()
                await self._changed.wait()
        return await asyncio.wait_for(loop(), within)

    # ---- the REST API --------------------------------------------------------------------

    @staticmethod
    def _name(call: Call) -> str:
        parts = call.path.strip("/").split("/")
        what = "comments" if parts[-1] == "comments" else "issues" if parts[-1] == "issues" else "issue"
        return NAMES.get((call.method, what), "?")

    async def _enter(self, request: web.Request) -> tuple[Call, web.Response | None]:
        """Record the call; the error answer if auth, the repository or a failure says so."""
        body = await request.json() if request.can_read_body else None
        call = Call(request.method, request.path, body, dict(request.query))
        self.calls.append(call)
        self._changed.set()
        auth = request.headers.get("Authorization", "")
        if auth not in (f"token {self.token}", f"Bearer {self.token}"):
            return call, self._error(call, 401, "Bad credentials")
        full = f"{request.match_info.get('owner')}/{request.match_info.get('repo')}"
        if "owner" in request.match_info and full.lower() != self.repository.lower():
            return call, self._error(call, 404, "Not Found")
        failure = self.failures.get(self._name(call)) or self.failures.get("*")
        if failure and failure.count > 0:
            failure.count -= 1
            headers = {}
            if failure.status == 429 or (failure.status == 403 and failure.retry_after):
                headers = {"x-ratelimit-limit": "5000", "x-ratelimit-remaining": "0",
                           "x-ratelimit-used": "5000", "x-ratelimit-resource": "core",
                           "x-ratelimit-reset": str(int(time.time()) + 60)}
                if failure.retry_after:
                    headers["Retry-After"] = failure.retry_after
                message = "API rate limit exceeded for user ID 1."
            else:
                message = {403: "Resource not accessible by personal access token",
                           404: "Not Found", 410: "Issues are disabled for this repo",
                           422: "Validation Failed"}.get(failure.status, "Server Error")
            return call, self._error(call, failure.status, message, headers)
        return call, None

    def _error(self, call: Call, status: int, message: str,
               headers: dict[str, str] | None = None) -> web.Response:
        call.status = status
        return web.json_response(
            {"message": message, "documentation_url": "https://docs.github.com/rest",
             "status": str(status)}, status=status, headers=headers)

    def _ok(self, call: Call, data: Any, status: int = 200) -> web.Response:
        call.status = status
        self._changed.set()
        return web.json_response(data, status=status)

    async def _search(self, request: web.Request) -> web.StreamResponse:
        """`GET /search/issues?q=...`: the quoted phrase in the bodies of this repository's
        issues (GitHub's search, without its index lag: the tests need no waiting)."""
        call, error = await self._enter(request)
        if error is not None:
            return error
        query = request.query.get("q", "")
        phrase = query.split('"')[1] if query.count('"') >= 2 else ""
        if f"repo:{self.repository.lower()}" not in query.lower() or not phrase:
            return self._ok(call, {"total_count": 0, "incomplete_results": False, "items": []})
        items = [self._issue_json(i) for i in self.issues if phrase in i["body"]]
        return self._ok(call, {"total_count": len(items), "incomplete_results": False,
                               "items": items[:int(request.query.get("per_page", "30"))]})

    async def _issues(self, request: web.Request) -> web.StreamResponse:
        call, error = await self._enter(request)
        if error is not None:
            return error
        if request.method == "GET":
            ordered = sorted(self.issues, key=lambda i: i["number"],
                             reverse=request.query.get("direction", "desc") == "desc")
            state = request.query.get("state", "open")
            if state != "all":
                ordered = [i for i in ordered if (i["state"] == "closed") == (state == "closed")]
            per_page = min(int(request.query.get("per_page", "30")), 100)
            page = int(request.query.get("page", "1"))
            chunk = ordered[(page - 1) * per_page: page * per_page]
            return self._ok(call, [self._issue_json(i) for i in chunk])
        if request.method != "POST":
            return self._error(call, 404, "Not Found")
        data = call.json or {}
        if not isinstance(data.get("title"), str) or not data["title"].strip():
            return self._error(call, 422, "Validation Failed")
        number = len(self.issues) + 1
        issue = {"ref": f"{self.repository.lower()}#{number}", "number": number,
                 "id": next(self._ids), "label": f"{self.repository}#{number}",
                 "link": f"https://github.com/{self.repository}/issues/{number}",
                 "title": data["title"], "body": data.get("body") or "", "state": "open",
                 "state_reason": None, "comments": [], "comment_objects": [],
                 "labels": list(data.get("labels") or []), "assignees": []}
        self.issues.append(issue)
        answer = self._issue_json(issue)
        if self.hang_next_create:
            delay, self.hang_next_create = self.hang_next_create, 0.0
            call.status = 201
            self._changed.set()
            with contextlib.suppress(TimeoutError):  # stop() ends the wait early
                await asyncio.wait_for(self._stopping.wait(), delay)
        if self.cut_next_create:  # GitHub made it, but the answer never arrives
            self.cut_next_create = False
            call.status = 201
            self._changed.set()
            assert request.transport is not None
            request.transport.abort()
            raise ConnectionResetError("cut off by the test")
        return self._ok(call, answer, 201)

    async def _issue(self, request: web.Request) -> web.StreamResponse:
        call, error = await self._enter(request)
        if error is not None:
            return error
        issue = self._by_number(int(request.match_info["number"]))
        if issue is None:
            return self._error(call, 404, "Not Found")
        if request.method == "PATCH":
            data = call.json or {}
            if data.get("state") == "open" and issue["state"] == "closed":
                issue["state"], issue["state_reason"] = "open", "reopened"
            elif data.get("state") == "closed":
                issue["state"] = "closed"
                issue["state_reason"] = data.get("state_reason") or "completed"
        elif request.method != "GET":
            return self._error(call, 404, "Not Found")
        return self._ok(call, self._issue_json(issue))

    async def _comments(self, request: web.Request) -> web.StreamResponse:
        call, error = await self._enter(request)
        if error is not None:
            return error
        issue = self._by_number(int(request.match_info["number"]))
        if issue is None:
            return self._error(call, 404, "Not Found")
        if request.method == "GET":
            per_page = min(int(request.query.get("per_page", "30")), 100)
            page = int(request.query.get("page", "1"))
            return self._ok(call, issue["comment_objects"][(page - 1) * per_page: page * per_page])
        body = (call.json or {}).get("body")
        if not isinstance(body, str) or not body:
            return self._error(call, 422, "Validation Failed")
        return self._ok(call, self._add_comment(issue, body, "producer-bot[bot]"), 201)

    def _by_number(self, number: int) -> dict[str, Any] | None:
        return next((i for i in self.issues if i["number"] == number), None)

    def _add_comment(self, issue: dict[str, Any], body: str, login: str) -> dict[str, Any]:
        comment_id = next(self._ids)
        comment = {"id": comment_id, "node_id": f"IC_{comment_id}",
                   "url": f"{self.url}/repos/{self.repository}/issues/comments/{comment_id}",
                   "html_url": f"{issue['link']}#issuecomment-{comment_id}", "body": body,
                   "user": self._user(login), "created_at": _now(), "updated_at": _now(),
                   "issue_url": f"{self.url}/repos/{self.repository}/issues/{issue['number']}",
                   "author_association": "NONE"}
        issue["comment_objects"].append(comment)
        issue["comments"].append(body)
        return comment

    @staticmethod
    def _user(login: str) -> dict[str, Any]:
        """A user as GitHub shows one in issues, comments and webhooks (simple-user)."""
        api = f"https://api.github.com/users/{login}"
        user_id = sum(login.encode()) * 7919
        return {"login": login, "id": user_id, "node_id": f"U_kgDO{user_id}",
                "avatar_url": f"https://avatars.githubusercontent.com/u/{user_id}?v=4",
                "gravatar_id": "", "url": api, "html_url": f"https://github.com/{login}",
                "followers_url": f"{api}/followers",
                "following_url": f"{api}/following{{/other_user}}",
                "gists_url": f"{api}/gists{{/gist_id}}",
                "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
                "subscriptions_url": f"{api}/subscriptions", "organizations_url": f"{api}/orgs",
                "repos_url": f"{api}/repos", "events_url": f"{api}/events{{/privacy}}",
                "received_events_url": f"{api}/received_events",
                "type": "Bot" if login.endswith("[bot]") else "User", "site_admin": False}

    def _issue_json(self, issue: dict[str, Any]) -> dict[str, Any]:
        """An issue as the REST API and webhooks show it (the fields that matter, and then some)."""
        api = f"{self.url}/repos/{self.repository}/issues/{issue['number']}"
        assignees = [self._user(a) for a in issue["assignees"]]
        return {"url": api, "repository_url": f"{self.url}/repos/{self.repository}",
                "labels_url": f"{api}/labels{{/name}}", "comments_url": f"{api}/comments",
                "events_url": f"{api}/events", "html_url": issue["link"], "id": issue["id"],
                "node_id": f"I_kwDO{issue['id']}", "number": issue["number"],
                "title": issue["title"], "user": self._user("producer-bot[bot]"),
                "labels": [{"id": 1000 + n, "node_id": f"LA_{n}", "name": name, "color": "ededed",
                            "url": f"{self.url}/repos/{self.repository}/labels/{name}",
                            "default": False, "description": None}
                           for n, name in enumerate(issue["labels"])],
                "state": "closed" if issue["state"] == "closed" else "open",
                "state_reason": issue["state_reason"], "locked": False,
                "assignee": assignees[0] if assignees else None, "assignees": assignees,
                "milestone": None,
                "comments": len(issue["comments"]), "created_at": _now(), "updated_at": _now(),
                "closed_at": _now() if issue["state"] == "closed" else None,
                "author_association": "NONE", "body": issue["body"]}

    # ---- webhooks ------------------------------------------------------------------------

    async def start_work(self, ref: str) -> tuple[int, str]:
        issue = self.issue(ref)
        issue["assignees"] = ["octocat"]
        if issue["state"] == "open":
            issue["state"] = "in_progress"
        return await self._send("assigned", issue, assignee=self._user("octocat"))

    async def complete(self, ref: str) -> tuple[int, str]:
        issue = self.issue(ref)
        issue["state"], issue["state_reason"] = "closed", "completed"
        return await self._send("closed", issue)

    async def not_planned(self, ref: str, reason: str) -> tuple[int, str]:
        """Closed as not planned ("duplicate" closes as a duplicate). Any other reason is said
        in a comment first, as a person would: GitHub's `closed` payload does not carry it."""
        issue = self.issue(ref)
        if reason not in ("not_planned", "duplicate"):
            self._add_comment(issue, reason, "octocat")
        issue["state"] = "closed"
        issue["state_reason"] = reason if reason in ("not_planned", "duplicate") else "not_planned"
        return await self._send("closed", issue)

    async def reopen(self, ref: str) -> tuple[int, str]:
        issue = self.issue(ref)
        issue["state"], issue["state_reason"] = "open", "reopened"
        return await self._send("reopened", issue)

    async def redeliver(self, delivery: str) -> int:
        headers, body = self.deliveries[delivery]
        return await self._post(headers, body)

    async def forge(self, ref: str) -> int:
        """A `closed` delivery that looks like GitHub's but is signed with another secret."""
        issue = dict(self.issue(ref), state="closed", state_reason="completed")
        headers, body = self._delivery("closed", issue, {}, secret="not-the-secret")
        return await self._post(headers, body)

    async def _send(self, action: str, issue: dict[str, Any], **extra: Any) -> tuple[int, str]:
        headers, body = self._delivery(action, issue, extra, secret=self.webhook_secret or "")
        delivery = headers["X-GitHub-Delivery"]
        self.deliveries[delivery] = (headers, body)
        return await self._post(headers, body), delivery

    def _delivery(self, action: str, issue: dict[str, Any], extra: dict[str, Any],
                  secret: str) -> tuple[dict[str, str], bytes]:
        owner, name = self.repository.split("/")
        payload = {"action": action, "issue": self._issue_json(issue), **extra,
                   "repository": {"id": 1296269, "node_id": "R_kgDO", "name": name,
                                  "full_name": self.repository, "private": False,
                                  "owner": self._user(owner),
                                  "html_url": f"https://github.com/{self.repository}"},
                   "sender": self._user("octocat")}
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "GitHub-Hookshot/f1aa6e4",
                   "X-GitHub-Event": "issues", "X-GitHub-Delivery": str(uuid.uuid4()),
                   "X-GitHub-Hook-ID": "42",
                   "X-Hub-Signature": "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest(),
                   "X-Hub-Signature-256": "sha256=" + hmac.new(secret.encode(), body,
                                                               hashlib.sha256).hexdigest()}
        return headers, body

    async def _post(self, headers: dict[str, str], body: bytes) -> int:
        assert self.webhook_url, "set webhook_url first"
        async with aiohttp.ClientSession() as session, \
                session.post(self.webhook_url, data=body, headers=headers) as response:
            await response.read()
            return response.status


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
