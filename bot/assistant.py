"""The language port: the few judgements the core asks for, and the heuristic that answers
them with no model at all. A language-model implementation (adapters/llm) subclasses the port
and falls back to the heuristic whenever the model fails.

Every method takes an optional `where`: the place the text came from or goes to. A model
implementation uses it to keep chosen channels away from the model; the heuristic ignores it.
Without it a model implementation must assume the most private place (see adapters/llm).

Whatever an implementation answers only fills these return values. It never picks the team,
the user, the channel or which blocker or request changes: the core decides that from the
message's own metadata and the sender's permissions.

A remote assistant (a language model) is never asked while a unit of work holds database
locks: the work is rehearsed with a `Planner` (rules' answers, every question written down, then
rolled back), the questions go to the model with no transaction open, and the real pass gets the
answers from `Prepared`. A rehearsal, not an explicit "ask first, then apply" step, because
which questions come up depends on what the use case reads inside its unit of work, and only the
core knows that; a separate asking step would copy the core's routing. The questions are
declared once, as the port's public coroutine methods (QUESTIONS), routed and keyed generically
(the method and a canonical form of its arguments), and a question the real pass asks that the
rehearsal did not gets the rules' answer and a WARNING, never silently.
"""

from __future__ import annotations

import abc
import asyncio
import copy
import inspect
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, fields, is_dataclass
from typing import TYPE_CHECKING, Any

from bot import answers
from bot import classify as rules
from bot.classify import Classification
from bot.model import Request, Where
from bot.similar import THRESHOLD, similarity

if TYPE_CHECKING:
    from bot.digest import Digest

__all__ = ["QUESTIONS", "Assistant", "Classification", "HeuristicAssistant", "Planner",
           "Prepared", "Review", "Similar"]

log = logging.getLogger(__name__)


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
    # The answer states no pain, cost, person or situation ("my manager asked for it").
    dodge: bool = False


class Assistant(ABC):
    """Every public coroutine method is a question (see QUESTIONS below); anything else an
    implementation needs is private or not a coroutine."""

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
        """The candidates (number, text) most like `text`, best first, above a useful bar.

        A request's text is its title and, on the lines below, its problem statement when it
        is known and worth comparing (`bot.similar.request_text`)."""

    async def review_discovery(self, request: Request, answer: str, *,
                               where: Where | None = None) -> Review:
        """Judge `answer` to the request's current discovery question.

        The default needs nothing but `is_solution`, so any implementation has it."""
        question = request.current_question
        if question is None or question.field != "problem":
            return Review(problem_stated=bool(request.problem), solution_in_disguise=False)
        solution = await self.is_solution(answer, where=where)
        dodge = not solution and answers.judge(answer) == "dodge"
        return Review(problem_stated=bool(answer.strip()) and not solution and not dodge,
                      solution_in_disguise=solution, dodge=dodge)

    async def summarize(self, digest: Digest, *, where: Where | None = None) -> str | None:
        """A headline of at most three sentences drawn only from the digest's data.

        None means "nothing better than the digest's own headline"."""
        return None


# The questions the core may ask, declared once: the port's public coroutine methods.
QUESTIONS: tuple[str, ...] = tuple(
    name for name, member in vars(Assistant).items()
    if not name.startswith("_") and inspect.iscoroutinefunction(member))


class HeuristicAssistant(Assistant):
    # bot.similar's score at which two requests are pointed at as alike (measured on the
    # labelled pairs: `producer-bot eval --pairs`).
    threshold = THRESHOLD

    async def classify(self, text: str, *, where: Where | None = None) -> Classification:
        return rules.classify(text)

    async def is_solution(self, answer: str, *, where: Where | None = None) -> bool:
        return answers.judge(answer) == "solution"

    async def similar(self, text: str, candidates: Sequence[tuple[int, str]],
                      limit: int = 3, *, where: Where | None = None) -> list[Similar]:
        scored = [Similar(n, similarity(text, other)) for n, other in candidates]
        good = [s for s in scored if s.score >= self.threshold]
        return sorted(good, key=lambda s: (-s.score, s.number))[:limit]


# ---- the rehearsal -------------------------------------------------------------------------


def _hashable(value: object) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _canonical(value: object) -> Hashable:
    """A form of `value` that is equal for equal arguments however they were built: hashable
    values (strings, numbers, frozen dataclasses, tuples of them) as they are; other dataclasses
    by the fields they compare, mappings by their sorted items, lists and tuples as tuples."""
    if _hashable(value):
        return value
    if is_dataclass(value) and not isinstance(value, type):
        return (type(value).__qualname__,
                tuple((f.name, _canonical(getattr(value, f.name)))
                      for f in fields(value) if f.compare))
    if isinstance(value, Mapping):
        return ("mapping", tuple(sorted(((_canonical(k), _canonical(v))
                                         for k, v in value.items()), key=repr)))
    if isinstance(value, list | tuple):
        return tuple(_canonical(item) for item in value)
    if isinstance(value, set):
        return frozenset(_canonical(item) for item in value)
    return (type(value).__qualname__, repr(value))


def _snapshot(value: object) -> object:
    """`value` as it is now. The rehearsal goes on changing what it was asked about (the core
    records a discovery answer right after it is judged), and the model is asked later."""
    return value if _hashable(value) else copy.deepcopy(value)


@dataclass(frozen=True)
class Question:
    """One question as asked: the method, its arguments bound to the port's signature
    (defaults filled in), and its identity, equal across the rehearsal and the real pass."""

    name: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    key: Hashable

    @classmethod
    def asked(cls, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Question:
        bound = _SIGNATURES[name].bind(*args, **kwargs)
        bound.apply_defaults()
        return cls(name, bound.args, bound.kwargs,
                   (name, _canonical(tuple(bound.arguments.items()))))

    def snapshot(self) -> Question:
        return Question(self.name, tuple(_snapshot(a) for a in self.args),
                        {k: _snapshot(v) for k, v in self.kwargs.items()}, self.key)

    async def put_to(self, assistant: Assistant) -> Any:
        return await getattr(assistant, self.name)(*self.args, **self.kwargs)


def _without_self(signature: inspect.Signature) -> inspect.Signature:
    return signature.replace(parameters=list(signature.parameters.values())[1:])


_SIGNATURES = {name: _without_self(inspect.signature(getattr(Assistant, name)))
               for name in QUESTIONS}


def _router(name: str) -> Callable[..., Any]:
    async def route(self: _Routed, /, *args: Any, **kwargs: Any) -> Any:
        return await self._route(Question.asked(name, args, kwargs))

    port = getattr(Assistant, name)
    route.__name__, route.__qualname__ = name, f"_Routed.{name}"
    route.__doc__ = port.__doc__
    route.__signature__ = inspect.signature(port)  # type: ignore[attr-defined]
    return route


def _route_every_question(cls: type[_Routed]) -> type[_Routed]:
    for name in QUESTIONS:
        setattr(cls, name, _router(name))
    abc.update_abstractmethods(cls)
    if cls.__abstractmethods__ != {"_route"}:  # something of the port's the routing would miss
        raise TypeError(f"{cls.__name__} does not route {sorted(cls.__abstractmethods__)}")
    return cls


@_route_every_question
class _Routed(Assistant):
    """An assistant whose every question goes to `_route(question)`. Its methods are made from
    QUESTIONS, so a question added to the port is routed without another change."""

    @abstractmethod
    async def _route(self, question: Question) -> Any: ...


class Planner(_Routed):
    """Answers at once from the rules and writes down every question it was asked.

    A unit of work run with a Planner (and rolled back) tells which questions the real run will
    ask; they are then put to a remote assistant with no transaction open (`prepare`)."""

    def __init__(self) -> None:
        self.rules = HeuristicAssistant()
        self.questions: dict[Hashable, Question] = {}

    async def _route(self, question: Question) -> Any:
        self.questions[question.key] = question.snapshot()
        return await question.put_to(self.rules)

    async def prepare(self, assistant: Assistant) -> Prepared:
        """Ask `assistant` every recorded question, concurrently (it falls back by itself)."""
        keys = list(self.questions)
        answers = await asyncio.gather(*(question.put_to(assistant)
                                         for question in self.questions.values()))
        return Prepared(dict(zip(keys, answers, strict=True)))


class Prepared(_Routed):
    """Answers prepared before the transaction. A question nobody foresaw gets the rules' answer
    rather than a network call with locks held."""

    def __init__(self, answers: dict[Hashable, Any]) -> None:
        self.answers = answers
        self.rules = HeuristicAssistant()

    async def _route(self, question: Question) -> Any:
        if question.key in self.answers:
            return self.answers[question.key]
        # Never the text: only which question it was.
        log.warning("assistant question %s was not prepared before the transaction (the state "
                    "changed since the rehearsal, or the model's answers led elsewhere); the "
                    "rules answer it", question.name)
        return await question.put_to(self.rules)
