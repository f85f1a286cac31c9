"""A client as a phone runs one, through crashes: reconnects with backoff and resends.

:class:`Client` keeps every frame it got, over all its connections, in :attr:`Client.frames`
(what the checker reads). When its connection drops it reconnects as docs/protocol.md tells
clients to (exponential backoff with full jitter, ``hello`` with the saved token, the welcome
snapshot replaces everything), and :meth:`Client.answer` sends an answer again until it is
acknowledged or refused for good, so every answer ends in an ``ack`` or a refusal — what the
checker needs to count doubled answers exactly.

``url`` is a callable so that a test can move clients (another process, a restarted one).
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

    def __init__(self, name: str, token: str, url: Callable[[], str], rng: random.Random) -> None:
        self.name = name
        self.token = token
        self.url = url
        self.rng = rng
        self.frames: list[Frame] = []
        self.connects = 0
        #: The highest sequence number this client has drawn, sent in ``hello`` on a reconnect.
        self.seen_seq = 0
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    @property
    def connected(self) -> bool:
        return self._reader is not None and not self._reader.done()

    async def connect(self) -> Frame:
        """Connect and authenticate, retrying with backoff; returns the ``welcome``."""
        deadline = time.monotonic() + TIMEOUT_S
        attempt = 0
        while True:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name}: not back within {TIMEOUT_S} s")
            if attempt:
                delay = self.rng.uniform(0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**attempt))
                await asyncio.sleep(delay)
            attempt += 1
            try:
                ws = await connect(self.url(), compression=None, open_timeout=5, close_timeout=1)
            except (OSError, TimeoutError, InvalidHandshake, InvalidStatus):
                continue
            start = len(self.frames)
            self._ws = ws
            self._reader = asyncio.create_task(self._read(ws))
            try:
                hello: Frame = {"type": "hello", "token": self.token}
                if self.seen_seq:  # docs/protocol.md: the welcome is then at least this new
                    hello["seq"] = self.seen_seq
                await ws.send(orjson.dumps(hello).decode())
                reply = await self.wait_for(
                    lambda f: f["type"] in ("welcome", "error"), since=start, timeout=10
                )
            except (ConnectionError, ConnectionClosed, TimeoutError):
                await self.drop()
                continue
            if reply["type"] == "welcome":
                self.connects += 1
                return reply
            if reply.get("code") not in ("unavailable", "busy", "rate_limited"):
                raise Refused(reply)
            await self.drop()

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for message in ws:
                frame = orjson.loads(message)
                self.frames.append(frame)
                self._note_seq(frame)
                self._changed.set()
        except ConnectionClosed:
            pass
        finally:
            self._changed.set()

    def _note_seq(self, frame: Frame) -> None:
        """Keep the highest sequence number drawn (frames for everyone, and snapshots)."""
        if frame.get("type") in ("board", "question", "closed", "finished", "lock"):
            self.seen_seq = max(self.seen_seq, frame["seq"])
        elif frame.get("type") in ("welcome", "snapshot"):
            self.seen_seq = max(self.seen_seq, frame["state"]["seq"])

    async def wait_for(
        self, predicate: Callable[[Frame], bool], *, since: int, timeout: float = TIMEOUT_S
    ) -> Frame:
        """The first frame from index ``since`` on that ``predicate`` accepts; raises
        ``ConnectionError`` if the connection drops first."""
        seen = since
        async with asyncio.timeout(timeout):
            while True:
                for frame in self.frames[seen:]:
                    if predicate(frame):
                        return frame
                seen = len(self.frames)
                if not self.connected:
                    raise ConnectionError(f"{self.name}: connection dropped")
                self._changed.clear()
                await self._changed.wait()

    async def request(
        self, message: Frame, reply: Callable[[Frame], bool], *, timeout: float = 10.0
    ) -> Frame:
        """Send ``message`` on a live connection (reconnecting first if need be) and return
        the first frame ``reply`` accepts; ``ConnectionError`` if the connection drops."""
        if not self.connected:
            await self.connect()
        assert self._ws is not None
        start = len(self.frames)
        try:
            await self._ws.send(orjson.dumps(message).decode())
        except ConnectionClosed as error:
            # Wait for the reader to see the close too: until it has, ``connected`` still says
            # yes, and a caller that retries at once would spin without ever yielding.
            await self.drop()
            raise ConnectionError(str(error)) from None
        return await self.wait_for(reply, since=start, timeout=timeout)

    async def state(self) -> Frame:
        """A fresh snapshot's ``state`` (``sync``), riding out drops."""
        while True:
            with contextlib.suppress(ConnectionError, TimeoutError):
                snapshot = await self.request({"type": "sync"}, lambda f: f["type"] == "snapshot")
                state: Frame = snapshot["state"]
                return state

    async def answer(self, index: int, option: int) -> Frame:
        """Send an answer until it is acknowledged (the ``ack``) or refused for good
        (:class:`Refused`), through dropped connections and ``unavailable``."""
        deadline = time.monotonic() + TIMEOUT_S
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
            if reply["code"] in FINAL_REFUSALS:
                raise Refused(reply)
            await asyncio.sleep(self.rng.uniform(0.02, 0.2))  # unavailable: try again

    async def drop(self) -> None:
        """Close this connection (the client may connect again)."""
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._reader, 5)
