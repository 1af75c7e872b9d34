"""The HTTP server's health endpoints, over real HTTP on 127.0.0.1."""

from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer

from adapters.compose import App, open_app
from adapters.config import Settings
from adapters.server import make_web_app


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
