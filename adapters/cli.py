"""`producer-bot`: the command line. Each subcommand opens the app, does one job, closes it."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

from adapters import config
from adapters.compose import open_app
from adapters.console import TEAM, Console, ConsoleSender, interactive
from adapters.server import serving
from bot.digest import PERIODS, build_digest, render_text
from bot.model import Role, Team
from bot.service import utcnow
from storage.db import Database
from storage.migrate import current, upgrade

log = logging.getLogger("producer_bot")


async def cmd_console(settings: config.Settings, args: argparse.Namespace) -> int:
    is_tty = interactive(sys.stdin)
    holder: dict[str, Console] = {}
    sender = ConsoleSender(lambda text: holder["console"].write(text))
    async with open_app(settings, senders={"console": sender}) as app:
        console = holder["console"] = Console(app.bot, args.user, sys.stdout)
        await console.set_role(args.user, Role(args.role) if args.role else None)
        # Replies owed from an earlier session (a crash, Ctrl-C mid-send) go out first.
        await app.bot.drain()
        await console.run(sys.stdin, interactive=is_tty)
    return 0


async def cmd_serve(settings: config.Settings, args: argparse.Namespace) -> int:
    async with open_app(settings) as app, serving(app):
        if not any(enabled for _, enabled, _ in settings.platforms()):
            log.warning("no chat platform is configured: serving /healthz only. "
                        "Try `producer-bot console` to talk to the bot locally.")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        log.info("shutting down")
    return 0


async def cmd_db(settings: config.Settings, args: argparse.Namespace) -> int:
    db = Database(settings.database_url)
    try:
        if args.action == "upgrade":
            await upgrade(db.engine)
        print(f"schema revision: {await current(db.engine) or 'none'}")
    finally:
        await db.dispose()
    return 0


async def cmd_digest(settings: config.Settings, args: argparse.Namespace) -> int:
    team = Team.parse(args.team) if args.team else TEAM
    async with open_app(settings) as app, app.bot.uow_factory() as uow:
        digest = await build_digest(uow, team, args.period, utcnow())
    print(render_text(digest).replace("*", ""))
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="producer-bot", description=(
        "A software producer's assistant for Slack, Teams and the terminal."))
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    c = sub.add_parser("console", help="chat with the bot in this terminal (SQLite, no accounts)")
    c.add_argument("--user", default="you", help="who you are in the chat (default: you)")
    c.add_argument("--role", choices=[r.value for r in Role],
                   help="your role (default: producer if the team has none yet)")
    c.set_defaults(run=cmd_console)

    s = sub.add_parser("serve", help="run the HTTP server, platforms and scheduler")
    s.set_defaults(run=cmd_serve)

    d = sub.add_parser("db", help="database schema")
    d.add_argument("action", choices=["upgrade", "current"])
    d.set_defaults(run=cmd_db)

    g = sub.add_parser("digest", help="print a digest now")
    g.add_argument("--team", help="PLATFORM:TENANT (default: the console team)")
    g.add_argument("--period", choices=sorted(PERIODS), default="week")
    g.set_defaults(run=cmd_digest)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = config.load()
    except config.ConfigError as exc:
        print(f"producer-bot: {exc}", file=sys.stderr)
        return 2
    console = args.command == "console"
    logging.basicConfig(
        level=logging.WARNING if console else getattr(logging, settings.log_level, logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        return asyncio.run(args.run(settings, args))
    except KeyboardInterrupt:
        return 130
    except ValueError as exc:  # bad --team, bad DATABASE_URL and the like
        print(f"producer-bot: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
