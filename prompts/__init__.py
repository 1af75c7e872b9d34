"""Language-model prompts, one file per operation, loaded by name.

A prompt file is a header of `# key: value` lines (a `version` is required, and is recorded
with every result the prompt produces), then a `=== system ===` and a `=== user ===` part.
The user part is a `string.Template`: `$name` placeholders are filled once, so a `$` typed by
a user is never expanded again.

Text that comes from chat users goes through `untrusted()` and sits between
`<untrusted_...>` tags: the prompts tell the model it is data, and `untrusted()` makes sure a
user cannot close the tag early and speak outside it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from string import Template

__all__ = ["Prompt", "load", "untrusted"]

_PART = re.compile(r"^=== (system|user) ===\s*$", re.MULTILINE)
_FENCE_LOOKALIKE = re.compile(r"<\s*(/?)\s*(untrusted)", re.IGNORECASE)


@dataclass(frozen=True)
class Prompt:
    name: str
    version: str
    system: str
    user: str  # a string.Template

    def render(self, **values: str) -> list[dict[str, str]]:
        """Chat messages ready to send. Every placeholder must be given (a typo fails loudly)."""
        return [
            {"role": "system", "content": self.system},
            {"role": "user", "content": Template(self.user).substitute(values)},
        ]


def parse(name: str, text: str) -> Prompt:
    header, _, body = text.partition("\n===")
    meta = {}
    for line in header.splitlines():
        key, sep, value = line.lstrip("# ").partition(":")
        if line.startswith("#") and sep:
            meta[key.strip().lower()] = value.strip()
    if not meta.get("version"):
        raise ValueError(f"prompt {name!r} has no '# version:' line")
    parts = _PART.split("===" + body)
    sections = dict(zip(parts[1::2], (p.strip("\n") for p in parts[2::2]), strict=True))
    if set(sections) != {"system", "user"}:
        raise ValueError(f"prompt {name!r} needs a '=== system ===' and a '=== user ===' part")
    return Prompt(name, meta["version"], sections["system"].strip(), sections["user"].strip())


@cache
def load(name: str) -> Prompt:
    """The prompt in prompts/NAME.txt (packaged with the code, so it works when installed)."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise ValueError(f"bad prompt name {name!r}")
    text = resources.files(__name__).joinpath(f"{name}.txt").read_text(encoding="utf-8")
    return parse(name, text)


def untrusted(text: str, limit: int = 4000) -> str:
    """User text made safe to put between fence tags: cut to `limit` characters, and any
    look-alike of the fence tag defused so the text cannot end the fence or open a new one."""
    text = text[:limit]
    return _FENCE_LOOKALIKE.sub(lambda m: f"‹{m.group(1)}{m.group(2)}", text)
