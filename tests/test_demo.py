"""``livequiz demo`` and ``livequiz play``: what a newcomer runs first, run as they would."""

from __future__ import annotations

import asyncio
import io
import json
import re
import sys
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from websockets.asyncio.client import connect

from livequiz import terminal
from livequiz.app import ServerConfig, demo_game
from livequiz.demo import NAMES, DemoState, render
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


async def test_the_demo_prints_links_that_open_its_pages_for_its_quiz() -> None:
    """What a newcomer copies from ``make run`` into a browser: the join link, the big screen and
    the host page answer from the running demo with their own pages, for the demo's quiz."""
    out = io.StringIO()
    config = ServerConfig(port=0, data_dir=None)
    game = asyncio.create_task(
        demo_game(config, out, 1, 1, 2, 3.0, 1, reveal_s=0.1, pause_s=0)  # 3 s in the lobby
    )
    async with asyncio.timeout(20):
        while "host page" not in out.getvalue():
            await asyncio.sleep(0.02)
    first = out.getvalue()
    quiz_id = re.search(r"quiz ID (\d{6})", first)
    links = {
        label: re.search(rf"^\s*{label} \([^)]*\):\s+(http\S+)\s*$", first, re.MULTILINE)
        for label in ("join", "big screen", "host page")
    }
    assert quiz_id is not None, first
    assert all(links.values()), first
    join, screen, host = (urlsplit(m.group(1)) for m in links.values() if m is not None)
    assert (join.path, parse_qs(join.query)["pin"]) == ("/play", [quiz_id.group(1)])
    assert screen.path == "/screen"
    assert host.path == "/host"
    async with httpx.AsyncClient(timeout=10) as http:
        for url, title in ((join, "play"), (screen, "big screen"), (host, "host a quiz")):
            page = await http.get(url.geturl())  # a browser sends no fragment
            assert page.status_code == 200, url
            assert f"<title>livequiz – {title}</title>" in page.text, url
        quiz = await http.get(f"{join.scheme}://{join.netloc}/api/quizzes/{quiz_id.group(1)}")
        assert quiz.status_code == 200
        assert quiz.json()["phase"] == "lobby"  # a quiz the user can still join
    # the big screen's page opens the quiz with the token in its fragment, as the host
    token = parse_qs(screen.fragment)["token"][0]
    async with connect(f"ws://{screen.netloc}/ws", compression=None) as ws:
        await ws.send(json.dumps({"type": "hello", "token": token}))
        welcome = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert welcome["type"] == "welcome", welcome
    assert (welcome["role"], welcome["quiz"]["pin"]) == ("host", quiz_id.group(1))
    await asyncio.wait_for(game, timeout=60)
    log = out.getvalue()
    assert log.count("livequiz demo — quiz ID") > 1  # the game went on, screen after screen
    assert log.count("/screen#token=") == 1  # a log (not a terminal) says the links once


def test_the_demo_links_of_a_server_on_every_interface() -> None:
    """``livequiz demo --host 0.0.0.0``: the pages open on this machine at its loopback address;
    the join link is the one phones in the room use (the LAN address)."""
    state = DemoState(pin="123456", host_token="t0k3n", join_base="http://192.168.1.20:8000")
    screen = render(state, "http://0.0.0.0:8000")
    assert "http://192.168.1.20:8000/play?pin=123456" in screen
    assert "http://127.0.0.1:8000/screen#token=t0k3n" in screen
    assert "http://127.0.0.1:8000/host" in screen
    assert "0.0.0.0:8000/" not in screen  # no link a browser may refuse to open


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
