"""Slack over slack-bolt (AsyncApp). Every slack_bolt import stays in this package, and slack_sdk's
too but for storage's installation tables.

    translate.py  Slack payloads (events, commands, interactivity) to InboundMessages: pure functions
    tenancy.py    whose payload: the installation (tenant) as Bolt reads it, and outsiders
    markup.py     Slack's text markup: read as text on the way in, escaped on the way out
    render.py     Outgoing messages to Block Kit messages, modals and the Home tab: pure functions
    commands.py   the slash commands, and how a command reads as one (usage hints)
    listeners.py  the Bolt listeners: translate, store in the inbox, acknowledge
    directory.py  Directory: people's names and time zones from users.info, after the ack
    sender.py     SlackSender: the outbox's way out (Web API client, retries, errors)
    oauth.py      installs in many workspaces: installation and state stores, the OAuth routes
    app.py        SlackPlatform: POST /slack/events, Socket Mode, check(), build_slack()
"""
