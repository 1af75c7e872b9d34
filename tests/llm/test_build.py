"""Which assistant the settings give: the heuristic unless a model is configured."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from adapters.llm import OpenAIAssistant, build_assistant, llm_settings, open_assistant
from bot.assistant import HeuristicAssistant
from bot.model import Where
from tests.llm.fake_openai import FakeOpenAI, answer
from tests.llm.test_openai_assistant import UNSURE


def settings(**kw: object) -> SimpleNamespace:
    return SimpleNamespace(**{"openai_api_key": None, "openai_base_url": None,
                              "openai_model": None, **kw})


def test_no_key_and_no_server_means_heuristics_only() -> None:
    assert isinstance(build_assistant(settings(), env={}), HeuristicAssistant)


def test_a_key_gives_openai_with_short_timeouts_and_embeddings() -> None:
    config = llm_settings(settings(openai_api_key="sk-test"), env={})
    assert config is not None
    assert config.model == "gpt-4.1-mini" and config.timeout == 5.0 and config.max_retries == 1
    assert config.embedding_model == "text-embedding-3-small"


def test_another_server_needs_a_model_and_gets_no_embeddings_unless_told() -> None:
    assert llm_settings(settings(openai_base_url="http://127.0.0.1:11434/v1"), env={}) is None
    config = llm_settings(settings(openai_base_url="http://127.0.0.1:11434/v1",
                                   openai_model="llama3.1"), env={})
    assert config is not None and config.embedding_model is None
    config = llm_settings(settings(openai_base_url="http://127.0.0.1:11434/v1",
                                   openai_model="llama3.1"),
                          env={"OPENAI_EMBEDDING_MODEL": "nomic-embed-text"})
    assert config is not None and config.embedding_model == "nomic-embed-text"


def test_new_variables_come_from_settings_or_the_environment() -> None:
    env = {"OPENAI_TIMEOUT": "2.5", "OPENAI_MAX_RETRIES": "0",
           "LLM_DISABLED_FOR": "C-hr, slack:T-legal", "OPENAI_EMBEDDING_MODEL": "off"}
    config = llm_settings(settings(openai_api_key="k"), env=env)
    assert config is not None
    assert (config.timeout, config.max_retries, config.embedding_model) == (2.5, 0, None)
    assert config.disabled_for.entries == {"C-hr", "slack:T-legal"}
    from_settings = llm_settings(settings(openai_api_key="k", llm_disabled_for=("C-x",)), env=env)
    assert from_settings is not None and from_settings.disabled_for.entries == {"C-x"}


@pytest.mark.parametrize("env", [{"OPENAI_TIMEOUT": "soon"}, {"OPENAI_TIMEOUT": "600"},
                                 {"OPENAI_MAX_RETRIES": "-1"}])
def test_a_bad_number_is_a_clear_error(env: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="OPENAI_"):
        llm_settings(settings(openai_api_key="k"), env=env)


async def test_open_assistant_talks_to_the_configured_server(fake_openai: FakeOpenAI) -> None:
    fake_openai.always(answer(label="blocker", confidence=0.9, blocked_on=None, unblocker=None))
    config = settings(openai_base_url=fake_openai.base_url, openai_model="local-model")
    async with open_assistant(config, env={}) as assistant:
        assert isinstance(assistant, OpenAIAssistant)
        result = await assistant.classify(UNSURE, where=Where("slack", "T1", "C1"))
    assert result.source == "llm"
    assert fake_openai.requests[0]["model"] == "local-model"
