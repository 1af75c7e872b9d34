"""Reading the hostile-input corpus (tests/hostile/corpus/*.jsonl).

One case per line, a JSON object:

    name        unique, the test id
    platform    "slack" | "teams"
    category    what kind of hostility (see CATEGORIES)
    kind        slack: "event" | "command" | "interaction" | "raw";  teams: "activity" | "raw"
    base        the template the request is built from (see test_corpus.py: SLACK_BASES, TEAMS_BASES)
    as          who sends it (slack: a user id; teams: erin | sam | pat | mallory)
    text        the text field of the template (event text, command text, button value, ...)
    data        teams card actions: the card's data
    set         {dotted.path: value} changes to the body ("event.channel", "view.state.values")
    delete      [dotted.path, ...] fields to remove
    raw         kind "raw": the body as sent, with `content_type`
    headers     slack: signed | forged | wrong-version | replayed-stale | future | unsigned |
                       no-timestamp |
                       other-body | other-secret | garbage-timestamp | huge-timestamp |
                       superscript-timestamp | non-ascii-signature
                teams: signed | unsigned | empty | garbage | basic | bad-audience | no-audience |
                       expired | not-yet-valid | wrong-key | bad-issuer | other-service-url
    content_type  overrides the request's Content-Type
    send_twice  the same request is delivered again (a retry or a replay)
    expect      "4xx" | "reply" | "ignored"
    status      the exact status expected (optional)
    inbox       "none" | "one" | "any": inbox rows the case may add (default by expect)
    reply_contains  [text, ...] that the bot's answer must contain
    creates     {"blockers": n, "requests": n, "standups": n}: exactly these new rows (default 0)
    stored      {"blocker_text" | "request_title" | "standup_text": exact text of the new row,
                 "member_name": [user, exact name]}
    xfail       a known bug whose fix belongs outside this test's reach: the reason
    xfail_postgres  the same, for a bug only PostgreSQL shows

Values may use macros, so a 40,000-character message stays one readable line:
{"$repeat": "x", "times": 40000}, {"$list": value, "times": 2000} (a list of 2,000 values),
{"$concat": [...]}, {"$json": value} (JSON-encoded) and
{"$latin1": "..."} (a body of bytes that are not UTF-8).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CORPUS = Path(__file__).parent / "corpus"

CATEGORIES = {
    "baseline",             # a well-formed request: the harness itself works
    "signature",            # Slack signatures: forged, replayed, stale, unsigned, malformed headers
    "auth",                 # Teams tokens: unsigned, bad audience, expired, wrong key...
    "replay",               # a signed request delivered twice
    "malformed-body",       # not JSON, not a form, nested too deep, wrong charset
    "missing-field",
    "wrong-type",
    "unknown-type",         # unknown event, activity, command, action or invoke types
    "huge",                 # 40,000 characters and more
    "control-chars",
    "rtl-emoji",
    "sql-injection",
    "markdown-injection",
    "broadcast-mention",    # <!channel>, <!here>, @everyone echoed back
    "prompt-injection",
    "forged-fields",        # forged card/modal data, other tenants, someone else's ids
}
EXPECTS = {"4xx", "reply", "ignored"}
KEYS = {"name", "platform", "category", "kind", "base", "as", "text", "data", "set", "delete",
        "raw", "headers", "content_type", "send_twice", "expect", "status", "inbox",
        "reply_contains", "creates", "stored", "xfail", "xfail_postgres", "why"}


def expand(value: Any) -> Any:
    """Resolve the corpus macros in a value, recursively."""
    if isinstance(value, dict):
        if set(value) == {"$repeat", "times"}:
            return expand(value["$repeat"]) * value["times"]
        if set(value) == {"$list", "times"}:
            return [expand(value["$list"]) for _ in range(value["times"])]
        if set(value) == {"$concat"}:
            return "".join(expand(v) for v in value["$concat"])
        if set(value) == {"$json"}:
            return json.dumps(expand(value["$json"]))
        if set(value) == {"$latin1"}:  # bytes that are not UTF-8
            return expand(value["$latin1"]).encode("latin-1")
        return {k: expand(v) for k, v in value.items()}
    if isinstance(value, list):
        return [expand(v) for v in value]
    return value


def _parent(body: Any, path: str) -> tuple[Any, str | int]:
    *parents, last = path.split(".")
    node = body
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    return node, int(last) if isinstance(node, list) else last


def set_path(body: Any, path: str, value: Any) -> None:
    node, key = _parent(body, path)
    node[key] = value


def delete_path(body: Any, path: str) -> None:
    node, key = _parent(body, path)
    del node[key]


def load_cases(platform: str) -> list[dict[str, Any]]:
    cases = []
    for file in sorted(CORPUS.glob("*.jsonl")):
        for number, line in enumerate(file.read_text(encoding="utf-8").split("\n"), 1):
            if not line.strip():
                continue
            case = json.loads(line)
            where = f"{file.name}:{number}"
            unknown = set(case) - KEYS
            assert not unknown, f"{where}: unknown keys {unknown}"
            assert case.get("platform") in ("slack", "teams"), where
            assert case.get("category") in CATEGORIES, f"{where}: category {case.get('category')}"
            assert case.get("expect") in EXPECTS, f"{where}: expect {case.get('expect')}"
            assert case.get("name"), where
            if case["platform"] == platform:
                cases.append(case)
    names = [c["name"] for c in cases]
    assert len(names) == len(set(names)), "case names must be unique"
    return cases
