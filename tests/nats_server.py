"""NATS for tests: the shared server's URL, and private servers that tests stop and restart.

Tests that need no outage use the machine's shared server (:func:`shared_nats_url`) with
subjects of their own. The shared server belongs to the machine, so a test that wants an outage
starts its own ``nats-server`` (Debian's package) on a free loopback port::

    async with PrivateNatsServer() as server:
        bus = await NatsBus.connect(server.url, name="test")
        await server.stop()       # an outage
        await server.start()      # back, on the same port

The process is always ended when the ``async with`` block exits, however it exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

#: Debian's nats-server; ``LIVEQUIZ_TEST_NATS_SERVER`` may name another binary.
DEFAULT_BINARY = "/usr/sbin/nats-server"
#: The machine's shared NATS server, for tests that need no outage.
DEFAULT_SHARED_URL = "nats://127.0.0.1:4222"


def shared_nats_url() -> str:
    """The shared NATS server's URL (``LIVEQUIZ_TEST_BUS_URL`` overrides the default)."""
    return os.environ.get("LIVEQUIZ_TEST_BUS_URL") or DEFAULT_SHARED_URL


def nats_server_binary() -> str | None:
    """The nats-server binary to run, or ``None`` if this machine has none."""
    configured = os.environ.get("LIVEQUIZ_TEST_NATS_SERVER")
    if configured:
        return configured
    if os.access(DEFAULT_BINARY, os.X_OK):
        return DEFAULT_BINARY
    return shutil.which("nats-server")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class PrivateNatsServer:
    """One ``nats-server`` process of the test's own, on 127.0.0.1 and a fixed free port."""

    def __init__(self, binary: str | None = None, port: int | None = None) -> None:
        found = binary or nats_server_binary()
        if found is None:
            raise FileNotFoundError(
                f"no nats-server binary: install Debian's nats-server ({DEFAULT_BINARY}) "
                "or set LIVEQUIZ_TEST_NATS_SERVER"
            )
        self.binary = found
        self.port = port or free_port()
        self._process: subprocess.Popen[bytes] | None = None
        self._log_dir = tempfile.TemporaryDirectory(prefix="livequiz-nats-")
        self._log = Path(self._log_dir.name) / "nats-server.log"

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    async def start(self, ready_timeout_s: float = 5.0) -> None:
        """Start the server and return once it accepts connections."""
        if self.running:
            return
        with self._log.open("ab") as log:
            self._process = subprocess.Popen(
                [self.binary, "-a", "127.0.0.1", "-p", str(self.port)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + ready_timeout_s
        while not await self._answers():
            if self._process.poll() is not None or time.monotonic() > deadline:
                await self.stop()
                raise RuntimeError(
                    f"nats-server on port {self.port} did not start: {self._log.read_text()}"
                )
            await asyncio.sleep(0.02)

    async def _answers(self) -> bool:
        """Whether the server greets a client with its INFO line."""
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        except OSError:
            return False
        try:
            return (await asyncio.wait_for(reader.readline(), 1.0)).startswith(b"INFO")
        except (OSError, TimeoutError):
            return False
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def stop(self) -> None:
        """End the server (SIGTERM, then SIGKILL after 5 s) and wait until it has exited."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        deadline = time.monotonic() + 5.0
        while process.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        if process.poll() is None:
            process.kill()
            process.wait()

    async def kill(self) -> None:
        """``kill -9``: the server is gone at once, with whatever it held in memory."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.kill()
        await asyncio.to_thread(process.wait)

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    async def __aenter__(self) -> PrivateNatsServer:
        try:
            await self.start()
        except BaseException:
            self._log_dir.cleanup()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            await self.stop()
        finally:
            self._log_dir.cleanup()
