"""SlackSender: how the outbox's messages reach Slack, through the Web API.

The outbox owns retrying: a Web API error becomes RetryLater (a definite "not delivered"),
MaybeDelivered (Slack may have posted it: look in the history first) or Undeliverable.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from adapters.charts import filename, render_png
from adapters.config import Settings
from adapters.slack.render import home_view, message_payload
from adapters.slack.translate import is_person
from bot.model import Outgoing
from bot.ports import MaybeDelivered, RetryLater, Sender, Sent, Undeliverable

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://slack.com/api/"
METADATA_EVENT = "producer_bot_delivery"
# Slack errors a later attempt can get past; any other error gives the message up (logged).
# Slack documents that after the first two "some aspect of the operation" may have succeeded.
_MAYBE_POSTED_ERRORS = {"internal_error", "fatal_error"}
_TRANSIENT_ERRORS = {"ratelimited", "service_unavailable", "request_timeout"}
# The bot may not post in that conversation (not a member, private, archived).
_NOT_THERE_ERRORS = {"not_in_channel", "channel_not_found", "is_archived"}
MAX_ALT_TEXT = 1000  # files.getUploadURLExternal's alt_txt
MAX_FILE_TITLE = 250


def one_to_one(message: Outgoing, person: str) -> Outgoing:
    """The message as a 1:1 to `person`, saying why it did not appear where they asked."""
    channel = f"<#{message.where.channel}>"
    note = (f"I'm not a member of {channel}, so I'm answering you here. To have me answer in "
            f"{channel}, add me to it: `/invite @producer-bot`.")
    return replace(message, text=f"{note}\n\n{message.text}", to_user=person, private_to=None,
                   reply_to=None, thread_key=None, where=message.where.in_thread(None))


def retry_handlers() -> list[Any]:
    return [AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=2),
            AsyncServerErrorRetryHandler(max_retry_count=1)]


def web_client(settings: Settings, token: str | None = None,
               retries: bool = True) -> AsyncWebClient:
    """A Web API client. The outbox's client has no retries of its own (`retries=False`):
    slack_sdk would post again after a connection cut off once the request was sent, doubling
    a message Slack did take; the outbox retries instead, and first looks for the message in
    the channel's history (SlackSender.find_sent). It also waits out a 429 without holding
    the sending loop."""
    return AsyncWebClient(token=token, base_url=settings.slack_api_url or DEFAULT_API_URL,
                          retry_handlers=retry_handlers() if retries else [])


def without_retries(client: AsyncWebClient) -> AsyncWebClient:
    """The same workspace's client with no retry handlers, for a call an ack waits on: a 429
    comes back at once instead of being slept out (Retry-After can be many seconds)."""
    return AsyncWebClient(token=client.token, base_url=client.base_url, timeout=client.timeout,
                          ssl=client.ssl, proxy=client.proxy, headers=client.headers,
                          retry_handlers=[])


def _header(headers: Any, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name.lower():
            return value[0] if isinstance(value, list) else value
    return None

class SlackSender(Sender):
    """Delivers Outgoing messages with the Web API; one client per workspace token."""

    pace, burst = 1.0, 3  # chat.postMessage: about one message per second per channel

    def __init__(self, client_for: Callable[[str], Awaitable[AsyncWebClient]]) -> None:
        self.client_for = client_for

    async def send(self, message: Outgoing) -> Sent:
        client = await self.client_for(message.where.tenant)
        try:
            return await self._send(client, message)
        except SlackApiError as exc:
            response = exc.response
            error = response.get("error") if hasattr(response, "get") else None
            person = message.private_to or message.reply_to
            if error in _NOT_THERE_ERRORS and person and not message.to_user \
                    and message.surface != "home":
                # Slash commands and shortcuts work in channels the bot was never invited to;
                # the answer then goes to the person, with how to invite the bot.
                log.info("slack: cannot post in %s (%s); answering 1:1",
                         message.where.channel, error)
                return await self.send(one_to_one(message, person))
            if response.status_code == 429 or error == "ratelimited":
                after = _header(response.headers, "Retry-After") or "1"
                raise RetryLater(float(after) if after.isdigit() else 1.0, "ratelimited",
                                 counts=False) from exc
            if error in _MAYBE_POSTED_ERRORS or (response.status_code >= 500
                                                 and error not in _TRANSIENT_ERRORS):
                raise MaybeDelivered(f"slack {response.status_code} {error}") from exc
            if response.status_code >= 500 or error in _TRANSIENT_ERRORS:
                raise RetryLater(5.0, f"slack {response.status_code} {error}") from exc
            raise Undeliverable(f"slack refused: {error}") from exc

    async def find_sent(self, message: Outgoing) -> Sent | None:
        """Look for the message's delivery id in recent history (Slack keeps the metadata we
        attach): a cut-off attempt that did reach Slack is not posted twice. An answer that
        may have gone 1:1 instead (see `send`) is looked for there too."""
        if message.surface == "home" or not message.delivery_id:
            return None  # Home views leave no history; publishing one again is harmless
        person = message.private_to or message.reply_to
        if not message.private_to:  # ephemerals leave no history where they were shown
            found = await self._in_history(message)
            if found is not None:
                return found
        if person and not message.to_user:
            return await self._in_history(one_to_one(message, person))
        return None

    async def _in_history(self, message: Outgoing) -> Sent | None:
        client = await self.client_for(message.where.tenant)
        try:
            channel = await self._channel(client, message)
            history = await client.conversations_history(
                channel=channel, limit=100, include_all_metadata=True)
        except SlackApiError:
            return None  # not readable (the bot is not in it): nothing found
        for posted in history.get("messages") or []:
            payload = (posted.get("metadata") or {}).get("event_payload") or {}
            if payload.get("delivery_id") == message.delivery_id:
                if message.chart is not None:
                    # The attempt that posted it never got to the chart (it was cut off, or
                    # timed out, after the post): the chart follows now, the text stays single.
                    # (Had that process died after the upload and before recording the row as
                    # sent, the chart would show twice; the text still once.)
                    await self._upload_chart(client, message, channel, message.where.thread)
                return Sent(message_id=posted.get("ts"), channel=channel)
        return None

    @staticmethod
    async def _channel(client: AsyncWebClient, message: Outgoing) -> str:
        # A person's id where the channel goes is their 1:1 with the bot (an App Home click
        # carries no DM id; see translate.is_person): open it, as for a message to_user.
        person = message.to_user or (message.where.channel if is_person(message.where.channel)
                                     else None)
        if person:
            opened = await client.conversations_open(users=person)
            return opened["channel"]["id"]
        return message.where.channel

    async def _send(self, client: AsyncWebClient, message: Outgoing) -> Sent:
        if message.surface == "home":
            user = message.to_user or message.private_to
            await client.views_publish(user_id=user, view=home_view(message))
            return Sent()
        channel = await self._channel(client, message)
        thread = message.where.thread
        # Drawn before the post: a message whose chart cannot be drawn still goes out.
        png = await self._png(message)
        payload = message_payload(message)
        if message.delivery_id:
            payload["metadata"] = {"event_type": METADATA_EVENT,
                                   "event_payload": {"delivery_id": message.delivery_id}}
        if message.private_to:
            if message.chart is not None:
                # A file shared in a channel is everyone's: an ephemeral answer keeps its words.
                log.info("slack: a chart in an ephemeral message is not uploaded; the text says it")
            await client.chat_postEphemeral(channel=channel, user=message.private_to,
                                            thread_ts=thread, **payload)
            return Sent(channel=channel)
        posted = await client.chat_postMessage(channel=channel, thread_ts=thread, **payload)
        sent = Sent(message_id=posted.get("ts"), channel=posted.get("channel") or channel)
        if png is not None:
            await self._upload_chart(client, message, sent.channel or channel, thread, png)
        return sent

    @staticmethod
    async def _png(message: Outgoing) -> bytes | None:
        if message.chart is None or message.private_to or message.surface == "home":
            return None
        try:
            return await asyncio.to_thread(render_png, message.chart)  # CPU work: off the loop
        except Exception:
            log.exception("slack: the chart %r could not be drawn; sending the text without it",
                          message.chart.title)
            return None

    async def _upload_chart(self, client: AsyncWebClient, message: Outgoing, channel: str,
                            thread: str | None, png: bytes | None = None) -> None:
        """Upload the message's chart into the channel (and thread) it was posted in, with
        files_upload_v2 (files.getUploadURLExternal, the upload, files.completeUploadExternal).

        The message itself is already posted, so nothing here may fail the send: the outbox
        would retry the row and post the text twice. A chart that does not get there is logged
        (most often the app lacks the `files:write` scope) and the text, which says the same
        in words, stands."""
        chart = message.chart
        if chart is None:
            return
        try:
            png = png if png is not None else await asyncio.to_thread(render_png, chart)
            await client.files_upload_v2(
                channel=channel, thread_ts=thread, file=png, filename=filename(chart),
                title=chart.title[:MAX_FILE_TITLE], alt_txt=chart.alt[:MAX_ALT_TEXT])
        except SlackApiError as exc:
            response = exc.response
            error = response.get("error") if hasattr(response, "get") else None
            hint = " (the app needs the files:write scope)" if error == "missing_scope" else ""
            log.warning("slack: the chart %r was not uploaded to %s: %s%s; the message was "
                        "sent without it", chart.title, channel, error, hint)
        except Exception as exc:
            log.warning("slack: the chart %r was not uploaded to %s: %s; the message was sent "
                        "without it", chart.title, channel, f"{type(exc).__name__}: {exc}")
