"""`producer-bot eval FILE.jsonl`: how well the configured classifier labels chat messages.

Each line of the file is {"text": ..., "label": "blocker" | "request" | "update" | "other"}.
A "blocker" below the core's acting threshold counts as "other", because the bot would not
track it: the report measures what the bot does, not what it half-believed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot.assistant import Assistant
from bot.classify import LABELS
from bot.usecases.blockers import BLOCKER_CONFIDENCE


@dataclass(frozen=True)
class Example:
    text: str
    label: str


@dataclass
class EvalReport:
    path: str
    matrix: Counter[tuple[str, str]] = field(default_factory=Counter)  # (expected, predicted)
    sources: Counter[str] = field(default_factory=Counter)  # "heuristic" / "llm" answers
    mistakes: list[tuple[Example, str]] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total(self) -> int:
        return sum(self.matrix.values())

    @property
    def accuracy(self) -> float:
        return sum(self.matrix[(label, label)] for label in LABELS) / self.total if self.total else 0.0

    def precision(self, label: str) -> float:
        predicted = sum(self.matrix[(other, label)] for other in LABELS)
        return self.matrix[(label, label)] / predicted if predicted else 0.0

    def recall(self, label: str) -> float:
        actual = self.support(label)
        return self.matrix[(label, label)] / actual if actual else 0.0

    def support(self, label: str) -> int:
        return sum(self.matrix[(label, other)] for other in LABELS)


def read_jsonl(path: str | Path) -> list[tuple[int, object]]:
    """(line number, parsed value) of every non-blank line; ValueError, naming the line, for
    a file that can't be read or a line that is not JSON."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ValueError(f"can't read {path}: {exc.strerror or exc}") from None
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rows.append((number, json.loads(line)))
        except json.JSONDecodeError:
            raise ValueError(f"{path}:{number}: not a JSON object") from None
    if not rows:
        raise ValueError(f"{path}: no examples")
    return rows


def load_examples(path: str | Path) -> list[Example]:
    examples = []
    for number, row in read_jsonl(path):
        if not (isinstance(row, dict) and isinstance(row.get("text"), str)
                and row.get("label") in LABELS):
            raise ValueError(f"{path}:{number}: expected {{\"text\": ..., \"label\": "
                             f"{'|'.join(LABELS)}}}")
        examples.append(Example(row["text"], row["label"]))
    return examples


async def run_eval(path: str | Path, assistant: Assistant, concurrency: int = 4) -> EvalReport:
    """Classify every example with `assistant` (a few at a time when a model answers)."""
    examples = load_examples(path)
    gate = asyncio.Semaphore(concurrency)

    async def one(example: Example) -> tuple[str, str]:
        async with gate:
            result = await assistant.classify(example.text)
        label = result.label
        if label == "blocker" and result.confidence < BLOCKER_CONFIDENCE:
            label = "other"
        return label, result.source

    results = await asyncio.gather(*(one(e) for e in examples))
    report = EvalReport(str(path))
    for example, (predicted, source) in zip(examples, results, strict=True):
        report.matrix[(example.label, predicted)] += 1
        report.sources[source] += 1
        if predicted != example.label:
            report.mistakes.append((example, predicted))
    for usage in getattr(assistant, "usage", {}).values():
        report.prompt_tokens += usage.prompt_tokens
        report.completion_tokens += usage.completion_tokens
    return report


def confusion(matrix: Counter[tuple[str, str]], labels: Sequence[str], width: int) -> list[str]:
    """A confusion matrix as text: a row per expected label, a column per predicted one."""
    lines = ["expected \\ predicted".ljust(22) + "".join(label.rjust(width) for label in labels)]
    for expected in labels:
        lines.append(expected.ljust(22) + "".join(
            str(matrix[(expected, predicted)]).rjust(width) for predicted in labels))
    return lines


def format_report(report: EvalReport, show_mistakes: bool = False) -> str:
    width = max(len(label) for label in LABELS) + 2
    sources = ", ".join(f"{n} by the {s}" for s, n in sorted(report.sources.items()))
    lines = [f"{report.path}: {report.total} messages ({sources})", "",
             *confusion(report.matrix, LABELS, width)]
    lines += ["", "label".ljust(22) + "precision".rjust(11) + "recall".rjust(9) + "count".rjust(8)]
    for label in LABELS:
        lines.append(label.ljust(22) + f"{report.precision(label):11.2f}"
                     f"{report.recall(label):9.2f}{report.support(label):8d}")
    if show_mistakes and report.mistakes:
        lines += ["", "mistakes (expected -> predicted):"]
        lines += [f"  {e.label} -> {p}: {e.text}" for e, p in report.mistakes]
    if report.prompt_tokens or report.completion_tokens:
        lines += ["", f"tokens: {report.prompt_tokens} prompt + {report.completion_tokens} "
                      "completion"]
    lines += ["", f"accuracy: {report.accuracy:.2f}"]
    return "\n".join(lines)


async def eval_command(settings: object, file: str | None, *, heuristic: bool = False,
                       every_message: bool = False, mistakes: bool = False,
                       discovery: str | None = None, pairs: str | None = None) -> int:
    """`producer-bot eval`: print the report; its last line is `accuracy: 0.NN` (or, for
    `--discovery`, the share of real problem statements wrongly pushed back; for `--pairs`,
    precision and recall of "same")."""
    from adapters.llm import open_assistant
    from adapters.llm.eval_discovery import format_discovery, run_discovery_eval
    from adapters.llm.eval_pairs import format_pairs, run_pairs_eval

    if not file and not discovery and not pairs:
        raise ValueError("give a FILE of labelled messages, --discovery FILE of answers or "
                         "--pairs FILE of request pairs")
    async with open_assistant(settings, heuristic_only=heuristic,
                              every_message=every_message) as assistant:
        reports = []
        if file:
            reports.append(format_report(await run_eval(file, assistant),
                                         show_mistakes=mistakes))
        if discovery:
            reports.append(format_discovery(await run_discovery_eval(discovery, assistant),
                                            show_mistakes=mistakes))
        if pairs:
            reports.append(format_pairs(await run_pairs_eval(pairs, assistant),
                                        show_mistakes=mistakes))
        print("\n\n".join(reports))
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", nargs="?", help='JSON lines: {"text": "...", "label": '
                                                '"blocker|request|update|other"}')
    parser.add_argument("--discovery", metavar="FILE",
                        help='discovery answers: {"request": ..., "answer": ..., '
                             '"label": "problem|solution|dodge"} per line')
    parser.add_argument("--pairs", metavar="FILE",
                        help='request pairs: {"a": {"title": ..., "problem": ...}, "b": {...}, '
                             '"label": "same|different"} per line')
    parser.add_argument("--heuristic", action="store_true",
                        help="measure the heuristic alone, even when a model is configured")
    parser.add_argument("--every-message", action="store_true",
                        help="send every message to the model, not only the unsure ones")
    parser.add_argument("--mistakes", action="store_true", help="list the misclassified messages")


def main(argv: list[str] | None = None) -> int:
    """`python -m adapters.llm.eval FILE`: the same as `producer-bot eval FILE`."""
    from adapters import config

    parser = argparse.ArgumentParser(prog="producer-bot eval", description=__doc__)
    add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return asyncio.run(eval_command(config.load(), args.file, heuristic=args.heuristic,
                                        every_message=args.every_message,
                                        mistakes=args.mistakes, discovery=args.discovery,
                                        pairs=args.pairs))
    except (ValueError, config.ConfigError) as exc:
        print(f"producer-bot eval: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
