"""The Assistant port over `openai.AsyncOpenAI`: any OpenAI-compatible server (OpenAI, Azure
OpenAI's v1 endpoint, Ollama, vLLM, ...).

The heuristic stays in charge. It answers first where it can (a message it is sure about costs
no call) and answers instead whenever the model fails: an HTTP error after the client's few
retries, a timeout, the overall deadline, a refusal, output that is not valid JSON or not the
schema, or fields that are not grounded in what the model was shown. Each failure is one
WARNING line naming the operation and the kind of failure, never the text.

Token usage is logged per operation at INFO and counted in `usage`. Message text is never
logged by this module.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import openai
from pydantic import BaseModel, ValidationError

import prompts
from adapters.llm.guard import Places, check_headline, clean_question, digest_facts, grounded
from adapters.llm.schemas import ClassifyOut, ReviewOut, SummaryOut
from bot.assistant import Assistant, HeuristicAssistant, Review, Similar
from bot.classify import UNSURE, Classification
from bot.digest import Digest
from bot.model import DISCOVERY_QUESTIONS, Request, Where

log = logging.getLogger(__name__)

Out = TypeVar("Out", bound=BaseModel)

DEFAULT_MODEL = "gpt-4.1-mini"  # fast, cheap, structured outputs; no reasoning delay
DEFAULT_EMBEDDING_MODEL = "text-embedding-3-small"


@dataclass(frozen=True)
class LLMSettings:
    model: str = DEFAULT_MODEL
    timeout: float = 5.0  # seconds per HTTP attempt
    max_retries: int = 1  # the client's own retries (429, 5xx, timeouts); 2 attempts in all
    # Embeddings for similar requests; None: lexical similarity (the heuristic).
    embedding_model: str | None = None
    similarity_threshold: float = 0.5  # cosine; same-topic titles score well above it
    disabled_for: Places = field(default_factory=Places)
    # The heuristic's answers at or above this confidence are final: no call.
    escalate_below: float = UNSURE
    # After this many failures in a row, stop asking for `pause_seconds`: a server that is
    # down would otherwise cost every message a full timeout.
    failures_before_pause: int = 3
    pause_seconds: float = 60.0

    @property
    def deadline(self) -> float:
        """The most one operation may take, retries and Retry-After waits included (the
        client would otherwise honour a Retry-After of up to two minutes)."""
        return self.timeout * (self.max_retries + 1) + 1.0


@dataclass
class Usage:
    calls: int = 0
    failures: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


class ModelFailed(Exception):
    """The model's answer can't be used; the reason is safe to log (no user text)."""


class OpenAIAssistant(Assistant):
    remote = True  # asked before the core's transaction opens (bot.relay, bot.scheduling)

    def __init__(self, client: openai.AsyncOpenAI, settings: LLMSettings | None = None,
                 fallback: Assistant | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.settings = settings or LLMSettings()
        self.fallback = fallback or HeuristicAssistant()
        self.usage: dict[str, Usage] = {}
        self._clock = clock
        self._failures_in_a_row = 0
        self._paused_until = 0.0
        self._embeddings_on = self.settings.embedding_model is not None
        self._vectors: OrderedDict[str, list[float]] = OrderedDict()

    # ---- the port ------------------------------------------------------------------------

    async def classify(self, text: str, *, where: Where | None = None) -> Classification:
        guess = await self.fallback.classify(text, where=where)
        if (guess.confidence >= self.settings.escalate_below or not text.strip()
                or not self.settings.disabled_for.allows(where)):
            return guess
        prompt = prompts.load("classify")
        out = await self._ask("classify", prompt, ClassifyOut, message=prompts.untrusted(text))
        if out is None:
            return guess
        return Classification(
            label=out.label,
            confidence=out.confidence,
            # Shown to the channel, so only words the sender wrote; else the rules' reading.
            blocked_on=grounded(out.blocked_on, text) or guess.blocked_on,
            unblocker=grounded(out.unblocker, text) or guess.unblocker,
            source="llm",
            prompt_version=prompt.version,
        )

    async def is_solution(self, answer: str, *, where: Where | None = None) -> bool:
        review = None
        if self.settings.disabled_for.allows(where):
            review = await self._review("is_solution", title="", answers={}, step=0,
                                        answer=answer, followup_asked=False)
        if review is None:
            return await self.fallback.is_solution(answer, where=where)
        return review.solution_in_disguise

    async def review_discovery(self, request: Request, answer: str, *,
                               where: Where | None = None) -> Review:
        review = None
        if request.current_question is not None and self.settings.disabled_for.allows(where):
            review = await self._review("review_discovery", title=request.title,
                                        answers=request.answers, step=request.discovery_step,
                                        answer=answer, followup_asked=request.followup_asked)
        return review or await self.fallback.review_discovery(request, answer, where=where)

    async def summarize(self, digest: Digest, *, where: Where | None = None) -> str | None:
        places = self.settings.disabled_for
        if digest.quiet or not places.allows_team(digest.team) or (
                where is not None and not places.allows(where)):
            return await self.fallback.summarize(digest, where=where)
        facts = digest_facts(digest, include_text=places.allows_words_from(digest.team))
        prompt = prompts.load("summarize")
        out = await self._ask("summarize", prompt, SummaryOut, period=digest.period,
                              facts=prompts.untrusted(json.dumps(facts, ensure_ascii=False,
                                                                 indent=1), limit=12000))
        headline = check_headline(out.headline, facts) if out else None
        if out is not None and headline is None:
            self._failed("summarize", "an ungrounded or overlong headline")
        return headline or await self.fallback.summarize(digest, where=where)

    async def similar(self, text: str, candidates: Sequence[tuple[int, str]],
                      limit: int = 3, *, where: Where | None = None) -> list[Similar]:
        if not (candidates and self._embeddings_on and self._ready()
                and self.settings.disabled_for.allows(where)):
            return await self.fallback.similar(text, candidates, limit, where=where)
        try:
            vectors = await self._embed([text, *(other for _, other in candidates)])
        except Exception as exc:  # any failure: the lexical measure answers
            self._failed("similar", _describe(exc))
            if isinstance(exc, openai.NotFoundError | openai.BadRequestError):
                # This server offers no embeddings (or not this model): stop asking.
                self._embeddings_on = False
                log.warning("llm: embeddings unavailable; using lexical similarity from now on")
            return await self.fallback.similar(text, candidates, limit, where=where)
        mine, theirs = vectors[0], vectors[1:]
        scored = [Similar(number, _cosine(mine, v)) for (number, _), v in zip(candidates, theirs,
                                                                               strict=True)]
        good = [s for s in scored if s.score >= self.settings.similarity_threshold]
        return sorted(good, key=lambda s: (-s.score, s.number))[:limit]

    # ---- the calls -----------------------------------------------------------------------

    async def _review(self, operation: str, *, title: str, answers: dict[str, str], step: int,
                      answer: str, followup_asked: bool) -> Review | None:
        """Judge the answer to DISCOVERY_QUESTIONS[step] and word what to ask next."""
        asked = DISCOVERY_QUESTIONS[step]
        following = DISCOVERY_QUESTIONS[step + 1] if step + 1 < len(DISCOVERY_QUESTIONS) else None
        earlier = "\n".join(f"{q.text} {prompts.untrusted(answers[q.field], 1000)}"
                            for q in DISCOVERY_QUESTIONS if answers.get(q.field))
        if answers.get("proposed_solution"):
            earlier += f"\nSolution they proposed: {prompts.untrusted(answers['proposed_solution'], 1000)}"
        prompt = prompts.load("review_discovery")
        out = await self._ask(
            operation, prompt, ReviewOut,
            title=prompts.untrusted(title, 300) or "(none)",
            answers=earlier or "(no answers yet)",
            question=asked.text,
            followup="already asked once; do not ask for the problem again" if followup_asked
            else "not asked yet",
            next_question=following.text if following else "none: this was the last question",
            answer=prompts.untrusted(answer, 2000),
        )
        if out is None:
            return None
        solution = out.solution_in_disguise and asked.field == "problem"
        question = clean_question(out.next_question)
        if following is None and not (solution and not followup_asked):
            question = None  # nothing left to ask: the bot closes discovery in its own words
        return Review(problem_stated=out.problem_stated, solution_in_disguise=solution,
                      next_question=question, source="llm", prompt_version=prompt.version)

    async def _ask(self, operation: str, prompt: prompts.Prompt, schema: type[Out],
                   **values: str) -> Out | None:
        """One structured call; None whenever the heuristic should answer instead. Callers
        have checked that the text may leave for this place."""
        if not self._ready():
            return None
        started = self._clock()
        try:
            async with asyncio.timeout(self.settings.deadline):
                completion = await self.client.chat.completions.parse(
                    model=self.settings.model, messages=prompt.render(**values),  # type: ignore[arg-type]
                    response_format=schema)
            self._count(operation, completion.usage, prompt.version, started)
            if not completion.choices:
                raise ModelFailed("no choices")
            message = completion.choices[0].message
            if message.refusal:
                raise ModelFailed("a refusal")
            if message.parsed is None:
                raise ModelFailed("an empty answer")
        except Exception as exc:  # the contract: any failure means "use the heuristic"
            self._failed(operation, _describe(exc))
            return None
        self._failures_in_a_row = 0
        return message.parsed

    async def _embed(self, texts: list[str]) -> list[list[float]]:
        missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if missing:
            model = self.settings.embedding_model
            assert model is not None
            started = self._clock()
            async with asyncio.timeout(self.settings.deadline):
                response = await self.client.embeddings.create(
                    model=model, input=[prompts.untrusted(t, 2000) for t in missing])
            self._count("similar", response.usage, model, started)
            if len(response.data) != len(missing):
                raise ModelFailed("a wrong number of embeddings")
            for text, item in zip(missing, sorted(response.data, key=lambda d: d.index),
                                  strict=True):
                self._vectors[text] = list(item.embedding)
            while len(self._vectors) > 2000:  # titles repeat; keep the cache bounded
                self._vectors.popitem(last=False)
        self._failures_in_a_row = 0
        return [self._vectors[t] for t in texts]

    # ---- bookkeeping ---------------------------------------------------------------------

    def _ready(self) -> bool:
        return self._clock() >= self._paused_until

    def _count(self, operation: str, usage: object, version: str, started: float) -> None:
        tally = self.usage.setdefault(operation, Usage())
        tally.calls += 1
        prompt_tokens = getattr(usage, "prompt_tokens", 0) or 0
        completion_tokens = getattr(usage, "completion_tokens", 0) or 0
        tally.prompt_tokens += prompt_tokens
        tally.completion_tokens += completion_tokens
        log.info("llm %s: %d prompt + %d completion tokens, %.0f ms (%s, %s)", operation,
                 prompt_tokens, completion_tokens, (self._clock() - started) * 1000,
                 self.settings.model, version)

    def _failed(self, operation: str, why: str) -> None:
        self.usage.setdefault(operation, Usage()).failures += 1
        self._failures_in_a_row += 1
        log.warning("llm %s failed (%s); the heuristic answers instead", operation, why)
        if self._failures_in_a_row >= self.settings.failures_before_pause:
            self._paused_until = self._clock() + self.settings.pause_seconds
            self._failures_in_a_row = 0
            log.warning("llm: %d failures in a row; heuristics only for the next %.0f s",
                        self.settings.failures_before_pause, self.settings.pause_seconds)


def _describe(exc: BaseException) -> str:
    """What went wrong, without the response body (it may quote the prompt)."""
    if isinstance(exc, ModelFailed):
        return str(exc)
    if isinstance(exc, TimeoutError):
        return "the deadline passed"
    if isinstance(exc, openai.APITimeoutError):
        return "timed out"
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}"
    if isinstance(exc, openai.APIConnectionError):
        return "connection failed"
    if isinstance(exc, openai.LengthFinishReasonError | openai.ContentFilterFinishReasonError):
        return type(exc).__name__
    if isinstance(exc, ValidationError):
        invalid_json = any(e.get("type") == "json_invalid" for e in exc.errors())
        return "output that is not JSON" if invalid_json else "output that does not fit the schema"
    return type(exc).__name__


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=False))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0
