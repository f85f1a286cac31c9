"""Issue 18, "one click loses the lesson": what cannot be undone asks first, controls that make
no sense yet or any more are not offered, and a reload after the end brings the end back."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from livequiz.domain.session import Phase
from tests.browser.harness import (
    Harness,
    answer_next_dialog,
    create_quiz_in_ui,
    join_in_ui,
    session_for_pin,
)
from tests.server import RunningServer

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_what_cannot_be_undone_asks_first_and_is_offered_only_when_it_makes_sense(
    harness: Harness, srv: RunningServer
) -> None:
    host = await harness.open("/host", "desktop", name="host")
    pin = await create_quiz_in_ui(host, count=2, seconds=60)
    session = session_for_pin(srv, pin)
    # the lobby: nothing to end or download yet; a new quiz is one click away
    for hidden in ("#end-button", "#download-csv"):
        await expect(host.locator(hidden)).to_be_hidden()
    await expect(host.locator("#new-quiz")).to_be_visible()
    anna = await harness.open(f"/play?pin={pin}", name="Anna")
    await join_in_ui(anna, "Anna")
    ben = await harness.open(f"/play?pin={pin}", name="Ben")
    await join_in_ui(ben, "Ben")
    await expect(host.locator("#players li[data-player-id]")).to_have_count(2)

    # removing a student asks; "no" keeps them
    ben_line = host.locator('#players li:has-text("Ben")')
    asked = answer_next_dialog(host, accept=False)
    await ben_line.locator("button.kick").click()
    await expect(host.locator("#players li[data-player-id]")).to_have_count(2)
    assert asked == ["Remove Ben from the quiz? They cannot join it again."]
    assert not next(p for p in session.players.values() if p.nickname == "Ben").kicked

    # during a question: no "New quiz" to click by mistake; "End quiz" asks, "no" goes on
    await host.locator("#start-button").click()
    await expect(anna.locator("#question-number")).to_have_text("Question 1 of 2")
    await expect(host.locator("#new-quiz")).to_be_hidden()
    await expect(host.locator("#download-csv")).to_be_visible()
    asked = answer_next_dialog(host, accept=False)
    await host.locator("#end-button").click()
    assert asked == ["End the quiz now for everyone? The results become final."]
    assert session.phase is Phase.QUESTION_OPEN
    await expect(anna.locator("#finished")).to_be_hidden()
    asked = answer_next_dialog(host)
    await host.locator("#end-button").click()
    await expect(anna.locator("#finished")).to_be_visible()
    assert asked
    await expect(host.locator("#new-quiz")).to_be_visible()
    await expect(host.locator("#end-button")).to_be_hidden()


async def test_a_reload_after_the_end_brings_back_the_standings_and_the_podium(
    harness: Harness, srv: RunningServer
) -> None:
    host = await harness.open("/host", "desktop", name="host")
    pin = await create_quiz_in_ui(host, count=1, seconds=60)
    screen_link = await host.locator("#screen-link").get_attribute("href")
    assert screen_link is not None
    screen = await harness.open(screen_link, "desktop", name="screen")
    await expect(screen.locator("#screen-pin-number")).to_have_text(pin)
    players = {}
    for name in ("Anna", "Ben"):
        players[name] = await harness.open(f"/play?pin={pin}", name=name)
        await join_in_ui(players[name], name)
    await expect(host.locator("#players li[data-player-id]")).to_have_count(2)
    await host.locator("#start-button").click()
    session = session_for_pin(srv, pin)
    right = session.questions[0].correct_option
    await expect(players["Anna"].locator("#question-number")).to_have_text("Question 1 of 1")
    await players["Anna"].locator(f'button.option[data-option="{right}"]').click()
    await expect(players["Anna"].locator("#result")).to_contain_text("Right")
    answer_next_dialog(host)
    await host.locator("#end-button").click()
    await expect(screen.locator("#screen-podium-section")).to_be_visible()
    for page in players.values():
        await page.close()  # the class goes home

    await host.reload()
    await expect(host.locator("#host-leaderboard li")).to_have_count(2)
    await expect(host.locator("#host-leaderboard li").first).to_contain_text("Anna")
    await expect(host.locator("#players")).not_to_contain_text("away")
    await expect(host.locator("#report-section")).to_be_visible()
    await screen.reload()
    await expect(screen.locator("#screen-podium-section")).to_be_visible()
    await expect(screen.locator("#screen-podium li").first).to_contain_text("Anna")
    await expect(
        screen.locator("#screen-pin")
    ).to_be_hidden()  # a finished quiz's code joins nothing
