"""Whose payload a Slack request is: the installation it reached (the tenant), and whether the
person acting belongs to it. Pure functions.

Read the way slack-bolt reads it (slack_bolt/request/internals.py: extract_team_id,
extract_enterprise_id, extract_is_enterprise_install), so the tenant is always the installation
Bolt authorized the request with and a reply goes out with that workspace's token. In a Slack
Connect channel the event's `team_id` (and `event.team`, `user.team_id`) is the sender's
organisation; `authorizations[0]` is the installation that received it, and a modal opened
there carries `view.app_installed_team_id`. The values are returned as found; translate.py
checks them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_UNSET = object()


def _named(value: Any) -> Any:
    """A team or organisation as Slack gives one: a string, or an object's "id"."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "id" in value:
        return value.get("id")
    return _UNSET


def _authorization(data: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The installation that received an event: its first authorization."""
    authorizations = data.get("authorizations")
    if not isinstance(authorizations, list) or not authorizations:
        return None
    return authorizations[0] if isinstance(authorizations[0], dict) else {}


def _team(data: Mapping[str, Any]) -> Any:
    view = data.get("view")
    if isinstance(view, dict) and view.get("app_installed_team_id") is not None:
        return view["app_installed_team_id"]
    if (team := _named(data.get("team"))) is not _UNSET:
        return team
    if (authorization := _authorization(data)) is not None:
        return _team(authorization)
    if "team_id" in data:
        return data.get("team_id")
    if isinstance(data.get("event"), dict):
        return _team(data["event"])
    if isinstance(data.get("user"), dict):
        return data["user"].get("team_id")
    return view.get("team_id") if isinstance(view, dict) else None


def enterprise(data: Mapping[str, Any]) -> Any:
    """The installation's Enterprise Grid organisation, if any."""
    if (org := _named(data.get("enterprise"))) is not _UNSET:
        return org
    if (authorization := _authorization(data)) is not None:
        return enterprise(authorization)
    if "enterprise_id" in data:
        return data.get("enterprise_id")
    if isinstance(data.get("team"), dict) and "enterprise_id" in data["team"]:
        return data["team"].get("enterprise_id")
    return enterprise(data["event"]) if isinstance(data.get("event"), dict) else None


def is_enterprise_install(data: Mapping[str, Any]) -> bool:
    """An org-wide install (Enterprise Grid): its tenant is the organisation, not a workspace."""
    if (authorization := _authorization(data)) is not None:
        return is_enterprise_install(authorization)
    flag = data.get("is_enterprise_install")
    return flag is True or flag == "true"


def installation(body: Mapping[str, Any]) -> Any:
    """The tenant: the installation's workspace, or organisation for an org-wide install."""
    return enterprise(body) if is_enterprise_install(body) else _team(body)


def outsider(body: Mapping[str, Any], tenant: str, actor_team: Any) -> bool:
    """Whether the person acting belongs to another organisation than the installation's.
    Unknown (no team given) is no outsider: payloads outside shared channels may omit it."""
    if not isinstance(actor_team, str) or not actor_team or is_enterprise_install(body):
        return False  # an org install's members come from many workspaces of the one org
    return actor_team not in (tenant, enterprise(body))


def event_outsider(body: Mapping[str, Any], tenant: str, message: Mapping[str, Any]) -> bool:
    """The same for an event about `message`: as in Bolt's extract_actor_team_id, only a shared
    channel's events speak for another team (`user_team`, else `team`)."""
    if body.get("is_ext_shared_channel") is not True:
        return False
    return outsider(body, tenant, message.get("user_team") or message.get("team"))
