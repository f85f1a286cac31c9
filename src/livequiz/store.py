"""Quiz sessions in this process: the ones it owns, and copies of the ones it serves.

Every live quiz has one owner process (:class:`~livequiz.ports.Leases`). The owner holds the
quiz's :class:`~livequiz.domain.session.QuizSession` and is the only process that changes it:
:meth:`QuizStore.execute` runs a batch of commands through the pure core
(:func:`livequiz.domain.commands.execute`) — deadline, dedupe, score, board, sequence number, one
whole operation per command — and returns once the journal has stored the batch under the
owner's lease epoch. Whoever acknowledges an answer after that can promise it survives a crash
of any process.

Every other process that has players of the quiz keeps a *copy*: the same session, rebuilt from
the journal and kept current by applying each batch the owner committed (:meth:`replicate`) with
the same core. The rules therefore run in one implementation everywhere; a copy at sequence
number N is exactly the owner's at N, so every process shows the same leaderboard for the same
N, and builds acks, snapshots and results from its own memory.

**When storage fails.** The core changes sessions in place, so a batch that cannot be stored has
already changed memory. Every quiz the batch touched is then marked *stale* and rebuilt from the
journal before its next command (:meth:`_fresh`); while storage is down that rebuild fails too,
and the quiz's commands are refused as ``unavailable`` — never acknowledged and then lost. When
storage is back, the quiz carries on from what the journal holds.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from livequiz.domain.commands import Answer, Executed, execute, from_record, to_record
from livequiz.domain.errors import CoreBug, ErrorCode, Rejected
from livequiz.domain.events import PlayerFinished, QuizFinished
from livequiz.domain.nicknames import NicknamePolicy
from livequiz.domain.session import Phase, QuizSession
from livequiz.ports import (
    Envelope,
    Fenced,
    Outcome,
    QuizDefinition,
    Record,
    Records,
    Row,
    StorageUnavailable,
    UnknownQuiz,
    WebhookDelivery,
)
from livequiz.webhooks import deliveries_for

log = logging.getLogger("livequiz.store")

#: Key of a journal record's outcome digest: the points an answer was given. A copy or a new
#: owner replaying the journal checks it, so a replay that would score differently from what
#: was acknowledged (a changed rule, a bug) stops loudly instead of changing a score.
OUTCOME_KEY = "o"


@dataclass(frozen=True, slots=True)
class Committed:
    """What one stored batch did to one quiz: its rows, and the seq before the first."""

    prev_seq: int
    rows: tuple[tuple[int, Record], ...]
    #: What the first rows did, when they were stored by an earlier batch that was reported
    #: failed (its commit went through, its reply was lost) and were found in the journal when
    #: the quiz was rebuilt: nobody was shown their events yet.
    recovered: tuple[Executed, ...] = ()


def _record(envelope: Envelope, executed: Executed) -> Record:
    record = to_record(envelope.command, envelope.now_ms)
    if isinstance(envelope.command, Answer) and executed.answer is not None:
        record[OUTCOME_KEY] = executed.answer.record.points
    return record


def apply_record(session: QuizSession, seq: int, record: Record) -> Executed:
    """Apply one journal row to a session; a row that does not reproduce what the owner
    stored (its sequence number, an answer's points) means the copies disagree: a bug."""
    values = dict(record)
    points = values.pop(OUTCOME_KEY, None)
    command, now_ms = from_record(values)
    executed = execute(session, command, now_ms)
    if not executed.changed or session.seq != seq:
        raise CoreBug(f"journal row {seq} gave seq {session.seq} on replay: {record!r}")
    if points is not None and (executed.answer is None or executed.answer.record.points != points):
        raise CoreBug(f"journal row {seq} scored differently on replay: {record!r}")
    return executed


class QuizStore:
    """The sessions of this process over one :class:`~livequiz.ports.Records` backend."""

    def __init__(self, records: Records, *, nicknames: NicknamePolicy) -> None:
        self.records = records
        self._nicknames = nicknames
        #: Called after a batch stored webhook deliveries with its rows (the sender wakes).
        self.on_deliveries: Callable[[], None] = _nothing
        self._sessions: dict[str, QuizSession] = {}
        self._definitions: dict[str, QuizDefinition] = {}
        #: Quizzes this process owns, with the lease epoch it writes under.
        self._epochs: dict[str, int] = {}
        #: Owned quizzes whose memory may be ahead of the journal (a batch failed to store).
        self._stale: set[str] = set()
        #: Per owned quiz, the sequence number up to which its rows are known stored and
        #: published; rows past it found in the journal by a rebuild were stored by a batch
        #: reported failed (:attr:`Committed.recovered`).
        self._stored_seq: dict[str, int] = {}
        self._recovered: dict[str, Committed] = {}
        #: Quizzes lost with a stale session, with the seq their frames went out up to: the
        #: copy is rebuilt to there, and the rest is applied as events, so that this process's
        #: clients are shown what happened meanwhile instead of a silent jump.
        self._shown: dict[str, int] = {}
        #: Copies loaded short of the journal that way, for the caller to catch up.
        self._behind: set[str] = set()
        #: One batch at a time: a batch must not build on another's changes that may yet fail.
        self._lock = asyncio.Lock()
        self._loading: dict[str, asyncio.Future[QuizSession]] = {}
        #: When (``time.perf_counter()``) the core had run the last batch's commands and its
        #: commit began: traces split a batch's time into the run and the commit
        #: (:mod:`livequiz.tracing`). One clock reading per batch, not per command.
        self.ran_at = 0.0

    @property
    def owner_id(self) -> str:
        return self.records.owner_id

    # ------------------------------------------------------------------ reading

    def session(self, quiz_id: str) -> QuizSession:
        """A loaded quiz's session (owned, or a copy); read-only for callers."""
        try:
            return self._sessions[quiz_id]
        except KeyError:
            raise UnknownQuiz(quiz_id) from None

    def definition(self, quiz_id: str) -> QuizDefinition:
        try:
            return self._definitions[quiz_id]
        except KeyError:
            raise UnknownQuiz(quiz_id) from None

    def loaded(self, quiz_id: str) -> bool:
        return quiz_id in self._sessions

    def settled(self, quiz_id: str) -> bool:
        """Whether the quiz's session shows only what is stored: no batch of it is being
        committed, and none failed that awaits its rebuild. The owner applies a batch before
        it commits it; a board or frame taken in between would show what may yet be refused,
        or run ahead of frames not yet sent. A copy only ever applies stored rows."""
        if quiz_id in self._stale:
            return False
        if quiz_id not in self._epochs:
            return True
        session = self._sessions[quiz_id]
        return session.seq == self._stored_seq.get(quiz_id, session.seq)

    def quiz_ids(self) -> list[str]:
        """Every quiz loaded in this process, owned or copied, live or finished."""
        return list(self._sessions)

    def loaded_count(self) -> int:
        """Quizzes whose session this process holds, live or finished (a metric: with
        finished quizzes evicted after their retention, it stays flat over a long day)."""
        return len(self._sessions)

    def live_count(self) -> int:
        """Quizzes loaded here (owned or copied) that have not finished (a metric)."""
        return sum(session.phase is not Phase.FINISHED for session in self._sessions.values())

    def owns(self, quiz_id: str) -> bool:
        return quiz_id in self._epochs

    def owned(self) -> dict[str, int]:
        """The quizzes this process owns, with their lease epochs."""
        return dict(self._epochs)

    # ------------------------------------------------------------------ loading and owning

    def _trusted_policy(self) -> NicknamePolicy:
        # Nicknames in the journal were accepted once; a changed word list must not refuse them.
        # The same key, so the names replayed are compared as later joins will compare them.
        return dataclasses.replace(self._nicknames, trusted=True)

    def _rebuild(
        self, definition: QuizDefinition, rows: Iterable[tuple[int, Record]]
    ) -> QuizSession:
        session = QuizSession(definition.questions, definition.settings, nicknames=self._nicknames)
        self._apply(session, rows)
        return session

    def _apply(self, session: QuizSession, rows: Iterable[tuple[int, Record]]) -> list[Executed]:
        """Apply journal rows the session does not have yet (replays, copies, catch-ups)."""
        session.nicknames = self._trusted_policy()
        try:
            return [apply_record(session, seq, record) for seq, record in rows if seq > session.seq]
        finally:
            session.nicknames = self._nicknames

    async def create(self, definition: QuizDefinition) -> None:
        """Store a new quiz (raises :class:`~livequiz.ports.PinTaken`) and own it."""
        session = QuizSession(definition.questions, definition.settings, nicknames=self._nicknames)
        epoch = await self.records.add_quiz(definition)
        self._definitions[definition.quiz_id] = definition
        self._sessions[definition.quiz_id] = session
        self._epochs[definition.quiz_id] = epoch
        self._stored_seq[definition.quiz_id] = 0

    async def load(self, quiz_id: str) -> QuizSession:
        """The quiz's session, loading a copy from the journal if this process has none."""
        session = self._sessions.get(quiz_id)
        if session is not None:
            return session
        loading = self._loading.get(quiz_id)
        if loading is not None:
            return await asyncio.shield(loading)
        future: asyncio.Future[QuizSession] = asyncio.get_running_loop().create_future()
        self._loading[quiz_id] = future
        try:
            definition = await self.records.definition(quiz_id)
            rows = await self.records.records(quiz_id)
            session = self._sessions.get(quiz_id)  # owned meanwhile (a take)?
            if session is None:
                shown = self._shown.pop(quiz_id, None)
                if shown is not None and rows and rows[-1][0] > shown:
                    rows = [row for row in rows if row[0] <= shown]
                    self._behind.add(quiz_id)
                session = self._rebuild(definition, rows)
                self._definitions[quiz_id] = definition
                self._sessions[quiz_id] = session
            future.set_result(session)
            return session
        except BaseException as error:
            future.set_exception(error)
            future.exception()  # retrieved: nobody else may be waiting
            raise
        finally:
            del self._loading[quiz_id]

    async def take(self, quiz_id: str) -> int | None:
        """Become the quiz's owner if nobody holds its lease; returns the epoch, or ``None``.

        The journal is read after the lease is ours: an old owner can no longer write, so what
        it holds is final, and the session carries on from exactly there.
        """
        if quiz_id in self._epochs:
            return self._epochs[quiz_id]
        epoch = await self.records.acquire(quiz_id)
        if epoch is None:
            return None
        try:
            async with self._lock:
                await self._catch_up(quiz_id)
        except BaseException:
            await self.records.release({quiz_id: epoch})
            raise
        self._epochs[quiz_id] = epoch
        self._stale.discard(quiz_id)
        self._stored_seq[quiz_id] = self._sessions[quiz_id].seq
        return epoch

    async def _catch_up(self, quiz_id: str) -> None:
        """Bring the session (or a fresh one) up to everything the journal holds."""
        session = self._sessions.get(quiz_id)
        if session is None:
            session = await self.load(quiz_id)
            # Owned from now on: it must hold everything stored before it writes, even where
            # load() stopped at what this process had shown (the rest is applied here).
            self._behind.discard(quiz_id)
        self._apply(session, await self.records.records(quiz_id, session.seq))

    def lose(self, quiz_ids: Iterable[str]) -> None:
        """This process no longer owns these quizzes (lease lost, or finished). Their sessions
        stay as copies; a copy that may be ahead of the journal is dropped, to be reloaded."""
        for quiz_id in quiz_ids:
            self._epochs.pop(quiz_id, None)
            stored = self._stored_seq.pop(quiz_id, None)
            if quiz_id in self._stale:
                self._stale.discard(quiz_id)
                self._sessions.pop(quiz_id, None)
                if stored is not None:
                    self._shown[quiz_id] = stored

    def pop_behind(self, quiz_id: str) -> bool:
        """Whether :meth:`load` rebuilt this copy short of the journal (to what this process
        had shown of a quiz it lost): the caller applies the rest with their events."""
        behind = quiz_id in self._behind
        self._behind.discard(quiz_id)
        return behind

    def forget(self, quiz_id: str) -> bool:
        """Drop a copy this process no longer serves, with everything kept for it (it reloads
        from the journal if asked again); an owned quiz is never dropped. Returns whether
        the quiz was dropped."""
        if quiz_id in self._epochs or quiz_id in self._loading:
            return False
        self._definitions.pop(quiz_id, None)
        self._stored_seq.pop(quiz_id, None)
        self._recovered.pop(quiz_id, None)
        self._stale.discard(quiz_id)
        return self._sessions.pop(quiz_id, None) is not None

    # ------------------------------------------------------------------ copies

    def replicate(
        self, quiz_id: str, prev_seq: int, rows: Sequence[tuple[int, Record]]
    ) -> list[Executed] | None:
        """Apply rows the owner committed to this process's copy; returns what each did.

        Rows the copy already has are skipped. Returns ``None`` if the copy is behind
        ``prev_seq`` (a message was missed): the caller catches up from the journal.
        """
        if quiz_id in self._epochs:
            return []  # our own batch: the session is the owner's
        session = self._sessions.get(quiz_id)
        if session is None:
            return []
        if session.seq < prev_seq:
            return None
        return self._apply(session, rows)

    async def rows_after(self, quiz_id: str) -> list[tuple[int, Record]]:
        """The journal rows after this process's copy (to catch up after a missed message)."""
        return await self.records.records(quiz_id, self.session(quiz_id).seq)

    # ------------------------------------------------------------------ the owner's batches

    async def _fresh(self, quiz_id: str) -> QuizSession:
        """The owned session, rebuilt from the journal first if a failed batch left it stale."""
        if quiz_id in self._stale:
            await self._rebuild_owned(quiz_id)
        return self._sessions[quiz_id]

    async def _rebuild_owned(self, quiz_id: str) -> None:
        """Make an owned quiz exactly what its journal holds (after a batch that failed).

        Rows past what was known stored were stored by the failed batch after all (its commit
        went through, the error came after): what they did is kept for :meth:`pop_recovered`,
        so its frames still go out and other processes get the rows.
        """
        rows = await self.records.records(quiz_id)
        stored = self._stored_seq.get(quiz_id, 0)
        session = self._rebuild(self._definitions[quiz_id], [r for r in rows if r[0] <= stored])
        extra = tuple(r for r in rows if r[0] > stored)
        executed = tuple(self._apply(session, extra))
        self._sessions[quiz_id] = session
        self._stale.discard(quiz_id)
        if extra:
            self._stored_seq[quiz_id] = session.seq
            earlier = self._recovered.get(quiz_id)
            if earlier is None:
                self._recovered[quiz_id] = Committed(stored, extra, executed)
            else:
                self._recovered[quiz_id] = Committed(
                    earlier.prev_seq, earlier.rows + extra, earlier.recovered + executed
                )

    async def settle(self, quiz_id: str) -> None:
        """Wait until the quiz's session shows only what is stored: a batch of it in flight
        has been stored (or has failed), and a session a failed batch left ahead of its
        journal has been rebuilt. A snapshot (a welcome, a ``sync``, the results) reads the
        session after this, so none shows a change that may yet be refused.

        Found by the cluster nemesis: a host's ``start`` was refused (PostgreSQL down), the
        rebuild could not read the journal either, and the host's ``sync`` right after showed
        question 0 open (seq 8) from the session the failed batch had left; the next showed
        the lobby (seq 6), and the workload, trusting the first, tried to close a question
        that never opened.

        Raises :class:`~livequiz.ports.StorageUnavailable` if the journal cannot be read for a
        rebuild now (the session is then not to be shown).
        """
        if self.settled(quiz_id):
            return
        async with self._lock:  # held by a batch while it stores
            if quiz_id in self._stale and quiz_id in self._epochs:
                try:
                    await self._rebuild_owned(quiz_id)
                except OSError as error:
                    raise StorageUnavailable(f"reading the journal failed: {error}") from error

    def pop_recovered(self) -> dict[str, Committed]:
        """Rows found stored when quizzes were rebuilt, not yet published (see
        :meth:`_rebuild_owned`); each is returned once."""
        recovered, self._recovered = self._recovered, {}
        return recovered

    async def _undo(self, quiz_ids: Iterable[str]) -> None:
        """Right after a failed batch: rebuild the quizzes it touched from the journal now,
        so nothing reads what was not stored. While storage stays unreachable they stay
        stale and are rebuilt before their next command."""
        for quiz_id in sorted(quiz_ids):
            if quiz_id in self._epochs and quiz_id in self._stale:
                try:
                    await self._rebuild_owned(quiz_id)
                except (StorageUnavailable, OSError):
                    return  # storage is down: the others would fail the same way
                except Exception:
                    log.exception("rebuilding a quiz failed", extra={"quiz_id": quiz_id})

    def known_finished(self, quiz_id: str) -> bool:
        """Whether this process knows the quiz has finished (its finish is stored: only a
        stored finish gives the lease up, and a copy only applies stored rows)."""
        session = self._sessions.get(quiz_id)
        return session is not None and session.phase is Phase.FINISHED

    async def execute(
        self, batch: Sequence[Envelope]
    ) -> tuple[list[Outcome], dict[str, Committed]]:
        """Apply each command of quizzes this process owns, atomically and in order; return
        once the batch is stored, with each command's outcome and what was committed per quiz.

        Raises :class:`~livequiz.ports.StorageUnavailable` or :class:`~livequiz.ports.Fenced`
        if the batch could not be stored: none of it was acknowledged, and the quizzes it
        touched are rebuilt from the journal before their next command.
        """
        async with self._lock:
            outcomes: list[Outcome] = []
            rows: list[Row] = []
            committed: dict[str, tuple[int, list[tuple[int, Record]]]] = {}
            finished: list[str] = []
            #: the webhook outbox's deliveries of the finishes in this batch: stored with it
            deliveries: list[WebhookDelivery] = []
            touched: set[str] = set()
            try:
                for envelope in batch:
                    quiz_id = envelope.quiz_id
                    if quiz_id not in self._epochs:
                        outcomes.append(_finished() if self.known_finished(quiz_id) else _moving())
                        continue
                    try:
                        session = await self._fresh(quiz_id)
                    except (StorageUnavailable, OSError):
                        outcomes.append(_unavailable())
                        continue
                    touched.add(quiz_id)
                    try:
                        executed = execute(session, envelope.command, envelope.now_ms)
                    except Rejected as rejected:
                        # Without its traceback: that refers to this frame, which refers to
                        # `outcomes`, which holds it. A cycle kept the whole batch alive until
                        # a garbage collection, one per refused command (a join storm's
                        # refused joins: docs/reliability.md, part 5).
                        outcomes.append(rejected.with_traceback(None))
                        continue
                    outcomes.append(executed)
                    if executed.changed:
                        row = (session.seq, _record(envelope, executed))
                        rows.append((quiz_id, *row))
                        first_seq = executed.events[0].seq - 1
                        committed.setdefault(quiz_id, (first_seq, []))[1].append(row)
                        if session.phase is Phase.FINISHED and quiz_id not in finished:
                            finished.append(quiz_id)
                        if self._definitions[quiz_id].webhook_url is not None and any(
                            type(event) in _FINISHES for event in executed.events
                        ):
                            deliveries += deliveries_for(
                                self.definition(quiz_id), session, executed.events, envelope.now_ms
                            )
                self.ran_at = time.perf_counter()
                if rows:
                    epochs = {quiz_id: self._epochs[quiz_id] for quiz_id in committed}
                    if deliveries:
                        await self.records.append(rows, finished, epochs, deliveries)
                        self.on_deliveries()
                    else:
                        await self.records.append(rows, finished, epochs)
            except Fenced as fenced:
                self._stale.update(touched)
                log.warning("lease lost while storing a batch", extra={"quizzes": len(touched)})
                self.lose(fenced.quiz_ids)
                await self._undo(touched)
                raise
            except Exception:
                self._stale.update(touched)
                await self._undo(touched)
                raise
            except BaseException:
                self._stale.update(touched)
                raise
            for quiz_id in committed:
                self._stored_seq[quiz_id] = self._sessions[quiz_id].seq
            # A finished quiz changes no more: the lease goes with the finish (the journal
            # marked it), and later commands are refused as for a finished quiz.
            for quiz_id in finished:
                self._epochs.pop(quiz_id, None)
            result = self.pop_recovered()
            for quiz_id, (prev, quiz_rows) in committed.items():
                earlier = result.get(quiz_id)
                if earlier is None:
                    result[quiz_id] = Committed(prev, tuple(quiz_rows))
                else:  # the recovered rows come first: they are older
                    result[quiz_id] = Committed(
                        earlier.prev_seq, earlier.rows + tuple(quiz_rows), earlier.recovered
                    )
            return outcomes, result

    async def close(self) -> None:
        await self.records.close()


def _moving() -> Rejected:
    return Rejected(ErrorCode.UNAVAILABLE, "this quiz is moving to another server; try again")


#: Events a webhook may be owed for (``webhooks.deliveries_for`` decides).
_FINISHES = frozenset({QuizFinished, PlayerFinished})


def _nothing() -> None:
    pass


def _finished() -> Rejected:
    return Rejected(ErrorCode.QUIZ_FINISHED, "this quiz has finished")


def _unavailable() -> Rejected:
    return Rejected(ErrorCode.UNAVAILABLE, "the server could not store this; try again")
