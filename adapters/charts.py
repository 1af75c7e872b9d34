"""A message's chart (bot.model.Chart) drawn as a PNG, the same picture for every platform.

matplotlib is imported here and nowhere else, and only when the first chart is drawn: a bot
that never sends one never loads it. Nothing global is changed: no `matplotlib.use`, no pyplot
(its figure manager is process-wide state), no rcParams; each chart is a Figure of its own on an
Agg canvas with every size and colour passed explicitly.

Drawing is CPU work (tens of milliseconds): callers run `render_png` in a worker thread,
`await asyncio.to_thread(render_png, chart)`, never on the event loop. matplotlib does not
promise thread safety, so one chart is drawn at a time (a lock); charts are few (a digest a week).

Made to be read on a phone and without telling colours apart: 800x450 px, large type, and every
series has its own colour (Okabe-Ito, safe for colour blindness) *and* its own marker, line
style or hatch, its values written on the points or bars, and its name in the legend. Missing
values ("no data") are gaps, never zeros.
"""

from __future__ import annotations

import io
import math
import re
import threading
from typing import Any

from bot.model import Chart

WIDTH_IN, HEIGHT_IN, DPI = 8.0, 4.5, 100  # 800 x 450 px
# Okabe & Ito's palette (made to stay distinct for the common kinds of colour blindness),
# without its yellow, too faint on white.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
MARKERS = ("o", "s", "^", "D", "v", "P", "X")
LINESTYLES = ("-", "--", ":", "-.", "-", "--", ":")
HATCHES = ("", "//", "..", "xx", "\\\\", "oo", "--")
TITLE_SIZE, TEXT_SIZE, VALUE_SIZE = 20, 15, 13
INK, FAINT = "#222222", "#888888"
MAX_TITLE = 56
# Fewer colours than Agg's anti-aliased edges make: a palette PNG, a quarter the size (13 KB
# rather than 47 KB for five weeks of three series), small enough to travel inside a Teams card.
PNG_COLOURS = 64

_lock = threading.Lock()


def filename(chart: Chart) -> str:
    """A file name for the chart, from its title: `time-to-unblock.png`."""
    slug = re.sub(r"[^a-z0-9]+", "-", chart.title.lower()).strip("-")[:50].strip("-")
    return f"{slug or 'chart'}.png"


def _number(value: float) -> str:
    """A value as written on the chart: 12, 2.5, 3.25, 14.5; no trailing zeros."""
    if abs(value) >= 100 or value == int(value):
        return f"{value:.0f}"
    return f"{value:.2f}".rstrip("0").rstrip(".") if abs(value) < 10 else f"{value:.1f}"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render_png(chart: Chart) -> bytes:
    """The chart as PNG bytes, 800x450. CPU work: call it with `asyncio.to_thread`."""
    with _lock:
        return _render(chart)


def _render(chart: Chart) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI, facecolor="white")
    FigureCanvasAgg(figure)  # this figure's own canvas: no backend is chosen for the process
    axes = figure.add_subplot()
    units = {s.unit for s in chart.series}
    shared_unit = units.pop() if len(units) == 1 else None
    positions = list(range(len(chart.x)))
    known = [v for s in chart.series for v in s.values if v is not None and math.isfinite(v)]
    top = max([0.0, *known]) or 1.0
    if chart.kind == "bar":
        _bars(axes, chart, positions, shared_unit)
    else:
        _lines(axes, chart, positions, shared_unit)
    axes.set_xticks(positions, [_cut(x, 12) for x in chart.x])
    axes.set_xlim(-0.6, len(positions) - 0.4)
    low = min([0.0, *known])
    axes.set_ylim(low * 1.15, top * 1.22)  # room above the highest value for its label
    axes.tick_params(labelsize=TEXT_SIZE, colors=INK, length=0, pad=6)
    axes.grid(axis="y", color="#dddddd", linewidth=1)
    axes.set_axisbelow(True)
    for side in ("top", "right", "left"):
        axes.spines[side].set_visible(False)
    if shared_unit:
        axes.set_ylabel(shared_unit, fontsize=TEXT_SIZE, color=INK)
    if not known:
        axes.text(0.5, 0.5, "no data yet", transform=axes.transAxes, ha="center", va="center",
                  fontsize=TITLE_SIZE, color=FAINT)
    # A long title in smaller type rather than off the edge (about 16 px a character at 20 pt).
    long_title = len(chart.title) > 44
    figure.suptitle(_cut(chart.title, MAX_TITLE), fontsize=TITLE_SIZE - 4 if long_title else TITLE_SIZE,
                    color=INK,
                    fontweight="bold", x=0.02, ha="left", y=0.97)
    figure.legend(loc="upper left", bbox_to_anchor=(0.01, 0.89), ncols=min(3, len(chart.series)),
                  fontsize=TEXT_SIZE, frameon=False, handlelength=2.6, columnspacing=1.4)
    rows = math.ceil(len(chart.series) / 3)
    figure.subplots_adjust(left=0.1, right=0.98, bottom=0.1, top=0.8 - 0.07 * (rows - 1))
    if chart.kind != "bar":  # placed in pixels: once the layout is final
        _line_values(axes, chart, positions)
    raw = io.BytesIO()
    figure.savefig(raw, format="png", dpi=DPI, metadata={"Software": None})
    return _smaller(raw.getvalue())


def _label(series_label: str, unit: str, shared_unit: str | None) -> str:
    return _cut(series_label, 28) if shared_unit else f"{_cut(series_label, 22)} ({unit})"


def _lines(axes: Any, chart: Chart, positions: list[int], shared_unit: str | None) -> None:
    for i, series in enumerate(chart.series):
        colour = PALETTE[i % len(PALETTE)]
        # NaN breaks the line: a week without data is a gap, not a fall to zero.
        values = [math.nan if v is None else v for v in series.values]
        axes.plot(positions, values, color=colour, linestyle=LINESTYLES[i % len(LINESTYLES)],
                  linewidth=2.5, marker=MARKERS[i % len(MARKERS)], markersize=9,
                  markeredgecolor="white", markeredgewidth=1.2,
                  label=_label(series.label, series.unit, shared_unit))


def _line_values(axes: Any, chart: Chart, positions: list[int]) -> None:
    """Each point's value written above it, pushed up clear of the label below; where the
    lowest point has a neighbour close above it (and room under it), its label goes under."""
    to_pixels, from_pixels = axes.transData.transform, axes.transData.inverted().transform
    bottom = axes.get_window_extent().y0
    for x in positions:
        points = sorted((value, i) for i, series in enumerate(chart.series)
                        if (value := series.values[x]) is not None and math.isfinite(value))
        heights = [to_pixels((x, value))[1] for value, _ in points]
        floor = -math.inf
        for rank, (value, i) in enumerate(points):
            px, py = to_pixels((x, value))
            below = (rank == 0 and len(points) > 1 and heights[1] - py < 26
                     and py - bottom > 30)
            label_y = py - 24 if below else max(py + 9, floor)
            if not below:
                # Clear of the markers above it too: a label sitting on another series' point
                # reads as that point's value.
                for other in heights[rank + 1:]:
                    if abs(label_y + 8 - other) < 15:
                        label_y = other + 9
            floor = max(floor, label_y + 18, py + 9)
            axes.text(*from_pixels((px, label_y)), _number(value), ha="center", va="bottom",
                      fontsize=VALUE_SIZE, color=PALETTE[i % len(PALETTE)], fontweight="bold")


def _bars(axes: Any, chart: Chart, positions: list[int], shared_unit: str | None) -> None:
    count = len(chart.series)
    width = 0.8 / count
    for i, series in enumerate(chart.series):
        colour = PALETTE[i % len(PALETTE)]
        offset = (i - (count - 1) / 2) * width
        for x, value in zip(positions, series.values, strict=True):
            if value is None or not math.isfinite(value):
                # No bar at all reads as zero; say it.
                axes.text(x + offset, 0, "–", ha="center", va="bottom", fontsize=VALUE_SIZE,
                          color=FAINT)
        shown = [(x + offset, v) for x, v in zip(positions, series.values, strict=True)
                 if v is not None and math.isfinite(v)]
        bars = axes.bar([x for x, _ in shown], [v for _, v in shown], width=width * 0.92,
                        color=colour, hatch=HATCHES[i % len(HATCHES)], edgecolor="white",
                        linewidth=0, label=_label(series.label, series.unit, shared_unit))
        axes.bar_label(bars, labels=[_number(v) for _, v in shown], padding=3,
                       fontsize=VALUE_SIZE, color=INK, fontweight="bold")
    axes.axhline(0, color=INK, linewidth=1)


def _smaller(png: bytes) -> bytes:
    """The same picture with a palette of PNG_COLOURS (Pillow comes with matplotlib)."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        quantized = image.convert("RGB").quantize(colors=PNG_COLOURS)
        out = io.BytesIO()
        quantized.save(out, format="PNG", optimize=True)
    return out.getvalue()
