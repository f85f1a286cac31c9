"""The player page on its own: a dropped network, a reload, the screen-reader announcements.

The host is driven over the WebSocket protocol here (:func:`host_socket`); the host page has
its own test in ``test_game.py``.
"""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from tests.browser.harness import (
    NETWORK_ERRORS,
    Harness,
    correct_option,
    cut_connection,
    eventually,
    host_socket,
    join_in_ui,
    number_anywhere,
    number_first,
    player_rank,
    player_scores,
    press_tab_until,
    restore_connection,
    session_for_pin,
    wrong_option,
)
from tests.server import RunningServer

pytestmark = pytest.mark.asyncio(loop_scope="module")

#: Questions stay open while the test cuts the network: nothing closes them but the host.
SETTINGS = {"time_limit_ms": 60_000, "close_when_all_answered": False}


async def _answer_right(player: Page, srv: RunningServer, pin: str) -> None:
    option = correct_option(srv, pin)
    await player.locator(f'button.option[data-option="{option}"]').click()
    await expect(player.locator("#locked")).to_be_visible()


async def test_a_dropped_connection_comes_back_by_itself(
    harness: Harness, srv: RunningServer
) -> None:
    harness.console.allow(NETWORK_ERRORS)
    quiz = await srv.create_quiz(count=2, seed=11, settings=SETTINGS)
    pin = quiz["pin"]
    session = session_for_pin(srv, pin)
    context = await harness.context("phone")
    anna = await harness.open(f"/play?pin={pin}", name="Anna", context=context)
    await join_in_ui(anna, "Anna")
    await expect(anna.locator("#lobby")).to_be_visible()
    await expect(anna.locator("#connection")).to_be_hidden()

    async with host_socket(srv, quiz["host_token"]) as host:
        await host.act("start")
        await expect(anna.locator("#question")).to_be_visible()
        await _answer_right(anna, srv, pin)
        first = player_scores(session)["Anna"]
        assert first > 0
        await expect(anna.locator("#my-score")).to_have_text(number_first(first))
        await host.act("close")
        await host.act("next")  # question 1 (a skip would take back Anna's points)
        await expect(anna.locator("#prompt")).to_contain_text(session.questions[1].prompt[:20])

        await cut_connection(context, anna)
        await expect(anna.locator("#connection")).to_be_visible()
        await expect(anna.locator("#connection")).to_contain_text("Reconnecting")
        await expect(anna.locator("#message")).to_contain_text(
            re.compile(r"connection", re.IGNORECASE)
        )
        (player,) = session.players.values()

        async def gone() -> None:
            assert not player.present

        # Still down after the server's presence grace (3 s): it counts the player as gone.
        await eventually(gone, timeout_s=8)
        await expect(anna.locator("#connection")).to_be_visible()

        await restore_connection(context, anna)  # and no user action from here on
        await expect(anna.locator("#connection")).to_be_hidden(timeout=15_000)
        await expect(anna.locator("#question")).to_be_visible()
        await expect(anna.locator("#my-score")).to_have_text(number_first(first))
        for button in await anna.locator("button.option").all():
            await expect(button).to_be_enabled()

        await _answer_right(anna, srv, pin)
        second = player_scores(session)["Anna"]
        assert second > first
        assert player.present
        assert player.answers.keys() == {0, 1}
        await expect(anna.locator("#my-score")).to_have_text(number_first(second))


async def test_an_answer_given_before_the_drop_stays_locked_in(
    harness: Harness, srv: RunningServer
) -> None:
    harness.console.allow(NETWORK_ERRORS)
    quiz = await srv.create_quiz(count=2, seed=12, settings=SETTINGS)
    pin = quiz["pin"]
    session = session_for_pin(srv, pin)
    context = await harness.context("desktop")
    bea = await harness.open(f"/play?pin={pin}", name="Bea", context=context)
    await join_in_ui(bea, "Bea")
    async with host_socket(srv, quiz["host_token"]) as host:
        await host.act("start")
        await expect(bea.locator("#question")).to_be_visible()
        option = correct_option(srv, pin)
        await bea.locator(f'button.option[data-option="{option}"]').click()
        await expect(bea.locator("#locked")).to_be_visible()
        score = player_scores(session)["Bea"]

        await cut_connection(context, bea)
        await expect(bea.locator("#connection")).to_contain_text("Reconnecting")
        await restore_connection(context, bea)
        await expect(bea.locator("#connection")).to_be_hidden(timeout=15_000)

        await expect(bea.locator("#locked")).to_be_visible()
        await expect(bea.locator(f'button.option[data-option="{option}"]')).to_have_class(
            re.compile(r"\bchosen\b")
        )
        for button in await bea.locator("button.option").all():
            await expect(button).to_be_disabled()
        await expect(bea.locator("#my-score")).to_have_text(number_first(score))
        assert player_scores(session)["Bea"] == score


async def test_a_reload_rejoins_with_the_same_score(harness: Harness, srv: RunningServer) -> None:
    quiz = await srv.create_quiz(count=2, seed=13, settings=SETTINGS)
    pin = quiz["pin"]
    session = session_for_pin(srv, pin)
    cara = await harness.open(f"/play?pin={pin}", "phone", name="Cara")
    await join_in_ui(cara, "Cara")
    await expect(cara.locator("#lobby")).to_be_visible()
    async with host_socket(srv, quiz["host_token"]) as host:
        await host.act("start")
        await _answer_right(cara, srv, pin)
        score = player_scores(session)["Cara"]
        await expect(cara.locator("#my-score")).to_have_text(number_first(score))

        await cara.reload()
        await expect(cara.locator("#join-form")).to_be_hidden()
        await expect(cara.locator("#question")).to_be_visible()
        await expect(cara.locator("#locked")).to_be_visible()
        await expect(cara.locator("#my-score")).to_have_text(number_first(score))
        assert len(session.players) == 1, "the reload joined a second player"

        await host.act("close")
        await host.act("next")
        await _answer_right(cara, srv, pin)
        assert player_scores(session)["Cara"] > score
        await expect(cara.locator("#my-score")).to_have_text(
            number_first(player_scores(session)["Cara"])
        )


async def test_the_announcer_tells_result_score_and_rank(
    harness: Harness, srv: RunningServer
) -> None:
    """After each reveal ``#announcer`` (aria-live) says right or wrong, the points and the
    player's rank; the player uses the keyboard only, as with a screen reader."""
    quiz = await srv.create_quiz(count=2, seed=14, settings=SETTINGS)
    pin = quiz["pin"]
    session = session_for_pin(srv, pin)
    await srv.join(pin, "Zed")
    dana = await harness.open(f"/play?pin={pin}", "phone", name="Dana")
    announcer = dana.locator("#announcer")
    await expect(announcer).to_have_attribute("aria-live", "polite")
    await press_tab_until(dana, "#nickname")
    await dana.keyboard.type("Dana")
    await dana.keyboard.press("Enter")
    await expect(dana.locator("#lobby")).to_be_visible()
    async with host_socket(srv, quiz["host_token"]) as host:
        await host.act("start")
        for right in (True, False):
            await expect(dana.locator("#question")).to_be_visible()
            before = await announcer.inner_text()
            correct = correct_option(srv, pin)
            option = correct if right else wrong_option(srv, pin)
            await dana.keyboard.press(str(option + 1))
            await expect(dana.locator("#locked")).to_be_visible()
            await host.act("close")
            await expect(dana.locator("#reveal")).to_be_visible()
            (answer,) = (p.answers[session.current] for p in session.players.values() if p.answers)
            rank = player_rank(session, "Dana")
            await expect(announcer).not_to_have_text(before)
            await expect(announcer).to_have_attribute("aria-live", "polite")
            if right:
                await expect(announcer).to_contain_text(re.compile(r"right|correct", re.I))
                await expect(announcer).to_contain_text(number_anywhere(answer.points))
            else:
                await expect(announcer).to_contain_text(re.compile(r"wrong|incorrect", re.I))
            await expect(announcer).to_contain_text(re.compile(rf"\b{rank}(st|nd|rd|th)?\b"))
            # The total score is on screen (and in the announcement of the final results).
            score = player_scores(session)["Dana"]
            await expect(dana.locator("#my-score")).to_have_text(number_first(score))
            if not right:
                break
            await host.act("next")
