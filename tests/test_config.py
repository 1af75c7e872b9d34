from __future__ import annotations

import pytest

from adapters.config import ConfigError, load


def test_defaults_need_no_accounts() -> None:
    settings = load({})
    assert settings.database_url.startswith("sqlite")
    assert (settings.host, settings.port) == ("127.0.0.1", 3000)
    assert not settings.slack_enabled
    # Unauthenticated Teams (the Bot Framework Emulator) is never on by default, not even on
    # loopback: a Slack-only deployment behind a reverse proxy would accept forged activities.
    assert not settings.teams_enabled and not settings.teams_emulator
    assert [(p, on) for p, on, _ in settings.platforms()] == [("slack", False), ("teams", False)]
    public = load({"HOST": "0.0.0.0"})
    assert not public.teams_enabled and not public.teams_emulator


@pytest.mark.parametrize("value", ["1", "true", "YES", "on"])
def test_teams_emulator_is_an_explicit_opt_in(value: str) -> None:
    settings = load({"TEAMS_EMULATOR": value})
    assert settings.teams_enabled and settings.teams_emulator
    teams = dict((p, (on, why)) for p, on, why in settings.platforms())["teams"]
    assert teams[0] and "TEAMS_EMULATOR" in teams[1] and "NO authentication" in teams[1]
    # Asked for on a public address: on, so that start-up refuses it by name (HOST).
    assert load({"TEAMS_EMULATOR": value, "HOST": "0.0.0.0"}).teams_emulator
    # MicrosoftAppId wins: authenticated, never the emulator.
    both = load({"TEAMS_EMULATOR": value, "MicrosoftAppId": "abc"})
    assert both.teams_enabled and not both.teams_emulator


@pytest.mark.parametrize("value", ["0", "false", "no", "off", ""])
def test_teams_emulator_off_values(value: str) -> None:
    settings = load({"TEAMS_EMULATOR": value})
    assert not settings.teams_enabled
    why = dict((p, why) for p, _, why in settings.platforms())["teams"]
    assert "MicrosoftAppId" in why and "TEAMS_EMULATOR" in why


def test_a_bad_teams_emulator_value_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="TEAMS_EMULATOR"):
        load({"TEAMS_EMULATOR": "maybe"})


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


def test_tracker_settings_are_checked_and_pick_a_default() -> None:
    from adapters.config import ConfigError, load, tracker_target_problem

    assert tracker_target_problem("github", "acme/app") is None
    assert "owner/name" in (tracker_target_problem("github", "acme") or "")
    assert "project key" in (tracker_target_problem("jira", "proj") or "")
    assert tracker_target_problem("linear", "ENG") is None
    one = load({"LINEAR_API_KEY": "k", "LINEAR_TEAM": "ENG"}, dotenv=False)
    assert one.tracker_kinds() == {"linear"} and one.default_tracker() == "linear:ENG"
    both = {"LINEAR_API_KEY": "k", "LINEAR_TEAM": "ENG", "GITHUB_TOKEN": "t",
            "GITHUB_REPOSITORY": "acme/app"}
    assert load(both, dotenv=False).default_tracker() is None  # which one? TRACKER says
    assert load({**both, "TRACKER": "github"}, dotenv=False).default_tracker() == "github:acme/app"
    for env, message in (({"JIRA_URL": "https://acme.atlassian.net"}, "JIRA_EMAIL, JIRA_API_TOKEN"),
                         ({"GITHUB_REPOSITORY": "acme"}, "GITHUB_REPOSITORY"),
                         ({"TRACKER": "gitlab"}, "TRACKER must be"),
                         ({"TRACKER": "jira"}, "TRACKER=jira needs"),
                         ({"GITHUB_API_URL": "ftp://x"}, "GITHUB_API_URL must be")):
        try:
            load(env, dotenv=False)
        except ConfigError as exc:
            assert message in str(exc)
        else:
            raise AssertionError(f"{env} was accepted")
