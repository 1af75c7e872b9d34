"""`producer-bot eval --discovery FILE.jsonl`: how well discovery tells a problem statement from
a solution in disguise and a dodge, on answers to "what problem does this solve?".

Each line is {"request": <title>, "answer": ..., "label": "problem" | "solution" | "dodge"}.
What counts is what the bot does: an answer is *pushed back* when the bot asks again (for a
solution or a dodge); the worst mistake is pushing back on a real problem statement.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from adapters.llm.eval import confusion, read_jsonl
from bot.assistant import Assistant
from bot.model import Request, Team

LABELS = ("problem", "solution", "dodge")


@dataclass(frozen=True)
class Answer:
    request: str
    text: str
    label: str


@dataclass
class DiscoveryReport:
    path: str
    matrix: Counter[tuple[str, str]] = field(default_factory=Counter)  # (expected, predicted)
    mistakes: list[tuple[Answer, str]] = field(default_factory=list)

    def count(self, label: str) -> int:
        return sum(self.matrix[(label, p)] for p in LABELS)

    def pushed_back(self, label: str) -> float:
        """The share of `label` answers the bot asked again about."""
        n = self.count(label)
        return (n - self.matrix[(label, "problem")]) / n if n else 0.0

    def caught(self, label: str) -> float:
        n = self.count(label)
        return self.matrix[(label, label)] / n if n else 0.0


def load_answers(path: str | Path) -> list[Answer]:
    answers = []
    for number, row in read_jsonl(path):
        if not (isinstance(row, dict) and isinstance(row.get("request"), str)
                and isinstance(row.get("answer"), str) and row.get("label") in LABELS):
            raise ValueError(f'{path}:{number}: expected {{"request": ..., "answer": ..., '
                             f'"label": {"|".join(LABELS)}}}')
        answers.append(Answer(row["request"], row["answer"], row["label"]))
    return answers


async def judge(assistant: Assistant, title: str, answer: str) -> str:
    """What the bot makes of `answer` to the first discovery question of a request `title`."""
    now = datetime.now(UTC)
    request = Request(Team("eval", "eval"), 1, title, "requester", "eval", now)
    review = await assistant.review_discovery(request, answer)
    if review.solution_in_disguise:
        return "solution"
    if review.dodge or not review.problem_stated:
        return "dodge"
    return "problem"


async def run_discovery_eval(path: str | Path, assistant: Assistant,
                             concurrency: int = 4) -> DiscoveryReport:
    answers = load_answers(path)
    gate = asyncio.Semaphore(concurrency)

    async def one(answer: Answer) -> str:
        async with gate:
            return await judge(assistant, answer.request, answer.text)

    report = DiscoveryReport(str(path))
    for answer, predicted in zip(answers, await asyncio.gather(*map(one, answers)), strict=True):
        report.matrix[(answer.label, predicted)] += 1
        if predicted != answer.label:
            report.mistakes.append((answer, predicted))
    return report


def format_discovery(report: DiscoveryReport, show_mistakes: bool = False) -> str:
    total = sum(report.count(label) for label in LABELS)
    lines = [f"{report.path}: {total} answers", "",
             *confusion(report.matrix, LABELS, 10)]
    if show_mistakes and report.mistakes:
        lines += ["", "mistakes (expected -> predicted):"]
        lines += [f"  {a.label} -> {p}: {a.text}" for a, p in report.mistakes]
    lines += ["",
              f"solutions caught: {report.caught('solution'):.2f} "
              f"(pushed back: {report.pushed_back('solution'):.2f})",
              f"dodges caught: {report.caught('dodge'):.2f} "
              f"(pushed back: {report.pushed_back('dodge'):.2f})",
              f"problems wrongly pushed back: {report.pushed_back('problem'):.2f}"]
    return "\n".join(lines)
