"""The HTTP server over real HTTP on 127.0.0.1: its health endpoints, and how it treats slow
and vanishing clients."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestClient, TestServer

import storage.db
from adapters.cli import main
from adapters.compose import App, open_app
from adapters.config import Settings
from adapters.server import Limits, Server, make_web_app, serving
from bot.model import InboundMessage, Where


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


# ---- a database that cannot be written to ----------------------------------------------------


def inbound(n: int, size: int = 2000) -> InboundMessage:
    return InboundMessage(where=Where("console", "disk", "c"), user="u", text="x" * size,
                          event_id=f"disk-{n}", at=datetime.now(UTC))


@pytest.fixture
def small_volume(tmp_path: Path) -> Iterator[Path]:
    """A 3 MB file system of its own (a tmpfs), for a disk that really fills up; skipped where
    this process may not mount one (it needs root)."""
    volume = tmp_path / "volume"
    volume.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(volume)],
                             capture_output=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield volume
    finally:
        subprocess.run(["umount", "-l", str(volume)], check=False)


async def status_of(server: Server, path: str) -> tuple[int, dict]:
    async with ClientSession() as session:
        async with session.get(server.url + path) as response:
            return response.status, await response.json()


async def test_readyz_says_unavailable_while_the_volume_is_full(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'bot.db'}")
    async with open_app(settings) as app:
        assert (await get_json(app, "/readyz"))[0] == 200
        monkeypatch.setattr(storage.db, "free_bytes", lambda directory: 200 * 1024)
        status, body = await get_json(app, "/readyz")
        assert status == 503 and body["database"] == "not writable"
        assert "200 KB free" in body["reason"]
        assert (await get_json(app, "/healthz"))[0] == 200  # alive, though not ready
        monkeypatch.setattr(storage.db, "free_bytes", lambda directory: 10**9)
        assert (await get_json(app, "/readyz"))[0] == 200


async def test_a_full_disk_is_not_ready_and_recovers_when_space_returns(small_volume: Path) -> None:
    """On a volume smaller than SQLite's automatic checkpoint (4 MB of WAL), the WAL filled the
    disk; /readyz said ok, and events got 503 even after space was freed."""
    logs = small_volume / "logs"
    logs.write_bytes(b"\0" * 700_000)
    settings = Settings(database_url=f"sqlite:///{small_volume / 'bot.db'}")
    async with open_app(settings) as app, serving(app, host="127.0.0.1", port=0, worker=False,
                                                  scheduler=False, storage_check_seconds=0.2,
                                                  limits=QUICK) as server:
        refused = 0
        for n in range(5000):
            try:
                await app.relay.receive(inbound(n))
            except Exception:
                refused += 1
                if refused == 5:
                    break
        assert refused == 5, "the volume never filled up"
        status, body = await status_of(server, "/readyz")
        assert status == 503 and body["database"] == "not writable", body
        logs.unlink()  # space returns
        for _ in range(200):
            if (await status_of(server, "/readyz"))[0] == 200:
                break
            await asyncio.sleep(0.1)
        assert (await status_of(server, "/readyz"))[0] == 200
        for n in range(20):
            assert await app.relay.receive(inbound(100_000 + n, size=100))


def run_serve(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, url: str,
              capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    for name in [n for n in os.environ if n.startswith(("SLACK_", "Microsoft", "TEAMS_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("PORT", "0")
    code = main(["serve"])
    return code, capsys.readouterr().err


def test_serve_stops_with_one_line_when_the_database_cannot_be_created(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "not-a-directory").write_text("")
    code, err = run_serve(monkeypatch, tmp_path,
                          f"sqlite:///{tmp_path / 'not-a-directory' / 'bot.db'}", capsys)
    assert code == 2 and "Traceback" not in err
    assert err.count("\n") == 1 and err.startswith("producer-bot: ") and "bot.db" in err


def test_serve_stops_with_one_line_on_a_read_only_volume(
        small_volume: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{small_volume / 'bot.db'}"

    async def create() -> None:
        async with open_app(Settings(database_url=url)):
            pass

    asyncio.run(create())
    subprocess.run(["mount", "-o", "remount,ro", str(small_volume)], check=True)
    code, err = run_serve(monkeypatch, tmp_path, url, capsys)
    assert code == 2 and "Traceback" not in err
    assert err.count("\n") == 1 and "cannot write to" in err and "bot.db" in err


async def test_readyz_names_db_upgrade_when_the_schema_is_not_this_versions(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'bot.db'}")
    async with open_app(settings) as app:
        async with app.db.engine.begin() as conn:  # as if the schema were never migrated
            await conn.execute(text("DELETE FROM alembic_version"))
        status, body = await get_json(app, "/readyz")
        assert status == 503 and body["database"] == "schema"
        assert "Run `producer-bot db upgrade` first" in body["reason"]
