"""Use cases through the real core and real storage (SQLite; PostgreSQL with TEST_DATABASE_URL)."""

from __future__ import annotations

from datetime import timedelta

from bot.model import BlockerStatus, RequestState, Team, Where
from tests.conftest import NOW, Harness


async def blocker(h: Harness, number: int):  # type: ignore[no-untyped-def]
    async with h.db.uow() as uow:
        return await uow.blockers.get(h.team, number)


async def request(h: Harness, number: int):  # type: ignore[no-untyped-def]
    async with h.db.uow() as uow:
        return await uow.requests.get(h.team, number)


async def file_request(h: Harness, user: str = "sam", title: str = "CSV export") -> int:
    await h.say(user, f"request {title}")
    await h.say(user, "Finance copies invoice rows by hand every Friday and it takes 3 hours")
    await h.say(user, "the finance team")
    await h.say(user, "a spreadsheet macro that breaks monthly")
    await h.say(user, "reconciliation done in under 30 minutes")
    async with h.db.uow() as uow:
        return max(r.number for r in await uow.requests.list(h.team))


# ---- blockers ------------------------------------------------------------------------------


async def test_blocker_command_is_tracked_with_owner_and_unblocker(chat: Harness) -> None:
    reply = await chat.reply_text("erin", "blocker staging DB creds, waiting for ops to rotate them")
    assert "blocker #1" in reply
    assert "[Resolve|resolve 1]" in reply and "[Not a blocker|dismiss 1]" in reply
    b = await blocker(chat, 1)
    assert b.reporter == "erin" and b.owner == "erin"
    assert b.unblocker == "ops" and b.status == BlockerStatus.OPEN
    assert b.opened_at == NOW


async def test_free_text_blocker_is_recognised_in_a_channel_and_answered_in_thread(chat: Harness) -> None:
    channel = Where("console", "acme", "C1")
    sent = await chat.say("erin", "can't deploy the invoice fix until finance signs off",
                          where=channel, direct=False, message_id="1700.1")
    assert len(sent) == 1
    assert sent[0].where.thread == "1700.1"  # confirmed in a thread under the message
    assert "blocker #1" in sent[0].text
    b = await blocker(chat, 1)
    assert b.source == "message" and b.unblocker == "finance"


async def test_ordinary_channel_chatter_gets_no_reply(chat: Harness) -> None:
    channel = Where("console", "acme", "C1")
    for text in ("morning all", "is anyone blocked?", "not blocked anymore, thanks!",
                 "request for comments on the RFC is open"):
        assert await chat.say("erin", text, where=channel, direct=False, message_id="1") == []
    async with chat.db.uow() as uow:
        assert await uow.blockers.open(chat.team) == []
        assert await uow.requests.list(chat.team) == []


async def test_reporter_resolves_and_age_is_reported(chat: Harness) -> None:
    await chat.say("erin", "blocker waiting on legal review")
    reply = await chat.reply_text("erin", "resolve 1 legal said yes",
                                  at=NOW + timedelta(days=3))
    assert "resolved" in reply and "3d" in reply
    b = await blocker(chat, 1)
    assert b.status == BlockerStatus.RESOLVED and b.resolved_by == "erin"
    assert b.resolution == "legal said yes"


async def test_only_reporter_or_producer_may_resolve(chat: Harness) -> None:
    await chat.say("erin", "blocker waiting on legal review")
    reply = await chat.reply_text("sam", "resolve 1")
    assert "Only <@erin>" in reply
    assert (await blocker(chat, 1)).status == BlockerStatus.OPEN
    sent = await chat.say("pat", "resolve #1")
    assert (await blocker(chat, 1)).status == BlockerStatus.RESOLVED
    assert any(o.to_user == "erin" for o in sent)  # the reporter hears about it


async def test_dismiss_marks_not_a_blocker_and_hides_it(chat: Harness) -> None:
    await chat.say("erin", "blocker flaky test")
    await chat.say("erin", "dismiss 1")
    assert (await blocker(chat, 1)).status == BlockerStatus.DISMISSED
    assert "No open blockers" in await chat.reply_text("pat", "blockers")


async def test_blockers_lists_oldest_first_and_filters_by_person(chat: Harness) -> None:
    await chat.say("erin", "blocker second thing", at=NOW)
    await chat.say("sam", "blocker first thing", at=NOW - timedelta(days=2))
    reply = await chat.reply_text("pat", "blockers", at=NOW + timedelta(hours=1))
    assert reply.index("first thing") < reply.index("second thing")
    mine = await chat.reply_text("erin", "blockers mine")
    assert "second thing" in mine and "first thing" not in mine


# ---- requests and discovery ------------------------------------------------------------------


async def test_discovery_asks_one_question_at_a_time_and_records_answers(chat: Harness) -> None:
    first = await chat.reply_text("sam", "request CSV export")
    assert "What problem does this solve?" in first
    assert (await request(chat, 1)).state == RequestState.NEEDS_DISCOVERY
    second = await chat.reply_text("sam", "Finance retypes invoice rows by hand, 3 hours a week")
    assert "Who has this problem" in second
    r = await request(chat, 1)
    assert r.state == RequestState.READY_FOR_REVIEW and r.problem.startswith("Finance retypes")
    assert "How do they cope" in await chat.reply_text("sam", "finance")
    assert "How will we know" in await chat.reply_text("sam", "skip")
    done = await chat.reply_text("sam", "under 30 minutes")
    assert "ready for review" in done
    r = await request(chat, 1)
    assert r.answers == {"problem": "Finance retypes invoice rows by hand, 3 hours a week",
                         "who": "finance", "success": "under 30 minutes"}
    assert not r.in_discovery


async def test_producers_are_asked_to_decide_when_discovery_ends(chat: Harness) -> None:
    await chat.say("sam", "request CSV export")
    await chat.say("sam", "Finance retypes rows by hand every week")
    sent = await chat.say("sam", "done")
    to_pat = [o for o in sent if o.to_user == "pat"]
    assert len(to_pat) == 1
    assert [a.command for a in to_pat[0].actions] == ["accept 1", "decline 1", "metoo 1"]
    assert to_pat[0].actions[1].needs_reason


async def test_solution_in_disguise_gets_one_follow_up(chat: Harness) -> None:
    await chat.say("sam", "request export")
    reply = await chat.reply_text("sam", "add a button that exports to CSV")
    assert "sounds like a solution" in reply
    r = await request(chat, 1)
    assert r.state == RequestState.NEEDS_DISCOVERY
    assert r.answers == {"proposed_solution": "add a button that exports to CSV"}
    # The second answer is taken as it is, even if it is another solution: one nudge only.
    reply = await chat.reply_text("sam", "add an export button please")
    assert "Who has this problem" in reply
    assert (await request(chat, 1)).problem == "add an export button please"


async def test_problem_question_cannot_be_skipped(chat: Harness) -> None:
    await chat.say("sam", "request export")
    assert "need before the request counts" in await chat.reply_text("sam", "skip")
    assert (await request(chat, 1)).discovery_step == 0


async def test_similar_open_requests_are_pointed_out(chat: Harness) -> None:
    await file_request(chat, title="CSV export of invoices")
    await file_request(chat, title="Export invoices to Excel")
    await chat.say("sam", "request dark mode")
    await chat.say("sam", "cancel")
    reply = await chat.reply_text("erin", "request invoice CSV export")
    assert "2 similar requests" in reply
    assert "#1 CSV export of invoices" in reply and "#2 Export invoices to Excel" in reply
    assert "dark mode" not in reply


async def test_the_whole_request_lifecycle_tells_the_requester(chat: Harness) -> None:
    n = await file_request(chat)
    sent = await chat.say("pat", f"accept {n}")
    assert any(o.to_user == "sam" and "accepted" in o.text for o in sent)
    sent = await chat.say("pat", f"start {n}")
    assert any(o.to_user == "sam" and "started" in o.text for o in sent)
    sent = await chat.say("pat", f"deliver {n} shipped in 2.4")
    ask = [o for o in sent if o.to_user == "sam"]
    assert len(ask) == 1 and "Did it solve your problem" in ask[0].text
    assert [a.command for a in ask[0].actions] == [f"solved {n}", f"notyet {n}"]
    sent = await chat.say("sam", f"solved {n}")
    assert any(o.to_user == "pat" and "confirmed" in o.text for o in sent)
    r = await request(chat, n)
    assert r.state == RequestState.SOLVED and r.delivery_note == "shipped in 2.4"


async def test_not_yet_reopens_and_tells_producers(chat: Harness) -> None:
    n = await file_request(chat)
    await chat.say("pat", f"accept {n}")
    await chat.say("pat", f"deliver {n}")
    sent = await chat.say("sam", f"notyet {n} still no totals row")
    assert any(o.to_user == "pat" and "still no totals row" in o.text for o in sent)
    r = await request(chat, n)
    assert r.state == RequestState.IN_PROGRESS and r.outcome_note == "still no totals row"


async def test_decline_needs_a_reason_and_the_requester_hears_it(chat: Harness) -> None:
    n = await file_request(chat)
    assert "give the requester a reason" in await chat.reply_text("pat", f"decline {n}")
    assert (await request(chat, n)).state == RequestState.READY_FOR_REVIEW
    sent = await chat.say("pat", f"decline {n} the finance tool ships exports in March")
    assert any(o.to_user == "sam" and "March" in o.text for o in sent)
    assert (await request(chat, n)).state == RequestState.DECLINED


async def test_non_producers_cannot_decide(chat: Harness) -> None:
    n = await file_request(chat)
    for user in ("sam", "erin"):
        for command in (f"accept {n}", f"decline {n} no", f"deliver {n}", f"start {n}"):
            reply = await chat.reply_text(user, command)
            assert "Only producers" in reply and "<@pat>" in reply
    assert (await request(chat, n)).state == RequestState.READY_FOR_REVIEW


async def test_cannot_accept_before_the_problem_is_stated(chat: Harness) -> None:
    await chat.say("sam", "request export")
    reply = await chat.reply_text("pat", "accept 1")
    assert "no problem statement yet" in reply
    assert (await request(chat, 1)).state == RequestState.NEEDS_DISCOVERY


async def test_only_the_requester_confirms_a_delivery(chat: Harness) -> None:
    n = await file_request(chat)
    await chat.say("pat", f"accept {n}")
    await chat.say("pat", f"deliver {n}")
    assert "Only <@sam>" in await chat.reply_text("pat", f"solved {n}")
    assert (await request(chat, n)).state == RequestState.DELIVERED


async def test_discovery_in_a_channel_thread_takes_only_the_requesters_replies(chat: Harness) -> None:
    channel = Where("console", "acme", "C1")
    sent = await chat.say("sam", "", command="request", where=channel, direct=False)
    assert "Usage" in sent[0].text and sent[0].private_to == "sam"
    sent = await chat.say("sam", "CSV export", command="request", where=channel, direct=False)
    root = sent[0]
    assert root.where.thread is None and root.key == "request:1"
    thread = channel.in_thread("m2")  # the id the recording sender gave the root message
    assert await chat.say("erin", "me too!", where=thread, direct=False, message_id="x1") == []
    reply = await chat.say("sam", "Finance retypes rows every Friday", where=thread,
                           direct=False, message_id="x2")
    assert "Who has this problem" in reply[0].text and reply[0].where.thread == "m2"
    assert (await request(chat, 1)).state == RequestState.READY_FOR_REVIEW


# ---- standups, roles, digest -------------------------------------------------------------------


async def test_standup_is_recorded_and_its_blockers_tracked(chat: Harness) -> None:
    reply = await chat.reply_text(
        "erin", "standup merged the retry PR. blocked on the staging DB creds, waiting for ops.")
    assert "#1" in reply
    async with chat.db.uow() as uow:
        answers = await uow.standups.between(chat.team, NOW - timedelta(hours=1), NOW)
        blockers = await uow.blockers.open(chat.team)
    assert [a.user for a in answers] == ["erin"]
    assert len(blockers) == 1 and blockers[0].source == "standup"
    assert blockers[0].text.startswith("blocked on the staging DB creds")


async def test_first_producer_can_be_claimed_then_only_producers_change_roles(db) -> None:  # type: ignore[no-untyped-def]
    h = Harness(db)
    assert "is now producer" in await h.reply_text("ann", "role me producer")
    assert "Only producers can change roles" in await h.reply_text("bob", "role bob producer")
    assert "is now stakeholder" in await h.reply_text("ann", "role @bob stakeholder")
    assert "only producer" in await h.reply_text("ann", "role ann engineer")
    roles = await h.reply_text("bob", "roles")
    assert "producers*: <@ann>" in roles and "stakeholders*: <@bob>" in roles


async def test_removing_a_producer_takes_effect_at_once(chat: Harness) -> None:
    await chat.say("pat", "role erin producer")
    await chat.say("pat", "role pat engineer")
    n = await file_request(chat)
    assert "Only producers" in await chat.reply_text("pat", f"accept {n}")
    assert "accepted" in await chat.reply_text("erin", f"accept {n}")


async def test_digest_shows_what_was_seeded(chat: Harness) -> None:
    week_ago = NOW - timedelta(days=6)
    await chat.say("erin", "blocker old one, waiting for ops", at=week_ago)
    await chat.say("erin", "blocker fixed one", at=week_ago)
    await chat.say("erin", "resolve 2", at=NOW - timedelta(days=1))
    await chat.say("erin", "standup shipping the importer")
    n1 = await file_request(chat, title="CSV export")
    n2 = await file_request(chat, title="SSO login")
    await chat.say("pat", f"accept {n2}")
    await chat.say("pat", f"deliver {n2}")
    await chat.say("sam", f"solved {n2}")
    sent = await chat.say("pat", "digest week", at=NOW + timedelta(hours=1))
    assert len(sent) == 1
    text = "\n".join(s.text for s in sent[0].sections)
    assert sent[0].text == ("Weekly digest: 1 blocker open, oldest 6d; 1 request waiting for your "
                            "decision; 1 delivery accepted.")
    titles = [s.title for s in sent[0].sections]
    # Each item once: the request waiting for a decision is under "Decisions needed" only.
    assert titles == ["Decisions needed", "Open blockers, oldest first", "Blockers resolved this week",
                      "Delivered and accepted", "Standups", "How we're doing"]
    assert text.count(f"#{n1} *CSV export*") == 1
    assert "#2 fixed one (<@erin>, open 5d, resolved by <@erin>)" in text  # not "6d" ago
    assert "• <@erin>: shipping the importer" in text  # the standup's highlight
    assert f"#{n1} *CSV export*" in text and "Problem: Finance copies" in text
    assert "#1 old one, waiting for ops (<@erin>, 6d, waiting on ops)" in text
    assert "1 of 2 posted an update" in text and "not yet: <@pat>" in text
    assert [a.command for a in sent[0].actions] == [f"accept {n1}"]


async def test_quiet_team_gets_a_one_line_digest(chat: Harness) -> None:
    sent = await chat.say("pat", "digest day")
    assert sent[0].text == "Daily digest: Nothing open and nothing changed this day."
    assert sent[0].sections == ()


# ---- bad input -------------------------------------------------------------------------------


async def test_empty_and_unknown_commands_get_clear_messages(chat: Harness) -> None:
    assert "Usage" in await chat.reply_text("erin", "blocker")
    assert "Usage" in await chat.reply_text("erin", "request   ")
    assert "Which one?" in await chat.reply_text("erin", "resolve")
    assert "Which one?" in await chat.reply_text("erin", "resolve abc")
    assert "There is no blocker #99" in await chat.reply_text("erin", "resolve 99")
    assert "don't know the command `frobnicate`" in await chat.reply_text("erin", "/frobnicate")
    assert "Usage" in await chat.reply_text("erin", "digest fortnight")
    async with chat.db.uow() as uow:
        assert await uow.blockers.open(chat.team) == []
        assert await uow.requests.list(chat.team) == []


async def test_a_40000_character_message_changes_nothing(chat: Harness) -> None:
    reply = await chat.reply_text("erin", "blocker " + "x" * 40_000)
    assert "40,008 characters" in reply and "Nothing was recorded" in reply
    channel = Where("console", "acme", "C1")
    assert await chat.say("erin", "blocked on " + "y" * 40_000, where=channel, direct=False) == []
    async with chat.db.uow() as uow:
        assert await uow.blockers.open(chat.team) == []


async def test_control_characters_are_dropped_and_emoji_kept(chat: Harness) -> None:
    await chat.say("erin", "blocker \x00waiting\x07 on \u202eops\u202c 🚧 für Zugang")
    b = await blocker(chat, 1)
    assert b.text == "waiting on ops 🚧 für Zugang"


async def test_invisible_characters_are_dropped_too(chat: Harness) -> None:
    # U+061C (Arabic letter mark), U+FEFF (BOM), U+2060 (word joiner) and tag characters (which
    # can spell hidden text) show nothing to a reader but would be stored and echoed.
    hidden = "".join(chr(0xE0000 + ord(c)) for c in "ignore the rules")
    await chat.say("erin", "blocker wait\u061cing\ufeff on\u2060 ops" + hidden)
    b = await blocker(chat, 1)
    assert b.text == "waiting on ops"


async def test_a_core_bug_gets_an_apology_and_no_half_written_rows(chat: Harness, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from bot import core

    async def boom(*args: object) -> None:
        raise RuntimeError("bug")

    original = core.Core.handle

    async def handle_then_fail(self, msg, uow):  # type: ignore[no-untyped-def]
        await original(self, msg, uow)  # writes rows...
        await boom()  # ...then fails: nothing may stay

    monkeypatch.setattr(core.Core, "handle", handle_then_fail)
    sent = await chat.say("erin", "blocker something")
    assert len(sent) == 1 and "something went wrong" in sent[0].text
    async with chat.db.uow() as uow:
        assert await uow.blockers.open(chat.team) == []


# ---- tenants -----------------------------------------------------------------------------------


async def test_a_second_tenant_sees_none_of_the_first_tenants_data(chat: Harness) -> None:
    await chat.say("erin", "blocker secret-project creds")
    await file_request(chat, title="secret export")
    other = Harness(chat.db, Team("console", "globex"))
    other.count = 1000  # distinct event ids, as distinct deliveries would have
    for command in ("blockers", "requests all", "digest week", "roles", "resolve 1",
                    "accept 1", "solved 1"):
        reply = await other.reply_text("erin", command)
        assert "secret" not in reply, command
    async with chat.db.uow() as uow:
        assert (await uow.blockers.get(chat.team, 1)).status == BlockerStatus.OPEN
    # Numbers are per team: the other tenant starts at #1 too.
    assert "blocker #1" in await other.reply_text("erin", "blocker theirs")


async def test_home_shows_my_items_and_producers_see_what_waits(chat: Harness) -> None:
    await chat.say("erin", "blocker waiting on ops", at=NOW - timedelta(days=3))
    n = await file_request(chat)
    [home] = await chat.say("erin", "home")
    assert home.surface == "home" and home.to_user == "erin"
    text = "\n".join(s.text for s in home.sections)
    assert "#1 waiting on ops (3d)" in text and "Requests waiting" not in flatten_titles(home)
    [home] = await chat.say("pat", "home")
    assert "Requests waiting for your decision" in flatten_titles(home)
    assert f"accept {n}" in [a.command for a in home.actions]
    assert "waiting on ops" in "\n".join(s.text for s in home.sections)


def flatten_titles(out):  # type: ignore[no-untyped-def]
    return [s.title for s in out.sections]


async def test_a_bare_request_answers_with_the_request_form(chat: Harness) -> None:
    """Platforms with forms show the discovery form for it (Teams: a card); others the hint."""
    for text in ("request", "/request"):
        (form,) = await chat.say("sam", text)
        assert form.surface == "request-form" and "What would you like?" in form.text
    (filed, *_) = await chat.say("sam", "request CSV")
    assert filed.surface == "message"
