"""What an answer to "what problem does this solve?" says, by rules: a problem (a pain, a cost, a
person, a situation), a solution in disguise, or a dodge. The rules' half of the discovery
judgement (bot.assistant's review_discovery); a language model may refine it."""

from __future__ import annotations

import re

from bot import learned


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def _normalise(text: str) -> str:
    return text.replace("\u2019", "'").replace("\u2018", "'").strip()


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


# A fix named by a noun phrase rather than a verb: a UI element, an integration, a channel, a
# report or file format, a bulk operation, more fields, a technology.
_SOLUTION_THING = _rx(
    r"^(?:(?:a|an|the|some|one|two|three|more|extra|new|better|proper|simple|quick|nice|"
    r"little|small|big|single|quarterly|monthly|weekly|daily|real-?time|automatic|auto|"
    r"custom|separate|dedicated|shared|public|private|native|mobile|\w+'s)\s+){0,3}"
    r"(?:[\w-]+\s+){0,2}?"
    r"(?:toggles?|switch(?:es)?|buttons?|checkbox(?:es)?|dropdowns?|drop-downs?|fields?|columns?|"
    r"filters?|tabs?|pages?|screens?|modals?|pop-?ups?|banners?|widgets?|dashboards?|reports?|"
    r"exports?|imports?|integrations?|syncs?|connectors?|plugins?|plug-ins?|extensions?|apis?|"
    r"endpoints?|webhooks?|notifications?|emails?|e-mails?|sms|texts?|push(?: notifications?)?|"
    r"alerts?|reminders?|digests?|newsletters?|excel|csv|pdf|spreadsheets?|xlsx|json feed|"
    r"sheets?|bulk \w+|multi-?select|batch \w+|mass \w+|settings?|options?|preferences?|"
    r"dark mode|light mode|themes?|sso|saml|oauth|2fa|mfa|graphql|rest api|chatbot|app|"
    r"shortcuts?|hotkeys?|templates?|wizards?|search bar|search box|sidebar|menu|icons?|"
    r"charts?|graphs?|kanban|calendar view|map view)\b"
)
_SOLUTION_ANYWHERE = _rx(
    r"\b(?:[A-Z][\w.]+|\w+)\s+(?:sync|integration|connector|plugin|webhook)\b|"
    r"\b(?:an? )?(?:sms|e-?mail|text message|push notification|slack message|notification) "
    r"(?:when|whenever|if|once|every)\b|"
    r"\b(?:more|extra|additional|two|three|new) (?:fields|columns|options|filters)\b"
)


def looks_like_solution(answer: str) -> bool:
    """True when an answer to "what problem does this solve?" describes a fix, not a pain: a
    verb-led fix ("add an export button") or one named as a thing ("a toggle to hide archived
    projects", "HubSpot sync", "an SMS when the order ships"), unless it also states the pain
    ("a CSV export because finance retypes rows every week")."""
    answer = _normalise(answer)
    if _PROBLEM_SIGNAL.search(answer):
        return False
    return bool(_SOLUTION_START.search(answer) or _SOLUTION_THING.search(answer)
                or _SOLUTION_ANYWHERE.search(answer))


# An answer that says why someone wants it rather than what hurts: someone's wish, bare
# importance, not knowing, the competition, a pointer elsewhere.
_DODGE = _rx(
    r"\b(?:my|our|the|a|an|one|some|big|key|important|major) (?:boss|manager|ceo|cto|cfo|vp|"
    r"director|lead|head|exec|executive|management|leadership|client|customer|stakeholder|"
    r"partner|investor|board|sales(?: team)?|marketing)s? (?:asked|wants?|wanted|requested|"
    r"requires?|insists?|needs? it|said|told)\b|"
    r"\b(?:asked|requested|demanded) (?:by|for by)\b|\bbecause (?:they|he|she) (?:asked|said)\b|"
    r"\bmust[- ]have\b|\bnice[- ]to[- ]have\b|\b(?:we|i|they) (?:just )?(?:really )?need (?:it|this|that)\b|"
    r"^(?:it'?s |this is |very |super |really )*(?:important|critical|essential|urgent|"
    r"necessary|required|a requirement|high priority|top priority|a priority|a blocker for sales)"
    r"\b|\bhigh[- ]priority\b|"
    r"\bno (?:clue|idea)\b|\bnot sure\b|\b(?:i )?don'?t know\b|\bdunno\b|\bidk\b|"
    r"\b(?:competitors?|competition|everyone else|others|rivals?) (?:has|have|had|offers?|do|does)\b|"
    r"\b\w+ (?:has|have) (?:it|this|one)\b|"
    r"\b(?:read|see|check) the (?:spec|ticket|doc|docs|document|jira|brief|prd|link|thread|"
    r"attachment)\b|\bit'?s (?:obvious|self[- ]explanatory|clear)\b|^(?:just )?because\b|"
    r"\bjefe\b|\bcliente (?:lo )?(?:quiere|pidi[oó])\b|\bno s[eé]\b|\bchef\b.*\bveut\b|"
    r"\bsais pas\b|\bchef (?:will|möchte)\b|\bkeine ahnung\b|\bnon lo so\b|\bgeen idee\b|"
    r"\bnie wiem\b|\bpata nahi\b|\bn[aã]o sei\b|\bchefe (?:quer|pediu)\b"
)


def looks_like_dodge(answer: str) -> bool:
    """True when an answer to "what problem does this solve?" states no pain, cost, person or
    situation: "my manager asked for it", "it's a must-have", "no clue", "the competition has
    it", "read the spec"."""
    answer = _normalise(answer)
    if _PROBLEM_SIGNAL.search(answer):
        return False
    return bool(_DODGE.search(answer))


def rule_features(answer: str) -> list[str]:
    """What the rules see in an answer, as features for the learned model (bot.learned)."""
    answer = _normalise(answer)
    features = []
    if _PROBLEM_SIGNAL.search(answer):
        features.append("r:pain")
    if _SOLUTION_START.search(answer):
        features.append("r:fix-verb")
    if _SOLUTION_THING.search(answer):
        features.append("r:fix-thing")
    if _SOLUTION_ANYWHERE.search(answer):
        features.append("r:fix-anywhere")
    if _DODGE.search(answer):
        features.append("r:dodge")
    if looks_like_solution(answer):
        features.append("r:solution")
    if looks_like_dodge(answer):
        features.append("r:dodge-only")
    return features


def features(answer: str) -> list[str]:
    """Everything the learned model reads of an answer: its words and the rules' view. Not its
    length: the answers it learned from state problems at length, and a short, plain problem
    ("finance retypes invoice rows by hand") must not read as a dodge for being short."""
    return learned.word_features(_normalise(answer), length=False) + rule_features(answer)


# How sure the learned model must be that an answer states no problem before the bot asks again.
# Asking again about a real pain is the worst mistake discovery can make, so the bar is high.
PUSHBACK = 0.85


def judge(answer: str) -> str:
    """"problem", "solution" (in disguise) or "dodge": the rules' reading refined by the learned
    model (bot.learned) when it is shipped."""
    model = learned.shipped("discovery")
    if model is None:
        return "solution" if looks_like_solution(answer) else "dodge" if looks_like_dodge(answer) \
            else "problem"
    return decide(model.probabilities(features(answer)))


def decide(probability: dict[str, float]) -> str:
    """The judgement from the model's probabilities: a problem unless it is quite sure not."""
    if probability["solution"] + probability["dodge"] < PUSHBACK:
        return "problem"
    return "solution" if probability["solution"] >= probability["dodge"] else "dodge"
