"""``livequiz serve --workers N``: N server processes on one port, kept running.

Each worker is an ordinary ``livequiz serve`` over the same PostgreSQL and NATS, binding the
port with SO_REUSEPORT, so the kernel spreads new connections over them; any worker takes any
player (the router finds each quiz's owner). The supervisor only starts them, restarts one that
dies (its quizzes move to the others within a lease meanwhile), and passes SIGTERM/SIGINT on
for a graceful stop. Why processes and not threads: one event loop per core is what livequiz
is built on, and the GIL would serialise threads.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from types import FrameType

#: A worker that dies sooner than this after its start is not restarted in a tight loop.
RESTART_BACKOFF_S = 1.0


def supervise(count: int, argv: list[str]) -> int:
    """Run ``count`` workers of ``livequiz <argv>`` until SIGTERM/SIGINT; returns the exit
    status (0 after a graceful stop)."""
    command = [sys.executable, "-m", "livequiz", *argv]
    stopping = False

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signum)

    workers = [subprocess.Popen(command) for _ in range(count)]
    started = [time.monotonic()] * count
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while not stopping:
            time.sleep(0.2)
            for index, worker in enumerate(workers):
                if stopping or worker.poll() is None:
                    continue
                if time.monotonic() - started[index] < RESTART_BACKOFF_S:
                    time.sleep(RESTART_BACKOFF_S)
                print(
                    f"livequiz: worker {worker.pid} exited ({worker.returncode}); restarting",
                    file=sys.stderr,
                    flush=True,
                )
                workers[index] = subprocess.Popen(command)
                started[index] = time.monotonic()
        for worker in workers:
            worker.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
