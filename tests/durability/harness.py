"""Helpers for the durability tests: a server process to kill, and clients that keep every frame."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

RUNNER = Path(__file__).with_name("runner.py")

#: Generous: a loaded two-core machine may take seconds where an idle one takes milliseconds.
TIMEOUT_S = 30.0

Frame = dict[str, Any]


class ServerProcess:
    """``runner.py`` over one data directory: start it, talk to it, ``kill -9`` it."""

    def __init__(self, data_dir: Path, log: Path, *, reconnect_grace_s: float = 15.0) -> None:
        self.data_dir = data_dir
        self.log = log
        #: How long players without a connection count as present after a (re)start.
        self.reconnect_grace_s = reconnect_grace_s
        self.process: asyncio.subprocess.Process | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def output(self) -> str:
        """What the server logged (for failure messages)."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    async def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                str(RUNNER),
                str(self.data_dir),
                str(self.reconnect_grace_s),
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
            )
        assert self.process.stdout is not None
        try:
            line = await asyncio.wait_for(self.process.stdout.readline(), TIMEOUT_S)
        except TimeoutError:
            await self.kill()
            raise AssertionError(f"the server did not start:\n{self.output()}") from None
        words = line.decode().split()
        assert words[:1] == ["port"], f"the server did not start:\n{line!r}\n{self.output()}"
        self.port = int(words[1])

    async def kill(self) -> None:
        """SIGKILL, and wait until the process is gone."""
        if self.process is None or self.process.returncode is not None:
            return
        os.kill(self.process.pid, signal.SIGKILL)
        await asyncio.wait_for(self.process.wait(), TIMEOUT_S)
        assert self.process.returncode == -signal.SIGKILL


class Peer:
    """One WebSocket connection; a task reads and keeps every frame it gets."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.frames: list[Frame] = []
        self.closed = False
        self._changed = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, url: str, token: str) -> tuple[Peer, Frame]:
        """Connect, say hello with ``token``, and wait for the welcome snapshot."""
        ws = await asyncio.wait_for(connect(url, compression=None, open_timeout=None), TIMEOUT_S)
        peer = cls(ws)
        await peer.send({"type": "hello", "token": token})
        return peer, await peer.wait_for(lambda f: f["type"] in ("welcome", "error"))

    async def _read(self) -> None:
        try:
            async for message in self.ws:
                self.frames.append(orjson.loads(message))
                self._changed.set()
        except ConnectionClosed:
            pass
        finally:
            self.closed = True
            self._changed.set()

    async def send(self, message: Frame) -> None:
        await self.ws.send(orjson.dumps(message).decode())

    async def send_and_drop(self, message: Frame) -> None:
        """Send, then drop the connection at once: no reply will ever reach this client."""
        await self.send(message)
        self.ws.transport.abort()

    async def wait_for(
        self, predicate: Callable[[Frame], bool], timeout: float = TIMEOUT_S
    ) -> Frame:
        """The first frame so far, or to come, that ``predicate`` accepts."""
        seen = 0
        async with asyncio.timeout(timeout):
            while True:
                for frame in self.frames[seen:]:
                    if predicate(frame):
                        return frame
                seen = len(self.frames)
                if self.closed:
                    raise AssertionError(f"connection closed; frames: {self.frames[-5:]}")
                self._changed.clear()
                await self._changed.wait()

    async def gone(self) -> None:
        """Wait until the server end of the connection is gone (e.g. after a kill)."""
        await asyncio.wait_for(self._reader, TIMEOUT_S)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.ws.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._reader, TIMEOUT_S)

    def acks(self, index: int | None = None) -> list[Frame]:
        return [f for f in self.frames if f["type"] == "ack" and index in (None, f["q"])]
