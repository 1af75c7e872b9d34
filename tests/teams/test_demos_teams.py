"""A demo through Teams activities over HTTP: `demo done` sends the requester and each voice a
card with the verdict buttons, and a voice's click on *Solved* records their verdict."""

from __future__ import annotations

from bot.model import RequestState
from tests.teams.activities import ERIN, PAT, SAM
from tests.teams.conftest import TEAM, Stack
from tests.teams.test_loop import buttons, only, setup_team
from tests.teams.test_voices_teams import file_request


async def test_demo_done_sends_the_verdict_card_and_a_click_records_it(stack: Stack) -> None:
    await setup_team(stack)
    await file_request(stack)  # Sam's request #1, ready for Pat's review
    acts = stack.acts
    await stack.say(acts.personal(PAT, "accept 1"))
    await stack.say(acts.personal(PAT, "deliver 1"))
    await stack.say(acts.personal(ERIN, "metoo 1 support retypes them too"))

    sent = await stack.say(acts.personal(PAT, "demo done"))
    assert "Demo #1 recorded (#1)" in only([c for c in sent
                                            if c.conversation == PAT.personal]).text
    for person in (SAM, ERIN):
        card = only([c for c in sent if c.conversation == person.personal])
        assert "was shown at demo #1" in card.text
        assert buttons(card) == ["solved 1", "notyet 1", "request"]
    erin = only([c for c in sent if c.conversation == ERIN.personal])

    clicked = await stack.say(acts.execute(ERIN, {"command": "solved 1"}, card=erin.returned))
    assert any("noted that request #1 solved your problem" in c.text for c in clicked)
    told = only([c for c in clicked if c.conversation == PAT.personal])
    assert "who added their voice to request #1" in told.text and "solved" in told.text
    async with stack.app.db.uow() as uow:
        [verdict] = await uow.demos.verdicts(TEAM, [1])
        request = await uow.requests.get(TEAM, 1)
    assert (verdict.user, verdict.verdict, verdict.demo) == (ERIN.aad, "solved", 1)
    assert request is not None and request.state == RequestState.DELIVERED
