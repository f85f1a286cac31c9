"""Real processes on the real PostgreSQL and NATS, players that ride out a crash, and a checker.

:func:`cluster` starts ``livequiz serve`` processes (``tests/deploy/processes.py``) over one fresh
PostgreSQL schema and the machine's NATS. :class:`Player` is a client as a phone would be (the
reliability tests' :class:`~tests.reliability.client.Client`, moving between processes): one
WebSocket connection, and when it drops, a new one to another process with the same token, and
the unacknowledged answer sent again. :class:`Ledger` is the checker of
tests/reliability/checker.py: every acknowledgement any player got and every frame each client
saw, compared with the quiz's final results as the server stores them (lost, doubled, recount,
sequence numbers going back, stale snapshots).

Without PostgreSQL or NATS the tests skip loudly (and fail under ``CI=true``:
tests/conftest.py).
"""

from __future__ import annotations

import contextlib
import os
import random
import secrets
import socket
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import asyncpg
import httpx
import pytest

from tests.deploy.processes import LiveQuizProcess, livequiz_processes
from tests.reliability.checker import QuizHistory
from tests.reliability.client import Client

DATABASE_URL = os.environ.get(
    "LIVEQUIZ_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
BUS_URL = os.environ.get("LIVEQUIZ_TEST_BUS_URL", "nats://127.0.0.1:4222")
#: Generous: a loaded two-core machine with three servers and a database.
TIMEOUT_S = 30.0
#: Short leases, so a dead owner's quizzes move within about a second and a half.
LEASE_S = "1"

Frame = dict[str, Any]


async def require_services(database_url: str = DATABASE_URL) -> None:
    """Skip (loudly) unless PostgreSQL and NATS answer."""
    try:
        connection = await asyncpg.connect(database_url, timeout=5)
        await connection.close()
    except (OSError, asyncpg.PostgresError) as error:
        pytest.skip(f"PostgreSQL at {database_url} is not reachable ({error!r}): not tested")
    bus = urlparse(BUS_URL)
    try:
        with socket.create_connection((bus.hostname or "127.0.0.1", bus.port or 4222), 5):
            pass
    except OSError as error:
        pytest.skip(f"NATS at {BUS_URL} is not reachable ({error!r}): not tested")


@contextlib.asynccontextmanager
async def cluster(
    count: int, *args: str, database_url: str = DATABASE_URL
) -> AsyncIterator[list[LiveQuizProcess]]:
    """``count`` processes over one fresh schema; the schema is dropped at the end."""
    await require_services(database_url)
    schema = f"livequiz_test_{secrets.token_hex(4)}"
    try:
        async with livequiz_processes(
            count,
            "--database",
            database_url,
            "--database-schema",
            schema,
            "--bus",
            BUS_URL,
            "--lease-s",
            LEASE_S,
            *args,
        ) as processes:
            yield processes
    finally:
        await drop_schema(schema, database_url)


async def drop_schema(schema: str, database_url: str = DATABASE_URL) -> None:
    """Drop a test's schema, with everything in it; quietly if the database is gone (a test's
    failure is not to be hidden behind one at its end)."""
    with contextlib.suppress(OSError, asyncpg.PostgresError):
        connection = await asyncpg.connect(database_url, timeout=5)
        try:
            await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await connection.close()


@dataclass(frozen=True)
class Front:
    """A proxy in front of the processes (nginx): where clients connect instead of a process."""

    port: int
    alive: bool = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


Endpoint = LiveQuizProcess | Front


def ws_url(process: Endpoint) -> str:
    return f"ws://127.0.0.1:{process.port}/ws"


async def gauge(process: LiveQuizProcess, name: str) -> float:
    """One unlabelled sample of the process's ``/metrics``."""
    async with httpx.AsyncClient(base_url=process.url, timeout=TIMEOUT_S) as http:
        text = (await http.get("/metrics")).text
    line = next(x for x in text.splitlines() if x.startswith(f"{name} "))
    return float(line.split()[1])


async def post(process: Endpoint, path: str, body: Frame) -> Frame:
    async with httpx.AsyncClient(base_url=process.url, timeout=TIMEOUT_S) as http:
        response = await http.post(path, json=body)
    assert response.status_code == 201, response.text
    created: Frame = response.json()
    return created


async def results(process: LiveQuizProcess, quiz_id: str, token: str) -> Frame:
    async with httpx.AsyncClient(base_url=process.url, timeout=TIMEOUT_S) as http:
        response = await http.get(
            f"/api/quizzes/{quiz_id}/results", headers={"authorization": f"Bearer {token}"}
        )
    assert response.status_code == 200, response.text
    report: Frame = response.json()
    return report


# ---------------------------------------------------------------------- a resilient client


class Player(Client):
    """The reliability client (:class:`tests.reliability.client.Client`), moving on to the next
    live process when its connection drops or cannot be opened.

    ``processes`` is where it may connect, tried in turn from ``home``; frames of every
    connection are kept in :attr:`frames`, in the order they came. Stricter than the client it
    is built on, so that the cluster tests fail where they failed before: it gives up after
    :data:`TIMEOUT_S`; it sends nothing again on a live connection that does not reply (a
    lost reply fails the test rather than being resent past); ``unavailable`` (a process
    between owners) is the only refusal it tries again, of a ``hello`` or an answer;
    :meth:`state` does not ride out a dropped connection; and its ``hello`` carries no
    ``seq``, so a welcome must not go back even for a client that does not say what it has
    seen (the checker counts any frame that does).
    """

    timeout_s = TIMEOUT_S
    reply_timeout_s = TIMEOUT_S
    hello_retried = frozenset({"unavailable"})
    send_seq = False

    def __init__(self, name: str, token: str, processes: Sequence[Endpoint], home: int) -> None:
        super().__init__(name, token, self._url, random.Random(name))
        self.processes = processes
        self.at = home

    @property
    def process(self) -> Endpoint:
        return self.processes[self.at]

    def _url(self) -> str:
        while not self.process.alive:
            self.unreachable()
        return ws_url(self.process)

    def unreachable(self) -> None:
        self.at = (self.at + 1) % len(self.processes)

    def refused_for_good(self, refusal: Frame) -> bool:
        return refusal["code"] not in self.hello_retried

    async def state(self) -> Frame:
        """A fresh snapshot of the quiz's state (``sync``), reconnecting first if need be; a
        connection dropping before the snapshot fails the test."""
        snapshot = await self.request({"type": "sync"}, lambda f: f["type"] == "snapshot")
        state: Frame = snapshot["state"]
        return state


# ---------------------------------------------------------------------- the checker


class Ledger(QuizHistory):
    """The checker (:class:`tests.reliability.checker.QuizHistory`), counting repeats too."""

    def __init__(self) -> None:
        super().__init__("")
        self.repeats = 0

    def record(self, name: str, ack: Frame) -> None:
        if (name, ack["q"]) in self.acks:
            self.repeats += 1
        super().record(name, ack)
