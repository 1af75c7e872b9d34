"""Logging: JSON lines when stderr is not a terminal (for log collectors), readable text when
it is. Every line carries the id of the event being handled, if any. Message text is never
logged at INFO: the bot's own log calls only name ids and counts."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from bot.trace import current_event


class EventIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "event_id", None):
            record.event_id = current_event.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if getattr(record, "event_id", None):
            line["event_id"] = record.event_id
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def setup(level: int, json_lines: bool | None = None) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(EventIdFilter())
    if json_lines if json_lines is not None else not sys.stderr.isatty():
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(
            "%(asctime)s %(levelname)s %(name)s [%(event_id)s]: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # "Context impl ..." is noise
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)  # one line per request
