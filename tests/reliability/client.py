"""A client as a phone runs one, through crashes: reconnects with backoff and resends.

:class:`Client` keeps every frame it got, over all its connections, in :attr:`Client.frames`
(what the checker reads). When its connection drops it reconnects as docs/protocol.md tells
clients to (exponential backoff with full jitter, ``hello`` with the saved token, the welcome
snapshot replaces everything), and :meth:`Client.answer` sends an answer again until it is
acknowledged or refused for good, so every answer ends in an ``ack`` or a refusal — what the
checker needs to count doubled answers exactly.

``url`` is a callable so that a test can move clients (another process, a restarted one).
A subclass may tighten what it retries (:attr:`Client.hello_retried`,
:meth:`Client.refused_for_good`) and its deadline (:attr:`Client.timeout_s`), and move on when a
connection cannot be opened (:meth:`Client.unreachable`): tests/cluster/harness.py does.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

Frame = dict[str, Any]

#: Generous: a loaded two-core machine restarting a server many times over.
TIMEOUT_S = 60.0
#: Reconnect backoff (docs/protocol.md, reconnecting): base and cap, in seconds.
BACKOFF_BASE_S = 0.05
BACKOFF_CAP_S = 1.0
#: Refusals that end an answer for good (it was not stored, and never will be).
FINAL_REFUSALS = frozenset(
    {"question_not_open", "wrong_question", "too_late", "quiz_finished", "invalid_option"}
)


class Refused(Exception):
    """The server refused for good (a code not worth retrying)."""

    def __init__(self, frame: Frame) -> None:
        super().__init__(frame)
        self.frame = frame


class Client:
    """One player's (or the host's) client, riding out server crashes."""

    #: How long :meth:`connect` and :meth:`answer` keep trying, and :meth:`wait_for` waits.
    timeout_s: float = TIMEOUT_S
    #: How long a reply (the welcome, an ack) may take on a live connection before the client
    #: gives up on that connection (``hello``) or sends again (an answer).
    reply_timeout_s: float = 10.0
    #: Error codes answering ``hello`` that are worth another try; any other is :class:`Refused`.
    hello_retried: frozenset[str] = frozenset({"unavailable", "busy", "rate_limited"})
    #: Whether ``hello`` carries :attr:`seen_seq` on a reconnect (docs/protocol.md).
    send_seq = True

    def __init__(self, name: str, token: str, url: Callable[[], str], rng: random.Random) -> None:
        self.name = name
        self.token = token
        self.url = url
        self.rng = rng
        self.frames: list[Frame] = []
        #: Everything this client did and saw, in order, with ``time.time()``: connections
        #: (and the server each went to), messages sent, frames received. Written out when a
        #: fault test fails (:func:`tests.reliability.workload.play_quiz`), to see why.
        self.trace: list[tuple[float, str, Any]] = []
        self.connects = 0
        #: The highest sequence number this client has drawn, sent in ``hello`` on a reconnect.
        self.seen_seq = 0
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    @property
    def connected(self) -> bool:
        return self._reader is not None and not self._reader.done()

    @property
    def reconnects(self) -> int:
        """How many times this client came back after its first welcome."""
        return max(0, self.connects - 1)

    def unreachable(self) -> None:
        """A connection could not be opened (refused, or a server dying under it); a subclass
        may move on to another server here."""

    async def connect(self) -> Frame:
        """Connect and authenticate, retrying with backoff; returns the ``welcome``."""
        deadline = time.monotonic() + self.timeout_s
        attempt = 0
        while True:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name}: not back within {self.timeout_s} s")
            if attempt:
                delay = self.rng.uniform(0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**attempt))
                await asyncio.sleep(delay)
            attempt += 1
            url = self.url()
            self.trace.append((time.time(), "connect", url))
            try:
                ws = await connect(url, compression=None, open_timeout=5, close_timeout=1)
            except (OSError, TimeoutError, InvalidHandshake, InvalidStatus) as error:
                self.trace.append((time.time(), "unreachable", repr(error)))
                self.unreachable()
                continue
            start = len(self.frames)
            self._ws = ws
            self._reader = asyncio.create_task(self._read(ws))
            try:
                hello: Frame = {"type": "hello", "token": self.token}
                # docs/protocol.md: the welcome is then at least this new
                if self.send_seq and self.seen_seq:
                    hello["seq"] = self.seen_seq
                await self.send(hello)
                reply = await self.wait_for(
                    lambda f: f["type"] in ("welcome", "error"),
                    since=start,
                    timeout=self.reply_timeout_s,
                )
            except (ConnectionError, ConnectionClosed, TimeoutError):
                await self.drop()
                continue
            if reply["type"] == "welcome":
                self.connects += 1
                return reply
            if reply.get("code") not in self.hello_retried:
                raise Refused(reply)
            await self.drop()

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for message in ws:
                frame = orjson.loads(message)
                self.frames.append(frame)
                self.trace.append((time.time(), "received", frame))
                self._note_seq(frame)
                self._changed.set()
        except ConnectionClosed as closed:
            self.trace.append((time.time(), "closed", str(closed)))
        finally:
            self._changed.set()

    def _note_seq(self, frame: Frame) -> None:
        """Keep the highest sequence number drawn (frames for everyone, and snapshots)."""
        if frame.get("type") in ("board", "question", "closed", "finished", "lock"):
            self.seen_seq = max(self.seen_seq, frame["seq"])
        elif frame.get("type") in ("welcome", "snapshot"):
            self.seen_seq = max(self.seen_seq, frame["state"]["seq"])

    async def wait_for(
        self, predicate: Callable[[Frame], bool], *, since: int = 0, timeout: float | None = None
    ) -> Frame:
        """The first frame from index ``since`` on that ``predicate`` accepts (within
        ``timeout``, by default :attr:`timeout_s`); raises ``ConnectionError`` if the
        connection drops first."""
        seen = since
        async with asyncio.timeout(self.timeout_s if timeout is None else timeout):
            while True:
                for frame in self.frames[seen:]:
                    if predicate(frame):
                        return frame
                seen = len(self.frames)
                if not self.connected:
                    raise ConnectionError(f"{self.name}: connection dropped")
                self._changed.clear()
                await self._changed.wait()

    async def send(self, message: Frame) -> None:
        """Send ``message`` on the current connection (``ConnectionClosed`` if it is gone)."""
        assert self._ws is not None
        self.trace.append((time.time(), "sent", message))
        await self._ws.send(orjson.dumps(message).decode())

    async def request(
        self, message: Frame, reply: Callable[[Frame], bool], *, timeout: float | None = None
    ) -> Frame:
        """Send ``message`` on a live connection (reconnecting first if need be) and return
        the first frame ``reply`` accepts (within ``timeout``, by default
        :attr:`reply_timeout_s`); ``ConnectionError`` if the connection drops."""
        if not self.connected:
            await self.connect()
        start = len(self.frames)
        try:
            await self.send(message)
        except ConnectionClosed as error:
            # Wait for the reader to see the close too: until it has, ``connected`` still says
            # yes, and a caller that retries at once would spin without ever yielding.
            await self.drop()
            raise ConnectionError(str(error)) from None
        return await self.wait_for(
            reply, since=start, timeout=self.reply_timeout_s if timeout is None else timeout
        )

    async def state(self) -> Frame:
        """A fresh snapshot's ``state`` (``sync``), riding out drops."""
        while True:
            with contextlib.suppress(ConnectionError, TimeoutError):
                snapshot = await self.request({"type": "sync"}, lambda f: f["type"] == "snapshot")
                state: Frame = snapshot["state"]
                return state

    async def answer(self, index: int, option: int) -> Frame:
        """Send an answer until it is acknowledged (the ``ack``) or refused for good
        (:class:`Refused`, see :meth:`refused_for_good`), through dropped connections and
        ``unavailable``."""
        deadline = time.monotonic() + self.timeout_s
        message = {"type": "answer", "q": index, "option": option}
        while True:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name}: no reply to question {index}")
            try:
                reply = await self.request(
                    message, lambda f: f["type"] in ("ack", "error") and f.get("q") == index
                )
            except (ConnectionError, TimeoutError):
                await asyncio.sleep(0)  # let the loop run (the server may be restarting)
                continue
            if reply["type"] == "ack":
                return reply
            if self.refused_for_good(reply):
                raise Refused(reply)
            await asyncio.sleep(self.rng.uniform(0.02, 0.2))  # unavailable: try again

    def refused_for_good(self, refusal: Frame) -> bool:
        """Whether an answer's ``error`` ends it (else the answer is sent again)."""
        return refusal["code"] in FINAL_REFUSALS

    async def drop(self) -> None:
        """Close this connection (the client may connect again)."""
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._reader, 5)
