"""Failover time: kill -9 a live quiz's owner, again and again, on PostgreSQL and NATS.

    .venv/bin/python bench/failover.py [--processes 3] [--kills 20] [--json-out PATH]

Starts ``--processes`` ``livequiz serve`` processes on 127.0.0.1 (ports ``--port``, +1, …) over a
fresh PostgreSQL schema and the machine's NATS, with ``--lease-s`` (3 s, the default of
``serve``). One quiz is created (100 questions; a question closes when everyone has answered,
the host moves on at once); ``--players`` players join over HTTP round-robin over the
processes and answer continuously, ``--rate`` answers per second in all. Each player is a
resilient client as the protocol describes one: when its connection drops it reconnects to
another process (at random, as a load balancer would), says ``hello`` with its token and sends
its unacknowledged answer again; an ``unavailable`` refusal is sent again a moment later.

Then, ``--kills`` times: wait ``--settle-s`` (1 s), and until every client is connected,
answers are being accepted and the open question is at most two-thirds answered; find the
quiz's owner — the one process whose ``livequiz_quizzes_owned`` gauge on ``/metrics`` is 1;
``kill -9`` it; measure

- **failover**: from the kill to the first ``accepted`` ack of an answer *first sent after the
  kill* (so it can only have been stored by the new owner: the old one was dead), as the
  player's client received it;
- **owner seen**: from the kill to a surviving process's gauge showing the quiz (polled every
  100 ms, so ±100 ms);

then start the killed process again on its port (so the count stays ``--processes``) and time
its readiness. Ack latencies are reported apart for answers acknowledged between kills and for
those held across a failover. At the end the host ends the quiz and every player's acknowledged
points are held against the host's final results (an answer lost or counted twice across the
kills shows as a mismatch). Prints every value, p50 and max; exit status 1 on a kill without an
accepted answer within 30 s, a recount mismatch, or a time budget (``--max-s``) too short for
the kills.

Why a script beside ``livequiz bench`` and not one of its scenarios: the bench is a load
generator pointed at servers it does not own (any URL, perhaps another machine); this needs to
start, kill and restart the servers and their database schema itself, on this machine only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

Frame = dict[str, Any]
_OWNED = re.compile(r"^livequiz_quizzes_owned (\S+)$", re.MULTILINE)
#: a kill whose failover takes longer than this counts as failed
FAILOVER_TIMEOUT_S = 30.0


# ---------------------------------------------------------------------- the servers


class Server:
    """One ``livequiz serve`` subprocess on a fixed port (restarted on the same port)."""

    def __init__(self, index: int, port: int, args: list[str], logs: Path) -> None:
        self.index = index
        self.port = port
        self.args = args
        self.log = logs / f"server-{index}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "livequiz", "serve", "--port", str(self.port), *self.args],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        """SIGKILL, by its pid: no shutdown, no lease handed over, sockets reset by the kernel."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is None or not self.alive:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()

    async def wait_ready(self, http: httpx.AsyncClient, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive:
                raise RuntimeError(f"server {self.index} exited: see {self.log}")
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(f"{self.url}/readyz", timeout=2)).status_code == 200:
                    return
            await asyncio.sleep(0.05)
        raise TimeoutError(f"server {self.index} not ready within {timeout} s: see {self.log}")

    async def owned(self, http: httpx.AsyncClient) -> int | None:
        """The ``livequiz_quizzes_owned`` gauge; ``None`` if the process does not answer."""
        if not self.alive:
            return None
        try:
            response = await http.get(f"{self.url}/metrics", timeout=2)
        except httpx.HTTPError:
            return None
        match = _OWNED.search(response.text)
        return None if match is None else int(float(match[1]))


# ---------------------------------------------------------------------- the clients


class Client:
    """A player or the host: one WebSocket at a time, to the next process when it drops."""

    def __init__(self, run: Run, name: str, token: str, home: int, *, host: bool = False) -> None:
        self.run = run
        self.name = name
        self.token = token
        self.at = home
        self.host = host
        self.ws: ClientConnection | None = None
        self.welcomed = False
        self.open_q: int | None = None
        self.phase = ""
        #: answers sent and not yet answered: q → [option, first send, in flight, last send]
        self.pending: dict[int, list[Any]] = {}
        #: the first ack's ``answer`` of each question (accepted or a duplicate of it)
        self.acked: dict[int, Frame] = {}
        self.given_up: set[int] = set()
        self.reconnects = 0
        self.final: Frame | None = None
        self.done = False

    async def run_forever(self) -> None:
        while not self.done and not self.run.closing:
            url = f"ws://127.0.0.1:{self.run.servers[self.at].port}/ws"
            with contextlib.suppress(OSError, ConnectionClosed, InvalidHandshake, TimeoutError):
                async with connect(
                    url, compression=None, open_timeout=3, close_timeout=1, max_queue=None
                ) as ws:
                    self.ws = ws
                    await ws.send(orjson.dumps({"type": "hello", "token": self.token}).decode())
                    async for message in ws:
                        self.on_frame(orjson.loads(message))
                        if self.done:
                            return
            self.ws, self.welcomed = None, False
            for entry in self.pending.values():
                entry[2] = False
            if self.done or self.run.closing:
                return
            self.reconnects += 1
            # another process, at random: as a load balancer would spread the reconnections
            # (the next in turn would pile every player onto one process after a few kills)
            others = [i for i in range(len(self.run.servers)) if i != self.at]
            self.at = self.run.rng.choice(others)
            await asyncio.sleep(0.05 + self.run.rng.random() * 0.15)

    def send(self, message: Frame) -> None:
        ws = self.ws
        if ws is not None:
            task = asyncio.ensure_future(ws.send(orjson.dumps(message).decode()))
            task.add_done_callback(_ignore)

    def send_answer(self, q: int, option: int) -> None:
        now = time.perf_counter()
        entry = self.pending.setdefault(q, [option, now, True, now])
        entry[2], entry[3] = True, now
        self.run.answers_sent += 1
        self.send({"type": "answer", "q": q, "option": option})

    # ---------------------------------------------------------------- frames

    def on_frame(self, frame: Frame) -> None:
        kind = frame.get("type")
        if kind in ("welcome", "snapshot"):
            self._on_state(frame["state"], welcome=kind == "welcome")
        elif kind == "question":
            self.open_q, self.phase = frame["question"]["index"], "question_open"
        elif kind == "closed":
            self.open_q, self.phase = None, "question_closed"
            if self.host and not self.run.ending:
                self.send({"type": "host", "action": "next"})
        elif kind == "ack":
            self._on_ack(frame)
        elif kind == "error":
            self._on_error(frame)
        elif kind == "final":
            self.final, self.done = frame["results"], True
        elif kind == "finished":
            self.phase = "finished"

    def _on_state(self, state: Frame, *, welcome: bool) -> None:
        self.phase = state["phase"]
        question = state.get("question")
        self.open_q = question["index"] if question and self.phase == "question_open" else None
        if welcome:
            self.welcomed = True
            # protocol.md, reconnecting: an answer without its ack is sent again
            for q, entry in self.pending.items():
                entry[2], entry[3] = True, time.perf_counter()
                self.send({"type": "answer", "q": q, "option": entry[0]})
        if self.host:
            if self.phase == "question_closed" and not self.run.ending:
                self.send({"type": "host", "action": "next"})
            elif self.phase == "lobby" and self.run.started:
                self.send({"type": "host", "action": "start"})
            elif self.phase != "finished" and self.run.ending:
                self.send({"type": "host", "action": "end"})

    def _on_ack(self, frame: Frame) -> None:
        now = time.perf_counter()
        q = frame["q"]
        entry = self.pending.pop(q, None)
        self.acked.setdefault(q, frame["answer"])
        self.run.statuses[frame["status"]] += 1
        if frame["status"] == "accepted" and entry is not None:
            self.run.accepted(first_sent=entry[1], at=now)
            self.run.acks.append((entry[3], now))

    def _on_error(self, frame: Frame) -> None:
        code = frame.get("code", "?")
        self.run.errors[code] += 1
        q, action = frame.get("q"), frame.get("action")
        if isinstance(q, int) and q in self.pending:
            if code == "unavailable":  # sent again by the driver in a moment
                self.pending[q][2] = False
            else:
                del self.pending[q]
                self.given_up.add(q)
        elif self.host and action is not None:
            # 'unavailable' (it may or may not have happened) or 'illegal_state' (it did, or
            # something else did): look before sending it again
            loop = asyncio.get_running_loop()
            loop.call_later(0.2, self.send, {"type": "sync"})


def _ignore(task: asyncio.Future[None]) -> None:
    if not task.cancelled():
        task.exception()


# ---------------------------------------------------------------------- the run


class Run:
    """The servers, the clients, the answer driver and what the kills measured."""

    def __init__(self, servers: list[Server], options: argparse.Namespace) -> None:
        self.servers = servers
        self.options = options
        self.host: Client | None = None
        self.players: list[Client] = []
        self.started = False
        self.ending = False
        self.closing = False
        self.answers_sent = 0
        self.statuses: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.accepted_times: list[float] = []
        #: accepted answers: (last send, ack received)
        self.acks: list[tuple[float, float]] = []
        #: (kill, first accepted answer after it) of every kill
        self.outages: list[tuple[float, float]] = []
        self.kill_at: float | None = None
        self.first_after_kill: asyncio.Future[float] | None = None
        self.rng = random.Random(options.seed)

    def accepted(self, *, first_sent: float, at: float) -> None:
        self.accepted_times.append(at)
        waiting = self.first_after_kill
        after_kill = self.kill_at is not None and first_sent > self.kill_at
        if after_kill and waiting is not None and not waiting.done():
            waiting.set_result(at)

    def recent_accepts(self, seconds: float) -> int:
        since = time.perf_counter() - seconds
        return sum(1 for t in self.accepted_times[-200:] if t >= since)

    async def drive(self) -> None:
        """``--rate`` answers a second over all players: a retry of an ``unavailable`` answer
        first, else a player with the open question not yet answered."""
        interval = 1.0 / self.options.rate
        while not self.closing:
            await asyncio.sleep(interval)
            if self.ending:
                continue
            now = time.perf_counter()
            retries: list[tuple[Client, int, int]] = []
            fresh: list[Client] = []
            for player in self.players:
                if not player.welcomed:
                    continue
                for q, (option, _, in_flight, last) in player.pending.items():
                    # no reply for long (the router retries for up to 10 s): send it again
                    if not in_flight or now - last > 15:
                        retries.append((player, q, option))
                open_q = player.open_q
                if open_q is not None and all(
                    open_q not in seen for seen in (player.acked, player.pending, player.given_up)
                ):
                    fresh.append(player)
            if retries:
                player, q, option = self.rng.choice(retries)
                player.send_answer(q, option)
            elif fresh:
                player = self.rng.choice(fresh)
                assert player.open_q is not None
                player.send_answer(player.open_q, self.rng.randrange(4))

    def steady(self) -> bool:
        """Everyone connected, answers being accepted, and an open question with at least a
        third of the players still to answer it (so the kill does not land between two
        questions, where the first answer after it would wait for the host's ``next``)."""
        if not all(p.welcomed for p in self.players) or self.host is None:
            return False
        if not self.host.welcomed or self.recent_accepts(1.0) < 2:
            return False
        open_qs = Counter(p.open_q for p in self.players if p.open_q is not None)
        if not open_qs:
            return False
        q, _ = open_qs.most_common(1)[0]
        still = sum(1 for p in self.players if p.open_q == q and q not in p.acked)
        return still * 3 >= len(self.players)

    def reconnects(self) -> int:
        return sum(c.reconnects for c in [*self.players, *([self.host] if self.host else [])])


async def _find_owner(run: Run, http: httpx.AsyncClient, timeout: float = 20.0) -> Server:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        gauges = await asyncio.gather(*(s.owned(http) for s in run.servers))
        owners = [s for s, n in zip(run.servers, gauges, strict=True) if n]
        if len(owners) == 1:
            return owners[0]
        await asyncio.sleep(0.1)
    raise RuntimeError(f"no single owner of the quiz within {timeout} s")


async def _watch_new_owner(run: Run, http: httpx.AsyncClient, killed: Server) -> float:
    """When a surviving process's gauge first shows the quiz (polled every 100 ms)."""
    while True:
        survivors = [s for s in run.servers if s is not killed]
        gauges = await asyncio.gather(*(s.owned(http) for s in survivors))
        if any(gauges):
            return time.perf_counter()
        await asyncio.sleep(0.1)


async def _one_kill(run: Run, http: httpx.AsyncClient, number: int) -> dict[str, Any]:
    await asyncio.sleep(run.options.settle_s)
    settle = time.monotonic() + 30
    while not run.steady():
        if time.monotonic() > settle:
            raise RuntimeError("the quiz did not reach a steady state within 30 s")
        await asyncio.sleep(0.05)
    owner = await _find_owner(run, http)
    errors_before = run.errors["unavailable"]
    reconnects_before = run.reconnects()
    on_killed = sum(1 for p in run.players if p.at == owner.index)
    loop = asyncio.get_running_loop()
    run.first_after_kill = loop.create_future()
    run.kill_at = t_kill = time.perf_counter()
    owner.kill()
    watcher = asyncio.create_task(_watch_new_owner(run, http, owner))
    failover_ms: float | None = None
    with contextlib.suppress(TimeoutError):
        t_first = await asyncio.wait_for(run.first_after_kill, FAILOVER_TIMEOUT_S)
        failover_ms = (t_first - t_kill) * 1000
        run.outages.append((t_kill, t_first))
    if failover_ms is None:
        run.outages.append((t_kill, time.perf_counter()))
    owner_seen_ms: float | None = None
    with contextlib.suppress(TimeoutError):
        owner_seen_ms = (await asyncio.wait_for(watcher, 5) - t_kill) * 1000
    new_owner = None
    with contextlib.suppress(RuntimeError):
        new_owner = (await _find_owner(run, http, timeout=5)).index
    run.kill_at = None
    t_restart = time.perf_counter()
    owner.start()
    await owner.wait_ready(http)
    restart_s = time.perf_counter() - t_restart
    row = {
        "kill": number,
        "killed": owner.index,
        "new_owner": new_owner,
        "failover_ms": failover_ms,
        "owner_seen_ms": owner_seen_ms,
        "restart_s": restart_s,
        "players_on_killed": on_killed,
        "unavailable": run.errors["unavailable"] - errors_before,
        "reconnects": run.reconnects() - reconnects_before,
    }
    shown = "-" if failover_ms is None else f"{failover_ms:.0f}"
    seen = "-" if owner_seen_ms is None else f"{owner_seen_ms:.0f}"
    print(
        f"kill {number:2d}: process {owner.index} ({on_killed} players) → {new_owner}; failover "
        f"{shown} ms, owner seen {seen} ms, {row['unavailable']} unavailable, "
        f"{row['reconnects']} reconnects; restarted in {restart_s:.1f} s",
        flush=True,
    )
    return row


async def _sql(url: str, statement: str) -> None:
    connection = await asyncpg.connect(url, timeout=10)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def _play(run: Run, http: httpx.AsyncClient) -> dict[str, Any]:
    options = run.options
    created = (
        await http.post(
            f"{run.servers[0].url}/api/quizzes",
            json={
                "title": "failover",
                "count": 100,
                "seed": options.seed,
                "settings": {"time_limit_ms": 30_000, "close_when_all_answered": True},
            },
        )
    ).json()
    pin, quiz_id = created["pin"], created["quiz_id"]
    run.host = Client(run, "host", created["host_token"], 1 % len(run.servers), host=True)
    for n in range(options.players):
        home = n % len(run.servers)
        joined = await http.post(
            f"{run.servers[home].url}/api/quizzes/{pin}/players", json={"nickname": f"fo{n}"}
        )
        joined.raise_for_status()
        run.players.append(Client(run, f"fo{n}", joined.json()["token"], home))
    clients = [run.host, *run.players]
    tasks = [asyncio.create_task(c.run_forever()) for c in clients]
    driver = asyncio.create_task(run.drive())
    rows: list[dict[str, Any]] = []
    budget = time.monotonic() + options.max_s
    try:
        while not all(c.welcomed for c in clients):
            await asyncio.sleep(0.05)
        run.started = True
        run.host.send({"type": "host", "action": "start"})
        for number in range(1, options.kills + 1):
            if time.monotonic() > budget:
                print(f"time budget of {options.max_s} s spent after {number - 1} kills")
                break
            if run.host.phase == "finished":
                print(f"the quiz ran out of questions after {number - 1} kills")
                break
            rows.append(await _one_kill(run, http, number))
        # end the quiz and hold every ack against the host's results; the answers in flight
        # are given a moment to be acknowledged first
        run.ending = True
        deadline = time.monotonic() + 10
        while any(p.pending for p in run.players) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        now = time.perf_counter()
        for player in run.players:
            for q, (_, first, in_flight, last) in player.pending.items():
                print(
                    f"no reply: {player.name} q{q} on process {player.at}, first sent "
                    f"{now - first:.1f} s ago, last {now - last:.1f} s ago, in flight "
                    f"{in_flight}, connected {player.welcomed}",
                    file=sys.stderr,
                )
        run.host.send({"type": "host", "action": "end"})
        # refused ('unavailable'): the host looks (sync) and sends it again
        deadline = time.monotonic() + 30
        while run.host.final is None and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        report = run.host.final
        if report is None:  # read it from any live process
            for server in run.servers:
                with contextlib.suppress(httpx.HTTPError, ValueError):
                    response = await http.get(
                        f"{server.url}/api/quizzes/{quiz_id}/results",
                        headers={"authorization": f"Bearer {created['host_token']}"},
                    )
                    if response.status_code == 200:
                        report = response.json()
                        break
    finally:
        run.closing = True
        driver.cancel()
        for client in clients:
            client.done = True
            if client.ws is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(client.ws.close(), 2)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, driver, return_exceptions=True)
    return {"kills": rows, "recount": _recount(run, report)}


def _recount(run: Run, report: Frame | None) -> dict[str, Any]:
    if report is None:
        return {"checked": 0, "mismatches": None, "unresolved": None}
    lines = {line["nickname"]: line for line in report.get("players", [])}
    mismatches, examples = 0, []
    unresolved = sum(len(p.pending) for p in run.players)
    for player in run.players:
        points = sum(int(a.get("points") or 0) for a in player.acked.values())
        line = lines.get(player.name, {})
        if line.get("score") != points or line.get("answered") != len(player.acked):
            mismatches += 1
            examples.append(
                {"player": player.name, "acked_points": points, "acked": len(player.acked),
                 "score": line.get("score"), "answered": line.get("answered")}
            )  # fmt: skip
    return {
        "checked": len(run.players),
        "answers_acked": sum(len(p.acked) for p in run.players),
        "mismatches": mismatches,
        "unresolved": unresolved,
        "examples": examples[:5],
    }


def _ack_figures(run: Run) -> dict[str, dict[str, float | None]]:
    """Ack latencies of the answers sent and acknowledged between kills, and of those held
    across one (sent after a kill, or before it and acknowledged after it)."""
    steady: list[float] = []
    held: list[float] = []
    for sent, acked in run.acks:
        across = any(sent < end and acked > kill for kill, end in run.outages)
        (held if across else steady).append((acked - sent) * 1000)
    return {"steady": _figures(steady, p99=True), "held": _figures(held)}


def _figures(values: list[float], *, p99: bool = False) -> dict[str, float | None]:
    ordered = sorted(values)

    def rank(q: int) -> float | None:
        # nearest rank, as livequiz bench: every figure is one that was measured
        return ordered[max(1, -(-len(ordered) * q // 100)) - 1] if ordered else None

    figures = {
        "count": len(ordered),
        "p50": rank(50),
        "max": ordered[-1] if ordered else None,
        "min": ordered[0] if ordered else None,
    }
    if p99:
        figures["p99"] = rank(99)
    return figures


async def main(options: argparse.Namespace) -> int:
    schema = f"bench_failover_{secrets.token_hex(4)}"
    logs = Path(tempfile.mkdtemp(prefix="livequiz-failover-"))
    await _sql(options.database, f'CREATE SCHEMA "{schema}"')
    servers = [
        Server(
            i,
            options.port + i,
            [
                *("--data-dir", str(logs / f"data-{i}"), "--log-level", "warning"),
                *("--database", options.database, "--database-schema", schema),
                *("--bus", options.bus, "--lease-s", str(options.lease_s)),
                *("--join-burst", "100000", "--join-rate", "100000"),
                *("--max-connections-per-address", "20000"),
                *("--new-connection-burst", "100000", "--new-connection-rate", "100000"),
                *("--max-http-connections-per-address", "20000"),
            ],
            logs,
        )
        for i in range(options.processes)
    ]
    run = Run(servers, options)
    t0 = time.monotonic()
    try:
        for server in servers:
            server.start()
        async with httpx.AsyncClient(timeout=10) as http:
            await asyncio.gather(*(server.wait_ready(http) for server in servers))
            outcome = await _play(run, http)
    finally:
        for server in servers:
            server.stop()
        with contextlib.suppress(OSError, asyncpg.PostgresError):
            await _sql(options.database, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    rows = outcome["kills"]
    failover = [r["failover_ms"] for r in rows if r["failover_ms"] is not None]
    seen = [r["owner_seen_ms"] for r in rows if r["owner_seen_ms"] is not None]
    result = {
        "config": {
            "processes": options.processes,
            "kills": options.kills,
            "lease_s": options.lease_s,
            "players": options.players,
            "rate": options.rate,
        },
        "kills_done": len(rows),
        "failed_kills": sum(r["failover_ms"] is None for r in rows),
        "failover_ms": {**_figures(failover), "values": [round(v, 1) for v in failover]},
        "owner_seen_ms": {**_figures(seen), "values": [round(v, 1) for v in seen]},
        "restart_s": _figures([r["restart_s"] for r in rows]),
        "ack_ms": _ack_figures(run),
        "answers_sent": run.answers_sent,
        "ack_statuses": dict(run.statuses),
        "errors": dict(run.errors),
        "recount": outcome["recount"],
        "rows": rows,
        "seconds": time.monotonic() - t0,
    }
    _print(result)
    if options.json_out is not None:
        options.json_out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    ok = (
        len(rows) == options.kills
        and not result["failed_kills"]
        and outcome["recount"]["mismatches"] == 0
    )
    if not ok:
        print(f"server logs kept in {logs}", file=sys.stderr)
    else:
        import shutil

        shutil.rmtree(logs, ignore_errors=True)
    return 0 if ok else 1


def _print(result: dict[str, Any]) -> None:
    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.0f}"

    cfg, failover, seen = result["config"], result["failover_ms"], result["owner_seen_ms"]
    recount = result["recount"]
    print()
    print(
        f"failover: {cfg['processes']} processes on PostgreSQL + NATS, lease {cfg['lease_s']} s, "
        f"{cfg['players']} players answering {cfg['rate']}/s; {result['kills_done']} of "
        f"{cfg['kills']} kills in {result['seconds']:.0f} s, {result['failed_kills']} without "
        f"an accepted answer within {FAILOVER_TIMEOUT_S:.0f} s"
    )
    print(
        f"kill -9 → first accepted answer ms: p50 {ms(failover['p50'])}, max "
        f"{ms(failover['max'])}, min {ms(failover['min'])}"
    )
    print("  all: " + ", ".join(ms(v) for v in failover["values"]))
    print(
        f"kill -9 → new owner on /metrics ms (±100): p50 {ms(seen['p50'])}, max {ms(seen['max'])}"
    )
    print(
        f"restart → ready s: p50 {result['restart_s']['p50'] or 0:.1f}, "
        f"max {result['restart_s']['max'] or 0:.1f}"
    )
    print(
        f"answers: {result['answers_sent']} sent, acks {result['ack_statuses']}, "
        f"errors {result['errors'] or 'none'}"
    )
    steady, held = result["ack_ms"]["steady"], result["ack_ms"]["held"]
    print(
        f"ack ms (last send → accepted): between kills p50 {ms(steady['p50'])}, p99 "
        f"{ms(steady['p99'])}, max {ms(steady['max'])} (n={steady['count']}); held across a "
        f"failover p50 {ms(held['p50'])}, max {ms(held['max'])} (n={held['count']})"
    )
    print(
        f"recount: {recount.get('checked')} players, {recount.get('answers_acked')} acked "
        f"answers, {recount.get('mismatches')} mismatches, {recount.get('unresolved')} "
        "answers without a reply at the end"
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="kill -9 a quiz's owner again and again; time until answers are accepted",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--players", type=int, default=60)
    parser.add_argument("--rate", type=float, default=20.0, help="answers per second, all players")
    parser.add_argument("--lease-s", type=float, default=3.0)
    parser.add_argument(
        "--settle-s",
        type=float,
        default=1.0,
        help="after a restart, at least this long (then a steady state) before the next kill",
    )
    parser.add_argument("--port", type=int, default=int(os.environ.get("BENCH_PORT", "8765")))
    parser.add_argument(
        "--database",
        default=os.environ.get("BENCH_DATABASE", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    parser.add_argument("--bus", default=os.environ.get("BENCH_BUS", "nats://127.0.0.1:4222"))
    parser.add_argument(
        "--max-s", type=float, default=300.0, help="stop killing after this long (the run ends)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json-out", type=Path)
    return parser


if __name__ == "__main__":
    arguments = _parser().parse_args()
    if not 2 <= arguments.processes <= 8:
        sys.exit("--processes: 2 to 8 (someone must take the quiz over)")
    for address in (arguments.database, arguments.bus):
        if "127.0.0.1" not in address and "localhost" not in address:
            sys.exit(f"{address}: this measurement runs on this machine only (127.0.0.1)")
    sys.exit(asyncio.run(main(arguments)))
