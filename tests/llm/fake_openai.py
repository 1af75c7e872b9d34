"""A small OpenAI-compatible server for tests: the real `openai.AsyncOpenAI` client talks to it
over loopback HTTP (openai 3.x sends through httpx2, which transport mocks don't intercept).

Tests script what it answers, in order: a structured answer, raw content, a refusal, an HTTP
status, or a hang that lasts until the test ends. Every request body is recorded.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

Reply = Callable[["FakeOpenAI", dict], Awaitable[web.StreamResponse]]

USAGE = {"prompt_tokens": 120, "completion_tokens": 18, "total_tokens": 138}


def _completion(body: dict, content: str | None, refusal: str | None = None,
                finish_reason: str = "stop") -> web.Response:
    return web.json_response({
        "id": "chatcmpl-test", "object": "chat.completion", "created": 1_700_000_000,
        "model": body.get("model", "test-model"),
        "choices": [{"index": 0, "finish_reason": finish_reason, "logprobs": None,
                     "message": {"role": "assistant", "content": content, "refusal": refusal}}],
        "usage": USAGE,
    })


def answer(**fields: object) -> Reply:
    """A well-formed structured answer: `fields` as the JSON content."""
    async def reply(fake: FakeOpenAI, body: dict) -> web.StreamResponse:
        return _completion(body, json.dumps(fields))
    return reply


def content(text: str, finish_reason: str = "stop") -> Reply:
    """Raw content, e.g. malformed JSON."""
    async def reply(fake: FakeOpenAI, body: dict) -> web.StreamResponse:
        return _completion(body, text, finish_reason=finish_reason)
    return reply


def refusal(text: str = "I can't help with that.") -> Reply:
    async def reply(fake: FakeOpenAI, body: dict) -> web.StreamResponse:
        return _completion(body, None, refusal=text)
    return reply


def status(code: int, headers: dict[str, str] | None = None) -> Reply:
    async def reply(fake: FakeOpenAI, body: dict) -> web.StreamResponse:
        return web.json_response({"error": {"message": "scripted failure", "type": "test",
                                            "code": None, "param": None}},
                                 status=code, headers=headers or {})
    return reply


def hang() -> Reply:
    """Never answer (until the test ends): the client's timeout must give up first."""
    async def reply(fake: FakeOpenAI, body: dict) -> web.StreamResponse:
        await fake.released.wait()
        return web.Response(status=503)
    return reply


def embeddings(vector_for: Callable[[str], list[float]]) -> Reply:
    async def reply(fake: FakeOpenAI, body: dict) -> web.StreamResponse:
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        return web.json_response({
            "object": "list", "model": body.get("model"),
            "data": [{"object": "embedding", "index": i, "embedding": vector_for(text)}
                     for i, text in enumerate(inputs)],
            "usage": {"prompt_tokens": 10 * len(inputs), "total_tokens": 10 * len(inputs)},
        })
    return reply


@dataclass
class FakeOpenAI:
    base_url: str = ""
    chat_script: deque[Reply] = field(default_factory=deque)
    chat_default: Reply | None = None  # when the script is used up
    embedding_reply: Reply | None = None
    requests: list[dict] = field(default_factory=list)  # chat completion bodies
    embedding_requests: list[dict] = field(default_factory=list)
    released: asyncio.Event = field(default_factory=asyncio.Event)

    def then(self, *replies: Reply) -> FakeOpenAI:
        self.chat_script.extend(replies)
        return self

    def always(self, reply: Reply) -> FakeOpenAI:
        self.chat_default = reply
        return self

    async def chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        reply = self.chat_script.popleft() if self.chat_script else self.chat_default
        if reply is None:
            return web.json_response({"error": {"message": "no scripted reply"}}, status=418)
        return await reply(self, body)

    async def embed(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.embedding_requests.append(body)
        if self.embedding_reply is None:
            return web.json_response({"error": {"message": "no such endpoint"}}, status=404)
        return await self.embedding_reply(self, body)

    def user_prompt(self, index: int = -1) -> str:
        """The user message of a recorded chat request."""
        messages = self.requests[index]["messages"]
        return next(m["content"] for m in messages if m["role"] == "user")


async def start(fake: FakeOpenAI) -> web.AppRunner:
    app = web.Application()
    app.router.add_post("/v1/chat/completions", fake.chat)
    app.router.add_post("/v1/embeddings", fake.embed)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    fake.base_url = f"http://{host}:{port}/v1"
    return runner
