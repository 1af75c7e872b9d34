"""The HTTP server over real HTTP on 127.0.0.1: its health endpoints, and how it treats slow
and vanishing clients."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import ClientSession
from aiohttp.test_utils import TestClient, TestServer

from adapters.compose import App, open_app
from adapters.config import Settings
from adapters.server import Limits, Server, make_web_app, serving


async def get_json(app: App, path: str) -> tuple[int, dict]:
    async with TestClient(TestServer(make_web_app(app), host="127.0.0.1", port=0)) as client:
        response = await client.get(path)
        return response.status, await response.json()


async def test_healthz_and_readyz_on_a_working_database(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'bot.db'}")
    async with open_app(settings) as app:
        assert await get_json(app, "/healthz") == (200, {"status": "ok", "outbox_backlog": None})
        await app.relay.drain()
        assert await get_json(app, "/healthz") == (200, {"status": "ok", "outbox_backlog": 0})
        assert await get_json(app, "/readyz") == (
            200, {"status": "ok", "database": "ok", "outbox_backlog": 0,
                  "last_scheduler_tick": None})


async def test_readyz_says_unavailable_when_the_database_is_down() -> None:
    # Nothing listens on port 1: the database is "down" from the first query.
    settings = Settings(database_url="postgresql://postgres@127.0.0.1:1/none")
    async with open_app(settings, auto_migrate=False) as app:
        status, body = await get_json(app, "/readyz")
        assert status == 503 and body["status"] == "unavailable"
        assert (await get_json(app, "/healthz"))[0] == 200  # alive, though not ready


# ---- slow and vanishing clients, over real sockets ---------------------------------------------

# Small numbers, so each test takes a few seconds; every wait below is bounded.
QUICK = Limits(header_seconds=1.0, keepalive_seconds=1.0, body_seconds=1.0, max_connections=12)
BOUND = 15.0


@asynccontextmanager
async def quick_server(tmp_path, limits: Limits = QUICK) -> AsyncIterator[Server]:  # type: ignore[no-untyped-def]
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'bot.db'}")
    async with open_app(settings) as app, serving(app, host="127.0.0.1", port=0, worker=False,
                                                  scheduler=False, limits=limits) as server:
        yield server


async def healthy(server: Server) -> None:
    async with ClientSession() as session:
        response = await asyncio.wait_for(session.get(server.url + "/healthz"), BOUND)
        assert response.status == 200
        response.release()


async def closed_by_server(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sent before it closed the connection."""
    return await asyncio.wait_for(reader.read(), BOUND)


async def test_clients_that_never_finish_their_headers_are_cut_off(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with quick_server(tmp_path) as server:
        slow = []
        for _ in range(40):  # more than max_connections
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(b"POST /slack/events HTTP/1.1\r\nHost: bot\r\nX-Slow: ")
            slow.append((reader, writer))
        await healthy(server)  # someone with a whole request is still served at once
        for reader, writer in slow:
            sent = await closed_by_server(reader)
            assert sent == b"" or sent.startswith(b"HTTP/1.1 503"), sent[:80]
            writer.close()
        await healthy(server)


async def test_a_body_that_trickles_gets_a_408_and_the_connection_closes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with quick_server(tmp_path) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"POST /slack/events HTTP/1.1\r\nHost: bot\r\nContent-Type: application/json"
                     b"\r\nContent-Length: 5000\r\n\r\n{\"type\": ")
        sent = await closed_by_server(reader)
        assert sent.startswith(b"HTTP/1.1 408"), sent[:80]
        writer.close()
        await healthy(server)


async def test_idle_keep_alive_connections_are_closed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with quick_server(tmp_path) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: bot\r\n\r\n")
        sent = await closed_by_server(reader)  # answered, then closed once idle
        assert sent.startswith(b"HTTP/1.1 200") and b'"status": "ok"' in sent
        writer.close()


async def test_a_client_that_goes_away_is_one_info_line(tmp_path, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    async with quick_server(tmp_path, Limits(body_seconds=30.0)) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"POST /slack/events HTTP/1.1\r\nHost: bot\r\nContent-Type: application/json"
                     b"\r\nContent-Length: 5000\r\n\r\n{\"type\": ")
        await writer.drain()
        await asyncio.sleep(0.2)  # the handler is reading the body
        writer.transport.abort()
        for _ in range(100):
            if any("went away" in r.getMessage() for r in caplog.records):
                break
            await asyncio.sleep(0.05)
        await healthy(server)
    gone = [r for r in caplog.records if "went away" in r.getMessage()]
    assert [r.levelno for r in gone] == [logging.INFO] and gone[0].exc_info is None
    assert "\n" not in gone[0].getMessage()
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_the_connection_cap_follows_the_file_descriptor_limit() -> None:
    assert Limits.for_descriptors(256).max_connections < 256 - 32
    assert Limits.for_descriptors(1_000_000).max_connections == Limits.for_descriptors(
        10_000_000).max_connections
    assert Limits.for_descriptors(40).max_connections >= 8
