"""How the HTTP guard admits requests (livequiz.transport.http_guard): a few begin per turn of
the event loop, a screen answers what the application would refuse, from the head alone, and
each address has a budget of new connections, charged extra for offences.

Both keep HTTP work from crowding out WebSocket messages on the one event loop (a join storm
held honest answers ~150 ms behind its bursts). Over real sockets, like test_http_guard.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable

import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from livequiz.transport import HandshakeRequest, Rejection, TransportLimits
from livequiz.transport.http_guard import HttpGuard, Refusal
from livequiz.transport.server import TransportServer
from tests.transport.test_http_guard import (
    FLOODER,
    OTHER,
    EchoHandler,
    exchange,
    get,
    open_socket,
    read_to_end,
    request_for,
    still_open,
    write_endlessly,
)

REFUSAL: Refusal = (429, "rate_limited", "too many from your address", {"retry-after": "3"})


class TurnCounter:
    """Counts the turns of the running event loop: a callback that schedules itself again
    runs once per turn (``call_soon`` runs in the next one)."""

    def __init__(self) -> None:
        self.turn = 0
        self._stopped = False

    def start(self) -> None:
        asyncio.get_running_loop().call_soon(self._tick)

    def stop(self) -> None:
        self._stopped = True

    def _tick(self) -> None:
        if not self._stopped:
            self.turn += 1
            asyncio.get_running_loop().call_soon(self._tick)


class App:
    """``/hello`` notes the loop turn its handler began in; ``/refuse`` would answer 200 if it
    were ever reached (the screen refuses it first). ``screened`` has the loop turn of each
    request the screen looked at."""

    def __init__(self, turns: TurnCounter) -> None:
        self.turns = turns
        self.began: list[int] = []
        self.screened: list[int] = []
        self.reached_refuse = 0

    def build(self) -> Starlette:
        async def hello(request: Request) -> PlainTextResponse:
            self.began.append(self.turns.turn)
            return PlainTextResponse("hello")

        async def refuse(request: Request) -> PlainTextResponse:
            self.reached_refuse += 1
            return PlainTextResponse("reached")

        return Starlette(
            routes=[Route("/hello", hello), Route("/refuse", refuse, methods=["POST"])]
        )


def screen(method: str, path: str, address: str) -> Refusal | None:
    return REFUSAL if method == "POST" and path == "/refuse" and address == FLOODER else None


Start = Callable[..., Awaitable[tuple[TransportServer, App]]]


@pytest.fixture
async def start() -> AsyncIterator[Start]:
    started: list[tuple[TransportServer, asyncio.Task[None], TurnCounter]] = []

    async def _start(**limits: object) -> tuple[TransportServer, App]:
        turns = TurnCounter()
        app = App(turns)

        def noting_screen(method: str, path: str, address: str) -> Refusal | None:
            app.screened.append(turns.turn)
            return screen(method, path, address)

        server = TransportServer(
            app.build(),
            EchoHandler(),
            TransportLimits(**limits),  # type: ignore[arg-type]
            host="0.0.0.0",
            port=0,
            http_screen=noting_screen,
        )
        ready = asyncio.Event()
        task = asyncio.create_task(server.serve(ready))
        await asyncio.wait_for(ready.wait(), 5)
        turns.start()
        started.append((server, task, turns))
        return server, app

    yield _start
    for server, task, turns in started:
        turns.stop()
        server.request_exit()
        await asyncio.wait_for(task, 10)


async def read_response(sock_recv: Callable[[], Awaitable[bytes]], buffer: bytearray) -> bytes:
    """One whole response (head and a Content-Length body) off a kept-alive connection."""
    while b"\r\n\r\n" not in buffer:
        chunk = await asyncio.wait_for(sock_recv(), 5)
        assert chunk, f"the server closed the connection; read {bytes(buffer)!r}"
        buffer += chunk
    head, _, _ = bytes(buffer).partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    whole = len(head) + 4 + length
    while len(buffer) < whole:
        buffer += await asyncio.wait_for(sock_recv(), 5)
    response = bytes(buffer[:whole])
    del buffer[:whole]
    return response


# -- the screen ----------------------------------------------------------------------------


async def test_the_screen_answers_from_the_head_and_the_connection_serves_the_next_request(
    start: Start,
) -> None:
    server, app = await start()
    loop = asyncio.get_running_loop()
    sock = await open_socket(server.port, FLOODER)
    buffer = bytearray()
    try:
        body = b'{"nickname": "Mia"}'
        # the refused request and the next one in one write: the body is dropped, the next
        # request is read and answered on the same connection
        await loop.sock_sendall(
            sock,
            b"POST /refuse HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s"
            % (len(body), body)
            + b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n",
        )
        refused = await read_response(lambda: loop.sock_recv(sock, 65536), buffer)
        served = await read_response(lambda: loop.sock_recv(sock, 65536), buffer)
        assert await still_open(sock), "a refused request must not end a kept-alive connection"
    finally:
        sock.close()
    head, _, payload = refused.partition(b"\r\n\r\n")
    lines = head.lower().split(b"\r\n")
    assert lines[0] == b"http/1.1 429 too many requests"
    assert b"retry-after: 3" in lines
    assert b"content-type: application/json" in lines
    assert b"connection: close" not in lines
    assert orjson.loads(payload) == {
        "error": {"code": "rate_limited", "message": "too many from your address"}
    }
    assert served.startswith(b"HTTP/1.1 200")
    assert served.endswith(b"hello")
    assert app.reached_refuse == 0, "the application saw a request the screen answered"


async def test_the_screen_lets_other_addresses_through_and_closes_when_asked(
    start: Start,
) -> None:
    server, app = await start()
    refuse = b"POST /refuse HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    ending = await exchange(server.port, refuse, OTHER)
    assert ending.status == 200
    assert ending.data.endswith(b"reached")
    assert app.reached_refuse == 1
    # a client that asked to close gets the refusal, then the server's FIN (no reset)
    ending = await exchange(server.port, refuse, FLOODER)
    assert ending.status == 429
    assert not ending.reset
    assert ending.json["error"] == {"code": "rate_limited", "message": "too many from your address"}
    assert app.reached_refuse == 1


async def test_a_screened_request_whose_body_never_comes_is_closed_at_the_body_timeout(
    start: Start,
) -> None:
    server, app = await start(http_body_timeout_s=0.5)
    loop = asyncio.get_running_loop()
    sock = await open_socket(server.port, FLOODER)
    try:
        await loop.sock_sendall(
            sock, b"POST /refuse HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab"
        )
        ending = await read_to_end(sock, timeout=3)
    finally:
        sock.close()
    assert ending.status == 429  # answered at once from the head
    assert 0.3 <= ending.after_s <= 2.0, ending.after_s  # then closed at the body timeout
    assert app.reached_refuse == 0


async def test_a_screened_request_whose_body_never_ends_is_not_read_past_the_limit(
    start: Start,
) -> None:
    # Answered 429 from its head; its body is dropped, but only up to the body limit: before,
    # an endless chunked body was read for the whole body timeout (30 s by default).
    server, app = await start(
        http_max_body_bytes=64 * 1024, http_discard_bytes=0, close_timeout_s=1.0
    )
    sock = await open_socket(server.port, FLOODER)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
        flood = await write_endlessly(
            sock, b"POST /refuse HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", 4.0
        )
    finally:
        sock.close()
    assert flood.ending.status == 429
    assert flood.sent < 48 * 1024 * 1024, flood.sent
    assert flood.ending.after_s < 3.5, flood.ending.after_s
    assert app.reached_refuse == 0


# -- a few requests begin per turn ---------------------------------------------------------


async def burst(port: int, count: int) -> list[bytes]:
    """``count`` requests for /hello on as many connections, written at once."""
    loop = asyncio.get_running_loop()
    socks = [await open_socket(port, OTHER) for _ in range(count)]
    try:
        for sock in socks:
            await loop.sock_sendall(
                sock, b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            )
        endings = await asyncio.gather(*(read_to_end(sock) for sock in socks))
    finally:
        for sock in socks:
            sock.close()
    return [ending.data for ending in endings]


@pytest.mark.parametrize("per_turn", [1, 3])
async def test_a_burst_of_requests_begins_a_few_per_turn_and_every_one_is_answered(
    start: Start, per_turn: int
) -> None:
    server, app = await start(http_requests_per_turn=per_turn)
    answers = await burst(server.port, 40)
    assert all(a.startswith(b"HTTP/1.1 200") and a.endswith(b"hello") for a in answers)
    assert len(app.began) == 40
    most_in_one_turn = max(Counter(app.began).values())
    assert most_in_one_turn <= per_turn, Counter(app.began)
    assert server.http.waiting == 0


async def test_without_a_bound_a_burst_begins_in_one_turn(start: Start) -> None:
    # What the bound prevents (and proof that the turn count above can see it).
    server, app = await start(http_requests_per_turn=0)
    answers = await burst(server.port, 40)
    assert all(a.endswith(b"hello") for a in answers)
    assert max(Counter(app.began).values()) > 3, Counter(app.began)


async def test_a_waiting_request_whose_client_went_takes_no_turn() -> None:
    guard = HttpGuard(TransportLimits(http_requests_per_turn=2))
    begun: list[tuple[str, int]] = []
    turns = TurnCounter()
    turns.start()

    def request(name: str, client_there: bool = True) -> Callable[[], bool]:
        def begin() -> bool:
            if client_there:
                begun.append((name, turns.turn))
            return client_there

        return begin

    for name in "ab":
        guard.begin(request(name))
    guard.begin(request("gone", client_there=False))
    for name in "cde":
        guard.begin(request(name))
    assert guard.waiting == 4
    for _ in range(5):
        await asyncio.sleep(0)
    turns.stop()
    names = [name for name, _ in begun]
    assert names == ["a", "b", "c", "d", "e"]  # in order of arrival, the gone one skipped
    per_turn = Counter(turn for _, turn in begun)
    assert sorted(per_turn.values()) == [1, 2, 2]  # c and d share the turn "gone" did not use
    assert guard.waiting == 0


class TurnNotingHandler(EchoHandler):
    """Notes the loop turn of each handshake it is asked to accept."""

    def __init__(self, turns: TurnCounter) -> None:
        self.turns = turns
        self.accepted: list[int] = []

    def accept(self, request: HandshakeRequest) -> Rejection | None:
        self.accepted.append(self.turns.turn)
        return None


async def test_websocket_handshakes_are_not_held_by_the_request_budget() -> None:
    # Upgrades are not requests to begin: a burst from one address meets the new-connection
    # budget instead (and the reads budget, below: off here, to see this one alone).
    per_turn = 1
    turns = TurnCounter()
    handler = TurnNotingHandler(turns)
    server = TransportServer(
        App(turns).build(),
        handler,
        TransportLimits(http_requests_per_turn=per_turn, http_reads_per_turn=0),
        host="0.0.0.0",
        port=0,
    )
    ready = asyncio.Event()
    task = asyncio.create_task(server.serve(ready))
    await asyncio.wait_for(ready.wait(), 5)
    turns.start()
    loop = asyncio.get_running_loop()
    socks = [await open_socket(server.port, OTHER) for _ in range(30)]
    try:
        upgrade = (
            b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        for sock in socks:
            await loop.sock_sendall(sock, upgrade)
        heads = [await asyncio.wait_for(loop.sock_recv(sock, 4096), 5) for sock in socks]
    finally:
        for sock in socks:
            sock.close()
        turns.stop()
        server.request_exit()
        await asyncio.wait_for(task, 10)
    assert all(head.startswith(b"HTTP/1.1 101") for head in heads), heads[:2]
    most_in_one_turn = max(Counter(handler.accepted).values())
    assert most_in_one_turn > per_turn, Counter(handler.accepted)


# -- a few connections are read per turn ----------------------------------------------------


async def screened_burst(
    start: Start, reads_per_turn: int, count: int
) -> tuple[list[bytes], list[int], int]:
    """``count`` requests the screen refuses, written at once on as many connections: the
    answers, the loop turn each was screened in, and the reads still waiting at the end."""
    server, app = await start(http_reads_per_turn=reads_per_turn)
    loop = asyncio.get_running_loop()
    socks = [await open_socket(server.port, FLOODER) for _ in range(count)]
    try:
        await asyncio.sleep(0.2)  # every connection accepted: only the requests come at once
        for sock in socks:
            await loop.sock_sendall(sock, b"POST /refuse HTTP/1.1\r\nHost: x\r\n\r\n")
        answers = await asyncio.gather(
            *(
                read_response(functools.partial(loop.sock_recv, sock, 4096), bytearray())
                for sock in socks
            )
        )
        waiting = server.http.reads_waiting
    finally:
        for sock in socks:
            sock.close()
    return answers, app.screened, waiting


async def test_a_burst_of_requests_is_read_a_few_connections_per_turn(start: Start) -> None:
    """Even refusals answered from the head: hundreds in one turn make the turn long, and an
    honest answer read in it waits for all of them."""
    answers, screened, waiting = await screened_burst(start, reads_per_turn=2, count=40)
    assert all(a.startswith(b"HTTP/1.1 429") for a in answers), answers[:2]
    assert len(screened) == 40
    assert max(Counter(screened).values()) <= 2, Counter(screened)
    assert waiting == 0


async def test_without_a_read_bound_a_burst_is_read_in_one_turn(start: Start) -> None:
    # What the bound prevents (and proof that the turn count above can see it).
    answers, screened, _ = await screened_burst(start, reads_per_turn=0, count=40)
    assert all(a.startswith(b"HTTP/1.1 429") for a in answers)
    assert max(Counter(screened).values()) > 2, Counter(screened)


class HeldConnection:
    """Stands for a connection whose data waits for a turn (``resume_deferred``)."""

    def __init__(self, name: str, turns: TurnCounter, log: list[tuple[str, int]], open_: bool):
        self.name, self.turns, self.log, self.open = name, turns, log, open_

    def resume_deferred(self) -> bool:
        if self.open:
            self.log.append((self.name, self.turns.turn))
        return self.open


async def test_held_connections_are_read_in_order_and_a_closed_one_takes_no_room() -> None:
    guard = HttpGuard(TransportLimits(http_reads_per_turn=2))
    turns = TurnCounter()
    turns.start()
    log: list[tuple[str, int]] = []
    now = [guard.read_now(HeldConnection(n, turns, log, True)) for n in "ab"]  # type: ignore[arg-type]
    held = [
        HeldConnection(name, turns, log, open_=name != "gone") for name in ("c", "gone", "d", "e")
    ]
    later = [guard.read_now(conn) for conn in held]  # type: ignore[arg-type]
    assert now == [True, True]
    assert later == [False] * 4  # this turn's room is taken
    assert guard.reads_waiting == 4
    for _ in range(5):
        await asyncio.sleep(0)
    turns.stop()
    assert [name for name, _ in log] == ["c", "d", "e"]  # in order, the closed one skipped
    assert sorted(Counter(turn for _, turn in log).values()) == [1, 2]
    assert guard.reads_waiting == 0


# -- the budget of new connections per address -------------------------------------------------


class BudgetServer:
    """A server whose ``/hello`` answers 200 and ``/upload`` 413 past 1,000 bytes (as the API
    does past its limit), with WebSockets echoing messages of at most 1 KiB; ``events`` has
    what the guard reported."""

    def __init__(self, **limits: object) -> None:
        async def hello(request: Request) -> PlainTextResponse:
            return PlainTextResponse("hello")

        async def upload(request: Request) -> PlainTextResponse:
            if int(request.headers.get("content-length", "0")) > 1000:
                return PlainTextResponse("too large", status_code=413)
            return PlainTextResponse(str(len(await request.body())))

        app = Starlette(routes=[Route("/hello", hello), Route("/upload", upload, methods=["POST"])])
        self.events: list[str] = []
        self.server = TransportServer(
            app,
            EchoHandler(),
            TransportLimits(max_message_bytes=1024, **limits),  # type: ignore[arg-type]
            host="0.0.0.0",
            port=0,
            on_http_event=self.events.append,
        )
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> BudgetServer:
        ready = asyncio.Event()
        self._task = asyncio.create_task(self.server.serve(ready))
        await asyncio.wait_for(ready.wait(), 5)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.request_exit()
        assert self._task is not None
        await asyncio.wait_for(self._task, 10)

    @property
    def port(self) -> int:
        return self.server.port

    def budget(self, address: str = FLOODER) -> float:
        return self.server.http.budget(address)


async def test_new_connections_over_an_address_budget_get_429_at_once_and_others_connect() -> None:
    async with BudgetServer(new_connection_burst=5, new_connections_per_second=0.5) as srv:
        for _ in range(5):
            assert await get(srv.port, source=FLOODER) == (200, b"hello")
        refused = await exchange(srv.port, request_for("/hello"))
        # another address has its own budget; the refused one still has none
        assert await get(srv.port, source=OTHER) == (200, b"hello")
        again = await exchange(srv.port, request_for("/hello"))
    for ending in (refused, again):
        # answered at the accept and closed at once, as at the per-address cap (under a
        # flood the descriptor is freed at once: a request sent after it may meet a reset)
        assert ending.status == 429
        head = ending.data.partition(b"\r\n\r\n")[0].lower()
        assert b"\r\nretry-after: 2\r\n" in head  # one token at 0.5/s
        assert b"connection: close" in head
        assert ending.json == {
            "error": {
                "code": "rate_limited",
                "message": "too many new connections from your address; try again in 2 s",
            }
        }
    assert srv.events.count("refused_rate") == 2


async def test_an_address_budget_refills_with_time() -> None:
    async with BudgetServer(new_connection_burst=2, new_connections_per_second=4) as srv:
        assert [(await get(srv.port, source=FLOODER))[0] for _ in range(3)] == [200, 200, 429]
        await asyncio.sleep(0.3)  # 1.2 tokens
        assert [(await get(srv.port, source=FLOODER))[0] for _ in range(2)] == [200, 429]
        await asyncio.sleep(0.6)  # up to the burst of 2, not the 2.4 the time is worth
        statuses = [(await get(srv.port, source=FLOODER))[0] for _ in range(3)]
    assert statuses == [200, 200, 429]


def oversized_body() -> bytes:
    body = b"x" * 2000
    return (
        b"POST /upload HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body) + body
    )


async def oversized_message(srv: BudgetServer) -> None:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosedError

    async with connect(f"ws://{FLOODER}:{srv.port}/ws", compression=None) as ws:
        await ws.send("x" * 2000)
        with pytest.raises(ConnectionClosedError):
            await asyncio.wait_for(ws.recv(), 5)
    assert ws.close_code == 1009


async def over_message_rate(srv: BudgetServer) -> None:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosedError

    async with connect(f"ws://{FLOODER}:{srv.port}/ws", compression=None) as ws:
        with contextlib.suppress(ConnectionClosedError):  # a timeout fails the test
            for _ in range(200):  # the burst is 20: a warning, then 1008
                await ws.send("hi")
            while True:
                await asyncio.wait_for(ws.recv(), 5)
    assert ws.close_code == 1008


async def malformed_request(srv: BudgetServer) -> None:
    ending = await exchange(srv.port, b"GET\x01 /hello HTTP/1.1\r\nHost: x\r\n\r\n")
    assert ending.status == 400


async def oversized_request(srv: BudgetServer) -> None:
    assert (await exchange(srv.port, oversized_body())).status == 413


@pytest.mark.parametrize(
    "offend",
    [
        pytest.param(oversized_request, id="body-413"),
        pytest.param(oversized_message, id="websocket-1009"),
        pytest.param(over_message_rate, id="websocket-1008"),
        pytest.param(malformed_request, id="malformed-400"),
    ],
)
async def test_an_offence_costs_its_address_the_extra_tokens(
    offend: Callable[[BudgetServer], Awaitable[None]],
) -> None:
    limits = {"new_connection_burst": 15, "new_connections_per_second": 0.01}
    async with BudgetServer(new_connection_offence_cost=10, **limits) as srv:
        await offend(srv)
        await asyncio.sleep(0.1)  # the 1009 is reported as the server reads the frame
        # 15 - 1 (the connection) - 10 (the offence) = 4 left, give or take the refill
        assert 3.9 < srv.budget() < 4.1
        statuses = [(await get(srv.port, source=FLOODER))[0] for _ in range(5)]
        assert statuses == [200, 200, 200, 200, 429]
        assert srv.budget(OTHER) == 15  # nobody else pays
        assert await get(srv.port, source=OTHER) == (200, b"hello")


async def test_offences_run_up_a_debt_of_one_burst_at_most() -> None:
    async with BudgetServer(
        new_connection_burst=30, new_connections_per_second=0.01, new_connection_offence_cost=10
    ) as srv:
        # three requests on connections opened before the offences: the debt goes below 0
        async with contextlib.AsyncExitStack() as stack:
            socks = [
                stack.enter_context(contextlib.closing(await open_socket(srv.port)))
                for _ in range(8)
            ]
            for sock in socks:
                await asyncio.get_running_loop().sock_sendall(sock, oversized_body())
            endings = [await read_to_end(sock) for sock in socks]
        assert [ending.status for ending in endings] == [413] * 8
        assert srv.budget() == pytest.approx(-30, abs=0.1)  # 30 - 8 - 80, bounded at -30
        assert (await get(srv.port, source=FLOODER))[0] == 429


async def test_trusted_proxies_have_no_budget_and_pay_for_no_offence() -> None:
    from livequiz.transport.proxy import parse_networks

    async with BudgetServer(
        new_connection_burst=2,
        new_connections_per_second=0.01,
        trusted_proxies=parse_networks([FLOODER]),
    ) as srv:
        statuses = [(await get(srv.port, source=FLOODER))[0] for _ in range(6)]
        assert (await exchange(srv.port, oversized_body())).status == 413
        assert [(await get(srv.port, source=FLOODER))[0] for _ in range(2)] == [200, 200]
        # the budget still holds for the others
        assert [(await get(srv.port, source=OTHER))[0] for _ in range(3)] == [200, 200, 429]
    assert statuses == [200] * 6
    assert srv.budget(FLOODER) == 2
    assert srv.events.count("refused_rate") == 1


def test_the_budgets_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from livequiz.transport import http_guard

    monkeypatch.setattr(http_guard, "MAX_CONNECTION_BUDGETS", 10)
    guard = HttpGuard(TransportLimits(new_connection_burst=3, new_connections_per_second=1.0))
    now = [0.0]
    guard._clock = lambda: now[0]
    for i in range(10):
        assert guard.take_connection(f"10.0.0.{i}") == 0.0
    guard.offend("10.0.0.0")
    now[0] = 1.5  # all but 10.0.0.0 are full again
    assert guard.take_connection("10.0.1.1") == 0.0
    assert set(guard._budgets) == {"10.0.0.0", "10.0.1.1"}  # the full ones were forgotten
    assert guard.budget("10.0.0.0") == pytest.approx(-3 + 1.5)  # the offender was not
    assert guard.take_connection("10.0.0.0") == pytest.approx(2.5)  # seconds to one token


async def test_an_upgraded_http_protocol_is_freed_at_once_not_left_to_the_collector() -> None:
    # Each WebSocket begins as an HTTP connection whose protocol object is dropped at the
    # upgrade. It and its parser referred to each other, so every upgrade left a cycle for the
    # garbage collector: under a flood of upgrades, tens of thousands of objects a minute and
    # collections of 30-50 ms holding every honest answer (docs/reliability.md).
    import gc

    from websockets.asyncio.client import connect

    from livequiz.transport.http_guard import GuardedHttpProtocol

    def http_protocols() -> int:
        return sum(isinstance(o, GuardedHttpProtocol) for o in gc.get_objects())

    async with BudgetServer() as srv:
        gc.collect()
        gc.disable()  # only reference counting frees anything now
        try:
            before = http_protocols()
            async with contextlib.AsyncExitStack() as stack:
                sockets = [
                    await stack.enter_async_context(
                        connect(f"ws://127.0.0.1:{srv.port}/ws", compression=None)
                    )
                    for _ in range(20)
                ]
                for ws in sockets:
                    await ws.send("hello")
                    assert await asyncio.wait_for(ws.recv(), 5) == "hello"
                assert http_protocols() - before == 0
        finally:
            gc.enable()


async def closed_normally(srv: BudgetServer) -> None:
    from websockets.asyncio.client import connect

    async with connect(f"ws://{FLOODER}:{srv.port}/ws", compression=None) as ws:
        await ws.send("hello")
        assert await asyncio.wait_for(ws.recv(), 5) == "hello"


async def dropped(srv: BudgetServer) -> None:
    from websockets.asyncio.client import connect

    ws = await connect(f"ws://{FLOODER}:{srv.port}/ws", compression=None)
    await ws.send("hello")
    assert await asyncio.wait_for(ws.recv(), 5) == "hello"
    ws.transport.abort()  # a TCP reset, no close frame
    await ws.wait_closed()


@pytest.mark.parametrize(
    "end",
    [
        pytest.param(oversized_message, id="closed-1009"),
        pytest.param(closed_normally, id="closed-1000"),
        pytest.param(dropped, id="dropped"),
    ],
)
async def test_a_closed_websocket_is_freed_at_once_not_left_to_the_collector(
    end: Callable[[BudgetServer], Awaitable[None]],
) -> None:
    # websockets' parser is a generator that refers to its protocol and stays suspended at its
    # last yield (and PayloadTooBig's traceback holds its frame): every closed connection left
    # a cycle for the garbage collector.
    import gc

    from websockets.server import ServerProtocol

    def protocols() -> int:  # the server's side (the test's own client keeps cycles of its own)
        return sum(type(o) is ServerProtocol for o in gc.get_objects())

    async with BudgetServer() as srv:
        gc.collect()
        gc.disable()  # only reference counting frees anything now
        try:
            before = protocols()
            for _ in range(5):
                await end(srv)
            async with asyncio.timeout(5):
                while srv.server.websockets.connections or srv.server.websockets._pending:
                    await asyncio.sleep(0.05)  # the server's side closed too
            await asyncio.sleep(0.1)
            assert protocols() - before == 0
        finally:
            gc.enable()


async def test_data_held_behind_an_upgrade_request_goes_to_the_websocket(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A connection's reads may be held for a later turn (http_reads_per_turn) and handed over
    # together: what came after the upgrade request belongs to the WebSocket, not to the
    # dropped HTTP protocol (whose parser is gone).
    from websockets.asyncio.client import connect

    from livequiz.transport.http_guard import GuardedHttpProtocol

    upgraded: list[GuardedHttpProtocol] = []
    original = GuardedHttpProtocol.handle_websocket_upgrade

    def noting_upgrade(self: GuardedHttpProtocol) -> None:
        original(self)
        upgraded.append(self)

    monkeypatch.setattr(GuardedHttpProtocol, "handle_websocket_upgrade", noting_upgrade)
    async with (
        BudgetServer() as srv,
        connect(f"ws://127.0.0.1:{srv.port}/ws", compression=None) as ws,
    ):
        (http,) = upgraded
        assert http.parser is None
        http._receive(_masked(b"held back"))
        assert await asyncio.wait_for(ws.recv(), 5) == "held back"
        await ws.send("after")
        assert await asyncio.wait_for(ws.recv(), 5) == "after"


def _masked(payload: bytes) -> bytes:
    """A client's text frame (clients must mask), small enough for a one-byte length."""
    mask = b"\x01\x02\x03\x04"
    data = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x81, 0x80 | len(payload)]) + mask + data
