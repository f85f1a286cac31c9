"""The quiz service of one process: quizzes created and joined here, and the frames for the
connections this process holds.

A process plays two parts (docs/design.md, "Many processes"):

* the **owner** of some quizzes (:mod:`livequiz.owner`): their commands, durable batches,
  clocks and leases;
* the **edge** of every quiz that has players connected here: this module. It keeps a copy of
  each such quiz (the owner's own session, for a quiz owned here; otherwise one rebuilt from the
  journal and kept current from the owner's log on the bus), turns the events of each change
  into frames for its connections, and sends one leaderboard per tick per quiz.

Commands go through the :class:`~livequiz.router.Router`, which hands them to the owner here or
in another process. With one process (the embedded default) every quiz is owned here and the
bus is never crossed.

The leaderboard is not sent per answer: quizzes whose board changed are marked dirty, and every
``tick_ms`` one frame per dirty quiz is built, encoded once and handed to the gateway. Question
open, close and finish frames go out at once, built from their events.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from livequiz import codec, names, protocol
from livequiz.auth import Role, TokenSigner
from livequiz.domain.commands import Command, Join, RequestRejoin, Start
from livequiz.domain.errors import ErrorCode, Rejected
from livequiz.domain.events import (
    AnswerAccepted,
    Event,
    ExtraTimeGiven,
    LobbyLockChanged,
    OptionsShown,
    PlayerFinished,
    PlayerJoined,
    PlayerKicked,
    PlayerLeft,
    PlayerNamed,
    PlayerQuestionClosed,
    PlayerQuestionOpened,
    PlayerRejoined,
    QuestionClosed,
    QuestionOpened,
    QuestionPaused,
    QuestionResumed,
    QuizFinished,
    QuizStarted,
    RejoinAnswered,
    RejoinRequested,
    TeamChanged,
)
from livequiz.domain.question import Question
from livequiz.domain.session import Phase
from livequiz.domain.settings import Pace, QuizSettings
from livequiz.observability import Metrics
from livequiz.owner import OwnerLimits, QuizOwner, Reply, resolver
from livequiz.ports import (
    Bus,
    BusUnavailable,
    Outcome,
    PinTaken,
    QuizDefinition,
    StorageUnavailable,
    Subscription,
    Unavailable,
    UnknownQuiz,
)
from livequiz.router import Router
from livequiz.store import QuizStore
from livequiz.webhooks import WebhookLimits, WebhookSender

log = logging.getLogger("livequiz.service")

#: Six digits: easy to read off a projector and type on a phone; a million PINs leave room for
#: thousands of live quizzes with few retries.
PIN_DIGITS = 6
#: Attempts at a free PIN before giving up (a clash with another process's new quiz retries).
PIN_ATTEMPTS = 20
#: How long an ack or a welcome waits for this process's copy to reach its sequence number
#: before the copy catches up from the journal instead (a log message was lost).
CATCH_UP_AFTER_S = 0.5
#: How soon following a quiz this process lost, or catching a copy up from the journal, is
#: tried again (storage or bus down), doubling up to the second figure.
FOLLOW_RETRY_S = 0.25
FOLLOW_RETRY_MAX_S = 5.0
#: Joins this process hands to the quizzes' owners at once; more wait their turn. A join costs
#: ~0.1 ms in the owner's batch (the nickname's profanity check above all): a storm of a
#: thousand joins in one batch held every answer behind it ~100 ms (bench/floods.py). Sixteen
#: keep a batch's joins to ~2 ms and still saturate a core with joins.
JOINS_IN_FLIGHT = 16


def wall_clock_ms() -> int:
    """Server time in milliseconds. Wall time, because deadlines must survive a restart."""
    return time.time_ns() // 1_000_000


# ---------------------------------------------------------------------- what the gateway gets


@dataclass(frozen=True, slots=True)
class Broadcast:
    """A frame for every connection of the quiz."""

    data: bytes
    kind: str
    #: For a board, the quiz's ``seq`` it shows: a newer board replaces it mid-round
    #: (``Gateway._pump_boards``). ``-1``: not known (anything newer replaces it).
    seq: int = -1
    #: For a board, ``time.monotonic()`` of the oldest answer it is the first to show (its batch
    #: stored, or applied on a copy): when the board has reached every connection, the time
    #: since then is that answer's way to every board (``livequiz_board_delay_seconds``). Joins,
    #: questions opened and closed change boards too, but the objective is the answers'.
    answered_at: float | None = None


@dataclass(frozen=True, slots=True)
class QuestionFrame:
    """A question opened: send it, and remember when each connection got it (speed points)."""

    data: bytes
    index: int
    #: The event's sequence number (a connection shown a newer state does not get it).
    seq: int = -1
    #: With ``shuffle_options`` or extra time given: a player's own frame (their order of the
    #: options, their deadline), or ``None`` for a player who sees ``data`` as everyone does.
    for_player: Callable[[int], bytes | None] | None = None
    #: ``question``, or ``options`` when a question's reading time ends (speed points count
    #: from when those reached each connection).
    kind: str = "question"


def _own_question(
    definition: QuizDefinition, event: QuestionOpened
) -> Callable[[int], bytes | None] | None:
    """Who gets a ``question`` frame of their own: everyone with ``shuffle_options``; else
    only the few with extra time (``None`` for the rest: the shared frame). Built per player
    at the question's opening, so its cost is one encode per player who needs one."""
    shuffled = definition.settings.shuffle_options
    extras = dict(event.extra_ms)
    if not shuffled and not extras:
        return None

    def own(player_id: int) -> bytes | None:
        extra = extras.get(player_id, 0)
        if not shuffled and not extra:
            return None
        return protocol.question_frame(
            definition.questions, definition.settings, event, player_id, extra
        )

    return own


@dataclass(frozen=True, slots=True)
class ClosedFrame:
    """A question closed: the shared reveal, then each player's own result and rank."""

    data: bytes
    index: int
    seq: int = -1


@dataclass(frozen=True, slots=True)
class FinishedFrame:
    """The quiz finished: the shared frame, then each player's final results and review."""

    data: bytes
    seq: int = -1


@dataclass(frozen=True, slots=True)
class ToPlayer:
    player_id: int
    data: bytes
    #: Close the player's connections after sending (a kick), with this code and reason.
    close: tuple[int, str] | None = None
    #: The event's sequence number: a connection shown a newer state does not get it (``-1``:
    #: not about one event, always sent).
    seq: int = -1


@dataclass(frozen=True, slots=True)
class OwnQuestionFrame:
    """Self-paced: a question opened for one player; remember when each of their connections
    got it (speed points)."""

    player_id: int
    data: bytes
    index: int
    seq: int


@dataclass(frozen=True, slots=True)
class ToHosts:
    data: bytes


Delivery = (
    Broadcast | QuestionFrame | ClosedFrame | FinishedFrame | ToPlayer | ToHosts | OwnQuestionFrame
)


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
    #: How long a finished quiz stays in this process's memory after it finished (or was last
    #: loaded to be read: results, a player's hello): long enough for the end screen, the
    #: podium, the teacher's download and players reconnecting to see their results; then
    #: its session and everything kept for it leave memory, so a server that plays thousands
    #: of quizzes a day does not grow. Its results stay in the journal (SQLite or PostgreSQL)
    #: and are loaded again when asked for. A quiz with a connection of this process open
    #: stays until the last one goes (docs/design.md, "Finished quizzes leave memory").
    finished_retention_s: float = 900.0
    #: How results go back to the learning app's webhooks (livequiz.webhooks).
    webhooks: WebhookLimits = field(default_factory=WebhookLimits)


@dataclass
class _QuizRuntime:
    """Per-quiz state of this process that is not quiz state: dirty flags, deltas, follows."""

    board_dirty: bool = False
    #: ``time.monotonic()`` of the oldest answer no board handed to the gateway shows yet
    #: (stored here, or applied on a copy): what the board objective times.
    answered_at: float | None = None
    #: A tick found the quiz mid-commit: its board goes out once the batch is stored.
    board_due: bool = False
    #: ``time.monotonic()`` before which a lobby board waits (lobby_board_frames_per_s).
    lobby_board_at: float = 0.0
    #: The quiz has finished: after its last frames are flushed, this process forgets it.
    finished: bool = False
    #: What the hosts' next ``players`` frame tells (``protocol.PLAYER_NEWS``).
    news: dict[str, list[Any]] = field(default_factory=protocol.no_player_news)

    def has_player_news(self) -> bool:
        return any(self.news.values())


@dataclass
class _Follow:
    """This process follows a quiz another process owns: its log and owner subjects."""

    subscriptions: list[Subscription] = field(default_factory=list)
    #: Waiters for the copy to reach a sequence number: ``(seq, future)``.
    waiters: list[tuple[int, asyncio.Future[None]]] = field(default_factory=list)
    catching_up: bool = False


class QuizService:
    """Creates quizzes, routes commands, keeps copies, and turns what happened into frames."""

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
        self._bus_losses = bus.losses
        self.signer = signer
        self.metrics = metrics
        self.limits = limits or ServiceLimits()
        self.clock = clock
        self.owner = QuizOwner(
            store,
            bus,
            metrics,
            # through self.clock, so a test that moves the service's clock moves the owner's
            clock=lambda: self.clock(),
            on_events=self.on_events,
            limits=OwnerLimits(
                max_batch=self.limits.max_batch,
                reconnect_grace_s=self.limits.reconnect_grace_s,
            ),
        )
        self.owner.on_owned = self._owned
        self.owner.on_lost = self._lost
        self.owner.on_settled = self._settled
        #: Sends the outbox's due webhook deliveries (every process runs one).
        self.webhooks = WebhookSender(store.records, lambda: self.clock(), self.limits.webhooks)
        # a batch that stored deliveries: send them now, not at the next poll
        store.on_deliveries = self.webhooks.wake
        self.router = Router(self.owner, bus, metrics, caught_up=self.caught_up)
        #: Where frames for this process's connections go (the gateway's ``deliver``).
        self.deliver: Callable[[str, Delivery], None] = _nowhere
        #: Which players have a connection here (the gateway's answer), for re-announcing
        #: presence to a new owner.
        self.local_players: Callable[[str], list[int]] = _nobody
        #: The seq of the board going round this process's connections of a quiz, ``None`` if
        #: none is (the gateway's answer), and how to hand it a newer one mid-round.
        self.board_round_seq: Callable[[str], int | None] = _no_round
        self.refresh_board: Callable[[str, int, bytes], None] = _nowhere_board
        self._runtime: dict[str, _QuizRuntime] = {}
        self._follows: dict[str, _Follow] = {}
        #: Journal reads under way for :meth:`refresh`, one per quiz.
        self._refreshing: dict[str, asyncio.Future[None]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._join_buckets: dict[str, tuple[float, float]] = {}
        #: Finished quizzes held here → when they finished or were last loaded to be read
        #: (``time.monotonic()``): evicted ``finished_retention_s`` after that.
        self._finished_at: dict[str, float] = {}
        #: Whether a connection of this process is attached to a quiz (the gateway's answer):
        #: such a quiz is not evicted, whatever its age.
        self.attached: Callable[[str], bool] = _not_attached
        #: Joins handed to the owners at once, at most (see join()).
        self._join_slots = asyncio.Semaphore(JOINS_IN_FLIGHT)
        self.ready = False
        self.metrics.quizzes_owned.set_function(lambda: len(self.store.owned()))
        self.metrics.quizzes.set_function(self.store.live_count)
        self.metrics.quizzes_loaded.set_function(self.store.loaded_count)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Take over the quizzes nobody owns (at a restart: this process's own), start the
        ticker, and accept work."""
        self._tasks = [
            asyncio.create_task(self._ticker(), name="livequiz-ticker"),
            asyncio.create_task(self._evictions(), name="livequiz-evictions"),
            asyncio.create_task(self.webhooks.run(), name="livequiz-webhooks"),
        ]
        await self.owner.start()
        self.ready = True

    async def stop(self) -> None:
        self.ready = False
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.router.stop()
        await self.owner.stop()
        await self.webhooks.close()
        for follow in self._follows.values():
            for subscription in follow.subscriptions:
                with contextlib.suppress(Exception):
                    await subscription.unsubscribe()
        self._follows.clear()

    async def healthy(self) -> str | None:
        """``None`` if this process can do its work now, else what is wrong (for /readyz)."""
        if not self.ready:
            return "the server is starting or stopping"
        if not self.bus.connected:
            return "the message bus is unreachable"
        try:
            await self.store.records.check()
        except StorageUnavailable as error:
            return f"storage is unreachable: {error}"
        return None

    # ------------------------------------------------------------------ creating and joining

    async def create_quiz(
        self,
        title: str,
        questions: list[Question],
        settings: QuizSettings,
        *,
        due_at_ms: int | None = None,
        created_by: str | None = None,
        webhook: tuple[str, str] | None = None,
    ) -> tuple[QuizDefinition, str]:
        """Create a quiz with a fresh PIN, owned by this process; returns it and the host's
        token. A PIN another process's new quiz took first is retried with another.

        With ``due_at_ms`` (a self-paced quiz) it is handed out at once: started, due then. If
        that start cannot be stored, the error is raised and nobody gets the host token: the
        quiz stays in its lobby unused until its retention ends."""
        now = self.clock()
        for _ in range(PIN_ATTEMPTS):
            definition = QuizDefinition(
                quiz_id=secrets.token_hex(8),
                pin=self._random_pin(),
                title=title,
                questions=tuple(questions),
                settings=settings,
                created_at_ms=now,
                created_by=created_by,
                webhook_url=None if webhook is None else webhook[0],
                webhook_secret=None if webhook is None else webhook[1],
            )
            try:
                await self.store.create(definition)
            except PinTaken:
                continue
            break
        else:
            raise StorageUnavailable("no free quiz ID found; try again")
        self._runtime[definition.quiz_id] = _QuizRuntime()
        await self.owner.adopt(definition.quiz_id)
        self.metrics.quizzes_created.inc()
        log.info("quiz created", extra={"quiz_id": definition.quiz_id, "questions": len(questions)})
        if due_at_ms is not None:
            outcome = await self.call(definition.quiz_id, Start(due_at_ms))
            if isinstance(outcome, Rejected):
                raise outcome
        due_s = None if due_at_ms is None else due_at_ms // 1000
        token = self.signer.issue(definition.quiz_id, Role.HOST, 0, now // 1000, due_s=due_s)
        return definition, token

    @staticmethod
    def _random_pin() -> str:
        return f"{secrets.randbelow(9 * 10 ** (PIN_DIGITS - 1)) + 10 ** (PIN_DIGITS - 1)}"

    def join_budget_spent(self, address: str) -> bool:
        """Whether :meth:`allow_join` would refuse ``address`` now, without taking a token:
        the HTTP guard's screen answers such joins before routing (transport.http_guard)."""
        bucket = self._join_buckets.get(address)
        if bucket is None:
            return False
        tokens, last = bucket
        refill = (time.monotonic() - last) * self.limits.joins_per_second
        return min(float(self.limits.joins_burst), tokens + refill) < 1.0

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

    async def quiz_for_pin(self, pin: str) -> str:
        """The live quiz with this PIN; ``quiz_finished`` if its quiz just ended; else
        :class:`~livequiz.ports.UnknownQuiz`."""
        quiz_id = await self.store.records.live_quiz_for_pin(pin)
        if quiz_id is not None:
            return quiz_id
        if await self.store.records.ended_quiz_for_pin(pin) is not None:
            raise Rejected(ErrorCode.QUIZ_FINISHED, "this quiz has already finished")
        raise UnknownQuiz(pin)

    async def join(
        self, pin: str, nickname: object, *, user_id: str | None = None, team: int | None = None
    ) -> tuple[str, int, str, str]:
        """Join by PIN: returns ``(quiz_id, player_id, nickname, token)`` or raises
        Rejected/UnknownQuiz. The nickname is the one the rules kept (trimmed).

        With ``user_id`` (the learning app's user, their sign-in verified by the caller) the
        nickname is the app's name for them, and a user already in the quiz gets their own
        player back: the same user on two devices is one player."""
        quiz_id = await self.quiz_for_pin(pin)
        async with self._join_slots:
            outcome = await self.call(quiz_id, Join(nickname, user_id, team))
        if isinstance(outcome, Rejected):
            raise outcome
        assert outcome.player_id is not None
        player_id = outcome.player_id
        if outcome.events:
            joined = outcome.events[0]
            assert isinstance(joined, PlayerJoined)
            name = joined.nickname
        else:  # the user was in the quiz already: their name as the quiz has it
            name = await self._name_of(quiz_id, player_id, nickname)
        return quiz_id, player_id, name, await self._player_token(quiz_id, player_id)

    async def _player_token(self, quiz_id: str, player_id: int) -> str:
        """A token for player ``player_id`` of the quiz (a join, or a rejoin the host let in)."""
        due_s = await self._due_s(quiz_id)
        return self.signer.issue(quiz_id, Role.PLAYER, player_id, self.clock() // 1000, due_s=due_s)

    async def request_rejoin(self, pin: str, nickname: object) -> tuple[str, str, str]:
        """A device asks to be the away player called ``nickname`` again: returns ``(quiz_id,
        request_id, the player's nickname)``; the host answers (host actions ``let_in`` /
        ``turn_away``) and the device reads the answer with :meth:`rejoin_status`. Raises
        Rejected or UnknownQuiz."""
        quiz_id = await self.quiz_for_pin(pin)
        request_id = secrets.token_urlsafe(24)
        async with self._join_slots:
            outcome = await self.call(quiz_id, RequestRejoin(nickname, request_id))
        if isinstance(outcome, Rejected):
            raise outcome
        (asked,) = outcome.events
        assert isinstance(asked, RejoinRequested)
        return quiz_id, request_id, asked.nickname

    async def rejoin_status(self, pin: str, request_id: str) -> tuple[str, str, str | None]:
        """``(status, nickname, token)`` of a rejoin request: ``waiting``; ``let_in`` with the
        player's token (the same player: score, answers, name); ``turned_away``. Raises
        UnknownQuiz for an unknown quiz or request (an id is no use without its quiz)."""
        quiz_id = await self.quiz_for_pin(pin)
        await self.ensure(quiz_id)
        answer = self.store.session(quiz_id).rejoin_answer(request_id)
        if answer is None:  # the host's answer may be in the journal, not yet in this copy
            await self.refresh(quiz_id)
        session = self.store.session(quiz_id)
        answer = session.rejoin_answer(request_id)
        if answer is None:
            player_id = session.rejoin_waiting(request_id)
            if player_id is None:
                raise UnknownQuiz(quiz_id)
            return "waiting", session.players[player_id].nickname, None
        player_id, let_in = answer
        nickname = session.players[player_id].nickname
        if not let_in:
            return "turned_away", nickname, None
        return "let_in", nickname, await self._player_token(quiz_id, player_id)

    async def _name_of(self, quiz_id: str, player_id: int, fallback: object) -> str:
        with contextlib.suppress(Unavailable, UnknownQuiz):
            await self.ensure(quiz_id)
            await self.refresh(quiz_id)
        if self.store.loaded(quiz_id):
            player = self.store.session(quiz_id).players.get(player_id)
            if player is not None:
                return player.nickname
        return str(fallback)

    async def _due_s(self, quiz_id: str) -> int | None:
        """A self-paced quiz's due time (its tokens last until a day after it), read from
        this process's copy (loaded for it if need be: the joiner's connection loads it next
        anyway); ``None`` for a live quiz."""
        if not self.store.loaded(quiz_id):
            with contextlib.suppress(Unavailable, UnknownQuiz):
                await self.ensure(quiz_id)
        if not self.store.loaded(quiz_id):
            return None
        due_at_ms = self.store.session(quiz_id).due_at_ms
        return None if due_at_ms is None else due_at_ms // 1000

    # ------------------------------------------------------------------ commands

    def submit(self, quiz_id: str, command: Command, reply: Reply | None = None) -> None:
        """Hand a command to its quiz's owner; ``reply`` runs once its outcome is durable."""
        self.router.submit(quiz_id, command, reply)

    async def call(self, quiz_id: str, command: Command) -> Outcome:
        """Submit and wait for the durable outcome."""
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self.submit(quiz_id, command, resolver(future))
        return await future

    @property
    def backlog(self) -> int:
        """Commands submitted and not yet taken into a batch (or on their way to another
        process's owner). The gateway slows a big board down while this is not zero: acks
        first."""
        return self.router.backlog

    # ------------------------------------------------------------------ copies of quizzes

    async def ensure(self, quiz_id: str) -> None:
        """Have the quiz's session here: the owner's, or a copy that follows the owner's log.

        An owned quiz's session is settled first (:meth:`QuizStore.settle
        <livequiz.store.QuizStore.settle>`): what is read from it after this was stored.

        Raises :class:`~livequiz.ports.UnknownQuiz`, or :class:`~livequiz.ports.Unavailable`
        if the copy cannot be loaded now (the journal cannot be read, or the bus cannot carry
        the owner's log to follow it), or an owned session cannot be settled, or this process
        holds the quiz's lease but cannot confirm it (see :meth:`QuizOwner.owns
        <livequiz.owner.QuizOwner.owns>`).
        """
        if self.store.owns(quiz_id) and not self.owner.owns(quiz_id):
            # Its lease unconfirmed (renewals unanswered): another process may have taken the
            # quiz and moved it on, and this session would show the past as now.
            raise StorageUnavailable("this process cannot confirm it still runs the quiz")
        if quiz_id in self._follows or self.owner.owns(quiz_id):
            await self.store.load(quiz_id)
            if self.store.pop_behind(quiz_id):  # stopped at what was shown: the rest as events
                self._catch_up(quiz_id)
            if self.store.owns(quiz_id):  # nothing read from it shows what was not stored
                await self.store.settle(quiz_id)
            self._touch(quiz_id)
            return
        # A copy loaded here that nobody followed may be behind the journal by anything; once
        # followed (below) it reads the rest, as a copy that missed a message does.
        unfollowed = self.store.loaded(quiz_id)
        follow = self._follows[quiz_id] = _Follow()
        try:
            # Subscribe before loading, so nothing committed in between is missed: entries the
            # loaded copy already has are skipped.
            follow.subscriptions.append(
                await self.bus.subscribe(names.quiz_log(quiz_id), self._log_handler(quiz_id))
            )
            follow.subscriptions.append(
                await self.bus.subscribe(names.quiz_owner(quiz_id), self._owner_handler(quiz_id))
            )
            await self.store.load(quiz_id)
        except BaseException:
            del self._follows[quiz_id]
            for subscription in follow.subscriptions:
                with contextlib.suppress(Exception):
                    await subscription.unsubscribe()
            raise
        if self.store.pop_behind(quiz_id) or unfollowed:
            self._catch_up(quiz_id)
        self._touch(quiz_id)

    def current(self, quiz_id: str) -> bool:
        """Whether this process holds the quiz's session and keeps it current: it owns the quiz
        with a lease it trusts, or follows the owner's log. A session loaded but neither (a
        copy nobody follows, or an owner whose renewals went unanswered) is not to be served
        without :meth:`ensure` first."""
        if self.store.owns(quiz_id):
            return self.owner.owns(quiz_id)
        return quiz_id in self._follows and self.store.loaded(quiz_id)

    def _touch(self, quiz_id: str) -> None:
        """A finished quiz was loaded or read: its retention starts again from now."""
        if self.store.known_finished(quiz_id):
            self._finished_at[quiz_id] = time.monotonic()

    # ------------------------------------------------------------------ finished quizzes leave

    async def _evictions(self) -> None:
        """Every quarter of the retention (at most every 30 s): evict what is due."""
        period = min(30.0, max(0.05, self.limits.finished_retention_s / 4))
        while True:
            await asyncio.sleep(period)
            try:
                self.evict_finished()
            except Exception:
                log.exception("evicting finished quizzes failed")

    def evict_finished(self, now: float | None = None) -> int:
        """Drop from memory every finished quiz past its retention that no connection of this
        process is attached to and whose last frames went out; returns how many went.

        Its session, definition, copy's subscriptions and every per-quiz entry of the
        service and router go; its results stay in the journal, and anything that asks for
        the quiz again (results, a hello with a player's token, a join by its PIN) loads or
        finds it there, exactly as before (the quiz is then evicted again later).
        """
        now = time.monotonic() if now is None else now
        retention = self.limits.finished_retention_s
        evicted = 0
        for quiz_id, finished_at in list(self._finished_at.items()):
            if not self.store.loaded(quiz_id):
                del self._finished_at[quiz_id]
                continue
            if now - finished_at < retention or self.attached(quiz_id):
                continue
            if quiz_id in self._runtime:  # frames still to flush (a tick away)
                continue
            follow = self._follows.get(quiz_id)
            if follow is not None and (follow.waiters or follow.catching_up):
                continue
            if not self.store.forget(quiz_id):  # owned (cannot be, once finished) or loading
                continue
            del self._finished_at[quiz_id]
            self.router.forget(quiz_id)
            if follow is not None:
                del self._follows[quiz_id]
                task = asyncio.create_task(_unsubscribe(follow.subscriptions))
                task.add_done_callback(_log_failure)
            evicted += 1
        if evicted:
            self.metrics.quizzes_evicted.inc(evicted)
            log.debug("finished quizzes left memory", extra={"quizzes": evicted})
        return evicted

    def _log_handler(self, quiz_id: str) -> Callable[[bytes], None]:
        def handle(data: bytes) -> None:
            try:
                entry = codec.decode_log(data)
            except codec.BadMessage:
                log.exception("a bad log entry", extra={"quiz_id": quiz_id})
                return
            self._apply(quiz_id, entry.prev_seq, entry.rows)

        return handle

    def _owner_handler(self, quiz_id: str) -> Callable[[bytes], None]:
        def handle(data: bytes) -> None:
            try:
                changed = codec.decode_owner(data)
            except codec.BadMessage:
                log.exception("a bad owner message", extra={"quiz_id": quiz_id})
                return
            self.router.owner_changed(quiz_id)
            if changed.owner == self.owner.process_id:
                return
            # A new owner knows nobody's presence: tell it who is connected here.
            for player_id in self.local_players(quiz_id):
                self.router.presence(quiz_id, player_id, True)

        return handle

    def _apply(self, quiz_id: str, prev_seq: int, rows: Any) -> None:
        if not self.store.loaded(quiz_id):
            return  # still loading: the load reads the journal, which has these rows
        executed = self.store.replicate(quiz_id, prev_seq, rows)
        if executed is None:
            self._catch_up(quiz_id)
            return
        for outcome in executed:
            try:
                self.on_events(quiz_id, outcome.events)
            except Exception:
                log.exception("building frames failed", extra={"quiz_id": quiz_id})
        if executed:
            self._settled(quiz_id)
        self._wake_waiters(quiz_id)

    async def refresh(self, quiz_id: str) -> None:
        """Bring this process's copy up to the journal now (a hello for a player the copy does
        not know yet: the token proves the join was stored, the copy has not heard of it; a
        ``sync`` or the results, which must not show a copy's lag). Callers at the same time
        share one read of the journal.

        Raises :class:`~livequiz.ports.StorageUnavailable` if the journal cannot be read.
        """
        if not self.store.loaded(quiz_id) or self.owner.owns(quiz_id):
            return
        reading = self._refreshing.get(quiz_id)
        if reading is None:
            reading = asyncio.ensure_future(self._read_journal(quiz_id))
            self._refreshing[quiz_id] = reading
            reading.add_done_callback(lambda done: self._refreshed(quiz_id, done))
        await asyncio.shield(reading)

    async def _read_journal(self, quiz_id: str) -> None:
        rows = await self.store.rows_after(quiz_id)
        if rows and self.store.loaded(quiz_id):
            self._apply(quiz_id, self._seq(quiz_id), rows)

    def _refreshed(self, quiz_id: str, done: asyncio.Future[None]) -> None:
        if self._refreshing.get(quiz_id) is done:
            del self._refreshing[quiz_id]
        if not done.cancelled():
            done.exception()  # retrieved: every caller may have gone

    def _catch_up(self, quiz_id: str) -> None:
        """The copy missed part of the owner's log: read the rest from the journal."""
        follow = self._follows.get(quiz_id)
        if follow is None or follow.catching_up:
            return
        follow.catching_up = True
        self.metrics.catch_ups.inc()

        async def catch_up() -> None:
            # Until it works: a copy that missed the last entries of a quiz that then went
            # quiet gets no further entry to notice the gap by, and its clients would see the
            # old state until the quiz changes again (found by the cluster nemesis: NATS lost
            # messages while PostgreSQL was down, so the catch-up found no journal either).
            delay = FOLLOW_RETRY_S
            try:
                while True:
                    try:
                        rows = await self.store.rows_after(quiz_id)
                    except (StorageUnavailable, OSError) as error:
                        if self._follows.get(quiz_id) is not follow or self.store.owns(quiz_id):
                            return  # no longer followed (evicted), or owned here now
                        log.warning(
                            "catching up from the journal waits for storage: %s",
                            error,
                            extra={"quiz_id": quiz_id},
                        )
                        await asyncio.sleep(delay)
                        delay = min(delay * 2, FOLLOW_RETRY_MAX_S)
                        continue
                    if rows and self.store.loaded(quiz_id):
                        self._apply(quiz_id, self._seq(quiz_id), rows)
                    return
            except Exception:
                log.exception("catching up from the journal failed", extra={"quiz_id": quiz_id})
            finally:
                follow.catching_up = False

        task = asyncio.create_task(catch_up())
        task.add_done_callback(_log_failure)

    def _seq(self, quiz_id: str) -> int:
        return self.store.session(quiz_id).seq

    async def caught_up(self, quiz_id: str, seq: int) -> None:
        """Wait until this process's copy of the quiz has reached ``seq`` (at once if it has,
        or if this process serves nobody of the quiz)."""
        if not self.store.loaded(quiz_id):
            if not self._serves(quiz_id):
                return
            try:  # dropped a moment ago (the lease was lost): load it again
                await self.ensure(quiz_id)
            except (Unavailable, UnknownQuiz):
                return
        if self._seq(quiz_id) >= seq:
            return
        follow = self._follows.get(quiz_id)
        if follow is None:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        follow.waiters.append((seq, future))
        try:
            await asyncio.wait_for(asyncio.shield(future), CATCH_UP_AFTER_S)
        except TimeoutError:
            self._catch_up(quiz_id)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(future, CATCH_UP_AFTER_S * 4)

    def _wake_waiters(self, quiz_id: str) -> None:
        follow = self._follows.get(quiz_id)
        if follow is None or not follow.waiters:
            return
        seq = self._seq(quiz_id)
        waiting = []
        for wanted, future in follow.waiters:
            if wanted <= seq:
                if not future.done():
                    future.set_result(None)
            else:
                waiting.append((wanted, future))
        follow.waiters = waiting

    def _owned(self, quiz_id: str) -> None:
        """This process took the quiz over: its session is now the owner's."""
        runtime = self._runtime.setdefault(quiz_id, _QuizRuntime())
        runtime.board_dirty = True
        self.router.owner_changed(quiz_id)
        self._wake_waiters(quiz_id)

    def _serves(self, quiz_id: str) -> bool:
        """Whether this process has connections of the quiz, the host's or players' (or
        already follows it). The host's alone count: a process that followed a lost quiz only
        for its players left a host connected there on the state where the lease was lost
        (the PostgreSQL + NATS stall of docs/reliability.md)."""
        return (
            quiz_id in self._follows or self.attached(quiz_id) or bool(self.local_players(quiz_id))
        )

    def _drop_copy(self, quiz_id: str) -> None:
        """Nobody here is on a quiz this process no longer owns, and nobody follows it: drop
        the session kept from owning it, so whatever asks for the quiz next (a hello, results)
        loads it from the journal and follows it. Kept, it went stale at once and was served
        as it was: a hello found it loaded and was welcomed from it, every later change passed
        it by (found over a lossy link, tests/netns/test_latency.py: a quiz lost during its
        joins over HTTP, whose host and players connected there afterwards, stayed a lobby)."""
        if quiz_id in self._follows or self.store.owns(quiz_id):
            return
        if self.store.forget(quiz_id):
            self._runtime.pop(quiz_id, None)
            self._finished_at.pop(quiz_id, None)
            self.router.forget(quiz_id)

    def _lost(self, quiz_id: str) -> None:
        """Another process owns the quiz now: follow it as a copy, if anyone is here for it.

        What the new owner did since this process last stored a batch (it may have closed a
        question and opened the next while this one was cut off) reaches this process's
        connections as the frames it would have sent, read from the journal and applied as
        events, not as a silent jump that would leave their screens on the old question. (A
        copy that may have been ahead of the journal was dropped by the store: ``ensure``
        loads it again up to what was shown, then catches up the same way.)"""
        if not self._serves(quiz_id):
            self._drop_copy(quiz_id)
            return

        async def follow() -> None:
            # Lost because storage or the bus failed, so following may fail for the same
            # reason: try until it works, or a try is no longer needed. Given up after one
            # failure, the copy was never followed and its clients stayed on the old state.
            delay = FOLLOW_RETRY_S
            while not self.owner.owns(quiz_id):
                if not self._serves(quiz_id):  # everyone left meanwhile
                    self._drop_copy(quiz_id)
                    return
                try:
                    await self.ensure(quiz_id)
                except UnknownQuiz:
                    return
                except (StorageUnavailable, BusUnavailable) as error:
                    log.warning(
                        "following a quiz this process lost waits: %s",
                        error,
                        extra={"quiz_id": quiz_id},
                    )
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, FOLLOW_RETRY_MAX_S)
                    continue
                self._catch_up(quiz_id)
                return

        task = asyncio.create_task(follow())
        task.add_done_callback(_log_failure)

    # ------------------------------------------------------------------ events → frames

    def on_events(self, quiz_id: str, events: tuple[Event, ...]) -> None:
        """Turn what happened to a quiz into frames for this process's connections."""
        runtime = self._runtime.get(quiz_id)
        if runtime is None:  # e.g. a player leaving a quiz that finished earlier
            finished = self.store.session(quiz_id).phase is Phase.FINISHED
            runtime = self._runtime[quiz_id] = _QuizRuntime(finished=finished)
        definition = self.store.definition(quiz_id)
        for event in events:
            if isinstance(event, AnswerAccepted):
                runtime.board_dirty = True
                if runtime.answered_at is None:  # the oldest answer no board shows yet
                    runtime.answered_at = time.monotonic()
                if definition.settings.pace is Pace.LIVE:
                    runtime.news["answered"].append(event.player_id)
            elif isinstance(event, PlayerJoined):
                runtime.board_dirty = True
                runtime.news["joined"].append(
                    {
                        "player_id": event.player_id,
                        "nickname": event.nickname,
                        "approved": event.approved,
                        **({} if event.team is None else {"team": event.team}),
                    }
                )
            elif isinstance(event, PlayerLeft):
                runtime.news["left"].append(event.player_id)
            elif isinstance(event, PlayerRejoined):
                runtime.news["back"].append(event.player_id)
            elif isinstance(event, PlayerNamed):
                runtime.board_dirty = True
                runtime.news["named"].append(
                    {"player_id": event.player_id, "nickname": event.nickname}
                )
                named = ToPlayer(event.player_id, protocol.named_frame(event), seq=event.seq)
                self.deliver(quiz_id, named)
            elif isinstance(event, TeamChanged):
                runtime.board_dirty = True
                runtime.news["team"].append({"player_id": event.player_id, "team": event.team})
            elif isinstance(event, ExtraTimeGiven):
                runtime.news["extra_time"].append(
                    {"player_id": event.player_id, "percent": event.percent}
                )
            elif isinstance(event, RejoinRequested):
                runtime.news["rejoin_asked"].append(event.player_id)
            elif isinstance(event, RejoinAnswered):
                runtime.news["rejoin_answered"].append(event.player_id)
            elif isinstance(event, PlayerKicked):
                runtime.board_dirty = True
                runtime.news["kicked"].append(event.player_id)
                kicked = ToPlayer(event.player_id, protocol.KICKED_FRAME, close=(4009, "kicked"))
                self.deliver(quiz_id, kicked)
            elif isinstance(event, LobbyLockChanged):
                self.deliver(quiz_id, Broadcast(protocol.lock_frame(event), "lock", event.seq))
            elif isinstance(event, QuestionPaused):
                frame = protocol.paused_frame(event)
                self.deliver(quiz_id, Broadcast(frame, "paused", event.seq))
            elif isinstance(event, QuestionResumed):
                frame = protocol.resumed_frame(event)
                self.deliver(quiz_id, Broadcast(frame, "resumed", event.seq))
            elif isinstance(event, QuestionOpened):
                runtime.board_dirty = True
                frame = protocol.question_frame(definition.questions, definition.settings, event)
                self.deliver(
                    quiz_id,
                    QuestionFrame(frame, event.index, event.seq, _own_question(definition, event)),
                )
            elif isinstance(event, OptionsShown):
                frame = protocol.options_frame(definition.questions, definition.settings, event)
                for_player = None
                if definition.settings.shuffle_options:
                    for_player = functools.partial(
                        protocol.options_frame, definition.questions, definition.settings, event
                    )
                options = QuestionFrame(frame, event.index, event.seq, for_player, "options")
                self.deliver(quiz_id, options)
            elif isinstance(event, QuestionClosed):
                runtime.board_dirty = True
                frame = protocol.closed_frame(definition.questions, event)
                self.deliver(quiz_id, ClosedFrame(frame, event.index, event.seq))
            elif isinstance(event, QuizFinished):
                runtime.board_dirty = True
                runtime.finished = True
                self._finished_at[quiz_id] = time.monotonic()
                self.deliver(quiz_id, FinishedFrame(protocol.finished_frame(event), event.seq))
            elif isinstance(event, PlayerQuestionOpened):
                frame = protocol.question_frame(definition.questions, definition.settings, event)
                self.deliver(
                    quiz_id, OwnQuestionFrame(event.player_id, frame, event.index, event.seq)
                )
            elif isinstance(event, PlayerQuestionClosed):
                self._own_close(quiz_id, definition.questions, event)
            elif isinstance(event, PlayerFinished):
                runtime.board_dirty = True
                self.deliver(quiz_id, ToHosts(protocol.player_finished_frame(event)))
                if self.store.loaded(quiz_id):
                    session = self.store.session(quiz_id)
                    final = protocol.player_final_frame(session, event.player_id)
                    self.deliver(quiz_id, ToPlayer(event.player_id, final, seq=event.seq))
            elif isinstance(event, QuizStarted) and event.due_at_ms is not None:
                self.deliver(
                    quiz_id, Broadcast(protocol.started_frame(event), "started", event.seq)
                )
            # A live QuizStarted needs no frame of its own: the first QuestionOpened follows it.

    def _own_close(
        self, quiz_id: str, questions: tuple[Question, ...], event: PlayerQuestionClosed
    ) -> None:
        """Self-paced: one player's reveal, then their result and standing."""
        closed = protocol.own_closed_frame(questions, event)
        self.deliver(quiz_id, ToPlayer(event.player_id, closed, seq=event.seq))
        if not self.store.loaded(quiz_id):
            return
        session = self.store.session(quiz_id)
        player = session.players.get(event.player_id)
        if player is not None and not player.kicked:
            result = protocol.result_frame(session, player, event.index)
            self.deliver(quiz_id, ToPlayer(event.player_id, result, seq=event.seq))

    async def _ticker(self) -> None:
        """Every ``tick_ms``: one leaderboard frame per quiz whose board changed.

        The tick only takes the snapshots; how fast they reach the sockets is the gateway's
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
            self.catch_up_after_losses()
            self.metrics.tick_seconds.observe(time.perf_counter() - started)
            next_at = max(next_at + interval, loop.time())

    def catch_up_after_losses(self) -> int:
        """The bus may have lost messages since the last look (:attr:`Bus.losses`): catch every
        copy this process follows up from the journal; returns how many. Found by the cluster
        nemesis with NATS killed: a process whose copy missed the last changes of a quiz that
        then went quiet answered a ``sync`` with the lobby of a finished quiz."""
        losses = self.bus.losses
        if losses == self._bus_losses:
            return 0
        self._bus_losses = losses
        followed = [quiz_id for quiz_id in self._follows if self.store.loaded(quiz_id)]
        for quiz_id in followed:
            self._catch_up(quiz_id)
        return len(followed)

    def flush_boards(self) -> int:
        """Hand the board of every dirty quiz, and the host's lobby changes, to the gateway.

        Returns how many players those boards go to (the connected players of each quiz, and
        its host).
        """
        audience = 0
        done: list[str] = []
        for quiz_id, runtime in self._runtime.items():
            if not self.store.loaded(quiz_id):
                continue
            if runtime.has_player_news():
                session = self.store.session(quiz_id)
                frame = protocol.players_frame(
                    session.seq, runtime.news, session.present_count, len(session.board)
                )
                runtime.news = protocol.no_player_news()
                self.deliver(quiz_id, ToHosts(frame))
            if runtime.board_dirty:
                audience += self.flush_board(quiz_id, runtime)
            if runtime.finished:
                done.append(quiz_id)
        for quiz_id in done:  # nothing more will change: no need to visit it every tick
            del self._runtime[quiz_id]
        return audience

    def flush_board(self, quiz_id: str, runtime: _QuizRuntime) -> int:
        """Hand a dirty quiz's board to the gateway, unless it must wait; returns its audience.

        It waits while a batch of the quiz is being stored (it goes out as soon as that is,
        from :meth:`_settled`: never showing what may yet be refused, nor running ahead of the
        frames of that batch), and in the lobby until the quiz's lobby pacing allows.
        """
        if not self.store.settled(quiz_id):
            runtime.board_due = True
            return 0
        session = self.store.session(quiz_id)
        if session.phase is Phase.LOBBY:
            now = time.monotonic()
            if now < runtime.lobby_board_at:
                return 0  # still dirty: it goes out at a later tick
            runtime.lobby_board_at = now + session.present_count / max(
                1, self.limits.lobby_board_frames_per_s
            )
        runtime.board_dirty = runtime.board_due = False
        answered_at, runtime.answered_at = runtime.answered_at, None
        frame = protocol.board_frame(session)
        self.deliver(quiz_id, Broadcast(frame, "board", session.seq, answered_at))
        return session.present_count + 1

    def _settled(self, quiz_id: str) -> None:
        """A batch of the quiz was stored (owner) or applied (copy), and its frames went out.

        A tick that found the quiz mid-commit left its board due: it goes out now. Otherwise,
        while a board is going round this process's connections (a big quiz, whose round
        outlasts a tick), the rest of the round gets the newest scores instead of the last
        tick's: that takes up to a tick off the time every client waits to see an answer, for
        one small frame (top-K) per stored batch, not one per recipient. The tick still sends
        the newest board round everyone (the dirty flag stays for it).
        """
        runtime = self._runtime.get(quiz_id)
        if runtime is None or not self.store.settled(quiz_id):
            return
        if runtime.board_due and runtime.board_dirty:
            self.flush_board(quiz_id, runtime)
            return
        round_seq = self.board_round_seq(quiz_id)
        if round_seq is None:
            return
        session = self.store.session(quiz_id)
        if session.seq > round_seq and session.phase is not Phase.LOBBY:
            self.refresh_board(quiz_id, session.seq, protocol.board_frame(session))


def _nowhere(_quiz_id: str, _delivery: Delivery) -> None:
    pass


def _nobody(_quiz_id: str) -> list[int]:
    return []


def _not_attached(_quiz_id: str) -> bool:
    return False


async def _unsubscribe(subscriptions: list[Subscription]) -> None:
    for subscription in subscriptions:
        with contextlib.suppress(Exception):
            await subscription.unsubscribe()


def _no_round(_quiz_id: str) -> int | None:
    return None


def _nowhere_board(_quiz_id: str, _seq: int, _frame: bytes) -> None:
    pass


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("background task failed", exc_info=task.exception())
