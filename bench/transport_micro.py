"""Micro-benchmark of the WebSocket transport: memory per idle connection, cost of a broadcast.

Not a test. Run: ``.venv/bin/python bench/transport_micro.py [--counts 2000,5000]``.

For each connection count N, a fresh server process (uvicorn + our ws class, uvloop) is started
so memory figures do not inherit freed arenas from a previous run; N clients (websockets asyncio
client, compression off, no keepalive pings, unbounded receive queue so they never stop
reading) are opened from separate processes. The server then reports:

* RSS growth per connection (psutil, after ``gc.collect()``, before vs after connecting).
* For one ~300-byte text frame to all N clients, averaged over ``--broadcasts`` rounds, the wall
  time and the server's own user / kernel CPU per frame (``getrusage``, µs resolution), for:
  ``SharedFrame`` (our ``broadcast()``: built once, one ``transport.write`` per socket),
  ``raw write`` (a bare ``transport.write`` loop: the floor), and ``encode per recipient``
  (websockets ``broadcast()``-style: ``protocol.send_text`` + ``data_to_send`` + write for each
  socket). The three paths alternate within each round so machine noise hits them alike.
* That every client received every frame.

Clients share the 2 cores with the server, as in the load tests: wall times include that
contention, CPU per frame does not.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing as mp
import os
import resource
import statistics
import sys
import time
from multiprocessing.connection import Connection as Pipe
from typing import Any

import orjson
import psutil  # type: ignore[import-untyped]  # no stubs in the dev extras

from livequiz.transport import Connection, HandshakeRequest, SharedFrame, TransportLimits
from livequiz.transport.server import TransportServer
from livequiz.transport.websocket import WebSocketConnection

PATHS = ("SharedFrame broadcast()", "raw transport.write loop", "encode per recipient")


# -- client processes -------------------------------------------------------------------------


def client_main(port: int, count: int, pipe: Pipe) -> None:
    import uvloop

    uvloop.run(_client(port, count, pipe))


async def _client(port: int, count: int, pipe: Pipe) -> None:
    from websockets.asyncio.client import ClientConnection, connect

    loop = asyncio.get_running_loop()
    url = f"ws://127.0.0.1:{port}/ws"
    gate = asyncio.Semaphore(64)  # ramp: the listen backlog is deep, but be polite
    conns: list[ClientConnection] = []

    async def open_one() -> None:
        async with gate:
            conns.append(
                await connect(
                    url,
                    compression=None,
                    ping_interval=None,
                    max_queue=None,
                    open_timeout=60,
                    close_timeout=1,
                )
            )

    await asyncio.gather(*(open_one() for _ in range(count)))
    pipe.send(("connected", len(conns)))
    command, expected = await loop.run_in_executor(None, pipe.recv)
    assert command == "count"

    async def count_one(c: ClientConnection) -> int:
        got = 0
        try:
            for _ in range(expected):
                await asyncio.wait_for(c.recv(), 10)
                got += 1
        except (TimeoutError, Exception):
            pass
        return got

    counts = await asyncio.gather(*(count_one(c) for c in conns))
    cpu = psutil.Process().cpu_times()
    pipe.send(("counted", (sum(counts), min(counts), cpu.user + cpu.system)))
    await loop.run_in_executor(None, pipe.recv)  # "exit"
    os._exit(0)  # skip 2 x count closing handshakes; the kernel closes the sockets


# -- server process ---------------------------------------------------------------------------


class NullHandler:
    def accept(self, request: HandshakeRequest) -> None:
        return None

    def on_open(self, conn: Connection) -> None:
        pass

    def on_message(self, conn: Connection, data: str) -> None:
        pass

    def on_close(self, conn: Connection, code: int, reason: str) -> None:
        pass


def rusage() -> tuple[float, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime


def server_main(count: int, broadcasts: int, frame_bytes: int, procs: int, out: Pipe) -> None:
    import uvloop

    out.send(uvloop.run(_server(count, broadcasts, frame_bytes, procs)))


async def _server(count: int, broadcasts: int, frame_bytes: int, procs: int) -> dict[str, Any]:
    from starlette.applications import Starlette
    from websockets.asyncio.client import connect

    loop = asyncio.get_running_loop()
    limits = TransportLimits(max_connections=count + 100, ping_interval_s=600.0)
    server = TransportServer(Starlette(), NullHandler(), limits, port=0, log_level="warning")
    ready = asyncio.Event()
    serve_task = asyncio.create_task(server.serve(ready))
    await ready.wait()
    port = server.port
    ws_server = server.websockets

    # Warm up: first-connection allocations, lazy imports, the executor thread.
    async with connect(f"ws://127.0.0.1:{port}/ws", compression=None) as warm:
        await warm.ping()
    await loop.run_in_executor(None, time.sleep, 0)
    while len(ws_server):
        await asyncio.sleep(0.01)
    me = psutil.Process()
    gc.collect()
    rss_before = me.memory_info().rss

    ctx = mp.get_context("spawn")
    pipes: list[Pipe] = []
    workers = []
    share = [count // procs + (1 if i < count % procs else 0) for i in range(procs)]
    for n in share:
        here, there = ctx.Pipe()
        worker = ctx.Process(target=client_main, args=(port, n, there), daemon=True)
        worker.start()
        pipes.append(here)
        workers.append(worker)
    began = time.perf_counter()
    for pipe in pipes:
        status, _ = await loop.run_in_executor(None, pipe.recv)
        assert status == "connected"
    connect_s = time.perf_counter() - began
    while len(ws_server) < count:
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)
    rss_no_gc = me.memory_info().rss
    unreachable = gc.collect()
    rss_after = me.memory_info().rss

    payload = orjson.dumps(
        {
            "type": "board",
            "top": [{"n": f"player{i:03d}", "s": 10_000 - i * 7} for i in range(10)],
            "pad": "",
        }
    )
    padding = b"x" * max(0, frame_bytes - len(payload))
    payload = payload.replace(b'"pad":""', b'"pad":"' + padding + b'"')
    conns: list[WebSocketConnection] = list(ws_server.connections)

    def shared() -> int:
        return ws_server.broadcast(SharedFrame.text(payload), conns).sent

    def raw() -> int:
        data = SharedFrame.text(payload).data
        for conn in conns:
            transport = conn._transport
            assert transport is not None
            transport.write(data)
        return len(conns)

    def per_recipient() -> int:
        for conn in conns:
            ws, transport = conn._ws, conn._transport
            assert ws is not None
            assert transport is not None
            ws.send_text(payload)
            for data in ws.data_to_send():
                transport.write(data)
        return len(conns)

    runs = {PATHS[0]: shared, PATHS[1]: raw, PATHS[2]: per_recipient}
    samples: dict[str, list[tuple[float, float, float]]] = {name: [] for name in runs}
    gc.disable()  # a collection landing in one sample would dwarf it
    for _ in range(broadcasts):
        for name, fn in runs.items():
            await asyncio.sleep(0.15)  # clients drain; kernel buffers back to empty
            u0, s0 = rusage()
            t0 = time.perf_counter()
            sent = fn()
            t1 = time.perf_counter()
            u1, s1 = rusage()
            assert sent == count, (name, sent)
            samples[name].append((t1 - t0, u1 - u0, s1 - s0))
    gc.enable()
    await asyncio.sleep(0.3)

    for pipe in pipes:
        pipe.send(("count", broadcasts * len(runs)))
    received, worst, client_cpu = 0, broadcasts * len(runs), 0.0
    for pipe in pipes:
        status, (got, least, cpu) = await loop.run_in_executor(None, pipe.recv)
        assert status == "counted"
        received += got
        worst = min(worst, least)
        client_cpu += cpu
    for pipe in pipes:
        pipe.send("exit")
    for worker in workers:
        await loop.run_in_executor(None, worker.join, 10)

    server.request_exit()
    await asyncio.wait_for(serve_task, 30)

    table = {}
    for name, rows in samples.items():
        wall = statistics.mean(r[0] for r in rows)
        user = statistics.mean(r[1] for r in rows)
        kern = statistics.mean(r[2] for r in rows)
        table[name] = {
            "wall_ms": wall * 1e3,
            "wall_ms_median": statistics.median(r[0] for r in rows) * 1e3,
            "user_us": user / count * 1e6,
            "sys_us": kern / count * 1e6,
        }
    return {
        "count": count,
        "frame_bytes": len(SharedFrame.text(payload)),
        "payload_bytes": len(payload),
        "connect_s": connect_s,
        "rss_per_conn_kib": (rss_after - rss_before) / count / 1024,
        "rss_per_conn_no_gc_kib": (rss_no_gc - rss_before) / count / 1024,
        "gc_unreachable_per_conn": unreachable / count,
        "rss_before_mib": rss_before / 2**20,
        "rss_after_mib": rss_after / 2**20,
        "table": table,
        "expected": broadcasts * len(runs) * count,
        "received": received,
        "min_per_client": worst,
        "client_cpu_s": client_cpu,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--counts", default="2000,5000", help="comma-separated client counts")
    parser.add_argument("--broadcasts", type=int, default=20, help="rounds per path")
    parser.add_argument("--frame-bytes", type=int, default=300, help="JSON payload size")
    parser.add_argument("--client-procs", type=int, default=2)
    args = parser.parse_args()

    ctx = mp.get_context("spawn")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, uvloop, loopback")
    for count in (int(c) for c in args.counts.split(",")):
        here, there = ctx.Pipe()
        proc = ctx.Process(
            target=server_main,
            args=(count, args.broadcasts, args.frame_bytes, args.client_procs, there),
        )
        proc.start()
        r = here.recv()
        proc.join()
        print()
        print(
            f"N = {r['count']:,} idle connections (opened in {r['connect_s']:.1f} s); "
            f"frame {r['frame_bytes']} B on the wire ({r['payload_bytes']} B JSON)"
        )
        print(
            f"  server RSS {r['rss_before_mib']:.1f} -> {r['rss_after_mib']:.1f} MiB: "
            f"{r['rss_per_conn_kib']:.1f} KiB per connection after gc.collect() "
            f"({r['rss_per_conn_no_gc_kib']:.1f} KiB before it; "
            f"{r['gc_unreachable_per_conn']:.1f} cyclic objects per connection collected)"
        )
        print(f"  {'path':<26} {'wall ms/bcast':>14} {'user us/frame':>14} {'sys us/frame':>13}")
        for name, row in r["table"].items():
            print(
                f"  {name:<26} {row['wall_ms']:>8.1f} ({row['wall_ms_median']:.1f})"
                f" {row['user_us']:>14.2f} {row['sys_us']:>13.2f}"
            )
        base = r["table"][PATHS[0]]
        per = r["table"][PATHS[2]]
        user_ratio = per["user_us"] / base["user_us"]
        wall_ratio = per["wall_ms"] / base["wall_ms"]
        print(
            f"  encode-per-recipient / SharedFrame: user CPU x{user_ratio:.1f}"
            f", wall x{wall_ratio:.2f}"
        )
        print(
            f"  delivered {r['received']:,} / {r['expected']:,} frames "
            f"(min per client {r['min_per_client']}); client processes used "
            f"{r['client_cpu_s']:.1f} s CPU"
        )


if __name__ == "__main__":
    main()
