"""``livequiz serve`` as a user starts it: its own process, ready once ``/readyz`` answers.

For tests of what only a real process shows (the command line, settings from a file or the
environment, a clean stop on SIGTERM). Tests of the server's behaviour run it in their own
event loop instead (:mod:`tests.server`), which is faster and lets them look inside.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

#: A cold start imports the deck and the pages; on a loaded 2-core machine that takes seconds.
READY_WITHIN_S = 60.0


def free_port() -> int:
    """A TCP port nothing listens on now (the server binds it a moment later)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@dataclass
class Served:
    """The running process; once it has stopped, what it wrote to stderr (its JSON log)."""

    process: subprocess.Popen[str]
    stderr: str = ""


@contextmanager
def serving(argv: list[str], environ: Mapping[str, str], port: int) -> Iterator[Served]:
    """``livequiz serve ARGV`` with ``environ``, ready on ``port``; stopped by SIGTERM on exit,
    which must end it cleanly (exit status 0, no traceback in its log)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "livequiz", "serve", *argv],
        env=dict(environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    served = Served(proc)
    try:
        deadline = time.monotonic() + READY_WITHIN_S
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as ready:
                    assert ready.status == 200
                    break
            except OSError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "the server did not become ready"
                time.sleep(0.1)
        yield served
        proc.send_signal(signal.SIGTERM)
        _out, served.stderr = proc.communicate(timeout=30)
        assert proc.returncode == 0, served.stderr
        assert "Traceback" not in served.stderr
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
