"""The one aiohttp server: health endpoints, plus the routes of every configured platform.

Nobody may hold the server up by being slow: a connection must send its request's headers within
`header_seconds` and its body within `body_seconds`, an idle keep-alive connection is closed
after `keepalive_seconds`, and there are never more than `max_connections` at once (when full,
the connection that has waited longest without a request in progress makes room). A client that
goes away mid-request is one line at INFO, not an error with a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import resource
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

from aiohttp import ClientConnectionResetError, web
from aiohttp.web_protocol import RequestHandler

from adapters import trackers
from adapters.compose import App
from adapters.scheduler import SchedulerRunner
from adapters.trackers.base import Webhook
from bot.model import TRACKER_EVENT, InboundMessage, Where
from bot.ports import StorageUnavailable
from bot.usecases import admin
from storage.db import Database, DatabaseUnavailable
from storage.migrate import schema_problem

log = logging.getLogger(__name__)

SHUTDOWN_SECONDS = 20.0
APP_KEY: web.AppKey[App] = web.AppKey("producer_bot", App)
RUNNER_KEY: web.AppKey[SchedulerRunner] = web.AppKey("scheduler", SchedulerRunner)
WEBHOOKS_KEY: web.AppKey[dict[str, Webhook]] = web.AppKey("webhooks", dict)


@dataclass(frozen=True)
class Limits:
    """How long a client may take, and how many may be connected at once."""

    header_seconds: float = 10.0  # from connecting to a request's last header line
    keepalive_seconds: float = 15.0  # an idle connection between requests
    body_seconds: float = 10.0  # to send a request's body (Slack's and Teams' are small)
    max_connections: int = 500

    @classmethod
    def for_descriptors(cls, descriptors: int, **changes: Any) -> Limits:
        """Limits for a process allowed `descriptors` open files: connections get half of them,
        the rest are the database's, the outbound clients' and the log's. With 256 descriptors,
        300 slow sockets used to leave none for anything else."""
        return cls(**{"max_connections": max(8, min(1000, descriptors // 2)), **changes})

    @classmethod
    def default(cls) -> Limits:
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        return cls.for_descriptors(soft if soft != resource.RLIM_INFINITY else 1_000_000)


_REFUSAL = (b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\n"
            b"Content-Length: 0\r\n\r\n")


class _Refused(asyncio.Protocol):
    """A connection over the cap, when every connection has a request in progress."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.write(_REFUSAL)
        transport.close()


class ConnectionGuard:
    """The protocol factory of the listening socket, around aiohttp's: it counts connections,
    cuts off those that send no complete request in time, and makes room when full. The request
    middleware tells it which connections have a request in progress."""

    def __init__(self, limits: Limits, server: web.Server | None = None) -> None:
        self.server = server  # aiohttp's, once the runner is set up
        self.limits = limits
        self.opened: dict[RequestHandler, float] = {}  # connection -> when it was accepted
        self.started: set[RequestHandler] = set()  # has sent at least one complete request
        self.busy: dict[RequestHandler, int] = {}  # requests in progress
        self.refused = 0
        self.evicted = 0

    def __call__(self) -> asyncio.BaseProtocol:
        assert self.server is not None, "set up the runner first"
        loop = asyncio.get_running_loop()
        self._forget_closed()
        if len(self.opened) >= self.limits.max_connections and not self._make_room():
            self.refused += 1
            if self.refused in (1, 10, 100) or self.refused % 1000 == 0:
                log.warning("server: %d connections open, all busy: refused %d so far",
                            len(self.opened), self.refused)
            return _Refused()
        handler = self.server()
        self.opened[handler] = loop.time()
        loop.call_later(self.limits.header_seconds, self._deadline, handler)
        return handler

    def _forget_closed(self) -> None:
        # A connection joins aiohttp's list a moment after the factory made it (the transport
        # calls connection_made on the next turn of the loop): only one that was made more
        # than a second ago and is not in the list has closed.
        live = set(self.server.connections if self.server is not None else ())
        now = asyncio.get_running_loop().time()
        for handler in [h for h, t in self.opened.items() if h not in live and now - t > 1.0]:
            self.opened.pop(handler, None)
            self.started.discard(handler)
            self.busy.pop(handler, None)

    def _make_room(self) -> bool:
        """Close the connection that has waited longest with no request in progress."""
        idle = [h for h in self.opened if not self.busy.get(h)]
        if not idle:
            return False
        oldest = min(idle, key=self.opened.__getitem__)
        self._close(oldest)
        self.evicted += 1
        return True

    def _deadline(self, handler: RequestHandler) -> None:
        # aiohttp's keep-alive timeout bounds the headers of later requests, not always the first.
        if handler in self.opened and handler not in self.started:
            # DEBUG: under a slow-headers attack this is one line per connection.
            log.debug("server: closed a connection that sent no complete request in %.0fs",
                      self.limits.header_seconds)
            self._close(handler)

    def _close(self, handler: RequestHandler) -> None:
        self.opened.pop(handler, None)
        self.started.discard(handler)
        self.busy.pop(handler, None)
        handler.force_close()

    def enter(self, handler: Any) -> None:
        if isinstance(handler, RequestHandler):
            self.started.add(handler)
            self.busy[handler] = self.busy.get(handler, 0) + 1

    def leave(self, handler: Any) -> None:
        if handler in self.busy:
            self.busy[handler] -= 1
            if self.busy[handler] <= 0:
                del self.busy[handler]


GUARD_KEY: web.AppKey[ConnectionGuard] = web.AppKey("connection_guard", ConnectionGuard)
LIMITS_KEY: web.AppKey[Limits] = web.AppKey("limits", Limits)
_GONE = (ConnectionResetError, ClientConnectionResetError, BrokenPipeError)


@web.middleware
async def guard_requests(request: web.Request,
                         handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
                         ) -> web.StreamResponse:
    """Read the body within the time allowed (handlers then find it read), and treat a client
    that went away as what it is."""
    guard = request.app.get(GUARD_KEY)
    limits = request.app.get(LIMITS_KEY) or Limits()
    if guard is not None:
        guard.enter(request.protocol)
    try:
        if request.can_read_body:
            try:
                # asyncio.timeout, not wait_for: no task of its own on every request's way.
                async with asyncio.timeout(limits.body_seconds):
                    await request.read()
            except TimeoutError:
                log.info("server: %s %s: the body took more than %.0fs; answered 408",
                         request.method, request.path, limits.body_seconds)
                response = web.json_response({"error": "the request body came too slowly"},
                                             status=408)
                response.force_close()
                return response
        return await handler(request)
    except _GONE as exc:
        transport = request.transport
        if transport is not None and not transport.is_closing():
            raise  # a reset of some outbound connection: an error of ours, worth a retry
        log.info("server: %s %s: the client went away (%s)", request.method, request.path,
                 type(exc).__name__)
        response = web.Response(status=400)
        response.force_close()
        return response
    except asyncio.CancelledError:
        log.info("server: %s %s: cancelled (the client went away, or the server is stopping)",
                 request.method, request.path)
        raise
    finally:
        if guard is not None:
            guard.leave(request.protocol)


class GuardedSite(web.TCPSite):
    """aiohttp's TCPSite, listening with the guard as its protocol factory."""

    def __init__(self, runner: web.BaseRunner, host: str, port: int, guard: ConnectionGuard,
                 backlog: int = 128) -> None:
        super().__init__(runner, host, port, backlog=backlog)
        self.guard = guard

    async def start(self) -> None:
        await web.BaseSite.start(self)  # registers the site with the runner
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self.guard, self._host, self._port, backlog=self._backlog,
            reuse_address=self._reuse_address, reuse_port=self._reuse_port)


async def healthz(request: web.Request) -> web.Response:
    """Liveness: the process answers. It never waits on the database; the backlog is the one
    the worker saw at its last pass (null before the first)."""
    return web.json_response({"status": "ok",
                              "outbox_backlog": request.app[APP_KEY].relay.backlog})


READY_CHECK_SECONDS = 10.0


async def readyz(request: web.Request) -> web.Response:
    """Readiness: the database takes writes (not only reads: a full disk reads fine), and how
    much is waiting to be sent."""
    app = request.app[APP_KEY]
    try:
        await asyncio.wait_for(app.db.check_writable(), READY_CHECK_SECONDS)
        problem = await asyncio.wait_for(schema_problem(app.db.engine), READY_CHECK_SECONDS)
        if problem:  # a schema this version does not know: say how to fix it
            return web.json_response({"status": "unavailable", "database": "schema",
                                      "reason": problem}, status=503)
        async with app.relay.uow_factory() as uow:
            backlog = await uow.outbox.backlog()
    except DatabaseUnavailable as exc:
        return web.json_response({"status": "unavailable", "database": "not writable",
                                  "reason": str(exc)}, status=503)
    except Exception as exc:  # any database failure means "not ready", never a 500
        return web.json_response({"status": "unavailable", "database": type(exc).__name__},
                                 status=503)
    runner = request.app.get(RUNNER_KEY)
    tick = runner.last_tick.isoformat() if runner and runner.last_tick else None
    return web.json_response({"status": "ok", "database": "ok", "outbox_backlog": backlog,
                              "last_scheduler_tick": tick})


# How often the server checks that the database can be written to (and keeps SQLite's WAL
# small); more often while it cannot, so it recovers soon after space returns.
STORAGE_CHECK_SECONDS = 30.0
STORAGE_RETRY_SECONDS = 2.0


async def watch_storage(db: Database, stopping: asyncio.Event,
                        every: float = STORAGE_CHECK_SECONDS,
                        retry: float = STORAGE_RETRY_SECONDS) -> None:
    problem: str | None = None
    while not stopping.is_set():
        try:
            found = await db.maintain()
        except Exception as exc:  # never let the watchdog die of what it watches
            found = f"{type(exc).__name__}: {exc}"
        if found and found != problem:
            log.warning("storage: the database cannot be written to: %s", found)
        elif problem and not found:
            log.info("storage: the database can be written to again")
        problem = found
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), retry if problem else every)


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


def make_web_app(app: App, limits: Limits | None = None) -> web.Application:
    # Slack's largest payloads are well under 1 MB; anything bigger is refused with a 413.
    web_app = web.Application(client_max_size=1024 * 1024, middlewares=[guard_requests])
    web_app[APP_KEY] = app
    web_app[LIMITS_KEY] = limits or Limits()
    web_app.router.add_get("/healthz", healthz)
    web_app.router.add_get("/readyz", readyz)
    web_app[WEBHOOKS_KEY] = trackers.webhooks(app.settings)
    web_app.router.add_post("/webhooks/{kind}", tracker_webhook)
    return web_app


async def log_team_trackers(app: App, most: int = 50) -> None:
    """Which tracker each team files into, and why (the first `most` teams)."""
    if not app.settings.tracker_kinds():
        return
    try:
        teams = await app.relay.perform(partial(admin.team_trackers,
                                                trackers=app.relay.core.trackers))
    except Exception as exc:  # the storage watchdog reports an outage; start anyway
        log.warning("could not read the teams' trackers: %s", exc)
        return
    for found in teams[:most]:
        log.info("team %s files requests into %s (%s)", found.team,
                 found.project or "no tracker", found.why)
    if len(teams) > most:
        log.info("... and %d more teams: `producer-bot tracker show` lists them",
                 len(teams) - most)


async def tracker_webhook(request: web.Request) -> web.Response:
    """`POST /webhooks/github|jira|linear`: a tracker says an issue changed. Verified against
    the tracker's secret before anything is read; stored in the inbox under its delivery id
    (a redelivery, or the same delivery reaching another replica, changes nothing) and
    answered at once; the worker moves the request."""
    kind = request.match_info["kind"]
    hook = request.app[WEBHOOKS_KEY].get(kind)
    if hook is None:
        return web.json_response({"ok": False, "error": f"no {kind} webhook is set up here"},
                                 status=404)
    body = await request.read()
    if not hook.verify(request.headers, body):
        log.warning("%s webhook with a bad signature refused", kind)
        return web.json_response({"ok": False, "error": "bad signature"}, status=401)
    try:
        changes = hook.parse(request.headers, body)
        # Signed, but its fields must still be what the tracker sends: text where text goes.
        if not all(isinstance(value, str) for change in changes for value in (
                change.issue, change.change, change.delivery)) or not all(
                isinstance(value, str | None) for change in changes
                for value in (change.actor, change.reason, change.label, change.link)):
            raise ValueError("a field of the wrong type")
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
        return web.json_response({"ok": False, "error": f"unreadable: {exc}"[:300]}, status=400)
    relay = request.app[APP_KEY].relay
    now = datetime.now(UTC)
    for i, change in enumerate(changes):
        message = InboundMessage(
            where=Where(kind, kind, change.issue[:256]), user=kind, text=change.reason or "",
            event_id=(change.delivery if i == 0 else f"{change.delivery}:{i}")[:256], at=now,
            kind=TRACKER_EVENT, form={"change": change.change, "issue": change.issue,
                                      "actor": change.actor or "", "label": change.label or "",
                                      "link": change.link or ""})
        try:
            await relay.receive(message)
        except StorageUnavailable:  # the tracker redelivers what was not acknowledged
            return web.json_response({"ok": False, "error": "storage unavailable"}, status=503)
    return web.json_response({"ok": True, "changes": len(changes)})


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
                  worker: bool = True, scheduler: bool = True,
                  limits: Limits | None = None,
                  storage_check_seconds: float = STORAGE_CHECK_SECONDS) -> AsyncIterator[Server]:
    """Run the HTTP server, the configured platforms and the worker until the block exits."""
    settings = app.settings
    host = host or settings.host
    port = settings.port if port is None else port
    limits = limits or Limits.default()
    web_app = make_web_app(app, limits)
    guard = web_app[GUARD_KEY] = ConnectionGuard(limits)
    platforms = build_platforms(app, host)
    for platform in platforms.values():
        platform.mount(web_app)
    for name, on, why in settings.platforms():
        log.info("%s: %s (%s)", name, "enabled" if on else "off", why)
    for name, on, why in settings.trackers():
        log.info("tracker %s: %s (%s)", name, "enabled" if on else "off", why)
    await log_team_trackers(app)
    ticker = SchedulerRunner(app.scheduler, settings.schedule_tick_seconds) if scheduler else None
    if ticker:
        web_app[RUNNER_KEY] = ticker
    runner = web.AppRunner(web_app, handle_signals=False,
                           keepalive_timeout=limits.keepalive_seconds)
    await runner.setup()
    guard.server = runner.server
    site = GuardedSite(runner, host, port, guard)
    await site.start()
    bound = runner.addresses[0][1] if runner.addresses else port
    server = Server(host, bound, platforms)
    stopping = asyncio.Event()
    task = asyncio.create_task(app.relay.run_worker(stopping)) if worker else None
    watchdog = asyncio.create_task(watch_storage(
        app.db, stopping, storage_check_seconds, min(STORAGE_RETRY_SECONDS, storage_check_seconds)))
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
        stopping.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(watchdog, SHUTDOWN_SECONDS)
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
