"""`producer-bot eval --pairs FILE.jsonl`: how well the configured assistant tells two requests
that ask for the same thing from two that don't, at the bar the bot points at similar requests.

Each line is {"a": {"title": ..., "problem": ...}, "b": {...}, "label": "same" | "different"};
"problem" may be absent. A pair counts as found "same" when the assistant, asked which of one
candidate is like the other request, names it: exactly the question the bot asks at filing
(titles only, when either side has no problem) and when discovery is over (title and problem).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from adapters.llm.eval import confusion, read_jsonl
from bot.assistant import Assistant
from bot.similar import explain, request_text

LABELS = ("same", "different")


@dataclass(frozen=True)
class Side:
    title: str
    problem: str | None = None


@dataclass(frozen=True)
class Pair:
    a: Side
    b: Side
    label: str

    def texts(self) -> tuple[str, str]:
        """Problems are compared only when both sides have one, as the bot does."""
        both = bool(self.a.problem and self.b.problem)
        return (request_text(self.a.title, self.a.problem if both else None),
                request_text(self.b.title, self.b.problem if both else None))


@dataclass
class PairsReport:
    path: str
    matrix: Counter[tuple[str, str]] = field(default_factory=Counter)  # (expected, predicted)
    mistakes: list[tuple[Pair, str, float]] = field(default_factory=list)

    def count(self, label: str) -> int:
        return sum(self.matrix[(label, p)] for p in LABELS)

    @property
    def found(self) -> int:
        return sum(self.matrix[(e, "same")] for e in LABELS)

    @property
    def precision(self) -> float:
        return self.matrix[("same", "same")] / self.found if self.found else 0.0

    @property
    def recall(self) -> float:
        n = self.count("same")
        return self.matrix[("same", "same")] / n if n else 0.0


def _side(value: object) -> Side | None:
    if not (isinstance(value, dict) and isinstance(value.get("title"), str)
            and value["title"].strip()):
        return None
    problem = value.get("problem")
    if problem is not None and not isinstance(problem, str):
        return None
    return Side(value["title"], problem or None)


def load_pairs(path: str | Path) -> list[Pair]:
    pairs = []
    for number, row in read_jsonl(path):
        a = _side(row.get("a")) if isinstance(row, dict) else None
        b = _side(row.get("b")) if isinstance(row, dict) else None
        if a is None or b is None or not isinstance(row, dict) or row.get("label") not in LABELS:
            raise ValueError(f'{path}:{number}: expected {{"a": {{"title": ..., "problem": ...}}, '
                             f'"b": {{...}}, "label": {"|".join(LABELS)}}}')
        pairs.append(Pair(a, b, row["label"]))
    return pairs


async def judge(assistant: Assistant, pair: Pair) -> tuple[str, float]:
    """"same" when the assistant points at b as similar to a; and the score it gave."""
    mine, theirs = pair.texts()
    found = await assistant.similar(mine, [(1, theirs)], limit=1)
    return ("same", found[0].score) if found else ("different", 0.0)


async def run_pairs_eval(path: str | Path, assistant: Assistant,
                         concurrency: int = 4) -> PairsReport:
    pairs = load_pairs(path)
    gate = asyncio.Semaphore(concurrency)

    async def one(pair: Pair) -> tuple[str, float]:
        async with gate:
            return await judge(assistant, pair)

    report = PairsReport(str(path))
    for pair, (predicted, score) in zip(pairs, await asyncio.gather(*map(one, pairs)),
                                        strict=True):
        report.matrix[(pair.label, predicted)] += 1
        if predicted != pair.label:
            report.mistakes.append((pair, predicted, score))
    return report


def format_pairs(report: PairsReport, show_mistakes: bool = False) -> str:
    same, different = report.count("same"), report.count("different")
    lines = [f"{report.path}: {same + different} pairs ({same} same, {different} different)", "",
             *confusion(report.matrix, LABELS, 11)]
    if show_mistakes and report.mistakes:
        lines += ["", "mistakes (expected -> predicted; the rules' shared terms):"]
        for pair, predicted, _ in report.mistakes:
            a, b = pair.texts()
            why = explain(a, b)
            lines.append(f"  {pair.label} -> {predicted} ({why.score:.2f}, shares "
                         f"{', '.join(why.shared) or 'nothing'}): {pair.a.title} | {pair.b.title}")
    lines += ["", f"same pointed at: {report.matrix[('same', 'same')]} of {same}, "
                  f"wrongly: {report.matrix[('different', 'same')]} of {different}",
              f"same: precision {report.precision:.2f}, recall {report.recall:.2f}"]
    return "\n".join(lines)
