"""PostgreSQL stopped and started again in the middle of a quiz played on two processes.

The database is a private cluster (``tests/pg_cluster.py``) so it can be stopped. While it is
down, an answer is refused with the documented ``unavailable`` error — never acknowledged and
then lost — and ``/readyz`` says the process cannot work; when it is back, the same quiz goes
on and the checker finds every acknowledged answer stored once.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.cluster.harness import TIMEOUT_S, Ledger, cluster
from tests.cluster.test_cluster import (
    NAMES,
    answer_all,
    finish_and_check,
    host_action,
    option_of,
    quiz_on,
)
from tests.pg_cluster import PgCluster


async def test_postgresql_restarted_mid_quiz_refuses_answers_then_resumes() -> None:
    reason = PgCluster.unavailable()
    if reason is not None:
        pytest.skip(f"cannot make a private PostgreSQL server: {reason}")
    async with (
        PgCluster() as database,
        cluster(2, database_url=database.dsn) as processes,
        quiz_on(processes, owner=0, host_at=1) as (created, host, players),
    ):
        ledger = Ledger()
        await host_action(host, "start")
        await answer_all(ledger, players, NAMES[:4], 0)

        await database.stop(mode="immediate")
        # an answer now is refused, on the owner's process and on the other one
        for name in NAMES[4:6]:
            player = players[name]
            start = len(player.frames)
            await player.send({"type": "answer", "q": 0, "option": option_of(name)})
            reply = await player.wait_for(
                lambda f: f["type"] in ("ack", "error") and f.get("q") == 0, since=start
            )
            assert reply["type"] == "error", reply
            assert reply["code"] == "unavailable", reply
        async with httpx.AsyncClient(timeout=TIMEOUT_S) as http:
            for process in processes:
                ready = await http.get(f"{process.url}/readyz")
                assert ready.status_code == 503, ready.text
                assert ready.json()["status"] == "unavailable"

        # answers sent while it is down are taken once it is back (the clients retry)
        waiting = asyncio.gather(*(players[name].answer(0, option_of(name)) for name in NAMES[4:]))
        await asyncio.sleep(1.0)
        await database.start()
        for name, ack in zip(NAMES[4:], await waiting, strict=True):
            ledger.record(name, ack)
        await answer_all(ledger, players, NAMES[:4], 0)  # still stored, once
        async with httpx.AsyncClient(timeout=TIMEOUT_S) as http:
            for process in processes:
                assert (await http.get(f"{process.url}/readyz")).status_code == 200
        await finish_and_check(processes, created, host, players, ledger)
