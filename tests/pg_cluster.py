"""A private PostgreSQL server for tests that stop, crash, pause or restart the database.

The shared server on 127.0.0.1:5432 must stay up for every other test, so outage tests run
their own: :class:`PgCluster` makes a throwaway cluster with Debian's ``initdb`` in a temporary
directory, on a free port of 127.0.0.1, with trust authentication, and removes it afterwards
whatever happens::

    async with PgCluster() as cluster:          # initdb + start
        records = await connect(cluster.dsn)
        await cluster.stop(mode="immediate")    # a crash: every connection cut at once
        await cluster.start()                   # the same data, the same port
        async with cluster.paused():            # a hung server: connections stay open, no reply
            ...

``initdb`` refuses to run as root, so under root every server command runs as the
``postgres`` user (``runuser``) in a directory owned by it. If the binaries or that user are
missing, :meth:`PgCluster.unavailable` says why, for the test to skip with (the suite's conftest
turns a skip into a failure under ``CI=true``).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from types import TracebackType

import psutil  # type: ignore[import-untyped]

#: Where Debian installs each major version's server binaries.
DEBIAN_BINARIES = Path("/usr/lib/postgresql")
#: Overrides where ``initdb`` and ``pg_ctl`` are found.
BIN_DIR_ENV = "LIVEQUIZ_PG_BIN"
#: The account the server runs as when the tests run as root.
SERVER_USER = "postgres"


#: Clusters created and not yet destroyed, for the exit hook below.
_LIVE: set[PgCluster] = set()


@atexit.register
def _destroy_left_over_clusters() -> None:
    """Stop and delete clusters whose ``async with`` never finished (an interrupted run), so
    no server is left running on the machine."""
    for cluster in list(_LIVE):
        cluster.destroy_now()


class ClusterError(RuntimeError):
    """A server command failed; the message carries its output and the server's log."""


def find_bin_dir() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl``: ``$LIVEQUIZ_PG_BIN``, else the newest
    Debian major version under ``/usr/lib/postgresql``."""
    configured = os.environ.get(BIN_DIR_ENV)
    if configured:
        return Path(configured)
    versions = sorted(
        (p for p in DEBIAN_BINARIES.glob("*/bin") if (p / "initdb").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    return versions[-1] if versions else None


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class PgCluster:
    """A throwaway PostgreSQL server of the tests' own; an async context manager."""

    def __init__(self, *, bin_dir: Path | None = None, settings: Sequence[str] = ()) -> None:
        """``settings`` are extra ``name=value`` server settings (``-c`` options)."""
        self.bin_dir = bin_dir or find_bin_dir()
        self.settings = tuple(settings)
        self.port = free_port()
        self.directory: Path | None = None
        self.running = False
        self._paused: list[psutil.Process] = []

    @staticmethod
    def unavailable() -> str | None:
        """Why a private cluster cannot be made here, or ``None`` if it can."""
        bin_dir = find_bin_dir()
        if bin_dir is None or not (bin_dir / "initdb").exists():
            return (
                f"no PostgreSQL server binaries (initdb) under {DEBIAN_BINARIES}/*/bin; "
                f"install Debian's postgresql or set {BIN_DIR_ENV}"
            )
        if os.geteuid() == 0:
            try:
                pwd.getpwnam(SERVER_USER)
            except KeyError:
                return f"running as root but there is no '{SERVER_USER}' user to run initdb as"
        return None

    @property
    def dsn(self) -> str:
        return f"postgresql://{SERVER_USER}@127.0.0.1:{self.port}/postgres"

    @property
    def data_dir(self) -> Path:
        if self.directory is None:
            raise ClusterError("the cluster has not been created yet (call start())")
        return self.directory / "data"

    @property
    def log_file(self) -> Path:
        return self.data_dir.parent / "server.log"

    # ------------------------------------------------------------------ life cycle

    async def start(self) -> None:
        """Create the cluster on first use, then start the server and wait until it accepts
        connections."""
        if self.running:
            return
        if self.directory is None:
            await self._create()
        await self._server_command(
            "pg_ctl",
            "start",
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_file),
            "-w",
            "-t",
            "30",
            "-o",
            " ".join(
                [
                    f"-k {self.data_dir.parent}",
                    f"-p {self.port}",
                    "-c listen_addresses=127.0.0.1",
                    *(f"-c {setting}" for setting in self.settings),
                ]
            ),
        )
        self.running = True

    async def stop(self, mode: str = "fast") -> None:
        """Stop the server: ``fast`` (clients cut, clean shutdown) or ``immediate`` (a crash:
        no checkpoint, the next start runs crash recovery)."""
        if not self.running:
            return
        self._resume()
        await self._server_command(
            "pg_ctl", "stop", "-D", str(self.data_dir), "-m", mode, "-w", "-t", "30"
        )
        self.running = False

    async def kill(self) -> None:
        """``kill -9`` of the postmaster and every backend at once: a crash with no shutdown
        code at all; the next :meth:`start` runs crash recovery."""
        if not self.running:
            return
        self._resume()
        server = psutil.Process(self._postmaster_pid())
        victims = [server, *server.children(recursive=True)]
        for process in victims:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.send_signal(signal.SIGKILL)
        await asyncio.to_thread(psutil.wait_procs, victims, 30)
        self.running = False

    async def restart(self, mode: str = "fast") -> None:
        await self.stop(mode)
        await self.start()

    @contextlib.asynccontextmanager
    async def paused(self) -> AsyncIterator[None]:
        """Freeze every server process (SIGSTOP) for the block: connections stay open and
        accept bytes, but nothing answers, as with a hung host or a lost network path."""
        server = psutil.Process(self._postmaster_pid())
        self._paused = [server, *server.children(recursive=True)]
        for process in self._paused:
            process.send_signal(signal.SIGSTOP)
        try:
            yield
        finally:
            self._resume()

    def _resume(self) -> None:
        paused, self._paused = self._paused, []
        for process in paused:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.send_signal(signal.SIGCONT)

    async def destroy(self) -> None:
        """Stop the server at once if it runs and delete every file; safe to call twice."""
        try:
            if self.running:
                await self.stop(mode="immediate")
        finally:
            self._remove_files()

    def destroy_now(self) -> None:
        """:meth:`destroy` without an event loop (at interpreter exit)."""
        try:
            if self.running and self.bin_dir is not None:
                self._resume()
                command = [str(self.bin_dir / "pg_ctl"), "stop", "-D", str(self.data_dir)]
                command += ["-m", "immediate", "-w"]
                if os.geteuid() == 0:
                    command = ["runuser", "-u", SERVER_USER, "--", *command]
                subprocess.run(command, capture_output=True, timeout=30, check=False)
                self.running = False
        finally:
            self._remove_files()

    def _remove_files(self) -> None:
        _LIVE.discard(self)
        directory, self.directory = self.directory, None
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)

    async def __aenter__(self) -> PgCluster:
        try:
            await self.start()
        except BaseException:
            await self.destroy()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.destroy()

    # ------------------------------------------------------------------ plumbing

    async def _create(self) -> None:
        reason = self.unavailable()
        if reason is not None:
            raise ClusterError(reason)
        self.directory = Path(tempfile.mkdtemp(prefix="livequiz-pg-"))
        _LIVE.add(self)
        if os.geteuid() == 0:
            account = pwd.getpwnam(SERVER_USER)
            os.chown(self.directory, account.pw_uid, account.pw_gid)
        await self._server_command(
            "initdb",
            "-D",
            str(self.data_dir),
            "-A",
            "trust",
            "-U",
            SERVER_USER,
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",  # only initdb's own fsyncs: a throwaway cluster
            "--no-instructions",
        )

    def _postmaster_pid(self) -> int:
        pid_file = self.data_dir / "postmaster.pid"
        try:
            return int(pid_file.read_text().split("\n", 1)[0])
        except (OSError, ValueError) as exc:
            raise ClusterError(f"the server is not running ({pid_file}: {exc})") from exc

    async def _server_command(self, program: str, *args: str) -> None:
        assert self.bin_dir is not None
        command = [str(self.bin_dir / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", SERVER_USER, "--", *command]
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await process.communicate()
        if process.returncode != 0:
            log = ""
            with contextlib.suppress(ClusterError, OSError):
                log = self.log_file.read_text()[-4000:]
            raise ClusterError(
                f"{' '.join(command)} exited with {process.returncode}:\n"
                f"{output.decode(errors='replace')}\nserver log:\n{log}"
            )
