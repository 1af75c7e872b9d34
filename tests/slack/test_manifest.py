"""manifest.yml must match what the code actually serves, or installing from it breaks."""

from __future__ import annotations

from pathlib import Path

import yaml

from adapters.slack.commands import SLASH_COMMANDS
from adapters.slack.oauth import SCOPES

MANIFEST = yaml.safe_load((Path(__file__).parents[2] / "manifest.yml").read_text())


def test_commands_shortcuts_events_and_scopes_match_the_code() -> None:
    features = MANIFEST["features"]
    assert [c["command"] for c in features["slash_commands"]] == list(SLASH_COMMANDS)
    assert all(c["url"].endswith("/slack/events") for c in features["slash_commands"])
    assert {s["callback_id"] for s in features["shortcuts"]} == {"track_blocker", "file_request"}
    assert all(s["type"] == "message" for s in features["shortcuts"])
    assert features["app_home"]["home_tab_enabled"] is True
    assert MANIFEST["oauth_config"]["scopes"]["bot"] == SCOPES
    assert MANIFEST["oauth_config"]["redirect_urls"][0].endswith("/slack/oauth_redirect")
    settings = MANIFEST["settings"]
    assert set(settings["event_subscriptions"]["bot_events"]) == {
        "app_home_opened", "message.channels", "message.groups", "message.im"}
    assert settings["interactivity"]["request_url"].endswith("/slack/events")


def test_texts_fit_slacks_limits() -> None:
    display = MANIFEST["display_information"]
    assert len(display["name"]) <= 35 and len(display["description"]) <= 140
    for command in MANIFEST["features"]["slash_commands"]:
        assert len(command["description"]) <= 100 and len(command["usage_hint"]) <= 100
