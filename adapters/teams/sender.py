"""TeamsSender: how the outbox's messages reach Teams.

Every message is a proactive one (continue_conversation with a stored reference), even a reply:
inbound requests only store the event and answer the HTTP request, and the worker sends later,
so a reply, a reminder and a digest all take the same path and the same retries.
"""

from __future__ import annotations

import asyncio
import copy
import email.utils
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    Attachment,
    ChannelAccount,
    ConversationParameters,
    ConversationReference,
    ErrorResponseException,
)

from adapters.charts import render_png
from adapters.teams import cards
from adapters.teams.refs import References
from adapters.teams.translate import CardThread, split_conversation
from bot.model import Outgoing, Team
from bot.ports import RetryLater, Sender, Sent, Undeliverable
from bot.usecases import people

log = logging.getLogger(__name__)

# The names people last gave the bot (people.display_names, through the relay).
DisplayNames = Callable[[Team, Sequence[str]], Awaitable[Mapping[str, str]]]


class TransientError(Exception):
    """Teams failed in a way worth retrying (5xx): the dispatcher backs off and tries again."""


def _status(exc: ErrorResponseException) -> int:
    return getattr(getattr(exc, "response", None), "status_code", 0) or 0


def _code(exc: ErrorResponseException) -> str:
    error = getattr(getattr(exc, "error", None), "error", None)
    return getattr(error, "code", None) or ""


def retry_after(headers: Mapping[str, str] | None, default: float = 5.0) -> float:
    """Seconds from a Retry-After header (a number or an HTTP date), kept within reason."""
    value = (headers or {}).get("Retry-After")
    if not value:
        return default
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return default
        seconds = (when - datetime.now(UTC)).total_seconds()
    return min(max(seconds, 1.0), 3600.0)


_HINTS = {
    401: "the connector refused the bot's credentials; check MicrosoftAppId and MicrosoftAppPassword",
    403: "the bot was removed from this conversation, or the person blocked it",
    404: "the conversation no longer exists",
    413: "the message is too big for Teams",
}


def refusal(exc: ErrorResponseException) -> Exception:
    """Map a connector error to what the dispatcher understands."""
    status, code = _status(exc), _code(exc)
    if status == 429:
        headers = getattr(getattr(exc, "response", None), "headers", None)
        return RetryLater(retry_after(headers), f"teams throttled the bot (429 {code})",
                          counts=False)
    if status >= 500 or status in (0, 408):
        return TransientError(f"teams answered {status} {code}")
    hint = _HINTS.get(status, "Teams will not take this message")
    return Undeliverable(f"teams refused the message ({status} {code}): {hint}")


def message_activity(card: dict[str, Any], summary: str) -> Activity:
    return Activity(type=ActivityTypes.message, summary=summary,
                    attachments=[Attachment(content_type=cards.CONTENT_TYPE, content=card)])


def in_chain(record: dict[str, Any], root: str | None) -> dict[str, Any]:
    """The same conversation, addressed to a channel reply chain when there is one."""
    conversation = record["conversation"]
    if conversation.get("conversationType") != "channel" or not root:
        return record
    return {**record, "conversation": {**conversation, "id": f"{conversation['id']};messageid={root}"}}


class TeamsSender(Sender):
    # Teams: about 7 messages a second and 60 in 30 seconds per conversation.
    pace, burst = 0.5, 7

    def __init__(self, adapter: CloudAdapter, refs: References, app_id: str,
                 display_names: DisplayNames) -> None:
        self.adapter = adapter
        self.refs = refs
        self.app_id = app_id
        self.display_names = display_names

    async def send(self, message: Outgoing) -> Sent:
        try:
            return await self._send(message)
        except ErrorResponseException as exc:
            raise refusal(exc) from exc

    async def _send(self, message: Outgoing) -> Sent:
        team = message.where.team
        user = message.to_user or (message.private_to if message.surface == "home" else None)
        if user:
            return await self._to_user(team, user, message)
        if message.private_to and message.surface != cards.REQUEST_FORM:
            # Teams has no messages only one person in a chat sees: their 1:1 chat is the private
            # place. Someone the bot has no 1:1 chat with gets the answer where they asked. (The
            # request form is shown where it was asked for: it files the request there.)
            record = await self.refs.user(team, message.private_to)
            personal = record.get("conversation") if record else None
            if personal and personal.get("id") != message.where.channel:
                return await self._post(team, record, message)
        conversation = await self.refs.conversation(team, message.where.channel)
        if conversation is None:
            raise Undeliverable(f"no Teams conversation {message.where.channel!r} is known in tenant "
                                f"{team.tenant}: the bot has to be added there first")
        clicked = CardThread.parse(message.where.thread)
        if clicked and not message.private_to:
            sent = await self._answer_on_card(team, conversation, clicked, message)
            if sent is not None:
                return sent
        root = clicked.root if clicked else message.where.thread
        return await self._post(team, in_chain(conversation, root), message)

    # ---- rendering ----------------------------------------------------------------------------

    async def names(self, team: Team, users: set[str]) -> dict[str, str]:
        """Display names for the people a message mentions: as they last told us, else as the
        mentions that introduced them did."""
        wanted = sorted(users)[:people.MAX_NAMED]
        if not wanted:
            return {}
        found = dict(await self.display_names(team, wanted))
        for user in wanted:
            if user not in found:
                record = await self.refs.user(team, user)
                name = ((record or {}).get("user") or {}).get("name")
                if name:
                    found[user] = name
        return found

    async def render(self, team: Team, message: Outgoing) -> Activity:
        if message.surface == cards.REQUEST_FORM:
            return message_activity(cards.request_form(), cards.REQUEST_FORM_SUMMARY)
        names = await self.names(team, cards.mentioned_users(message))
        card = cards.card_for(message, names)
        if message.chart is not None:
            card = await self._with_chart(card, message)
        return message_activity(card, cards.summary(message, names))

    @staticmethod
    async def _with_chart(card: dict[str, Any], message: Outgoing) -> dict[str, Any]:
        """The card with the message's chart in it; without it (the text says the same) when it
        cannot be drawn or would make the message too big for Teams, and the log says which."""
        chart = message.chart
        assert chart is not None
        try:
            png = await asyncio.to_thread(render_png, chart)  # CPU work: off the event loop
        except Exception:
            log.exception("teams: the chart %r could not be drawn; sending the text without it",
                          chart.title)
            return card
        charted = cards.with_chart(card, png, chart.alt)
        if charted is None:
            log.warning("teams: the chart %r (%d bytes of PNG) would take the card past %d bytes; "
                        "sending the text without it", chart.title, len(png),
                        cards.MAX_CHART_CARD_BYTES)
            return card
        return charted

    # ---- delivering ---------------------------------------------------------------------------

    async def _deliver(self, record: dict[str, Any], activity: Activity,
                       replace_id: str | None = None) -> str | None:
        """Send (or, with `replace_id`, update) one activity in a stored conversation."""
        reference = ConversationReference().deserialize(record)
        reference.activity_id = None  # a new message, not a reply to the continuation event
        result: dict[str, str | None] = {}

        async def callback(turn_context: TurnContext) -> None:
            client = turn_context.turn_state.get(turn_context.adapter.BOT_CONNECTOR_CLIENT_KEY)
            if client is not None:
                # The outbox retries, without blocking; msrest would retry an update by sleeping
                # a worker thread for as long as Retry-After says.
                client.config.retry_policy.retries = 0
            outgoing = TurnContext.apply_conversation_reference(copy.copy(activity), reference)
            if replace_id:
                outgoing.id = replace_id
                response = await turn_context.adapter.update_activity(turn_context, outgoing)
                result["id"] = replace_id if response is None else response.id or replace_id
            else:
                # The adapter, not the turn context: the turn context would make it a reply to
                # the continuation event's made-up id.
                responses = await turn_context.adapter.send_activities(turn_context, [outgoing])
                result["id"] = responses[0].id if responses else None

        await self.adapter.continue_conversation(reference, callback, bot_app_id=self.app_id)
        return result.get("id")

    async def _post(self, team: Team, record: dict[str, Any], message: Outgoing) -> Sent:
        activity_id = await self._deliver(record, await self.render(team, message))
        posted_in = record["conversation"]["id"]
        base, _ = split_conversation(posted_in)
        if message.actions and activity_id:
            await self.refs.remember_card(team, base, activity_id, message, posted_in)
        return Sent(message_id=activity_id, channel=base)

    async def _answer_on_card(self, team: Team, conversation: dict[str, Any], clicked: CardThread,
                              message: Outgoing) -> Sent | None:
        """Merge the answer to a click into the card that was clicked (update_activity). None
        when that card is unknown or gone, and the answer is posted as a message instead."""
        base = conversation["conversation"]["id"]
        stored = await self.refs.card(team, base, clicked.card)
        if stored is None:
            return None
        original, posted_in = stored
        merged = cards.merge_answer(original, message, clicked.command)
        record = {**conversation, "conversation": {**conversation["conversation"], "id": posted_in}}
        try:
            await self._deliver(record, await self.render(team, merged), replace_id=clicked.card)
        except ErrorResponseException as exc:
            if _status(exc) not in (400, 404):
                raise
            log.info("teams: card %s could not be updated (%s); posting the answer instead",
                     clicked.card, _status(exc))
            return None
        await self.refs.remember_card(team, base, clicked.card, merged, posted_in)
        return Sent(message_id=clicked.card, channel=base)

    async def _to_user(self, team: Team, user: str, message: Outgoing) -> Sent:
        """A 1:1 message: in the person's 1:1 chat, which is created when there is none yet."""
        record = await self.refs.user(team, user)
        if record and record.get("conversation"):
            return await self._post(team, record, message)
        place = record or await self.refs.tenant_place(team)
        if not place or not place.get("serviceUrl"):
            raise Undeliverable(f"cannot reach Teams user {user} in tenant {team.tenant}: nobody "
                                "there has talked to the bot yet")
        account = (record or {}).get("user") or {"id": user}
        try:
            personal = await self._create_personal(team, place, account["id"])
        except ErrorResponseException as exc:
            if _status(exc) == 429 or _status(exc) >= 500:
                raise
            raise Undeliverable(f"could not open a 1:1 chat with Teams user {user} "
                                f"({_status(exc)} {_code(exc)}): the app must be installed for "
                                "them, or they must message the bot once") from exc
        await self.refs.person(team, account, place, personal)
        return await self._post(team, personal, message)

    async def _create_personal(self, team: Team, place: dict[str, Any],
                               member: str) -> dict[str, Any]:
        bot = place.get("bot") or {}
        parameters = ConversationParameters(
            is_group=False, bot=ChannelAccount(id=bot.get("id"), name=bot.get("name")),
            # A 29:... account id, or the Entra object id of someone the bot never met.
            members=[ChannelAccount(id=member)], tenant_id=team.tenant,
            channel_data={"tenant": {"id": team.tenant}})
        created: dict[str, str] = {}

        async def callback(turn_context: TurnContext) -> None:
            created["id"] = turn_context.activity.conversation.id

        await self.adapter.create_conversation(
            self.app_id, callback, parameters, place.get("channelId") or "msteams",
            place["serviceUrl"], None)
        return {**{k: place.get(k) for k in ("serviceUrl", "channelId", "bot")},
                "conversation": {"id": created["id"], "conversationType": "personal",
                                 "isGroup": False, "tenantId": team.tenant}}
