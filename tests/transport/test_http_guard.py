"""Plain HTTP connections under guard (livequiz.transport.http_guard), over real sockets.

Each test starts a server with small limits and drives raw sockets, some from a second loopback
address (127.0.0.2 reaches the server on Linux loopback without any setup), so that one address
can flood while another checks that the server still answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from livequiz.transport import Connection, HandshakeRequest, Rejection, TransportLimits
from livequiz.transport.http_guard import ThrottledWarning
from livequiz.transport.server import TransportServer

FLOODER = "127.0.0.1"
OTHER = "127.0.0.2"


@dataclass
class SlowApp:
    """``/hello`` answers at once; ``/slow`` holds its request until :attr:`release` is set."""

    release: asyncio.Event = field(default_factory=asyncio.Event)

    def build(self) -> Starlette:
        async def hello(request: Request) -> PlainTextResponse:
            return PlainTextResponse("hello")

        async def slow(request: Request) -> PlainTextResponse:
            await self.release.wait()
            return PlainTextResponse("done")

        async def upload(request: Request) -> PlainTextResponse:
            return PlainTextResponse(str(len(await request.body())))

        return Starlette(
            routes=[
                Route("/hello", hello),
                Route("/slow", slow),
                Route("/upload", upload, methods=["POST"]),
            ]
        )


class EchoHandler:
    def accept(self, request: HandshakeRequest) -> Rejection | None:
        return None

    def on_open(self, conn: Connection) -> None:
        pass

    def on_message(self, conn: Connection, data: str) -> None:
        conn.send_text(data.encode())

    def on_close(self, conn: Connection, code: int, reason: str) -> None:
        pass


@dataclass
class Live:
    server: TransportServer
    app: SlowApp
    task: asyncio.Task[None]
    events: list[str]

    @property
    def port(self) -> int:
        return self.server.port


Start = Callable[..., Awaitable[Live]]


@pytest.fixture
async def start() -> AsyncIterator[Start]:
    started: list[Live] = []

    async def _start(**limits: object) -> Live:
        app = SlowApp()
        events: list[str] = []
        server = TransportServer(
            app.build(),
            EchoHandler(),
            TransportLimits(**limits),  # type: ignore[arg-type]
            host="0.0.0.0",
            port=0,
            on_http_event=events.append,
        )
        ready = asyncio.Event()
        task = asyncio.create_task(server.serve(ready))
        await asyncio.wait_for(ready.wait(), 5)
        live = Live(server, app, task, events)
        started.append(live)
        return live

    yield _start
    for live in started:
        live.app.release.set()
        live.server.request_exit()
        await asyncio.wait_for(live.task, 10)


async def open_socket(port: int, source: str = FLOODER) -> socket.socket:
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    sock.bind((source, 0))
    await loop.sock_connect(sock, (source, port))
    return sock


@contextlib.asynccontextmanager
async def sockets(
    port: int, count: int, source: str = FLOODER
) -> AsyncIterator[list[socket.socket]]:
    """``count`` connections from ``source``, opened in turn and closed at the end."""
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            socks.append(await open_socket(port, source))
        yield socks
    finally:
        for sock in socks:
            sock.close()


async def send(sock: socket.socket, data: bytes) -> None:
    await asyncio.get_running_loop().sock_sendall(sock, data)


@dataclass
class Ending:
    """What a client read until the server ended the connection, and how it ended."""

    data: bytes
    reset: bool
    after_s: float

    @property
    def status(self) -> int:
        return int(self.data.split(b" ", 2)[1])

    @property
    def json(self) -> dict[str, object]:
        head, _, body = self.data.partition(b"\r\n\r\n")
        assert b"content-type: application/json" in head.lower(), head
        decoded = orjson.loads(body)
        assert isinstance(decoded, dict)
        return decoded


async def read_to_end(sock: socket.socket, timeout: float = 5.0) -> Ending:
    """Read until the server closes (FIN or reset); fail if it is still open after timeout."""
    loop = asyncio.get_running_loop()
    began = loop.time()
    data = b""
    while True:
        remaining = began + timeout - loop.time()
        try:
            chunk = await asyncio.wait_for(loop.sock_recv(sock, 65536), max(remaining, 0.001))
        except ConnectionResetError:
            return Ending(data, True, loop.time() - began)
        except TimeoutError:
            raise AssertionError(f"the server kept the connection open; read {data!r}") from None
        if not chunk:
            return Ending(data, False, loop.time() - began)
        data += chunk


async def exchange(
    port: int, request: bytes, source: str = FLOODER, timeout: float = 5.0
) -> Ending:
    """``request`` on a fresh connection, read until the server ends it."""
    async with sockets(port, 1, source) as (sock,):
        await send(sock, request)
        return await read_to_end(sock, timeout)


async def still_open(sock: socket.socket, wait_s: float = 0.2) -> bool:
    """True if the server neither sent anything nor closed within ``wait_s``."""
    loop = asyncio.get_running_loop()
    try:
        await asyncio.wait_for(loop.sock_recv(sock, 1), wait_s)
    except TimeoutError:
        return True
    except ConnectionResetError:
        return False
    return False


def request_for(path: str, *, close: bool = True) -> bytes:
    """A GET of ``path`` (with ``Connection: close`` unless ``close`` is false)."""
    connection = b"Connection: close\r\n" if close else b""
    return b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n" + connection + b"\r\n"


async def get(port: int, path: str = "/hello", source: str = OTHER) -> tuple[int, bytes]:
    """One request on a fresh connection with ``Connection: close``: (status, body)."""
    ending = await exchange(port, request_for(path), source)
    return ending.status, ending.data.partition(b"\r\n\r\n")[2]


async def hello_kept_alive(sock: socket.socket) -> bytes:
    """``GET /hello`` on a connection kept alive after it; the response."""
    loop = asyncio.get_running_loop()
    await send(sock, request_for("/hello", close=False))
    response = b""
    while not response.endswith(b"hello"):
        response += await asyncio.wait_for(loop.sock_recv(sock, 4096), 2)
    return response


async def trickle(sock: socket.socket, first: bytes, then: bytes, every_s: float) -> Ending:
    """Send ``first``, then ``then`` a byte every ``every_s`` until the server ends the
    connection (read all along, for up to 8 s); how it ended."""
    ended = asyncio.create_task(read_to_end(sock, timeout=8))
    await send(sock, first)
    for byte in then:
        if ended.done():
            break
        await asyncio.sleep(every_s)
        try:
            await send(sock, bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            break
    return await ended


async def until(condition: Callable[[], bool], timeout: float = 3.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


# -- timeouts ------------------------------------------------------------------------------


async def test_slowloris_is_cut_off_at_the_head_timeout_counted_from_the_accept(
    start: Start,
) -> None:
    # A header byte every 0.5 s never lets the head complete; each byte must not restart the
    # clock. Before the guard, uvicorn had no head timeout at all: the socket stayed open.
    live = await start(http_head_timeout_s=1.5)
    loop = asyncio.get_running_loop()
    async with sockets(live.port, 1) as (sock,):
        began = loop.time()
        ending = await trickle(
            sock, b"GET /hello HTTP/1.1\r\nHost: x\r\n", b"X-Padding: " + b"a" * 20, 0.5
        )
    elapsed = loop.time() - began
    assert 1.4 <= elapsed < 2.5, elapsed
    assert not ending.reset
    assert ending.data == b""  # closed without an answer, as nginx does
    assert live.events == ["head_timeout"]
    await until(lambda: len(live.server.http) == 0)


async def test_a_body_trickled_after_a_complete_head_gets_408_at_the_body_timeout(
    start: Start,
) -> None:
    # A slow POST ("R.U.D.Y."): the head is complete, then the body comes a byte every 0.3 s.
    # The head timeout no longer applies; before the body timeout the socket stayed open for
    # as long as the trickle lasted.
    live = await start(http_head_timeout_s=0.5, http_body_timeout_s=1.5)
    loop = asyncio.get_running_loop()
    async with sockets(live.port, 1) as (sock,):
        began = loop.time()
        head = b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"
        ending = await trickle(sock, head, b"a" * 20, 0.3)
    elapsed = loop.time() - began
    assert 1.4 <= elapsed < 3.0, elapsed
    assert ending.status == 408
    error = orjson.loads(ending.data.partition(b"\r\n\r\n")[2])["error"]
    assert error["code"] == "request_timeout"
    assert live.events == ["body_timeout"]


async def test_a_slow_but_complete_body_and_a_slow_application_are_not_cut_off(
    start: Start,
) -> None:
    # The body timeout runs from the head to the body's last byte, not to the response: a
    # body that arrives in time is answered however long the application then takes.
    live = await start(http_head_timeout_s=5, http_body_timeout_s=1.0)
    async with sockets(live.port, 1) as (sock,):
        await send(sock, b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab")
        await asyncio.sleep(0.5)
        await send(sock, b"cd")
        await send(sock, request_for("/slow"))
        await asyncio.sleep(1.5)  # /slow holds its answer past the body timeout
        live.app.release.set()
        ending = await read_to_end(sock, timeout=5)
    assert ending.data.count(b"HTTP/1.1 200") == 2, ending.data
    assert ending.data.split(b"\r\n\r\n")[1].startswith(b"4")
    assert live.events == []


async def say_nothing(sock: socket.socket) -> float:
    return asyncio.get_running_loop().time()


async def two_requests_then_nothing(sock: socket.socket) -> float:
    for _ in range(2):  # reused within the idle timeout: served
        assert (await hello_kept_alive(sock)).startswith(b"HTTP/1.1 200 ")
        await asyncio.sleep(0.2)
    return asyncio.get_running_loop().time()


async def a_request_then_half_a_head(sock: socket.socket) -> float:
    # After a response, bytes of a next head that never completes are cut off too (uvicorn
    # cancels its keep-alive timer at the first byte and arms nothing).
    await hello_kept_alive(sock)
    began = asyncio.get_running_loop().time()
    await send(sock, b"GET /hel")
    return began


@pytest.mark.parametrize(
    ("limits", "prelude", "within_s", "event"),
    [
        pytest.param(
            {"http_head_timeout_s": 0.5}, say_nothing, (0.4, 1.5), "head_timeout", id="silent"
        ),
        pytest.param(
            {"http_idle_timeout_s": 0.5, "http_head_timeout_s": 5},
            two_requests_then_nothing,
            (0.2, 1.2),  # 0.5 s after the last response
            "idle_timeout",
            id="idle-keep-alive",
        ),
        pytest.param(
            {"http_idle_timeout_s": 0.5, "http_head_timeout_s": 1.0},
            a_request_then_half_a_head,
            (0.9, 2.0),
            "head_timeout",
            id="half-a-head-after-a-response",
        ),
    ],
)
async def test_a_connection_gone_quiet_is_closed_without_a_word_at_its_timeout(
    start: Start,
    limits: dict[str, float],
    prelude: Callable[[socket.socket], Awaitable[float]],
    within_s: tuple[float, float],
    event: str,
) -> None:
    # ``prelude`` returns when the timeout's clock starts
    live = await start(**limits)
    loop = asyncio.get_running_loop()
    async with sockets(live.port, 1) as (sock,):
        began = await prelude(sock)
        ending = await read_to_end(sock, timeout=4)
        elapsed = loop.time() - began
    assert ending.data == b""  # nothing (more) was asked: nothing to answer
    assert not ending.reset
    assert within_s[0] <= elapsed < within_s[1], elapsed
    assert live.events == [event]


# -- caps ----------------------------------------------------------------------------------


async def test_idle_connections_of_one_address_give_way_beyond_its_cap(start: Start) -> None:
    live = await start(max_http_connections_per_address=5, http_head_timeout_s=30)
    async with sockets(live.port, 12) as socks:
        await until(lambda: live.events.count("evicted") == 7)
        assert live.server.http.per_address(FLOODER) == 5
        # The oldest seven were closed (without a word: they had asked nothing), the newest
        # five are still open.
        for sock in socks[:7]:
            ending = await read_to_end(sock, timeout=2)
            assert ending.data == b""
        for sock in socks[7:]:
            assert await still_open(sock)
        # Another address is not affected, and the flooding address itself still gets served:
        # its request takes the place of its oldest idle connection.
        assert await get(live.port, source=OTHER) == (200, b"hello")
        assert await get(live.port, source=FLOODER) == (200, b"hello")
        assert live.server.http.per_address(FLOODER) <= 5


@contextlib.asynccontextmanager
async def all_busy(live: Live, count: int) -> AsyncIterator[None]:
    """``count`` connections from :data:`FLOODER`, each held by a request to ``/slow``; at the
    end ``/slow`` is let go and each must get its answer."""
    async with sockets(live.port, count) as busy:
        for sock in busy:
            await send(sock, request_for("/slow"))
        await until(lambda: len(live.server.http._idle) == 0)
        yield
        live.app.release.set()
        for sock in busy:
            assert (await read_to_end(sock, timeout=8)).data.endswith(b"done")


async def test_at_its_cap_an_address_with_every_connection_busy_gets_429(start: Start) -> None:
    live = await start(max_http_connections_per_address=2)
    async with all_busy(live, 2):
        async with sockets(live.port, 1) as (refused,):
            ending = await read_to_end(refused, timeout=2)
        assert ending.status == 429
        assert ending.json == {
            "error": {
                "code": "rate_limited",
                "message": "too many connections from your address; try again later",
            }
        }
        assert await get(live.port, source=OTHER) == (200, b"hello")
    assert live.events.count("refused_address") == 1


async def test_the_global_cap_keeps_room_for_healthz_by_closing_idle_connections(
    start: Start,
) -> None:
    live = await start(max_http_connections=6, http_head_timeout_s=30)
    async with sockets(live.port, 6) as socks:
        await until(lambda: len(live.server.http) == 6)
        for _ in range(3):
            assert await get(live.port, source=OTHER) == (200, b"hello")
        # the first request took the place of the oldest idle one; the next ones found the
        # seat it left
        assert live.events == ["evicted"]
        assert (await read_to_end(socks[0], timeout=2)).data == b""
        assert len(live.server.http) == 5


async def test_at_the_global_cap_with_every_connection_busy_a_new_one_gets_503(
    start: Start,
) -> None:
    live = await start(max_http_connections=2)
    async with all_busy(live, 2):
        status, body = await get(live.port, source=OTHER)
        assert status == 503
        assert orjson.loads(body)["error"]["code"] == "unavailable"
    assert await get(live.port, source=OTHER) == (200, b"hello")
    assert live.events.count("refused_full") == 1


async def test_trusted_proxies_are_not_capped_per_address(start: Start) -> None:
    from livequiz.transport.proxy import parse_networks

    live = await start(
        max_http_connections_per_address=2,
        http_head_timeout_s=30,
        trusted_proxies=parse_networks([FLOODER]),
    )
    async with sockets(live.port, 5):
        await until(lambda: live.server.http.per_address(FLOODER) == 5)
        assert "evicted" not in live.events


async def test_a_websocket_leaves_the_http_count_at_its_upgrade(start: Start) -> None:
    from websockets.asyncio.client import connect

    live = await start(max_http_connections_per_address=1)
    async with connect(f"ws://127.0.0.1:{live.port}/ws", compression=None) as ws:
        await ws.send("hi")
        assert await asyncio.wait_for(ws.recv(), 2) == "hi"
        assert len(live.server.http) == 0
        # the WebSocket does not take the address's one HTTP seat
        assert await get(live.port, source=FLOODER) == (200, b"hello")


# -- bodies over the limit -----------------------------------------------------------------


@dataclass
class Flood:
    """A body written as fast as the server takes it, with the server's answer read alongside."""

    sent: int
    ending: Ending


async def write_endlessly(sock: socket.socket, head: bytes, for_s: float) -> Flood:
    """Send ``head``, then a chunked body of 16 KiB chunks that never ends, for ``for_s``
    seconds or until the server ends the connection; read all along."""
    loop = asyncio.get_running_loop()
    ended = asyncio.create_task(read_to_end(sock, timeout=for_s + 10))
    await send(sock, head)
    chunk = b"4000\r\n" + b"a" * 0x4000 + b"\r\n"
    sent = 0
    stop_at = loop.time() + for_s
    while loop.time() < stop_at and not ended.done():
        try:
            await asyncio.wait_for(send(sock, chunk), max(0.001, stop_at - loop.time()))
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            break
        sent += len(chunk)
    sock.shutdown(socket.SHUT_WR)
    return Flood(sent, await ended)


async def test_a_declared_body_over_the_limit_gets_413_from_its_head_alone(start: Start) -> None:
    # Nothing of the body is sent: the answer comes from the head, the application never sees
    # the request, the address pays for the offence, and the connection ends with a FIN.
    live = await start(
        http_max_body_bytes=1000, new_connection_offence_cost=10, new_connections_per_second=0.01
    )
    head = b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n"
    async with sockets(live.port, 1) as (sock,):
        await send(sock, head)
        ending = await read_to_end(sock, timeout=3)
    assert ending.status == 413
    assert not ending.reset
    assert b"connection: close" in ending.data.lower()
    assert ending.json == {
        "error": {"code": "too_large", "message": "the request body may be at most 1000 bytes"}
    }
    assert live.events == ["too_large"]
    assert live.server.http.budget(FLOODER) == pytest.approx(1000 - 11, abs=0.5)
    # at the limit, the body is the application's
    ok = await exchange(
        live.port,
        b"POST /upload HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 1000\r\n\r\n"
        + b"a" * 1000,
    )
    assert (ok.status, ok.data.partition(b"\r\n\r\n")[2]) == (200, b"1000")


async def test_an_endless_chunked_body_gets_413_and_is_not_read_past_the_discard_bound(
    start: Start,
) -> None:
    # Before: the application refused it once it passed its limit and uvicorn then read and
    # dropped the rest for as long as it came (GBs a minute on loopback). Now the guard counts
    # the chunks, answers 413 when they pass the limit, drops http_discard_bytes more so a
    # client still writing reads its answer, then stops reading (flow control holds the
    # writer) and aborts at close_timeout_s.
    live = await start(
        http_max_body_bytes=64 * 1024, http_discard_bytes=256 * 1024, close_timeout_s=1.0
    )
    head = b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    async with sockets(live.port, 1) as (sock,):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
        flood = await write_endlessly(sock, head, for_s=4.0)
    assert flood.ending.status == 413
    assert flood.ending.json["error"] == {
        "code": "too_large",
        "message": "the request body may be at most 65536 bytes",
    }
    # limit + discard bound + what the two kernels hold (the server's receive buffer may grow
    # to tcp_rmem's maximum, 32 MiB here); gigabytes before
    assert flood.sent < 48 * 1024 * 1024, flood.sent
    # ended by the server within close_timeout_s of its answer, not when the writer stopped
    assert flood.ending.after_s < 3.5, flood.ending.after_s
    assert live.events == ["too_large"]
    await until(lambda: len(live.server.http) == 0)


async def test_a_body_still_coming_after_the_answer_is_not_read_past_the_limit(
    start: Start,
) -> None:
    # /hello takes no POST: the application answers 405 at once without reading the body.
    # The answer is whole, so no 413 can follow it; past the limit the connection just ends.
    live = await start(http_max_body_bytes=64 * 1024, http_discard_bytes=0, close_timeout_s=1.0)
    head = b"POST /hello HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    async with sockets(live.port, 1) as (sock,):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
        flood = await write_endlessly(sock, head, for_s=4.0)
    assert flood.ending.status == 405
    assert flood.ending.data.count(b"HTTP/1.1") == 1, flood.ending.data
    assert flood.sent < 48 * 1024 * 1024, flood.sent
    assert flood.ending.after_s < 3.5, flood.ending.after_s
    assert live.events == ["too_large"]


# -- malformed requests --------------------------------------------------------------------


@pytest.mark.parametrize(
    "request_bytes",
    [
        pytest.param(b"GET\x01 /hello HTTP/1.1\r\nHost: x\r\n\r\n", id="bad-request-line"),
        pytest.param(b"GET /hello HTTP/9.9x\r\nHost: x\r\n\r\n", id="bad-version"),
        pytest.param(b"GET /hello HTTP/1.1\r\nHost x\r\n\r\n", id="header-without-colon"),
        pytest.param(b"GET /hello HTTP/1.1\r\nHo st: x\r\n\r\n", id="space-in-header-name"),
        pytest.param(
            b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            id="bad-chunk-size",
        ),
        pytest.param(
            b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            id="two-content-lengths",
        ),
    ],
)
async def test_a_request_the_parser_refuses_gets_400_with_the_json_error_body(
    start: Start, request_bytes: bytes
) -> None:
    live = await start()
    ending = await exchange(live.port, request_bytes, timeout=3)
    assert ending.status == 400
    assert not ending.reset
    error = ending.json["error"]
    assert isinstance(error, dict)
    assert error["code"] == "malformed_request"
    assert error["message"].startswith("malformed HTTP request (")
    assert "Traceback" not in error["message"]
    assert live.events == ["malformed"]
    assert await get(live.port) == (200, b"hello")


# -- logs ----------------------------------------------------------------------------------


async def test_a_flood_is_logged_once_per_interval_not_once_per_connection(
    start: Start, caplog: pytest.LogCaptureFixture
) -> None:
    live = await start(max_http_connections_per_address=2, http_head_timeout_s=30)
    caplog.set_level(logging.WARNING, logger="livequiz.transport.http")
    async with sockets(live.port, 30):
        await until(lambda: live.events.count("evicted") == 28)
    lines = [r for r in caplog.records if r.name == "livequiz.transport.http"]
    assert len(lines) == 1
    assert lines[0].levelno == logging.WARNING
    assert FLOODER in lines[0].getMessage()


def test_throttled_warning_counts_what_it_did_not_log(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    warning = ThrottledWarning(logging.getLogger("test.throttle"), 10.0, clock=lambda: now[0])
    caplog.set_level(logging.WARNING, logger="test.throttle")
    for second in range(25):
        now[0] = float(second)
        warning.warn("evicted", "closed one", "10.0.0.1")
    warning.warn("head_timeout", "timed out", "10.0.0.2")  # another reason: its own budget
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "closed one (10.0.0.1; 0 more since the last such line)",
        "closed one (10.0.0.1; 9 more since the last such line)",
        "closed one (10.0.0.1; 9 more since the last such line)",
        "timed out (10.0.0.2; 0 more since the last such line)",
    ]


# -- configuration -------------------------------------------------------------------------


def test_livequiz_serve_sets_every_guard_limit_and_refuses_a_bad_origin() -> None:
    from livequiz.cli import UsageError, _server_config, build_parser

    def config(*argv: str) -> object:
        return _server_config(build_parser().parse_args(["serve", *argv]))

    limits = config(
        "--http-head-timeout-s",
        "2.5",
        "--http-idle-timeout-s",
        "1",
        "--http-body-timeout-s",
        "4",
        "--max-http-connections-per-address",
        "7",
        "--max-http-connections",
        "70",
        "--http-requests-per-turn",
        "3",
        "--new-connection-burst",
        "40",
        "--new-connection-rate",
        "2.5",
        "--new-connection-offence-cost",
        "4",
        "--origin",
        "HTTPS://Quiz.Example:443/",
    )
    transport = limits.transport  # type: ignore[attr-defined]
    assert (
        transport.http_head_timeout_s,
        transport.http_idle_timeout_s,
        transport.http_body_timeout_s,
        transport.max_http_connections_per_address,
        transport.max_http_connections,
        transport.http_requests_per_turn,
        transport.new_connection_burst,
        transport.new_connections_per_second,
        transport.new_connection_offence_cost,
    ) == (2.5, 1.0, 4.0, 7, 70, 3, 40, 2.5, 4)
    with pytest.raises(UsageError, match="http_requests_per_turn must be >= 0"):
        config("--http-requests-per-turn", "-1")
    with pytest.raises(UsageError, match="new_connection_burst >= 1"):
        config("--new-connection-burst", "0")
    default = config().transport  # type: ignore[attr-defined]
    assert (
        default.new_connection_burst,
        default.new_connections_per_second,
        default.new_connection_offence_cost,
    ) == (1000, 50.0, 10)
    assert limits.origins == frozenset({"https://quiz.example"})  # type: ignore[attr-defined]
    with pytest.raises(UsageError, match="not an origin"):
        config("--origin", "https://quiz.example/play")
    with pytest.raises(UsageError, match="must be positive"):
        config("--http-head-timeout-s", "0")
