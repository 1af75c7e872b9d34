"""The one aiohttp server: health endpoints, plus the routes of every configured platform."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from adapters.compose import App
from adapters.scheduler import SchedulerRunner

log = logging.getLogger(__name__)

SHUTDOWN_SECONDS = 20.0
APP_KEY: web.AppKey[App] = web.AppKey("producer_bot", App)
RUNNER_KEY: web.AppKey[SchedulerRunner] = web.AppKey("scheduler", SchedulerRunner)


async def healthz(request: web.Request) -> web.Response:
    """Liveness: the process answers. It never waits on the database; the backlog is the one
    the worker saw at its last pass (null before the first)."""
    return web.json_response({"status": "ok",
                              "outbox_backlog": request.app[APP_KEY].relay.backlog})


async def readyz(request: web.Request) -> web.Response:
    """Readiness: the database answers, and how much is waiting to be sent."""
    app = request.app[APP_KEY]
    try:
        async with app.relay.uow_factory() as uow:
            backlog = await uow.outbox.backlog()
    except Exception as exc:  # any database failure means "not ready", never a 500
        return web.json_response({"status": "unavailable", "database": type(exc).__name__},
                                 status=503)
    runner = request.app.get(RUNNER_KEY)
    tick = runner.last_tick.isoformat() if runner and runner.last_tick else None
    return web.json_response({"status": "ok", "database": "ok", "outbox_backlog": backlog,
                              "last_scheduler_tick": tick})


# Objects allocated (net) before the youngest generation is collected; Python's default is 700,
# which a few requests exceed. Fewer, larger collections cost a busy server less in all (the
# measurement: bench/RESULTS.md, "Why the code is shaped this way").
YOUNG_GENERATION = 10_000


def freeze_startup_heap() -> None:
    """Take what start-up built out of the cyclic garbage collector's sight, for good.

    The libraries leave a great many objects behind at import (SQLAlchemy's mappers, Bolt,
    botbuilder, ...) that live as long as the process. Every full collection walked all of
    them with the event loop stopped, several times a minute under load (the measurements:
    bench/RESULTS.md, "Why the code is shaped this way"). Frozen, a full collection looks
    only at what was allocated since. Call it once the server is up, in the process that
    serves (never in a test process: what it freezes is never freed)."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION, middle, old)


def make_web_app(app: App) -> web.Application:
    # Slack's largest payloads are well under 1 MB; anything bigger is refused with a 413.
    web_app = web.Application(client_max_size=1024 * 1024)
    web_app[APP_KEY] = app
    web_app.router.add_get("/healthz", healthz)
    web_app.router.add_get("/readyz", readyz)
    return web_app


@dataclass
class Server:
    host: str
    port: int
    platforms: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


def build_platforms(app: App, host: str | None = None) -> dict[str, Any]:
    """The configured chat platforms, with their senders registered on the bot. `host` is the
    address the server binds (Teams' emulator mode refuses anything but loopback)."""
    settings = app.settings
    platforms: dict[str, Any] = {}
    if settings.slack_enabled:
        from adapters.slack.app import build_slack  # only when Slack is configured

        platforms["slack"] = build_slack(settings, app.relay, app.db.engine)
    if settings.teams_enabled:
        from adapters.teams.app import build_teams  # only when Teams is configured

        platforms["teams"] = build_teams(settings, app.relay, app.db, host=host)
    for name, platform in platforms.items():
        app.relay.senders[name] = platform.sender
    return platforms


@contextlib.asynccontextmanager
async def serving(app: App, host: str | None = None, port: int | None = None,
                  worker: bool = True, scheduler: bool = True) -> AsyncIterator[Server]:
    """Run the HTTP server, the configured platforms and the worker until the block exits."""
    settings = app.settings
    host = host or settings.host
    port = settings.port if port is None else port
    web_app = make_web_app(app)
    platforms = build_platforms(app, host)
    for platform in platforms.values():
        platform.mount(web_app)
    for name, on, why in settings.platforms():
        log.info("%s: %s (%s)", name, "enabled" if on else "off", why)
    ticker = SchedulerRunner(app.scheduler, settings.schedule_tick_seconds) if scheduler else None
    if ticker:
        web_app[RUNNER_KEY] = ticker
    runner = web.AppRunner(web_app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1] if runner.addresses else port
    server = Server(host, bound, platforms)
    stopping = asyncio.Event()
    task = asyncio.create_task(app.relay.run_worker(stopping)) if worker else None
    try:
        for platform in platforms.values():
            await platform.start()
        if ticker:
            await ticker.start()
        log.info("listening on %s", server.url)
        yield server
    finally:
        if ticker:
            await ticker.stop()
        for platform in platforms.values():
            with contextlib.suppress(Exception):
                await platform.stop()
        await runner.cleanup()  # stop taking requests before the worker stops
        if task is not None:
            # Let the worker finish the message in hand; whatever is still pending stays in
            # the inbox and outbox for the next start.
            stopping.set()
            app.relay.wake()
            try:
                await asyncio.wait_for(task, timeout=SHUTDOWN_SECONDS)
            except TimeoutError:
                log.warning("worker still busy after %ss; leaving the rest pending",
                            SHUTDOWN_SECONDS)
