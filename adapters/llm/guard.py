"""Checks between the model and the bot: where the model may be used at all, and whether what
it answered is grounded in what it was shown. Everything here is plain functions on plain data,
so the rules are tested without a model."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from bot.digest import BlockerLine, Digest, RequestLine
from bot.model import Team, Where
from bot.text import mention, one_line

# ---- where the model may be used -------------------------------------------------------------


@dataclass(frozen=True)
class Places:
    """LLM_DISABLED_FOR: places whose text never goes to the model.

    Entries are compared as whole strings, never parsed, because channel ids differ per
    platform (a Teams conversation id contains colons): `*` (everywhere), `PLATFORM:TENANT`
    (a whole workspace or tenant), `PLATFORM:TENANT:CHANNEL`, or a bare `CHANNEL` id."""

    entries: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, text: str | Iterable[str] | None) -> Places:
        items = text.split(",") if isinstance(text, str) else (text or ())
        return cls(frozenset(e.strip() for e in items if e and e.strip()))

    def allows(self, where: Where | None) -> bool:
        if not self.entries:
            return True
        if where is None:
            # Some places are private and we don't know where this text is from: keep it home.
            return False
        team = f"{where.platform}:{where.tenant}"
        return not ({"*", team, f"{team}:{where.channel}", where.channel} & self.entries)

    def allows_team(self, team: Team) -> bool:
        return not ({"*", str(team)} & self.entries)

    def allows_words_from(self, team: Team) -> bool:
        """May text gathered from across a team (a digest) go to the model? Not when any
        place is private: a digest mixes every channel's blockers and the lines don't say
        which channel each came from."""
        return self.allows_team(team) and not self.entries


# ---- what came back --------------------------------------------------------------------------

_SPACE = re.compile(r"\s+")


def _squash(text: str) -> str:
    return _SPACE.sub(" ", text.replace("\u2019", "'").replace("\u2018", "'")).strip().casefold()


def grounded(value: str | None, source: str, limit: int = 200) -> str | None:
    """`value` if it is copied from `source` (ignoring case and spacing), else None.

    Extracted fields are shown to the whole channel ("Who can unblock: ..."); a phrase the
    sender did not write, such as a mention of someone else, must not get there via the model."""
    if not value:
        return None
    value = _SPACE.sub(" ", value).strip(" '\"")
    if not value or len(value) > limit or _squash(value) not in _squash(source):
        return None
    return value


# What a model's words may never carry, whatever the prompt said: a link of any scheme or
# markup, an e-mail address, a bare domain (a look-alike login page), or a request for a secret
# or for personal data. Checked on what the bot would post, so a fooled model changes nothing.
_LINKISH = re.compile(
    r"\b[a-z][a-z0-9+.-]*:/|\b(?:mailto|tel|sms|javascript|data|slack):|www\.|[<>\[\]]|"
    r"\S@\S|\b(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}\b", re.IGNORECASE)
_SECRETS = re.compile(
    r"pass ?words?|pass ?phrase|passcode|\bpin\b|\b2fa\b|\botp\b|one[- ]time code|"
    r"verification code|\btokens?\b|api[- ]?keys?|secret|credential|log ?in details|"
    r"social security|\bssn\b|credit card|card number|\bcvv\b|bank account|\biban\b|"
    r"date of birth|birth ?date|home address|phone number|"
    r"contraseña|clave|senha|mot de passe|identifiant|passwort|kennwort|zugangsdaten|"
    r"wachtwoord|has[łl]o|parola d'ordine|fecha de nacimiento|data de nascimento|"
    r"date de naissance|geburtsdatum", re.IGNORECASE)


def _unsafe(text: str) -> bool:
    return bool(_LINKISH.search(_MENTION.sub(" ", text)) or _SECRETS.search(text))


_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+")
_QUESTION_END = re.compile(r"[?？؟]\s*$")
_NOT_IN_A_QUESTION = re.compile(r"https?:|www\.|[<>`@]|\n")
# A question must not announce a decision only a producer makes ("Request accepted! ...").
_DECISION = re.compile(
    r"accept|approv|declin|reject|priorit|acept|aprob|rechaz|aceit|aprovad|recusad|approuv|"
    r"refus|akzeptier|genehmig|abgelehnt|accettat|approvat|rifiutat|geaccepteerd|goedgekeurd|"
    r"afgewezen|zaakcept|zatwierdz|odrzuc|manzoor|sweekar",
    re.IGNORECASE)


def clean_question(text: str | None, limit: int = 300, max_sentences: int = 3) -> str | None:
    """A question the model wrote, if it is a short plain question; otherwise None and the
    bot asks in its own words. No links, mentions, markup, commands or decisions get through."""
    if not text:
        return None
    text = _SPACE.sub(" ", text).strip()
    if not text or len(text) > limit or _NOT_IN_A_QUESTION.search(text) or _unsafe(text):
        return None
    if not _QUESTION_END.search(text) or _DECISION.search(text):
        return None
    if len([s for s in _SENTENCE_BREAK.split(text) if s.strip()]) > max_sentences:
        return None
    return text


_MENTION = re.compile(r"<@([^>|\s]+)(?:\|[^>]*)?>")
_REFERENCE = re.compile(r"#(\d+)")
_NUMBER = re.compile(r"\d+")
_NOT_IN_A_HEADLINE = re.compile(r"https?:|www\.|<!|@(?:here|channel|everyone)\b|`|\n", re.IGNORECASE)


def check_headline(headline: str | None, facts: dict[str, object], limit: int = 500,
                   max_sentences: int = 3) -> str | None:
    """The model's digest headline if it is short and grounded in `facts`, else None.

    Grounded means: every mention is someone in the facts, every #reference is a blocker or
    request in the facts, and every other number appears somewhere in the facts."""
    if not headline:
        return None
    text = _SPACE.sub(" ", headline).strip()
    if not text or len(text) > limit or _NOT_IN_A_HEADLINE.search(text) or _unsafe(text):
        return None
    if len([s for s in _SENTENCE_BREAK.split(text) if s.strip()]) > max_sentences:
        return None
    known = _known(facts)
    if not set(_MENTION.findall(text)) <= known["people"]:
        return None
    rest = _MENTION.sub(" ", text)
    if not {int(n) for n in _REFERENCE.findall(rest)} <= known["refs"]:
        return None
    if not {int(n) for n in _NUMBER.findall(rest)} <= known["numbers"]:
        return None
    return text


# Fields holding words people typed: a number or a mention in them is not a fact (a blocker
# text saying "all 7 resolved" must not make "7" a number the headline may use).
_TYPED = frozenset({"text", "waiting_on", "title", "problem"})


def _known(facts: dict[str, object]) -> dict[str, set]:  # type: ignore[type-arg]
    """The people, #references and numbers the bot itself put in the facts."""
    known: dict[str, set] = {"people": set(), "refs": set(), "numbers": set()}  # type: ignore[type-arg]

    def walk(value: object) -> None:
        if isinstance(value, dict):
            if isinstance(value.get("number"), int):
                known["refs"].add(value["number"])
            for key, item in value.items():
                if key not in _TYPED:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, int | str):
            text = str(value)
            known["people"] |= set(_MENTION.findall(text))
            known["numbers"] |= {int(n) for n in _NUMBER.findall(_MENTION.sub(" ", text))}

    walk(facts)
    return known


# ---- what the model is shown of a digest ---------------------------------------------------


def digest_facts(d: Digest, include_text: bool = True, limit: int = 10) -> dict[str, object]:
    """The digest as compact data for the summary prompt: counts and ages always, the words
    people typed (blocker texts, titles, problems) only when `include_text`. At most `limit`
    items per list keeps the prompt, and its cost, bounded whatever the team's size."""

    def blocker(b: BlockerLine) -> dict[str, object]:
        item: dict[str, object] = {"number": b.number, "age": b.age, "owner": mention(b.owner)}
        if include_text:
            item["text"] = one_line(b.text, 140)
            if b.unblocker:
                item["waiting_on"] = one_line(b.unblocker, 60)
        return item

    def request(r: RequestLine) -> dict[str, object]:
        item: dict[str, object] = {"number": r.number, "age": r.age, "state": r.state,
                                   "requester": mention(r.requester)}
        if r.evidence.people > 1:  # so a headline may say how many have the problem
            item["people"] = r.evidence.people
            if r.evidence.teams:  # the bot's own labels, never words someone typed
                item["teams"] = list(r.evidence.teams)
        if include_text:
            item["title"] = one_line(r.title, 100)
            if r.problem:
                item["problem"] = one_line(r.problem, 140)
        return item

    def listing(items: tuple, render) -> dict[str, object]:  # type: ignore[type-arg, no-untyped-def]
        return {"count": len(items), "items": [render(i) for i in items[:limit]]}

    return {
        "period": d.period,
        "open_blockers_oldest_first": listing(d.open_blockers, blocker),
        "blockers_resolved_this_period": listing(d.resolved_blockers, blocker),
        "requests_waiting_for_producer_decision": listing(d.waiting_for_decision, request),
        "delivered_waiting_for_requester_to_confirm": listing(d.awaiting_confirmation, request),
        "deliveries_accepted_this_period": listing(d.solved, request),
        "open_requests_by_state": {state: len(lines) for state, lines in d.requests_by_state},
        "new_requests_this_period": d.new_requests,
        "new_blockers_this_period": d.new_blockers,
        "standups": {"posted": len(d.standups.answered),
                     "expected": len(d.standups.answered) + len(d.standups.missing),
                     "not_yet": [mention(u) for u in d.standups.missing[:limit]]},
    }
