"""Voices ("me too") and merges through the real core and real storage (SQLite; PostgreSQL with
TEST_DATABASE_URL): who may add one, what the producer sees, who hears when a request moves."""

from __future__ import annotations

from datetime import timedelta

from adapters.llm.guard import digest_facts
from bot.digest import build_digest, render_text
from bot.model import MERGE, MOVES, Outgoing, RequestState, Role, Voice, Where
from bot.views import Evidence
from tests.conftest import NOW, Harness, flatten
from tests.test_core import file_request, request


async def voices_of(h: Harness, number: int) -> list[Voice]:
    async with h.db.uow() as uow:
        return (await uow.voices.of(h.team, [number])).get(number, [])


def to(sent: list[Outgoing], user: str) -> str:
    """Everything one person was told 1:1 (or privately) in these messages."""
    return "\n".join(flatten(o) for o in sent if user in (o.to_user, o.private_to))


def answer(sent: list[Outgoing]) -> str:
    """What the sender was answered in their 1:1 chat (the harness speaks 1:1)."""
    return "\n".join(flatten(o) for o in sent if o.to_user is None)


async def test_metoo_adds_one_voice_per_person_and_updates_their_words(chat: Harness) -> None:
    number = await file_request(chat)
    reply = await chat.reply_text("erin", f"metoo {number} I retype invoices for support too")
    assert "added your voice to request #1" in reply and "2 people" in reply
    reply = await chat.reply_text("erin", f"metoo {number} it costs me two hours a week")
    assert "updated what you said" in reply and "2 people" in reply  # never a second voice
    [voice] = await voices_of(chat, number)
    assert voice.user == "erin" and voice.problem == "it costs me two hours a week"
    assert voice.at == NOW and voice.user_team is None  # nobody told us erin's team


async def test_a_bare_metoo_adds_the_voice_then_asks_how_it_affects_them(chat: Harness) -> None:
    await file_request(chat)
    reply = await chat.reply_text("erin", "metoo 1")
    assert "added your voice" in reply and "How does this problem affect you?" in reply
    assert "metoo 1 <how it affects you>" in reply
    assert (await voices_of(chat, 1))[0].problem is None
    again = await chat.reply_text("erin", "metoo 1")
    assert "already on request #1" in again and len(await voices_of(chat, 1)) == 1
    await chat.say("erin", "metoo 1 support loses a day a month")
    assert (await voices_of(chat, 1))[0].problem == "support loses a day a month"


async def test_the_requester_and_bad_numbers_are_refused_kindly(chat: Harness) -> None:
    await file_request(chat)
    assert "is your own" in await chat.reply_text("sam", "metoo 1")
    assert "There is no request #9 here" in await chat.reply_text("erin", "metoo 9")
    assert "Usage: `metoo <number> [how it affects you]`" in await chat.reply_text("erin",
                                                                                  "metoo")
    assert "Which one?" in await chat.reply_text("erin", "metoo lots")
    assert await voices_of(chat, 1) == []


async def test_closed_requests_say_which_state_they_are_in(chat: Harness) -> None:
    await file_request(chat)
    await chat.say("pat", "decline 1 not this quarter")
    assert "it is declined" in await chat.reply_text("erin", "metoo 1")
    await file_request(chat, title="Dark mode")
    await chat.say("sam", "withdraw 2")
    assert "it is withdrawn" in await chat.reply_text("erin", "metoo 2")
    assert await voices_of(chat, 1) == [] and await voices_of(chat, 2) == []


async def test_private_requests_take_voices_only_from_those_who_may_see_them(
        chat: Harness) -> None:
    secret = Where("console", "acme", "hr-private")
    await chat.say("sam", "request salary bands export", direct=False, private=True, addressed=True,
                   where=secret)
    reply = await chat.reply_text("erin", "metoo 1")
    assert "private conversation" in reply and "salary" not in reply
    assert await voices_of(chat, 1) == []
    # A producer may see it, so may add theirs.
    assert "added your voice" in await chat.reply_text("pat", "metoo 1")


async def test_an_outsider_counts_as_another_organisation(chat: Harness) -> None:
    await file_request(chat)
    reply = await chat.reply_text("vendor", "metoo 1 our invoices bounce too", outsider=True)
    assert "2 people, 1 team: another organisation" in reply
    assert (await voices_of(chat, 1))[0].user_team == "another organisation"


async def test_the_request_list_shows_how_many_people_and_teams(chat: Harness) -> None:
    await file_request(chat)
    await chat.say("erin", "metoo 1 support retypes them too")
    await chat.say("vendor", "metoo 1", outsider=True)
    listing = await chat.reply_text("pat", "requests")
    assert "#1 *CSV export* (ready-for-review, <@sam>, 3 people, 1 team: another organisation)" \
        in listing


async def test_the_producers_review_card_has_the_evidence_and_the_button(chat: Harness) -> None:
    await chat.say("sam", "request CSV export")
    await chat.say("erin", "metoo 1 support retypes them too")
    sent = await chat.say("sam", "Finance copies invoice rows by hand every Friday: 3 hours")
    for _ in range(3):
        sent += await chat.say("sam", "skip")
    review = [o for o in sent if o.to_user == "pat"]
    assert len(review) == 1
    text = flatten(review[0])
    assert "*Who has it:* 2 people" in text and "<@erin>: support retypes them too" in text
    assert "[Add my voice|metoo 1]" in text and "[Accept|accept 1]" in text


async def test_an_edit_after_the_review_shows_the_producer_the_evidence_too(chat: Harness) -> None:
    number = await file_request(chat)
    await chat.say("erin", f"metoo {number} support retypes them too")
    sent = await chat.say("sam", f"edit {number} who finance and support")
    told = to(sent, "pat")
    assert "edited request #1" in told and "*Who has it:* 2 people" in told


async def test_requests_and_home_offer_the_button_for_others_requests(chat: Harness) -> None:
    await file_request(chat)
    listing = await chat.reply_text("erin", "requests")
    assert "[Add my voice to #1|metoo 1]" in listing
    assert "[Add my voice to #1|metoo 1]" not in await chat.reply_text("sam", "requests")
    home = await chat.reply_text("erin", "home")
    assert "do you have this problem too?" in home and "[Add my voice to #1|metoo 1]" in home
    await chat.say("erin", "metoo 1 me too")
    home = await chat.reply_text("erin", "home")
    assert "Requests you added your voice to" in home
    assert "• #1 *CSV export* (ready-for-review, 2 people)" in home
    assert "do you have this problem too?" not in home and "metoo 1" not in home


async def test_the_similar_request_hint_offers_a_voice_instead_of_a_second_filing(
        chat: Harness) -> None:
    await file_request(chat, title="CSV export of invoices")
    reply = await chat.reply_text("erin", "request export invoices as CSV")
    assert "similar request" in reply and "add your voice there" in reply
    assert "[Add my voice to #1|metoo 1]" in reply and "[Withdraw #2|withdraw 2]" in reply
    assert "`withdraw 2` and add your voice" not in reply  # the old hint named no command
    await chat.say("erin", "metoo 1")
    await chat.say("erin", "withdraw 2")
    assert [v.user for v in await voices_of(chat, 1)] == ["erin"]


async def test_voices_hear_accept_deliver_and_solved_once_each(chat: Harness) -> None:
    await file_request(chat)
    await chat.set_role("kim", Role.STAKEHOLDER)
    await chat.say("erin", "metoo 1 support retypes them too")
    await chat.say("kim", "metoo 1")
    await chat.say("pat", "metoo 1")  # a producer with the problem hears each thing once
    accepted = await chat.say("pat", "accept 1")
    assert "was accepted" in to(accepted, "sam")
    for user in ("erin", "kim"):
        assert "which you added your voice to, was accepted" in to(accepted, user)
    assert sum(1 for o in accepted if o.to_user == "erin") == 1
    delivered = await chat.say("pat", "deliver 1 shipped in 2.4")
    assert "Did it solve your problem" in to(delivered, "sam")
    assert "was delivered: shipped in 2.4" in to(delivered, "kim")
    # A voice is asked too (issue #16), with buttons of its own; only the requester's answer
    # moves the request (tests/test_demos.py: a voice's verdict is noted, the request stays).
    assert "Did it solve the problem for you too?" in to(delivered, "kim")
    assert "[It solves mine too|solved 1]" in to(delivered, "kim")
    assert "reconciliation done in under 30 minutes" in to(delivered, "kim")
    solved = await chat.say("sam", "solved 1")
    assert "is solved" in to(solved, "erin") and "is solved" in to(solved, "kim")
    assert [o.to_user for o in solved].count("pat") == 1  # told as a producer, not again
    assert [o.to_user for o in solved].count("erin") == 1


async def test_a_private_requests_voices_outside_it_are_not_told(chat: Harness) -> None:
    secret = Where("console", "acme", "hr-private")
    await chat.say("sam", "request", direct=False, private=True, addressed=True, where=secret,
                   form={"title": "salary bands export",
                         "problem": "HR rebuilds salary bands by hand every quarter"})
    async with chat.db.uow() as uow:
        # A voice from before the request was private (say, carried by a merge) is still
        # not told about a request they may not see.
        await uow.voices.add(Voice(chat.team, 1, "erin", NOW))
        await uow.commit()
    await chat.say("pat", "metoo 1")
    accepted = await chat.say("pat", "accept 1")
    assert (await request(chat, 1)).state == RequestState.ACCEPTED
    assert to(accepted, "erin") == ""
    assert "was accepted" in to(accepted, "sam")


# ---- merge ---------------------------------------------------------------------------------


async def test_merge_moves_the_requester_and_voices_and_closes_the_duplicate(
        chat: Harness) -> None:
    await file_request(chat, title="CSV export")
    await chat.set_role("kim", Role.STAKEHOLDER)
    await chat.say("erin", "metoo 1 support too")
    await file_request(chat, user="kim", title="Invoices to spreadsheet")
    await chat.say("erin", "metoo 2 already said so on the other one")
    await chat.say("sam", "metoo 2 this is mine too")  # #1's requester, a voice on #2
    await chat.say("lee", "metoo 2 accounting loses Fridays")
    sent = await chat.say("pat", "merge 2 into 1")
    reply = answer(sent)
    assert "Merged request #2 into #1" in reply and "4 people" in reply
    merged = await request(chat, 2)
    assert merged.state == RequestState.MERGED and merged.merged_into == 1
    assert merged.status == "merged into #1" and merged.decided_by == "pat"
    voices = {v.user: v for v in await voices_of(chat, 1)}
    assert sorted(voices) == ["erin", "kim", "lee"]  # sam asked for #1: never a voice on it
    assert voices["kim"].problem.startswith("Finance copies invoice rows")
    assert voices["kim"].merged_from == 2
    assert voices["erin"].problem == "support too"  # their own words on #1 are kept
    assert voices["lee"].problem == "accounting loses Fridays"
    for user in ("kim", "erin", "lee"):
        assert "merged it there" in to(sent, user) and "#1 (CSV export)" in to(sent, user)
    assert "Your request #2" in to(sent, "kim")
    # #1's requester hears that more people share their problem, and is no voice on it.
    assert "merged it into yours: it now has 4 people" in to(sent, "sam")
    assert "You count as a voice" not in to(sent, "sam")
    # #2 is closed: no voices, and `requests all` shows where it went.
    assert "merged into #1" in await chat.reply_text("lee", "metoo 2")
    assert "[Add my voice to #1|metoo 1]" in await chat.reply_text("zoe", "metoo 2")
    assert "merged into #1" in await chat.reply_text("pat", "requests all")


async def test_a_private_request_merges_into_a_shared_one_without_its_words(
        chat: Harness) -> None:
    await file_request(chat, title="CSV export")
    secret = Where("console", "acme", "hr-private")
    # Filed with the form: the problem is stated at once.
    await chat.say("kim", "request", direct=False, private=True, addressed=True, where=secret,
                   form={"title": "salary bands export",
                         "problem": "HR rebuilds salary bands by hand every quarter"})
    assert (await request(chat, 2)).problem == "HR rebuilds salary bands by hand every quarter"
    assert "merging #1 into it would hide it" in await chat.reply_text("pat", "merge 1 into 2")
    sent = await chat.say("pat", "merge 2 into 1")
    assert "Merged request #2 into #1" in answer(sent)
    [voice] = await voices_of(chat, 1)
    assert voice.user == "kim" and voice.problem is None  # the private statement stays there
    told = to(sent, "sam")
    assert "merged it into yours: it now has 2 people" in told and "salary" not in told


async def test_merge_refuses_what_makes_no_sense(chat: Harness) -> None:
    for title in ("CSV export", "Spreadsheet export", "Dark mode"):
        await file_request(chat, title=title)
    assert "Only producers can merge" in await chat.reply_text("sam", "merge 2 into 1")
    assert "into itself" in await chat.reply_text("pat", "merge 1 into 1")
    assert "Usage: `merge <number> into <number>`" in await chat.reply_text("pat", "merge 1")
    assert "There is no request #7" in await chat.reply_text("pat", "merge 2 into 7")
    await chat.say("pat", "decline 3 not now")
    assert "#3 is declined" in await chat.reply_text("pat", "merge 2 into 3")
    assert "it is declined" in await chat.reply_text("pat", "merge 3 into 1")
    assert "Merged request #2 into #1" in await chat.reply_text("pat", "merge #2 into #1")
    assert "already merged into #1" in await chat.reply_text("pat", "merge 2 into 3")
    reply = await chat.reply_text("pat", "merge 1 into 2")
    assert "#2 is itself merged into #1" in reply
    for number in (1, 3):
        assert (await request(chat, number)).state != RequestState.MERGED


async def test_merge_is_one_transaction(chat: Harness, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    await file_request(chat, title="CSV export")
    await file_request(chat, user="erin", title="Spreadsheet export")
    from storage.repositories import SqlVoices

    async def broken(self, voice):  # type: ignore[no-untyped-def]
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(SqlVoices, "add", broken)
    await chat.say("pat", "merge 2 into 1")
    assert (await request(chat, 2)).state == RequestState.READY_FOR_REVIEW
    assert await voices_of(chat, 1) == []


async def test_voices_hear_when_the_requester_withdraws(chat: Harness) -> None:
    await file_request(chat)
    await chat.say("erin", "metoo 1 support too")
    sent = await chat.say("sam", "withdraw 1")
    assert "was withdrawn. If you still have this problem, file it yourself" in to(sent, "erin")
    assert (await request(chat, 1)).state == RequestState.WITHDRAWN


def test_merge_is_a_move_of_the_one_lifecycle_table() -> None:
    assert MERGE in MOVES and MERGE.target == RequestState.MERGED
    assert RequestState.DELIVERED not in MERGE.sources


# ---- the digest ----------------------------------------------------------------------------


async def test_the_digest_ranks_decisions_by_voices_then_age(chat: Harness) -> None:
    chat.now = NOW - timedelta(days=3)
    await file_request(chat, title="Oldest, alone")
    chat.now = NOW - timedelta(days=2)
    await file_request(chat, title="Middle, two voices")
    chat.now = NOW - timedelta(days=1)
    await file_request(chat, title="Newest, one voice")
    chat.now = NOW
    await chat.say("erin", "metoo 2")
    await chat.say("vendor", "metoo 2", outsider=True)
    await chat.say("erin", "metoo 3")
    async with chat.db.uow() as uow:
        digest = await build_digest(uow, chat.team, "week", NOW)
    assert [r.number for r in digest.waiting_for_decision] == [2, 3, 1]
    assert digest.waiting_for_decision[0].evidence == Evidence(
        3, ("another organisation",), ())
    text = render_text(digest)
    decisions = text[text.index("Decisions needed"):]
    assert decisions.index("#2") < decisions.index("#3") < decisions.index("#1")
    assert "3 people, 1 team: another organisation" in decisions
    # The language model's summary is shown the counts, so a headline may name them.
    facts = digest_facts(digest, include_text=False)
    waiting = facts["requests_waiting_for_producer_decision"]["items"]  # type: ignore[index]
    assert [(i["number"], i.get("people"), i.get("teams")) for i in waiting] == [
        (2, 3, ["another organisation"]), (3, 2, None), (1, None, None)]
    await chat.say("pat", "merge 1 into 2")
    async with chat.db.uow() as uow:
        text = render_text(await build_digest(uow, chat.team, "week", NOW))
    assert "Merged this week" in text and "#1 *Oldest, alone* merged into #2" in text


async def test_help_documents_metoo_and_merge(chat: Harness) -> None:
    [out] = await chat.say("sam", "help")
    groups = {s.title: s.text for s in out.sections}
    assert "`metoo <number> [how it affects you]` you have this problem too" in groups["Requests"]
    assert "`merge <number> into <number>` the same problem" in groups["For producers"]
