"""The language port: the few judgements the core asks for, and the heuristic that answers
them with no model at all. A language-model implementation (adapters/llm) subclasses the port
and falls back to the heuristic whenever the model fails."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from bot import classify as rules
from bot.classify import Classification


@dataclass(frozen=True)
class Similar:
    number: int
    score: float


class Assistant(ABC):
    @abstractmethod
    async def classify(self, text: str) -> Classification: ...

    @abstractmethod
    async def is_solution(self, answer: str) -> bool:
        """Is this answer to "what problem does this solve?" a solution in disguise?"""

    @abstractmethod
    async def similar(self, text: str, candidates: Sequence[tuple[int, str]],
                      limit: int = 3) -> list[Similar]:
        """The candidates (number, text) most like `text`, best first, above a useful bar."""


class HeuristicAssistant(Assistant):
    threshold = 0.3

    async def classify(self, text: str) -> Classification:
        return rules.classify(text)

    async def is_solution(self, answer: str) -> bool:
        return rules.looks_like_solution(answer)

    async def similar(self, text: str, candidates: Sequence[tuple[int, str]],
                      limit: int = 3) -> list[Similar]:
        scored = [Similar(n, rules.similarity(text, other)) for n, other in candidates]
        good = [s for s in scored if s.score >= self.threshold]
        return sorted(good, key=lambda s: (-s.score, s.number))[:limit]
