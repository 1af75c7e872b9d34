"""Slack's slash commands: the few the manifest registers, and `/producer <command>` for the
rest. Pure: the core is given `spell` to show usage hints the way a Slack user types them."""

from __future__ import annotations

# The commands registered in manifest.yml; everything else goes through `/producer <command>`.
SLASH_COMMANDS = ("/request", "/blocker", "/standup", "/digest", "/producer")


def spell(command: str) -> str:
    """`request <title>` -> `/request <title>`; `accept 3` -> `/producer accept 3`."""
    word = command.split(" ", 1)[0]
    return f"/{command}" if f"/{word}" in SLASH_COMMANDS else f"/producer {command}"
