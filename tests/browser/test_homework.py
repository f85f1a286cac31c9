"""Homework in the browser: a teacher hands out a self-paced quiz, three students do it at their
own pace on different days (the server's clock is moved on: the clock is a parameter), one drops
mid-question and comes back to the time that was left, one lets the time run out, and at the
due time the results are final on every page and in the teacher's CSV."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.async_api import Page, expect

from livequiz.domain.commands import Executed, Tick
from livequiz.domain.reports import class_report
from livequiz.domain.session import QuizSession
from tests.browser.harness import (
    Harness,
    cut_connection,
    eventually,
    join_in_ui,
    player_rank,
    player_scores,
    restore_connection,
)
from tests.server import RunningServer
from tests.test_exports import deck_notes

pytestmark = pytest.mark.asyncio(loop_scope="module")

DAY_MS = 86_400_000
SECONDS = 5


@contextmanager
def days_later(srv: RunningServer, days: float) -> Iterator[None]:
    """The server's clock (the quiz's clock, its tokens' and its deadlines') ``days`` on."""
    real = srv.service.clock
    srv.service.clock = lambda: real() + int(days * DAY_MS)
    try:
        yield
    finally:
        srv.service.clock = real


def homework_session(srv: RunningServer, pin: str) -> tuple[str, QuizSession]:
    store = srv.server.store
    for quiz_id in store.quiz_ids():
        if store.definition(quiz_id).pin == pin:
            return quiz_id, store.session(quiz_id)
    raise AssertionError(f"no quiz has the PIN {pin}")


def own_right_option(session: QuizSession, nickname: str) -> int:
    """The right option of the question this student has open (read inside the server)."""
    player = next(p for p in session.players.values() if p.nickname == nickname)
    assert player.at >= 0, f"{nickname} has no question open"
    return session.questions[player.at].correct_option


async def answer(page: Page, option: int) -> None:
    await page.locator(f'button.option[data-option="{option}"]').click()


async def test_three_students_do_homework_on_different_days(
    harness: Harness, srv: RunningServer
) -> None:
    host = await harness.open("/host", "desktop", name="teacher")
    await host.locator('input[name="pace"][value="self"]').check()
    await expect(host.locator("#due")).to_be_visible()
    assert await host.locator("#due").input_value() != ""  # this time tomorrow, by default
    await host.locator("#count").fill("2")
    await host.locator("#seconds").fill(str(SECONDS))
    await expect(host.locator("#create-button")).to_have_text("Hand out homework")
    await host.locator("#create-button").click()
    await expect(host.locator("#pin-display")).to_have_text(re.compile(r"\d{6}"))
    pin = (await host.locator("#pin-display").inner_text()).strip()
    quiz_id, session = homework_session(srv, pin)
    assert session.due_at_ms is not None
    assert 23 * 3_600_000 < session.due_at_ms - srv.service.clock() <= 25 * 3_600_000
    await expect(host.locator("#homework-status")).to_contain_text("Homework, due")
    await expect(host.locator("#start-button")).to_be_hidden()
    await expect(host.locator("#end-button")).to_have_text("End homework now")

    # Day 1: Anna does it all at once, right then wrong
    anna = await harness.open(f"/play?pin={pin}", name="Anna")
    await join_in_ui(anna, "Anna")
    await expect(anna.locator("#homework-info")).to_contain_text("2 questions, due")
    await anna.locator("#homework-start").click()
    await expect(anna.locator("#question-number")).to_have_text("Question 1 of 2")
    await answer(anna, own_right_option(session, "Anna"))
    await expect(anna.locator("#result")).to_contain_text("Right!")
    await expect(anna.locator("#reveal")).to_be_visible()
    await anna.locator("#next-question").click()
    await expect(anna.locator("#question-number")).to_have_text("Question 2 of 2")
    await answer(anna, (own_right_option(session, "Anna") + 1) % 4)
    await expect(anna.locator("#finished-title")).to_have_text("Homework done")
    await expect(anna.locator("#podium-title")).to_be_hidden()  # no places before the due time
    await expect(anna.locator("#final-summary")).to_contain_text("1 of 2 answers right")
    await expect(anna.locator("#review li")).to_have_count(1)
    missed = session.questions[1].word
    await expect(anna.locator("#review li .word")).to_have_text(missed)
    async with anna.expect_download() as download_info:
        await anna.locator("#download-anki").click()
    download = await download_info.value
    assert download.suggested_filename == f"livequiz-words-{pin}.apkg"
    _, notes = deck_notes(Path(await download.path()).read_bytes())
    assert [note[0] for note in notes] == [missed]
    await expect(host.locator("#homework-status")).to_contain_text("1 of 1 students have finished")

    with days_later(srv, 0.5):
        # Day 2 (half a day on): Ben drops in the middle of a question and comes back
        ben_context = await harness.context("phone")
        ben = await harness.open(f"/play?pin={pin}", name="Ben", context=ben_context)
        await join_in_ui(ben, "Ben")
        await ben.locator("#homework-start").click()
        await expect(ben.locator("#question-number")).to_have_text("Question 1 of 2")
        harness.console.allow(r"WebSocket connection to .* failed|ERR_INTERNET_DISCONNECTED")
        await cut_connection(ben_context, ben)
        await asyncio.sleep(2.2)
        await restore_connection(ben_context, ben)
        await expect(ben.locator("#connection")).to_be_hidden()
        await expect(ben.locator("#question-number")).to_have_text("Question 1 of 2")
        left = int(await ben.locator("#countdown").inner_text())
        assert 0 < left <= SECONDS - 2, left  # the time that was left, not a fresh clock
        await answer(ben, own_right_option(session, "Ben"))
        await expect(ben.locator("#result")).to_contain_text("Right!")

        # Cleo opens her first question and lets the time run out
        cleo = await harness.open(f"/play?pin={pin}", name="Cleo")
        await join_in_ui(cleo, "Cleo")
        await cleo.locator("#homework-start").click()
        await expect(cleo.locator("#question-number")).to_have_text("Question 1 of 2")
        await expect(cleo.locator("#result")).to_contain_text(
            "Time's up", timeout=(SECONDS + 5) * 1000
        )
        await expect(cleo.locator("#next-question")).to_be_visible()

    # The due time passes: results are final everywhere
    with days_later(srv, 1.01):
        outcome = await srv.service.call(quiz_id, Tick())
        assert isinstance(outcome, Executed), outcome
        assert [type(e).__name__ for e in outcome.events][-1] == "QuizFinished"
    for name, page in (("Anna", anna), ("Ben", ben), ("Cleo", cleo)):
        won = player_rank(session, name) == 1 and player_scores(session)[name] > 0
        title = "You won! 🏆" if won else "Quiz over"  # the winner's phone says so
        await expect(page.locator("#finished-title")).to_have_text(title)
        await expect(page.locator("#podium-title")).to_be_visible()
        await expect(page.locator("#final-summary")).to_contain_text("of 3")
    await expect(host.locator("#homework-status")).to_contain_text("Homework closed")
    scores = player_scores(session)
    assert scores["Cleo"] == 0
    assert min(scores["Anna"], scores["Ben"]) > 0

    async def board_matches() -> None:
        lines = await host.locator("#host-leaderboard li").all_inner_texts()
        assert len(lines) == 3, lines

    await eventually(board_matches)
    async with host.expect_download() as download_info:
        await host.locator("#download-csv").click()
    download = await download_info.value
    text = Path(await download.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {row["nickname"]: int(row["score"]) for row in rows} == scores
    assert {row["nickname"]: int(row["correct"]) for row in rows} == {
        "Anna": 1,
        "Ben": 1,
        "Cleo": 0,
    }

    # the end screen: the words the class did not know, hardest first, as the server counts
    report = class_report(session)
    await expect(host.locator("#report-section")).to_be_visible()
    shown = host.locator("#report-words li")
    await expect(shown).to_have_count(len(report["words"]))
    assert [await li.get_attribute("data-word") for li in await shown.all()] == [
        word["word"] for word in report["words"]
    ]
    first = report["words"][0]
    await expect(shown.first).to_contain_text(
        f"{round(100 * first['share_correct'])} % knew it ({first['correct']} of {first['asked']})"
    )
    if report["reteach"]:
        await expect(host.locator("#report-summary")).to_contain_text(", ".join(report["reteach"]))
    async with host.expect_download() as download_info:
        await host.locator("#download-xlsx").click()
    xlsx = Path(await (await download_info.value).path()).read_bytes()
    book = load_workbook(io.BytesIO(xlsx))
    words = list(book["Words"].iter_rows(values_only=True))[2:]
    assert [(row[0], row[4], row[5]) for row in words] == [
        (word["word"], word["correct"], word["asked"]) for word in report["words"]
    ]
    grid = list(book["Grid"].iter_rows(values_only=True))
    assert {row[0] for row in grid[1:]} == {"Anna", "Ben", "Cleo"}
