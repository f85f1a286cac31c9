"""Faults to inject: a server process to ``kill -9`` and restart, a disk that fills up, a disk
whose ``fsync`` is slow.

:class:`ServerProcess` runs ``livequiz serve`` on the embedded default over a data directory,
always on the same port, so that clients reconnect to the same address after a restart, as they
would behind a load balancer. :func:`small_disk` mounts a tmpfs of a few hundred KiB (root only:
the test says so loudly where it cannot). :func:`slow_fsync_library` builds a tiny ``LD_PRELOAD``
library that delays every ``fsync``/``fdatasync`` of the server process, the way a slow or
overloaded disk does, without needing a block device.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path

import httpx

#: How long a server may take to become ready on a loaded two-core machine.
READY_TIMEOUT_S = 30.0
#: How long a SIGKILLed process may take to be gone (it is reaped by the test's event loop: a
#: test that blocks its loop sees this fail first, with the process's state in the message).
DEATH_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ServerProcess:
    """``livequiz serve`` over ``data_dir`` on a fixed port: start, ``kill -9``, start again."""

    def __init__(
        self,
        data_dir: Path,
        log: Path,
        *args: str,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.log = log
        self.args = args
        self.env = dict(env or {})
        self.port = free_port()
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0
        self.kills = 0
        #: the longest a killed process took to be gone (one blocked in the kernel, in an fsync
        #: on a busy disk, dies only once that returns)
        self.slowest_death_s = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    async def spawn(self) -> None:
        """Start the process (do not wait until it is ready)."""
        assert not self.alive, "already running"
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "livequiz",
                "serve",
                "--port",
                str(self.port),
                "--data-dir",
                str(self.data_dir),
                "--log-level",
                "warning",
                *self.args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.env},
            )
        self.starts += 1

    async def wait_ready(self) -> float:
        """Wait until ``/readyz`` says 200; returns how long that took."""
        started = time.monotonic()
        async with httpx.AsyncClient(base_url=self.url, timeout=5) as http:
            async with asyncio.timeout(READY_TIMEOUT_S):
                while True:
                    if not self.alive:
                        code = self.process.returncode if self.process else None
                        raise RuntimeError(f"the server exited with {code}:\n{self.output()}")
                    with contextlib.suppress(httpx.TransportError):
                        if (await http.get("/readyz")).status_code == 200:
                            return time.monotonic() - started
                    await asyncio.sleep(0.02)

    async def start(self) -> float:
        await self.spawn()
        return await self.wait_ready()

    async def kill(self) -> None:
        """SIGKILL: no shutdown at all; the kernel resets every socket of the process."""
        if not self.alive:
            return
        assert self.process is not None
        started = time.monotonic()
        self.process.send_signal(signal.SIGKILL)
        try:
            await asyncio.wait_for(self.process.wait(), DEATH_TIMEOUT_S)
        except TimeoutError:
            raise AssertionError(
                f"pid {self.process.pid} not gone {DEATH_TIMEOUT_S} s after SIGKILL: "
                f"{_process_state(self.process.pid)}"
            ) from None
        self.slowest_death_s = max(self.slowest_death_s, time.monotonic() - started)
        self.kills += 1

    async def stop(self) -> None:
        if not self.alive:
            return
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), READY_TIMEOUT_S)
        except TimeoutError:
            await self.kill()


def _process_state(pid: int) -> str:
    """What the kernel says of ``pid`` (its state line and where it waits), for a failure."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        wchan = Path(f"/proc/{pid}/wchan").read_text()
    except OSError as error:
        return f"no /proc entry ({error})"
    state = next((line for line in status.splitlines() if line.startswith("State:")), "")
    return f"{state}, waiting in {wchan or '-'}"


@contextlib.asynccontextmanager
async def server_process(
    directory: Path, *args: str, env: Mapping[str, str] | None = None
) -> AsyncIterator[ServerProcess]:
    server = ServerProcess(directory / "data", directory / "server.log", *args, env=env)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def tracebacks(log: str) -> list[str]:
    """Lines of ``log`` that start a Python traceback: the server logged an error it did not
    expect (the checker's runs must end with none)."""
    return [line for line in log.splitlines() if line.startswith("Traceback")]


# ---------------------------------------------------------------------- a disk that fills up


def can_mount() -> str | None:
    """``None`` if this process may mount a tmpfs, else why not."""
    if shutil.which("mount") is None:
        return "no mount command"
    if os.geteuid() != 0:
        return "not root (mounting a small tmpfs needs root)"
    return None


@contextlib.contextmanager
def small_disk(size_kib: int) -> Iterator[Path]:
    """A tmpfs of ``size_kib`` KiB, mounted for the block; unmounted after."""
    mountpoint = Path(tempfile.mkdtemp(prefix="livequiz-disk-"))
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_kib}k,mode=0700", "tmpfs", str(mountpoint)],
        check=True,
    )
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)
        mountpoint.rmdir()


def fill(directory: Path) -> Path:
    """Write a file into ``directory`` until its file system is full; returns the file."""
    filler = directory / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (65536, 4096, 1):  # big writes first, then what is left, byte by byte
            with contextlib.suppress(OSError):
                while os.write(descriptor, b"\0" * size):
                    pass
    finally:
        os.close(descriptor)
    return filler


# ---------------------------------------------------------------------- a disk that is slow

_SLOW_FSYNC_C = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>

static void pause_a_while(void) {
    const char *ms = getenv("LIVEQUIZ_FSYNC_DELAY_MS");
    long delay = ms ? atol(ms) : 0;
    struct timespec t = {delay / 1000, (delay % 1000) * 1000000L};
    if (delay > 0) nanosleep(&t, NULL);
}

int fsync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    pause_a_while();
    return real(fd);
}

int fdatasync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    pause_a_while();
    return real(fd);
}
"""


def slow_fsync_library(directory: Path) -> Path | str:
    """Build the ``LD_PRELOAD`` library that delays ``fsync`` by ``$LIVEQUIZ_FSYNC_DELAY_MS``;
    returns its path, or why it could not be built."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        return "no C compiler to build the slow-fsync library"
    source = directory / "slow_fsync.c"
    library = directory / "slow_fsync.so"
    source.write_text(_SLOW_FSYNC_C)
    built = subprocess.run(
        [compiler, "-shared", "-fPIC", "-O2", "-o", str(library), str(source), "-ldl"],
        capture_output=True,
        text=True,
        check=False,
    )
    if built.returncode != 0:
        return f"could not build the slow-fsync library: {built.stderr.strip()}"
    return library
