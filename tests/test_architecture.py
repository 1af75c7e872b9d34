"""The import rule: the core (bot/) depends on nothing outside itself and the standard library."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_bot_imports_only_itself_and_the_standard_library() -> None:
    offenders = {}
    for path in sorted((ROOT / "bot").rglob("*.py")):
        outside = {m for m in imported_modules(path)
                   if m != "bot" and m not in sys.stdlib_module_names}
        if outside:
            offenders[str(path.relative_to(ROOT))] = sorted(outside)
    assert offenders == {}


def test_platform_libraries_stay_in_their_adapters() -> None:
    homes = {"slack_bolt": "adapters/slack", "slack_sdk": "adapters/slack",
             "botbuilder": "adapters/teams", "botframework": "adapters/teams",
             "openai": "adapters/llm",
             # Charts are drawn in one module, for every platform (matplotlib brings Pillow).
             "matplotlib": "adapters/charts.py", "PIL": "adapters/charts.py"}
    offenders = []
    for path in sorted(ROOT.glob("*/**/*.py")):
        rel = str(path.relative_to(ROOT))
        # Tests, benchmarks and build output (a `pip wheel` leaves copies in build/) aren't the project.
        if rel.startswith(("tests/", ".venv/", "bench/", "build/", "dist/")):
            continue
        for module in imported_modules(path):
            home = homes.get(module)
            # storage/ may hold slack_sdk's installation store: it is storage, not platform logic.
            if home and not rel.startswith(home) and not (module == "slack_sdk" and
                                                          rel.startswith("storage/")):
                offenders.append((rel, module))
    assert offenders == []


def test_the_rule_check_would_notice_a_leak(tmp_path: Path) -> None:
    leaky = tmp_path / "leak.py"
    leaky.write_text("from storage.db import Database\nimport sqlalchemy\nfrom bot import model\n")
    assert imported_modules(leaky) == {"storage", "sqlalchemy", "bot"}


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, root: Path = ROOT) -> set[str]:
    """Every module `path` imports, dotted in full (relative imports resolved); for
    `from a import b`, both `a` and `a.b`."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module_name(path, root).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *(node.module.split(".") if node.module else [])])
            names.add(module)
            names |= {f"{module}.{alias.name}" for alias in node.names}
    return names


# Who may import whom, beyond "bot/ imports only itself and the standard library": the
# conversation core knows nothing of delivery, delivery knows no use case, storage knows no
# adapter, and one platform's adapter never reaches into another's.
FORBIDDEN = {
    "bot": ("adapters", "storage", "prompts"),
    "bot.core": ("bot.relay",),
    "bot.turn": ("bot.relay",),
    "bot.usecases": ("bot.relay",),
    "bot.model": ("bot.relay", "bot.usecases", "bot.core"),
    "bot.digest": ("bot.relay", "bot.usecases", "bot.core"),
    "bot.scheduling": ("bot.relay", "bot.core"),
    "bot.relay": ("bot.usecases",),
    "storage": ("adapters",),
    "adapters.slack": ("adapters.teams", "adapters.console", "adapters.llm", "storage"),
    "adapters.teams": ("adapters.slack", "adapters.console", "adapters.llm"),
    "adapters.console": ("adapters.slack", "adapters.teams", "adapters.llm", "storage"),
    "adapters.llm": ("adapters.slack", "adapters.teams", "adapters.console", "storage"),
}


def breaches(root: Path = ROOT) -> list[tuple[str, str]]:
    found = []
    for folder in ("bot", "adapters", "storage"):
        for path in sorted((root / folder).rglob("*.py")):
            name = module_name(path, root)
            for owner, banned in FORBIDDEN.items():
                if name != owner and not name.startswith(owner + "."):
                    continue
                for imported in imports_of(path, root):
                    if any(imported == b or imported.startswith(b + ".") for b in banned):
                        found.append((name, imported))
    return sorted(set(found))


def test_each_layer_imports_only_what_it_may() -> None:
    assert breaches() == []


def test_the_layer_check_would_notice_a_breach(tmp_path: Path) -> None:
    (tmp_path / "bot" / "usecases").mkdir(parents=True)
    (tmp_path / "adapters" / "slack").mkdir(parents=True)
    (tmp_path / "storage").mkdir()
    (tmp_path / "bot" / "usecases" / "leak.py").write_text("from bot.relay import Relay\n")
    (tmp_path / "adapters" / "slack" / "leak.py").write_text("from ..teams import cards\n")
    assert breaches(tmp_path) == [("adapters.slack.leak", "adapters.teams"),
                                  ("adapters.slack.leak", "adapters.teams.cards"),
                                  ("bot.usecases.leak", "bot.relay"),
                                  ("bot.usecases.leak", "bot.relay.Relay")]


def test_no_module_outgrows_one_room() -> None:
    """A module over 500 lines holds more than one behaviour; the router stays a router."""
    sizes = {str(p.relative_to(ROOT)): len(p.read_text().splitlines())
             for folder in ("bot", "adapters", "storage") for p in (ROOT / folder).rglob("*.py")
             if "migrations" not in p.parts}
    assert {path: n for path, n in sizes.items() if n > 500} == {}
    assert sizes["bot/core.py"] <= 350
