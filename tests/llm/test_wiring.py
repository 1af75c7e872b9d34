"""The model's help as users meet it: follow-up questions in the requester's language, grounded
digest headlines (asked for and scheduled), and places whose text never reaches the model."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from adapters.llm import Places
from bot.core import Core
from bot.model import Role, Team, Where
from bot.relay import Relay
from storage.db import Database
from tests.conftest import Harness
from tests.llm.conftest import MakeAssistant
from tests.llm.fake_openai import FakeOpenAI, answer
from tests.llm.test_openai_assistant import UNSURE


@pytest.fixture
async def chat_with(db: Database, make_assistant: MakeAssistant) -> AsyncIterator:
    async def make(**settings: object) -> Harness:
        h = Harness(db)
        h.relay = Relay(db.uow, Core(make_assistant(**settings)), {h.team.platform: h.sender})
        for user, role in (("pat", Role.PRODUCER), ("sam", Role.STAKEHOLDER)):
            await h.set_role(user, role)
        return h
    yield make


async def test_discovery_follow_ups_come_in_the_requesters_language(
        chat_with, fake_openai: FakeOpenAI) -> None:  # type: ignore[no-untyped-def]
    h = await chat_with()
    fake_openai.then(
        answer(problem_stated=False, solution_in_disguise=True,
               next_question="Buena idea. ¿Qué problema resolvería y a quién?"),
        answer(problem_stated=True, solution_in_disguise=False,
               next_question="¿Quién tiene este problema exactamente?"))
    await h.say("sam", "request Exportar facturas")
    assert "¿Qué problema resolvería" in await h.reply_text("sam", "un botón de exportar")
    reply = await h.reply_text("sam", "Finanzas copia las facturas a mano cada viernes, 3 horas")
    assert "¿Quién tiene este problema exactamente?" in reply


async def test_a_digest_leads_with_the_models_grounded_headline(
        chat_with, fake_openai: FakeOpenAI) -> None:  # type: ignore[no-untyped-def]
    h = await chat_with()
    fake_openai.always(answer(headline="One blocker is open; nothing waits for a decision."))
    await h.say("pat", "blocker waiting on legal review")
    sent = await h.say("pat", "digest week")
    assert sent[0].sections[0].title == "In short"
    assert sent[0].sections[0].text == "One blocker is open; nothing waits for a decision."
    assert sent[0].text.startswith("Weekly digest: 1 blocker open")  # the facts stay


async def test_a_private_channel_never_reaches_the_model(
        chat_with, fake_openai: FakeOpenAI) -> None:  # type: ignore[no-untyped-def]
    h = await chat_with(disabled_for=Places.parse("C-hr"))
    fake_openai.always(answer(label="blocker", confidence=0.9, blocked_on=None, unblocker=None))
    await h.say("erin", UNSURE, where=Where("console", "acme", "C-hr"), direct=False)
    assert fake_openai.requests == []
    await h.say("erin", UNSURE, where=Where("console", "acme", "C-eng"), direct=False)
    assert len(fake_openai.requests) == 1


async def test_a_scheduled_digest_leads_with_the_models_headline_once(
        db: Database, fake_openai: FakeOpenAI, make_assistant: MakeAssistant) -> None:
    from datetime import UTC, datetime, timedelta

    from bot.scheduling import Scheduler
    from tests.test_scheduling import CRON, only, setup, tick

    team = Team("console", "acme")
    h = await setup(db, {"pat": (Role.PRODUCER, None), "ann": (Role.PRODUCER, None)},
                    only(team, **{"weekly-digest": True}))
    await h.say("ann", "blocker waiting on legal review")
    fake_openai.always(answer(headline="One blocker is open, waiting on legal review."))
    scheduler = Scheduler(db.uow, CRON, assistant=make_assistant())  # type: ignore[call-arg]
    monday_9 = datetime(2026, 11, 16, 9, tzinfo=UTC)
    sent = await tick(h, scheduler, monday_9 - timedelta(minutes=1), monday_9 + timedelta(minutes=1))
    digests = [o for o in sent if "Weekly digest" in o.text]
    assert len(digests) == 2 and len(fake_openai.requests) == 1  # one call for both producers
    assert all(o.sections[0].title == "In short" for o in digests)
