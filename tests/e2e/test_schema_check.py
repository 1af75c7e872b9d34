"""A PostgreSQL database nobody has migrated yet: the console and `serve` say how to fix it
in one line and exit non-zero, instead of a traceback (or a traceback a second)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import postgres_url, reset_postgres

EXE = Path(sys.executable).with_name("producer-bot")
pytestmark = pytest.mark.postgres


@pytest.mark.parametrize("command", ["console", "serve", "digest"])
async def test_an_unmigrated_database_is_one_line_naming_db_upgrade(
        command: str, tmp_path: Path) -> None:
    url = postgres_url()
    if url is None:
        pytest.skip("TEST_DATABASE_URL is not set (PostgreSQL suite: make test-postgres)")
    await reset_postgres(url)
    env = {**os.environ, "DATABASE_URL": url, "PORT": "0", "HOST": "127.0.0.1"}
    result = subprocess.run([str(EXE), command], input="help\n", capture_output=True, text=True,
                            env=env, cwd=tmp_path, timeout=120)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    (line,) = [x for x in result.stderr.splitlines() if "db upgrade" in x]
    assert "has no schema yet" in line and "Run `producer-bot db upgrade` first" in line
    upgraded = subprocess.run([str(EXE), "db", "upgrade"], capture_output=True, text=True,
                              env=env, timeout=120)
    assert upgraded.returncode == 0, upgraded.stderr
    if command == "console":
        ready = subprocess.run([str(EXE), "console"], input="help\n", capture_output=True,
                               text=True, env=env, cwd=tmp_path, timeout=120)
        assert ready.returncode == 0 and "I keep track of blockers" in ready.stdout
