"""A request's whole trip through each tracker, end to end: the real bot (aiohttp server,
slack-bolt or botbuilder, SQLite or PostgreSQL) with the real tracker client (githubkit, plain
aiohttp for Jira, gql for Linear) against a fake tracker on 127.0.0.1 that sends signed
webhooks back.

request -> discovery -> accept -> one issue carrying the problem; the tracker closes it as done
-> the requester is asked, quoting their success criterion; `notyet` -> a comment and a reopen;
a forged webhook -> 401 and nothing changes; a redelivered one -> nothing more. A connection cut
during the create, and a restart after it, still leave one issue; two replicas receiving the
same delivery ask one question."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest

from adapters.compose import App, open_app
from adapters.config import Settings, tracker_settings
from adapters.server import serving
from bot.model import Request, RequestState, Team
from tests.conftest import postgres_url, reset_postgres
from tests.slack.conftest import SlackClient, make_producer, payload, slack_settings
from tests.slack.fake_slack import FakeSlack
from tests.teams.activities import PAT, SAM
from tests.teams.test_loop import setup_team

T1 = Team("slack", "T1")
FAKES = {"github": "tests.trackers.fake_github:FakeGitHub",
         "jira": "tests.trackers.fake_jira:FakeJira",
         "linear": "tests.trackers.fake_linear:FakeLinear"}


def fake_class(kind: str) -> Any:
    module, _, name = FAKES[kind].partition(":")
    return getattr(importlib.import_module(module), name)


@pytest.fixture(params=sorted(FAKES))
async def tracker(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    fake = fake_class(request.param)()
    await fake.start()
    fake.kind = request.param
    yield fake
    await fake.stop()


@pytest.fixture
async def database(database_url: str) -> str:
    if not database_url.startswith("sqlite"):
        await reset_postgres(database_url)
    return database_url


def settings_for(tmp_path: Path, fake_slack: FakeSlack, tracker: Any, database: str) -> Settings:
    return slack_settings(tmp_path, fake_slack, database_url=database,
                          **tracker_settings(tracker.env()))


async def running(stack: AsyncExitStack, settings: Settings, fake_slack: FakeSlack,
                  tracker: Any) -> SlackClient:
    app = await stack.enter_async_context(open_app(settings, auto_migrate=True))
    server = await stack.enter_async_context(serving(app, host="127.0.0.1", port=0,
                                                     scheduler=False))
    tracker.webhook_url = f"{server.url}/webhooks/{tracker.kind}"
    client = SlackClient(server.url, app, fake_slack)
    stack.push_async_callback(client.close)
    return client


async def file_and_accept(slack: SlackClient) -> None:
    """USH files request #1 with the request form (problem, who, success criterion); UPRO
    accepts it."""
    await make_producer(slack)
    assert (await slack.interact(payload("view_submission")))[0] == 200
    await slack.fake.wait_for(lambda: [c for c in slack.fake.of("chat.postMessage")
                                       if "ready for your review" in c.data["text"]])
    assert (await slack.command("UPRO", "/producer", "accept 1"))[0] == 200


async def the_request(app: App) -> Request:
    async with app.db.uow() as uow:
        request = await uow.requests.get(T1, 1)
    assert request is not None
    return request


def posted(slack: SlackClient, words: str) -> list[Any]:
    return [c for c in slack.fake.of("chat.postMessage") if words in c.data.get("text", "")]


async def settled(app: App) -> None:
    """Everything received has been handled and everything due sent."""
    await app.relay.drain()


async def test_request_to_issue_to_done_and_back_through_slack(
        tmp_path: Path, fake_slack: FakeSlack, tracker: Any, database: str) -> None:
    async with AsyncExitStack() as stack:
        slack = await running(stack, settings_for(tmp_path, fake_slack, tracker, database),
                              fake_slack, tracker)
        await file_and_accept(slack)
        [issue] = await tracker.wait_for(lambda: tracker.issues or None)
        assert issue["title"] == "Invoice CSV export"
        assert "Finance retypes invoice rows every Friday" in issue["body"]
        assert "the finance team" in issue["body"] and "under 30 minutes" in issue["body"]
        assert "sam" in issue["body"] or "USH" in issue["body"]
        [filed] = await fake_slack.wait_for(lambda: posted(slack, "is filed in"))
        assert issue["label"] in filed.data["text"]
        request = await the_request(slack.app)
        assert (request.issue_ref, request.issue_label) == (issue["ref"], issue["label"])

        # Forged: refused, and nothing changes.
        assert await tracker.forge(issue["ref"]) == 401
        await settled(slack.app)
        assert (await the_request(slack.app)).state == RequestState.ACCEPTED

        status, delivery = await tracker.complete(issue["ref"])
        assert status == 200
        [question] = await fake_slack.wait_for(lambda: posted(slack, "Did it solve your problem"))
        assert question.data["channel"] in ("USH", "DUSH") or "USH" in str(question.data)
        assert "under 30 minutes" in question.data["text"]  # their own success criterion
        assert (await the_request(slack.app)).state == RequestState.DELIVERED
        # The same delivery again: one question, ever.
        assert await tracker.redeliver(delivery) == 200
        await settled(slack.app)
        assert len(posted(slack, "Did it solve your problem")) == 1

        # Not yet: the issue gets the reason as a comment and is open again.
        assert (await slack.command("USH", "/producer", "notyet 1 credit notes are missing"))[0] == 200
        await tracker.wait_for(lambda: issue["state"] != "closed" and any(
            "credit notes are missing" in c for c in issue["comments"]))
        assert (await the_request(slack.app)).state == RequestState.IN_PROGRESS
        assert len(tracker.issues) == 1


async def test_a_cut_connection_during_create_and_a_restart_still_file_one_issue(
        tmp_path: Path, fake_slack: FakeSlack, tracker: Any, database: str) -> None:
    settings = settings_for(tmp_path, fake_slack, tracker, database)
    tracker.cut_next_create = True
    async with AsyncExitStack() as stack:
        slack = await running(stack, settings, fake_slack, tracker)
        await file_and_accept(slack)
        await tracker.wait_for(lambda: tracker.issues or None)  # created, but never answered
    # Restarted before the retry: the new process looks for the issue before filing again.
    async with AsyncExitStack() as stack:
        slack = await running(stack, settings, fake_slack, tracker)
        await fake_slack.wait_for(lambda: posted(slack, "is filed in"), within=20)
        request = await the_request(slack.app)
        assert len(tracker.issues) == 1
        assert request.issue_ref == tracker.issues[0]["ref"]


@pytest.mark.postgres
async def test_two_replicas_receiving_the_same_delivery_ask_one_question(
        tmp_path: Path, fake_slack: FakeSlack, tracker: Any) -> None:
    url = postgres_url()
    if url is None:
        pytest.skip("TEST_DATABASE_URL is not set (PostgreSQL suite: make test-postgres)")
    await reset_postgres(url)
    settings = settings_for(tmp_path, fake_slack, tracker, url)
    async with AsyncExitStack() as stack:
        first = await running(stack, settings, fake_slack, tracker)
        second = await running(stack, settings, fake_slack, tracker)
        await file_and_accept(first)
        [issue] = await tracker.wait_for(lambda: tracker.issues or None)
        await fake_slack.wait_for(lambda: posted(first, "is filed in"))
        # The tracker's delivery reaches replica one, and the same delivery replica two.
        tracker.webhook_url = f"{first.url}/webhooks/{tracker.kind}"
        status, delivery = await tracker.complete(issue["ref"])
        assert status == 200
        tracker.webhook_url = f"{second.url}/webhooks/{tracker.kind}"
        both = await asyncio.gather(tracker.redeliver(delivery), tracker.redeliver(delivery))
        assert both == [200, 200]
        await fake_slack.wait_for(lambda: posted(first, "Did it solve your problem"))
        await first.app.relay.drain()
        await second.app.relay.drain()
        assert len(posted(first, "Did it solve your problem")) == 1


async def test_request_to_issue_to_done_and_back_through_teams(
        make_stack: Any, tracker: Any) -> None:
    stack = await make_stack(**tracker_settings(tracker.env()))
    tracker.webhook_url = str(stack.client.make_url(f"/webhooks/{tracker.kind}"))
    await setup_team(stack)
    acts = stack.acts
    for line in ("request CSV export of invoices",
                 "Finance retypes invoice rows every Friday, three hours",
                 "the finance team", "a spreadsheet macro",
                 "month-end close finishes the same day"):
        await stack.say(acts.personal(SAM, line))
    accepted = await stack.say(acts.personal(PAT, "accept 1"))
    [issue] = tracker.issues
    assert "Finance retypes invoice rows" in issue["body"] and SAM.name in issue["body"]
    filed = [c for c in accepted if "is filed in" in c.text]
    assert filed and filed[0].conversation == SAM.personal and issue["label"] in filed[0].text

    assert await tracker.forge(issue["ref"]) == 401
    status, delivery = await tracker.complete(issue["ref"])
    assert status == 200
    mark = stack.connector.mark()
    await stack.drain()
    asked = [c for c in stack.connector.sent(mark) if "Did it solve your problem" in c.text]
    assert len(asked) == 1 and asked[0].conversation == SAM.personal
    assert "month-end close finishes the same day" in asked[0].text
    assert await tracker.redeliver(delivery) == 200
    mark = stack.connector.mark()
    await stack.drain()
    assert not [c for c in stack.connector.sent(mark) if "Did it solve" in c.text]

    await stack.say(acts.personal(SAM, "notyet 1 credit notes are missing"))
    assert issue["state"] != "closed"
    assert any("credit notes are missing" in c for c in issue["comments"])


async def test_the_webhook_routes_refuse_what_is_not_a_signed_delivery(
        tmp_path: Path, fake_slack: FakeSlack) -> None:
    from adapters.trackers.github import sign

    settings = slack_settings(tmp_path, fake_slack, **tracker_settings({
        "GITHUB_TOKEN": "ghp_x", "GITHUB_REPOSITORY": "acme/app",
        "GITHUB_WEBHOOK_SECRET": "s3cret", "LINEAR_API_KEY": "lin_x", "LINEAR_TEAM": "ENG"}))
    async with open_app(settings) as app, serving(app, host="127.0.0.1", port=0,
                                                  scheduler=False) as server:
        client = SlackClient(server.url, app, fake_slack)
        try:
            async def post(kind: str, body: bytes, **headers: str) -> int:
                async with client.session.post(f"{server.url}/webhooks/{kind}", data=body,
                                               headers=headers) as response:
                    return response.status

            ping = b'{"zen": "Keep it logically awesome.", "hook_id": 1}'
            good = {"X-GitHub-Event": "ping", "X-GitHub-Delivery": "p1",
                    "X-Hub-Signature-256": sign("s3cret", ping),
                    "Content-Type": "application/json"}
            assert await post("github", ping, **good) == 200  # an event it has no use for
            assert await post("github", ping, **{**good, "X-Hub-Signature-256": sign("x", ping)}) == 401
            assert await post("github", ping, **{k: v for k, v in good.items()
                                                 if k != "X-Hub-Signature-256"}) == 401
            broken = b'{"action": "closed", "issue": '
            assert await post("github", broken, **{**good, "X-GitHub-Event": "issues",
                                                   "X-Hub-Signature-256": sign("s3cret", broken)}
                              ) == 400
            assert await post("linear", ping) == 404  # Linear is set up, but with no secret
            assert await post("jira", ping) == 404  # not set up at all
            assert await post("gitlab", ping) == 404
            async with app.db.uow() as uow:
                assert await uow.inbox.pending(10) == []  # nothing was stored
        finally:
            await client.close()
