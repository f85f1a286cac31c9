"""A wire with delay and loss, in user space: what ``tc netem`` does, for kernels without it.

Some kernels (this project's two-core test machine among them: a Firecracker VM whose kernel has
no ``sch_netem``) refuse ``tc qdisc add … netem``. This process stands in for it: for each link
it opens two TAP devices, one that the harness puts into the host's namespace and one that joins
the root namespace's bridge, and copies every Ethernet frame from one to the other — dropped
with probability ``loss``, otherwise delivered after ``delay ± jitter`` milliseconds (uniform,
each frame on its own, so frames can overtake each other as they do under netem with jitter).
Both directions are impaired independently, like a netem qdisc on each end of a veth pair.

Run as ``python -m tests.netns.wire SETTINGS NAME_A:NAME_B …``. ``SETTINGS`` is a JSON file
``{"delay_ms": …, "jitter_ms": …, "loss": …}`` read at start and again on ``SIGHUP`` (so one
topology runs with and without impairment). The devices exist while this process runs: when it
ends, the kernel removes them, wherever they are.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import random
import signal
import struct
import sys
from pathlib import Path

import orjson

TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
#: Larger than any frame a TAP device without offloads hands over (MTU 1500 + header).
FRAME_MAX = 65536


def open_tap(name: str) -> int:
    """Create (and attach to) the TAP device ``name``; returns its non-blocking descriptor."""
    descriptor = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(descriptor, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
    os.set_blocking(descriptor, False)
    return descriptor


class Wire:
    """Copies frames both ways between pairs of TAP devices, impaired by the settings."""

    def __init__(self, settings: Path, pairs: list[tuple[str, str]]) -> None:
        self.settings_path = settings
        self.delay_s = self.jitter_s = self.loss = 0.0
        self.rng = random.Random()
        self.reload()
        self.descriptors = [(open_tap(a), open_tap(b)) for a, b in pairs]

    def reload(self) -> None:
        settings = orjson.loads(self.settings_path.read_bytes())
        self.delay_s = float(settings.get("delay_ms", 0)) / 1000
        self.jitter_s = float(settings.get("jitter_ms", 0)) / 1000
        self.loss = float(settings.get("loss", 0))

    def forward(self, source: int, target: int) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                frame = os.read(source, FRAME_MAX)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # the device went away (the namespace was deleted)
                loop.remove_reader(source)
                return
            if self.loss and self.rng.random() < self.loss:
                continue
            delay = self.delay_s
            if self.jitter_s:
                delay += self.rng.uniform(-self.jitter_s, self.jitter_s)
            if delay <= 0:
                _write(target, frame)
            else:
                loop.call_later(delay, _write, target, frame)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for a, b in self.descriptors:
            loop.add_reader(a, self.forward, a, b)
            loop.add_reader(b, self.forward, b, a)
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGINT, stop.set)
        print("ready", flush=True)  # the devices exist: the harness may move and address them
        await stop.wait()


def _write(target: int, frame: bytes) -> None:
    # A full queue or a device that is down drops the frame, as a busy wire would.
    with contextlib.suppress(OSError):
        os.write(target, frame)


def main(argv: list[str]) -> None:
    settings, *links = argv
    pairs = [(a, b) for a, b in (link.split(":", 1) for link in links)]
    asyncio.run(Wire(Path(settings), pairs).run())


if __name__ == "__main__":
    main(sys.argv[1:])
