"""The Linear adapter against the fake Linear: filing exactly once, comments, reopening, the
outbox's error words, and webhooks verified and read."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from adapters.trackers import linear
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
from adapters.trackers.linear import LinearTracker, LinearWebhook, render
from bot.model import Outgoing, Section, Where
from bot.ports import MaybeDelivered, RetryLater, Sent, Undeliverable
from tests.trackers.fake_linear import FakeLinear

PAYLOADS = Path(__file__).parent / "payloads" / "linear"
SECRET = "lin_wh_5ecret"
STAMP = 1796637600000  # the fixtures' webhookTimestamp (ms)
WHERE = Where("slack", "T1", "linear:ENG")


@pytest.fixture
async def fake() -> AsyncIterator[FakeLinear]:
    fake = FakeLinear()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
def tracker(fake: FakeLinear) -> LinearTracker:
    env = fake.env()
    return LinearTracker(env["LINEAR_API_KEY"], env["LINEAR_TEAM"], env["LINEAR_API_URL"])


def issue_message(number: int = 7, delivery: str = "outbox-1") -> Outgoing:
    return Outgoing(
        where=WHERE, text="Export the quarterly report as CSV",
        sections=(Section("Finance copies it *by hand* every quarter.\nSee https://x.example/r",
                          title="The problem"),
                  Section("Asked by <@U1>.")),
        key=f"request:{number}", surface=ISSUE, delivery_id=delivery)


def comment_message(issue: str, text: str = "*Ada* says it is urgent", delivery: str = "outbox-9",
                    surface: str = COMMENT) -> Outgoing:
    return Outgoing(where=WHERE, text=text, surface=surface, issue=issue, delivery_id=delivery)


# ---- filing -----------------------------------------------------------------------------------


async def test_create_renders_markdown_with_the_marker(fake: FakeLinear, tracker: LinearTracker):
    message = issue_message()
    sent = await tracker.send(message)
    [issue] = fake.issues
    assert sent == Sent(message_id=issue["ref"], label="ENG-1", link=issue["link"])
    assert issue["title"] == "Export the quarterly report as CSV"
    assert "### The problem" in issue["description"]
    assert "**by hand**" in issue["description"]
    assert "https://x.example/r" in issue["description"]
    assert "@U1" in issue["description"] and "<@" not in issue["description"]
    assert issue["description"].rstrip().endswith(marker(message))
    assert "by hand" in issue["body"] and "**" not in issue["body"]
    assert fake.of("IssueCreate")[0].data["input"]["teamId"] == fake.team_id
    assert all(c.authorization == fake.api_key for c in fake.calls)  # bare, no "Bearer"


async def test_a_lower_case_team_key_is_the_webhooks_project(fake: FakeLinear):
    tracker = LinearTracker(fake.api_key, "eng", fake.env()["LINEAR_API_URL"])
    assert tracker.project == "linear:ENG" and tracker.kind == "linear"
    assert (await tracker.send(issue_message())).label == "ENG-1"


async def test_the_team_is_resolved_once(fake: FakeLinear, tracker: LinearTracker):
    await tracker.send(issue_message(1))
    await tracker.send(issue_message(2))
    assert len(fake.of("TrackerTeamByKey")) == 1
    assert len(fake.issues) == 2


async def test_a_team_given_by_id(fake: FakeLinear):
    tracker = LinearTracker(fake.api_key, fake.team_id, fake.env()["LINEAR_API_URL"])
    await tracker.send(issue_message())
    assert fake.of("TrackerTeamById") and len(fake.issues) == 1


async def test_an_unknown_team_is_undeliverable(fake: FakeLinear):
    tracker = LinearTracker(fake.api_key, "NOPE", fake.env()["LINEAR_API_URL"])
    with pytest.raises(Undeliverable, match="LINEAR_TEAM"):
        await tracker.send(issue_message())


async def test_cut_during_create_is_found_and_not_filed_twice(fake: FakeLinear,
                                                              tracker: LinearTracker):
    message = issue_message()
    fake.cut_next_create = True
    with pytest.raises(MaybeDelivered):
        await tracker.send(message)
    assert len(fake.issues) == 1  # Linear did create it
    found = await tracker.find_sent(message)
    assert found == Sent(message_id=fake.issues[0]["ref"], label="ENG-1",
                         link=fake.issues[0]["link"])
    assert await tracker.send(message) == found  # a plain retry finds it too
    assert len(fake.issues) == 1 and len(fake.of("IssueCreate")) == 1


async def test_a_timeout_during_create_may_have_filed(fake: FakeLinear, tracker: LinearTracker,
                                                      monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(linear, "TIMEOUT", 0.2)
    fake.hang_next_create = 0.5
    message = issue_message()
    with pytest.raises(MaybeDelivered):
        await tracker.send(message)
    assert (await tracker.find_sent(message)).message_id == fake.issues[0]["ref"]


async def test_find_sent_tells_request_7_from_request_70(fake: FakeLinear,
                                                         tracker: LinearTracker):
    await tracker.send(issue_message(70))
    assert await tracker.find_sent(issue_message(7)) is None
    sent = await tracker.send(issue_message(7))
    assert len(fake.issues) == 2
    assert (await tracker.find_sent(issue_message(7))) == sent


async def test_another_team_of_the_bot_files_its_own_issue(fake: FakeLinear,
                                                            tracker: LinearTracker):
    await tracker.send(issue_message(7))
    other = Outgoing(where=Where("slack", "T2", "linear:ENG"), text="Theirs", key="request:7",
                     surface=ISSUE)
    await tracker.send(other)
    assert len(fake.issues) == 2


# ---- comments and reopening -----------------------------------------------------------------


async def test_comment_once(fake: FakeLinear, tracker: LinearTracker):
    issue = await tracker.send(issue_message())
    message = comment_message(issue.message_id or "")
    assert await tracker.find_sent(message) is None
    sent = await tracker.send(message)
    assert sent.label == "ENG-1" and sent.message_id
    assert fake.issues[0]["comments"] == [f"Ada says it is urgent\n\n{marker(message)}"]
    assert await tracker.find_sent(message) == sent
    assert await tracker.send(message) == sent  # a resend does not comment twice
    assert len(fake.issues[0]["comments"]) == 1
    await tracker.send(comment_message(issue.message_id or "", "again", delivery="outbox-10"))
    assert len(fake.issues[0]["comments"]) == 2


async def test_comment_cut_off_is_found(fake: FakeLinear, tracker: LinearTracker):
    issue = await tracker.send(issue_message())
    fake.fail("CommentCreate", 502)
    message = comment_message(issue.message_id or "")
    with pytest.raises(RetryLater):
        await tracker.send(message)
    assert fake.issues[0]["comments"] == []
    await tracker.send(message)
    assert len(fake.issues[0]["comments"]) == 1


async def test_comment_on_a_missing_issue_is_undeliverable(tracker: LinearTracker):
    with pytest.raises(Undeliverable, match="not found"):
        await tracker.send(comment_message("0b7e1f2a-0000-4000-8000-000000000000"))


async def test_reopen_moves_a_closed_issue_to_the_first_started_state(fake: FakeLinear,
                                                                      tracker: LinearTracker):
    fake.webhook_url = None
    issue = await tracker.send(issue_message())
    ref = issue.message_id or ""
    done = next(s for s in fake.states if s["type"] == "completed")
    fake._set_state(fake.issue(ref), done)
    message = comment_message(ref, "Reopened: it came back", delivery="outbox-11",
                              surface=REOPEN)
    assert await tracker.find_sent(message) is None
    assert await tracker.send(message) == issue
    assert fake.issue(ref)["state"] == "in_progress"
    assert fake.issue(ref)["state_id"] == next(s["id"] for s in fake.states
                                               if s["name"] == "In Progress")
    assert len(fake.issue(ref)["comments"]) == 1
    assert await tracker.find_sent(message) == Sent(
        message_id=fake.issue(ref)["comment_nodes"][0]["id"], label="ENG-1",
        link=fake.issue(ref)["comment_nodes"][0]["url"])
    await tracker.send(message)  # again: no second comment, no second move
    assert len(fake.issue(ref)["comments"]) == 1
    assert len(fake.of("IssueReopen")) == 1


async def test_reopen_leaves_an_open_issue_where_it_is(fake: FakeLinear, tracker: LinearTracker):
    issue = await tracker.send(issue_message())
    message = comment_message(issue.message_id or "", "", delivery="outbox-12", surface=REOPEN)
    assert await tracker.find_sent(message) == issue  # open already: nothing to do
    assert await tracker.send(message) == issue
    assert fake.issues[0]["state"] == "open" and not fake.of("IssueReopen")
    assert fake.issues[0]["comments"] == []


async def test_reopen_falls_back_to_unstarted(fake: FakeLinear, tracker: LinearTracker):
    fake.states[:] = [s for s in fake.states if s["type"] != "started"]
    issue = await tracker.send(issue_message())
    ref = issue.message_id or ""
    fake._set_state(fake.issue(ref), next(s for s in fake.states if s["type"] == "canceled"))
    await tracker.send(comment_message(ref, "", surface=REOPEN))
    assert fake.issue(ref)["state"] == "open"


# ---- errors ----------------------------------------------------------------------------------


async def test_a_wrong_api_key_is_undeliverable(fake: FakeLinear):
    tracker = LinearTracker("lin_api_wrong", "ENG", fake.env()["LINEAR_API_URL"])
    with pytest.raises(Undeliverable, match="LINEAR_API_KEY"):
        await tracker.send(issue_message())
    assert fake.calls[0].status == 401 and not fake.issues


async def test_a_bearer_prefixed_key_is_refused(fake: FakeLinear):
    tracker = LinearTracker(f"Bearer {fake.api_key}", "ENG", fake.env()["LINEAR_API_URL"])
    with pytest.raises(Undeliverable):
        await tracker.send(issue_message())


async def test_rate_limit_waits_as_told_without_counting(fake: FakeLinear,
                                                         tracker: LinearTracker):
    fake.fail("IssueCreate", 429, retry_after="42")
    with pytest.raises(RetryLater) as caught:
        await tracker.send(issue_message())
    assert caught.value.after == 42 and caught.value.counts is False
    assert not fake.issues
    await tracker.send(issue_message())
    assert len(fake.issues) == 1


async def test_rate_limit_reset_header_in_milliseconds(fake: FakeLinear, tracker: LinearTracker):
    fake.fail("*", 429)
    with pytest.raises(RetryLater) as caught:
        await tracker.send(issue_message())
    assert 1 <= caught.value.after <= 31 and caught.value.counts is False


async def test_rate_limit_as_a_graphql_error_with_400(fake: FakeLinear, tracker: LinearTracker):
    await tracker.send(issue_message(1))  # team resolved
    original = fake._op_IssuesByMarker
    fake._op_IssuesByMarker = lambda v: {  # type: ignore[method-assign]
        "errors": [{"message": "Rate limit exceeded", "extensions": {"code": "RATELIMITED"}}]}
    with pytest.raises(RetryLater) as caught:
        await tracker.send(issue_message(2))
    assert caught.value.counts is False
    fake._op_IssuesByMarker = original  # type: ignore[method-assign]


async def test_server_error_retries_later(fake: FakeLinear, tracker: LinearTracker):
    fake.fail("IssueCreate", 500)
    with pytest.raises(RetryLater) as caught:
        await tracker.send(issue_message())
    assert caught.value.counts is True and caught.value.after > 0
    assert not fake.issues


@pytest.mark.parametrize("status", [401, 403, 404, 410, 422])
async def test_refusals_are_undeliverable(fake: FakeLinear, tracker: LinearTracker, status: int):
    fake.fail("IssueCreate", status)
    with pytest.raises(Undeliverable, match="LINEAR_"):
        await tracker.send(issue_message())


async def test_an_unreachable_linear_retries_later(fake: FakeLinear):
    url = fake.env()["LINEAR_API_URL"]
    await fake.stop()
    tracker = LinearTracker(fake.api_key, "ENG", url)
    with pytest.raises(RetryLater):
        await tracker.send(issue_message())


async def test_an_unknown_surface_is_undeliverable(tracker: LinearTracker):
    with pytest.raises(Undeliverable):
        await tracker.send(Outgoing(where=WHERE, text="hi"))


# ---- webhooks: the fake's deliveries end to end ------------------------------------------------


@pytest.fixture
async def receiver(fake: FakeLinear) -> AsyncIterator[list[Any]]:
    """A webhook endpoint like the bot's: verify, then parse; 401 for a bad signature."""
    fake.webhook_secret = SECRET
    hook = LinearWebhook(SECRET)
    got: list[Any] = []

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        if not hook.verify(request.headers, body):
            got.append("refused")
            return web.Response(status=401)
        got.extend(hook.parse(request.headers, body))
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/hooks/linear", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    fake.webhook_url = f"http://127.0.0.1:{port}/hooks/linear"
    yield got
    await runner.cleanup()


async def test_fake_webhooks_round_trip(fake: FakeLinear, tracker: LinearTracker,
                                        receiver: list[Any]):
    sent = await tracker.send(issue_message())
    ref = sent.message_id or ""
    status, started = await fake.start_work(ref)
    assert status == 200
    status, done = await fake.complete(ref)
    status, reopened = await fake.reopen(ref)
    status, cancelled = await fake.not_planned(ref, "Won't do")
    assert [(c.change, c.delivery, c.reason) for c in receiver] == [
        (STARTED, started, None), (DONE, done, None), (REOPENED, reopened, None),
        (NOT_PLANNED, cancelled, "Won't do")]
    assert all(c.issue == ref and c.project == "linear:ENG" and c.label == "ENG-1"
               and c.link == sent.link and c.actor == "Ada Lovelace" for c in receiver)
    assert await fake.redeliver(done) == 200
    assert receiver[-1].delivery == done and receiver[-1].change == DONE
    assert await fake.forge(ref) == 401 and receiver[-1] == "refused"
    assert fake.issue(ref)["state"] == "closed"


async def test_fake_assignment_starts(fake: FakeLinear, tracker: LinearTracker,
                                      receiver: list[Any]):
    ref = (await tracker.send(issue_message())).message_id or ""
    status, delivery = await fake.assign(ref)
    assert status == 200 and receiver[0].change == STARTED and receiver[0].delivery == delivery


# ---- webhooks: verify -------------------------------------------------------------------------


def fixture(name: str) -> bytes:
    return (PAYLOADS / f"{name}.json").read_bytes()


def signed(body: bytes, secret: str = SECRET, delivery: str = "d-1") -> dict[str, str]:
    return {"Linear-Signature": hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(),
            "Linear-Delivery": delivery, "Linear-Event": "Issue",
            "Content-Type": "application/json; charset=utf-8"}


def hook(now_ms: int = STAMP) -> LinearWebhook:
    return LinearWebhook(SECRET, clock=lambda: now_ms / 1000)


def test_verify_a_good_delivery():
    body = fixture("issue_done")
    assert hook().verify(signed(body), body)
    assert hook().verify({k.lower(): v for k, v in signed(body).items()}, body)


def test_verify_refuses_a_wrong_secret_a_tampered_body_and_no_signature():
    body = fixture("issue_done")
    assert not hook().verify(signed(body, secret="other"), body)
    assert not hook().verify(signed(body), body.replace(b"ENG-42", b"ENG-43"))
    headers = signed(body)
    del headers["Linear-Signature"]
    assert not hook().verify(headers, body)
    assert not hook().verify({**signed(body), "Linear-Signature": "zz"}, body)
    assert not LinearWebhook("").verify(signed(body, secret=""), body)


def test_verify_refuses_a_stale_or_future_timestamp():
    body = fixture("issue_done")
    assert hook(STAMP + 59_000).verify(signed(body), body)
    assert not hook(STAMP + 61_000).verify(signed(body), body)
    assert not hook(STAMP - 61_000).verify(signed(body), body)
    undated = json.dumps({k: v for k, v in json.loads(body).items()
                          if k != "webhookTimestamp"}).encode()
    assert not hook().verify(signed(undated), undated)


def test_verify_never_raises_on_garbage():
    assert not hook().verify(signed(b"\xff\x00"), b"\xff\x00")
    assert not hook().verify(signed(b"[1]"), b"[1]")


# ---- webhooks: parse each fixture ---------------------------------------------------------------

ISSUE_ID = "9cfb482a-81e3-4154-b5b9-2c805e70a02d"
LINK = "https://linear.app/acme/issue/eng-42/export-the-quarterly-report-as-csv"


def change(kind: str, reason: str | None = None, delivery: str = "d-1") -> TrackerChange:
    return TrackerChange(project="linear:ENG", issue=ISSUE_ID, change=kind, delivery=delivery,
                         actor="Grace Hopper", reason=reason, label="ENG-42", link=LINK)


@pytest.mark.parametrize(("name", "expected"), [
    ("issue_started", [change(STARTED)]),
    ("issue_done", [change(DONE)]),
    ("issue_canceled_duplicate", [change(NOT_PLANNED, "Duplicate")]),
    ("issue_reopened", [change(REOPENED)]),
    ("issue_assigned", [change(STARTED)]),
    ("issue_assigned_when_done", []),
    ("issue_priority_changed", []),
    ("issue_created", []),
    ("comment_created", []),
])
def test_parse_fixtures(name: str, expected: list[TrackerChange]):
    body = fixture(name)
    assert hook().verify(signed(body), body)
    assert hook().parse(signed(body), body) == expected


def test_parse_uses_the_delivery_header():
    body = fixture("issue_done")
    [got] = hook().parse(signed(body, delivery="6b1c-delivery"), body)
    assert got.delivery == "6b1c-delivery"


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"type": "Issue"}', b"\xff",
                                  b'{"type": "Issue", "action": "update", "data": "x",'
                                  b' "updatedFrom": {"stateId": "s"}}'])
def test_parse_refuses_a_malformed_body(body: bytes):
    with pytest.raises(ValueError):
        hook().parse(signed(body), body)


def test_render_is_markdown():
    text = render(issue_message())
    assert text.startswith("### The problem\n\nFinance copies it **by hand** every quarter.\n")
    assert "**" not in render(Outgoing(where=WHERE, text="t", sections=(Section("2 * 3 * 4"),)))
