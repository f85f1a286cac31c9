"""livequiz behind a real nginx running the committed deploy/nginx.conf (tests/deploy/nginx.py):
a game over HTTP and WebSocket through the proxy, per-address limits that count the real client,
and several backends with one of them killed.

Skips (loudly, and failing under CI=true: tests/conftest.py) when nginx is not installed;
``make test`` installs Debian's nginx first (the Makefile's ``nginx`` target).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from livequiz.service import ServiceLimits
from livequiz.transport.proxy import parse_networks
from tests.deploy.nginx import NGINX, NginxProxy, upstreams_of
from tests.deploy.processes import livequiz_processes
from tests.integration.helpers import Client, board_entry, first_board_since
from tests.server import TIMEOUT_S, running_server

pytestmark = pytest.mark.skipif(
    NGINX is None,
    reason="nginx is not installed (make nginx, or apt-get install nginx): "
    "the deployment's proxy configuration was not tested",
)

#: nginx reaches the backends from 127.0.0.1: the only proxy the backends trust.
NGINX_PEER = parse_networks(["127.0.0.1/32"])
FAST = ServiceLimits(tick_ms=20)


@contextlib.asynccontextmanager
async def proxied(
    proxy: NginxProxy, name: str, source: str | None = None, **options: Any
) -> AsyncIterator[Client]:
    """A recording WebSocket client through nginx, from loopback address ``source``."""
    if source is not None:
        options["local_addr"] = (source, 0)
    async with connect(proxy.ws_url, compression=None, open_timeout=TIMEOUT_S, **options) as ws:
        client = Client(ws, name)
        try:
            yield client
        finally:
            await client.stop()


def http_client(proxy: NginxProxy, source: str | None = None) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(local_address=source)
    return httpx.AsyncClient(base_url=proxy.url, transport=transport, timeout=TIMEOUT_S)


async def status_of_upgrade(
    proxy: NginxProxy, stack: contextlib.AsyncExitStack, source: str, **options: Any
) -> int:
    """Open a socket through nginx from ``source``, kept open until ``stack`` closes: 101, or
    the status the upgrade was refused with."""
    try:
        await stack.enter_async_context(proxied(proxy, source, source, **options))
    except InvalidStatus as refused:
        return refused.response.status_code
    return 101


# ------------------------------------------------------------------ (a) a game through nginx


async def test_a_player_joins_and_plays_a_question_through_nginx() -> None:
    async with (
        running_server(service=FAST, trusted_proxies=NGINX_PEER) as srv,
        NginxProxy(backends=[srv.port]) as proxy,
        http_client(proxy) as http,
    ):
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        assert (await http.get("/metrics")).status_code == 403  # Prometheus goes direct
        created = await http.post("/api/quizzes", json={"count": 2, "seed": 5})
        assert created.status_code == 201, created.text
        quiz = created.json()
        joined = await http.post(f"/api/quizzes/{quiz['pin']}/players", json={"nickname": "Anna"})
        assert joined.status_code == 201, joined.text
        async with (
            proxied(proxy, "host") as host,
            proxied(proxy, "Anna") as anna,
            proxied(proxy, "Ben") as ben,
        ):
            await host.hello(quiz["host_token"])
            await anna.hello(joined.json()["token"])
            ben_id = (await ben.join(quiz["pin"], "Ben"))["state"]["player"]["player_id"]
            assert (await host.host("start"))["type"] == "host_ack"
            question = await anna.expect("question")
            assert question["question"]["index"] == 0
            correct = srv.service.store.session(quiz["quiz_id"]).questions[0].correct_option
            ack = await anna.answer(0, correct)
            assert ack["status"] == "accepted", ack
            assert ack["answer"]["correct"] is True
            assert (await ben.answer(0, (correct + 1) % 4))["answer"]["correct"] is False
            board = await first_board_since(ben, ack["seq"])
            line = board_entry(board, joined.json()["player_id"])
            assert line is not None
            assert line["score"] == ack["standing"]["score"] > 0
            # Everyone has answered: the question closes by itself and the answer is revealed.
            assert (await ben.expect("closed"))["reveal"]["correct_option"] == correct
            result = await ben.expect("result", index=0)
            assert result["answer"]["correct"] is False
            assert ben_id != joined.json()["player_id"]
        # nginx really carried it: it logs an upgraded connection when it ends.
        log = await wait_for_log(proxy, lambda text: text.count('"GET /ws HTTP/1.1" 101') == 3)
        assert '"POST /api/quizzes HTTP/1.1" 201' in log


async def wait_for_log(proxy: NginxProxy, done: Any) -> str:
    async with asyncio.timeout(TIMEOUT_S):
        while not done(log := proxy.access_log):
            await asyncio.sleep(0.02)
    return log


# ------------------------------------------------------------------ (b) the client's address


async def test_behind_nginx_limits_count_the_client_that_nginx_forwards() -> None:
    limits = ServiceLimits(joins_burst=2, joins_per_second=0.01)
    async with (
        running_server(
            trusted_proxies=NGINX_PEER, max_connections_per_address=2, service=limits
        ) as srv,
        NginxProxy(backends=[srv.port]) as proxy,
        contextlib.AsyncExitStack() as stack,
    ):
        # Two players on two machines: each has a budget of two connections.
        assert [await status_of_upgrade(proxy, stack, "127.0.0.2") for _ in range(3)] == [
            101,
            101,
            429,
        ]
        assert await status_of_upgrade(proxy, stack, "127.0.0.3") == 101
        # A client's own X-Forwarded-For does not buy it a new address: nginx appends the
        # address it saw, and the server reads the list from the right.
        spoofed = {"additional_headers": {"X-Forwarded-For": "198.51.100.7"}}
        assert await status_of_upgrade(proxy, stack, "127.0.0.3", **spoofed) == 101
        assert await status_of_upgrade(proxy, stack, "127.0.0.3", **spoofed) == 429
        seen = sorted(conn.address for conn in srv.server.transport.websockets.connections)
        assert seen == ["127.0.0.2", "127.0.0.2", "127.0.0.3", "127.0.0.3"]
        assert all(
            conn.remote.startswith("127.0.0.1:")  # the TCP peer is nginx
            for conn in srv.server.transport.websockets.connections
        )

        # Joins over HTTP, through nginx, from a third and a fourth machine.
        quiz = await srv.create_quiz(count=1)
        statuses: dict[str, list[int]] = {}
        for source, names in (("127.0.0.4", ["Anna", "Ben", "Cleo"]), ("127.0.0.5", ["Dana"])):
            async with http_client(proxy, source) as http:
                statuses[source] = [
                    (
                        await http.post(
                            f"/api/quizzes/{quiz['pin']}/players",
                            json={"nickname": name},
                            headers={"X-Forwarded-For": "198.51.100.8"},  # ignored, as above
                        )
                    ).status_code
                    for name in names
                ]
        assert statuses == {"127.0.0.4": [201, 201, 429], "127.0.0.5": [201]}


async def test_without_trusting_nginx_every_player_shares_its_address() -> None:
    # Why the option exists: the same setup with no --trusted-proxy counts everyone as nginx.
    async with (
        running_server(max_connections_per_address=2) as srv,
        NginxProxy(backends=[srv.port]) as proxy,
        contextlib.AsyncExitStack() as stack,
    ):
        statuses = [
            await status_of_upgrade(proxy, stack, source)
            for source in ("127.0.0.2", "127.0.0.3", "127.0.0.4")
        ]
        assert statuses == [101, 101, 429]
        seen = [conn.address for conn in srv.server.transport.websockets.connections]
        assert seen == ["127.0.0.1", "127.0.0.1"]


# ------------------------------------------------------------------ (c) several backends


async def test_requests_spread_over_the_backends_and_a_dead_one_is_skipped() -> None:
    async with (
        livequiz_processes(3, "--trusted-proxy", "127.0.0.1/32") as backends,
        NginxProxy(backends=[backend.port for backend in backends]) as proxy,
        http_client(proxy) as http,
        contextlib.AsyncExitStack() as stack,
    ):
        direct = [
            await stack.enter_async_context(httpx.AsyncClient(base_url=b.url, timeout=TIMEOUT_S))
            for b in backends
        ]

        async def create_quizzes(count: int) -> list[tuple[int, str]]:
            """Create quizzes through nginx: (index of the backend that holds it, PIN) each.
            Each process has its own store today, so exactly one of them knows a PIN."""
            made: list[tuple[int, str]] = []
            for _ in range(count):
                created = await http.post("/api/quizzes", json={"count": 1})
                assert created.status_code == 201, created.text
                pin = created.json()["pin"]
                homes = [
                    index
                    for index, client in enumerate(direct)
                    if backends[index].alive
                    and (await client.get(f"/api/quizzes/{pin}")).status_code == 200
                ]
                assert len(homes) == 1, (pin, homes)
                made.append((homes[0], pin))
            return made

        # Spread: sequential requests meet equal loads, so least_conn goes round robin.
        homes = [home for home, _pin in await create_quizzes(6)]
        assert sorted(homes) == [0, 0, 1, 1, 2, 2], homes

        # Three WebSockets: least_conn gives each new one to a backend that has none yet.
        players = [await stack.enter_async_context(proxied(proxy, f"p{i}")) for i in range(3)]
        for player in players:
            await player.send({"type": "sync"})
            assert (await player.expect("error"))["code"] == "auth_required"

        backends[1].kill()
        async with asyncio.timeout(TIMEOUT_S):
            await backends[1].process.wait()

        # The killed backend's player is cut off; the other two stay connected and served.
        dropped = await first_to_close(players)
        for player in players:
            if player is not dropped:
                await player.send({"type": "sync"})
                assert (await player.expect("error"))["code"] == "auth_required"
                assert not player.is_closed

        # New requests all get through: a refused connect goes on to the next backend.
        for _ in range(6):
            assert (await http.get("/healthz")).status_code == 200
        after = await create_quizzes(4)
        assert {home for home, _pin in after} == {0, 2}, after

        # The dropped player reconnects through nginx and gets in again, on a living backend
        # (today each backend has its own quizzes: it joins whichever of them it reached).
        again = await stack.enter_async_context(proxied(proxy, "p again"))
        for _home, pin in after:
            await again.send({"type": "join", "pin": pin, "nickname": "Back again"})
            frame = await again.expect("welcome", "error")
            if frame["type"] == "welcome":
                break
            assert frame["code"] == "unknown_quiz", frame
        else:
            raise AssertionError(f"the reconnected player joined none of {after}")

        dead = f"127.0.0.1:{backends[1].port}"
        tried = [upstreams_of(line) for line in proxy.access_log.splitlines()]
        retried = [path for path in tried if len(path) > 1 and path[0] == dead]
        assert retried, "no request was tried on the dead backend and then on another one"
        assert all(path[-1] != dead for path in retried)


async def first_to_close(clients: list[Client]) -> Client:
    """The one client whose connection ends first; fails if none, or several at once, end."""
    waits = {asyncio.ensure_future(client.closed()): client for client in clients}
    done, pending = await asyncio.wait(
        waits, timeout=TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED
    )
    for task in pending:
        task.cancel()
    assert len(done) == 1, f"{len(done)} connections closed, expected exactly one"
    return waits[done.pop()]
