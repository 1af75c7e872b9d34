"""What the Teams adapter remembers to reach people and conversations outside a request.

Teams lets a bot post only where it has a conversation reference (service URL, conversation id,
bot account), so every activity refreshes them. Rows of storage.conversations.ConversationStore:

    ("conversation", CONVERSATION_ID)   how to post in a conversation (a channel without the
                                        reply-chain suffix, a group chat, a 1:1 chat)
    ("conversation", "@tenant")         the newest of those in the tenant: where a 1:1 chat with
                                        someone never seen can be created from
    ("conversation", "card:HASH:ID")    a card the bot sent with buttons, so the answer to a click
                                        can be merged into it (HASH of the conversation id)
    ("user", USER_ID)                   a person's Teams account and, once known, their 1:1 chat
    ("user", TEAMS_ACCOUNT_ID)          the same under the 29:... id that mentions carry

Records use the Bot Framework's JSON names, so a ConversationReference deserialises from them.
Rows are written only when they change: most activities change nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.teams.translate import (
    as_dict,
    conversation_kind,
    short_hash,
    split_conversation,
    user_id,
)
from bot.codec import outgoing_from_dict, outgoing_to_dict
from bot.model import Outgoing, Team
from storage.conversations import ConversationStore

TENANT = "@tenant"


def _account(value: Any) -> dict[str, Any]:
    account = as_dict(value)
    return {k: account[k] for k in ("id", "name", "aadObjectId") if isinstance(account.get(k), str)}


def place_of(activity: Mapping[str, Any]) -> dict[str, Any]:
    """How to reach the activity's conversation again: service URL, channel, bot account."""
    return {"serviceUrl": activity.get("serviceUrl"), "channelId": activity.get("channelId"),
            "bot": _account(activity.get("recipient"))}


def conversation_record(activity: Mapping[str, Any], tenant: str) -> dict[str, Any]:
    conversation = as_dict(activity.get("conversation"))
    base, _ = split_conversation(conversation["id"])
    kind = conversation_kind(activity)
    return {**place_of(activity), "conversation": {
        "id": base, "conversationType": kind, "isGroup": kind != "personal", "tenantId": tenant}}


class References:
    def __init__(self, store: ConversationStore) -> None:
        self.store = store

    async def _put(self, team: Team, scope: str, ref_id: str, record: dict[str, Any]) -> None:
        if await self.store.get(team, scope, ref_id) != record:
            await self.store.save(team, scope, ref_id, record)

    async def seen(self, team: Team, activity: Mapping[str, Any]) -> None:
        """Remember the conversation and the person of an inbound activity."""
        record = conversation_record(activity, team.tenant)
        await self._put(team, "conversation", record["conversation"]["id"], record)
        await self._put(team, "conversation", TENANT, place_of(activity))
        account = _account(activity.get("from"))
        if account.get("id"):
            personal = record if record["conversation"]["conversationType"] == "personal" else None
            await self.person(team, account, place_of(activity), personal)

    async def person(self, team: Team, account: dict[str, Any], place: dict[str, Any],
                     personal: dict[str, Any] | None = None) -> None:
        """A person's account; their 1:1 chat when `personal` is its conversation record."""
        user = user_id(account)
        old = await self.store.get(team, "user", user)
        if personal is not None:
            new = {**personal, "user": account}
        elif old and old.get("conversation"):
            new = {**old, "user": {**old.get("user", {}), **account}}  # keep the 1:1 chat
        else:
            new = {**place, "user": account, "conversation": None}
        if new != old:
            await self.store.save(team, "user", user, new)
        if account["id"] != user:
            await self._put(team, "user", account["id"], new)

    async def conversation(self, team: Team, conversation_id: str) -> dict[str, Any] | None:
        return await self.store.get(team, "conversation", conversation_id)

    async def tenant_place(self, team: Team) -> dict[str, Any] | None:
        return await self.store.get(team, "conversation", TENANT)

    async def user(self, team: Team, user: str) -> dict[str, Any] | None:
        return await self.store.get(team, "user", user)

    # ---- cards ----------------------------------------------------------------------------------

    @staticmethod
    def _card_id(conversation: str, activity_id: str) -> str:
        return f"card:{short_hash(conversation)}:{activity_id}"[:256]

    async def remember_card(self, team: Team, conversation: str, activity_id: str,
                            out: Outgoing, posted_in: str) -> None:
        await self.store.save(team, "conversation", self._card_id(conversation, activity_id),
                              {"conversation": posted_in, "outgoing": outgoing_to_dict(out)})

    async def card(self, team: Team, conversation: str,
                   activity_id: str) -> tuple[Outgoing, str] | None:
        """(the message a card showed, the conversation id it was posted with)."""
        row = await self.store.get(team, "conversation", self._card_id(conversation, activity_id))
        if not row:
            return None
        return outgoing_from_dict(row["outgoing"]), row["conversation"]
