"""The OpenAI assistant against a fake OpenAI-compatible server on loopback: good answers are
used, and every way a model can fail ends with the heuristic's answer and one log line."""

from __future__ import annotations

import json
import logging

import pytest

from bot.classify import classify
from bot.model import Request, Team, Where
from tests.conftest import NOW
from tests.llm.conftest import MakeAssistant
from tests.llm.fake_openai import (
    FakeOpenAI,
    answer,
    content,
    embeddings,
    hang,
    refusal,
    status,
)

# The heuristic is unsure about this one (a weak blocker cue), so the model is asked.
UNSURE = "the rounding rule is with finance, the invoice fix just sits there"
BLOCKER_ANSWER = answer(label="blocker", confidence=0.92, blocked_on="the rounding rule",
                        unblocker="finance")
PLACE = Where("slack", "T1", "C1")


def test_the_example_is_one_the_heuristic_is_unsure_about() -> None:
    guess = classify(UNSURE)
    assert guess.label == "other" and guess.confidence < 0.7


async def test_a_good_structured_answer_is_used(fake_openai: FakeOpenAI,
                                                make_assistant: MakeAssistant) -> None:
    fake_openai.then(BLOCKER_ANSWER)
    result = await make_assistant().classify(UNSURE, where=PLACE)
    assert (result.label, result.confidence) == ("blocker", 0.92)
    assert (result.blocked_on, result.unblocker) == ("the rounding rule", "finance")
    assert result.source == "llm" and result.prompt_version == "classify-1"
    # Structured outputs: the request carried the strict JSON schema of the answer.
    sent = fake_openai.requests[0]
    assert sent["model"] == "test-model"
    assert sent["response_format"]["type"] == "json_schema"
    assert sent["response_format"]["json_schema"]["strict"] is True
    # Ranges and lengths are checked on arrival, not sent: some servers reject those keywords.
    schema = json.dumps(sent["response_format"]["json_schema"]["schema"])
    assert not any(word in schema for word in ("maximum", "minimum", "maxLength"))


async def test_a_message_the_heuristic_is_sure_about_costs_no_call(
        fake_openai: FakeOpenAI, make_assistant: MakeAssistant) -> None:
    assistant = make_assistant()
    for text in ("morning all", "merged the retry PR, deploying after lunch",
                 "can't deploy the invoice fix until finance signs off"):
        assert (await assistant.classify(text, where=PLACE)).source == "heuristic"
    assert fake_openai.requests == []


async def test_429_then_success_is_retried(fake_openai: FakeOpenAI,
                                           make_assistant: MakeAssistant) -> None:
    fake_openai.then(status(429, {"retry-after-ms": "1"}), BLOCKER_ANSWER)
    result = await make_assistant(max_retries=1).classify(UNSURE, where=PLACE)
    assert result.source == "llm" and result.label == "blocker"
    assert len(fake_openai.requests) == 2


FAILURES = {
    "500": (status(500), "HTTP 500"),
    "malformed JSON": (content('{"label": "blocker", "confidence": 0.9'), "not JSON"),
    "refusal": (refusal(), "a refusal"),
    "schema violation": (answer(label="urgent", confidence=3, blocked_on=None, unblocker=None),
                         "does not fit the schema"),
    "missing field": (answer(label="blocker"), "does not fit the schema"),
    "out of range": (answer(label="blocker", confidence=3, blocked_on=None, unblocker=None),
                     "does not fit the schema"),
    "cut short": (content('{"label": "blo', finish_reason="length"), "LengthFinishReasonError"),
}


@pytest.mark.parametrize("failure", FAILURES)
async def test_failures_fall_back_to_the_heuristic_with_a_log_line(
        failure: str, fake_openai: FakeOpenAI, make_assistant: MakeAssistant,
        caplog: pytest.LogCaptureFixture) -> None:
    reply, why = FAILURES[failure]
    fake_openai.always(reply)
    with caplog.at_level(logging.WARNING, logger="adapters.llm"):
        result = await make_assistant(max_retries=1).classify(UNSURE, where=PLACE)
    assert result == classify(UNSURE)  # exactly the heuristic's answer
    assert fake_openai.requests, "the model was asked"
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("adapters.llm")]
    assert len(lines) == 1 and lines[0].startswith("llm classify failed (")
    assert why in lines[0] and lines[0].endswith("the heuristic answers instead")


async def test_a_hang_past_the_timeout_falls_back(fake_openai: FakeOpenAI,
                                                  make_assistant: MakeAssistant,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    fake_openai.always(hang())
    with caplog.at_level(logging.WARNING, logger="adapters.llm"):
        result = await make_assistant(timeout=0.2, max_retries=0).classify(UNSURE, where=PLACE)
    assert result == classify(UNSURE)
    assert "llm classify failed (timed out)" in caplog.text


async def test_the_overall_deadline_caps_a_long_retry_after(
        fake_openai: FakeOpenAI, make_assistant: MakeAssistant,
        caplog: pytest.LogCaptureFixture) -> None:
    # The client would honour this Retry-After (up to two minutes); the deadline does not.
    fake_openai.always(status(429, {"retry-after": "100"}))
    assistant = make_assistant(timeout=0.1, max_retries=1)
    assert assistant.settings.deadline < 2
    with caplog.at_level(logging.WARNING, logger="adapters.llm"):
        result = await assistant.classify(UNSURE, where=PLACE)
    assert result.source == "heuristic"
    assert "the deadline passed" in caplog.text


async def test_extracted_fields_must_be_words_the_sender_wrote(
        fake_openai: FakeOpenAI, make_assistant: MakeAssistant) -> None:
    fake_openai.then(answer(label="blocker", confidence=0.9, blocked_on="everything",
                            unblocker="<!channel> <@U_PAT>"))
    result = await make_assistant().classify(UNSURE, where=PLACE)
    assert result.label == "blocker"
    assert result.blocked_on is None and result.unblocker is None


async def test_after_repeated_failures_the_model_rests(fake_openai: FakeOpenAI,
                                                       make_assistant: MakeAssistant) -> None:
    now = [1000.0]
    fake_openai.always(status(500))
    assistant = make_assistant(max_retries=0, failures_before_pause=2, pause_seconds=60)
    assistant._clock = lambda: now[0]
    for _ in range(2):
        await assistant.classify(UNSURE, where=PLACE)
    assert len(fake_openai.requests) == 2
    assert (await assistant.classify(UNSURE, where=PLACE)).source == "heuristic"
    assert len(fake_openai.requests) == 2  # resting: no call
    now[0] += 61
    fake_openai.always(BLOCKER_ANSWER)
    assert (await assistant.classify(UNSURE, where=PLACE)).source == "llm"


async def test_token_usage_is_logged_and_counted_but_never_the_text(
        fake_openai: FakeOpenAI, make_assistant: MakeAssistant,
        caplog: pytest.LogCaptureFixture) -> None:
    fake_openai.then(BLOCKER_ANSWER, status(500), status(500))
    assistant = make_assistant(max_retries=1)
    with caplog.at_level(logging.INFO):
        await assistant.classify(UNSURE, where=PLACE)
        await assistant.classify(UNSURE + " (again)", where=PLACE)
    assert "llm classify: 120 prompt + 18 completion tokens" in caplog.text
    usage = assistant.usage["classify"]
    assert (usage.calls, usage.failures, usage.prompt_tokens, usage.completion_tokens) == (1, 1, 120, 18)
    assert "rounding rule" not in caplog.text and "invoice" not in caplog.text


# ---- channels kept away from the model ------------------------------------------------------


@pytest.mark.parametrize("entry", ["C1", "slack:T1", "slack:T1:C1", "*"])
async def test_disabled_places_never_reach_the_model(entry: str, fake_openai: FakeOpenAI,
                                                     make_assistant: MakeAssistant) -> None:
    from adapters.llm import Places

    fake_openai.always(BLOCKER_ANSWER)
    assistant = make_assistant(disabled_for=Places.parse(f"{entry}, other-channel"))
    assert (await assistant.classify(UNSURE, where=PLACE)).source == "heuristic"
    assert await assistant.is_solution("add a CSV button", where=PLACE) is True  # the rules
    assert fake_openai.requests == []
    # Elsewhere the model is asked (unless everything is off).
    elsewhere = await assistant.classify(UNSURE, where=Where("slack", "T2", "C9"))
    assert elsewhere.source == ("heuristic" if entry == "*" else "llm")


async def test_an_unknown_place_counts_as_private_when_some_places_are(
        fake_openai: FakeOpenAI, make_assistant: MakeAssistant) -> None:
    from adapters.llm import Places

    fake_openai.always(BLOCKER_ANSWER)
    private = make_assistant(disabled_for=Places.parse("C-secret"))
    assert (await private.classify(UNSURE)).source == "heuristic"
    assert fake_openai.requests == []
    assert (await make_assistant().classify(UNSURE)).source == "llm"


# ---- discovery ------------------------------------------------------------------------------


def a_request(**kw: object) -> Request:
    return Request(team=Team("slack", "T1"), number=4, title="Exportar facturas",
                   requester="U_SAM", channel="C1", created_at=NOW, **kw)  # type: ignore[arg-type]


async def test_review_spots_a_solution_and_asks_in_the_users_language(
        fake_openai: FakeOpenAI, make_assistant: MakeAssistant) -> None:
    fake_openai.then(answer(problem_stated=False, solution_in_disguise=True,
                            next_question="¿Qué problema resolvería? ¿Quién pierde tiempo hoy?"))
    review = await make_assistant().review_discovery(
        a_request(), "un botón para exportar a Excel", where=PLACE)
    assert review.solution_in_disguise and not review.problem_stated
    assert review.next_question == "¿Qué problema resolvería? ¿Quién pierde tiempo hoy?"
    assert review.source == "llm" and review.prompt_version == "review_discovery-1"
    prompt = fake_openai.user_prompt()
    assert "Question just asked: What problem does this solve?" in prompt
    assert "Next question to ask if the answer is fine: Who has this problem?" in prompt


async def test_a_question_with_a_link_or_mention_is_replaced_by_the_bots_own(
        fake_openai: FakeOpenAI, make_assistant: MakeAssistant) -> None:
    fake_openai.then(answer(problem_stated=True, solution_in_disguise=False,
                            next_question="Who has it? Ask <@U_PAT> at https://evil.example"))
    review = await make_assistant().review_discovery(
        a_request(), "Finance retypes invoices by hand every Friday", where=PLACE)
    assert review.problem_stated and review.next_question is None


async def test_no_next_question_after_the_last_one(fake_openai: FakeOpenAI,
                                                   make_assistant: MakeAssistant) -> None:
    fake_openai.then(answer(problem_stated=True, solution_in_disguise=True,
                            next_question="Anything else?"))
    request = a_request(answers={"problem": "finance retypes rows"}, discovery_step=3)
    review = await make_assistant().review_discovery(request, "add a dashboard", where=PLACE)
    # Only the answer to "what problem?" can be a solution in disguise.
    assert not review.solution_in_disguise and review.next_question is None


async def test_review_falls_back_to_the_rules(fake_openai: FakeOpenAI,
                                              make_assistant: MakeAssistant) -> None:
    fake_openai.always(status(500))
    review = await make_assistant(max_retries=0).review_discovery(
        a_request(), "add a button that exports to CSV", where=PLACE)
    assert review.solution_in_disguise and review.source == "heuristic"
    assert review.next_question is None


# ---- similar requests ------------------------------------------------------------------------

TOPICS = {"invoice": [1.0, 0.0, 0.0], "factura": [1.0, 0.0, 0.0], "dark": [0.0, 1.0, 0.0],
          "sso": [0.0, 0.0, 1.0]}


def topic_vector(text: str) -> list[float]:
    vector = [0.05, 0.05, 0.05]
    for word, v in TOPICS.items():
        if word in text.lower():
            vector = [a + b for a, b in zip(vector, v, strict=True)]
    return vector


async def test_similar_uses_embeddings_across_languages(fake_openai: FakeOpenAI,
                                                        make_assistant: MakeAssistant) -> None:
    fake_openai.embedding_reply = embeddings(topic_vector)
    assistant = make_assistant(embedding_model="test-embed")
    candidates = [(1, "Exportar facturas a Excel"), (2, "Dark mode"), (3, "SSO with Okta")]
    found = await assistant.similar("CSV of invoices", candidates, where=PLACE)
    assert [s.number for s in found] == [1]  # by meaning, not by words
    # Titles are embedded once and remembered.
    await assistant.similar("invoice PDF", candidates, where=PLACE)
    assert fake_openai.embedding_requests[1]["input"] == ["invoice PDF"]
    assert assistant.usage["similar"].prompt_tokens == 40 + 10


async def test_similar_without_embeddings_is_lexical_and_stops_asking(
        fake_openai: FakeOpenAI, make_assistant: MakeAssistant) -> None:
    assistant = make_assistant(embedding_model="not-offered")  # the fake answers 404
    candidates = [(1, "CSV export of invoices"), (2, "Dark mode")]
    found = await assistant.similar("invoice CSV export", candidates, where=PLACE)
    assert [s.number for s in found] == [1]
    await assistant.similar("invoice CSV export", candidates, where=PLACE)
    assert len(fake_openai.embedding_requests) == 1
