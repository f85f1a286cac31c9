"""WebSocket connections as plain asyncio protocol callbacks, with encode-once broadcasting.

Why this shape
--------------
* **No task per connection.** Each connection is an :class:`asyncio.Protocol` driven by the
  event loop's callbacks (``data_received``, ``connection_lost``…). An idle player costs one
  small object plus websockets' sans-I/O parser state — about 7 KiB of process RSS with the
  transport (``bench/transport_micro.py``) — instead of a task, a queue and their frames.
* **Encode once.** A leaderboard frame is serialized into a :class:`SharedFrame` once per tick and
  written to each socket with one ``transport.write``: about 0.3 µs of user CPU per recipient
  against about 5.6 µs for websockets' ``broadcast()``, which re-frames per recipient.
* **A slow client never slows the others.** :meth:`Connection.send_shared` drops the frame for a
  client whose write buffer is above a soft limit (the next board supersedes it anyway) and the
  connection is closed once it stays slow, or its buffer passes a hard limit. Nothing ever awaits
  a client. ``TCP_NOTSENT_LOWAT`` keeps the kernel from absorbing megabytes for a client that
  does not read, so the backlog reaches that buffer.
* **One timer for the whole server.** Keepalive pings, pong deadlines, handshake and closing
  timeouts are checked by a single ``call_later`` chain walking the connections, not by one timer
  or task per connection.
* **Swappable.** The application sees only :class:`Connection`, :class:`HandshakeRequest`,
  :class:`SharedFrame`, :class:`ConnectionHandler` and :class:`TransportLimits`.

Wire-level work (handshake validation, frame parsing, masking, UTF-8 of close reasons, size
limits, closing handshake) is delegated to :class:`websockets.server.ServerProtocol`.

Handlers are synchronous callbacks run on the event loop; work that must await (storage, the bus)
is started by the handler as its own task. Handler exceptions are logged and the connection is
closed with 1011 "internal error": no traceback ever reaches a client.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import socket
import struct
import time
from collections.abc import Callable, Iterable, Mapping, Set
from dataclasses import dataclass
from http import HTTPStatus
from ipaddress import IPv4Network, IPv6Network
from typing import Any, ClassVar, Final, NamedTuple, Protocol, cast, runtime_checkable
from urllib.parse import parse_qsl, unquote

from websockets.frames import EXTERNAL_CLOSE_CODES, Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import State
from websockets.server import ServerProtocol

from livequiz.transport.origin import normalize_origin, normalize_origins
from livequiz.transport.proxy import IPNetwork, client_address

__all__ = [
    "MAX_BODY_BYTES",
    "BroadcastResult",
    "Connection",
    "ConnectionHandler",
    "HandshakeRequest",
    "Rejection",
    "SharedFrame",
    "TransportLimits",
    "WebSocketConnection",
    "WebSocketServer",
    "broadcast",
    "broadcast_in_chunks",
    "encode_text_frame",
]

logger = logging.getLogger("livequiz.transport")

# websockets logs "connection open" / "connection closed" at INFO for every connection: at
# 10,000 players that is a log storm on every join wave. Its protocol objects log to this child
# logger, quiet by default; set it to DEBUG to trace frames while debugging.
protocol_logger = logging.getLogger("livequiz.transport.protocol")
if protocol_logger.level == logging.NOTSET:
    protocol_logger.setLevel(logging.WARNING)

_monotonic = time.monotonic

# Close codes used by this module (RFC 6455 §7.4 and the IANA registry).
CLOSE_NORMAL: Final = 1000
CLOSE_GOING_AWAY: Final = 1001  # server shutting down
CLOSE_PROTOCOL_ERROR: Final = 1002  # malformed framing (unmasked, reserved bits, bad opcode…)
CLOSE_UNSUPPORTED_DATA: Final = 1003  # binary frame: the protocol is JSON text only
CLOSE_ABNORMAL: Final = 1006  # never on the wire: TCP lost without a closing handshake
CLOSE_INVALID_DATA: Final = 1007  # text frame that is not UTF-8
CLOSE_POLICY_VIOLATION: Final = 1008  # rate limit
CLOSE_MESSAGE_TOO_BIG: Final = 1009  # message over max_message_bytes
CLOSE_INTERNAL_ERROR: Final = 1011  # handler exception; keepalive ping timeout
CLOSE_TRY_AGAIN_LATER: Final = 1013  # client too slow to read: reconnect and resync

# Connection states, small ints so the hot path compares with a cheap identity test.
_CONNECTING: Final = 0
_OPEN: Final = 1
_CLOSING: Final = 2
_CLOSED: Final = 3

# websockets' reject() builds an http.HTTPStatus, which refuses non-standard codes (499…).
_HTTP_STATUSES: Final = frozenset(status.value for status in HTTPStatus)

_MAX_REASON_BYTES: Final = 123  # a close frame's payload is at most 125 bytes, 2 of them the code
_HEAD16: Final = struct.Struct("!BBH")
_HEAD64: Final = struct.Struct("!BBQ")
# Bytes handed to websockets' parser at a time (see WebSocketConnection.data_received). Above
# the largest legal message, so an honest client's read is one slice, as before.
_FEED_BYTES: Final = 8192


def _serialize(opcode: Opcode, data: bytes) -> bytes:
    """Serialize a server-to-client frame the reference way (websockets, unmasked, no extension)."""
    return Frame(opcode, data).serialize(mask=False, extensions=[])


#: A keepalive ping's first two bytes: FIN and the PING opcode, then an 8-byte payload,
#: unmasked. The payload is random for each ping: only the pong that echoes it (RFC 6455 5.5.3;
#: browsers and WebSocket libraries do it by themselves) proves the client has read everything
#: sent before the ping; a pong sent on its own, without reading, cannot guess it.
_PING_HEAD: Final = b"\x89\x08"
_PING_PAYLOAD_BYTES: Final = 8


def encode_text_frame(data: bytes) -> bytes:
    """Frame ``data`` (UTF-8 text) as one unmasked, unfragmented text frame.

    Why not ``Frame.serialize``: personal frames (acks) are sent per answer; building the
    two-to-ten-byte header by hand costs about a tenth of the generic serializer. The test suite
    checks byte-for-byte equality with websockets' serializer at every length boundary.
    """
    n = len(data)
    if n < 126:
        return bytes((0x81, n)) + data
    if n < 65536:
        return _HEAD16.pack(0x81, 126, n) + data
    return _HEAD64.pack(0x81, 127, n) + data


#: The largest HTTP request body by default (:attr:`TransportLimits.http_max_body_bytes`), and
#: the API's: a word list of a few thousand lines is far below it; anything larger is not one.
MAX_BODY_BYTES: Final = 1 << 20


@dataclass(frozen=True, slots=True)
class TransportLimits:
    """Protective limits of the WebSocket transport. Defaults suit 10,000 players per process.

    Every number is a constructor argument so tests and operators can tighten or relax it.
    """

    # The largest legal client message (join with a 32-character nickname, an answer) is a few
    # hundred bytes of JSON; 4 KiB leaves ten times that and bounds what a client can make us
    # buffer and parse. Larger messages are refused by the frame parser → close 1009.
    max_message_bytes: int = 4096

    # Browser origins allowed to open a socket (defence against cross-site WebSocket hijacking).
    # None = any origin. A disallowed Origin → HTTP 403 at the handshake. Kept in the normal
    # form of livequiz.transport.origin (lower-case scheme and host, no default port, no
    # trailing slash), in which the Origin header is compared too; an entry that is not
    # scheme://host[:port] is refused here (ValueError).
    origins: frozenset[str] | None = None

    # Reverse proxies (nginx, a load balancer) whose X-Forwarded-For is believed: from a peer
    # in one of these networks, Connection.address is the client the header names (see
    # livequiz.transport.proxy for the rule); from any other peer the header is ignored, so a
    # client cannot pick its own address. Empty (the default): the TCP peer is the client.
    trusted_proxies: tuple[IPNetwork, ...] = ()

    # Clients that send no Origin header at all (native apps, the load generator) cannot be
    # tricked by a web page; browsers always send one. So absence is allowed unless turned off.
    allow_missing_origin: bool = True

    # Keepalive: every connection gets a ping ping_interval_s after it last proved that it reads
    # (it opened, or it answered a ping with the pong echoing the ping's random payload, as
    # RFC 6455 requires and browsers do by themselves); without that pong within
    # ping_timeout_s it is closed with 1011 "keepalive ping timeout" (websockets' own defaults
    # are 20 s / 20 s). This reaps half-open TCP connections (a phone went into a tunnel) that
    # would otherwise hold a seat and a socket forever, and clients that never read: their
    # kernel may take megabytes of boards for them, where the slow-client limits cannot see
    # it, and other bytes they send (an answer, a pong of their own) prove nothing.
    ping_interval_s: float = 20.0
    ping_timeout_s: float = 20.0

    # Above the soft limit (bytes queued in user space, once the kernel has refused more: see
    # socket_notsent_lowat_bytes), shared frames are dropped for that client: a leaderboard of
    # ~0.3–2 KiB is superseded by the next one 100–200 ms later, and 16 KiB is ~10–50 boards
    # behind. At 10,000 stalled clients the soft limit bounds board memory to ~160 MiB.
    write_buffer_soft_bytes: int = 16 * 1024
    # Personal frames (acks, errors) are never dropped; past the hard limit the client is closed
    # with 1013 "client too slow". 256 KiB is hundreds of acks nobody read.
    write_buffer_hard_bytes: int = 256 * 1024
    # A client whose shared frames keep being dropped for this long is closed with 1013 too: it
    # has missed 50–100 boards and should reconnect for a fresh snapshot.
    slow_client_timeout_s: float = 10.0
    # TCP_NOTSENT_LOWAT for each WebSocket socket (Linux >= 3.12; set wherever Python has the
    # option, but only Linux is known to refuse writes with it): the kernel takes no more from
    # us while this many bytes wait in it *unsent*, so what a client does not read waits in
    # our own buffer, where the soft and hard limits and the slow timeout see it. Without it,
    # autotuning lets the kernel's send buffer grow to several MiB (tcp_wmem max: 4 MiB here;
    # 3.7 MiB measured on loopback for a client that never reads), i.e. minutes of boards
    # before a stalled client is noticed. Unlike a fixed SO_SNDBUF it leaves bytes in flight
    # alone (autotuning still sizes the buffer for the link), so a client that keeps up,
    # however far away, sees no change. The kernel checks it when it starts a new packet
    # buffer, so it may hold up to one segment more (20-44 KiB measured on loopback). It does
    # not see what the client's own kernel took: a client that never reads but whose receive
    # buffer keeps growing is not caught by it (docs/reliability.md, part 5). None: the
    # kernel's default (no limit).
    socket_notsent_lowat_bytes: int | None = 16 * 1024
    # SO_SNDBUF for each WebSocket socket; None keeps the kernel's autotuning. A fixed value
    # bounds kernel memory per socket, but also the bytes in flight (throughput on a link with
    # a long round trip): socket_notsent_lowat_bytes does the slow-client part without that.
    socket_send_buffer_bytes: int | None = None

    # Per-connection token bucket on inbound frames. A player sends at most a few messages per
    # question (join, answer, reaction); a human cannot tap more than ~5–8 times a second, so
    # 10/s sustained with a burst of 20 never touches a legitimate client.
    # Policy: the first frame over the limit is dropped and answered with
    # ``rate_limit_error_frame``; a further frame over the limit before the bucket has refilled
    # completely closes the connection with 1008 "rate limit exceeded". 0 disables the limit.
    max_messages_per_second: float = 10.0
    message_burst: int = 20
    rate_limit_error_frame: bytes = (
        b'{"type":"error","code":"rate_limited","message":"too many messages, slow down"}'
    )

    # Open WebSocket connections per process; past it the handshake gets HTTP 503. The target is
    # 10,000 players per process; +20 % absorbs reconnect churn (a dropped player's old socket
    # lingers until its keepalive expires) and stays far below the 20,000 open-files limit,
    # which HTTP clients, database and bus connections and log files share.
    max_connections: int = 12_000

    # Time allowed between TCP accept and a complete upgrade request. Behind uvicorn the request
    # arrives complete in one call, so this only guards a standalone port (see
    # WebSocketServer.protocol_class); uvicorn's HTTP phase has no header timeout of its own.
    handshake_timeout_s: float = 10.0

    # After we send a close frame, how long we wait for the peer's before dropping the TCP
    # connection (websockets' default close_timeout is 10 s; a quiz client answers in < 1 s).
    # Also how long an HTTP error answer waits for the client's FIN (http_guard).
    close_timeout_s: float = 5.0
    # A connection we failed (over its message rate: 1008; invalid UTF-8: 1007) has been sent
    # its close frame and a FIN; what it still sends is read and thrown away, so that a client
    # that wrote a burst in one go reads our close frame instead of a TCP reset. Past this many
    # bytes thrown away it is no longer read at all: TCP's flow control then holds the sender
    # until it closes or close_timeout_s drops it. A flooder kept writing thousands of frames
    # a second into a connection being discarded, and reconnected as soon as it noticed the
    # close: ~1.2 million messages and ~400 connections a phase of bench/floods.py, whose
    # kernel and handshake work on the shared cores was the largest part of the honest ack
    # tail with every flood at once (docs/reliability.md). 64 KiB is ~3,000 tiny frames past
    # the close. None: discard until the peer's FIN, as before.
    failed_discard_bytes: int | None = 64 * 1024

    # Plain HTTP connections, before any upgrade (livequiz.transport.http_guard enforces them).
    # The largest request body, checked as it arrives: a declared Content-Length over it is
    # answered 413 too_large from the head alone, before the application runs; a chunked body
    # when it passes it; a body still coming after the application answered (a 404 for a
    # POST) is no longer read past it. livequiz's largest body is a 1 MiB word list
    # (livequiz.http_api takes MAX_BODY_BYTES as its own limit).
    http_max_body_bytes: int = MAX_BODY_BYTES
    # After an HTTP error answer that ends the connection (413, 408, 400), the rest of the
    # request is read and thrown away, so that a client still writing its body reads the
    # answer instead of a TCP reset; past this many bytes the socket is no longer read: TCP's
    # flow control holds the sender, and close_timeout_s ends the connection. Before, a body
    # refused 413 was read to its end, however long: an endless chunked body for ever. 8 MiB,
    # with the two kernels' buffers (several MiB on Linux), lets a client that writes a whole
    # upload of ~10 MiB before reading (Python's requests and httpx do) see its 413; a longer
    # one may see a reset, as behind nginx. None: until the client's FIN or close_timeout_s.
    http_discard_bytes: int | None = 8 * 1024 * 1024

    # The whole request head (request line and headers, a few hundred bytes) must arrive within
    # http_head_timeout_s of the accept, or of the next request's first byte on a kept-alive
    # connection; a byte at a time does not extend it (slowloris). A phone on a poor link sends
    # a head in well under a second; nginx allows 60 s, Apache's mod_reqtimeout 20-40 s: 10 s
    # frees a flood's sockets sooner and still leaves a bad link ten times what it needs.
    http_head_timeout_s: float = 10.0
    # The body of a request, from its complete head to its last byte (a slowloris that sends
    # a complete head and then trickles the body: "R.U.D.Y."). The largest body livequiz takes
    # is a 1 MiB word list; a phone uploads that in a few seconds on a poor 3G link. Past it:
    # 408 request_timeout with the JSON error body, and the connection ends.
    http_body_timeout_s: float = 30.0
    # Between requests on a kept-alive connection (uvicorn's default keep-alive: 5 s; browsers
    # reuse a connection within that or open a new one at no visible cost).
    http_idle_timeout_s: float = 5.0
    # HTTP connections per TCP peer address (trusted proxies exempt). At the cap a new one
    # replaces the address's oldest without a request in progress; refused (429) only when all
    # are busy. 256 is far above what a classroom behind one NAT keeps busy at once (browsers
    # open at most 6 per host, requests take milliseconds) and bounds one address's share.
    max_http_connections_per_address: int = 256
    # HTTP connections in all, the same way (503 when all are busy). With max_connections
    # WebSockets, 12,000 + 4,096 stays below the 20,000 open files of the target machine, with
    # room for storage, the bus and logs: a flood can no longer exhaust descriptors (~21,000
    # idle sockets did) and make accept() fail for /healthz and honest players.
    max_http_connections: int = 4096
    # HTTP requests begun per turn of the event loop (not WebSocket handshakes); the
    # rest wait, in order of arrival, for the next turn, after the loop has polled every socket
    # again. One event loop serves everyone, so a turn that begins 500 requests at once (a
    # join storm's burst over many connections: each ~0.3 ms of routing and JSON) holds every
    # WebSocket answer behind it for ~150 ms. 8 a turn keep a turn's HTTP work near 2-3 ms:
    # once an ack no longer waited for the journal's thread, the turns were what was left of
    # a join storm's tail (storm-only ack p99 ratio ~5x at 32, ~2.5x at 8 and 4;
    # docs/reliability.md). Not free: if turns are long (a big quiz's lobby while thousands
    # join), at most 8 per turn begin (8 / 50 ms = 160 a second; at 1 ms turns, 8,000). The
    # players of the benchmarks join over WebSocket, whose handshakes are not held: at 8 a
    # turn they made 5,000 players connect at ~160 a second instead of ~1,300. 0: no bound.
    http_requests_per_turn: int = 8
    # Plain HTTP connections whose received data is handled per turn of the event loop (a
    # request head to parse, screen, refuse or begin; a body's next chunk; a WebSocket
    # upgrade's request); the others stop being read until a later turn, in order of arrival.
    # A join storm's wave is thousands of requests that are mostly refused from their head in
    # microseconds, but hundreds in one turn made it 2-5 ms, and an answer read in that turn
    # waited for all of it: at 4 a turn the storm-only ack p99 ratio fell from ~2.6-3.5x to
    # 1.3-2.2x (at 2, 2.3-3.1x: the pause and resume cost more than they save). The benchmarks'
    # WebSocket joins were unaffected (10,000: ~1,000-1,100 a second either way).
    # 0: no bound.
    http_reads_per_turn: int = 4
    # New connections per TCP peer address (HTTP and WebSocket alike: every WebSocket begins
    # as an HTTP connection), a token bucket checked at the accept; trusted proxies exempt.
    # Over it: 429 rate_limited with Retry-After at once. The caps above bound how many are
    # open, not how fast they come: one address opening ~375 connections a second, each with
    # a 1 MiB frame or a 2 MiB body, held honest acks ~50 ms behind its megabytes.
    # The burst is the per-address WebSocket cap (ServerConfig.max_connections_per_address,
    # 1,000): a school behind one NAT whose players all reconnect at once after a restart gets
    # back in; it is also 5x the join burst (200 joins x 1-3 connections each: page, join POST,
    # WebSocket). The rate, 50/s, is the join rate (20/s) x 2.5 connections a player: an
    # assembly of 1,000 phones joining over 40 s (what the join budget lets in) stays within
    # it. 0 per second: no budget.
    new_connection_burst: int = 1000
    new_connections_per_second: float = 50.0
    # What an offence costs the address in tokens, beside the connection's own one: an
    # oversized WebSocket message (close 1009), a connection failed for its message rate
    # (close 1008), an oversized body (413), a request the parser refuses (400). Honest
    # clients never send these (a teacher's word list over 1 MiB is one
    # 413); a flood of them is a flood of megabytes, so each costs 10 connections: such an
    # address gets ~50 / 11 = 4.5 offending connections a second after its burst instead of
    # hundreds. The debt is bounded at minus the burst, so an address that stops is back
    # within 2 x burst / rate (40 s) at worst. 0: offences cost nothing extra.
    new_connection_offence_cost: int = 10

    def __post_init__(self) -> None:
        if self.origins is not None:
            object.__setattr__(self, "origins", normalize_origins(self.origins))
        if self.max_message_bytes <= 0:
            raise ValueError("max_message_bytes must be positive")
        if self.write_buffer_soft_bytes <= 0 or (
            self.write_buffer_hard_bytes < self.write_buffer_soft_bytes
        ):
            raise ValueError("need 0 < write_buffer_soft_bytes <= write_buffer_hard_bytes")
        for name in ("failed_discard_bytes", "http_discard_bytes"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be >= 0 or None")
        if self.http_max_body_bytes < 0:
            raise ValueError("http_max_body_bytes must be >= 0")
        if self.max_messages_per_second < 0 or self.message_burst < 1:
            raise ValueError("need max_messages_per_second >= 0 and message_burst >= 1")
        for name in ("socket_send_buffer_bytes", "socket_notsent_lowat_bytes"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be positive or None")
        if self.max_connections < 0:
            raise ValueError("max_connections must be >= 0")
        if self.max_http_connections_per_address < 1 or self.max_http_connections < 1:
            raise ValueError("max_http_connections and its per-address cap must be >= 1")
        if (
            self.new_connection_burst < 1
            or self.new_connections_per_second < 0
            or self.new_connection_offence_cost < 0
        ):
            raise ValueError(
                "need new_connection_burst >= 1, new_connections_per_second >= 0 (0: no "
                "budget) and new_connection_offence_cost >= 0"
            )
        if self.http_requests_per_turn < 0:
            raise ValueError("http_requests_per_turn must be >= 0 (0: no bound)")
        if self.http_reads_per_turn < 0:
            raise ValueError("http_reads_per_turn must be >= 0 (0: no bound)")
        if not isinstance(self.trusted_proxies, tuple) or not all(
            isinstance(network, IPv4Network | IPv6Network) for network in self.trusted_proxies
        ):
            raise TypeError(
                "trusted_proxies must be a tuple of ipaddress networks "
                "(livequiz.transport.proxy.parse_networks(['10.0.0.0/8']) makes one)"
            )
        for name in (
            "ping_interval_s",
            "ping_timeout_s",
            "slow_client_timeout_s",
            "handshake_timeout_s",
            "close_timeout_s",
            "http_head_timeout_s",
            "http_body_timeout_s",
            "http_idle_timeout_s",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")

    @property
    def tick_interval_s(self) -> float:
        """Period of the server's single housekeeping timer: a quarter of the shortest deadline,
        clamped to [50 ms, 1 s], so deadlines are enforced within 25 % of their value."""
        shortest = min(
            self.ping_interval_s,
            self.ping_timeout_s,
            self.handshake_timeout_s,
            self.close_timeout_s,
        )
        return min(1.0, max(0.05, shortest / 4))


class SharedFrame:
    """A WebSocket frame serialized once and written as-is to any number of connections.

    Server-to-client frames are unmasked and we never negotiate an extension (no
    permessage-deflate: it costs ~64 KiB per connection and one compression per recipient), so
    the same bytes are valid on every connection.
    """

    __slots__ = ("data",)

    data: bytes

    def __init__(self, serialized: bytes) -> None:
        self.data = serialized

    @classmethod
    def text(cls, data: bytes) -> SharedFrame:
        """Build a text frame from already-encoded UTF-8 (typically ``orjson.dumps(...)``)."""
        return cls(_serialize(Opcode.TEXT, data))

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        return f"SharedFrame({len(self.data)} bytes)"


Rejection = tuple[int, str]
"""``(HTTP status, plain-text body)`` returned by :meth:`ConnectionHandler.accept` to refuse."""


class HandshakeRequest(Protocol):
    """What a handler sees of a connection before it is accepted (it cannot send yet)."""

    @property
    def id(self) -> int:
        """Process-unique connection number, for logs and maps."""
        ...

    @property
    def remote(self) -> str:
        """``host:port`` of the TCP peer (behind a reverse proxy: the proxy), for logs."""
        ...

    @property
    def address(self) -> str:
        """The client's IP address without the port: what per-address limits count by.

        The TCP peer's, or, when the peer is one of :attr:`TransportLimits.trusted_proxies`,
        the client named by its ``X-Forwarded-For`` (:func:`livequiz.transport.proxy.
        client_address`). Final from :meth:`ConnectionHandler.accept` on.
        """
        ...

    @property
    def request_path(self) -> str:
        """Percent-decoded path of the upgrade request, without the query string."""
        ...

    @property
    def query(self) -> Mapping[str, str]:
        """Query parameters of the upgrade request (repeated keys: the last one wins)."""
        ...

    @property
    def headers(self) -> Mapping[str, str]:
        """Request headers; lookups are case-insensitive. Kept for the connection's life."""
        ...

    context: Any
    """Free slot for the application's per-connection state (None until set)."""


@runtime_checkable
class Connection(HandshakeRequest, Protocol):
    """An open WebSocket connection as the application sees it."""

    @property
    def open(self) -> bool:
        """True until a close frame was sent or received or the TCP connection was lost."""
        ...

    @property
    def buffered_bytes(self) -> int:
        """Bytes queued in user space waiting for the socket (0 once closed)."""
        ...

    def send_text(self, data: bytes) -> bool:
        """Send a personal text frame. ``data`` must be UTF-8 (already-encoded JSON).

        Never dropped for slowness; past the hard write-buffer limit the connection is closed
        with 1013 instead. Returns False if the connection is not open (or was just closed).
        """
        ...

    def send_shared(self, frame: SharedFrame, *, droppable: bool = True) -> bool:
        """Write a pre-built frame with one ``transport.write``.

        Returns False, dropping the frame, when the connection is not open or its write buffer
        is above the soft limit. A client that stays that slow is closed with 1013.
        ``droppable=False`` is for frames no later frame replaces (a question, its reveal):
        they are written whatever the soft limit, and past the hard limit the client is closed
        (1013) so that it reconnects and resyncs, rather than silently missing them.
        """
        ...

    def close(self, code: int = CLOSE_NORMAL, reason: str = "") -> None:
        """Start the closing handshake. Idempotent. ``reason`` is cut to 123 UTF-8 bytes.

        Raises ValueError for a code that may not appear on the wire (1005, 1006, 1015…).
        """
        ...


class ConnectionHandler(Protocol):
    """Implemented by the application. All callbacks are synchronous and run on the event loop.

    Exceptions are caught: in ``accept`` they reject the handshake with HTTP 500, elsewhere the
    connection is closed with 1011 "internal error"; the traceback goes to the log only.
    """

    def accept(self, request: HandshakeRequest) -> Rejection | None:
        """Return None to accept the upgrade, or ``(status, body)`` to refuse it (404 for a
        wrong path, 401 for a bad token…). ``request.context`` may be set here for on_open."""
        ...

    def on_open(self, conn: Connection) -> None:
        """The 101 response is written; ``conn`` can send."""
        ...

    def on_message(self, conn: Connection, data: str) -> None:
        """A complete text message (binary frames close the connection with 1003)."""
        ...

    def on_close(self, conn: Connection, code: int, reason: str) -> None:
        """Called exactly once per opened connection, as soon as it stops being open: ``code``
        is the peer's close code, ours if we closed first, or 1006 if TCP was lost."""
        ...

    # Optional hooks (looked up with getattr, so a handler may leave them out):
    # ``on_refused(conn, code)``: the transport refused a message itself (the rate limit);
    # ``on_handshake_refused(status)``: an upgrade was answered ``status`` instead of 101 (an
    # RFC 6455 check, the Origin, the process full, or ``accept``'s own refusal).


class BroadcastResult(NamedTuple):
    """Outcome of one fan-out: frames written and frames dropped (slow or closed clients)."""

    sent: int
    dropped: int


def broadcast(frame: SharedFrame, connections: Iterable[Connection]) -> BroadcastResult:
    """Write ``frame`` to every connection; returns how many were sent and dropped.

    Synchronous on purpose: at 10,000 recipients it runs ~10,000 × (0.3 µs + the kernel's
    ~10 µs) without yielding. Use :func:`broadcast_in_chunks` when other callbacks (acks)
    must not wait that long. Iterate over a snapshot (``list(...)``) if handlers may close
    connections while you broadcast.
    """
    sent = 0
    total = 0
    for total, conn in enumerate(connections, 1):  # noqa: B007 - total is the count
        if conn.send_shared(frame):
            sent += 1
    return BroadcastResult(sent, total - sent)


async def broadcast_in_chunks(
    frame: SharedFrame, connections: Iterable[Connection], chunk: int = 1000
) -> BroadcastResult:
    """Like :func:`broadcast` but yields to the event loop every ``chunk`` recipients.

    Why: a 10,000-recipient broadcast holds the loop for 100–200 ms; yielding lets answers be
    acked in between, at the price of the last recipients getting the frame a little later.
    Works on a snapshot of ``connections`` so the set may change while we yield.
    """
    targets = list(connections)
    sent = 0
    for start in range(0, len(targets), chunk):
        if start:
            await asyncio.sleep(0)
        for conn in targets[start : start + chunk]:
            if conn.send_shared(frame):
                sent += 1
    return BroadcastResult(sent, len(targets) - sent)


class WebSocketConnection(asyncio.Protocol):
    """One WebSocket connection: an asyncio protocol speaking websockets' sans-I/O protocol.

    uvicorn instantiates the class itself (``cls(config=..., server_state=..., app_state=...)``)
    and cannot pass our handler or limits, so :meth:`WebSocketServer.protocol_class` creates a
    subclass per server whose class attributes carry them. Per-instance state is kept in
    ``__slots__`` to keep an idle connection small.
    """

    # Bound by WebSocketServer.protocol_class(); class-level so they cost nothing per connection.
    _server: ClassVar[WebSocketServer]
    _handler: ClassVar[ConnectionHandler]
    _limits: ClassVar[TransportLimits]
    _soft: ClassVar[int]
    _hard: ClassVar[int]
    _rate: ClassVar[float]
    _burst: ClassVar[float]

    __slots__ = (
        "_address",
        "_deadline",
        "_discard_left",
        "_fragments",
        "_opened",
        "_paused",
        "_ping_payload",
        "_ping_sent_at",
        "_proven_at",
        "_query",
        "_rate_warned",
        "_remote",
        "_request",
        "_slow_since",
        "_state",
        "_tokens",
        "_tokens_at",
        "_transport",
        "_uvicorn_connections",
        "_ws",
        "context",
        "id",
    )

    def __init__(
        self,
        config: Any = None,
        server_state: Any = None,
        app_state: Any = None,
        **_ignored: Any,
    ) -> None:
        """Signature compatible with uvicorn's ``ws_protocol_class(config=, server_state=,
        app_state=)``; also callable with no argument as a ``loop.create_server`` factory."""
        if not hasattr(type(self), "_server"):
            raise TypeError("use WebSocketServer(...).protocol_class(), not this class directly")
        self.id: int = next(self._server._ids)
        self.context: Any = None
        self._transport: asyncio.Transport | None = None
        self._ws: ServerProtocol | None = ServerProtocol(
            max_size=self._limits.max_message_bytes, logger=protocol_logger
        )
        self._state = _CONNECTING
        self._request: Request | None = None
        self._remote = ""
        self._address = ""
        self._query: dict[str, str] | None = None
        # uvicorn's registry of live connections: it calls shutdown() on each at exit and waits
        # for the set to empty, so we must be in it from connection_made to connection_lost.
        connections = getattr(server_state, "connections", None)
        self._uvicorn_connections: set[Any] | None = connections
        self._proven_at = 0.0  # when the client last proved that it reads (see _housekeeping)
        self._ping_sent_at = 0.0
        self._ping_payload = b""
        self._tokens = 0.0
        self._tokens_at = 0.0
        self._rate_warned = False
        self._fragments: list[bytes] | None = None
        self._slow_since = 0.0
        self._deadline = 0.0
        self._paused = False
        self._opened = False
        # Bytes still to read and throw away once we failed the connection (None: not failed,
        # or no bound; see TransportLimits.failed_discard_bytes).
        self._discard_left: int | None = None

    # -- Connection interface --------------------------------------------------------------

    @property
    def remote(self) -> str:
        return self._remote

    @property
    def address(self) -> str:
        return self._address

    @property
    def request_path(self) -> str:
        request = self._request
        return "" if request is None else unquote(request.path.partition("?")[0])

    @property
    def query(self) -> Mapping[str, str]:
        if self._query is None:
            request = self._request
            raw = "" if request is None else request.path.partition("?")[2]
            self._query = dict(parse_qsl(raw, keep_blank_values=True))
        return self._query

    @property
    def headers(self) -> Mapping[str, str]:
        request = self._request
        return {} if request is None else request.headers

    @property
    def open(self) -> bool:
        return self._state == _OPEN

    @property
    def buffered_bytes(self) -> int:
        transport = self._transport
        if transport is None or self._state == _CLOSED:
            return 0
        return transport.get_write_buffer_size()

    @property
    def write_paused(self) -> bool:
        """True while the transport reports its buffer above the soft limit (flow control)."""
        return self._paused

    def send_text(self, data: bytes) -> bool:
        if self._state != _OPEN:
            return False
        transport = self._transport
        assert transport is not None
        try:
            transport.write(encode_text_frame(data))
        except RuntimeError:  # uvloop refuses writes once its handle is closed
            return False
        size = transport.get_write_buffer_size()
        if size > self._hard:
            self._overflow(f"write buffer over {self._hard} bytes")
            return False
        return True

    def send_shared(self, frame: SharedFrame, *, droppable: bool = True) -> bool:
        if self._state != _OPEN:
            return False
        transport = self._transport
        assert transport is not None
        # The authoritative check is the transport's own count: pause_writing() may have gone
        # to uvicorn's HTTP protocol if the buffer filled during the upgrade, before
        # set_protocol(), so the _paused flag alone could be stale.
        size = transport.get_write_buffer_size()
        if droppable and size > self._soft:
            self._drop(size)
            return False
        try:
            transport.write(frame.data)
        except RuntimeError:  # uvloop refuses writes once its handle is closed
            return False
        if not droppable:
            if transport.get_write_buffer_size() > self._hard:
                self._overflow(f"write buffer over {self._hard} bytes")
                return False
        elif self._slow_since:
            self._slow_since = 0.0
        return True

    def close(self, code: int = CLOSE_NORMAL, reason: str = "") -> None:
        if not (code in EXTERNAL_CLOSE_CODES or 3000 <= code < 5000):
            raise ValueError(f"close code {code} cannot be sent on the wire")
        if self._state == _OPEN:
            self._close(code, reason)

    def __repr__(self) -> str:
        state = ("connecting", "open", "closing", "closed")[self._state]
        return f"<WebSocketConnection #{self.id} {self._remote} {state}>"

    # -- asyncio.Protocol callbacks ----------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's is not a registered subclass
        self._transport = transport
        # pause_writing() then fires exactly when the soft limit is crossed.
        transport.set_write_buffer_limits(high=self._soft, low=self._soft // 4)
        limits = self._limits
        if limits.socket_send_buffer_bytes is not None or limits.socket_notsent_lowat_bytes:
            _set_socket_options(transport, limits)
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            self._remote = f"{peer[0]}:{peer[1]}"
            self._address = str(peer[0])
        elif peer:
            self._remote = self._address = str(peer)
        if self._uvicorn_connections is not None:
            self._uvicorn_connections.add(self)
        self._deadline = _monotonic() + self._limits.handshake_timeout_s
        self._server._attach(self)

    def data_received(self, data: bytes) -> None:
        ws = self._ws
        if ws is None:
            return
        left = self._discard_left
        if left is not None:  # failed by us: websockets only discards now
            self._discard_left = left = left - len(data)
            if left <= 0 and self._transport is not None:
                self._transport.pause_reading()  # for good: the deadline drops it
        now = _monotonic()
        if len(data) <= _FEED_BYTES:
            ws.receive_data(data)
            self._dispatch(ws, now)
        else:
            # websockets parses everything it is fed before we see the first frame: a read
            # of 256 KiB of tiny frames from a flooder is ~10,000 frames (50-100 ms of the
            # loop, every honest ack waiting) before the rate limit can fail the connection.
            # Fed a slice at a time, at most one slice is parsed past the limit; once the
            # connection is failed the rest goes to websockets' discarding parser in one go.
            for start in range(0, len(data), _FEED_BYTES):
                if self._state != _OPEN and self._state != _CONNECTING:
                    ws.receive_data(data[start:])
                    self._dispatch(ws, now)
                    break
                ws.receive_data(data[start : start + _FEED_BYTES])
                self._dispatch(ws, now)
        self._after_protocol(ws)

    def _dispatch(self, ws: ServerProtocol, now: float) -> None:
        for event in ws.events_received():
            if type(event) is Frame:
                self._on_frame(event, now)
            elif isinstance(event, Request):
                self._on_request(event, ws)

    def eof_received(self) -> bool | None:
        ws = self._ws
        if ws is not None:
            ws.receive_eof()
            self._after_protocol(ws)
        return None  # let the transport close itself

    def connection_lost(self, exc: Exception | None) -> None:
        previous = self._state
        self._state = _CLOSED
        self._server._detach(self)
        if self._uvicorn_connections is not None:
            self._uvicorn_connections.discard(self)
        ws = self._ws
        if ws is not None:
            # websockets' parser is a generator that refers to its protocol, and it stays
            # suspended for good (its last step is a bare yield), as may the exception that
            # ended it (PayloadTooBig's traceback holds the parser's frame): every closed
            # connection left a cycle for the garbage collector. Closed here, it is freed now.
            ws.parser.close()
            ws.parser_exc = None
        self._ws = None
        self._fragments = None
        if previous == _OPEN:
            self._notify_close(CLOSE_ABNORMAL, "")

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        self._slow_since = 0.0

    # -- uvicorn hook --------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Called by uvicorn on every tracked connection when the server exits."""
        if self._state == _OPEN:
            self._close(CLOSE_GOING_AWAY, "server shutting down")
        elif self._state == _CONNECTING and self._transport is not None:
            self._state = _CLOSING
            self._transport.close()

    # -- internals -----------------------------------------------------------------------------

    def _on_request(self, request: Request, ws: ServerProtocol) -> None:
        """Validate the upgrade, run the checks in cheapest-first order, answer 101 or refuse."""
        self._request = request
        trusted = self._limits.trusted_proxies
        if trusted:  # before any check that counts by address
            forwarded = request.headers.get_all("X-Forwarded-For")
            self._address = client_address(self._address, forwarded, trusted)
        response = ws.accept(request)  # RFC 6455 checks: method, version, key, upgrade headers
        if response.status_code == 101:
            rejection = self._screen(request)
            if rejection is not None:
                status, body = rejection
                response = ws.reject(status, body if body.endswith("\n") else body + "\n")
        ws.send_response(response)
        self._flush(ws)
        if response.status_code != 101:
            self._state = _CLOSING
            self._deadline = _monotonic() + self._limits.close_timeout_s
            self._tell_handler("on_handshake_refused", response.status_code)
            return
        now = _monotonic()
        self._state = _OPEN
        self._proven_at = now
        self._tokens = self._burst
        self._tokens_at = now
        self._server._opened(self)
        self._opened = True
        try:
            self._handler.on_open(self)
        except Exception:
            logger.exception("on_open failed for connection #%d", self.id)
            if self._state == _OPEN:
                self._close(CLOSE_INTERNAL_ERROR, "internal error")

    def _screen(self, request: Request) -> Rejection | None:
        limits = self._limits
        if limits.origins is not None:
            origins = request.headers.get_all("Origin")
            if not origins:
                if not limits.allow_missing_origin:
                    return (403, "origin required")
            elif len(origins) > 1 or normalize_origin(origins[0]) not in limits.origins:
                return (403, "origin not allowed")
        if len(self._server._open) >= limits.max_connections:
            return (503, "server full, try again later")
        try:
            rejection = self._handler.accept(self)
        except Exception:
            logger.exception("accept failed for connection #%d", self.id)
            return (500, "internal error")
        if rejection is not None:
            status, body = rejection
            if not (400 <= status < 600 and status in _HTTP_STATUSES):
                logger.error("accept returned status %r; answering 500 instead", status)
                return (500, "internal error")
            return (status, body)
        return None

    def _on_frame(self, frame: Frame, now: float) -> None:
        opcode = frame.opcode
        if opcode is Opcode.PONG:
            if self._ping_sent_at and frame.data == self._ping_payload:
                self._ping_sent_at = 0.0  # it read everything up to our ping
                self._proven_at = now
            return  # another pong (unsolicited, or a guess) proves nothing
        if opcode is Opcode.CLOSE:
            return  # handled in _after_protocol
        if self._state != _OPEN:
            return  # closing: websockets keeps parsing until the peer's close arrives
        if not self._take_token(now):
            self._over_rate()
            return
        if opcode is Opcode.TEXT:
            if not frame.fin:
                self._fragments = [bytes(frame.data)]
                return
            payload: bytes | bytearray | memoryview = frame.data
        elif opcode is Opcode.CONT:
            fragments = self._fragments
            if fragments is None:
                return  # continuation of a binary message we already refused
            fragments.append(bytes(frame.data))
            if not frame.fin:
                return
            payload = b"".join(fragments)
            self._fragments = None
        elif opcode is Opcode.BINARY:
            self._close(CLOSE_UNSUPPORTED_DATA, "binary frames are not supported")
            return
        else:  # PING: websockets already queued the pong
            return
        try:
            text = str(payload, "utf-8")
        except UnicodeDecodeError:
            self._fail(CLOSE_INVALID_DATA, "invalid UTF-8 in text message")
            return
        try:
            self._handler.on_message(self, text)
        except Exception:
            logger.exception("on_message failed for connection #%d", self.id)
            if self._state == _OPEN:
                self._close(CLOSE_INTERNAL_ERROR, "internal error")

    def _take_token(self, now: float) -> bool:
        rate = self._rate
        if not rate:
            return True
        tokens = self._tokens + (now - self._tokens_at) * rate
        self._tokens_at = now
        if tokens >= self._burst:
            tokens = self._burst
            self._rate_warned = False  # behaved for a full refill: the warning is forgiven
        if tokens >= 1.0:
            self._tokens = tokens - 1.0
            return True
        self._tokens = tokens
        return False

    def _over_rate(self) -> None:
        if self._rate_warned:
            # Failed, not closed gracefully: a graceful close keeps parsing every frame the
            # flooder still sends until its close frame arrives (thousands a second, all on
            # the event loop); failing sends the close frame and a FIN and then only discards
            # bytes, up to failed_discard_bytes, until the peer's FIN (close_timeout_s at
            # most). The client sees 1008.
            self._fail(CLOSE_POLICY_VIOLATION, "rate limit exceeded")
            # An offence, as an oversized message is: a flooder that reconnects as soon as it
            # is closed pays for each new connection ten times over (new_connection_offence_cost).
            self._server._offence(self._remote)
            return
        self._rate_warned = True
        frame = self._limits.rate_limit_error_frame
        if frame:
            self.send_text(frame)
        # So the application can count the refusal like its own errors.
        self._tell_handler("on_refused", self, "rate_limited")

    def _tell_handler(self, hook: str, *args: Any) -> None:
        """Call the handler's optional ``hook`` (see :class:`ConnectionHandler`), if it has
        one; its failure is logged and changes nothing the transport does."""
        method = getattr(self._handler, hook, None)
        if method is not None:
            try:
                method(*args)
            except Exception:
                logger.exception("%s failed on connection #%d", hook, self.id)

    def _after_protocol(self, ws: ServerProtocol) -> None:
        """Write what websockets queued (pongs, close frames, EOF) and notice closings that
        websockets decided on its own: peer close frame, framing error, size limit, EOF."""
        self._flush(ws)
        if self._state == _OPEN and ws.state is not State.OPEN:
            received, sent = ws.close_rcvd, ws.close_sent
            if received is not None:
                self._enter_closing(received.code, received.reason)
            elif sent is not None:
                if sent.code == CLOSE_MESSAGE_TOO_BIG:  # websockets' size limit: an offence
                    self._server._offence(self._remote)
                self._enter_closing(sent.code, sent.reason)
            else:
                self._enter_closing(CLOSE_ABNORMAL, "")

    def _flush(self, ws: ServerProtocol) -> None:
        transport = self._transport
        if transport is None:
            return
        for chunk in ws.data_to_send():
            if chunk:
                transport.write(chunk)
            else:  # SEND_EOF: a server closes TCP as soon as the closing handshake is done
                _half_close(transport)

    def _close(self, code: int, reason: str) -> None:
        """Graceful close: send our close frame, wait (close_timeout_s) for the peer's."""
        ws = self._ws
        assert ws is not None
        # websockets may already have left OPEN while we still dispatch earlier frames of the
        # same read (peer close frame later in the batch): its close echo is then queued.
        if ws.state is State.OPEN:
            ws.send_close(code, _cut_reason(reason))
        self._flush(ws)
        self._enter_closing(code, reason)

    def _fail(self, code: int, reason: str) -> None:
        """Fail the connection (RFC 6455 §7.1.7): close frame, then TCP close, no waiting."""
        ws = self._ws
        assert ws is not None
        ws.fail(code, _cut_reason(reason))
        self._flush(ws)
        self._enter_closing(code, reason)
        self._discard_left = self._limits.failed_discard_bytes

    def _drop(self, size: int) -> None:
        if size > self._hard:
            self._overflow(f"write buffer over {self._hard} bytes")
            return
        now = _monotonic()
        if not self._slow_since:
            self._slow_since = now
        elif now - self._slow_since > self._limits.slow_client_timeout_s:
            self._overflow("client too slow")

    def _overflow(self, why: str) -> None:
        """Close a client that does not read: queue the close frame (it reads it if it ever
        wakes up) and close TCP without waiting for an answer; the server's timer aborts the
        socket if the buffer still has not drained after close_timeout_s."""
        logger.info("closing slow connection #%d %s: %s", self.id, self._remote, why)
        self._fail(CLOSE_TRY_AGAIN_LATER, "client too slow")

    def _enter_closing(self, code: int, reason: str) -> None:
        self._state = _CLOSING
        self._fragments = None
        self._deadline = _monotonic() + self._limits.close_timeout_s
        self._server._closing(self)
        self._notify_close(code, reason)

    def _notify_close(self, code: int, reason: str) -> None:
        if not self._opened:
            return
        self._opened = False  # exactly once
        try:
            self._handler.on_close(self, code, reason)
        except Exception:
            logger.exception("on_close failed for connection #%d", self.id)

    def _send_ping(self, now: float) -> None:
        assert self._transport is not None
        payload = self._ping_payload = os.urandom(_PING_PAYLOAD_BYTES)
        self._transport.write(_PING_HEAD + payload)
        self._ping_sent_at = now

    def _abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()


#: TCP_NOTSENT_LOWAT where Python has it (Linux >= 3.12; macOS has the constant, but there it
#: is documented to delay write notifications, not to refuse writes); elsewhere nothing is set
#: and the kernel's own buffer absorbs a non-reading client first, as it did before.
_TCP_NOTSENT_LOWAT: Final[int | None] = getattr(socket, "TCP_NOTSENT_LOWAT", None)


def _set_socket_options(transport: asyncio.Transport, limits: TransportLimits) -> None:
    """SO_SNDBUF and TCP_NOTSENT_LOWAT from the limits, on the connection's socket."""
    sock = transport.get_extra_info("socket")
    if sock is None:
        return
    if limits.socket_send_buffer_bytes is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, limits.socket_send_buffer_bytes)
    lowat = limits.socket_notsent_lowat_bytes
    if lowat is not None and _TCP_NOTSENT_LOWAT is not None:
        # Not TCP (a Unix socket) or a kernel without it: the kernel's buffer absorbs, as before.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, _TCP_NOTSENT_LOWAT, lowat)


def _half_close(transport: asyncio.Transport) -> None:
    """End our side of the TCP connection with a FIN, but keep reading until the peer's FIN.

    Why not ``transport.close()``: closing a socket whose receive buffer still holds unread
    bytes makes the kernel answer with a TCP reset, and a reset makes the peer's kernel throw
    away what it had not yet handed to the client, our close frame included. That is what a
    client writing a 64 KiB message in one go saw: we refuse it after its first 4 KiB, and the
    rest is still arriving, so it got a reset (1006) instead of the promised 1009. RFC 6455
    §7.1.1 has the server close TCP first; the websockets library does it the same way as
    here: half-close, keep reading (websockets' parser discards what follows a close), and
    close when the peer's FIN arrives (``eof_received``), or abort at ``close_timeout_s``
    (the housekeeping timer), so a peer that never stops sending cannot hold the socket.
    """
    if transport.is_closing():
        return
    if transport.can_write_eof():
        transport.write_eof()
    else:  # pragma: no cover - TLS transports cannot half-close; TCP ones (ours) can
        transport.close()


def _cut_reason(reason: str) -> str:
    encoded = reason.encode()
    if len(encoded) <= _MAX_REASON_BYTES:
        return reason
    return encoded[:_MAX_REASON_BYTES].decode(errors="ignore")


class WebSocketServer:
    """Binds a :class:`ConnectionHandler` and :class:`TransportLimits` to a protocol class, and
    keeps the registry of connections and the single housekeeping timer.

    Usage with uvicorn (see :mod:`livequiz.transport.server`)::

        ws_server = WebSocketServer(handler, TransportLimits())
        uvicorn.Config(app, ws=ws_server.protocol_class(), ...)

    The class can also serve a WebSocket-only port directly:
    ``await loop.create_server(ws_server.protocol_class(), host, port)``.
    """

    def __init__(self, handler: ConnectionHandler, limits: TransportLimits | None = None) -> None:
        self.handler = handler
        self.limits = limits if limits is not None else TransportLimits()
        self._ids = itertools.count(1)
        self._open: set[WebSocketConnection] = set()
        # Connections with a deadline and not open: handshaking or closing.
        self._pending: set[WebSocketConnection] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._protocol_class: type[WebSocketConnection] | None = None
        #: Called with the TCP peer's address when a client sent a message over
        #: ``max_message_bytes`` (close 1009): the HTTP guard charges the address's budget of
        #: new connections for it (``HttpGuard.offend``).
        self.on_offence: Callable[[str], None] | None = None

    @property
    def connections(self) -> Set[WebSocketConnection]:
        """Live view of the open connections (do not mutate; snapshot before awaiting)."""
        return self._open

    def protocol_class(self) -> type[WebSocketConnection]:
        """The asyncio protocol class bound to this server, to pass as ``uvicorn.Config(ws=)``.

        The trick: uvicorn instantiates ``ws_protocol_class(config=, server_state=,
        app_state=)`` itself, so the handler and limits cannot be constructor arguments. They
        are set as class attributes of a subclass made here, one per server (cached).
        """
        if self._protocol_class is None:
            limits = self.limits
            namespace: dict[str, Any] = {
                "__slots__": (),
                "__module__": __name__,
                "_server": self,
                "_handler": self.handler,
                "_limits": limits,
                "_soft": limits.write_buffer_soft_bytes,
                "_hard": limits.write_buffer_hard_bytes,
                "_rate": limits.max_messages_per_second,
                "_burst": float(limits.message_burst),
            }
            self._protocol_class = type(
                "BoundWebSocketConnection", (WebSocketConnection,), namespace
            )
        return self._protocol_class

    def broadcast(
        self, frame: SharedFrame, connections: Iterable[Connection] | None = None
    ) -> BroadcastResult:
        """:func:`broadcast` to ``connections`` (default: every open connection)."""
        return broadcast(frame, self._open if connections is None else connections)

    def shutdown(self, code: int = CLOSE_GOING_AWAY, reason: str = "server shutting down") -> None:
        """Close every open connection (uvicorn does this itself through each connection's
        ``shutdown()``; this is for a standalone port or a drain before a deploy)."""
        for conn in list(self._open):
            conn.close(code, reason)

    def __len__(self) -> int:
        return len(self._open)

    # -- registry, called by the connections ---------------------------------------------------

    def _offence(self, remote: str) -> None:
        on_offence = self.on_offence
        if on_offence is not None:
            on_offence(remote.rpartition(":")[0] or remote)  # "host:port" → host (IPv6 too)

    def _attach(self, conn: WebSocketConnection) -> None:
        self._pending.add(conn)
        if self._timer is None:
            loop = self._loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self.limits.tick_interval_s, self._tick)

    def _opened(self, conn: WebSocketConnection) -> None:
        self._pending.discard(conn)
        self._open.add(conn)

    def _closing(self, conn: WebSocketConnection) -> None:
        self._open.discard(conn)
        self._pending.add(conn)

    def _detach(self, conn: WebSocketConnection) -> None:
        self._open.discard(conn)
        self._pending.discard(conn)

    # -- the single housekeeping timer -------------------------------------------------------

    def _tick(self) -> None:
        """Send due pings, close connections whose pong is overdue, abort expired handshakes and
        closings. Re-arms itself while any connection exists, then stops (no task to cancel)."""
        self._timer = None
        try:
            self._housekeeping(_monotonic())
        except Exception:  # pragma: no cover - a bug here must not stop keepalives forever
            logger.exception("transport housekeeping failed")
        if (self._open or self._pending) and self._loop is not None and not self._loop.is_closed():
            self._timer = self._loop.call_later(self.limits.tick_interval_s, self._tick)

    def _housekeeping(self, now: float) -> None:
        limits = self.limits
        unproven_since = now - limits.ping_interval_s
        pong_due = now - limits.ping_timeout_s
        silent: list[WebSocketConnection] = []
        # A snapshot: a write error may reach connection_lost before the walk ends on some loops.
        for conn in tuple(self._open):
            sent = conn._ping_sent_at
            if sent:
                if sent < pong_due:
                    silent.append(conn)
            elif conn._proven_at < unproven_since:
                conn._send_ping(now)
        for conn in silent:
            if conn._state == _OPEN:
                logger.info("keepalive timeout on connection #%d %s", conn.id, conn._remote)
                conn._fail(CLOSE_INTERNAL_ERROR, "keepalive ping timeout")
        expired = [conn for conn in self._pending if conn._deadline < now]
        for conn in expired:
            conn._abort()


def _check_protocol_conformance(conn: WebSocketConnection) -> Connection:
    """Static proof (for mypy) that the implementation satisfies the public interface."""
    return conn
