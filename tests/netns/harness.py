"""livequiz processes as separate hosts: a private PostgreSQL and NATS, one server per namespace.

:func:`netns_cluster` builds a :class:`~tests.netns.network.Topology`, starts a private
PostgreSQL (``tests/pg_cluster.py``, also listening on the service bridge, with trust for the
service network only) and a private ``nats-server`` on the service bridge's address, then one
``livequiz serve --host 0.0.0.0`` in each host's namespace with ``--lease-s 1``, reaching both
through its service link. The test's clients stay in the root namespace and reach each process
at its client address (:attr:`NetHost.url`). Everything is stopped and removed at the end, in
the reverse order, whatever happened.

Tests skip loudly where this cannot run (not root, no ``ip``, no PostgreSQL or nats-server);
under ``CI=true`` the suite's conftest turns that skip into a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.deploy.processes import LiveQuizProcess
from tests.nats_server import nats_server_binary
from tests.netns.network import ROOT, Host, Topology, unavailable
from tests.pg_cluster import PgCluster

#: The port every server listens on, in its own namespace.
PORT = 8000
#: Short leases, as in tests/cluster: a cut-off owner's quizzes move within seconds.
LEASE_S = "1"
#: Starting three servers (and a PostgreSQL) on a loaded two-core machine.
READY_TIMEOUT_S = 60.0


def skip_reason() -> str | None:
    """Why these tests cannot run here, or ``None``."""
    reason = unavailable() or PgCluster.unavailable()
    if reason is None and nats_server_binary() is None:
        reason = "no nats-server binary (Debian's nats-server)"
    return reason


def require() -> None:
    reason = skip_reason()
    if reason is not None:
        pytest.skip(f"cannot run livequiz as separate hosts: {reason}")


class ServicePostgres(PgCluster):
    """A private PostgreSQL that also listens on the service bridge, trusting that network."""

    def __init__(self, address: str, network: str) -> None:
        # the later listen_addresses (-c) wins over the one PgCluster always passes
        super().__init__(settings=[f"listen_addresses=127.0.0.1,{address}"])
        self.network = network

    async def _create(self) -> None:
        await super()._create()
        with (self.data_dir / "pg_hba.conf").open("a") as hba:
            hba.write(f"host all all {self.network} trust\n")


class ServiceNats:
    """A private ``nats-server`` on the service bridge's address."""

    def __init__(self, address: str, directory: Path) -> None:
        self.address = address
        self.port = _free_port(address)
        self.log = directory / "nats-server.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://{self.address}:{self.port}"

    async def start(self) -> None:
        binary = nats_server_binary()
        assert binary is not None
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [binary, "-a", self.address, "-p", str(self.port)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError, TimeoutError):
                reader, writer = await asyncio.open_connection(self.address, self.port)
                greeting = await asyncio.wait_for(reader.readline(), 1)
                writer.close()
                if greeting.startswith(b"INFO"):
                    return
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nats-server did not start: {self.log.read_text()}")
            await asyncio.sleep(0.05)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _free_port(address: str) -> int:
    with socket.socket() as probe:
        probe.bind((address, 0))
        return int(probe.getsockname()[1])


class NetProcess(LiveQuizProcess):
    """``livequiz serve`` in a host's namespace, reached at the host's client address."""

    def __init__(
        self, process: asyncio.subprocess.Process, host: Host, log: Path, owner_pid: int
    ) -> None:
        super().__init__(process, PORT, log)
        self.host = host
        self.owner_pid = owner_pid

    @property
    def url(self) -> str:
        return f"http://{self.host.client_address}:{PORT}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host.client_address}:{PORT}/ws"

    async def metrics(self) -> dict[str, float]:
        """Unlabelled and labelled samples of ``/metrics``, by their full text name."""
        async with httpx.AsyncClient(timeout=10) as http:
            text = (await http.get(f"{self.url}/metrics")).text
        samples: dict[str, float] = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                samples[name] = float(value)
        return samples


@dataclass
class NetCluster:
    topology: Topology
    database: ServicePostgres
    nats: ServiceNats
    processes: list[NetProcess]

    @property
    def admin_dsn(self) -> str:
        """The database from the root namespace (never cut)."""
        return self.database.dsn

    async def lease(self, quiz_id: str) -> tuple[str, int]:
        """``(owner_id, epoch)`` of the quiz's lease, as the database has it."""
        connection = await asyncpg.connect(self.admin_dsn, timeout=10)
        try:
            row = await connection.fetchrow(
                "SELECT owner_id, epoch FROM livequiz.quiz_leases WHERE quiz_id = $1", quiz_id
            )
        finally:
            await connection.close()
        assert row is not None, quiz_id
        return str(row["owner_id"]), int(row["epoch"])

    async def journal(self, quiz_id: str) -> list[tuple[int, int]]:
        """``(seq, epoch)`` of every journal row of the quiz, in order."""
        connection = await asyncpg.connect(self.admin_dsn, timeout=10)
        try:
            rows = await connection.fetch(
                "SELECT seq, epoch FROM livequiz.journal WHERE quiz_id = $1 ORDER BY seq", quiz_id
            )
        finally:
            await connection.close()
        return [(int(row["seq"]), int(row["epoch"])) for row in rows]

    def owner_of(self, owner_id: str) -> NetProcess:
        """The process whose id (``host-pid-random``) this is."""
        for process in self.processes:
            if f"-{process.owner_pid}-" in owner_id:
                return process
        raise AssertionError(f"no process is {owner_id}")


@contextlib.asynccontextmanager
async def netns_cluster(
    hosts: int = 3, *, wire: bool = False, lease_s: str = LEASE_S, logs: Path | None = None
) -> AsyncIterator[NetCluster]:
    """``hosts`` servers, each in its own namespace, over a private PostgreSQL and NATS, with
    leases of ``lease_s`` seconds (short by default, so a cut-off owner's quizzes move fast).
    The servers' and NATS's logs go to ``logs`` (a test's ``tmp_path``: kept after a failure
    for reading, under pytest's ``--basetemp``), else to a directory removed at the end."""
    require()
    with (
        contextlib.nullcontext(str(logs))
        if logs is not None
        else tempfile.TemporaryDirectory(prefix="livequiz-netns-logs-") as tmp,
        Topology(hosts, wire=wire) as topology,
    ):
        directory = Path(tmp)
        gateway = topology.service_gateway
        nats = ServiceNats(gateway, directory)
        processes: list[NetProcess] = []
        try:
            database = ServicePostgres(gateway, topology.service_network)
            async with database:
                await nats.start()
                port = database.port
                for host in topology.hosts:
                    processes.append(
                        await _spawn(host, directory, gateway, port, nats.url, lease_s)
                    )
                await asyncio.gather(*(_ready(p) for p in processes))
                yield NetCluster(topology, database, nats, processes)
                await asyncio.gather(*(p.stop() for p in processes))
        finally:
            for process in processes:
                if process.alive:
                    process.kill()
                    await process.process.wait()
            nats.stop()


async def _spawn(
    host: Host, directory: Path, gateway: str, pg_port: int, bus: str, lease_s: str
) -> NetProcess:
    log = directory / f"host{host.index}.log"
    with log.open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            *host.exec_prefix(),
            sys.executable,
            "-m",
            "livequiz",
            "serve",
            "--host",
            "0.0.0.0",
            "--port",
            str(PORT),
            "--database",
            f"postgresql://postgres@{gateway}:{pg_port}/postgres",
            "--bus",
            bus,
            "--lease-s",
            lease_s,
            "--log-level",
            "info",
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        )
    # ip netns exec execs the command: this pid is the server's (its lease owner id has it)
    return NetProcess(process, host, log, process.pid)


async def _ready(process: NetProcess) -> None:
    async with httpx.AsyncClient(base_url=process.url, timeout=5) as http:
        async with asyncio.timeout(READY_TIMEOUT_S):
            while True:
                if not process.alive:
                    raise RuntimeError(
                        f"livequiz serve on host {process.host.index} exited with "
                        f"{process.process.returncode}:\n{process.log.read_text(errors='replace')}"
                    )
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get("/readyz")).status_code == 200:
                        return
                await asyncio.sleep(0.1)
