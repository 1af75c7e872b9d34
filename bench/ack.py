"""Ack benchmark: how fast the bot answers Slack's Events API, next to a bare slack-bolt app.

    .venv/bin/python bench/ack.py [--database-url URL] [--write] [--soak]

In one run it starts, each in a process of its own on 127.0.0.1 port 0:
  - the bot: the real server (`open_app` + `serving` + `freeze_startup_heap`, as `producer-bot
    serve` runs it, with the background worker, the scheduler and JSON logs at INFO), on a
    temporary SQLite file or on a throwaway PostgreSQL database created next to the one
    --database-url names and dropped afterwards;
  - bare: a slack-bolt `AsyncApp` with a no-op message listener, mounted on aiohttp the way
    adapters/slack/app.py mounts the bot (to_bolt_request / async_dispatch /
    to_aiohttp_response), with the same logging;
  - in this process: the fake Slack Web API from the tests (the bot's replies and Bolt's
    auth.test go there) and the load generator.

The generator is open-loop: events are due at fixed times (50, 100, 200, 400, 800 events/s for
--seconds each) and latency is counted from when an event was due, not from when it went out,
so a server that falls behind cannot hide it. Each rate is run against bare and the bot in turn
(the order alternates per rate), with the same signed bodies. After each bot step the script
waits until the bot's worker has processed its inbox, so one step's backlog does not slow the
next. A last step sends closed-loop with SATURATION_INFLIGHT requests in flight, in
SATURATION_ROUNDS rounds that alternate the order: the most either server can take.

Memory: --soak-events events go through the bot at --soak-rate (a rate its worker keeps up
with), in 20 chunks; the bot process's VmRSS is read from /proc/<pid>/status after each, so the
number is the bot's alone. --soak is the long version: 100,000 events, without the rate steps
(to stay within ten minutes).

The machine may have few cores: the generator and the fake Slack share this process, each
server has its own. The servers are single-threaded asyncio processes, so one core each is
what they can use in production too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve()
ROOT = SCRIPT.parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402
from digest import scratch_database  # noqa: E402
from slack_sdk.signature import SignatureVerifier  # noqa: E402
from sqlalchemy import text  # noqa: E402

from storage.db import Database  # noqa: E402
from storage.migrate import upgrade  # noqa: E402

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TOKEN = "xoxb-test"  # the fake Slack knows it as workspace T1
RATES = (50, 100, 200, 400, 800)
# Slack puts no cap on the events it has in flight to an app; with too few in flight a server
# that batches its commits is bounded by its commit latency rather than by its capacity.
SATURATION_INFLIGHT = 256
SATURATION_ROUNDS = 5  # this shared VM's speed drifts: more pairs, steadier ratio
SLACK_ACK_SECONDS = 3.0
SOAK_WARMUP = 2000
REQUEST_TIMEOUT = 30.0

# ---- the event stream -------------------------------------------------------------------

CHATTER = [
    "lgtm, merging once CI is green",
    "anyone up for lunch at 12:30?",
    "pushed the fix for the flaky login test",
    "the deploy to staging finished, looks fine",
    "can someone review PR 4211 when you have a minute",
    "thanks! that did it",
    "I'll pair with Sam on the migration this afternoon",
    "standup notes are in the doc",
    "retro moved to Thursday",
    "the dashboard numbers look off since Monday, checking",
    "nice work on the release notes",
    "who owns the billing service alerts?",
    "heads up: the VPN will restart at 6pm",
    "ok",
    "on it",
    "I think the cache TTL is too short, opening a ticket",
    "meeting notes: we agreed to ship the CSV export behind a flag",
    "the design review is at 3, link in the calendar",
    "coffee?",
    "moving this discussion to the thread",
]
BLOCKERS = [
    "I'm blocked on staging DB creds, waiting for ops",
    "can't deploy until the certificate is renewed",
    "blocked: waiting for the security review of the payments change",
    "I'm stuck waiting on design for the onboarding screens",
    "can't merge until the release branch is cut",
]
USERS = [f"U{n:04d}" for n in range(40)]
CHANNELS = [f"C{n:04d}" for n in range(100)]  # a busy workspace: many channels


def event_body(i: int, tag: str) -> dict[str, Any]:
    """Event i of the stream: 92% chatter (a tenth of it in threads), 5% blocker statements
    the bot tracks and answers, 3% edits and bot messages a person did not write."""
    kind = i % 100
    # Spread over people and channels independently of `kind`, so the blocker replies are
    # spread too (the bot paces each channel to Slack's one message per second).
    user = USERS[(i * 7 + i // 100) % len(USERS)]
    channel = CHANNELS[(i * 31 + i // 100) % len(CHANNELS)]
    ts = f"{1_700_000_000 + i}.{i % 1_000_000:06d}"
    event: dict[str, Any] = {"type": "message", "user": user, "ts": ts, "channel": channel,
                             "event_ts": ts, "channel_type": "channel", "team": "T1"}
    if kind < 5:
        event["text"] = f"{BLOCKERS[(i // 100) % len(BLOCKERS)]} (#{i})"
    elif kind < 7:
        event.update(subtype="message_changed", hidden=True, message={
            "type": "message", "user": user, "text": "edited", "ts": ts}, text="")
        del event["user"]
    elif kind < 8:
        event.update(subtype="bot_message", bot_id="B0OTHER", text="Build #812 passed")
        del event["user"]
    else:
        event["text"] = CHATTER[(i * 13) % len(CHATTER)]
        if kind % 10 == 0:
            event["thread_ts"] = f"{1_700_000_000 + i - 3}.{(i - 3) % 1_000_000:06d}"
    event["blocks"] = [{"type": "rich_text", "block_id": f"b{i}", "elements": [
        {"type": "rich_text_section", "elements": [
            {"type": "text", "text": event.get("text") or ""}]}]}]
    return {"token": "unused", "team_id": "T1", "context_team_id": "T1", "api_app_id": "A1",
            "event": event, "type": "event_callback", "event_id": f"Ev{tag}{i:07d}",
            "event_time": 1_700_000_000 + i,
            "authorizations": [{"enterprise_id": None, "team_id": "T1", "user_id": "UBOT",
                                "is_bot": True, "is_enterprise_install": False}],
            "is_ext_shared_channel": False, "event_context": "4-eyJldCI6Im1lc3NhZ2UifQ"}


Request = tuple[bytes, dict[str, str]]


def signed_stream(first: int, count: int, tag: str) -> list[Request]:
    """Bodies and Slack signature headers, made before a step starts so signing costs the
    generator nothing while it sends (the timestamps stay well inside Slack's 5 minutes)."""
    signer = SignatureVerifier(SECRET)
    stamp = str(int(time.time()))
    out = []
    for i in range(first, first + count):
        raw = json.dumps(event_body(i, tag))
        out.append((raw.encode(), {
            "Content-Type": "application/json", "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": signer.generate_signature(timestamp=stamp, body=raw)}))
    return out


# ---- the servers under test (child processes) -----------------------------------------------

def child_main(kind: str, database_url: str, api_url: str) -> None:
    from adapters import logs

    # As `producer-bot serve` sets it up (JSON lines at INFO); stderr goes to a file.
    logs.setup(logging.INFO, json_lines=True)
    asyncio.run(serve_bot(database_url, api_url) if kind == "bot" else serve_bare(api_url))


async def _until_stopped() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def serve_bot(database_url: str, api_url: str) -> None:
    from adapters.compose import open_app
    from adapters.config import Settings
    from adapters.server import freeze_startup_heap, serving

    settings = Settings(database_url=database_url, host="127.0.0.1", port=0,
                        slack_bot_token=TOKEN, slack_signing_secret=SECRET,
                        slack_api_url=api_url)
    async with open_app(settings) as app, serving(app, host="127.0.0.1", port=0) as server:
        freeze_startup_heap()
        print(f"PORT {server.port}", flush=True)
        await _until_stopped()


async def serve_bare(api_url: str) -> None:
    from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
    from slack_bolt.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    bolt = AsyncApp(signing_secret=SECRET, client=AsyncWebClient(token=TOKEN, base_url=api_url),
                    process_before_response=True)

    @bolt.event("message")
    async def on_message() -> None:
        return None

    async def events(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await bolt.async_dispatch(await to_bolt_request(request)))

    web_app = web.Application(client_max_size=1024 * 1024)
    web_app.router.add_post("/slack/events", events)
    runner = web.AppRunner(web_app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(f"PORT {runner.addresses[0][1]}", flush=True)
    try:
        await _until_stopped()
    finally:
        await runner.cleanup()


@dataclass
class Child:
    name: str
    process: asyncio.subprocess.Process
    url: str
    log: Path

    @classmethod
    async def start(cls, name: str, database_url: str, api_url: str, workdir: Path) -> Child:
        log = workdir / f"{name}.log"
        with log.open("wb") as stderr:
            process = await asyncio.create_subprocess_exec(
                sys.executable, str(SCRIPT), "--child", name, "--child-database-url",
                database_url, "--child-api-url", api_url, cwd=ROOT, stdout=subprocess.PIPE,
                stderr=stderr, stdin=subprocess.DEVNULL)
        assert process.stdout is not None
        line = await process.stdout.readline()
        if not line.startswith(b"PORT "):
            process.kill()
            raise RuntimeError(f"{name} server did not start; see {log}")
        return cls(name, process, f"http://127.0.0.1:{int(line.split()[1])}/slack/events", log)

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 30)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


# ---- the load generator -------------------------------------------------------------------

@dataclass
class Step:
    server: str
    rate: float | None  # None: closed loop, SATURATION_INFLIGHT in flight
    sent: int = 0
    ok: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    elapsed: float = 0.0
    cpu: float = 0.0
    backlog: int = 0  # the bot's unprocessed inbox rows when the last ack came back
    drain: float = 0.0  # seconds the worker then needed to empty it

    @property
    def throughput(self) -> float:
        return self.ok / self.elapsed if self.elapsed else 0.0

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    @property
    def late(self) -> int:
        return sum(1 for x in self.latencies if x > SLACK_ACK_SECONDS)

    def kept_up(self) -> bool:
        """Every event acknowledged in time at (nearly) the offered rate, and (the bot) its
        worker no more than a second's worth of events behind when the last ack came back."""
        return (self.rate is not None and not self.errors and not self.late
                and self.throughput >= 0.95 * self.rate and self.backlog <= self.rate)


async def post(session: aiohttp.ClientSession, url: str, request: Request, due: float,
               step: Step) -> None:
    body, headers = request
    try:
        async with session.post(url, data=body, headers=headers) as response:
            await response.read()
            status = response.status
    except Exception as exc:  # a refused or cut connection is an error, not a crash
        step.errors[type(exc).__name__] = step.errors.get(type(exc).__name__, 0) + 1
        return
    if status == 200:
        step.ok += 1
        step.latencies.append(time.perf_counter() - due)
    else:
        step.errors[str(status)] = step.errors.get(str(status), 0) + 1


async def open_loop(session: aiohttp.ClientSession, url: str, requests: list[Request],
                    rate: float, step: Step) -> None:
    tasks = []
    start = time.perf_counter()
    for i, request in enumerate(requests):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(post(session, url, request, due, step)))
    step.sent = len(requests)
    await asyncio.gather(*tasks)
    step.elapsed = time.perf_counter() - start


async def closed_loop(session: aiohttp.ClientSession, url: str, requests: list[Request],
                      inflight: int, step: Step) -> None:
    queue = iter(requests)

    async def sender() -> None:
        for request in queue:
            await post(session, url, request, time.perf_counter(), step)

    start = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(inflight)))
    step.sent = len(requests)
    step.elapsed = time.perf_counter() - start


class Inbox:
    """The bot's unprocessed inbox rows, read from its database between steps."""

    def __init__(self, url: str) -> None:
        self.db = Database(url)

    async def pending(self) -> int:
        async with self.db.engine.connect() as conn:
            return (await conn.execute(text(
                "SELECT count(*) FROM inbox WHERE status = 'pending'"))).scalar_one()

    async def drained(self, limit: float = 300.0) -> float:
        start = time.perf_counter()
        while time.perf_counter() - start < limit:
            if not await self.pending():
                break
            await asyncio.sleep(0.1)
        return time.perf_counter() - start


@dataclass
class Bench:
    session: aiohttp.ClientSession
    bot: Child
    bare: Child
    inbox: Inbox
    seconds: float
    counter: int = 0

    def take(self, count: int) -> tuple[int, int]:
        first, self.counter = self.counter, self.counter + count
        return first, count

    async def step(self, child: Child, rate: float | None, requests: list[Request]) -> Step:
        step = Step(child.name, rate)
        cpu = child.cpu_seconds()
        if rate is None:
            await closed_loop(self.session, child.url, requests, SATURATION_INFLIGHT, step)
        else:
            await open_loop(self.session, child.url, requests, rate, step)
        if child is self.bot:
            step.backlog = await self.inbox.pending()
            step.drain = await self.inbox.drained()
        step.cpu = child.cpu_seconds() - cpu
        return step

    async def pair(self, rate: float | None, index: int, count: int) -> tuple[Step, Step]:
        """The same signed events to bare and to the bot, one after the other."""
        first, count = self.take(count)
        requests = signed_stream(first, count, "S")
        order = (self.bare, self.bot) if index % 2 == 0 else (self.bot, self.bare)
        steps = {}
        for child in order:
            steps[child.name] = await self.step(child, rate, requests)
            await asyncio.sleep(0.5)
        return steps["bot"], steps["bare"]


def merged(steps: list[Step]) -> Step:
    """Rounds of one step as one: events and time summed, latencies pooled."""
    total = Step(steps[0].server, steps[0].rate)
    for step in steps:
        total.sent += step.sent
        total.ok += step.ok
        total.elapsed += step.elapsed
        total.cpu += step.cpu
        total.latencies += step.latencies
        total.backlog = max(total.backlog, step.backlog)
        total.drain += step.drain
        for key, count in step.errors.items():
            total.errors[key] = total.errors.get(key, 0) + count
    return total


@contextlib.asynccontextmanager
async def fake_slack() -> AsyncIterator[Any]:
    from tests.slack.fake_slack import FakeSlack

    fake = FakeSlack()
    runner = web.AppRunner(fake.app(), handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    fake.base_url = f"http://127.0.0.1:{runner.addresses[0][1]}/api/"
    try:
        yield fake
    finally:
        await runner.cleanup()


async def soak(bench: Bench, events: int, rate: float, progress: Callable[[str], None],
               ) -> tuple[list[tuple[int, float]], list[Step]]:
    """`events` events through the bot at `rate`, in chunks; VmRSS after each chunk."""
    samples, steps = [(0, bench.bot.rss_mib())], []
    chunks = 20
    per = events // chunks
    for n in range(chunks):
        first, count = bench.take(per)
        step = await bench.step(bench.bot, rate, signed_stream(first, count, "M"))
        steps.append(step)
        samples.append(((n + 1) * per, bench.bot.rss_mib()))
        progress(f"  soak {(n + 1) * per:>7,} events: {samples[-1][1]:.1f} MiB, "
                 f"p99 {step.pct(0.99) * 1000:.1f} ms, errors {sum(step.errors.values())}")
    return samples, steps


# ---- the report ---------------------------------------------------------------------------

def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
               platform.processor() or platform.machine())
    mem = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
               if line.startswith("MemTotal:"))
    import slack_bolt
    import sqlalchemy

    return (f"{os.cpu_count()} cores ({cpu}), {mem / 1024 / 1024:.0f} GiB, "
            f"{platform.system()} {platform.release()}, Python {platform.python_version()}, "
            f"aiohttp {aiohttp.__version__}, slack-bolt {slack_bolt.version.__version__}, "
            f"SQLAlchemy {sqlalchemy.__version__}")


def ms(x: float) -> str:
    return f"{x * 1000:.1f}"


def errors(step: Step) -> str:
    total = step.errors and ", ".join(f"{k}: {v}" for k, v in sorted(step.errors.items()))
    return f"{total or 0}" + (f", {step.late} > 3 s" if step.late else "")


def table(pairs: list[tuple[Step, Step]]) -> list[str]:
    lines = [
        "| offered events/s | bare: sustained/s | bare p50 / p99 ms | bot: sustained/s "
        "| bot p50 / p99 ms | bot/bare throughput | bot/bare p99 | errors bare / bot "
        "| CPU ms per event bare / bot | bot inbox backlog, drain |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for bot, bare in pairs:
        offered = f"{bot.rate:g}" if bot.rate else f"max ({SATURATION_INFLIGHT} in flight)"
        lines.append(
            f"| {offered} | {bare.throughput:.1f} | {ms(bare.pct(0.5))} / {ms(bare.pct(0.99))} "
            f"| {bot.throughput:.1f} | {ms(bot.pct(0.5))} / {ms(bot.pct(0.99))} "
            f"| {bot.throughput / bare.throughput:.2f} | {bot.pct(0.99) / bare.pct(0.99):.1f}x "
            f"| {errors(bare)} / {errors(bot)} "
            f"| {bare.cpu / max(bare.sent, 1) * 1000:.2f} / {bot.cpu / max(bot.sent, 1) * 1000:.2f} "
            f"| {bot.backlog}, {bot.drain:.1f} s |")
    return lines


def verdict(pairs: list[tuple[Step, Step]]) -> list[str]:
    def highest(steps: list[Step]) -> str:
        rates = [s.rate for s in steps if s.kept_up()]
        return f"{max(rates):g} events/s" if rates else "none"

    at100 = next((bot for bot, _ in pairs if bot.rate == 100), None)
    bot_max, bare_max = pairs[-1]
    ratio = bot_max.throughput / bare_max.throughput
    p99 = at100.pct(0.99) if at100 else float("nan")
    return [
        f"Highest offered rate kept up with (all acked within 3 s at >= 95% of the rate, no "
        f"errors; the bot's worker at most one second behind): bare {highest([b for _, b in pairs])}, "
        f"bot {highest([b for b, _ in pairs])}.", "",
        f"Goal: throughput at least 70% of bare's: {'met' if ratio >= 0.7 else 'NOT met'} "
        f"(saturated, bot/bare {ratio:.2f}); p99 ack under 100 ms at 100 events/s: "
        f"{'met' if p99 < 0.1 else 'NOT met'} ({ms(p99)} ms)."]


async def measure(database_url: str, backend: str, args: argparse.Namespace,
                  progress: Callable[[str], None]) -> list[str]:
    db = Database(database_url)
    await upgrade(db.engine)  # `producer-bot db upgrade`, as a deployment does first
    await db.dispose()
    workdir = Path(tempfile.mkdtemp(prefix="producer-bot-ack-"))
    async with fake_slack() as fake:
        bot = await Child.start("bot", database_url, fake.base_url, workdir)
        bare = await Child.start("bare", database_url, fake.base_url, workdir)
        connector = aiohttp.TCPConnector(limit=512)
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
        inbox = Inbox(database_url)
        try:
            async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
                bench = Bench(session, bot, bare, inbox, args.seconds)
                progress(f"{backend}: warming up (logs in {workdir})")
                await bench.pair(100, 0, 300)
                pairs = []
                if not args.soak:
                    for index, rate in enumerate(args.rates):
                        pair = await bench.pair(rate, index, int(rate * args.seconds))
                        pairs.append(pair)
                        progress("\n".join(table([pair])[2:]))
                    rounds = [await bench.pair(None, len(args.rates) + n, args.saturation_events)
                              for n in range(SATURATION_ROUNDS)]
                    pair = merged([bot for bot, _ in rounds]), merged([b for _, b in rounds])
                    pairs.append(pair)
                    progress("\n".join(table([pair])[2:]))
                else:
                    first, count = bench.take(SOAK_WARMUP)
                    await bench.step(bot, args.soak_rate, signed_stream(first, count, "M"))
                samples, steps = await soak(bench, args.soak_events, args.soak_rate, progress)
                replies = len(fake.of("chat.postMessage"))
        finally:
            await inbox.db.dispose()
            await bot.stop()
            await bare.stop()

    header = f"({backend}, {platform.machine()}, {platform.python_version()})"
    report = []
    if pairs:
        report += [
            f"### Slack ack latency, bot vs bare slack-bolt {header}", "",
            f"Machine: {machine()}.", "",
            f"Open loop, {args.seconds:g} s per rate, the same signed events to each server "
            "(the order alternates per rate); latency is from when an event was due to its "
            "HTTP 200. \"Sustained\" is 200s per second until the last answer. The last row is "
            f"closed loop ({SATURATION_INFLIGHT} requests in flight, {SATURATION_ROUNDS} rounds "
            f"of {args.saturation_events:,} events, the order alternating; summed): the most each "
            "server takes; bare's figure there is bounded by the load generator, which shares "
            "two cores with it. The bot's backlog there is the largest of the rounds and its "
            "drain their sum. CPU is the "
            "server process's user+system time per event; for the bot it includes its worker "
            "processing the events after the ack, until its inbox was empty again.", "",
            *table(pairs), "",
            *verdict(pairs), ""]
    latencies = sorted(x for step in steps for x in step.latencies)
    failures = sum(sum(step.errors.values()) + step.late for step in steps)
    before = ("after the rate steps above" if pairs else
              f"after a warm-up of {SOAK_WARMUP:,} events")
    report += [
        f"### Bot memory over {args.soak_events:,} events {header}", "",
        *([] if pairs else [f"Machine: {machine()}.", ""]),
        f"{args.soak_events:,} events at {args.soak_rate:g} events/s, {before}; VmRSS of the "
        "bot's own process (`/proc/<pid>/status`) after each twentieth. Over the soak: ack "
        f"p50 {ms(latencies[len(latencies) // 2])} ms, p99 "
        f"{ms(latencies[int(0.99 * len(latencies))])} ms, {failures} errors or acks over 3 s; "
        f"the bot answered {replies:,} blocker statements in the whole run.", "",
        "| events | bot RSS |", "| --- | --- |",
        *(f"| {n:,} | {rss:.1f} MiB |" for n, rss in samples[::len(samples) // 4]),
        "",
        f"Start to end: {samples[-1][1] - samples[0][1]:+.1f} MiB; middle to end: "
        f"{samples[-1][1] - samples[len(samples) // 2][1]:+.1f} MiB; highest sample "
        f"{max(r for _, r in samples):.1f} MiB.",
        ""]
    return report


async def main(args: argparse.Namespace) -> str:
    backend = "PostgreSQL" if args.database_url else "SQLite"
    async with scratch_database(args.database_url) as url:
        lines = await measure(url, backend, args, lambda line: print(line, flush=True))
    report = "\n".join(lines)
    print()
    print(report)
    if args.write:
        write(report, backend, args.soak_events)
    return report


def write(report: str, backend: str, soak_events: int) -> None:
    """Replace this backend's sections (the memory one per event count), keep the rest."""
    path = Path(__file__).with_name("RESULTS.md")
    current = path.read_text() if path.exists() else "# Benchmark results\n\n"
    markers = [f"### Bot memory over {soak_events:,} events ({backend}"]
    if report.startswith("### Slack ack"):
        markers.append(f"### Slack ack latency, bot vs bare slack-bolt ({backend}")
    kept = [part for part in current.split("\n### ")
            if not any(("### " + part).startswith(m) for m in markers)]
    path.write_text("\n### ".join(kept).rstrip() + "\n\n" + report)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", help="a PostgreSQL server to create a throwaway "
                        "database on (default: a temporary SQLite file)")
    parser.add_argument("--write", action="store_true", help="record the numbers in RESULTS.md")
    parser.add_argument("--rates", type=lambda s: [float(x) for x in s.split(",")],
                        default=list(RATES), help="events/s, comma-separated")
    parser.add_argument("--seconds", type=float, default=8.0, help="seconds per rate step")
    parser.add_argument("--saturation-events", type=int, default=5000,
                        help="events per round of the closed-loop step")
    parser.add_argument("--soak", action="store_true", help="100,000 events for the memory run")
    parser.add_argument("--soak-events", type=int, default=10_000)
    parser.add_argument("--soak-rate", type=float, default=200.0)
    parser.add_argument("--child", choices=["bot", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--child-database-url", help=argparse.SUPPRESS)
    parser.add_argument("--child-api-url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.soak:
        args.soak_events = 100_000
    return args


if __name__ == "__main__":
    arguments = parse()
    if arguments.child:
        child_main(arguments.child, arguments.child_database_url, arguments.child_api_url)
    else:
        asyncio.run(main(arguments))
