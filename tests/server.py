"""A real livequiz server in the test's own event loop, on an ephemeral port.

For integration tests of the HTTP API and the WebSocket protocol: the whole server
(:class:`~livequiz.app.LiveQuizServer`: store, service, gateway, HTTP API, transport) runs as a
task beside the test, so a test talks to it over real sockets and can still look inside it
(``srv.service``, ``srv.server.store``…) to check what a client cannot see.

Usage, as a context manager (any :class:`~livequiz.app.ServerConfig` field can be overridden)::

    from tests.server import running_server

    async def test_a_tight_join_limit() -> None:
        async with running_server(service=ServiceLimits(joins_burst=1)) as srv:
            quiz = await srv.create_quiz(count=3, seed=1)
            player = await srv.join(quiz["pin"], "Anna")
            async with srv.connect() as ws:
                welcome = await srv.hello(ws, player["token"])
                frame = await srv.receive(ws, "board")

or as a fixture of a test module::

    @pytest.fixture
    async def srv() -> AsyncIterator[RunningServer]:
        async with running_server() as running:
            yield running

Stopping a server takes ~0.2 s (uvicorn polls for exit every 0.1 s), so a module with many tests
that do not need a fresh server can share one; its async tests must then run in the module's
event loop, where the server lives::

    in_module_loop = pytest.mark.asyncio(loop_scope="module")

    @pytest_asyncio.fixture(scope="module", loop_scope="module")
    async def srv() -> AsyncIterator[RunningServer]:
        async with running_server() as running:
            yield running

    @in_module_loop
    async def test_something(srv: RunningServer) -> None: ...

Shared servers accumulate quizzes and metrics: make a quiz per test, and compare metrics before
and after (or start a server of your own for exact counts and for other limits).

Defaults: ``host="127.0.0.1"`` (pass a connectable address if you change it), ``port=0`` (the
kernel picks a free port; read ``srv.port``) and ``data_dir=None`` (memory only; pass
``data_dir=tmp_path`` to test the journal and the key file, and the same ``data_dir`` and
``port=`` to a second server for a restart). On leaving the block the server shuts down
gracefully (WebSocket clients still open get close 1001) and any crash of the server task is
raised in the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect

from livequiz.app import LiveQuizServer, ServerConfig
from livequiz.ports import Bus, Records
from livequiz.service import QuizService

__all__ = ["RunningServer", "running_server"]

#: One sample line of the Prometheus text format: ``name{label="value",...} 1.0``.
_SAMPLE = re.compile(r"(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})? (?P<value>\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')

#: How long a test waits for the server to start or stop, or for a frame, before failing.
TIMEOUT_S = 10.0


class RunningServer:
    """A started server and what a test needs to talk to it."""

    def __init__(self, server: LiveQuizServer, http: httpx.AsyncClient) -> None:
        #: The whole server, for looking inside (``server.store``, ``server.metrics``…).
        self.server = server
        #: The bound TCP port; HTTP and WebSocket share it.
        self.port = server.port
        #: ``http://127.0.0.1:<port>``, without a trailing slash.
        self.base_url = str(http.base_url).rstrip("/")
        #: ``ws://127.0.0.1:<port>/ws``, the WebSocket endpoint.
        self.ws_url = f"ws://{server.config.host}:{self.port}/ws"
        #: An HTTP client with ``base_url`` set: ``await srv.http.get("/healthz")``.
        self.http = http

    @property
    def service(self) -> QuizService:
        return self.server.service

    # ------------------------------------------------------------------ HTTP shortcuts

    async def create_quiz(self, **body: Any) -> dict[str, Any]:
        """``POST /api/quizzes`` with ``body`` as JSON; returns the 201 body (fails otherwise).

        Pass ``seed=`` for a reproducible quiz, ``count=`` for a short one, ``settings={...}``.
        """
        response = await self.http.post("/api/quizzes", json=body)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    async def join(self, pin: str, nickname: str) -> dict[str, Any]:
        """``POST /api/quizzes/{pin}/players``; returns the 201 body with the player's token."""
        response = await self.http.post(f"/api/quizzes/{pin}/players", json={"nickname": nickname})
        assert response.status_code == 201, response.text
        joined: dict[str, Any] = response.json()
        return joined

    async def metric(self, name: str, **labels: str) -> float:
        """One sample of ``GET /metrics`` (Prometheus text), 0.0 if the series does not exist
        yet, e.g. ``await srv.metric("livequiz_joins_total", via="http")``."""
        response = await self.http.get("/metrics")
        assert response.status_code == 200, response.text
        for line in response.text.splitlines():
            match = _SAMPLE.fullmatch(line)
            if match is None or match["name"] != name:
                continue
            if dict(_LABEL.findall(match["labels"] or "")) == labels:
                return float(match["value"])
        return 0.0

    # ------------------------------------------------------------------ WebSocket shortcuts

    def connect(self, **kwargs: Any) -> connect:
        """A WebSocket client for ``ws_url``: ``async with srv.connect() as ws: ...``.

        Compression is off (the server never negotiates it) and keyword arguments go to
        :func:`websockets.asyncio.client.connect` (``origin=``, ``additional_headers=``…).
        """
        options: dict[str, Any] = {"compression": None, "open_timeout": TIMEOUT_S}
        options.update(kwargs)
        return connect(self.ws_url, **options)

    @staticmethod
    async def send(ws: ClientConnection, message: dict[str, Any]) -> None:
        """Send one client message as a JSON text frame."""
        await ws.send(orjson.dumps(message).decode())

    @staticmethod
    async def receive(
        ws: ClientConnection, *types: str, timeout: float = TIMEOUT_S
    ) -> dict[str, Any]:
        """The next frame whose ``type`` is one of ``types`` (any frame if none is given);
        frames of other types (leaderboard ticks, lobby deltas) are skipped. Fails the test
        after ``timeout`` seconds; raises ``ConnectionClosed`` if the server closes first."""
        async with asyncio.timeout(timeout):
            while True:
                frame: dict[str, Any] = orjson.loads(await ws.recv())
                if not types or frame.get("type") in types:
                    return frame

    async def hello(self, ws: ClientConnection, token: str) -> dict[str, Any]:
        """Authenticate with a token; returns the ``welcome`` frame (fails on an error)."""
        await self.send(ws, {"type": "hello", "token": token})
        frame = await self.receive(ws, "welcome", "error")
        assert frame["type"] == "welcome", frame
        return frame


@contextlib.asynccontextmanager
async def running_server(
    *,
    records: Records | None = None,
    bus: Bus | None = None,
    key: bytes | None = None,
    **overrides: Any,
) -> AsyncIterator[RunningServer]:
    """Start a server with ``ServerConfig(**defaults | overrides)``, yield it, stop it.

    ``records``, ``bus`` and ``key`` hand it storage, a bus and a signing key shared with other
    servers (several servers in one test, as several processes would share PostgreSQL and NATS);
    the test then closes them itself.
    """
    settings: dict[str, Any] = {"host": "127.0.0.1", "port": 0, "data_dir": None}
    settings.update(overrides)
    server = LiveQuizServer(ServerConfig(**settings), records=records, bus=bus, key=key)
    ready = asyncio.Event()
    task = asyncio.create_task(server.serve(ready), name="livequiz-test-server")
    waiter = asyncio.create_task(ready.wait())
    await asyncio.wait({task, waiter}, timeout=TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED)
    if not ready.is_set():
        waiter.cancel()
        if task.done():
            task.result()  # raises what stopped the server from starting
        task.cancel()
        raise TimeoutError(f"the server did not start within {TIMEOUT_S} s")
    try:
        base_url = f"http://{server.config.host}:{server.port}"
        async with httpx.AsyncClient(base_url=base_url) as http:
            yield RunningServer(server, http)
    finally:
        server.request_exit()
        async with asyncio.timeout(TIMEOUT_S):
            await task
