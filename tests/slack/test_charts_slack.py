"""A message with a chart through the real SlackSender and the outbox, against the fake Slack:
one post, and the PNG uploaded with files_upload_v2 into the same channel and thread."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from bot.model import Outgoing, Where
from storage.tables import OutboxRow
from tests.chart_samples import png_size, weekly_chart
from tests.slack.conftest import SlackClient
from tests.slack.fake_slack import Failure


async def queue(slack: SlackClient, message: Outgoing) -> None:
    async with slack.app.db.uow() as uow:
        await uow.outbox.add(message)
        await uow.commit()


async def retry_now(slack: SlackClient) -> None:
    """The row's retry falls due now (instead of after its backoff)."""
    async with slack.app.db.sessions() as session, session.begin():
        await session.execute(update(OutboxRow).where(OutboxRow.status != "sent").values(
            next_attempt_at=datetime.now(UTC) - timedelta(seconds=1)))


async def test_a_chart_is_posted_once_and_uploaded_into_the_thread(slack: SlackClient) -> None:
    chart = weekly_chart()
    await queue(slack, Outgoing(where=Where("slack", "T1", "CGEN", "1700000000.000099"),
                                text="How we're doing: time to unblock doubled.", chart=chart))
    await slack.app.relay.drain()
    posts = slack.fake.of("chat.postMessage")
    assert len(posts) == 1 and posts[0].data["thread_ts"] == "1700000000.000099"
    [upload] = slack.fake.shared_files()
    assert (upload.channel, upload.thread_ts) == ("CGEN", "1700000000.000099")
    assert upload.alt_txt == chart.alt and upload.title == chart.title
    assert upload.filename == "time-to-unblock.png"
    assert upload.data is not None and png_size(upload.data) == (800, 450)
    assert len(slack.fake.of("files.getUploadURLExternal")) == 1
    async with slack.app.db.uow() as uow:
        assert await uow.outbox.backlog() == 0


async def test_a_chart_to_a_person_goes_to_their_direct_messages(slack: SlackClient) -> None:
    await queue(slack, Outgoing(where=Where("slack", "T1", "CGEN"), text="Your week",
                                to_user="UPRO", chart=weekly_chart()))
    await slack.app.relay.drain()
    [post] = slack.fake.of("chat.postMessage")
    [upload] = slack.fake.shared_files()
    assert post.data["channel"] == upload.channel == "DUPRO"
    assert upload.thread_ts is None


async def test_a_retried_row_posts_once_and_still_brings_its_chart(slack: SlackClient) -> None:
    """Slack took the post but the connection was cut before its answer: the retry finds the
    message in the history, does not post it again, and uploads the chart it never got."""
    slack.fake.failures["chat.postMessage"] = Failure(status=200, count=1, cut=True)
    await queue(slack, Outgoing(where=Where("slack", "T1", "CGEN"), text="How we're doing",
                                chart=weekly_chart()))
    await slack.app.relay.drain()
    assert slack.fake.shared_files() == []  # the cut attempt never got to the chart
    await retry_now(slack)
    await slack.app.relay.drain()
    posts = slack.fake.of("chat.postMessage")
    assert len(posts) == 1 and posts[0].response.get("ok")
    assert len(slack.fake.of("conversations.history")) == 1
    [upload] = slack.fake.shared_files()
    assert upload.channel == "CGEN"
    async with slack.app.db.uow() as uow:
        assert await uow.outbox.backlog() == 0


async def test_a_failed_upload_keeps_the_text_and_is_not_retried(slack: SlackClient) -> None:
    slack.fake.fail("files.completeUploadExternal", 500, count=5)
    await queue(slack, Outgoing(where=Where("slack", "T1", "CGEN"), text="How we're doing",
                                chart=weekly_chart()))
    await slack.app.relay.drain()
    await retry_now(slack)
    await slack.app.relay.drain()
    assert len(slack.fake.of("chat.postMessage")) == 1
    assert len(slack.fake.of("files.completeUploadExternal")) == 1
    assert slack.fake.shared_files() == []
    async with slack.app.db.uow() as uow:
        assert await uow.outbox.backlog() == 0


async def test_an_ephemeral_answer_shares_no_file(slack: SlackClient) -> None:
    await queue(slack, Outgoing(where=Where("slack", "T1", "CGEN"), text="Only you",
                                private_to="UPRO", chart=weekly_chart()))
    await slack.app.relay.drain()
    assert len(slack.fake.of("chat.postEphemeral")) == 1
    assert slack.fake.of("files.getUploadURLExternal") == []


async def test_without_files_write_the_text_goes_alone_and_the_log_says_why(
        slack: SlackClient, caplog) -> None:  # type: ignore[no-untyped-def]
    """An app installed before the scope was added: Slack refuses the upload."""
    import logging

    original = slack.fake._answer

    def no_scope(method, data, token):  # type: ignore[no-untyped-def]
        if method == "files.getUploadURLExternal":
            return {"ok": False, "error": "missing_scope", "needed": "files:write"}
        return original(method, data, token)

    slack.fake._answer = no_scope  # type: ignore[method-assign]
    await queue(slack, Outgoing(where=Where("slack", "T1", "CGEN"), text="How we're doing",
                                chart=weekly_chart()))
    with caplog.at_level(logging.WARNING, logger="adapters.slack.sender"):
        await slack.app.relay.drain()
    assert len(slack.fake.of("chat.postMessage")) == 1
    assert slack.fake.shared_files() == []
    assert "needs the files:write scope" in caplog.text
    async with slack.app.db.uow() as uow:
        assert await uow.outbox.backlog() == 0
