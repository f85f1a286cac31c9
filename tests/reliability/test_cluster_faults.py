"""Random faults on PostgreSQL + NATS while quizzes are played on three processes.

The nemesis picks, at random moments, one of: ``kill -9`` of a quiz's owner, ``kill -9`` of a
process that owns nothing, ``kill -9`` of PostgreSQL (postmaster and every backend), ``kill -9``
of NATS; then brings it back. Clients connect to any live process and move when theirs dies.
The checker (tests/reliability/checker.py) then finds nothing lost, nothing doubled, every score
equal to its recount, no sequence number going back and every client back with a correct
snapshot.

The database and the bus are private servers of the test (they get killed).
``LIVEQUIZ_RELIABILITY_CLUSTER_FAULTS``
sets how many faults (4 in the test command: one of each kind; ``make reliability`` runs 40),
``LIVEQUIZ_RELIABILITY_SEED`` the nemesis's choices. When a quiz fails (a timeout, a refusal,
or the checker), every client's trace is written beside the servers' logs in the test's
temporary directory (``quiz-<id>.json``: connections, messages sent, frames received).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.nats_server import PrivateNatsServer, nats_server_binary
from tests.pg_cluster import PgCluster
from tests.reliability.faults import ServerProcess, tracebacks
from tests.reliability.report import record
from tests.reliability.workload import Played, play_quiz

FAULTS = int(os.environ.get("LIVEQUIZ_RELIABILITY_CLUSTER_FAULTS", "4"))
SEED = int(os.environ.get("LIVEQUIZ_RELIABILITY_SEED", "16"))
KINDS = ("owner", "non_owner", "postgresql", "nats")
#: More ``livequiz serve`` arguments for the three processes, e.g. ``--log-level info`` to see
#: takeovers and lost leases in their logs when a run fails.
SERVER_ARGS = os.environ.get("LIVEQUIZ_RELIABILITY_SERVER_ARGS", "").split()


async def owned(process: ServerProcess) -> float:
    """The process's ``livequiz_quizzes_owned`` gauge (-1 if it does not answer)."""
    try:
        async with httpx.AsyncClient(base_url=process.url, timeout=5) as http:
            text = (await http.get("/metrics")).text
    except httpx.TransportError:
        return -1.0
    line = next(x for x in text.splitlines() if x.startswith("livequiz_quizzes_owned "))
    return float(line.split()[1])


@contextlib.asynccontextmanager
async def three_processes(
    directory: Path, database: str, bus: str
) -> AsyncIterator[list[ServerProcess]]:
    args = (
        *("--database", database, "--database-schema", "faults", "--bus", bus, "--lease-s", "1"),
        *SERVER_ARGS,
    )
    processes = [
        ServerProcess(directory / f"data-{n}", directory / f"server-{n}.log", *args)
        for n in range(3)
    ]
    try:
        for process in processes:
            await process.start()
        yield processes
    finally:
        await asyncio.gather(*(process.stop() for process in processes))


async def test_random_kills_of_owners_others_postgresql_and_nats(tmp_path: Path) -> None:
    reason = PgCluster.unavailable()
    if reason is not None:
        pytest.skip(f"cannot make a private PostgreSQL server: {reason}")
    if nats_server_binary() is None:
        pytest.skip("no nats-server binary (Debian's nats-server): not tested")
    rng = random.Random(SEED)
    done: Counter[str] = Counter()
    recovery: list[float] = []
    async with (
        PgCluster() as database,
        PrivateNatsServer() as nats,
        three_processes(tmp_path, database.dsn, nats.url) as processes,
    ):

        def anywhere() -> ServerProcess:
            alive = [p for p in processes if p.alive] or processes
            return rng.choice(alive)

        async def nemesis() -> None:
            for n in range(FAULTS):
                await asyncio.sleep(rng.uniform(0.5, 2.0))
                kind = KINDS[n % len(KINDS)] if n < len(KINDS) else rng.choice(KINDS)
                down_s = rng.uniform(0.2, 1.5)
                if kind in ("owner", "non_owner"):
                    counts = [await owned(p) for p in processes]
                    candidates = [
                        p
                        for p, count in zip(processes, counts, strict=True)
                        if (count > 0) == (kind == "owner")
                    ]
                    if not candidates:
                        continue
                    victim = rng.choice(candidates)
                    await victim.kill()
                    await asyncio.sleep(down_s)
                    recovery.append(await victim.start())
                elif kind == "postgresql":
                    await database.kill()
                    await asyncio.sleep(down_s)
                    started = time.monotonic()
                    await database.start()
                    recovery.append(time.monotonic() - started)
                else:
                    await nats.kill()
                    await asyncio.sleep(down_s)
                    started = time.monotonic()
                    await nats.start()
                    recovery.append(time.monotonic() - started)
                done[kind] += 1

        played = Played()
        faults = asyncio.create_task(nemesis())
        try:
            while not faults.done():
                played.add(
                    await play_quiz(
                        lambda: anywhere().url,
                        lambda: f"ws://127.0.0.1:{anywhere().port}/ws",
                        rng,
                        players=6,
                        questions=6,
                        reveal=("immediate", "at_close")[played.quizzes % 2],
                        dump_to=tmp_path,
                    )
                )
        finally:
            # A failed quiz must not leave the nemesis killing servers while they are shut
            # down ("pg_ctl: server does not shut down" hid the failure once).
            if not faults.done():
                faults.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await faults
        await faults
        logs = [process.output() for process in processes]

    figures = {
        "faults": sum(done.values()),
        **{f"kill_{kind}": done[kind] for kind in KINDS},
        "quizzes": played.quizzes,
        "questions": played.questions,
        "answers_refused_for_good": played.refused,
        "reconnects": played.reconnects,
        **played.verdict.counts(),
    }
    record("faults_postgresql_nats", figures)
    print(figures)
    assert all(done[kind] >= 1 for kind in KINDS) or len(KINDS) > FAULTS, done
    assert played.verdict.acknowledged > 0
    assert played.verdict.ok, str(played.verdict)
    for log in logs:
        assert tracebacks(log) == [], log[-3000:]
