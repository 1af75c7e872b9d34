"""Requests filed in the team's tracker and followed back, through the real core, relay and
storage (SQLite; PostgreSQL with TEST_DATABASE_URL). The tracker is a recording stand-in here;
tests/trackers/ drive the real clients against fake GitHub, Jira and Linear servers."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.core import Core
from bot.model import NO_TRACKER, TRACKER_EVENT, InboundMessage, Outgoing, RequestState, Role, Where
from bot.ports import TRACKER, Sender, Sent, Undeliverable
from bot.relay.dispatch import Dispatcher
from bot.turn import Trackers
from tests.conftest import Harness, flatten
from tests.test_core import file_request

GITHUB = Trackers(frozenset({"github"}), "github:acme/app",
                  {"console": lambda where, message: f"https://chat.example/{where.channel}"})


class RecordingTracker(Sender):
    """Files issues in memory and answers as a tracker does."""

    def __init__(self) -> None:
        self.effects: list[Outgoing] = []
        self.refuse: str | None = None

    async def send(self, message: Outgoing) -> Sent:
        if self.refuse:
            raise Undeliverable(self.refuse)
        self.effects.append(message)
        if message.surface != "issue":
            return Sent(message_id=message.issue)
        n = len([e for e in self.effects if e.surface == "issue"])
        project = message.where.channel.split(":", 1)[1]
        return Sent(message_id=f"{project}#{n}", label=f"{project}#{n}",
                    link=f"https://tracker.example/{project}/issues/{n}")

    def issues(self) -> list[Outgoing]:
        return [e for e in self.effects if e.surface == "issue"]


@pytest.fixture
async def tracked(chat: Harness) -> tuple[Harness, RecordingTracker]:
    tracker = RecordingTracker()
    chat.relay.core = Core(trackers=GITHUB)
    chat.relay.senders = {**chat.relay.senders, TRACKER: tracker}
    await chat.set_role("ana", Role.ENGINEER)
    return chat, tracker


async def request(h: Harness, number: int = 1):  # type: ignore[no-untyped-def]
    async with h.db.uow() as uow:
        return await uow.requests.get(h.team, number)


async def webhook(h: Harness, change: str, issue: str = "acme/app#1", delivery: str = "d1",
                  reason: str = "", actor: str = "octocat") -> list[Outgoing]:
    before = len(h.sender.sent)
    await h.relay.receive(InboundMessage(
        where=Where("github", "github", issue), user="github", text=reason, event_id=delivery,
        at=h.now, kind=TRACKER_EVENT,
        form={"change": change, "issue": issue, "actor": actor, "label": issue, "link": ""}))
    await h.relay.drain()
    return h.sender.sent[before:]


def told(sent: list[Outgoing], user: str) -> str:
    return "\n".join(flatten(o) for o in sent if o.to_user == user)


async def test_accept_files_one_issue_with_what_discovery_found(tracked) -> None:  # type: ignore[no-untyped-def]
    chat, tracker = tracked
    number = await file_request(chat)
    await chat.say("ana", f"metoo {number} support retypes the same rows")
    sent = await chat.say("pat", f"accept {number}")
    [issue] = tracker.issues()
    assert issue.text == "CSV export" and issue.where.channel == "github:acme/app"
    assert issue.key == "issue:1" and issue.where.team == chat.team
    body = {s.title: s.text for s in issue.sections}
    assert "Finance copies invoice rows by hand" in body["Problem"]
    assert "the finance team" in body["Who has it"] and "2 people have it" in body["Who has it"]
    assert "ana: support retypes the same rows" in body["Who has it"]
    assert body["How they cope today"] == "a spreadsheet macro that breaks monthly"
    assert body["How we will know it worked"] == "reconciliation done in under 30 minutes"
    assert "sam" in body["Requested by"] and "https://chat.example/" in body["Requested by"]
    assert "<@" not in "".join(body.values())  # a tracker renders no chat mentions
    text = "\n".join(flatten(o) for o in sent)
    assert "Filing it in GitHub (acme/app)" in text
    assert "is filed in GitHub (acme/app) as acme/app#1: https://tracker.example/acme/app/issues/1" in text
    r = await request(chat)
    assert (r.issue_ref, r.issue_label) == ("acme/app#1", "acme/app#1")
    # The card, the list and the digest show it.
    assert "acme/app#1" in await chat.reply_text("pat", "requests")
    link = "https://tracker.example/acme/app/issues/1"
    assert f"acme/app#1 {link}" in await chat.reply_text("pat", "digest")
    assert f"acme/app#1 {link}" in await chat.reply_text("sam", "home")
    started = await chat.say("pat", "start 1")  # the requester hears it with the card
    assert f"*Issue:* acme/app#1 {link}" in told(started, "sam")
    # `track` of a filed request does not file it again.
    assert "already filed: acme/app#1" in await chat.reply_text("pat", f"track {number}")
    assert len(tracker.issues()) == 1


async def test_track_files_a_request_accepted_before_the_tracker_was_set_up(chat: Harness) -> None:
    number = await file_request(chat)
    await chat.say("pat", f"accept {number}")  # no tracker yet: nothing filed
    assert (await request(chat)).issue_project is None
    tracker = RecordingTracker()
    chat.relay.core = Core(trackers=GITHUB)
    chat.relay.senders = {**chat.relay.senders, TRACKER: tracker}
    assert "Only producers can" in await chat.reply_text("sam", f"track {number}")
    reply = await chat.reply_text("pat", f"track {number}")
    assert "Filing request #1 in GitHub (acme/app)" in reply
    assert len(tracker.issues()) == 1 and (await request(chat)).issue_label == "acme/app#1"


async def test_track_refuses_what_is_not_accepted_and_says_when_no_tracker_is_set(tracked) -> None:  # type: ignore[no-untyped-def]
    chat, tracker = tracked
    number = await file_request(chat)
    assert "only accepted requests are filed" in await chat.reply_text("pat", f"track {number}")
    # Anything but a bare number is the blockers' `track`: a new blocker.
    assert "blocker #1" in await chat.reply_text("erin", "track staging creds expired again")
    async with chat.db.uow() as uow:  # the team switched its tracker off
        settings = await uow.tenants.get(chat.team)
        await uow.tenants.update(replace(settings, tracker=NO_TRACKER))
        await uow.commit()
    reply = await chat.reply_text("pat", f"accept {number}")
    assert "accepted" in reply and "Filing" not in reply
    assert "No tracker is set up for this team" in await chat.reply_text("pat", f"track {number}")
    assert tracker.issues() == []


async def test_a_team_files_into_the_project_it_chose(tracked) -> None:  # type: ignore[no-untyped-def]
    chat, tracker = tracked
    async with chat.db.uow() as uow:
        settings = await uow.tenants.get(chat.team)
        await uow.tenants.update(replace(settings, tracker="github:acme/other"))
        await uow.commit()
    await chat.say("pat", f"accept {await file_request(chat)}")
    assert [i.where.channel for i in tracker.issues()] == ["github:acme/other"]
    # A project of a tracker this deployment has no credentials for files nothing.
    async with chat.db.uow() as uow:
        settings = await uow.tenants.get(chat.team)
        await uow.tenants.update(replace(settings, tracker="jira:PROJ"))
        await uow.commit()
    await chat.say("pat", f"accept {await file_request(chat, title='PDF export')}")
    assert len(tracker.issues()) == 1


async def test_closed_as_done_asks_the_requester_with_their_success_criterion(tracked) -> None:  # type: ignore[no-untyped-def]
    chat, tracker = tracked
    number = await file_request(chat)
    await chat.say("ana", f"metoo {number}")
    await chat.say("pat", f"accept {number}")
    sent = await webhook(chat, "started")
    assert (await request(chat)).state == RequestState.IN_PROGRESS
    assert "has started" in told(sent, "sam")
    sent = await webhook(chat, "done", delivery="d2")
    r = await request(chat)
    assert r.state == RequestState.DELIVERED
    question = told(sent, "sam")
    assert "Did it solve your problem" in question
    assert "reconciliation done in under 30 minutes" in question
    assert "[It solved my problem|solved 1]" in question
    asked = told(sent, "ana")  # the voice is asked too, against the same check
    assert "Did it solve the problem for you too?" in asked
    assert "reconciliation done in under 30 minutes" in asked and "[It solves mine too" in asked
    assert "closed as done by octocat" in "\n".join(o.text for o in sent if o.to_user is None)
    # The same delivery again (a tracker retry, a second replica) changes nothing.
    assert await webhook(chat, "done", delivery="d2") == []


async def test_notyet_comments_on_the_issue_and_reopens_it(tracked) -> None:  # type: ignore[no-untyped-def]
    chat, tracker = tracked
    number = await file_request(chat)
    await chat.say("pat", f"accept {number}")
    await webhook(chat, "done")
    reply = await chat.reply_text("sam", f"notyet {number} the export misses credit notes")
    assert "reopened acme/app#1 too" in reply
    [reopen] = [e for e in tracker.effects if e.surface == "issue-reopen"]
    assert reopen.issue == "acme/app#1" and "misses credit notes" in reopen.text
    assert (await request(chat)).state == RequestState.IN_PROGRESS
    # The tracker's own "reopened" webhook that follows changes nothing more.
    assert await webhook(chat, "reopened", delivery="d9") == []
    assert (await request(chat)).state == RequestState.IN_PROGRESS


async def test_closed_as_not_planned_tells_the_requester_the_trackers_reason(tracked) -> None:  # type: ignore[no-untyped-def]
    chat, tracker = tracked
    number = await file_request(chat)
    await chat.say("pat", f"accept {number}")
    sent = await webhook(chat, "not_planned", reason="duplicate of acme/app#7")
    r = await request(chat)
    assert r.state == RequestState.DECLINED
    assert "closed as not planned: duplicate of acme/app#7" in told(sent, "sam")
    assert "duplicate of acme/app#7" in (r.decision_reason or "")


async def test_webhooks_about_other_issues_change_nothing(tracked) -> None:  # type: ignore[no-untyped-def]
    chat, tracker = tracked
    number = await file_request(chat)
    await chat.say("pat", f"accept {number}")
    assert await webhook(chat, "done", issue="acme/app#99") == []
    assert await webhook(chat, "nonsense", delivery="x") == []
    # A Jira issue with GitHub's reference is not GitHub's issue.
    before = len(chat.sender.sent)
    await chat.relay.receive(InboundMessage(
        where=Where("jira", "jira", "acme/app#1"), user="jira", text="", event_id="j1",
        at=chat.now, kind=TRACKER_EVENT, form={"change": "done", "issue": "acme/app#1"}))
    await chat.relay.drain()
    assert chat.sender.sent[before:] == []
    assert (await request(chat)).state == RequestState.ACCEPTED


async def test_a_refused_filing_tells_the_producers_and_track_can_try_again(tracked) -> None:  # type: ignore[no-untyped-def]
    chat, tracker = tracked
    number = await file_request(chat)
    tracker.refuse = "GITHUB_TOKEN was refused (401): check its scopes"
    sent = await chat.say("pat", f"accept {number}")
    assert "could not file request #1 in GitHub (acme/app)" in told(sent, "pat")
    assert "GITHUB_TOKEN was refused" in told(sent, "pat")
    assert (await request(chat)).issue_project is None
    tracker.refuse = None
    await chat.say("pat", f"track {number}")
    assert (await request(chat)).issue_label == "acme/app#1"


async def test_a_private_request_is_filed_only_when_a_producer_says_so(tracked) -> None:  # type: ignore[no-untyped-def]
    chat, tracker = tracked
    await chat.say("sam", "request Payroll corrections", private=True)
    await chat.say("sam", "HR re-enters salary changes by hand every month, two days",
                   private=True)
    await chat.say("sam", "done", private=True)
    r = await request(chat)
    assert r.private and r.state == RequestState.READY_FOR_REVIEW
    reply = await chat.reply_text("pat", "accept 1")
    assert "filed in a private conversation, so it is not in the tracker" in reply
    assert "`track 1`" in reply and tracker.issues() == []
    await chat.say("pat", "track 1")
    [issue] = tracker.issues()
    assert "HR re-enters salary changes" in issue.sections[0].text
    assert "The conversation:" not in issue.sections[-1].text  # no link into a private place


class HangingTracker(Sender):
    """A tracker whose creates wait until released (a slow GitHub, Linear at its timeout)."""

    def __init__(self) -> None:
        self.entered, self.release = asyncio.Event(), asyncio.Event()
        self.created: list[Outgoing] = []

    async def send(self, message: Outgoing) -> Sent:
        self.entered.set()
        await self.release.wait()
        self.created.append(message)
        return Sent(message_id=f"acme/app#{len(self.created)}", label="acme/app#1")


async def queue_issue_and_chat(h: Harness) -> None:
    async with h.db.uow() as uow:
        await uow.outbox.add(Outgoing(where=Where("console", "acme", "github:acme/app"),
                                      text="CSV export", key="issue:1", surface="issue"))
        await uow.outbox.add(Outgoing(where=Where("console", "other", "C1"), text="hello B"))
        await uow.commit()


async def test_a_slow_tracker_holds_up_no_chat_message(chat: Harness) -> None:
    tracker = HangingTracker()
    said = asyncio.Event()

    class Chat(Sender):
        async def send(self, message: Outgoing) -> Sent:
            said.set()
            return await chat.sender.send(message)

    chat.relay.senders = {"console": Chat(), TRACKER: tracker}
    await queue_issue_and_chat(chat)
    stop = asyncio.Event()
    worker = asyncio.create_task(chat.relay.run_worker(stop, poll_seconds=0.05))
    try:
        await asyncio.wait_for(tracker.entered.wait(), 10)  # the tracker call is under way ...
        await asyncio.wait_for(said.wait(), 10)  # ... and the other tenant's goes out meanwhile
        assert [m.text for m in chat.sender.sent] == ["hello B"] and tracker.created == []
    finally:
        tracker.release.set()
        stop.set()
        chat.relay.wake()
        await asyncio.wait_for(worker, 10)
    assert len(tracker.created) == 1


async def test_a_replica_does_not_take_over_a_tracker_call_still_under_way(chat: Harness) -> None:
    tracker = HangingTracker()
    await queue_issue_and_chat(chat)
    t0 = datetime.now(UTC) + timedelta(seconds=1)
    one = Dispatcher(chat.db.uow, {TRACKER: tracker}, clock=lambda: t0)
    # A minute later a chat message's lease would have run out; a tracker effect's has not.
    two = Dispatcher(chat.db.uow, {TRACKER: tracker}, clock=lambda: t0 + timedelta(seconds=61))
    first = asyncio.create_task(one.dispatch_trackers())
    await asyncio.wait_for(tracker.entered.wait(), 10)
    assert await two.dispatch_trackers() == 0
    tracker.release.set()
    assert await asyncio.wait_for(first, 10) == 1
    assert len(tracker.created) == 1
