"""Teams activities for tests, built from the recorded payloads in payloads/: who says what, where.

    acts = Activities(service_url)
    acts.channel(ERIN, "blocked on staging creds")       # an @mention of the bot in a new post
    acts.channel(SAM, "the finance team", root="123")      # a reply in the chain of post 123
    acts.personal(PAT, "digest")                           # the 1:1 chat with the bot
    acts.execute(PAT, {"command": "accept 1"}, card="456", where="personal")
"""

from __future__ import annotations

import copy
import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PAYLOADS = Path(__file__).parent / "payloads"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
OTHER_TENANT = "0badbad0-0000-4000-8000-000000000bad"
APP_ID = "b0b0b0b0-0000-4000-8000-000000000b07"
BOT = {"id": f"28:{APP_ID}", "name": "Producer Bot"}
CHANNEL = "19:4b3c8e7a1f2d4e6b9a0c5d7e8f9a1b2c@thread.tacv2"
GROUP = "19:9d1e4f0a2b3c4d5e6f708192a3b4c5d6@thread.v2"


@dataclass(frozen=True)
class Person:
    key: str
    name: str
    aad: str

    @property
    def account(self) -> dict[str, str]:
        return {"id": f"29:1{self.key}TeamsAccountId0GMfGw0Ohq7nJkT3", "name": self.name,
                "aadObjectId": self.aad}

    @property
    def personal(self) -> str:
        return f"a:1{self.key}PersonalChatWsVrfWyzK3M9l0pXqXq3nvLr5bNcB8Yk2O8EDr4vJpQ"

    @property
    def mention(self) -> str:
        return f"<at>{self.name}</at>"


ERIN = Person("erin", "Erin Engineer", "6f1c2c3a-1f0d-4c1e-9d43-000000000e01")
PAT = Person("pat", "Pat Producer", "6f1c2c3a-1f0d-4c1e-9d43-000000000a02")
SAM = Person("sam", "Sam Stakeholder", "6f1c2c3a-1f0d-4c1e-9d43-000000000503")


def load(name: str) -> dict[str, Any]:
    return json.loads((PAYLOADS / f"{name}.json").read_text())


class Activities:
    def __init__(self, service_url: str, tenant: str = TENANT) -> None:
        self.service_url = service_url
        self.tenant = tenant
        self._ids = itertools.count(1763283600000)

    def next_id(self) -> str:
        return str(next(self._ids))

    def _fill(self, template: str, person: Person, conversation: str, kind: str,
              **extra: Any) -> dict[str, Any]:
        activity = load(template)
        activity.update(id=self.next_id(), serviceUrl=self.service_url, recipient=dict(BOT),
                        **{"from": person.account})
        activity["conversation"].update(id=conversation, conversationType=kind,
                                        tenantId=self.tenant, isGroup=kind != "personal")
        activity["channelData"]["tenant"] = {"id": self.tenant}
        activity.update(extra)
        return activity

    def _conversation(self, where: str, person: Person, root: str | None, new_id: str) -> tuple[str, str]:
        if where == "personal":
            return person.personal, "personal"
        if where == "group":
            return GROUP, "groupChat"
        return f"{CHANNEL};messageid={root or new_id}", "channel"

    def _text_activity(self, template: str, where: str, person: Person, text: str, *,
                       root: str | None = None, mention: bool,
                       mentions: tuple[Person, ...]) -> dict[str, Any]:
        new_id = self.next_id()
        conversation, kind = self._conversation(where, person, root, new_id)
        activity = self._fill(template, person, conversation, kind)
        activity["id"] = new_id
        entities = [e for e in activity.get("entities", []) if e.get("type") != "mention"]
        if mention:
            text = f"<at>{BOT['name']}</at> {text}"
            entities.append({"mentioned": dict(BOT), "text": f"<at>{BOT['name']}</at>",
                             "type": "mention"})
        for other in mentions:
            entities.append({"mentioned": {"id": other.account["id"], "name": other.name},
                             "text": other.mention, "type": "mention"})
        activity["text"] = text
        activity["entities"] = entities
        activity.pop("attachments", None)
        return activity

    def personal(self, person: Person, text: str, **kw: Any) -> dict[str, Any]:
        return self._text_activity("personal_message", "personal", person, text, mention=False,
                                   mentions=kw.pop("mentions", ()))

    def channel(self, person: Person, text: str, *, root: str | None = None, mention: bool = True,
                mentions: tuple[Person, ...] = ()) -> dict[str, Any]:
        return self._text_activity("channel_mention", "channel", person, text, root=root,
                                   mention=mention, mentions=mentions)

    def group(self, person: Person, text: str, *, mention: bool = True,
              mentions: tuple[Person, ...] = ()) -> dict[str, Any]:
        return self._text_activity("group_chat_message", "group", person, text, mention=mention,
                                   mentions=mentions)

    def execute(self, person: Person, data: Any, *, card: str | None, where: str = "personal",
                root: str | None = None, action_type: str = "Action.Execute") -> dict[str, Any]:
        """A click on an Action.Execute button: an adaptiveCard/action invoke."""
        conversation, kind = self._conversation(where, person, root, "0")
        activity = self._fill("card_execute", person, conversation, kind, id=f"f:{self.next_id()}")
        activity["value"] = {"action": {"type": action_type, "title": "button", "verb": "command",
                                        "data": copy.deepcopy(data)}, "trigger": "manual"}
        if card is None:
            activity.pop("replyToId", None)
        else:
            activity["replyToId"] = card
        return activity

    def submit(self, person: Person, data: Any, *, card: str | None, where: str = "personal",
               root: str | None = None) -> dict[str, Any]:
        """A click on an Action.Submit button: a message whose value is the data."""
        conversation, kind = self._conversation(where, person, root, "0")
        activity = self._fill("card_submit", person, conversation, kind)
        activity["value"] = copy.deepcopy(data)
        if card is None:
            activity.pop("replyToId", None)
        else:
            activity["replyToId"] = card
        return activity

    def installed(self, person: Person, where: str = "channel") -> dict[str, Any]:
        """The bot added to the team (general channel), a group chat or a 1:1 chat."""
        if where == "channel":
            conversation, kind = CHANNEL, "channel"
        else:
            conversation, kind = self._conversation(where, person, None, "0")
        activity = self._fill("conversation_update_team", person, conversation, kind,
                              id=f"f:{self.next_id()}")
        activity["membersAdded"] = [{"id": BOT["id"]}]
        if where != "channel":
            activity["channelData"] = {"tenant": {"id": self.tenant}}
        return activity

    # ---- quoted replies, edits, deletions, private channels -----------------------------------

    def quoted(self, person: Person, text: str, quoted_id: str, *, where: str = "personal",
               inner: str | None = None, mention: bool = False) -> dict[str, Any]:
        """A reply quoting message `quoted_id`: the placeholder before the text (the quoted
        message's own text inside it when `inner` is given) and a quotedReply entity."""
        builders = {"personal": self.personal, "group": self.group, "channel": self.channel}
        kwargs = {} if where == "personal" else {"mention": mention}
        activity = builders[where](person, text, **kwargs)
        template = load("quoted_reply")
        quote = (f'<quoted messageId="{quoted_id}"/>' if inner is None
                 else f'<quoted messageId="{quoted_id}">{inner}</quoted>')
        activity["text"] = f"{quote} {activity['text']}"
        entity = copy.deepcopy(template["entities"][0])
        entity["quotedReply"]["messageId"] = quoted_id
        activity["entities"] = [entity] + activity["entities"]
        return activity

    def _event(self, template: str, message: dict[str, Any], **extra: Any) -> dict[str, Any]:
        activity = load(template)
        for key in ("id", "serviceUrl", "from", "conversation", "recipient"):
            activity[key] = copy.deepcopy(message[key])
        activity["channelData"] = {**copy.deepcopy(message["channelData"]),
                                   "eventType": activity["channelData"]["eventType"]}
        activity.update(extra)
        return activity

    def edit(self, message: dict[str, Any], text: str, *, mention: bool | None = None,
             timestamp: str | None = None) -> dict[str, Any]:
        """`message` (an activity built here) edited to read `text`; in a channel or group chat
        the bot stays @mentioned unless `mention` is False."""
        activity = self._event("message_edit", message, text=text)
        mentions = [e for e in message.get("entities", []) if e.get("type") == "mention"]
        if mention is None:
            mention = any(e["mentioned"]["id"] == BOT["id"] for e in mentions)
        if mention:
            activity["text"] = f"<at>{BOT['name']}</at> {text}"
            activity["entities"] = activity["entities"] + [
                {"mentioned": dict(BOT), "text": f"<at>{BOT['name']}</at>", "type": "mention"}]
        if timestamp:
            activity["timestamp"] = timestamp
        return activity

    def delete(self, message: dict[str, Any]) -> dict[str, Any]:
        """The soft deletion of `message`."""
        return self._event("message_soft_delete", message)

    def private_channel(self, person: Person, text: str, *, kind: str = "private",
                        mention: bool = True) -> dict[str, Any]:
        """A post in a private (or shared) channel of the team."""
        activity = self.channel(person, text, mention=mention)
        template = load("private_channel_mention")
        base = template["channelData"]["channel"]["id"]
        activity["conversation"]["id"] = f"{base};messageid={activity['id']}"
        activity["channelData"] = {**copy.deepcopy(template["channelData"]),
                                   "tenant": {"id": self.tenant}}
        activity["channelData"]["channel"]["type"] = kind
        return activity
