"""A small fake of Linear's GraphQL API and its webhooks, on 127.0.0.1.

It answers the operations the Linear adapter sends, matched by operation name (no GraphQL
engine here), the way Linear answers them: `{"data": ...}`, GraphQL errors with
`extensions.code`, 401 for a wrong API key. It records every call, can be told to fail, and
sends signed webhooks shaped like Linear's (see tests/trackers/payloads/linear/).
"""

from __future__ import annotations

import asyncio
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

API_KEY = "lin_api_test"
DEFAULT_SECRET = "lin_wh_test"


@dataclass
class Call:
    method: str  # always "POST": GraphQL has one endpoint
    operation: str  # the operation name ("IssueCreate", "IssuesByMarker", ...)
    data: dict[str, Any]  # the variables
    authorization: str | None = None
    status: int = 200


@dataclass
class Failure:
    status: int
    count: int
    retry_after: str | None = None


@dataclass
class FakeLinear:
    api_key: str = API_KEY
    team_key: str = "ENG"
    issues: list[dict[str, Any]] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    failures: dict[str, Failure] = field(default_factory=dict)
    deliveries: dict[str, tuple[bytes, dict[str, str]]] = field(default_factory=dict)
    cut_next_create: bool = False
    hang_next_create: float = 0.0  # perform the next create, then answer this many seconds late
    webhook_url: str | None = None
    webhook_secret: str | None = None
    base_url: str = ""
    team_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    states: list[dict[str, Any]] = field(default_factory=list)
    _numbers: itertools.count = field(default_factory=lambda: itertools.count(1))
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None

    def __post_init__(self) -> None:
        if not self.states:  # Linear's default workflow, in board order
            for position, (name, kind) in enumerate([
                    ("Backlog", "backlog"), ("Todo", "unstarted"), ("In Progress", "started"),
                    ("In Review", "started"), ("Done", "completed"), ("Canceled", "canceled"),
                    ("Duplicate", "canceled")]):
                self.states.append({"id": str(uuid.uuid4()), "name": name, "type": kind,
                                    "position": float(position)})

    # ---- lifecycle -----------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/graphql", self.graphql)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def env(self) -> dict[str, str]:
        return {"LINEAR_API_KEY": self.api_key, "LINEAR_TEAM": self.team_key,
                "LINEAR_API_URL": f"{self.base_url}/graphql",
                "LINEAR_WEBHOOK_SECRET": self.webhook_secret or DEFAULT_SECRET}

    # ---- test controls -------------------------------------------------------------------

    def fail(self, what: str, status: int, count: int = 1, retry_after: str | None = None) -> None:
        """Fail the next `count` calls of operation `what` ("IssueCreate", ...; "*" for any)."""
        self.failures[what] = Failure(status, count, retry_after)

    def of(self, operation: str) -> list[Call]:
        return [c for c in self.calls if c.operation == operation]

    def issue(self, ref: str) -> dict[str, Any]:
        for issue in self.issues:
            if issue["ref"] == ref:
                return issue
        raise KeyError(ref)

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

    # ---- the API --------------------------------------------------------------------------

    async def graphql(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        query = body.get("query") or ""
        found = re.search(r"\b(?:query|mutation)\s+(\w+)", query)
        operation = body.get("operationName") or (found.group(1) if found else "?")
        variables = body.get("variables") or {}
        call = Call("POST", operation, variables, request.headers.get("Authorization"))
        self.calls.append(call)
        self._changed.set()
        if call.authorization != self.api_key:  # personal keys are sent bare, no "Bearer"
            call.status = 401
            return self._errors(401, "Authentication required, not authenticated",
                                "AUTHENTICATION_ERROR")
        failure = self.failures.get(operation) or self.failures.get("*")
        if failure and failure.count > 0:
            failure.count -= 1
            call.status = failure.status
            headers = {"Retry-After": failure.retry_after} if failure.retry_after else {}
            if failure.status == 429:
                headers["X-RateLimit-Requests-Reset"] = str(int(time.time() * 1000) + 30_000)
                return self._errors(429, "Rate limit exceeded", "RATELIMITED", headers)
            if failure.status >= 500:
                return web.Response(status=failure.status, text="upstream error",
                                    headers=headers)
            code = {401: "AUTHENTICATION_ERROR", 403: "FORBIDDEN"}.get(failure.status,
                                                                       "INVALID_INPUT")
            return self._errors(failure.status, f"failed by the test ({failure.status})",
                                code, headers)
        handler = getattr(self, f"_op_{operation}", None)
        if handler is None:
            return self._errors(400, f"Unknown operation {operation}", "GRAPHQL_VALIDATION_FAILED")
        answer = handler(variables)
        self._changed.set()
        if operation == "IssueCreate" and self.cut_next_create:
            self.cut_next_create = False  # Linear created it, but the answer is lost
            assert request.transport is not None
            request.transport.abort()
            raise ConnectionResetError("cut off by the test")
        if operation == "IssueCreate" and self.hang_next_create:
            delay, self.hang_next_create = self.hang_next_create, 0.0
            await asyncio.sleep(delay)  # the client has given up by then
        if "errors" in answer:
            return web.json_response(answer, status=400)
        return web.json_response({"data": answer})

    @staticmethod
    def _errors(status: int, message: str, code: str,
                headers: dict[str, str] | None = None) -> web.Response:
        return web.json_response({"errors": [{"message": message, "extensions": {
            "code": code, "type": code.lower().replace("_", " ")}}]}, status=status,
            headers=headers)

    def _team(self) -> dict[str, Any]:
        return {"id": self.team_id, "key": self.team_key, "states": {"nodes": self.states}}

    def _op_TrackerTeamByKey(self, v: dict[str, Any]) -> dict[str, Any]:
        return {"teams": {"nodes": [self._team()] if v.get("key") == self.team_key else []}}

    def _op_TrackerTeamById(self, v: dict[str, Any]) -> dict[str, Any]:
        if v.get("id") != self.team_id:
            return {"errors": [{"message": "Entity not found: Team",
                                "extensions": {"code": "INVALID_INPUT"}}]}
        return {"team": self._team()}

    def _op_IssueCreate(self, v: dict[str, Any]) -> dict[str, Any]:
        data = v.get("input") or {}
        if data.get("teamId") != self.team_id or not data.get("title"):
            return {"errors": [{"message": "Argument Validation Error",
                                "extensions": {"code": "INVALID_INPUT"}}]}
        number = next(self._numbers)
        label = f"{self.team_key}-{number}"
        slug = re.sub(r"[^a-z0-9]+", "-", data["title"].lower()).strip("-")[:40]
        todo = next(s for s in self.states if s["type"] == "unstarted")
        issue = {"ref": str(uuid.uuid4()), "label": label, "number": number,
                 "link": f"https://linear.app/acme/issue/{label.lower()}/{slug}",
                 "title": data["title"], "description": data.get("description") or "",
                 "body": plain(data.get("description") or ""), "state_id": todo["id"],
                 "state": "open", "assignee": None, "comments": [], "comment_nodes": [],
                 "labels": []}
        self.issues.append(issue)
        return {"issueCreate": {"success": True, "issue": self._node(issue)}}

    def _op_IssuesByMarker(self, v: dict[str, Any]) -> dict[str, Any]:
        needle = v.get("marker") or ""
        nodes = [{**self._node(i), "description": i["description"]}
                 for i in reversed(self.issues) if needle in i["description"]]
        return {"issues": {"nodes": nodes[:20]}}

    def _op_IssueDetail(self, v: dict[str, Any]) -> dict[str, Any]:
        try:
            issue = self.issue(v.get("id") or "")
        except KeyError:
            return {"errors": [{"message": "Entity not found: Issue",
                                "extensions": {"code": "INVALID_INPUT"}}]}
        state = self._state(issue["state_id"])
        return {"issue": {**self._node(issue), "state": {"id": state["id"], "type": state["type"]},
                          "team": self._team(), "comments": {"nodes": issue["comment_nodes"]}}}

    def _op_CommentCreate(self, v: dict[str, Any]) -> dict[str, Any]:
        data = v.get("input") or {}
        try:
            issue = self.issue(data.get("issueId") or "")
        except KeyError:
            return {"errors": [{"message": "Entity not found: Issue",
                                "extensions": {"code": "INVALID_INPUT"}}]}
        comment = {"id": str(uuid.uuid4()), "body": data.get("body") or ""}
        comment["url"] = f"{issue['link']}#comment-{comment['id'][:8]}"
        issue["comment_nodes"].append(comment)
        issue["comments"].append(plain(comment["body"]))
        return {"commentCreate": {"success": True, "comment": {"id": comment["id"],
                                                               "url": comment["url"]}}}

    def _op_IssueReopen(self, v: dict[str, Any]) -> dict[str, Any]:
        try:
            issue = self.issue(v.get("id") or "")
            self._set_state(issue, self._state(v.get("stateId") or ""))
        except (KeyError, StopIteration):
            return {"errors": [{"message": "Entity not found",
                                "extensions": {"code": "INVALID_INPUT"}}]}
        return {"issueUpdate": {"success": True, "issue": self._node(issue)}}

    @staticmethod
    def _node(issue: dict[str, Any]) -> dict[str, Any]:
        return {"id": issue["ref"], "identifier": issue["label"], "url": issue["link"]}

    def _state(self, state_id: str) -> dict[str, Any]:
        return next(s for s in self.states if s["id"] == state_id)

    def _set_state(self, issue: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
        """Move the issue; returns `updatedFrom` as Linear reports it."""
        before = self._state(issue["state_id"])
        updated: dict[str, Any] = {"stateId": before["id"],
                                   "updatedAt": "2026-12-07T10:00:00.000Z"}
        if before["type"] == "completed" or state["type"] == "completed":
            updated["completedAt"] = "2026-12-07T09:00:00.000Z" \
                if before["type"] == "completed" else None
        if before["type"] == "canceled" or state["type"] == "canceled":
            updated["canceledAt"] = "2026-12-07T09:00:00.000Z" \
                if before["type"] == "canceled" else None
        issue["state_id"] = state["id"]
        issue["state"] = {"completed": "closed", "canceled": "closed",
                          "started": "in_progress"}.get(state["type"], "open")
        return updated

    # ---- webhooks --------------------------------------------------------------------------

    async def start_work(self, ref: str) -> tuple[int, str]:
        return await self._move(ref, next(s for s in self.states if s["type"] == "started"))

    async def complete(self, ref: str) -> tuple[int, str]:
        return await self._move(ref, next(s for s in self.states if s["type"] == "completed"))

    async def not_planned(self, ref: str, reason: str) -> tuple[int, str]:
        """Cancel into the canceled state named `reason` ("Duplicate", ...), made if new."""
        state = next((s for s in self.states if s["type"] == "canceled"
                      and s["name"].lower() == reason.lower()), None)
        if state is None:
            state = {"id": str(uuid.uuid4()), "name": reason, "type": "canceled",
                     "position": float(len(self.states))}
            self.states.append(state)
        return await self._move(ref, state)

    async def reopen(self, ref: str) -> tuple[int, str]:
        return await self._move(ref, next(s for s in self.states if s["type"] == "unstarted"))

    async def assign(self, ref: str, name: str = "Ada Lovelace") -> tuple[int, str]:
        issue = self.issue(ref)
        issue["assignee"] = {"id": str(uuid.uuid4()), "name": name}
        return await self._deliver(self.payload(issue, {"assigneeId": None}))

    async def redeliver(self, delivery: str) -> int:
        body, headers = self.deliveries[delivery]
        return await self._post(body, headers)

    async def forge(self, ref: str) -> int:
        issue = self.issue(ref)
        done = next(s for s in self.states if s["type"] == "completed")
        payload = self.payload({**issue, "state_id": done["id"]},
                               {"stateId": issue["state_id"], "completedAt": None})
        body = json.dumps(payload).encode()
        headers = self._headers(body, str(uuid.uuid4()), secret="not-the-secret")
        return await self._post(body, headers)

    async def _move(self, ref: str, state: dict[str, Any]) -> tuple[int, str]:
        issue = self.issue(ref)
        updated = self._set_state(issue, state)
        return await self._deliver(self.payload(issue, updated))

    def payload(self, issue: dict[str, Any], updated_from: dict[str, Any]) -> dict[str, Any]:
        """An `Issue` `update` webhook body as Linear sends it (fields the bot does not read
        trimmed, the rest as documented)."""
        state = self._state(issue["state_id"])
        assignee = issue.get("assignee")
        now = int(time.time() * 1000)
        return {
            "action": "update", "type": "Issue", "createdAt": "2026-12-07T10:00:00.000Z",
            "actor": {"id": "5f1a3e5e-0000-4000-8000-000000000001", "name": "Ada Lovelace",
                      "email": "ada@example.com", "type": "user"},
            "data": {
                "id": issue["ref"], "identifier": issue["label"], "number": issue["number"],
                "title": issue["title"], "description": issue["description"],
                "priority": 0, "priorityLabel": "No priority", "url": issue["link"],
                "teamId": self.team_id, "stateId": state["id"],
                "team": {"id": self.team_id, "key": self.team_key, "name": "Engineering"},
                "state": {"id": state["id"], "name": state["name"], "type": state["type"],
                          "color": "#f2c94c"},
                "assigneeId": assignee["id"] if assignee else None,
                **({"assignee": assignee} if assignee else {}),
                "labelIds": [], "labels": [],
                "createdAt": "2026-12-07T09:00:00.000Z", "updatedAt": "2026-12-07T10:00:00.000Z",
            },
            "updatedFrom": updated_from,
            "url": issue["link"],
            "organizationId": "a0f5b6c2-0000-4000-8000-0000000000aa",
            "webhookTimestamp": now,
            "webhookId": "b1c2d3e4-0000-4000-8000-0000000000bb",
        }

    async def _deliver(self, payload: dict[str, Any]) -> tuple[int, str]:
        body = json.dumps(payload).encode()
        delivery = str(uuid.uuid4())
        headers = self._headers(body, delivery)
        self.deliveries[delivery] = (body, headers)
        return await self._post(body, headers), delivery

    def _headers(self, body: bytes, delivery: str, secret: str | None = None) -> dict[str, str]:
        key = (secret or self.webhook_secret or DEFAULT_SECRET).encode()
        return {"Content-Type": "application/json; charset=utf-8",
                "Linear-Signature": hmac.new(key, body, hashlib.sha256).hexdigest(),
                "Linear-Delivery": delivery, "Linear-Event": "Issue",
                "User-Agent": "Linear-Webhook"}

    async def _post(self, body: bytes, headers: dict[str, str]) -> int:
        if not self.webhook_url:
            raise RuntimeError("set FakeLinear.webhook_url first")
        async with aiohttp.ClientSession() as session, \
                session.post(self.webhook_url, data=body, headers=headers) as response:
            await response.read()
            self._changed.set()
            return response.status


def plain(markdown: str) -> str:
    """What a person reads in the description: Markdown's ** and heading marks dropped."""
    text = re.sub(r"^#{1,6}\s+", "", markdown, flags=re.M)
    return text.replace("**", "")
