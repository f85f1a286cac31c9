"""``livequiz serve --workers 2``: two processes on one port, sharing PostgreSQL and NATS.

The supervisor starts both, the kernel spreads connections over them (SO_REUSEPORT), a quiz
created through one is joined and played through the other, a worker that dies is started
again, and SIGTERM stops them all.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import secrets
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import psutil  # type: ignore[import-untyped]

from livequiz.app import RESERVED_DESCRIPTORS
from tests.cluster.harness import (
    BUS_URL,
    DATABASE_URL,
    TIMEOUT_S,
    drop_schema,
    require_services,
)
from tests.deploy.processes import _free_port


async def worker_pids(supervisor: int) -> set[int]:
    return {child.pid for child in psutil.Process(supervisor).children()}


def listening(pid: int, port: int) -> bool:
    return any(
        c.laddr and c.laddr.port == port and c.status == "LISTEN"
        for c in psutil.Process(pid).net_connections(kind="tcp")
    )


async def test_two_workers_share_one_port_and_a_dead_one_is_restarted() -> None:
    await require_services()
    schema = f"livequiz_test_{secrets.token_hex(4)}"
    port = _free_port()
    supervisor = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "livequiz",
            "serve",
            "--port",
            str(port),
            "--workers",
            "2",
            "--database",
            DATABASE_URL,
            "--database-schema",
            schema,
            "--bus",
            BUS_URL,
            "--log-level",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
            # both workers up and sharing the port: the kernel spreads connections over them
            async with asyncio.timeout(TIMEOUT_S):
                while len(await worker_pids(supervisor.pid)) < 2:
                    await asyncio.sleep(0.1)
                while True:
                    with contextlib.suppress(httpx.TransportError):
                        if (await http.get("/readyz")).status_code == 200:
                            break
                    await asyncio.sleep(0.1)
            pids = await worker_pids(supervisor.pid)
            assert len(pids) == 2, pids
            # each worker grew its table of open files for its caps at the start (each later
            # growth would hold its event loop 8-24 ms: app.grow_descriptor_table)
            wanted = min(
                12_000 + 4096 + RESERVED_DESCRIPTORS, resource.getrlimit(resource.RLIMIT_NOFILE)[0]
            )
            for pid in pids:
                status = Path(f"/proc/{pid}/status").read_text().splitlines()
                slots = next(int(line.split()[1]) for line in status if line.startswith("FDSize:"))
                assert slots >= wanted, (pid, slots)
            async with asyncio.timeout(TIMEOUT_S):
                while not all(listening(pid, port) for pid in pids):
                    await asyncio.sleep(0.1)
            sockets = [socket.create_connection(("127.0.0.1", port)) for _ in range(16)]
            try:
                await asyncio.sleep(0.2)
                held = {
                    pid: sum(
                        1
                        for c in psutil.Process(pid).net_connections(kind="tcp")
                        if c.laddr and c.laddr.port == port and c.status == "ESTABLISHED"
                    )
                    for pid in pids
                }
            finally:
                for sock in sockets:
                    sock.close()
            assert all(count > 0 for count in held.values()), held

            # a quiz made through one connection is joined through many (either worker)
            created = (await http.post("/api/quizzes", json={"count": 1})).json()
            for n in range(6):
                async with httpx.AsyncClient(
                    base_url=f"http://127.0.0.1:{port}", timeout=TIMEOUT_S
                ) as fresh:
                    joined = await fresh.post(
                        f"/api/quizzes/{created['pin']}/players", json={"nickname": f"p{n}"}
                    )
                    assert joined.status_code == 201, joined.text

            # a worker killed is started again by the supervisor
            victim = min(pids)
            os.kill(victim, signal.SIGKILL)
            async with asyncio.timeout(TIMEOUT_S):
                while True:
                    now = await worker_pids(supervisor.pid)
                    if len(now) == 2 and victim not in now:
                        break
                    await asyncio.sleep(0.1)
    finally:
        supervisor.send_signal(signal.SIGTERM)
        try:
            supervisor.wait(TIMEOUT_S)
        except subprocess.TimeoutExpired:
            supervisor.kill()
            supervisor.wait()
        await drop_schema(schema)
    assert supervisor.stderr is not None
    errors = supervisor.stderr.read().decode(errors="replace")
    supervisor.stderr.close()
    assert supervisor.returncode == 0, errors
