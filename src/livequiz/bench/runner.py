"""The parent side of a benchmark run: quizzes, joins, hosts, workers and the report."""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import psutil  # type: ignore[import-untyped]
from websockets.asyncio.client import connect

from livequiz.bench.stats import summary
from livequiz.bench.worker import worker_main

__all__ = ["BenchConfig", "run_bench"]


@dataclass(frozen=True, slots=True)
class BenchConfig:
    """One run. ``quizzes × players_per_quiz`` players in total."""

    server: str = "http://127.0.0.1:8000"
    scenario: str = "one-big-quiz"
    quizzes: int = 1
    players_per_quiz: int = 100
    questions: int = 3
    window_s: float = 5.0
    wrong_rate: float = 0.3
    duplicate_rate: float = 0.05
    workers: int = 2
    join_concurrency: int = 64
    connect_concurrency: int = 200
    server_pid: int | None = None
    seed: int = 1

    @property
    def players(self) -> int:
        return self.quizzes * self.players_per_quiz

    @property
    def time_limit_s(self) -> int:
        # every answer lands inside the window; the margin absorbs a slow server
        return max(1, int(self.window_s + 2.999))


def _ws_url(server: str) -> str:
    return (
        server.rstrip("/").replace("http://", "ws://", 1).replace("https://", "wss://", 1) + "/ws"
    )


async def _create_quizzes(http: httpx.AsyncClient, config: BenchConfig) -> list[dict[str, Any]]:
    quizzes = []
    for i in range(config.quizzes):
        body = {
            "count": config.questions,
            "time_limit_s": config.time_limit_s,
            "seed": config.seed + i,
            "settings": {
                "max_players": max(config.players_per_quiz, 1),
                "close_when_all_answered": False,
            },
        }
        response = await http.post("/api/quizzes", json=body)
        response.raise_for_status()
        quizzes.append(response.json())
    return quizzes


async def _join_all(
    http: httpx.AsyncClient,
    config: BenchConfig,
    quizzes: list[dict[str, Any]],
    errors: Counter[str],
) -> list[tuple[int, str]]:
    limit = asyncio.Semaphore(config.join_concurrency)
    joined: list[tuple[int, str]] = []

    async def one(quiz_index: int, n: int) -> None:
        pin = quizzes[quiz_index]["pin"]
        async with limit:
            try:
                response = await http.post(
                    f"/api/quizzes/{pin}/players", json={"nickname": f"bot{quiz_index}_{n}"}
                )
            except httpx.HTTPError as exc:
                errors[f"join:{type(exc).__name__}"] += 1
                return
        if response.status_code != 201:
            code = response.json().get("error", {}).get("code", response.status_code)
            errors[f"join:{code}"] += 1
            return
        joined.append((quiz_index, response.json()["token"]))

    await asyncio.gather(
        *(one(q, n) for q in range(config.quizzes) for n in range(config.players_per_quiz))
    )
    return joined


async def _host(ws_url: str, token: str, started: asyncio.Event, errors: Counter[str]) -> None:
    """Drive one quiz: ``start`` once the players are ready, ``next`` after each ``closed``."""
    async with connect(ws_url, compression=None, open_timeout=30, max_queue=None) as ws:
        await ws.send(orjson.dumps({"type": "hello", "token": token}).decode())
        await started.wait()
        await ws.send(orjson.dumps({"type": "host", "action": "start"}).decode())
        async for msg in ws:
            frame = orjson.loads(msg)
            kind = frame["type"]
            if kind == "closed":
                await ws.send(orjson.dumps({"type": "host", "action": "next"}).decode())
            elif kind == "error":
                errors[f"host:{frame.get('code')}"] += 1
            elif kind == "final":
                return


class _ServerSampler:
    """CPU seconds and peak RSS of the server process, if its pid is known."""

    def __init__(self, pid: int | None) -> None:
        self.process = psutil.Process(pid) if pid else None
        self.peak_rss = 0
        self.cpu0 = 0.0

    def _cpu(self) -> float:
        assert self.process is not None
        times = self.process.cpu_times()
        return float(times.user + times.system)

    def start(self) -> None:
        if self.process is not None:
            self.cpu0 = self._cpu()

    async def sample(self) -> None:
        while self.process is not None:
            self.peak_rss = max(self.peak_rss, self.process.memory_info().rss)
            await asyncio.sleep(0.25)

    def stop(self, wall_s: float) -> dict[str, Any] | None:
        if self.process is None:
            return None
        cpu = self._cpu() - self.cpu0
        rss = self.process.memory_info().rss
        return {
            "cpu_s": cpu,
            "cpu_cores": cpu / wall_s if wall_s else None,
            "rss_mib": rss / 2**20,
            "peak_rss_mib": max(rss, self.peak_rss) / 2**20,
        }


async def run_bench(config: BenchConfig) -> dict[str, Any]:
    """Run one benchmark against ``config.server`` and return the measured figures."""
    errors: Counter[str] = Counter()
    ws_url = _ws_url(config.server)
    limits = httpx.Limits(max_connections=config.join_concurrency)
    async with httpx.AsyncClient(base_url=config.server, limits=limits, timeout=60) as http:
        quizzes = await _create_quizzes(http, config)
        t0 = time.perf_counter()
        joined = await _join_all(http, config, quizzes, errors)
        join_s = time.perf_counter() - t0

    workers = max(1, min(config.workers, len(joined) or 1))
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    deadline_s = config.questions * (config.time_limit_s + 2.5) + 60
    processes = []
    for index in range(workers):
        spec = {
            "index": index,
            "ws_url": ws_url,
            "players": joined[index::workers],
            "window_s": config.window_s,
            "wrong_rate": config.wrong_rate,
            "duplicate_rate": config.duplicate_rate,
            "connect_concurrency": config.connect_concurrency,
            "deadline_s": deadline_s,
            "seed": config.seed * 1000 + index,
        }
        process = context.Process(target=worker_main, args=(spec, queue), daemon=True)
        process.start()
        processes.append(process)

    loop = asyncio.get_running_loop()
    results: dict[int, dict[str, Any]] = {}
    started = asyncio.Event()
    sampler = _ServerSampler(config.server_pid)
    hosts = [
        asyncio.create_task(_host(ws_url, quiz["host_token"], started, errors)) for quiz in quizzes
    ]
    try:
        t_connect = time.perf_counter()
        ready = 0
        while ready < workers:
            kind, index, payload = await loop.run_in_executor(None, queue.get, True, 120)
            if kind == "ready":
                ready += 1
            else:  # a worker finished early (it connected nobody)
                results[index] = payload
        connect_s = time.perf_counter() - t_connect
        sampler.start()
        sampling = asyncio.create_task(sampler.sample())
        t_play = time.perf_counter()
        started.set()
        while len(results) < workers:
            kind, index, payload = await loop.run_in_executor(
                None, queue.get, True, deadline_s + 30
            )
            if kind == "result":
                results[index] = payload
        play_s = time.perf_counter() - t_play
        sampling.cancel()
        server = sampler.stop(play_s)
        for task in hosts:
            try:
                await asyncio.wait_for(task, timeout=10)
            except Exception as exc:  # a failed host is a counted error
                errors[f"host:{type(exc).__name__}"] += 1
    finally:
        for task in hosts:
            task.cancel()
        for process in processes:
            await loop.run_in_executor(None, process.join, 10)
            if process.is_alive():
                process.kill()
    return _report(config, results, errors, join_s, connect_s, play_s, len(joined), server)


def _report(
    config: BenchConfig,
    results: dict[int, dict[str, Any]],
    errors: Counter[str],
    join_s: float,
    connect_s: float,
    play_s: float,
    joined: int,
    server: dict[str, Any] | None,
) -> dict[str, Any]:
    parts = list(results.values())
    ack_ms = [v for r in parts for v in r["ack_ms"]]
    board_ms = [v for r in parts for v in r["board_ms"]]
    acks: Counter[str] = Counter()
    frame_types: Counter[str] = Counter()
    for r in parts:
        errors.update(r["errors"])
        acks.update(r["acks"])
        frame_types.update(r["frame_types"])
    frames = sum(r["frames"] for r in parts)
    cpu_play = sum(r["cpu_play_s"] for r in parts)
    answers_sent = sum(r["answers_sent"] for r in parts)
    refused = sum(r["refused"] for r in parts)
    return {
        "config": {
            "scenario": config.scenario,
            "server": config.server,
            "quizzes": config.quizzes,
            "players": config.players,
            "questions": config.questions,
            "time_limit_s": config.time_limit_s,
            "window_s": config.window_s,
            "wrong_rate": config.wrong_rate,
            "duplicate_rate": config.duplicate_rate,
            "workers": len(parts),
        },
        "joined": joined,
        "join_s": join_s,
        "join_rate": joined / join_s if join_s else None,
        "connected": sum(r["connected"] for r in parts),
        "connect_s": connect_s,
        "play_s": play_s,
        "answers_sent": answers_sent,
        "duplicates_sent": sum(r["duplicates_sent"] for r in parts),
        "refused": refused,
        "acks": dict(acks),
        "acks_total": sum(acks.values()),
        "correct_rate": (
            sum(r["correct"] for r in parts) / acks["accepted"] if acks["accepted"] else None
        ),
        "ack_ms": summary(ack_ms),
        "board_ms": summary(board_ms),
        "board_unseen": sum(r["board_unseen"] for r in parts),
        "frames": frames,
        "frames_per_s": frames / play_s if play_s else None,
        "frame_types": dict(frame_types),
        "errors": dict(errors),
        "recount": {
            "checked": sum(r["recount_checked"] for r in parts),
            "mismatches": sum(r["recount_mismatch_count"] for r in parts),
            "examples": [m for r in parts for m in r["recount_mismatches"]][:20],
        },
        "generator": {
            "cpu_play_s": cpu_play,
            "cpu_cores": cpu_play / play_s if play_s else None,
            "cpu_connect_s": sum(r["cpu_connect_s"] for r in parts),
        },
        "server_process": server,
    }
