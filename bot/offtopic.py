"""Is a message in a request's discovery thread an answer at all? By rules, and deliberately
timid: a real answer bounced costs the requester a click and some trust, an off-topic message
stored as an answer costs one `edit`. So a message is only called off-topic on a clear sign:

- chatter: nothing but a greeting, thanks, an acknowledgement or a laugh;
- a question to the team: one sentence asking someone (or about a release, a meeting, a build);
- a change of subject: "unrelated", "off topic", "quick question", ...;
- a blocker report or a status update in an engineer's words (blocked on creds, merged the PR).

Answers are short ("finance"), may end in "?" ("the support team?"), may start with "well," or
"hi!": none of that is a sign. `tests/data/discovery_offtopic.jsonl` holds the labelled set the
rules are held to: no real answer bounced.
"""

from __future__ import annotations

import re


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


# Greetings, thanks, acknowledgements, laughs and emoji: said to people, never an answer.
_CHATTER_WORD = (
    r"(?:hi|hello|hey|hiya|heya|yo|sup|howdy|morning|good (?:morning|afternoon|evening)|"
    r"gm|thanks|thank you|thank u|thx|ty|tyvm|cheers|ta|ok|okay|okey|k|kk|cool|nice|great|"
    r"awesome|sweet|perfect|got it|gotcha|noted|lol|lmao|haha\w*|hehe|sure|np|no worries|"
    r"no problem|brb|bbl|one sec|1 sec|hold on|hmm+|oops|sorry|my bad|wrong thread|"
    r"ignore (?:that|this|me)|:\w+:|[\U0001F300-\U0001FAFF\u2600-\u27BF]+)"
)
# Whom it was said to, after a greeting: "thanks all". Alone, "everyone" may answer "who?".
_ADDRESSEE = r"(?:all|team|folks|everyone|guys|y'?all|there|bot|again|so much|a lot|for that)"
# One word of chatter (or whom it was said to) and what separates it from the next, matched
# one at a time: a single pattern repeating overlapping words ("k", "kk", "haha...") over a
# whole message backtracks exponentially on a long run of them.
_CHATTER_STEP = _rx(rf"(?:{_CHATTER_WORD}|{_ADDRESSEE})(?=[\s!.,?]|$)[\s!.,?]*")
_CHATTER_FIRST = _rx(rf"{_CHATTER_WORD}(?=[\s!.,?]|$)")
# Chatter is short; anything longer has something to say.
_CHATTER_MAX = 120


def _chatter_only(text: str) -> bool:
    """Nothing but greetings, thanks, laughs or acknowledgements ("thanks all!", "ok cool")."""
    if len(text) > _CHATTER_MAX or not _CHATTER_FIRST.match(text):
        return False
    at = 0
    while at < len(text):
        step = _CHATTER_STEP.match(text, at)
        if step is None or step.end() == at:
            return False
        at = step.end()
    return True
# Said before the real content: "hey, ...", "hi all! ...".
_GREETING = _rx(r"^(?:(?:hi|hello|hey|hiya|yo|morning|good morning|ok|okay|so|oh|ah|well|"
                r"all|team|folks|everyone|guys|y'?all|there)[\s!.,:]+)+")
# A change of subject, announced.
_ELSEWHERE = _rx(r"^(?:(?:un)?related(?: note)?|off[- ]topic|different topic|other topic|"
                 r"side (?:question|note)|quick (?:question|q)|random (?:question|q)|"
                 r"q for (?:the )?(?:team|everyone|you all)|on another note|changing the subject|"
                 r"not about this(?: request)?|separate thing|psa|fyi)\b")
_BY_THE_WAY = _rx(r"^(?:btw|by the way|also|oh and|and also)\b[\s,:]*")
# One sentence asking someone something: "is anyone ...?", "can you ...?", "when is ...?".
_ASKING = _rx(
    r"^(?:(?:is|are|was|were|has|have|does|do|did|can|could|would|will|should) "
    r"(?:any ?one|any ?body|some ?one|some ?body|you|u|y'?all|you guys|everyone|people)\b|"
    r"(?:when|where|what time)(?:'s| is| are| was| will| does| do| did| can| should)\b|"
    r"who(?:'s| is| are)(?: \w+)? (?:on|around|free|available|joining|coming|going|in|out|"
    r"off|handling|running|doing|working on|responsible for|owning)\b|"
    r"how(?:'s| is| are| was)(?: the| it| everyone| everybody| things)\b|"
    r"what(?:'s| is)(?: the)? (?:status|eta|plan|update|news|latest|deal)\b|"
    r"(?:any|anyone|anybody|someone) (?:news|update|idea|eta|chance|word|luck)\b|"
    r"(?:any ?one|any ?body|some ?one) (?:around|here|free|available|else|seen|know)\b|"
    r"did (?:the|we|it)\b|(?:is|are) (?:the|we|there) \w+ (?:down|up|out|live|working|broken|"
    r"happening|still|today|tomorrow|done|ready|released|deployed|merged|on)\b|"
    r"do (?:we|i) (?:have|need) (?:a |the )?(?:standup|stand-up|meeting|retro|sync|demo|planning)\b)"
)
# What the team works on rather than the request's problem: releases, meetings, builds.
_TEAM_TOPIC = _rx(
    r"\b(?:next release|release (?:date|notes|train|branch)|code freeze|ship date|"
    r"stand-?up|retro|sprint (?:planning|review|demo)|all-hands|all hands|1:1|one-on-one|"
    r"lunch|coffee|the meeting|today'?s meeting|the demo|the build|ci|pipeline|staging|"
    r"the deploy|deploy(?:ment)? (?:window|today|tonight)|pto|the offsite|"
    r"pull request|\bpr\b|merge (?:window|request)|hotfix|the wifi|vpn)\b"
)
# An engineer's blocker: blocked or stuck, on something of the team's own tools.
_BLOCKED = _rx(r"^(?:(?:i'?m|i am|we'?re|we are|still|currently|now|also|and|totally|completely|"
               r"kinda|really|so|again)\s+)*(?:blocked|stuck)\b|"
               r"\b(?:i'?m|i am|we'?re|we are)\s+(?:\w+\s+)?(?:blocked|stuck)\b")
_DEV_THING = _rx(
    r"\b(?:creds|credentials|api keys?|access to (?:the )?(?:repo|staging|prod|bucket|db|"
    r"database|cluster|vpn|console)|staging|prod|production|vpn|ci|pipeline|the build|"
    r"migrations?|the db|database|cert|certificate|code review|review on|pr|pull request|"
    r"merge|deploy\w*|docker|k8s|kubernetes|terraform|ops|devops|infra|sre|security review|"
    r"the ticket|jira|env vars?|secrets?|branch|repo)\b"
)
# A status update in an engineer's words: "merged the retry PR", "deployed 2.4 to staging".
_STATUS = _rx(
    r"^(?:(?:just|finally|ok|so|fyi|update|status|i|we|i'?ve|we'?ve|i have|we have|also)[\s,:]+)*"
    r"(?:merged|deployed|shipped|pushed|released|rolled (?:out|back)|reverted|fixed|finished|"
    r"wrapped up|landed|rebased|redeployed|cut the release|tagged)"
    # ... something in particular: "merged the PR", "deployed 2.4"; "fixed bugs reach ..." is
    # an adjective, not news.
    r"\s+(?:the|a|an|my|our|it|this|that|v?\d|#|to|up|out|back|in|from|on)\b"
)
# What happens again and again, or by hand, is a problem being described ("we're stuck
# waiting on ops for an environment every time", "ops fixes the data by hand each morning"),
# never one engineer's news of today.
_RECURRING = _rx(r"\b(?:every|always|each|whenever|usually|often|regularly|routinely|typically|"
                 r"constantly|again and again|per (?:week|month|day)|weeks?|months?|days|hours|"
                 r"times|by hand|manually)\b")
_SENTENCE_END = re.compile(r"[.!?]+(?=\s+\S)")


def _normalise(text: str) -> str:
    return " ".join(text.replace("\u2019", "'").replace("\u2018", "'").split())


def _one_question(text: str) -> bool:
    """A single sentence that ends in a question mark."""
    return text.rstrip().endswith("?") and not _SENTENCE_END.search(text.rstrip(" ?!"))


def off_topic(text: str) -> str | None:
    """Why `text`, said while a discovery question waits, is not an answer to it ("chatter",
    "question", "elsewhere", "blocker" or "update"); None when it may well be one."""
    text = _normalise(text)
    if not text:
        return None
    if _chatter_only(text):
        return "chatter"
    rest = _GREETING.sub("", text)
    if _ELSEWHERE.match(rest):
        return "elsewhere"
    aside = _BY_THE_WAY.match(rest)
    if aside:
        rest = rest[aside.end():]
    asked = _one_question(rest)
    if asked and (_ASKING.match(rest) or _TEAM_TOPIC.search(rest)):
        return "question"
    if aside and (asked or _TEAM_TOPIC.search(rest)):
        return "elsewhere"  # "btw when is the next release", with or without its "?"
    if _RECURRING.search(rest) or not _DEV_THING.search(rest):
        return None
    if _BLOCKED.search(rest):
        return "blocker"
    if _STATUS.match(rest):
        return "update"
    return None
