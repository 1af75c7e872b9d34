"""Settings from environment variables (and a `.env` file when present)."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass

from dotenv import load_dotenv


class ConfigError(Exception):
    """A setting is missing or wrong; the message names the variable and what to do."""


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite+aiosqlite:///producer-bot.db"
    host: str = "127.0.0.1"
    port: int = 3000
    log_level: str = "INFO"
    schedule_grace_hours: float = 6.0
    schedule_tick_seconds: float = 30.0
    # Slack
    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_app_token: str | None = None
    slack_client_id: str | None = None
    slack_client_secret: str | None = None
    slack_api_url: str | None = None
    # Teams (the Bot Framework's own variable names)
    microsoft_app_id: str | None = None
    microsoft_app_password: str | None = None
    microsoft_app_type: str = "MultiTenant"
    microsoft_app_tenant_id: str | None = None
    # TEAMS_EMULATOR=1: Teams without MicrosoftAppId, unauthenticated, for the Bot Framework
    # Emulator. Never a default: a Slack-only deployment on HOST=127.0.0.1 behind a reverse proxy
    # would otherwise accept forged Teams activities from anyone who can reach the proxy.
    teams_emulator_requested: bool = False
    # Language model
    openai_api_key: str | None = None
    openai_base_url: str | None = None
    openai_model: str | None = None
    openai_embedding_model: str | None = None  # "off": word overlap only
    openai_timeout: str | None = None  # seconds per attempt; adapters/llm checks and applies it
    openai_max_retries: str | None = None
    llm_disabled_for: str | None = None  # comma-separated places kept away from the model

    @property
    def slack_enabled(self) -> bool:
        return bool(self.slack_bot_token or self.slack_client_id or self.slack_app_token)

    @property
    def teams_enabled(self) -> bool:
        return bool(self.microsoft_app_id) or self.teams_emulator

    @property
    def teams_emulator(self) -> bool:
        """TEAMS_EMULATOR=1 and no MicrosoftAppId: Teams without authentication, for the Bot
        Framework Emulator. Start-up refuses it unless the server listens on loopback only."""
        return not self.microsoft_app_id and self.teams_emulator_requested

    def platforms(self) -> list[tuple[str, bool, str]]:
        """(platform, on?, why) for the start-up log line."""
        slack_why = ("SLACK_BOT_TOKEN, SLACK_CLIENT_ID or SLACK_APP_TOKEN is set"
                     if self.slack_enabled else "no SLACK_BOT_TOKEN, SLACK_CLIENT_ID or SLACK_APP_TOKEN")
        if self.microsoft_app_id:
            teams_why = "MicrosoftAppId is set, every activity is authenticated" + (
                "; TEAMS_EMULATOR is ignored" if self.teams_emulator_requested else "")
        elif self.teams_emulator:
            teams_why = ("emulator mode: TEAMS_EMULATOR is set and MicrosoftAppId is not, so NO "
                         "authentication; loopback only")
        else:
            teams_why = ("no MicrosoftAppId; TEAMS_EMULATOR=1 runs it unauthenticated for the "
                         "Bot Framework Emulator, loopback only")
        return [("slack", self.slack_enabled, slack_why), ("teams", self.teams_enabled, teams_why)]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _get(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


_YES = ("1", "true", "yes", "on")
_NO = ("", "0", "false", "no", "off")


def _flag(env: Mapping[str, str], name: str) -> bool:
    text = (_get(env, name) or "").lower()
    if text not in _YES + _NO:
        raise ConfigError(f"{name} must be 1 (on) or 0 (off), got {env.get(name)!r}")
    return text in _YES


def _number(env: Mapping[str, str], name: str, default: float, low: float, high: float,
            what: str) -> float:
    text = _get(env, name)
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise ConfigError(f"{name} must be {what} from {low:g} to {high:g}, got {text!r}")
    return value


def load(env: Mapping[str, str] | None = None, dotenv: bool = True) -> Settings:
    if env is None:
        if dotenv:
            load_dotenv(override=False)  # real environment variables win over the file
        env = os.environ
    port_text = _get(env, "PORT") or "3000"
    if not port_text.isdigit() or not 0 <= int(port_text) < 65536:
        raise ConfigError(f"PORT must be a port number (0-65535), got {port_text!r}")
    grace = _number(env, "SCHEDULE_GRACE_HOURS", 6.0, 0, 168, "a number of hours")
    tick = _number(env, "SCHEDULE_TICK_SECONDS", 30.0, 1, 60, "a number of seconds")
    settings = Settings(
        schedule_grace_hours=grace,
        schedule_tick_seconds=tick,
        database_url=_get(env, "DATABASE_URL") or Settings.database_url,
        host=_get(env, "HOST") or Settings.host,
        port=int(port_text),
        log_level=(_get(env, "LOG_LEVEL") or "INFO").upper(),
        slack_bot_token=_get(env, "SLACK_BOT_TOKEN"),
        slack_signing_secret=_get(env, "SLACK_SIGNING_SECRET"),
        slack_app_token=_get(env, "SLACK_APP_TOKEN"),
        slack_client_id=_get(env, "SLACK_CLIENT_ID"),
        slack_client_secret=_get(env, "SLACK_CLIENT_SECRET"),
        slack_api_url=_get(env, "SLACK_API_URL"),
        microsoft_app_id=_get(env, "MicrosoftAppId"),
        microsoft_app_password=_get(env, "MicrosoftAppPassword"),
        microsoft_app_type=_get(env, "MicrosoftAppType") or "MultiTenant",
        microsoft_app_tenant_id=_get(env, "MicrosoftAppTenantId"),
        teams_emulator_requested=_flag(env, "TEAMS_EMULATOR"),
        openai_api_key=_get(env, "OPENAI_API_KEY"),
        openai_base_url=_get(env, "OPENAI_BASE_URL"),
        openai_model=_get(env, "OPENAI_MODEL"),
        openai_embedding_model=_get(env, "OPENAI_EMBEDDING_MODEL"),
        openai_timeout=_get(env, "OPENAI_TIMEOUT"),
        openai_max_retries=_get(env, "OPENAI_MAX_RETRIES"),
        llm_disabled_for=_get(env, "LLM_DISABLED_FOR"),
    )
    return settings
