"""A disk that fills up under the journal, and a disk whose ``fsync`` is slow.

Full disk: the data directory lives on a small tmpfs; once it is full, an answer that needs the
journal to grow is refused with the documented ``unavailable`` error — never acknowledged and
then lost — the server stays up, and when space comes back the same answers (resent by the
clients) are taken. The checker then finds nothing lost or doubled, also after a ``kill -9``
taken while the disk was full.

Slow disk: every ``fsync`` of the server process is delayed (an ``LD_PRELOAD`` library), with
``--sync full`` so that every commit waits for one: answers are acknowledged later, never
wrongly, and grouped commits keep them flowing.

Mounting a tmpfs needs root and building the library a C compiler; where either is missing the
test skips loudly (and fails under ``CI=true``: tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import random
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.reliability.checker import QuizHistory
from tests.reliability.client import Client
from tests.reliability.faults import (
    ServerProcess,
    can_mount,
    fill,
    server_process,
    slow_fsync_library,
    small_disk,
    tracebacks,
)
from tests.reliability.report import record
from tests.reliability.workload import (
    Played,
    at_question,
    closed,
    host_until,
    http_retrying,
    join,
    play_quiz,
    results_retrying,
)

PLAYERS = 6

Frame = dict[str, Any]


def reply_to(index: int) -> Callable[[Frame], bool]:
    return lambda f: f["type"] in ("ack", "error") and f.get("q") == index


async def metric(server: ServerProcess, name: str) -> float:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        text = (await http.get("/metrics")).text
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + " "))


async def test_a_full_disk_refuses_answers_until_space_returns(tmp_path: Path) -> None:
    reason = can_mount()
    if reason is not None:
        pytest.skip(f"full-disk test not run: {reason}")
    rng = random.Random(7)
    with small_disk(16 * 1024) as disk:
        server = ServerProcess(disk / "data", tmp_path / "server.log")
        try:
            await server.start()
            base, ws = (lambda: server.url), (lambda: server.ws_url)
            created = (
                await http_retrying(
                    base, "POST", "/api/quizzes", 201, json={"count": 3, "time_limit_s": 120}
                )
            ).json()
            tokens = [await join(base, created["pin"], f"player {n}") for n in range(PLAYERS)]
            # a clean restart: SQLite checkpoints and removes its write-ahead log, so the next
            # commits must grow a new one on the full disk
            await server.stop()
            await server.start()
            history = QuizHistory(created["quiz_id"])
            host = Client("host", created["host_token"], ws, rng)
            players = {name: Client(name, token, ws, rng) for name, token in tokens}
            for name, client in [("host", host), *players.items()]:
                history.watch(name, client.frames)
            await asyncio.gather(*(c.connect() for c in [host, *players.values()]))

            refused = acked_while_full = 0
            # question 0: space comes back while the server runs; question 1: the server is
            # killed while the disk is full and restarted once space is back
            for index, restart in ((0, False), (1, True)):
                await host_until(host, "next" if index else "start", at_question(index))
                filler = fill(disk)
                for client in players.values():
                    reply = await client.request(
                        {"type": "answer", "q": index, "option": 1}, reply_to(index)
                    )
                    if reply["type"] == "ack":
                        acked_while_full += 1  # it fitted in space the journal already had
                    else:
                        assert reply["code"] == "unavailable", reply
                        refused += 1
                assert refused > 0, "nothing was refused on a full disk"
                assert await metric(server, "livequiz_storage_failures_total") >= 1
                # what the operator's alert watches: a 16 MiB file system with no space left
                assert await metric(server, "livequiz_data_dir_size_bytes") == 16 * 2**20
                assert await metric(server, "livequiz_data_dir_free_bytes") < 64 * 2**10
                async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
                    assert (await http.get("/healthz")).status_code == 200  # still up
                if restart:
                    await server.kill()
                filler.unlink()
                if restart:
                    await server.start()
                assert await metric(server, "livequiz_data_dir_free_bytes") > 8 * 2**20
                # the clients resend what was refused; what was acknowledged comes back as is
                for name, client in players.items():
                    history.record(name, await client.answer(index, 1))
                await host_until(host, "close", closed(index))
            await host_until(host, "end", lambda s: s["phase"] == "finished")
            report = await results_retrying(base, created["quiz_id"], created["host_token"])
            states = {name: await client.state() for name, client in players.items()}
            verdict = history.check(report, states)
            await asyncio.gather(*(c.drop() for c in [host, *players.values()]))
        finally:
            await server.stop()
    figures = {
        "refused_while_full": refused,
        "acknowledged_while_full": acked_while_full,
        **verdict.counts(),
    }
    record("full_disk", figures)
    print(figures)
    assert verdict.ok, str(verdict)
    assert verdict.acknowledged == 2 * PLAYERS
    assert tracebacks(server.output()) == [], server.output()[-3000:]


@pytest.mark.parametrize("delay_ms", [0, 50])
async def test_a_slow_disk_delays_acks_and_loses_nothing(tmp_path: Path, delay_ms: int) -> None:
    library = slow_fsync_library(tmp_path)
    if isinstance(library, str):
        pytest.skip(f"slow-disk test not run: {library}")
    env = {"LD_PRELOAD": str(library), "LIVEQUIZ_FSYNC_DELAY_MS": str(delay_ms)}
    rng = random.Random(delay_ms)
    async with server_process(tmp_path, "--sync", "full", env=env) as server:
        played = Played()
        for _ in range(2):
            played.add(
                await play_quiz(
                    lambda: server.url, lambda: server.ws_url, rng, players=10, questions=5
                )
            )
        log = server.output()
    latencies = sorted(played.ack_latencies)
    figures = {
        "fsync_delay_ms": delay_ms,
        "answers": len(latencies),
        "ack_p50_ms": round(1000 * statistics.median(latencies), 1),
        "ack_p99_ms": round(1000 * latencies[int(0.99 * (len(latencies) - 1))], 1),
        **played.verdict.counts(),
    }
    record("slow_disk", figures)
    print(figures)
    assert played.verdict.ok, str(played.verdict)
    assert played.refused == 0
    if delay_ms:  # the delay really reached the commits: no ack came faster than one fsync
        assert latencies[0] >= delay_ms / 1000
    assert tracebacks(log) == [], log[-3000:]
