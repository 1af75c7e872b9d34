"""Heuristics that work with no language model: is a message a blocker, is an answer a solution
in disguise, how alike are two requests.

They are deliberately conservative about blockers: a false alarm in a busy channel costs the
bot its welcome, a miss costs one `blocker ...` command.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LABELS = ("blocker", "request", "update", "other")


@dataclass(frozen=True)
class Classification:
    label: str  # one of LABELS
    confidence: float  # 0..1
    blocked_on: str | None = None
    unblocker: str | None = None
    source: str = "heuristic"


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


_NOT_BLOCKED = _rx(
    r"\b(not|no longer|never|wasn'?t|isn'?t|aren'?t|no more|un)[ -]?(blocked|stuck)\b"
    r"|\bno blockers?\b|\bnothing (is )?blocking\b|\bblocker[- ]free\b|\bunblocked\b"
)
_ASKING = _rx(
    r"^(is|are|anyone|any ?body|does|do|did|who|what|how|hey,? (is|are|anyone))\b[^.!]*\?\s*$"
)
_BLOCKER_STRONG = [
    _rx(r"\b(i'?m|i am|we'?re|we are|am|been|still|currently|totally|completely|fully)\s+"
        r"(\w+\s+)?(blocked|stuck|held up)\b"),
    _rx(r"\bblocked (on|by|until|till|behind|waiting)\b"),
    _rx(r"^\s*blocker\s*[:\-]"),
    _rx(r"\bstuck (on|with|behind|waiting|at)\b"),
    _rx(r"\b(can'?t|cannot|can not|unable to|couldn'?t|won'?t be able to)\b[^.?!]{0,80}"
        r"\b(until|till|til|unless|before|without)\b"),
    _rx(r"\bwaiting (on|for)\b[^.?!]{1,60}\b(before|until|till|so that|so i can|so we can)\b"),
    _rx(r"\bneed\b[^.?!]{1,60}\bbefore (i|we) can\b"),
    _rx(r"\b(is|are|keeps?) blocking (me|us|the|our|my)\b"),
    _rx(r"\bheld up (by|on)\b|\bon hold (until|till|because|pending)\b"),
    _rx(r"\b(no|don'?t have|lost|missing) (access|permissions?|credentials|creds)\b"),
]
_BLOCKER_WEAK = [
    _rx(r"\bwaiting (on|for)\b"),
    _rx(r"\b(can'?t|cannot|unable to) (deploy|merge|ship|release|test|push|log ?in|access)\b"),
    _rx(r"\bblocked\b|\bblocker\b"),
]
_REQUEST = [
    _rx(r"\b(can|could|would) (we|you|someone) (please )?(add|get|have|build|make|support)\b"),
    _rx(r"\b(feature request|it would be (nice|great|good)|would love (a|an|to|if))\b"),
    _rx(r"\bplease (add|support|make|build)\b|\bwe need (a|an|to be able)\b"),
    _rx(r"\bwhy (can'?t|doesn'?t|isn'?t|is there no)\b"),
    _rx(r"\b(i|we) wish\b|\bany chance (we|you)\b"),
]
_UPDATE = [
    _rx(r"\b(merged|shipped|deployed|released|finished|fixed|pushed|landed|wrapped up|done with)\b"),
    _rx(r"\b(working on|picking up|started on|starting on|moving on to|on to)\b"),
    _rx(r"\b(pr|mr) (is )?(up|open|ready)\b|\bunblocked\b"),
]

_UNBLOCKER_PATTERNS = [
    _rx(r"\bwaiting (?:on|for) (?P<who>[^,.;!?]+?)(?= to | before | until | till | so |[,.;!?]|$)"),
    _rx(r"\b(?:until|till|til) (?P<who>[^,.;!?]+?) (?:signs?|approves?|gives?|sends?|merges?|"
        r"reviews?|fix(?:es)?|answers?|replies|responds?|gets? back|grants?|shares?|provides?|"
        r"unblocks?|confirms?|releases?)\b"),
    _rx(r"\bneed (?P<who>[^,.;!?]+?)(?:'s| to)\b"),
    _rx(r"\bblocked by (?P<who>[^,.;!?]+)"),
]
_BLOCKED_ON_PATTERNS = [
    _rx(r"\b(?:blocked|stuck) (?:on|by|with|behind) (?P<what>[^,.;!?]+)"),
    _rx(r"^\s*blocker\s*[:\-]\s*(?P<what>[^.;!?]+)"),
    _rx(r"\bwaiting (?:on|for) (?P<what>[^,.;!?]+)"),
    _rx(r"\b(?:no|missing|lost|don'?t have) (?P<what>(?:access|permissions?|credentials|creds)"
        r"[^,.;!?]*)"),
]
_MENTION = re.compile(r"<@([A-Za-z0-9._\-]+)(?:\|[^>]*)?>")


def _first_group(patterns: list[re.Pattern[str]], text: str, name: str) -> str | None:
    for pattern in patterns:
        match = pattern.search(text)
        if match:
            value = match.group(name).strip(" '\"")
            if value:
                return value[:200]
    return None


def _normalise(text: str) -> str:
    return text.replace("\u2019", "'").replace("\u2018", "'").strip()


def classify(text: str) -> Classification:
    """Label a chat message. Confidence below 0.7 means "unsure": worth a second opinion."""
    text = _normalise(text)
    if not text:
        return Classification("other", 1.0)
    if _NOT_BLOCKED.search(text):
        is_update = any(p.search(text) for p in _UPDATE)
        return Classification("update" if is_update else "other", 0.8)
    if _ASKING.search(text):
        return Classification("other", 0.75)

    if any(p.search(text) for p in _BLOCKER_STRONG):
        confidence = 0.9
    elif any(p.search(text) for p in _BLOCKER_WEAK):
        confidence = 0.55
    else:
        confidence = 0.0
    if confidence:
        mention_match = _MENTION.search(text)
        unblocker = (
            f"<@{mention_match.group(1)}>"
            if mention_match
            else _first_group(_UNBLOCKER_PATTERNS, text, "who")
        )
        return Classification(
            "blocker",
            confidence,
            blocked_on=_first_group(_BLOCKED_ON_PATTERNS, text, "what"),
            unblocker=unblocker,
        )
    if any(p.search(text) for p in _REQUEST):
        return Classification("request", 0.7)
    if any(p.search(text) for p in _UPDATE):
        return Classification("update", 0.65)
    return Classification("other", 0.6)


# ---- solutions in disguise ----------------------------------------------------------------

_SOLUTION_START = _rx(
    r"^(?:(?:we|you|they) (?:should|need to|must|could)|(?:just|please|let'?s|i want (?:you )?to|"
    r"can you|could you|we need|i need|need|i want|we want)\s+)?\s*"
    r"(?:add|build|make|create|implement|put|integrate|use|switch|install|set up|setup|enable|"
    r"allow|let|give|show|display|change|move|replace|rewrite|migrate|include|provide|"
    r"a new|an? (?:button|checkbox|dropdown|toggle|field|page|screen|tab|option|setting|"
    r"feature|endpoint|api|dashboard|report|export|integration|filter|column|link|popup|modal))\b"
)
_PROBLEM_SIGNAL = _rx(
    r"\b(because|since|so that|otherwise|can'?t|cannot|couldn'?t|unable|hard|difficult|slow|"
    r"waste|lose|losing|lost|miss|missing|error|mistakes?|manual(ly)?|takes?|took|hours?|"
    r"minutes?|days?|every time|forget|confus\w*|complain\w*|fail\w*|broken|late|costs?|"
    r"annoy\w*|frustrat\w*|pain|problem|struggl\w*|tedious|risk|churn)\b"
)


def looks_like_solution(answer: str) -> bool:
    """True when an answer to "what problem does this solve?" describes a fix, not a pain."""
    answer = _normalise(answer)
    return bool(_SOLUTION_START.search(answer)) and not _PROBLEM_SIGNAL.search(answer)


# ---- lexical similarity -------------------------------------------------------------------

_STOPWORDS = frozenset(
    "a an the and or but to of in on for with from by at as is are be been it its this that these "
    "those we our you your they their i me my can could would should will please add new make "
    "get have has need want able so when what which who how all any some more less into out up "
    "about than then there here just also via per do does not no yes".split()
)
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def _stem(word: str) -> str:
    """Just enough stemming to match plurals and verb forms ("invoices", "exporting")."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    for suffix in ("ing", "ed"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def keywords(text: str) -> frozenset[str]:
    words = (w.lower() for w in _WORD.findall(text))
    return frozenset(_stem(w) for w in words if len(w) > 1 and w not in _STOPWORDS)


def similarity(a: str, b: str) -> float:
    """Jaccard overlap of keyword sets: 0 (nothing shared) to 1 (same words)."""
    ka, kb = keywords(a), keywords(b)
    if not ka or not kb:
        return 0.0
    return len(ka & kb) / len(ka | kb)
