"""POST /api/messages against bad input: a clear 4xx or a polite reply, never a crash, and
nothing wrong stored."""

from __future__ import annotations

import copy
import random

import pytest
from sqlalchemy import text

from bot.model import BlockerStatus, Role
from tests.teams.activities import ERIN, OTHER_TENANT, PAT, SAM, TENANT
from tests.teams.conftest import TEAM, Stack, StackFactory


async def assert_nothing_stored(stack: Stack) -> None:
    assert await stack.inbox() == []
    assert await stack.outbox() == []


@pytest.mark.parametrize("raw, status", [
    (b"{not json", 400),
    (b"[1, 2]", 400),
    (b'"a string"', 400),
    (b"{}", 400),
    (b'{"type": "message"}', 400),
    (b'{"type": 7, "serviceUrl": "http://127.0.0.1:1/", "conversation": {"id": "a"}}', 400),
    (b"\xff\xfe\x00garbage", 400),
])
async def test_malformed_bodies_are_a_400(stack: Stack, raw: bytes, status: int) -> None:
    code, body = await stack.post(None, raw=raw)
    assert code == status and "error" in body
    await assert_nothing_stored(stack)


async def test_missing_parts_of_an_activity_are_a_400(stack: Stack) -> None:
    for field in ("serviceUrl", "conversation", "type"):
        activity = stack.acts.personal(ERIN, "blocker x")
        del activity[field]
        assert (await stack.post(activity))[0] == 400
    activity = stack.acts.personal(ERIN, "blocker x")
    activity["conversation"]["id"] = "a:" + "x" * 300
    assert (await stack.post(activity))[0] == 400
    activity = stack.acts.personal(ERIN, "blocker x")
    activity["from"] = "erin"
    assert (await stack.post(activity))[0] == 400
    activity = stack.acts.personal(ERIN, "blocker x")
    del activity["id"]
    assert (await stack.post(activity))[0] == 400
    await assert_nothing_stored(stack)


async def test_wrong_content_type_is_a_415(stack: Stack) -> None:
    activity = stack.acts.personal(ERIN, "help")
    code, _ = await stack.post(activity, headers={"Content-Type": "text/plain"})
    assert code == 415
    response = await stack.client.post("/api/messages", data=b"{}",
                                       skip_auto_headers=["Content-Type"])
    assert response.status == 415
    assert (await stack.client.get("/api/messages")).status == 405


async def test_unknown_activity_types_are_acknowledged_and_ignored(stack: Stack) -> None:
    for kind in ("typing", "messageReaction", "endOfConversation", "somethingNew", "event"):
        activity = stack.acts.personal(ERIN, "help")
        activity["type"] = kind
        assert await stack.say(activity) == []
    invoke = stack.acts.execute(ERIN, {"command": "help"}, card=None)
    invoke["name"] = "composeExtension/query"
    code, body = await stack.post(invoke)
    assert code == 400 and body["type"] == "application/vnd.microsoft.error"
    await assert_nothing_stored(stack)


async def test_huge_text_gets_a_polite_reply_and_a_huge_body_a_413(stack: Stack) -> None:
    sent = await stack.say(stack.acts.personal(ERIN, "blocker " + "x" * 50_000))
    assert len(sent) == 1 and "Nothing was recorded" in sent[0].text
    async with stack.app.db.uow() as uow:
        assert await uow.blockers.open(TEAM) == []
    code, _ = await stack.post(stack.acts.personal(ERIN, "y" * 2_000_000))
    assert code == 413


@pytest.mark.parametrize("data", [
    {},
    {"command": ""},
    {"command": 7},
    {"command": ["resolve 1"]},
    {"command": "resolve 1\nrole me producer"},
    {"command": "x" * 1000},
    {"command": "decline 1", "input": "reason_1"},
    {"command": "decline 1", "input": "reason_1", "reason_1": "   "},
    {"command": "decline 1", "input": "title", "title": "forged"},
    {"form": "request", "problem": "p"},
    {"form": "request", "title": "t"},
    {"form": "request", "title": {"nested": True}, "problem": "p"},
    "just a string",
])
async def test_card_actions_with_missing_or_forged_fields(stack: Stack, data: object) -> None:
    code, body = await stack.post(stack.acts.execute(ERIN, data, card="1763283661001"))
    assert code == 400
    assert body["statusCode"] == 400 and body["type"] == "application/vnd.microsoft.error"
    assert body["value"]["message"]
    if isinstance(data, dict):  # an Action.Submit with a dict: the same checks
        code, body = await stack.post(stack.acts.submit(ERIN, data, card="1763283661001"))
        assert code == 400 and body["error"]
    assert await stack.inbox() == []


async def test_action_submit_and_other_action_types(stack: Stack) -> None:
    not_execute = stack.acts.execute(ERIN, {"command": "help"}, card=None,
                                     action_type="Action.Submit")
    assert (await stack.post(not_execute))[0] == 400
    # A plain Action.Submit (older cards) works like Action.Execute.
    sent = await stack.say(stack.acts.submit(ERIN, {"command": "blocker the VPN is down"},
                                             card=None))
    assert len(sent) == 1 and "blocker #1" in sent[0].text


async def test_forged_card_data_cannot_act_for_someone_else(stack: Stack) -> None:
    await stack.set_role(PAT.aad, Role.PRODUCER, PAT.name)
    await stack.say(stack.acts.personal(ERIN, "blocker waiting for ops"))
    # Sam forges a click claiming to be Erin, in Erin's team: identity comes from the activity.
    forged = {"command": "resolve 1", "user": ERIN.aad, "from": ERIN.account, "tenant": TENANT}
    sent = await stack.say(stack.acts.execute(SAM, forged, card=None))
    assert "Only **Erin Engineer**" in sent[0].text
    sent = await stack.say(stack.acts.execute(SAM, {"command": "role me producer"}, card=None))
    assert "Only producers can change roles" in sent[0].text
    async with stack.app.db.uow() as uow:
        blocker = await uow.blockers.get(TEAM, 1)
        sam = await uow.members.get(TEAM, SAM.aad)
    assert blocker is not None and blocker.status == BlockerStatus.OPEN
    assert sam is not None and sam.role != Role.PRODUCER


async def test_a_forged_card_id_only_posts_the_answer(stack: Stack) -> None:
    await stack.say(stack.acts.personal(ERIN, "blocker waiting for ops"))
    sent = await stack.say(stack.acts.execute(ERIN, {"command": "resolve 1"}, card="no-such-card"))
    assert [c.method for c in sent] == ["POST"] and "resolved" in sent[0].text


async def test_the_bots_own_messages_are_ignored(stack: Stack) -> None:
    activity = stack.acts.personal(ERIN, "blocker echo")
    activity["from"] = activity["recipient"]
    assert await stack.say(activity) == []
    assert await stack.inbox() == []


async def test_emulator_mode_answers_only_loopback_service_urls(stack: Stack) -> None:
    activity = stack.acts.personal(ERIN, "help")
    activity["serviceUrl"] = "https://attacker.example/"
    code, _ = await stack.post(activity)
    assert code == 403
    await assert_nothing_stored(stack)


async def test_tenants_outside_the_allow_list_are_refused(make_stack: StackFactory) -> None:
    stack = await make_stack(env={"TEAMS_ALLOWED_TENANTS": f" {TENANT.upper()} , other"})
    assert len(await stack.say(stack.acts.personal(ERIN, "help"))) == 1
    stack.acts.tenant = OTHER_TENANT
    code, body = await stack.post(stack.acts.personal(ERIN, "blocker from elsewhere"))
    assert code == 403 and "organisation" in body["error"]
    assert [r.tenant for r in await stack.inbox()] == [TENANT]


async def test_a_database_failure_is_a_503_so_teams_retries(stack: Stack) -> None:
    async with stack.app.db.engine.begin() as conn:
        await conn.execute(text("DROP TABLE inbox"))
    code, _ = await stack.post(stack.acts.personal(ERIN, "blocker the database is down"))
    assert code == 503


JUNK: list[object] = [None, 0, -1, 1.5, True, "", "x", "<at>", "a" * 300, [], [1, "a"], {},
                      {"id": None}, {"id": 5}, {"nested": {"deep": [None]}}]


def mutate(activity: dict, rng: random.Random) -> dict:
    """Replace a random field (at any depth) with junk, or drop it."""
    mutated = copy.deepcopy(activity)
    node = mutated
    while True:
        key = rng.choice(list(node))
        if isinstance(node[key], dict) and node[key] and rng.random() < 0.5:
            node = node[key]
            continue
        if rng.random() < 0.2:
            del node[key]
        else:
            node[key] = copy.deepcopy(rng.choice(JUNK))
        return mutated


async def test_mangled_activities_never_crash_the_endpoint(stack: Stack) -> None:
    rng = random.Random(20261116)
    acts = stack.acts
    shapes = [acts.personal(ERIN, "blocker x"), acts.channel(ERIN, "request y"),
              acts.group(ERIN, "help"), acts.execute(ERIN, {"command": "help"}, card="1"),
              acts.submit(ERIN, {"command": "help"}, card="1"), acts.installed(ERIN),
              acts.execute(ERIN, {"form": "request", "title": "t", "problem": "p"}, card=None),
              {**acts.channel(ERIN, "edited"), "type": "messageUpdate"},
              {**acts.channel(ERIN, "deleted"), "type": "messageDelete"},
              {**acts.installed(ERIN), "membersAdded": [], "membersRemoved": [{"id": "x"}]},
              {**acts.installed(ERIN), "type": "installationUpdate", "action": "add"}]
    statuses = set()
    for i in range(400):
        activity = mutate(rng.choice(shapes), rng)
        activity["id"] = activity.get("id", "x") if i % 7 else f"{i}"
        code, body = await stack.post(activity)
        statuses.add(code)
        assert code < 500, (code, body, activity)
    assert statuses >= {200, 400}
    await stack.drain()  # whatever was stored, the core handles it without failing
    assert [r.error for r in await stack.inbox() if r.status == "failed"] == []



@pytest.mark.parametrize("service_url", [
    # urllib reads the host as 127.0.0.1; requests (which botbuilder's connector sends with)
    # reads evil.example, and would have posted the reply there.
    "http://evil.example\\@127.0.0.1:{port}/",
    "http://evil.example\\\\@127.0.0.1:{port}/",
    "http://127.0.0.1:{port}\\@evil.example/",
    "http://user:secret@127.0.0.1:{port}/",
    "http://evil.example@127.0.0.1:{port}/",
    "http://127.0.0.1:{port}@evil.example/",
    "http://127.0.0.1%2f@evil.example:{port}/",
    "ftp://127.0.0.1:{port}/",
    "file:///etc/passwd",
    "//127.0.0.1:{port}/",
    "http://127.0.0.1:{port}/\r\nHost: evil.example",
    "http://localhost.evil.example:{port}/",
    "http://0x7f.1:{port}/",
    "http:///127.0.0.1:{port}/",
])
async def test_emulator_mode_refuses_service_urls_the_sender_would_read_differently(
        stack: Stack, service_url: str) -> None:
    port = stack.connector.url.rsplit(":", 1)[1].strip("/")
    activity = stack.acts.personal(ERIN, "blocker is this reply going elsewhere?")
    activity["serviceUrl"] = service_url.format(port=port)
    code, body = await stack.post(activity)
    assert code in (400, 403), (code, body)
    await stack.drain()
    await assert_nothing_stored(stack)
    async with stack.app.db.sessions() as session:
        refs = (await session.execute(text("SELECT count(*) FROM conversation_refs"))).scalar()
    assert refs == 0 and stack.connector.calls == []


@pytest.mark.parametrize("service_url", ["http://127.0.0.1:{port}/", "http://localhost:{port}/",
                                         "HTTP://127.0.0.1:{port}", "http://[::1]:{port}/"])
async def test_emulator_mode_still_answers_plain_loopback_urls(stack: Stack,
                                                              service_url: str) -> None:
    port = stack.connector.url.rsplit(":", 1)[1].strip("/")
    activity = stack.acts.personal(ERIN, "help")
    activity["serviceUrl"] = service_url.format(port=port)
    assert (await stack.post(activity))[0] == 200
