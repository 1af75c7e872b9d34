"""The one aiohttp server: health endpoints now; Slack and Teams routes mount here too."""

from __future__ import annotations

from aiohttp import web

from adapters.compose import App

APP_KEY: web.AppKey[App] = web.AppKey("producer_bot", App)


async def healthz(request: web.Request) -> web.Response:
    """Liveness: the process answers. It says nothing about the database on purpose."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Readiness: the database answers, and how much is waiting to be sent."""
    app = request.app[APP_KEY]
    try:
        async with app.bot.uow_factory() as uow:
            backlog = await uow.outbox.backlog()
    except Exception as exc:  # any database failure means "not ready", never a 500
        return web.json_response({"status": "unavailable", "database": type(exc).__name__},
                                 status=503)
    return web.json_response({"status": "ok", "database": "ok", "outbox_backlog": backlog})


def make_web_app(app: App) -> web.Application:
    web_app = web.Application(client_max_size=1024 * 1024)
    web_app[APP_KEY] = app
    web_app.router.add_get("/healthz", healthz)
    web_app.router.add_get("/readyz", readyz)
    return web_app
