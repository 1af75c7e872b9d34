"""A slow model delays only its own team's model questions: another team's work, and commands
that need no model, go ahead meanwhile; one team's questions are bounded in number."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from bot.assistant import HeuristicAssistant
from bot.classify import Classification
from bot.core import Core
from bot.model import InboundMessage, Where
from bot.relay import Relay
from bot.relay.worker import MODEL_CALLS_PER_TEAM
from storage.db import Database
from tests.conftest import RecordingSender


class SlowModel(HeuristicAssistant):
    """Answers team A's questions only once released; counts how many wait at once."""

    remote = True

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.waiting = 0
        self.most_waiting = 0

    async def classify(self, text: str, *, where: Where | None = None) -> Classification:
        if where is not None and where.tenant == "A":
            self.waiting += 1
            self.most_waiting = max(self.most_waiting, self.waiting)
            try:
                await self.release.wait()
            finally:
                self.waiting -= 1
        return await super().classify(text, where=where)


def said(tenant: str, user: str, text: str, n: int, direct: bool = False) -> InboundMessage:
    return InboundMessage(where=Where("console", tenant, "D-" + user if direct else "C1"),
                          user=user, text=text, event_id=f"{tenant}-{n}",
                          at=datetime(2026, 11, 16, 9, tzinfo=UTC), direct=direct)


async def until(condition, relay: Relay, seconds: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    async def wait() -> None:
        while not condition():
            await relay.dispatch()
            await asyncio.sleep(0.01)
    await asyncio.wait_for(wait(), seconds)


async def test_a_slow_model_for_one_team_holds_up_neither_another_team_nor_commands(
        db: Database) -> None:
    model, sender = SlowModel(), RecordingSender()
    relay = Relay(db.uow, Core(model), {"console": sender})
    for n in range(12):  # twelve people in team A, each saying something the model must judge
        assert await relay.receive(said("A", f"u{n}", "the rounding rule is still unclear", n))
    assert await relay.receive(said("B", "bea", "help", 100, direct=True))
    assert await relay.receive(said("A", "pat", "help", 101, direct=True))
    worker = asyncio.create_task(relay.process_pending())
    try:
        answered = lambda: {o.where.tenant for o in sender.sent if "I keep track" in o.text}  # noqa: E731
        await until(lambda: answered() == {"A", "B"}, relay)
        assert not worker.done()  # team A's model questions are still waiting ...
        assert model.waiting == MODEL_CALLS_PER_TEAM  # ... no more of them than the bound
    finally:
        model.release.set()
    assert await asyncio.wait_for(worker, 10) == 14
    assert model.most_waiting == MODEL_CALLS_PER_TEAM
