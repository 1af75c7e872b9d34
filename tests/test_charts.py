"""A chart in a message: the core's Chart survives the outbox, and is drawn as a phone-sized PNG."""

from __future__ import annotations

import asyncio
import io
import sys
from dataclasses import replace

import pytest
from PIL import Image

from adapters.charts import PALETTE, filename, render_png
from bot.codec import outgoing_from_dict, outgoing_to_dict
from bot.model import Chart, Outgoing, Series, Where
from tests.chart_samples import WEEKS, png_size, weekly_chart


def test_a_chart_goes_through_the_outbox_codec_and_old_rows_still_load() -> None:
    message = Outgoing(where=Where("slack", "T1", "C1"), text="How we're doing",
                       chart=weekly_chart())
    stored = outgoing_to_dict(message)
    import json
    assert outgoing_from_dict(json.loads(json.dumps(stored))) == message
    old = {k: v for k, v in stored.items() if k != "chart"}  # a row from before charts
    assert outgoing_from_dict(old).chart is None
    # Whole numbers come back from JSON as ints: the chart reads them as floats again.
    stored["chart"]["series"][0]["values"] = [1, None, 2, 3, 1]
    assert outgoing_from_dict(stored).chart.series[0].values == (1.0, None, 2.0, 3.0, 1.0)


def test_a_chart_needs_a_value_per_label() -> None:
    with pytest.raises(ValueError):
        Chart("t", WEEKS, (Series("a", "days", (1.0,)),), alt="t")
    with pytest.raises(ValueError):
        Chart("t", WEEKS, (), alt="t")
    with pytest.raises(ValueError):
        replace(weekly_chart(), kind="pie")


@pytest.mark.parametrize("kind", ["line", "bar"])
def test_render_png_draws_a_small_phone_sized_png_with_gaps(kind: str) -> None:
    png = render_png(replace(weekly_chart(), kind=kind))
    assert png_size(png) == (800, 450)
    assert len(png) < 60_000
    with Image.open(io.BytesIO(png)) as image:
        colours = {c for _, c in image.convert("RGB").getcolors(1 << 16)}
    # Each series in its own colour of the palette (besides its marker or hatch).
    wanted = {tuple(int(h[i:i + 2], 16) for i in (1, 3, 5)) for h in PALETTE[:3]}
    assert wanted <= colours


def test_a_chart_without_any_data_still_draws() -> None:
    empty = Chart("Nothing yet", WEEKS, (Series("median", "days", (None,) * 5),), alt="No data.")
    assert png_size(render_png(empty)) == (800, 450)


async def test_drawing_runs_in_a_thread_and_leaves_matplotlib_unconfigured() -> None:
    png = await asyncio.to_thread(render_png, weekly_chart())
    assert png.startswith(b"\x89PNG")
    # No process-wide state was chosen for anyone else: pyplot was never imported.
    assert "matplotlib.pyplot" not in sys.modules


def test_file_names_come_from_titles() -> None:
    assert filename(weekly_chart("Time to unblock (days)")) == "time-to-unblock-days.png"
    assert filename(weekly_chart("…")) == "chart.png"


def test_senders_load_matplotlib_only_when_a_chart_is_drawn() -> None:
    """A bot that never sends a chart never pays for importing matplotlib."""
    import subprocess

    code = ("import sys, adapters.slack.sender, adapters.teams.sender, adapters.console; "
            "assert 'matplotlib' not in sys.modules, 'imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
