"""Optional language-model help through the openai client, with the heuristic in charge.

`open_assistant(settings)` is what the composition root uses: the heuristic when no model is
configured, otherwise an `OpenAIAssistant` that falls back to the heuristic on any failure.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import openai

from adapters.llm.assistant import (
    DEFAULT_EMBEDDING_MODEL,
    DEFAULT_MODEL,
    LLMSettings,
    OpenAIAssistant,
    Usage,
)
from adapters.llm.guard import Places
from bot.assistant import Assistant, HeuristicAssistant

__all__ = ["LLMSettings", "OpenAIAssistant", "Places", "Usage", "build_assistant",
           "open_assistant", "llm_settings"]

log = logging.getLogger(__name__)

_OFF = ("", "0", "off", "none", "no", "false")


def _value(settings: object, attr: str, env: Mapping[str, str], name: str) -> str | None:
    """A setting from `Settings` when it has the field, else from the environment, so a new
    variable (LLM_DISABLED_FOR above all: it is a privacy setting) is never silently ignored."""
    value = getattr(settings, attr, None)
    if value is None:
        value = env.get(name)
    if value is None:
        return None
    if isinstance(value, (list, tuple, set, frozenset)):
        return ",".join(str(v) for v in value)
    text = str(value).strip()
    return text or None


def _number(text: str | None, name: str, default: float, low: float, high: float) -> float:
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {text!r}") from None
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low:g} and {high:g}, got {text!r}")
    return value


def llm_settings(settings: object, env: Mapping[str, str] | None = None) -> LLMSettings | None:
    """The model's settings, or None when no model is configured (heuristics only)."""
    env = os.environ if env is None else env
    api_key = _value(settings, "openai_api_key", env, "OPENAI_API_KEY")
    base_url = _value(settings, "openai_base_url", env, "OPENAI_BASE_URL")
    model = _value(settings, "openai_model", env, "OPENAI_MODEL")
    if not (api_key or base_url):
        return None
    if base_url and not model:
        log.warning("OPENAI_BASE_URL is set but OPENAI_MODEL is not: say which model that "
                    "server should run. Using heuristics only.")
        return None
    embedding = _value(settings, "openai_embedding_model", env, "OPENAI_EMBEDDING_MODEL")
    if embedding is None:
        # OpenAI itself has embeddings; another server must be told which model, if any.
        embedding = None if base_url else DEFAULT_EMBEDDING_MODEL
    elif embedding.lower() in _OFF:
        embedding = None
    return LLMSettings(
        model=model or DEFAULT_MODEL,
        timeout=_number(_value(settings, "openai_timeout", env, "OPENAI_TIMEOUT"),
                        "OPENAI_TIMEOUT", 5.0, 0.1, 60),
        max_retries=int(_number(_value(settings, "openai_max_retries", env, "OPENAI_MAX_RETRIES"),
                                "OPENAI_MAX_RETRIES", 1, 0, 5)),
        embedding_model=embedding,
        disabled_for=Places.parse(_value(settings, "llm_disabled_for", env, "LLM_DISABLED_FOR")),
    )


def build_assistant(settings: object, env: Mapping[str, str] | None = None, *,
                    heuristic_only: bool = False, every_message: bool = False) -> Assistant:
    """The assistant the bot should use. `every_message` sends even the messages the heuristic
    is sure about to the model (for `producer-bot eval`, to measure the model itself)."""
    env = os.environ if env is None else env
    config = None if heuristic_only else llm_settings(settings, env)
    if config is None:
        log.debug("language model: off (heuristics only)")
        return HeuristicAssistant()
    if every_message:
        config = dataclasses.replace(config, escalate_below=1.01)
    base_url = _value(settings, "openai_base_url", env, "OPENAI_BASE_URL")
    client = openai.AsyncOpenAI(
        # Local servers (Ollama, vLLM) take any key; the client insists on one.
        api_key=_value(settings, "openai_api_key", env, "OPENAI_API_KEY") or "no-key",
        base_url=base_url, timeout=config.timeout, max_retries=config.max_retries)
    log.info("language model: %s at %s (timeout %gs, %d retries, embeddings: %s%s); "
             "the heuristic answers when it is sure and whenever the model fails",
             config.model, base_url or "api.openai.com", config.timeout, config.max_retries,
             config.embedding_model or "off",
             f", not used in {len(config.disabled_for.entries)} places"
             if config.disabled_for.entries else "")
    return OpenAIAssistant(client, config)


@asynccontextmanager
async def open_assistant(settings: object, env: Mapping[str, str] | None = None, *,
                         heuristic_only: bool = False,
                         every_message: bool = False) -> AsyncIterator[Assistant]:
    """`build_assistant`, closing the HTTP client afterwards."""
    assistant = build_assistant(settings, env, heuristic_only=heuristic_only,
                                every_message=every_message)
    try:
        yield assistant
    finally:
        if isinstance(assistant, OpenAIAssistant):
            await assistant.client.close()
