"""Issue trackers (GitHub, Jira Cloud, Linear): one adapter module per tracker, chosen by the
environment (adapters/config.py) and, per team, by `producer-bot tracker set`.

`TrackerSender` is the one sender the dispatcher hands tracker effects to (bot.relay.dispatch
`route`); it keeps one client per tracker project, made on first use. `webhooks` gives the
verified readers of each configured tracker's webhooks (mounted by adapters/server.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.parse import quote, urlencode

from adapters.config import Settings
from adapters.trackers.base import Tracker, Webhook
from bot.model import Outgoing, Where
from bot.ports import Sender, Sent, Undeliverable

log = logging.getLogger(__name__)


class TrackerSender(Sender):
    """Sends tracker effects to the project in their `where.channel` ("github:acme/app")."""

    def __init__(self, make: Callable[[str, str], Tracker]) -> None:
        self._make = make
        self._clients: dict[str, Tracker] = {}

    def client(self, project: str) -> Tracker:
        if project not in self._clients:
            kind, _, target = project.partition(":")
            self._clients[project] = self._make(kind, target)
        return self._clients[project]

    async def send(self, message: Outgoing) -> Sent:
        return await self.client(message.where.channel).send(message)

    async def find_sent(self, message: Outgoing) -> Sent | None:
        return await self.client(message.where.channel).find_sent(message)

    async def close(self) -> None:
        for client in self._clients.values():
            try:
                await client.close()
            except Exception:  # closing must not stop the others closing
                log.exception("closing the %s client failed", client.kind)
        self._clients.clear()


def tracker_factory(settings: Settings) -> Callable[[str, str], Tracker]:
    """Clients with the environment's credentials, for any project of a configured tracker."""

    def make(kind: str, target: str) -> Tracker:
        if kind not in settings.tracker_kinds():
            raise Undeliverable(f"no credentials for {kind}: see the README's {kind} section")
        if kind == "github":
            from adapters.trackers.github import GitHubTracker

            return GitHubTracker(settings.github_token or "", target, settings.github_api_url)
        if kind == "jira":
            from adapters.trackers.jira import JiraTracker

            return JiraTracker(settings.jira_url or "", settings.jira_email or "",
                               settings.jira_api_token or "", target, settings.jira_issue_type)
        from adapters.trackers.linear import LinearTracker

        return LinearTracker(settings.linear_api_key or "", target, settings.linear_api_url)

    return make


def webhooks(settings: Settings) -> dict[str, Webhook]:
    """The webhooks of the configured trackers that have a secret to verify them with."""
    found: dict[str, Webhook] = {}
    for kind in sorted(settings.tracker_kinds()):
        secret = settings.webhook_secret(kind)
        if not secret:
            continue
        if kind == "github":
            from adapters.trackers.github import GitHubWebhook

            found[kind] = GitHubWebhook(secret)
        elif kind == "jira":
            from adapters.trackers.jira import JiraWebhook

            found[kind] = JiraWebhook(secret)
        else:
            from adapters.trackers.linear import LinearWebhook

            found[kind] = LinearWebhook(secret)
    return found


# ---- links back to the chat, for the issue's description ------------------------------------


def slack_link(where: Where, message_id: str | None) -> str | None:
    """Slack's documented redirect into a channel (a message's own permalink needs the
    workspace's domain, which the bot does not know)."""
    if not where.channel:
        return None
    return "https://slack.com/app_redirect?" + urlencode(
        {"team": where.tenant, "channel": where.channel})


def teams_link(where: Where, message_id: str | None) -> str | None:
    """A Teams deep link to the message (a channel post) that holds the conversation."""
    channel, _, root = where.channel.partition(";messageid=")
    message = message_id or root or where.thread
    if not channel.startswith("19:") or not message:
        return None
    return (f"https://teams.microsoft.com/l/message/{quote(channel, safe='')}/{quote(message)}?"
            + urlencode({"tenantId": where.tenant}))


LINKS = {"slack": slack_link, "teams": teams_link}
