"""Serve the HTTP API (Starlette on uvicorn) and the WebSocket transport on one port.

Why one port: one origin for the browser (no CORS for the API, one TLS certificate and one
load-balancer rule), and uvicorn already parses the HTTP upgrade request for us. The upgrade is
handed to our :class:`~livequiz.transport.websocket.WebSocketConnection` subclass through
``uvicorn.Config(ws=<class>)`` instead of going through ASGI (see the package docstring).

Kept thin on purpose: it only chooses uvicorn settings that matter at 10,000 sockets.
"""

from __future__ import annotations

import asyncio
import importlib.util
import signal
import socket
from collections.abc import Callable
from types import FrameType
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from livequiz.transport.http_guard import HttpGuard, Screen
from livequiz.transport.proxy import TrustedProxyHeaders
from livequiz.transport.websocket import ConnectionHandler, TransportLimits, WebSocketServer

__all__ = ["TransportServer", "build_config", "run", "serve"]

#: ``net.core.somaxconn`` on the target machine: a join storm of thousands of players needs a
#: listen backlog that deep, or the kernel drops SYNs and clients retry after a second.
LISTEN_BACKLOG = 4096

HAVE_UVLOOP = importlib.util.find_spec("uvloop") is not None


def build_config(
    app: ASGIApp,
    ws_server: WebSocketServer,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    http_guard: HttpGuard | None = None,
    **overrides: Any,
) -> uvicorn.Config:
    """A :class:`uvicorn.Config` with our WebSocket class and settings fit for 10,000 sockets.

    * ``ws=`` our bound protocol class: upgrades bypass ASGI entirely.
    * ``http=`` uvicorn's httptools protocol (the C parser, the cheapest HTTP path in
      uvicorn) under the guard of :mod:`livequiz.transport.http_guard`: head and idle
      timeouts, per-address and global caps on plain HTTP connections, a per-address budget
      of new connections (charged for oversized messages too), JSON bodies for
      requests the parser refuses. ``http_guard`` is the guard to bind (a new one by default).
    * ``loop="uvloop"`` when installed (used by :func:`run`; an already-running loop is kept).
    * ``backlog=4096``: see :data:`LISTEN_BACKLOG`.
    * ``ws_per_message_deflate=False``: our class never negotiates compression anyway; set so
      that nobody reading the config wonders.
    * ``access_log=False``: a log line per HTTP request costs more than the request.
    * ``limit_concurrency=None``: uvicorn counts WebSocket connections in that limit too, so any
      value would start refusing HTTP requests once enough players are connected; the
      WebSocket cap is :attr:`TransportLimits.max_connections`.
    * ``log_config=None``: logging is configured by the application, not by the library.
    * ``proxy_headers=False``: uvicorn's own ``X-Forwarded-For`` handling is on by default and
      trusts 127.0.0.1 and ::1 (or ``$FORWARDED_ALLOW_IPS``) for HTTP only, with a rule of its
      own. Instead the app is wrapped in :class:`~livequiz.transport.proxy.TrustedProxyHeaders`
      with :attr:`TransportLimits.trusted_proxies`: HTTP joins and WebSocket upgrades see the
      same client address by the same rule, and nobody is trusted unless configured.
    * ``timeout_graceful_shutdown``: at exit, connections get a 1001 close and this long to
      answer before uvicorn cancels what is left.
    """
    if http_guard is None:
        http_guard = HttpGuard(ws_server.limits)
    # A message over its limit (close 1009) costs the sender's address new connections.
    ws_server.on_offence = http_guard.offend
    trusted = ws_server.limits.trusted_proxies
    if trusted:
        app = TrustedProxyHeaders(app, trusted)
    settings: dict[str, Any] = {
        "host": host,
        "port": port,
        "ws": ws_server.protocol_class(),
        "http": http_guard.protocol_class(),
        "loop": "uvloop" if HAVE_UVLOOP else "asyncio",
        "backlog": LISTEN_BACKLOG,
        "lifespan": "auto",
        "ws_per_message_deflate": False,
        "access_log": False,
        "limit_concurrency": None,
        "log_config": None,
        "proxy_headers": False,
        "timeout_graceful_shutdown": ws_server.limits.close_timeout_s + 1.0,
    }
    settings.update(overrides)
    return uvicorn.Config(app, **settings)


class _Uvicorn(uvicorn.Server):
    """uvicorn.Server that reports readiness through an :class:`asyncio.Event`."""

    ready: asyncio.Event | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """SIGINT/SIGTERM: shut down gracefully and return from :meth:`serve`.

        uvicorn would re-raise the signal once its own shutdown is done, which kills the process
        before the application's cleanup (flushing the journal, stopping the service) has run.
        A second SIGINT still forces the exit.
        """
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True
        else:
            self.should_exit = True

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and self.ready is not None:
            self.ready.set()


class TransportServer:
    """The HTTP app and the WebSocket transport on one uvicorn server.

    ``websockets`` is the :class:`WebSocketServer` to broadcast through; ``port`` gives the
    bound port once ready (useful with ``port=0``); :meth:`request_exit` starts a graceful
    shutdown (1001 to every WebSocket client) and :meth:`serve` returns when it is done.
    """

    def __init__(
        self,
        app: ASGIApp,
        handler: ConnectionHandler,
        limits: TransportLimits | None = None,
        host: str = "127.0.0.1",
        port: int = 8000,
        *,
        reuse_port: bool = False,
        on_http_event: Callable[[str], None] | None = None,
        http_screen: Screen | None = None,
        **config_overrides: Any,
    ) -> None:
        self.websockets = WebSocketServer(handler, limits)
        #: Plain HTTP connections under guard; ``on_http_event(reason)`` is called for each
        #: one closed or refused by it (``head_timeout``, ``idle_timeout``, ``evicted``,
        #: ``refused_address``, ``refused_full``, ``refused_rate``, ``malformed``), for a metric;
        #: ``http_screen`` answers requests the application would refuse from their head.
        self.http = HttpGuard(self.websockets.limits, on_http_event, screen=http_screen)
        self.config = build_config(
            app, self.websockets, host, port, http_guard=self.http, **config_overrides
        )
        self.uvicorn = _Uvicorn(self.config)
        #: Several processes listen on one port (``livequiz serve --workers``); the kernel
        #: spreads new connections over them.
        self.reuse_port = reuse_port

    async def serve(self, ready: asyncio.Event | None = None) -> None:
        """Run until :meth:`request_exit` (or SIGINT/SIGTERM when run in the main thread)."""
        self.uvicorn.ready = ready
        if not self.reuse_port:
            await self.uvicorn.serve()
            return
        family = socket.AF_INET6 if ":" in self.config.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((self.config.host, self.config.port))
        sock.set_inheritable(True)
        await self.uvicorn.serve(sockets=[sock])

    def request_exit(self) -> None:
        self.uvicorn.should_exit = True

    @property
    def port(self) -> int:
        """The bound TCP port (after startup)."""
        for server in self.uvicorn.servers:
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        raise RuntimeError("server not started")


async def serve(
    app: ASGIApp,
    handler: ConnectionHandler,
    limits: TransportLimits | None = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    ready: asyncio.Event | None = None,
) -> None:
    """Serve ``app`` and the WebSocket ``handler`` on ``host:port`` until told to exit."""
    await TransportServer(app, handler, limits, host, port).serve(ready)


def run(
    app: ASGIApp,
    handler: ConnectionHandler,
    limits: TransportLimits | None = None,
    host: str = "127.0.0.1",
    port: int = 8000,
) -> None:
    """Blocking entry point on uvloop when available (Python 3.11's ``asyncio.run`` takes no
    loop factory, so ``uvicorn.Config(loop=...)`` alone would not apply to :func:`serve`)."""
    server = TransportServer(app, handler, limits, host, port)
    with asyncio.Runner(loop_factory=server.config.get_loop_factory()) as runner:
        runner.run(server.serve())
