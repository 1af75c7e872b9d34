"""Charts for the tests: five weeks, three series, weeks without data."""

from __future__ import annotations

import struct

from bot.model import Chart, Series

WEEKS = ("Nov 2", "Nov 9", "Nov 16", "Nov 23", "Nov 30")


def weekly_chart(title: str = "Time to unblock") -> Chart:
    return Chart(
        title=title, x=WEEKS,
        series=(Series("median", "days", (1.5, None, 2.0, 3.25, 1.0)),
                Series("85th percentile", "days", (4.0, None, 5.5, 9.0, 2.0)),
                Series("blocked person-days", "days", (3.0, 7.0, None, 12.0, 4.0))),
        alt=("Time to unblock, weeks of Nov 2 to Nov 30: median 1.5, no data, 2, 3.25 and 1 "
             "days; 85th percentile 4, no data, 5.5, 9 and 2 days; blocked person-days 3, 7, "
             "no data, 12 and 4."))


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's header."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    return struct.unpack(">II", png[16:24])
