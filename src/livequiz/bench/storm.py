"""``livequiz bench reconnect-storm``: every client back after a ``kill -9`` and a restart.

Unlike the other scenarios, this one owns its server: it starts ``livequiz serve`` on the
embedded default (a SQLite journal in a data directory; the per-address limits raised as
bench/run.sh does, since every simulated player comes from one address), because it has to kill
it and start it again over the same data directory on the same port, as a supervisor (systemd,
Docker's restart policy) would.

The run:

1. the server starts; one quiz of two questions is created; ``players`` players join it over
   the WebSocket from the worker processes (:mod:`.worker`, mode ``storm``);
2. the host starts the quiz; everyone answers question 0 (so there are scores), which then
   closes (every present player has answered);
3. after ``settle_s`` (every ack is in) the server is ``kill -9``\\ ed and started again at once;
4. every client reconnects by itself, with exponential backoff and full jitter as
   docs/protocol.md tells clients (or without jitter, to compare), and says ``hello`` with its
   token; each comeback's ``welcome`` is timed and checked (not stale: its ``seq`` not below
   what the client saw before the drop, its score what the client's acks add up to, its phase
   and question the ones the host's own welcome after the restart shows);
5. once every client is back (or ``storm_timeout_s`` passed) the host moves on: question 1 is
   played on the restarted server, the quiz finishes, and every player's final score is held
   against its acks (the bench's recount), so a client that looks back but is not live shows.

Reported: the time from the restart (the new process's start, and its first ``/readyz`` 200)
until 50 %, 99 % and 100 % of the clients have their ``welcome`` back; each client's own time
from drop to welcome; stale views (must be 0); the tries refused or failed on the way back, by
kind; the restarted server's CPU and peak RSS during the storm; the machine's load average.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil  # type: ignore[import-untyped]
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from livequiz.bench.runner import (
    BenchConfig,
    _create_quizzes,
    _Host,
    _plan,
    _play,
    _Pool,
    _recount,
    _ws_url,
)
from livequiz.bench.stats import peak_per_second, percentile, summary

__all__ = ["StormConfig", "format_storm", "run_storm"]

#: the two questions: the first is played before the kill, the second after the storm
QUESTIONS = 2
#: how long a server may take to be ready (first start and restart) on a loaded machine
READY_TIMEOUT_S = 120.0
#: ``livequiz serve`` options of every run: every player comes from 127.0.0.1 (bench/run.sh)
SERVE_LIMITS = (
    "--join-burst",
    "100000",
    "--join-rate",
    "100000",
    "--max-connections-per-address",
    "20000",
    # every player's join POST and WebSocket, and its reconnects, are new connections from
    # the one address: the budget of new connections per address (1,000 at once) would refuse
    "--new-connection-burst",
    "100000",
    "--new-connection-rate",
    "100000",
    # thousands of handshakes at once keep more than the 256 plain HTTP connections an
    # address may hold open before their upgrade is read: the oldest would be evicted
    "--max-http-connections-per-address",
    "20000",
)
_BOARD_END = b'"type":"board"}'


@dataclass(frozen=True, slots=True)
class StormConfig:
    """One reconnect storm. ``data_dir`` ``None``: a fresh temporary directory, removed after."""

    players: int = 1000
    port: int = 8767
    data_dir: Path | None = None
    #: docs/protocol.md's backoff: ``random(0, min(cap, base × 2^attempt))``
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 15.0
    #: ``False``: wait the ceiling itself (no randomness), to show what jitter is for
    jitter: bool = True
    #: think times of each question are spread over this many seconds
    window_s: float = 3.0
    #: after question 0 closed, wait this long (the last acks) before the kill
    settle_s: float = 1.0
    #: give up waiting for the clients to come back after this many seconds from the restart
    storm_timeout_s: float = 180.0
    workers: int | None = None
    connect_concurrency: int = 256
    #: more ``livequiz serve`` options (e.g. ``--sync full``)
    serve_args: tuple[str, ...] = ()
    #: where the server's output goes (``None``: ``server.log`` in the data directory, or a
    #: temporary file that is kept when the data directory is temporary)
    server_log: Path | None = None
    seed: int = 1

    def bench(self, url: str) -> BenchConfig:
        """The bench's own configuration of this run (quiz creation, worker plan)."""
        return BenchConfig(
            server=url,
            scenario="one-big-quiz",
            players_per_quiz=self.players,
            questions=QUESTIONS,
            window_s=self.window_s,
            # a question closes as soon as everyone has answered: question 0 is closed, and
            # stays so, when the server is killed; nothing changes while the clients are away
            close_when_all_answered=True,
            # repeats are another test's business: here an answer is acknowledged once
            duplicate_rate=0.0,
            workers=self.workers,
            connect_concurrency=self.connect_concurrency,
            seed=self.seed,
        )


# ---------------------------------------------------------------------- the server


class _Server:
    """``livequiz serve`` over one data directory on one port: start, ``kill -9``, start."""

    def __init__(self, config: StormConfig, data_dir: Path, log: Path) -> None:
        self.port = config.port
        self.args = [
            "--port",
            str(config.port),
            "--data-dir",
            str(data_dir),
            "--log-level",
            "warning",
            *SERVE_LIMITS,
            *config.serve_args,
        ]
        self.log = log
        self.process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def spawn(self) -> int:
        with open(self.log, "ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "livequiz",
                "serve",
                *self.args,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )
        return self.process.pid

    async def wait_ready(self) -> float:
        """Poll ``/readyz`` every 20 ms; returns the ``perf_counter`` of its first 200."""
        async with httpx.AsyncClient(base_url=self.url, timeout=5) as http:
            async with asyncio.timeout(READY_TIMEOUT_S):
                while True:
                    if not self.alive:
                        tail = self.log.read_text(errors="replace")[-2000:]
                        raise RuntimeError(f"the server exited:\n{tail}")
                    with contextlib.suppress(httpx.TransportError):
                        if (await http.get("/readyz")).status_code == 200:
                            return time.perf_counter()
                    await asyncio.sleep(0.02)

    async def kill(self) -> None:
        """SIGKILL: no shutdown, no close frame; the kernel closes every socket."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await asyncio.wait_for(self.process.wait(), READY_TIMEOUT_S)

    async def stop(self) -> None:
        if not self.alive:
            return
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), 30)
        except TimeoutError:
            await self.kill()


class _Watch:
    """The restarted server's CPU and RSS, sampled every 250 ms: peaks, not just averages."""

    INTERVAL_S = 0.25

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak_rss = 0
        self.peak_cores = 0.0
        self._last: tuple[float, float] | None = None

    def cpu_s(self) -> float:
        times = self.process.cpu_times()
        return float(times.user + times.system)

    def sample(self) -> None:
        with contextlib.suppress(psutil.Error):
            self.peak_rss = max(self.peak_rss, int(self.process.memory_info().rss))
            now, cpu = time.perf_counter(), self.cpu_s()
            if self._last is not None and now > self._last[0]:
                cores = (cpu - self._last[1]) / (now - self._last[0])
                self.peak_cores = max(self.peak_cores, cores)
            self._last = (now, cpu)

    async def run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self.INTERVAL_S)


# ---------------------------------------------------------------------- the host


class _StormHost(_Host):
    """The host, itself a client that rides out the restart: starts the quiz, stops after
    question 0 closes (``closed_first``), and once told (``resume``) moves on to the end.

    Its own ``welcome`` after the restart (``after``) is the server's view the players'
    comebacks are compared with: a host sees the phase and question as the quiz has them."""

    def __init__(self, ws_url: str, token: str, quiz_id: str) -> None:
        super().__init__(ws_url, token, quiz_id)
        self.closed_first = asyncio.Event()
        self.resume = asyncio.Event()
        self.back = asyncio.Event()
        #: the highest seq of the frames the host parsed before the kill (welcome, closed)
        self.seq_before = -1
        self.after: dict[str, Any] | None = None
        self.started = self.resumed = False
        self.connections = 0

    async def run(self, start: asyncio.Event) -> None:
        while self.final is None:
            try:
                async with connect(
                    self.ws_url, compression=None, open_timeout=30, max_queue=None
                ) as ws:
                    await self._session(ws, start)
            except (OSError, InvalidHandshake, ConnectionClosed, TimeoutError):
                await asyncio.sleep(0.1)  # one client: no herd to spread

    async def _session(self, ws: ClientConnection, start: asyncio.Event) -> None:
        await ws.send(orjson.dumps({"type": "hello", "token": self.token}).decode())
        state = await self._welcome(ws)
        self.connections += 1
        if self.connections == 1:
            self.seq_before = state["seq"]
            self.ready.set()
        elif self.after is None:
            self.after = state
            self.back.set()
        if not self.started:
            await start.wait()
            await ws.send(b'{"type":"host","action":"start"}', text=True)
            self.started = True
        elif self.closed_first.is_set() and not self.resumed:
            await self.resume.wait()
            await ws.send(b'{"type":"host","action":"next"}', text=True)
            self.resumed = True
        while True:
            data = await ws.recv(decode=False)
            if data.endswith(_BOARD_END):
                continue
            frame = orjson.loads(data)
            kind = frame.get("type")
            if kind == "closed":
                if not self.resumed:  # question 0: the kill comes next
                    self.seq_before = max(self.seq_before, frame["seq"])
                    self.closed_first.set()
                else:
                    await ws.send(b'{"type":"host","action":"next"}', text=True)
            elif kind == "error":
                self.errors[f"host:{frame.get('code')}"] += 1
            elif kind == "final":
                self.final = frame["results"]
                self.final_from = "frame"
                return

    async def _welcome(self, ws: ClientConnection) -> dict[str, Any]:
        while True:
            frame = orjson.loads(await ws.recv(decode=False))
            if frame.get("type") == "welcome":
                state: dict[str, Any] = frame["state"]
                return state
            if frame.get("type") == "error":  # 'unavailable' (then 1013): try again
                self.errors[f"host:hello_{frame.get('code')}"] += 1


def _view(state: dict[str, Any] | None) -> str | None:
    """``phase:question index`` of a welcome's state, as the workers write it."""
    if state is None:
        return None
    question = state.get("question")
    return f"{state['phase']}:{question['index'] if question else '-'}"


# ---------------------------------------------------------------------- a run


async def run_storm(config: StormConfig) -> dict[str, Any]:
    """Run one storm (server started and killed here) and return the measured figures."""
    temporary = config.data_dir is None
    data_dir = Path(tempfile.mkdtemp(prefix="livequiz-storm-")) if temporary else config.data_dir
    assert data_dir is not None
    data_dir.mkdir(parents=True, exist_ok=True)
    # a temporary data directory goes after the run; its server's log stays, for a post-mortem
    log = config.server_log or (_kept_log() if temporary else data_dir / "server.log")
    server = _Server(config, data_dir, log)
    try:
        return await _run(config, server)
    finally:
        await server.stop()
        if temporary:
            shutil.rmtree(data_dir, ignore_errors=True)


def _kept_log() -> Path:
    descriptor, name = tempfile.mkstemp(prefix="livequiz-storm-", suffix=".log")
    os.close(descriptor)
    return Path(name)


async def _run(config: StormConfig, server: _Server) -> dict[str, Any]:
    load = {"before": os.getloadavg()}
    await server.spawn()
    await server.wait_ready()
    bench = config.bench(server.url)
    ws_url = _ws_url(server.url)
    errors: Counter[str] = Counter()
    times: dict[str, float] = {}
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
        quiz = (await _create_quizzes([http], bench))[0]
    host = _StormHost(ws_url, quiz["host_token"], str(quiz.get("quiz_id", "")))
    start = asyncio.Event()
    host_task = asyncio.create_task(host.run(start))
    pool = _Pool(bench)
    watch: _Watch | None = None
    watcher: asyncio.Task[None] | None = None
    try:
        pool.spawn(
            [ws_url],
            _plan(bench, [quiz]),
            mode="storm",
            backoff_base_s=config.backoff_base_s,
            backoff_cap_s=config.backoff_cap_s,
            jitter=config.jitter,
        )
        if not await pool.wait_ready(timeout=120 + config.players / 50):
            errors["connect:timeout"] += 1
        await asyncio.wait_for(host.ready.wait(), 30)
        joined = sum(info["joined"] for info in pool.ready.values())
        t_play = time.perf_counter()
        start.set()
        await asyncio.wait_for(host.closed_first.wait(), bench.time_limit_ms / 1000 + 60)
        await asyncio.sleep(config.settle_s)

        # the kill, and the restart at once over the same data directory, on the same port
        load["at_kill"] = os.getloadavg()
        times["kill"] = time.perf_counter()
        await server.kill()
        times["dead"] = time.perf_counter()
        pid = await server.spawn()
        times["start"] = time.perf_counter()
        watch = _Watch(pid)
        watcher = asyncio.create_task(watch.run())
        times["ready"] = await server.wait_ready()
        deadline = times["start"] + config.storm_timeout_s
        while len(pool.back) + len(pool.failures) < len(pool.processes) or not host.back.is_set():
            if time.perf_counter() > deadline:
                errors["storm:timeout"] += 1
                break
            await pool._next(0.1)
        times["all_back"] = time.perf_counter()
        watch.sample()
        storm_cpu_s = watch.cpu_s()
        storm_rss = watch.peak_rss
        load["after_storm"] = os.getloadavg()

        # the quiz goes on on the restarted server: question 1, then the finals
        host.resume.set()
        await pool.wait_results(bench.play_deadline_s)
        t_end = time.perf_counter()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(host_task), 10)
        if host.final is None:
            errors["host:no_final"] += 1
            async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
                await host.results_over_http([http])
        errors.update(host.errors)
        peak_rss_after = watch.peak_rss
    finally:
        if watcher is not None:
            watcher.cancel()
        host_task.cancel()
        await pool.close()

    parts = [pool.results[i] for i in sorted(pool.results)]
    for _, failure in sorted(pool.failures.items()):
        errors[f"worker:{failure.strip().splitlines()[-1][:80]}"] += 1
    return _report(
        config,
        bench,
        parts,
        host,
        errors,
        times,
        joined=joined,
        t_play=t_play,
        t_end=t_end,
        server_log=server.log,
        server={
            "pid_restarted": pid,
            "storm_s": times["all_back"] - times["start"],
            "cpu_storm_s": storm_cpu_s,
            "peak_rss_storm_mib": storm_rss / 2**20,
            "peak_cores_storm": watch.peak_cores if watch is not None else None,
            "peak_rss_to_end_mib": peak_rss_after / 2**20,
        },
        load=load,
    )


# ---------------------------------------------------------------------- the report


def _share_times(back: list[float], total: int, origin: float) -> dict[str, float | None]:
    """Seconds from ``origin`` until 50 %, 99 % and 100 % of ``total`` clients were back
    (``None`` if that many never came back)."""
    ordered = sorted(back)
    out: dict[str, float | None] = {}
    for name, share in (("p50", 0.50), ("p99", 0.99), ("all", 1.0)):
        needed = max(1, math.ceil(share * total))
        out[name] = ordered[needed - 1] - origin if total and len(ordered) >= needed else None
    return out


def _report(
    config: StormConfig,
    bench: BenchConfig,
    parts: list[dict[str, Any]],
    host: _StormHost,
    errors: Counter[str],
    times: dict[str, float],
    *,
    joined: int,
    t_play: float,
    t_end: float,
    server: dict[str, Any],
    server_log: Path,
    load: dict[str, tuple[float, float, float]],
) -> dict[str, Any]:
    refused: Counter[str] = Counter()
    for part in parts:
        errors.update(part["errors"])
        refused.update(part["refused"])
    no_reply = sum(part["pending"] for part in parts)
    if no_reply:
        errors["answer:no_reply"] += no_reply
    storms = [part["storm"] for part in parts]
    returns = [row for storm in storms for row in storm["returns"]]
    # the first comeback of each drop: a player dropped once by the kill comes back once
    back_at = [t_back for _, t_back, _ in returns]
    failures: Counter[str] = Counter()
    stale: Counter[str] = Counter()
    views: Counter[str] = Counter()
    for storm in storms:
        failures.update(storm["failures"])
        stale.update(storm["stale"])
        views.update(storm["views"])
    host_view = _view(host.after)
    # a comeback whose phase or question is not the one the server has after the restart
    stale["view"] = sum(n for view, n in views.items() if view != host_view)
    if host.after is not None and host.after["seq"] < host.seq_before:
        stale["host_seq_went_back"] += 1
    stale = +stale  # only the reasons that occurred
    drops = sum(storm["drops"] for storm in storms)
    not_back = sum(storm["not_back"] for storm in storms)
    pending_at_drop = sum(storm["pending_at_drop"] for storm in storms)
    if pending_at_drop:  # the kill came before every ack: the scenario did not do its part
        errors["storm:answers_pending_at_drop"] += pending_at_drop
    if not_back:
        errors["storm:not_back"] += not_back
    if drops != joined:
        errors["storm:not_dropped"] += joined - drops
    play_s = t_end - t_play
    play = _play(bench, parts, refused, play_s, t_play)
    play.pop("samples")
    recount = _recount(parts, [host])
    attempts = [tries for *_, tries in returns]
    result: dict[str, Any] = {
        "config": {
            "scenario": "reconnect-storm",
            "players": config.players,
            "port": config.port,
            "backoff_base_s": config.backoff_base_s,
            "backoff_cap_s": config.backoff_cap_s,
            "jitter": "full" if config.jitter else "none",
            "window_s": config.window_s,
            "settle_s": config.settle_s,
            "workers": len(parts),
            "connect_concurrency": config.connect_concurrency,
            "serve_args": list(SERVE_LIMITS) + list(config.serve_args),
            "seed": config.seed,
        },
        "machine": {"cores": psutil.cpu_count(), "load_average": load},
        "joined": joined,
        "dropped": drops,
        "back": len(back_at),
        "not_back": not_back,
        "not_back_connecting": sum(storm["not_back_connecting"] for storm in storms),
        "not_back_waiting_welcome": sum(storm["not_back_waiting_welcome"] for storm in storms),
        "server_log": str(server_log),
        "restart": {
            "kill_to_dead_s": times["dead"] - times["kill"],
            "kill_to_start_s": times["start"] - times["kill"],
            "start_to_ready_s": times["ready"] - times["start"],
        },
        # the headline: from the restart until that share of the clients had its welcome
        "back_after_start_s": _share_times(back_at, joined, times["start"]),
        "back_after_ready_s": _share_times(back_at, joined, times["ready"]),
        "back_after_kill_s": _share_times(back_at, joined, times["kill"]),
        #: welcomes in the busiest second after the restart: the herd the server had to take
        "back_peak_per_s": peak_per_second(t - times["start"] for t in back_at),
        "drop_to_welcome_ms": summary((t_back - t_drop) * 1000 for t_drop, t_back, _ in returns),
        "reconnect": {
            "attempts": sum(storm["attempts"] for storm in storms),
            #: tries whose socket opened (then a welcome, or a close before it)
            "connected": sum(storm["connected"] for storm in storms),
            "failed": sum(failures.values()),
            "failed_by_kind": dict(sorted(failures.items())),
            "tries_per_client": {
                "p50": percentile(sorted(attempts), 50),
                "p99": percentile(sorted(attempts), 99),
                "max": max(attempts, default=None),
            },
        },
        "stale_views": sum(stale.values()),
        "stale": dict(sorted(stale.items())),
        "stale_examples": [e for storm in storms for e in storm["stale_examples"]][:10],
        "views": dict(sorted(views.items())),
        "host_view": host_view,
        "host_seq": {"before": host.seq_before, "after": (host.after or {}).get("seq")},
        "pending_at_drop": pending_at_drop,
        "server_process": server,
        "play": play,
        "recount": recount,
    }
    result["errors"] = dict(sorted(errors.items()))
    result["ok"] = (
        not errors
        and not result["stale_views"]
        and not play["missing_finals"]
        and not recount["mismatches"]
        and host_view is not None
    )
    return result


def _f(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def format_storm(result: dict[str, Any]) -> str:
    """The human-readable summary of one storm, in the bench's table style."""
    cfg, restart, rec = result["config"], result["restart"], result["reconnect"]
    server, play, recount = result["server_process"], result["play"], result["recount"]
    load = result["machine"]["load_average"]

    def shares(key: str) -> str:
        figures = result[key]
        return " / ".join(_f(figures[k]) for k in ("p50", "p99", "all")) + " s"

    drop = result["drop_to_welcome_ms"]
    tries = rec["tries_per_client"]
    rows = [
        (
            "scenario",
            f"reconnect-storm: {cfg['players']} players in 1 quiz, kill -9 after question 0, "
            f"restart on port {cfg['port']}; backoff base {cfg['backoff_base_s']:g} s, cap "
            f"{cfg['backoff_cap_s']:g} s, jitter {cfg['jitter']}; {cfg['workers']} workers",
        ),
        (
            "machine",
            f"{result['machine']['cores']} cores; load average at the kill "
            + "/".join(f"{v:.2f}" for v in load.get("at_kill", load["before"])),
        ),
        (
            "clients",
            f"{result['joined']} joined, {result['dropped']} dropped, {result['back']} back, "
            f"{result['not_back']} not back"
            + (
                f" ({result['not_back_connecting']} still connecting, "
                f"{result['not_back_waiting_welcome']} connected and waiting for a welcome)"
                if result["not_back"]
                else ""
            ),
        ),
        (
            "restart",
            f"kill → dead {_f(restart['kill_to_dead_s'], 3)} s, → new process "
            f"{_f(restart['kill_to_start_s'], 3)} s; start → /readyz 200 "
            f"{_f(restart['start_to_ready_s'], 3)} s",
        ),
        ("back 50/99/100 % after start", shares("back_after_start_s")),
        ("back 50/99/100 % after ready", shares("back_after_ready_s")),
        ("back 50/99/100 % after kill", shares("back_after_kill_s")),
        (
            "drop → welcome ms p50/p99/max",
            "/".join(_f(drop[k], 0) for k in ("p50", "p99", "max"))
            + f"  (n={drop['count']}); busiest second {result['back_peak_per_s']} welcomes",
        ),
        (
            "reconnect tries",
            f"{rec['attempts']} in all, {rec['connected']} connected, {rec['failed']} refused or "
            "failed "
            f"({', '.join(f'{k} {v}' for k, v in rec['failed_by_kind'].items()) or 'none'}); "
            "tries per client (the last one got in) p50/p99/max "
            f"{tries['p50']}/{tries['p99']}/{tries['max']}",
        ),
        (
            "stale views",
            f"{result['stale_views']} {result['stale'] or ''}".rstrip()
            + f"; views {result['views']} against the host's {result['host_view']}",
        ),
        (
            "server during the storm",
            f"{_f(server['storm_s'])} s from start to all back: CPU {_f(server['cpu_storm_s'])} s"
            f" (peak {_f(server['peak_cores_storm'])} cores in 250 ms), peak RSS "
            f"{server['peak_rss_storm_mib']:.0f} MiB",
        ),
        (
            "after the storm",
            f"question 1 played: {play['accepted']} answers accepted, ack ms p50/p99 "
            f"{_f(play['ack_ms']['p50'], 1)}/{_f(play['ack_ms']['p99'], 1)} (both questions); "
            f"{play['finals']} finals, {play['missing_finals']} missing; recount "
            f"{recount['own_checked']} own + {recount['host_checked']} host checked, "
            f"{recount['mismatches']} mismatches",
        ),
        ("errors", str(result["errors"] or "none")),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)
