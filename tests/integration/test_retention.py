"""Finished quizzes leave memory after their retention, and nothing a user sees changes.

A finished quiz stays in a process's memory for ``ServiceLimits.finished_retention_s`` after it
finished (or was last loaded to be read), and as long as a connection of that process is
attached to it; then its session and everything kept for it go (docs/design.md, "Finished
quizzes leave memory"). What a user does with a finished quiz must work exactly as before
afterwards: the teacher's results and a player's, a player's ``hello`` with their token, a join
by the quiz's PIN (``quiz_finished``) — loaded again from where the results live, then evicted
again later.

Each test runs on the embedded default with a SQLite journal, memory only (which keeps finished
quizzes' journal rows in memory, having nowhere else), and on PostgreSQL + NATS with two
servers, the player on the one that does not own the quiz (a copy that follows the log).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from livequiz.adapters.nats import NatsBus
from livequiz.adapters.postgres import PostgresRecords
from livequiz.service import ServiceLimits
from tests.integration.helpers import open_client, setup_quiz
from tests.nats_server import shared_nats_url
from tests.pg_database import admin_connection, database_url, drop_schema, new_schema_name
from tests.server import RunningServer, running_server

RETENTION_S = 0.3
LIMITS = ServiceLimits(tick_ms=20, finished_retention_s=RETENTION_S, disconnect_grace_s=0.1)
BACKENDS = ["sqlite", "memory", "postgres+nats"]


@contextlib.asynccontextmanager
async def servers(backend: str, tmp_path: Path) -> AsyncIterator[list[RunningServer]]:
    """One embedded server, or two over one PostgreSQL schema and the shared NATS server."""
    if backend != "postgres+nats":
        data_dir = tmp_path / "data" if backend == "sqlite" else None
        async with running_server(data_dir=data_dir, service=LIMITS) as srv:
            yield [srv]
        return
    async with admin_connection():  # skips loudly when PostgreSQL is not there
        pass
    schema = new_schema_name()
    key = secrets.token_bytes(32)
    try:
        async with contextlib.AsyncExitStack() as stack:
            running = []
            for n in range(2):
                records = await PostgresRecords.connect(database_url(), schema=schema)
                stack.push_async_callback(records.close)
                bus = await NatsBus.connect(shared_nats_url(), name=f"retention-{n}")
                stack.push_async_callback(bus.close)
                running.append(
                    await stack.enter_async_context(
                        running_server(records=records, bus=bus, key=key, service=LIMITS)
                    )
                )
            yield running
    finally:
        await drop_schema(schema)


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def results(srv: RunningServer, quiz_id: str, token: str, fmt: str = "json") -> Any:
    response = await srv.http.get(
        f"/api/quizzes/{quiz_id}/results", params={"format": fmt}, headers=bearer(token)
    )
    assert response.status_code == 200, response.text
    return response.text if fmt == "csv" else response.json()


async def evicted(srv: RunningServer, quiz_id: str, timeout: float = 10.0) -> None:
    """Wait until ``srv`` has let the quiz go (its sweep runs every quarter retention)."""
    async with asyncio.timeout(timeout):
        while srv.service.store.loaded(quiz_id):
            await asyncio.sleep(0.02)


def assert_nothing_kept(srv: RunningServer, quiz_id: str) -> None:
    """Nothing of the quiz is left in the process: session, definition, per-quiz state."""
    service, store = srv.service, srv.service.store
    assert not store.loaded(quiz_id)
    assert quiz_id not in store._definitions
    assert quiz_id not in store._stored_seq
    assert quiz_id not in service._finished_at
    assert quiz_id not in service._follows
    assert quiz_id not in service._runtime
    assert quiz_id not in service.router._moved
    assert quiz_id not in srv.server.gateway._clients
    assert quiz_id not in service.owner._owned


async def finished_quiz(
    srvs: list[RunningServer], stack: contextlib.AsyncExitStack
) -> tuple[dict[str, Any], dict[str, str]]:
    """A quiz created on the first server, Anna on the first and Ben on the last, played to
    the end; returns the creation and the players' tokens. Connections close with ``stack``."""
    first, last = srvs[0], srvs[-1]
    quiz = await setup_quiz(first, stack, ["Anna"], count=2)
    joined = await last.join(quiz.pin, "Ben")
    ben = await stack.enter_async_context(open_client(last, "Ben", joined["token"]))
    quiz.players["Ben"], quiz.tokens["Ben"] = ben, joined["token"]
    await quiz.start()
    await quiz.players["Anna"].answer(0, quiz.correct(0))
    await ben.answer(0, quiz.wrong(0))
    await quiz.next(1)
    await quiz.players["Anna"].answer(1, quiz.wrong(1))
    assert (await quiz.host.host("end"))["type"] == "host_ack"
    await quiz.everyone_gets("finished")
    await asyncio.gather(*(c.wait_for(lambda f: f.get("type") == "final") for c in quiz.clients))
    return quiz.created, quiz.tokens


async def what_users_see(
    srvs: list[RunningServer], created: dict[str, Any], tokens: dict[str, str]
) -> dict[str, Any]:
    """Everything a user can ask of a finished quiz, from every server."""
    quiz_id, seen = created["quiz_id"], {}
    for n, srv in enumerate(srvs):
        seen[f"{n}: host"] = await results(srv, quiz_id, created["host_token"])
        seen[f"{n}: csv"] = await results(srv, quiz_id, created["host_token"], "csv")
        for name, token in tokens.items():
            seen[f"{n}: {name}"] = await results(srv, quiz_id, token)
            async with open_client(srv, name) as client:
                welcome = await client.hello(token)
            state = welcome["state"]
            if state["question"] is not None:  # counts down with the clock, evicted or not
                del state["question"]["remaining_ms"]
            seen[f"{n}: {name} hello"] = (welcome["quiz"], state)
        response = await srv.http.post(
            f"/api/quizzes/{created['pin']}/players", json={"nickname": "Late"}
        )
        seen[f"{n}: join"] = (response.status_code, response.json()["error"]["code"])
        async with open_client(srv, "Late") as late:
            await late.send({"type": "join", "pin": created["pin"], "nickname": "Late 2"})
            seen[f"{n}: ws join"] = (await late.expect("error"))["code"]
    return seen


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_finished_quiz_leaves_memory_and_reads_back_the_same(
    backend: str, tmp_path: Path
) -> None:
    async with servers(backend, tmp_path) as srvs:
        async with contextlib.AsyncExitStack() as stack:
            created, tokens = await finished_quiz(srvs, stack)
            before = await what_users_see(srvs, created, tokens)
        quiz_id = created["quiz_id"]
        for srv in srvs:
            await evicted(srv, quiz_id)
            assert_nothing_kept(srv, quiz_id)
            assert await srv.metric("livequiz_quizzes_loaded") == 0
            assert await srv.metric("livequiz_quizzes_evicted_total") == 1

        after = await what_users_see(srvs, created, tokens)  # loaded again to be read

        assert after == before
        assert before["0: join"] == (410, "quiz_finished")
        assert before["0: ws join"] == "quiz_finished"
        assert before["0: Anna hello"][1]["phase"] == "finished"
        for srv in srvs:  # and it goes again
            await evicted(srv, quiz_id)
            assert_nothing_kept(srv, quiz_id)
            assert await srv.metric("livequiz_quizzes_evicted_total") == 2


@pytest.mark.parametrize("backend", ["sqlite", "postgres+nats"])
async def test_a_connection_still_attached_keeps_the_quiz_until_it_goes(
    backend: str, tmp_path: Path
) -> None:
    async with servers(backend, tmp_path) as srvs:
        async with contextlib.AsyncExitStack() as stack:
            created, _tokens = await finished_quiz(srvs, stack)
        quiz_id, srv = created["quiz_id"], srvs[-1]
        # the podium stays up on the big screen long past the retention
        async with open_client(srv, "screen", created["host_token"]) as screen:
            await asyncio.sleep(RETENTION_S * 4)
            assert srv.service.store.loaded(quiz_id)
            await screen.send({"type": "sync"})
            snapshot = await screen.expect("snapshot")
            assert snapshot["state"]["phase"] == "finished"
        await evicted(srv, quiz_id)
        assert_nothing_kept(srv, quiz_id)
