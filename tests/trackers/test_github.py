"""The GitHub tracker (real githubkit client) against the fake GitHub, and its webhook reader
against hand-written payloads in the documented shapes."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from githubkit import GitHub, TokenAuthStrategy

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
from adapters.trackers.github import GitHubTracker, GitHubWebhook, render, sign
from bot.model import Outgoing, Section, Where
from bot.ports import MaybeDelivered, RetryLater, Sent, Undeliverable
from tests.trackers.fake_github import FakeGitHub

PAYLOADS = Path(__file__).parent / "payloads" / "github"
SECRET = "github-webhook-secret"
WHERE = Where("slack", "T1", "github:acme/app")


def issue_message(number: int = 7, **changes: object) -> Outgoing:
    fields: dict[str, object] = dict(
        where=WHERE, text="Export the monthly report as CSV",
        sections=(Section("The finance team needs *CSV* exports.\nSee https://example.com/spec_v2 ok",
                          "What"),
                  Section("Asked by Dana")),
        key=f"request:{number}", surface=ISSUE, delivery_id="outbox-42")
    fields.update(changes)
    return Outgoing(**fields)  # type: ignore[arg-type]


def comment_message(issue: str, delivery: str = "outbox-50", text: str = "Any *news*?",
                    surface: str = COMMENT) -> Outgoing:
    return Outgoing(where=WHERE, text=text, surface=surface, issue=issue, delivery_id=delivery)


@pytest.fixture
async def fake() -> AsyncIterator[FakeGitHub]:
    fake = FakeGitHub()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def make() -> AsyncIterator[Callable[..., GitHubTracker]]:
    """GitHubTracker(...), closed after the test."""
    made: list[GitHubTracker] = []

    def build(*args: Any, **kwargs: Any) -> GitHubTracker:
        made.append(GitHubTracker(*args, **kwargs))
        return made[-1]
    yield build
    for tracker in made:
        await tracker.close()


@pytest.fixture
async def tracker(fake: FakeGitHub, make: Callable[..., GitHubTracker]) -> GitHubTracker:
    env = fake.env()
    return make(env["GITHUB_TOKEN"], env["GITHUB_REPOSITORY"], env["GITHUB_API_URL"])


# ---- effects ---------------------------------------------------------------------------------


async def test_create_files_one_issue_with_the_body_rendered_and_the_marker(
        fake: FakeGitHub, tracker: GitHubTracker) -> None:
    message = issue_message()
    sent = await tracker.send(message)
    assert sent == Sent(message_id="acme/app#1", label="acme/app#1",
                        link="https://github.com/acme/app/issues/1")
    [issue] = fake.issues
    assert issue["ref"] == sent.message_id and issue["title"] == message.text
    body = issue["body"]
    assert "### What" in body and "**CSV**" in body and "<https://example.com/spec_v2>" in body
    assert "Asked by Dana" in body
    assert body.endswith(f"<!-- {marker(message)} -->")
    assert tracker.project == "github:acme/app"


async def test_a_repeated_issue_is_found_not_filed_again(fake: FakeGitHub,
                                                         tracker: GitHubTracker) -> None:
    first = await tracker.send(issue_message())
    again = await tracker.send(issue_message())
    other = await tracker.send(issue_message(8))
    assert again == first and other.message_id == "acme/app#2"
    assert len(fake.issues) == 2
    listing = fake.of("list")[0]
    assert listing.query == {"state": "all", "sort": "created", "direction": "desc", "per_page": "100"}


async def test_a_cut_connection_during_create_is_maybe_delivered_then_found(
        fake: FakeGitHub, tracker: GitHubTracker) -> None:
    fake.cut_next_create = True
    with pytest.raises(MaybeDelivered):
        await tracker.send(issue_message())
    assert len(fake.issues) == 1  # GitHub did make it
    found = await tracker.find_sent(issue_message())
    assert found is not None and found.message_id == "acme/app#1"
    assert found.label == "acme/app#1"
    assert await tracker.send(issue_message()) == found
    assert len(fake.issues) == 1 and len(fake.of("create")) == 1
    assert await tracker.find_sent(issue_message(9)) is None


async def test_an_issue_older_than_the_newest_hundred_is_found_by_search(
        fake: FakeGitHub, tracker: GitHubTracker) -> None:
    fake.cut_next_create = True
    with pytest.raises(MaybeDelivered):
        await tracker.send(issue_message())
    for n in range(120):  # a busy repository while the retry waited
        await tracker.send(issue_message(100 + n))
    assert len(fake.issues) == 121
    found = await tracker.find_sent(issue_message())
    assert found is not None and found.message_id == "acme/app#1"
    assert await tracker.send(issue_message()) == found and len(fake.issues) == 121


async def test_a_timeout_during_create_is_maybe_delivered(fake: FakeGitHub, make: Any) -> None:
    tracker = make(fake.token, fake.repository, fake.url, timeout=0.3)
    fake.hang_next_create = 2.0
    with pytest.raises(MaybeDelivered):
        await tracker.send(issue_message())
    assert len(fake.issues) == 1
    assert (await tracker.send(issue_message())).message_id == "acme/app#1"
    assert len(fake.issues) == 1


async def test_another_teams_request_with_the_same_number_is_another_issue(
        fake: FakeGitHub, tracker: GitHubTracker) -> None:
    await tracker.send(issue_message())
    await tracker.send(issue_message(where=Where("slack", "T2", "github:acme/app")))
    assert len(fake.issues) == 2


async def test_comment_is_posted_once(fake: FakeGitHub, tracker: GitHubTracker) -> None:
    sent = await tracker.send(issue_message())
    message = comment_message(sent.message_id or "")
    assert await tracker.find_sent(message) is None
    first = await tracker.send(message)
    assert first.message_id == "acme/app#1" and first.link and "#issuecomment-" in first.link
    assert await tracker.send(message) == first  # a retry finds it
    assert await tracker.find_sent(message) == first
    [comment] = fake.issues[0]["comments"]
    assert comment.startswith("Any **news**?") and comment.endswith(f"<!-- {marker(message)} -->")
    await tracker.send(comment_message(sent.message_id or "", delivery="outbox-51"))
    assert len(fake.issues[0]["comments"]) == 2


async def test_reopen_reopens_and_says_its_text_once(fake: FakeGitHub,
                                                     tracker: GitHubTracker) -> None:
    sent = await tracker.send(issue_message())
    fake.issues[0]["state"] = "closed"
    message = comment_message(sent.message_id or "", "outbox-60", "Reopened: it happens again",
                              surface=REOPEN)
    await tracker.send(message)
    assert fake.issues[0]["state"] == "open"
    assert fake.of("update")[0].json == {"state": "open", "state_reason": "reopened"}
    await tracker.send(message)  # the retry reopens (a no-op) but does not say it twice
    assert len(fake.issues[0]["comments"]) == 1
    silent = comment_message(sent.message_id or "", "outbox-61", "", surface=REOPEN)
    assert (await tracker.send(silent)).message_id == "acme/app#1"
    assert len(fake.issues[0]["comments"]) == 1


async def test_the_repository_name_is_case_insensitive(fake: FakeGitHub, make: Any) -> None:
    tracker = make(fake.token, "Acme/App", fake.url)
    sent = await tracker.send(issue_message())
    assert sent.message_id == "acme/app#1" and sent.label == "Acme/App#1"
    assert tracker.project == "github:acme/app"
    assert (await tracker.send(comment_message("acme/app#1"))).label == "Acme/App#1"


async def test_a_bad_token_is_undeliverable_naming_the_setting(fake: FakeGitHub, make: Any) -> None:
    tracker = make("wrong", fake.repository, fake.url)
    with pytest.raises(Undeliverable, match="GITHUB_TOKEN"):
        await tracker.send(issue_message())


async def test_an_unknown_repository_or_issue_is_undeliverable(
        fake: FakeGitHub, tracker: GitHubTracker, make: Any) -> None:
    with pytest.raises(Undeliverable, match="GITHUB_REPOSITORY"):
        await make(fake.token, "acme/other", fake.url).send(issue_message())
    with pytest.raises(Undeliverable):
        await tracker.send(comment_message("acme/app#99"))
    with pytest.raises(Undeliverable):
        await tracker.send(comment_message("not a reference"))


@pytest.mark.parametrize("status", [410, 422])
async def test_refusals_are_undeliverable(fake: FakeGitHub, tracker: GitHubTracker,
                                          status: int) -> None:
    fake.fail("create", status)
    with pytest.raises(Undeliverable):
        await tracker.send(issue_message())


async def test_a_rate_limit_waits_without_counting(fake: FakeGitHub, tracker: GitHubTracker) -> None:
    fake.fail("create", 429, retry_after="17")
    with pytest.raises(RetryLater) as caught:
        await tracker.send(issue_message())
    assert caught.value.after == 17 and caught.value.counts is False
    fake.fail("list", 429)  # no Retry-After: until x-ratelimit-reset, about a minute away
    with pytest.raises(RetryLater) as caught:
        await tracker.send(issue_message())
    assert 30 < caught.value.after <= 61 and caught.value.counts is False
    fake.fail("list", 403, retry_after="5")  # a secondary rate limit
    with pytest.raises(RetryLater) as caught:
        await tracker.send(issue_message())
    assert caught.value.after == 5 and caught.value.counts is False
    fake.fail("list", 429, retry_after=formatdate(time.time() + 120, usegmt=True))
    with pytest.raises(RetryLater) as caught:
        await tracker.send(issue_message())
    assert 100 < caught.value.after <= 121 and caught.value.counts is False
    assert len(fake.issues) == 0
    await tracker.send(issue_message())
    assert len(fake.issues) == 1


async def test_a_plain_403_is_a_permission_problem(fake: FakeGitHub, tracker: GitHubTracker) -> None:
    fake.fail("create", 403)
    with pytest.raises(Undeliverable, match="permission"):
        await tracker.send(issue_message())


async def test_a_server_error_is_retried_later(fake: FakeGitHub, tracker: GitHubTracker) -> None:
    fake.fail("create", 500)
    with pytest.raises(RetryLater) as caught:
        await tracker.send(issue_message())
    assert caught.value.counts is True and caught.value.after > 0
    fake.fail("comments", 502)
    with pytest.raises(RetryLater):
        await tracker.send(comment_message("acme/app#1"))


async def test_an_unreachable_github_is_retried_later(fake: FakeGitHub, make: Any) -> None:
    url = fake.url
    await fake.stop()
    with pytest.raises(RetryLater):
        await make(fake.token, fake.repository, url).send(issue_message())


async def test_the_fakes_answers_parse_as_githubs_own_models(fake: FakeGitHub) -> None:
    github = GitHub(TokenAuthStrategy(fake.token), base_url=fake.url + "/", auto_retry=False,
                    http_cache=False)
    issues = github.rest.issues
    assert (await issues.async_create("acme", "app", title="t", body="b")).parsed_data.number == 1
    assert (await issues.async_list_for_repo("acme", "app", state="all")).parsed_data[0].number == 1
    assert (await issues.async_create_comment("acme", "app", 1, body="c")).parsed_data.body == "c"
    assert (await issues.async_list_comments("acme", "app", 1)).parsed_data[0].body == "c"
    assert (await issues.async_update("acme", "app", 1, state="open")).parsed_data.state == "open"


def test_rendering_escapes_what_people_typed() -> None:
    markdown = render((Section("<!-- x --> @dana *ok* _no_ [a](b)\n# not a heading"),))
    assert "<!--" not in markdown and "&lt;!--" in markdown
    assert "@\u200bdana" in markdown and "**ok**" in markdown
    assert "**see <https://x.example/a_b>**" in render((Section("*see https://x.example/a_b*"),))
    assert "\\_no\\_" in markdown and "\\[a\\](b)" in markdown and "\n\\# not" in markdown


# ---- webhooks --------------------------------------------------------------------------------


def headers_for(event: str, body: bytes, secret: str = SECRET,
                delivery: str = "72d3162e-cc78-11e3-81ab-4c9367dc0958") -> dict[str, str]:
    return {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery,
            "X-Hub-Signature-256": sign(secret, body), "Content-Type": "application/json"}


def fixture(name: str) -> tuple[dict[str, str], bytes]:
    body = (PAYLOADS / name).read_bytes()
    return headers_for(name.split(".")[0], body), body


def test_verify_accepts_only_the_right_signature() -> None:
    webhook = GitHubWebhook(SECRET)
    headers, body = fixture("issues.closed-completed.json")
    assert webhook.verify(headers, body)
    assert webhook.verify({k.lower(): v for k, v in headers.items()}, body)
    assert not GitHubWebhook("another secret").verify(headers, body)
    assert not webhook.verify(headers, body.replace(b"completed", b"not_planned"))
    assert not webhook.verify({k: v for k, v in headers.items() if k != "X-Hub-Signature-256"}, body)
    assert not webhook.verify({**headers, "X-Hub-Signature-256": "sha256=zz"}, body)
    assert not webhook.verify({**headers, "X-Hub-Signature-256": sign(SECRET, body)[7:]}, body)
    assert not GitHubWebhook("").verify(headers_for("issues", body, secret=""), body)


EXPECTED = {
    "issues.assigned.json": (STARTED, None),
    "issues.closed-completed.json": (DONE, None),
    "issues.closed-null-reason.json": (DONE, None),
    "issues.closed-not-planned.json": (NOT_PLANNED, None),  # the core says "not planned"
    "issues.closed-duplicate.json": (NOT_PLANNED, "a duplicate"),
    "issues.reopened.json": (REOPENED, None),
}


@pytest.mark.parametrize("name", sorted(p.name for p in PAYLOADS.glob("*.json")))
def test_parse_each_payload(name: str) -> None:
    webhook = GitHubWebhook(SECRET)
    headers, body = fixture(name)
    assert webhook.verify(headers, body)
    changes = webhook.parse(headers, body)
    if name not in EXPECTED:
        assert changes == []
        return
    change, reason = EXPECTED[name]
    assert changes == [TrackerChange(
        project="github:acme/app", issue="acme/app#12", change=change,
        delivery="72d3162e-cc78-11e3-81ab-4c9367dc0958", actor="octocat", reason=reason,
        label="Acme/App#12", link="https://github.com/Acme/App/issues/12")]


def test_assigning_a_closed_issue_starts_nothing() -> None:
    data = json.loads((PAYLOADS / "issues.assigned.json").read_text())
    data["issue"]["state"] = "closed"
    body = json.dumps(data).encode()
    assert GitHubWebhook(SECRET).parse(headers_for("issues", body), body) == []


def test_a_closing_comment_in_the_payload_is_part_of_the_reason() -> None:
    data = json.loads((PAYLOADS / "issues.closed-not-planned.json").read_text())
    data["comment"] = {"body": "Out of scope this year"}
    body = json.dumps(data).encode()
    [change] = GitHubWebhook(SECRET).parse(headers_for("issues", body), body)
    assert change.reason == "Out of scope this year"


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b"\xff\xfe",
                                  b'{"action": "closed"}', b'{"action": "closed", "issue": {},'
                                  b' "repository": {"full_name": "acme/app"}}'])
def test_a_malformed_body_is_a_value_error(body: bytes) -> None:
    with pytest.raises(ValueError):
        GitHubWebhook(SECRET).parse(headers_for("issues", body), body)


def test_an_issues_event_without_a_delivery_id_is_a_value_error() -> None:
    headers, body = fixture("issues.closed-completed.json")
    del headers["X-GitHub-Delivery"]
    with pytest.raises(ValueError):
        GitHubWebhook(SECRET).parse(headers, body)


# ---- the fake's webhooks, through a real HTTP endpoint --------------------------------------


async def test_the_fakes_webhooks_are_signed_and_read_back(fake: FakeGitHub,
                                                           tracker: GitHubTracker) -> None:
    webhook = GitHubWebhook(fake.webhook_secret or "")
    seen: list[TrackerChange] = []
    refused: list[bytes] = []

    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        if not webhook.verify(request.headers, body):
            refused.append(body)
            return web.Response(status=401)
        seen.extend(webhook.parse(request.headers, body))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/webhooks/github", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    fake.webhook_url = f"http://127.0.0.1:{port}/webhooks/github"
    try:
        ref = (await tracker.send(issue_message())).message_id or ""
        status, started = await fake.start_work(ref)
        assert status == 204 and fake.issue(ref)["state"] == "in_progress"
        assert (await fake.complete(ref))[0] == 204
        assert await fake.redeliver(started) == 204
        assert await fake.forge(ref) == 401 and len(refused) == 1
        await fake.reopen(ref)
        await fake.not_planned(ref, "We will not build this")
        assert fake.issue(ref)["comments"] == ["We will not build this"]
        assert [(c.change, c.issue) for c in seen] == [
            (STARTED, ref), (DONE, ref), (STARTED, ref), (REOPENED, ref), (NOT_PLANNED, ref)]
        assert seen[0].delivery == seen[2].delivery == started
        assert seen[-1].reason is None
        assert fake.env()["GITHUB_WEBHOOK_SECRET"] == fake.webhook_secret
    finally:
        await runner.cleanup()
