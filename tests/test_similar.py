"""Similar requests without a model (bot/similar.py): the stemmer, the concepts, the weights,
the hard negatives, and the hint when discovery is over (through the core)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from adapters.llm.eval_pairs import format_pairs, load_pairs, run_pairs_eval
from bot import classify
from bot.assistant import HeuristicAssistant
from bot.similar import THRESHOLD, explain, keywords, request_text, similarity, stem, terms
from tests.conftest import Harness

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"

# ---- the stemmer ---------------------------------------------------------------------------


@pytest.mark.parametrize("forms", [
    ("export", "exports", "exporting", "exported", "exporter"),
    ("invoice", "invoices", "invoicing"),
    ("notify", "notified", "notifies"),
    ("integrate", "integration", "integrations", "integrated"),
    ("customise", "customize", "customisation", "customization", "customizing"),
    ("colour", "color", "colours"),
    ("cancel", "cancelled", "canceled", "cancelling"),
    ("log", "logs", "logging", "logged"),
    ("bill", "bills", "billing"),
    ("setting", "settings"),
    ("weekly", "week", "weeks"),
    ("deploy", "deployment", "deployed"),
    ("catalog", "catalogue"),
    ("Télécharger", "telecharger"),
])
def test_the_forms_of_a_word_share_a_stem(forms: tuple[str, ...]) -> None:
    assert len({stem(word) for word in forms}) == 1, {word: stem(word) for word in forms}


def test_the_stemmer_leaves_short_and_odd_words_alone() -> None:
    assert stem("csv") == "csv" and stem("2fa") == "2fa" and stem("user") == "user"
    assert stem("status") == "status" and stem("data") == "data"
    assert stem("apply") != stem("app")


def test_keywords_are_read_by_blocker_matching_from_one_home() -> None:
    assert classify.keywords is keywords
    assert keywords("Exporting the invoices") == keywords("export invoice")
    assert "the" not in keywords("the export") and "a" not in keywords("a b export")


# ---- concepts ------------------------------------------------------------------------------


@pytest.mark.parametrize(("a", "b"), [
    ("invoice download as a spreadsheet", "CSV export of invoices"),
    ("SSO for the admin console", "sign in with Okta to admin"),
    ("Excel export of bills", "download invoices as xlsx"),
    ("email me when a build fails", "alert on a failing build"),
    ("bulk delete projects", "mass removal of projects"),
    ("dark mode", "night theme"),
    ("iOS app", "mobile application for iPhone"),
    ("roles for contractors", "permissions for contractors"),
    ("two-factor login", "MFA for sign-in"),
    ("Exportar facturas a Excel", "CSV export of invoices"),
    ("Rechnungen als CSV herunterladen", "invoice CSV export"),
    ("Salesforce sync", "sync to SFDC"),
    # The families requests use across products: files and limits, errors, copies, noise, a11y.
    ("Upload limit too small", "Raise max attachment size"),
    ("App crashes when opening a report", "Error 500 on the reports page"),
    ("Duplicate a project", "Clone projects"),
    ("Too many notifications", "Notification digest"),
    ("Keyboard navigation", "Screen reader support"),
    ("Custom domain", "White-label branding"),
])
def test_paraphrases_meet(a: str, b: str) -> None:
    assert similarity(a, b) >= THRESHOLD, explain(a, b)


def test_phrases_are_read_before_their_words() -> None:
    assert "~login" in terms("let me log in with Google") and "~login" in terms("sign-in page")
    assert "~darkmode" in terms("a dark mode please") and "dark" not in terms("dark mode")
    assert "~notify" in terms("send an e-mail") and "~bulk" in terms("multi-select delete")


def test_one_slip_of_the_keyboard_is_read_through() -> None:
    assert similarity("exprt invocies to excel", "CSV export of invoices") >= THRESHOLD
    assert "~notify" in terms("notfication when someone mentions me")
    assert "~search" in terms("serch") and "~dashboard" in terms("dashbaord")
    # A slip that spells another word is that word: "table" is not a "tablet".
    assert "~mobile" not in terms("table") and "~export" not in terms("expert")


def test_a_product_is_itself_and_its_kind() -> None:
    assert {"=okta", "~login"} <= terms("Okta login")
    assert "=salesforc" in terms("SFDC")  # one product by two names


# ---- weights and hard negatives ------------------------------------------------------------


@pytest.mark.parametrize(("a", "b"), [
    ("CSV import", "CSV export"),
    ("dark mode", "dark launch"),
    ("settings page", "pricing page"),
    ("user data", "data retention for users"),
    ("Sync signups to HubSpot", "Sync signups to Salesforce"),
    ("Export invoices to PDF", "Export invoices to CSV"),
    ("Slack notifications for new leads", "Microsoft Teams notifications for new leads"),
    ("dark mode", "CSV export"),
    ("German translation", "French translation"),  # each language is itself
    ("Error when exporting invoices", "Error when importing contacts"),
    ("Slow search", "Slow login"),
    ("Better alerts", "Payment alerts"),  # "better" is not "betaling"
    ("Route planning", "Pricing plans"),  # planning is not a price plan
    ("Version history", "Version of the mobile app"),
])
def test_hard_negatives_stay_apart(a: str, b: str) -> None:
    assert similarity(a, b) < THRESHOLD, explain(a, b)


def test_common_words_weigh_less_than_rare_ones() -> None:
    # Sharing a rare word counts more than sharing a common one in the same shape.
    assert similarity("Zapier page", "Zapier screen") > similarity("Zapier page", "Xero page")
    assert similarity("page", "page") == 1.0  # the same text is the same, however plain


def test_problems_count_only_when_both_sides_have_one() -> None:
    problem = "Finance retypes every invoice into a spreadsheet by hand, three hours each Friday"
    a = request_text("Month-end close takes too long", problem)
    b = request_text("Faster reconciliation for finance", problem)
    titles = similarity("Month-end close takes too long", "Faster reconciliation for finance")
    assert titles < THRESHOLD  # both are about speed ("too long", "faster"), and little else
    assert similarity(a, "Faster reconciliation for finance") == titles  # one side's problem
    assert similarity(a, b) >= THRESHOLD
    assert request_text("  CSV   export ", " ") == "CSV export"


def test_explain_names_the_shared_terms_heaviest_first() -> None:
    why = explain("CSV export of invoices", "invoice spreadsheet download page")
    assert set(why.shared) == {"~export", "~invoice", "~sheet"}
    assert why.only_b == (stem("page"),) and why.score == similarity(
        "CSV export of invoices", "invoice spreadsheet download page")


async def test_the_heuristic_ranks_and_cuts() -> None:
    candidates = [(1, "Dark mode"), (2, "CSV export of invoices"), (3, "Invoices as Excel"),
                  (4, "CSV import of contacts")]
    found = await HeuristicAssistant().similar("invoice spreadsheet download", candidates)
    assert [s.number for s in found] == [2, 3]


# ---- the labelled pairs --------------------------------------------------------------------

# Measured on the tuning set with the rules at THRESHOLD (README: "Similar requests"), less a
# small margin: a change that finds fewer of the same, or more wrongly, fails here.
DEV_PRECISION_FLOOR = 0.80
DEV_RECALL_FLOOR = 0.53


async def test_the_rules_keep_their_figures_on_the_tuning_pairs() -> None:
    report = await run_pairs_eval(DATA / "request_pairs_dev.jsonl", HeuristicAssistant())
    assert report.count("same") + report.count("different") == 160
    assert report.precision >= DEV_PRECISION_FLOOR, format_pairs(report, True)
    assert report.recall >= DEV_RECALL_FLOOR, format_pairs(report, True)


def test_the_pair_sets_are_well_formed_and_apart() -> None:
    dev = load_pairs(DATA / "request_pairs_dev.jsonl")
    held_out = load_pairs(DATA / "request_pairs_heldout.jsonl")
    assert {p.label for p in dev} == {p.label for p in held_out} == {"same", "different"}
    assert not {p.texts() for p in dev} & {p.texts() for p in held_out}


def test_eval_pairs_prints_precision_and_recall(tmp_path: Path) -> None:
    rows = [{"a": {"title": "CSV export of invoices"},
             "b": {"title": "invoice download as a spreadsheet"}, "label": "same"},
            {"a": {"title": "CSV import", "problem": "sales retype contacts"},
             "b": {"title": "CSV export", "problem": "finance retypes invoices"},
             "label": "different"},
            {"a": {"title": "SSO for the admin console"}, "b": {"title": "dark mode"},
             "label": "same"}]
    path = tmp_path / "pairs.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    exe = Path(sys.executable).with_name("producer-bot")
    result = subprocess.run([str(exe), "eval", "--heuristic", "--pairs", str(path), "--mistakes"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "3 pairs (2 same, 1 different)" in out
    assert "same -> different" in out and "dark mode" in out  # the miss, listed
    assert "same pointed at: 1 of 2, wrongly: 0 of 1" in out
    assert out.rstrip().endswith("same: precision 1.00, recall 0.50")


def test_eval_pairs_names_a_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "pairs.jsonl"
    path.write_text('{"a": {"title": "x"}, "b": {}, "label": "same"}\n')
    with pytest.raises(ValueError, match=r"pairs.jsonl:1: expected"):
        load_pairs(path)


# ---- when discovery is over ----------------------------------------------------------------

PROBLEM = "Finance retypes every invoice into a spreadsheet by hand, three hours each Friday"


async def discover(h: Harness, title: str, problem: str, user: str = "sam") -> tuple[str, str]:
    """File a request and answer its questions: what was said at filing, and at the end."""
    filed = await h.reply_text(user, f"request {title}")
    await h.say(user, problem)
    await h.say(user, "the finance team")
    await h.say(user, "by hand")
    return filed, await h.reply_text(user, "close the month in a day")


async def test_a_request_alike_in_its_problem_is_named_when_discovery_is_over(
        chat: Harness) -> None:
    await discover(chat, "Month-end close takes too long", PROBLEM)
    await discover(chat, "Dark mode", "Support staff get headaches from the white screens")
    filed, done = await discover(chat, "Faster reconciliation for finance", PROBLEM)
    assert "similar request" not in filed  # the titles share nothing
    assert "request #3 is ready for review" in done
    assert "1 similar request" in done and "#1 Month-end close takes too long" in done
    assert "add your voice there" in done and "withdraw #3" in done and "Dark mode" not in done
    assert "[Add my voice to #1|metoo 1]" in done


async def test_what_was_named_at_filing_is_not_named_again(chat: Harness) -> None:
    await discover(chat, "Month-end close takes too long", PROBLEM)
    await discover(chat, "Faster reconciliation for finance", PROBLEM)
    filed, done = await discover(chat, "Month-end close is too slow", PROBLEM)
    assert "#1 Month-end close takes too long" in filed
    assert "#2 Faster reconciliation for finance" in done
    assert "#1 Month-end close" not in done


async def test_nothing_new_no_hint(chat: Harness) -> None:
    await discover(chat, "Month-end close takes too long", PROBLEM)
    _, done = await discover(chat, "Dark mode", "Support staff get headaches from white screens")
    assert "ready for review" in done and "similar request" not in done
