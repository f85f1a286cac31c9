"""A watchdog for the event loop: says when it stops turning, and where it was stuck.

Everything a livequiz process does for its clients runs on one event loop: while one callback
runs, no answer is acknowledged, no board written, no health check answered. A loop held for
seconds looks from outside like a dead server (health checks time out, clients reconnect),
yet leaves nothing in the log, and the tick-lag histogram only shows it once the loop turns
again, without saying what held it. A benchmark saw exactly that once: a `GET /metrics`
timed out after 5 s and the server wrote nothing for 15 s (docs/reliability.md, section 5).

:class:`StallWatch` keeps a heartbeat on the loop (a callback every ``period``) and checks it
from a thread of its own. When the heartbeat is older than the threshold, it logs one warning
with the stack of the loop's thread as it is at that moment (what is holding the loop), and
counts it in ``livequiz_event_loop_stalls_total``; when the loop turns again, one more line
says how long it was held. A stall is reported once, however long it lasts.

The thread needs the GIL to look: a stall inside C code that holds the GIL (a long garbage
collection) is reported only once that code lets go, with its length still right.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
import traceback
from collections.abc import Callable

log = logging.getLogger("livequiz.stall_watch")

#: The default threshold (``--stall-warning-s``): the longest pause a healthy process shows
#: is a full garbage collection of 10,000 players, 200–350 ms (docs/benchmarks.md); a second
#: is already a stall every client notices.
DEFAULT_THRESHOLD_S = 1.0
#: Frames of the loop's stack logged, innermost last (enough to see the callback and what it
#: called, without a page of asyncio's own frames).
STACK_LIMIT = 30


class StallWatch:
    """Watches ``loop`` from a daemon thread; ``on_stall`` runs (in that thread) once per
    stall, e.g. to count it. Start it from the loop's own thread."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        threshold_s: float = DEFAULT_THRESHOLD_S,
        *,
        on_stall: Callable[[], None] | None = None,
    ) -> None:
        if threshold_s <= 0:
            raise ValueError("the stall threshold must be positive")
        self.loop = loop
        self.threshold_s = threshold_s
        #: Heartbeats and checks come four times per threshold: a stall is seen between
        #: 1 and 1.25 thresholds after the loop's last turn.
        self.period_s = threshold_s / 4
        self.on_stall = on_stall
        #: Stalls reported since the start.
        self.stalls = 0
        self._last_turn = time.monotonic()
        self._loop_thread_id = threading.get_ident()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._heartbeat: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self._loop_thread_id = threading.get_ident()
        self._beat()
        self._thread = threading.Thread(
            target=self._watch, name="livequiz-stall-watch", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._heartbeat is not None:
            self._heartbeat.cancel()
        if self._thread is not None:
            self._thread.join(timeout=self.period_s * 4)

    def _beat(self) -> None:
        self._last_turn = time.monotonic()
        self._heartbeat = self.loop.call_later(self.period_s, self._beat)

    def _watch(self) -> None:
        stalled_since: float | None = None
        while not self._stopped.wait(self.period_s):
            last_turn = self._last_turn
            held = time.monotonic() - last_turn
            if stalled_since is None and held > self.threshold_s:
                stalled_since = last_turn
                self._report(held)
            elif stalled_since is not None and last_turn > stalled_since:
                log.warning(
                    "the event loop turns again",
                    extra={"held_s": round(last_turn - stalled_since, 3)},
                )
                stalled_since = None

    def _report(self, held: float) -> None:
        self.stalls += 1
        frame = sys._current_frames().get(self._loop_thread_id)
        stack = "".join(traceback.format_stack(frame, limit=STACK_LIMIT)) if frame else ""
        held_s = round(held, 3)  # to the millisecond: a threshold under 0.1 s must not say 0.0
        log.warning(
            "the event loop has not turned for %g s: every client of this process waits",
            held_s,
            extra={"held_s": held_s, "stack": stack},
        )
        if self.on_stall is not None:
            self.on_stall()
