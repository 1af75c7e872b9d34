"""The console as a user runs it: the real `producer-bot` executable, a script on stdin."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXE = Path(sys.executable).with_name("producer-bot")

SCRIPT = """\
:as erin engineer
I'm blocked on staging DB creds, waiting for ops
:as sam stakeholder
request CSV export of invoices
add a button to export
Finance copies invoice rows into a spreadsheet by hand every Friday; it takes three hours
the finance team
a macro that breaks every month
Friday reconciliation in under 30 minutes
:as pat producer
accept 1
deliver 1 shipped in release 2.4
:as sam
solved 1
:as erin
resolve 1 ops rotated the creds
:as pat
digest
"""


def run_console(tmp_path: Path, stdin: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}"}
    env.pop("TEST_DATABASE_URL", None)
    return subprocess.run([str(EXE), "console", *args], input=stdin, capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=120)


def test_the_whole_loop_in_a_scripted_console_session(tmp_path: Path) -> None:
    result = run_console(tmp_path, SCRIPT, "--user", "pat")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    # An engineer's free-text blocker is tracked.
    assert "tracking it as blocker #1" in out
    # The stakeholder's solution gets one follow-up, then the four questions run in order.
    steps = ["What problem does this solve?", "sounds like a solution", "Who has this problem?",
             "How do they cope with it today?", "How will we know it worked?",
             "request #1 is ready for review"]
    positions = [out.index(step) for step in steps]
    assert positions == sorted(positions)
    # The producer accepts and delivers; the requester hears each step and confirms.
    assert "bot → @sam (direct): Good news: your request #1" in out
    assert "bot → @sam (direct): Request #1 (CSV export of invoices) was delivered" in out
    assert "Thanks for confirming: request #1 is done." in out
    assert "Blocker #1 resolved by @erin" in out
    # The digest shows all of it.
    digest = out[out.rindex("Weekly digest"):]
    assert "Delivered and accepted" in digest and "#1 CSV export of invoices" in digest
    assert "Problem: Finance copies invoice rows" in digest
    assert "Blockers resolved this week" in digest and "staging DB creds" in digest
    assert "1 delivery accepted" in digest


def test_a_piped_session_reads_to_eof_and_exits_zero(tmp_path: Path) -> None:
    result = run_console(tmp_path, "blocker staging creds missing\ndigest\n")
    assert result.returncode == 0, result.stderr
    assert "Tracking blocker #1" in result.stdout
    assert "1 blocker open" in result.stdout


def test_the_console_keeps_state_between_runs(tmp_path: Path) -> None:
    run_console(tmp_path, "request dark mode\n", "--user", "sam")
    result = run_console(tmp_path, "our support team gets eye strain on night shifts\n",
                         "--user", "sam")
    assert "Who has this problem?" in result.stdout


def test_bad_console_input_is_answered_not_crashed(tmp_path: Path) -> None:
    long_line = "blocker " + "é" * 40_000
    script = f":as\n:bogus\n:as bob wizard\n/nope\n{long_line}\n\x00\x01\n🚧🚧\n"
    result = run_console(tmp_path, script)
    assert result.returncode == 0, result.stderr
    assert "unknown console command" in result.stdout
    assert "roles are producer, engineer and stakeholder" in result.stdout
    assert "don't know the command `nope`" in result.stdout
    assert "Nothing was recorded" in result.stdout
    assert "Traceback" not in result.stderr


TRUST_SCRIPT = """\
:as pat producer
:as erin
can't deploy until the staging cert is renewed
standup fixed the login test. still blocked on the staging cert
resolv 1
staging cert renewed, not blocked anymore
resolve 1 ops renewed it
history 1
:as sam
hey can we get a dark mode?
:as ann
hello
:as pat
roles
role @sam none
schedule daily-digest on
away until friday
away until 2020-01-01
standup join @ann
digest
"""


def test_a_team_trusting_the_bot_through_the_console(tmp_path: Path) -> None:
    """Each finding of issue #13 as a person meets it in the console."""
    out = run_console(tmp_path, TRUST_SCRIPT).stdout
    assert out.count("blocker #1") >= 1 and "blocker #2" not in out  # one blocker per problem
    assert "Added your news to #1" in out
    assert "Did you mean `resolve 1`?" in out
    assert "Sounds like blocker #1" in out and "[Resolve #1: resolve 1]" in out
    assert "news from @erin: still blocked on the staging cert" in out
    assert "resolved by @erin: ops renewed it" in out
    assert "[File as request: request hey can we get a dark mode?]" in out
    assert "no role yet: @sam, @ann" in out  # nobody gets a role by speaking
    assert "@sam has no role now" in out
    assert "The daily-digest schedule is on" in out
    assert "(Friday, inclusive)" in out and "2020-01-01 has passed" in out
    assert "@ann now takes part in standups" in out
    assert "open 1m, resolved by @erin: ops renewed it" in out  # the digest: how long it was open
    assert "@you" not in out  # the console's own starting user, never spoken as, is nobody


def test_a_request_alike_in_its_problem_is_named_when_its_discovery_is_over(
        tmp_path: Path) -> None:
    problem = "Finance retypes every invoice into a spreadsheet by hand, three hours each Friday"
    answers = f"{problem}\nthe finance team\nby hand\nclose the month in a day\n"
    script = (f":as sam stakeholder\nrequest Month-end close takes too long\n{answers}"
              f":as erin stakeholder\nrequest Faster reconciliation for finance\n{answers}")
    result = run_console(tmp_path, script, "--user", "pat")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    filed = out[out.index("Request #2 from"):out.index("Who has this problem?", out.index(
        "Request #2 from"))]
    assert "similar request" not in filed  # the titles share nothing
    done = out[out.index("request #2 is ready for review"):]
    assert "1 similar request" in done and "#1 Month-end close takes too long" in done


VOICES = """\
:as pat producer
:as sam stakeholder
request Dark mode for the dashboard
Night-shift support staff get eye strain from the white dashboard every night
done
:as kim stakeholder
request CSV export of invoices
Finance copies invoice rows into a spreadsheet by hand every Friday; it takes three hours
done
:as lee stakeholder
request Invoice spreadsheet download
Accounting retypes invoices into Excel at each month end, a full day of work
done
:as erin engineer
metoo 3 support rebuilds the same sheet
:as zoe
metoo 3
metoo 3 we lose a morning every week
:as lee
metoo 3
:as pat
merge 3 into 3
merge 3 into 2
:as zoe
metoo 3
:as pat
requests all
digest
"""


def test_voices_and_a_merge_rank_the_digests_decisions(tmp_path: Path) -> None:
    result = run_console(tmp_path, VOICES, "--user", "pat")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "I've added your voice to request #3 (Invoice spreadsheet download). It now has " \
           "2 people." in out
    # A click-like bare metoo asks how it affects them; the sentence fills it in, once.
    assert "How does this problem affect you? Reply with `metoo 3 <how it affects you>`" in out
    assert "I've updated what you said about request #3" in out
    assert "Request #3 is your own" in out
    assert "can't be merged into itself" in out
    assert "Merged request #3 into #2 (CSV export of invoices): it now has 4 people." in out
    assert "bot → @lee (direct): Your request #3 (Invoice spreadsheet download) describes " \
           "the same problem as #2" in out
    assert "bot → @erin (direct): Request #3" in out and "bot → @zoe (direct): Request #3" in out
    assert "it was merged into #2, the same problem. Add it there instead: `metoo 2`" in out
    assert "#3 Invoice spreadsheet download (merged into #2, @lee)" in out
    # The newer request with four people comes before the older one with one.
    digest = out[out.rindex("Weekly digest"):]
    decisions = digest[digest.index("Decisions needed"):digest.index("Merged this week")]
    assert decisions.index("#2 CSV export of invoices (@kim, 4 people)") \
        < decisions.index("#1 Dark mode for the dashboard (@sam)")
    assert "#3 Invoice spreadsheet download merged into #2" in digest
