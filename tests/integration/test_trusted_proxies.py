"""Per-address limits behind a reverse proxy, over real sockets: a trusted peer's
``X-Forwarded-For`` names the client; anyone else's is ignored.

The test plays the proxy itself: it connects from a chosen loopback address (Linux routes all of
127.0.0.0/8 to the loopback interface, so a client socket can be bound to 127.0.0.2) and writes
the header a proxy would. The same through a real nginx: tests/deploy/test_nginx.py.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from websockets.exceptions import InvalidStatus

from livequiz.service import ServiceLimits
from livequiz.transport import Connection, HandshakeRequest, Rejection, TransportLimits
from livequiz.transport.proxy import parse_networks
from livequiz.transport.server import TransportServer
from tests.integration.helpers import open_client
from tests.server import TIMEOUT_S, RunningServer, running_server

#: The "proxy" of these tests: a peer address the server trusts.
PROXY = "127.0.0.2"
#: A peer the server does not trust (the test client's default source address).
STRANGER = "127.0.0.1"
TRUST_PROXY = parse_networks([f"{PROXY}/32"])


def from_address(source: str, forwarded_for: str | None = None) -> dict[str, Any]:
    """WebSocket connect options: the client socket bound to ``source``, and the header."""
    options: dict[str, Any] = {"local_addr": (source, 0)}
    if forwarded_for is not None:
        options["additional_headers"] = {"X-Forwarded-For": forwarded_for}
    return options


@contextlib.asynccontextmanager
async def http_from(srv: RunningServer, source: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.AsyncHTTPTransport(local_address=source)
    async with httpx.AsyncClient(base_url=srv.base_url, transport=transport) as http:
        yield http


async def connected(srv: RunningServer, stack: contextlib.AsyncExitStack, **options: Any) -> int:
    """Open a WebSocket kept open until ``stack`` closes; 101 → 101, a refusal → its status."""
    try:
        await stack.enter_async_context(open_client(srv, "tab", **options))
    except InvalidStatus as refused:
        return refused.response.status_code
    return 101


async def test_a_trusted_proxys_forwarded_address_is_what_connections_are_counted_by() -> None:
    async with (
        running_server(trusted_proxies=TRUST_PROXY, max_connections_per_address=2) as srv,
        contextlib.AsyncExitStack() as stack,
    ):
        anna = from_address(PROXY, "198.51.100.1")
        assert [await connected(srv, stack, **anna) for _ in range(3)] == [101, 101, 429]
        # Another client behind the same proxy has a budget of its own...
        ben = from_address(PROXY, "203.0.113.7, 198.51.100.2")  # (a client-written entry first)
        assert [await connected(srv, stack, **ben) for _ in range(3)] == [101, 101, 429]
        # ...and so has the proxy itself, for a request with no header.
        assert await connected(srv, stack, **from_address(PROXY)) == 101
        addresses = sorted(conn.address for conn in srv.server.transport.websockets.connections)
        assert addresses == ["127.0.0.2"] + ["198.51.100.1"] * 2 + ["198.51.100.2"] * 2


async def test_an_untrusted_peers_forwarded_address_is_ignored() -> None:
    async with (
        running_server(trusted_proxies=TRUST_PROXY, max_connections_per_address=2) as srv,
        contextlib.AsyncExitStack() as stack,
    ):
        # A client claiming a new address on each connection is still one address.
        statuses = [
            await connected(srv, stack, **from_address(STRANGER, f"198.51.100.{i}"))
            for i in range(1, 4)
        ]
        assert statuses == [101, 101, 429]
        addresses = [conn.address for conn in srv.server.transport.websockets.connections]
        assert addresses == [STRANGER, STRANGER]


async def test_joins_over_http_and_websocket_share_the_forwarded_clients_budget() -> None:
    limits = ServiceLimits(joins_burst=2, joins_per_second=0.01)
    async with (
        running_server(trusted_proxies=TRUST_PROXY, service=limits) as srv,
        http_from(srv, PROXY) as proxy,
    ):
        quiz = await srv.create_quiz(count=1)

        async def http_join(client: str, nickname: str) -> int:
            response = await proxy.post(
                f"/api/quizzes/{quiz['pin']}/players",
                json={"nickname": nickname},
                headers={"X-Forwarded-For": client},
            )
            return response.status_code

        async def ws_join(client: str, nickname: str) -> str:
            async with open_client(srv, nickname, **from_address(PROXY, client)) as bot:
                await bot.send({"type": "join", "pin": quiz["pin"], "nickname": nickname})
                frame = await bot.expect("welcome", "error")
                return str(frame.get("code", frame["type"]))

        # One client, one budget, whichever way it joins.
        assert await http_join("198.51.100.1", "Anna") == 201
        assert await ws_join("198.51.100.1", "Ben") == "welcome"
        assert await http_join("198.51.100.1", "Cleo") == 429
        assert await ws_join("198.51.100.1", "Dana") == "rate_limited"
        # Another client behind the same proxy is not held back by the first.
        assert await ws_join("198.51.100.2", "Emil") == "welcome"
        assert await http_join("198.51.100.2", "Finn") == 201
        assert await http_join("198.51.100.2", "Gus") == 429


async def test_http_joins_from_an_untrusted_peer_cannot_dodge_the_limit_with_the_header() -> None:
    # Nobody trusted (the default). uvicorn on its own would believe X-Forwarded-For from
    # 127.0.0.1 for HTTP requests; livequiz turns that off so the default trusts no one.
    limits = ServiceLimits(joins_burst=2, joins_per_second=0.01)
    async with running_server(service=limits) as srv:
        quiz = await srv.create_quiz(count=1)
        statuses = [
            (
                await srv.http.post(
                    f"/api/quizzes/{quiz['pin']}/players",
                    json={"nickname": f"Bot {i}"},
                    headers={"X-Forwarded-For": f"198.51.100.{i}"},
                )
            ).status_code
            for i in range(1, 4)
        ]
        assert statuses == [201, 201, 429]


# ------------------------------------------------------------------ the HTTP side on its own


class Refuse:
    """A WebSocket handler that takes nobody: these tests only look at HTTP."""

    def accept(self, request: HandshakeRequest) -> Rejection | None:
        return 404, "no sockets here"

    def on_open(self, conn: Connection) -> None: ...
    def on_message(self, conn: Connection, data: str) -> None: ...
    def on_close(self, conn: Connection, code: int, reason: str) -> None: ...


async def whoami(request: Request) -> JSONResponse:
    client = request.client
    return JSONResponse({"host": client.host if client else None, "scheme": request.url.scheme})


@pytest.mark.parametrize(
    ("source", "headers", "expected"),
    [
        (PROXY, {}, {"host": PROXY, "scheme": "http"}),
        (
            PROXY,
            {"X-Forwarded-For": "198.51.100.1", "X-Forwarded-Proto": "https"},
            {"host": "198.51.100.1", "scheme": "https"},
        ),
        (PROXY, {"X-Forwarded-Proto": "gopher"}, {"host": PROXY, "scheme": "http"}),
        (PROXY, {"X-Forwarded-Proto": "http, https"}, {"host": PROXY, "scheme": "https"}),
        (PROXY, {"X-Forwarded-For": "garbage"}, {"host": PROXY, "scheme": "http"}),
        (
            STRANGER,
            {"X-Forwarded-For": "198.51.100.1", "X-Forwarded-Proto": "https"},
            {"host": STRANGER, "scheme": "http"},
        ),
    ],
)
async def test_http_requests_see_the_client_and_scheme_a_trusted_proxy_forwards(
    source: str, headers: dict[str, str], expected: dict[str, str]
) -> None:
    app = Starlette(routes=[Route("/whoami", whoami)])
    server = TransportServer(
        app, Refuse(), TransportLimits(trusted_proxies=TRUST_PROXY), host="127.0.0.1", port=0
    )
    ready = asyncio.Event()
    task = asyncio.create_task(server.serve(ready))
    async with asyncio.timeout(TIMEOUT_S):
        await ready.wait()
    try:
        transport = httpx.AsyncHTTPTransport(local_address=source)
        async with httpx.AsyncClient(transport=transport) as http:
            response = await http.get(f"http://127.0.0.1:{server.port}/whoami", headers=headers)
        assert response.json() == expected
    finally:
        server.request_exit()
        async with asyncio.timeout(TIMEOUT_S):
            await task
