"""``livequiz demo`` and ``livequiz play``: what a newcomer runs first, run as they would."""

from __future__ import annotations

import asyncio
import io
import re
import sys

import pytest

from livequiz import terminal
from livequiz.app import ServerConfig, demo_game
from livequiz.demo import NAMES
from tests.server import running_server


async def test_the_demo_plays_a_whole_quiz_with_a_live_board() -> None:
    out = io.StringIO()
    config = ServerConfig(port=0, data_dir=None)
    await asyncio.wait_for(
        demo_game(config, out, 6, 2, 5, 0.5, 1, reveal_s=0.3, pause_s=0), timeout=60
    )
    screens = out.getvalue().split("livequiz demo — quiz ID ")[1:]
    assert screens, out.getvalue()
    assert re.match(r"\d{6} ", screens[0])  # the quiz ID to join with
    assert "livequiz play --server http://127.0.0.1:" in screens[0]
    assert any("question 1/2 (open)" in s for s in screens)
    last = screens[-1]
    assert "question 2/2 (finished)" in last
    board = re.findall(r"^\s+(\d+)\s+(\d+)\s+(.+)$", last, re.MULTILINE)
    assert len(board) == 6  # every simulated player is on the board
    assert {name for _rank, _score, name in board} <= set(NAMES)
    scores = [int(score) for _rank, score, _name in board]
    assert scores == sorted(scores, reverse=True)
    assert scores[0] > 0  # somebody answered right


async def test_play_joins_answers_and_shows_the_review(monkeypatch: pytest.MonkeyPatch) -> None:
    async with running_server() as srv:
        quiz = await srv.create_quiz(count=2, seed=3, time_limit_s=30)
        session = srv.server.store.session(quiz["quiz_id"])
        right = session.questions[0].correct_option + 1
        wrong = (session.questions[1].correct_option + 1) % 4 + 1
        monkeypatch.setattr(sys, "stdin", io.StringIO(f"{right}\n{wrong}\n"))
        out = io.StringIO()
        playing = asyncio.create_task(
            asyncio.to_thread(terminal.play, srv.base_url, quiz["pin"], "Tester", out)
        )
        async with srv.connect() as host:
            await srv.hello(host, quiz["host_token"])
            async with asyncio.timeout(10):
                while not session.players:
                    await asyncio.sleep(0.02)
            for action in ("start", "next", "next"):
                await srv.send(host, {"type": "host", "action": action})
                await srv.receive(host, "closed", "finished")
        assert await asyncio.wait_for(playing, 20) == 0
    text = out.getvalue()
    assert "Q1: " in text
    assert "Q2: " in text
    assert "right: +" in text
    assert "wrong: +0 points" in text
    assert re.search(r"final: #1 with \d+ points", text)
    assert f"review: {session.questions[1].word}" in text


def test_play_reports_an_unknown_quiz(capsys: pytest.CaptureFixture[str]) -> None:
    async def run() -> int:
        async with running_server() as srv:
            return await asyncio.to_thread(
                terminal.play, srv.base_url, "999999", "Tester", io.StringIO()
            )

    assert asyncio.run(run()) == 1
    assert "no live quiz" in capsys.readouterr().err


def test_play_reports_an_unreachable_server(capsys: pytest.CaptureFixture[str]) -> None:
    assert terminal.play("http://127.0.0.1:9", "123456", "Tester", io.StringIO()) == 1
    assert "cannot reach the quiz server" in capsys.readouterr().err
