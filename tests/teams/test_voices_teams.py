"""Voices through Teams activities over HTTP: the *Add my voice* card button on the similar
request hint in a channel, on the producer's review card and on the `home` card, the answer
merged into the clicked card or sent 1:1, and voices told when the request is accepted."""

from __future__ import annotations

from tests.teams.activities import ERIN, PAT, SAM
from tests.teams.conftest import TEAM, Stack
from tests.teams.test_loop import buttons, only, setup_team


async def file_request(stack: Stack) -> None:
    """Sam files request #1 in the 1:1 chat; it is ready for Pat's review."""
    acts = stack.acts
    await stack.say(acts.personal(SAM, "request CSV export of invoices"))
    await stack.say(acts.personal(SAM, "Finance retypes invoice rows every Friday, three hours"))
    await stack.say(acts.personal(SAM, "done"))


async def voices(stack: Stack) -> dict[str, str | None]:
    async with stack.app.db.uow() as uow:
        return {v.user: v.problem for v in (await uow.voices.of(TEAM, [1])).get(1, [])}


async def test_add_my_voice_on_the_home_card_then_the_voice_hears_the_accept(
        stack: Stack) -> None:
    await setup_team(stack)
    await file_request(stack)
    acts = stack.acts
    home = only(await stack.say(acts.personal(ERIN, "home")))
    assert "do you have this problem too?" in home.text
    assert "metoo 1" in buttons(home)

    clicked = await stack.say(acts.execute(ERIN, {"command": "metoo 1"}, card=home.returned))
    answer = only([c for c in clicked if c.conversation == ERIN.personal])
    assert "added your voice to request #1" in answer.text and "2 people" in answer.text
    assert "How does this problem affect you?" in answer.text
    assert await voices(stack) == {ERIN.aad: None}

    # Typing the sentence fills it in; the producer's review of the list shows the count.
    said = only(await stack.say(acts.personal(ERIN, "metoo 1 support retypes them too")))
    assert "updated what you said" in said.text
    assert await voices(stack) == {ERIN.aad: "support retypes them too"}

    accepted = await stack.say(acts.personal(PAT, "accept 1"))
    told = only([c for c in accepted if c.conversation == ERIN.personal])
    assert "which you added your voice to, was accepted" in told.text
    assert "was accepted" in only([c for c in accepted if c.conversation == SAM.personal]).text


async def test_the_review_card_button_adds_the_producers_voice(stack: Stack) -> None:
    await setup_team(stack)
    acts = stack.acts
    await stack.say(acts.personal(SAM, "request CSV export of invoices"))
    await stack.say(acts.personal(ERIN, "metoo 1 support retypes them too"))
    await stack.say(acts.personal(SAM, "Finance retypes invoice rows every Friday, three hours"))
    sent = await stack.say(acts.personal(SAM, "done"))
    review = only([c for c in sent if c.conversation == PAT.personal])
    assert buttons(review) == ["accept 1", "decline 1", "metoo 1"]
    assert "Who has it:" in review.text and "2 people" in review.text
    assert "support retypes them too" in review.text

    clicked = await stack.say(acts.execute(PAT, {"command": "metoo 1"}, card=review.returned))
    update = only([c for c in clicked if c.method == "PUT"])
    assert update.path.endswith(review.returned)  # answered on the card that was clicked
    assert "added your voice to request #1" in update.text and "3 people" in update.text
    assert sorted(await voices(stack)) == sorted([ERIN.aad, PAT.aad])


async def test_the_similar_request_hint_in_a_channel_offers_the_voice(stack: Stack) -> None:
    await setup_team(stack)
    await file_request(stack)
    acts = stack.acts
    filed = only(await stack.say(acts.channel(ERIN, "request export invoices as CSV")))
    assert "similar request" in filed.text and "add your voice there" in filed.text
    assert buttons(filed)[:2] == ["metoo 1", "withdraw 2"]
    clicked = await stack.say(acts.execute(ERIN, {"command": "metoo 1"}, card=filed.returned,
                                           where="channel", root=filed.returned))
    # Said only to Erin (1:1), not on the shared card everyone in the channel reads.
    private = only([c for c in clicked if c.conversation == ERIN.personal])
    assert "added your voice to request #1" in private.text
    assert [c for c in clicked if c.method == "PUT"] == []
    assert await voices(stack) == {ERIN.aad: None}
