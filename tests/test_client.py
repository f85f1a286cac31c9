"""The reconnecting client: backoff with jitter, and a resume that keeps the score."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from livequiz.client import QuizClient, backoff_delay
from tests.server import running_server


@given(attempt=st.integers(0, 30), seed=st.integers())
def test_backoff_is_jittered_and_capped(attempt: int, seed: int) -> None:
    delay = backoff_delay(attempt, random.Random(seed), base_s=0.5, cap_s=10.0)
    assert 0.0 <= delay <= min(10.0, 0.5 * 2**attempt)


def test_jitter_spreads_a_crowd_of_clients() -> None:
    rng = random.Random(1)
    delays = [backoff_delay(3, rng) for _ in range(1000)]
    assert max(delays) - min(delays) > 3.0  # not everyone comes back at the same moment
    # uniform over 4 s: about 25 of 1,000 clients in any 100 ms; never a stampede
    per_window = [0] * 40
    for delay in delays:
        per_window[min(int(delay * 10), 39)] += 1
    assert max(per_window) <= 50


async def test_a_client_comes_back_after_a_server_restart_with_its_score(tmp_path: Path) -> None:
    frames: list[dict[str, Any]] = []
    stop = asyncio.Event()
    async with running_server(data_dir=tmp_path) as srv:
        port = srv.port
        quiz = await srv.create_quiz(count=3, seed=4, time_limit_s=60)
        player = await srv.join(quiz["pin"], "Anna")
        client = QuizClient(srv.ws_url, player["token"], frames.append, backoff_base_s=0.05)
        running = asyncio.create_task(client.run(stop))
        async with srv.connect() as host:
            await srv.hello(host, quiz["host_token"])
            await srv.send(host, {"type": "host", "action": "start"})
            async with asyncio.timeout(10):
                while not any(f["type"] == "question" for f in frames):
                    await asyncio.sleep(0.01)
            correct = srv.server.store.session(quiz["quiz_id"]).questions[0].correct_option
            assert await client.send({"type": "answer", "q": 0, "option": correct})
            async with asyncio.timeout(10):
                while not any(f["type"] == "ack" for f in frames):
                    await asyncio.sleep(0.01)
    score = next(f for f in frames if f["type"] == "ack")["standing"]["score"]
    assert score > 0
    welcomes = sum(f["type"] == "welcome" for f in frames)
    # the server is down; the client keeps trying until it is back on the same port
    async with running_server(data_dir=tmp_path, port=port):
        async with asyncio.timeout(15):
            while sum(f["type"] == "welcome" for f in frames) == welcomes:
                await asyncio.sleep(0.02)
        snapshot = [f for f in frames if f["type"] == "welcome"][-1]["state"]
        assert snapshot["player"]["score"] == score
        assert snapshot["answer"]["index"] == 0
        assert client.reconnects >= 1
        stop.set()
        await asyncio.wait_for(running, 10)
