"""WebSocket transport over real sockets: uvicorn in-process on 127.0.0.1, ephemeral port.

Clients are the websockets asyncio client (compression off, as our players use) or, where a
client must misbehave (never read, never answer pings, send malformed frames), a raw socket
driven by the event loop's ``sock_*`` calls so it reads only when the test says so.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request as HttpRequest
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from websockets.asyncio.client import ClientConnection, connect
from websockets.client import ClientProtocol
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.frames import Close, Frame, Opcode
from websockets.protocol import State
from websockets.uri import parse_uri

from livequiz.transport import (
    Connection,
    HandshakeRequest,
    Rejection,
    SharedFrame,
    TransportLimits,
    WebSocketServer,
    broadcast_in_chunks,
)
from livequiz.transport.server import TransportServer
from livequiz.transport.websocket import encode_text_frame

# -- the application side under test ------------------------------------------------------------


async def hello(request: HttpRequest) -> PlainTextResponse:
    return PlainTextResponse("hello")


APP = Starlette(routes=[Route("/hello", hello)])


@dataclass
class RecordingHandler:
    """Echoes text, and records what the transport told it."""

    opened: list[Connection] = field(default_factory=list)
    closed: list[tuple[int, int, str]] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    seen_queries: list[dict[str, str]] = field(default_factory=list)
    seen_user_agents: list[str | None] = field(default_factory=list)
    handshakes_refused: list[int] = field(default_factory=list)

    def on_handshake_refused(self, status: int) -> None:
        self.handshakes_refused.append(status)
        if status == 401:
            raise RuntimeError("secret detail from on_handshake_refused")

    def accept(self, request: HandshakeRequest) -> Rejection | None:
        if request.request_path != "/ws":
            return (404, "no such endpoint")
        self.seen_queries.append(dict(request.query))
        self.seen_user_agents.append(request.headers.get("user-agent"))
        if "explode" in request.query:
            raise RuntimeError("secret detail from accept")
        if request.query.get("token") == "bad":
            return (401, "bad token")
        if "odd" in request.query:
            return (499, "not a standard status")
        request.context = {"name": request.query.get("name", "anon")}
        return None

    def on_open(self, conn: Connection) -> None:
        self.opened.append(conn)
        if "hello" in conn.query:
            conn.send_text(orjson.dumps({"type": "hello", "name": conn.context["name"]}))

    def on_message(self, conn: Connection, data: str) -> None:
        self.messages.append(data)
        if data == "boom":
            raise RuntimeError("secret detail from on_message")
        if data == "close-me":
            conn.close(4000, "bye")
            return
        conn.send_text(data.encode())

    def on_close(self, conn: Connection, code: int, reason: str) -> None:
        self.closed.append((conn.id, code, reason))

    def close_of(self, conn_id: int) -> tuple[int, str] | None:
        for closed_id, code, reason in self.closed:
            if closed_id == conn_id:
                return (code, reason)
        return None


@dataclass
class Live:
    server: TransportServer
    handler: RecordingHandler
    task: asyncio.Task[None]

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def ws(self) -> WebSocketServer:
        return self.server.websockets

    def url(self, path: str = "/ws") -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def client(self, path: str = "/ws", **kwargs: Any) -> connect:
        kwargs.setdefault("compression", None)
        kwargs.setdefault("open_timeout", 2)
        kwargs.setdefault("close_timeout", 1)
        return connect(self.url(path), **kwargs)

    async def stop(self) -> None:
        self.server.request_exit()
        await asyncio.wait_for(self.task, 5)


StartServer = Callable[..., Awaitable[Live]]


@pytest.fixture
async def start() -> AsyncIterator[StartServer]:
    """Factory: ``live = await start(TransportLimits(...))``; every server is stopped after."""
    started: list[Live] = []

    async def _start(limits: TransportLimits | None = None) -> Live:
        handler = RecordingHandler()
        server = TransportServer(APP, handler, limits, host="127.0.0.1", port=0)
        ready = asyncio.Event()
        task = asyncio.create_task(server.serve(ready))
        await asyncio.wait_for(ready.wait(), 5)
        live = Live(server, handler, task)
        started.append(live)
        return live

    yield _start
    for live in started:
        if not live.task.done():
            await live.stop()


async def until(condition: Callable[[], bool], timeout: float = 1.5) -> None:
    """Poll ``condition`` (server-side state) until true or fail after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


async def drain(ws: ClientConnection) -> list[str]:
    """Read text messages until the server closes the connection (fails after 2 s of silence)."""
    received: list[str] = []
    try:
        while True:
            message = await asyncio.wait_for(ws.recv(), 2)
            assert isinstance(message, str)
            received.append(message)
    except ConnectionClosed:
        return received


async def closed_with(ws: ClientConnection) -> tuple[int | None, str | None]:
    """Read until the server closes; return the close code and reason the client received."""
    await drain(ws)
    return ws.close_code, ws.close_reason


class RawClient:
    """A WebSocket client on a bare non-blocking socket: reads only when asked to."""

    def __init__(self, sock: socket.socket, uri: str) -> None:
        self.sock = sock
        self.loop = asyncio.get_running_loop()
        self.parser = ClientProtocol(parse_uri(uri), state=State.OPEN)
        #: The server ended the connection with a TCP reset instead of a FIN.
        self.reset = False

    @classmethod
    async def connect(
        cls, port: int, path: str = "/ws", *, rcvbuf: int | None = None, expect: int = 101
    ) -> RawClient:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        client = cls(sock, f"ws://127.0.0.1:{port}{path}")
        await client.loop.sock_connect(sock, ("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        )
        await client.loop.sock_sendall(sock, request.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = await asyncio.wait_for(client.loop.sock_recv(sock, 4096), 2)
            assert chunk, "connection closed during handshake"
            head += chunk
        head, _, rest = head.partition(b"\r\n\r\n")
        assert head.startswith(f"HTTP/1.1 {expect} ".encode()), head
        if rest:
            client.parser.receive_data(rest)
        return client

    async def send_frame(self, opcode: Opcode, data: bytes, *, mask: bool = True) -> None:
        frame = Frame(opcode, data).serialize(mask=mask, extensions=[])
        await self.loop.sock_sendall(self.sock, frame)

    async def read_until_closed(self, timeout: float = 2.0) -> list[Frame]:
        """Read frames until the server closes the TCP connection."""
        frames: list[Frame] = []
        deadline = self.loop.time() + timeout
        while True:
            remaining = deadline - self.loop.time()
            assert remaining > 0, f"server did not close; got {frames}"
            try:
                data = await asyncio.wait_for(self.loop.sock_recv(self.sock, 65536), remaining)
            except ConnectionResetError:
                self.reset = True
                data = b""
            if not data:
                self.parser.receive_eof()
                frames += [e for e in self.parser.events_received() if isinstance(e, Frame)]
                return frames
            self.parser.receive_data(data)
            frames += [e for e in self.parser.events_received() if isinstance(e, Frame)]

    def close(self) -> None:
        self.sock.close()


def close_frame(frames: list[Frame]) -> Close:
    closes = [f for f in frames if f.opcode is Opcode.CLOSE]
    assert closes, f"no close frame in {frames}"
    return Close.parse(bytes(closes[0].data))


async def assert_serving(live: Live) -> None:
    """The server still answers HTTP and WebSocket clients."""
    async with httpx.AsyncClient() as http:
        response = await http.get(f"http://127.0.0.1:{live.port}/hello")
    assert response.text == "hello"
    async with live.client() as ws:
        await ws.send("still alive?")
        assert await asyncio.wait_for(ws.recv(), 2) == "still alive?"


# -- unit checks without sockets ----------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 70000])
def test_text_frame_encodings_match_websockets(size: int) -> None:
    data = b"x" * size
    reference = Frame(Opcode.TEXT, data).serialize(mask=False, extensions=[])
    assert encode_text_frame(data) == reference
    assert SharedFrame.text(data).data == reference


def test_limits_reject_inconsistent_values() -> None:
    with pytest.raises(ValueError, match="write_buffer"):
        TransportLimits(write_buffer_soft_bytes=10, write_buffer_hard_bytes=5)
    with pytest.raises(ValueError, match="ping_timeout_s"):
        TransportLimits(ping_timeout_s=0)
    with pytest.raises(ValueError, match="socket_notsent_lowat_bytes"):
        TransportLimits(socket_notsent_lowat_bytes=0)
    assert TransportLimits(socket_notsent_lowat_bytes=None).socket_notsent_lowat_bytes is None


def test_protocol_class_needs_a_server() -> None:
    from livequiz.transport.websocket import WebSocketConnection

    with pytest.raises(TypeError, match="protocol_class"):
        WebSocketConnection()


# -- handshake ------------------------------------------------------------------------------


async def test_http_and_websocket_share_one_port(start: StartServer) -> None:
    live = await start()
    async with httpx.AsyncClient() as http:
        response = await http.get(f"http://127.0.0.1:{live.port}/hello")
    assert response.status_code == 200
    assert response.text == "hello"
    async with live.client("/ws?name=ann&lang=en", user_agent_header="quiz-test") as ws:
        await ws.send("hi")
        assert await asyncio.wait_for(ws.recv(), 2) == "hi"
        conn = live.handler.opened[0]
        assert isinstance(conn, Connection)
        assert conn.open
        assert conn.request_path == "/ws"
        assert conn.remote.startswith("127.0.0.1:")
        assert conn.headers["User-Agent"] == "quiz-test"
    assert live.handler.seen_queries == [{"name": "ann", "lang": "en"}]
    assert live.handler.seen_user_agents == ["quiz-test"]
    await until(lambda: len(live.handler.closed) == 1)
    assert live.handler.closed[0][1:] == (1000, "")
    assert len(live.ws) == 0


async def test_wrong_path_is_rejected_with_the_handlers_status(start: StartServer) -> None:
    live = await start()
    with pytest.raises(InvalidStatus) as excinfo:
        async with live.client("/nope"):
            pass
    assert excinfo.value.response.status_code == 404
    assert excinfo.value.response.body == b"no such endpoint\n"
    with pytest.raises(InvalidStatus) as excinfo:
        async with live.client("/ws?token=bad"):
            pass
    assert excinfo.value.response.status_code == 401
    with pytest.raises(InvalidStatus) as excinfo:
        async with live.client("/ws?odd=1"):
            pass
    assert excinfo.value.response.status_code == 500  # a status websockets cannot send
    assert live.handler.opened == []


async def test_accept_exception_gives_500_without_details(
    start: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    live = await start()
    with pytest.raises(InvalidStatus) as excinfo:
        async with live.client("/ws?explode=1"):
            pass
    response = excinfo.value.response
    assert response.status_code == 500
    assert response.body is not None
    assert b"secret" not in response.body
    assert b"Traceback" not in response.body
    assert "secret detail from accept" in caplog.text
    await assert_serving(live)


async def test_origin_allow_list(start: StartServer) -> None:
    live = await start(TransportLimits(origins=frozenset({"https://quiz.example"})))
    with pytest.raises(InvalidStatus) as excinfo:
        async with live.client(origin="https://evil.example"):
            pass
    assert excinfo.value.response.status_code == 403
    async with live.client(origin="https://quiz.example") as ws:
        await ws.send("ok")
        assert await ws.recv() == "ok"
    async with live.client() as ws:  # no Origin header: not a browser, allowed by default
        await ws.send("ok")
        assert await ws.recv() == "ok"

    strict = await start(
        TransportLimits(origins=frozenset({"https://quiz.example"}), allow_missing_origin=False)
    )
    with pytest.raises(InvalidStatus) as excinfo:
        async with strict.client():
            pass
    assert excinfo.value.response.status_code == 403


async def test_origin_allow_list_matches_every_spelling_of_an_allowed_origin(
    start: StartServer,
) -> None:
    # The operator's entry and the browser's header are both normalised: scheme and host case,
    # the default port and a trailing slash do not matter; host, port and scheme do.
    live = await start(TransportLimits(origins=frozenset({"https://Quiz.Example:443/"})))
    for origin in (
        "https://quiz.example",
        "HTTPS://QUIZ.EXAMPLE",
        "https://quiz.example:443",
        "https://quiz.example/",
    ):
        async with live.client(origin=origin) as ws:
            await ws.send("ok")
            assert await ws.recv() == "ok", origin
    for origin in (
        "https://evil.example",
        "https://quiz.example.evil.example",
        "https://quiz.example:8443",
        "http://quiz.example",
        "https://quiz.example/play",
        "null",
    ):
        with pytest.raises(InvalidStatus) as excinfo:
            async with live.client(origin=origin):
                pass
        assert excinfo.value.response.status_code == 403, origin
        assert excinfo.value.response.body == b"origin not allowed\n"
    # the application is told of each refusal (its metric), and of no accepted upgrade
    assert live.handler.handshakes_refused == [403] * 6


async def test_max_connections_gives_503(start: StartServer) -> None:
    live = await start(TransportLimits(max_connections=2))
    async with live.client(), live.client():
        with pytest.raises(InvalidStatus) as excinfo:
            async with live.client():
                pass
        assert excinfo.value.response.status_code == 503
    await until(lambda: len(live.ws) == 0)
    async with live.client() as ws:  # seats free again once others left
        await ws.send("back")
        assert await ws.recv() == "back"
    assert live.handler.handshakes_refused == [503]


async def test_a_refusal_whose_hook_fails_still_goes_out_and_is_logged(
    start: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    live = await start()
    with pytest.raises(InvalidStatus) as excinfo:
        async with live.client("/ws?token=bad"):
            pass
    assert excinfo.value.response.status_code == 401
    assert excinfo.value.response.body == b"bad token\n"
    assert live.handler.handshakes_refused == [401]
    failed = [r for r in caplog.records if "on_handshake_refused failed" in r.getMessage()]
    assert len(failed) == 1
    assert failed[0].exc_info is not None
    async with live.client() as ws:  # the server goes on
        await ws.send("still here")
        assert await ws.recv() == "still here"


# -- messages -------------------------------------------------------------------------------


async def test_personal_send_text_arrives(start: StartServer) -> None:
    live = await start()
    async with live.client("/ws?hello=1&name=bo") as ws:
        first = await asyncio.wait_for(ws.recv(), 2)
        assert orjson.loads(first) == {"type": "hello", "name": "bo"}
        await ws.send("échos ✓")
        assert await asyncio.wait_for(ws.recv(), 2) == "échos ✓"


async def test_fragmented_message_is_reassembled(start: StartServer) -> None:
    live = await start()
    async with live.client() as ws:
        await ws.send(["frag", "mented"])
        assert await asyncio.wait_for(ws.recv(), 2) == "fragmented"
    assert live.handler.messages == ["fragmented"]


async def test_shared_frame_reaches_50_clients_identically(start: StartServer) -> None:
    live = await start()
    payload = orjson.dumps(
        {"type": "board", "top": [{"name": f"player{i}", "score": 1000 - i} for i in range(10)]}
    )
    assert 250 < len(payload) < 400
    frame = SharedFrame.text(payload)
    clients = [await live.client().__aenter__() for _ in range(50)]
    try:
        await until(lambda: len(live.ws) == 50)
        assert live.ws.broadcast(frame) == (50, 0)
        received = await asyncio.gather(*(asyncio.wait_for(c.recv(), 2) for c in clients))
        assert set(received) == {payload.decode()}
        assert await broadcast_in_chunks(frame, live.ws.connections, chunk=7) == (50, 0)
        received = await asyncio.gather(*(asyncio.wait_for(c.recv(), 2) for c in clients))
        assert set(received) == {payload.decode()}
    finally:
        await asyncio.gather(*(c.close() for c in clients))


async def test_app_close_sends_code_and_reason(start: StartServer) -> None:
    live = await start()
    async with live.client() as ws:
        await ws.send("close-me")
        assert await closed_with(ws) == (4000, "bye")
    conn = live.handler.opened[0]
    assert live.handler.close_of(conn.id) == (4000, "bye")
    assert not conn.open
    assert not conn.send_text(b"late")
    assert not conn.send_shared(SharedFrame.text(b"late"))
    with pytest.raises(ValueError, match="1006"):
        conn.close(1006, "not on the wire")


# -- protocol violations ----------------------------------------------------------------------


async def test_binary_frame_closes_1003(start: StartServer) -> None:
    live = await start()
    async with live.client() as ws:
        await ws.send(b"\x00\x01")
        code, reason = await closed_with(ws)
    assert code == 1003
    assert reason == "binary frames are not supported"
    await until(lambda: len(live.handler.closed) == 1)
    assert live.handler.closed[0][1] == 1003


async def test_oversized_message_closes_1009(start: StartServer) -> None:
    live = await start(TransportLimits(max_message_bytes=4096))
    async with live.client() as ws:
        await ws.send("x" * 4096)  # at the limit: fine
        assert len(await asyncio.wait_for(ws.recv(), 2)) == 4096
        await ws.send("x" * 4097)
        code, _ = await closed_with(ws)
    assert code == 1009
    await until(lambda: len(live.handler.closed) == 1)
    assert live.handler.closed[0][1] == 1009


@pytest.mark.parametrize("size", [64 * 1024, 1024 * 1024], ids=["64KiB", "1MiB"])
async def test_a_large_message_written_in_one_go_gets_1009_and_no_reset_every_time(
    start: StartServer, size: int
) -> None:
    # The server refuses the frame after its first 4 KiB while the rest is still arriving.
    # Closing the socket with that rest unread made the kernel send a TCP reset after the
    # close frame: a client whose kernel drops received data on a reset (or that is still
    # writing) saw 1006, not the documented 1009. The server must end with a FIN instead.
    live = await start(TransportLimits(max_message_bytes=4096))
    endings = []
    for _ in range(20):
        raw = await RawClient.connect(live.port)
        try:
            await raw.send_frame(Opcode.TEXT, b"x" * size)  # all of it, in one sendall
            frames = await raw.read_until_closed(timeout=3)
            endings.append((close_frame(frames).code, "reset" if raw.reset else "fin"))
        finally:
            raw.close()
    assert endings == [(1009, "fin")] * 20
    # and through a client library, as an app would see it
    codes = []
    for _ in range(20):
        async with live.client() as ws:
            with contextlib.suppress(ConnectionClosed):
                await ws.send("x" * size)
            codes.append((await closed_with(ws))[0])
    assert codes == [1009] * 20
    await until(lambda: len(live.handler.closed) == 40)
    assert {code for _, code, _ in live.handler.closed} == {1009}
    await assert_serving(live)


async def test_a_refused_large_message_leaves_no_socket_behind(start: StartServer) -> None:
    # After its 1009 the server reads and drops the rest until the client's FIN: a client that
    # keeps the socket open without ever closing it is cut off at close_timeout_s.
    live = await start(TransportLimits(max_message_bytes=4096, close_timeout_s=0.3))
    raw = await RawClient.connect(live.port)
    try:
        await raw.send_frame(Opcode.TEXT, b"x" * 100_000)
        frames = await raw.read_until_closed(timeout=3)
        assert close_frame(frames).code == 1009
    finally:
        raw.close()
    await until(lambda: len(live.ws._pending) == 0 and len(live.ws) == 0)


async def test_invalid_utf8_closes_1007_and_others_keep_going(start: StartServer) -> None:
    live = await start()
    async with live.client() as bystander, live.client() as ws:
        await ws.send(b"\xff\xfe not utf-8", text=True)
        code, _ = await closed_with(ws)
        assert code == 1007
        await bystander.send("unaffected")
        assert await asyncio.wait_for(bystander.recv(), 2) == "unaffected"
    assert live.handler.messages == ["unaffected"]


async def test_malformed_frame_closes_1002_and_server_keeps_serving(start: StartServer) -> None:
    live = await start()
    raw = await RawClient.connect(live.port)
    try:
        await raw.send_frame(Opcode.TEXT, b"unmasked", mask=False)  # clients must mask
        frames = await raw.read_until_closed()
    finally:
        raw.close()
    assert close_frame(frames).code == 1002
    garbage = await RawClient.connect(live.port)
    try:
        await garbage.loop.sock_sendall(garbage.sock, b"\x8f\x80\x00\x00\x00\x00")  # opcode 0xF
        assert close_frame(await garbage.read_until_closed()).code == 1002
    finally:
        garbage.close()
    await assert_serving(live)


# -- abuse and failures -------------------------------------------------------------------------


async def test_rate_limit_warns_then_closes_1008(start: StartServer) -> None:
    live = await start(TransportLimits(max_messages_per_second=5, message_burst=5))
    async with live.client() as bystander, live.client() as flooder:
        for i in range(30):
            await flooder.send(f"m{i}")
        received = await drain(flooder)
        assert flooder.close_code == 1008
        assert flooder.close_reason == "rate limit exceeded"
        errors = [m for m in received if m.startswith("{")]
        assert len(errors) == 1
        assert orjson.loads(errors[0])["code"] == "rate_limited"
        echoes = [m for m in received if not m.startswith("{")]
        assert 5 <= len(echoes) < 30
        assert received.index(errors[0]) == len(echoes)  # the warning came after the burst
        await bystander.send("fine")
        assert await asyncio.wait_for(bystander.recv(), 2) == "fine"


async def test_rate_limit_warning_is_forgiven_after_a_refill(start: StartServer) -> None:
    live = await start(TransportLimits(max_messages_per_second=20, message_burst=2))
    async with live.client() as ws:
        for _ in range(2):
            for i in range(3):  # the third is over the limit: warning, not closing
                await ws.send(f"m{i}")
            got = [await asyncio.wait_for(ws.recv(), 2) for _ in range(3)]
            assert got[:2] == ["m0", "m1"]
            assert orjson.loads(got[2])["code"] == "rate_limited"
            await asyncio.sleep(0.15)  # bucket refills completely (2 tokens at 20/s)
        await ws.send("still open")
        assert await asyncio.wait_for(ws.recv(), 2) == "still open"


async def test_handler_exception_closes_1011_and_server_stays_healthy(
    start: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    live = await start()
    async with live.client() as ws:
        await ws.send("boom")
        assert await closed_with(ws) == (1011, "internal error")
    assert "secret detail from on_message" in caplog.text
    assert any(r.levelno == logging.ERROR for r in caplog.records)
    await assert_serving(live)


async def test_slow_client_gets_frames_dropped_then_closed(start: StartServer) -> None:
    limits = TransportLimits(
        write_buffer_soft_bytes=32 * 1024,
        write_buffer_hard_bytes=1024 * 1024,
        slow_client_timeout_s=0.3,
        socket_send_buffer_bytes=16 * 1024,  # else loopback autotuning absorbs ~3 MiB first
    )
    live = await start(limits)
    fast = [await live.client(max_queue=None).__aenter__() for _ in range(3)]
    slow = await RawClient.connect(live.port, rcvbuf=4096)  # handshakes, then never reads
    try:
        await until(lambda: len(live.ws) == 4)
        slow_conn = max(live.ws.connections, key=lambda c: c.id)
        frame = SharedFrame.text(b"b" * 8192)
        counts = [0, 0, 0]

        async def read(i: int) -> None:
            while True:
                await fast[i].recv()
                counts[i] += 1

        readers = [asyncio.create_task(read(i)) for i in range(3)]
        results: list[bool] = []
        sent = 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 1.8
        while slow_conn.open and loop.time() < deadline:
            for conn in list(live.ws.connections):
                ok = conn.send_shared(frame)
                if conn is slow_conn:
                    results.append(ok)
                else:
                    assert ok, "a fast client had a frame dropped"
            sent += 1
            await asyncio.sleep(0.002)
        assert True in results, "the slow client never accepted a frame"
        assert False in results, "the slow client never had a frame dropped"
        assert not slow_conn.open, "the slow client was not closed"
        assert live.handler.close_of(slow_conn.id) == (1013, "client too slow")
        await until(lambda: counts == [sent] * 3)
        for task in readers:
            task.cancel()
    finally:
        slow.close()
        await asyncio.gather(*(c.close() for c in fast))


async def test_personal_frames_past_the_hard_limit_close_1013(start: StartServer) -> None:
    live = await start(
        TransportLimits(
            write_buffer_soft_bytes=16 * 1024,
            write_buffer_hard_bytes=64 * 1024,
            socket_send_buffer_bytes=16 * 1024,
        )
    )
    slow = await RawClient.connect(live.port, rcvbuf=4096)
    try:
        await until(lambda: len(live.ws) == 1)
        conn = next(iter(live.ws.connections))
        chunk = b"p" * 16384
        writes = 0
        while conn.send_text(chunk):  # never dropped below the hard limit...
            writes += 1
            assert writes < 10_000
            if writes % 8 == 0:
                await asyncio.sleep(0)
        assert not conn.open  # ...and closed past it
        assert live.handler.close_of(conn.id) == (1013, "client too slow")
        assert writes * len(chunk) > 64 * 1024  # the hard limit, plus what the kernel took
    finally:
        slow.close()
    await until(lambda: len(live.ws) == 0)


async def test_keepalive_closes_a_client_that_never_answers_pings(start: StartServer) -> None:
    live = await start(TransportLimits(ping_interval_s=0.2, ping_timeout_s=0.2))
    async with live.client(ping_interval=None) as healthy:  # websockets answers pings itself
        mute = await RawClient.connect(live.port)
        try:
            frames = await mute.read_until_closed(timeout=1.5)
        finally:
            mute.close()
        assert any(f.opcode is Opcode.PING for f in frames)
        close = close_frame(frames)
        assert (close.code, close.reason) == (1011, "keepalive ping timeout")
        await healthy.send("still here")  # it was pinged too, and answered
        assert await asyncio.wait_for(healthy.recv(), 2) == "still here"
    codes = [code for _, code, _ in live.handler.closed]
    assert 1011 in codes


async def test_keepalive_closes_a_client_that_sends_but_never_reads(start: StartServer) -> None:
    # A tab that never reads but keeps writing (its own pongs, a guessed one, messages) used to
    # count as alive for ever: any byte did. Only the pong echoing the ping's random payload,
    # which it cannot send without reading the ping, proves that a client reads.
    live = await start(TransportLimits(ping_interval_s=0.3, ping_timeout_s=0.3))
    async with live.client(ping_interval=None) as reader:  # websockets echoes pings itself
        writer = await RawClient.connect(live.port)
        await until(lambda: len(live.handler.opened) == 2)
        reader_id, writer_id = (conn.id for conn in live.handler.opened)
        loop = asyncio.get_running_loop()
        began = loop.time()
        try:
            while live.handler.close_of(writer_id) is None and loop.time() - began < 3.0:
                await writer.send_frame(Opcode.PONG, b"")
                await writer.send_frame(Opcode.PONG, b"\x00" * 8)  # a guess of the payload
                await writer.send_frame(Opcode.TEXT, b"still here")
                await asyncio.sleep(0.05)
            closed_after = loop.time() - began
            frames = await writer.read_until_closed(timeout=2.0)
        finally:
            writer.close()
        pings = [f for f in frames if f.opcode is Opcode.PING]
        assert pings, "no ping was sent"
        assert all(len(f.data) == 8 for f in pings)
        close = close_frame(frames)
        assert (close.code, close.reason) == (1011, "keepalive ping timeout")
        assert live.handler.close_of(writer_id) == (1011, "keepalive ping timeout")
        # pinged 0.3 s after it opened, closed 0.3 s after that (plus the timer's granularity)
        assert 0.5 <= closed_after <= 1.5, closed_after
        # the client that reads answered every ping meanwhile, and is still served
        await reader.send("and me")
        assert await asyncio.wait_for(reader.recv(), 2) == "and me"
        assert live.handler.close_of(reader_id) is None


async def test_handshake_timeout_on_a_standalone_port() -> None:
    """The class also serves a WebSocket-only port; there, a silent socket is dropped."""
    ws_server = WebSocketServer(
        RecordingHandler(), TransportLimits(handshake_timeout_s=0.2, close_timeout_s=0.2)
    )
    loop = asyncio.get_running_loop()
    server = await loop.create_server(ws_server.protocol_class(), "127.0.0.1", 0)
    try:
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await asyncio.wait_for(reader.read(), 1.5) == b""  # dropped, nothing sent
        writer.close()
        await writer.wait_closed()
    finally:
        server.close()
        await server.wait_closed()


# -- shutdown ---------------------------------------------------------------------------------


async def test_shutdown_sends_1001(start: StartServer) -> None:
    live = await start()
    async with live.client() as ws:
        await ws.send("before")
        assert await ws.recv() == "before"
        loop = asyncio.get_running_loop()
        began = loop.time()
        live.server.request_exit()
        assert await closed_with(ws) == (1001, "server shutting down")
        await asyncio.wait_for(live.task, 3)
        assert loop.time() - began < 1.5
    assert live.handler.closed[0][1:] == (1001, "server shutting down")


async def test_shutdown_does_not_wait_for_a_client_that_never_answers(start: StartServer) -> None:
    """uvicorn waits for every tracked connection to go; a mute one is aborted at close_timeout."""
    live = await start(TransportLimits(close_timeout_s=0.3))
    mute = await RawClient.connect(live.port)
    try:
        await until(lambda: len(live.ws) == 1)
        loop = asyncio.get_running_loop()
        began = loop.time()
        live.server.request_exit()
        await asyncio.wait_for(live.task, 3)
        assert loop.time() - began < 1.5
        close = close_frame(await mute.read_until_closed())
        assert (close.code, close.reason) == (1001, "server shutting down")
    finally:
        mute.close()
