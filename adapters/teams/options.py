"""Teams settings beyond the four Bot Framework variables, and the checks run before start-up.

The Bot Framework variables (MicrosoftAppId, ...) live in adapters.config.Settings; what only this
adapter needs is read here from an environ-like mapping, so config.py stays platform-neutral.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from adapters.config import ConfigError, Settings, is_loopback

APP_TYPES = {"multitenant": "MultiTenant", "singletenant": "SingleTenant",
             "userassignedmsi": "UserAssignedMSI"}


@dataclass(frozen=True)
class TeamsOptions:
    # Tenants whose activities are accepted; empty means every tenant that can reach the bot.
    allowed_tenants: frozenset[str] = frozenset()

    def allows(self, tenant: str) -> bool:
        return not self.allowed_tenants or tenant in self.allowed_tenants


def read_options(env: Mapping[str, str], settings: Settings | None = None) -> TeamsOptions:
    """TEAMS_ALLOWED_TENANTS: comma-separated tenant ids. A SingleTenant bot defaults to its own
    tenant, because anything else reaching it is a misconfiguration or an attack."""
    raw = env.get("TEAMS_ALLOWED_TENANTS", "")
    tenants = frozenset(t.strip().lower() for t in raw.split(",") if t.strip())
    if not tenants and settings is not None and settings.microsoft_app_id \
            and app_type(settings) == "SingleTenant" and settings.microsoft_app_tenant_id:
        tenants = frozenset({settings.microsoft_app_tenant_id.lower()})
    return TeamsOptions(allowed_tenants=tenants)


def app_type(settings: Settings) -> str:
    kind = APP_TYPES.get((settings.microsoft_app_type or "MultiTenant").strip().lower())
    if kind is None:
        raise ConfigError(f"MicrosoftAppType must be MultiTenant, SingleTenant or UserAssignedMSI, "
                          f"got {settings.microsoft_app_type!r}: it is the 'Type of App' of your "
                          "Azure Bot resource")
    return kind


def emulator_mode(settings: Settings) -> bool:
    """TEAMS_EMULATOR=1 without MicrosoftAppId: botbuilder validates nothing, so only local
    clients may reach us."""
    return settings.teams_emulator


def check(settings: Settings, host: str | None = None) -> None:
    """Fail fast, naming the variable, instead of refusing every activity later. `host` is the
    address the server really binds, when it is not settings.host."""
    if not settings.microsoft_app_id and not settings.teams_emulator:
        raise ConfigError("Teams needs MicrosoftAppId and MicrosoftAppPassword (Azure Bot > "
                          "Configuration), or TEAMS_EMULATOR=1 to try it unauthenticated with "
                          "the Bot Framework Emulator on this machine")
    if emulator_mode(settings):
        host = host or settings.host
        if not is_loopback(host):
            raise ConfigError(
                f"TEAMS_EMULATOR is set, so Teams would run without authentication, which is "
                f"only allowed on a loopback address, but the server listens on {host!r}. Set "
                "MicrosoftAppId and MicrosoftAppPassword (Azure Bot > Configuration) or HOST=127.0.0.1")
        return
    kind = app_type(settings)
    if kind in ("MultiTenant", "SingleTenant") and not settings.microsoft_app_password:
        raise ConfigError("MicrosoftAppPassword is required with MicrosoftAppId: create a client "
                          "secret under your Azure Bot > Configuration > Manage Password")
    if kind in ("SingleTenant", "UserAssignedMSI") and not settings.microsoft_app_tenant_id:
        raise ConfigError(f"MicrosoftAppTenantId is required when MicrosoftAppType is {kind}: it is "
                          "the 'App Tenant ID' on your Azure Bot's Configuration page")
