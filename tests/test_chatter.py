"""Words said to the bot that are no command: nothing addressed to it goes unanswered."""

from __future__ import annotations

from bot.model import RequestState, Where
from tests.conftest import Harness, flatten

CHANNEL = Where("console", "acme", "C-eng")


async def mention(h: Harness, user: str, text: str) -> str:
    """`@bot <text>` in a channel, as the adapters deliver it (the mention removed)."""
    sent = await h.say(user, text, where=CHANNEL, direct=False, addressed=True, message_id="17.1")
    return "\n".join(flatten(o) for o in sent)


async def test_a_typo_gets_the_command_it_meant(chat: Harness) -> None:
    await chat.say("erin", "blocker waiting on ops")
    reply = await chat.reply_text("erin", "resolv 1")
    assert "Did you mean `resolve 1`?" in reply and "[resolve 1|resolve 1]" in reply
    reply = await chat.reply_text("erin", "/dismis 1")
    assert "don't know the command `dismis`. Did you mean `dismiss`?" in reply


async def test_a_bare_mention_and_a_greeting_are_answered(chat: Harness) -> None:
    assert "to see what I can do" in await mention(chat, "erin", "")
    assert "Hi! I keep track of blockers" in await mention(chat, "erin", "hi here!")
    assert "Hi! I keep track of blockers" in await chat.reply_text("erin", "hello")


async def test_a_question_about_the_bot_gets_the_help(chat: Harness) -> None:
    reply = await mention(chat, "erin", "what can you do?")
    assert "`request <title>`" in reply and "`resolve <number> [note]`" in reply


async def test_a_mention_that_is_neither_gets_a_private_hint(chat: Harness) -> None:
    sent = await chat.say("erin", "reply to thread", where=CHANNEL, direct=False, addressed=True,
                          message_id="17.2")
    assert len(sent) == 1 and sent[0].private_to == "erin"
    assert "I didn't catch a command there" in sent[0].text


async def test_plain_chatter_in_a_channel_is_still_left_alone(chat: Harness) -> None:
    assert await chat.say("erin", "hi all, lunch at noon?", where=CHANNEL, direct=False) == []


async def test_a_request_in_plain_words_offers_to_file_it(chat: Harness) -> None:
    sent = await chat.say("sam", "hey can we get a dark mode?")
    (offer,) = sent
    assert "sounds like a request" in offer.text
    (button,) = offer.actions
    assert button.label == "File as request"
    assert button.command == "request hey can we get a dark mode?"
    reply = await chat.reply_text("sam", button.command)  # what the click runs
    assert "Request #1" in reply and "What problem does this solve?" in reply
    async with chat.db.uow() as uow:
        filed = await uow.requests.get(chat.team, 1)
    assert filed.title == "hey can we get a dark mode?"
    assert filed.state == RequestState.NEEDS_DISCOVERY


async def test_a_second_request_during_discovery_names_the_first_and_how_to_drop_it(
        chat: Harness) -> None:
    await chat.say("sam", "request CSV export")
    (second,) = await chat.say("sam", "request dark mode")
    text = flatten(second)
    assert "Request #2" in text and "#1 CSV export" in text
    assert "1 earlier request still without a problem" in text
    assert "[Withdraw #1|withdraw 1]" in text
    # The answer goes to the newest request; once #2 states its problem only #1 is named.
    await chat.say("sam", "People working at night get headaches from the white screens")
    (third,) = await chat.say("sam", "request audit log")
    assert "• #1 CSV export" in flatten(third) and "• #2" not in flatten(third)
