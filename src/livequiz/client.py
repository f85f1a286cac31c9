"""A protocol client that survives drops: the reference for how a livequiz client behaves.

Phones switch networks and servers restart; a client that gives up loses the player's game. This
one keeps its token, and when the connection drops it waits a backoff with full jitter (so that
thousands of clients of a restarted server do not all come back in the same millisecond), connects
again, says ``hello`` with the same token, and gets a snapshot of where the quiz stands, score
intact. The demo's simulated players, ``livequiz play`` and the load generator all use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

#: Close codes after which coming back is pointless: bad token, unknown quiz, kicked.
FINAL_CLOSE_CODES = frozenset({4003, 4004, 4009})

FrameHandler = Callable[[dict[str, Any]], Awaitable[None] | None]


def backoff_delay(
    attempt: int, rng: random.Random, *, base_s: float = 0.5, cap_s: float = 10.0
) -> float:
    """Full jitter: a random wait in ``[0, min(cap, base × 2^attempt)]`` (AWS architecture blog)."""
    return rng.uniform(0.0, min(cap_s, base_s * (2**attempt)))


class QuizClient:
    """One player's or host's connection, re-established until the quiz is over."""

    def __init__(
        self,
        ws_url: str,
        token: str,
        on_frame: FrameHandler,
        *,
        rng: random.Random | None = None,
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 10.0,
    ) -> None:
        self.ws_url = ws_url
        self.token = token
        self.on_frame = on_frame
        self.rng = rng or random.Random()
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        self.reconnects = 0
        self.finished = False
        self._ws: ClientConnection | None = None

    async def send(self, message: dict[str, Any]) -> bool:
        """Send now if connected; ``False`` if the connection is down (the caller may retry)."""
        ws = self._ws
        if ws is None:
            return False
        try:
            await ws.send(orjson.dumps(message).decode())
        except ConnectionClosed:
            return False
        return True

    async def run(self, stop: asyncio.Event) -> None:
        """Connect, and reconnect after every drop, until ``stop`` or the quiz finishes."""
        attempt = 0
        while not stop.is_set() and not self.finished:
            try:
                async with connect(self.ws_url, compression=None, open_timeout=10) as ws:
                    self._ws = ws
                    await ws.send(orjson.dumps({"type": "hello", "token": self.token}).decode())
                    attempt = 0
                    await self._read(ws, stop)
            except ConnectionClosed as closed:
                if closed.rcvd is not None and closed.rcvd.code in FINAL_CLOSE_CODES:
                    return
            except (OSError, InvalidHandshake, InvalidURI, TimeoutError):
                pass
            finally:
                self._ws = None
            if stop.is_set() or self.finished:
                return
            self.reconnects += 1
            delay = backoff_delay(
                attempt, self.rng, base_s=self.backoff_base_s, cap_s=self.backoff_cap_s
            )
            attempt += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)

    async def _read(self, ws: ClientConnection, stop: asyncio.Event) -> None:
        async def close_on_stop() -> None:
            await stop.wait()
            await ws.close()

        watcher = asyncio.create_task(close_on_stop())
        try:
            await self._frames(ws, stop)
        finally:
            watcher.cancel()

    async def _frames(self, ws: ClientConnection, stop: asyncio.Event) -> None:
        async for raw in ws:
            frame = orjson.loads(raw)
            result = self.on_frame(frame)
            if result is not None:
                await result
            if frame.get("type") == "final" or stop.is_set():
                self.finished = frame.get("type") == "final"
                await ws.close()
                return
