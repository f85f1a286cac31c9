"""The owner side of a process: the quizzes it runs, their commands, clocks and leases.

A process owns a quiz while it holds the quiz's lease (:class:`~livequiz.ports.Leases`): it took
it at creation, or took it over when the previous owner stopped renewing. For each quiz it owns
it:

* takes commands — its own connections' through :meth:`QuizOwner.submit`, other processes'
  through the quiz's command subject on the bus — into one inbox; the *pump* hands everything
  waiting to :meth:`QuizStore.execute <livequiz.store.QuizStore.execute>` as one batch, which
  returns once the batch is durable under the lease's epoch;
* publishes what was committed on the quiz's log subject (every process serving the quiz applies
  it to its copy), then runs the replies (acks), then hands the events to this process's own
  frame builder;
* runs the quiz's clock: a timer that submits ``Tick`` when the open question's answers stop
  counting. Only the owner runs it, so a question closes once, whichever process its players
  are on;
* counts presence: which processes hold a connection of each player. A player is marked gone
  when no process holds one (each process waits out its own short disconnect grace first), or
  when none has reported them within the reconnect grace after a join over HTTP or a takeover.

Leases are renewed every third of their length; a lost one (another process took the quiz over
while this one was paused or cut off) ends this process's ownership at once, and the journal's
fencing refuses any batch it had in flight. Every process also sweeps for quizzes nobody owns
(their owner died) and takes them over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from livequiz import codec, names
from livequiz.domain.commands import Answer, Command, Executed, Join, Leave, Rejoin, Tick
from livequiz.domain.errors import ErrorCode, Rejected
from livequiz.domain.events import (
    Event,
    OptionsShown,
    PlayerJoined,
    PlayerQuestionClosed,
    PlayerQuestionOpened,
    QuestionClosed,
    QuestionOpened,
    QuestionPaused,
    QuestionResumed,
    QuizFinished,
    QuizStarted,
)
from livequiz.observability import Metrics
from livequiz.ports import (
    Bus,
    BusUnavailable,
    Envelope,
    Fenced,
    Outcome,
    StorageUnavailable,
    Subscription,
    UnknownQuiz,
)
from livequiz.store import QuizStore

if TYPE_CHECKING:
    from livequiz.tracing import Tracing

log = logging.getLogger("livequiz.owner")

#: How soon a clock whose Tick could not be stored (storage down) tries again.
CLOCK_RETRY_S = 0.5
#: How soon serving a quiz's commands (or announcing its owner) is tried again when the bus
#: was down.
BUS_RETRY_S = 0.25
#: A lease counts as held only this fraction of its length after the renewal that extended it
#: was sent (on this process's own clock, which the database's expiry cannot precede): past
#: that, another process may have taken it, so this one stops answering for the quiz until a
#: renewal succeeds (storage down) or says it is lost. 0.75 tripped under a saturated loop
#: (a renewal every third of a lease, answered late): 734 answers refused as unavailable in one
#: 10,000-player run on one process (docs/benchmarks.md); the margin left covers clock drift.
LEASE_TRUST = 0.9
#: Every process says it is alive this often (on ``names.PROCESSES``)...
HEARTBEAT_S = 1.0
#: ...and one not heard from for this long is dead: the players only it held a connection of
#: are marked gone (they reconnect to another process, which reports them again).
PROCESS_TIMEOUT_S = 5.0

Reply = Callable[[Outcome], None]
EventSink = Callable[[str, tuple[Event, ...]], None]


@dataclass
class OwnerLimits:
    """Knobs of the owner side, with the reason for each default."""

    #: Commands per durable batch; a bound so one batch never holds the loop too long.
    max_batch: int = 4096
    #: How long a player no process holds a connection of (joined over HTTP, or the quiz just
    #: moved to this process) counts as present: long enough to (re)connect after a restart.
    reconnect_grace_s: float = 15.0
    #: How many orphaned quizzes one sweep takes over at most (the rest wait for the next
    #: sweep, or for another process): spreads a dead process's quizzes over the survivors.
    sweep_limit: int = 50


@dataclass
class _Owned:
    """What this process keeps for a quiz it owns, besides the session."""

    epoch: int
    #: ``time.monotonic()`` until which the lease is surely still this process's.
    valid_until: float = 0.0
    serving: Subscription | None = None
    #: Serving the quiz's commands on the bus, again and again until it works (the bus was
    #: down when this process came to own the quiz).
    retry: asyncio.Task[None] | None = None
    timer: asyncio.TimerHandle | None = None
    #: player id → the processes holding a connection of that player.
    holders: dict[int, set[str]] = field(default_factory=dict)


class QuizOwner:
    """Runs the quizzes this process owns (see the module docstring)."""

    def __init__(
        self,
        store: QuizStore,
        bus: Bus,
        metrics: Metrics,
        *,
        clock: Callable[[], int],
        on_events: EventSink,
        limits: OwnerLimits | None = None,
    ) -> None:
        self.store = store
        self.bus = bus
        self.metrics = metrics
        self.clock = clock
        self.on_events = on_events
        self.limits = limits or OwnerLimits()
        #: Called with a quiz id when this process takes over or loses a quiz.
        self.on_owned: Callable[[str], None] = _nothing
        self.on_lost: Callable[[str], None] = _nothing
        #: Called with a quiz id after a batch of it was stored and its events handed on:
        #: the session shows only what is stored (a board can be taken).
        self.on_settled: Callable[[str], None] = _nothing
        self._inbox: list[tuple[Envelope, Reply | None]] = []
        self._wake = asyncio.Event()
        self._owned: dict[str, _Owned] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._taking: dict[str, asyncio.Task[bool]] = {}
        #: process id → when it was last heard of (``time.monotonic()``).
        self._seen: dict[str, float] = {}
        self._heartbeats: Subscription | None = None
        self.running = False
        #: Traces of answers (:mod:`livequiz.tracing`); ``None``, the default: off, and
        #: looked at once per batch.
        self.tracing: Tracing | None = None

    @property
    def process_id(self) -> str:
        return self.store.owner_id

    def owns(self, quiz_id: str) -> bool:
        """Whether this process runs the quiz now: it holds the lease, and renewed it recently
        enough that no other process can have taken it (so even a refusal it gives is true)."""
        owned = self._owned.get(quiz_id)
        return (
            owned is not None
            and (self.store.records.exclusive or time.monotonic() < owned.valid_until)
            and self.store.owns(quiz_id)
        )

    def _lease_doubtful(self, quiz_id: str) -> bool:
        """This process holds the quiz's lease but has not renewed it recently enough to be
        sure nobody took it over (a finished quiz, whose lease went with its finish, is not
        doubtful: it is simply done)."""
        owned = self._owned.get(quiz_id)
        return (
            owned is not None
            and not self.store.records.exclusive
            and time.monotonic() >= owned.valid_until
        )

    @property
    def backlog(self) -> int:
        """Commands submitted and not yet taken into a batch (the gateway slows boards down
        while there are any: acks first)."""
        return len(self._inbox)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Take every quiz nobody owns (at first start: all the live ones), then keep the
        leases and the sweep going."""
        self.running = True
        self._tasks = [asyncio.create_task(self._pump(), name="livequiz-pump")]
        self._heartbeats = await self.bus.subscribe(names.PROCESSES, self._heard)
        await self.sweep()
        self._tasks.append(asyncio.create_task(self._keep_leases(), name="livequiz-leases"))
        self._tasks.append(asyncio.create_task(self._keep_sweeping(), name="livequiz-sweep"))
        self._tasks.append(asyncio.create_task(self._beat(), name="livequiz-heartbeat"))

    async def stop(self) -> None:
        """Stop taking commands and give the leases up, so other processes take over at once."""
        self.running = False
        for task in [*self._tasks, *self._taking.values()]:
            task.cancel()
        for task in [*self._tasks, *self._taking.values()]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._heartbeats is not None:
            with contextlib.suppress(Exception):
                await self._heartbeats.unsubscribe()
        epochs = {quiz_id: owned.epoch for quiz_id, owned in self._owned.items()}
        for quiz_id in list(self._owned):
            await self._drop(quiz_id)
        if epochs:
            with contextlib.suppress(Exception):
                await self.store.records.release(epochs)

    # ------------------------------------------------------------------ owning

    async def adopt(self, quiz_id: str) -> None:
        """Start running a quiz this process just created (the store holds its lease)."""
        await self._serve(quiz_id, self.store.owned()[quiz_id], announce=False)

    def take(self, quiz_id: str) -> asyncio.Task[bool]:
        """Try to take a quiz over (nobody owns it); one attempt at a time per quiz."""
        task = self._taking.get(quiz_id)
        if task is None:
            task = asyncio.create_task(self._take(quiz_id), name=f"livequiz-take-{quiz_id}")
            self._taking[quiz_id] = task
            task.add_done_callback(lambda _: self._taking.pop(quiz_id, None))
        return task

    async def _take(self, quiz_id: str) -> bool:
        if not self.running:
            return False
        if quiz_id in self._owned:
            # Ours already, perhaps only doubtful (no renewal answered lately, so the sweep
            # may see its lease as expired): the renewals settle which way it went. Serving it
            # again would leave the first command responder behind: "already served on this
            # bus" (found with PostgreSQL killed, tests/reliability/test_cluster_faults.py),
            # and once the quiz moved on that orphan answered every routed command "moving"
            # for the life of the process (found over a slow, lossy link, tests/netns).
            return self.owns(quiz_id)
        started = time.monotonic()
        try:
            epoch = await self.store.take(quiz_id)
        except UnknownQuiz:
            return False
        if epoch is None:
            return False
        await self._serve(quiz_id, epoch, announce=True, leased_at=started)
        log.info("took over a quiz", extra={"quiz_id": quiz_id, "epoch": epoch})
        self.metrics.takeovers.inc()
        return True

    async def _serve(
        self, quiz_id: str, epoch: int, *, announce: bool, leased_at: float | None = None
    ) -> None:
        trusted = self.store.records.lease_s * LEASE_TRUST
        started = time.monotonic() if leased_at is None else leased_at
        stale = self._owned.pop(quiz_id, None)
        if stale is not None:  # never two responders for one quiz on this process
            await self._unserve(stale)
        owned = self._owned[quiz_id] = _Owned(epoch, valid_until=started + trusted)

        async def respond(data: bytes) -> bytes:
            return await self._respond(quiz_id, data)

        try:
            owned.serving = await self.bus.serve(names.quiz_commands(quiz_id), respond)
        except BusUnavailable as error:
            # The quiz is stored and its lease is ours: run it. This process's own clients are
            # served at once; other processes' commands reach it once the bus is back (they are
            # refused as unavailable meanwhile, and their clients send again). Found by the
            # cluster nemesis with NATS killed: a quiz created then got a 500.
            log.warning(
                "serving a quiz's commands waits for the bus: %s", error, extra={"quiz_id": quiz_id}
            )
            owned.retry = asyncio.create_task(self._serve_later(quiz_id, owned, respond))
            owned.retry.add_done_callback(_log_failure)
        self.on_owned(quiz_id)
        self._arm_clock(quiz_id)
        if announce:
            # Nobody's presence is known here yet: processes serving the quiz tell us again
            # (OwnerChanged); players nobody reports within the grace are marked gone.
            session = self.store.session(quiz_id)
            waiting = [p.id for p in session.players.values() if p.present and not p.kicked]
            self._expect(quiz_id, waiting)
            try:
                await self._announce(quiz_id, epoch)
            except BusUnavailable:
                if owned.retry is None:
                    owned.retry = asyncio.create_task(self._announce_later(quiz_id, owned))
                    owned.retry.add_done_callback(_log_failure)

    async def _announce(self, quiz_id: str, epoch: int) -> None:
        await self.bus.publish(
            names.quiz_owner(quiz_id),
            codec.encode(codec.OwnerChanged(quiz_id, self.process_id, epoch)),
        )

    async def _serve_later(
        self, quiz_id: str, owned: _Owned, respond: Callable[[bytes], Awaitable[bytes]]
    ) -> None:
        """Serve the quiz's commands once the bus takes the subscription (and announce the
        owner, which may have failed for the same reason); stops if the quiz is lost."""
        while self._owned.get(quiz_id) is owned:
            await asyncio.sleep(BUS_RETRY_S)
            if self._owned.get(quiz_id) is not owned:
                return
            try:
                owned.serving = await self.bus.serve(names.quiz_commands(quiz_id), respond)
            except BusUnavailable:
                continue
            if self._owned.get(quiz_id) is not owned:  # lost while subscribing
                with contextlib.suppress(Exception):
                    await owned.serving.unsubscribe()
                return
            await self._announce_later(quiz_id, owned, first_try_now=True)
            return

    async def _announce_later(
        self, quiz_id: str, owned: _Owned, *, first_try_now: bool = False
    ) -> None:
        """Announce the new owner once the bus takes it (copies then report presence)."""
        if not first_try_now:
            await asyncio.sleep(BUS_RETRY_S)
        while self._owned.get(quiz_id) is owned:
            try:
                await self._announce(quiz_id, owned.epoch)
            except BusUnavailable:
                await asyncio.sleep(BUS_RETRY_S)
                continue
            return

    async def _drop(self, quiz_id: str) -> None:
        owned = self._owned.pop(quiz_id, None)
        if owned is not None:
            await self._unserve(owned)

    @staticmethod
    async def _unserve(owned: _Owned) -> None:
        if owned.retry is not None:
            owned.retry.cancel()
            owned.retry = None
        if owned.timer is not None:
            owned.timer.cancel()
            owned.timer = None
        if owned.serving is not None:
            with contextlib.suppress(Exception):
                await owned.serving.unsubscribe()

    def _lost(self, quiz_ids: set[str] | frozenset[str]) -> None:
        """The lease of these quizzes is gone (another process has them, or they finished)."""
        self.store.lose(quiz_ids)
        for quiz_id in quiz_ids:
            owned = self._owned.pop(quiz_id, None)
            if owned is None:
                continue
            log.warning("lost the lease of a quiz", extra={"quiz_id": quiz_id})
            self.metrics.leases_lost.inc()
            if owned.timer is not None:
                owned.timer.cancel()
                owned.timer = None
            task = asyncio.create_task(self._unserve(owned))
            task.add_done_callback(_log_failure)
            self.on_lost(quiz_id)

    async def sweep(self) -> None:
        """Take over quizzes nobody owns (their owner died or let go)."""
        try:
            orphans = await self.store.records.orphans(self.limits.sweep_limit)
        except StorageUnavailable:
            return
        for quiz_id in orphans:
            try:
                await self.take(quiz_id)
            except Exception:
                log.exception("taking a quiz over failed", extra={"quiz_id": quiz_id})

    def _heard(self, data: bytes) -> None:
        # Only processes that hold players of our quizzes matter (they entered _seen with
        # their first presence); others sharing the bus are not our business.
        process = data.decode(errors="replace")
        if process in self._seen:
            self._seen[process] = time.monotonic()

    async def _beat(self) -> None:
        beat = self.process_id.encode()
        while True:
            try:
                await self.bus.publish(names.PROCESSES, beat)
            except Exception as error:
                log.warning("could not send a heartbeat: %r", error)
            self._forget_dead_processes()
            await asyncio.sleep(HEARTBEAT_S)

    def _forget_dead_processes(self) -> None:
        """Players held only by processes not heard from for a while are gone."""
        now = time.monotonic()
        dead = {p for p, at in self._seen.items() if now - at > PROCESS_TIMEOUT_S}
        dead.discard(self.process_id)
        if not dead:
            return
        for process in dead:
            del self._seen[process]
        log.warning("processes stopped answering", extra={"processes": sorted(dead)})
        for quiz_id, owned in self._owned.items():
            for player_id, holders in list(owned.holders.items()):
                if holders & dead:
                    holders -= dead
                    if not holders:
                        del owned.holders[player_id]
                        self.submit(quiz_id, Leave(player_id), _ignore)

    async def _keep_leases(self) -> None:
        period = self.store.records.lease_s / 3
        while True:
            await asyncio.sleep(period)
            await self.renew_leases()

    async def renew_leases(self) -> None:
        """One renewal of every lease this process holds (every third of a lease; a test may
        call it to decide when a renewal lands): extended ones are trusted again, lost ones
        are let go."""
        epochs = self.store.owned()
        if not epochs:
            return
        started = time.monotonic()
        try:
            lost = await self.store.records.renew(epochs)
        except StorageUnavailable:
            # Not lost, not renewed: past LEASE_TRUST the quizzes are not answered
            # for (owns() is false) until a renewal says which way it went.
            log.warning("could not renew leases: storage unavailable")
            return
        until = started + self.store.records.lease_s * LEASE_TRUST
        for quiz_id in epochs.keys() - lost:
            owned = self._owned.get(quiz_id)
            if owned is not None:
                owned.valid_until = until
        if lost:
            self._lost(lost)

    async def _keep_sweeping(self) -> None:
        """Apart from the renewals, so a slow sweep never delays them."""
        period = self.store.records.lease_s / 3
        while True:
            await asyncio.sleep(period)
            await self.sweep()

    # ------------------------------------------------------------------ commands

    def submit(self, quiz_id: str, command: Command, reply: Reply | None = None) -> None:
        """Queue a command for a quiz this process owns, stamped now (the quiz's clock);
        ``reply`` runs once its outcome is durable."""
        self._inbox.append((Envelope(quiz_id, command, self.clock()), reply))
        self._wake.set()

    def presence(self, quiz_id: str, process: str, player_id: int, present: bool) -> None:
        """``process`` gained its first (``present``) or lost its last connection of a player."""
        owned = self._owned.get(quiz_id)
        if owned is None:
            return
        holders = owned.holders.setdefault(player_id, set())
        self._seen.setdefault(process, time.monotonic())
        if present:
            holders.add(process)
            self.submit(quiz_id, Rejoin(player_id), _ignore)
        else:
            holders.discard(process)
            if not holders:
                del owned.holders[player_id]
                self.submit(quiz_id, Leave(player_id), _ignore)

    def _expect(self, quiz_id: str, player_ids: list[int]) -> None:
        """Mark these players gone unless some process reports a connection of theirs in time."""
        if not player_ids:
            return

        def check() -> None:
            owned = self._owned.get(quiz_id)
            if owned is None:
                return
            for player_id in player_ids:
                if not owned.holders.get(player_id):
                    self.submit(quiz_id, Leave(player_id), _ignore)

        grace = self.limits.reconnect_grace_s
        if grace <= 0:
            check()
        else:
            asyncio.get_running_loop().call_later(grace, check)

    async def _respond(self, quiz_id: str, data: bytes) -> bytes:
        """Another process's batch of commands for this quiz: run them, reply in order."""
        try:
            batch = codec.decode_commands(data)
        except codec.BadMessage as error:
            log.error("bad command batch", extra={"quiz_id": quiz_id, "error": str(error)})
            raise
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[Outcome]] = []
        # Its sender gave up on it (a partition held it back): an answer is still safe (it
        # names its question, and a repeat changes nothing), any other command is not — a
        # host's close sent during question 1 would close question 2 (tests/netns).
        late = batch.until_ms is not None and self.clock() > batch.until_ms
        # the sender's traces of its answers, if both it and this process trace
        traces = batch.traces if self.tracing is not None else None
        for position, item in enumerate(batch.items):
            future: asyncio.Future[Outcome] = loop.create_future()
            futures.append(future)
            if isinstance(item, codec.Presence):
                self.presence(quiz_id, batch.sender, item.player_id, item.present)
                future.set_result(Executed(()))
            elif late and not isinstance(item, Answer):
                future.set_result(_late())
            elif not self.owns(quiz_id):
                future.set_result(_finished() if self.store.known_finished(quiz_id) else _moving())
            else:
                reply = resolver(future)
                if traces and position in traces and self.tracing is not None:
                    reply = self.tracing.remote(reply, traces[position], quiz_id, item)
                self.submit(quiz_id, item, reply)
        outcomes = await asyncio.gather(*futures)
        return codec.encode(codec.OutcomeBatch(tuple(outcomes)))

    async def _pump(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._inbox:
                batch = self._inbox[: self.limits.max_batch]
                del self._inbox[: self.limits.max_batch]
                await self._run_batch(batch)

    async def _run_batch(self, batch: list[tuple[Envelope, Reply | None]]) -> None:
        started = time.perf_counter()
        envelopes = [envelope for envelope, _ in batch]
        try:
            outcomes, committed_rows = await self.store.execute(envelopes)
        except Fenced as fenced:
            self._lost(fenced.quiz_ids)
            outcomes = [_moving()] * len(batch)
            committed_rows = self.store.pop_recovered()
        except Exception as error:
            if isinstance(error, StorageUnavailable | OSError):
                log.error("storage unavailable; the batch is not acknowledged: %s", error)
            else:
                log.exception("storing a batch failed; it is not acknowledged")
            self.metrics.storage_failures.inc()
            unavailable = Rejected(
                ErrorCode.UNAVAILABLE, "the server could not store this; try again"
            )
            outcomes = [unavailable] * len(batch)
            committed_rows = self.store.pop_recovered()
        stored = time.perf_counter()
        self.metrics.scoring_seconds.observe(stored - started)
        self.metrics.batch_size.observe(len(batch))
        if self.tracing is not None:
            journal_rows = sum(len(done.rows) for done in committed_rows.values())
            self.tracing.batch(batch, started, self.store.ran_at, stored, journal_rows)
        # A refusal from a session whose lease may have moved on meanwhile may be wrong (the
        # new owner may have opened the next question): the client asks again instead.
        for index, (envelope, _reply) in enumerate(batch):
            quiz_id = envelope.quiz_id
            if isinstance(outcomes[index], Rejected) and self._lease_doubtful(quiz_id):
                outcomes[index] = _moving()
        # The log first: other processes' copies should have the rows before the acks that
        # rely on them arrive there (they wait for them if not).
        for quiz_id, rows in committed_rows.items():
            entry = codec.LogEntry(quiz_id, rows.prev_seq, rows.rows)
            try:
                await self.bus.publish(names.quiz_log(quiz_id), codec.encode(entry))
            except BusUnavailable as error:
                # The copies notice the gap at the next entry, or at the bus's reconnect
                # (Bus.losses), and catch up from the journal: expected while NATS is down.
                log.warning(
                    "publishing the log waits for the bus: %s", error, extra={"quiz_id": quiz_id}
                )
            except Exception:
                log.exception("publishing the log failed", extra={"quiz_id": quiz_id})
        clocks: set[str] = set()
        # Rows a batch reported failed had stored after all: their frames first (they are older).
        for quiz_id, rows in committed_rows.items():
            for executed in rows.recovered:
                clocks.add(quiz_id)
                try:
                    self.on_events(quiz_id, executed.events)
                except Exception:
                    log.exception("publishing events failed", extra={"quiz_id": quiz_id})
        # One grace timer per quiz and batch, not per join: a join storm's thousands of
        # timers (each a handle, a closure and its cells) would each outlive the young
        # generation and lengthen the garbage collection that every answer then waits for.
        joined: dict[str, list[int]] = {}
        for (envelope, reply), outcome in zip(batch, outcomes, strict=True):
            if reply is not None:
                try:
                    reply(outcome)
                except Exception:
                    log.exception("reply failed", extra={"quiz_id": envelope.quiz_id})
            if isinstance(outcome, Executed) and outcome.events:
                quiz_id = envelope.quiz_id
                for event in outcome.events:
                    if isinstance(event, _CLOCK_EVENTS):
                        clocks.add(quiz_id)
                    elif isinstance(event, PlayerJoined) and isinstance(envelope.command, Join):
                        joined.setdefault(quiz_id, []).append(event.player_id)
                try:
                    self.on_events(quiz_id, outcome.events)
                except Exception:
                    log.exception("publishing events failed", extra={"quiz_id": quiz_id})
        for quiz_id, player_ids in joined.items():
            self._expect(quiz_id, player_ids)
        for quiz_id in committed_rows:
            try:
                self.on_settled(quiz_id)
            except Exception:
                log.exception("after a stored batch", extra={"quiz_id": quiz_id})
        for quiz_id in clocks:
            if self.store.owns(quiz_id):
                self._arm_clock(quiz_id)
            elif quiz_id in self._owned:  # it finished: the lease went with the finish
                owned = self._owned[quiz_id]
                if owned.timer is not None:
                    owned.timer.cancel()
                    owned.timer = None
                task = asyncio.create_task(self._drop(quiz_id))
                task.add_done_callback(_log_failure)

    # ------------------------------------------------------------------ the clock

    def _arm_clock(self, quiz_id: str, *, at_least_s: float = 0.0) -> None:
        """Schedule the Tick that closes what stops taking answers: the open question, or (self-
        paced) the soonest player's question or the whole quiz at its due time."""
        owned = self._owned.get(quiz_id)
        if owned is None:
            return
        if owned.timer is not None:
            owned.timer.cancel()
            owned.timer = None
        session = self.store.session(quiz_id)
        wakeup_ms = session.wakeup_ms
        if wakeup_ms is None:
            return
        delay_s = max(at_least_s, (wakeup_ms + 1 - self.clock()) / 1000)
        owned.timer = asyncio.get_running_loop().call_later(
            delay_s, self.submit, quiz_id, Tick(), self._after_tick(quiz_id)
        )

    def _after_tick(self, quiz_id: str) -> Reply:
        def check(outcome: Outcome) -> None:
            # A timer that fired a hair early (clock granularity) closed nothing: try again.
            if not self.store.owns(quiz_id):
                return
            session = self.store.session(quiz_id)
            if session.wakeup_ms is None:
                return
            if isinstance(outcome, Rejected):  # storage down: try again, but not in a spin
                self._arm_clock(quiz_id, at_least_s=CLOCK_RETRY_S)
            elif not outcome.events:
                self._arm_clock(quiz_id)

        return check


#: Events that move when the quiz's clock must next tick (``QuizSession.wakeup_ms``).
_CLOCK_EVENTS = (
    QuestionOpened,
    OptionsShown,  # the clock waited for the options; now for the deadline
    QuestionClosed,
    QuestionPaused,  # a paused question has no deadline …
    QuestionResumed,  # … until the resume moves it on
    QuizFinished,
    QuizStarted,
    PlayerQuestionOpened,
    PlayerQuestionClosed,
)


def _finished() -> Rejected:
    return Rejected(ErrorCode.QUIZ_FINISHED, "this quiz has finished")


def _late() -> Rejected:
    return Rejected(
        ErrorCode.UNAVAILABLE, "this request arrived too late to be carried out; try again"
    )


def _moving() -> Rejected:
    return Rejected(ErrorCode.UNAVAILABLE, "this quiz is moving to another server; try again")


def resolver(future: asyncio.Future[Outcome]) -> Reply:
    """A reply that settles ``future`` with the outcome (once)."""

    def reply(outcome: Outcome) -> None:
        if not future.done():
            future.set_result(outcome)

    return reply


def _ignore(_outcome: Outcome) -> None:
    """Replies nobody waits for (presence)."""


def _nothing(_quiz_id: str) -> None:
    pass


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("background task failed", exc_info=task.exception())
