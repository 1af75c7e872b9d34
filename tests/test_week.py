"""A realistic week of a small team (a producer, three engineers, two stakeholders, messy chat),
replayed through the core and real storage; the producer's Friday digest is checked item by
item: one blocker per problem, ages and durations right, nothing twice, standup highlights."""

from __future__ import annotations

from datetime import timedelta

from bot.model import Role, Where
from storage.db import Database
from tests.conftest import NOW, Harness

MONDAY = NOW  # 2026-11-16 09:00 UTC
ENG = Where("console", "acme", "C-eng")


def at(day: int, hour: int, minute: int = 0):  # type: ignore[no-untyped-def]
    return MONDAY + timedelta(days=day, hours=hour - 9, minutes=minute)


async def week(db: Database) -> tuple[Harness, str, str]:
    h = Harness(db)
    n = iter(range(1, 1000))

    async def channel(user: str, text: str, when, **kw: object) -> None:  # type: ignore[no-untyped-def]
        await h.say(user, text, where=kw.pop("where", ENG), direct=False,
                    message_id=f"17000.{next(n)}", at=when, **kw)

    async def dm(user: str, text: str, when) -> None:  # type: ignore[no-untyped-def]
        await h.say(user, text, where=Where("console", "acme", f"D-{user}"), at=when,
                    message_id=f"17000.{next(n)}")

    # Monday
    await dm("pat", "role me producer", at(0, 9))
    await channel("erin", "can't deploy until the staging cert is renewed", at(0, 9, 40))
    await channel("raj", "morning all, standup notes are in the doc", at(0, 10))
    await dm("sam", "request CSV export of invoices", at(0, 11))
    await dm("sam", "Finance retypes invoice rows by hand every Friday, three hours a week",
             at(0, 11, 5))
    await dm("sam", "the finance team", at(0, 11, 6))
    await dm("sam", "done", at(0, 11, 7))
    # Tuesday
    await dm("erin", "standup fixed the flaky login test. still blocked on the staging cert",
             at(1, 9, 35))
    await channel("li", "blocked on the API keys from the vendor, can't test the payment flow",
                  at(1, 10))
    await dm("kim", "request dark mode", at(1, 14))
    await dm("kim", "People working at night get headaches from the white screens", at(1, 14, 3))
    await dm("kim", "done", at(1, 14, 4))
    # Wednesday
    await dm("raj", "standup merged the retry PR; reviewing the payment PR", at(2, 9, 30))
    await channel("erin", "staging cert renewed, not blocked anymore", at(2, 10))
    await dm("erin", "resolve 1 ops renewed it", at(2, 10, 5))
    await dm("pat", "accept 1", at(2, 11))
    await dm("pat", "start 1", at(2, 11, 1))
    # Thursday
    await dm("pat", "deliver 1 shipped in 2.4", at(3, 9))
    await dm("sam", "notyet 1 the export misses credit notes", at(3, 12))
    # Friday
    await channel("li", "still blocked on the vendor API keys", at(4, 9))
    sent = await h.say("pat", "digest week", where=Where("console", "acme", "D-pat"),
                       at=at(4, 10))
    (digest,) = sent
    return h, digest.text, "\n".join(f"{s.title}\n{s.text}" for s in digest.sections)


async def test_the_friday_digest_of_a_real_week(db: Database) -> None:
    h, headline, body = await week(db)
    async with db.uow() as uow:
        roles = {m.user: m.role for m in await uow.members.list(h.team)}
        blockers = await uow.blockers.open(h.team)
    # Roles came from what people did.
    assert roles == {"pat": Role.PRODUCER, "erin": Role.ENGINEER, "raj": Role.ENGINEER,
                     "li": Role.ENGINEER, "sam": Role.STAKEHOLDER, "kim": Role.STAKEHOLDER}
    # One blocker per problem: two problems were reported, one is solved.
    assert [(b.number, b.reporter, b.unblocker) for b in blockers] == [(2, "li", "the vendor")]
    # The numbers, from the story above: 1 open (opened Tue 10:00, 3 days before Fri 10:00);
    # 1 request ready for review (dark mode); the CSV export was reopened, not accepted.
    assert headline == ("Weekly digest: 1 blocker open, oldest 3d; 1 request waiting for your "
                        "decision.")
    blocker_sections = body.split("Standups", 1)[0]
    assert blocker_sections.count("staging cert") == 1
    assert blocker_sections.count("#2 blocked on the API keys") == 1
    assert ("#2 blocked on the API keys from the vendor, can't test the payment flow "
            "(<@li>, 3d, waiting on the vendor)") in body
    # Resolved: open 2 days (Mon 09:40 to Wed 10:05), by whom, with the note.
    assert ("#1 can't deploy until the staging cert is renewed (<@erin>, open 2d, resolved by "
            "<@erin>: ops renewed it)") in body
    # Each request once, where it asks for action; the reopened one with its reason.
    assert body.count("dark mode") == 1 and body.count("CSV export of invoices") == 1
    decisions = body.split("Decisions needed\n", 1)[1].split("\n\n")[0]
    assert "#2 *dark mode* (<@kim>)" in decisions
    assert "Requests in-progress (1)" in body and "Reopened: the export misses credit notes" in body
    # Standups: the two who answered, with what moved and what blocked; the others named.
    assert "2 of 4 posted an update this week (not yet: <@li>, <@pat>)" in body
    assert "• <@erin>: fixed the flaky login test; blocked: still blocked on the staging cert" \
        in body
    assert "• <@raj>: merged the retry PR; reviewing the payment PR" in body
    assert "sam" not in body.split("Standups", 1)[1] and "kim" not in body.split("Standups", 1)[1]
