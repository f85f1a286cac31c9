"""Issue 18, "one click loses the lesson": what cannot be undone asks first, controls that make
no sense yet or any more are not offered, and a reload after the end brings the end back."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, WebSocket, expect

from livequiz.domain.commands import Answer, CloseQuestion, Start
from livequiz.domain.session import Phase
from livequiz.join_address import LOCAL_ONLY_HINT, lan_address
from tests.browser.harness import (
    AXE_PATH,
    NETWORK_ERRORS,
    Harness,
    answer_next_dialog,
    audit,
    correct_option,
    create_quiz_in_ui,
    cut_connection,
    host_socket,
    in_view,
    join_in_ui,
    number_first,
    player_scores,
    restore_connection,
    session_for_pin,
    wrong_option,
)
from tests.integration.helpers import open_client
from tests.server import RunningServer, running_server
from tests.vocabulary.test_kahoot import GOOD as KAHOOT_GOOD
from tests.vocabulary.test_kahoot import kahoot_file

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


async def style(page: Page, selector: str, prop: str) -> str:
    value: str = await page.locator(selector).evaluate(f"(node) => getComputedStyle(node).{prop}")
    return value


async def px(page: Page, selector: str) -> float:
    return float((await style(page, selector, "fontSize")).removesuffix("px"))


async def test_the_big_screen_reads_from_the_back_row(harness: Harness, srv: RunningServer) -> None:
    """Issue 18, point 4: the join address as typed and big, every name in the lobby, no join
    code once joining is locked, a big timer and count, and no QR pushing the reveal off a
    1080p screen."""
    host = await harness.open("/host", "desktop", name="host")
    pin = await create_quiz_in_ui(host, count=1, seconds=60)
    link = await host.locator("#screen-link").get_attribute("href")
    assert link is not None
    screen = await harness.open(link, "projector", name="screen")
    url = screen.locator("#screen-join-url")
    await expect(url).to_have_text(f"127.0.0.1:{srv.port}/play?pin={pin}")
    assert await style(screen, "#screen-join-url", "textTransform") == "none"
    assert await px(screen, "#screen-join-url") >= 32
    names = [f"Player {n:02d}" for n in range(14)]
    for name in names:
        await srv.join(pin, name)
    await expect(screen.locator("#screen-lobby-names li")).to_have_count(len(names))
    await expect(screen.locator("#screen-lobby-names")).to_contain_text("Player 13")

    await host.locator("#lock-button").click()
    await expect(screen.locator("#screen-pin")).to_be_hidden()
    await host.locator("#lock-button").click()
    await expect(screen.locator("#screen-pin")).to_be_visible()

    await host.locator("#start-button").click()
    await expect(screen.locator("#screen-question")).to_be_visible()
    await expect(screen.locator("#screen-qr")).to_be_hidden()
    await expect(screen.locator("#screen-lobby")).to_be_hidden()
    await expect(screen.locator("#screen-pin .join-label")).to_be_hidden()
    await expect(screen.locator("#screen-pin-number")).to_be_visible()  # latecomers still join
    assert await px(screen, "#screen-countdown") >= 64
    await expect(screen.locator("#screen-answered")).to_contain_text("answered")
    assert await px(screen, "#screen-answered") >= 32
    await host.locator("#close-button").click()
    reveal = screen.locator("#screen-reveal")
    await expect(reveal).to_be_visible()
    await expect(screen.locator("#screen-qr")).to_be_hidden()  # no QR growing back at a reveal
    box = await reveal.bounding_box()
    assert box is not None
    assert box["y"] + box["height"] <= 1080, box  # the reveal fits the projector


async def test_no_red_arrow_for_a_student_who_simply_has_not_answered_yet(
    harness: Harness, srv: RunningServer
) -> None:
    quiz = await srv.create_quiz(count=1, settings={"time_limit_ms": 60_000})
    players = {name: await srv.join(quiz["pin"], name) for name in ("Anna", "Ben", "Cleo")}
    screen = await harness.open(f"/screen#token={quiz['host_token']}", "projector", name="screen")
    await expect(screen.locator("#screen-leaderboard li")).to_have_count(3)
    await srv.service.call(quiz["quiz_id"], Start())
    await expect(screen.locator("#screen-question")).to_be_visible()
    right = srv.service.store.session(quiz["quiz_id"]).questions[0].correct_option
    await srv.service.call(quiz["quiz_id"], Answer(players["Cleo"]["player_id"], 0, right))
    board = screen.locator("#screen-leaderboard li")
    await expect(board.first).to_contain_text("Cleo")  # she moved up while the question is open
    assert (
        await screen.locator("#screen-leaderboard li.down, #screen-leaderboard li.up").count() == 0
    )
    await srv.service.call(quiz["quiz_id"], CloseQuestion())
    # once it has closed, the changes since it opened show: the two who did not answer fell
    await expect(screen.locator("#screen-leaderboard li.down")).to_have_count(2)
    fell = await screen.locator("#screen-leaderboard li.down").all_inner_texts()
    assert not any("Cleo" in line for line in fell), fell


async def test_messages_say_what_happened(harness: Harness, srv: RunningServer) -> None:
    """Issue 18, point 5 (in part): an answer tapped offline is "sending", not "locked in",
    until the server has it; a question the host closed early is not "time's up"."""
    harness.console.allow(NETWORK_ERRORS)
    quiz = await srv.create_quiz(count=2, settings={"time_limit_ms": 60_000})
    context = await harness.context("phone")
    anna = await harness.open(f"/play?pin={quiz['pin']}", name="Anna", context=context)
    await join_in_ui(anna, "Anna")
    ben = await harness.open(f"/play?pin={quiz['pin']}", name="Ben")
    await join_in_ui(ben, "Ben")
    async with host_socket(srv, quiz["host_token"]) as host:
        await host.act("start")
        await expect(anna.locator("#question")).to_be_visible()
        await cut_connection(context, anna)
        await anna.locator('button.option[data-option="0"]').click()
        await expect(anna.locator("#locked")).to_have_text("Sending your answer…")
        await restore_connection(context, anna)
        await expect(anna.locator("#locked")).to_have_text("Answer locked in", timeout=15_000)
        await host.act("close")
        await expect(ben.locator("#result")).to_have_text(
            "The host closed this question – no answer. +0 points"
        )
        await host.act("next")
        await expect(ben.locator("#question-number")).to_have_text("Question 2 of 2")
        await host.act("skip")
        await expect(ben.locator("#result")).to_have_text(
            "The host skipped this question: it does not count."
        )


async def test_a_late_joiner_a_skipped_question_and_ranks_say_nothing_false(
    harness: Harness, srv: RunningServer
) -> None:
    """Issue 18, point 5 (the rest): a student who joins between questions is not told "no
    answer" for a question they never saw, nor given it to review; a skipped question counts
    for nobody (points taken back, in no review); no "#1 of 3" in the lobby or for a wrong
    answer while everyone is still at 0."""
    quiz = await srv.create_quiz(
        count=3, settings={"time_limit_ms": 60_000, "close_when_all_answered": False}
    )
    pin = quiz["pin"]
    session = session_for_pin(srv, pin)
    anna = await harness.open(f"/play?pin={pin}", name="Anna")
    await join_in_ui(anna, "Anna")
    ben = await harness.open(f"/play?pin={pin}", name="Ben")
    await join_in_ui(ben, "Ben")
    await expect(ben.locator("#lobby")).to_be_visible()
    await expect(anna.locator("#my-rank")).to_have_text("–")  # the lobby: no rank
    async with host_socket(srv, quiz["host_token"]) as host:
        await host.act("start")
        await expect(ben.locator("#question-number")).to_have_text("Question 1 of 3")
        words = [q.word for q in session.questions]
        await ben.locator(f'button.option[data-option="{wrong_option(srv, pin)}"]').click()
        await expect(ben.locator("#locked")).to_have_text("Answer locked in")
        await expect(ben.locator("#my-rank")).to_have_text("–")  # 0 points: no "#1 of 2"
        await anna.locator(f'button.option[data-option="{correct_option(srv, pin)}"]').click()
        await expect(anna.locator("#my-rank")).to_have_text("#1 of 2")
        await host.act("close")
        await expect(ben.locator("#reveal")).to_be_visible()

        # Cleo joins between questions: the closed question was never hers
        cleo = await harness.open(f"/play?pin={pin}", name="Cleo")
        await join_in_ui(cleo, "Cleo")
        await expect(cleo.locator("#lobby-wait")).to_have_text(
            "The quiz is between questions (1 of 3 just closed). The next one is yours."
        )
        await expect(cleo.locator("#question")).to_be_hidden()
        await expect(cleo.locator("#result")).to_be_hidden()

        # question 2: Anna right, then the host skips it: her points for it are taken back
        await host.act("next")
        await expect(cleo.locator("#question-number")).to_have_text("Question 2 of 3")
        score_before = session.players[1].score
        await anna.locator(f'button.option[data-option="{correct_option(srv, pin)}"]').click()
        await expect(anna.locator("#result")).to_contain_text("Right!")
        assert session.players[1].score > score_before
        await host.act("skip")
        await expect(anna.locator("#question-number")).to_have_text("Question 3 of 3")
        await expect(anna.locator("#note")).to_have_text(
            "Question 2 was skipped by the host: it does not count."
        )
        await expect(anna.locator("#my-score")).to_have_text(f"{score_before:,}")  # en-US digits
        assert session.players[1].score == score_before

        await host.act("close")
        await host.act("next")  # the end
    for page in (anna, ben, cleo):
        await expect(page.locator("#finished")).to_be_visible()
    reviewed = {
        name: await page.locator("#review .word").all_inner_texts()
        for name, page in (("Anna", anna), ("Ben", ben), ("Cleo", cleo))
    }
    assert reviewed == {
        "Anna": [words[2]],  # question 3 unanswered; question 2 skipped
        "Ben": [words[0], words[2]],
        "Cleo": [words[2]],  # question 1 closed before she came
    }
    await expect(anna.locator("#final-summary")).to_contain_text("with 1 of 1 answers right")


async def test_the_teacher_sees_who_has_not_answered_without_scrolling(
    harness: Harness, srv: RunningServer
) -> None:
    """Issue 18, point 3: at 1280x800 the host page shows, under the answered count, who has
    not answered yet (away students last, marked); during the game the join code is one line
    and the QR code is gone; the player list marks each student; a reload keeps the marks."""
    host = await harness.open("/host", "desktop", name="host")
    pin = await create_quiz_in_ui(host, count=2, seconds=60)
    session = session_for_pin(srv, pin)
    names = ["Anna", "Ben", "Cleo", "Dev", "Eve"]
    async with contextlib.AsyncExitStack() as stack:
        clients = {}
        for name in names:
            joined = await srv.join(pin, name)
            clients[name] = await stack.enter_async_context(open_client(srv, name, joined["token"]))
        await expect(host.locator("#players li[data-player-id]")).to_have_count(5)
        await expect(host.locator("#qr")).to_be_visible()  # the lobby: the QR code for joining
        await host.locator("#start-button").click()
        await expect(host.locator("#waiting")).to_have_text(
            "Not answered yet: Anna, Ben, Cleo, Dev, Eve."
        )
        await expect(host.locator("#qr")).to_be_hidden()
        panel = await host.locator("#join-panel").bounding_box()
        assert panel is not None
        assert panel["height"] <= 100, panel
        await expect(host.locator("#join-panel")).to_contain_text(pin)

        for name in ("Anna", "Ben", "Cleo"):
            ack = await clients[name].answer(0, wrong_option(srv, pin))
            assert ack["type"] == "ack", ack
        # Eve's phone drops: after the presence grace she is away, listed last
        await clients["Eve"].ws.close()
        eve = next(p for p in session.players.values() if p.nickname == "Eve")
        for _ in range(100):
            if not eve.present:
                break
            await asyncio.sleep(0.1)
        assert not eve.present
        await expect(host.locator("#answered-count")).to_have_text("3 of 5 answered")
        await expect(host.locator("#waiting")).to_have_text("Not answered yet: Dev, Eve (away).")
        box = await host.locator("#waiting").bounding_box()
        assert box is not None
        assert box["y"] + box["height"] <= 800, box  # no scrolling
        line = host.locator('#players li:has-text("Anna") .state')
        await expect(line).to_have_text("✓ answered")
        await expect(host.locator('#players li:has-text("Eve") .state')).to_have_text(
            "not answered yet (away)"
        )

        await host.reload()  # the marks come back with the snapshot
        await expect(host.locator("#waiting")).to_have_text("Not answered yet: Dev, Eve (away).")
        await expect(host.locator('#players li:has-text("Ben") .state')).to_have_text("✓ answered")

        await host.locator("#close-button").click()
        await expect(host.locator("#waiting")).to_be_hidden()
        await expect(host.locator('#players li:has-text("Dev") .state')).to_have_text("no answer")
        await expect(host.locator('#players li:has-text("Eve") .state')).to_have_text(
            "no answer (away)"
        )
        await host.locator("#next-button").click()  # a new question: nobody has answered it
        await expect(host.locator("#waiting")).to_have_text(
            "Not answered yet: Anna, Ben, Cleo, Dev, Eve (away)."
        )


LONG = "a long answer that wraps over several lines on a small phone, as definitions do: "


def _long_question(n: int) -> dict[str, object]:
    return {
        "prompt": f"Question {n}: which of these means something rather long to read? " * 2,
        "options": [f"{LONG}{letter}" for letter in "ABCD"],
        "correct_option": 3,
        "kind": "word_to_meaning",
        "word": f"word{n}",
        "definition": "the definition",
    }


@pytest.mark.parametrize(
    ("size", "smallest_px"),
    # 1080p, the widescreen classroom projectors (720p, WXGA 1280x800) and the old 4:3 ones
    # (XGA 1024x768): the same layout, its type scaled with the screen's height
    [((1920, 1080), 24), ((1280, 720), 16), ((1280, 800), 17), ((1024, 768), 15)],
)
async def test_the_reveal_of_four_long_definitions_fits_the_projector(
    harness: Harness, srv: RunningServer, size: tuple[int, int], smallest_px: float
) -> None:
    """Four options as long as the longest the generator makes (~120 characters: whole
    definitions) under a long prompt, and a long answer to reveal: the reveal still ends on a
    1080p projector (a smaller type for the options and the prompt, not a scrolled screen)."""
    definition = ("relating to or characteristic of something that is said at length, " * 2)[:120]
    question = {
        "prompt": "Which of these is the meaning of 'circumlocutory' in ordinary English?",
        "options": [f"{definition[:-1]}{letter}" for letter in "ABCD"],
        "correct_option": 2,
        "kind": "word_to_meaning",
        "word": "circumlocutory",
        "definition": definition,
    }
    response = await srv.http.post("/api/quizzes", json={"questions": [question]})
    assert response.status_code == 201, response.text
    quiz = response.json()
    await srv.join(quiz["pin"], "Anna")
    screen = await harness.open(f"/screen#token={quiz['host_token']}", size, name="screen")
    async with host_socket(srv, quiz["host_token"]) as host:
        await host.act("start")
        await expect(screen.locator("#screen-question")).to_be_visible()
        await host.act("close")
        reveal = screen.locator("#screen-reveal")
        await expect(reveal).to_be_visible()
        await expect(reveal).to_contain_text("circumlocutory")
        box = await reveal.bounding_box()
        assert box is not None
        assert box["y"] + box["height"] <= size[1], box
        # still read from the back row
        assert await px(screen, "#screen-options .opt-0") >= smallest_px


@pytest.mark.parametrize("size", [(320, 568), (360, 640), (390, 844)])
async def test_a_small_phone_shows_the_result_and_the_timer_not_the_option_tapped(
    harness: Harness, srv: RunningServer, size: tuple[int, int]
) -> None:
    """Issue 18, point 2: after tapping the last of four long options, the result and the
    timer are on screen; between questions no frozen "0" but what comes next; a question
    that opens while the student is scrolled down opens at the top."""
    response = await srv.http.post(
        "/api/quizzes",
        json={
            "questions": [_long_question(1), _long_question(2)],
            "time_limit_s": 60,
            "settings": {"close_when_all_answered": False},
        },
    )
    assert response.status_code == 201, response.text
    quiz = response.json()
    phone = await harness.open(f"/play?pin={quiz['pin']}", size, name="phone")
    await join_in_ui(phone, "Anna")
    await expect(phone.locator("#lobby")).to_be_visible()
    async with host_socket(srv, quiz["host_token"]) as host:
        await host.act("start")
        await expect(phone.locator("#question-number")).to_have_text("Question 1 of 2")
        assert await phone.evaluate("document.documentElement.scrollHeight > innerHeight")
        await phone.locator('button.option[data-option="3"]').click()  # scrolled to, tapped
        await expect(phone.locator("#result")).to_have_text(re.compile(r"^Right! \+[\d,]+ points$"))
        for shown in ("#result", "#locked", "#countdown"):
            assert await in_view(phone, shown), shown
        await expect(phone.locator("#locked")).to_be_focused()

        await host.act("close")
        await expect(phone.locator("#between")).to_have_text("Next question soon")
        await expect(phone.locator("#countdown")).to_be_hidden()
        assert await in_view(phone, "#result")
        assert await in_view(phone, "#between")

        await phone.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
        await host.act("next")
        await expect(phone.locator("#question-number")).to_have_text("Question 2 of 2")
        for shown in ("#prompt", "#countdown", "#question-number"):
            assert await in_view(phone, shown), shown
        await phone.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
        assert await in_view(phone, "#countdown")  # the timer stays in view while scrolling
        await host.act("close")
        await expect(phone.locator("#between")).to_have_text("Last question: results next")


@pytest.mark.parametrize("size", [(320, 568), (390, 844)])
async def test_a_small_phone_shows_its_score_rank_and_team_without_scrolling_sideways(
    harness: Harness, srv: RunningServer, size: tuple[int, int]
) -> None:
    """The header of a phone in a team game: score, rank and team beside the name and the
    contrast button. At 390 px the rank was cut off (found in the demo video); what does not
    fit goes to a second line, never off the side of the screen."""
    response = await srv.http.post(
        "/api/quizzes",
        json={"questions": [_long_question(1)], "time_limit_s": 60, "settings": {"teams": 6}},
    )
    assert response.status_code == 201, response.text
    quiz = response.json()
    phone = await harness.open(f"/play?pin={quiz['pin']}", size, name="phone")
    await join_in_ui(phone, "Anna")
    async with host_socket(srv, quiz["host_token"]) as host:
        await host.act("start")
        await phone.locator('button.option[data-option="3"]').click()
        await expect(phone.locator("#result")).to_have_text(re.compile(r"^Right!"))
        await expect(phone.locator("#my-rank")).to_have_text("#1 of 1")
        await expect(phone.locator("#my-team")).to_contain_text(", 1st")
    await expect(phone.locator("#my-score")).to_have_text(re.compile(r"^\d{3}$|^1,000$"))

    async def header_fits() -> None:
        for shown in ("#my-score", "#my-rank", "#my-team", "#contrast", ".brand"):
            assert await in_view(phone, shown), (shown, size)
        assert await phone.evaluate("document.documentElement.scrollWidth <= innerWidth")

    await header_fits()
    # The widest it gets: a five-digit score, a rank in a whole school, the longest team name.
    await phone.evaluate(
        """() => { document.getElementById("my-score").textContent = "88,888";
                   document.getElementById("my-rank").textContent = "#4,999 of 5,000";
                   document.getElementById("my-team").textContent = "● Yellow, 6th"; }"""
    )
    await header_fits()


async def test_the_moments_players_wait_for(harness: Harness, srv: RunningServer) -> None:
    """Issue 18, point 9: the streak, "you moved up", "N points behind Mia", "you won" on the
    winner's phone, and a podium the big screen reveals third place first."""
    quiz = await srv.create_quiz(
        count=2, settings={"time_limit_ms": 60_000, "close_when_all_answered": False}
    )
    pin = quiz["pin"]
    session = session_for_pin(srv, pin)
    screen = await harness.open(f"/screen#token={quiz['host_token']}", "projector", name="screen")
    anna = await harness.open(f"/play?pin={pin}", name="Anna")
    await join_in_ui(anna, "Anna")
    ben = await harness.open(f"/play?pin={pin}", name="Ben")
    await join_in_ui(ben, "Ben")
    cleo_joined = await srv.join(pin, "Cleo")
    real = srv.service.clock
    try:
        async with (
            host_socket(srv, quiz["host_token"]) as host,
            open_client(srv, "Cleo", cleo_joined["token"]) as cleo,
        ):
            await host.act("start")
            await expect(ben.locator("#question-number")).to_have_text("Question 1 of 2")
            await anna.locator(f'button.option[data-option="{correct_option(srv, pin)}"]').click()
            await expect(anna.locator("#locked")).to_have_text("Answer locked in")
            srv.service.clock = lambda: real() + 20_000  # Ben answers 20 s later: fewer points
            await ben.locator(f'button.option[data-option="{correct_option(srv, pin)}"]').click()
            await expect(ben.locator("#locked")).to_have_text("Answer locked in")
            assert (await cleo.answer(0, wrong_option(srv, pin)))["type"] == "ack"
            await host.act("close")
            scores = player_scores(session)
            assert scores["Anna"] > scores["Ben"] > 0
            await expect(anna.locator("#place")).to_have_text("You're 1st of 3: in the lead!")
            gap = scores["Anna"] - scores["Ben"]
            await expect(ben.locator("#place")).to_have_text(
                f"You're 2nd of 3. {gap:,} points behind Anna."
            )
            await expect(ben.locator("#streak")).to_be_hidden()  # one right answer: no streak

            await host.act("next")  # Ben right at once (a streak of 2), Anna wrong
            await expect(ben.locator("#question-number")).to_have_text("Question 2 of 2")
            await ben.locator(f'button.option[data-option="{correct_option(srv, pin)}"]').click()
            await expect(ben.locator("#streak")).to_have_text("🔥 2 in a row")
            await anna.locator(f'button.option[data-option="{wrong_option(srv, pin)}"]').click()
            await host.act("close")
            scores = player_scores(session)
            assert scores["Ben"] > scores["Anna"]
            await expect(ben.locator("#place")).to_have_text(
                "You moved up to 1st of 3: in the lead!"
            )
            await expect(anna.locator("#place")).to_have_text(
                f"You're 2nd of 3. {scores['Ben'] - scores['Anna']:,} points behind Ben."
            )
            await host.act("next")  # the end
            await expect(ben.locator("#finished-title")).to_have_text("You won! 🏆")
            await expect(anna.locator("#finished-title")).to_have_text("Quiz over")
            # the big screen: third, then second, then the winner
            podium = screen.locator("#screen-podium li")
            await expect(podium).to_have_count(3)
            await expect(screen.locator("#screen-podium li:visible")).to_have_count(1)
            await expect(podium.nth(2)).to_be_visible()
            await expect(podium.nth(0)).to_be_hidden()
            await expect(screen.locator("#screen-podium li:visible")).to_have_count(3)
            await expect(podium.nth(0)).to_contain_text("Ben")
    finally:
        srv.service.clock = real


CONTRAST = """e => {
  const rgb = (c) => c.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const lum = (c) => {
    const linear = (v) => {
      const s = v / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    };
    const [r, g, b] = rgb(c).map(linear);
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const style = getComputedStyle(e);
  if (Number(style.opacity) < 1) return 0;
  const [a, b] = [lum(style.color), lum(style.backgroundColor)].sort((x, y) => y - x);
  return (a + 0.05) / (b + 0.05);
}"""


async def test_a_screen_reader_hears_the_question_its_answer_and_keeps_its_place(
    harness: Harness, srv: RunningServer
) -> None:
    """Issue 18, point 8: a new question is announced (focus on its prompt, not on option A),
    focus goes to "locked in" after answering (not the page body), the reveal announces the
    right answer, and the options not chosen stay readable (contrast >= 4.5:1)."""
    quiz = await srv.create_quiz(
        count=2, settings={"time_limit_ms": 60_000, "close_when_all_answered": False}
    )
    pin = quiz["pin"]
    session = session_for_pin(srv, pin)
    anna = await harness.open(f"/play?pin={pin}", name="Anna")
    await join_in_ui(anna, "Anna")
    await expect(anna.locator("#lobby")).to_be_visible()
    announcer = anna.locator("#announcer")
    async with host_socket(srv, quiz["host_token"]) as host:
        await host.act("start")
        question = session.question
        assert question is not None
        await expect(anna.locator("#prompt")).to_be_focused()
        await expect(announcer).to_contain_text(f"Question 1 of 2. {question.prompt}")
        await expect(announcer).to_contain_text(f"A, {question.options[0]}")
        wrong = wrong_option(srv, pin)
        await anna.keyboard.press(str(wrong + 1))  # the keys answer from anywhere
        await expect(anna.locator("#locked")).to_be_focused()
        for i, button in enumerate(await anna.locator("button.option:visible").all()):
            ratio = await button.evaluate(CONTRAST)
            assert ratio >= 4.5, (i, ratio)
        await host.act("close")
        right = question.correct_option
        await expect(announcer).to_contain_text(
            f"Wrong. The answer: {'ABCD'[right]}, {question.options[right]}."
        )
        focused = await anna.evaluate("document.activeElement.id")
        assert focused == "result"
        for i, button in enumerate(await anna.locator("button.option:visible").all()):
            ratio = await button.evaluate(CONTRAST)
            assert ratio >= 4.5, (i, ratio)


async def test_a_laptop_in_the_room_shows_a_link_phones_can_open(harness: Harness) -> None:
    """Issue 18, "join from the room": `livequiz serve --host 0.0.0.0`, the host page opened at
    127.0.0.1: the join link, the QR code and the big screen give the LAN address; a server on
    127.0.0.1 only says phones cannot join, instead of a link no phone can open."""
    lan = lan_address()
    if lan is None:
        pytest.skip("this machine has no route out, so no LAN address to offer")
    async with running_server(host="0.0.0.0") as room:
        local = f"http://127.0.0.1:{room.server.port}"
        host = await harness.open(f"{local}/host", "desktop", name="host in the room")
        pin = await create_quiz_in_ui(host, count=1, seconds=60)
        expected = f"http://{lan}:{room.server.port}/play?pin={pin}"
        await expect(host.locator("#join-link")).to_have_text(expected)
        assert await host.locator("#join-link").get_attribute("href") == expected
        await expect(host.locator("#join-warning")).to_be_hidden()
        qr = await host.locator("#qr").get_attribute("src")
        assert qr is not None
        svg = (await room.http.get(f"{local}{qr}")).text
        assert f"QR code to join: {expected}" in svg
        link = await host.locator("#screen-link").get_attribute("href")
        screen = await harness.open(f"{local}{link}", "projector", name="screen in the room")
        await expect(screen.locator("#screen-join-url")).to_have_text(
            expected.removeprefix("http://")
        )
        # a phone in the room opens the link (here: the same machine, by its LAN address)
        phone = await harness.open(expected, name="phone in the room")
        await join_in_ui(phone, "Anna")
        await expect(phone.locator("#lobby")).to_be_visible()
        for page in (phone, screen, host):  # before their server goes
            await page.close()

    host = await harness.open("/host", "desktop", name="host on localhost")  # 127.0.0.1 only
    await create_quiz_in_ui(host, count=1, seconds=60)
    await expect(host.locator("#join-warning")).to_have_text(LOCAL_ONLY_HINT)


async def test_a_student_whose_phone_died_comes_back_as_themselves(
    harness: Harness, srv: RunningServer
) -> None:
    """Issue 18, point 6: on a borrowed phone Leo's name is "taken" by his own away player;
    he asks, the teacher lets him in, and the borrowed phone is Leo with his score: one row
    in the results, no "Leo 2" at 0."""
    harness.console.allow(r"status of 409 \(Conflict\)")  # the name is taken: expected
    host = await harness.open("/host", "desktop", name="host")
    pin = await create_quiz_in_ui(host, count=2, seconds=60)
    session = session_for_pin(srv, pin)
    dying = await harness.context("phone")
    leo = await harness.open(f"/play?pin={pin}", name="Leo", context=dying)
    await join_in_ui(leo, "Leo")
    mia = await harness.open(f"/play?pin={pin}", name="Mia")
    await join_in_ui(mia, "Mia")
    await expect(host.locator("#players li[data-player-id]")).to_have_count(2)
    await host.locator("#start-button").click()
    await leo.locator(f'button.option[data-option="{correct_option(srv, pin)}"]').click()
    await expect(leo.locator("#result")).to_contain_text("Right!")
    score = player_scores(session)["Leo"]
    await dying.close()  # the phone dies
    leo_player = next(p for p in session.players.values() if p.nickname == "Leo")
    for _ in range(100):
        if not leo_player.present:
            break
        await asyncio.sleep(0.1)
    assert not leo_player.present

    borrowed = await harness.open(f"/play?pin={pin}", name="borrowed phone")
    await join_in_ui(borrowed, "Leo")
    await expect(borrowed.locator("#message")).to_contain_text("taken")
    await borrowed.get_by_role("button", name="I am Leo: ask my teacher to let me back in").click()
    await expect(borrowed.locator("#rejoin-wait")).to_have_text(
        "Waiting for your teacher to let you back in as Leo…"
    )
    request = host.locator('#rejoins-list li:has-text("Leo")')
    await expect(request).to_contain_text("Leo asks to come back on another device.")
    await request.get_by_role("button", name="Let Leo in").click()
    await expect(borrowed.locator("#question")).to_be_visible(timeout=10_000)
    await expect(borrowed.locator("#my-score")).to_have_text(number_first(score))
    await expect(borrowed.locator("#result")).to_contain_text("Right!")  # his answer, kept
    await expect(host.locator("#rejoins")).to_be_hidden()
    assert len(session.players) == 2  # no "Leo 2"
    assert leo_player.present


async def test_names_are_checked_before_the_big_screen_shows_them(
    harness: Harness, srv: RunningServer
) -> None:
    """Issue 18, point 7: "Poo Poo" is refused outright; with "Check names before they show",
    "Sam the Great" reaches neither the big screen nor the board until the teacher gives him a
    friendly name, while Anna shows once approved; a removed student's browser does not join
    again under another name."""
    harness.console.allow(r"status of 422")  # the refused name: expected
    host = await harness.open("/host", "desktop", name="host")
    await host.locator('#options input[name="approve_names"]').check()
    pin = await create_quiz_in_ui(host, count=1, seconds=60)
    session = session_for_pin(srv, pin)
    assert session.settings.approve_names is True
    link = await host.locator("#screen-link").get_attribute("href")
    assert link is not None
    screen = await harness.open(link, "projector", name="screen")
    await expect(screen.locator("#screen-pin-number")).to_have_text(pin)

    poo = await harness.open(f"/play?pin={pin}", name="Poo Poo")
    await join_in_ui(poo, "Poo Poo")
    await expect(poo.locator("#message")).to_have_text("Please choose a friendlier nickname.")
    sam = await harness.open(f"/play?pin={pin}", name="Sam")
    await join_in_ui(sam, "Sam the Great")
    await expect(sam.locator("#approval")).to_be_visible()
    anna = await harness.open(f"/play?pin={pin}", name="Anna")
    await join_in_ui(anna, "Anna")
    waiting = host.locator("#players li.unapproved")
    await expect(waiting).to_have_count(2)
    await expect(screen.locator("#screen-lobby-names li")).to_have_count(0)

    await host.get_by_role("button", name="Approve the name Anna").click()
    await expect(screen.locator("#screen-lobby-names li")).to_have_text(["Anna"])
    await expect(anna.locator("#named-note")).to_have_text(
        "Your name is approved: look for it on the big screen."
    )
    await host.get_by_role("button", name="Give a friendly name: Sam the Great").click()
    await expect(sam.locator("#lobby-nickname")).not_to_have_text("Sam the Great")
    (friendly,) = [p.nickname for p in session.players.values() if p.nickname != "Anna"]
    assert friendly != "Sam the Great"
    await expect(sam.locator("#named-note")).to_have_text(
        f"Your teacher gave you the name {friendly}."
    )
    await expect(screen.locator("#screen-lobby-names li")).to_have_text(["Anna", friendly])
    await expect(host.locator("#players li.unapproved")).to_have_count(0)

    # removed: this browser does not come straight back as someone else
    answer_next_dialog(host)
    await host.get_by_role("button", name=f"Remove {friendly}").click()
    await expect(sam.locator("#join-form")).to_be_visible()
    await join_in_ui(sam, "Totally Not Sam")
    await expect(sam.locator("#message")).to_have_text("The host removed you from this quiz.")
    assert all(p.nickname != "Totally Not Sam" for p in session.players.values())


async def test_the_host_form_options_become_the_quiz_settings(
    harness: Harness, srv: RunningServer
) -> None:
    """Issue 18, "options in the host form, in plain words": each box and choice reaches the
    quiz's settings as the server keeps them."""
    host = await harness.open("/host", "desktop", name="host")
    for name in ("speed", "streak", "reveal_now", "close_all", "late_join"):
        await host.locator(f'#options input[name="{name}"]').uncheck()
    await host.locator("#points").select_option("2000")
    pin = await create_quiz_in_ui(host, count=1, seconds=30)
    settings = session_for_pin(srv, pin).settings
    assert (settings.scoring.value, settings.base_points, settings.streak_bonus) == (
        "accuracy",
        2000,
        0,
    )
    assert (settings.reveal.value, settings.close_when_all_answered) == ("at_close", False)
    assert (settings.allow_late_join, settings.approve_names) == (False, False)
    assert settings.time_limit_ms == 30_000

    again = await harness.open("/host", "desktop", name="host 2")
    await again.locator("#points").select_option("0")
    pin = await create_quiz_in_ui(again, count=1)
    settings = session_for_pin(srv, pin).settings
    assert settings.scoring.value == "none"
    assert (settings.reveal.value, settings.close_when_all_answered) == ("immediate", True)


async def test_a_paused_question_stands_still_on_every_screen(
    harness: Harness, srv: RunningServer
) -> None:
    """Issue 18, pacing: the teacher pauses a question; phones and the big screen show
    "Paused", answers wait, and at the resume the time left is what it was."""
    host = await harness.open("/host", "desktop", name="host")
    pin = await create_quiz_in_ui(host, count=1, seconds=30)
    session = session_for_pin(srv, pin)
    link = await host.locator("#screen-link").get_attribute("href")
    assert link is not None
    screen = await harness.open(link, "projector", name="screen")
    anna = await harness.open(f"/play?pin={pin}", name="Anna")
    await join_in_ui(anna, "Anna")
    await expect(host.locator("#players li[data-player-id]")).to_have_count(1)
    await host.locator("#start-button").click()
    await expect(anna.locator("#question")).to_be_visible()
    deadline = session.closes_at_ms
    await host.locator("#pause-button").click()
    for page, clock in (
        (anna, "#countdown"),
        (screen, "#screen-countdown"),
        (host, "#host-countdown"),
    ):
        await expect(page.locator(clock)).to_have_text("Paused")
    await expect(anna.locator("#note")).to_have_text(
        "The teacher paused the question. Your time stands still."
    )
    for button in await anna.locator("button.option:visible").all():
        await expect(button).to_be_disabled()
    await expect(host.locator("#pause-button")).to_have_text("Resume")
    paused_at = session.paused_at_ms
    assert paused_at is not None
    await asyncio.sleep(2)
    await host.locator("#pause-button").click()
    await expect(anna.locator("#countdown")).to_have_text(re.compile(r"^\d+$"))
    assert session.paused_at_ms is None
    shift = session.closes_at_ms - deadline
    assert shift >= 2_000  # the pause's length, exactly (events: tests/domain)
    left = int(await anna.locator("#countdown").inner_text())
    assert abs(left * 1000 - (deadline - paused_at)) <= 1_500, (left, deadline - paused_at)
    await expect(anna.locator("#note")).to_be_hidden()
    await anna.locator('button.option[data-option="0"]').click()
    await expect(anna.locator("#result")).to_be_visible()


async def test_a_quizlet_set_becomes_a_quiz_with_the_lines_left_out_named(
    harness: Harness, srv: RunningServer, tmp_path: Path
) -> None:
    """Issue 18, "the teacher's own material": a Quizlet export (term, tab, definition) with two
    bad lines: the preview names them with their line and why, and offers the questions the
    other lines make, with the teacher's definitions as written."""
    quizlet = tmp_path / "quizlet-set.txt"
    quizlet.write_text(
        "harbour\ta place where ships stay safe\n"
        "ancient\tvery, very old\n"
        "brave\tbrave and not afraid\n"
        "whisper\tto speak very quietly\n"
        "glacier\ta slow river of ice\n"
        "zorbing\t\n",
        encoding="utf-8",
    )
    host = await harness.open("/host", "desktop", name="host")
    await host.locator('input[name="kind"][value="meaning_to_word"]').uncheck()
    await host.locator("#count").fill("4")
    await host.locator("#words-file").set_input_files(str(quizlet))
    await host.locator("#preview-button").click()
    await expect(host.locator("#preview-section")).to_be_visible()
    await expect(host.locator("#left-out-title")).to_have_text("2 lines of your file left out")
    lines = await host.locator("#left-out-list li").all_inner_texts()
    assert len(lines) == 2
    assert lines[0].startswith("line 3: ")
    assert "brave" in lines[0]
    assert lines[1].startswith("line 6: ")
    await expect(host.locator("#preview-list > li")).to_have_count(4)
    await host.locator("#preview-create").click()
    pin_display = host.locator("#pin-display")
    await expect(pin_display).to_have_text(re.compile(r"\d{6}"))
    session = session_for_pin(srv, await pin_display.inner_text())
    definitions = {
        "harbour": "a place where ships stay safe",
        "ancient": "very, very old",
        "whisper": "to speak very quietly",
        "glacier": "a slow river of ice",
    }
    assert sorted(q.word for q in session.questions) == sorted(definitions)
    for question in session.questions:
        assert question.options[question.correct_option] == definitions[question.word]


async def test_a_kahoot_spreadsheet_becomes_a_quiz_asked_as_written(
    harness: Harness, srv: RunningServer, tmp_path: Path
) -> None:
    """Issue 18, "the teacher's own material": a Kahoot! spreadsheet with one bad row: the
    preview shows the good questions as written and names the row left out; the quiz asks them
    and the reveal gives the answer."""
    sheet = tmp_path / "my-kahoot.xlsx"
    rows = [*KAHOOT_GOOD, ["Which is a fruit?", "apple", "chair", None, None, 20, "1,2"]]
    sheet.write_bytes(kahoot_file(rows))
    host = await harness.open("/host", "desktop", name="host")
    await host.locator("#kahoot-file").set_input_files(str(sheet))
    await host.locator("#create-button").click()  # a teacher's own questions: seen first
    await expect(host.locator("#preview-section")).to_be_visible()
    await expect(host.locator("#left-out-title")).to_have_text("1 line of your file left out")
    await expect(host.locator("#left-out-list li")).to_have_text(
        ["line 11: answers 1,2 are all marked correct: a livequiz question has one"]
    )
    await expect(host.locator("#preview-list .preview-prompt")).to_have_text(
        [row[0] for row in KAHOOT_GOOD]
    )
    await expect(host.locator("#preview-list .tag.kind").first).to_have_text("Your own question")
    await host.locator("#preview-create").click()
    pin_display = host.locator("#pin-display")
    await expect(pin_display).to_have_text(re.compile(r"\d{6}"))
    pin = await pin_display.inner_text()
    anna = await harness.open(f"/play?pin={pin}", name="Anna")
    await join_in_ui(anna, "Anna")
    await expect(host.locator("#players li[data-player-id]")).to_have_count(1)
    await host.locator("#start-button").click()
    await expect(anna.locator("#prompt")).to_have_text("What is the capital of France?")
    await anna.get_by_role("button", name=re.compile("Paris")).click()
    await expect(anna.locator("#result")).to_contain_text("Right!")
    await expect(anna.locator("#reveal")).to_have_text("The answer: Paris")


async def test_a_quiz_that_moves_on_by_itself_counts_down_on_every_screen(
    harness: Harness, srv: RunningServer
) -> None:
    """Issue 18, pacing: "Move on by itself after 5 seconds": after each reveal the phone and
    the big screen count down to the next question, which opens with nobody clicking."""
    host = await harness.open("/host", "desktop", name="host")
    await host.locator("#auto-advance").select_option("5000")
    pin = await create_quiz_in_ui(host, count=2, seconds=60)
    assert session_for_pin(srv, pin).settings.auto_advance_ms == 5_000
    link = await host.locator("#screen-link").get_attribute("href")
    assert link is not None
    screen = await harness.open(link, "projector", name="screen")
    anna = await harness.open(f"/play?pin={pin}", name="Anna")
    await join_in_ui(anna, "Anna")
    await expect(host.locator("#players li[data-player-id]")).to_have_count(1)
    await host.locator("#start-button").click()
    await anna.locator('button.option[data-option="0"]').click()  # everyone answered: reveal
    await expect(anna.locator("#between")).to_have_text(re.compile(r"^Next question in [1-5]$"))
    await expect(screen.locator("#screen-next")).to_have_text(
        re.compile(r"^Next question in [1-5]$")
    )
    await expect(anna.locator("#question-number")).to_have_text("Question 2 of 2", timeout=8_000)
    await expect(screen.locator("#screen-next")).to_be_hidden()
    await anna.locator('button.option[data-option="0"]').click()
    await expect(anna.locator("#between")).to_have_text(re.compile(r"^Results in [1-5]$"))
    await expect(anna.locator("#finished")).to_be_visible(timeout=8_000)


async def test_high_contrast_on_a_button_or_by_the_systems_setting(
    harness: Harness, srv: RunningServer
) -> None:
    """Issue 18, accommodations: a high-contrast palette (white on black, outlined options)
    from the page's button, remembered on reload, or from the system's "more contrast"; the
    options then read at 7:1 or more (the colour-blind-safe palette, with a shape and a letter
    on every option, is the default)."""
    quiz = await srv.create_quiz(count=1, settings={"close_when_all_answered": False})
    pin = quiz["pin"]
    anna = await harness.open(f"/play?pin={pin}", name="Anna")
    await join_in_ui(anna, "Anna")
    toggle = anna.locator("#contrast")
    await expect(toggle).to_have_attribute("aria-pressed", "false")
    await toggle.click()
    await expect(toggle).to_have_attribute("aria-pressed", "true")
    async with host_socket(srv, quiz["host_token"]) as host:
        await host.act("start")
        await expect(anna.locator("#question")).to_be_visible()
        for button in await anna.locator("button.option:visible").all():
            assert await button.evaluate(CONTRAST) >= 7
        assert await anna.locator("#prompt").evaluate(CONTRAST) >= 7
        await anna.reload()  # remembered by this browser
        await expect(anna.locator("#question")).to_be_visible()
        await expect(anna.locator("#contrast")).to_have_attribute("aria-pressed", "true")
        for button in await anna.locator("button.option:visible").all():
            assert await button.evaluate(CONTRAST) >= 7
        # a new browser whose system asks for more contrast gets it without the button
        context = await harness.context("phone")
        other = await context.new_page()
        harness.console.watch(other, "more contrast")
        await other.emulate_media(contrast="more")
        await other.goto(f"/play?pin={pin}")
        await expect(other.locator("#contrast")).to_have_attribute("aria-pressed", "true")
        await other.emulate_media(contrast="no-preference")
        fresh = await context.new_page()
        harness.console.watch(fresh, "no preference")
        await fresh.goto("/play")
        await expect(fresh.locator("#contrast")).to_have_attribute("aria-pressed", "false")


async def test_the_host_page_names_the_question_each_of_its_buttons_acts_on(
    harness: Harness, srv: RunningServer
) -> None:
    """A click on Close, Pause, Resume, Skip or Next names the question the page shows (`q`),
    so one that reaches the quiz after it moved on (a second tab, a link that healed late) is
    refused by the server instead of closing a question the teacher never saw."""
    host = await harness.open("/host", "desktop", name="host")
    sent: list[dict[str, Any]] = []

    def watch(socket: WebSocket) -> None:
        socket.on(
            "framesent",
            lambda payload: (
                sent.append(json.loads(payload))
                if isinstance(payload, str) and '"host"' in payload
                else None
            ),
        )

    host.on("websocket", watch)
    pin = await create_quiz_in_ui(host, count=3, seconds=60)
    session = session_for_pin(srv, pin)
    anna = await harness.open(f"/play?pin={pin}", name="Anna")
    await join_in_ui(anna, "Anna")
    await expect(host.locator("#players li[data-player-id]")).to_have_count(1)
    await host.locator("#start-button").click()
    await expect(host.locator("#host-question-number")).to_have_text("Question 1 of 3")
    await host.locator("#pause-button").click()
    await expect(host.locator("#pause-button")).to_have_text("Resume")
    await host.locator("#pause-button").click()
    await expect(host.locator("#pause-button")).to_have_text("Pause")
    await host.locator("#close-button").click()
    await expect(host.locator("#next-button")).to_be_visible()
    await host.locator("#next-button").click()
    await expect(host.locator("#host-question-number")).to_have_text("Question 2 of 3")
    await host.locator("#skip-button").click()
    await expect(host.locator("#host-question-number")).to_have_text("Question 3 of 3")
    assert session.current == 2
    assert [(f["action"], f.get("q")) for f in sent] == [
        ("start", None),
        ("pause", 0),
        ("resume", 0),
        ("close", 0),
        ("next", 0),
        ("skip", 1),
    ]


async def test_a_listening_question_plays_its_word_on_phones_and_the_big_screen(
    harness: Harness, srv: RunningServer
) -> None:
    """Issue 18, listening questions: the teacher ticks "Listening"; each phone and the big
    screen load the spoken word (it has a duration) and offer to play it again; the prompt
    does not give the word away."""
    host = await harness.open("/host", "desktop", name="host")
    for kind in ("word_to_meaning", "meaning_to_word"):
        await host.locator(f'input[name="kind"][value="{kind}"]').uncheck()
    pin = await create_quiz_in_ui(host, count=2, seconds=60, kind="listening")
    session = session_for_pin(srv, pin)
    assert {q.kind for q in session.questions} == {"listening"}
    link = await host.locator("#screen-link").get_attribute("href")
    assert link is not None
    screen = await harness.open(link, "projector", name="screen")
    anna = await harness.open(f"/play?pin={pin}", name="Anna")
    await join_in_ui(anna, "Anna")
    await expect(host.locator("#players li[data-player-id]")).to_have_count(1)
    await host.locator("#start-button").click()
    word = session.questions[0].word
    for page, box, audio in (
        (anna, "#listen", "#listen-audio"),
        (screen, "#screen-listen", "#screen-audio"),
    ):
        await expect(page.locator(box)).to_be_visible()
        duration = await page.wait_for_function(
            f"() => {{ const a = document.querySelector('{audio}');"
            " return a.readyState >= 1 && a.duration > 0.3 && a.duration; }"
        )
        assert 0.3 < float(await duration.json_value()) < 3.0
    await expect(anna.locator("#prompt")).to_have_text("Listen, then choose the word you hear.")
    assert word.casefold() not in (await anna.locator("#prompt").inner_text()).casefold()
    await anna.locator("#listen-button").click()
    await anna.wait_for_function(
        "() => { const a = document.querySelector('#listen-audio');"
        " return !a.paused || a.ended || a.currentTime > 0; }"
    )
    await expect(anna.locator("#listen-button")).to_have_accessible_name("▶ Hear the word again")
    if AXE_PATH.exists():  # installed by `make browser` (test_accessibility skips loudly)
        assert await audit(anna) == []
    right = session.questions[0].correct_option
    await anna.locator(f'button.option[data-option="{right}"]').click()
    await expect(anna.locator("#result")).to_contain_text("Right")


async def test_each_phone_shows_the_answers_in_its_own_order(
    harness: Harness, srv: RunningServer
) -> None:
    """Issue 18, "answer order shuffled per player": the teacher ticks it; two phones show the
    options in different orders, the big screen in the question's; a tap on the right answer
    wherever it is counts as right, and the reveal marks that button."""
    host = await harness.open("/host", "desktop", name="host")
    await host.locator('#options input[name="shuffle_options"]').check()
    pin = await create_quiz_in_ui(host, count=3, seconds=60)
    session = session_for_pin(srv, pin)
    assert session.settings.shuffle_options
    phones = {}
    for name in ("Anna", "Ben"):
        phones[name] = await harness.open(f"/play?pin={pin}", name=name)
        await join_in_ui(phones[name], name)
    await expect(host.locator("#players li[data-player-id]")).to_have_count(2)
    await host.locator("#start-button").click()
    question = session.questions[0]
    await expect(host.locator("#host-options li")).to_have_count(4)
    seen = {}
    for name, phone in phones.items():
        await expect(phone.locator("#question")).to_be_visible()
        texts = [await b.inner_text() for b in await phone.locator("button.option .text").all()]
        seen[name] = texts[:4]
        assert sorted(seen[name]) == sorted(question.options)
    host_texts = [await li.inner_text() for li in await host.locator("#host-options li").all()]
    assert all(o in t for o, t in zip(question.options, host_texts, strict=True))
    assert seen["Anna"] != seen["Ben"] or seen["Anna"] != list(question.options)
    for phone in phones.values():
        await phone.locator("button.option", has_text=question.answer).click()
        await expect(phone.locator("#result")).to_contain_text("Right")
    for phone in phones.values():  # everyone answered: the reveal
        right = phone.locator("button.option", has_text=question.answer)
        await expect(right).to_have_class(re.compile(r"\bcorrect\b"))
        await expect(phone.locator("button.option.wrong")).to_have_count(0)
    assert all(p.score > 0 for p in session.players.values())


async def test_the_teacher_gives_a_student_more_time_and_their_phone_counts_it(
    harness: Harness, srv: RunningServer
) -> None:
    """Issue 18, accommodations: "More time" beside a student gives them 50 % more on each
    question: their phone counts down from 30 s where the others' count from 20 s."""
    host = await harness.open("/host", "desktop", name="host")
    pin = await create_quiz_in_ui(host, count=2, seconds=20)
    session = session_for_pin(srv, pin)
    phones = {}
    for name in ("Anna", "Ben"):
        phones[name] = await harness.open(f"/play?pin={pin}", name=name)
        await join_in_ui(phones[name], name)
    await expect(host.locator("#players li[data-player-id]")).to_have_count(2)
    more = host.locator('#players li:has-text("Anna") button.extra-time')
    await expect(more).to_have_accessible_name("More time: Anna")
    await more.click()
    await expect(more).to_have_text("+50% time")
    anna = next(p for p in session.players.values() if p.nickname == "Anna")
    assert anna.extra_percent == 50
    await host.locator("#start-button").click()
    for phone in phones.values():
        await expect(phone.locator("#countdown")).to_have_text(re.compile(r"^\d+$"))
    anna_left = int(await phones["Anna"].locator("#countdown").inner_text())
    ben_left = int(await phones["Ben"].locator("#countdown").inner_text())
    assert 27 <= anna_left <= 30, anna_left
    assert 17 <= ben_left <= 20, ben_left
    if AXE_PATH.exists():  # the host's extra-time buttons pass the audit
        assert await audit(host) == []
    assert session.extra_ms(anna.id) == 10_000


async def test_reading_time_shows_the_prompt_alone_then_the_answers(
    harness: Harness, srv: RunningServer
) -> None:
    """Issue 18, "reading time before the options open": the teacher picks 3 seconds; phones
    and the big screen show the prompt alone, then the answers; the student answers then."""
    host = await harness.open("/host", "desktop", name="host")
    await host.locator("#reading-time").select_option("3000")
    pin = await create_quiz_in_ui(host, count=2, seconds=30)
    session = session_for_pin(srv, pin)
    assert session.settings.reading_ms == 3_000
    link = await host.locator("#screen-link").get_attribute("href")
    assert link is not None
    screen = await harness.open(link, "projector", name="screen")
    anna = await harness.open(f"/play?pin={pin}", name="Anna")
    await join_in_ui(anna, "Anna")
    await expect(host.locator("#players li[data-player-id]")).to_have_count(1)
    await host.locator("#start-button").click()
    await expect(anna.locator("#prompt")).to_have_text(session.questions[0].prompt)
    await expect(anna.locator("#reading")).to_be_visible()
    await expect(anna.locator("button.option:visible")).to_have_count(0)
    if AXE_PATH.exists():  # a phone while the question is read
        assert await audit(anna) == []
    await expect(screen.locator("#screen-options li")).to_have_count(0)
    # then the answers, on the phone and the big screen
    await expect(anna.locator("button.option:visible")).to_have_count(4, timeout=8_000)
    await expect(anna.locator("#reading")).to_be_hidden()
    await expect(screen.locator("#screen-options li")).to_have_count(4)
    right = session.questions[0].answer
    await anna.locator("button.option", has_text=right).click()
    await expect(anna.locator("#result")).to_contain_text("Right")


async def test_a_team_game_shows_the_team_board_on_every_page(
    harness: Harness, srv: RunningServer
) -> None:
    """Issue 18, teams: the teacher picks 2 teams; students join Red, Blue, Red; the big
    screen, the host and each phone show the team board (averages); the teacher moves a
    student to the other team; the finished screen names the winning team."""
    host = await harness.open("/host", "desktop", name="host")
    await host.locator("#teams").select_option("2")
    pin = await create_quiz_in_ui(host, count=1, seconds=60)
    session = session_for_pin(srv, pin)
    assert session.settings.teams == 2
    link = await host.locator("#screen-link").get_attribute("href")
    assert link is not None
    screen = await harness.open(link, "projector", name="screen")
    phones = {}
    for name in ("Anna", "Ben", "Cleo"):
        phones[name] = await harness.open(f"/play?pin={pin}", name=name)
        await join_in_ui(phones[name], name)
    await expect(host.locator("#players li[data-player-id]")).to_have_count(3)
    labels = ("▲ Red", "◆ Blue")
    team_of: dict[str, int] = {}
    for player in session.players.values():
        team = session.board.team_of(player.id)
        assert team is not None
        team_of[player.nickname] = team
    for name, team in team_of.items():  # each page says the player's team
        line = host.locator(f'#players li:has-text("{name}") button.team-move')
        await expect(line).to_have_text(labels[team])
        await expect(phones[name].locator("#my-team")).to_contain_text(labels[team][2:])
    # the one alone (the winner-to-be) answers right; one of the pair moves over to them
    solo = next(n for n, t in team_of.items() if list(team_of.values()).count(t) == 1)
    mover = next(n for n in team_of if n != solo)
    winner = team_of[mover]  # the one left behind in the pair stays there, and will lose
    await host.locator(f'#players li:has-text("{mover}") button.team-move').click()
    await expect(host.locator(f'#players li:has-text("{mover}") button.team-move')).to_have_text(
        labels[team_of[solo]]
    )
    assert sorted(session.team_sizes) == [1, 2]
    await host.locator("#start-button").click()
    right = session.questions[0].answer
    wrong = next(o for o in session.questions[0].options if o != right)
    # the one left in the old team answers right: that team (of one) wins on average
    stayer = next(n for n in team_of if n not in (solo, mover))
    await phones[stayer].locator("button.option", has_text=right).click()
    name = labels[winner][2:]
    for page, teams in ((screen, "#screen-teams"), (host, "#host-teams")):
        await expect(page.locator(f"{teams} li")).to_have_count(2)
        await expect(page.locator(f"{teams} li").first).to_contain_text(name)
    await expect(phones[stayer].locator("#teams li.me")).to_contain_text(name)
    await expect(phones[stayer].locator("#my-team")).to_have_text(f"{labels[winner]}, 1st")
    if AXE_PATH.exists():  # the team boards and buttons pass the audit too
        for page in (host, screen, phones[stayer]):
            assert await audit(page) == []
    for other in (solo, mover):
        await phones[other].locator("button.option", has_text=wrong).click()
    await host.locator("#next-button").click()  # after the last question: the end
    await expect(screen.locator("#screen-podium-title")).to_have_text(f"Podium · {name} wins")
    await expect(screen.locator("#screen-teams li").first).to_contain_text(name)


async def test_students_pick_their_team_on_the_join_page(
    harness: Harness, srv: RunningServer
) -> None:
    """Issue 18, teams "chosen": the teacher lets students pick; the join page offers the
    quiz's teams (and only with a quiz ID that has them); Bea picks Blue and is in Blue."""
    host = await harness.open("/host", "desktop", name="host")
    await host.locator("#teams").select_option("2")
    await host.locator('#options input[name="team_choice"]').check()
    pin = await create_quiz_in_ui(host, count=1, seconds=60)
    session = session_for_pin(srv, pin)
    assert (session.settings.teams, session.settings.team_choice) == (2, True)
    bea = await harness.open("/play", (360, 640), name="Bea")
    await expect(bea.locator("#team-pick")).to_be_hidden()
    await bea.locator("#pin").fill(pin)
    await expect(bea.locator("#team-pick")).to_be_visible()
    await expect(bea.locator("#team-options label")).to_have_text(["▲ Red", "◆ Blue"])
    await bea.get_by_label("◆ Blue").check()
    await join_in_ui(bea, "Bea")
    await expect(bea.locator("#my-team")).to_contain_text("Blue")
    player = next(iter(session.players.values()))
    assert session.board.team_of(player.id) == 1
    if AXE_PATH.exists():
        assert await audit(bea) == []
