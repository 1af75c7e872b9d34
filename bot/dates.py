"""Days as people write them: `2026-12-24`, `12-24`, `24 dec`, `friday`, `tomorrow`,
`next week`, `for 2 weeks`. Pure functions of the words and today's date (in the reader's zone)."""

from __future__ import annotations

import re
from datetime import date, timedelta

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
          "september", "october", "november", "december")
_MONTH_DAY = re.compile(r"^(\d{1,2})[-/](\d{1,2})$")
_SPAN = re.compile(r"^(?:for\s+)?(\d{1,3}|a|an|one|two|three|four)\s+(day|week|month)s?$")
_WORD_NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4}


def _weekday(word: str) -> int | None:
    word = word.rstrip(".")
    for index, name in enumerate(WEEKDAYS):
        if len(word) >= 3 and name.startswith(word):
            return index
    return None


def _month(word: str) -> int | None:
    word = word.rstrip(".")
    for index, name in enumerate(MONTHS):
        if len(word) >= 3 and name.startswith(word):
            return index + 1
    return None


def _next(month: int, day: int, today: date) -> date | None:
    """That day this year, or next year once it has passed."""
    for year in (today.year, today.year + 1):
        try:
            candidate = date(year, month, day)
        except ValueError:
            return None
        if candidate >= today:
            return candidate
    return None


def parse_day(text: str, today: date) -> date | None:
    """The day `text` names, or None if it names none. An ISO date is taken as written (it may
    be in the past: the caller says so); every other form means the next such day."""
    words = text.lower().replace(",", " ").split()
    phrase = " ".join(words)
    if not words:
        return None
    try:
        return date.fromisoformat(phrase)
    except ValueError:
        pass
    if phrase in ("today", "tonight"):
        return today
    if phrase == "tomorrow":
        return today + timedelta(days=1)
    if phrase == "next week":
        return today + timedelta(days=7 - today.weekday())  # next Monday
    span = _SPAN.match(phrase)
    if span:
        count = _WORD_NUMBERS.get(span.group(1)) or int(span.group(1))
        days = {"day": 1, "week": 7, "month": 30}[span.group(2)] * count
        return today + timedelta(days=days) if 0 < days <= 3660 else None
    if words[0] == "next" and len(words) == 2:
        words = words[1:]
    if len(words) == 1:
        weekday = _weekday(words[0])
        if weekday is not None:
            return today + timedelta(days=(weekday - today.weekday() - 1) % 7 + 1)
        numeric = _MONTH_DAY.match(words[0])
        if numeric:
            return _next(int(numeric.group(1)), int(numeric.group(2)), today)
    if len(words) == 2:
        for day, month in ((words[0], words[1]), (words[1], words[0])):
            number = day.rstrip(".").removesuffix("st").removesuffix("nd").removesuffix("rd") \
                .removesuffix("th")
            if number.isdigit() and _month(month):
                return _next(_month(month) or 0, int(number), today)
    return None
