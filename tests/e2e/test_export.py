"""`producer-bot export` as an operator uses it: a spreadsheet-ready CSV (and JSON) of every
blocker and request with the time of each stage, from a history made through the console."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

from tests.e2e.test_cli import run

STAGES = ("created", "problem_stated", "decided", "delivered", "confirmed", "resolved")
HISTORY = """blocker waiting on ops for the staging creds
blocker need the vendor API keys
resolve 1 ops renewed them
request CSV export of invoices
Finance retypes invoice rows by hand every Friday
skip
skip
skip
accept 1
deliver 1 shipped in 2.4
solved 1
request dark mode
"""


def test_export_csv_has_one_row_per_item_and_a_column_per_stage(tmp_path: Path) -> None:
    made = run(tmp_path, "console", "--user", "pat", stdin=HISTORY)
    assert made.returncode == 0, made.stderr
    result = run(tmp_path, "export", "--format", "csv")
    assert result.returncode == 0 and result.stderr == ""
    reader = csv.DictReader(io.StringIO(result.stdout))
    assert all(stage in (reader.fieldnames or []) for stage in STAGES)
    rows = {(r["kind"], r["number"]): r for r in reader}
    assert sorted(rows) == [("blocker", "1"), ("blocker", "2"), ("request", "1"), ("request", "2")]

    def stamps(row: dict[str, str]) -> dict[str, bool]:
        for stage in STAGES:  # every cell is empty or an ISO time in UTC
            if row[stage]:
                assert datetime.fromisoformat(row[stage]).utcoffset().total_seconds() == 0
        return {stage: bool(row[stage]) for stage in STAGES}

    resolved, still_open = rows["blocker", "1"], rows["blocker", "2"]
    assert stamps(resolved) == {**dict.fromkeys(STAGES, False), "created": True, "resolved": True}
    assert (resolved["state"], resolved["resolved_by"], resolved["unblocker"]) == (
        "resolved", "pat", "ops")
    assert stamps(still_open) == {**dict.fromkeys(STAGES, False), "created": True}
    solved, new = rows["request", "1"], rows["request", "2"]
    assert stamps(solved) == {**dict.fromkeys(STAGES, True), "resolved": False}
    assert (solved["state"], solved["title"], solved["person"], solved["decided_by"]) == (
        "solved", "CSV export of invoices", "pat", "pat")
    order = [solved[s] for s in STAGES[:5]]
    assert order == sorted(order)  # stages in the order they happened
    assert stamps(new) == {**dict.fromkeys(STAGES, False), "created": True}
    assert new["state"] == "needs-discovery"

    written = run(tmp_path, "export", "--format", "json", "--out", "items.json",
                  "--since", "2020-01-01")
    assert written.returncode == 0 and "wrote 4 rows to items.json" in written.stdout
    items = json.loads((tmp_path / "items.json").read_text())
    assert [(i["kind"], i["number"]) for i in items] == sorted(rows)
    assert items[2]["confirmed"] == solved["confirmed"]


def test_report_png_draws_the_chart_and_bad_dates_are_clear(tmp_path: Path) -> None:
    png = run(tmp_path, "report", "--format", "png")  # nothing resolved: nothing to draw
    assert png.returncode == 1 and "nothing to draw" in png.stderr
    run(tmp_path, "console", "--user", "pat", stdin=HISTORY)
    today = datetime.now(UTC).date().isoformat()  # the console team's zone is UTC
    png = run(tmp_path, "report", "--format", "png", "--since", today, "--out", "week.png")
    assert png.returncode == 0, png.stderr
    assert (tmp_path / "week.png").read_bytes().startswith(b"\x89PNG")
    assert "Median time to unblock by week" in png.stdout
    bad = run(tmp_path, "report", "--since", "2026-11-09", "--until", "2026-11-01")
    assert bad.returncode == 2 and "is not before" in bad.stderr and "Traceback" not in bad.stderr
    quiet = run(tmp_path, "report")
    assert quiet.returncode == 0 and "A quiet stretch" in quiet.stdout
