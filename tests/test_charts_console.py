"""A message with a chart in the console: the PNG is saved under CHART_DIR and the printed
message says where, through the real outbox."""

from __future__ import annotations

from pathlib import Path

from adapters.compose import open_app
from adapters.config import Settings, load
from adapters.console import TEAM, ConsoleSender
from bot.model import Outgoing, Where
from tests.chart_samples import png_size, weekly_chart


async def test_the_console_saves_the_chart_and_prints_its_path(tmp_path: Path) -> None:
    printed: list[str] = []
    chart_dir = tmp_path / "out" / "charts"
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    sender = ConsoleSender(printed.append, chart_dir)
    async with open_app(settings, senders={"console": sender}) as app:
        async with app.db.uow() as uow:
            await uow.outbox.add(Outgoing(where=Where(TEAM.platform, TEAM.tenant, "console"),
                                          text="How we're doing", chart=weekly_chart()))
            await uow.commit()
        await app.relay.drain()
    [text] = printed
    [saved] = list(chart_dir.iterdir())
    assert saved.name.endswith("-time-to-unblock-outbox-1.png")
    assert png_size(saved.read_bytes()) == (800, 450)
    assert f"[chart: Time to unblock: {saved.resolve()}]" in text
    assert "Time to unblock, weeks of Nov 2 to Nov 30" in text  # the alt text, for a terminal
    assert text.startswith("bot: How we're doing")


async def test_a_chart_that_cannot_be_saved_leaves_the_message(tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    printed: list[str] = []
    sender = ConsoleSender(printed.append, blocked / "charts")
    await sender.send(Outgoing(where=Where("console", "local", "console"), text="Hello",
                               chart=weekly_chart()))
    [text] = printed
    assert text.startswith("bot: Hello") and "[chart: Time to unblock: not saved (" in text


def test_chart_dir_comes_from_the_environment() -> None:
    assert load({}, dotenv=False).chart_dir == "charts"
    assert load({"CHART_DIR": "/srv/charts"}, dotenv=False).chart_dir == "/srv/charts"
