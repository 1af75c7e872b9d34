"""A small fake of Slack's Web API (and its Socket Mode WebSocket) on 127.0.0.1.

It answers the methods the bot uses the way Slack does, records every call, checks every Block
Kit payload against Slack's limits, and can be told to fail (429 with Retry-After, 500).
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web
from slack_sdk.models.blocks import Block

TEAMS_BY_TOKEN = {"xoxb-test": "T1", "xoxb-installed": "T2", "xoxb-other": "T3"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass
class Upload:
    """A file on its way in (files.getUploadURLExternal), its bytes once sent to the upload URL,
    and where files.completeUploadExternal shared it."""

    file_id: str
    filename: str
    length: int
    alt_txt: str | None
    data: bytes | None = None
    title: str | None = None
    channel: str | None = None
    thread_ts: str | None = None
    completed: bool = False


@dataclass
class Call:
    method: str
    data: dict[str, Any]
    token: str | None
    response: dict[str, Any] = field(default_factory=dict)

    def blocks_text(self) -> str:
        """Every text in the call's blocks, for assertions on what a person would read."""
        blocks = self.data.get("blocks") or (self.data.get("view") or {}).get("blocks") or []
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        return json.dumps(blocks, ensure_ascii=False)


@dataclass
class Failure:
    status: int
    count: int
    retry_after: str | None = None
    hang: float = 0.0  # accept the call (it counts as delivered) but answer this late
    cut: bool = False  # accept the call, then close the connection without an answer


@dataclass
class FakeSlack:
    calls: list[Call] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    failures: dict[str, Failure] = field(default_factory=dict)
    sockets: list[web.WebSocketResponse] = field(default_factory=list)
    acks: list[dict[str, Any]] = field(default_factory=list)
    ws_url: str = ""
    base_url: str = ""  # the fixture sets it: upload URLs point back at this fake
    uploads: dict[str, Upload] = field(default_factory=dict)
    _ts: itertools.count = field(default_factory=lambda: itertools.count(1))
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/{method}", self.api)
        app.router.add_get("/api/{method}", self.api)  # users.info and friends are GETs
        app.router.add_get("/socket", self.socket)
        app.router.add_post("/upload/{file_id}", self.upload)
        return app

    # ---- test controls -----------------------------------------------------------------

    def fail(self, method: str, status: int, count: int = 1, retry_after: str | None = None) -> None:
        self.failures[method] = Failure(status, count, retry_after)

    def of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def shared_files(self) -> list[Upload]:
        """The files completeUploadExternal shared, in order."""
        return [u for u in self.uploads.values() if u.completed]

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

    # ---- the Web API --------------------------------------------------------------------

    async def api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.method == "GET":
            data = {}
        elif request.content_type == "application/json":
            data = await request.json()
        else:
            data = dict(await request.post())
        data.update(request.query)
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else data.get("token")
        call = Call(method, data, token)
        self.calls.append(call)
        failure = self.failures.get(method)
        if failure and failure.count > 0 and (failure.hang or failure.cut):
            failure.count -= 1
            self._check_blocks(method, data)
            call.response = self._answer(method, data, token)  # Slack did post it...
            self._changed.set()
            if failure.cut:  # ...but the connection drops before the answer
                assert request.transport is not None
                request.transport.abort()
                raise ConnectionResetError("cut off by the test")
            await asyncio.sleep(failure.hang)  # ...but the answer is lost in a slow network
            return web.json_response(call.response)
        if failure and failure.count > 0:
            failure.count -= 1
            headers = {"Retry-After": failure.retry_after} if failure.retry_after else {}
            error = "ratelimited" if failure.status == 429 else "internal_error"
            call.response = {"ok": False, "error": error}
            self._changed.set()
            return web.json_response(call.response, status=failure.status, headers=headers)
        self._check_blocks(method, data)
        call.response = self._answer(method, data, token)
        self._changed.set()
        return web.json_response(call.response)

    def _answer(self, method: str, data: dict[str, Any], token: str | None) -> dict[str, Any]:
        team = TEAMS_BY_TOKEN.get(token or "")
        if method == "auth.test":
            if team is None:
                return {"ok": False, "error": "invalid_auth"}
            return {"ok": True, "url": "https://acme.slack.com/", "team": "Acme", "user": "bot",
                    "team_id": team, "user_id": "UBOT", "bot_id": "BBOT"}
        if method == "oauth.v2.access":
            return {"ok": True, "app_id": "A1", "authed_user": {"id": "UINSTALLER"},
                    "scope": "chat:write,commands", "token_type": "bot",
                    "access_token": "xoxb-installed", "bot_user_id": "UBOT",
                    "team": {"id": "T2", "name": "Globex"}, "enterprise": None,
                    "is_enterprise_install": False}
        if method == "apps.connections.open":
            return {"ok": True, "url": self.ws_url}
        if method == "conversations.open":
            return {"ok": True, "channel": {"id": "D" + str(data.get("users", "")).split(",")[0]}}
        if method == "users.info":
            return {"ok": True, "user": {"id": data.get("user"), "tz": "Europe/Berlin",
                                         "real_name": "Someone"}}
        if method in ("chat.postMessage", "chat.update"):
            return {"ok": True, "channel": data.get("channel"), "ts": f"1700000000.{next(self._ts):06d}"}
        if method == "conversations.history":
            posted = [c for c in self.calls if c.method == "chat.postMessage" and c.response.get("ok")
                      and c.data.get("channel") == data.get("channel")]
            metadata = data.get("include_all_metadata") in (True, "true", "1", 1)
            return {"ok": True, "has_more": False, "messages": [
                {"type": "message", "ts": c.response["ts"], "text": c.data.get("text"),
                 **({"metadata": c.data["metadata"]} if metadata and c.data.get("metadata") else {})}
                for c in reversed(posted)][: int(data.get("limit") or 100)]}
        if method == "files.getUploadURLExternal":
            return self._upload_url(data)
        if method == "files.completeUploadExternal":
            return self._complete_upload(data)
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": f"1700000000.{next(self._ts):06d}"}
        if method in ("views.open", "views.publish"):
            return {"ok": True, "view": {"id": "V1"}}
        return {"ok": False, "error": "unknown_method"}

    # ---- files_upload_v2: files.getUploadURLExternal, the upload, files.completeUploadExternal

    def _upload_url(self, data: dict[str, Any]) -> dict[str, Any]:
        filename, length = data.get("filename"), str(data.get("length") or "")
        if not filename or not length.isdigit() or int(length) <= 0:
            return {"ok": False, "error": "invalid_arguments"}
        alt = data.get("alt_txt")
        if alt is not None and len(alt) > 1000:
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F{len(self.uploads) + 1:06d}"
        self.uploads[file_id] = Upload(file_id, filename, int(length), alt)
        return {"ok": True, "file_id": file_id,
                "upload_url": self.base_url.replace("/api/", f"/upload/{file_id}")}

    async def upload(self, request: web.Request) -> web.Response:
        """The upload URL: takes the file's bytes (Slack answers 200 "OK - <length>")."""
        upload = self.uploads.get(request.match_info["file_id"])
        if upload is None or upload.data is not None:
            return web.Response(status=404, text="not found")
        upload.data = await request.read()
        if len(upload.data) != upload.length:
            self.violations.append(f"upload {upload.file_id}: {len(upload.data)} bytes, "
                                   f"{upload.length} announced")
        if upload.filename.endswith(".png") and not upload.data.startswith(PNG_SIGNATURE):
            self.violations.append(f"upload {upload.file_id}: {upload.filename} is not a PNG")
        self._changed.set()
        return web.Response(text=f"OK - {len(upload.data)}")

    def _complete_upload(self, data: dict[str, Any]) -> dict[str, Any]:
        try:
            files = json.loads(data.get("files") or "")
        except ValueError:
            return {"ok": False, "error": "invalid_arguments"}
        shared = []
        for item in files if isinstance(files, list) else []:
            upload = self.uploads.get(item.get("id", ""))
            if upload is None or upload.completed:
                return {"ok": False, "error": "file_not_found"}
            if upload.data is None:
                return {"ok": False, "error": "file_upload_not_found"}  # bytes never sent
            upload.completed, upload.title = True, item.get("title") or upload.filename
            upload.channel, upload.thread_ts = data.get("channel_id"), data.get("thread_ts")
            if not upload.channel:
                self.violations.append(f"upload {upload.file_id} completed without channel_id: "
                                       "a private file nobody sees")
            shared.append({"id": upload.file_id, "name": upload.filename, "title": upload.title})
        if not shared:
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True, "files": shared}

    def _check_blocks(self, method: str, data: dict[str, Any]) -> None:
        """Every payload the bot sends must parse and stay within Slack's limits."""
        view = data.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        blocks = (view or {}).get("blocks") if view else data.get("blocks")
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        if method.startswith("chat.post") and not data.get("text"):
            self.violations.append(f"{method} without a text fallback")
        if not blocks:
            return
        limit = 100 if view else 50
        if len(blocks) > limit:
            self.violations.append(f"{method}: {len(blocks)} blocks > {limit}")
        for raw in blocks:
            parsed = Block.parse(raw)
            if parsed is None:
                self.violations.append(f"{method}: unparseable block {raw}")
                continue
            try:
                parsed.to_dict()  # validates lengths
            except Exception as exc:
                self.violations.append(f"{method}: {exc}")
            text = (raw.get("text") or {}).get("text", "")
            if len(text) > 3000:
                self.violations.append(f"{method}: section text {len(text)} > 3000")

    # ---- Socket Mode ----------------------------------------------------------------------

    async def socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.sockets.append(ws)
        self._changed.set()
        await ws.send_str(json.dumps({"type": "hello", "num_connections": 1}))
        async for frame in ws:
            if frame.type == WSMsgType.TEXT:
                self.acks.append(json.loads(frame.data))
                self._changed.set()
        return ws

    async def push(self, envelope: dict[str, Any]) -> None:
        await self.sockets[-1].send_str(json.dumps(envelope))
