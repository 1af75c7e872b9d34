"""How alike two requests are, with no language model: words brought to their stems, the
words requests use folded to a few dozen concepts, rare words weighing more than common ones.

"invoice download as a spreadsheet" and "CSV export of invoices" share three concepts (an
invoice, getting data out, a spreadsheet) and no word; "settings page" and "pricing page" share
a word that says nothing. The score is a weighted Jaccard overlap of the two sets of terms:
the weight of what both say over the weight of what either says. It stays explainable
(`explain` lists the shared terms) and cheap: each text is read once and remembered.

A request is compared as its title and, when both sides have one, its problem statement too.
The text passed around for a request (`request_text`) is the title, then the problem on the
lines after it; a title is always one line.

Blocker matching (bot.classify) reads the same stems through `keywords`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from bot.vocabulary import (
    ACTIONS,
    ALIASES,
    BRANDS,
    BROAD,
    COMMON_WORDS,
    CONCEPTS,
    EXCLUSIVE,
    GENERIC_WORDS,
    REAL_WORDS,
    STOPWORDS,
)

# ---- words ---------------------------------------------------------------------------------

_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def _fold(text: str) -> str:
    """Lower case without accents: "Télécharger" and "telecharger" are one word."""
    if text.isascii():
        return text.lower()
    text = unicodedata.normalize("NFKD", text.lower().replace("\u2019", "'"))
    return "".join(c for c in text if not unicodedata.combining(c))


# British spellings, written the American way before stemming.
_BRITISH = (("isation", "ization"), ("ising", "izing"),
            ("ised", "ized"), ("iour", "ior"), ("olour", "olor"),
            ("avour", "avor"), ("ogue", "og"), ("yse", "yze"), ("ysed", "yzed"),
            ("ysing", "yzing"), ("centre", "center"), ("licence", "license"),
            ("ise", "ize"))
# Words the suffix rules would spoil or that the rules can't reach.
_IRREGULAR = {
    "ise": "ise", "wise": "wise", "rise": "rise", "noise": "noise", "otherwise": "otherwise",
    "data": "data", "news": "news", "status": "status", "analytics": "analytic", "daily": "day",
    "children": "child", "people": "person", "emails": "email", "this": "this", "its": "its",
    "has": "has", "was": "was", "does": "does", "is": "is", "us": "us", "bus": "bus",
    "always": "always", "apply": "apply", "sometimes": "sometimes", "across": "across", "less": "less",
}
_SUFFIXES = ("ization", "ational", "ation", "ition", "ement", "ment", "ness", "able", "ible", "ings",
             "ing", "ers", "ed", "er", "ly", "al")
_DOUBLED = re.compile(r"([b-df-hj-np-rtv-z])\1$")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light stemmer: plurals, -ing, -ed, -er, -ation, -ment, -ly forms and British spellings
    to one stem ("exports", "exporting", "exported", "exporter" -> "export"; "customisation",
    "customizing" -> "customiz"). Deliberately crude: both sides of a comparison go through it,
    so a stem need not be a word, only the same for the forms people mean alike."""
    word = _fold(word)
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if len(word) <= 3 or not word.isalpha():
        return word
    # Plurals.
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith(("sses", "xes", "ches", "shes", "zes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for british, american in _BRITISH:
        if word.endswith(british) and len(word) > len(british):
            word = word[: -len(british)] + american
            break
    # At most two derivational suffixes ("ordered" -> "order" -> "ord", as "order" -> "ord").
    for _ in range(2):
        for suffix in _SUFFIXES:
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                word = word[: -len(suffix)]
                if suffix in ("ation", "ition", "ational"):
                    word += "at"  # "integration" meets "integrate" and "integrated"
                elif suffix == "ization":
                    word += "iz"  # "customization" meets "customize"
                break
        else:
            break
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    if word.endswith("y") and len(word) > 3:
        word = word[:-1] + "i"  # "notify", "notified": "notifi"
    if _DOUBLED.search(word) and len(word) > 3:
        word = word[:-1]  # "logging" -> "logg" -> "log", "billing" -> "bil" as "bill"
    return word


def keywords(text: str) -> frozenset[str]:
    """The stems of the words that say something (stopwords and single letters left out)."""
    words = (w for w in _WORD.findall(_fold(text)) if len(w) > 1 and w not in STOPWORDS)
    return frozenset(stem(w) for w in words)


# ---- concepts and weights ------------------------------------------------------------------

# Sharing only what every request says ("page", "data", "users") is no match; words common in
# any team's chat and problem statements count a little; what is done (export, search) says less
# than what it is done to (invoices, roles); a product named says the most.
GENERIC = frozenset(map(stem, GENERIC_WORDS.split()))
COMMON = frozenset(map(stem, COMMON_WORDS.split()))
GENERIC_WEIGHT, COMMON_WEIGHT, WORD_WEIGHT = 0.25, 0.5, 1.0
SHORT_WEIGHT = 0.5  # two letters, or numbers: seldom what a request is about
# Other concepts weigh 1; a broad one (people) as little as a word every request uses.
CONCEPT_WEIGHT = {f"~{c}": 0.6 for c in ACTIONS} | {f"~{c}": GENERIC_WEIGHT for c in BROAD}
BRAND_WEIGHT = 1.5
# Opposites on the two sides (an import and an export; HubSpot and Salesforce) halve the score.
CONFLICT_PENALTY = 0.5


def _key(phrase: str) -> tuple[str, ...]:
    return tuple(stem(w) for w in _WORD.findall(_fold(phrase)))


def _brand(name: str) -> str:
    return "=" + "_".join(_key(ALIASES.get(name, name)))


def _phrase_table() -> tuple[dict[tuple[str, ...], tuple[str, ...]], int]:
    table: dict[tuple[str, ...], tuple[str, ...]] = {}
    for concept, words in CONCEPTS.items():
        for phrase in words:  # a word listed under two concepts means both ("upload")
            key, term = _key(phrase), f"~{concept}"
            if term not in table.get(key, ()):
                table[key] = (*table.get(key, ()), term)
    for kind, names in BRANDS.items():
        for name in names:
            table[_key(name)] = (_brand(name), f"~{kind}")
    return table, max(len(key) for key in table)


_PHRASES, _LONGEST = _phrase_table()
# The words a phrase begins with, and the lengths of their phrases, longest first.
_STARTS: dict[str, tuple[int, ...]] = {}
for _phrase in _PHRASES:
    if len(_phrase) > 1:
        _STARTS[_phrase[0]] = tuple(sorted({*_STARTS.get(_phrase[0], ()), len(_phrase)},
                                           reverse=True))


def _typo_table() -> dict[str, tuple[str, ...]]:
    """Misspellings of the concepts' words, one slip away: a letter left out ("exprt",
    "notfication") or two swapped ("invocie"). A slip that spells a word is left out."""
    words: dict[str, tuple[str, ...]] = {}
    for phrases in CONCEPTS.values():
        for phrase in map(_fold, phrases):
            if " " not in phrase and len(phrase) >= 5:
                words.setdefault(phrase, _PHRASES[_key(phrase)])
    slips: dict[str, set[str]] = {}
    for word in words:
        for i in range(len(word)):
            slips.setdefault(word[:i] + word[i + 1:], set()).add(word)
        for i in range(len(word) - 1):
            swapped = word[:i] + word[i + 1] + word[i] + word[i + 2:]
            if swapped != word:
                slips.setdefault(swapped, set()).add(word)
    return {slip: words[next(iter(meant))] for slip, meant in slips.items()
            if len(meant) == 1 and len(slip) >= 5 and slip not in REAL_WORDS}


_TYPOS = _typo_table()
_EXCLUSIVE = EXCLUSIVE + tuple(frozenset(map(_brand, names)) for names in BRANDS.values())
_GROUPED = frozenset().union(*_EXCLUSIVE)


@lru_cache(maxsize=65536)
def _weight(term: str) -> float:
    if term.startswith("="):
        return BRAND_WEIGHT
    if term.startswith("~"):
        return CONCEPT_WEIGHT.get(term, 1.0)
    if term in GENERIC:
        return GENERIC_WEIGHT
    if term in COMMON:
        return COMMON_WEIGHT
    if len(term) <= 2 or term.isdigit():
        return SHORT_WEIGHT
    return WORD_WEIGHT


@lru_cache(maxsize=65536)
def _read(word: str) -> tuple[str, tuple[str, ...]]:
    """A word's stem, and its terms when it stands alone (none for a stopword)."""
    first = stem(word)
    if len(word) <= 1 or word in STOPWORDS:
        return first, ()
    return first, (_PHRASES.get((first,)) or _TYPOS.get(word)
                   or _TYPOS.get(word[:-1] if word.endswith("s") else "") or (first,))


@lru_cache(maxsize=8192)
def terms(text: str) -> frozenset[str]:
    """What `text` is about: concepts (written "~export"), products ("=hubspot") and the stems
    of other words."""
    read = [_read(w) for w in _WORD.findall(_fold(text))]
    found: set[str] = set()
    i, n = 0, len(read)
    while i < n:
        first, alone = read[i]
        for size in _STARTS.get(first, ()):  # the longest phrase that starts here, if any
            concepts = _PHRASES.get(tuple(r[0] for r in read[i:i + size])) if i + size <= n else None
            if concepts:
                found.update(concepts)
                i += size
                break
        else:
            found.update(alone)
            i += 1
    return frozenset(found)


# ---- comparing -----------------------------------------------------------------------------

def request_text(title: str, problem: str | None = None) -> str:
    """A request as the `similar` question reads it: the title, and the problem below it."""
    title = " ".join(title.split())
    return f"{title}\n{problem.strip()}" if problem and problem.strip() else title


@dataclass(frozen=True)
class _Side:
    """One set of terms, with what comparing it needs worked out once."""

    terms: frozenset[str]
    weight: float  # of all its terms
    exclusive: tuple[tuple[int, frozenset[str]], ...]  # (group, its terms in that group)

    @classmethod
    def of(cls, found: frozenset[str]) -> _Side:
        groups = (tuple((i, found & group) for i, group in enumerate(_EXCLUSIVE)
                        if found & group) if found & _GROUPED else ())
        return cls(found, sum(map(_weight, found)), groups)


@dataclass(frozen=True)
class _Profile:
    title: _Side
    whole: _Side | None  # title and problem, when there is a problem


@lru_cache(maxsize=8192)
def _profile(text: str) -> _Profile:
    title, _, problem = text.partition("\n")
    title_terms = terms(title)
    whole = _Side.of(title_terms | terms(problem)) if problem.strip() else None
    return _Profile(_Side.of(title_terms), whole)


def _overlap(a: _Side, b: _Side) -> float:
    if not a.terms or not b.terms:
        return 0.0
    shared = sum(map(_weight, a.terms & b.terms))
    score = shared / (a.weight + b.weight - shared)
    if a.exclusive and b.exclusive:
        theirs = dict(b.exclusive)
        for group, mine in a.exclusive:
            if group in theirs and not mine & theirs[group]:
                score *= CONFLICT_PENALTY
    return score


# At or above this score two requests are pointed at as alike (tuned on the labelled pairs).
THRESHOLD = 0.45


def similarity(a: str, b: str) -> float:
    """0 (nothing in common) to 1 (the same terms). Two titles are compared by their terms; when
    both texts carry a problem statement, the whole texts are compared too, and the better of
    the two scores counts (titles often say alike in other words what problems say outright)."""
    pa, pb = _profile(a), _profile(b)
    score = _overlap(pa.title, pb.title)
    if pa.whole and pb.whole:
        score = max(score, _overlap(pa.whole, pb.whole))
    return score


@dataclass(frozen=True)
class Explanation:
    score: float
    shared: tuple[str, ...]  # the terms both say, heaviest first
    only_a: tuple[str, ...]
    only_b: tuple[str, ...]


def explain(a: str, b: str) -> Explanation:
    """Why two texts score what they do: the terms they share and the ones they don't."""
    ta, tb = (terms(text.replace("\n", " ")) for text in (a, b))

    def ordered(items: Iterable[str]) -> tuple[str, ...]:
        return tuple(sorted(items, key=lambda t: (-_weight(t), t)))

    return Explanation(similarity(a, b), ordered(ta & tb), ordered(ta - tb), ordered(tb - ta))
