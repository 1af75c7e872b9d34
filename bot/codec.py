"""Messages as JSON-ready dicts, for the inbox and outbox rows that hold them between steps."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from bot.model import Action, InboundMessage, Outgoing, Section, Where


def inbound_to_dict(msg: InboundMessage) -> dict[str, Any]:
    data = asdict(msg)
    data["at"] = msg.at.isoformat()
    return data


def inbound_from_dict(data: dict[str, Any]) -> InboundMessage:
    data = dict(data)
    data["where"] = Where(**data["where"])
    data["at"] = datetime.fromisoformat(data["at"])
    return InboundMessage(**data)


def outgoing_to_dict(out: Outgoing) -> dict[str, Any]:
    return asdict(out)


def outgoing_from_dict(data: dict[str, Any]) -> Outgoing:
    data = dict(data)
    data["where"] = Where(**data["where"])
    data["sections"] = tuple(Section(**s) for s in data.get("sections", ()))
    data["actions"] = tuple(Action(**a) for a in data.get("actions", ()))
    return Outgoing(**data)
