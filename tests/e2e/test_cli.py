"""The command line as an operator uses it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXE = Path(sys.executable).with_name("producer-bot")


def run(tmp_path: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}"}
    return subprocess.run([str(EXE), *args], input=stdin, capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=120)


def test_schedule_set_and_show(tmp_path: Path) -> None:
    result = run(tmp_path, "schedule", "set", "--team", "slack:T1", "--kind", "weekly-digest",
                 "--cron", "0 9 * * mon", "--tz", "Europe/Berlin", "--channel", "C42")
    assert result.returncode == 0, result.stderr
    shown = run(tmp_path, "schedule", "show", "--team", "slack:T1").stdout
    line = next(x for x in shown.splitlines() if "weekly-digest" in x)
    assert "0 9 * * mon" in line and "Europe/Berlin" in line and "to C42" in line
    assert "CET" in line or "CEST" in line
    assert "standup" in shown and "(default zone)" in shown
    assert result.stderr == ""


def test_bad_schedule_input_is_a_clear_error(tmp_path: Path) -> None:
    for args, message in ((["--cron", "0 25 * * *", "--tz", "UTC"], "not a valid cron"),
                          (["--cron", "0 9 * * *", "--tz", "Mars/Base"], "not a time zone")):
        result = run(tmp_path, "schedule", "set", "--team", "slack:T1", "--kind", "standup", *args)
        assert result.returncode == 2 and message in result.stderr
    result = run(tmp_path, "schedule", "set", "--team", "nocolon", "--kind", "standup",
                 "--cron", "0 9 * * *", "--tz", "UTC")
    assert result.returncode == 2 and "PLATFORM:TENANT" in result.stderr
    assert "Traceback" not in result.stderr


def test_digest_prints_and_sends(tmp_path: Path) -> None:
    run(tmp_path, "console", "--user", "pat", stdin="blocker waiting on ops\n")
    printed = run(tmp_path, "digest", "--period", "day")
    assert printed.returncode == 0 and "Daily digest: 1 blocker open" in printed.stdout
    sent = run(tmp_path, "digest", "--send")
    assert sent.returncode == 0 and "bot → @pat (direct): Weekly digest" in sent.stdout
    assert "sent 1 message" in sent.stdout


def test_serve_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    import signal
    import socket
    import time

    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}", "PORT": "0",
           "HOST": "127.0.0.1", "LOG_LEVEL": "INFO"}
    process = subprocess.Popen([str(EXE), "serve"], env=env, stderr=subprocess.PIPE, text=True)
    lines = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait for the line that says it listens (bounded)
        line = process.stderr.readline()
        lines.append(line)
        if "listening on" in line or not line:
            break
    listening = next(json_line for json_line in lines if "listening on" in json_line)
    port = int(listening.rsplit(":", 1)[1].split('"')[0].split()[0])
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass  # it is really serving
    process.send_signal(signal.SIGTERM)
    rest = process.communicate(timeout=60)[1]
    assert process.returncode == 0
    assert "shutting down" in rest and "Traceback" not in rest
    assert all(line.startswith("{") for line in (lines + rest.splitlines()) if line.strip())


def test_tracker_set_and_show(tmp_path: Path) -> None:
    env = {"GITHUB_TOKEN": "ghp_x", "GITHUB_REPOSITORY": "acme/app"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        shown = run(tmp_path, "tracker", "set", "--team", "slack:T1", "github", "acme/other")
        assert shown.returncode == 0, shown.stderr
        assert "slack:T1: github:acme/other (chosen for this team" in shown.stdout
        shown = run(tmp_path, "tracker", "set", "--team", "slack:T2", "jira", "PROJ").stdout
        assert "slack:T2: no tracker (chose jira:PROJ, but this deployment has no jira" in shown
        shown = run(tmp_path, "tracker", "show").stdout
        assert "github  on  GITHUB_TOKEN set; every team files into acme/app" in shown
        assert "no GITHUB_WEBHOOK_SECRET, so the issue's state is not followed" in shown
        assert "slack:T1: github:acme/other" in shown and "slack:T2: no tracker" in shown
        bad = run(tmp_path, "tracker", "set", "--team", "slack:T1", "github", "not a repo")
        assert bad.returncode == 2 and "is not owner/name" in bad.stderr, bad.stderr
        assert "Traceback" not in bad.stderr
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
