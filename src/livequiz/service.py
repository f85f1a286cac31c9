"""The quiz service: commands in, durable outcomes out, frames fanned out.

Flow of one answer: the gateway decodes the frame and calls :meth:`QuizService.submit` with the
command stamped with the server's arrival time. Submitted commands wait in one inbox; the *pump*
takes everything waiting (a few milliseconds' worth under load), hands it to the store as one
batch — each command a whole operation: deadline, dedupe, score, board, sequence number — and the
store returns once the batch is durable. Only then are the replies run (the ack goes out) and the
events turned into frames for the bus. One commit per batch is what lets one process score tens of
thousands of answers a second and still promise that an acknowledged answer survives a crash.

The leaderboard is not sent per answer: quizzes whose board changed are marked dirty, and every
``tick_ms`` one frame per dirty quiz is built, encoded once and published. Question open, close
and finish frames go out at once. Each quiz's clock is one timer in this process (its one owner):
when a question's answers stop counting, the timer submits a ``Tick`` through the same pump.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from livequiz import protocol
from livequiz.auth import Role, TokenSigner
from livequiz.domain import views
from livequiz.domain.commands import Command, Executed, Join, Tick
from livequiz.domain.errors import ErrorCode, Rejected
from livequiz.domain.events import (
    AnswerAccepted,
    Event,
    LobbyLockChanged,
    PlayerJoined,
    PlayerKicked,
    PlayerLeft,
    PlayerRejoined,
    QuestionClosed,
    QuestionOpened,
    QuizFinished,
)
from livequiz.domain.question import Question
from livequiz.domain.session import Phase
from livequiz.domain.settings import QuizSettings
from livequiz.observability import Metrics
from livequiz.ports import Bus, Envelope, Outcome, QuizDefinition, QuizStore, UnknownQuiz
from livequiz.transport import SharedFrame

log = logging.getLogger("livequiz.service")

Reply = Callable[[Outcome], None]

#: Six digits: easy to read off a projector and type on a phone; a million PINs leave room for
#: thousands of live quizzes with few retries.
PIN_DIGITS = 6


def wall_clock_ms() -> int:
    """Server time in milliseconds. Wall time, because deadlines must survive a restart."""
    return time.time_ns() // 1_000_000


# ---------------------------------------------------------------------- bus messages


@dataclass(frozen=True, slots=True)
class Broadcast:
    """A shared frame for every connection of the quiz."""

    frame: SharedFrame
    kind: str


@dataclass(frozen=True, slots=True)
class QuestionFrame:
    """A question opened: send it, and remember when each connection got it (speed points)."""

    frame: SharedFrame
    index: int


@dataclass(frozen=True, slots=True)
class ClosedFrame:
    """A question closed: the shared reveal, then each player's own result and rank."""

    frame: SharedFrame
    index: int


@dataclass(frozen=True, slots=True)
class FinishedFrame:
    """The quiz finished: the shared frame, then each player's final results and review."""

    frame: SharedFrame


@dataclass(frozen=True, slots=True)
class ToPlayer:
    player_id: int
    data: bytes
    #: Close the player's connections after sending (a kick), with this code and reason.
    close: tuple[int, str] | None = None


@dataclass(frozen=True, slots=True)
class ToHosts:
    data: bytes


BusMessage = Broadcast | QuestionFrame | ClosedFrame | FinishedFrame | ToPlayer | ToHosts


# ---------------------------------------------------------------------- the service


@dataclass
class ServiceLimits:
    """Knobs of the service, with the reason for each default."""

    #: A leaderboard snapshot at most this often per quiz (when it changed). Each process's
    #: gateway writes the newest one round its connections as fast as its board budget allows
    #: (``Gateway.board_frames_per_s``): a quiz bigger than one round per tick gets its boards
    #: back to back, each client the newest, rather than waiting for the next tick.
    tick_ms: int = 100
    #: Board frames per second for one quiz in its lobby, where a board tells little (who else
    #: is there): a lobby of N players gets a board at most every N / this seconds (10,000
    #: players: 1 s), so a join storm spends the CPU on joins rather than on O(N²) lobby boards.
    lobby_board_frames_per_s: int = 10_000
    #: Commands per durable batch; a bound so one batch never holds the loop too long.
    max_batch: int = 4096
    #: Joins per client address: a burst for a classroom behind one NAT, then a steady rate.
    joins_burst: int = 200
    joins_per_second: float = 20.0
    #: How long a player who is not connected (joined over HTTP, or the server restarted)
    #: counts as present before being marked gone: long enough to (re)connect after a restart.
    reconnect_grace_s: float = 15.0
    #: How long after a player's last connection drops they still count as present: a phone
    #: switching from Wi-Fi to 4G is back within a second or two, and must not be left out
    #: (or close a question on everyone else, when all the others have answered).
    disconnect_grace_s: float = 3.0


@dataclass
class _QuizRuntime:
    """Per-quiz state of this process that is not quiz state: timers, dirty flags, deltas."""

    timer: asyncio.TimerHandle | None = None
    board_dirty: bool = False
    #: ``time.monotonic()`` before which a lobby board waits (lobby_board_frames_per_s).
    lobby_board_at: float = 0.0
    #: The quiz has finished: after its last frames are flushed, this process forgets it.
    finished: bool = False
    joined: list[dict[str, Any]] = field(default_factory=list)
    left: list[int] = field(default_factory=list)
    back: list[int] = field(default_factory=list)
    kicked: list[int] = field(default_factory=list)


class QuizService:
    """Creates quizzes, runs commands through the store, publishes what happened."""

    def __init__(
        self,
        store: QuizStore,
        bus: Bus,
        signer: TokenSigner,
        metrics: Metrics,
        *,
        limits: ServiceLimits | None = None,
        clock: Callable[[], int] = wall_clock_ms,
    ) -> None:
        self.store = store
        self.bus = bus
        self.signer = signer
        self.metrics = metrics
        self.limits = limits or ServiceLimits()
        self.clock = clock
        self._inbox: list[tuple[Envelope, Reply | None]] = []
        self._wake = asyncio.Event()
        self._runtime: dict[str, _QuizRuntime] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._join_buckets: dict[str, tuple[float, float]] = {}
        self.ready = False
        #: Called with ``(quiz_id, player_id)`` after a join made without a WebSocket (HTTP),
        #: so the gateway can mark the player gone if their connection never comes.
        self.on_join_without_connection: Callable[[str, int, float], None] | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self, live_quiz_ids: list[str]) -> None:
        """Start the pump and the ticker; re-arm the clocks of quizzes recovered from storage."""
        self._tasks = [
            asyncio.create_task(self._pump(), name="livequiz-pump"),
            asyncio.create_task(self._ticker(), name="livequiz-ticker"),
        ]
        for quiz_id in live_quiz_ids:
            self._runtime[quiz_id] = _QuizRuntime(board_dirty=True)
            self._arm_clock(quiz_id)
            # Nobody is connected to a process that just started. Players who come back in time
            # rejoin; the others are marked gone, or "all answered → close" would wait for them.
            if self.on_join_without_connection is not None:
                for player in self.store.session(quiz_id).players.values():
                    if player.present and not player.kicked:
                        self.on_join_without_connection(
                            quiz_id, player.id, self.limits.reconnect_grace_s
                        )
        self.metrics.quizzes.set(len(live_quiz_ids))
        self.ready = True

    async def stop(self) -> None:
        self.ready = False
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for runtime in self._runtime.values():
            if runtime.timer is not None:
                runtime.timer.cancel()

    # ------------------------------------------------------------------ creating and joining

    async def create_quiz(
        self, title: str, questions: list[Question], settings: QuizSettings
    ) -> tuple[QuizDefinition, str]:
        """Create a quiz with a fresh PIN; returns it and the host's token."""
        now = self.clock()
        definition = QuizDefinition(
            quiz_id=secrets.token_hex(8),
            pin=self._free_pin(),
            title=title,
            questions=tuple(questions),
            settings=settings,
            created_at_ms=now,
        )
        await self.store.create(definition)
        self._runtime[definition.quiz_id] = _QuizRuntime()
        self.metrics.quizzes_created.inc()
        self.metrics.quizzes.inc()
        log.info("quiz created", extra={"quiz_id": definition.quiz_id, "questions": len(questions)})
        token = self.signer.issue(definition.quiz_id, Role.HOST, 0, now // 1000)
        return definition, token

    def _free_pin(self) -> str:
        while True:
            pin = f"{secrets.randbelow(10**PIN_DIGITS):0{PIN_DIGITS}d}"
            if pin[0] != "0" and not self.store.pin_in_use(pin):
                return pin

    def allow_join(self, address: str) -> bool:
        """Per-address token bucket for joins: a classroom burst, then a steady rate."""
        now = time.monotonic()
        burst, rate = float(self.limits.joins_burst), self.limits.joins_per_second
        tokens, last = self._join_buckets.get(address, (burst, now))
        tokens = min(burst, tokens + (now - last) * rate)
        if tokens < 1.0:
            self._join_buckets[address] = (tokens, now)
            return False
        self._join_buckets[address] = (tokens - 1.0, now)
        if len(self._join_buckets) > 100_000:  # forget the quiet ones; bounds the memory
            self._join_buckets.clear()
        return True

    async def join(
        self, pin: str, nickname: object, *, connected: bool = False
    ) -> tuple[str, int, str]:
        """Join by PIN: returns ``(quiz_id, player_id, token)`` or raises Rejected/UnknownQuiz.

        ``connected`` says the join came over a WebSocket that is already open.
        """
        try:
            quiz_id = self.store.quiz_id_for_pin(pin)
        except UnknownQuiz:
            if self.store.ended_quiz_for_pin(pin) is not None:
                raise Rejected(ErrorCode.QUIZ_FINISHED, "this quiz has already finished") from None
            raise
        outcome = await self.call(quiz_id, Join(nickname))
        if isinstance(outcome, Rejected):
            raise outcome
        joined = outcome.events[0]
        assert isinstance(joined, PlayerJoined)
        token = self.signer.issue(quiz_id, Role.PLAYER, joined.player_id, self.clock() // 1000)
        if not connected and self.on_join_without_connection is not None:
            self.on_join_without_connection(
                quiz_id, joined.player_id, self.limits.reconnect_grace_s
            )
        return quiz_id, joined.player_id, token

    # ------------------------------------------------------------------ commands

    def submit(self, quiz_id: str, command: Command, reply: Reply | None = None) -> None:
        """Queue a command, stamped now; ``reply`` runs once its outcome is durable."""
        self._inbox.append((Envelope(quiz_id, command, self.clock()), reply))
        self._wake.set()

    async def call(self, quiz_id: str, command: Command) -> Outcome:
        """Submit and wait for the durable outcome."""
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()

        def reply(outcome: Outcome) -> None:
            if not future.done():
                future.set_result(outcome)

        self.submit(quiz_id, command, reply)
        return await future

    @property
    def backlog(self) -> int:
        """Commands submitted and not yet taken into a batch.

        The gateway slows a big board down while this is not zero: acks come first. (A batch
        being stored does not count: the writer thread needs little of the event loop.)
        """
        return len(self._inbox)

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
            outcomes = await self.store.execute(envelopes)
        except Exception:
            log.exception(
                "storage failed; the batch is not acknowledged", extra={"size": len(batch)}
            )
            failed = Rejected(ErrorCode.ILLEGAL_STATE, "the server could not store this; try again")
            outcomes = [failed] * len(batch)
        self.metrics.scoring_seconds.observe(time.perf_counter() - started)
        self.metrics.batch_size.observe(len(batch))
        for (envelope, reply), outcome in zip(batch, outcomes, strict=True):
            if reply is not None:
                try:
                    reply(outcome)
                except Exception:
                    log.exception("reply failed", extra={"quiz_id": envelope.quiz_id})
            if isinstance(outcome, Executed) and outcome.events:
                try:
                    self._publish(envelope.quiz_id, outcome.events)
                except Exception:
                    log.exception("publishing events failed", extra={"quiz_id": envelope.quiz_id})

    # ------------------------------------------------------------------ events → frames

    def _publish(self, quiz_id: str, events: tuple[Event, ...]) -> None:
        session = self.store.session(quiz_id)
        runtime = self._runtime.get(quiz_id)
        if runtime is None:  # e.g. a player leaving a quiz that finished earlier
            runtime = self._runtime[quiz_id] = _QuizRuntime(
                finished=session.phase is Phase.FINISHED
            )
        for event in events:
            if isinstance(event, AnswerAccepted):
                runtime.board_dirty = True
            elif isinstance(event, PlayerJoined):
                runtime.board_dirty = True
                runtime.joined.append({"player_id": event.player_id, "nickname": event.nickname})
            elif isinstance(event, PlayerLeft):
                runtime.left.append(event.player_id)
            elif isinstance(event, PlayerRejoined):
                runtime.back.append(event.player_id)
            elif isinstance(event, PlayerKicked):
                runtime.board_dirty = True
                runtime.kicked.append(event.player_id)
                notice = protocol.encode(
                    {"type": "kicked", "message": "the host removed you from this quiz"}
                )
                self.bus.publish(quiz_id, ToPlayer(event.player_id, notice, close=(4009, "kicked")))
            elif isinstance(event, LobbyLockChanged):
                self.bus.publish(
                    quiz_id,
                    Broadcast(
                        SharedFrame.text(
                            protocol.encode(
                                {"type": "lock", "seq": event.seq, "locked": event.locked}
                            )
                        ),
                        "lock",
                    ),
                )
            elif isinstance(event, QuestionOpened):
                runtime.board_dirty = True
                frame = {
                    "type": "question",
                    "seq": event.seq,
                    "question": views.question_view(session, event.at_ms),
                    "server_time_ms": event.at_ms,
                }
                self.bus.publish(
                    quiz_id, QuestionFrame(SharedFrame.text(protocol.encode(frame)), event.index)
                )
                self._arm_clock(quiz_id)
            elif isinstance(event, QuestionClosed):
                runtime.board_dirty = True
                self._disarm_clock(runtime)
                frame = {
                    "type": "closed",
                    "seq": event.seq,
                    "index": event.index,
                    "reason": event.reason.value,
                    "reveal": views.reveal(session.questions[event.index]),
                    "option_counts": list(event.option_counts),
                }
                self.bus.publish(
                    quiz_id, ClosedFrame(SharedFrame.text(protocol.encode(frame)), event.index)
                )
            elif isinstance(event, QuizFinished):
                runtime.board_dirty = True
                runtime.finished = True
                self._disarm_clock(runtime)
                self.metrics.quizzes.dec()
                frame = {"type": "finished", "seq": event.seq, "reason": event.reason.value}
                self.bus.publish(quiz_id, FinishedFrame(SharedFrame.text(protocol.encode(frame))))
            # QuizStarted needs no frame of its own: the first QuestionOpened follows it.

    async def _ticker(self) -> None:
        """Every ``tick_ms``: one leaderboard frame per quiz whose board changed.

        The tick only takes the snapshots; how fast they reach the sockets is each gateway's
        business (its board pump paces and chunks the writes), so a slow fan-out never makes
        the snapshots older than one tick.
        """
        loop = asyncio.get_running_loop()
        interval = self.limits.tick_ms / 1000
        next_at = loop.time() + interval
        while True:
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            flushed_at = loop.time()
            self.metrics.tick_lag_seconds.observe(max(0.0, flushed_at - next_at))
            started = time.perf_counter()
            try:
                self.flush_boards()
            except Exception:
                log.exception("leaderboard tick failed")
            self.metrics.tick_seconds.observe(time.perf_counter() - started)
            next_at = max(next_at + interval, loop.time())

    def flush_boards(self) -> int:
        """Publish the board of every dirty quiz, and the host's lobby changes.

        Returns how many players those boards go to (the connected players of each quiz, and
        its host).
        """
        audience = 0
        done: list[str] = []
        for quiz_id, runtime in self._runtime.items():
            if runtime.joined or runtime.left or runtime.back or runtime.kicked:
                session = self.store.session(quiz_id)
                delta = {
                    "type": "players",
                    "seq": session.seq,
                    "joined": runtime.joined,
                    "left": runtime.left,
                    "back": runtime.back,
                    "kicked": runtime.kicked,
                    "present": session.present_count,
                    "players": len(session.board),
                }
                runtime.joined, runtime.left, runtime.back, runtime.kicked = [], [], [], []
                self.bus.publish(quiz_id, ToHosts(protocol.encode(delta)))
            if runtime.board_dirty:
                session = self.store.session(quiz_id)
                if session.phase is Phase.LOBBY:
                    now = time.monotonic()
                    if now < runtime.lobby_board_at:
                        continue  # still dirty: it goes out at a later tick
                    runtime.lobby_board_at = now + session.present_count / max(
                        1, self.limits.lobby_board_frames_per_s
                    )
                runtime.board_dirty = False
                audience += session.present_count + 1
                board = views.leaderboard(session)
                board["type"] = "board"
                self.bus.publish(
                    quiz_id, Broadcast(SharedFrame.text(protocol.encode(board)), "board")
                )
            if runtime.finished:
                done.append(quiz_id)
        for quiz_id in done:  # nothing more will change: no need to visit it every tick
            del self._runtime[quiz_id]
        return audience

    # ------------------------------------------------------------------ the clock

    def _arm_clock(self, quiz_id: str) -> None:
        """Schedule the Tick that closes the open question once its answers stop counting."""
        runtime = self._runtime.setdefault(quiz_id, _QuizRuntime())
        self._disarm_clock(runtime)
        session = self.store.session(quiz_id)
        if session.phase is not Phase.QUESTION_OPEN:
            return
        delay_s = max(0.0, (session.accepts_until_ms + 1 - self.clock()) / 1000)
        runtime.timer = asyncio.get_running_loop().call_later(
            delay_s, self.submit, quiz_id, Tick(), self._after_tick(quiz_id)
        )

    def _after_tick(self, quiz_id: str) -> Reply:
        def check(outcome: Outcome) -> None:
            # A timer that fired a hair early (clock granularity) closed nothing: try again.
            try:
                session = self.store.session(quiz_id)
            except UnknownQuiz:
                return
            if session.phase is Phase.QUESTION_OPEN and (
                isinstance(outcome, Rejected) or not outcome.events
            ):
                self._arm_clock(quiz_id)

        return check

    @staticmethod
    def _disarm_clock(runtime: _QuizRuntime) -> None:
        if runtime.timer is not None:
            runtime.timer.cancel()
            runtime.timer = None
