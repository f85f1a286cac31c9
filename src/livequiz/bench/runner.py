"""The parent side of a benchmark run: quizzes, hosts, workers, server probes and the report.

The runner process does only what is cheap and needs one place: it creates the quizzes over
HTTP, drives each quiz as its host over one WebSocket (``start`` once every worker has its
players in, ``next`` after each ``closed``), reads the server's ``/metrics`` and its CPU and RSS
(``--server-pid``) between phases, and turns what the workers measured into the report. The
players themselves — the expensive part — live in worker processes (:mod:`.worker`).

Several servers (``--server`` repeated: processes of one deployment sharing PostgreSQL and NATS):
quiz *i* is created on server *i mod S* — its creator owns it, so many quizzes spread their
ownership over the processes as quizzes created behind a load balancer would — and its host
connects there; each worker's players of each quiz go round-robin over the servers, so every
quiz and every worker has players on every server (see :func:`_plan`). Each server's
``/metrics`` is read and the counters summed; each ``--server-pid``'s CPU and RSS are reported
and summed. Board sequence numbers are the quiz's, whichever process sent the board, so "seen on
every board" and the recount work unchanged; a host whose ``final`` did not arrive has its
results read over HTTP from any server that answers.

Phases: *connect* (workers connect and join their players over the WebSocket), then *play*
(the hosts start; it ends when every player has its ``final``), *leave* (``join-storm``: close
at once) or *hold* (``idle``: stay connected for ``hold_s``, doing nothing). The server's
figures are read at each boundary, so every phase has its own deltas.

Time is ``time.perf_counter()`` everywhere, in every process: ``CLOCK_MONOTONIC`` on Linux, so a
worker's receipt time and the runner's play start compare directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import math
import multiprocessing
import queue as queue_module
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import psutil  # type: ignore[import-untyped]
from websockets.asyncio.client import ClientConnection, connect

from livequiz.bench.board_all import VisibleToAll, merge_min_seen, merge_transitions
from livequiz.bench.stats import peak_per_second, subsample, summary
from livequiz.bench.worker import worker_main

__all__ = ["SCENARIOS", "BenchConfig", "run_bench"]

#: scenario → what follows the connect phase: questions are played, or the players stay
#: connected doing nothing (``hold``), or leave at once (``leave``)
SCENARIOS = {
    "one-big-quiz": "play",
    "many-small-quizzes": "play",
    "join-storm": "leave",
    "idle": "hold",
}
#: a process may hold ~19,900 sockets (``ulimit -n`` is 20,000): keep a margin
PLAYERS_PER_WORKER = 15_000
#: one local address reaches one server port from ~28,000 ephemeral ports: keep a margin
PLAYERS_PER_ADDRESS = 25_000
#: the server accepts an answer this long after the deadline (``QuizSettings.grace_ms``)
GRACE_S = 0.5
_BOARD_END = b'"type":"board"}'


@dataclass(frozen=True, slots=True)
class BenchConfig:
    """One run. ``quizzes × players_per_quiz`` players in total."""

    #: one base URL, or several (processes of one deployment): see :attr:`servers`
    server: str | tuple[str, ...] = "http://127.0.0.1:8000"
    scenario: str = "one-big-quiz"
    quizzes: int = 1
    players_per_quiz: int = 100
    questions: int = 3
    #: think times are spread over this many seconds after a question arrives
    window_s: float = 5.0
    #: the question's time limit is the window plus this margin (absorbs a slow server)
    margin_s: float = 2.0
    wrong_rate: float = 0.3
    duplicate_rate: float = 0.05
    #: ``None``: close a question at its time limit, except for ``many-small-quizzes``, which
    #: closes as soon as everyone has answered (throughput: the next question follows at once)
    close_when_all_answered: bool | None = None
    #: ``idle``: how long everyone stays connected
    hold_s: float = 10.0
    #: worker processes; ``None``: ``max(2, ceil(players / 15,000))``
    workers: int | None = None
    #: connects + joins in flight, per worker
    connect_concurrency: int = 256
    #: local addresses to spread the players over; ``None``: the kernel's choice, or
    #: 127.0.0.1, 127.0.0.2 … past 25,000 players on a loopback server
    source_addresses: tuple[str, ...] | None = None
    #: the server processes whose CPU and RSS are measured (and summed)
    server_pid: int | tuple[int, ...] | None = None
    #: give up on a play after this many seconds; ``None``: from the questions and time limit
    deadline_s: float | None = None
    #: at most this many ``[t, ms]`` pairs per latency series in ``samples``
    sample_limit: int = 20_000
    seed: int = 1

    @property
    def servers(self) -> tuple[str, ...]:
        """Every server's base URL, the first one first."""
        return (self.server,) if isinstance(self.server, str) else tuple(self.server)

    @property
    def server_pids(self) -> tuple[int, ...]:
        if self.server_pid is None:
            return ()
        return (self.server_pid,) if isinstance(self.server_pid, int) else tuple(self.server_pid)

    @property
    def players(self) -> int:
        return self.quizzes * self.players_per_quiz

    @property
    def phase(self) -> str:
        """The phase after connecting: ``play``, ``hold`` or ``leave``."""
        return SCENARIOS[self.scenario]

    @property
    def plays(self) -> bool:
        return self.phase == "play"

    @property
    def time_limit_ms(self) -> int:
        # every think time ends inside the window; the margin absorbs a slow server
        return max(1000, math.ceil((self.window_s + self.margin_s) * 1000))

    @property
    def closes_when_all_answered(self) -> bool:
        if self.close_when_all_answered is not None:
            return self.close_when_all_answered
        return self.scenario == "many-small-quizzes"

    @property
    def worker_count(self) -> int:
        wanted = self.workers or max(2, math.ceil(self.players / PLAYERS_PER_WORKER))
        return max(1, min(wanted, self.players))

    @property
    def play_deadline_s(self) -> float:
        if self.deadline_s is not None:
            return self.deadline_s
        return self.questions * (self.time_limit_ms / 1000 + GRACE_S + 10) + 30

    def addresses(self) -> list[str | None]:
        """Where the players' sockets come from (``None``: let the kernel choose)."""
        if self.source_addresses:
            return list(self.source_addresses)
        hosts = [urlsplit(server).hostname or "" for server in self.servers]
        with contextlib.suppress(ValueError):
            loopback = all(ipaddress.ip_address(host).is_loopback for host in hosts)
            if loopback and self.players > PLAYERS_PER_ADDRESS:
                count = math.ceil(self.players / PLAYERS_PER_ADDRESS)
                return [f"127.0.0.{i}" for i in range(1, count + 1)]
        return [None]


def _ws_url(server: str) -> str:
    return (
        server.rstrip("/").replace("http://", "ws://", 1).replace("https://", "wss://", 1) + "/ws"
    )


# ---------------------------------------------------------------------- the server's side


async def _create_quizzes(
    https: list[httpx.AsyncClient], config: BenchConfig
) -> list[dict[str, Any]]:
    """``POST /api/quizzes`` for every quiz (a few at a time: 200 quizzes take a moment), quiz
    *i* on server *i mod S*: the creator owns the quiz, so ownership spreads over the processes
    as it does when quizzes are created behind a load balancer. Each created quiz gets
    ``server``, the index of the server it was created on (where its host connects)."""
    limit = asyncio.Semaphore(16)

    async def one(i: int) -> dict[str, Any]:
        body = {
            "title": f"bench {config.scenario} {i}",
            "count": config.questions,
            "seed": config.seed + i,
            "settings": {
                "time_limit_ms": config.time_limit_ms,
                "max_players": min(100_000, max(config.players_per_quiz, 1)),
                "close_when_all_answered": config.closes_when_all_answered,
            },
        }
        server = i % len(https)
        async with limit:
            response = await https[server].post("/api/quizzes", json=body)
        response.raise_for_status()
        created: dict[str, Any] = response.json()
        created["server"] = server
        return created

    return list(await asyncio.gather(*(one(i) for i in range(config.quizzes))))


#: one sample line of the Prometheus text format: ``name{labels} value``
_SAMPLE = re.compile(r"^(?P<name>livequiz_\w+?)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)$")
_LABEL_VALUE = re.compile(r'="((?:[^"\\]|\\.)*)"')
#: the counters whose deltas the report shows (``_total`` is added by the Prometheus client)
_COUNTERS = (
    "frames_sent",
    "frames_dropped",
    "answers",
    "errors",
    "joins",
    # many processes: batches sent to another process's quiz, takeovers, copies catching up
    "routed_batches",
    "quiz_takeovers",
    "log_catch_ups",
    "storage_failures",
)
#: Histograms read as their running sum and count (a delta of each is a total and a number).
_HISTOGRAMS = ("gc_pause_seconds",)
#: Histograms read bucket by bucket too (by ``le``: a delta of each is a distribution), with
#: their sum and count.
_BUCKETED = ("board_delay_seconds",)


async def _scrape(http: httpx.AsyncClient) -> dict[str, dict[str, float]] | None:
    """The server's counters by name and label (``all`` if unlabelled); ``None`` if unreadable.

    Parsed generically, so a label added or renamed on the server side still shows up.
    """
    try:
        response = await http.get("/metrics")
        response.raise_for_status()
    except httpx.HTTPError:
        return None
    figures: dict[str, dict[str, float]] = {}
    for line in response.text.splitlines():
        match = _SAMPLE.match(line)
        if match is None:
            continue
        name = match["name"].removeprefix("livequiz_")
        if name == "connections":
            figures.setdefault("connections", {})["all"] = float(match["value"])
            continue
        if name.endswith("_total") and name.removesuffix("_total") in _COUNTERS:
            name = name.removesuffix("_total")
        elif not name.endswith(("_bucket", "_sum", "_count")) or name.rpartition("_")[0] not in (
            _BUCKETED if name.endswith("_bucket") else _HISTOGRAMS + _BUCKETED
        ):
            continue
        label = ",".join(_LABEL_VALUE.findall(match["labels"] or "")) or "all"
        figures.setdefault(name, {})[label] = float(match["value"])
    return figures


Scrape = dict[str, dict[str, float]]


async def _scrape_all(https: list[httpx.AsyncClient]) -> list[Scrape | None]:
    """Every server's counters (one scrape each, at once)."""
    return list(await asyncio.gather(*(_scrape(http) for http in https)))


def _summed(scrapes: list[Scrape | None]) -> Scrape | None:
    """The counters of several servers added up; ``None`` if one of them was unreadable (a
    partial sum would pass for the whole)."""
    if any(scrape is None for scrape in scrapes):
        return None
    if len(scrapes) == 1:
        return scrapes[0]
    total: Scrape = {}
    for scrape in scrapes:
        assert scrape is not None
        for name, series in scrape.items():
            into = total.setdefault(name, {})
            for label, value in series.items():
                into[label] = into.get(label, 0.0) + value
    return total


def _deltas(
    before: dict[str, dict[str, float]] | None, after: dict[str, dict[str, float]] | None
) -> dict[str, dict[str, float]] | None:
    """What each counter grew by between two scrapes (only the ones that moved)."""
    if before is None or after is None:
        return None
    out: dict[str, dict[str, float]] = {}
    for name, series in after.items():
        if name == "connections":
            continue
        moved = {
            label: value - before.get(name, {}).get(label, 0.0)
            for label, value in sorted(series.items())
            if value != before.get(name, {}).get(label, 0.0)
        }
        if moved:
            out[name] = moved
    return out


class _ServerProcesses:
    """CPU seconds and RSS of the server processes whose pids are known (none, one or more)."""

    def __init__(self, pids: tuple[int, ...]) -> None:
        self.processes = [psutil.Process(pid) for pid in pids]
        #: each process's highest RSS seen, and the highest of their sum at one moment
        self.peaks = [0] * len(self.processes)
        self.peak_sum = 0

    def cpu(self) -> list[float]:
        return [float(t.user + t.system) for t in (p.cpu_times() for p in self.processes)]

    def rss(self) -> list[int]:
        values = [int(p.memory_info().rss) for p in self.processes]
        self.peaks = [max(peak, value) for peak, value in zip(self.peaks, values, strict=True)]
        self.peak_sum = max(self.peak_sum, sum(values))
        return values

    async def watch_peak(self) -> None:
        while self.processes:
            self.rss()
            await asyncio.sleep(0.25)


class _Host:
    """One quiz's host: ``start`` when told, ``next`` after each ``closed``, keeps ``final``."""

    def __init__(self, ws_url: str, token: str, quiz_id: str = "") -> None:
        self.ws_url = ws_url
        self.token = token
        self.quiz_id = quiz_id
        self.ready = asyncio.Event()
        self.final: dict[str, Any] | None = None
        #: where ``final`` came from: the host's own frame, or ``GET …/results`` on a server
        self.final_from: str | None = None
        self.errors: Counter[str] = Counter()

    async def run(self, start: asyncio.Event) -> None:
        async with connect(self.ws_url, compression=None, open_timeout=30, max_queue=None) as ws:
            await ws.send(orjson.dumps({"type": "hello", "token": self.token}).decode())
            await self._until_welcome(ws)
            self.ready.set()
            await start.wait()
            await ws.send(b'{"type":"host","action":"start"}', text=True)
            while True:
                data = await ws.recv(decode=False)
                if data.endswith(_BOARD_END):  # the host needs no board: skip the parse
                    continue
                frame = orjson.loads(data)
                kind = frame.get("type")
                if kind == "closed":
                    await ws.send(b'{"type":"host","action":"next"}', text=True)
                elif kind == "error":
                    self.errors[f"host:{frame.get('code')}"] += 1
                elif kind == "final":
                    self.final = frame["results"]
                    self.final_from = "frame"
                    return

    async def _until_welcome(self, ws: ClientConnection) -> None:
        while True:
            frame = orjson.loads(await ws.recv(decode=False))
            if frame.get("type") == "welcome":
                return
            if frame.get("type") == "error":
                raise RuntimeError(f"host hello refused: {frame.get('code')}")

    async def results_over_http(self, https: list[httpx.AsyncClient]) -> None:
        """No ``final`` frame came: read the quiz's results from the first server that gives
        them (any live process of a deployment serves every quiz's results)."""
        for index, http in enumerate(https):
            with contextlib.suppress(httpx.HTTPError, ValueError):
                response = await http.get(
                    f"/api/quizzes/{self.quiz_id}/results",
                    headers={"authorization": f"Bearer {self.token}"},
                )
                report = response.json() if response.status_code == 200 else None
                if isinstance(report, dict) and report.get("phase") == "finished":
                    self.final, self.final_from = report, f"http:{index}"
                    return


# ---------------------------------------------------------------------- the workers


@dataclass(slots=True)
class _Pool:
    """The worker processes and the two channels to them: a result queue and a stop event."""

    config: BenchConfig
    processes: list[Any] = field(default_factory=list)
    queue: Any = None
    stop: Any = None
    ready: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: storm mode: workers whose every player is back after a drop
    back: dict[int, dict[str, Any]] = field(default_factory=dict)
    results: dict[int, dict[str, Any]] = field(default_factory=dict)
    failures: dict[int, str] = field(default_factory=dict)

    def spawn(self, ws_urls: list[str], players: list[Planned], **extra: Any) -> None:
        """One worker process per share of ``players``; ``extra`` goes into every spec (the
        reconnect storm's mode and backoff)."""
        context = multiprocessing.get_context("spawn")
        self.queue, self.stop = context.Queue(), context.Event()
        count = self.config.worker_count
        for index in range(count):
            spec = {
                "index": index,
                "mode": self.config.phase,
                "ws_urls": ws_urls,
                "players": players[index::count],
                "window_s": self.config.window_s,
                "wrong_rate": self.config.wrong_rate,
                "duplicate_rate": self.config.duplicate_rate,
                "connect_concurrency": self.config.connect_concurrency,
                "seed": self.config.seed * 1000 + index,
                **extra,
            }
            process = context.Process(
                target=worker_main, args=(spec, self.queue, self.stop), daemon=True
            )
            process.start()
            self.processes.append(process)

    @property
    def pending(self) -> int:
        return len(self.processes) - len(self.results) - len(self.failures)

    async def _next(self, timeout: float) -> bool:
        """Take one message (``False`` on timeout); notices a worker that died silently."""
        loop = asyncio.get_running_loop()
        try:
            kind, index, payload = await loop.run_in_executor(None, self.queue.get, True, timeout)
        except queue_module.Empty:
            for index, process in enumerate(self.processes):
                gone = index not in self.results and index not in self.failures
                if gone and not process.is_alive():
                    self.failures[index] = f"exited with code {process.exitcode}"
            return False
        if kind == "ready":
            self.ready[index] = payload
        elif kind == "back":
            self.back[index] = payload
        elif kind == "result":
            self.results[index] = payload
        else:
            self.failures[index] = payload
        return True

    async def wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while len(self.ready) + len(self.failures) < len(self.processes):
            if time.monotonic() > deadline:
                return False
            await self._next(1.0)
        return True

    async def wait_results(self, timeout: float) -> None:
        """Every result; past ``timeout`` the workers are told to stop and report what they
        have (players without a ``final`` are then counted as missing)."""
        deadline = time.monotonic() + timeout
        while self.pending > 0:
            if time.monotonic() > deadline and not self.stop.is_set():
                self.stop.set()
                deadline = time.monotonic() + 30
            elif time.monotonic() > deadline:
                for index in range(len(self.processes)):
                    if index not in self.results:
                        self.failures.setdefault(index, "no result")
                return
            await self._next(1.0)

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        if self.stop is not None:
            self.stop.set()
        for process in self.processes:
            await loop.run_in_executor(None, process.join, 10)
            if process.is_alive():
                process.kill()
                await loop.run_in_executor(None, process.join, 5)
        if self.queue is not None:
            self.queue.close()
            self.queue.join_thread()


#: one player: ``(quiz index, PIN, nickname, local address, server index)``
Planned = tuple[int, str, str, str | None, int]


def _plan(config: BenchConfig, quizzes: list[dict[str, Any]]) -> list[Planned]:
    """Every player, quizzes interleaved so each worker gets a share of every quiz.

    Worker *w* gets players ``w, w + W, w + 2W …`` (:meth:`_Pool.spawn`); the servers go
    round-robin over each worker's players of each quiz, so every quiz is split evenly over the
    servers and so is every worker (a plain round-robin over the list would tie worker to
    server, or quiz to server, whenever the counts share a factor)."""
    addresses = config.addresses()
    servers, workers = len(config.servers), config.worker_count
    turns: Counter[tuple[int, int]] = Counter()
    players: list[Planned] = []
    for n in range(config.players_per_quiz):
        for q, quiz in enumerate(quizzes):
            address = addresses[len(players) % len(addresses)]
            turn = (len(players) % workers, q)
            server = turns[turn] % servers
            turns[turn] += 1
            players.append((q, str(quiz["pin"]), f"b{q}_{n}", address, server))
    return players


# ---------------------------------------------------------------------- a run


async def run_bench(config: BenchConfig) -> dict[str, Any]:
    """Run one benchmark against ``config.servers`` and return the measured figures."""
    if config.scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {config.scenario!r}")
    if not config.servers:
        raise ValueError("no server to run against")
    ws_urls = [_ws_url(url) for url in config.servers]
    server = _ServerProcesses(config.server_pids)
    errors: Counter[str] = Counter()
    phases: dict[str, float] = {}
    async with contextlib.AsyncExitStack() as stack:
        https = [
            await stack.enter_async_context(httpx.AsyncClient(base_url=url, timeout=60))
            for url in config.servers
        ]
        quizzes = await _create_quizzes(https, config)
        metrics0, rss0, cpu0 = await _scrape_all(https), server.rss(), server.cpu()
        machine0 = psutil.cpu_times()
        pool = _Pool(config)
        start = asyncio.Event()
        hosts = (
            [
                _Host(ws_urls[quiz["server"]], quiz["host_token"], str(quiz.get("quiz_id", "")))
                for quiz in quizzes
            ]
            if config.plays
            else []
        )
        host_tasks = [asyncio.create_task(host.run(start)) for host in hosts]
        watcher = asyncio.create_task(server.watch_peak())
        try:
            t0 = time.perf_counter()
            pool.spawn(ws_urls, _plan(config, quizzes))
            if not await pool.wait_ready(timeout=120 + config.players / 50):
                errors["connect:timeout"] += 1
            for host, task in zip(hosts, host_tasks, strict=True):
                ready = asyncio.create_task(host.ready.wait())
                await asyncio.wait({ready, task}, timeout=30, return_when="FIRST_COMPLETED")
                ready.cancel()
            phases["connect_s"] = time.perf_counter() - t0
            metrics1, rss1, cpu1 = await _scrape_all(https), server.rss(), server.cpu()
            machine1 = psutil.cpu_times()
            t_play = time.perf_counter()
            if any(task.done() for task in host_tasks):  # a host failed: nothing would start
                pool.stop.set()
                await pool.wait_results(60)
            elif config.plays:
                start.set()
                await pool.wait_results(config.play_deadline_s)
            else:
                if config.scenario == "idle":
                    await asyncio.sleep(config.hold_s)
                pool.stop.set()
                await pool.wait_results(60)
            t_end = time.perf_counter()
            cpu2, rss2, machine2 = server.cpu(), server.rss(), psutil.cpu_times()
            if host_tasks:
                await asyncio.wait(host_tasks, timeout=10)
            for host, task in zip(hosts, host_tasks, strict=True):
                if not task.done():
                    errors["host:no_final"] += 1
                elif task.exception() is not None:  # a failed host is a counted error
                    errors[f"host:{type(task.exception()).__name__}"] += 1
                errors.update(host.errors)
                if host.final is None:  # still counted above: the recount reads it elsewhere
                    await host.results_over_http(https)
            metrics2 = await _scrape_all(https)
        finally:
            watcher.cancel()
            for task in host_tasks:
                task.cancel()
            await pool.close()

    parts = [pool.results[i] for i in sorted(pool.results)]
    for _, failure in sorted(pool.failures.items()):
        errors[f"worker:{failure.strip().splitlines()[-1][:80]}"] += 1
    done = [r["t_done"] for r in parts if r.get("t_done")]
    phases["play_s"] = (max(done) if done and config.plays else t_end) - t_play
    if config.scenario == "idle":
        phases["hold_s"] = t_end - t_play
    probes = {
        "metrics": (metrics0, metrics1, metrics2),
        "cpu": (cpu0, cpu1, cpu2),
        "rss": (rss0, rss1, rss2),
        "machine": (machine0, machine1, machine2),
    }
    return _report(config, parts, hosts, errors, phases, t_play, probes, server)


# ---------------------------------------------------------------------- the report


def _report(
    config: BenchConfig,
    parts: list[dict[str, Any]],
    hosts: list[_Host],
    errors: Counter[str],
    phases: dict[str, float],
    t_play: float,
    probes: dict[str, Any],
    server: _ServerProcesses,
) -> dict[str, Any]:
    refused: Counter[str] = Counter()
    for part in parts:
        errors.update(part["errors"])
        refused.update(part["refused"])
    no_reply = sum(part["pending"] for part in parts)
    if no_reply:
        errors["answer:no_reply"] += no_reply
    play_s = phases["play_s"]
    joins = _joins(config, parts)
    result: dict[str, Any] = {
        "config": _config_dict(config, len(parts)),
        "phase": config.phase,
        "joins": joins,
        "joined": joins["joined"],
        "connect_s": phases["connect_s"],
        "play_s": play_s if config.plays else None,
        "hold_s": phases.get("hold_s"),
        "leave_s": max((p["leave_s"] for p in parts), default=None),
    }
    if config.plays:
        result.update(_play(config, parts, refused, play_s, t_play))
        result["recount"] = _recount(parts, hosts)
        result["host_results_from"] = dict(
            sorted(Counter(host.final_from or "none" for host in hosts).items())
        )
    result["frames"] = {
        "connect": _frames(parts, "connect", joins["seconds"]),
        config.phase: _frames(parts, "play", play_s),
    }
    scrapes = probes["metrics"]
    result["server_metrics"] = _metric_deltas(config.phase, *(_summed(s) for s in scrapes))
    if len(config.servers) > 1:
        result["server_metrics"]["by_server"] = [
            dict(_metric_deltas(config.phase, *one), server=url)
            for url, one in zip(config.servers, zip(*scrapes, strict=True), strict=True)
        ]
    result["server_process"] = _server_figures(
        server, probes["cpu"], probes["rss"], phases, joins, config.servers
    )
    if result["server_process"] is not None:
        # what one accepted answer cost the server processes, all of them, during the play
        accepted = result.get("accepted")
        cpu_play = result["server_process"]["cpu_play_s"]
        result["server_process"]["cpu_ms_per_answer"] = (
            cpu_play * 1000 / accepted if accepted else None
        )
    result["generator"] = _generator(parts, play_s, joins["seconds"])
    machine = probes["machine"]
    result["machine"] = {
        "connect": _machine(machine[0], machine[1]),
        config.phase: _machine(machine[1], machine[2]),
    }
    result["errors"] = dict(sorted(errors.items()))
    missing = result.get("missing_finals", 0)
    mismatches = result.get("recount", {}).get("mismatches", 0)
    result["ok"] = not errors and not missing and not mismatches
    return result


def _metric_deltas(
    phase: str, before: Scrape | None, connected: Scrape | None, after: Scrape | None
) -> dict[str, Any]:
    return {
        "connect": _deltas(before, connected),
        phase: _deltas(connected, after),
        "connections_after_connect": (connected or {}).get("connections", {}).get("all"),
    }


def _config_dict(config: BenchConfig, workers: int) -> dict[str, Any]:
    servers = config.servers
    return {
        "scenario": config.scenario,
        "server": servers[0] if len(servers) == 1 else list(servers),
        "servers": list(servers),
        "quizzes": config.quizzes,
        "players": config.players,
        "questions": config.questions if config.plays else None,
        "time_limit_ms": config.time_limit_ms if config.plays else None,
        "window_s": config.window_s if config.plays else None,
        "close_when_all_answered": config.closes_when_all_answered if config.plays else None,
        "wrong_rate": config.wrong_rate,
        "duplicate_rate": config.duplicate_rate,
        "hold_s": config.hold_s if config.scenario == "idle" else None,
        "workers": workers,
        "connect_concurrency": config.connect_concurrency,
        "source_addresses": [a or "auto" for a in config.addresses()],
        "seed": config.seed,
    }


def _joins(config: BenchConfig, parts: list[dict[str, Any]]) -> dict[str, Any]:
    """Connect + join over the WebSocket → ``welcome``: how many, how fast, how long each."""
    joined = sum(p["joined"] for p in parts)
    t0 = min((p["join_t0"] for p in parts), default=0.0)
    t1 = max((p["join_t1"] for p in parts), default=0.0)
    seconds = t1 - t0
    by_server: Counter[int] = Counter()
    for part in parts:
        by_server.update({int(k): v for k, v in part.get("joined_by_server", {}).items()})
    return {
        "players": config.players,
        "joined": joined,
        "by_server": [by_server[i] for i in range(len(config.servers))],
        "seconds": seconds,
        "rate": joined / seconds if seconds > 0 else None,
        "latency_ms": summary(v for p in parts for v in p["join_ms"]),
        "retries": sum(p["join_retries"] for p in parts),
    }


def _play(
    config: BenchConfig,
    parts: list[dict[str, Any]],
    refused: Counter[str],
    play_s: float,
    t_play: float,
) -> dict[str, Any]:
    """Answers, their latencies (ack, own board, everyone's board) and the plot samples."""
    rows = [row for p in parts for row in p["answers"]]
    visible = VisibleToAll(
        merge_transitions(p["transitions"] for p in parts),
        merge_min_seen(p["min_seen"] for p in parts),
    )
    ack: list[tuple[float, float]] = []
    own: list[tuple[float, float]] = []
    everyone: list[tuple[float, float]] = []
    unseen = 0
    for quiz, seq, t_send, t_ack, t_own in rows:
        at = t_send - t_play
        ack.append((at, (t_ack - t_send) * 1000))
        if t_own:
            own.append((at, (t_own - t_send) * 1000))
        t_all = visible.time_seen(quiz, seq)
        if t_all is None:
            unseen += 1
        else:
            everyone.append((at, (t_all - t_send) * 1000))
    accepted = len(rows)
    limit, seed = config.sample_limit, config.seed
    answers_sent = sum(p["answers_sent"] for p in parts)
    return {
        "answers_sent": answers_sent,
        "duplicates_sent": sum(p["duplicates_sent"] for p in parts),
        "late_duplicates": {
            "refused": sum(p.get("late_duplicates_refused", 0) for p in parts),
            "unanswered": sum(p.get("late_duplicates_unanswered", 0) for p in parts),
        },
        "accepted": accepted,
        "refused": dict(sorted(refused.items())),
        "correct_rate": sum(p["correct"] for p in parts) / accepted if accepted else None,
        "answers_per_s": accepted / play_s if play_s > 0 else None,
        "answers_peak_per_s": peak_per_second(t_ack - t_play for *_, t_ack, _ in rows),
        "ack_ms": summary(v for _, v in ack),
        "board_own_ms": summary(v for _, v in own),
        "board_own_unseen": accepted - len(own),
        "board_all_ms": summary(v for _, v in everyone),
        "board_all_unseen": unseen,
        "samples": {
            "ack": subsample(ack, limit, seed),
            "board_own": subsample(own, limit, seed + 1),
            "board_all": subsample(everyone, limit, seed + 2),
        },
        "finals": sum(final is not None for p in parts for *_, final in p["scores"]),
        "missing_finals": sum(final is None for p in parts for *_, final in p["scores"]),
    }


def _recount(parts: list[dict[str, Any]], hosts: list[_Host]) -> dict[str, Any]:
    """(a) each player's acked points = its own ``final`` score; (b) the host's ``final`` lists
    every player with the score the player's acks add up to (player ids from ``welcome``)."""
    examples: list[dict[str, Any]] = []
    acked: dict[tuple[int, int], int] = {}
    own_checked = own_mismatches = 0
    for part in parts:
        for quiz, player_id, points, final in part["scores"]:
            acked[(quiz, player_id)] = points
            if final is None:
                continue
            own_checked += 1
            if final != points:
                own_mismatches += 1
                examples.append(
                    {"check": "own final", "quiz": quiz, "player_id": player_id,
                     "acked_points": points, "final_score": final}
                )  # fmt: skip
    host_checked = host_mismatches = missing_host_finals = 0
    for quiz, host in enumerate(hosts):
        if host.final is None:
            missing_host_finals += 1
            continue
        listed = {line["player_id"]: line["score"] for line in host.final.get("players", [])}
        ours = {pid: pts for (q, pid), pts in acked.items() if q == quiz}
        for player_id in sorted(listed.keys() | ours.keys()):
            host_checked += 1
            score, points = listed.get(player_id), ours.get(player_id)
            if score != points:
                host_mismatches += 1
                examples.append(
                    {"check": "host final", "quiz": quiz, "player_id": player_id,
                     "acked_points": points, "host_score": score}
                )  # fmt: skip
    return {
        "own_checked": own_checked,
        "own_mismatches": own_mismatches,
        "host_checked": host_checked,
        "host_mismatches": host_mismatches,
        "missing_host_finals": missing_host_finals,
        "mismatches": own_mismatches + host_mismatches + missing_host_finals,
        "examples": examples[:10],
    }


def _frames(parts: list[dict[str, Any]], phase: str, seconds: float) -> dict[str, Any]:
    """Frames and bytes the generator received in one phase, by frame type, and per second."""
    frames: Counter[str] = Counter()
    sizes: Counter[str] = Counter()
    for part in parts:
        frames.update(part["frames"][phase])
        sizes.update(part["bytes"][phase])

    def per_s(n: float) -> float | None:
        return n / seconds if seconds > 0 else None

    return {
        "seconds": seconds,
        "frames": sum(frames.values()),
        "bytes": sum(sizes.values()),
        "frames_per_s": per_s(sum(frames.values())),
        "bytes_per_s": per_s(sum(sizes.values())),
        "by_type": {
            kind: {
                "frames": frames[kind],
                "bytes": sizes[kind],
                "frames_per_s": per_s(frames[kind]),
                "bytes_per_s": per_s(sizes[kind]),
            }
            for kind in sorted(frames)
            if frames[kind]
        },
    }


#: ``/proc/stat`` columns of the whole machine, as psutil names them (Linux), in the groups
#: the report shows: what the other programs and the hypervisor took shows up here, not in
#: the server's or the generator's own CPU.
_MACHINE_GROUPS = {
    "user": ("user", "nice"),
    "system": ("system",),
    "interrupts": ("irq", "softirq"),
    "steal": ("steal",),
    "idle": ("idle", "iowait"),
}


def _machine(before: Any, after: Any) -> dict[str, Any]:
    """The whole machine's CPU between two ``psutil.cpu_times()``, in cores (time / wall time).

    Why: on a shared virtual machine the same run varies with what the host gives it. Steal
    is time the hypervisor ran someone else while this machine wanted to run; idle is what
    nobody here used (so the server was not short of CPU).
    """
    deltas = {
        group: sum(getattr(after, f, 0.0) - getattr(before, f, 0.0) for f in fields)
        for group, fields in _MACHINE_GROUPS.items()
    }
    total = sum(deltas.values())
    cores = psutil.cpu_count() or 1
    wall = total / cores
    return {
        "cores": cores,
        "seconds": wall,
        **{f"{group}_cores": value / wall if wall > 0 else None for group, value in deltas.items()},
    }


def _lag(values: list[float]) -> dict[str, float | int | None]:
    figures = summary(values)
    return {"count": figures["count"], "p99": figures["p99"], "max": figures["max"]}


def _generator(parts: list[dict[str, Any]], play_s: float, join_s: float) -> dict[str, Any]:
    """The load generator's own cost and stalls: if its loops lag, latencies include that."""
    workers = [
        {
            "index": p["index"],
            "pid": p["pid"],
            "players": p["players"],
            "joined": p["joined"],
            "cpu_connect_s": p["cpu_connect_s"],
            "cpu_play_s": p["cpu_play_s"],
            "cpu_play_kernel_s": p["cpu_play_kernel_s"],
            "cpu_cores": p["cpu_play_s"] / p["play_wall_s"] if p["play_wall_s"] > 0 else None,
            "loop_lag_connect_ms": _lag(p["lag_connect_ms"]),
            "loop_lag_ms": _lag(p["lag_play_ms"]),
        }
        for p in parts
    ]
    cpu_play = sum(p["cpu_play_s"] for p in parts)
    cpu_connect = sum(p["cpu_connect_s"] for p in parts)
    return {
        "workers": workers,
        "cpu_connect_s": cpu_connect,
        "cpu_connect_cores": cpu_connect / join_s if join_s > 0 else None,
        "loop_lag_connect_ms": _lag([v for p in parts for v in p["lag_connect_ms"]]),
        "cpu_play_s": cpu_play,
        "cpu_play_kernel_s": sum(p["cpu_play_kernel_s"] for p in parts),
        "cpu_cores": cpu_play / play_s if play_s > 0 else None,
        "loop_lag_ms": _lag([v for p in parts for v in p["lag_play_ms"]]),
    }


def _server_figures(
    server: _ServerProcesses,
    cpu: tuple[list[float], list[float], list[float]],
    rss: tuple[list[int], list[int], list[int]],
    phases: dict[str, float],
    joins: dict[str, Any],
    servers: tuple[str, ...],
) -> dict[str, Any] | None:
    """Server CPU per phase and RSS before / after everyone connected (→ KiB per player), of
    the processes added up, and of each in ``processes``. With as many pids as servers, the
    n-th pid is taken to be the n-th server's, and its KiB per player counts its own players;
    otherwise a process's KiB per player is left out (``None``)."""
    if not server.processes:
        return None
    pids = [process.pid for process in server.processes]
    paired = len(pids) == len(servers)
    each = [
        dict(
            _process_figures(
                (cpu[0][i], cpu[1][i], cpu[2][i]),
                (rss[0][i], rss[1][i], rss[2][i]),
                server.peaks[i],
                phases,
                joins["by_server"][i] if paired else 0,
            ),
            pid=pid,
            server=servers[i] if paired else None,
        )
        for i, pid in enumerate(pids)
    ]
    total = _process_figures(
        (sum(cpu[0]), sum(cpu[1]), sum(cpu[2])),
        (sum(rss[0]), sum(rss[1]), sum(rss[2])),
        server.peak_sum,
        phases,
        joins["joined"],
    )
    return {"pid": pids[0] if len(pids) == 1 else None, "pids": pids, **total, "processes": each}


def _process_figures(
    cpu: tuple[float, float, float],
    rss: tuple[int, int, int],
    peak: int,
    phases: dict[str, float],
    joined: int,
) -> dict[str, Any]:
    connect_s, play_s = phases["connect_s"], phases["play_s"]
    return {
        "cpu_connect_s": cpu[1] - cpu[0],
        "cpu_connect_cores": (cpu[1] - cpu[0]) / connect_s if connect_s > 0 else None,
        "cpu_play_s": cpu[2] - cpu[1],
        "cpu_cores": (cpu[2] - cpu[1]) / play_s if play_s > 0 else None,
        "rss_before_mib": rss[0] / 2**20,
        "rss_connected_mib": rss[1] / 2**20,
        "rss_after_mib": rss[2] / 2**20,
        "peak_rss_mib": max(peak, *rss) / 2**20,
        "kib_per_player": (rss[1] - rss[0]) / joined / 1024 if joined else None,
    }
