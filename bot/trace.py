"""The event being handled, for every log line written while handling it (a context variable,
so concurrent events in one process never mix their ids)."""

from __future__ import annotations

from contextvars import ContextVar

current_event: ContextVar[str | None] = ContextVar("current_event", default=None)
