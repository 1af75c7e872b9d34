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
             "openai": "adapters/llm"}
    offenders = []
    for path in sorted(ROOT.glob("*/**/*.py")):
        rel = str(path.relative_to(ROOT))
        if rel.startswith(("tests/", ".venv/", "bench/")):
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
