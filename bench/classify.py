"""Reading one chat message without a language model: the rules alone against the rules plus
the learned layer (bot.learned), side by side in one process, on the held-out team chat.

    .venv/bin/python bench/classify.py [--rounds 5]

Reported: microseconds per message for each (the best of the rounds) and their ratio; and the
time to read the shipped weights once (done at start-up, `learned.preload`). Measured, never
asserted.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from bot import classify, learned

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "heldout_team_chat.jsonl"


def per_message(read, texts: list[str], rounds: int) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for text in texts:
            read(text)
        best = min(best, time.perf_counter() - start)
    return best / len(texts) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    start = time.perf_counter()
    learned.preload()
    loading = time.perf_counter() - start
    texts = [json.loads(line)["text"] for line in DATA.read_text(encoding="utf-8").splitlines()] * 4
    rules = per_message(classify.by_rules, texts, args.rounds)
    both = per_message(classify.classify, texts, args.rounds)
    print(f"{len(texts)} messages, best of {args.rounds} rounds")
    print(f"rules alone:        {rules:6.0f} µs per message")
    print(f"rules + learned:    {both:6.0f} µs per message  (ratio {both / rules:.2f})")
    print(f"reading the weights once: {loading * 1000:.0f} ms")


if __name__ == "__main__":
    main()
