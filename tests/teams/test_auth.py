"""With MicrosoftAppId set, botbuilder validates every activity's token against the Bot
Framework's OpenID keys (here: a local key served from a thread), and every refusal is a 401."""

from __future__ import annotations

from typing import Any

import pytest
from botbuilder.schema import Activity
from cryptography.hazmat.primitives.asymmetric import rsa

from adapters.config import ConfigError, Settings
from adapters.teams.options import check
from tests.teams.activities import APP_ID, ERIN
from tests.teams.conftest import OUTBOUND_TOKEN, OpenId, Stack, StackFactory, StaticTokenFactory


@pytest.fixture
async def secured(make_stack: StackFactory, openid: OpenId) -> Stack:
    return await make_stack(
        microsoft_app_id=APP_ID, microsoft_app_password="secret",
        credentials_factory=StaticTokenFactory(APP_ID, "secret"),
        headers=lambda activity: {"Authorization": "Bearer " + openid.token(
            openid.claims(APP_ID, activity["serviceUrl"]))})


async def test_a_valid_token_is_accepted_and_replies_carry_the_bots_token(
        secured: Stack, openid: OpenId) -> None:
    sent = await secured.say(secured.acts.personal(ERIN, "blocker staging creds"))
    assert len(sent) == 1 and "blocker #1" in sent[0].text
    assert sent[0].headers["Authorization"] == f"Bearer {OUTBOUND_TOKEN}"
    # The keys really came from the metadata server.
    assert "/v1/.well-known/keys" in openid.hits


def bearer(openid: OpenId, stack: Stack, **changes: Any) -> dict[str, str]:
    return {"Authorization": "Bearer " + openid.token(
        openid.claims(APP_ID, stack.connector.url, **changes))}


@pytest.mark.parametrize("case", [
    "missing", "empty", "lowercase scheme", "garbage", "bad audience", "no audience", "expired",
    "not yet valid", "bad issuer", "other service url", "no service url", "wrong key",
    "unknown key id", "no key id",
])
async def test_bad_tokens_are_refused_with_401(secured: Stack, openid: OpenId, case: str) -> None:
    good = openid.token(openid.claims(APP_ID, secured.connector.url))
    headers = {
        "missing": {},
        "empty": {"Authorization": "Bearer "},
        "lowercase scheme": {"Authorization": "bearer " + good},
        "garbage": {"Authorization": "Bearer not.a.token"},
        "bad audience": bearer(openid, secured, aud="someone-elses-bot"),
        "no audience": bearer(openid, secured, aud=None),
        "expired": bearer(openid, secured, exp=1_600_000_000, nbf=1_599_990_000),
        "not yet valid": bearer(openid, secured, nbf=4_000_000_000, exp=4_000_003_600),
        "bad issuer": bearer(openid, secured, iss="https://evil.example"),
        "other service url": bearer(openid, secured, serviceurl="https://evil.example/"),
        "no service url": bearer(openid, secured, serviceurl=None),
        "wrong key": {"Authorization": "Bearer " + openid.token(
            openid.claims(APP_ID, secured.connector.url),
            key=rsa.generate_private_key(public_exponent=65537, key_size=2048))},
        "unknown key id": {"Authorization": "Bearer " + openid.token(
            openid.claims(APP_ID, secured.connector.url), kid="not-a-known-key")},
        "no key id": {"Authorization": "Bearer " + openid.token(
            openid.claims(APP_ID, secured.connector.url), kid=None)},
    }[case]
    activity = secured.acts.personal(ERIN, "blocker forged")
    code, body = await secured.post(activity, headers=headers)
    assert code == 401 and body == {"error": "unauthorized"}
    assert await secured.inbox() == []
    assert secured.connector.calls == []


async def test_card_actions_are_checked_too(secured: Stack, openid: OpenId) -> None:
    click = secured.acts.execute(ERIN, {"command": "help"}, card=None)
    assert (await secured.post(click, headers={}))[0] == 401
    assert (await secured.post(click))[0] == 200


async def test_a_token_for_another_channel_is_refused(secured: Stack) -> None:
    # The key is endorsed for msteams only.
    activity = secured.acts.personal(ERIN, "help")
    activity["channelId"] = "webchat"
    assert (await secured.post(activity))[0] == 401


async def test_a_tenant_is_required_outside_emulator_mode(secured: Stack) -> None:
    activity = secured.acts.personal(ERIN, "help")
    del activity["channelData"]["tenant"]
    del activity["conversation"]["tenantId"]
    code, body = await secured.post(activity)
    assert code == 400 and "tenant" in body["error"]


def test_start_up_checks_name_the_variable() -> None:
    emulator = {"teams_emulator_requested": True}
    with pytest.raises(ConfigError, match="HOST"):
        check(Settings(host="0.0.0.0", **emulator))
    check(Settings(host="127.0.0.1", **emulator))
    check(Settings(host="::1", **emulator))
    with pytest.raises(ConfigError, match="0.0.0.0"):
        check(Settings(host="127.0.0.1", **emulator), host="0.0.0.0")  # what serving() binds
    # Neither MicrosoftAppId nor TEAMS_EMULATOR: there is no Teams to build.
    with pytest.raises(ConfigError, match="TEAMS_EMULATOR=1"):
        check(Settings(host="127.0.0.1"))
    with pytest.raises(ConfigError, match="MicrosoftAppPassword"):
        check(Settings(microsoft_app_id=APP_ID, host="0.0.0.0"))
    with pytest.raises(ConfigError, match="MicrosoftAppTenantId"):
        check(Settings(microsoft_app_id=APP_ID, microsoft_app_password="pw",
                       microsoft_app_type="SingleTenant"))
    with pytest.raises(ConfigError, match="MicrosoftAppType"):
        check(Settings(microsoft_app_id=APP_ID, microsoft_app_password="pw",
                       microsoft_app_type="Sometimes"))
    check(Settings(microsoft_app_id=APP_ID, microsoft_app_type="userassignedmsi",
                   microsoft_app_tenant_id="t", host="0.0.0.0"))


# ---- nothing heavy before the token is checked -------------------------------------------------


@pytest.fixture
def deserialised(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many bodies botbuilder's Activity model deserialised (seconds of CPU for a large
    one): counted, so a test can say it never happened for an unauthenticated request."""
    calls: list[int] = []
    real = Activity.deserialize.__func__  # type: ignore[attr-defined]

    def spy(cls: Any, data: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(len(data.get("attachments") or []) if isinstance(data, dict) else 0)
        return real(cls, data, *args, **kwargs)

    monkeypatch.setattr(Activity, "deserialize", classmethod(spy))
    return calls


async def test_an_unauthenticated_activity_is_refused_before_it_is_deserialised(
        secured: Stack, deserialised: list[int]) -> None:
    activity = secured.acts.personal(ERIN, "blocker forged")
    activity["attachments"] = [{"contentType": "a"} for _ in range(1500)]
    code, body = await secured.post(activity, headers={})
    assert (code, body) == (401, {"error": "unauthorized"})
    code, _ = await secured.post(activity, headers={"Authorization": "Bearer not.a.token"})
    assert code == 401
    assert deserialised == []
    # With a good token the same activity is read as usual.
    assert (await secured.post(activity))[0] == 200
    assert deserialised == [1500]


async def test_oversized_wide_or_deep_bodies_are_refused_before_the_token_is_checked(
        secured: Stack, openid: OpenId, deserialised: list[int]) -> None:
    hits = len(openid.hits)
    # 14,000 tiny attachments (what stalled the server): over the size limit.
    activity = secured.acts.personal(ERIN, "help")
    activity["attachments"] = [{"contentType": "a"} for _ in range(14_000)]
    assert (await secured.post(activity, headers={}))[0] == 413
    assert (await secured.post(activity))[0] == 413  # a token does not make it smaller
    # Under the size limit, but longer lists than Teams ever sends.
    activity["attachments"] = [0] * 5000
    code, body = await secured.post(activity, headers={})
    assert code == 400 and "list" in body["error"]
    # Nested deeper than any activity.
    deep: Any = "x"
    for _ in range(100):
        deep = {"a": [deep]}
    activity = secured.acts.personal(ERIN, "help")
    activity["channelData"]["x"] = deep
    code, body = await secured.post(activity, headers={})
    assert code == 400 and "nested" in body["error"]
    assert deserialised == [] and len(openid.hits) == hits  # no key was even fetched
    assert await secured.inbox() == []
