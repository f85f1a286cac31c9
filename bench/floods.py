"""Floods side by side: honest players' ack latency, quiet and under every flood at once.

    .venv/bin/python bench/floods.py [--rounds 2] [--questions 12] [--players 100]
                                     [--attacks all|never_read,rate,conns,storm,oversize,slowloris]
                                     [--json-out PATH]

Why: issue 16, part 5 asks that floods and slow clients leave honest players alone — their ack
p99 within 2× of the quiet figure — measured side by side. On a shared 2-core machine a figure
taken an hour apart means nothing, so this runs quiet and attacked phases alternately in one
run against one server (quiet, attack, quiet, attack, … ``--rounds`` times) and compares them.

What runs:

* ``livequiz serve`` as a subprocess, every limit at its default, the embedded default (SQLite
  journal in a temporary directory). Its stderr goes to a log file, which is searched for
  tracebacks at the end (none may reach a user, and none should be logged either).
* **Honest players** (this process, ``--players``, from 127.0.0.2): they join one quiz over the
  WebSocket; the host (127.0.0.2 too) opens a question, closes it after ``--window-s`` and opens
  the next. Each player answers each question at a random moment of the first 80 % of the
  window and times answer → ``ack``. Each phase is ``--questions`` questions. During each
  attacked phase, ``--latecomers`` new players join from 127.0.0.2 over HTTP (must succeed).
* **Attackers** (a separate process, ``bench/floods.py attack``, so its work does not stall the
  honest clients' event loop), all at once during each attacked phase:

  - ``never_read``: sockets from 127.0.0.3 that complete the handshake, say ``hello`` with a
    token of the honest quiz (one attacker player, many tabs) and never read a byte while the
    boards stream. Half keep the kernel's default receive buffer, half shrink it to 4 KiB.
    Whether and when the server cut each off is read from the socket's TCP state (an RST or a
    FIN), without reading.
  - ``rate``: 4 connections from 127.0.0.4, each a joined attacker that writes ``sync``
    messages as fast as it can (thousands a second) until the server closes it, then
    reconnects and does it again; the frames it got back are tallied (``rate_limited`` error,
    close code).
  - ``conns``: 1,100 WebSocket upgrades from 127.0.0.5 in steps of 100, over the per-address
    cap of 1,000; the statuses are tallied (101 / 429), the accepted ones are held until the
    server closes them (4001, no authentication within 10 s), then again.
  - ``storm``: joins over HTTP into the honest quiz — 2,000 at once from 127.0.0.6, and 250 from
    each of 127.0.1.1–127.0.1.10 (over the burst of 200 each) — repeated every 5 s; statuses
    tallied (201 / 429).
  - ``oversize``: a 1 MiB WebSocket frame (expects close 1009) and a 2 MiB request body (expects
    413) from 127.0.0.7, one after the other, all the time.
  - ``slowloris``: 50 sockets from 127.0.0.8 sending a request head a byte a second.

* The server's resident memory (``/proc/PID/status``), sampled every 0.25 s.

Prints one table and, with ``--json-out``, writes every figure. Exit status 1 if an honest
answer went unacknowledged, an honest player was disconnected, a latecomer could not join, a
traceback is in the server's log, or the ack p99 under attack is over ``--max-ratio`` (2) × quiet.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shlex
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil  # type: ignore[import-untyped]
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidMessage, InvalidStatus

ROOT = Path(__file__).resolve().parent.parent
LIVEQUIZ = ROOT / ".venv" / "bin" / "livequiz"
HONEST_ADDR = "127.0.0.2"
ATTACKS = ("never_read", "rate", "conns", "storm", "oversize", "slowloris")


# ---------------------------------------------------------------------------------- helpers


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def rss_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of ``pid`` in KiB."""
    rss = hwm = 0
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    return rss, hwm


def cpu_seconds(pid: int) -> float:
    """CPU time ``pid`` has used so far (user + system)."""
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def run_queue_wait(pid: int) -> float:
    """Seconds the main thread of ``pid`` has been ready to run but waiting for a CPU.

    The second field of ``/proc/PID/task/PID/schedstat``: time on a run queue, not running.
    What grows here while a phase runs is delay that no code of the process could avoid:
    the machine's cores were busy with something else.
    """
    fields = Path(f"/proc/{pid}/task/{pid}/schedstat").read_text().split()
    return int(fields[1]) / 1e9


def minor_faults(pid: int) -> int:
    """Page faults ``pid`` has taken that needed no disk (a page touched for the first time:
    the kernel finds and zeroes a page while the process waits), from ``/proc/PID/stat``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return int(fields[7])  # minflt, the 10th field of the whole line


def upgrade_request(port: int) -> bytes:
    return (
        f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


def client_text_frame(payload: bytes) -> bytes:
    """A masked client text frame (mask key 0: the payload is sent as is, legally masked)."""
    n = len(payload)
    if n < 126:
        head = bytes((0x81, 0x80 | n))
    elif n < 65536:
        head = struct.pack("!BBH", 0x81, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x81, 0x80 | 127, n)
    return head + b"\0\0\0\0" + payload


def ws_connect(url: str, local: str, **kwargs: Any) -> connect:
    return connect(
        url,
        compression=None,
        open_timeout=20,
        max_size=None,
        ping_interval=None,
        local_addr=(local, 0),
        **kwargs,
    )


# ---------------------------------------------------------------------------------- attacker


class Attacker:
    """Every flood of the module docstring, in one event loop, for ``duration`` seconds."""

    def __init__(self, base: str, pin: str, duration: float, attacks: set[str]) -> None:
        self.base = base
        self.port = int(base.rsplit(":", 1)[1])
        self.ws_url = base.replace("http://", "ws://") + "/ws"
        self.pin = pin
        self.attacks = attacks
        self.deadline = time.monotonic() + duration
        self.started = time.monotonic()
        self.stats: dict[str, Any] = {}
        self.nick = 0

    def live(self) -> bool:
        return time.monotonic() < self.deadline

    def name(self, prefix: str) -> str:
        self.nick += 1
        return f"{prefix}{os.getpid() % 1000}x{self.nick}"[:20]

    async def token(self, local: str) -> str:
        async with httpx.AsyncClient(
            base_url=self.base, transport=httpx.AsyncHTTPTransport(local_address=local)
        ) as http:
            for _ in range(50):
                response = await http.post(
                    f"/api/quizzes/{self.pin}/players", json={"nickname": self.name("nr")}
                )
                if response.status_code == 201:
                    return str(response.json()["token"])
                await asyncio.sleep(0.2)
        raise RuntimeError("attacker could not join")

    async def run(self) -> dict[str, Any]:
        jobs = {
            "never_read": self.never_read,
            "rate": self.rate,
            "conns": self.conns,
            "storm": self.storm,
            "oversize": self.oversize,
            "slowloris": self.slowloris,
        }
        await asyncio.gather(*(jobs[name]() for name in ATTACKS if name in self.attacks))
        return self.stats

    # -- a client that never reads -------------------------------------------------------

    async def never_read(self, count: int = 100) -> None:
        token = await self.token("127.0.0.3")
        loop = asyncio.get_running_loop()
        socks: list[tuple[socket.socket, bool, float]] = []
        hello = client_text_frame(orjson.dumps({"type": "hello", "token": token}))
        for i in range(count):
            # Even: kernel's default receive buffer; odd: 4 KiB. The first fifth also send a
            # pong frame every 5 s (any byte counts as alive: the keepalive does not close
            # them, only the slow-client limits can).
            small = i % 2 == 1
            sock = socket.socket()
            if small:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.bind(("127.0.0.3", 0))
            sock.setblocking(False)
            await loop.sock_connect(sock, ("127.0.0.1", self.port))
            await loop.sock_sendall(sock, upgrade_request(self.port))
            head = b""
            while b"\r\n\r\n" not in head:  # the 101 only, byte by byte: nothing after it
                head += await loop.sock_recv(sock, 1)
            assert head.startswith(b"HTTP/1.1 101"), head[:40]
            await loop.sock_sendall(sock, hello)
            socks.append((sock, small, time.monotonic()))
        cut: dict[int, float] = {}
        talking = count // 5
        pong = bytes((0x8A, 0x80)) + b"\0\0\0\0"
        next_pong = time.monotonic() + 5
        while self.live():
            now = time.monotonic()
            if now >= next_pong:
                next_pong = now + 5
                for index, (sock, _small, _opened) in enumerate(socks[:talking]):
                    if index not in cut:
                        with contextlib.suppress(OSError):
                            sock.send(pong)
            for index, (sock, _small, opened) in enumerate(socks):
                if index in cut:
                    continue
                state = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0]
                if state != 1:  # not ESTABLISHED: the server sent its FIN or an RST
                    cut[index] = now - opened
            await asyncio.sleep(0.25)
        for small in (False, True):
            for talks in (True, False):
                group = [i for i in range(count) if socks[i][1] is small and (i < talking) is talks]
                times = [cut[i] for i in group if i in cut]
                label = "never_read_rcvbuf_" + ("4k" if small else "default")
                label += "_sending_pongs" if talks else "_silent"
                self.stats[label] = {
                    "sockets": len(group),
                    "cut_off_seen_by_client": len(times),
                    "cut_off_s_min": round(min(times), 1) if times else None,
                    "cut_off_s_max": round(max(times), 1) if times else None,
                }
        for sock, _small, _opened in socks:
            sock.close()

    # -- one client far over its message rate -----------------------------------------------

    async def rate(self, flooders: int = 4) -> None:
        tallies: Counter[str] = Counter()
        sent = [0]
        burst = [0.0]

        async def one() -> None:
            token = await self.token("127.0.0.4")
            sync = orjson.dumps({"type": "sync"}).decode()
            while self.live():
                try:
                    async with ws_connect(self.ws_url, "127.0.0.4") as ws:
                        await ws.send(orjson.dumps({"type": "hello", "token": token}).decode())
                        while (orjson.loads(await ws.recv()))["type"] != "welcome":
                            pass
                        began = time.perf_counter()
                        n = 0
                        with contextlib.suppress(ConnectionClosed):
                            for _ in range(3000):
                                await ws.send(sync)
                                n += 1
                        took = time.perf_counter() - began
                        sent[0] += n
                        if took > 0:
                            burst[0] = max(burst[0], n / took)
                        with contextlib.suppress(ConnectionClosed):
                            async for text in ws:
                                frame = orjson.loads(text)
                                if frame["type"] == "error":
                                    tallies[f"error {frame['code']}"] += 1
                        tallies[f"close {ws.close_code}"] += 1
                except InvalidStatus as error:  # 429: each 1008 costs the address 10 tokens
                    tallies[f"refused {error.response.status_code}"] += 1
                    await asyncio.sleep(0.2)
                except (OSError, TimeoutError, AssertionError, InvalidMessage) as error:
                    # AssertionError: websockets' client (17.4) trips on an answer and a close
                    # during its handshake (a 429 at the accept), instead of raising InvalidStatus;
                    # InvalidMessage: the connection closed before the handshake's answer (one
                    # run of 2026-12-05 lost its whole rate attack to it)
                    tallies[f"connect failed: {type(error).__name__}"] += 1
                    await asyncio.sleep(0.2)

        await asyncio.gather(*(one() for _ in range(flooders)))
        self.stats["rate"] = {
            "messages_sent": sent[0],
            "fastest_burst_per_s": round(burst[0]),
            "seen": dict(tallies),
        }

    # -- many connections from one address ------------------------------------------------------

    async def conns(self, count: int = 1100) -> None:
        statuses: Counter[str] = Counter()
        request = upgrade_request(self.port)

        async def one() -> None:
            try:
                reader, writer = await asyncio.open_connection(
                    "127.0.0.1", self.port, local_addr=("127.0.0.5", 0)
                )
            except OSError as error:
                statuses[f"connect {type(error).__name__}"] += 1
                return
            try:
                writer.write(request)
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
                statuses[head.split(b" ", 2)[1].decode()] += 1
                if head.startswith(b"HTTP/1.1 101"):
                    remaining = self.deadline - time.monotonic()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(reader.read(), max(0.1, remaining))
            except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
                statuses["closed without an answer"] += 1
            finally:
                writer.close()

        rounds = 0
        while self.live():
            rounds += 1
            # In steps of 100 (each step's upgrades answered before the next): a burst of more
            # than the HTTP guard's 256 connections per address at once is cut down by it
            # before the WebSocket cap is reached (the oldest connections without a whole
            # request head are evicted), which is the HTTP guard's test, not this one.
            held = []
            for start in range(0, count, 100):
                step = [
                    asyncio.create_task(one(), name="conn") for _ in range(min(100, count - start))
                ]
                held += step
                while sum(statuses.values()) < (rounds - 1) * count + start + len(step):
                    await asyncio.sleep(0.01)
            await asyncio.gather(*held)
        self.stats["conns"] = {"rounds": rounds, "per_round": count, "statuses": dict(statuses)}

    # -- a join storm -------------------------------------------------------------------------

    async def storm(self) -> None:
        statuses: Counter[str] = Counter()
        elsewhere: Counter[str] = Counter()
        names = iter(self.name("st") for _ in range(1_000_000))

        async def from_address(local: str, joins: int, tally: Counter[str]) -> None:
            """``joins`` join requests over 50 kept-alive connections at once (raw HTTP/1.1:
            httpx's pool spends seconds of CPU queueing thousands of requests)."""
            left = [joins]

            async def connection() -> None:
                try:
                    reader, writer = await asyncio.open_connection(
                        "127.0.0.1", self.port, local_addr=(local, 0)
                    )
                except OSError as error:
                    tally[f"connect {type(error).__name__}"] += 1
                    return
                try:
                    while left[0] > 0:
                        left[0] -= 1
                        body = orjson.dumps({"nickname": next(names)})
                        writer.write(
                            b"POST /api/quizzes/%s/players HTTP/1.1\r\nHost: x\r\n"
                            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                            % (self.pin.encode(), len(body))
                            + body
                        )
                        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
                        length = 0
                        for line in head.split(b"\r\n"):
                            if line.lower().startswith(b"content-length:"):
                                length = int(line.split(b":")[1])
                        answer = orjson.loads(await reader.readexactly(length))
                        code = answer.get("error", {}).get("code", "") if length else ""
                        tally[f"{head.split(b' ', 2)[1].decode()} {code}".strip()] += 1
                except (OSError, asyncio.IncompleteReadError, TimeoutError) as error:
                    tally[type(error).__name__] += 1
                finally:
                    writer.close()

            await asyncio.gather(*(connection() for _ in range(50)))

        waves = 0
        while self.live():
            waves += 1
            began = time.monotonic()
            await asyncio.gather(
                from_address("127.0.0.6", 2000, statuses),
                *(from_address(f"127.0.1.{i}", 250, elsewhere) for i in range(1, 11)),
            )
            await asyncio.sleep(max(0.0, 5 - (time.monotonic() - began)))
        self.stats["storm"] = {
            "waves": waves,
            "one_address_2000": dict(statuses),
            "ten_addresses_250_each": dict(elsewhere),
        }

    # -- oversized frames and bodies ------------------------------------------------------------

    async def oversize(self) -> None:
        frames: Counter[str] = Counter()
        bodies: Counter[str] = Counter()
        big = "x" * (1 << 20)
        body = b" " * (2 << 20)
        while self.live():
            try:
                async with ws_connect(self.ws_url, "127.0.0.7") as ws:
                    with contextlib.suppress(ConnectionClosed):
                        await ws.send(big)
                        await ws.recv()
                    frames[f"close {ws.close_code}"] += 1
            except InvalidStatus as error:  # 429: over the address's budget of new connections
                frames[f"refused {error.response.status_code}"] += 1
            except (OSError, TimeoutError, AssertionError, InvalidMessage) as error:
                # AssertionError: websockets' client (17.4) trips on an answer and a close
                # during its handshake (a 429 at the accept), instead of raising InvalidStatus;
                # InvalidMessage: the connection closed before the handshake's answer
                frames[type(error).__name__] += 1
            try:
                reader, writer = await asyncio.open_connection(
                    "127.0.0.1", self.port, local_addr=("127.0.0.7", 0)
                )
                writer.write(
                    b"POST /api/quizzes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n" % len(body) + body
                )
                head = await asyncio.wait_for(reader.readuntil(b"\r\n"), 10)
                bodies[head.split(b" ", 2)[1].decode()] += 1
                writer.close()
            except (OSError, asyncio.IncompleteReadError, TimeoutError) as error:
                bodies[type(error).__name__] += 1
        self.stats["oversize"] = {"ws_1mib_frame": dict(frames), "http_2mib_body": dict(bodies)}

    # -- slowloris ----------------------------------------------------------------------------

    async def slowloris(self, count: int = 50) -> None:
        outcomes: Counter[str] = Counter()
        head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 1000

        async def one() -> None:
            while self.live():
                try:
                    reader, writer = await asyncio.open_connection(
                        "127.0.0.1", self.port, local_addr=("127.0.0.8", 0)
                    )
                except OSError:
                    outcomes["connect failed"] += 1
                    await asyncio.sleep(1)
                    continue
                began = time.monotonic()
                try:
                    for byte in head:
                        if not self.live():
                            break
                        writer.write(bytes((byte,)))
                        await writer.drain()
                        if reader.at_eof():
                            break
                        with contextlib.suppress(TimeoutError):
                            if await asyncio.wait_for(reader.read(1), 1.0) == b"":
                                break
                    else:
                        outcomes["whole head sent"] += 1
                except ConnectionError:
                    pass
                if self.live():
                    outcomes[f"closed by the server after {round(time.monotonic() - began)} s"] += 1
                writer.close()

        await asyncio.gather(*(one() for _ in range(count)))
        self.stats["slowloris"] = dict(outcomes)


def attack_main(args: argparse.Namespace) -> None:
    attacker = Attacker(args.server, args.pin, args.duration, set(args.attacks.split(",")))
    stats = asyncio.run(attacker.run())
    print(json.dumps(stats))


# ---------------------------------------------------------------------------------- honest side


class Honest:
    """The host and the honest players of one quiz, and their measurements."""

    def __init__(self, base: str, players: int, window_s: float) -> None:
        self.base = base
        self.ws_url = base.replace("http://", "ws://") + "/ws"
        self.players = players
        self.window_s = window_s
        self.phase = "setup"
        #: phase name → ack latencies (ms) of answers sent in it
        self.sent: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()
        self.disconnects: list[str] = []
        self.missed_questions = 0
        #: per phase, (Unix time, ack ms) of every ack: when the slow ones came (beside the
        #: server's log)
        self.ack_times: dict[str, list[tuple[float, float]]] = {}
        self.question_seen: Counter[int] = Counter()
        self.pin = ""
        self.host_token = ""
        self.host: ClientConnection | None = None
        self.stop = asyncio.Event()
        self.rng = random.Random(16)

    async def create(self, count: int) -> None:
        async with httpx.AsyncClient(base_url=self.base, timeout=30) as http:
            response = await http.post(
                "/api/quizzes",
                json={
                    "count": count,
                    "seed": 16,
                    "settings": {
                        "time_limit_ms": 60_000,
                        "close_when_all_answered": False,
                        # the storm's joins add up over many rounds: keep the latecomers' room
                        "max_players": 100_000,
                    },
                },
            )
            response.raise_for_status()
            quiz = response.json()
        self.pin, self.host_token = quiz["pin"], quiz["host_token"]

    async def player(self, index: int, ready: asyncio.Event, joined: list[int]) -> None:
        pending: dict[int, tuple[float, str]] = {}
        async with ws_connect(self.ws_url, HONEST_ADDR) as ws:
            await ws.send(
                orjson.dumps(
                    {"type": "join", "pin": self.pin, "nickname": f"Honest {index}"}
                ).decode()
            )
            welcome = orjson.loads(await ws.recv())
            assert welcome["type"] == "welcome", welcome
            joined[0] += 1
            if joined[0] == self.players:
                ready.set()

            async def answer(q: int, options: int) -> None:
                await asyncio.sleep(self.rng.uniform(0.05, 0.8 * self.window_s))
                if self.phase == "between":
                    return  # after the last measured phase: not counted, not sent
                pending[q] = (time.perf_counter(), self.phase)
                self.sent[self.phase] += 1
                with contextlib.suppress(ConnectionClosed):
                    await ws.send(
                        orjson.dumps(
                            {"type": "answer", "q": q, "option": self.rng.randrange(options)}
                        ).decode()
                    )

            tasks: set[asyncio.Task[None]] = set()
            try:
                async for text in ws:
                    frame = orjson.loads(text)
                    kind = frame["type"]
                    if kind == "question":
                        question = frame["question"]
                        self.question_seen[question["index"]] += 1
                        task = asyncio.create_task(
                            answer(question["index"], len(question["options"]))
                        )
                        tasks.add(task)
                        task.add_done_callback(tasks.discard)
                    elif kind == "ack":
                        sent_at, phase = pending.pop(frame["q"])
                        self.ack_times.setdefault(phase, []).append(
                            (time.time(), (time.perf_counter() - sent_at) * 1000)
                        )
                    elif kind == "error":
                        self.refused[frame.get("code", "?")] += 1
                        if "q" in frame:
                            pending.pop(frame["q"], None)
                    elif kind == "finished":
                        return
            except ConnectionClosed as closed:
                if not self.stop.is_set():
                    self.disconnects.append(f"Honest {index}: {closed}")
                return
            if not self.stop.is_set():
                self.disconnects.append(f"Honest {index}: closed {ws.close_code}")

    @property
    def acks(self) -> dict[str, list[float]]:
        """Per phase, every ack's latency in ms."""
        return {phase: [ms for _, ms in acks] for phase, acks in self.ack_times.items()}

    async def host_command(self, action: str) -> None:
        assert self.host is not None
        await self.host.send(orjson.dumps({"type": "host", "action": action}).decode())

    async def host_frames(self, frames: asyncio.Queue[dict[str, Any]]) -> None:
        assert self.host is not None
        with contextlib.suppress(ConnectionClosed):
            async for text in self.host:
                frame = orjson.loads(text)
                if frame["type"] in ("question", "closed", "host_ack", "error", "finished"):
                    await frames.put(frame)

    async def latecomers(self, count: int, phase: str) -> list[int]:
        """New players joining during the phase over HTTP from the honest address."""
        codes: list[int] = []
        async with httpx.AsyncClient(
            base_url=self.base,
            timeout=30,
            transport=httpx.AsyncHTTPTransport(local_address=HONEST_ADDR),
        ) as http:
            for i in range(count):
                await asyncio.sleep(self.window_s)
                response = await http.post(
                    f"/api/quizzes/{self.pin}/players", json={"nickname": f"Late {phase} {i}"}
                )
                codes.append(response.status_code)
        return codes


# ---------------------------------------------------------------------------------- the run


async def scrape(base: str) -> str:
    """The server's ``/metrics`` now."""
    async with httpx.AsyncClient(timeout=5) as http:
        return (await http.get(base + "/metrics")).text


def gc_pauses(text: str) -> dict[str, float]:
    """The server's garbage-collection pauses so far, from ``/metrics``: count and seconds
    per generation (``count0``, ``sum0``, …). A collection holds the whole event loop, so an
    answer read just before one waits for all of it."""
    totals: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("livequiz_gc_pause_seconds_") and "generation=" in line:
            name, _, value = line.partition(" ")
            kind = name.removeprefix("livequiz_gc_pause_seconds_").partition("{")[0]
            if kind in ("count", "sum"):
                totals[kind + name.split('generation="')[1][0]] = float(value)
    return totals


def server_histograms(text: str) -> dict[str, dict[str, float]]:
    """The server's own latency histograms so far, cumulative count per bucket bound (and
    ``sum``): ``ack`` (``livequiz_ack_seconds``: an answer frame read → its ack sent) and
    ``batch`` (``livequiz_batch_seconds``: the owner's batch applied and stored). Beside the
    players' figure they say how much of an ack's time is spent inside the server after the
    frame is read, and how much before (the loop busy with others, the kernel) or after."""
    found: dict[str, dict[str, float]] = {"ack": {}, "batch": {}}
    for line in text.splitlines():
        for key, metric in (("ack", "livequiz_ack_seconds"), ("batch", "livequiz_batch_seconds")):
            name, _, value = line.partition(" ")
            if name.startswith(metric + "_bucket{"):
                found[key][name.split('le="')[1].split('"')[0]] = float(value)
            elif name == metric + "_sum":
                found[key]["sum"] = float(value)
    return found


def _cpus(spec: str) -> set[int]:
    """``"0"`` or ``"1,2"`` or ``"2-3"`` → the CPU numbers; ``""`` → none (no pinning)."""
    cpus: set[int] = set()
    for part in filter(None, spec.split(",")):
        low, _, high = part.partition("-")
        cpus.update(range(int(low), int(high or low) + 1))
    return cpus


async def run(args: argparse.Namespace) -> int:
    data_dir = Path(tempfile.mkdtemp(prefix="floods-"))
    log_path = Path(args.log or data_dir / "server.log")
    log = log_path.open("wb")
    port = args.port
    base = f"http://127.0.0.1:{port}"
    server_cpus = _cpus(args.server_cpus)
    load_cpus = _cpus(args.load_cpus)
    if load_cpus:  # the honest players (this process) and, through inheritance, the attackers
        os.sched_setaffinity(0, load_cpus)
    server = subprocess.Popen(
        [
            *(["taskset", "-c", args.server_cpus] if server_cpus else []),
            str(LIVEQUIZ),
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir / "data"),
            *shlex.split(args.server_args),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    samples: list[tuple[float, str, int]] = []
    honest = Honest(base, args.players, args.window_s)
    try:
        async with httpx.AsyncClient(base_url=base, timeout=5) as http:
            for _ in range(200):
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get("/readyz")).status_code == 200:
                        break
                await asyncio.sleep(0.1)
        rss_start = rss_kib(server.pid)[0]
        phases = ["warm-up"] if args.warm_up else []
        for r in range(args.rounds):
            phases += [f"quiet{r + 1}", f"attack{r + 1}"]
        if args.end_quiet:
            phases.append(f"quiet{args.rounds + 1}")
        if args.questions * len(phases) + 1 > 100:  # a quiz has at most 100 questions
            raise SystemExit(f"--questions × {len(phases)} phases must stay under 100")
        await honest.create(args.questions * len(phases) + 1)

        async def sample() -> None:
            while True:
                samples.append((time.monotonic(), honest.phase, rss_kib(server.pid)[0]))
                await asyncio.sleep(0.25)

        sampler = asyncio.create_task(sample())
        ready = asyncio.Event()
        joined = [0]
        players = [
            asyncio.create_task(honest.player(i, ready, joined)) for i in range(args.players)
        ]
        await asyncio.wait_for(ready.wait(), 60)
        rss_joined = rss_kib(server.pid)[0]
        frames: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        attack_stats: dict[str, Any] = {}
        gc_by_phase: dict[str, dict[str, float]] = {}
        cpu_by_phase: dict[str, float] = {}
        waits_by_phase: dict[str, dict[str, float]] = {}
        bench_cpu_by_phase: dict[str, float] = {}
        faults_by_phase: dict[str, int] = {}
        histograms_by_phase: dict[str, dict[str, dict[str, float]]] = {}
        latecomer_codes: dict[str, list[int]] = {}
        async with ws_connect(honest.ws_url, HONEST_ADDR) as host:
            honest.host = host
            await host.send(orjson.dumps({"type": "hello", "token": honest.host_token}).decode())
            reader = asyncio.create_task(honest.host_frames(frames))

            async def expect(kind: str) -> dict[str, Any]:
                while True:
                    frame = await asyncio.wait_for(frames.get(), 60)
                    if frame["type"] == kind:
                        return frame
                    if frame["type"] == "error":
                        raise RuntimeError(f"host refused: {frame}")

            await honest.host_command("start")
            await expect("question")
            question = 0
            for phase in phases:
                honest.phase = phase
                attacker = late = None
                if phase.startswith("attack") or phase == "warm-up":
                    duration = args.questions * (args.window_s + 0.35) + 2
                    attacker = await asyncio.create_subprocess_exec(
                        "nice",
                        "-n",
                        str(args.attacker_nice),
                        sys.executable,
                        __file__,
                        "attack",
                        "--server",
                        base,
                        "--pin",
                        honest.pin,
                        "--duration",
                        str(duration),
                        "--attacks",
                        args.attacks,
                        stdout=asyncio.subprocess.PIPE,
                    )
                    await asyncio.sleep(2)  # the floods get going before the measured answers
                    late = asyncio.create_task(honest.latecomers(args.latecomers, phase))
                print(
                    f"{phase}: questions {question}-{question + args.questions - 1}, from "
                    + time.strftime("%H:%M:%S"),
                    flush=True,
                )
                metrics_before = await scrape(base)
                gc_before = gc_pauses(metrics_before)
                histograms_before = server_histograms(metrics_before)
                cpu_before, phase_began = cpu_seconds(server.pid), time.monotonic()
                waits_before = (run_queue_wait(server.pid), run_queue_wait(os.getpid()))
                bench_cpu_before = cpu_seconds(os.getpid())
                faults_before = minor_faults(server.pid)
                for _ in range(args.questions):
                    await asyncio.sleep(args.window_s)
                    await honest.host_command("close")
                    await expect("closed")
                    await asyncio.sleep(0.3)
                    question += 1
                    await honest.host_command("next")
                    await expect("question")
                honest.phase = "between"
                phase_s = time.monotonic() - phase_began
                cpu_by_phase[phase] = (cpu_seconds(server.pid) - cpu_before) / phase_s
                waits_by_phase[phase] = {
                    "server": (run_queue_wait(server.pid) - waits_before[0]) / phase_s,
                    "bench": (run_queue_wait(os.getpid()) - waits_before[1]) / phase_s,
                }
                bench_cpu_by_phase[phase] = (cpu_seconds(os.getpid()) - bench_cpu_before) / phase_s
                faults_by_phase[phase] = minor_faults(server.pid) - faults_before
                metrics_after = await scrape(base)
                gc_after = gc_pauses(metrics_after)
                histograms_after = server_histograms(metrics_after)
                histograms_by_phase[phase] = {
                    key: {
                        le: count - histograms_before[key].get(le, 0.0)
                        for le, count in buckets.items()
                    }
                    for key, buckets in histograms_after.items()
                }
                gc_by_phase[phase] = {
                    key: gc_after[key] - gc_before.get(key, 0.0) for key in gc_after
                }
                if late is not None:
                    latecomer_codes[phase] = await late
                if attacker is not None:
                    out, _ = await attacker.communicate()
                    attack_stats[phase] = json.loads(out or b"{}")
            honest.stop.set()
            await honest.host_command("end")
            await asyncio.sleep(1)
            reader.cancel()
        for task in players:
            task.cancel()
        sampler.cancel()
        rss_end, hwm = rss_kib(server.pid)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()

    # ------------------------------------------------------------------ report
    kinds = {"quiet": [], "attack": []}  # type: dict[str, list[float]]
    for phase, values in honest.acks.items():
        for kind, bucket in kinds.items():
            if phase.startswith(kind):
                bucket.extend(values)
    rows = []
    for phase in [*phases, "quiet", "attack"]:
        values = kinds[phase] if phase in kinds else honest.acks.get(phase, [])
        sent = (
            sum(n for p, n in honest.sent.items() if p.startswith(phase))
            if phase in kinds
            else honest.sent[phase]
        )
        peak = max((rss for _, p, rss in samples if p.startswith(phase)), default=0)
        rows.append(
            {
                "phase": phase + (" (all)" if phase in kinds else ""),
                "answers": sent,
                "acks": len(values),
                "p50": round(pct(values, 0.50), 1),
                "p99": round(pct(values, 0.99), 1),
                "max": round(max(values), 1) if values else None,
                "rss_peak_mib": round(peak / 1024, 1),
            }
        )
    ratio = pct(kinds["attack"], 0.99) / pct(kinds["quiet"], 0.99)
    log_text = log_path.read_text(errors="replace")
    tracebacks = log_text.count("Traceback")
    slow_closed = log_text.count("closing slow connection")
    keepalive_closed = log_text.count("keepalive timeout on connection")
    print()
    print(f"load: {os.getloadavg()}, cores: {os.cpu_count()}")
    print(
        f"{'phase':<14} {'answers':>7} {'acks':>6} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'max ms':>7} {'RSS peak MiB':>12}"
    )
    for row in rows:
        print(
            f"{row['phase']:<14} {row['answers']:>7} {row['acks']:>6} {row['p50']:>7} "
            f"{row['p99']:>7} {row['max']!s:>7} {row['rss_peak_mib']:>12}"
        )
    print(f"ack p99 under attack / quiet: {ratio:.2f} (target <= {args.max_ratio})")
    for phase, pauses in gc_by_phase.items():
        counts = ", ".join(
            f"gen {g}: {pauses.get(f'count{g}', 0):.0f} in {pauses.get(f'sum{g}', 0) * 1e3:.0f} ms"
            for g in "012"
        )
        print(f"server GC pauses in {phase}: {counts}")
    print(
        "server CPU (share of one core) by phase: "
        + ", ".join(f"{phase} {share:.0%}" for phase, share in cpu_by_phase.items())
    )
    for key, what in (("ack", "acks (frame read -> ack sent)"), ("batch", "batches stored")):
        for phase, histograms in histograms_by_phase.items():
            buckets = histograms[key]
            total = buckets.get("+Inf", 0.0)
            if not total:
                continue
            over = ", ".join(
                f"> {float(le) * 1e3:g} ms {(total - buckets.get(le, 0.0)) / total:.1%}"
                for le in ("0.0005", "0.001", "0.0025", "0.005")
            )
            mean = buckets.get("sum", 0.0) / total * 1e3
            print(f"server-side {what} in {phase}: {total:.0f}, mean {mean:.2f} ms, {over}")
    print(
        "server page faults (first touches) by phase: "
        + ", ".join(f"{phase} {count}" for phase, count in faults_by_phase.items())
    )
    print(
        "the honest players' process (this one), CPU by phase: "
        + ", ".join(f"{phase} {share:.0%}" for phase, share in bench_cpu_by_phase.items())
    )
    print(
        "waiting for a CPU (ms per second of the phase), the server's event loop / the honest "
        "players' process: "
        + ", ".join(
            f"{phase} {w['server'] * 1e3:.1f} / {w['bench'] * 1e3:.1f}"
            for phase, w in waits_by_phase.items()
        )
    )
    print(
        f"server RSS MiB: start {rss_start / 1024:.1f}, players joined {rss_joined / 1024:.1f}, "
        f"end {rss_end / 1024:.1f}, peak (VmHWM) {hwm / 1024:.1f}"
    )
    print(f"honest refusals: {dict(honest.refused)}; disconnects: {len(honest.disconnects)}")
    print(f"latecomers' join statuses: {latecomer_codes}")
    print(
        f"server log: {tracebacks} tracebacks, {slow_closed} 'closing slow connection' "
        f"(1013), {keepalive_closed} 'keepalive timeout' (1011) lines"
    )
    for phase, stats in attack_stats.items():
        print(f"{phase} attackers: {json.dumps(stats)}")
    unacked = sum(honest.sent.values()) - sum(len(v) for v in honest.acks.values())
    failures = []
    if unacked:
        failures.append(f"{unacked} honest answers without an ack")
    if honest.disconnects:
        failures.append(f"honest players disconnected: {honest.disconnects[:3]}")
    if any(code != 201 for codes in latecomer_codes.values() for code in codes):
        failures.append("a latecomer could not join")
    if tracebacks:
        failures.append(f"{tracebacks} tracebacks in the server log {log_path}")
    if not ratio <= args.max_ratio:
        failures.append(f"ack p99 ratio {ratio:.2f} over {args.max_ratio}")
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "load": os.getloadavg(),
        "args": vars(args),
        "rows": rows,
        "ratio_p99": ratio,
        "rss_mib": {
            "start": rss_start / 1024,
            "players_joined": rss_joined / 1024,
            "end": rss_end / 1024,
            "peak_hwm": hwm / 1024,
        },
        "honest_refused": dict(honest.refused),
        "latecomers": latecomer_codes,
        "tracebacks": tracebacks,
        "slow_closed": slow_closed,
        "keepalive_closed": keepalive_closed,
        "attackers": attack_stats,
        "gc_pauses": gc_by_phase,
        "server_cpu_share": cpu_by_phase,
        "run_queue_wait_share": waits_by_phase,
        "bench_cpu_share": bench_cpu_by_phase,
        "server_histograms": histograms_by_phase,
        "ack_samples": {
            phase: [(round(at, 4), round(ms, 3)) for at, ms in acks]
            for phase, acks in honest.ack_times.items()
        },
        "server_minor_faults": faults_by_phase,
        "failures": failures,
    }
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, indent=1))
    for failure in failures:
        print("FAIL:", failure)
    return 1 if failures else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    sub = parser.add_subparsers(dest="command")
    attack = sub.add_parser("attack", help="(internal) the attacking process")
    attack.add_argument("--server", required=True)
    attack.add_argument("--pin", required=True)
    attack.add_argument("--duration", type=float, required=True)
    attack.add_argument("--attacks", default=",".join(ATTACKS))
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--players", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--questions", type=int, default=12, help="questions per phase")
    parser.add_argument("--window-s", type=float, default=1.2, help="a question stays open")
    parser.add_argument("--latecomers", type=int, default=5)
    parser.add_argument("--attacks", default=",".join(ATTACKS))
    parser.add_argument("--end-quiet", action="store_true", help="a last quiet phase")
    parser.add_argument("--max-ratio", type=float, default=2.0)
    parser.add_argument(
        "--warm-up",
        action="store_true",
        help="one attacked phase first, shown but not counted: the server has seen a flood "
        "before the measured phases (the first flood a process meets costs more)",
    )
    parser.add_argument(
        "--attacker-nice",
        type=int,
        default=0,
        help="nice value of the attacking process (19: its own CPU barely competes with the "
        "server and the honest players, as on a machine of its own)",
    )
    parser.add_argument(
        "--server-cpus",
        default="",
        help="CPUs the server runs on (taskset list, e.g. '0'); default: any",
    )
    parser.add_argument(
        "--load-cpus",
        default="",
        help="CPUs the honest players and the attackers run on (e.g. '1'): with --server-cpus, "
        "the load no longer competes with the server for its cores, as when the attackers are "
        "other machines; default: any",
    )
    parser.add_argument("--log", help="server log file (default: in the temporary directory)")
    parser.add_argument("--json-out")
    parser.add_argument(
        "--server-args",
        default="",
        help="more `livequiz serve` options, one string (e.g. '--http-requests-per-turn 8')",
    )
    args = parser.parse_args()
    if args.attacks == "all":
        args.attacks = ",".join(ATTACKS)
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    if args.command == "attack":
        attack_main(args)
    else:
        sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
