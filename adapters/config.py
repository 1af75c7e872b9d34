"""Settings from environment variables (and a `.env` file when present)."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from dotenv import load_dotenv


class ConfigError(Exception):
    """A setting is missing or wrong; the message names the variable and what to do."""


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite+aiosqlite:///producer-bot.db"
    host: str = "127.0.0.1"
    port: int = 3000
    log_level: str = "INFO"
    chart_dir: str = "charts"  # CHART_DIR: where the console saves charts (relative: to the cwd)
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
    # Trackers (adapters/trackers): where accepted requests are filed. Secrets only here.
    tracker: str | None = None  # TRACKER: the default when several are configured
    github_token: str | None = None
    github_repository: str | None = None  # owner/name
    github_api_url: str = "https://api.github.com"
    github_webhook_secret: str | None = None
    jira_url: str | None = None
    jira_email: str | None = None
    jira_api_token: str | None = None
    jira_project: str | None = None
    jira_issue_type: str = "Task"
    jira_webhook_secret: str | None = None
    linear_api_key: str | None = None
    linear_team: str | None = None
    linear_api_url: str = "https://api.linear.app/graphql"
    linear_webhook_secret: str | None = None

    def tracker_kinds(self) -> frozenset[str]:
        """The trackers this deployment has credentials for."""
        return frozenset(kind for kind, on in (
            ("github", bool(self.github_token)),
            ("jira", bool(self.jira_url and self.jira_email and self.jira_api_token)),
            ("linear", bool(self.linear_api_key))) if on)

    def _tracker_target(self, kind: str) -> str | None:
        return {"github": self.github_repository, "jira": self.jira_project,
                "linear": self.linear_team}[kind]

    def default_tracker(self) -> str | None:
        """The project ("github:acme/app") teams file into unless they chose their own."""
        kinds = [k for k in sorted(self.tracker_kinds()) if self._tracker_target(k)]
        if self.tracker:
            return f"{self.tracker}:{self._tracker_target(self.tracker)}" \
                if self.tracker in kinds else None
        return f"{kinds[0]}:{self._tracker_target(kinds[0])}" if len(kinds) == 1 else None

    def webhook_secret(self, kind: str) -> str | None:
        return {"github": self.github_webhook_secret, "jira": self.jira_webhook_secret,
                "linear": self.linear_webhook_secret}.get(kind)

    def trackers(self) -> list[tuple[str, bool, str]]:
        """(tracker, on?, why) for the start-up log line."""
        names = {"github": ("GITHUB_TOKEN", "GITHUB_REPOSITORY"),
                 "jira": ("JIRA_URL, JIRA_EMAIL and JIRA_API_TOKEN", "JIRA_PROJECT"),
                 "linear": ("LINEAR_API_KEY", "LINEAR_TEAM")}
        default, found = self.default_tracker(), []
        for kind, (credentials, target) in names.items():
            if kind not in self.tracker_kinds():
                found.append((kind, False, f"no {credentials}"))
                continue
            why = f"{credentials} set; "
            if default and default.startswith(kind + ":"):
                why += f"every team files into {default.split(':', 1)[1]} unless it chose another"
            elif self._tracker_target(kind):
                why += (f"{target} is set but TRACKER names {self.tracker}"
                        if self.tracker else f"{target} is set, but so is another tracker's: "
                        "TRACKER picks the default") + "; teams may choose it"
            else:
                why += f"no {target}: only teams that chose a project with `tracker set`"
            secret = self.webhook_secret(kind)
            why += ("; webhooks verified" if secret else
                    f"; no {kind.upper()}_WEBHOOK_SECRET, so the issue's state is not followed")
            found.append((kind, True, why))
        return found

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
        chart_dir=_get(env, "CHART_DIR") or Settings.chart_dir,
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
        **tracker_settings(env),
    )
    return settings


_GITHUB_REPOSITORY = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}")
_JIRA_PROJECT = re.compile(r"[A-Z][A-Z0-9_]{0,63}")
_LINEAR_TEAM = re.compile(r"[A-Za-z0-9_-]{1,64}")
TRACKER_TARGETS = {
    "github": (_GITHUB_REPOSITORY, "owner/name, e.g. acme/app"),
    "jira": (_JIRA_PROJECT, "a project key in capitals, e.g. PROJ"),
    "linear": (_LINEAR_TEAM, "a team key or id, e.g. ENG"),
}


def tracker_target_problem(kind: str, target: str) -> str | None:
    """None if `target` is a well-formed project of tracker `kind`, else what is wrong."""
    pattern, what = TRACKER_TARGETS[kind]
    return None if pattern.fullmatch(target) else f"{target!r} is not {what}"


def _url(env: Mapping[str, str], name: str, default: str | None = None) -> str | None:
    value = _get(env, name) or default
    if value is not None:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.username:
            raise ConfigError(f"{name} must be an http(s) address, got {value!r}")
    return value.rstrip("/") if value else None


def tracker_settings(env: Mapping[str, str]) -> dict[str, str | None]:
    """The tracker settings in `env` (Settings fields), checked."""
    found = dict(
        github_token=_get(env, "GITHUB_TOKEN"),
        github_repository=_get(env, "GITHUB_REPOSITORY"),
        github_api_url=_url(env, "GITHUB_API_URL", Settings.github_api_url),
        github_webhook_secret=_get(env, "GITHUB_WEBHOOK_SECRET"),
        jira_url=_url(env, "JIRA_URL"),
        jira_email=_get(env, "JIRA_EMAIL"),
        jira_api_token=_get(env, "JIRA_API_TOKEN"),
        jira_project=_get(env, "JIRA_PROJECT"),
        jira_issue_type=_get(env, "JIRA_ISSUE_TYPE") or Settings.jira_issue_type,
        jira_webhook_secret=_get(env, "JIRA_WEBHOOK_SECRET"),
        linear_api_key=_get(env, "LINEAR_API_KEY"),
        linear_team=_get(env, "LINEAR_TEAM"),
        linear_api_url=_url(env, "LINEAR_API_URL", Settings.linear_api_url),
        linear_webhook_secret=_get(env, "LINEAR_WEBHOOK_SECRET"),
        tracker=(_get(env, "TRACKER") or "").lower() or None,
    )
    jira = ("JIRA_URL", "JIRA_EMAIL", "JIRA_API_TOKEN")
    given = [name for name in jira if _get(env, name)]
    if given and len(given) < len(jira):
        missing = ", ".join(name for name in jira if name not in given)
        raise ConfigError(f"Jira needs {missing} too (an API token from "
                          "https://id.atlassian.com/manage-profile/security/api-tokens)")
    for kind, name in (("github", "GITHUB_REPOSITORY"), ("jira", "JIRA_PROJECT"),
                       ("linear", "LINEAR_TEAM")):
        value = found[name.lower()]
        if value and (problem := tracker_target_problem(kind, value)):
            raise ConfigError(f"{name}: {problem}")
    tracker = found["tracker"]
    if tracker and tracker not in TRACKER_TARGETS:
        raise ConfigError(f"TRACKER must be github, jira or linear, got {tracker!r}")
    if tracker:
        credentials = {"github": "GITHUB_TOKEN", "jira": "JIRA_URL, JIRA_EMAIL, JIRA_API_TOKEN",
                       "linear": "LINEAR_API_KEY"}[tracker]
        target = {"github": "GITHUB_REPOSITORY", "jira": "JIRA_PROJECT",
                  "linear": "LINEAR_TEAM"}[tracker]
        if not found[target.lower()] or not all(
                found[n.strip().lower()] for n in credentials.split(",")):
            raise ConfigError(f"TRACKER={tracker} needs {credentials} and {target}")
    return found
