"""Every case of the hostile-input corpus (tests/hostile/corpus/, see corpus.py for the format),
through the real HTTP endpoints of both platforms.

Per case: the answer is the expected 4xx, or a 2xx with a polite reply, or a 2xx that is
ignored, and never a 5xx; /healthz still answers; and nothing wrong is stored or sent:

- refused requests add no inbox row, no blocker, no request, no member and send nothing;
- the seeded blocker, request and roles are exactly as they were (whatever the text says, a
  sender can do only what they may do: no prompt injection makes a stranger a producer);
- no stored text holds a control or direction-override character;
- nothing the bot sends holds a live broadcast mention (Slack `<!channel>`, `<!here>`,
  `<!everyone>`, `<!subteam^..>`; a Teams mention entity), a control character or a direction
  override, nor (Teams cards being markdown) a live link someone typed as text; and every Block
  Kit payload and Adaptive Card the bot sends is valid.

The corpus runs on SQLite, and on PostgreSQL as well when TEST_DATABASE_URL is set (it refuses
what SQLite quietly stores: NUL characters, over-long ids).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import select

from adapters.teams.app import ROUTE
from bot.model import Role
from storage.tables import (
    BlockerRow,
    ConversationRefRow,
    InboxRow,
    MemberRow,
    OutboxRow,
    RequestRow,
    StandupRow,
    TeamRow,
)
from tests.hostile.conftest import Servers, SlackEnv, TeamsEnv
from tests.hostile.corpus import CATEGORIES, delete_path, expand, load_cases, set_path
from tests.slack.conftest import SECRET, payload
from tests.teams.activities import APP_ID, ERIN, PAT, SAM, Person

# One server per platform for the whole module (see conftest.py): the cases share its loop.
on_the_module_loop = pytest.mark.asyncio(loop_scope="module")

MALLORY = Person("mallory", "Mallory Stranger", "6f1c2c3a-1f0d-4c1e-9d43-00000000ba0d")
TEAMS_PEOPLE = {"erin": ERIN, "sam": SAM, "pat": PAT, "mallory": MALLORY}

# What must never reach a reader: C0/C1 controls but the line break, and the invisible
# direction overrides and isolates that make text read differently from what it is.
_BAD_CHARS = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_SLACK_BROADCAST = re.compile(r"<!(channel|here|everyone|group|subteam\^)", re.IGNORECASE)
# The bot never sends a link itself: one in its Slack messages was typed by someone, and its
# label could say anything ("Approve request #1").
_SLACK_LINK = re.compile(r"<(?:[a-z][a-z0-9+.-]*:|#[^>]*\|)", re.IGNORECASE)
_POLITE_FAILURES = ("Traceback", "something went wrong", "Internal Server Error",
                    "Server got itself in trouble")
_MARKDOWN_LINK = re.compile(r"\[[^\]\n]*\]\([^)\s]+\)")
SLACK_REPLY_METHODS = {"chat.postMessage", "chat.postEphemeral", "chat.update", "views.open",
                       "views.publish", "views.update"}


def _params(platform: str) -> list[Any]:
    params = []
    for case in load_cases(platform):
        marks = [pytest.mark.xfail(strict=True, reason=case["xfail"])] if case.get("xfail") else []
        params.append(pytest.param(case, id=case["name"], marks=marks))
    return params


# Every case runs on SQLite, and on PostgreSQL too when TEST_DATABASE_URL is set.
on_each_database = pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True,
                                           scope="module")


class KnownFailure:
    """A case's `xfail_postgres`: a known bug that only PostgreSQL shows (it refuses what SQLite
    stores), expected to fail there, strictly."""

    def __init__(self, case: dict[str, Any], request: pytest.FixtureRequest) -> None:
        on_postgres = request.node.callspec.params["database_url"] == "postgres"
        self.reason = case.get("xfail_postgres") if on_postgres else None

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, error: Any, traceback: Any) -> bool:
        if self.reason is None:
            return False
        if error is None:
            pytest.fail(f"[XPASS(strict)] {self.reason}")
        if isinstance(error, AssertionError):
            pytest.xfail(self.reason)
        return False


# ---- what the database holds ---------------------------------------------------------------


def _row(row: Any) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in row.__table__.columns}


@dataclass
class Snapshot:
    inbox: list[dict[str, Any]]
    outbox: int
    teams: int
    refs: int
    blockers: dict[tuple[str, str, int], dict[str, Any]]
    requests: dict[tuple[str, str, int], dict[str, Any]]
    standups: dict[int, dict[str, Any]]
    members: dict[tuple[str, str, str], dict[str, Any]]

    def texts(self) -> Iterator[tuple[str, str]]:
        """Every stored text and id that came from a payload, with where it is."""
        for key, b in self.blockers.items():
            for name in ("tenant", "text", "resolution", "blocked_on", "unblocker", "reporter",
                         "channel", "thread"):
                if b[name]:
                    yield f"blocker {key} {name}", b[name]
        for key, r in self.requests.items():
            for name in ("tenant", "title", "decision_reason", "delivery_note", "outcome_note",
                         "requester", "channel", "thread"):
                if r[name]:
                    yield f"request {key} {name}", r[name]
            for name, answer in (r["answers"] or {}).items():
                yield f"request {key} answer {name}", str(answer)
        for key, s in self.standups.items():
            yield f"standup {key}", s["text"]
        for key, m in self.members.items():
            yield f"member {key}", m["tenant"] + m["user_id"] + (m["name"] or "")
        for row in self.inbox:
            yield f"inbox {row['id']}", row["tenant"] + row["event_id"]

    def producers(self) -> set[tuple[str, str, str]]:
        return {k for k, m in self.members.items() if m["role"] == Role.PRODUCER.value}


async def snapshot(db: Any) -> Snapshot:
    async with db.sessions() as session:
        async def rows(table: Any) -> list[dict[str, Any]]:
            return [_row(r) for r in (await session.execute(
                select(table).order_by(table.id))).scalars()]
        inbox = [{k: r[k] for k in ("id", "platform", "tenant", "event_id", "status", "error")}
                 for r in await rows(InboxRow)]
        return Snapshot(
            inbox=inbox, outbox=len(await rows(OutboxRow)), teams=len(await rows(TeamRow)),
            refs=len(await rows(ConversationRefRow)),
            blockers={(r["platform"], r["tenant"], r["number"]): r for r in await rows(BlockerRow)},
            requests={(r["platform"], r["tenant"], r["number"]): r for r in await rows(RequestRow)},
            standups={r["id"]: r for r in await rows(StandupRow)},
            members={(r["platform"], r["tenant"], r["user_id"]): r for r in await rows(MemberRow)},
        )


def strings(value: Any) -> Iterator[str]:
    """Every string inside a sent payload; JSON-encoded fields (Slack's blocks and views) are
    opened too."""
    if isinstance(value, str):
        yield value
        stripped = value.strip()
        if stripped[:1] in ("{", "[") and stripped[-1:] in ("}", "]"):
            try:
                inner = json.loads(stripped)
            except ValueError:
                return
            yield from strings(inner)
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


# ---- one case, checked -----------------------------------------------------------------------


@dataclass
class Outcome:
    statuses: list[int]
    bodies: list[str]
    replies: list[str] = field(default_factory=list)  # everything readable the bot sent


def _check(case: dict[str, Any], outcome: Outcome, before: Snapshot, after: Snapshot) -> None:
    name, expect = case["name"], case["expect"]
    for status, body in zip(outcome.statuses, outcome.bodies, strict=True):
        assert status < 500, f"{name}: {status} {body[:300]}"
        assert not any(f in body for f in _POLITE_FAILURES), f"{name}: answered {body[:300]}"
    status, body = outcome.statuses[0], outcome.bodies[0]
    if "status" in case:
        assert status == case["status"], f"{name}: {status} {body[:300]}"
    if expect == "4xx":
        assert 400 <= status < 500, f"{name}: expected a 4xx, got {status} {body[:300]}"
    else:
        assert 200 <= status < 300, f"{name}: expected a 2xx, got {status} {body[:300]}"

    # What was sent back.
    replied = bool(outcome.replies) or (expect != "4xx" and bool(body.strip()))
    if expect == "reply":
        assert replied, f"{name}: no reply"
    elif expect == "ignored":
        assert outcome.replies == [] and not body.strip(), \
            f"{name}: expected silence, got {outcome.replies or body}"
    else:
        assert outcome.replies == [], f"{name}: refused, yet the bot sent {outcome.replies}"
    everything = "\n".join(outcome.replies)
    for text in case.get("reply_contains", []):
        assert text in everything + body, f"{name}: {text!r} not in {everything + body!r}"
    for text in outcome.replies + [body]:
        assert not any(f in text for f in _POLITE_FAILURES), f"{name}: impolite {text[:300]}"

    # What was stored.
    new_inbox = after.inbox[len(before.inbox):]
    allowed = case.get("inbox") or {"4xx": "none", "ignored": "none", "reply": "any"}[expect]
    if allowed == "none":
        assert new_inbox == [], f"{name}: stored {new_inbox}"
    elif allowed == "one":
        assert len(new_inbox) == 1, f"{name}: stored {new_inbox}"
    failed_before = {r["id"] for r in before.inbox if r["status"] == "failed"}
    failed = [r for r in after.inbox if r["status"] == "failed" and r["id"] not in failed_before]
    assert failed == [], f"{name}: the core failed: {failed}"
    creates = {"blockers": 0, "requests": 0, "standups": 0, **case.get("creates", {})}
    for table, count in creates.items():
        grown = len(getattr(after, table)) - len(getattr(before, table))
        assert grown == count, f"{name}: {grown} new {table}, expected {count}"
    if expect == "4xx":
        assert after.members.keys() == before.members.keys(), f"{name}: a refused request " \
            f"added members {after.members.keys() - before.members.keys()}"
        assert after.teams == before.teams and after.outbox == before.outbox, name
    # Nothing that existed was changed: no case in the corpus may resolve, accept or decline
    # anything, or change anyone's role.
    for table in ("blockers", "requests"):
        old, new = getattr(before, table), getattr(after, table)
        for key, row in old.items():
            assert new.get(key) == row, f"{name}: {table} {key} changed: {row} -> {new.get(key)}"
    for key, member in before.members.items():
        # A member earns engineer or stakeholder by reporting or filing (their own doing); no
        # case may make a producer or take a role away.
        earned = member["role"] == "member" and after.members[key]["role"] in (
            "engineer", "stakeholder")
        assert earned or after.members[key]["role"] == member["role"], \
            f"{name}: role of {key} changed"
    assert after.producers() == before.producers(), f"{name}: producers changed"
    for where, text in after.texts():
        assert not _BAD_CHARS.search(text), f"{name}: {where} stores {text[:200]!r}"
    stored = case.get("stored", {})
    newest = {table: [r for k, r in getattr(after, table).items() if k not in getattr(before, table)]
              for table in ("blockers", "requests", "standups")}
    for key, table, column in (("blocker_text", "blockers", "text"),
                               ("request_title", "requests", "title"),
                               ("standup_text", "standups", "text")):
        if key in stored:
            assert [r[column] for r in newest[table]] == [stored[key]], \
                f"{name}: stored {[r[column] for r in newest[table]]!r}, expected {stored[key]!r}"
    if "member_name" in stored:
        user, expected = stored["member_name"]
        found = [m["name"] for k, m in after.members.items() if k[2] == user]
        assert found == [expected], f"{name}: member {user} is called {found!r}"

    # What was sent: no control characters or direction overrides (the platforms' own checks
    # for live mentions are in their test functions).
    for text in outcome.replies:
        assert not _BAD_CHARS.search(text), f"{name}: control character in {text[:300]!r}"


# ---- Slack -----------------------------------------------------------------------------------


SLACK_TEXT_PATHS = {
    "dm": "event.text", "channel": "event.text", "mention": "event.text",
    "command": "text", "button": "actions.0.value", "form": "view.state.values.title.value.value",
    "reason": "view.state.values.reason.value.value", "shortcut": "message.text",
    # recorded payloads (tests/slack/payloads) used as they are
    "message_changed": "event.message.text", "message_slack_connect": "event.text",
    "message_markup": "event.text", "block_actions_home": "actions.0.value",
    "block_actions_modal": "actions.0.value", "block_actions_slack_connect": "actions.0.value",
    "view_submission_slack_connect": "view.state.values.title.value.value",
}


def slack_body(case: dict[str, Any], n: int) -> tuple[Any, str]:
    """The request body of a Slack case and its content type."""
    kind, user = case["kind"], expand(case.get("as", "UMAL"))
    base = case.get("base", "command" if kind == "command" else None)
    if kind == "raw":
        return expand(case["raw"]), case.get("content_type", "application/json")
    ts = f"{1700100000 + n}.{n:06d}"
    body: dict[str, Any]
    if kind == "event":
        if base in ("dm", "channel", "mention"):
            body = payload("message")
            direct = base == "dm"
            body["event"].update(user=user, ts=ts, event_ts=ts,
                                 channel=f"DH{n:04d}" if direct else f"CH{n:04d}",
                                 channel_type="im" if direct else "channel")
            body["event"].pop("blocks")
        else:  # a recorded payload: app_home_opened, message_changed, reaction_added...
            body = payload(base)
            if isinstance(body["event"].get("user"), str):
                body["event"]["user"] = user
        body["event_id"] = f"EvHostile{n:04d}"
    elif kind == "command":
        body = {"token": "unused", "team_id": "T1", "team_domain": "acme",
                "channel_id": f"DH{n:04d}", "channel_name": "directmessage", "user_id": user,
                "user_name": user.lower(), "command": "/producer", "text": "help",
                "api_app_id": "A1", "response_url": f"https://hooks.slack.com/commands/T1/{n}/x",
                "trigger_id": f"trigger.{n}.hostile"}
    elif kind == "interaction":
        if base == "button":
            body = payload("block_actions")
            body["channel"]["id"] = body["container"]["channel_id"] = f"CH{n:04d}"
        elif base in ("form", "reason"):
            body = payload("view_submission")
            metadata = {"channel": f"DH{n:04d}", "direct": True, **case.get("data", {})}
            body["view"].update(id=f"VH{n:04d}", private_metadata=json.dumps(metadata))
            if base == "reason":
                body["view"].update(callback_id="reason", state={"values": {"reason": {
                    "value": {"type": "plain_text_input", "value": "because"}}}})
        elif base == "shortcut":
            body = payload("message_action")
            body["channel"]["id"] = f"CH{n:04d}"
        else:  # a recorded payload: block_actions_home, view_submission_slack_connect, ...
            body = payload(base)
            if isinstance(body.get("view"), dict):
                body["view"]["id"] = f"VH{n:04d}"  # a view id of its own: no dedupe across cases
        body["user"]["id"] = user
        body["trigger_id"] = f"trigger.{n}.hostile"
    else:
        raise AssertionError(f"unknown slack kind {kind}")
    if "text" in case:
        text = expand(case["text"])
        set_path(body, SLACK_TEXT_PATHS[base], (f"<@UBOT> {text}" if base == "mention" else text))
    elif base == "mention":
        body["event"]["text"] = "<@UBOT> help"
    for path, value in expand(case.get("set", {})).items():
        set_path(body, path, value)
    for path in case.get("delete", []):
        delete_path(body, path)
    if kind == "event":
        return json.dumps(body), "application/json"
    if kind == "command":
        return urlencode(body), "application/x-www-form-urlencoded"
    return urlencode({"payload": json.dumps(body)}), "application/x-www-form-urlencoded"


def slack_headers(mode: str, body: Any, content_type: str) -> dict[str, str]:
    now = int(time.time())

    def signed(ts: int | str = now, secret: str = SECRET, over: Any = body) -> dict[str, str]:
        text = over.decode("latin-1") if isinstance(over, bytes) else over
        signature = SignatureVerifier(secret).generate_signature(timestamp=str(ts), body=text)
        return {"X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": signature}

    headers = {
        "signed": lambda: signed(),
        "forged": lambda: {**signed(), "X-Slack-Signature": "v0=" + "0" * 64},
        "wrong-version": lambda: {**signed(), "X-Slack-Signature":
                                  "v1=" + signed()["X-Slack-Signature"][3:]},
        "replayed-stale": lambda: signed(now - 600),  # captured, replayed ten minutes later
        "future": lambda: signed(now + 600),
        "unsigned": lambda: {},
        "no-timestamp": lambda: {"X-Slack-Signature": signed()["X-Slack-Signature"]},
        "other-body": lambda: signed(over='{"type": "event_callback"}'),
        "other-secret": lambda: signed(secret="not-the-signing-secret"),
        "garbage-timestamp": lambda: {**signed(), "X-Slack-Request-Timestamp": "soon"},
        "huge-timestamp": lambda: signed("1" * 5000),
        "superscript-timestamp": lambda: signed("¹⁷⁰⁰⁰⁰⁰⁰⁰⁰"),
        "non-ascii-signature": lambda: {**signed(), "X-Slack-Signature": "v0=é" + "0" * 63},
    }[mode]()
    return {"Content-Type": content_type, **headers}


async def _post_slack(env: SlackEnv, body: Any, headers: dict[str, str]) -> tuple[int, str]:
    data = body if isinstance(body, bytes) else body.encode()
    async with env.client.session.post(f"{env.server.url}/slack/events", data=data,
                                       headers=headers) as response:
        return response.status, await response.text()


async def _healthy(session: Any, url: str) -> None:
    """The server still answers after the case."""
    async with session.get(f"{url}/healthz") as response:
        assert response.status == 200 and (await response.json())["status"] == "ok"


_counter = iter(range(1, 100_000))


@on_the_module_loop
@on_each_database
@pytest.mark.parametrize("case", _params("slack"))
async def test_slack_case(servers: Servers, case: dict[str, Any],
                          request: pytest.FixtureRequest) -> None:
    slack_env = await servers.slack()
    with KnownFailure(case, request):
        await run_slack_case(slack_env, case)


async def run_slack_case(slack_env: SlackEnv, case: dict[str, Any]) -> None:
    n = next(_counter)
    fake = slack_env.fake
    body, content_type = slack_body(case, n)
    content_type = case.get("content_type", content_type)
    before = await snapshot(slack_env.db)
    mark = len(fake.calls)
    violations = len(fake.violations)
    outcome = Outcome([], [])
    after_first = 0
    for _ in range(2 if case.get("send_twice") else 1):
        after_first = len(fake.calls)  # on the second round: what the first delivery caused
        headers = slack_headers(case.get("headers", "signed"), body, content_type)
        status, text = await _post_slack(slack_env, body, headers)
        outcome.statuses.append(status)
        outcome.bodies.append(text)
        await slack_env.drain()
    if case.get("send_twice"):
        again = [c for c in fake.calls[after_first:] if c.method in SLACK_REPLY_METHODS]
        assert again == [], f"{case['name']}: a second delivery was answered again"
    calls = [c for c in fake.calls[mark:] if c.method in SLACK_REPLY_METHODS]
    for call in calls:
        # Slack pings a whole channel for <!channel>, <!here>, <!everyone> and a user group for
        # <!subteam^ID>, and for plain "@channel" only when asked to link names.
        assert not call.data.get("link_names") and call.data.get("parse") != "full", call.data
        readable = "\n".join(strings(call.data))
        assert not _SLACK_BROADCAST.search(readable), \
            f"{case['name']}: live broadcast in {readable[:500]!r}"
        assert not _SLACK_LINK.search(readable), \
            f"{case['name']}: live link in {readable[:500]!r}"
        outcome.replies.append(readable)
    await _healthy(slack_env.client.session, slack_env.server.url)
    after = await snapshot(slack_env.db)
    _check(case, outcome, before, after)
    assert fake.violations[violations:] == [], "invalid Block Kit sent"


# ---- Teams -----------------------------------------------------------------------------------


class Tokens:
    """Authorization headers, good and bad, for the module's OpenID key."""

    wrong_key = None

    def __init__(self, env: TeamsEnv) -> None:
        self.openid = env.openid
        self.service_url = env.connector.url

    def bearer(self, service_url: str | None = None, key: Any = None, **claims: Any) -> str:
        return "Bearer " + self.openid.token(
            self.openid.claims(APP_ID, service_url or self.service_url, **claims), key=key)

    def header(self, mode: str, service_url: str | None) -> dict[str, str]:
        if mode == "unsigned":
            return {}
        if mode == "wrong-key" and Tokens.wrong_key is None:
            Tokens.wrong_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        value = {
            "signed": lambda: self.bearer(service_url),
            "empty": lambda: "Bearer ",
            "garbage": lambda: "Bearer not.a.token",
            "basic": lambda: "Basic bWFsbG9yeTpodW50ZXIy",
            "bad-audience": lambda: self.bearer(service_url, aud="someone-elses-bot"),
            "no-audience": lambda: self.bearer(service_url, aud=None),
            "expired": lambda: self.bearer(service_url, exp=1_600_000_000, nbf=1_599_990_000),
            "not-yet-valid": lambda: self.bearer(service_url, nbf=4_000_000_000,
                                                 exp=4_000_003_600),
            "wrong-key": lambda: self.bearer(service_url, key=Tokens.wrong_key),
            "bad-issuer": lambda: self.bearer(service_url, iss="https://evil.example"),
            "other-service-url": lambda: self.bearer(service_url,
                                                     serviceurl="https://evil.example/"),
        }[mode]()
        return {"Authorization": value}


TEAMS_TEXT_BASES = {"personal", "channel", "channel_plain", "group"}


def teams_activity(env: TeamsEnv, case: dict[str, Any], n: int) -> Any:
    acts = env.stack.acts
    person = TEAMS_PEOPLE[case.get("as", "mallory")]
    base = case.get("base", "personal")
    text = expand(case.get("text", "help"))
    data = expand(case.get("data", {"command": "help"}))
    if base == "personal":
        activity = acts.personal(person, text)
        # A conversation of its own per case: a discovery one case starts never swallows the
        # next case's message.
        activity["conversation"]["id"] = f"a:1hostile{n:04d}{person.key}"
    elif base == "channel":
        activity = acts.channel(person, text)
    elif base == "channel_plain":
        activity = acts.channel(person, text, mention=False)
    elif base == "group":
        activity = acts.group(person, text)
        activity["conversation"]["id"] = f"19:hostile{n:04d}@thread.v2"
    elif base in ("execute", "submit"):
        build = acts.execute if base == "execute" else acts.submit
        activity = build(person, data, card=None)
        activity["conversation"]["id"] = f"a:1hostile{n:04d}{person.key}"
    elif base == "installed":
        activity = acts.installed(person, where="channel")
    else:
        raise AssertionError(f"unknown teams base {base}")
    for path, value in expand(case.get("set", {})).items():
        set_path(activity, path, value)
    for path in case.get("delete", []):
        delete_path(activity, path)
    return activity


@on_the_module_loop
@on_each_database
@pytest.mark.parametrize("case", _params("teams"))
async def test_teams_case(servers: Servers, case: dict[str, Any],
                          request: pytest.FixtureRequest) -> None:
    teams_env = await servers.teams()
    with KnownFailure(case, request):
        await run_teams_case(teams_env, case)


async def run_teams_case(teams_env: TeamsEnv, case: dict[str, Any]) -> None:
    n = next(_counter)
    stack, connector = teams_env.stack, teams_env.connector
    tokens = Tokens(teams_env)
    before = await snapshot(teams_env.db)
    mark = connector.mark()
    bad_cards = len(connector.bad_cards)
    outcome = Outcome([], [])
    after_first = 0
    if case["kind"] == "raw":
        raw = expand(case["raw"])
        data = raw if isinstance(raw, bytes) else raw.encode()
        service_url = None
    else:
        activity = teams_activity(teams_env, case, n)
        data = json.dumps(activity).encode()
        service_url = activity.get("serviceUrl") if isinstance(activity, dict) else None
        service_url = service_url if isinstance(service_url, str) else None
    for _ in range(2 if case.get("send_twice") else 1):
        after_first = connector.mark()  # on the second round: what the first delivery caused
        headers = {"Content-Type": case.get("content_type", "application/json"),
                   **tokens.header(case.get("headers", "signed"), service_url)}
        response = await stack.client.post(ROUTE, data=data, headers=headers)
        outcome.statuses.append(response.status)
        outcome.bodies.append(await response.text())
        await teams_env.drain()
    if case.get("send_twice"):
        assert connector.sent(after_first) == [], \
            f"{case['name']}: a second delivery was answered again"
    for call in connector.sent(mark):
        body = call.body if isinstance(call.body, dict) else {}
        # Live mentions in Teams are entities; the bot's cards must carry none, whatever the
        # text says (`<at>everyone</at>` in a TextBlock is only text).
        entities = [e for e in body.get("entities") or [] if e.get("type") == "mention"]
        assert entities == [], f"{case['name']}: the bot sent mentions {entities}"
        for card in call.cards:
            assert "msteams" not in json.dumps(card), f"{case['name']}: {card}"
            if case["category"] == "markdown-injection":
                # Card text is markdown: `[label](url)` typed as text would come back as a live
                # link, relabelled, inside the bot's own card. The bot never sends links itself.
                links = [t for t in strings(card) if _MARKDOWN_LINK.search(t)]
                assert links == [], f"{case['name']}: live links in the bot's card: {links}"
        # The bot answers with cards only: an activity `text` would be read as HTML.
        assert not body.get("text"), f"{case['name']}: text sent as HTML {body.get('text')!r}"
        outcome.replies.append("\n".join(strings(body)))
    health = await stack.client.get("/healthz")
    assert health.status == 200 and (await health.json())["status"] == "ok"
    after = await snapshot(teams_env.db)
    _check(case, outcome, before, after)
    if outcome.statuses[0] == 401:
        # Not even a conversation reference from someone who could not prove they are Teams.
        # (An authenticated activity refused later, for a forged card field say, does refresh
        # the reference to its conversation: the token proved Teams sent it from there.)
        assert after.refs == before.refs, f"{case['name']}: an unauthenticated request was stored"
    assert connector.bad_cards[bad_cards:] == [], "invalid Adaptive Card sent"


def test_the_corpus_covers_every_category_on_both_platforms() -> None:
    for platform in ("slack", "teams"):
        seen = {c["category"] for c in load_cases(platform)}
        expected = CATEGORIES - {"auth" if platform == "slack" else "signature"}
        assert expected <= seen, f"{platform} misses {expected - seen}"
