"""Metrics and structured logs.

Metrics are Prometheus collectors in one registry per server (so tests can run several servers in
one process and read each one's figures). Logs are one JSON object per line on stderr, with the
quiz and player ids as fields; no token, key or message body is ever logged — :class:`JsonFormatter`
only writes the fields it is given, and callers pass ids, codes and counts, never secrets.
"""

from __future__ import annotations

import gc
import logging
import math
import os
import sys
import time
import weakref
from pathlib import Path
from typing import Any

import orjson
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)

#: Latency buckets in seconds, from 0.1 ms (an answer scored in memory) to 2.5 s.
_LATENCY = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
)

#: Answer → every board: a tick (100 ms) and a round of fan-out; the objective is 300 ms.
_BOARD_DELAY = (0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0)


class Metrics:
    """Every figure livequiz exports on ``/metrics``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        # The process's CPU time, memory and open files (process_*): what the saturation
        # alerts of deploy/alerts.yml watch. Read from /proc at each scrape, nothing per answer.
        ProcessCollector(registry=r)
        self.connections = Gauge("livequiz_connections", "Open WebSocket connections", registry=r)
        self.ready = Gauge(
            "livequiz_ready",
            "1 if this process can do its work now, 0 if not: what /readyz answers (started, its "
            "storage and bus reachable), checked at each scrape",
            registry=r,
        )
        self.quizzes = Gauge(
            "livequiz_quizzes_live",
            "Quizzes not yet finished that this process serves (owns or keeps a copy of)",
            registry=r,
        )
        self.quizzes_created = Counter("livequiz_quizzes_created", "Quizzes created", registry=r)
        self.quizzes_loaded = Gauge(
            "livequiz_quizzes_loaded",
            "Quizzes whose session this process holds in memory, live or finished (finished "
            "ones leave after --finished-retention-s: flat over a long day)",
            registry=r,
        )
        self.quizzes_evicted = Counter(
            "livequiz_quizzes_evicted",
            "Finished quizzes dropped from this process's memory after their retention "
            "(their results stay in the journal and are loaded again when asked for)",
            registry=r,
        )
        self.joins = Counter("livequiz_joins", "Players joined", ["via"], registry=r)
        self.answers = Counter(
            "livequiz_answers", "Answers received, by outcome", ["outcome"], registry=r
        )
        self.scoring_seconds = Histogram(
            "livequiz_batch_seconds",
            "Time to apply one batch of commands and make it durable",
            buckets=_LATENCY,
            registry=r,
        )
        self.batch_size = Histogram(
            "livequiz_batch_commands",
            "Commands per durable batch",
            buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000),
            registry=r,
        )
        self.ack_seconds = Histogram(
            "livequiz_ack_seconds",
            "From an answer frame's arrival to its acknowledgement being sent",
            buckets=_LATENCY,
            registry=r,
        )
        self.tick_seconds = Histogram(
            "livequiz_tick_seconds",
            "Time to take one round of leaderboard snapshots and hand them to the bus",
            buckets=_LATENCY,
            registry=r,
        )
        self.tick_lag_seconds = Histogram(
            "livequiz_tick_lag_seconds",
            "How late a leaderboard tick started against its schedule",
            buckets=_LATENCY,
            registry=r,
        )
        self.board_delay_seconds = Histogram(
            "livequiz_board_delay_seconds",
            "From the oldest answer a leaderboard is the first to show (its batch stored, or "
            "applied on a copy) to that board, or a newer one that took its round over, "
            "written to every connection of the quiz on this process: one per board showing "
            "new answers, its slowest",
            buckets=_BOARD_DELAY,
            registry=r,
        )
        self.board_frames_waiting = Gauge(
            "livequiz_board_frames_waiting",
            "Leaderboard frames queued for this process's connections (high for long: the "
            "process is bound by fan-out)",
            registry=r,
        )
        self.frames_sent = Counter(
            "livequiz_frames_sent", "Frames sent to clients", ["kind"], registry=r
        )
        self.frames_dropped = Counter(
            "livequiz_frames_dropped",
            "Shared frames dropped for clients too slow to read them",
            registry=r,
        )
        self.handshakes_refused = Counter(
            "livequiz_websocket_handshakes_refused",
            "WebSocket upgrades answered with an HTTP error instead of 101, by status: 400 (not "
            "a valid upgrade), 403 (Origin not allowed), 404 (not /ws), 429 (too many "
            "connections from the address), 503 (the process is full, or still starting)",
            ["status"],
            registry=r,
        )
        self.http_closed = Counter(
            "livequiz_http_connections_closed",
            "Plain HTTP connections the transport closed or refused, by reason: head_timeout "
            "(no whole request head in time: slowloris), body_timeout (a head, then no whole "
            "body in time: a slow POST), idle_timeout (kept alive, unused), "
            "evicted (gave way to a new one at a cap), refused_address / refused_full (at a "
            "cap with every connection busy), refused_rate (its address opened new connections "
            "over its budget), malformed (the parser refused the request), too_large (a body "
            "over the limit)",
            ["reason"],
            registry=r,
        )
        self.http_connections = Gauge(
            "livequiz_http_connections", "Open plain HTTP connections (not WebSocket)", registry=r
        )
        self.http_requests_waiting = Gauge(
            "livequiz_http_requests_waiting",
            "HTTP requests with a complete head waiting for a turn of the event loop to begin "
            "(at most http_requests_per_turn begin per turn)",
            registry=r,
        )
        self.http_reads_waiting = Gauge(
            "livequiz_http_reads_waiting",
            "Plain HTTP connections whose received data waits for a turn of the event loop "
            "(at most http_reads_per_turn are handled per turn)",
            registry=r,
        )
        self.errors = Counter(
            "livequiz_errors", "Errors sent to clients, by code", ["code"], registry=r
        )
        self.quizzes_owned = Gauge(
            "livequiz_quizzes_owned", "Live quizzes this process owns (runs)", registry=r
        )
        self.takeovers = Counter(
            "livequiz_quiz_takeovers",
            "Quizzes this process took over after their owner stopped renewing its lease",
            registry=r,
        )
        self.leases_lost = Counter(
            "livequiz_leases_lost",
            "Quizzes this process lost to another (it was paused or cut off past its lease)",
            registry=r,
        )
        self.storage_failures = Counter(
            "livequiz_storage_failures",
            "Batches that could not be stored (refused as unavailable, never acknowledged)",
            registry=r,
        )
        self.routed = Counter(
            "livequiz_routed_batches",
            "Batches of commands sent to a quiz's owner in another process, by result",
            ["result"],
            registry=r,
        )
        self.catch_ups = Counter(
            "livequiz_log_catch_ups",
            "Times this process's copy of a quiz missed the owner's log and read the journal",
            registry=r,
        )

        self.gc_pause_seconds = Histogram(
            "livequiz_gc_pause_seconds",
            "How long each garbage collection held the process (and its event loop), by "
            "generation: a full collection of a big process is a pause every client feels",
            ["generation"],
            buckets=_LATENCY,
            registry=r,
        )
        _watch_collections(self.gc_pause_seconds)
        # Registered by watch_data_dir only (the embedded default with a data directory).
        self.data_dir_free_bytes = Gauge(
            "livequiz_data_dir_free_bytes",
            "Space left for the journal on the data directory's file system (what an "
            "unprivileged process may still write); at none, answers are refused as "
            "unavailable. The embedded default only",
            registry=None,
        )
        self.data_dir_size_bytes = Gauge(
            "livequiz_data_dir_size_bytes",
            "Size of the data directory's file system. The embedded default only",
            registry=None,
        )
        self.loop_stalls = Counter(
            "livequiz_event_loop_stalls",
            "Times the event loop did not turn for --stall-warning-s or longer (each logged "
            "with the stack that held it): every client of the process waited",
            registry=r,
        )

    def watch_data_dir(self, data_dir: Path) -> None:
        """Export the space left where the journal is written (the embedded default only: on
        PostgreSQL or with ``--memory`` livequiz writes nothing of its own, and a 0 there would
        read as a full disk). Read at each scrape; a full disk refuses answers as
        ``unavailable``, so this is the warning before it."""

        def space(field: str) -> float:
            try:
                usage = os.statvfs(data_dir)
            except OSError:
                return math.nan  # the directory has gone: no figure rather than a wrong one
            blocks = usage.f_bavail if field == "free" else usage.f_blocks
            return float(blocks * usage.f_frsize)

        self.data_dir_free_bytes.set_function(lambda: space("free"))
        self.data_dir_size_bytes.set_function(lambda: space("size"))
        self.registry.register(self.data_dir_free_bytes)
        self.registry.register(self.data_dir_size_bytes)

    def render(self) -> bytes:
        return generate_latest(self.registry)


#: Every live server's pause histogram: the collector is one per process, servers may be many
#: (tests run several in one process).
_gc_histograms: weakref.WeakSet[Histogram] = weakref.WeakSet()
_gc_started = 0.0


def _watch_collections(histogram: Histogram) -> None:
    _gc_histograms.add(histogram)
    if _on_collection not in gc.callbacks:
        gc.callbacks.append(_on_collection)


def _on_collection(phase: str, info: dict[str, int]) -> None:
    global _gc_started
    if phase == "start":
        _gc_started = time.perf_counter()
        return
    paused = time.perf_counter() - _gc_started
    generation = str(info["generation"])
    for histogram in list(_gc_histograms):
        histogram.labels(generation).observe(paused)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the record's ``extra`` fields."""

    _STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in self._STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def configure_logging(level: str = "info") -> None:
    """Send every livequiz log line to stderr as JSON."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access", "uvicorn.error"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
