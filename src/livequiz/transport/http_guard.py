"""Plain HTTP connections under guard: head and idle timeouts, per-address and global caps.

Why this module: uvicorn's HTTP protocol has no timeout for receiving a request head, arms its
keep-alive timeout only after a first response, and caps nothing per address. A tester held
~21,000 TCP connections that sent nothing or half a request, and the process ran out of file
descriptors: ``/healthz`` failed for everyone until they left. So every plain HTTP connection
(not yet upgraded to a WebSocket) is now held to:

* a **head timeout** (:attr:`TransportLimits.http_head_timeout_s`): the whole request head
  must arrive within it, counted from the accept (or, on a kept-alive connection, from the first
  byte of the next request), never reset by each byte that trickles in (slowloris). Past it the
  connection is closed without an answer, as nginx does;
* a **body timeout** (:attr:`TransportLimits.http_body_timeout_s`): from a complete head to the
  body's last byte; past it 408 ``request_timeout`` with the JSON error body (a slow POST);
* a **body limit** (:attr:`TransportLimits.http_max_body_bytes`): a declared length over it is
  answered 413 ``too_large`` from the head alone, before the application runs; a chunked body
  when it passes it. After any error answer the rest of the request is dropped up to
  :attr:`TransportLimits.http_discard_bytes`, then no longer read (TCP's flow control holds
  the sender) until ``close_timeout_s`` ends the connection: before, a refused body was read
  and dropped to its end, and an endless one for ever (gigabytes a minute on loopback);
* an **idle timeout** (:attr:`TransportLimits.http_idle_timeout_s`) between requests on a
  kept-alive connection (uvicorn's own keep-alive timeout, with our number);
* a **per-address cap** (:attr:`TransportLimits.max_http_connections_per_address`, counted by
  TCP peer; peers in :attr:`TransportLimits.trusted_proxies` are exempt, they carry everyone)
  and a **global cap** (:attr:`TransportLimits.max_http_connections`). At a cap, a new
  connection takes the place of the oldest one *without a request in progress* (idle between
  requests, or still without a whole head: what a flood holds), as nginx reuses idle
  connections when it runs out; only when every connection is busy serving a request is the
  new one refused (429 ``rate_limited`` at the address's cap, 503 ``unavailable`` at the
  global one). So a flood cannot lock out ``/healthz`` or an honest client: each new
  connection pushes out the flood's oldest;
* a **budget of new connections per address** (a token bucket per TCP peer: a burst of
  :attr:`TransportLimits.new_connection_burst`, then
  :attr:`TransportLimits.new_connections_per_second`; trusted proxies exempt), checked at the
  accept, before the caps: over it, 429 ``rate_limited`` with ``Retry-After`` at once. The caps
  bound how many are open, not how fast they come, and one address opening hundreds a second,
  each carrying a megabyte the server must read and drop, held honest answers ~50 ms behind.
  An **offence** costs the address :attr:`TransportLimits.new_connection_offence_cost` more
  tokens: a request the parser refuses (400), a response 413 (a body over the limit), a
  WebSocket message over its limit (close 1009, reported by the WebSocket server through
  :meth:`HttpGuard.offend`). Honest clients send none of these, so a classroom's budget is
  untouched while a stream of oversized rounds is held to a few a second. At most
  :data:`MAX_CONNECTION_BUDGETS` addresses are remembered (the full buckets are forgotten
  first: a full bucket is what a new address gets anyway).

Two more things keep HTTP work from crowding out the players' WebSocket messages on the one
event loop (a join storm's burst made honest answers wait ~150 ms for their ack):

* at most :attr:`TransportLimits.http_requests_per_turn` requests **begin per turn of the event
  loop**; the rest wait, in order of arrival, for the next turn, after the loop has polled
  every socket again. Nothing is refused and throughput is the same; a burst is spread over
  turns instead of held in one;
* at most :attr:`TransportLimits.http_reads_per_turn` plain HTTP connections **have their
  received data handled per turn** (parsed, screened, refused or begun); the others stop being
  read until a later turn, in order of arrival. A join storm is mostly refusals answered in
  microseconds each, but hundreds of them in one turn still made that turn milliseconds long,
  and an honest answer read in it waited the whole turn; a few a turn keep turns short so the
  loop polls the players' sockets often. WebSocket connections, once upgraded, are not held;
* a **screen** given by the application (``HttpGuard(screen=)``) answers a request it already
  knows the answer to, a join over its address's budget (429), from the head alone, before any
  routing: under a storm most requests are such refusals, and each then costs a few
  microseconds instead of a trip through the framework. Not for trusted proxies' connections
  (the client behind one is known only to the application, from its header).

WebSocket connections leave this count at the upgrade; they have caps of their own
(:attr:`TransportLimits.max_connections`, the gateway's per-address cap).

Requests the parser refuses get the JSON error body like every other HTTP error (400
``malformed_request``), not uvicorn's plain-text line. Each refusal is counted through the
``on_event`` hook (the ``livequiz_http_connections_closed`` metric) and logged at warning,
at most once per reason every :data:`WARNING_INTERVAL_S` with the number left unlogged, so a
flood does not flood the log.

Kept thin: a subclass of uvicorn's httptools protocol overriding its connection callbacks (bound
to one :class:`HttpGuard` per server the way :meth:`WebSocketServer.protocol_class` binds the
WebSocket class, because uvicorn instantiates protocol classes itself). ``data_received`` is
uvicorn's own, repeated to get the parser's reason for a 400.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Final

import httptools
import orjson
from uvicorn._types import ASGI3Application
from uvicorn.protocols.http.httptools_impl import (
    STATUS_LINE,
    HttpToolsProtocol,
    RequestResponseCycle,
)

from livequiz.transport.websocket import TransportLimits

__all__ = [
    "MAX_CONNECTION_BUDGETS",
    "TRANSPORT_ERROR_CODES",
    "WARNING_INTERVAL_S",
    "GuardedHttpProtocol",
    "HttpGuard",
    "Refusal",
    "Screen",
    "ThrottledWarning",
    "too_large_message",
]

logger = logging.getLogger("livequiz.transport.http")

#: At most one warning line per reason in this many seconds (with a count of the rest).
WARNING_INTERVAL_S: Final = 10.0

#: Addresses whose budget of new connections is remembered at most (~150 bytes each: 15 MiB).
#: Past it the full buckets are dropped (a new address starts full anyway); if that leaves
#: more than half, all are (the memory bound wins over the debts of offenders).
MAX_CONNECTION_BUDGETS: Final = 100_000

#: Response statuses the application sends that are an offence of the client's (see the
#: module): a body over the limit.
OFFENCE_STATUSES: Final = frozenset({413})

#: The error codes this module answers with, and their status (documented in the OpenAPI
#: document beside the API's own).
TRANSPORT_ERROR_CODES: Final = {
    "malformed_request": 400,
    "request_timeout": 408,
    "too_large": 413,
    "rate_limited": 429,
    "unavailable": 503,
}

#: Reasons a connection is closed or refused: the ``reason`` label of the metric.
HEAD_TIMEOUT: Final = "head_timeout"
BODY_TIMEOUT: Final = "body_timeout"
IDLE_TIMEOUT: Final = "idle_timeout"
EVICTED: Final = "evicted"
REFUSED_ADDRESS: Final = "refused_address"
REFUSED_FULL: Final = "refused_full"
REFUSED_RATE: Final = "refused_rate"
MALFORMED: Final = "malformed"
TOO_LARGE: Final = "too_large"

_WHY: Final = {
    HEAD_TIMEOUT: "closed an HTTP connection whose request head did not arrive in time",
    EVICTED: "closed an HTTP connection with no request in progress to make room at a cap",
    REFUSED_ADDRESS: "refused an HTTP connection: its address has its maximum, all busy",
    REFUSED_FULL: "refused an HTTP connection: the server has its maximum, all busy",
    REFUSED_RATE: "refused an HTTP connection: its address opened new ones over its budget",
    MALFORMED: "refused a malformed HTTP request",
    TOO_LARGE: "refused an HTTP request body over the limit",
}


#: What a screen answers a request with, without the application: status, error code,
#: message and extra headers (the API's JSON error body is built from them).
Refusal = tuple[int, str, str, Mapping[str, str]]
#: ``screen(method, path, address)``: a :data:`Refusal` for a request the application would
#: refuse anyway, known from its head and the client's address alone; else ``None``.
Screen = Callable[[str, str, str], Refusal | None]


class ThrottledWarning:
    """Log a warning per reason at most once every ``interval_s``, counting the ones skipped."""

    def __init__(
        self,
        log: logging.Logger,
        interval_s: float = WARNING_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = log
        self._interval_s = interval_s
        self._clock = clock
        #: reason → (when it was last logged, how many happened since without a line)
        self._state: dict[str, tuple[float, int]] = {}

    def warn(self, reason: str, message: str, address: str) -> None:
        now = self._clock()
        last, skipped = self._state.get(reason, (float("-inf"), 0))
        if now - last < self._interval_s:
            self._state[reason] = (last, skipped + 1)
            return
        self._state[reason] = (now, 0)
        self._log.warning(
            "%s (%s; %d more since the last such line)",
            message,
            address,
            skipped,
            extra={"reason": reason, "address": address, "unlogged": skipped},
        )


class HttpGuard:
    """The count of plain HTTP connections of one server, and what is done at its limits.

    Connections are kept in the order they last stopped being busy (oldest first), per address
    and over all, so the one to give up at a cap is found in O(1).
    """

    def __init__(
        self,
        limits: TransportLimits,
        on_event: Callable[[str], None] | None = None,
        *,
        screen: Screen | None = None,
    ) -> None:
        self.limits = limits
        self._on_event = on_event
        self.screen = screen
        #: Requests whose head is complete, waiting for a turn with room to begin (each a
        #: callable that begins it and says whether it did: its client may have gone).
        self._waiting: deque[Callable[[], bool]] = deque()
        self._begun_this_turn = 0
        #: Connections whose data arrived in a turn that had read its fill, paused until a
        #: turn with room (see :meth:`read_now`).
        self._reads_waiting: deque[GuardedHttpProtocol] = deque()
        self._read_this_turn = 0
        self._turn_scheduled = False
        self._warning = ThrottledWarning(logger)
        self._open: set[GuardedHttpProtocol] = set()
        self._per_address: dict[str, int] = {}
        #: Connections without a request in progress, oldest first (dicts keep order).
        self._idle: dict[GuardedHttpProtocol, None] = {}
        self._idle_per_address: dict[str, dict[GuardedHttpProtocol, None]] = {}
        self._protocol_class: type[GuardedHttpProtocol] | None = None
        #: address → (tokens, when last updated): the budgets of new connections.
        self._budgets: dict[str, tuple[float, float]] = {}
        self._clock: Callable[[], float] = time.monotonic

    def __len__(self) -> int:
        """Plain HTTP connections open now."""
        return len(self._open)

    def per_address(self, address: str) -> int:
        return self._per_address.get(address, 0)

    @property
    def waiting(self) -> int:
        """Requests with a complete head waiting for a turn of the loop to begin."""
        return len(self._waiting)

    @property
    def reads_waiting(self) -> int:
        """Connections whose received data waits for a turn of the loop with room."""
        return len(self._reads_waiting)

    def begin(self, start: Callable[[], bool]) -> None:
        """Begin a request now if this turn of the loop has room, else when one has."""
        budget = self.limits.http_requests_per_turn
        if budget == 0:
            start()
            return
        if self._waiting or self._begun_this_turn >= budget:
            self._waiting.append(start)
        elif start():
            self._begun_this_turn += 1
        self._schedule_turn()

    def read_now(self, protocol: GuardedHttpProtocol) -> bool:
        """Whether ``protocol`` may handle the data it just received in this turn; if not, it
        is queued and :meth:`GuardedHttpProtocol.resume_deferred` is called in a later one."""
        budget = self.limits.http_reads_per_turn
        if budget == 0:
            return True
        self._schedule_turn()
        if self._reads_waiting or self._read_this_turn >= budget:
            self._reads_waiting.append(protocol)
            return False
        self._read_this_turn += 1
        return True

    def _schedule_turn(self) -> None:
        if not self._turn_scheduled:
            self._turn_scheduled = True
            # call_soon runs in the loop's next turn, after it has polled the sockets again.
            asyncio.get_running_loop().call_soon(self._next_turn)

    def _next_turn(self) -> None:
        self._turn_scheduled = False
        self._begun_this_turn = 0
        self._read_this_turn = 0
        budget = self.limits.http_requests_per_turn
        while self._waiting and self._begun_this_turn < budget:
            if self._waiting.popleft()():
                self._begun_this_turn += 1
        while self._reads_waiting and self._read_this_turn < self.limits.http_reads_per_turn:
            if self._reads_waiting.popleft().resume_deferred():
                self._read_this_turn += 1
        if self._waiting or self._begun_this_turn or self._reads_waiting or self._read_this_turn:
            self._schedule_turn()

    def protocol_class(self) -> type[GuardedHttpProtocol]:
        """The protocol class bound to this guard, to pass as ``uvicorn.Config(http=)``."""
        if self._protocol_class is None:
            self._protocol_class = type(
                "BoundGuardedHttpProtocol",
                (GuardedHttpProtocol,),
                {"__module__": __name__, "_guard": self},
            )
        return self._protocol_class

    # -- the budget of new connections per address ---------------------------------------------

    def is_exempt(self, address: str) -> bool:
        """Whether ``address`` is one of the trusted proxies (no per-address limit applies)."""
        trusted = self.limits.trusted_proxies
        if not trusted:
            return False
        try:
            peer = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(peer in net for net in trusted)

    def budget(self, address: str) -> float:
        """The tokens ``address`` has now (the burst if it was never seen or forgotten)."""
        limits = self.limits
        burst = float(limits.new_connection_burst)
        bucket = self._budgets.get(address)
        if bucket is None:
            return burst
        tokens, last = bucket
        return min(burst, tokens + (self._clock() - last) * limits.new_connections_per_second)

    def take_connection(self, address: str) -> float:
        """Take a token for a new connection from ``address``: 0 if it had one, else the
        seconds until it will (and nothing is taken)."""
        rate = self.limits.new_connections_per_second
        if rate <= 0:
            return 0.0
        tokens = self.budget(address)
        now = self._clock()
        if tokens < 1.0:
            self._budgets[address] = (tokens, now)
            return (1.0 - tokens) / rate
        if address not in self._budgets and len(self._budgets) >= MAX_CONNECTION_BUDGETS:
            self._forget_budgets()
        self._budgets[address] = (tokens - 1.0, now)
        return 0.0

    def offend(self, address: str) -> None:
        """``address`` sent something no honest client sends (an oversized message or body,
        a malformed request): it pays :attr:`TransportLimits.new_connection_offence_cost`
        tokens, down to a debt of one burst at most. Trusted proxies pay nothing."""
        limits = self.limits
        cost = limits.new_connection_offence_cost
        if cost == 0 or limits.new_connections_per_second <= 0 or self.is_exempt(address):
            return
        tokens = max(-float(limits.new_connection_burst), self.budget(address) - cost)
        if address not in self._budgets and len(self._budgets) >= MAX_CONNECTION_BUDGETS:
            self._forget_budgets()
        self._budgets[address] = (tokens, self._clock())

    def _forget_budgets(self) -> None:
        """Bound the memory: drop the full buckets (as good as new), or all if too few are."""
        burst = float(self.limits.new_connection_burst)
        rate = self.limits.new_connections_per_second
        now = self._clock()
        self._budgets = {
            address: (tokens, last)
            for address, (tokens, last) in self._budgets.items()
            if tokens + (now - last) * rate < burst
        }
        if len(self._budgets) > MAX_CONNECTION_BUDGETS // 2:
            self._budgets.clear()

    # -- called by the connections ------------------------------------------------------------

    def admit(self, conn: GuardedHttpProtocol) -> str | None:
        """Count a new connection in, giving up an idle one at a cap; or say why it is refused."""
        limits = self.limits
        address = conn.guard_address
        if not conn.guard_exempt and (
            self._per_address.get(address, 0) >= limits.max_http_connections_per_address
        ):
            idle = self._idle_per_address.get(address)
            if not idle:
                return REFUSED_ADDRESS
            self._evict(next(iter(idle)))
        if len(self._open) >= limits.max_http_connections:
            if not self._idle:
                return REFUSED_FULL
            self._evict(next(iter(self._idle)))
        self._open.add(conn)
        self._per_address[address] = self._per_address.get(address, 0) + 1
        self.set_busy(conn, False)
        return None

    def set_busy(self, conn: GuardedHttpProtocol, busy: bool) -> None:
        """A request head was complete (busy) or its response was sent (idle)."""
        if conn not in self._open:
            return
        address = conn.guard_address
        idle = self._idle_per_address.setdefault(address, {})
        self._idle.pop(conn, None)
        idle.pop(conn, None)
        if not busy:
            self._idle[conn] = None
            idle[conn] = None
        elif not idle:
            del self._idle_per_address[address]

    def release(self, conn: GuardedHttpProtocol) -> None:
        """The connection closed or became a WebSocket: it no longer counts."""
        if conn not in self._open:
            return
        self._open.discard(conn)
        address = conn.guard_address
        self._idle.pop(conn, None)
        idle = self._idle_per_address.get(address)
        if idle is not None:
            idle.pop(conn, None)
            if not idle:
                del self._idle_per_address[address]
        left = self._per_address[address] - 1
        if left:
            self._per_address[address] = left
        else:
            del self._per_address[address]

    def report(self, reason: str, address: str) -> None:
        """Count a refusal or timeout, and warn about it (throttled)."""
        if self._on_event is not None:
            self._on_event(reason)
        why = _WHY.get(reason)
        if why is not None:
            self._warning.warn(reason, why, address)

    def _evict(self, conn: GuardedHttpProtocol) -> None:
        self.release(conn)
        self.report(EVICTED, conn.guard_address)
        conn.transport.close()


def too_large_message(limit: int) -> str:
    """The message of a 413 ``too_large``, the same from the guard and from the application."""
    return f"the request body may be at most {limit} bytes"


def _error_response(
    status: int,
    code: str,
    message: str,
    headers: Mapping[str, str] | None = None,
    *,
    close: bool = True,
    default_headers: list[tuple[bytes, bytes]] | None = None,
) -> bytes:
    """A whole HTTP/1.1 response with the API's error body, closing the connection unless
    ``close`` is false; with uvicorn's ``default_headers`` (``date``, ``server``) first, as
    the application's responses have them."""
    body = orjson.dumps({"error": {"code": code, "message": message}})
    extra = b"".join(
        b"%s: %s\r\n" % (name.encode("latin-1"), value.encode("latin-1"))
        for name, value in (headers or {}).items()
    )
    defaults = b"".join(b"%s: %s\r\n" % pair for pair in default_headers or ())
    return b"".join(
        (
            STATUS_LINE[status],
            defaults,
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            extra,
            b"connection: close\r\n\r\n" if close else b"\r\n",
            body,
        )
    )


def _watch_offences(app: ASGI3Application, guard: HttpGuard, address: str) -> ASGI3Application:
    """``app``, with a response in :data:`OFFENCE_STATUSES` charged to ``address``."""

    async def watched(scope: Any, receive: Any, send: Any) -> None:
        async def watched_send(message: Any) -> None:
            if message["type"] == "http.response.start" and message["status"] in OFFENCE_STATUSES:
                guard.offend(address)
            await send(message)

        await app(scope, receive, watched_send)

    return watched


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the guard's timeouts and caps (see the module)."""

    _guard: ClassVar[HttpGuard]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if not hasattr(type(self), "_guard"):
            raise TypeError("use HttpGuard(...).protocol_class(), not this class directly")
        super().__init__(*args, **kwargs)
        self.guard_address = ""
        #: A trusted proxy: it carries many clients, so no per-address cap applies.
        self.guard_exempt = False
        self._guard_timer: asyncio.TimerHandle | None = None
        self._busy = False  # a request's head is complete and its response not yet sent
        self._head_started = False  # a byte of the next head has arrived (its clock runs)
        self._lingering = False  # an error response went out; the rest is read and dropped
        self._discard_left: int | None = None  # bytes still to drop while lingering (None: any)
        self._body_bytes = 0  # of the request being received
        self._screened = False  # the screen answered this request; its body is dropped
        self._deferred: list[bytes] | None = None  # data held (reading paused) for a turn
        self._upgraded = False  # handed to a WebSocket protocol: data goes there now

    # -- connection callbacks ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        guard = self._guard
        self.guard_address = self.client[0] if self.client else ""
        self.guard_exempt = guard.is_exempt(self.guard_address)
        wait_s = 0.0 if self.guard_exempt else guard.take_connection(self.guard_address)
        refusal = REFUSED_RATE if wait_s else guard.admit(self)
        if refusal is None:
            self._arm(guard.limits.http_head_timeout_s, self._head_timeout)
            return
        guard.report(refusal, self.guard_address)
        if refusal == REFUSED_RATE:
            retry_after = max(1, math.ceil(wait_s))
            response = _error_response(
                429,
                "rate_limited",
                f"too many new connections from your address; try again in {retry_after} s",
                {"retry-after": str(retry_after)},
                default_headers=self.server_state.default_headers,
            )
        elif refusal == REFUSED_ADDRESS:
            response = _error_response(
                429,
                "rate_limited",
                "too many connections from your address; try again later",
                default_headers=self.server_state.default_headers,
            )
        else:
            response = _error_response(
                503,
                "unavailable",
                "server full, try again later",
                default_headers=self.server_state.default_headers,
            )
        # Not lingering here: under a flood the descriptor must be freed at once.
        transport.write(response)
        transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._guard.release(self)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        """Handle the data now if this turn of the loop has room for it (the guard's
        :attr:`~TransportLimits.http_reads_per_turn`), else stop reading the socket and keep
        it for a later turn (:meth:`resume_deferred`)."""
        if self._deferred is not None:  # arrived before the pause took effect: in order
            self._deferred.append(data)
            return
        if not self._lingering and not self._guard.read_now(self):
            self._deferred = [data]
            self.transport.pause_reading()
            return
        self._receive(data)

    def resume_deferred(self) -> bool:
        """A turn with room: handle the data kept back and read the socket again. False if
        the connection closed meanwhile (it took no room)."""
        deferred, self._deferred = self._deferred, None
        if deferred is None or self.transport.is_closing():
            return False
        self.transport.resume_reading()
        for data in deferred:
            self._receive(data)
        return True

    def _receive(self, data: bytes) -> None:
        """uvicorn's, plus: the head timer starts with the first byte after an idle spell, a
        malformed request gets the JSON error body, and after an error the rest is dropped (up
        to :attr:`~TransportLimits.http_discard_bytes`, then no longer read)."""
        if self._lingering:
            if self._discard_left is not None:
                self._discard_left -= len(data)
                if self._discard_left <= 0 and not self.transport.is_closing():
                    self.transport.pause_reading()  # flow control holds the sender now
            return
        if self._upgraded:  # data held back behind the upgrade request: the WebSocket's
            protocol = self.transport.get_protocol()
            if protocol is not self:
                protocol.data_received(data)  # type: ignore[attr-defined]
            return
        if not self._busy and not self._head_started:
            self._head_started = True
            if self._guard_timer is None:
                # A kept-alive connection was idle: the next head has its own time from now
                # (a new connection's clock started at the accept).
                self._arm(self._guard.limits.http_head_timeout_s, self._head_timeout)
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._guard.report(MALFORMED, self.guard_address)
            if not self.guard_exempt:
                self._guard.offend(self.guard_address)
            reason = str(error).strip().rstrip(".") or "unparsable"
            self._fail(
                400,
                "malformed_request",
                f"malformed HTTP request ({reason[:1].lower() + reason[1:]}); "
                "send HTTP/1.1 with a valid request line, headers and body framing",
            )
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:  # pragma: no cover - uvicorn's own path for an upgrade it cannot serve
                self._unsupported_upgrade_warning()

    def on_headers_complete(self) -> None:
        self._disarm()
        self._head_started = False
        self._body_bytes = 0
        if self._declares_too_much():
            self._too_large(answered=False)
            return
        if self._screen():
            return
        self._busy = True
        self._guard.set_busy(self, True)
        super().on_headers_complete()
        upgrading = self.parser.should_upgrade() and self._should_upgrade()
        if not self.transport.is_closing() and not upgrading:
            self._arm(self._guard.limits.http_body_timeout_s, self._body_timeout)

    def on_body(self, body: bytes) -> None:
        if self._lingering:
            return
        self._body_bytes += len(body)
        if self._body_bytes > self._guard.limits.http_max_body_bytes:
            self._too_large(answered=self._screened or self.cycle.response_started)
            return
        if not self._screened:  # a screened request was answered already: its body is dropped
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._lingering:
            return
        self._disarm()  # the whole body is here: the application has it, however slow it is
        if self._screened:  # answered already: the connection is idle, ready for the next
            self._screened = False
            self.timeout_keep_alive_task = self.loop.call_later(
                self._guard.limits.http_idle_timeout_s, self.timeout_keep_alive_handler
            )
            return
        super().on_message_complete()

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: ASGI3Application) -> None:
        """Begin the request when a turn of the loop has room (:meth:`HttpGuard.begin`)."""
        self._guard.begin(functools.partial(self._begin, cycle, app))

    def _begin(self, cycle: RequestResponseCycle, app: ASGI3Application) -> bool:
        if cycle.disconnected or self.transport.is_closing():
            return False  # its client went while it waited: nothing to do
        if not self.guard_exempt and self._guard.limits.new_connection_offence_cost:
            app = _watch_offences(app, self._guard, self.guard_address)
        super()._start_asgi_task(cycle, app)
        return True

    def on_response_complete(self) -> None:
        if not self._lingering:  # answered (a 413 before the body's end): no body timeout
            self._disarm()
        super().on_response_complete()
        if self.timeout_keep_alive_task is not None:  # no pipelined request: idle now
            self.timeout_keep_alive_task.cancel()
            self.timeout_keep_alive_task = self.loop.call_later(
                self._guard.limits.http_idle_timeout_s, self.timeout_keep_alive_handler
            )
            self._busy = False
            self._guard.set_busy(self, False)

    def timeout_keep_alive_handler(self) -> None:
        if not self.transport.is_closing():
            self._guard.report(IDLE_TIMEOUT, self.guard_address)
        super().timeout_keep_alive_handler()

    def handle_websocket_upgrade(self) -> None:
        """From here on a WebSocket: its own timeouts and caps apply, not ours.

        Not held to the per-turn budget of requests: deferring handshakes so cut the rate at
        which 5,000 players connect at once from ~1,300 to ~160 a second (joins timed out),
        since every turn of a joining quiz is long; a burst of upgrades from one address is
        bounded by the budget of new connections instead.
        """
        self._disarm()
        self._guard.release(self)
        super().handle_websocket_upgrade()
        self._upgraded = True
        # This object is dropped now, but it and its parser refer to each other (uvicorn
        # breaks that in connection_lost, which an upgraded protocol never gets), so each
        # upgrade left ~25 objects for the garbage collector. Under a flood of upgrades that
        # was tens of thousands of objects a minute, freed only by collections of 30-50 ms
        # that held every honest answer (docs/reliability.md). Freed at once without it.
        self.parser = None  # type: ignore[assignment]

    def send_400_response(self, msg: str) -> None:  # pragma: no cover - data_received answers
        self._fail(400, "malformed_request", "malformed HTTP request")

    # -- internals -----------------------------------------------------------------------------

    def _screen(self) -> bool:
        """Let the guard's screen answer the request whose head is complete; whether it did.

        Only when no earlier request of the connection is still being answered (responses go
        out in order). The connection stays open for the next request unless the client asked
        to close it; the body, if any, is read and dropped, within the body timeout.
        """
        screen = self._guard.screen
        if (
            screen is None
            or self.guard_exempt
            or self.parser.should_upgrade()
            or not (self.cycle is None or self.cycle.response_complete)
        ):
            return False
        method = self.parser.get_method().decode("ascii", "replace")
        path = httptools.parse_url(self.url).path.decode("ascii", "replace")
        refusal = screen(method, path, self.guard_address)
        if refusal is None:
            return False
        if not self.parser.should_keep_alive():
            self._fail(*refusal)
            return True
        self._screened = True
        self.transport.write(
            _error_response(
                *refusal, close=False, default_headers=self.server_state.default_headers
            )
        )
        self._arm(self._guard.limits.http_body_timeout_s, self._screened_body_timeout)
        return True

    def _declares_too_much(self) -> bool:
        """The head declares a body over the limit (a chunked body is counted as it comes)."""
        limit = self._guard.limits.http_max_body_bytes
        for name, value in self.headers:
            if name == b"content-length":
                # httptools has checked it is a number (it refuses the request otherwise)
                return int(value) > limit
        return False

    def _too_large(self, *, answered: bool) -> None:
        """A body over the limit: 413 ``too_large`` (before anything of it reached the
        application when its length was declared), an offence of the address, and the end of
        the connection. If the application has begun its answer already (a 404 for a POST,
        say), no error can follow it: the connection just ends after it, and what still comes
        is not read past the limit."""
        self._guard.report(TOO_LARGE, self.guard_address)
        if not self.guard_exempt:
            self._guard.offend(self.guard_address)
        if not answered:
            self._fail(413, "too_large", too_large_message(self._guard.limits.http_max_body_bytes))
        elif self._screened or self.cycle.response_complete:
            self._linger()
        else:  # half an answer out (a stream): the application sees a disconnect
            self.cycle.disconnected = True
            self.cycle.message_event.set()
            self._lingering = True
            self.transport.close()

    def _screened_body_timeout(self) -> None:
        self._guard_timer = None
        if not self.transport.is_closing():
            self._guard.report(BODY_TIMEOUT, self.guard_address)
            self.transport.close()

    def _head_timeout(self) -> None:
        """Close without an answer, as nginx does: a head this late is a flood's or a dead
        link's, and a half-sent request cannot be answered on the same connection anyway."""
        self._guard_timer = None
        if self.transport.is_closing():
            return
        self._guard.report(HEAD_TIMEOUT, self.guard_address)
        self.transport.close()

    def _body_timeout(self) -> None:
        """A complete head, then a body that does not come (a slow POST flood): answer 408
        with the JSON error body, and end the connection (the application sees a
        disconnect, as when a client goes)."""
        self._guard_timer = None
        if self.transport.is_closing():
            return
        self._guard.report(BODY_TIMEOUT, self.guard_address)
        self._fail(408, "request_timeout", "the request body did not arrive in time; send it again")

    def _fail(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        """Answer with the JSON error body and end the connection without a reset.

        As for WebSocket close frames (``websocket._half_close``): closing with unread input
        would make the kernel reset the connection and the client could lose our answer. So
        send a FIN after the answer, drop what still comes, and close at the peer's FIN or
        after ``close_timeout_s``.
        """
        self._lingering = True
        self._disarm()
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            # The application is waiting for the rest of a body that will never be read: it
            # gets a disconnect, as when the client goes (uvicorn's connection_lost does this).
            cycle.disconnected = True
            cycle.message_event.set()
        transport = self.transport
        if transport.is_closing():
            return
        transport.write(
            _error_response(
                status, code, message, headers, default_headers=self.server_state.default_headers
            )
        )
        self._linger()

    def _linger(self) -> None:
        """End the connection after what was sent, without a reset: a FIN, then what still
        comes is dropped (up to :attr:`~TransportLimits.http_discard_bytes`, then no longer
        read), and the connection closes at the peer's FIN or after ``close_timeout_s``."""
        self._lingering = True
        self._discard_left = self._guard.limits.http_discard_bytes
        transport = self.transport
        if transport.is_closing():
            return
        if transport.can_write_eof():
            transport.write_eof()
            self._arm(self._guard.limits.close_timeout_s, transport.abort)
        else:  # pragma: no cover - TLS cannot half-close; uvicorn serves plain TCP here
            transport.close()

    def _arm(self, delay: float, callback: Callable[[], None]) -> None:
        self._disarm()
        self._guard_timer = self.loop.call_later(delay, callback)

    def _disarm(self) -> None:
        if self._guard_timer is not None:
            self._guard_timer.cancel()
            self._guard_timer = None
