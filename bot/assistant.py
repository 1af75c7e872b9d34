"""The language port: the few judgements the core asks for, and the heuristic that answers
them with no model at all. A language-model implementation (adapters/llm) subclasses the port
and falls back to the heuristic whenever the model fails.

Every method takes an optional `where`: the place the text came from or goes to. A model
implementation uses it to keep chosen channels away from the model; the heuristic ignores it.
Without it a model implementation must assume the most private place (see adapters/llm).

Whatever an implementation answers only fills these return values. It never picks the team,
the user, the channel or which blocker or request changes: the core decides that from the
message's own metadata and the sender's permissions.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot import classify as rules
from bot.classify import Classification
from bot.model import Request, Where

if TYPE_CHECKING:
    from bot.digest import Digest

__all__ = ["Assistant", "Classification", "HeuristicAssistant", "Planner", "Prepared", "Review",
           "Similar"]


@dataclass(frozen=True)
class Similar:
    number: int
    score: float


@dataclass(frozen=True)
class Review:
    """A judgement on one discovery answer."""

    problem_stated: bool  # the request now says what problem it solves
    solution_in_disguise: bool  # the answer to "what problem?" describes a fix instead
    # The next thing to ask, in the user's own language. None: use the bot's standard wording.
    next_question: str | None = None
    source: str = "heuristic"
    prompt_version: str | None = None


class Assistant(ABC):
    # True when answers come over the network: then they are asked for before a unit of work
    # opens (see Planner), never while one holds database locks.
    remote = False

    @abstractmethod
    async def classify(self, text: str, *, where: Where | None = None) -> Classification: ...

    @abstractmethod
    async def is_solution(self, answer: str, *, where: Where | None = None) -> bool:
        """Is this answer to "what problem does this solve?" a solution in disguise?"""

    @abstractmethod
    async def similar(self, text: str, candidates: Sequence[tuple[int, str]],
                      limit: int = 3, *, where: Where | None = None) -> list[Similar]:
        """The candidates (number, text) most like `text`, best first, above a useful bar."""

    async def review_discovery(self, request: Request, answer: str, *,
                               where: Where | None = None) -> Review:
        """Judge `answer` to the request's current discovery question.

        The default needs nothing but `is_solution`, so any implementation has it."""
        question = request.current_question
        if question is None or question.field != "problem":
            return Review(problem_stated=bool(request.problem), solution_in_disguise=False)
        solution = await self.is_solution(answer, where=where)
        return Review(problem_stated=bool(answer.strip()) and not solution,
                      solution_in_disguise=solution)

    async def summarize(self, digest: Digest, *, where: Where | None = None) -> str | None:
        """A headline of at most three sentences drawn only from the digest's data.

        None means "nothing better than the digest's own headline"."""
        return None


class HeuristicAssistant(Assistant):
    threshold = 0.3

    async def classify(self, text: str, *, where: Where | None = None) -> Classification:
        return rules.classify(text)

    async def is_solution(self, answer: str, *, where: Where | None = None) -> bool:
        return rules.looks_like_solution(answer)

    async def similar(self, text: str, candidates: Sequence[tuple[int, str]],
                      limit: int = 3, *, where: Where | None = None) -> list[Similar]:
        scored = [Similar(n, rules.similarity(text, other)) for n, other in candidates]
        good = [s for s in scored if s.score >= self.threshold]
        return sorted(good, key=lambda s: (-s.score, s.number))[:limit]


def _key(name: str, args: tuple[Any, ...], where: Where | None) -> Hashable:
    """A question's identity, equal across the planning and the real pass."""
    if name == "review_discovery":
        request, answer = args
        # The request is re-read in the real pass: compare what the question depends on.
        args = ((request.team, request.number, request.discovery_step, request.followup_asked,
                 tuple(sorted(request.answers.items()))), answer)
    elif name == "similar":
        args = (args[0], tuple(args[1]), *args[2:])
    return (name, args, where)


class _Routed(Assistant):
    """An assistant whose every question goes through `_route(name, *args, **kwargs)`."""

    @abstractmethod
    async def _route(self, name: str, *args: Any, **kwargs: Any) -> Any: ...

    async def classify(self, text: str, *, where: Where | None = None) -> Classification:
        return await self._route("classify", text, where=where)

    async def is_solution(self, answer: str, *, where: Where | None = None) -> bool:
        return await self._route("is_solution", answer, where=where)

    async def similar(self, text: str, candidates: Sequence[tuple[int, str]],
                      limit: int = 3, *, where: Where | None = None) -> list[Similar]:
        return await self._route("similar", text, list(candidates), limit, where=where)

    async def review_discovery(self, request: Request, answer: str, *,
                               where: Where | None = None) -> Review:
        return await self._route("review_discovery", request, answer, where=where)

    async def summarize(self, digest: Digest, *, where: Where | None = None) -> str | None:
        return await self._route("summarize", digest, where=where)


class Planner(_Routed):
    """Answers at once from the rules and writes down every question it was asked.

    A unit of work run with a Planner (and rolled back) tells which questions the real run will
    ask; they are then put to a remote assistant with no transaction open (`prepare`)."""

    def __init__(self) -> None:
        self.rules = HeuristicAssistant()
        self.questions: dict[Hashable, tuple[str, tuple[Any, ...], dict[str, Any]]] = {}

    async def _route(self, name: str, *args: Any, **kwargs: Any) -> Any:
        self.questions[_key(name, args, kwargs.get("where"))] = (name, args, kwargs)
        return await getattr(self.rules, name)(*args, **kwargs)

    async def prepare(self, assistant: Assistant) -> Prepared:
        """Ask `assistant` every recorded question, concurrently (it falls back by itself)."""
        keys = list(self.questions)
        answers = await asyncio.gather(*(
            getattr(assistant, name)(*args, **kwargs)
            for name, args, kwargs in self.questions.values()))
        return Prepared(dict(zip(keys, answers, strict=True)))


class Prepared(_Routed):
    """Answers prepared before the transaction. A question nobody foresaw gets the rules' answer
    rather than a network call with locks held."""

    def __init__(self, answers: dict[Hashable, Any]) -> None:
        self.answers = answers
        self.rules = HeuristicAssistant()

    async def _route(self, name: str, *args: Any, **kwargs: Any) -> Any:
        key = _key(name, args, kwargs.get("where"))
        if key in self.answers:
            return self.answers[key]
        return await getattr(self.rules, name)(*args, **kwargs)
