"""The Jira Cloud adapter against the fake Jira: filing exactly once, comments, reopening, errors,
and the admin webhooks (signature and meaning)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from adapters.trackers.base import (
    COMMENT,
    DONE,
    ISSUE,
    NOT_PLANNED,
    REOPEN,
    REOPENED,
    STARTED,
    TrackerChange,
    marker,
)
from adapters.trackers.jira import JiraTracker, JiraWebhook, adf
from bot.model import Outgoing, Section, Where
from bot.ports import MaybeDelivered, RetryLater, Sent, Undeliverable
from tests.trackers.fake_jira import FakeJira

PAYLOADS = Path(__file__).parent / "payloads" / "jira"
WHERE = Where("slack", "T1", "jira:PROJ")


@pytest.fixture
async def fake() -> AsyncIterator[FakeJira]:
    fake = FakeJira()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def jira(fake: FakeJira) -> AsyncIterator[JiraTracker]:
    env = fake.env()
    tracker = JiraTracker(env["JIRA_URL"], env["JIRA_EMAIL"], env["JIRA_API_TOKEN"], env["JIRA_PROJECT"])
    yield tracker
    await tracker.close()


def issue(number: int = 7, where: Where = WHERE) -> Outgoing:
    return Outgoing(
        where=where, text="Export the weekly report as CSV", key=f"request:{number}", surface=ISSUE,
        delivery_id=f"outbox-{number}",
        sections=(Section("Asked by *Ana* on Monday.\nSee https://example.com/report for the old one.",
                          "What"),
                  Section("Finance needs it by Friday.\n\nSecond paragraph.", "Why")))


def comment(ref: str, text: str = "Ana says: any news?", delivery: str = "outbox-50") -> Outgoing:
    return Outgoing(where=WHERE, text=text, surface=COMMENT, issue=ref, delivery_id=delivery)


def reopen(ref: str, text: str = "Reopened: Ana says it still fails.",
           delivery: str = "outbox-60") -> Outgoing:
    return Outgoing(where=WHERE, text=text, surface=REOPEN, issue=ref, delivery_id=delivery)


# ---- filing ------------------------------------------------------------------------------------


async def test_create_renders_adf_and_leaves_the_marker(fake: FakeJira, jira: JiraTracker) -> None:
    sent = await jira.send(issue())

    assert sent == Sent(message_id=fake.issues[0]["ref"], label="PROJ-1",
                        link=f"{fake.base_url}/browse/PROJ-1")
    assert sent.message_id and sent.message_id.isdigit()
    filed = fake.issues[0]
    assert filed["title"] == "Export the weekly report as CSV"
    assert filed["labels"] == [marker(issue())]
    assert "Asked by Ana on Monday.\nSee https://example.com/report for the old one." in filed["body"]
    description = fake.of("create")[0].json["fields"]["description"]
    nodes = json.dumps(description)
    assert '{"type": "text", "text": "Ana", "marks": [{"type": "strong"}]}' in nodes
    assert '"marks": [{"type": "link", "attrs": {"href": "https://example.com/report"}}]' in nodes
    assert description["content"][0] == {"type": "heading", "attrs": {"level": 3},
                                         "content": [{"type": "text", "text": "What"}]}
    assert [b["type"] for b in description["content"]] == [
        "heading", "paragraph", "heading", "paragraph", "paragraph"]
    assert jira.project == "jira:PROJ"


def test_adf_never_makes_empty_text_nodes() -> None:
    doc = adf([Section("*bold*\n\n\nhttps://a.example/x.\n<@U1> there")])
    text = json.dumps(doc)
    assert '"text": ""' not in text
    assert '"href": "https://a.example/x"' in text  # the full stop is not part of the link
    assert '"text": "@U1"' in text
    linked = adf([Section("*see https://a.example/y*")])["content"][0]["content"]
    assert linked == [
        {"type": "text", "text": "see ", "marks": [{"type": "strong"}]},
        {"type": "text", "text": "https://a.example/y",
         "marks": [{"type": "link", "attrs": {"href": "https://a.example/y"}}, {"type": "strong"}]}]


async def test_cut_create_is_maybe_delivered_then_found_not_filed_twice(
        fake: FakeJira, jira: JiraTracker) -> None:
    fake.cut_next_create = True
    with pytest.raises(MaybeDelivered):
        await jira.send(issue())
    assert len(fake.issues) == 1

    # What the dispatcher does next: ask first, send only if it is not there.
    found = await jira.find_sent(issue())
    assert found == Sent(message_id=fake.issues[0]["ref"], label="PROJ-1",
                         link=f"{fake.base_url}/browse/PROJ-1")
    search = fake.of("search")[-1]
    assert search.path.endswith("/rest/api/3/search/jql")
    assert search.json["jql"] == f'project = "PROJ" AND labels = "{marker(issue())}"'
    assert len(fake.issues) == 1
    assert await jira.find_sent(issue(8)) is None


async def test_found_even_before_search_indexes_it(fake: FakeJira, jira: JiraTracker) -> None:
    """search/jql lags behind writes; reading issues by key past the newest indexed one does not."""
    for n in (1, 2):
        await jira.send(issue(n))
    fake.search_lags = True
    await jira.send(issue(3))  # someone else's, filed meanwhile
    fake.cut_next_create = True
    with pytest.raises(MaybeDelivered):
        await jira.send(issue(7))

    found = await jira.find_sent(issue(7))
    assert found is not None and found.label == "PROJ-4"
    assert [c.path.split("?")[0].rsplit("/", 1)[1] for c in fake.of("issue")] == [
        "PROJ-3", "PROJ-4"]
    fake.calls.clear()
    assert await jira.find_sent(issue(9)) is None  # three free keys in a row: not there
    assert [c.path.split("?")[0].rsplit("/", 1)[1] for c in fake.of("issue")] == [
        "PROJ-3", "PROJ-4", "PROJ-5", "PROJ-6", "PROJ-7"]


# ---- comments and reopening -----------------------------------------------------------------------


async def test_comment_once_per_delivery(fake: FakeJira, jira: JiraTracker) -> None:
    ref = (await jira.send(issue())).message_id
    assert ref
    assert await jira.find_sent(comment(ref)) is None

    sent = await jira.send(comment(ref))
    assert sent.message_id == ref and sent.label == "PROJ-1"
    again = await jira.send(comment(ref))  # a retry after a lost answer
    assert again.message_id == ref
    assert len(fake.issue(ref)["comments"]) == 1
    assert fake.issue(ref)["comments"][0].startswith("Ana says: any news?")
    assert marker(comment(ref)) in fake.issue(ref)["comments"][0]
    assert await jira.find_sent(comment(ref)) == sent

    await jira.send(comment(ref, "Another one", delivery="outbox-51"))
    assert len(fake.issue(ref)["comments"]) == 2


async def test_cut_comment_is_maybe_delivered_then_found(fake: FakeJira, jira: JiraTracker) -> None:
    ref = (await jira.send(issue())).message_id
    assert ref
    fake.cut("comment")
    with pytest.raises(MaybeDelivered):
        await jira.send(comment(ref))
    assert await jira.find_sent(comment(ref)) is not None
    await jira.send(comment(ref))  # even a blind retry does not say it twice
    assert len(fake.issue(ref)["comments"]) == 1


async def test_timeout_after_sending_is_maybe_delivered(fake: FakeJira) -> None:
    env = fake.env()
    jira = JiraTracker(env["JIRA_URL"], env["JIRA_EMAIL"], env["JIRA_API_TOKEN"], "PROJ", timeout=0.2)
    try:
        fake.hang("create", 5)
        with pytest.raises(MaybeDelivered):
            await jira.send(issue())
        assert (await jira.find_sent(issue())) is not None
    finally:
        await jira.close()


async def test_gateway_timeout_on_create_is_maybe_delivered(fake: FakeJira, jira: JiraTracker) -> None:
    fake.fail("create", 504)
    with pytest.raises(MaybeDelivered):
        await jira.send(issue())


async def test_jira_unreachable_retries(fake: FakeJira, jira: JiraTracker) -> None:
    ref = (await jira.send(issue())).message_id
    assert ref
    await fake.stop()  # refused before anything was sent: simply try again later
    with pytest.raises(RetryLater):
        await jira.send(comment(ref))


async def test_reopen_moves_back_and_comments_once(fake: FakeJira, jira: JiraTracker) -> None:
    ref = (await jira.send(issue())).message_id
    assert ref
    fake._close(fake.issue(ref), "Done")  # closed in Jira, without a webhook
    assert fake.issue(ref)["state"] == "closed"
    assert await jira.find_sent(reopen(ref)) is None

    sent = await jira.send(reopen(ref))
    assert sent.message_id == ref
    assert fake.issue(ref)["state"] == "open"  # "To Do" is preferred over "Done"
    assert fake.issue(ref)["resolution"] is None
    assert fake.of("transition")[-1].json == {"transition": {"id": "11"}}
    assert len(fake.issue(ref)["comments"]) == 1

    await jira.send(reopen(ref))  # idempotent: no transition, no second comment
    assert len(fake.of("transition")) == 1
    assert len(fake.issue(ref)["comments"]) == 1
    assert await jira.find_sent(reopen(ref)) == sent


async def test_reopen_without_a_way_back_is_undeliverable(fake: FakeJira, jira: JiraTracker) -> None:
    ref = (await jira.send(issue())).message_id
    assert ref
    fake.reopenable = False
    fake._close(fake.issue(ref), "Done")
    with pytest.raises(Undeliverable, match="Reopen transition"):
        await jira.send(reopen(ref))
    assert fake.issue(ref)["comments"] == []


async def test_reopen_of_an_open_issue_does_nothing(fake: FakeJira, jira: JiraTracker) -> None:
    ref = (await jira.send(issue())).message_id
    assert ref
    await jira.send(reopen(ref, text=""))
    assert fake.of("transition") == [] and fake.of("comment") == []
    assert await jira.find_sent(reopen(ref, text="")) is not None


# ---- errors ------------------------------------------------------------------------------------------


async def test_bad_token_is_undeliverable(fake: FakeJira) -> None:
    tracker = JiraTracker(fake.base_url, fake.email, "wrong", "PROJ")
    try:
        with pytest.raises(Undeliverable, match="JIRA_API_TOKEN"):
            await tracker.send(issue())
    finally:
        await tracker.close()
    assert fake.issues == []


async def test_unknown_project_or_issue_is_undeliverable(fake: FakeJira, jira: JiraTracker) -> None:
    with pytest.raises(Undeliverable, match="JIRA_PROJECT"):
        await jira.send(issue(where=Where("slack", "T1", "jira:NOPE")))
    with pytest.raises(Undeliverable, match="JIRA_PROJECT"):
        await jira.send(comment("99999"))


async def test_rate_limit_waits_without_counting(fake: FakeJira, jira: JiraTracker) -> None:
    fake.fail("create", 429, retry_after="7")
    with pytest.raises(RetryLater) as caught:
        await jira.send(issue())
    assert caught.value.after == 7 and caught.value.counts is False

    fake.fail("create", 403, retry_after="12")  # a 403 that carries rate-limit headers
    with pytest.raises(RetryLater) as caught:
        await jira.send(issue())
    assert caught.value.after == 12 and caught.value.counts is False
    assert fake.issues == []
    assert (await jira.send(issue())).label == "PROJ-1"


async def test_server_error_retries_counted(fake: FakeJira, jira: JiraTracker) -> None:
    fake.fail("create", 500)
    with pytest.raises(RetryLater) as caught:
        await jira.send(issue())
    assert caught.value.counts is True and caught.value.after > 0
    fake.fail("search", 503, retry_after="3")
    with pytest.raises(RetryLater) as caught:
        await jira.find_sent(issue())
    assert caught.value.after == 3


async def test_plain_403_is_undeliverable(fake: FakeJira, jira: JiraTracker) -> None:
    fake.fail("create", 403)
    with pytest.raises(Undeliverable, match="JIRA_EMAIL"):
        await jira.send(issue())


# ---- webhooks: end to end through the fake ----------------------------------------------------------


@pytest.fixture
async def receiver(fake: FakeJira) -> AsyncIterator[list[TrackerChange]]:
    """A stand-in for the bot's webhook endpoint: verify, parse, dedupe by delivery."""
    hook, seen, changes = JiraWebhook(fake.webhook_secret or ""), set(), []

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        if not hook.verify(request.headers, body):
            return web.Response(status=401)
        for change in hook.parse(request.headers, body):
            if change.delivery not in seen:
                seen.add(change.delivery)
                changes.append(change)
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/webhooks/jira", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    fake.webhook_url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/webhooks/jira"  # type: ignore[union-attr]
    yield changes
    await runner.cleanup()


async def test_webhooks_from_the_fake(fake: FakeJira, jira: JiraTracker,
                                      receiver: list[TrackerChange]) -> None:
    sent = await jira.send(issue())
    ref = sent.message_id
    assert ref

    status, first = await fake.start_work(ref)
    assert status == 204
    assert receiver[-1] == TrackerChange(
        project="jira:PROJ", issue=ref, change=STARTED, delivery=first, actor="Dana Developer",
        label="PROJ-1", link=f"{fake.base_url}/browse/PROJ-1")
    assert await fake.redeliver(first) == 204
    assert len(receiver) == 1  # the same delivery id again: one effect

    _, done = await fake.complete(ref)
    assert (receiver[-1].change, receiver[-1].reason, receiver[-1].delivery) == (DONE, "Done", done)
    assert fake.issue(ref)["state"] == "closed"

    await fake.reopen(ref)
    assert receiver[-1].change == REOPENED

    await fake.not_planned(ref, "Won't Do")
    assert (receiver[-1].change, receiver[-1].reason) == (NOT_PLANNED, "Won't Do")

    assert await fake.forge(ref) == 401
    assert len(receiver) == 4


# ---- webhooks: verify and parse ------------------------------------------------------------------------


SECRET = "It's a Secret to Everybody"


def signed(body: bytes, secret: str = SECRET, delivery: str = "d-1") -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature": f"sha256={digest}", "X-Atlassian-Webhook-Identifier": delivery,
            "Content-Type": "application/json"}


def test_verify() -> None:
    hook = JiraWebhook(SECRET)
    body = (PAYLOADS / "issue_done.json").read_bytes()
    assert hook.verify(signed(body), body)
    lowered = {k.lower(): v for k, v in signed(body).items()}
    assert hook.verify(lowered, body)
    assert not hook.verify(signed(body, "another secret"), body)
    assert not hook.verify(signed(body), body.replace(b'"Done"', b'"Fixed"'))
    assert not hook.verify({"X-Atlassian-Webhook-Identifier": "d-1"}, body)
    digest = signed(body)["X-Hub-Signature"].removeprefix("sha256=")
    assert not hook.verify({"X-Hub-Signature": digest}, body)  # no "sha256=" prefix
    assert not hook.verify({"X-Hub-Signature": "sha256=zz"}, body)
    assert not JiraWebhook("").verify(signed(body, ""), body)


EXPECTED: dict[str, tuple[str, str | None] | None] = {
    "issue_started.json": (STARTED, None),
    "issue_assigned.json": (STARTED, None),
    "issue_assigned_while_done.json": None,
    "issue_done.json": (DONE, "Done"),
    "issue_fixed.json": (DONE, "Fixed"),
    "issue_wont_do.json": (NOT_PLANNED, "Won't Do"),
    "issue_duplicate.json": (NOT_PLANNED, "Duplicate"),
    "issue_wont_do_team_managed.json": (NOT_PLANNED, "Won't Do"),
    "issue_reopened.json": (REOPENED, None),
    "issue_reopened_in_progress.json": (REOPENED, None),
    "issue_back_to_todo.json": None,
    "issue_summary_changed.json": None,
    "issue_created.json": None,
    "comment_created.json": None,
}


def test_every_fixture_has_an_expectation() -> None:
    assert sorted(p.name for p in PAYLOADS.glob("*.json")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_parse_fixture(name: str) -> None:
    body = (PAYLOADS / name).read_bytes()
    changes = JiraWebhook(SECRET).parse(signed(body, delivery="d-42"), body)
    expected = EXPECTED[name]
    if expected is None:
        assert changes == []
        return
    assert [(c.change, c.reason) for c in changes] == [expected]
    change = changes[0]
    assert change.project == "jira:PROJ" and change.issue == "10042"
    assert change.delivery == "d-42" and change.label == "PROJ-12"
    assert change.link == "https://acme.atlassian.net/browse/PROJ-12"
    assert change.actor == "Dana Developer"


def test_parse_without_delivery_header_uses_the_changelog() -> None:
    body = (PAYLOADS / "issue_done.json").read_bytes()
    first = JiraWebhook(SECRET).parse({}, body)[0].delivery
    assert first == JiraWebhook(SECRET).parse({}, body)[0].delivery
    assert "10042" in first


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"issue": {}}',
                                  b'{"webhookEvent": "jira:issue_updated"}',
                                  b'{"webhookEvent": "jira:issue_updated", "issue": {"id": "1"},'
                                  b' "changelog": {"items": "status"}}'])
def test_parse_malformed(body: bytes) -> None:
    with pytest.raises(ValueError):
        JiraWebhook(SECRET).parse(signed(body), body)
