"""Simulated players and a self-driving host, over real WebSocket connections.

``livequiz demo`` starts a server and runs quizzes with simulated players so that a newcomer sees
a live game at once, and can join it (``livequiz play``) between the bots. The bots are ordinary
clients of the public protocol: they join over HTTP, say ``hello`` with their token, and answer
after a human-like think time, sometimes wrongly — the server cannot tell them from people.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from livequiz.client import QuizClient

NAMES = (
    "Ada", "Bao", "Chiara", "Dmitri", "Elif", "Farah", "Gabriel", "Hana", "Ivan", "Jonas",
    "Kemal", "Lucia", "Mateo", "Nadia", "Oskar", "Priya", "Quentin", "Rosa", "Sami", "Tomás",
    "Uma", "Viktor", "Wen", "Ximena", "Yusuf", "Zofia",
)  # fmt: skip


@dataclass
class Bot:
    """A simulated learner: how often they know the answer and how fast they are."""

    nickname: str
    skill: float
    speed_s: float
    rng: random.Random


@dataclass
class DemoState:
    """What the terminal display shows; updated from the frames the host receives."""

    pin: str = ""
    title: str = ""
    #: The demo quiz's host token: the big screen's link carries it (as the host page's does).
    host_token: str = ""
    #: Where phones join (``--public-url`` or the LAN address, else the local one).
    join_base: str = ""
    phase: str = "lobby"
    question: str = ""
    index: int = -1
    count: int = 0
    answered: int | None = None
    players: int = 0
    board: list[dict[str, Any]] = field(default_factory=list)
    reveal: str = ""


async def create_quiz(base_url: str, *, questions: int, seconds: int, seed: int) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        response = await http.post(
            "/api/quizzes",
            json={
                "title": "livequiz demo",
                "count": questions,
                "time_limit_s": seconds,
                "seed": seed,
                "levels": ["A2", "B1", "B2"],
            },
        )
        response.raise_for_status()
        created: dict[str, Any] = response.json()
        return created


#: How a simulated player "knows" the answer: the demo runs inside the server process and asks it.
#: Only the simulation does this; real clients never see the answer before the close.
Peek = Callable[[int], int]


async def run_bot(
    base_url: str, ws_url: str, pin: str, bot: Bot, peek: Peek, stop: asyncio.Event
) -> None:
    """Join over HTTP, then answer every question (reconnecting after drops) until the end."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        response = await http.post(f"/api/quizzes/{pin}/players", json={"nickname": bot.nickname})
        if response.status_code != 201:
            return
        token = response.json()["token"]
    answered: set[int] = set()
    tasks: set[asyncio.Task[None]] = set()

    def on_frame(frame: dict[str, Any]) -> None:
        question = None
        if frame.get("type") == "question":
            question = frame["question"]
        elif frame.get("type") in ("welcome", "snapshot"):
            question = frame["state"].get("question")
            if frame["state"].get("answer") is not None:
                answered.add(frame["state"]["answer"]["index"])
        if question is not None and question.get("open") and question["index"] not in answered:
            answered.add(question["index"])
            task = asyncio.create_task(_answer(client, bot, question, peek))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    client = QuizClient(ws_url, token, on_frame, rng=bot.rng)
    try:
        await client.run(stop)
    finally:
        for task in tasks:
            task.cancel()


async def _answer(client: QuizClient, bot: Bot, question: dict[str, Any], peek: Peek) -> None:
    limit_s = question["remaining_ms"] / 1000
    think = min(bot.rng.expovariate(1 / bot.speed_s) + 0.8, limit_s * 0.9)
    await asyncio.sleep(think)
    correct = peek(question["index"])
    if bot.rng.random() < bot.skill:
        choice = correct
    else:
        choice = bot.rng.choice([o for o in range(len(question["options"])) if o != correct])
    await client.send({"type": "answer", "q": question["index"], "option": choice})


async def run_host(
    ws_url: str,
    host_token: str,
    state: DemoState,
    *,
    lobby_s: float,
    reveal_s: float,
    on_change: Callable[[], None],
    stop: asyncio.Event,
) -> None:
    """Drive the quiz: start after the lobby wait, move on after each reveal, until it finishes."""
    loop = asyncio.get_running_loop()
    timers: list[asyncio.TimerHandle] = []

    def later(delay: float, action: str) -> None:
        def fire() -> None:
            task = asyncio.create_task(client.send({"type": "host", "action": action}))
            task.add_done_callback(lambda _t: None)

        timers.append(loop.call_later(delay, fire))

    def on_frame(frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        _update(state, frame)
        on_change()
        if kind == "welcome" and frame["state"]["phase"] == "lobby" and not timers:
            later(lobby_s, "start")
        elif kind == "welcome" and frame["state"]["phase"] == "question_closed":
            later(reveal_s, "next")  # came back after a drop during a reveal
        elif kind == "closed":
            later(reveal_s, "next")

    client = QuizClient(ws_url, host_token, on_frame)
    try:
        await client.run(stop)
    finally:
        for timer in timers:
            timer.cancel()


def _update(state: DemoState, frame: dict[str, Any]) -> None:
    kind = frame.get("type")
    if kind == "welcome":
        state.phase = frame["state"]["phase"]
    elif kind == "question":
        question = frame["question"]
        state.phase = "question_open"
        state.question, state.index, state.count = (
            question["prompt"],
            question["index"],
            question["count"],
        )
        state.reveal = ""
    elif kind == "board":
        state.players, state.answered, state.board = (
            frame["players"],
            frame["answered"],
            frame["top"],
        )
        state.phase = frame["phase"]
    elif kind == "closed":
        reveal = frame["reveal"]
        state.phase = "question_closed"
        state.reveal = f"{reveal['word']}: {reveal['definition']}"
    elif kind in ("finished", "final"):
        state.phase = "finished"


def make_bots(count: int, seed: int) -> list[Bot]:
    rng = random.Random(seed)
    names = list(NAMES)
    rng.shuffle(names)
    bots = []
    for n in range(count):
        name = names[n % len(names)] + ("" if n < len(names) else f" {n // len(names) + 1}")
        bots.append(
            Bot(
                name,
                skill=rng.uniform(0.4, 0.95),
                speed_s=rng.uniform(1.5, 6.0),
                rng=random.Random(rng.random()),
            )
        )
    return bots


def local_base(base_url: str) -> str:
    """``base_url`` as a browser on this machine opens it: a server listening on every
    interface (``0.0.0.0``, ``::``) is reached at the loopback address."""
    parts = urlsplit(base_url)
    host = (parts.hostname or "").strip("[]")
    if host in ("", "0.0.0.0"):
        return f"{parts.scheme}://127.0.0.1:{parts.port}"
    if host == "::":
        return f"{parts.scheme}://[::1]:{parts.port}"
    return base_url


def render(state: DemoState, base_url: str, *, links: bool = True) -> str:
    """The terminal screen: where to open the game (the pages, the terminal client), the
    question, and the live leaderboard.

    On a terminal every screen has the links: it is redrawn from the top at each change, so
    links printed once would be gone with the first redraw. A log (``links=False`` after the
    first screen) says them once."""
    lines = [f"livequiz demo — quiz ID {state.pin}   ({base_url})"]
    if links:
        local = local_base(base_url)
        join = f"{state.join_base or local}/play?pin={state.pin}"
        lines += [
            f"  join (a phone or a browser):  {join}",
            f"  big screen (the projector):   {local}/screen#token={state.host_token}",
            f"  host page (a quiz of yours):  {local}/host",
            f"join it from a terminal:  .venv/bin/livequiz play --server {base_url} "
            f"--pin {state.pin}",
        ]
    lines += ["", *_body(state)]
    return "\n".join(lines)


def status(state: DemoState) -> list[str]:
    """The lines of the screen that say where the quiz is (its phase, the question, how many
    answered): a log prints a screen only when they change."""
    return _body(state)[:2]


def _body(state: DemoState) -> list[str]:
    lines = []
    if state.phase == "lobby":
        lines.append(f"lobby: {state.players} players waiting; the quiz starts in a few seconds")
    elif state.index >= 0:
        status = {"question_open": "open", "question_closed": "closed", "finished": "finished"}.get(
            state.phase, state.phase
        )
        lines.append(f"question {state.index + 1}/{state.count} ({status}): {state.question}")
        if state.answered is not None:
            lines.append(f"answered: {state.answered}/{state.players}")
        if state.reveal:
            lines.append(f"answer — {state.reveal}")
    lines += ["", "rank  score  player"]
    for line in state.board:
        lines.append(f"{line['rank']:>4}  {line['score']:>5}  {line['nickname']}")
    return lines
