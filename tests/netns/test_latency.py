"""Quizzes played across three hosts on a network with delay and loss, against the same without.

Three servers in their own namespaces (``tests/netns/harness.py``); the quiz is created on the
first and its players and host connect to all three in turn, so most answers cross the bus to
the owner and back. First a run on the clean links, then the same workload with ``delay 100ms
20ms loss 5%`` on every link of every host (to PostgreSQL and NATS, and to the clients), both
directions: ``tc netem`` where the kernel has it, else the user-space wire of
``tests/netns/wire.py``. One topology, so the two runs differ only by the impairment. The
checker must find nothing lost, doubled, recounted, going back or stale in either; the ack
latency (first send to ack, resends included) of both runs is printed and recorded side by side
for docs/reliability.md.

The servers run with the default 3 s lease, as a deployment would, not the 1 s of the cut-off
tests: with ``--lease-s 1`` the storage timeout is 1 s too (``app.py``: a call may not outlast a
lease), less than a fresh PostgreSQL connection plus one query takes over a 200 ms round trip
with loss (three round trips to connect: 0.63 s median, 1.9 s at worst, measured from inside a
namespace), and each timeout drops its connection, so the next call has to connect again within
the same second: the processes refused nearly everything for minutes (docs/reliability.md).

``LIVEQUIZ_NETNS_QUIZZES`` sets how many quizzes each run plays (default 2: 36 answers a run,
about a minute in all).
"""

from __future__ import annotations

import itertools
import os
import random
import time
from pathlib import Path
from typing import Any

from tests.netns.harness import netns_cluster
from tests.netns.network import netem_available
from tests.reliability.report import record
from tests.reliability.workload import Played, play_quiz

QUIZZES = int(os.environ.get("LIVEQUIZ_NETNS_QUIZZES", "2"))
PLAYERS = 6
QUESTIONS = 3
IMPAIRMENT = {"delay_ms": 100.0, "jitter_ms": 20.0, "loss": 0.05}
#: The default lease (``livequiz serve --lease-s``): see the module docstring.
LEASE_S = "3"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def test_quizzes_over_delay_and_loss_lose_and_double_nothing(tmp_path: Path) -> None:
    figures: dict[str, Any] = {"quizzes_per_run": QUIZZES, "lease_s": float(LEASE_S), **IMPAIRMENT}
    runs: dict[str, Played] = {}
    seconds: dict[str, float] = {}
    async with netns_cluster(3, wire=not netem_available(), lease_s=LEASE_S, logs=tmp_path) as net:
        rotation = itertools.cycle(net.processes)
        owner = net.processes[0]
        for label, impairment in (("clean", None), ("impaired", IMPAIRMENT)):
            if impairment is not None:
                figures["by"] = net.topology.impair(**impairment)
            played = Played()
            rng = random.Random(label)
            started = time.monotonic()
            for _ in range(QUIZZES):
                played.add(
                    await play_quiz(
                        lambda: owner.url,
                        lambda: next(rotation).ws_url,
                        rng,
                        players=PLAYERS,
                        questions=QUESTIONS,
                    )
                )
            seconds[label] = time.monotonic() - started
            runs[label] = played
        net.topology.impair(0, 0, 0)
    for label, played in runs.items():
        latencies = played.ack_latencies
        figures[label] = {
            "answers": len(latencies),
            "ack_p50_ms": round(percentile(latencies, 0.5) * 1000),
            "ack_p99_ms": round(percentile(latencies, 0.99) * 1000),
            "ack_max_ms": round(max(latencies) * 1000),
            "seconds": round(seconds[label], 1),
            "refused": played.refused,
            "reconnects": played.reconnects,
            **played.verdict.counts(),
        }
    print(f"\nnetns latency and loss: {figures}")
    record("netns delay and loss", figures)
    for label, played in runs.items():
        assert played.verdict.ok, (label, played.verdict)
        assert played.refused == 0, label
        assert len(played.ack_latencies) == QUIZZES * PLAYERS * QUESTIONS, label
