"""Micro-benchmark of the bus hop: what a message and a request cost on LocalBus and on NATS.

Not a test. Run (NATS at ``nats://127.0.0.1:4222``, e.g. the machine's shared server)::

    .venv/bin/python bench/bus_micro.py [--url nats://127.0.0.1:4222] [--scale 1.0]
                                        [--loop uvloop|asyncio] [--same-process]

Why: in the design, every command of every player crosses the bus once as a request (to the
quiz's owner) and every committed log entry crosses it once per serving process as a publish.
This prints what one such hop costs, for LocalBus (the embedded default) and NatsBus:

* **publish → deliver**, for 100-byte and 10 KB payloads: throughput (messages published in a
  tight loop, counted from the first publish to the last delivery) and latency p50/p99 (messages
  published one per millisecond, so none waits behind another; each carries its send time).
* **request → reply** round trip of a 100-byte request to an echo responder, p50/p99 and
  requests per second, with 1 and with 64 requests in flight.

For NATS the receiving side (subscriber and responder) runs in a child process with its own
NatsBus connection, as it would in scale-out: two Python processes and nats-server share the
machine's cores. ``--same-process`` runs it on a second connection in the same process and loop
instead, so the figures are the CPU cost of both ends on one core. LocalBus has one process by
nature. Latencies across processes use ``time.monotonic_ns`` (one clock for the whole machine).
Event loop: uvloop (what the server runs) unless ``--loop asyncio``.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import sys
import time
import uuid
from collections.abc import Awaitable, Callable

import orjson

from livequiz.adapters.local_bus import LocalBus
from livequiz.adapters.nats import NatsBus
from livequiz.ports import NoResponder

AnyBus = LocalBus | NatsBus
SIZES = (100, 10 * 1024)


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class Peer:
    """The receiving side: a subscriber that records latencies, an echo responder, and a
    control subject through which the benchmark resets and reads it."""

    def __init__(self, bus: AnyBus, prefix: str) -> None:
        self.bus = bus
        self.prefix = prefix
        self.latencies_ns: list[int] = []
        self.last_ns = 0
        self.stopped = asyncio.Event()

    def on_data(self, data: bytes) -> None:
        now = time.monotonic_ns()
        self.latencies_ns.append(now - int.from_bytes(data[:8], "big"))
        self.last_ns = now

    async def echo(self, data: bytes) -> bytes:
        return data

    async def control(self, data: bytes) -> bytes:
        if data == b"reset":
            self.latencies_ns = []
            self.last_ns = 0
            return b"ok"
        if data == b"stop":
            self.stopped.set()
            return b"ok"
        return orjson.dumps(
            {"count": len(self.latencies_ns), "last_ns": self.last_ns, "dropped": self.bus.dropped}
        )

    async def start(self) -> None:
        await self.bus.subscribe(f"{self.prefix}.data", self.on_data)
        await self.bus.serve(f"{self.prefix}.echo", self.echo)
        await self.bus.serve(f"{self.prefix}.control", self.control)
        await self.bus.serve(f"{self.prefix}.latencies", self.dump)

    async def dump(self, _: bytes) -> bytes:
        return orjson.dumps(self.latencies_ns)


def _peer_process(url: str, prefix: str, loop_name: str) -> None:
    async def main() -> None:
        bus = await NatsBus.connect(url, name="bench-peer")
        peer = Peer(bus, prefix)
        await peer.start()
        await peer.stopped.wait()
        await asyncio.sleep(0.05)  # let the reply to "stop" go out
        await bus.close()

    _run(main(), loop_name)


class Bench:
    def __init__(self, here: AnyBus, prefix: str, scale: float) -> None:
        self.here = here
        self.prefix = prefix
        self.scale = scale

    async def control(self, command: bytes) -> bytes:
        return await self.here.request(f"{self.prefix}.control", command, timeout_s=30)

    async def wait_ready(self) -> None:
        deadline = time.monotonic() + 20
        while True:
            try:
                await self.control(b"reset")
                return
            except NoResponder:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.05)

    def payload(self, size: int) -> bytes:
        return time.monotonic_ns().to_bytes(8, "big") + b"x" * (size - 8)

    async def throughput(self, size: int) -> tuple[float, int]:
        count = int((200_000 if size <= 100 else 40_000) * self.scale)
        data = bytes(size)  # built once: this measures the bus, not building payloads
        subject = f"{self.prefix}.data"
        await self.control(b"reset")
        started = time.monotonic_ns()
        for _ in range(count):
            await self.here.publish(subject, data)
        dropped_before = orjson.loads(await self.control(b"report"))["dropped"]
        while True:
            report = orjson.loads(await self.control(b"report"))
            dropped = report["dropped"] - dropped_before
            if report["count"] + dropped >= count:
                delivered = report["count"]
                return delivered / ((report["last_ns"] - started) / 1e9), dropped
            await asyncio.sleep(0.01)

    async def latency(self, size: int) -> tuple[float, float]:
        count = int(2_000 * self.scale)
        subject = f"{self.prefix}.data"
        await self.control(b"reset")
        for _ in range(count):
            await self.here.publish(subject, self.payload(size))
            await asyncio.sleep(0.001)
        while orjson.loads(await self.control(b"report"))["count"] < count:
            await asyncio.sleep(0.01)
        latencies = orjson.loads(await self.here.request(f"{self.prefix}.latencies", b"", 30))
        micros = [ns / 1000 for ns in latencies]
        return _percentile(micros, 0.50), _percentile(micros, 0.99)

    async def round_trips(self, in_flight: int) -> tuple[float, float, float]:
        total = int((5_000 if in_flight == 1 else 30_000) * self.scale)
        per_worker = total // in_flight
        subject = f"{self.prefix}.echo"
        request = b"r" * 100
        rtts: list[float] = []

        async def worker() -> None:
            for _ in range(per_worker):
                sent = time.perf_counter_ns()
                await self.here.request(subject, request, timeout_s=30)
                rtts.append((time.perf_counter_ns() - sent) / 1000)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(in_flight)))
        elapsed = time.perf_counter() - started
        return _percentile(rtts, 0.50), _percentile(rtts, 0.99), len(rtts) / elapsed

    async def run(self, label: str) -> None:
        await self.wait_ready()
        await self.round_trips(1)  # warm up
        for size in SIZES:
            rate, dropped = await self.throughput(size)
            p50, p99 = await self.latency(size)
            print(
                f"{label:<8} publish {size:>6} B   {rate:>11,.0f} msg/s   "
                f"latency p50 {p50:>7.1f} µs  p99 {p99:>7.1f} µs"
                + (f"   ({dropped} dropped: slow consumer)" if dropped else ""),
                flush=True,
            )
        for in_flight in (1, 64):
            p50, p99, rate = await self.round_trips(in_flight)
            print(
                f"{label:<8} request  {in_flight:>2} in flight  {rate:>11,.0f} req/s   "
                f"rtt     p50 {p50:>7.1f} µs  p99 {p99:>7.1f} µs",
                flush=True,
            )


async def _local(scale: float) -> None:
    bus = LocalBus()
    prefix = f"bench.{uuid.uuid4().hex}"
    await Peer(bus, prefix).start()
    await Bench(bus, prefix, scale).run("local")
    await bus.close()


async def _nats(url: str, scale: float, same_process: bool, loop_name: str) -> None:
    prefix = f"bench.{uuid.uuid4().hex}"
    here = await NatsBus.connect(url, name="bench")
    child = None
    there = None
    if same_process:
        there = await NatsBus.connect(url, name="bench-peer")
        await Peer(there, prefix).start()
    else:
        child = mp.get_context("spawn").Process(
            target=_peer_process, args=(url, prefix, loop_name), daemon=True
        )
        child.start()
    bench = Bench(here, prefix, scale)
    try:
        await bench.run("nats")
        print(f"nats     dropped by slow consumers: {here.dropped}", flush=True)
    finally:
        if child is not None:
            await bench.control(b"stop")
            child.join(10)
        if there is not None:
            await there.close()
        await here.close()


def _run(main: Awaitable[None], loop_name: str) -> None:
    if loop_name == "uvloop":
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    else:
        runner = asyncio.Runner()
    with runner:
        runner.run(main)  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--url", default=os.environ.get("LIVEQUIZ_BUS_URL", "nats://127.0.0.1:4222")
    )
    parser.add_argument("--scale", type=float, default=1.0, help="multiply message counts")
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    parser.add_argument("--same-process", action="store_true", help="NATS peer in this process")
    parser.add_argument("--only", choices=("local", "nats"), help="benchmark one bus only")
    args = parser.parse_args()
    where = "same process" if args.same_process else "peer in a child process"
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {args.loop}, "
        f"NATS {args.url} ({where}), scale {args.scale}",
        flush=True,
    )
    runs: list[Callable[[], Awaitable[None]]] = []
    if args.only in (None, "local"):
        runs.append(lambda: _local(args.scale))
    if args.only in (None, "nats"):
        runs.append(lambda: _nats(args.url, args.scale, args.same_process, args.loop))
    for run in runs:
        _run(run(), args.loop)


if __name__ == "__main__":
    main()
