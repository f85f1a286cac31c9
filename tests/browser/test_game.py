"""A whole quiz in the browser: a host on a laptop, the big screen, three players (two phones,
one desktop played with the keyboard only), from creating the quiz to the CSV download."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from livequiz.domain.session import Phase, QuizSession
from tests.browser.harness import (
    Harness,
    answer_next_dialog,
    correct_option,
    create_quiz_in_ui,
    eventually,
    join_in_ui,
    number_first,
    player_rank,
    player_scores,
    press_tab_until,
    read_board,
    session_for_pin,
    wrong_option,
)
from tests.server import RunningServer

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def _close_if_open(host: Page, session: QuizSession) -> None:
    """Everyone answered, so the question closes by itself (the default); else the host closes."""
    if session.phase is Phase.QUESTION_OPEN:
        await host.locator("#close-button").click()


async def _check_reveal(player: Page, right: bool, correct: int) -> None:
    await expect(player.locator("#reveal")).to_be_visible()
    await expect(player.locator("#result")).to_contain_text("Right" if right else "Wrong")
    await expect(player.locator(f'button.option[data-option="{correct}"]')).to_have_class(
        re.compile(r"\bcorrect\b")
    )


async def _check_standing(player: Page, session: QuizSession, nickname: str) -> None:
    """``#my-score`` and ``#my-rank`` show what the server holds for this player (no rank at 0
    points, where everyone shares first place)."""
    score = player_scores(session)[nickname]
    rank = player_rank(session, nickname)
    await expect(player.locator("#my-score")).to_have_text(number_first(score))
    if score == 0:
        await expect(player.locator("#my-rank")).to_have_text("–")
    else:
        await expect(player.locator("#my-rank")).to_have_text(number_first(rank))


async def _check_boards(players: dict[str, Page], screen: Page, session: QuizSession) -> None:
    """Every player's ``#leaderboard`` and the big screen list the server's scores, in order."""
    expected = player_scores(session)

    async def same() -> None:
        on_screen = await read_board(screen, "#screen-leaderboard")
        assert dict(on_screen) == expected, on_screen
        assert [score for _, score in on_screen] == sorted(expected.values(), reverse=True)
        for nickname, page in players.items():
            mine = await read_board(page, "#leaderboard")
            assert mine == on_screen, (nickname, mine, on_screen)
            me = page.locator("#leaderboard li.me")
            assert await me.count() == 1, f"{nickname}: no single own line (li.me)"
            assert nickname in await me.inner_text()

    await eventually(same)


async def test_a_whole_quiz_with_three_players(harness: Harness, srv: RunningServer) -> None:
    host = await harness.open("/host", "desktop", name="host")
    pin = await create_quiz_in_ui(host, count=3, seconds=20)
    session = session_for_pin(srv, pin)
    assert len(session.questions) == 3
    assert session.settings.time_limit_ms == 20_000

    await expect(host.locator("#qr")).to_be_visible()
    assert await host.locator("#qr").evaluate("img => img.naturalWidth > 0"), "QR did not load"
    join_link = await host.locator("#join-link").get_attribute("href")
    assert join_link is not None
    assert pin in join_link
    screen_link = await host.locator("#screen-link").get_attribute("href")
    assert screen_link is not None
    assert "#token=" in screen_link

    screen = await harness.open(screen_link, "desktop", name="screen")
    await expect(screen.locator("#screen-pin")).to_contain_text(pin)

    # Anna (phone) follows the join link: the PIN is filled in.
    anna = await harness.open(join_link, "phone", name="Anna")
    await expect(anna.locator("#pin")).to_have_value(pin)
    await join_in_ui(anna, "Anna")
    await expect(anna.locator("#lobby")).to_be_visible()
    await expect(host.locator("#players li[data-player-id]")).to_have_count(1)

    # Ben (phone) types the PIN.
    ben = await harness.open("/play", "phone", name="Ben")
    await join_in_ui(ben, "Ben", pin=pin)
    await expect(ben.locator("#lobby")).to_be_visible()

    # Cleo (desktop) uses the keyboard only: Tab, typing, Enter, keys 1-4.
    cleo = await harness.open("/play", "desktop", name="Cleo")
    await press_tab_until(cleo, "#pin")
    await cleo.keyboard.type(pin)
    await press_tab_until(cleo, "#nickname")
    await cleo.keyboard.type("Cleo")
    await cleo.keyboard.press("Enter")
    await expect(cleo.locator("#lobby")).to_be_visible()

    players = {"Anna": anna, "Ben": ben, "Cleo": cleo}
    await expect(host.locator("#players li[data-player-id]")).to_have_count(3)
    for nickname in players:
        await expect(host.locator("#players")).to_contain_text(nickname)
    await expect(host.locator("#player-count")).to_have_text(number_first(3))
    await expect(host.locator("#players li[data-player-id] button.kick")).to_have_count(3)

    await host.locator("#start-button").click()
    # Right (True) or wrong (False) per player and question; each misses a different word.
    plan = {"Anna": [True, False, True], "Ben": [False, True, True], "Cleo": [True, True, False]}
    for index in range(3):
        if index > 0:
            await host.locator("#next-button").click()
        for page in (*players.values(), host):
            prompt = page.locator("#prompt" if page is not host else "#host-question")
            await expect(prompt).to_contain_text(session.questions[index].prompt[:20])
        await expect(screen.locator("#screen-question")).to_be_visible()
        await expect(host.locator("#answered-count")).to_have_text(number_first(0))
        correct = correct_option(srv, pin)

        def option(nickname: str, correct: int = correct, index: int = index) -> int:
            return correct if plan[nickname][index] else wrong_option(srv, pin)

        # Anna taps, Ben clicks.
        await anna.locator(f'button.option[data-option="{option("Anna")}"]').tap()
        await expect(anna.locator("#locked")).to_be_visible()
        await expect(anna.locator(f'button.option[data-option="{option("Anna")}"]')).to_have_class(
            re.compile(r"\bchosen\b")
        )
        for button in await anna.locator("button.option").all():
            await expect(button).to_be_disabled()
        await expect(host.locator("#answered-count")).to_have_text(number_first(1))

        await ben.locator(f'button.option[data-option="{option("Ben")}"]').click()
        await expect(ben.locator("#locked")).to_be_visible()
        await expect(host.locator("#answered-count")).to_have_text(number_first(2))

        # Cleo answers by key (1-4) on odd questions, by Tab + Enter on even ones.
        if index % 2 == 0:
            await cleo.keyboard.press(str(option("Cleo") + 1))
        else:
            await press_tab_until(cleo, f'button.option[data-option="{option("Cleo")}"]')
            await cleo.keyboard.press("Enter")
        # The last answer closes the question at once (everyone answered): locked, then revealed.
        await expect(cleo.locator(f'button.option[data-option="{option("Cleo")}"]')).to_have_class(
            re.compile(r"\bchosen\b")
        )

        await _close_if_open(host, session)
        for nickname, page in players.items():
            await _check_reveal(page, plan[nickname][index], correct)
            await _check_standing(page, session, nickname)
        assert {p.nickname: p.correct_count for p in session.players.values()} == {
            nickname: sum(answers[: index + 1]) for nickname, answers in plan.items()
        }
        await _check_boards(players, screen, session)

    asked = answer_next_dialog(host)
    await host.locator("#end-button").click()
    await expect(screen.locator("#screen-podium")).to_be_visible()
    assert asked == ["End the quiz now for everyone? The results become final."]
    for nickname, page in players.items():
        await expect(page.locator("#podium")).to_be_visible()
        answers = zip(session.questions, plan[nickname], strict=True)
        missed = [question for question, right in answers if not right]
        await expect(page.locator("#review li .word")).to_have_text([q.word for q in missed])
        items = page.locator("#review li")
        for number, question in enumerate(missed):
            await expect(items.nth(number).locator(".definition")).to_contain_text(
                question.definition
            )
            example = items.nth(number).locator(".example")
            await expect(example).to_have_count(1)
            if question.example:
                await expect(example).to_contain_text(question.example[:30])

    async with host.expect_download() as download_info:
        await host.locator("#download-csv").click()
    download = await download_info.value
    path = await download.path()
    text = Path(path).read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {row["nickname"] for row in rows} == set(players)
    assert {row["nickname"]: int(row["score"]) for row in rows} == player_scores(session)
