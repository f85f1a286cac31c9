"""``livequiz serve`` as real subprocesses, for tests that kill a backend behind a proxy.

Usage::

    async with livequiz_processes(3, "--trusted-proxy", "127.0.0.1/32") as backends:
        async with NginxProxy(backends=[b.port for b in backends]) as proxy:
            backends[1].kill()          # SIGKILL: the process is gone, as in a crash

Why subprocesses and not in-process servers (tests/server.py): a crash must take the process's
sockets with it at once, as the kernel does for a dead process; an in-process server can only be
stopped gracefully. Each process runs with ``--memory`` (its own embedded store) unless told
otherwise through ``args``; every argument after the count goes to ``livequiz serve``.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

__all__ = ["LiveQuizProcess", "livequiz_processes"]

#: How long a process may take to answer /readyz, or to stop.
TIMEOUT_S = 20.0


class LiveQuizProcess:
    """One ``livequiz serve`` subprocess on 127.0.0.1 and a free port."""

    def __init__(self, process: asyncio.subprocess.Process, port: int, log: Path) -> None:
        self.process = process
        self.port = port
        self.log = log

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.process.returncode is None

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown, every socket of the process reset by the kernel."""
        self.process.send_signal(signal.SIGKILL)

    async def wait_ready(self) -> None:
        async with httpx.AsyncClient(base_url=self.url) as http, asyncio.timeout(TIMEOUT_S):
            while True:
                if not self.alive:
                    raise RuntimeError(
                        f"livequiz serve on port {self.port} exited with "
                        f"{self.process.returncode}:\n{self.log.read_text(errors='replace')}"
                    )
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get("/readyz")).status_code == 200:
                        return
                await asyncio.sleep(0.05)

    async def stop(self) -> None:
        if not self.alive:
            await self.process.wait()
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(TIMEOUT_S):
                await self.process.wait()
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.asynccontextmanager
async def livequiz_processes(count: int, *args: str) -> AsyncIterator[list[LiveQuizProcess]]:
    """Start ``count`` servers (in parallel), wait until each is ready, stop them at the end."""
    with tempfile.TemporaryDirectory(prefix="livequiz-backends-") as tmp:
        backends: list[LiveQuizProcess] = []
        try:
            for index in range(count):
                port = _free_port()
                log = Path(tmp) / f"livequiz-{index + 1}.log"
                with open(log, "wb") as output:
                    process = await asyncio.create_subprocess_exec(
                        sys.executable,
                        "-m",
                        "livequiz",
                        "serve",
                        "--port",
                        str(port),
                        *(("--memory",) if "--data-dir" not in args else ()),
                        "--log-level",
                        "warning",
                        *args,
                        stdin=subprocess.DEVNULL,
                        stdout=output,
                        stderr=subprocess.STDOUT,
                    )
                backends.append(LiveQuizProcess(process, port, log))
            await asyncio.gather(*(backend.wait_ready() for backend in backends))
            yield backends
        finally:
            await asyncio.gather(*(backend.stop() for backend in backends))
