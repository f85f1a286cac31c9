"""One worker process: holds a share of the players' WebSockets and plays the quiz.

Spawned by :mod:`livequiz.bench.runner` with a picklable spec. It connects and authenticates
every player it was given, reports ``("ready", index, info)`` on the queue, then answers each
question after a think time, measures ack and board latency, and reports
``("result", index, result)`` once every socket has its ``final`` (or the deadline passes).

Per-frame work is kept small: a ``board`` frame is recognised by a byte check and parsed only
when that socket still waits for one of its answers to show on the board.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

__all__ = ["worker_main"]

_BOARD = b'"type":"board"'
#: the server adds ``type`` last to its board dict, so a board frame ends with this
_BOARD_END = b'"type":"board"}'


@dataclass(slots=True)
class _Player:
    quiz: int
    token: str
    ws: ClientConnection | None = None
    #: question index → send times (perf_counter) of answers not acknowledged yet
    pending_ack: dict[int, list[float]] = field(default_factory=dict)
    #: (ack seq, answer send time) of accepted answers not yet seen on the board
    board_wait: list[tuple[int, float]] = field(default_factory=list)
    last_board_seq: int = -1
    last_board_t: float = 0.0
    points: int = 0
    final_score: int | None = None


@dataclass(slots=True)
class _Stats:
    ack_ms: list[float] = field(default_factory=list)
    board_ms: list[float] = field(default_factory=list)
    frames: int = 0
    frame_types: Counter[str] = field(default_factory=Counter)
    answers_sent: int = 0
    duplicates_sent: int = 0
    acks: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    refused: int = 0
    correct: int = 0


class _Worker:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.rng = random.Random(spec["seed"])
        self.stats = _Stats()
        self.players = [_Player(quiz, token) for quiz, token in spec["players"]]
        #: (quiz, question) → correct option, learnt from revealed acks in this process
        self.correct: dict[tuple[int, int], int] = {}
        self.wrong: dict[tuple[int, int], set[int]] = {}
        self.tasks: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ connecting

    async def connect_all(self) -> None:
        limit = asyncio.Semaphore(self.spec["connect_concurrency"])

        async def one(player: _Player) -> None:
            async with limit:
                try:
                    ws = await connect(
                        self.spec["ws_url"], compression=None, open_timeout=30, max_queue=None
                    )
                except InvalidStatus as exc:
                    self.stats.errors[f"connect:http_{exc.response.status_code}"] += 1
                    return
                except Exception as exc:  # every refusal is counted by kind
                    self.stats.errors[f"connect:{type(exc).__name__}"] += 1
                    return
                try:
                    await ws.send(orjson.dumps({"type": "hello", "token": player.token}).decode())
                    while True:
                        frame = orjson.loads(await ws.recv(decode=False))
                        if frame["type"] == "welcome":
                            break
                        if frame["type"] == "error":
                            self.stats.errors[f"hello:{frame.get('code')}"] += 1
                            await ws.close()
                            return
                except ConnectionClosed as exc:
                    self.stats.errors[f"hello:close_{exc.rcvd.code if exc.rcvd else 1006}"] += 1
                    return
                player.ws = ws

        await asyncio.gather(*(one(p) for p in self.players))

    # ------------------------------------------------------------------ playing

    def _think_s(self) -> float:
        """Realistic think time: log-normal, median at ~35 % of the window, clipped to it."""
        window: float = self.spec["window_s"]
        return min(window, max(0.02 * window, self.rng.lognormvariate(0.0, 0.6) * 0.35 * window))

    def _choose(self, key: tuple[int, int], options: int) -> int:
        want_wrong = self.rng.random() < self.spec["wrong_rate"]
        correct = self.correct.get(key)
        if correct is not None:
            if not want_wrong:
                return correct
            return self.rng.choice([o for o in range(options) if o != correct] or [correct])
        wrong = self.wrong.get(key, set())
        pool = sorted(wrong) if want_wrong else [o for o in range(options) if o not in wrong]
        return self.rng.choice(pool or list(range(options)))

    async def _answer(self, player: _Player, q: int, options: int) -> None:
        await asyncio.sleep(self._think_s())
        option = self._choose((player.quiz, q), options)
        await self._send_answer(player, q, option)

    async def _send_answer(self, player: _Player, q: int, option: int) -> None:
        ws = player.ws
        assert ws is not None
        player.pending_ack.setdefault(q, []).append(time.perf_counter())
        self.stats.answers_sent += 1
        try:
            await ws.send(orjson.dumps({"type": "answer", "q": q, "option": option}).decode())
        except ConnectionClosed:
            self.stats.errors["answer:connection_closed"] += 1

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def play(self, player: _Player) -> None:
        ws = player.ws
        assert ws is not None
        stats = self.stats
        perf = time.perf_counter
        while True:
            try:
                msg = await ws.recv(decode=False)
            except ConnectionClosed as exc:
                stats.errors[f"close:{exc.rcvd.code if exc.rcvd else 1006}"] += 1
                return
            stats.frames += 1
            if msg.endswith(_BOARD_END) or _BOARD in msg[:24]:
                stats.frame_types["board"] += 1
                if player.board_wait:
                    now = perf()
                    seq = orjson.loads(msg)["seq"]
                    player.last_board_seq, player.last_board_t = seq, now
                    waiting = player.board_wait
                    stats.board_ms.extend((now - t) * 1000 for s, t in waiting if s <= seq)
                    player.board_wait = [(s, t) for s, t in waiting if s > seq]
                continue
            frame = orjson.loads(msg)
            kind = frame["type"]
            stats.frame_types[kind] += 1
            if kind == "question":
                question = frame["question"]
                self._spawn(self._answer(player, question["index"], len(question["options"])))
            elif kind == "ack":
                self._on_ack(player, frame, perf())
            elif kind == "error":
                stats.errors[f"ws:{frame.get('code')}"] += 1
                q = frame.get("q")
                if isinstance(q, int) and player.pending_ack.get(q):
                    player.pending_ack[q].pop(0)
                    stats.refused += 1
            elif kind == "final":
                player.final_score = frame["results"]["score"]
                await ws.close()
                return

    def _on_ack(self, player: _Player, frame: dict[str, Any], now: float) -> None:
        stats = self.stats
        q, status, seq = frame["q"], frame["status"], frame["seq"]
        sent = player.pending_ack.get(q)
        t_send = sent.pop(0) if sent else now
        stats.acks[status] += 1
        if status != "accepted":
            return
        stats.ack_ms.append((now - t_send) * 1000)
        answer = frame.get("answer") or {}
        player.points += int(answer.get("points") or 0)
        key = (player.quiz, q)
        if answer.get("revealed"):
            if answer.get("correct"):
                stats.correct += 1
                self.correct[key] = answer["option"]
            else:
                self.wrong.setdefault(key, set()).add(answer["option"])
        if player.last_board_seq >= seq:  # the board showed it before the ack arrived
            stats.board_ms.append((player.last_board_t - t_send) * 1000)
        else:
            player.board_wait.append((seq, t_send))
        if self.rng.random() < self.spec["duplicate_rate"]:
            stats.duplicates_sent += 1
            self._spawn(self._send_answer(player, q, answer.get("option", 0)))

    def result(self) -> dict[str, Any]:
        stats = self.stats
        mismatches = [
            {"quiz": p.quiz, "acked_points": p.points, "final_score": p.final_score}
            for p in self.players
            if p.ws is not None and p.final_score != p.points
        ]
        return {
            "players": len(self.players),
            "connected": sum(p.ws is not None for p in self.players),
            "finals": sum(p.final_score is not None for p in self.players),
            "ack_ms": stats.ack_ms,
            "board_ms": stats.board_ms,
            "board_unseen": sum(len(p.board_wait) for p in self.players),
            "frames": stats.frames,
            "frame_types": dict(stats.frame_types),
            "answers_sent": stats.answers_sent,
            "duplicates_sent": stats.duplicates_sent,
            "acks": dict(stats.acks),
            "errors": dict(stats.errors),
            "refused": stats.refused,
            "correct": stats.correct,
            "recount_checked": sum(p.final_score is not None for p in self.players),
            "recount_mismatches": mismatches[:20],
            "recount_mismatch_count": len(mismatches),
        }


def _cpu() -> float:
    times = os.times()
    return times.user + times.system


async def _run(spec: dict[str, Any], queue: Any) -> dict[str, Any]:
    worker = _Worker(spec)
    cpu0 = _cpu()
    await worker.connect_all()
    cpu_connect = _cpu() - cpu0
    loop = asyncio.get_running_loop()
    plays = [asyncio.ensure_future(worker.play(p)) for p in worker.players if p.ws is not None]
    await loop.run_in_executor(None, queue.put, ("ready", spec["index"], os.getpid()))
    cpu1 = _cpu()
    _, pending = await asyncio.wait(plays, timeout=spec["deadline_s"]) if plays else (set(), set())
    for task in (*pending, *worker.tasks):
        task.cancel()
    if pending:
        worker.stats.errors["deadline:no_final"] += len(pending)
    result = worker.result()
    result["cpu_connect_s"] = cpu_connect
    result["cpu_play_s"] = _cpu() - cpu1
    for player in worker.players:
        if player.ws is not None:
            await player.ws.close()
    return result


def worker_main(spec: dict[str, Any], queue: Any) -> None:
    """Entry point of a spawned worker process."""
    try:
        import uvloop

        result = uvloop.run(_run(spec, queue))
    except ImportError:
        result = asyncio.run(_run(spec, queue))
    queue.put(("result", spec["index"], result))
