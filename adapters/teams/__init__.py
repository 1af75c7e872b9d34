"""Microsoft Teams over botbuilder (4.17.1). Every botbuilder import stays in this package, so the
archived SDK can be swapped for its successor without touching the core.

    options.py    extra settings (tenant allow-list) and the start-up checks
    translate.py  activities (Bot Framework JSON) to InboundMessages: pure functions
    cards.py      Outgoing messages to Adaptive Cards 1.5: pure functions
    refs.py       what the adapter remembers to reach people later (conversation references)
    sender.py     TeamsSender: the outbox's way out, proactive messages only
    app.py        POST /api/messages, the TeamsActivityHandler, build_teams()
    package.py    the app package (manifest + icons) to upload to Teams
"""
