"""Flow figures (bot.flow), computed by hand from a seeded history with fixed clocks, and the
same numbers through real storage, the weekly digest and `producer-bot report --format json`.

The team works in America/New_York: its week of 26 October crosses the end of daylight saving
time (1 November 2026), so that week is 169 hours long, and "Sunday 23:30" is 04:30 UTC after
the change but 03:30 UTC before it. The week of 12 October is empty: nothing at all happened."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event

from bot import flow as figures
from bot.flow import Outcomes, Spread, Stage, Turnout
from bot.model import (
    Blocker,
    BlockerStatus,
    Member,
    Request,
    RequestState,
    Role,
    StandupAnswer,
    Team,
)
from bot.usecases import insights
from storage.db import Database

NY = "America/New_York"
TEAM = Team("console", "flow")


def ny(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A wall-clock time in New York, as UTC."""
    return datetime(2026, month, day, hour, minute, tzinfo=ZoneInfo(NY)).astimezone(UTC)


START, END = ny(11, 2), ny(11, 9)  # the week under report: Monday 2 to Sunday 8 November
NOW = ny(11, 9, 9)  # the weekly digest, Monday 09:00


def blocker(number: int, text: str, reporter: str, opened: datetime, resolved: datetime | None,
            unblocker: str | None = None, status: BlockerStatus | None = None) -> Blocker:
    if status is None:
        status = BlockerStatus.RESOLVED if resolved else BlockerStatus.OPEN
    return Blocker(TEAM, number, text, reporter, "C-eng", opened, unblocker=unblocker,
                   status=status, resolved_at=resolved, resolved_by=reporter if resolved else None)


BLOCKERS = [
    # This week: 24 h, 6 h, 48 h and (opened before the DST change) 73 h; one still open.
    blocker(1, "staging deploy waits for the ops certificate", "erin", ny(11, 2, 9), ny(11, 3, 9),
            "ops"),
    blocker(2, "need ops to renew the staging certificate", "li", ny(11, 2, 10), ny(11, 2, 16),
            "@Ops"),
    blocker(3, "vendor API keys missing for payment tests", "erin", ny(11, 4, 9), ny(11, 6, 9),
            "the vendor"),
    blocker(4, "ops must grant database access", "raj", ny(10, 30, 12), ny(11, 2, 12), "Ops"),
    blocker(5, "staging database credentials expired", "li", ny(11, 5, 14), None),
    # "Not a blocker": never counted.
    blocker(6, "lunch", "erin", ny(11, 3, 10), ny(11, 3, 11), "ops", BlockerStatus.DISMISSED),
    # The four weeks before: 12 h and 24 h; nothing; 61.5 h; 3.5 h.
    blocker(7, "flaky runner", "erin", ny(10, 5, 9), ny(10, 5, 21), "ops"),
    blocker(8, "design review", "li", ny(10, 6, 9), ny(10, 7, 9), "kim"),
    blocker(9, "license server down", "raj", ny(10, 23, 10), ny(10, 25, 23, 30), "it"),
    blocker(10, "hotfix review", "erin", ny(11, 1, 20), ny(11, 1, 23, 30), "pat"),
]


def request(number: int, created: datetime, ready: datetime | None = None,
            decided: datetime | None = None, delivered: datetime | None = None,
            outcome: datetime | None = None, state: RequestState = RequestState.NEEDS_DISCOVERY,
            reason: str | None = None) -> Request:
    return Request(TEAM, number, f"request {number}", "sam", "C-eng", created, state=state,
                   answers={"problem": f"problem {number}"} if ready else {},
                   ready_at=ready, decided_at=decided, decided_by="pat" if decided else None,
                   delivered_at=delivered, outcome_at=outcome, decision_reason=reason,
                   updated_at=outcome or delivered or decided or ready or created)


REQUESTS = [
    # Filed this week: problem stated after 2, 4 and 6 hours; two declined for the same reason.
    request(1, ny(11, 2, 10), ny(11, 2, 12), state=RequestState.READY_FOR_REVIEW),
    request(2, ny(11, 3, 9), ny(11, 3, 13), ny(11, 4, 9), state=RequestState.DECLINED,
            reason="Not a priority this quarter."),
    request(3, ny(11, 4, 9), ny(11, 4, 15), ny(11, 5, 9), state=RequestState.DECLINED,
            reason="not a priority  this quarter"),
    request(4, ny(11, 5, 9)),  # no problem stated yet
    # Filed before (problem stated after 10, 12 and 24 hours), delivered this week: one solved,
    # one reopened ("not yet"), one not answered.
    request(5, ny(10, 5, 9), ny(10, 5, 19), ny(10, 6, 9), ny(11, 3, 9), ny(11, 4, 9),
            RequestState.SOLVED),
    request(6, ny(10, 19, 9), ny(10, 19, 21), ny(10, 20, 9), ny(11, 4, 9), ny(11, 5, 9),
            RequestState.IN_PROGRESS),
    request(7, ny(10, 26, 9), ny(10, 27, 9), ny(10, 28, 9), ny(11, 6, 9),
            state=RequestState.DELIVERED),
]

MEMBERS = [Member(TEAM, "pat", Role.PRODUCER), Member(TEAM, "erin", Role.ENGINEER),
           Member(TEAM, "li", Role.ENGINEER), Member(TEAM, "raj", Role.ENGINEER),
           Member(TEAM, "sam", Role.STAKEHOLDER)]


def answer(user: str, at: datetime) -> StandupAnswer:
    return StandupAnswer(TEAM, user, "moved things", at, "D-" + user)


ANSWERS = [
    *(answer(u, ny(10, 6, 9, 30)) for u in ("erin", "li", "raj", "pat")),  # week of 5 Oct: 4
    answer("erin", ny(10, 20, 9, 30)), answer("raj", ny(10, 21, 9, 30)),  # week of 19 Oct: 2
    *(answer(u, ny(10, 27, 9, 30)) for u in ("erin", "li", "raj")),  # week of 26 Oct: 4 ...
    answer("pat", ny(11, 1, 22)),  # ... pat on Sunday night, after the change to EST
    answer("erin", ny(11, 2, 9, 30)), answer("erin", ny(11, 3, 9, 30)),  # this week: 2
    answer("li", ny(11, 4, 9, 30)),
]

CHANGES = (
    "Blocked person-days rose: 11 against 2.5 a week the four weeks before; each is a day "
    "someone could not do what they planned.",
    "Time to unblock doubled: 36 h (median) against 18 h the four weeks before; 3 of 4 waited "
    "on ops.",
    "Lead time from filed to problem stated fell: 4 h (median) against 12 h the four weeks "
    "before; requests move through this step faster.",
)


def expected_flow() -> figures.Flow:
    return figures.compute(TEAM, NY, START, END, NOW, BLOCKERS, REQUESTS, ANSWERS, MEMBERS)


# ---- the pieces ------------------------------------------------------------------------------


def test_percentiles_are_by_nearest_rank_and_the_median_is_the_middle() -> None:
    assert figures.percentile([], 85) is None
    assert figures.percentile([5.0], 85) == 5.0
    assert figures.percentile([float(n) for n in range(10, 0, -1)], 85) == 9.0  # ceil(8.5) = 9
    assert figures.percentile([6, 24, 48, 73], 85) == 73  # ceil(3.4) = 4th
    assert figures.percentile([1, 2, 3, 4, 5, 6, 7], 50) == 4
    assert Spread.of([6, 24, 48, 73]) == Spread(4, 36, 73)  # even count: mean of the middle two


def test_weeks_start_on_monday_midnight_local_and_keep_it_across_dst() -> None:
    assert figures.week_start(ny(11, 4, 15), NY) == datetime(2026, 11, 2, 5, tzinfo=UTC)  # EST
    assert figures.week_start(ny(10, 28), NY) == datetime(2026, 10, 26, 4, tzinfo=UTC)  # EDT
    # The week across the change has 169 hours; weeks_back keeps local midnight.
    assert START - figures.weeks_back(START, NY, 1) == timedelta(hours=169)
    assert figures.weeks_back(START, NY, 4) == datetime(2026, 10, 5, 4, tzinfo=UTC)
    assert figures.last_week(NOW, NY) == (START, END)
    # Sunday 23:30 after the change still belongs to the week before.
    assert figures.week_start(ny(11, 1, 23, 30), NY) == ny(10, 26)


def test_kolkata_weeks_and_days_follow_the_local_calendar() -> None:
    kolkata = "Asia/Kolkata"
    monday = figures.week_start(datetime(2026, 11, 10, 12, tzinfo=UTC), kolkata)
    assert monday == datetime(2026, 11, 8, 18, 30, tzinfo=UTC)  # Monday 00:00 IST
    # Opened Monday 00:30 IST (still Sunday in UTC), resolved Tuesday 01:30 IST: two local days.
    b = Blocker(TEAM, 1, "cert", "asha", "C", datetime(2026, 11, 8, 19, tzinfo=UTC),
                status=BlockerStatus.RESOLVED, resolved_at=datetime(2026, 11, 9, 20, tzinfo=UTC))
    end = monday + timedelta(days=7)
    assert figures.person_days([b], monday, end, kolkata, end) == 2
    assert figures.person_days([b], monday, end, "UTC", end) == 2  # Sun + Mon UTC, but ...
    assert figures.person_days([b], figures.week_start(b.opened_at, "UTC"),
                               figures.week_start(b.opened_at, "UTC") + timedelta(days=7),
                               "UTC", end) == 1  # ... in UTC only Sunday falls in its week
    flow = figures.compute(TEAM, kolkata, monday, end, end, [b], [], [], [])
    assert flow.unblock == Spread(1, 25.0, 25.0) and flow.blocked_person_days == 2
    assert not flow.quiet and flow.changes == ()  # one blocker is no trend


def test_unblockers_and_themes_are_normalised() -> None:
    assert [figures.normalise_unblocker(w) for w in ("@Ops", "the ops", " OPS ", None, "")] == [
        "ops", "ops", "ops", "unknown", "unknown"]
    assert figures.content_words("Waiting on the vendor's API keys; tests fail") == {
        "vendor", "keys", "test", "fail"}
    assert figures.themes(["staging certs", "the staging cert", "billing"]) == (
        ("cert", 2), ("staging", 2))


# ---- every figure of the seeded history, by hand ---------------------------------------------


def test_every_figure_of_a_seeded_history() -> None:
    flow = expected_flow()
    assert (flow.start, flow.end, flow.timezone) == (START, END, NY)
    # Time to unblock: this week 6, 24, 48, 73 h (the dismissed one is no blocker).
    assert flow.unblock == Spread(4, 36.0, 73.0)
    weeks = [(w.start, w.unblock) for w in flow.unblock_weeks]
    assert weeks == [(ny(10, 5), Spread(2, 18.0, 24.0)), (ny(10, 12), Spread(0, None, None)),
                     (ny(10, 19), Spread(1, 61.5, 61.5)), (ny(10, 26), Spread(1, 3.5, 3.5))]
    assert flow.unblock_weeks[-1].end - flow.unblock_weeks[-1].start == timedelta(hours=169)
    assert flow.unblock_before == Spread(4, 18.0, 61.5)
    # Person-days: erin 2 + 3, li 1 + 4 (the open one to Sunday), raj 1 (Monday).
    assert flow.blocked_person_days == 11
    assert flow.blocked_person_days_before == (3, 0, 3, 4)
    assert flow.waiting_on == (("ops", 3), ("unknown", 1), ("vendor", 1))
    assert flow.blockers_before == 5  # 7 to 10, and 4 (opened 30 October)
    assert flow.themes == (("staging", 3), ("certificate", 2), ("database", 2))
    assert flow.stages == (Stage("filed -> problem stated", 3, 4.0),
                           Stage("problem stated -> decided", 2, 19.0),
                           Stage("decided -> delivered", 3, 361.0),  # 673, 361, 217 h
                           Stage("delivered -> confirmed", 1, 24.0))
    assert flow.stages_before == (Stage("filed -> problem stated", 3, 12.0),
                                  Stage("problem stated -> decided", 3, 14.0),
                                  Stage("decided -> delivered", 0, None),
                                  Stage("delivered -> confirmed", 0, None))
    assert (flow.filed, flow.problem_stated, flow.filed_before, flow.problem_stated_before) == (
        4, 3, 3, 3)
    assert flow.outcomes == Outcomes(delivered=3, solved=1, not_yet=1, no_answer=1)
    assert flow.outcomes_before == Outcomes(0, 0, 0, 0)
    assert flow.decline_reasons == (("not a priority this quarter", 2),)
    assert flow.standups == (Turnout(ny(10, 5), 4, 4), Turnout(ny(10, 12), 0, 4),
                             Turnout(ny(10, 19), 2, 4), Turnout(ny(10, 26), 4, 4),
                             Turnout(START, 2, 4))
    # Moved most: person-days (x4.4), time to unblock (x2), time to a stated problem (/3);
    # the share with a stated problem (-25%) and standups (-20%) moved less.
    assert flow.changes == CHANGES and not flow.quiet
    assert flow.summary == CHANGES


def test_an_empty_week_and_a_quiet_team() -> None:
    flow = figures.compute(TEAM, NY, ny(10, 12), ny(10, 19), NOW, BLOCKERS, REQUESTS, ANSWERS,
                           MEMBERS)
    assert flow.unblock == Spread(0, None, None) and flow.blocked_person_days == 0
    assert flow.filed == 0 and flow.outcomes == Outcomes(0, 0, 0, 0) and not flow.quiet
    quiet = figures.compute(TEAM, NY, START, END, NOW, [], [], [], MEMBERS)
    assert quiet.quiet and quiet.changes == ()
    assert quiet.summary == ("A quiet stretch: no blockers and no requests in the five weeks "
                             "up to Sun 08 Nov.",)


def test_too_few_items_make_no_change() -> None:
    few = figures.compute(TEAM, NY, START, END, NOW, BLOCKERS[:2] + BLOCKERS[6:8], [], [], [])
    assert few.unblock.count == 2 and few.changes == ()
    assert few.summary[0].startswith("Nothing moved much")


# ---- the same numbers through storage, the digest and the command line -----------------------


async def seed(db: Database) -> None:
    async with db.uow() as uow:
        await uow.tenants.ensure(TEAM)
        settings = await uow.tenants.get(TEAM)
        settings.timezone = NY
        await uow.tenants.update(settings)
        for m in MEMBERS:
            await uow.members.ensure(TEAM, m.user)
            await uow.members.set_role(TEAM, m.user, m.role)
        for b in BLOCKERS:
            await uow.blockers.add(b)
        for r in REQUESTS:
            await uow.requests.add(r)
        for a in ANSWERS:
            await uow.standups.add(a)
        # Another team's history is never counted.
        other = Team("console", "other")
        await uow.tenants.ensure(other)
        await uow.blockers.add(Blocker(other, 1, "staging", "x", "C", ny(11, 3),
                                       status=BlockerStatus.RESOLVED, resolved_at=ny(11, 4)))
        await uow.commit()


def count_statements(db: Database) -> list[str]:
    seen: list[str] = []
    event.listen(db.engine.sync_engine, "before_cursor_execute",
                 lambda *args: seen.append(args[2]))
    return seen


async def test_storage_reads_the_same_figures_in_five_statements(db: Database) -> None:
    await seed(db)
    statements = count_statements(db)
    async with db.uow() as uow:
        flow = await insights.flow_for(uow, TEAM, START, END, NOW)
    assert flow == expected_flow()
    assert len(statements) == 5
    async with db.uow() as uow:
        quiet = await insights.flow_for(uow, Team("console", "nobody"), START, END, NOW)
    assert quiet.quiet and len(statements) == 10  # the same count for an empty team


async def test_the_weekly_digest_shows_the_three_changes(db: Database) -> None:
    await seed(db)
    async with db.uow() as uow:
        weekly = await insights.digest_with_flow(uow, TEAM, "week", NOW)
        daily = await insights.digest_with_flow(uow, TEAM, "day", NOW)
    assert weekly.flow == expected_flow()
    from bot.digest import digest_sections
    (how,) = [s for s in digest_sections(weekly) if s.title == "How we're doing"]
    assert how.text == "\n".join(f"• {line}" for line in CHANGES)
    assert daily.flow is None
    assert all(s.title != "How we're doing" for s in digest_sections(daily))


async def test_export_rows_carry_every_stage(db: Database) -> None:
    await seed(db)
    async with db.uow() as uow:
        rows = await insights.export_rows(uow, TEAM, None, NOW)
        recent = await insights.export_rows(uow, TEAM, ny(11, 2), NOW)
    assert [(r["kind"], r["number"]) for r in rows] == (
        [("blocker", str(n)) for n in range(1, 11)] + [("request", str(n)) for n in range(1, 8)])
    r5 = next(r for r in rows if r["kind"] == "request" and r["number"] == "5")
    assert (r5["created"], r5["problem_stated"], r5["decided"], r5["delivered"],
            r5["confirmed"]) == ("2026-10-05T13:00:00+00:00", "2026-10-05T23:00:00+00:00",
                                 "2026-10-06T13:00:00+00:00", "2026-11-03T14:00:00+00:00",
                                 "2026-11-04T14:00:00+00:00")
    r6 = next(r for r in rows if r["kind"] == "request" and r["number"] == "6")
    assert r6["confirmed"] == "" and r6["state"] == "in-progress"  # reopened: not confirmed
    b1 = rows[0]
    assert (b1["created"], b1["resolved"], b1["resolved_by"], b1["unblocker"]) == (
        "2026-11-02T14:00:00+00:00", "2026-11-03T14:00:00+00:00", "erin", "ops")
    # Since 2 November (local): what was open or changed then, not what ended before; #10
    # ended on Sunday 23:30 EST, 04:30 UTC on the 2nd.
    assert {r["number"] for r in recent if r["kind"] == "blocker"} == {
        "1", "2", "3", "4", "5", "6"}
    assert {r["number"] for r in recent if r["kind"] == "request"} == {
        "1", "2", "3", "4", "5", "6", "7"}


@pytest.fixture
def cli_database(database_url: str, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """A migrated database with the seeded history, and the CLI pointed at it."""
    from adapters.cli import main
    from tests.conftest import reset_postgres

    if not database_url.startswith("sqlite"):
        asyncio.run(reset_postgres(database_url))
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)
    assert main(["db", "upgrade"]) == 0

    async def seeded() -> None:
        db = Database(database_url)
        try:
            await seed(db)
        finally:
            await db.dispose()

    asyncio.run(seeded())
    return main


def test_report_json_gives_the_same_numbers(cli_database, capsys, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import time_machine

    main = cli_database
    capsys.readouterr()
    with time_machine.travel(NOW, tick=False):
        assert main(["report", "--team", str(TEAM), "--format", "json"]) == 0
        by_default = json.loads(capsys.readouterr().out)
        assert main(["report", "--team", str(TEAM), "--since", "2026-11-02", "--until",
                     "2026-11-08", "--format", "json"]) == 0
        by_dates = json.loads(capsys.readouterr().out)
        assert main(["report", "--team", str(TEAM)]) == 0
        markdown = capsys.readouterr().out
        chart = tmp_path / "week.png"
        assert main(["report", "--team", str(TEAM), "--format", "png", "--out", str(chart)]) == 0
        drawn = capsys.readouterr().out
    expected = insights.flow_json(expected_flow())
    assert by_default == expected == by_dates
    assert by_default["changes"] == list(CHANGES)
    assert by_default["unblock"] == {"count": 4, "median": 36.0, "p85": 73.0}
    assert by_default["start"] == "2026-11-02T05:00:00+00:00"
    assert "2026-11-02 to 2026-11-08 (America/New_York)" in markdown
    assert "| **this period** | 4 | 36.0 h | 73.0 h |" in markdown
    assert "Blocked person-days: 11" in markdown and CHANGES[0] in markdown
    # The chart says the same numbers: this week's median and 85th percentile.
    assert chart.read_bytes().startswith(b"\x89PNG")
    assert "Nov 2 36 h" in drawn and "Nov 2 73 h" in drawn


async def test_a_shared_channel_reads_figures_without_private_items(db: Database) -> None:
    await seed(db)
    async with db.uow() as uow:
        hidden = Blocker(TEAM, 11, "acquisition paperwork", "zed", "G-private", ny(11, 3),
                         unblocker="legal", private=True)
        await uow.blockers.add(hidden)
        await uow.commit()
    async with db.uow() as uow:
        shared = await insights.flow_for(uow, TEAM, START, END, NOW, everything=False)
        producer = await insights.flow_for(uow, TEAM, START, END, NOW)
        mine = await insights.flow_for(uow, TEAM, START, END, NOW, viewer="zed", everything=False)
    assert shared == expected_flow()
    assert ("legal", 1) in producer.waiting_on and ("legal", 1) in mine.waiting_on


def test_a_longer_period_compares_per_week_and_keeps_weekly_standups() -> None:
    two_weeks = figures.compute(TEAM, NY, ny(10, 26), END, NOW, BLOCKERS, REQUESTS, ANSWERS,
                                MEMBERS)
    # 26 Oct to 8 Nov: erin 1 + 5, li 5, raj 3 + 1 = 15 person-days; 7.5 a week against the
    # four weeks from 28 September (0, 3, 0, 3): 1.5 a week.
    assert two_weeks.blocked_person_days == 15
    assert two_weeks.blocked_person_days_before == (0, 3, 0, 3)
    assert two_weeks.changes[0].startswith("Blocked person-days rose: 7.5 a week against 1.5 a "
                                           "week the four weeks before")
    # Standups stay week by week, the five weeks up to the end.
    assert two_weeks.standups == expected_flow().standups
    assert "Standup participation fell: 2 of 4 (50%) against 62%" in two_weeks.changes[1]
