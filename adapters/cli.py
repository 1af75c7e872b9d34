"""`producer-bot`: the command line. Each subcommand opens the app, does one job, closes it."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import logging
import signal
import sys
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from adapters import config, logs
from adapters.compose import open_app
from adapters.console import TEAM, Console, ConsoleSender, interactive
from adapters.llm.eval import add_arguments as add_eval_arguments
from adapters.llm.eval import eval_command
from adapters.scheduler import ApsCron
from adapters.server import build_platforms, freeze_startup_heap, serving
from adapters.train import add_arguments as add_train_arguments
from adapters.train import train_command
from bot.digest import PERIODS, flow_chart, render_text
from bot.model import NO_TRACKER, SCHEDULE_KINDS, Chart, Role, Schedule, Team
from bot.relay import utcnow
from bot.usecases import admin, insights
from bot.usecases.overview import send_digest
from storage.db import Database, DatabaseUnreachable
from storage.migrate import current, upgrade

log = logging.getLogger("producer_bot")


async def cmd_console(settings: config.Settings, args: argparse.Namespace) -> int:
    is_tty = interactive(sys.stdin)
    holder: dict[str, Console] = {}
    sender = ConsoleSender(lambda text: holder["console"].write(text), settings.chart_dir)
    async with open_app(settings, senders={"console": sender}) as app:
        console = holder["console"] = Console(app.relay, args.user, sys.stdout)
        if args.role:
            await console.set_role(args.user, Role(args.role))
        # Replies owed from an earlier session (a crash, Ctrl-C mid-send) go out first.
        await app.relay.drain()
        await console.run(sys.stdin, interactive=is_tty)
    return 0


async def cmd_serve(settings: config.Settings, args: argparse.Namespace) -> int:
    # Handlers first: a SIGTERM that arrives while starting up still shuts down cleanly.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await check_database(settings)
    async with open_app(settings) as app, serving(app):
        if not any(enabled for _, enabled, _ in settings.platforms()):
            log.warning("no chat platform is configured: serving /healthz only. "
                        "Try `producer-bot console` to talk to the bot locally.")
        freeze_startup_heap()
        await stop.wait()
        log.info("shutting down")
    return 0


async def check_database(settings: config.Settings) -> None:
    """A SQLite database `serve` cannot write to (a read-only volume, a full disk) stops it with
    one line (DatabaseUnavailable) rather than a traceback from the first migration. A
    PostgreSQL server that is down is not a reason not to start: /readyz says so until it is
    back."""
    db = Database(settings.database_url)
    try:
        await db.check_writable()
    except DatabaseUnreachable as exc:
        log.warning("%s", exc)
    finally:
        await db.dispose()


async def cmd_db(settings: config.Settings, args: argparse.Namespace) -> int:
    db = Database(settings.database_url)
    try:
        if args.action == "upgrade":
            await upgrade(db.engine)
        print(f"schema revision: {await current(db.engine) or 'none'}")
    finally:
        await db.dispose()
    return 0


async def cmd_eval(settings: config.Settings, args: argparse.Namespace) -> int:
    return await eval_command(settings, args.file, discovery=args.discovery, pairs=args.pairs,
                              heuristic=args.heuristic,
                              every_message=args.every_message, mistakes=args.mistakes)


async def cmd_train(settings: config.Settings, args: argparse.Namespace) -> int:
    return train_command(args)


async def cmd_digest(settings: config.Settings, args: argparse.Namespace) -> int:
    team = Team.parse(args.team) if args.team else TEAM
    now = utcnow()
    async with open_app(settings) as app:
        if not args.send:
            digest = await app.relay.perform(partial(insights.digest_with_flow, team=team,
                                                     period=args.period, now=now))
            print(render_text(digest).replace("*", ""))
            return 0
        if not await app.relay.perform(partial(send_digest, team=team, period=args.period,
                                               now=now, channel=args.channel)):
            print("producer-bot: this team has no producer; give --channel to send "
                  "the digest to a channel", file=sys.stderr)
            return 2
        if team.platform == "console":
            app.relay.senders["console"] = ConsoleSender(print, settings.chart_dir)
        build_platforms(app)
        sent = await app.relay.dispatch()
        print(f"sent {sent} message{'s' if sent != 1 else ''}; anything not sent yet is retried "
              "by `producer-bot serve`")
        for message, why in app.relay.dispatcher.not_sent:
            to = f"@{message.to_user}" if message.to_user else message.where.channel
            print(f"producer-bot: not sent to {to}: {why}", file=sys.stderr)
    return 0 if sent else 1


def _write_png(chart: Chart, out: str | None, chart_dir: str | None) -> Path:
    """Draw the chart into `out` (or CHART_DIR/<its title>.png); CPU and disk: off the loop."""
    from adapters.charts import filename, render_png  # matplotlib only when drawing

    path = Path(out or Path(chart_dir or "charts") / filename(chart))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(render_png(chart))
    return path.resolve()


async def cmd_report(settings: config.Settings, args: argparse.Namespace) -> int:
    team = Team.parse(args.team) if args.team else TEAM
    async with open_app(settings) as app:
        flow = await app.relay.perform(partial(insights.report, team=team, since=args.since,
                                               until=args.until, now=utcnow()))
    if args.format == "png":
        chart = flow_chart(flow)
        if chart is None:
            print("producer-bot: nothing to draw: no blocker was resolved in the period or the "
                  "four weeks before it", file=sys.stderr)
            return 1
        path = await asyncio.to_thread(_write_png, chart, args.out, settings.chart_dir)
        print(f"wrote {path}: {chart.alt}")
        return 0
    if args.format == "json":
        print(json.dumps(insights.flow_json(flow), indent=2, ensure_ascii=False))
    else:
        print(insights.render_markdown(flow), end="")
    return 0


def write_export(rows: list[dict[str, str]], fmt: str, path: str | None) -> None:
    """One row per item; times ISO in UTC, empty where a stage was not reached."""
    with contextlib.ExitStack() as stack:
        out = (stack.enter_context(open(path, "w", newline="", encoding="utf-8"))
               if path else sys.stdout)
        if fmt == "json":
            json.dump(rows, out, indent=2, ensure_ascii=False)
            out.write("\n")
        else:
            writer = csv.DictWriter(out, fieldnames=insights.EXPORT_COLUMNS)
            writer.writeheader()
            writer.writerows(rows)


async def cmd_export(settings: config.Settings, args: argparse.Namespace) -> int:
    team = Team.parse(args.team) if args.team else TEAM
    since = None
    async with open_app(settings) as app:
        if args.since:
            zone = await app.relay.perform(partial(insights.team_zone, team=team))
            since = datetime.combine(args.since, datetime.min.time(), ZoneInfo(zone)).astimezone(UTC)
        rows = await app.relay.perform(partial(insights.export_rows, team=team, since=since,
                                               now=utcnow()))
    write_export(rows, args.format, args.out)
    if args.out:
        print(f"wrote {len(rows)} row{'s' if len(rows) != 1 else ''} to {args.out}")
    return 0


async def cmd_schedule(settings: config.Settings, args: argparse.Namespace) -> int:
    cron = ApsCron()
    async with open_app(settings) as app:
        if args.action == "set":
            team = Team.parse(args.team)
            problem = cron.check(args.cron)
            if problem:
                print(f"producer-bot: --cron {args.cron!r}: {problem}", file=sys.stderr)
                return 2
            try:
                ZoneInfo(args.tz)
            except (ZoneInfoNotFoundError, ValueError):
                print(f"producer-bot: --tz {args.tz!r} is not a time zone (try Europe/Berlin)",
                      file=sys.stderr)
                return 2
            schedule = Schedule(team, args.kind, args.cron, args.tz, args.channel or None,
                                not args.off)
            teams = [await app.relay.perform(partial(admin.set_schedule, schedule=schedule))]
        else:
            teams = await app.relay.perform(partial(
                admin.team_schedules, team=Team.parse(args.team) if args.team else None))
    now = utcnow()
    for shown in teams:
        print(f"{shown.settings.team} (zone {shown.settings.timezone})")
        for kind, s in shown.schedules.items():
            zone = s.tz or shown.settings.timezone
            upcoming = cron.fire_times(s.cron, zone, now, now + timedelta(days=8))
            nxt = upcoming[0].strftime("%a %Y-%m-%d %H:%M %Z") if upcoming and s.enabled else "-"
            where = s.channel or ("each member, 1:1" if kind == "standup" else "producers, 1:1")
            state = "on " if s.enabled else "off"
            print(f"  {kind:16} {state} {s.cron:18} {s.tz or '(default zone)':18} "
                  f"next {nxt:26} to {where}")
    return 0


async def cmd_tracker(settings: config.Settings, args: argparse.Namespace) -> int:
    async with open_app(settings) as app:
        trackers = app.relay.core.trackers
        if args.action == "set":
            team, kind = Team.parse(args.team), args.kind.lower()
            if kind in ("none", "default"):
                project = NO_TRACKER if kind == "none" else None
            else:
                if kind not in config.TRACKER_TARGETS:
                    print(f"producer-bot: {args.kind!r} is no tracker: github, jira, linear, "
                          "none (file nowhere) or default (the environment's)", file=sys.stderr)
                    return 2
                if not args.project:
                    print(f"producer-bot: which {kind} project? "
                          f"e.g. tracker set --team {args.team} {kind} "
                          f"{config.TRACKER_TARGETS[kind][1].split('e.g. ')[-1]}", file=sys.stderr)
                    return 2
                if problem := config.tracker_target_problem(kind, args.project):
                    print(f"producer-bot: {problem}", file=sys.stderr)
                    return 2
                project = f"{kind}:{args.project}"
            shown = [await app.relay.perform(partial(admin.set_tracker, trackers=trackers,
                                                     team=team, project=project))]
        else:
            shown = await app.relay.perform(partial(
                admin.team_trackers, trackers=trackers,
                team=Team.parse(args.team) if args.team else None))
    for name, on, why in settings.trackers():
        print(f"{name:7} {'on ' if on else 'off'} {why}")
    for found in shown:
        print(f"{found.team}: {found.project or 'no tracker'} ({found.why})")
    return 0


async def cmd_teams_package(settings: config.Settings, args: argparse.Namespace) -> int:
    from adapters.teams.package import build_package

    app_id = args.app_id or settings.microsoft_app_id
    if not app_id:
        print("producer-bot: --app-id is required: the Microsoft App ID on your Azure Bot's "
              "Configuration page (or set MicrosoftAppId)", file=sys.stderr)
        return 2
    try:
        out = build_package(app_id, Path(args.out),
                            Path(args.manifest_dir) if args.manifest_dir else None)
    except OSError as exc:
        print(f"producer-bot: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {out}: upload it in Teams > Apps > Manage your apps > Upload an app")
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

    g = sub.add_parser("digest", help="print (or send) a digest now")
    g.add_argument("--team", help="PLATFORM:TENANT (default: the console team)")
    g.add_argument("--period", choices=sorted(PERIODS), default="week")
    g.add_argument("--send", action="store_true",
                   help="send it (to the producers 1:1, or to --channel) instead of printing")
    g.add_argument("--channel", help="with --send: the channel id to post it in")
    g.set_defaults(run=cmd_digest)

    r = sub.add_parser("report", help="how the process is going: flow figures for a period")
    r.add_argument("--team", help="PLATFORM:TENANT (default: the console team)")
    r.add_argument("--since", type=date.fromisoformat, metavar="YYYY-MM-DD",
                   help="first day, in the team's zone (default: the last complete week)")
    r.add_argument("--until", type=date.fromisoformat, metavar="YYYY-MM-DD",
                   help="last day, included (default: now with --since, else the last complete week)")
    r.add_argument("--format", choices=["md", "json", "png"], default="md",
                   help="png: the time-to-unblock chart of the weekly digest, written to --out")
    r.add_argument("--out", help="with --format png: the file (default: CHART_DIR/<title>.png)")
    r.set_defaults(run=cmd_report)

    x = sub.add_parser("export", help="every blocker and request with the time of each stage")
    x.add_argument("--team", help="PLATFORM:TENANT (default: the console team)")
    x.add_argument("--since", type=date.fromisoformat, metavar="YYYY-MM-DD",
                   help="only items open or changed since that day (team's zone; default: all)")
    x.add_argument("--format", choices=["csv", "json"], default="csv")
    x.add_argument("--out", help="write to this file (default: standard output)")
    x.set_defaults(run=cmd_export)

    sc = sub.add_parser("schedule", help="show or change when standups and digests run")
    sc_sub = sc.add_subparsers(dest="action", required=True, metavar="ACTION")
    show = sc_sub.add_parser("show", help="every team's schedules and their next runs")
    show.add_argument("--team", help="PLATFORM:TENANT (default: all teams)")
    put = sc_sub.add_parser("set", help="set one schedule of one team")
    put.add_argument("--team", required=True, help="PLATFORM:TENANT, e.g. slack:T0123")
    put.add_argument("--kind", required=True, choices=SCHEDULE_KINDS)
    put.add_argument("--cron", required=True, help='"MIN HOUR DOM MON DOW", e.g. "0 9 * * mon"')
    put.add_argument("--tz", required=True, help="IANA zone, e.g. Europe/Berlin")
    put.add_argument("--channel", help="channel id to post in (default: 1:1 messages)")
    put.add_argument("--off", action="store_true", help="store it switched off")
    sc.set_defaults(run=cmd_schedule)
    tk = sub.add_parser("tracker", help="show or choose where accepted requests are filed")
    tk_sub = tk.add_subparsers(dest="action", required=True, metavar="ACTION")
    tshow = tk_sub.add_parser("show", help="the configured trackers and each team's project")
    tshow.add_argument("--team", help="PLATFORM:TENANT (default: all teams)")
    tset = tk_sub.add_parser("set", help="choose one team's tracker project")
    tset.add_argument("--team", required=True, help="PLATFORM:TENANT, e.g. slack:T0123")
    tset.add_argument("kind", help="github, jira, linear; none (file nowhere); default "
                      "(the environment's)")
    tset.add_argument("project", nargs="?",
                      help="github: OWNER/REPO; jira: PROJECT key; linear: TEAM key")
    tk.set_defaults(run=cmd_tracker)

    t = sub.add_parser("teams-package", help="build the Teams app package (zip) to upload")
    t.add_argument("--app-id", help="your Azure Bot's Microsoft App ID (default: MicrosoftAppId)")
    t.add_argument("--out", default="producer-bot-teams.zip",
                   help="where to write the zip (default: producer-bot-teams.zip)")
    t.add_argument("--manifest-dir", help="folder with manifest.json and its icons (default: teams/)")
    t.set_defaults(run=cmd_teams_package)

    ev = sub.add_parser("eval", help="measure the message classifier on a labelled JSONL file")
    add_eval_arguments(ev)
    ev.set_defaults(run=cmd_eval)

    tr = sub.add_parser("train", help="learn the message and discovery models from labelled files")
    add_train_arguments(tr)
    tr.set_defaults(run=cmd_train)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = config.load()
    except config.ConfigError as exc:
        print(f"producer-bot: {exc}", file=sys.stderr)
        return 2
    console = args.command == "console"
    logs.setup(logging.WARNING if console else getattr(logging, settings.log_level, logging.INFO))
    try:
        return asyncio.run(args.run(settings, args))
    except KeyboardInterrupt:
        return 130
    except config.ConfigError as exc:
        print(f"producer-bot: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # bad --team, bad DATABASE_URL and the like
        print(f"producer-bot: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
