"""The learned layer of the classifier (bot.learned) and `producer-bot train`: what it learns, what
it ships, and that the sets it is measured on never teach it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from adapters.llm.eval import load_examples
from adapters.llm.eval_discovery import load_answers
from bot import answers, classify, learned

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
HELD_OUT = ("heldout.jsonl", "heldout_team_chat.jsonl", "heldout_fresh.jsonl")


def test_tokens_fold_ids_links_and_numbers() -> None:
    assert learned.tokens("ping <@U04ABC> about PR #482 in <#C01|deploys>, see https://x.io/a") == [
        "ping", "zzmention", "about", "pr", "0", "in", "zzchannel", "see", "zzurl"]
    assert learned.tokens("I’m blocked") == ["i'm", "blocked"]


def test_features_carry_words_pairs_openings_and_length() -> None:
    features = learned.word_features("merged the retry fix")
    assert {"w:merged", "b:merged_the", "s:merged", "s2:merged_the", "e:fix", "x:ged",
            "len:2", "bias"} <= set(features)
    assert "len:2" not in learned.word_features("merged the retry fix", length=False)
    assert learned.word_features("") == ["bias"]


def _toy() -> list[tuple[list[str], str]]:
    rows = [("blocked waiting on ops", "blocker"), ("stuck waiting for creds", "blocker"),
            ("please add dark mode", "request"), ("please add an export", "request"),
            ("merged the fix", "update"), ("deployed the fix", "update"),
            ("morning all", "other"), ("lunch anyone", "other")]
    return [(learned.word_features(text), label) for text, label in rows]


def test_training_learns_and_is_deterministic() -> None:
    model = learned.train(_toy(), classify.LABELS)
    probability = model.probabilities(learned.word_features("waiting on ops again"))
    assert max(probability, key=probability.__getitem__) == "blocker"
    assert abs(sum(probability.values()) - 1) < 1e-9
    assert learned.train(_toy(), classify.LABELS).to_json() == model.to_json()


def test_the_weights_survive_their_file() -> None:
    model = learned.LinearModel(("a", "b"), {"w:x": [0.5, -0.25]}, temperature=1.5)
    again = learned.LinearModel.from_json(model.to_json())
    assert again == model
    with pytest.raises(ValueError, match="one weight per label"):
        learned.LinearModel.from_json('{"labels": ["a", "b"], "weights": {"w:x": [1]}}')


def test_a_higher_temperature_makes_the_model_less_sure() -> None:
    model = learned.train(_toy(), classify.LABELS)
    features = learned.word_features("waiting on ops")
    cool = learned.LinearModel(model.labels, model.weights, 1.0).probabilities(features)
    warm = learned.LinearModel(model.labels, model.weights, 3.0).probabilities(features)
    assert warm["blocker"] < cool["blocker"]


def test_calibration_prefers_the_temperature_that_fits() -> None:
    # Votes far apart but right only two times in three: the honest temperature cools them.
    labels = ("a", "b")
    predictions = [learned.Prediction("g", str(n), "a" if n % 3 else "b", (4.0, 0.0))
                   for n in range(30)]
    assert learned.calibrate(predictions, labels) > 3


def test_without_shipped_weights_the_rules_decide(monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    monkeypatch.setattr(learned, "DATA", tmp_path)
    monkeypatch.setattr(learned, "_loaded", {})
    text = "would be great if the export kept the filters"
    assert classify.classify(text) == classify.by_rules(text)
    assert answers.judge("a toggle to hide archived projects") == "solution"
    # A broken file is the same as none: the bot still answers.
    (tmp_path / "messages.json").write_text("{not json")
    monkeypatch.setattr(learned, "_loaded", {})
    assert classify.classify(text) == classify.by_rules(text)


def test_a_plain_blocker_is_taken_at_the_rules_word() -> None:
    result = classify.classify("I'm blocked on item-0042, waiting for ops")
    assert result.label == "blocker" and result.confidence >= 0.8
    assert (result.blocked_on, result.unblocker) == ("item-0042", "ops")


@pytest.mark.parametrize("text, label", [
    ("the flaky e2e suite is holding up the release", "blocker"),
    ("still pending: legal sign-off on the vendor contract, so onboarding can't start", "blocker"),
    ("would be great if the invoice export kept the date filter", "request"),
    ("feature idea: let admins pin announcements", "request"),
    ("any chance we could get SSO for the admin console?", "request"),
    ("marketing would like a UTM field on the signup form", "request"),
    ("spent the morning on the billing migration, about half done", "update"),
    ("merged the retry fix for webhooks", "update"),
])
def test_phrasings_the_rules_alone_missed(text: str, label: str) -> None:
    assert classify.classify(text).label == label


@pytest.mark.parametrize("answer, verdict", [
    ("Finance retypes invoice rows by hand", "problem"),
    ("nurses miss handover notes at shift change", "problem"),
    ("a toggle to hide archived projects", "solution"),
    ("HubSpot sync", "solution"),
    ("my manager asked for it", "dodge"),
    ("the competition has it", "dodge"),
])
def test_discovery_reads_short_answers_for_what_they_say(answer: str, verdict: str) -> None:
    assert answers.judge(answer) == verdict


def test_the_held_out_sets_never_teach_the_model() -> None:
    held = {e.text.lower() for name in HELD_OUT for e in load_examples(DATA / name)}
    held_answers = {a.text.lower() for name in ("heldout_discovery.jsonl", "heldout_fresh_discovery.jsonl")
                    for a in load_answers(DATA / name)}
    training = sorted((DATA / "train").glob("*.jsonl"))
    assert len(training) >= 8
    for path in training:
        if path.name.startswith("messages"):
            assert not held & {e.text.lower() for e in load_examples(path)}, path.name
        else:
            assert not held_answers & {a.text.lower() for a in load_answers(path)}, path.name


def test_the_shipped_weights_are_the_ones_the_sets_teach(tmp_path: Path) -> None:
    """`producer-bot train` on the shipped sets writes the shipped weights: nobody edited them
    by hand, and the figures in the README came from these files. (--quick skips the
    cross-validation; the temperature is the shipped one, so only the votes are compared.)"""
    result = subprocess.run(
        [sys.executable, "-m", "adapters.cli", "train", "--quick", "--out", str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "wrote" in result.stdout
    for kind in ("messages", "discovery"):
        fresh = json.loads((tmp_path / f"{kind}.json").read_text())
        shipped = json.loads((learned.DATA / f"{kind}.json").read_text())
        assert fresh["labels"] == shipped["labels"] and fresh["weights"] == shipped["weights"], kind


def test_train_names_a_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "hi", "label": "urgent"}\n')
    result = subprocess.run(
        [sys.executable, "-m", "adapters.cli", "train", "--messages", str(bad),
         "--out", str(tmp_path)], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 2 and "bad.jsonl:1" in result.stderr
    assert not (tmp_path / "messages.json").exists()
