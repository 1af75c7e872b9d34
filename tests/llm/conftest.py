"""Fixtures for the language-model tests: a fake OpenAI-compatible server on loopback and
assistants that talk to it with the real openai client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import openai
import pytest

from adapters.llm import LLMSettings, OpenAIAssistant
from tests.llm.fake_openai import FakeOpenAI, start


@pytest.fixture
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    fake = FakeOpenAI()
    runner = await start(fake)
    yield fake
    fake.released.set()  # let any hanging handler finish so the server shuts down cleanly
    await runner.cleanup()


MakeAssistant = Callable[..., OpenAIAssistant]


@pytest.fixture
async def make_assistant(fake_openai: FakeOpenAI) -> AsyncIterator[MakeAssistant]:
    """`make_assistant(timeout=..., max_retries=..., **LLMSettings fields)`."""
    made: list[OpenAIAssistant] = []

    def make(**overrides: object) -> OpenAIAssistant:
        settings = LLMSettings(**{"model": "test-model", "timeout": 5.0, "max_retries": 1,
                                  **overrides})  # type: ignore[arg-type]
        client = openai.AsyncOpenAI(api_key="test-key", base_url=fake_openai.base_url,
                                    timeout=settings.timeout, max_retries=settings.max_retries)
        assistant = OpenAIAssistant(client, settings)
        made.append(assistant)
        return assistant

    yield make
    for assistant in made:
        await assistant.client.close()
