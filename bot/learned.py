"""A small linear model that reads chat the way the rules cannot: by weighing hundreds of words
and word pairs at once. It works with no language model and no third-party library: the weights
are a JSON file shipped with the bot (`bot/data/`), learned from labelled examples by `train`
(`producer-bot train`), and prediction is a few dictionary look-ups.

Why a learned layer on top of the rules: the rules catch what they were written for and miss
the phrasings nobody thought of ("X is holding up the release", "feature idea: ...", "spent the
morning on ..."). Every new phrasing was a new regex, and the held-out sets showed that approach
stopping at about two thirds. The model keeps the rules as features (their scores are among its
inputs), so it agrees with them where they are sure and fills in where they are silent.

The model is softmax regression over sparse binary features, trained with AdaGrad and an L2
penalty, deterministic for a given file and seed.
"""

from __future__ import annotations

import json
import math
import random
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).with_name("data")

_SLACK_MENTION = re.compile(r"<@[^>\s]{1,64}>|(?<!\w)@[\w.-]{2,40}")
_SLACK_CHANNEL = re.compile(r"<#[^>\s]{1,64}>")
_URL = re.compile(r"<?https?://[^\s>]+>?|\bwww\.[^\s]+", re.IGNORECASE)
_CODE = re.compile(r"`[^`]{1,200}`")
_EMOJI_CODE = re.compile(r":[a-z0-9_+\-]{2,30}:")
_DIGITS = re.compile(r"\d+")
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?|[?!]", re.UNICODE)


def tokens(text: str) -> list[str]:
    """Words as the model sees them: lower case, ids and links folded to one token each, so
    `<@U04ABC>` and `@sam` are both a mention and PR #482 and #517 read alike."""
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    text = _URL.sub(" zzurl ", text)
    text = _SLACK_MENTION.sub(" zzmention ", text)
    text = _SLACK_CHANNEL.sub(" zzchannel ", text)
    text = _CODE.sub(" zzcode ", text)
    text = _EMOJI_CODE.sub(" zzemoji ", text)
    text = _DIGITS.sub("0", text.lower())
    return _WORD.findall(text)


def word_features(text: str, *, length: bool = True) -> list[str]:
    """Words, word pairs, the first words and the word endings of a message, and (`length`) a
    rough length."""
    words = tokens(text)
    features = ["bias"]
    if not words:
        return features
    features += [f"w:{w}" for w in words]
    features += [f"b:{a}_{b}" for a, b in zip(words, words[1:], strict=False)]
    # Where a word stands matters: "merged ..." opens an update, "... merged?" asks.
    features += [f"s:{w}" for w in words[:2]]
    features.append(f"s2:{'_'.join(words[:2])}")
    features.append(f"e:{words[-1]}")
    # Endings carry tense and mood across languages and typos ("deployed", "terminé", "bloqueado").
    features += [f"x:{w[-3:]}" for w in words if len(w) > 4]
    if length:
        n = len(words)
        features.append("len:" + ("1" if n <= 3 else "2" if n <= 8 else "3" if n <= 20 else "4"))
    return sorted(set(features))


@dataclass(frozen=True)
class LinearModel:
    """Softmax regression over named features: `weights[feature][i]` is the feature's vote for
    `labels[i]`."""
    labels: tuple[str, ...]
    weights: dict[str, Sequence[float]]
    # Votes are divided by this before they become probabilities. Trained on its own examples
    # a model is surer of itself than it has a right to be; the temperature is fitted on
    # predictions for authors it had not read (`calibrate`), so that "0.6" means about 60%.
    temperature: float = 1.0

    def votes(self, features: Iterable[str]) -> list[float]:
        totals = [0.0] * len(self.labels)
        for feature in features:
            row = self.weights.get(feature)
            if row:
                for i, vote in enumerate(row):
                    totals[i] += vote
        return totals

    def probabilities(self, features: Iterable[str]) -> dict[str, float]:
        return dict(zip(self.labels, _softmax(self.votes(features), self.temperature), strict=True))

    def to_json(self) -> str:
        # Four decimals are plenty for votes of this size and keep the file small.
        rows = {f: [round(v, 4) for v in votes] for f, votes in sorted(self.weights.items())}
        return json.dumps({"labels": list(self.labels), "temperature": round(self.temperature, 3),
                           "weights": rows}, ensure_ascii=False, separators=(",", ":")) + "\n"

    @classmethod
    def from_json(cls, text: str) -> LinearModel:
        data = json.loads(text)
        labels = tuple(data["labels"])
        weights = data["weights"]
        if not isinstance(weights, dict) or any(
                not isinstance(votes, list) or len(votes) != len(labels) for votes in weights.values()):
            raise ValueError("every feature needs one weight per label")
        return cls(labels, weights, float(data.get("temperature", 1.0)))


def _softmax(totals: Sequence[float], temperature: float = 1.0) -> list[float]:
    top = max(totals)
    exps = [math.exp((t - top) / temperature) for t in totals]
    norm = sum(exps)
    return [e / norm for e in exps]


def train(examples: Sequence[tuple[Sequence[str], str]], labels: Sequence[str], *,
          epochs: int = 20, rate: float = 0.3, l2: float = 1e-4, seed: int = 7,
          prune: float = 0.005, min_count: int = 1) -> LinearModel:
    """Fit softmax regression on (features, label) pairs. AdaGrad keeps rare words from being
    drowned by common ones; the L2 penalty and pruning keep the votes modest, and a feature seen
    in fewer than `min_count` examples is left out (it would only learn that one example)."""
    seen: dict[str, int] = {}
    for features, _ in examples:
        for f in features:
            seen[f] = seen.get(f, 0) + 1
    examples = [([f for f in features if seen[f] >= min_count], label) for features, label in examples]
    index = {label: i for i, label in enumerate(labels)}
    k = len(labels)
    weights: dict[str, list[float]] = {}
    grad_sq: dict[str, list[float]] = {}
    order = list(range(len(examples)))
    rng = random.Random(seed)
    for _ in range(epochs):
        rng.shuffle(order)
        for n in order:
            features, label = examples[n]
            totals = [0.0] * k
            for f in features:
                row = weights.get(f)
                if row:
                    for i in range(k):
                        totals[i] += row[i]
            target = index[label]
            grads = [p - (1.0 if i == target else 0.0) for i, p in enumerate(_softmax(totals))]
            for f in features:
                row = weights.setdefault(f, [0.0] * k)
                acc = grad_sq.setdefault(f, [1e-8] * k)
                for i in range(k):
                    g = grads[i] + l2 * row[i]
                    acc[i] += g * g
                    row[i] -= rate * g / math.sqrt(acc[i])
    kept = {f: list(row) for f, row in weights.items() if max(abs(v) for v in row) >= prune}
    return LinearModel(tuple(labels), kept)


_loaded: dict[str, LinearModel | None] = {}


def shipped(name: str) -> LinearModel | None:
    """The model shipped as `bot/data/<name>.json`, read once; None when it is absent or
    unreadable, and the rules then decide alone."""
    if name not in _loaded:
        try:
            _loaded[name] = LinearModel.from_json((DATA / f"{name}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError, KeyError, TypeError):
            _loaded[name] = None
    return _loaded[name]


@dataclass(frozen=True)
class Prediction:
    """One example predicted by a model that never saw its author."""
    group: str
    text: str
    label: str
    votes: tuple[float, ...]


def preload() -> None:
    """Read every shipped model now (at start-up), so no message waits for a file."""
    for path in sorted(DATA.glob("*.json")):
        shipped(path.stem)


def cross_validate(groups: dict[str, list[tuple[str, str]]], labels: Sequence[str],
                   featurise: Callable[[str], list[str]], **options: float) -> list[Prediction]:
    """Leave one group out (a group is one author's set): every example predicted by a model
    trained on the other authors. That is the honest figure for text written by somebody new."""
    results = []
    cache = {text: featurise(text) for rows in groups.values() for text, _ in rows}
    for name, rows in groups.items():
        train_rows = [(cache[t], y) for other, data in groups.items() if other != name for t, y in data]
        model = train(train_rows, labels, **options)  # type: ignore[arg-type]
        results += [Prediction(name, text, label, tuple(model.votes(cache[text])))
                    for text, label in rows]
    return results


def calibrate(predictions: Sequence[Prediction], labels: Sequence[str]) -> float:
    """The temperature that makes held-out predictions' probabilities honest: the one, on a
    grid, with the least log loss over `predictions`."""
    index = {label: i for i, label in enumerate(labels)}

    def loss(temperature: float) -> float:
        return -sum(math.log(max(_softmax(p.votes, temperature)[index[p.label]], 1e-12))
                    for p in predictions)

    grid = [0.5 + 0.1 * step for step in range(46)]  # 0.5 .. 5.0
    return min(grid, key=loss)


def predicted(prediction: Prediction, labels: Sequence[str], temperature: float = 1.0) -> dict[str, float]:
    return dict(zip(labels, _softmax(prediction.votes, temperature), strict=True))
