"""Micro-benchmark: what it costs to watch 10,000 sockets' kernel send queues (Linux only).

Not a test. Run: ``.venv/bin/python bench/kernel_queue_micro.py [--count 10000]``.

A client that never reads leaves what the server writes in the kernel's socket send buffer,
which autotuning lets grow to several MiB, out of sight of the transport's slow-client limits
(docs/reliability.md, part 5). Two ways to bring those bytes back under the limits were
weighed, and this measures both on ``--count`` loopback TCP connections (the clients live in a
child process, so each process holds ``--count`` descriptors):

* ``SIOCOUTQ`` (``fcntl.ioctl(fd, termios.TIOCOUTQ, buf)``): the bytes a socket has not yet had
  acknowledged, read once a second for every connection by the housekeeping timer. Reported:
  the time of one sweep over all the sockets (a Python loop, as the timer would run it), per
  socket, and as a share of one core at one sweep a second.
* ``TCP_NOTSENT_LOWAT`` (what the transport does, ``TransportLimits.socket_notsent_lowat_bytes``):
  one ``setsockopt`` per connection when it opens, after which the kernel itself refuses to
  queue more than about that many unsent bytes, and the rest waits in the transport's own
  buffer where the limits count it. Nothing runs per tick. Reported: the one-off cost per
  connection.

Half of the sockets are given a backlog first (their client never reads), so the ioctl reads
both empty and non-empty queues (the clients' receive buffers are 4 KiB, so most of the
8 KiB stays in the server's queue).
"""

from __future__ import annotations

import argparse
import array
import fcntl
import multiprocessing as mp
import os
import socket
import statistics
import sys
import termios
import time
from multiprocessing.connection import Connection as Pipe


def clients(port: int, count: int, pipe: Pipe) -> None:
    """Open ``count`` connections and hold them, never reading, until told to stop."""
    held = []
    for _ in range(count):
        sock = socket.socket()
        # A small receive window, so the backlog below stays in the server's send queue.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", port))
        held.append(sock)
    pipe.send("connected")
    pipe.recv()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--sweeps", type=int, default=20)
    args = parser.parse_args()
    if not sys.platform.startswith("linux"):
        sys.exit("Linux only (SIOCOUTQ, TCP_NOTSENT_LOWAT)")
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(4096)
    ours, theirs = mp.Pipe()
    child = mp.get_context("fork").Process(
        target=clients, args=(listener.getsockname()[1], args.count, theirs)
    )
    child.start()
    accepted = [listener.accept()[0] for _ in range(args.count)]
    assert ours.recv() == "connected"
    backlog = b"b" * 1024
    for sock in accepted[::2]:
        sock.setblocking(False)
        for _ in range(8):
            sock.send(backlog)
    fds = [sock.fileno() for sock in accepted]

    # SIOCOUTQ, as the housekeeping timer would read it: one ioctl per connection per sweep.
    buf = array.array("i", [0])
    ioctl, request = fcntl.ioctl, termios.TIOCOUTQ
    sweeps = []
    total = 0
    for _ in range(args.sweeps):
        began = time.perf_counter()
        for fd in fds:
            ioctl(fd, request, buf, True)
            total += buf[0]
        sweeps.append(time.perf_counter() - began)
    assert total > 0
    median = statistics.median(sweeps)
    print(
        f"SIOCOUTQ over {args.count:,} sockets: {median * 1e3:.2f} ms a sweep "
        f"(min {min(sweeps) * 1e3:.2f}, max {max(sweeps) * 1e3:.2f}, {args.sweeps} sweeps), "
        f"{median / args.count * 1e6:.2f} µs a socket: {median * 100:.2f} % of a core "
        "at one sweep a second"
    )

    # TCP_NOTSENT_LOWAT: one setsockopt per connection, at open.
    rounds = []
    for _ in range(5):
        began = time.perf_counter()
        for sock in accepted:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NOTSENT_LOWAT, 16384)
        rounds.append(time.perf_counter() - began)
    per = statistics.median(rounds) / args.count
    print(
        f"TCP_NOTSENT_LOWAT: {per * 1e6:.2f} µs a connection, once at open "
        f"({per * args.count * 1e3:.1f} ms for {args.count:,}); nothing per tick"
    )
    ours.send("stop")
    child.join()
    for sock in accepted:
        sock.close()
    print(f"(pid {os.getpid()}, load average {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main()
