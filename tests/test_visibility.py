"""What is said in a private place stays there: shared output shows private items only as
counts; producers see them 1:1; the person who said it always sees their own. And people from
another organisation (Slack Connect) may report and request, but hold no role and see no team
lists."""

from __future__ import annotations

from bot.model import Role, Where
from tests.conftest import Harness, flatten

GENERAL = Where("console", "acme", "C-general")
SECRET = Where("console", "acme", "G-secret")


async def said_in_private(h: Harness) -> None:
    await h.say("erin", "blocker waiting on the acquisition lawyers", where=SECRET, direct=False,
                addressed=True, private=True, message_id="1.1")
    await h.say("erin", "blocker staging cert expired", where=GENERAL, direct=False,
                addressed=True, message_id="1.2")


def text_of(sent: list) -> str:  # type: ignore[type-arg]
    return "\n".join(flatten(o) for o in sent)


async def test_a_digest_posted_in_a_channel_counts_private_blockers_without_showing_them(
        chat: Harness) -> None:
    await said_in_private(chat)
    shown = text_of(await chat.say("pat", "digest week", where=GENERAL, direct=False,
                                   addressed=True, message_id="1.3"))
    assert "staging cert expired" in shown
    assert "acquisition lawyers" not in shown
    assert "1 open blocker from private conversations" in shown


async def test_a_producer_sees_everything_one_to_one(chat: Harness) -> None:
    await said_in_private(chat)
    shown = text_of(await chat.say("pat", "digest week"))  # the producer's 1:1 chat
    assert "staging cert expired" in shown and "acquisition lawyers" in shown
    assert "private conversations" not in shown
    assert "acquisition lawyers" in text_of(await chat.say("pat", "blockers"))


async def test_others_see_their_own_private_items_and_a_count_of_the_rest(chat: Harness) -> None:
    await said_in_private(chat)
    await chat.set_role("ann", Role.ENGINEER)
    theirs = text_of(await chat.say("ann", "blockers"))
    assert "staging cert expired" in theirs and "acquisition lawyers" not in theirs
    assert "1 more blocker from private conversations" in theirs
    assert "acquisition lawyers" in text_of(await chat.say("erin", "blockers"))
    assert "acquisition lawyers" not in text_of(await chat.say("ann", "digest week"))


async def test_a_similar_private_request_is_not_named_in_a_channel(chat: Harness) -> None:
    await chat.say("sam", "request CSV export of invoices", where=SECRET, direct=False,
                   addressed=True, private=True, message_id="2.1")
    hint = text_of(await chat.say("sam", "request CSV export for invoices", where=GENERAL,
                                  direct=False, addressed=True, message_id="2.2"))
    assert "similar request" not in hint
    assert "similar request" in text_of(await chat.say("sam", "request CSV invoices export"))


async def test_a_scheduled_summary_in_a_channel_names_no_private_blocker(chat: Harness) -> None:
    from bot.model import Schedule
    from bot.scheduling import Scheduler
    from tests.test_scheduling import CRON

    await said_in_private(chat)
    async with chat.db.uow() as uow:
        await uow.schedules.put(Schedule(chat.team, "standup-summary", "0 11 * * mon-fri",
                                         "UTC", "C-general"))
        await uow.commit()
    scheduler = Scheduler(chat.db.uow, CRON)
    from datetime import timedelta
    await scheduler.tick(chat.now + timedelta(hours=1, minutes=59))
    await scheduler.tick(chat.now + timedelta(hours=2, minutes=1))
    await chat.relay.drain()
    summary = [o for o in chat.sender.sent if "New blockers" in flatten(o)]
    assert summary and all("acquisition lawyers" not in flatten(o) for o in summary)
    assert any("staging cert expired" in flatten(o) for o in summary)


# ---- outsiders -------------------------------------------------------------------------------


async def test_an_outsider_reports_and_requests_but_sees_no_team_lists(chat: Harness) -> None:
    await chat.say("erin", "blocker staging cert expired")
    guest = dict(where=GENERAL, direct=False, addressed=True, outsider=True)
    assert "blocker #2" in text_of(await chat.say("vic", "blocker waiting on our legal", **guest))
    assert "Request #1" in text_of(await chat.say("vic", "request SSO for partners", **guest))
    mine = text_of(await chat.say("vic", "blockers", **guest))
    assert "waiting on our legal" in mine and "staging cert" not in mine
    assert "own members" in text_of(await chat.say("vic", "digest", **guest))
    assert "own members" in text_of(await chat.say("vic", "roles", **guest))


async def test_an_outsider_never_becomes_producer(db) -> None:  # type: ignore[no-untyped-def]
    h = Harness(db)
    guest = dict(where=GENERAL, direct=False, addressed=True, outsider=True)
    assert "own members" in text_of(await h.say("vic", "role me producer", **guest))
    await h.say("pat", "role me producer")  # the team's own first producer
    assert "another organisation" in text_of(await h.say("pat", "role vic producer"))
    async with db.uow() as uow:
        roles = {m.user: m.role for m in await uow.members.list(h.team)}
    assert roles["pat"] == Role.PRODUCER and roles["vic"] != Role.PRODUCER
