from __future__ import annotations

import pytest

from adapters.config import ConfigError, load


def test_defaults_need_no_accounts() -> None:
    settings = load({})
    assert settings.database_url.startswith("sqlite")
    assert (settings.host, settings.port) == ("127.0.0.1", 3000)
    assert not settings.slack_enabled
    # On loopback, Teams runs unauthenticated for the Bot Framework Emulator; nowhere else.
    assert settings.teams_enabled and settings.teams_emulator
    assert [(p, on) for p, on, _ in settings.platforms()] == [("slack", False), ("teams", True)]
    public = load({"HOST": "0.0.0.0"})
    assert not public.teams_enabled and not public.teams_emulator


def test_platforms_switch_on_from_their_variables() -> None:
    settings = load({"SLACK_BOT_TOKEN": "xoxb-1", "MicrosoftAppId": "abc", "PORT": "8080"})
    assert settings.slack_enabled and settings.teams_enabled and settings.port == 8080


@pytest.mark.parametrize("port", ["http", "-1", "70000"])
def test_a_bad_port_is_a_clear_error(port: str) -> None:
    with pytest.raises(ConfigError, match="PORT must be a port number"):
        load({"PORT": port})


@pytest.mark.parametrize(("name", "value"), [("SCHEDULE_GRACE_HOURS", "soon"),
                                             ("SCHEDULE_GRACE_HOURS", "-1"),
                                             ("SCHEDULE_TICK_SECONDS", "0.5"),
                                             ("SCHEDULE_TICK_SECONDS", "600")])
def test_bad_schedule_numbers_are_clear_errors(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        load({name: value})
    assert load({name: "5"}) is not None
