"""Discovery insists, politely, once: a dodge or a solution in disguise gets one sharper
question; a second one is accepted but marked problem unclear for the producer."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.answers import looks_like_dodge, looks_like_solution
from tests.conftest import Harness


async def the_request(h: Harness, number: int = 1):  # type: ignore[no-untyped-def]
    async with h.db.uow() as uow:
        return await uow.requests.get(h.team, number)


@pytest.mark.parametrize("answer", ["my manager asked for it", "a big client wants it",
                                    "it's a must-have", "no clue", "the competition has it",
                                    "read the spec"])
def test_dodges(answer: str) -> None:
    assert looks_like_dodge(answer) and not looks_like_solution(answer)


@pytest.mark.parametrize("answer", ["a toggle to hide archived projects", "HubSpot sync",
                                    "an SMS when the order ships", "a quarterly Excel for finance",
                                    "multi-select delete in the file list",
                                    "two more fields on the signup form"])
def test_solutions_named_as_things(answer: str) -> None:
    assert looks_like_solution(answer)


@pytest.mark.parametrize("answer", [
    "a CSV export because finance retypes rows every week",
    "Finance retypes 300 invoice rows by hand every Friday, about three hours",
    "new customers can't find the export and open about 20 tickets a week"])
def test_real_problems_are_not_pushed_back(answer: str) -> None:
    assert not looks_like_solution(answer) and not looks_like_dodge(answer)


async def test_a_dodge_gets_one_sharper_question(chat: Harness) -> None:
    await chat.say("sam", "request CSV export")
    reply = await chat.reply_text("sam", "my manager asked for it")
    assert "what happens today without it? Who loses time or money" in reply
    reply = await chat.reply_text("sam", "Finance retypes invoice rows by hand every Friday")
    assert "Who has this problem?" in reply
    r = await the_request(chat)
    assert r.problem == "Finance retypes invoice rows by hand every Friday"
    assert r.answers["first_answer"] == "my manager asked for it" and not r.problem_unclear


async def test_two_dodges_are_accepted_but_marked_unclear(chat: Harness) -> None:
    await chat.say("sam", "request CSV export")
    await chat.say("sam", "it's a must-have")
    await chat.say("sam", "we need this")
    r = await the_request(chat)
    assert r.problem == "we need this" and r.problem_unclear
    review = await chat.reply_text("sam", "done")
    assert "Problem unclear" in review
    digest = await chat.reply_text("pat", "digest week")
    assert "_(problem unclear)_" in digest


def test_eval_reports_discovery(tmp_path: Path) -> None:
    rows = [{"request": "CSV export", "answer": "add an export button", "label": "solution"},
            {"request": "CSV export", "answer": "my boss wants it", "label": "dodge"},
            {"request": "CSV export", "answer": "finance retypes rows by hand every week",
             "label": "problem"}]
    path = tmp_path / "answers.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    exe = Path(sys.executable).with_name("producer-bot")
    out = subprocess.run([str(exe), "eval", "--heuristic", "--discovery", str(path)],
                         capture_output=True, text=True, timeout=120).stdout
    assert "solutions caught: 1.00" in out and "dodges caught: 1.00" in out
    assert out.rstrip().endswith("problems wrongly pushed back: 0.00")
