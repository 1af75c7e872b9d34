"""Off-topic messages and `edit`, in a scripted console session (the real executable)."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.test_console import run_console

SCRIPT = """\
:as pat producer
:as sam stakeholder
request CSV export of invoices
Finance copies invoice rows into a spreadsheet by hand every Friday; it takes three hours
hey btw when is the next release?
answer 1 no
the finance team
spreadsheets
done
edit 1
edit 1 colour blue
edit 1 users finance and ops
:as pat
accept 1
:as sam
edit 1 who everyone
"""


def test_off_topic_and_edit_in_the_console(tmp_path: Path) -> None:
    result = run_console(tmp_path, SCRIPT, "--user", "pat")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    ask = out.index("Is that your answer to who has this problem?")
    assert "[Yes: answer 1 yes " in out[ask:] and "[No: answer 1 no " in out[ask:]
    assert "Still waiting on: Who has this problem?" in out
    # The console has no forms: the Edit button's command shows the answers and the usage.
    assert "[Edit answers: edit 1]" in out
    shown = out.index("To change an answer of request #1")
    assert "`who`: the finance team" in out[shown:] and "`success`: (no answer yet)" in out[shown:]
    assert "I don't know the field `colour`" in out
    assert "Updated request #1" in out and "finance and ops (was: the finance team)" in out
    assert "edited request #1" in out  # pat already had the review
    assert "was already accepted by @pat" in out
    assert "release?" not in out[out.rindex("Request #1"):]  # never stored as an answer
