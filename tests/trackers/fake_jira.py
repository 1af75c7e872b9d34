"""A small fake of Jira Cloud's REST v3 (the calls the bot makes) and its admin webhooks, on
127.0.0.1.

It checks basic auth, validates the ADF it is sent, answers with Jira's status codes and
shapes (201 {"id","key","self"} for a create, 204 for a transition, {"errorMessages", "errors"}
for errors), records every call, and can be told to fail. Its workflow is Jira's simplified one:
To Do (new), In Progress (indeterminate), Done (done), any status to any other.

`fail(what, ...)` names an operation: "create", "issue", "search", "comments", "comment",
"transitions", "transition".
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import itertools
import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

API = "/rest/api/3"


def _status(sid: str, name: str, cid: int, key: str, color: str, cname: str) -> dict[str, Any]:
    return {"id": sid, "name": name, "statusCategory": {
        "id": cid, "key": key, "colorName": color, "name": cname}}


TODO = _status("10000", "To Do", 2, "new", "blue-gray", "To Do")
IN_PROGRESS = _status("3", "In Progress", 4, "indeterminate", "yellow", "In Progress")
DONE = _status("10001", "Done", 3, "done", "green", "Done")
TRANSITIONS = {"11": TODO, "21": IN_PROGRESS, "31": DONE}
STATES = {"new": "open", "indeterminate": "in_progress", "done": "closed"}
DEVELOPER = {"accountId": "5b10ac8d82e05b22cc7d4ef5", "displayName": "Dana Developer",
             "active": True, "accountType": "atlassian", "timeZone": "Europe/Berlin"}

NODES = {"doc", "paragraph", "heading", "text", "hardBreak", "bulletList", "listItem"}
MARKS = {"strong", "em", "code", "link", "underline", "strike"}


@dataclass
class Call:
    method: str
    path: str
    op: str  # create, issue, search, comments, comment, transitions, transition
    json: Any


@dataclass
class Failure:
    status: int
    count: int
    retry_after: str | None = None


def adf_errors(node: Any, top: bool = True) -> list[str]:
    """What Jira would refuse in an ADF document (a small subset of its schema)."""
    if not isinstance(node, dict) or node.get("type") not in NODES:
        return [f"unknown node {node!r:.60}"]
    if top and (node.get("type") != "doc" or node.get("version") != 1):
        return ["not an ADF doc of version 1"]
    errors = []
    if node["type"] == "text":
        if not isinstance(node.get("text"), str) or not node["text"]:
            errors.append("empty text node")
        for mark in node.get("marks") or []:
            if mark.get("type") not in MARKS:
                errors.append(f"unknown mark {mark!r}")
            if mark.get("type") == "link" and not (mark.get("attrs") or {}).get("href"):
                errors.append("link mark without href")
    for child in node.get("content") or []:
        errors += adf_errors(child, top=False)
    return errors


def adf_text(node: Any) -> str:
    """The plain text of an ADF document: blocks on their own lines, hardBreaks as newlines."""
    if not isinstance(node, dict):
        return ""
    kind = node.get("type")
    if kind == "text":
        return node.get("text", "")
    if kind == "hardBreak":
        return "\n"
    inner = [adf_text(c) for c in node.get("content") or []]
    if kind in ("doc", "bulletList", "listItem"):
        return "\n".join(inner)
    return "".join(inner)


@dataclass
class FakeJira:
    email: str = "bot@acme.test"
    api_token: str = "jira-test-token"
    project: str = "PROJ"
    issues: list[dict[str, Any]] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    failures: dict[str, Failure] = field(default_factory=dict)
    cut_next_create: bool = False
    reopenable: bool = True  # False: a workflow with no way out of Done
    # True: issues created from now on are missing from search/jql (its index is eventually
    # consistent), though GET /issue/{key} has them at once, as in Jira Cloud.
    search_lags: bool = False
    webhook_url: str | None = None
    webhook_secret: str | None = "jira-webhook-secret"
    deliveries: dict[str, tuple[bytes, dict[str, str]]] = field(default_factory=dict)
    base_url: str = ""
    _ids: itertools.count = field(default_factory=lambda: itertools.count(10001))
    _numbers: itertools.count = field(default_factory=lambda: itertools.count(1))
    _changelog: itertools.count = field(default_factory=lambda: itertools.count(20001))
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None
    _cuts: set[str] = field(default_factory=set)
    _hangs: dict[str, float] = field(default_factory=dict)
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)

    # ---- life ---------------------------------------------------------------------------------

    async def start(self) -> str:
        self._stopping.clear()
        app = web.Application()
        app.router.add_post(f"{API}/issue", self._create)
        app.router.add_get(f"{API}/issue/{{issue}}", self._get)
        app.router.add_route("*", f"{API}/search/jql", self._search)
        app.router.add_route("*", f"{API}/issue/{{issue}}/comment", self._comment)
        app.router.add_route("*", f"{API}/issue/{{issue}}/transitions", self._transitions)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}"
        return self.base_url

    async def stop(self) -> None:
        self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def env(self) -> dict[str, str]:
        return {"JIRA_URL": self.base_url, "JIRA_EMAIL": self.email,
                "JIRA_API_TOKEN": self.api_token, "JIRA_PROJECT": self.project,
                "JIRA_WEBHOOK_SECRET": self.webhook_secret or ""}

    # ---- test controls ------------------------------------------------------------------------

    def fail(self, what: str, status: int, count: int = 1, retry_after: str | None = None) -> None:
        self.failures[what] = Failure(status, count, retry_after)

    def cut(self, what: str) -> None:
        """Perform the next `what` ("create", "comment", "transition"), then drop the connection."""
        self._cuts.add(what)

    def hang(self, what: str, seconds: float) -> None:
        """Perform the next `what`, then answer only after `seconds` (a client timeout)."""
        self._hangs[what] = seconds

    def of(self, op: str) -> list[Call]:
        return [c for c in self.calls if c.op == op]

    def issue(self, ref: str) -> dict[str, Any]:
        return next(i for i in self.issues if i["ref"] == str(ref) or i["label"] == ref)

    async def wait_for(self, condition: Callable[[], Any], within: float = 10.0) -> Any:
        """Wait until `condition()` is truthy (re-checked on every call and webhook)."""
        async def loop() -> Any:
            while True:
                result = condition()
                if result:
                    return result
                self._changed.clear()
                await self._changed.wait()
        return await asyncio.wait_for(loop(), within)

    # ---- what people do in Jira, told by webhook ---------------------------------------------

    async def start_work(self, ref: str) -> tuple[int, str]:
        issue = self.issue(ref)
        items = [self._move(issue, IN_PROGRESS)]
        if issue["assignee"] is None:
            issue["assignee"] = DEVELOPER
            items.append({"field": "assignee", "fieldtype": "jira", "fieldId": "assignee",
                          "from": None, "fromString": None, "to": DEVELOPER["accountId"],
                          "toString": DEVELOPER["displayName"]})
        return await self._deliver(self._payload(issue, items))

    async def complete(self, ref: str) -> tuple[int, str]:
        issue = self.issue(ref)
        return await self._deliver(self._payload(issue, self._close(issue, "Done")))

    async def not_planned(self, ref: str, reason: str = "Won't Do") -> tuple[int, str]:
        issue = self.issue(ref)
        return await self._deliver(self._payload(issue, self._close(issue, reason)))

    async def reopen(self, ref: str) -> tuple[int, str]:
        """Someone moves a done issue back to To Do (an extra beyond the shared fake API)."""
        issue = self.issue(ref)
        return await self._deliver(self._payload(issue, self._open(issue, TODO)))

    async def redeliver(self, delivery: str) -> int:
        body, headers = self.deliveries[delivery]
        return await self._post(body, headers)

    async def forge(self, ref: str) -> int:
        """A "done" delivery signed with the wrong secret; the issue itself does not change."""
        issue = dict(self.issue(ref), status=DONE, resolution={"id": "10000", "name": "Done"})
        body = json.dumps(self._payload(issue, [])).encode()
        headers = self._headers(body, "not-the-secret", str(uuid.uuid4()))
        return await self._post(body, headers)

    def _close(self, issue: dict[str, Any], resolution: str) -> list[dict[str, Any]]:
        old = issue["resolution"]
        issue["resolution"] = {"id": str(10000 + len(resolution)), "name": resolution}
        return [self._move(issue, DONE), {
            "field": "resolution", "fieldtype": "jira", "fieldId": "resolution",
            "from": old and old["id"], "fromString": old and old["name"],
            "to": issue["resolution"]["id"], "toString": resolution}]

    def _open(self, issue: dict[str, Any], status: dict[str, Any]) -> list[dict[str, Any]]:
        items = [self._move(issue, status)]
        if issue["resolution"]:
            old, issue["resolution"] = issue["resolution"], None
            items.append({"field": "resolution", "fieldtype": "jira", "fieldId": "resolution",
                          "from": old["id"], "fromString": old["name"], "to": None,
                          "toString": None})
        return items

    def _move(self, issue: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
        old, issue["status"] = issue["status"], status
        issue["state"] = STATES[status["statusCategory"]["key"]]
        self._changed.set()
        return {"field": "status", "fieldtype": "jira", "fieldId": "status", "from": old["id"],
                "fromString": old["name"], "to": status["id"], "toString": status["name"]}

    def _payload(self, issue: dict[str, Any], items: list[dict[str, Any]]) -> dict[str, Any]:
        # The shape of Jira Cloud's jira:issue_updated admin webhook (see payloads/jira/).
        return {
            "timestamp": int(time.time() * 1000), "webhookEvent": "jira:issue_updated",
            "issue_event_type_name": "issue_generic", "user": DEVELOPER,
            "issue": self._json(issue, full=True),
            "changelog": {"id": str(next(self._changelog)), "items": items},
        }

    async def _deliver(self, payload: dict[str, Any]) -> tuple[int, str]:
        delivery = str(uuid.uuid4())
        body = json.dumps(payload).encode()
        headers = self._headers(body, self.webhook_secret or "", delivery)
        self.deliveries[delivery] = (body, headers)
        return await self._post(body, headers), delivery

    def _headers(self, body: bytes, secret: str, delivery: str) -> dict[str, str]:
        signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return {"Content-Type": "application/json; charset=utf-8",
                "User-Agent": "Atlassian Webhook HTTP Client",
                "X-Atlassian-Webhook-Identifier": delivery,
                "X-Hub-Signature": f"sha256={signature}"}

    async def _post(self, body: bytes, headers: dict[str, str]) -> int:
        if not self.webhook_url:
            raise RuntimeError("set webhook_url first")
        async with aiohttp.ClientSession() as session, \
                session.post(self.webhook_url, data=body, headers=headers) as response:
            await response.read()
            self._changed.set()
            return response.status

    # ---- the REST API ------------------------------------------------------------------------

    async def _enter(self, request: web.Request, op: str) -> tuple[Any, web.Response | None]:
        """Record the call; answer 401 / a told failure, or (its JSON, None) to go on."""
        data: Any = None
        if request.can_read_body:
            try:
                data = await request.json()
            except ValueError:
                return None, _error(400, "Unexpected character: the body is not JSON")
        self.calls.append(Call(request.method, request.path_qs, op, data))
        self._changed.set()
        expected = base64.b64encode(f"{self.email}:{self.api_token}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {expected}":
            return data, _error(401, "Client must be authenticated to access this resource.")
        failure = self.failures.get(op)
        if failure and failure.count > 0:
            failure.count -= 1
            response = _error(failure.status, "Rate limit exceeded." if failure.status == 429
                              else f"told to fail with {failure.status}")
            if failure.retry_after:
                response.headers["Retry-After"] = failure.retry_after
            return data, response
        return data, None

    async def _create(self, request: web.Request) -> web.StreamResponse:
        data, refused = await self._enter(request, "create")
        if refused:
            return refused
        fields = (data or {}).get("fields") or {}
        if (fields.get("project") or {}).get("key") != self.project:
            return _error(400, errors={"project": "Specify a valid project ID or key"})
        if (fields.get("issuetype") or {}).get("name") not in ("Task", "Bug", "Story"):
            return _error(400, errors={"issuetype": "Specify an issue type"})
        summary = fields.get("summary")
        if not isinstance(summary, str) or not summary or len(summary) > 255 or "\n" in summary:
            return _error(400, errors={"summary": "Summary must be one line, 1 to 255 characters."})
        if "description" in fields and adf_errors(fields["description"]):
            return _error(400, errors={"description": "; ".join(adf_errors(fields["description"]))})
        labels = fields.get("labels") or []
        if any(not isinstance(x, str) or " " in x or len(x) > 255 for x in labels):
            return _error(400, errors={"labels": "Labels cannot contain spaces."})
        number, ref = next(self._numbers), str(next(self._ids))
        key = f"{self.project}-{number}"
        self.issues.append({
            "ref": ref, "label": key, "link": f"{self.base_url}/browse/{key}", "title": summary,
            "body": adf_text(fields.get("description")), "state": "open", "comments": [],
            "labels": list(labels), "status": TODO, "resolution": None, "assignee": None,
            "description": fields.get("description"), "adf_comments": [],
            "indexed": not self.search_lags,
        })
        self._changed.set()
        if self.cut_next_create:  # Jira filed it, but the answer never arrives
            self.cut_next_create = False
            self._cuts.add("create")
        await self._lose_answer(request, "create")
        return web.json_response({"id": ref, "key": key,
                                  "self": f"{self.base_url}{API}/issue/{ref}"}, status=201)

    async def _lose_answer(self, request: web.Request, op: str) -> None:
        """After doing `op`: drop the connection or answer late, if the test said so."""
        if op in self._cuts:
            self._cuts.discard(op)
            assert request.transport is not None
            request.transport.abort()
            raise ConnectionResetError("cut off by the test")
        if op in self._hangs:  # (a hung answer ends early when the fake stops)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._hangs.pop(op))

    def _find(self, issue: str) -> dict[str, Any] | None:
        return next((i for i in self.issues if issue in (i["ref"], i["label"])), None)

    def _json(self, issue: dict[str, Any], full: bool = False) -> dict[str, Any]:
        fields: dict[str, Any] = {"status": issue["status"], "summary": issue["title"],
                                  "labels": issue["labels"], "resolution": issue["resolution"]}
        if full:
            fields.update(assignee=issue["assignee"], description=issue["description"],
                          project={"id": "10000", "key": self.project, "name": "Project"},
                          issuetype={"id": "10002", "name": "Task", "subtask": False})
        return {"id": issue["ref"], "key": issue["label"],
                "self": f"{self.base_url}/rest/api/2/issue/{issue['ref']}", "fields": fields}

    async def _get(self, request: web.Request) -> web.StreamResponse:
        _, refused = await self._enter(request, "issue")
        if refused:
            return refused
        issue = self._find(request.match_info["issue"])
        if issue is None:
            return _error(404, "Issue does not exist or you do not have permission to see it.")
        return web.json_response(self._json(issue))

    async def _search(self, request: web.Request) -> web.StreamResponse:
        data, refused = await self._enter(request, "search")
        if refused:
            return refused
        jql = (data or {}).get("jql") or request.query.get("jql", "")
        # The two queries the adapter makes; anything else is a bug in the caller.
        labelled = re.fullmatch(r'project = "([A-Z0-9_]+)" AND labels = "([^"]+)"', jql)
        newest = re.fullmatch(r'project = "([A-Z0-9_]+)" ORDER BY created DESC', jql)
        if not (labelled or newest):
            return _error(400, f"The fake does not understand the JQL {jql!r}")
        project = (labelled or newest)[1]  # type: ignore[index]
        found = [self._json(i) for i in reversed(self.issues) if i["indexed"]
                 and i["label"].startswith(project + "-")
                 and (newest or labelled[2] in i["labels"])]  # type: ignore[index]
        limit = int((data or {}).get("maxResults") or request.query.get("maxResults") or 50)
        return web.json_response({"issues": found[:limit], "isLast": len(found) <= limit})

    async def _comment(self, request: web.Request) -> web.StreamResponse:
        op = "comment" if request.method == "POST" else "comments"
        data, refused = await self._enter(request, op)
        if refused:
            return refused
        issue = self._find(request.match_info["issue"])
        if issue is None:
            return _error(404, "Issue does not exist or you do not have permission to see it.")
        if request.method == "GET":
            comments = [{"id": str(n + 10000), "body": body, "author": {"displayName": "bot"}}
                        for n, body in enumerate(issue["adf_comments"])]
            if request.query.get("orderBy") == "-created":
                comments.reverse()
            return web.json_response({"startAt": 0, "maxResults": 100, "total": len(comments),
                                      "comments": comments[:100]})
        body = (data or {}).get("body")
        if adf_errors(body):
            return _error(400, errors={"comment": "; ".join(adf_errors(body))})
        issue["adf_comments"].append(body)
        issue["comments"].append(adf_text(body))
        self._changed.set()
        await self._lose_answer(request, "comment")
        number = len(issue["adf_comments"]) + 9999
        return web.json_response({"id": str(number), "body": body,
                                  "self": f"{self.base_url}{API}/issue/{issue['ref']}/comment/{number}"},
                                 status=201)

    async def _transitions(self, request: web.Request) -> web.StreamResponse:
        op = "transition" if request.method == "POST" else "transitions"
        data, refused = await self._enter(request, op)
        if refused:
            return refused
        issue = self._find(request.match_info["issue"])
        if issue is None:
            return _error(404, "Issue does not exist or you do not have permission to see it.")
        if request.method == "GET":
            return web.json_response({"expand": "transitions", "transitions": [
                {"id": tid, "name": to["name"], "to": to, "hasScreen": False, "isGlobal": True,
                 "isInitial": False, "isAvailable": True, "isConditional": False}
                for tid, to in TRANSITIONS.items() if to["id"] != issue["status"]["id"]
                and (self.reopenable or issue["status"] is not DONE)]})
        tid = str(((data or {}).get("transition") or {}).get("id"))
        if tid not in TRANSITIONS or TRANSITIONS[tid]["id"] == issue["status"]["id"]:
            return _error(400, errors={"transition": "Transition id is not valid for this issue."})
        if TRANSITIONS[tid] is DONE:
            self._close(issue, "Done")
        else:
            self._open(issue, TRANSITIONS[tid])
        await self._lose_answer(request, "transition")
        return web.Response(status=204)


def _error(status: int, message: str | None = None,
           errors: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"errorMessages": [message] if message else [],
                              "errors": errors or {}}, status=status)
