"""Days as people write them, and `away` / `schedule` taking the words people use."""

from __future__ import annotations

from datetime import date

import pytest

from bot.dates import parse_day
from tests.conftest import Harness

TUESDAY = date(2026, 12, 1)


@pytest.mark.parametrize(("text", "day"), [
    ("2026-12-24", date(2026, 12, 24)),
    ("2020-01-01", date(2020, 1, 1)),  # as written: the caller refuses the past
    ("12-24", date(2026, 12, 24)),
    ("11-20", date(2027, 11, 20)),  # passed this year: next year's
    ("24 dec", date(2026, 12, 24)),
    ("December 24th", date(2026, 12, 24)),
    ("friday", date(2026, 12, 4)),
    ("Fri", date(2026, 12, 4)),
    ("tuesday", date(2026, 12, 8)),  # today is Tuesday: the next one
    ("next monday", date(2026, 12, 7)),
    ("tomorrow", date(2026, 12, 2)),
    ("next week", date(2026, 12, 7)),
    ("for 2 weeks", date(2026, 12, 15)),
    ("3 days", date(2026, 12, 4)),
    ("a week", date(2026, 12, 8)),
    ("13-45", None),
    ("someday", None),
    ("", None),
])
def test_days_people_write(text: str, day: date | None) -> None:
    assert parse_day(text, TUESDAY) == day


async def test_away_takes_natural_days_and_refuses_the_past(chat: Harness) -> None:
    # The harness's now is Monday 2026-11-16.
    assert "until 2026-11-20 (Friday" in await chat.reply_text("erin", "away until friday")
    assert "until 2026-12-24" in await chat.reply_text("erin", "away until 12-24")
    assert "until 2026-11-30" in await chat.reply_text("erin", "away for 2 weeks")
    assert "has passed" in await chat.reply_text("erin", "away until 2020-01-01")
    assert "Usage" in await chat.reply_text("erin", "away until someday")
    async with chat.db.uow() as uow:
        erin = await uow.members.get(chat.team, "erin")
    assert erin.away_until.date() == date(2026, 11, 30)


async def test_schedule_on_and_off_take_either_order(chat: Harness) -> None:
    assert "daily-digest schedule is on" in await chat.reply_text("pat", "schedule daily-digest on")
    assert "daily-digest schedule is off" in await chat.reply_text("pat", "schedule off daily-digest")
