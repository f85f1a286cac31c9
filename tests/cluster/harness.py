"""Real processes on the real PostgreSQL and NATS, players that ride out a crash, and a checker.

:func:`cluster` starts ``livequiz serve`` processes (``tests/deploy/processes.py``) over one fresh
PostgreSQL schema and the machine's NATS. :class:`Player` is a client as a phone would be: one
WebSocket connection, and when it drops, a new one to another process with the same token, and
the unacknowledged answer sent again. :class:`Ledger` is the checker of
tests/reliability/checker.py: every acknowledgement any player got and every frame each client
saw, compared with the quiz's final results as the server stores them (lost, doubled, recount,
sequence numbers going back, stale snapshots).

Without PostgreSQL or NATS the tests skip loudly (and fail under ``CI=true``:
tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import asyncpg
import httpx
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from tests.deploy.processes import LiveQuizProcess, livequiz_processes
from tests.reliability.checker import QuizHistory

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


class Player:
    """A client that reconnects to the next live process when its connection drops.

    ``processes`` is where it may connect, tried in turn from ``home``; frames of every
    connection are kept in :attr:`frames`, in the order they came.
    """

    def __init__(self, name: str, token: str, processes: Sequence[Endpoint], home: int) -> None:
        self.name = name
        self.token = token
        self.processes = processes
        self.at = home
        self.frames: list[Frame] = []
        self.reconnects = 0
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    @property
    def process(self) -> Endpoint:
        return self.processes[self.at]

    async def connect(self) -> Frame:
        """(Re)connect, to the next live process if the current one is gone; returns the
        welcome snapshot."""
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            if not self.process.alive:
                self.at = (self.at + 1) % len(self.processes)
                continue
            try:
                ws = await connect(ws_url(self.process), compression=None, open_timeout=5)
            except (OSError, TimeoutError, InvalidHandshake):
                # refused, or accepted by a process dying under it (killed a moment ago)
                if time.monotonic() > deadline:
                    raise
                self.at = (self.at + 1) % len(self.processes)
                await asyncio.sleep(0.1)
                continue
            self._ws = ws
            start = len(self.frames)
            self._reader = asyncio.create_task(self._read(ws))
            await ws.send(orjson.dumps({"type": "hello", "token": self.token}).decode())
            welcome = await self.wait_for(
                lambda f: f["type"] in ("welcome", "error"), since=start, timeout=TIMEOUT_S
            )
            if welcome["type"] == "welcome":
                return welcome
            if welcome.get("code") != "unavailable" or time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: {welcome}")
            await asyncio.sleep(0.2)

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for message in ws:
                self.frames.append(orjson.loads(message))
                self._changed.set()
        except ConnectionClosed:
            pass
        finally:
            self._changed.set()

    @property
    def connected(self) -> bool:
        return self._reader is not None and not self._reader.done()

    async def wait_for(
        self, predicate: Callable[[Frame], bool], *, since: int = 0, timeout: float = TIMEOUT_S
    ) -> Frame:
        """The first frame from index ``since`` on that ``predicate`` accepts; raises
        ``ConnectionError`` if the connection drops first."""
        seen = since
        async with asyncio.timeout(timeout):
            while True:
                for frame in self.frames[seen:]:
                    if predicate(frame):
                        return frame
                seen = len(self.frames)
                if not self.connected:
                    raise ConnectionError(f"{self.name}: connection dropped")
                self._changed.clear()
                await self._changed.wait()

    async def send(self, message: Frame) -> None:
        assert self._ws is not None
        await self._ws.send(orjson.dumps(message).decode())

    async def ensure_connected(self) -> None:
        """Reconnect (to the next live process) if the connection dropped."""
        if not self.connected:
            self.reconnects += 1
            await self.connect()

    async def state(self) -> Frame:
        """A fresh snapshot of the quiz's state (``sync``), reconnecting if need be."""
        await self.ensure_connected()
        start = len(self.frames)
        await self.send({"type": "sync"})
        snapshot = await self.wait_for(lambda f: f["type"] == "snapshot", since=start)
        state: Frame = snapshot["state"]
        return state

    async def answer(self, index: int, option: int) -> Frame:
        """Send an answer until it is acknowledged (or refused for good), riding out dropped
        connections and ``unavailable`` refusals as a real client does; returns the ack."""
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            assert time.monotonic() < deadline, f"{self.name}: no ack for question {index}"
            if not self.connected:
                self.reconnects += 1
                with contextlib.suppress(ConnectionError, ConnectionClosed):
                    await self.connect()
                continue
            start = len(self.frames)
            try:
                await self.send({"type": "answer", "q": index, "option": option})
                reply = await self.wait_for(
                    lambda f: f["type"] in ("ack", "error") and f.get("q") == index, since=start
                )
            except (ConnectionError, ConnectionClosed):
                continue
            if reply["type"] == "ack":
                return reply
            if reply["code"] != "unavailable":
                raise AssertionError(f"{self.name}: {reply}")
            await asyncio.sleep(0.1)

    async def close(self) -> None:
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._reader, 5)


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
