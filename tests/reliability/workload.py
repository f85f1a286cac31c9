"""The workload the fault tests run: quizzes played back to back by clients that ride out faults.

:func:`play_quiz` creates a quiz over HTTP, joins its players, and plays every question through
:class:`~tests.reliability.client.Client` objects: the host opens and closes questions, each
player answers after a random pause, and every answer is resent until acknowledged or refused.
Host actions are made idempotent the way a careful host client would: read the state (``sync``)
first, and only act if the action has not happened yet — a ``next`` whose ack was lost in a
crash is never sent twice. At the end it fetches the results and hands everything to the
checker (:mod:`tests.reliability.checker`).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from tests.reliability.checker import QuizHistory, Verdict
from tests.reliability.client import TIMEOUT_S, Client, Refused

Frame = dict[str, Any]


@dataclass
class Played:
    """What one or more quizzes did under the fault, for the report."""

    quizzes: int = 0
    questions: int = 0
    refused: int = 0
    reconnects: int = 0
    verdict: Verdict = field(default_factory=Verdict)
    #: every answer's time from first send to its ack, in seconds
    ack_latencies: list[float] = field(default_factory=list)

    def add(self, other: Played) -> None:
        self.quizzes += other.quizzes
        self.questions += other.questions
        self.refused += other.refused
        self.reconnects += other.reconnects
        self.verdict.add(other.verdict)
        self.ack_latencies.extend(other.ack_latencies)


async def http_retrying(
    base_url: Callable[[], str], method: str, path: str, expect: int, **kwargs: Any
) -> httpx.Response:
    """An HTTP request retried through refused connections and 503s, as a client would."""
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        try:
            async with httpx.AsyncClient(base_url=base_url(), timeout=10) as http:
                response = await http.request(method, path, **kwargs)
        except httpx.TransportError:
            response = None
        if response is not None and response.status_code == expect:
            return response
        if response is not None and response.status_code == 409:
            raise NicknameTaken(response.text)
        if response is not None and response.status_code != 503:
            raise AssertionError(f"{method} {path}: {response.status_code} {response.text}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{method} {path}: no {expect} within {TIMEOUT_S} s")
        await asyncio.sleep(0.05)


async def results_retrying(base_url: Callable[[], str], quiz_id: str, token: str) -> Frame:
    """The quiz's results as ``token`` may see them (the host's report, a player's own)."""
    response = await http_retrying(
        base_url,
        "GET",
        f"/api/quizzes/{quiz_id}/results",
        200,
        headers={"authorization": f"Bearer {token}"},
    )
    results: Frame = response.json()
    return results


async def join(base_url: Callable[[], str], pin: str, nickname: str) -> tuple[str, str]:
    """Join as ``nickname``; returns the nickname and the token. A join stored just before a
    crash whose reply was lost leaves its nickname taken: that player stays in the quiz with no
    answers (the checker expects exactly that), and the client joins again under another name,
    as a real one would."""
    for attempt in range(10):
        name = nickname if attempt == 0 else f"{nickname} {'abcdefghij'[attempt]}"
        try:
            joined = await http_retrying(
                base_url, "POST", f"/api/quizzes/{pin}/players", 201, json={"nickname": name}
            )
        except NicknameTaken:
            continue
        return name, str(joined.json()["token"])
    raise AssertionError(f"{nickname}: every name taken")


class NicknameTaken(AssertionError):
    """409 ``nickname_taken``."""


async def host_until(host: Client, action: str, done: Callable[[Frame], bool]) -> None:
    """Send ``action`` until ``done(state)`` holds, checking the state before each send."""
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        state = await host.state()
        if done(state):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"host {action}: state still {state['phase']}")
        with contextlib.suppress(ConnectionError, TimeoutError):
            reply = await host.request(
                {"type": "host", "action": action},
                lambda f: f["type"] in ("host_ack", "error") and f.get("action") == action,
            )
            if reply["type"] == "error" and reply["code"] == "quiz_finished" and action == "end":
                return  # an 'end' whose ack was lost, sent again after a stale sync: it is done
            if reply["type"] == "error" and reply["code"] not in ("unavailable", "illegal_state"):
                raise AssertionError(f"host {action}: {reply}")


def at_question(index: int) -> Callable[[Frame], bool]:
    def opened(state: Frame) -> bool:
        question = state["question"]
        return state["phase"] == "finished" or (question is not None and question["index"] >= index)

    return opened


def closed(index: int) -> Callable[[Frame], bool]:
    def done(state: Frame) -> bool:
        question = state["question"]
        return state["phase"] == "finished" or (
            question is not None and (question["index"] > index or not question["open"])
        )

    return done


async def play_quiz(
    base_url: Callable[[], str],
    ws_url: Callable[[], str],
    rng: random.Random,
    *,
    players: int = 8,
    questions: int = 10,
    answer_pause_s: float = 0.3,
    reveal: str = "immediate",
    dump_to: Path | None = None,
) -> Played:
    """Create, play and finish one quiz; check it; return what happened.

    If playing it fails (a timeout, a refusal), every client's trace — connections, messages
    sent, frames received, with their times — is written to ``dump_to/quiz-<id>.json`` (when
    given), for comparing with the servers' logs.
    """
    created = (
        await http_retrying(
            base_url,
            "POST",
            "/api/quizzes",
            201,
            json={
                "count": questions,
                "time_limit_s": 60,
                "seed": rng.randrange(1 << 30),
                "settings": {"reveal": reveal},
            },
        )
    ).json()
    quiz_id, pin = created["quiz_id"], created["pin"]
    history = QuizHistory(quiz_id)
    clients: dict[str, Client] = {}
    for n in range(players):
        name, token = await join(base_url, pin, f"player {n:02}")
        clients[name] = Client(name, token, ws_url, rng)
    host = Client("host", created["host_token"], ws_url, rng)
    for name, client in [("host", host), *clients.items()]:
        history.watch(name, client.frames)

    def dump() -> None:
        if dump_to is not None:
            dump_to.mkdir(parents=True, exist_ok=True)
            traces = {"host": host.trace} | {name: c.trace for name, c in clients.items()}
            (dump_to / f"quiz-{quiz_id}.json").write_bytes(
                orjson.dumps({"quiz_id": quiz_id, "pin": pin, "traces": traces})
            )

    try:
        played = await _play(
            host, clients, history, base_url, rng, questions, answer_pause_s, reveal
        )
    except BaseException:
        dump()
        raise
    if not played.verdict.ok:
        dump()
    return played


async def _play(
    host: Client,
    clients: dict[str, Client],
    history: QuizHistory,
    base_url: Callable[[], str],
    rng: random.Random,
    questions: int,
    answer_pause_s: float,
    reveal: str,
) -> Played:
    quiz_id = history.quiz_id
    names = list(clients)
    await asyncio.gather(*(client.connect() for client in [host, *clients.values()]))

    played = Played(quizzes=1)

    chosen: dict[tuple[str, int], int] = {}

    async def answer(name: str, index: int) -> None:
        await asyncio.sleep(rng.uniform(0, answer_pause_s))
        option = rng.randrange(4)
        sent = time.monotonic()
        try:
            ack = await clients[name].answer(index, option)
        except Refused:
            played.refused += 1
            return
        played.ack_latencies.append(time.monotonic() - sent)
        chosen[(name, index)] = option
        history.record(name, ack)

    for index in range(questions):
        await host_until(host, "start" if index == 0 else "next", at_question(index))
        await asyncio.gather(*(answer(name, index) for name in names))
        await host_until(host, "close", closed(index))
        if reveal == "at_close":  # the same answer again: its ack now shows the result
            for (name, answered), option in chosen.items():
                if answered != index:
                    continue
                for _ in range(50):  # a process whose copy has not seen the close yet
                    ack = await clients[name].answer(index, option)  # answers unrevealed
                    history.record(name, ack)
                    if ack["answer"].get("revealed"):
                        break
                    await asyncio.sleep(0.1)
        played.questions += 1
    await host_until(host, "end", lambda state: state["phase"] == "finished")

    report = await results_retrying(base_url, quiz_id, host.token)
    # every client comes back (it may have been cut off by the last fault) with a snapshot
    states = dict(
        zip(names, await asyncio.gather(*(clients[n].state() for n in names)), strict=True)
    )
    played.verdict = history.check(report, states)
    played.reconnects = sum(c.reconnects for c in [host, *clients.values()])
    await asyncio.gather(*(c.drop() for c in [host, *clients.values()]))
    return played
