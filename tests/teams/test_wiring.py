"""Teams wired into `producer-bot serve` and the `teams-package` command. These need the small
changes to adapters/config.py, adapters/server.py and adapters/cli.py described with the Teams
adapter; until those land they skip themselves."""

from __future__ import annotations

import json
import logging
import zipfile
from pathlib import Path

import pytest
from aiohttp import ClientSession

from adapters.compose import open_app
from adapters.config import ConfigError, Settings
from tests.teams.activities import APP_ID, ERIN, Activities
from tests.teams.conftest import FakeConnector

wired = pytest.mark.skipif(not hasattr(Settings, "teams_emulator"),
                           reason="serve does not build Teams yet (adapters/server.py, config.py)")


def has_teams_package() -> bool:
    from adapters.cli import parser

    return "teams-package" in parser().format_help()


@wired
async def test_serve_runs_teams_in_emulator_mode_on_loopback(
        tmp_path: Path, connector: FakeConnector, caplog: pytest.LogCaptureFixture) -> None:
    from adapters.server import serving

    caplog.set_level(logging.INFO)
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'bot.db'}", port=0,
                        teams_emulator_requested=True)
    async with open_app(settings) as app, serving(app, worker=False, scheduler=False) as server:
        assert "teams" in server.platforms and "teams" in app.relay.senders
        activity = Activities(connector.url).personal(ERIN, "blocker the build is red")
        async with ClientSession() as session:
            async with session.post(server.url + "/api/messages", json=activity) as response:
                assert response.status == 200
        await app.relay.drain()
    assert "blocker #1" in connector.sent()[0].text
    assert "WITHOUT authentication" in caplog.text
    assert "teams: enabled (emulator mode: TEAMS_EMULATOR is set" in caplog.text


@wired
async def test_without_app_id_or_teams_emulator_teams_is_off_and_not_served(
        tmp_path: Path, connector: FakeConnector, caplog: pytest.LogCaptureFixture) -> None:
    """A Slack-only deployment on the default HOST=127.0.0.1 behind a reverse proxy: an
    unauthenticated activity must not reach the bot."""
    from adapters.server import serving

    caplog.set_level(logging.INFO)
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'bot.db'}", port=0)
    async with open_app(settings) as app, serving(app, worker=False, scheduler=False) as server:
        assert "teams" not in server.platforms and "teams" not in app.relay.senders
        activity = Activities(connector.url).personal(ERIN, "blocker the build is red")
        async with ClientSession() as session:
            async with session.post(server.url + "/api/messages", json=activity) as response:
                assert response.status == 404
        await app.relay.drain()
    assert connector.calls == []
    assert "teams: off (no MicrosoftAppId" in caplog.text and "TEAMS_EMULATOR=1" in caplog.text


@wired
async def test_serve_refuses_emulator_mode_on_a_public_address(tmp_path: Path) -> None:
    from adapters.server import serving

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'bot.db'}", port=0,
                        teams_emulator_requested=True)
    async with open_app(settings) as app:
        with pytest.raises(ConfigError, match="0.0.0.0"):
            async with serving(app, host="0.0.0.0", worker=False, scheduler=False):
                pass


def test_cli_teams_package(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                           monkeypatch: pytest.MonkeyPatch) -> None:
    if not has_teams_package():
        pytest.skip("the teams-package subcommand is not wired yet (adapters/cli.py)")
    from adapters.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["teams-package", "--app-id", APP_ID]) == 0
    with zipfile.ZipFile(tmp_path / "producer-bot-teams.zip") as package:
        assert json.loads(package.read("manifest.json"))["bots"][0]["botId"] == APP_ID
    out = tmp_path / "dist" / "teams.zip"
    assert main(["teams-package", "--app-id", APP_ID, "--out", str(out)]) == 0 and out.exists()
    assert main(["teams-package", "--app-id", "not-a-guid"]) == 2
    assert "GUID" in capsys.readouterr().err
