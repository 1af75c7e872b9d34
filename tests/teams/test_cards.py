"""Outgoing messages to Adaptive Cards: valid against the 1.5 schema, small enough for Teams, and
readable. (Every card sent in the HTTP tests is checked the same way by the fake connector.)"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from adapters.teams import cards
from bot.digest import (
    BlockerLine,
    Digest,
    Participation,
    RequestLine,
    digest_message,
)
from bot.model import Action, Outgoing, Section, Team, Where
from tests.teams.conftest import TEAMS_SIZE_LIMIT, card_problems

WHERE = Where("teams", "t", "19:c@thread.tacv2")
NOW = datetime(2026, 11, 16, 9, tzinfo=UTC)


def valid(card: dict) -> dict:
    assert card_problems(card) == []
    assert len(json.dumps(card, ensure_ascii=False).encode()) < TEAMS_SIZE_LIMIT
    return card


def big_digest(n: int) -> Outgoing:
    blockers = tuple(BlockerLine(i, f"blocked on thing {i} " + "é" * 200, f"user{i}", "ops",
                                 NOW - timedelta(days=i), f"{i}d") for i in range(n))
    requests = tuple(RequestLine(i, f"Request {i} 🎉" * 5, "r-state", f"user{i}",
                                 "a problem " * 40, "1d") for i in range(n))
    digest = Digest(Team("teams", "t"), "week", NOW - timedelta(days=7), NOW, blockers, blockers,
                    (("accepted", requests), ("in-progress", requests)), requests, requests,
                    requests, n, n, Participation(("a",), tuple(f"user{i}" for i in range(n))))
    return digest_message(digest, WHERE)


def test_a_blocker_card() -> None:
    out = Outgoing(WHERE, "Tracking blocker #1 for <@aad-erin>.",
                   sections=(Section("*Blocker #1* for <@aad-erin>\nstaging creds"),),
                   actions=(Action("Resolve", "resolve 1", style="primary"),
                            Action("Not a blocker", "dismiss 1")))
    card = valid(cards.card_for(out, {"aad-erin": "Erin"}))
    assert card["version"] == "1.5"
    assert card["body"][0]["text"] == "Tracking blocker #1 for **Erin**."
    assert card["body"][1]["items"][0]["text"] == "**Blocker #1** for **Erin**\n\nstaging creds"
    assert [(a["title"], a["data"], a["style"]) for a in card["actions"]] == [
        ("Resolve", {"command": "resolve 1"}, "positive"),
        ("Not a blocker", {"command": "dismiss 1"}, "default")]
    assert cards.summary(out, {"aad-erin": "Erin"}) == "Tracking blocker #1 for Erin."


def test_unknown_people_are_not_shown_as_ids() -> None:
    assert cards.display_name("6f1c2c3a-1f0d-4c1e-9d43-000000000e01", {}) == "someone"
    assert cards.display_name("29:1abc", {}) == "someone"
    assert cards.display_name("pat", {}) == "pat"


def test_reasons_are_asked_in_an_inline_form_with_unique_inputs() -> None:
    out = Outgoing(WHERE, "Request #3 is ready", actions=(
        Action("Accept", "accept 3", style="primary"),
        Action("Decline", "decline 3", style="danger", needs_reason=True),
        Action("Not yet", "notyet 3", needs_reason=True)))
    card = valid(cards.card_for(out))
    forms = [a for a in card["actions"] if a["type"] == "Action.ShowCard"]
    ids = [f["card"]["body"][0]["id"] for f in forms]
    assert len(set(ids)) == 2
    for form, field in zip(forms, ids, strict=True):
        assert form["card"]["actions"][0]["data"]["input"] == field
    assert forms[0]["card"]["actions"][0]["style"] == "destructive"


def test_many_buttons_go_into_action_sets() -> None:
    out = Outgoing(WHERE, "home", actions=tuple(Action(f"Resolve #{i}", f"resolve {i}")
                                                for i in range(15)))
    card = valid(cards.card_for(out))
    assert "actions" not in card
    sets = [e for e in card["body"] if e["type"] == "ActionSet"]
    assert sum(len(s["actions"]) for s in sets) == 15
    assert all(len(s["actions"]) <= cards.MAX_ACTIONS for s in sets)


def test_digests_are_valid_cards() -> None:
    valid(cards.card_for(big_digest(60)))
    valid(cards.card_for(big_digest(2)))


def test_sections_that_do_not_fit_are_left_out_and_counted() -> None:
    out = Outgoing(WHERE, "many", sections=tuple(
        Section("é" * 1500 + f" {i}", title=f"Section {i}") for i in range(60)))
    card = valid(cards.card_for(out))
    note = [e for e in card["body"] if "more sections not shown" in e.get("text", "")]
    shown = [e for e in card["body"] if e["type"] == "Container"]
    assert len(note) == 1 and 0 < len(shown) < 60
    assert note[0]["text"] == f"…and {60 - len(shown)} more sections not shown here."
    few = Outgoing(WHERE, "few", sections=(Section("a"), Section("b")))
    assert "more section" not in json.dumps(valid(cards.card_for(few)))


def test_huge_texts_are_cut() -> None:
    out = Outgoing(WHERE, "x" * 50_000, sections=(Section("y" * 50_000, title="t" * 9000),))
    valid(cards.card_for(out))


def test_markdown() -> None:
    assert cards.markdown("*bold* and `cmd` and a*b*c and * not *", {}) == (
        "**bold** and **cmd** and a*b*c and * not *")
    assert cards.plain("*Request #1* from <@u1>\nnext", {"u1": "Sam"}) == (
        "Request #1 from Sam next")


def test_the_request_form_and_its_receipt() -> None:
    form = valid(cards.request_form())
    required = [e["id"] for e in form["body"] if e.get("isRequired")]
    assert required == ["title", "problem"]
    valid(cards.filed_card("CSV export"))


def test_merging_an_answer_into_the_clicked_card() -> None:
    card = Outgoing(WHERE, "digest", sections=(Section("stuff"),), actions=(
        Action("Accept #1", "accept 1"), Action("Accept #2", "accept 2"),
        Action("Resolve #1", "resolve 1")))
    answer = Outgoing(WHERE, "Request #1 accepted", actions=(Action("Start work", "start 1"),))
    merged = cards.merge_answer(card, answer, "accept 1")
    # Request #1's button goes; blocker #1 is another thing, and request #2 is untouched.
    assert [a.command for a in merged.actions] == ["accept 2", "resolve 1", "start 1"]
    assert [s.text for s in merged.sections] == ["stuff", "Request #1 accepted"]
    declined = cards.merge_answer(card, Outgoing(WHERE, "declined"), "decline 2 too costly")
    assert [a.command for a in declined.actions] == ["accept 1", "resolve 1"]
    unnumbered = cards.merge_answer(
        Outgoing(WHERE, "x", actions=(Action("Help", "help"), Action("Digest", "digest"))),
        Outgoing(WHERE, "the list"), "help")
    assert [a.command for a in unnumbered.actions] == ["digest"]
    valid(cards.card_for(merged))


# ---- what people control is shown as typed: no links, mentions or markup -----------------------

LINK = re.compile(r"\[[^\]\n]*\]\([^)\s]+\)")
HOSTILE_NAMES = [
    "[Approve request #1](https://evil.example/approve)",
    "[Approve](<https://evil.example/a b>)",
    "**URGENT** _Pat_ `rm -rf`",
    "<at>everyone</at>",
    "Mallory](https://evil.example/x) [Approve",
    "<@6f1c2c3a-1f0d-4c1e-9d43-000000000a02>",
    "~~gone~~ # heading",
]


def strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_display_names_never_become_links_or_markup(name: str) -> None:
    user = "6f1c2c3a-1f0d-4c1e-9d43-00000000ba0d"
    out = Outgoing(WHERE, f"Noted blocker #1 for <@{user}>: waiting for ops",
                   sections=(Section(f"*Blocker #1* for <@{user}>", title=f"<@{user}>"),))
    names = {user: name, "6f1c2c3a-1f0d-4c1e-9d43-000000000a02": "Pat Producer"}
    card = valid(cards.card_for(out, names))
    texts = strings(card) + [cards.summary(out, names)]
    for text in texts:
        assert not LINK.search(text), text
        assert "Pat Producer" not in text  # a name is never read as a mention of someone else
    body = " ".join(strings(card["body"]))
    # The bot's own bold survives; the name's markup does not (no stray ** or _..._ from it).
    assert "**Blocker #1**" in body
    for marker in ("**URGENT**", "_Pat_", "`rm", "~~gone~~"):
        assert marker not in body


def test_a_request_title_in_the_filed_card_is_shown_as_typed() -> None:
    card = valid(cards.filed_card("[Approve request #1](https://evil.example/approve) **now**"))
    assert not any(LINK.search(t) for t in strings(card))
    assert "**now**" not in json.dumps(card)
