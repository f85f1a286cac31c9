"""The WebSocket gateway: who each connection is, what it may do, and what it receives.

A connection proves who it is with its first message — ``hello`` with a signed token, or
``join`` with a PIN and a nickname — and from then on speaks only for that identity: the player
id used for an answer comes from the verified token, never from a field of the message. Host
commands need a host token. Bad input of any kind gets an error frame (or, for authentication
failures, a close code) and never an exception that escapes: see ``docs/protocol.md``.

The gateway also delivers what the service publishes on the bus to this process's connections:
shared frames once-encoded for all, personal frames (results at a close, final reviews) for each
local player.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from livequiz import protocol
from livequiz.auth import Claims, Role, TokenError
from livequiz.domain import views
from livequiz.domain.commands import (
    Advance,
    Answer,
    AnswerRejoin,
    Approve,
    CloseQuestion,
    Command,
    End,
    Executed,
    GiveExtraTime,
    Kick,
    MoveToTeam,
    Next,
    Pause,
    Rename,
    Resume,
    SetLocked,
    Skip,
    Start,
)
from livequiz.domain.errors import Rejected
from livequiz.friendly_names import friendly_name
from livequiz.ports import Outcome, Unavailable, UnknownQuiz
from livequiz.service import (
    Broadcast,
    ClosedFrame,
    Delivery,
    FinishedFrame,
    OwnQuestionFrame,
    QuestionFrame,
    QuizService,
    ToHosts,
    ToPlayer,
)
from livequiz.transport import Connection, HandshakeRequest, Rejection, SharedFrame

if TYPE_CHECKING:
    from livequiz.tracing import Tracing

log = logging.getLogger("livequiz.gateway")

#: WebSocket path on the HTTP port.
WS_PATH = "/ws"
#: Seconds a connection may stay silent before proving who it is.
AUTH_TIMEOUT_S = 10.0

#: Application close codes (4000–4999 are ours by RFC 6455 §7.4.2).
CLOSE_AUTH_TIMEOUT = 4001
CLOSE_BAD_TOKEN = 4003
CLOSE_UNKNOWN_QUIZ = 4004
CLOSE_KICKED = 4009
#: RFC 6455 §7.4.1 "try again later": the quiz cannot be loaded right now (storage down).
CLOSE_TRY_AGAIN = 1013


#: Host actions that carry no argument, as the commands they are.
SIMPLE_HOST_COMMANDS: dict[str, Command] = {
    "start": Start(),
    "close": CloseQuestion(),
    "next": Next(),
    "skip": Skip(),
    "end": End(),
    "pause": Pause(),
    "resume": Resume(),
}
#: Host actions about the current question, as the commands that name it
#: (docs/protocol.md: a host action may name its question, ``q``).
QUESTION_COMMANDS: dict[str, type[CloseQuestion | Next | Skip | Pause | Resume]] = {
    "close": CloseQuestion,
    "next": Next,
    "skip": Skip,
    "pause": Pause,
    "resume": Resume,
}


class Client:
    """What the gateway knows of one authenticated connection."""

    __slots__ = ("conn", "player_id", "quiz_id", "role", "sent_at_ms", "sent_index", "shown_seq")

    def __init__(self, conn: Connection, quiz_id: str, role: Role, player_id: int) -> None:
        self.conn = conn
        self.quiz_id = quiz_id
        self.role = role
        self.player_id = player_id
        #: Which question this connection was last sent, and when (server clock): speed points
        #: count from then, not from when the server started the broadcast.
        self.sent_index = -1
        self.sent_at_ms = 0
        #: The newest state this connection was shown (its welcome or snapshot, or a frame for
        #: everyone since): an older frame for everyone is never sent to it, so its sequence
        #: numbers never go back, even when this process's copy replays what it had missed.
        self.shown_seq = 0


class Pending:
    """A connection that has not authenticated yet."""

    __slots__ = ("joining", "timer")

    def __init__(self, timer: asyncio.TimerHandle) -> None:
        self.timer = timer
        #: A join or a hello is being processed (the quiz may be loading): one at a time.
        self.joining = False


_NOT_LOADED = "the quiz is moving between servers; send it again"

#: While answers wait (``service.backlog``), the board pump writes chunks this many times
#: smaller, so the loop comes back to them more often: acks first. At 10,000 players that kept
#: the ack p99 under 50 ms (docs/benchmarks.md). (Pausing between those chunks as well left the
#: CPU idle and made the board ~600-1,000 ms.)
BACKLOG_CHUNK_DIVISOR = 5


class BoardFanOut:
    """One quiz's newest board on its way round that quiz's connections on this process.

    Why not write it to everyone at once: one frame to 10,000 sockets costs ~150 ms of this
    machine's CPU, and every ack would wait behind it. The gateway's board pump
    (:meth:`Gateway._pump_boards`) writes ``fanout_chunk`` recipients per event-loop turn,
    taking the quizzes in turn, so answers are read, stored and acked in between. A board only
    ever replaces the last one, so a newer board for the same quiz takes over the round where
    it stands (:meth:`Gateway._start_board`) instead of queueing behind it.
    """

    __slots__ = ("frame", "marks", "position", "seq", "targets")

    def __init__(self, frame: SharedFrame, seq: int, targets: list[Client]) -> None:
        self.frame = frame
        #: the quiz's ``seq`` the frame shows (-1: unknown)
        self.seq = seq
        self.targets = targets
        self.position = 0
        #: ``(position, answered_at)``, in order: once the round has written up to
        #: ``position``, every connection has a board showing the answer of ``answered_at``
        #: (this board's own at the end; an older round's it took over, earlier)
        self.marks: list[tuple[int, float]] = []

    @property
    def waiting(self) -> int:
        """Recipients this board has not reached yet."""
        return len(self.targets) - self.position


class Gateway:
    """The :class:`~livequiz.transport.ConnectionHandler` of livequiz."""

    def __init__(
        self,
        service: QuizService,
        *,
        max_connections_per_address: int = 1000,
        fanout_chunk: int = 500,
        board_frames_per_s: int = 60_000,
    ) -> None:
        self.service = service
        self.metrics = service.metrics
        #: A school behind one NAT address is a few hundred phones; a bot flood is more.
        self.max_connections_per_address = max_connections_per_address
        #: Board recipients per loop turn: 500 × 10–15 µs ≈ 5–8 ms, the most an ack waits.
        self.fanout_chunk = max(1, fanout_chunk)
        #: Board frames this process writes per second at most, over all its quizzes. Each
        #: costs ~10-15 µs here (kernel included): 60,000/s is about one core's worth on this
        #: machine, less on a faster one, so boards never take the whole machine.
        self.board_frames_per_s = max(1, board_frames_per_s)
        self._per_address: dict[str, int] = defaultdict(int)
        self._clients: dict[str, set[Client]] = defaultdict(set)
        self._players: dict[tuple[str, int], set[Client]] = defaultdict(set)
        #: Boards going out, one per quiz, in the order the pump serves them (round robin).
        self._boards: dict[str, BoardFanOut] = {}
        #: Personal frames (results at a close, finals) going out, one job per quiz.
        self._personal_jobs: dict[str, PersonalFanOut] = {}
        self._personal_pump: asyncio.Handle | None = None
        self._pump: asyncio.Handle | None = None
        #: Token bucket of board frames (``board_frames_per_s``, bursts of one chunk).
        self._allowance = float(self.fanout_chunk)
        self._allowance_at = 0.0
        #: Traces of answers (:mod:`livequiz.tracing`); ``None``, the default: off, and
        #: looked at once per answer and once per chunk of board frames.
        self.tracing: Tracing | None = None
        self.metrics.board_frames_waiting.set_function(self.board_frames_waiting)
        service.deliver = self.deliver
        service.local_players = self.local_players
        service.attached = self.attached
        service.board_round_seq = self.board_round_seq
        service.refresh_board = self.refresh_board

    # ------------------------------------------------------------------ transport callbacks

    def accept(self, request: HandshakeRequest) -> Rejection | None:
        if request.request_path != WS_PATH:
            return 404, f"no WebSocket endpoint here; connect to {WS_PATH}"
        if not self.service.ready:
            return 503, "the server is starting; try again in a moment"
        if self._per_address[request.address] >= self.max_connections_per_address:
            return 429, "too many connections from your address"
        return None

    def on_open(self, conn: Connection) -> None:
        self.metrics.connections.inc()
        self._per_address[conn.address] += 1
        timer = asyncio.get_running_loop().call_later(AUTH_TIMEOUT_S, self._auth_timeout, conn)
        conn.context = Pending(timer)

    def on_close(self, conn: Connection, code: int, reason: str) -> None:
        self.metrics.connections.dec()
        self._per_address[conn.address] -= 1
        if self._per_address[conn.address] <= 0:
            del self._per_address[conn.address]
        context = conn.context
        # The connection and its Client point at each other: break the cycle so both are
        # freed at once, even when they were frozen out of the collector (app.tune_runtime).
        conn.context = None
        if isinstance(context, Pending):
            context.timer.cancel()
        elif isinstance(context, Client):
            self._unregister(context)

    def on_handshake_refused(self, status: int) -> None:
        """The transport answered an upgrade ``status`` instead of 101 (counted: a school's
        phones turned away at 429, or a process full at 503, show nowhere else)."""
        self.metrics.handshakes_refused.labels(str(status)).inc()

    def on_refused(self, conn: Connection, code: str) -> None:
        """The transport refused a message itself (the rate limit) and told the client."""
        self.metrics.errors.labels(code).inc()

    def on_message(self, conn: Connection, data: str) -> None:
        received_at = time.perf_counter()
        try:
            message = protocol.decode(data)
        except protocol.ProtocolError as error:
            self._error(conn, error.code, error.message)
            return
        context = conn.context
        if isinstance(context, Client):
            self._dispatch(context, message, received_at)
        elif isinstance(context, Pending):
            self._authenticate(conn, context, message)

    def attached(self, quiz_id: str) -> bool:
        """Whether a connection here (player or host) is signed in to the quiz: a finished
        quiz is not evicted from memory while one is (``QuizService.evict_finished``)."""
        return bool(self._clients.get(quiz_id))

    def local_players(self, quiz_id: str) -> list[int]:
        """The players of a quiz with a connection to this process."""
        return [player for quiz, player in self._players if quiz == quiz_id]

    def _gone_unless_back(self, quiz_id: str, player_id: int, within_s: float) -> None:
        """A player's last connection here closed: unless one is back in time, tell the quiz's
        owner this process no longer holds them (the owner marks them gone if no process
        does). A phone switching networks is back within the grace and never leaves."""

        def check() -> None:
            if not self._players.get((quiz_id, player_id)):
                self.service.router.presence(quiz_id, player_id, False)

        if within_s <= 0:
            check()
        else:
            asyncio.get_running_loop().call_later(within_s, check)

    # ------------------------------------------------------------------ authentication

    def _auth_timeout(self, conn: Connection) -> None:
        if isinstance(conn.context, Pending):
            conn.close(CLOSE_AUTH_TIMEOUT, "authentication timeout")

    def _authenticate(self, conn: Connection, pending: Pending, message: Any) -> None:
        if pending.joining:
            self._refuse(conn, message, "busy", "your join is being processed")
            return
        if isinstance(message, protocol.Hello):
            try:
                claims = self.service.signer.verify(message.token, self.service.clock() // 1000)
            except TokenError as error:
                self._error(conn, "bad_token", str(error))
                conn.close(CLOSE_BAD_TOKEN, str(error))
                return
            store = self.service.store
            if (  # the common case: no await
                self.service.current(claims.quiz_id)
                and store.settled(claims.quiz_id)
                and (
                    message.seen_seq is None
                    or store.session(claims.quiz_id).seq >= message.seen_seq
                )
            ):
                self._admit(conn, pending, claims, message.token)
                return
            pending.joining = True
            task = asyncio.create_task(
                self._hello(conn, pending, claims, message.token, message.seen_seq)
            )
            task.add_done_callback(_log_failure)
        elif isinstance(message, protocol.JoinRequest):
            self._join(conn, pending, message)
        else:
            self._refuse(
                conn, message, "auth_required", "send 'hello' with a token or 'join' first"
            )

    async def _hello(
        self,
        conn: Connection,
        pending: Pending,
        claims: Claims,
        token: str,
        seen_seq: int | None = None,
    ) -> None:
        """A verified token: load the quiz here if need be, check the player, welcome.

        A client that says it has seen ``seen_seq`` is welcomed with a state at least that
        new: a copy behind it (the bus was slow or down) reads the journal first. Found by the
        cluster nemesis with NATS killed: a client moved to another process got a welcome
        older than the board it had drawn.
        """
        try:
            await self.service.ensure(claims.quiz_id)
            if seen_seq is not None and self.service.store.session(claims.quiz_id).seq < seen_seq:
                await self.service.refresh(claims.quiz_id)
        except UnknownQuiz:
            self._error(conn, "unknown_quiz", "that quiz no longer exists")
            conn.close(CLOSE_UNKNOWN_QUIZ, "unknown quiz")
            return
        except Unavailable:
            self._error(conn, "unavailable", "the server cannot load this quiz now; try again")
            conn.close(CLOSE_TRY_AGAIN, "try again later")
            return
        finally:
            pending.joining = False
        if conn.open:
            self._admit(conn, pending, claims, token)

    def _admit(
        self,
        conn: Connection,
        pending: Pending,
        claims: Claims,
        token: str,
        *,
        refreshed: bool = False,
    ) -> None:
        """The quiz is loaded here: check the token's player, then welcome."""
        if claims.role is Role.PLAYER:
            player = self.service.store.session(claims.quiz_id).players.get(claims.player_id)
            if player is None and not refreshed:
                # A token we signed names a player whose join was stored; this process's copy
                # may not have it yet (the join went through another process a moment ago, or
                # the bus dropped the log message): read the journal before saying no. Found by
                # the cluster nemesis: a player told 4003 "do not retry" right after joining.
                pending.joining = True
                task = asyncio.create_task(self._recheck(conn, pending, claims, token))
                task.add_done_callback(_log_failure)
                return
            if player is None:
                self._error(conn, "bad_token", "no such player in this quiz")
                conn.close(CLOSE_BAD_TOKEN, "unknown player")
                return
            if player.kicked:
                self._error(conn, "kicked", "the host removed you from this quiz")
                conn.close(CLOSE_KICKED, "kicked")
                return
        pending.timer.cancel()
        self._welcome(conn, claims, token)

    async def _recheck(
        self, conn: Connection, pending: Pending, claims: Claims, token: str
    ) -> None:
        """:meth:`_admit` again once the copy has read the journal."""
        try:
            await self.service.refresh(claims.quiz_id)
        except Unavailable:
            self._error(conn, "unavailable", "the server cannot load this quiz now; try again")
            conn.close(CLOSE_TRY_AGAIN, "try again later")
            return
        finally:
            pending.joining = False
        if not conn.open:
            return
        if not self.service.store.loaded(claims.quiz_id):  # left memory meanwhile: load again
            pending.joining = True
            await self._hello(conn, pending, claims, token)
            return
        self._admit(conn, pending, claims, token, refreshed=True)

    def _join(self, conn: Connection, pending: Pending, message: protocol.JoinRequest) -> None:
        if not self.service.allow_join(conn.address):
            self._error(conn, "rate_limited", "too many joins from your address; wait a moment")
            return
        pending.joining = True

        async def join() -> None:
            try:
                quiz_id, player_id, _, token = await self.service.join(
                    message.pin, message.nickname
                )
                await self.service.ensure(quiz_id)
            except UnknownQuiz:
                self._error(conn, "unknown_quiz", f"no live quiz has the ID {message.pin[:12]!r}")
                pending.joining = False
                return
            except Rejected as rejected:
                self._error(conn, rejected.code.value, rejected.message)
                pending.joining = False
                return
            except Unavailable:
                self._error(conn, "unavailable", "the server cannot reach this quiz now; try again")
                pending.joining = False
                return
            self.metrics.joins.labels("websocket").inc()
            if not conn.open:  # gone while the join was stored: the owner waits for them a while
                return
            pending.timer.cancel()
            claims = Claims(quiz_id, Role.PLAYER, player_id, 0)
            self._welcome(conn, claims, token)

        task = asyncio.create_task(join())
        task.add_done_callback(_log_failure)

    def _welcome(self, conn: Connection, claims: Claims, token: str) -> None:
        client = Client(conn, claims.quiz_id, claims.role, claims.player_id)
        conn.context = client
        first = not self._players.get((client.quiz_id, client.player_id))
        self._clients[client.quiz_id].add(client)
        if client.role is Role.PLAYER:
            self._players[(client.quiz_id, client.player_id)].add(client)
        conn.send_text(self._snapshot(client, "welcome", token))
        if client.role is Role.PLAYER and first:
            self.service.router.presence(client.quiz_id, client.player_id, True)
        log.info(
            "connection authenticated",
            extra={
                "quiz_id": client.quiz_id,
                "player_id": client.player_id,
                "role": client.role.value,
            },
        )

    def _snapshot(self, client: Client, kind: str, token: str | None = None) -> bytes:
        session = self.service.store.session(client.quiz_id)
        definition = self.service.store.definition(client.quiz_id)
        now = self.service.clock()
        if client.role is Role.HOST:
            state = views.host_view(session, now)
        else:
            state = views.player_view(session, client.player_id, now)
        if session.question is not None:
            client.sent_index, client.sent_at_ms = session.current, now
        elif session.self_paced and client.role is Role.PLAYER:
            player = session.players.get(client.player_id)
            if player is not None and player.at >= 0:
                client.sent_index, client.sent_at_ms = player.at, now
        client.shown_seq = max(client.shown_seq, session.seq)
        return protocol.snapshot_frame(kind, client.role.value, definition, state, now, token)

    def _unregister(self, client: Client) -> None:
        clients = self._clients.get(client.quiz_id)
        if clients is not None:
            clients.discard(client)
            if not clients:
                del self._clients[client.quiz_id]
                self._boards.pop(client.quiz_id, None)
                if self.tracing is not None:
                    self.tracing.forget_quiz(client.quiz_id)
        if client.role is Role.PLAYER:
            key = (client.quiz_id, client.player_id)
            players = self._players.get(key)
            if players is not None:
                players.discard(client)
                if not players:
                    del self._players[key]
                    self._gone_unless_back(
                        client.quiz_id, client.player_id, self.service.limits.disconnect_grace_s
                    )

    # ------------------------------------------------------------------ authenticated messages

    def _dispatch(self, client: Client, message: Any, received_at: float) -> None:
        if isinstance(message, protocol.AnswerRequest):
            if client.role is not Role.PLAYER:
                self._refuse(client.conn, message, "forbidden", "only players answer questions")
                return
            sent_at = client.sent_at_ms if client.sent_index == message.index else None
            command = Answer(client.player_id, message.index, message.option, sent_at)
            reply = self._answer_reply(client, message.index, received_at)
            if self.tracing is not None:
                reply = self.tracing.answer(
                    client.quiz_id, client.player_id, message.index, received_at, reply
                )
            self.service.submit(client.quiz_id, command, reply)
        elif isinstance(message, protocol.HostRequest):
            if client.role is not Role.HOST:
                self._refuse(client.conn, message, "forbidden", "only the host can do that")
                return
            self._host(client, message)
        elif isinstance(message, protocol.NextRequest):
            if client.role is not Role.PLAYER:
                self._refuse(
                    client.conn, message, "forbidden", "only players move on by themselves"
                )
                return
            self.service.submit(client.quiz_id, Advance(client.player_id), self._next_reply(client))
        elif isinstance(message, protocol.SyncRequest):
            if self.service.owner.owns(client.quiz_id) and self.service.store.settled(
                client.quiz_id
            ):
                client.conn.send_text(self._snapshot(client, "snapshot"))
            else:
                task = asyncio.create_task(self._sync(client))
                task.add_done_callback(_log_failure)
        else:
            self._error(
                client.conn, "already_authenticated", "this connection is already signed in"
            )

    async def _sync(self, client: Client) -> None:
        """A ``sync`` asks for the state now; the common case (this process runs the quiz,
        nothing of it being stored) is answered at once in :meth:`_dispatch`.

        On a copy: the journal first, then the snapshot. A copy lags the owner by its log's
        trip over the bus (a lost segment stalls that for a second or more over a lossy link)
        and a message may be lost with NATS. With storage unreachable from here, the copy's
        own state is the best this process has; with no copy at all (dropped a moment ago, the
        quiz having moved), ``unavailable``.

        On the owner: while a batch of the quiz is being stored, the snapshot waits for it;
        after a batch failed, for the session's rebuild from the journal. And an owner that
        cannot confirm its lease (its renewals unanswered) answers ``unavailable``: another
        process may have taken the quiz and moved it on (found by the cluster nemesis: a
        player's sync on the old owner showed a question open 40 ms after the new owner had
        finished the quiz)."""
        quiz_id = client.quiz_id
        service, store = self.service, self.service.store
        with contextlib.suppress(Unavailable, UnknownQuiz):
            await service.ensure(quiz_id)  # the owner's: settled, and only if its lease holds
            await service.refresh(quiz_id)  # a copy's: the journal read
        if not client.conn.open:
            return
        if store.owns(quiz_id):
            now = service.owner.owns(quiz_id) and store.settled(quiz_id)
        else:
            now = store.loaded(quiz_id)
        if now:
            client.conn.send_text(self._snapshot(client, "snapshot"))
        else:
            self._error(
                client.conn, "unavailable", "the server cannot load this quiz now; try again"
            )

    def _answer_reply(self, client: Client, index: int, received_at: float) -> Any:
        def reply(outcome: Outcome) -> None:
            if isinstance(outcome, Rejected):
                self.metrics.answers.labels(outcome.code.value).inc()
                self._error(client.conn, outcome.code.value, outcome.message, q=index)
                return
            answer = outcome.answer
            assert answer is not None
            self.metrics.answers.labels(answer.status.value).inc()
            if not self.service.store.loaded(client.quiz_id):
                # The quiz moved and this process could not reload it yet: the answer is
                # stored; a retry gets the first result ('duplicate').
                self._error(client.conn, "unavailable", _NOT_LOADED, q=index)
                return
            session = self.service.store.session(client.quiz_id)
            player = session.player(client.player_id)
            client.conn.send_text(protocol.ack_frame(session, index, answer, player))
            self.metrics.frames_sent.labels("ack").inc()
            self.metrics.ack_seconds.observe(time.perf_counter() - received_at)

        return reply

    def _next_reply(self, client: Client) -> Any:
        """A refused ``next`` gets an error naming it; a taken one needs no reply of its own:
        the question frame (and the reveal of a question whose time ran out) is the answer."""

        def reply(outcome: Outcome) -> None:
            if isinstance(outcome, Rejected):
                self._error(client.conn, outcome.code.value, outcome.message, action="next")

        return reply

    def _host(self, client: Client, message: protocol.HostRequest) -> None:
        command: Command
        if message.action == "kick":
            assert message.player_id is not None
            command = Kick(message.player_id)
        elif message.action in ("let_in", "turn_away"):
            assert message.player_id is not None
            command = AnswerRejoin(message.player_id, message.action == "let_in")
        elif message.action == "approve":
            assert message.player_id is not None
            command = Approve(message.player_id)
        elif message.action == "rename":
            assert message.player_id is not None
            command = Rename(message.player_id, message.nickname or self._friendly_name(client))
        elif message.action == "team":
            assert message.player_id is not None
            assert message.team is not None
            command = MoveToTeam(message.player_id, message.team)
        elif message.action == "extra_time":
            assert message.player_id is not None
            assert message.percent is not None
            command = GiveExtraTime(message.player_id, message.percent)
        elif message.action in ("lock", "unlock"):
            command = SetLocked(message.action == "lock")
        elif message.question is not None:
            command = QUESTION_COMMANDS[message.action](message.question)
        else:
            command = SIMPLE_HOST_COMMANDS[message.action]

        def reply(outcome: Outcome) -> None:
            if isinstance(outcome, Rejected):
                self._error(client.conn, outcome.code.value, outcome.message, action=message.action)
            elif isinstance(outcome, Executed):
                if outcome.events:
                    seq = outcome.events[-1].seq
                elif self.service.store.loaded(client.quiz_id):
                    seq = self._seq(client)
                else:
                    seq = 0
                client.conn.send_text(protocol.host_ack_frame(message.action, seq))

        self.service.submit(client.quiz_id, command, reply)

    def _friendly_name(self, client: Client) -> str:
        """A friendly name nobody in the quiz has, as far as this process's copy knows (the
        core refuses a clash all the same: the host then asks again)."""
        if not self.service.store.loaded(client.quiz_id):
            return friendly_name(lambda _name: False)
        session = self.service.store.session(client.quiz_id)
        taken = {session.nicknames.key(p.nickname) for p in session.players.values()}
        return friendly_name(lambda name: session.nicknames.key(name) in taken)

    def _seq(self, client: Client) -> int:
        return self.service.store.session(client.quiz_id).seq

    def _refuse(self, conn: Connection, message: Any, code: str, text: str) -> None:
        """Refuse a decoded message: an ``answer`` is named by its ``q``, a ``host`` message
        by its ``action``, whichever check refused it (docs/protocol.md, "error"), so a client
        with several in flight knows which one failed."""
        if isinstance(message, protocol.AnswerRequest):
            self._error(conn, code, text, q=message.index)
        elif isinstance(message, protocol.HostRequest):
            self._error(conn, code, text, action=message.action)
        elif isinstance(message, protocol.NextRequest):
            self._error(conn, code, text, action="next")
        else:
            self._error(conn, code, text)

    def _error(self, conn: Connection, code: str, message: str, **extra: Any) -> None:
        self.metrics.errors.labels(code).inc()
        conn.send_text(protocol.error(code, message, **extra))

    # ------------------------------------------------------------------ bus delivery

    def deliver(self, quiz_id: str, message: Delivery) -> None:
        """Send what happened to a quiz to this process's connections of it."""
        clients = self._clients.get(quiz_id)
        if not clients:
            return
        if isinstance(message, Broadcast) and message.kind == "board":
            frame = SharedFrame.text(message.data)
            self._start_board(quiz_id, clients, frame, message.seq, message.answered_at)
            return
        if isinstance(message, Broadcast | QuestionFrame | ClosedFrame | FinishedFrame):
            # A frame for everyone keeps its place after the board before it: finish that first.
            self._finish_board(quiz_id)
            self._finish_personal(quiz_id)
            if message.seq >= 0:
                # Only to connections not yet shown this change (a copy catching up from the
                # journal replays events a welcome already showed: found by the cluster
                # nemesis, "question seq 8 after seq 19").
                clients = {c for c in clients if c.shown_seq < message.seq}
                for client in clients:
                    client.shown_seq = message.seq
                if not clients:
                    return
        if isinstance(message, Broadcast):
            frame = SharedFrame.text(message.data)
            self._broadcast(clients, frame, message.kind, droppable=False)
        elif isinstance(message, QuestionFrame):
            now = self.service.clock()
            for client in clients:
                client.sent_index, client.sent_at_ms = message.index, now
            if message.for_player is None:
                shared = clients
            else:  # a player's own order or deadline; the host's and screen's are shared
                shared = {c for c in clients if c.role is not Role.PLAYER}
                for client in clients - shared:
                    own = message.for_player(client.player_id)
                    if own is None:  # nothing of their own: the shared frame
                        shared.add(client)
                        continue
                    client.conn.send_text(own)
                    self.metrics.frames_sent.labels(message.kind).inc()
            self._broadcast(shared, SharedFrame.text(message.data), message.kind, droppable=False)
        elif isinstance(message, ClosedFrame):
            self._broadcast(clients, SharedFrame.text(message.data), "closed", droppable=False)
            self._personal(quiz_id, clients, "result", message.index)
        elif isinstance(message, FinishedFrame):
            self._broadcast(clients, SharedFrame.text(message.data), "finished", droppable=False)
            self._personal(quiz_id, clients, "final", -1)
        elif isinstance(message, ToPlayer):
            for client in list(self._players.get((quiz_id, message.player_id), ())):
                # (a copy catching up replays events its welcome already showed: not again)
                if message.seq < 0 or client.shown_seq < message.seq:
                    client.conn.send_text(message.data)
                if message.close is not None:
                    client.conn.close(*message.close)
        elif isinstance(message, OwnQuestionFrame):
            now = self.service.clock()
            for client in list(self._players.get((quiz_id, message.player_id), ())):
                if client.shown_seq < message.seq:
                    client.sent_index, client.sent_at_ms = message.index, now
                    client.conn.send_text(message.data)
                    self.metrics.frames_sent.labels("question").inc()
        elif isinstance(message, ToHosts):
            for client in clients:
                if client.role is Role.HOST:
                    client.conn.send_text(message.data)

    def _start_board(
        self,
        quiz_id: str,
        clients: set[Client],
        frame: SharedFrame,
        seq: int = -1,
        answered_at: float | None = None,
    ) -> None:
        """Queue a board for the pump; a newer one takes over the round of the one before it."""
        previous = self._boards.get(quiz_id)
        if previous is None:
            job = self._boards[quiz_id] = BoardFanOut(frame, seq, list(clients))
        else:
            # Those the old board had not reached yet come first, or on a busy server the same
            # last few would never get a board; then everyone else, for a whole round. The quiz
            # keeps its place in the pump's turn (assigning an existing key keeps its order).
            waiting = [c for c in previous.targets[previous.position :] if c in clients]
            skip = set(waiting)
            targets = waiting + [c for c in clients if c not in skip]
            job = self._boards[quiz_id] = BoardFanOut(frame, seq, targets)
            # The old round's answers have reached everyone once the ones it had not reached
            # have this board (fewer, if some of them have gone since).
            job.marks = [
                (min(position - previous.position, len(waiting)), at)
                for position, at in previous.marks
            ]
        if answered_at is not None:
            job.marks.append((len(job.targets), answered_at))
        self._boards_reached(job)  # the old round may have reached all still here
        if self._pump is None:
            self._pump = asyncio.get_running_loop().call_soon(self._pump_boards)

    def board_round_seq(self, quiz_id: str) -> int | None:
        """The seq of the quiz's board going round now, ``None`` if none is."""
        job = self._boards.get(quiz_id)
        return None if job is None else job.seq

    def refresh_board(self, quiz_id: str, seq: int, data: bytes) -> None:
        """A newer board for the rest of a round in progress (see ``QuizService._settled``).

        Those the round already reached get it when the next tick's board takes the round
        over (they come after the ones it had not reached); the order of the round stays.
        """
        job = self._boards.get(quiz_id)
        if job is not None and seq > job.seq:
            job.frame, job.seq = SharedFrame.text(data), seq

    def _pump_boards(self) -> None:
        """Write one chunk of board frames, quiz after quiz, then yield the loop.

        A chunk is ``fanout_chunk`` recipients, a fifth of that while answers wait (acks
        first), and never more than ``board_frames_per_s`` allows. A quiz whose board is not
        done goes to the back of the turn, so a big quiz does not hold up the small ones.
        """
        self._pump = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        rate = self.board_frames_per_s
        self._allowance = min(
            float(self.fanout_chunk), self._allowance + (now - self._allowance_at) * rate
        )
        self._allowance_at = now
        if self._allowance < 1:
            self._pump = loop.call_later((1 - self._allowance) / rate, self._pump_boards)
            return
        chunk = self.fanout_chunk
        if self.service.backlog:
            chunk = max(1, chunk // BACKLOG_CHUNK_DIVISOR)
        budget = min(chunk, int(self._allowance))
        while budget > 0 and self._boards:
            quiz_id = next(iter(self._boards))
            job = self._boards.pop(quiz_id)
            end = min(job.position + budget, len(job.targets))
            self._broadcast(
                [
                    c
                    for c in job.targets[job.position : end]
                    if c.shown_seq <= job.seq or job.seq < 0
                ],
                job.frame,
                "board",
            )
            if self.tracing is not None:
                self.tracing.board_left(quiz_id, job.seq)
            budget -= end - job.position
            self._allowance -= end - job.position
            job.position = end
            self._boards_reached(job)
            if job.waiting:
                self._boards[quiz_id] = job
        if self._boards:
            self._pump = loop.call_soon(self._pump_boards)

    def _finish_board(self, quiz_id: str) -> None:
        """Send the rest of a board in progress now, so that no frame overtakes it."""
        job = self._boards.pop(quiz_id, None)
        if job is not None:
            self._allowance -= job.waiting  # over budget, if need be: the pump waits it off
            self._broadcast(job.targets[job.position :], job.frame, "board")
            job.position = len(job.targets)
            self._boards_reached(job)
            if self.tracing is not None:
                self.tracing.board_left(quiz_id, job.seq)

    def _boards_reached(self, job: BoardFanOut) -> None:
        """Time the answers whose boards have now reached every connection: from the oldest
        answer a board was the first to show to the frame written to its last connection
        (``livequiz_board_delay_seconds``, the board objective's measure). One observation per
        board that shows new answers, of its slowest: at most one per quiz and tick."""
        marks = job.marks
        if not marks or marks[0][0] > job.position:
            return  # nothing reached everyone yet: no clock read
        now = time.monotonic()
        while marks and marks[0][0] <= job.position:
            self.metrics.board_delay_seconds.observe(now - marks.pop(0)[1])

    def board_frames_waiting(self) -> int:
        """Board frames queued on this process (a metric: high for long means fan-out bound)."""
        return sum(job.waiting for job in self._boards.values())

    def _broadcast(
        self, clients: Iterable[Client], frame: Any, kind: str, *, droppable: bool = True
    ) -> None:
        sent = dropped = 0
        for client in clients:
            if client.conn.send_shared(frame, droppable=droppable):
                sent += 1
            elif client.conn.context is client:
                # Still connected, so too slow to read: a drop. (One that closed while a board
                # round was on its way round has nothing to drop; on_close unset its context.)
                dropped += 1
        self.metrics.frames_sent.labels(kind).inc(sent)
        if dropped:
            self.metrics.frames_dropped.inc(dropped)

    def _personal(self, quiz_id: str, clients: set[Client], kind: str, index: int) -> None:
        """One personal frame per connection: own result and rank, or final results.

        Building one costs ~8 µs (a rank, a dict, an encoding): at 10,000 players that is
        ~80 ms, so a big quiz's go out ``fanout_chunk`` per event-loop turn, with acks in
        between. Each reads this process's copy when its chunk is written; any frame for
        everyone that comes next first finishes them, so nobody's order changes.
        """
        job = PersonalFanOut(kind, index, list(clients))
        if len(job.targets) <= self.fanout_chunk:
            self._write_personal(quiz_id, job, len(job.targets))
            return
        self._personal_jobs[quiz_id] = job
        if self._personal_pump is None:
            self._personal_pump = asyncio.get_running_loop().call_soon(self._pump_personal)

    def _pump_personal(self) -> None:
        self._personal_pump = None
        for quiz_id, job in list(self._personal_jobs.items()):
            self._write_personal(quiz_id, job, self.fanout_chunk)
            if not job.waiting:
                del self._personal_jobs[quiz_id]
        if self._personal_jobs:
            self._personal_pump = asyncio.get_running_loop().call_soon(self._pump_personal)

    def _finish_personal(self, quiz_id: str) -> None:
        job = self._personal_jobs.pop(quiz_id, None)
        if job is not None:
            self._write_personal(quiz_id, job, job.waiting)

    def _write_personal(self, quiz_id: str, job: PersonalFanOut, count: int) -> None:
        session = self.service.store.session(quiz_id)
        end = min(job.position + count, len(job.targets))
        sent = 0
        for client in job.targets[job.position : end]:
            if client.conn.context is not client:  # closed meanwhile
                continue
            if client.role is Role.HOST:
                if job.kind == "final":
                    if job.host_final is None:  # the same report for every host connection
                        job.host_final = protocol.host_final_frame(session)
                    sent += client.conn.send_text(job.host_final)
                continue
            player = session.players.get(client.player_id)
            if player is None or player.kicked:
                continue
            if job.kind == "result":
                data = protocol.result_frame(session, player, job.index)
            else:
                data = protocol.player_final_frame(session, client.player_id)
            if client.conn.send_text(data):
                sent += 1
        job.position = end
        self.metrics.frames_sent.labels(job.kind).inc(sent)


class PersonalFanOut:
    """One quiz's personal frames (``result`` or ``final``) on their way round."""

    __slots__ = ("host_final", "index", "kind", "position", "targets")

    def __init__(self, kind: str, index: int, targets: list[Client]) -> None:
        self.kind = kind
        self.index = index
        self.targets = targets
        self.position = 0
        self.host_final: bytes | None = None

    @property
    def waiting(self) -> int:
        return len(self.targets) - self.position


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("background task failed", exc_info=task.exception())
