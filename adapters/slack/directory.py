"""Directory: people's names and time zones, from Slack's users.info."""

from __future__ import annotations

import asyncio
import logging
from functools import partial

from slack_sdk.web.async_client import AsyncWebClient

from bot.model import InboundMessage, Team
from bot.relay import Relay
from bot.usecases import people

log = logging.getLogger(__name__)


class Directory:
    """Learns people's names and time zones from users.info, after the ack, once per person
    per process: standup prompts go out in each member's own morning."""

    def __init__(self, relay: Relay) -> None:
        self.relay = relay
        self.seen: set[tuple[str, str]] = set()
        self.tasks: set[asyncio.Task[None]] = set()

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    def learn(self, msg: InboundMessage | None, client: AsyncWebClient) -> None:
        if msg is None or (msg.where.tenant, msg.user) in self.seen:
            return
        self.seen.add((msg.where.tenant, msg.user))
        task = asyncio.create_task(self._refresh(msg.where.team, msg.user, client))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _refresh(self, team: Team, user: str, client: AsyncWebClient) -> None:
        try:
            info = (await client.users_info(user=user)).get("user") or {}
        except Exception as exc:  # a missing scope or an outage: the team zone is the fallback
            log.info("slack: users.info failed for a member: %s", exc)
            return
        name, tz = info.get("real_name") or info.get("name"), info.get("tz")
        await self.relay.perform(partial(people.learn_profile, team=team, user=user, name=name,
                                         tz=tz))
