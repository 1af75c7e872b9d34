"""Structured logs: JSON lines carrying the event id."""

from __future__ import annotations

import io
import json
import logging

from adapters.logs import EventIdFilter, JsonFormatter
from bot.trace import current_event


def test_json_lines_carry_the_event_being_handled() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(EventIdFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("test.logs")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        token = current_event.set("Ev123")
        logger.warning("sending outbox row %s failed", 7)
        current_event.reset(token)
        logger.warning("no event here")
    finally:
        logger.removeHandler(handler)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["event_id"] == "Ev123" and first["msg"] == "sending outbox row 7 failed"
    assert first["level"] == "WARNING" and "ts" in first
    assert "event_id" not in second
