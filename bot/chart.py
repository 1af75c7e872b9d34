"""A small chart a message can carry (Outgoing.chart): platform-neutral data; adapters draw it
(adapters/charts.py) and show it as their platform can."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Series:
    """One line or set of bars of a chart: `values` has one entry per x label, None where there
    is no data (drawn as a gap, never as a zero)."""

    label: str
    unit: str  # "days", "requests", "%": written after each value
    values: tuple[float | None, ...]


@dataclass(frozen=True)
class Chart:
    """A small chart in a message, platform-neutral: adapters draw it (adapters/charts.py) and
    show it as their platform can. `alt` says the same in words, for screen readers,
    notifications and wherever no image can be shown."""

    title: str
    x: tuple[str, ...]  # labels along the bottom, e.g. weeks: "Nov 2", "Nov 9"
    series: tuple[Series, ...]
    alt: str
    kind: str = "line"  # "line" | "bar"

    def __post_init__(self) -> None:
        if not self.series or any(len(s.values) != len(self.x) for s in self.series):
            raise ValueError("a chart needs a series, each with one value per x label")
        if self.kind not in ("line", "bar"):
            raise ValueError(f"a chart is a line or a bar chart, not {self.kind!r}")
