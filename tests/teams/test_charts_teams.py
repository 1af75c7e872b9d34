"""A message with a chart on Teams: the card shows it as an inline PNG with its alt text, still
valid Adaptive Card 1.5, and a chart too big for a Teams message is left out for the text."""

from __future__ import annotations

import base64
import logging

import pytest

from adapters.teams import cards
from bot.model import Outgoing, Section, Where
from tests.chart_samples import png_size, weekly_chart
from tests.teams.activities import CHANNEL, PAT, TENANT
from tests.teams.conftest import TEAMS_MESSAGE_LIMIT, Stack, card_problems

WHERE = Where("teams", TENANT, CHANNEL)
PNG = b"\x89PNG\r\n\x1a\n"


def images(card: dict) -> list[dict]:
    return [e for e in card["body"] if e.get("type") == "Image"]


def test_the_chart_is_an_image_element_under_the_text() -> None:
    out = Outgoing(WHERE, "How we're doing", sections=(Section("4 of 6 waited on ops"),))
    charted = cards.with_chart(cards.card_for(out), PNG + b"rest", "Time to unblock doubled.")
    assert charted is not None and card_problems(charted) == []
    assert [e["type"] for e in charted["body"]] == ["TextBlock", "Image", "Container"]
    image = charted["body"][1]
    assert image["url"] == "data:image/png;base64," + base64.b64encode(PNG + b"rest").decode()
    assert image["altText"] == "Time to unblock doubled."


def test_a_chart_too_big_for_teams_is_left_out() -> None:
    card = cards.card_for(Outgoing(WHERE, "How we're doing"))
    assert cards.with_chart(card, PNG + bytes(70_000), "alt") is None


async def test_the_sender_shows_the_drawn_chart_in_the_card(stack: Stack) -> None:
    await stack.say(stack.acts.installed(PAT, "channel"))
    chart = weekly_chart()
    mark = stack.connector.mark()
    await stack.teams.sender.send(Outgoing(WHERE, "How we're doing: time to unblock doubled.",
                                           chart=chart))
    [call] = stack.connector.sent(mark)
    [card] = call.cards
    [image] = images(card)
    assert image["altText"] == chart.alt
    head, _, data = image["url"].partition(",")
    assert head == "data:image/png;base64"
    assert png_size(base64.b64decode(data)) == (800, 450)
    assert "How we're doing" in card["body"][0]["text"]
    assert len(call.text.encode()) < TEAMS_MESSAGE_LIMIT
    assert stack.connector.bad_cards == []


async def test_an_oversized_chart_falls_back_to_the_text(
        stack: Stack, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    await stack.say(stack.acts.installed(PAT, "channel"))
    monkeypatch.setattr("adapters.teams.sender.render_png", lambda chart: PNG + bytes(90_000))
    mark = stack.connector.mark()
    with caplog.at_level(logging.WARNING, logger="adapters.teams.sender"):
        await stack.teams.sender.send(Outgoing(WHERE, "How we're doing", chart=weekly_chart()))
    [call] = stack.connector.sent(mark)
    [card] = call.cards
    assert images(card) == [] and card["body"][0]["text"] == "How we're doing"
    assert "sending the text without it" in caplog.text
    assert stack.connector.bad_cards == []
