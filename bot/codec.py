"""Messages as JSON-ready dicts, for the inbox and outbox rows that hold them between steps."""

from __future__ import annotations

from dataclasses import asdict, fields
from datetime import datetime
from typing import Any

from bot.model import Action, Chart, InboundMessage, Outgoing, Section, Series, Where

_INBOUND_FIELDS = tuple(f.name for f in fields(InboundMessage))
_WHERE_FIELDS = tuple(f.name for f in fields(Where))
_OUTGOING_FIELDS = tuple(f.name for f in fields(Outgoing))
_SECTION_FIELDS = tuple(f.name for f in fields(Section))
_ACTION_FIELDS = tuple(f.name for f in fields(Action))
_CHART_FIELDS = tuple(f.name for f in fields(Chart))
_SERIES_FIELDS = tuple(f.name for f in fields(Series))


def inbound_to_dict(msg: InboundMessage) -> dict[str, Any]:
    # Field by field rather than asdict(): every event is stored on the way to its ack, and
    # asdict's recursive deep copy was a tenth of that path's time. The fields are flat.
    data = {name: getattr(msg, name) for name in _INBOUND_FIELDS}
    data["where"] = {name: getattr(msg.where, name) for name in _WHERE_FIELDS}
    data["at"] = msg.at.isoformat()
    if msg.form is not None:
        data["form"] = dict(msg.form)
    return data


def _known(data: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """Only the fields this version knows: a row written by a newer version of the bot (in a
    rolling upgrade, say) is still read, without the fields it added."""
    return {k: v for k, v in data.items() if k in names}


def inbound_from_dict(data: dict[str, Any]) -> InboundMessage:
    data = _known(data, _INBOUND_FIELDS)
    data["where"] = Where(**_known(data["where"], _WHERE_FIELDS))
    data["at"] = datetime.fromisoformat(data["at"])
    return InboundMessage(**data)


def outgoing_to_dict(out: Outgoing) -> dict[str, Any]:
    return asdict(out)


def outgoing_from_dict(data: dict[str, Any]) -> Outgoing:
    data = _known(data, _OUTGOING_FIELDS)
    data["where"] = Where(**_known(data["where"], _WHERE_FIELDS))
    data["sections"] = tuple(Section(**_known(s, _SECTION_FIELDS))
                             for s in data.get("sections", ()))
    data["actions"] = tuple(_action(a) for a in data.get("actions", ()))
    # Rows written before charts existed have no "chart": the field's default (None) stands.
    if data.get("chart") is not None:
        data["chart"] = _chart(data["chart"])
    return Outgoing(**data)


def _chart(data: dict[str, Any]) -> Chart:
    data = _known(data, _CHART_FIELDS)
    data["x"] = tuple(data.get("x", ()))
    data["series"] = tuple(_series(s) for s in data.get("series", ()))
    return Chart(**data)


def _series(data: dict[str, Any]) -> Series:
    data = _known(data, _SERIES_FIELDS)
    # JSON has no tuples, and writes 3.0 as 3.0 but a value that was an int as 3: floats again.
    data["values"] = tuple(None if v is None else float(v) for v in data.get("values", ()))
    return Series(**data)


def _action(data: dict[str, Any]) -> Action:
    data = _known(data, _ACTION_FIELDS)
    # JSON has no tuples: a form's inputs come back as lists.
    data["form"] = tuple(tuple(field) for field in data.get("form", ()))
    return Action(**data)
