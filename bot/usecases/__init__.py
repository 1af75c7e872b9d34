"""The use cases, one module per behaviour. Each module exports its rows of the command table;
`COMMANDS` assembles them in the order `help` shows them.

    blockers.py   blocker, blockers, resolve, dismiss; blockers noticed in plain chat
    discovery.py  request (filing) and its discovery questions
    confirm.py    the Yes/No to "is that your answer?" (a message that looked off-topic)
    edits.py      edit: correcting a discovery answer before the decision
    requests.py   requests, withdraw, solved, notyet; accept, decline, start, deliver; what a
                  tracker's webhook says happened to a request's issue
    tracking.py   track: a request's issue in the team's tracker (filed, reopened, recorded)
    demos.py      demo, demo done: the agenda, the record and everyone's verdict
    voices.py     metoo (others have the problem too), merge; who hears when a request moves
    standups.py   standup answers (the scheduler sends the prompts)
    overview.py   digest, home, help; digests sent on a schedule or from the command line
    insights.py   flow figures (bot.flow) for the weekly digest, `report` and `export`
    team.py       roles, role, away, schedule, timezone, holidays
    chatter.py    words said to the bot that are no command (typos, greetings, plain requests)
    corrections.py  edited and deleted messages
    people.py     what platforms tell us about people (not commands)
    admin.py      what the command line changes (schedules)
"""

from __future__ import annotations

from bot.turn import Command
from bot.usecases import (
    blockers,
    confirm,
    demos,
    discovery,
    edits,
    overview,
    requests,
    standups,
    team,
    tracking,
    voices,
)

# The groups of `help`, in order; within a group, commands keep their modules' order.
GROUPS = ("Blockers", "Requests", "Standups and digests", "For producers", "Help")

COMMANDS: tuple[Command, ...] = tuple(sorted(
    (*blockers.COMMANDS, *discovery.COMMANDS, *edits.COMMANDS, *confirm.COMMANDS,
     *requests.COMMANDS, *demos.COMMANDS, *tracking.COMMANDS, *voices.COMMANDS, *standups.COMMANDS,
     *overview.COMMANDS, *team.COMMANDS),
    key=lambda command: GROUPS.index(command.group)))
