"""How the bot shows a blocker or a request, in the neutral markup every adapter renders: one
home for each line, section and set of buttons, whether it appears in a reply, a list, the
Home view, a digest or a scheduled message."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from bot import classify as rules
from bot.model import DISCOVERY_QUESTIONS, Action, Blocker, Member, Request, Section, Voice
from bot.text import age, mention, one_line

_SENTENCES = re.compile(r"(?<=[.!?;])\s+|\n+")


def gist(text: str, limit: int = 100) -> str:
    """A long message as the sentence that says what blocks (else its first sentence), so a
    list shows the blocker rather than the first 100 characters of someone's morning."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    sentences = [s for s in (x.strip() for x in _SENTENCES.split(text)) if s] or [flat]
    scored = [(rules.classify(s), s) for s in sentences]
    blocking = [(c.confidence, -i, s) for i, (c, s) in enumerate(scored) if c.label == "blocker"]
    best = max(blocking)[2] if blocking else sentences[0]
    return one_line(best, limit)


def blocker_line(number: int, text: str, *, reporter: str | None = None, since: str | None = None,
                 unblocker: str | None = None, limit: int = 100) -> str:
    """`• #4 staging cert expired (@erin, 2d, waiting on ops)`: whichever details are given."""
    details = [d for d in (mention(reporter) if reporter else None, since,
                           f"waiting on {unblocker}" if unblocker else None) if d]
    return f"• #{number} {gist(text, limit)}" + (f" ({', '.join(details)})" if details else "")


def blocker_item(b: Blocker, now: datetime, limit: int = 100) -> str:
    """A blocker in a list: who reported it, how old it is, who can unblock it."""
    return blocker_line(b.number, b.text, reporter=b.reporter, since=age(b.opened_at, now),
                        unblocker=b.unblocker, limit=limit)


def request_line(number: int, title: str, *details: str, problem: str | None = None,
                 problem_limit: int = 140, unstated: str | None = None) -> str:
    """`• #3 *CSV export* (accepted, @sam)`, with the problem on a second line when given (or
    `unstated` in its place when there is none)."""
    line = f"• #{number} *{one_line(title, 80)}*" + (f" ({', '.join(details)})" if details else "")
    if problem:
        line += f"\n    Problem: {one_line(problem, problem_limit)}"
    elif unstated is not None:
        line += f"\n    Problem: {unstated}"
    return line


def blocker_section(b: Blocker) -> Section:
    lines = [f"*Blocker #{b.number}* for {mention(b.reporter)}", one_line(b.text, 500)]
    if b.unblocker:
        lines.append(f"Who can unblock: {b.unblocker}")
    return Section("\n".join(lines))


def blocker_actions(b: Blocker) -> tuple[Action, ...]:
    return (
        Action("Resolve", f"resolve {b.number}", style="primary"),
        Action("Not a blocker", f"dismiss {b.number}"),
    )


# The team an outsider (from another organisation, a Slack Connect channel) counts in: their
# organisation is a team of its own, as far as a producer weighing a problem is concerned.
OUTSIDE_TEAM = "another organisation"


def team_of(member: Member | None) -> str | None:
    """The person's own team, as far as the bot knows it (None: unknown)."""
    return OUTSIDE_TEAM if member is not None and member.outsider else None


@dataclass(frozen=True)
class Evidence:
    """How many people have a request's problem (its requester and every voice) and which of
    their teams are known, with each voice's own words."""

    people: int = 1
    teams: tuple[str, ...] = ()
    words: tuple[tuple[str, str], ...] = ()  # (user, how it affects them)

    @property
    def summary(self) -> str:
        """`4 people, 2 teams: Finance, Support`; teams nobody told us are not guessed."""
        line = plural(self.people, "person", "people")
        if self.teams:
            line += f", {plural(len(self.teams), 'team')}: {', '.join(self.teams)}"
        return line


def evidence_of(requests: Iterable[Request], voices: Mapping[int, list[Voice]],
                members: Mapping[str, Member]) -> dict[int, Evidence]:
    """Each request's evidence, from its voices and what is known of the people."""
    found = {}
    for r in requests:
        heard = voices.get(r.number, [])
        teams = [team_of(members.get(r.requester)), *(v.user_team for v in heard)]
        found[r.number] = Evidence(
            people=1 + len(heard), teams=tuple(dict.fromkeys(t for t in teams if t)),
            words=tuple((v.user, v.problem) for v in heard if v.problem))
    return found


def voice_action(number: int, label: str = "Add my voice") -> Action:
    return Action(label, f"metoo {number}")


MAX_WORDS = 5  # voices quoted on a request card; the count covers the rest


def request_sections(r: Request, evidence: Evidence | None = None) -> tuple[Section, ...]:
    """A request in full: its title, state, every discovery answer, who else has the problem
    and the decision's reason."""
    lines = [f"*Request #{r.number}: {one_line(r.title, 150)}* from {mention(r.requester)}",
             f"State: {r.status}"]
    if evidence is not None and evidence.people > 1:
        lines.append(f"*Who has it:* {evidence.summary}")
        lines += [f"    {mention(user)}: {one_line(words, 200)}"
                  for user, words in evidence.words[:MAX_WORDS]]
    for question in DISCOVERY_QUESTIONS:
        if question.field in r.answers:
            lines.append(f"*{question.text}* {one_line(r.answers[question.field], 400)}")
    if "proposed_solution" in r.answers:
        lines.append(f"*Proposed solution:* {one_line(r.answers['proposed_solution'], 300)}")
    if "first_answer" in r.answers:
        lines.append(f"*First answer:* {one_line(r.answers['first_answer'], 300)}")
    if r.problem_unclear:
        lines.append("*Problem unclear:* asked twice, the answer names no pain, cost or person "
                     "yet; worth a word with the requester before deciding.")
    if r.decision_reason:
        lines.append(f"*Reason:* {one_line(r.decision_reason, 300)}")
    if issue := issue_line(r):
        lines.append(f"*Issue:* {issue}")
    return (Section("\n".join(lines)),)


def review_actions(r: Request) -> tuple[Action, ...]:
    return (
        Action("Accept", f"accept {r.number}", style="primary"),
        Action("Decline", f"decline {r.number}", style="danger", needs_reason=True),
        voice_action(r.number),  # a producer may have the problem too
    )


def edit_action(r: Request) -> Action:
    """The Edit button of a request's discovery summary: a form with its answers prefilled."""
    return Action("Edit answers", f"edit {r.number}", form=tuple(
        (q.field, q.text, r.answers.get(q.field, "")) for q in DISCOVERY_QUESTIONS))


def delivery_actions(r: Request, voice: bool = False) -> tuple[Action, ...]:
    """Did the delivery solve it? For the requester, or (`voice`) someone who has the problem
    too, whose answer is noted without moving the request."""
    return (
        Action("It solves mine too" if voice else "It solved my problem", f"solved {r.number}",
               style="primary"),
        Action("Not yet for me" if voice else "Not yet", f"notyet {r.number}",
               needs_reason=True),
    )


# ---- a request's issue in the team's tracker (bot.usecases.tracking) -------------------------

KINDS = {"github": "GitHub", "jira": "Jira", "linear": "Linear"}


def kind_of(project: str) -> str:
    return project.split(":", 1)[0]


def named(project: str) -> str:
    """`GitHub (acme/app)`."""
    kind, _, target = project.partition(":")
    return f"{KINDS.get(kind, kind)} ({target})"


def issue_line(request: Request) -> str | None:
    """`acme/app#12 (https://...)` once filed, `being filed in GitHub (acme/app)` before."""
    if request.issue_label:
        return request.issue_label + (f" {request.issue_link}" if request.issue_link else "")
    if request.issue_project:
        return f"being filed in {named(request.issue_project)}"
    return None


def plural(n: int, word: str, many: str | None = None) -> str:
    """`1 blocker`, `2 blockers`."""
    return f"{n} {word if n == 1 else many or word + 's'}"


def private_note(hidden: int, what: str) -> str:
    """` (2 more from private conversations: producers see them.)`, or nothing."""
    if not hidden:
        return ""
    return f" ({plural(hidden, 'more ' + what)} from private conversations: producers see them.)"
