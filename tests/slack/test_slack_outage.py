"""The database failing while Slack delivers: a retryable status, never an ack of a lost event."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError

from tests.slack.conftest import SlackClient, payload


async def test_events_and_commands_get_a_5xx_while_the_database_is_down(
        slack: SlackClient, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    async def down(msg):  # type: ignore[no-untyped-def]
        raise OperationalError("INSERT INTO inbox", {}, ConnectionRefusedError("db restarting"))

    monkeypatch.setattr(slack.app.relay, "receive", down)
    status, _ = await slack.event(payload("message"))
    assert status >= 500  # Slack will retry it
    status, _ = await slack.command("UENG", "/blocker", "waiting on ops")
    assert status >= 500
    status, _ = await slack.click("UPRO", "resolve 1")
    assert status >= 500
    monkeypatch.undo()
    # Slack's retry, once the database is back, is stored and answered.
    status, _ = await slack.event(payload("message"), retry_num=1)
    assert status == 200
    await slack.fake.wait_for(lambda: slack.fake.of("chat.postMessage"))
