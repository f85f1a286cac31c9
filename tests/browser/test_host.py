"""The host page as a teacher uses it: removing a player, uploading an own word list, and the
big screen showing who overtook whom."""

from __future__ import annotations

import re
from typing import Any

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
    player_scores,
    read_board,
    session_for_pin,
    wrong_option,
)
from tests.server import RunningServer

pytestmark = pytest.mark.asyncio(loop_scope="module")

WORDS = ["harbour", "brave", "ancient", "whisper", "glacier"]


def _player(session: QuizSession, nickname: str) -> Any:
    for player in session.players.values():
        if player.nickname == nickname:
            return player
    raise AssertionError(f"no player {nickname!r} in the quiz")


# ---------------------------------------------------------------------- kick


async def test_a_player_removed_by_the_host_stays_out(harness: Harness, srv: RunningServer) -> None:
    host = await harness.open("/host", "desktop", name="host")
    pin = await create_quiz_in_ui(host, count=3)
    anna = await harness.open(f"/play?pin={pin}", "phone", name="Anna")
    await join_in_ui(anna, "Anna")
    await expect(anna.locator("#lobby")).to_be_visible()
    ben = await harness.open(f"/play?pin={pin}", "phone", name="Ben")
    await join_in_ui(ben, "Ben")
    await expect(ben.locator("#lobby")).to_be_visible()

    lines = host.locator("#players li[data-player-id]")
    await expect(lines).to_have_count(2)
    await expect(host.locator("#player-count")).to_have_text(number_first(2))

    session = session_for_pin(srv, pin)
    ben_id = _player(session, "Ben").id
    ben_line = host.locator(f'#players li[data-player-id="{ben_id}"]')
    await expect(ben_line).to_contain_text("Ben")
    asked = answer_next_dialog(host)
    await ben_line.locator("button.kick").click()

    # Ben is told, and is out of the game.
    await expect(ben.locator("#message")).to_contain_text(re.compile(r"removed", re.I))
    await expect(ben.locator("#lobby")).to_be_hidden()
    await expect(ben.locator("#join-form")).to_be_visible()
    await expect(anna.locator("#lobby")).to_be_visible()
    assert _player(session, "Ben").kicked
    assert not _player(session, "Anna").kicked
    assert asked == ["Remove Ben from the quiz? They cannot join it again."]

    # A reload does not bring Ben back.
    await ben.reload()
    await expect(ben.locator("#join-form")).to_be_visible()
    await ben.wait_for_timeout(500)  # time enough for a (wrong) reconnect to show the lobby
    await expect(ben.locator("#lobby")).to_be_hidden()
    await expect(ben.locator("#join-form")).to_be_visible()
    assert _player(session, "Ben").kicked
    assert [p.nickname for p in session.players.values() if not p.kicked] == ["Anna"]

    # The host's list loses Ben's line and counts one player; Anna stays.
    await expect(ben_line).to_have_count(0)
    await expect(lines).to_have_count(1)
    await expect(lines).to_contain_text("Anna")
    await expect(host.locator("#player-count")).to_have_text(number_first(1))


# ---------------------------------------------------------------------- word list


async def test_an_uploaded_word_list_makes_the_questions(
    harness: Harness, srv: RunningServer
) -> None:
    host = await harness.open("/host", "desktop", name="host")
    await host.locator("#words-file").set_input_files(
        {
            "name": "words.csv",
            "mimeType": "text/csv",
            "buffer": ("word\n" + "\n".join(WORDS) + "\n").encode(),
        }
    )
    # The list's own words, whatever their level: no level ticked means all of them.
    for level in await host.locator('input[name="level"]:checked').all():
        await level.uncheck()
    pin = await create_quiz_in_ui(host, count=5)
    session = session_for_pin(srv, pin)
    assert sorted(q.word for q in session.questions) == sorted(WORDS)

    # A list with a bad line: the teacher learns which line to fix, and no quiz is made.
    harness.console.allow(r"Failed to load resource: .* 4\d\d")
    other = await harness.open("/host", "desktop", name="host with a bad list")
    await other.locator("#words-file").set_input_files(
        {
            "name": "words.csv",
            "mimeType": "text/csv",
            "buffer": b"word,level\nbrave,A2\nharbour,Z9\n",
        }
    )
    for level in await other.locator('input[name="level"]:checked').all():
        await level.uncheck()
    await other.locator("#count").fill("2")
    await other.locator("#create-button").click()
    await expect(other.locator("#message")).to_contain_text(re.compile(r"\bline 3\b", re.I))
    await expect(other.locator("#create-form")).to_be_visible()
    await expect(other.locator("#host-section")).to_be_hidden()


async def test_every_mistake_of_an_uploaded_list_is_shown_with_its_line(
    harness: Harness, srv: RunningServer
) -> None:
    harness.console.allow(r"Failed to load resource: .* 4\d\d")
    host = await harness.open("/host", "desktop", name="host with a list full of mistakes")
    words = "word,level\nbrave,A2\nharbour,Z9\nrecieve,\nancient,\nwhisper,\nBrave,\n"
    await host.locator("#words-file").set_input_files(
        {"name": "words.csv", "mimeType": "text/csv", "buffer": words.encode()}
    )
    for level in await host.locator('input[name="level"]:checked').all():
        await level.uncheck()
    await host.locator("#count").fill("4")
    await host.locator("#create-button").click()
    await expect(host.locator("#message")).to_contain_text("Word list: 3 problems to fix:")
    await expect(host.locator("#word-list-errors li")).to_have_text(
        [
            "line 3: unknown level 'Z9' (expected A1\u2026C2)",
            "line 4: 'recieve' is not in the built-in deck; did you mean 'receive'? "
            "If not, give its definition",
            "line 7: 'Brave' is already on line 2 as an adjective",
        ]
    )
    await expect(host.locator("#host-section")).to_be_hidden()


# ---------------------------------------------------------------------- rank changes

#: Keeps every rendering of the big screen's board (nickname, rank, classes of each line).
BOARD_RECORDER = """() => {
    const list = document.getElementById("screen-leaderboard");
    window.__boards = [];
    const record = () => window.__boards.push({
        phase: document.body.dataset.phase,
        lines: [...list.querySelectorAll("li")].map(li => ({
            nickname: (li.querySelector(".nickname")?.textContent ?? "").trim(),
            rank: (li.querySelector(".rank")?.textContent ?? "").trim(),
            score: (li.querySelector(".score")?.textContent ?? "").trim(),
            classes: [...li.classList],
        })),
    });
    new MutationObserver(record).observe(list, { childList: true });
}"""


async def _answer(page: Page, option: int) -> None:
    button = page.locator(f'button.option[data-option="{option}"]')
    await button.click()
    # Locked in, or already revealed when this answer was the last one.
    await expect(button).to_be_disabled()


async def test_the_big_screen_marks_who_moved_up(harness: Harness, srv: RunningServer) -> None:
    host = await harness.open("/host", "desktop", name="host")
    pin = await create_quiz_in_ui(host, count=3, seconds=30)
    session = session_for_pin(srv, pin)
    screen_link = await host.locator("#screen-link").get_attribute("href")
    assert screen_link is not None
    assert "#token=" in screen_link
    screen = await harness.open(screen_link, "desktop", name="screen")
    await expect(screen.locator("#screen-pin")).to_contain_text(pin)

    players: dict[str, Page] = {}
    for nickname in ("Anna", "Ben"):
        page = await harness.open(f"/play?pin={pin}", "phone", name=nickname)
        await join_in_ui(page, nickname)
        await expect(page.locator("#lobby")).to_be_visible()
        players[nickname] = page
    await expect(host.locator("#players li[data-player-id]")).to_have_count(2)

    await host.locator("#start-button").click()
    # Question 1: Anna right, Ben wrong: Anna leads, Ben is listed second. The big screen
    # shows the question open once the server has opened it, so its answer can be read there
    # (an enabled option alone let the test read the server a moment too early, once).
    await expect(screen.locator("body")).to_have_attribute("data-phase", "question_open")
    await expect(players["Anna"].locator("button.option").first).to_be_enabled()
    await _answer(players["Anna"], correct_option(srv, pin))
    await _answer(players["Ben"], wrong_option(srv, pin))

    async def anna_first() -> None:
        board = await read_board(screen, "#screen-leaderboard")
        assert [name for name, _ in board] == ["Anna", "Ben"], board
        assert board[0][1] > board[1][1], board

    await eventually(anna_first)
    await screen.evaluate(BOARD_RECORDER)

    # Ben answers right, Anna wrong, until Ben is ahead (at most two questions).
    for _ in range(2):
        if player_scores(session)["Ben"] > player_scores(session)["Anna"]:
            break
        await host.locator("#next-button").click()
        await expect(screen.locator("body")).to_have_attribute("data-phase", "question_open")
        for page in players.values():
            await expect(page.locator("button.option").first).to_be_enabled()
        await _answer(players["Ben"], correct_option(srv, pin))
        await _answer(players["Anna"], wrong_option(srv, pin))
        await eventually(_closed(session))
    scores = player_scores(session)
    assert scores["Ben"] > scores["Anna"], scores

    async def ben_first() -> None:
        board = await read_board(screen, "#screen-leaderboard")
        assert [name for name, _ in board] == ["Ben", "Anna"], board

    await eventually(ben_first)

    # Who moved is marked once a question has closed, against the ranks when it opened: up for
    # a better rank, down for a worse one, nothing for the same; while a question is open,
    # nobody is marked (a student who has not answered yet only seems to fall: issue 18). A
    # board after the close that lists Ben ahead marks the swap.

    async def a_board_after_the_close() -> None:
        recorded = await screen.evaluate("() => window.__boards.map(b => b.phase)")
        assert recorded[-1:] == ["question_closed"], recorded

    await eventually(a_board_after_the_close)
    boards: list[dict[str, Any]] = await screen.evaluate("() => window.__boards")
    # The recorder may still catch a board of the first question's close: against the ranks
    # at its opening (both at 0 points, sharing first place), Ben fell there. The ranks after
    # it (Anna ahead) are those at the next opening.
    at_open = {"Anna": 1, "Ben": 1}
    latest = {"Anna": 1, "Ben": 2}
    phase_before = "question_closed"
    for board in boards:
        if board["phase"] == "question_open" and phase_before != "question_open":
            at_open = latest
        for line in board["lines"]:
            marks = {"up", "down"} & set(line["classes"])
            if board["phase"] != "question_closed":
                assert marks == set(), (line, board)
                continue
            rank, was = int(line["rank"]), at_open[line["nickname"]]
            moved = {"up"} if rank < was else {"down"} if rank > was else set()
            assert moved == marks, (line, was, boards)
        latest = {line["nickname"]: int(line["rank"]) for line in board["lines"]}
        phase_before = board["phase"]
    swapped = [
        board["lines"]
        for board in boards
        if board["phase"] == "question_closed"
        and [line["nickname"] for line in board["lines"]] == ["Ben", "Anna"]
    ]
    assert swapped, boards
    ben, anna = swapped[0]
    assert "up" in ben["classes"] or "down" in anna["classes"], swapped[0]


def _closed(session: QuizSession) -> Any:
    async def check() -> None:
        assert session.phase is Phase.QUESTION_CLOSED, session.phase

    return check
