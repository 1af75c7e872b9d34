"""Similar-request benchmark: the rules score a new request against a team's open ones.

    .venv/bin/python bench/similar.py [--candidates 500] [--rounds 20]

A team has hundreds of open requests; filing one (and finishing its discovery) scores it against
all of them. Reported: the time for one request against N candidates read for the first time
(nothing remembered), and again once their terms are remembered (the usual case: open requests
are scored over and over), against a 16 ms frame. Measured, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time

from bot.assistant import HeuristicAssistant
from bot.similar import request_text, terms

WORDS = ("export invoices csv spreadsheet dashboard report login sso okta admin console dark "
         "mode mobile app ios android roles permissions bulk delete search filter tickets "
         "notifications email reminders calendar sync hubspot salesforce webhook api audit log "
         "history templates comments attachments pricing tax onboarding staging pipeline "
         "finance sales support customers retype hours every friday team manual copy paste "
         "slow page data users contacts deals orders shipments invoices payments refunds").split()
FRAME_MS = 16.0


def request(rng: random.Random, number: int) -> str:
    title = " ".join(rng.sample(WORDS, rng.randint(2, 6)))
    problem = " ".join(rng.choices(WORDS, k=rng.randint(10, 40))) if number % 3 else None
    return request_text(f"{title} {number}", problem)


async def measure(candidates: int, rounds: int) -> tuple[list[float], list[float]]:
    rng = random.Random(7)
    assistant = HeuristicAssistant()
    cold, warm = [], []
    for round_ in range(rounds):
        terms.cache_clear()
        pool = [(n, request(rng, n + round_ * candidates)) for n in range(candidates)]
        new = request(rng, 10**6 + round_)
        started = time.perf_counter()
        await assistant.similar(new, pool)
        cold.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        await assistant.similar(new + " again", pool)
        warm.append((time.perf_counter() - started) * 1000)
    return cold, warm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--candidates", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    cold, warm = asyncio.run(measure(args.candidates, args.rounds))
    for name, times in (("first read", cold), ("terms remembered", warm)):
        median = statistics.median(times)
        print(f"{args.candidates} candidates, {name}: median {median:.1f} ms, "
              f"max {max(times):.1f} ms ({median / FRAME_MS:.2f} frames of {FRAME_MS:.0f} ms)")


if __name__ == "__main__":
    main()
