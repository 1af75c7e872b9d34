"""PostgreSQL restarted under a running bot: events meanwhile get a retryable status, and the
bot reconnects by itself afterwards (pool pre-ping)."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from adapters.compose import open_app
from adapters.server import serving
from bot.model import Team
from tests.conftest import postgres_url, reset_postgres
from tests.slack.conftest import SlackClient, payload, slack_settings
from tests.slack.fake_slack import FakeSlack

pytestmark = pytest.mark.postgres


def cluster(action: str) -> None:
    for version in os.listdir("/etc/postgresql"):
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action],
                       check=True, capture_output=True, timeout=120)


async def test_events_during_a_database_restart_are_retried_not_lost(
        tmp_path: Path, fake_slack: FakeSlack) -> None:
    url = postgres_url()
    if url is None or shutil.which("pg_ctlcluster") is None:
        pytest.skip("needs TEST_DATABASE_URL and a local cluster to restart")
    await reset_postgres(url)
    settings = slack_settings(tmp_path, fake_slack, database_url=url)
    async with open_app(settings, auto_migrate=True) as app:  # `db upgrade`, then serve
        async with serving(app, host="127.0.0.1", port=0, scheduler=False) as server:
            slack = SlackClient(server.url, app, fake_slack)
            first = payload("message", event_id="EvBefore")
            assert (await slack.event(first))[0] == 200
            await fake_slack.wait_for(lambda: fake_slack.of("chat.postMessage"))
            try:
                await asyncio.to_thread(cluster, "stop")
                during = payload("message", event_id="EvDuring")
                during["event"].update(ts="1700000500.000500",
                                       text="stuck on the VPN config, waiting for IT")
                status, _ = await slack.event(during)
                assert status >= 500  # Slack will deliver it again
            finally:
                await asyncio.to_thread(cluster, "start")
            # Slack's retry after the restart: the pool reconnects by itself.
            for _ in range(100):  # the server may need a moment to accept connections
                status, _ = await slack.event(during, retry_num=1)
                if status == 200:
                    break
                await asyncio.sleep(0.2)
            assert status == 200
            await fake_slack.wait_for(lambda: len(fake_slack.of("chat.postMessage")) == 2)
            async with app.db.uow() as uow:
                assert len(await uow.blockers.open(Team("slack", "T1"))) == 2
            await slack.close()
