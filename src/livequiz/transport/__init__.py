"""Real-time transport: WebSocket connections served on the same port as the HTTP API.

Why a package of its own: the rest of livequiz codes against the small interface in
:mod:`livequiz.transport.websocket` (:class:`Connection`, :class:`SharedFrame`,
:class:`ConnectionHandler`, :class:`TransportLimits`) and never against a WebSocket library, so
the implementation underneath can be swapped (websockets sans-I/O today; picows or a C
extension later) without touching the quiz code.

Why not ASGI for WebSockets: at 10,000 players a leaderboard frame is sent 10,000 times per
tick. An ASGI WebSocket costs a dict message, an ``await`` and a re-encoding per frame, about
1.6–1.8× the native path (see ``/work/shared/notes/performance.md``). Here a broadcast frame is
serialized once and handed to every socket with one ``transport.write`` each. HTTP requests still
go through Starlette on uvicorn; only the upgrade requests are diverted to our own protocol
class through uvicorn's ``ws=`` hook (:mod:`livequiz.transport.server`).
"""

from livequiz.transport.websocket import (
    MAX_BODY_BYTES,
    BroadcastResult,
    Connection,
    ConnectionHandler,
    HandshakeRequest,
    Rejection,
    SharedFrame,
    TransportLimits,
    WebSocketConnection,
    WebSocketServer,
    broadcast,
    broadcast_in_chunks,
)

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
]
