"""`producer-bot train`: learn the weights of the message and discovery models (bot.learned)
from labelled JSON-lines files, and say how well they do on authors they have not seen: each
file is predicted by a model trained on the others, and those predictions also set how sure the
shipped model may be (its temperature).

The weights are data shipped in `bot/data/`; retrain after changing the rules (their scores are
among the model's inputs) or the labelled sets, and commit the result with the figures printed.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path

from adapters.llm.eval import load_examples
from adapters.llm.eval_discovery import LABELS as ANSWER_LABELS
from adapters.llm.eval_discovery import load_answers
from bot import answers, classify, learned
from bot.usecases.blockers import BLOCKER_CONFIDENCE

TRAINING = Path("tests/data/train")
# The set the rules were tuned on teaches the model too; the held-out sets never do.
RULES_SET = Path("tests/data/messages.jsonl")


def _rows(kind: str, path: Path) -> list[tuple[str, str]]:
    if kind == "messages":
        return [(e.text, e.label) for e in load_examples(path)]
    return [(a.text, a.label) for a in load_answers(path)]


def _decide(kind: str, text: str, probability: dict[str, float]) -> str:
    """What the bot would do with the model's probabilities for `text` (as `classify` and
    `answers.judge` decide; a weak blocker is not tracked)."""
    if kind == "discovery":
        return answers.decide(probability)
    label, confidence = classify.combine(classify.by_rules(text), probability)
    return "other" if label == "blocker" and confidence < BLOCKER_CONFIDENCE else label


def _figures(kind: str, results: Sequence[tuple[str, str]]) -> str:
    """The figures the issue tracks, for (expected, predicted) pairs."""
    def share(expected: str, hit: Callable[[str], bool]) -> float:
        rows = [p for e, p in results if e == expected]
        return sum(map(hit, rows)) / len(rows) if rows else 0.0
    if kind == "messages":
        called = [e for e, p in results if p == "blocker"]
        precision = called.count("blocker") / len(called) if called else 0.0
        accuracy = sum(e == p for e, p in results) / len(results)
        return (f"accuracy {accuracy:.3f}, request recall {share('request', lambda p: p == 'request'):.3f}, "
                f"blocker precision {precision:.3f}, blocker recall "
                f"{share('blocker', lambda p: p == 'blocker'):.3f}")
    return (f"solutions pushed back {share('solution', lambda p: p != 'problem'):.3f}, "
            f"dodges pushed back {share('dodge', lambda p: p != 'problem'):.3f}, "
            f"problems pushed back {share('problem', lambda p: p != 'problem'):.3f}")


def train_kind(kind: str, files: Sequence[Path], out: Path, *, quick: bool = False) -> str:
    labels = classify.LABELS if kind == "messages" else ANSWER_LABELS
    featurise = classify.features if kind == "messages" else answers.features
    groups = {path.name: _rows(kind, path) for path in files}
    report = [f"{kind}: {sum(map(len, groups.values()))} examples from {len(groups)} files"]
    temperature = 1.0
    if not quick and len(groups) > 1:
        held = learned.cross_validate(groups, labels, featurise)
        temperature = learned.calibrate(held, labels)
        results = [(p.label, _decide(kind, p.text, learned.predicted(p, labels, temperature)))
                   for p in held]
        report.append(f"  each file predicted by a model trained on the others: {_figures(kind, results)}")
        for name in groups:
            mine = [(p.label, _decide(kind, p.text, learned.predicted(p, labels, temperature)))
                    for p in held if p.group == name]
            report.append(f"    {name}: {_figures(kind, mine)}")
        report.append(f"  temperature {temperature:.1f} (fitted on those predictions)")
    model = learned.train([(featurise(t), y) for rows in groups.values() for t, y in rows], labels)
    model = learned.LinearModel(model.labels, model.weights, temperature)
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"{kind}.json"
    partial = target.with_suffix(".json.partial")  # a reader never sees half a file
    partial.write_text(model.to_json(), encoding="utf-8")
    partial.replace(target)
    report.append(f"  wrote {target} ({len(model.weights)} features)")
    return "\n".join(report)


def train_command(args: argparse.Namespace) -> int:
    out = Path(args.out) if args.out else learned.DATA
    default_messages = sorted(TRAINING.glob("messages*.jsonl"))
    if default_messages and RULES_SET.exists():
        default_messages.insert(0, RULES_SET)
    if args.messages or args.discovery:  # only what was named
        kinds = {"messages": args.messages or [], "discovery": args.discovery or []}
    else:
        kinds = {"messages": default_messages,
                 "discovery": sorted(TRAINING.glob("discovery*.jsonl"))}
    if not any(kinds.values()):
        raise ValueError(f"no labelled files: give --messages / --discovery, or run where "
                         f"{TRAINING}/ exists")
    for kind, files in kinds.items():
        if files:
            print(train_kind(kind, [Path(f) for f in files], out, quick=args.quick), flush=True)
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--messages", nargs="+", metavar="FILE",
                        help=f'labelled messages (default: {RULES_SET} and {TRAINING}/messages*.jsonl)')
    parser.add_argument("--discovery", nargs="+", metavar="FILE",
                        help=f'labelled discovery answers (default: {TRAINING}/discovery*.jsonl)')
    parser.add_argument("--out", metavar="DIR", help="where to write the weights (default: bot/data)")
    parser.add_argument("--quick", action="store_true",
                        help="skip predicting each file with a model trained on the others "
                             "(no figures, no calibration)")
