"""Wiring: build every part of a livequiz server from one :class:`ServerConfig` and run it.

The only module that knows which adapter goes with which port; everything else receives its
collaborators. ``livequiz serve`` and the tests both start servers through :class:`LiveQuizServer`.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import secrets
import sys
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TextIO

from livequiz import moderation, names, stall_watch
from livequiz.adapters.embedded import EmbeddedRecords
from livequiz.adapters.local_bus import LocalBus
from livequiz.adapters.sqlite import SqliteJournal, Synchronous
from livequiz.auth import TokenSigner, load_or_create_key
from livequiz.domain.nicknames import NicknamePolicy
from livequiz.gateway import Gateway
from livequiz.http_api import build_api, join_screen
from livequiz.identity import AppAuthConfig, AppTokens
from livequiz.join_address import JoinAddress
from livequiz.moderation import is_profane_nickname, nickname_skeleton
from livequiz.observability import Metrics
from livequiz.ports import Bus, Records
from livequiz.service import QuizService, ServiceLimits
from livequiz.store import QuizStore
from livequiz.tracing import Tracing
from livequiz.transport import TransportLimits
from livequiz.transport.proxy import IPNetwork
from livequiz.transport.server import TransportServer
from livequiz.vocabulary import Deck, speech
from livequiz.vocabulary.speech import Speech
from livequiz.web import build_web

log = logging.getLogger("livequiz.app")


@dataclass
class ServerConfig:
    """Everything a server needs to know; ``livequiz serve --help`` lists each as an option."""

    host: str = "127.0.0.1"
    port: int = 8000
    #: Where the journal and the token signing key live. ``None``: memory only, nothing survives.
    data_dir: Path | None = Path("data")
    synchronous: Synchronous = Synchronous.NORMAL
    #: Allowed ``Origin`` values for WebSocket handshakes; ``None`` allows any.
    origins: frozenset[str] | None = None
    #: Reverse proxies whose ``X-Forwarded-For`` names the client (per-address limits then
    #: count the real client, not the proxy); empty: the TCP peer is the client.
    trusted_proxies: tuple[IPNetwork, ...] = ()
    #: Open WebSocket connections per client address (a classroom shares one NAT address).
    max_connections_per_address: int = 1000
    #: Board recipients written per event-loop turn; acks go out between the chunks.
    fanout_chunk: int = 500
    #: Board frames this process writes per second at most (``Gateway.board_frames_per_s``).
    board_frames_per_s: int = 60_000
    #: PostgreSQL for the directory, the journal and the leases (``postgresql://…``);
    #: ``None``: the embedded default (SQLite in ``data_dir``, or memory).
    database_url: str | None = None
    #: The schema of livequiz's tables in that database.
    database_schema: str = names.PG_SCHEMA
    #: NATS between processes (``nats://…``); ``None``: the in-process bus (one process).
    bus_url: str | None = None
    #: How long a quiz's owner holds its lease unless renewed: a dead owner's quizzes move to
    #: another process within about this long.
    lease_s: float = 3.0
    #: Bind the port with SO_REUSEPORT, so several processes share it (``--workers``).
    reuse_port: bool = False
    service: ServiceLimits = field(default_factory=ServiceLimits)
    transport: TransportLimits = field(default_factory=TransportLimits)
    #: How to check the learning app's sign-in (JWT); ``None``: app joins are refused.
    app_auth: AppAuthConfig | None = None
    #: The address phones join at (``--public-url``), if not the host page's own or this
    #: machine's LAN address (:mod:`livequiz.join_address`).
    public_url: str | None = None
    #: The speech synthesizer of listening questions (``--speech``); ``None`` or not installed:
    #: listening questions are refused at creation.
    speech_program: str | None = speech.PROGRAM
    #: Where traces of answers go (``--otlp-endpoint``: an OTLP/HTTP collector's base URL, or
    #: its full ``…/v1/traces``); ``None``, the default: no tracing, and OpenTelemetry is not
    #: even imported (:mod:`livequiz.tracing`).
    otlp_endpoint: str | None = None
    #: The share of answers traced (``--trace-sample-ratio``, 0–1); ``None``: the SDK's own
    #: sampler (``OTEL_TRACES_SAMPLER``, by default every answer).
    trace_sample_ratio: float | None = None
    #: Log (with the stack that held it) and count every time the event loop does not turn for
    #: this long (``--stall-warning-s``, :mod:`livequiz.stall_watch`); ``None``: not watched.
    stall_warning_s: float | None = stall_watch.DEFAULT_THRESHOLD_S


class LiveQuizServer:
    """A whole server: store, service, gateway, HTTP API and transport, started and stopped."""

    def __init__(
        self,
        config: ServerConfig,
        *,
        records: Records | None = None,
        bus: Bus | None = None,
        key: bytes | None = None,
    ) -> None:
        """A server over ``records`` and ``bus`` (opened already: see :meth:`open`), or over
        the embedded default that ``config`` describes."""
        self.config = config
        self.metrics = Metrics()
        nicknames = NicknamePolicy(is_profane=is_profane_nickname, key=nickname_skeleton)
        if records is None:
            journal = None
            if config.data_dir is not None:
                key = key or load_or_create_key(config.data_dir / names.SIGNING_KEY_FILE)
                journal = SqliteJournal(
                    config.data_dir / names.SQLITE_FILE, synchronous=config.synchronous
                )
                self.metrics.watch_data_dir(config.data_dir)
            key = key or secrets.token_bytes(32)
            records = EmbeddedRecords.over(journal, key=key, lease_s=config.lease_s)
        elif key is None:
            raise ValueError("a server over shared storage needs its signing key")
        #: Whether this server opened its storage and bus (and so closes them when it stops);
        #: ones handed in belong to the caller (several servers in one test share them).
        self.owns_backends = bus is None and records is None
        self.records = records
        self.bus: Bus = bus or LocalBus()
        self.store = QuizStore(records, nicknames=nicknames)
        self.service = QuizService(
            self.store, self.bus, TokenSigner(key), self.metrics, limits=config.service
        )
        self.gateway = Gateway(
            self.service,
            max_connections_per_address=config.max_connections_per_address,
            fanout_chunk=config.fanout_chunk,
            board_frames_per_s=config.board_frames_per_s,
        )
        limits = config.transport
        if config.origins is not None:
            limits = replace(limits, origins=config.origins)
        if config.trusted_proxies:
            limits = replace(limits, trusted_proxies=config.trusted_proxies)
        self.deck = Deck.builtin()
        moderation.prepare()  # not at the first join, holding every player's answer
        #: Checks the learning app's sign-in tokens, if the operator configured them.
        self.app_tokens = None if config.app_auth is None else AppTokens(config.app_auth)
        self.join_address = JoinAddress.for_server(config.host, config.public_url)
        self.speech = _speech(config)
        self.api = build_api(
            self.service, self.deck, self.app_tokens, self.join_address, self.speech
        )
        # The web pages and static files in front; every other path goes to the API.
        self.transport = TransportServer(
            build_web(self.api),
            self.gateway,
            limits,
            host=config.host,
            port=config.port,
            reuse_port=config.reuse_port,
            on_http_event=lambda reason: self.metrics.http_closed.labels(reason).inc(),
            http_screen=join_screen(self.service),
        )
        self.metrics.http_connections.set_function(lambda: len(self.transport.http))
        self.metrics.http_requests_waiting.set_function(lambda: self.transport.http.waiting)
        self.metrics.http_reads_waiting.set_function(lambda: self.transport.http.reads_waiting)
        #: Traces of answers, when configured (``None``: off, nothing of OpenTelemetry loaded).
        self.tracing: Tracing | None = None
        if config.otlp_endpoint is not None:
            self.tracing = Tracing.start(
                config.otlp_endpoint,
                sample_ratio=config.trace_sample_ratio,
                instance=self.store.owner_id,
            )
            self.gateway.tracing = self.tracing
            self.service.router.tracing = self.tracing
            self.service.owner.tracing = self.tracing

    @classmethod
    async def open(cls, config: ServerConfig) -> LiveQuizServer:
        """A server over what ``config`` names: PostgreSQL and NATS when given (connected
        here, so a wrong address fails at start with a clear message), else embedded."""
        if config.database_url is None and config.bus_url is None:
            return cls(config)
        if config.database_url is None or config.bus_url is None:
            raise ValueError("many processes need both --database and --bus (PostgreSQL and NATS)")
        from livequiz.adapters.nats import NatsBus
        from livequiz.adapters.postgres import PostgresRecords

        records = await PostgresRecords.connect(
            config.database_url,
            schema=config.database_schema,
            lease_s=config.lease_s,
            # a database call that hangs longer than a lease would lose the leases anyway
            timeout_s=min(5.0, config.lease_s),
        )
        try:
            bus = await NatsBus.connect(config.bus_url, name=records.owner_id)
        except BaseException:
            await records.close()
            raise
        server = cls(config, records=records, bus=bus, key=await records.signing_key())
        server.owns_backends = True
        return server

    async def serve(self, ready: asyncio.Event | None = None) -> None:
        """Recover stored quizzes, start the service, serve until told to stop, then shut down."""
        if isinstance(self.records, EmbeddedRecords):
            await self.records.load()
        await self.service.start()
        owned = len(self.store.owned())
        if owned:
            log.info("running live quizzes", extra={"quizzes": owned})
        watch = None
        if self.config.stall_warning_s is not None:
            watch = stall_watch.StallWatch(
                asyncio.get_running_loop(),
                self.config.stall_warning_s,
                on_stall=self.metrics.loop_stalls.inc,
            )
            watch.start()
        try:
            await self.transport.serve(ready)
        finally:
            if watch is not None:
                watch.stop()
            await self.service.stop()
            if self.owns_backends:
                await self.store.close()
                await self.bus.close()
            if self.tracing is not None:
                # the last spans exported (a blocking flush: off the loop, which is idle now)
                await asyncio.to_thread(self.tracing.shutdown)
            log.info("server stopped")

    def request_exit(self) -> None:
        self.transport.request_exit()

    @property
    def port(self) -> int:
        return self.transport.port


def _runner() -> asyncio.Runner:
    """An event loop runner on uvloop where it is installed (a faster loop for many sockets)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on every supported platform
        return asyncio.Runner()
    return asyncio.Runner(loop_factory=uvloop.new_event_loop)


#: How long a thread may hold the GIL while another waits for it (CPython's default: 5 ms).
GIL_SWITCH_INTERVAL_S = 0.0005
#: Garbage collector thresholds (CPython's default: 700, 10, 10): see :func:`tune_runtime`.
GC_THRESHOLDS = (50_000, 20, 20)


def _speech(config: ServerConfig) -> Speech | None:
    """The synthesizer, its audio kept under the data directory (or a temporary one)."""
    if config.speech_program is None:
        return None
    if config.data_dir is not None:
        cache = config.data_dir / names.AUDIO_DIR
    else:
        cache = Path(tempfile.gettempdir()) / f"livequiz-audio-{os.getuid()}"
    return Speech.find(cache, config.speech_program)


def tune_runtime() -> None:
    """Interpreter settings for a server process whose latency matters (not for tests).

    * **A short GIL switch interval.** The journal's writer thread needs the GIL a few times
      per batch; while the event loop is busy writing boards, each time it waits up to the
      switch interval. At 5 ms that made a commit ~20 ms and acks queue behind it; at 0.5 ms
      the ack p50 at 10,000 players fell from 60 to 27 ms (docs/benchmarks.md).
    * **Fewer young collections.** The answer path allocates a few dozen objects per answer;
      at CPython's default (a collection every 700 allocations) the young collections came
      so often, and the middle generation grew so big, that they held the loop 15–30 ms at a
      time, many times a second. Collecting every 50,000 allocations took the ack p99 at
      10,000 players from ~150 ms to ~22 ms; cyclic garbage still goes, just in fewer passes.
    * **Full collections only of what is new.** A full (generation 2) garbage collection scans
      every object: with 10,000 players that is a 200–350 ms pause of the whole loop, every
      time the heap has grown by a quarter. After each one we freeze the survivors
      (:func:`gc.freeze`): they are long-lived quiz and connection state, and the next full
      collection scans only what came after. The cost: a reference cycle among frozen objects
      that later dies is never collected, so the gateway breaks the connection ↔ client
      cycle when a connection closes.
    """
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    gc.set_threshold(*GC_THRESHOLDS)
    gc.freeze()
    if _freeze_after_full_collection not in gc.callbacks:
        gc.callbacks.append(_freeze_after_full_collection)


def _freeze_after_full_collection(phase: str, info: dict[str, int]) -> None:
    if phase == "stop" and info["generation"] == 2:
        gc.freeze()


#: Descriptors a server holds besides its clients' connections: the journal, the database and
#: the bus, log files, the listening socket, the audio cache.
RESERVED_DESCRIPTORS = 1024


def grow_descriptor_table(limits: TransportLimits) -> int:
    """Make the kernel's table of this process's open files as large as the server may need,
    once, before the first client; returns the number of slots asked for (0: not done).

    Linux doubles a process's descriptor table when a new descriptor does not fit (past 64,
    256, 512, 1,024 … open files), and in a process with more than one thread every such
    growth waits for an RCU grace period (``synchronize_rcu`` in ``expand_fdtable``): 8–24 ms
    on the target machine, inside the event loop's ``accept()``. A server going from 200 to
    3,000 connections (a class arriving, a join storm, the first flood it met) held its loop
    that long four or five times, and every answer in those moments waited
    (docs/reliability.md, part 5, "an eighth look"). The table never shrinks, so one growth at
    the start, sized for the caps (WebSocket and plain HTTP connections) and bounded by the
    soft ``RLIMIT_NOFILE``, is the last. It costs a few hundred KiB of kernel memory.
    """
    if sys.platform == "win32":  # pragma: no cover - no such table to grow
        return 0
    import fcntl
    import resource

    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        soft = 1 << 20  # the kernel's own default bound (fs.nr_open)
    wanted = soft
    if limits.max_connections:
        wanted = limits.max_connections + limits.max_http_connections + RESERVED_DESCRIPTORS
    slots = min(wanted, soft)
    probe = os.open(os.devnull, os.O_RDONLY)
    try:
        # the lowest free descriptor at or above slots - 1: the table grows to hold it
        os.close(fcntl.fcntl(probe, fcntl.F_DUPFD, slots - 1))
    except OSError as error:  # a bound lower than it looked (fs.nr_open): grown on demand
        log.warning("could not size the descriptor table for %d: %s", slots, error)
        return 0
    finally:
        os.close(probe)
    return slots


def run_server(config: ServerConfig) -> None:
    """Serve until SIGINT/SIGTERM (``livequiz serve``)."""
    grow_descriptor_table(config.transport)
    tune_runtime()
    with _runner() as runner:
        runner.run(_serve(config))


async def _serve(config: ServerConfig) -> None:
    server = await LiveQuizServer.open(config)
    freeze_start_up()
    await server.serve()


def freeze_start_up() -> None:
    """Take what start-up built out of the collector's way, before the first client.

    The deck and what start-up read (~100,000 objects) live as long as the process, but they
    are built after :func:`tune_runtime`'s freeze. Left in the young generations they were
    scanned by the first collections under load (20–40 ms each while a join storm came in)
    and by the first full collection, ~140 ms, whenever it came. One full collection now
    freezes them (:func:`_freeze_after_full_collection`); it costs the start ~0.1 s.
    """
    gc.collect()


def run_demo_server(
    config: ServerConfig,
    out: TextIO,
    *,
    players: int,
    questions: int,
    seconds: int,
    lobby_s: float,
    rounds: int,
) -> None:
    """``livequiz demo``: the server, simulated players and a host, and a live terminal board."""
    grow_descriptor_table(config.transport)
    tune_runtime()
    with _runner() as runner:
        runner.run(demo_game(config, out, players, questions, seconds, lobby_s, rounds))


async def demo_game(
    config: ServerConfig,
    out: TextIO,
    players: int,
    questions: int,
    seconds: int,
    lobby_s: float,
    rounds: int,
    *,
    reveal_s: float = 4.0,
    pause_s: float = 8.0,
) -> None:
    from livequiz import demo

    server = LiveQuizServer(config)
    ready = asyncio.Event()
    serving = asyncio.create_task(server.serve(ready))
    await ready.wait()
    base_url = f"http://{config.host}:{server.port}"
    ws_url = f"ws://{config.host}:{server.port}/ws"
    tty = out.isatty()
    round_number = 0
    try:
        while not serving.done() and (rounds == 0 or round_number < rounds):
            round_number += 1
            created = await demo.create_quiz(
                base_url, questions=questions, seconds=seconds, seed=round_number
            )
            quiz_id = created["quiz_id"]
            state = demo.DemoState(
                pin=created["pin"],
                title=created["title"],
                host_token=created["host_token"],
                join_base=server.join_address.base_for(demo.local_base(base_url))[0],
            )
            logged: list[list[str]] = []  # the status of the screens written to a log

            def show(state: demo.DemoState = state, logged: list[list[str]] = logged) -> None:
                if tty:
                    out.write("\x1b[2J\x1b[H" + demo.render(state, base_url) + "\n")
                elif not logged or demo.status(state) != logged[-1]:
                    # a log: only when the question or phase moves, the links with the first
                    out.write(demo.render(state, base_url, links=not logged) + "\n\n")
                    logged.append(demo.status(state))
                out.flush()

            def peek(index: int, quiz_id: str = quiz_id) -> int:
                return server.store.definition(quiz_id).questions[index].correct_option

            show()
            stop = asyncio.Event()
            bots = [
                asyncio.create_task(demo.run_bot(base_url, ws_url, created["pin"], bot, peek, stop))
                for bot in demo.make_bots(players, seed=round_number)
            ]
            await demo.run_host(
                ws_url,
                created["host_token"],
                state,
                lobby_s=lobby_s,
                reveal_s=reveal_s,
                on_change=show,
                stop=stop,
            )
            show()
            stop.set()
            for bot in bots:
                bot.cancel()
            await asyncio.gather(*bots, return_exceptions=True)
            if rounds == 0 or round_number < rounds:
                out.write(f"\nnext quiz in {pause_s:.0f} seconds…\n")
                out.flush()
                await asyncio.sleep(pause_s)
    finally:
        server.request_exit()
        await serving
