"""Every question the core can put to a language model, driven through the relay, the core and
real storage: the model's answer (which always differs from the rules') is the one the
committed pass used, and the model was asked with no unit of work open.

The questions come from the port itself (bot.assistant.QUESTIONS): a method added to
`Assistant` without a scenario here fails this file.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import pytest

from adapters.scheduler import ApsCron
from bot import answers
from bot import classify as rules
from bot.assistant import QUESTIONS, HeuristicAssistant, Planner, Prepared, Review, Similar
from bot.classify import Classification
from bot.core import Core
from bot.model import RequestState, Role, Schedule, Team, Where
from bot.ports import UnitOfWork
from bot.relay import Relay
from bot.scheduling import Scheduler
from bot.similar import similarity
from storage.db import Database
from tests.conftest import NOW, Harness
from tests.llm.test_through_the_core import the_request

CHANNEL = Where("console", "acme", "C1")
HEADLINE = "The model's headline: one blocker, waiting on legal."
FOLLOW_UP = "The model asks: which problem would that solve, and for whom?"


class Units:
    """The database's units of work, counting how many are open."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.open = 0

    @contextlib.asynccontextmanager
    async def __call__(self) -> AsyncIterator[UnitOfWork]:
        async with self.db.uow() as uow:
            self.open += 1
            try:
                yield uow
            finally:
                self.open -= 1


class Model(HeuristicAssistant):
    """A remote assistant that disagrees with the rules on every question, and notes for each
    question whether a unit of work was open when it was asked."""

    remote = True

    def __init__(self, units: Units) -> None:
        self.units = units
        self.asked: list[tuple[str, int]] = []

    def _asked(self, name: str) -> None:
        self.asked.append((name, self.units.open))

    async def classify(self, text: str, *, where: Where | None = None) -> Classification:
        self._asked("classify")
        return Classification("blocker", 0.95, blocked_on="the DPA", unblocker="legal",
                              source="llm")

    async def is_solution(self, answer: str, *, where: Where | None = None) -> bool:
        self._asked("is_solution")
        return not answers.looks_like_solution(answer)

    async def similar(self, text: str, candidates: Any, limit: int = 3, *,
                      where: Where | None = None) -> list[Similar]:
        self._asked("similar")
        return [Similar(number, 0.99) for number, _ in candidates][:limit]

    async def review_discovery(self, request: Any, answer: str, *,
                               where: Where | None = None) -> Review:
        self._asked("review_discovery")
        # Like a real model, it judges the answer against the question the request is at: asked
        # about anything but the problem, it has nothing to push back on.
        question = request.current_question
        on_problem = question is not None and question.field == "problem"
        return Review(problem_stated=not on_problem, solution_in_disguise=on_problem,
                      next_question=FOLLOW_UP if on_problem else None, source="llm")

    async def summarize(self, digest: Any, *, where: Where | None = None) -> str | None:
        self._asked("summarize")
        return HEADLINE


@dataclass
class Chat:
    h: Harness
    model: Model
    units: Units


@pytest.fixture
async def chat(db: Database) -> Chat:
    units = Units(db)
    model = Model(units)
    h = Harness(db)
    h.relay = Relay(units, Core(model), {h.team.platform: h.sender})  # type: ignore[arg-type]
    for user, role in (("pat", Role.PRODUCER), ("sam", Role.STAKEHOLDER),
                       ("erin", Role.ENGINEER)):
        await h.set_role(user, role)
    return Chat(h, model, units)


# ---- one scenario or more per question -------------------------------------------------------


async def free_text_in_a_channel(chat: Chat) -> None:
    text = "morning all, the coffee machine works again"
    assert rules.classify(text).label != "blocker"
    await chat.h.say("erin", text, where=CHANNEL, direct=False, message_id="1700.1")
    async with chat.h.db.uow() as uow:
        [blocker] = await uow.blockers.open(chat.h.team)
    assert (blocker.reporter, blocker.unblocker, blocker.blocked_on) == ("erin", "legal",
                                                                          "the DPA")


async def a_request_form(chat: Chat) -> None:
    problem = "Finance retypes invoice totals by hand every Friday"
    assert not answers.looks_like_solution(problem)
    await chat.h.say("sam", "", command="request",
                     form={"title": "CSV export", "problem": problem})
    request = await the_request(chat.h)
    # The model called the problem a solution in disguise: kept, and asked about again.
    assert request.answers == {"proposed_solution": problem} and request.followup_asked
    assert request.state == RequestState.NEEDS_DISCOVERY


async def a_request_like_an_open_one(chat: Chat) -> None:
    await chat.h.say("sam", "request Dark mode")
    assert similarity("Easier on the eyes after sunset", "Dark mode") == 0
    sent = await chat.h.say("sam", "request Easier on the eyes after sunset")
    assert "1 similar request" in [s.title for s in sent[0].sections]
    assert sent[0].sections[0].text.startswith("• #1 Dark mode")


async def a_discovery_answer(chat: Chat) -> None:
    await chat.h.say("sam", "request CSV export")
    answer = "Finance retypes invoice totals by hand every Friday"
    assert not answers.looks_like_solution(answer)
    reply = await chat.h.reply_text("sam", answer)
    assert FOLLOW_UP in reply
    request = await the_request(chat.h)
    assert request.answers == {"proposed_solution": answer} and request.followup_asked


async def a_digest_asked_for(chat: Chat) -> None:
    await chat.h.say("erin", "blocker waiting on legal review")
    [digest] = await chat.h.say("pat", "digest week")
    assert (digest.sections[0].title, digest.sections[0].text) == ("In short", HEADLINE)


async def a_scheduled_digest(chat: Chat) -> None:
    h = chat.h
    await h.say("erin", "blocker waiting on legal review")
    async with h.db.uow() as uow:
        await uow.schedules.put(Schedule(h.team, "weekly-digest", "0 9 * * mon"))
        await uow.commit()
    scheduler = Scheduler(chat.units, ApsCron(), assistant=chat.model)  # type: ignore[arg-type]
    before = len(h.sender.sent)
    await scheduler.tick(NOW - timedelta(minutes=1))
    await scheduler.tick(NOW + timedelta(minutes=1))  # Monday 09:00 falls in this tick
    await h.relay.drain()
    [digest] = [o for o in h.sender.sent[before:] if "Weekly digest" in o.text]
    assert (digest.sections[0].title, digest.sections[0].text) == ("In short", HEADLINE)


SCENARIOS: dict[str, tuple[Callable[[Chat], Awaitable[None]], ...]] = {
    "classify": (free_text_in_a_channel,),
    "is_solution": (a_request_form,),
    "similar": (a_request_like_an_open_one,),
    "review_discovery": (a_discovery_answer,),
    "summarize": (a_digest_asked_for, a_scheduled_digest),
}


@pytest.mark.parametrize(("question", "scenario"), [
    (question, scenario) for question in QUESTIONS for scenario in SCENARIOS.get(question, (None,))
], ids=lambda value: getattr(value, "__name__", value))
async def test_the_models_answer_is_the_one_committed(
        question: str, scenario: Callable[[Chat], Awaitable[None]] | None, chat: Chat,
        caplog: pytest.LogCaptureFixture) -> None:
    if scenario is None:
        pytest.fail(f"Assistant.{question} has no scenario: add one to SCENARIOS")
    with caplog.at_level(logging.WARNING, logger="bot.assistant"):
        await scenario(chat)
    assert question in {name for name, _ in chat.model.asked}
    assert all(open_units == 0 for _, open_units in chat.model.asked), chat.model.asked
    assert "not prepared" not in caplog.text


def test_every_scenario_is_for_a_question_of_the_port() -> None:
    assert set(SCENARIOS) == set(QUESTIONS)


# ---- when the rehearsal and the real pass part ways --------------------------------------------


async def test_a_question_the_rehearsal_did_not_foresee_is_answered_by_the_rules_loudly(
        chat: Chat, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """Someone changes the request while the model thinks: the real pass's question is not the
    one the model answered, so the rules answer it (and say so), rather than a stale answer."""
    h = chat.h
    await h.say("sam", "request CSV export")
    asked = chat.model.review_discovery

    async def meanwhile(request: Any, answer: str, **kwargs: Any) -> Review:
        async with h.db.uow() as uow:
            await uow.requests.save(replace(await uow.requests.get(h.team, 1), title="CSV out"))
            await uow.commit()
        return await asked(request, answer, **kwargs)

    monkeypatch.setattr(chat.model, "review_discovery", meanwhile)
    with caplog.at_level(logging.WARNING, logger="bot.assistant"):
        reply = await h.reply_text("sam", "Finance retypes invoice totals by hand every Friday")
    assert "assistant question review_discovery was not prepared" in caplog.text
    assert FOLLOW_UP not in reply  # the rules' judgement: the problem is stated
    assert (await the_request(h)).state == RequestState.READY_FOR_REVIEW


async def test_questions_are_known_by_their_arguments_however_they_are_passed(
        caplog: pytest.LogCaptureFixture) -> None:
    class Remote(HeuristicAssistant):
        async def similar(self, text: str, candidates: Any, limit: int = 3, *,
                          where: Where | None = None) -> list[Similar]:
            return [Similar(7, 1.0)]

    planner = Planner()
    await planner.similar("CSV export", [(1, "CSV dump")], where=CHANNEL)
    answers = await planner.prepare(Remote())
    # The same question put another way: a tuple for the list, the default spelled out.
    with caplog.at_level(logging.WARNING, logger="bot.assistant"):
        assert await answers.similar("CSV export", ((1, "CSV dump"),), 3, where=CHANNEL) == [
            Similar(7, 1.0)]
    assert "not prepared" not in caplog.text


async def test_what_the_model_is_asked_is_what_the_rehearsal_saw_then() -> None:
    """The core changes a request right after its discovery answer is judged; the model, asked
    later, must see the request as it was when the question was asked."""
    from bot.model import Request

    request = Request(team=Team("console", "acme"), number=1, title="CSV export",
                      requester="sam", channel="D1", created_at=NOW, updated_at=NOW)
    planner = Planner()
    await planner.review_discovery(request, "finance retypes totals")
    request.discovery_step += 1  # what the core does next
    seen: list[int] = []

    class Remote(HeuristicAssistant):
        async def review_discovery(self, request: Any, answer: str, *, where: Any = None,
                                   ) -> Review:
            seen.append(request.discovery_step)
            return Review(problem_stated=True, solution_in_disguise=False)

    answers: Prepared = await planner.prepare(Remote())
    assert seen == [0]
    assert len(answers.answers) == 1
