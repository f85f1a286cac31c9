"""The embedded store: quizzes live in this process's memory, a journal makes them durable.

Each command runs against an in-memory :class:`~livequiz.domain.session.QuizSession` (microseconds,
no locks: one event loop owns them), and every command that changed something is appended to the
journal. :meth:`EmbeddedStore.execute` returns once the journal has committed the whole batch, so
an acknowledgement sent after it survives ``kill -9``. On start, :meth:`EmbeddedStore.recover`
replays the journal into fresh sessions, which rebuilds each quiz exactly (the core is
deterministic). Without a journal (tests, throwaway demos) nothing survives the process.

Memory never runs ahead of the journal for long: if a batch cannot be stored (the commit fails,
or the core raises something other than :class:`~livequiz.domain.errors.Rejected`), every quiz
the batch touched is rebuilt from its journal before the error propagates, so a retry of an
unacknowledged answer is taken afresh rather than answered "duplicate" from a result that was
never stored. If even that rebuild fails, the store refuses all further work
(:class:`StoreFailed`) until a restart recovers it from the journal.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from livequiz.domain.commands import Executed, execute, replay, to_record
from livequiz.domain.errors import ErrorCode, Rejected
from livequiz.domain.nicknames import NicknamePolicy
from livequiz.domain.session import Phase, QuizSession
from livequiz.ports import Envelope, Outcome, QuizDefinition, UnknownQuiz

#: One journal row: ``(quiz_id, seq, record)``; ``seq`` is the quiz's sequence number after the
#: command ran, so it is unique per quiz and orders the quiz's records.
Row = tuple[str, int, dict[str, object]]


class Journal(Protocol):
    """Durable records: quiz definitions and the commands that changed each quiz."""

    async def add_quiz(self, definition: QuizDefinition) -> None:
        """Store a new quiz's definition durably."""

    async def append(self, rows: Sequence[Row], finished: Sequence[str] = ()) -> None:
        """Store ``rows`` and mark the ``finished`` quizzes in one durable commit: all or none."""

    async def records(self, quiz_id: str) -> list[dict[str, object]]:
        """One quiz's stored records in order (to rebuild it after a failed batch)."""

    async def load(self) -> list[tuple[QuizDefinition, list[dict[str, object]]]]:
        """Every stored quiz with its records in order."""

    async def close(self) -> None: ...


class StoreFailed(RuntimeError):
    """Memory may differ from the journal and could not be rebuilt: restart to recover."""


class EmbeddedStore:
    """The default :class:`~livequiz.ports.QuizStore`: memory plus an optional journal."""

    def __init__(self, journal: Journal | None = None, *, nicknames: NicknamePolicy) -> None:
        self._journal = journal
        self._nicknames = nicknames
        self._sessions: dict[str, QuizSession] = {}
        self._definitions: dict[str, QuizDefinition] = {}
        self._live_pins: dict[str, str] = {}
        #: PIN → the last finished quiz that had it, until a new quiz takes the PIN: so that a
        #: latecomer hears "this quiz has finished", not "no such quiz".
        self._ended_pins: dict[str, str] = {}
        #: PINs and ids of quizzes being created (their definition is being stored).
        self._reserved_pins: set[str] = set()
        self._reserved_ids: set[str] = set()
        #: One batch at a time: a batch must not build on another's changes that may yet fail.
        self._lock = asyncio.Lock()
        self._failure: BaseException | None = None

    def _trusted_policy(self) -> NicknamePolicy:
        # Nicknames in the journal were accepted once; a changed word list must not refuse them.
        return NicknamePolicy(
            min_length=self._nicknames.min_length, max_length=self._nicknames.max_length
        )

    def _rebuild(self, definition: QuizDefinition, records: list[dict[str, object]]) -> QuizSession:
        session = QuizSession(
            definition.questions, definition.settings, nicknames=self._trusted_policy()
        )
        replay(session, list(records))
        session.nicknames = self._nicknames
        return session

    async def recover(self) -> list[str]:
        """Rebuild every journaled quiz; returns the ids of those still live."""
        if self._sessions:
            raise RuntimeError("recover() runs once, on an empty store")
        if self._journal is None:
            return []
        for definition, records in await self._journal.load():
            self._add(definition, self._rebuild(definition, records))
        return [q for q, s in self._sessions.items() if s.phase is not Phase.FINISHED]

    async def create(self, definition: QuizDefinition) -> None:
        self._check_usable()
        if self.pin_in_use(definition.pin):
            raise ValueError(f"PIN {definition.pin} is in use")
        if definition.quiz_id in self._sessions or definition.quiz_id in self._reserved_ids:
            raise ValueError(f"quiz id {definition.quiz_id} exists")
        session = QuizSession(definition.questions, definition.settings, nicknames=self._nicknames)
        # Reserve both while the definition is being stored, so that a concurrent create with
        # the same PIN fails instead of both succeeding.
        self._reserved_pins.add(definition.pin)
        self._reserved_ids.add(definition.quiz_id)
        try:
            if self._journal is not None:
                await self._journal.add_quiz(definition)
        finally:
            self._reserved_pins.discard(definition.pin)
            self._reserved_ids.discard(definition.quiz_id)
        self._add(definition, session)

    def _add(self, definition: QuizDefinition, session: QuizSession) -> None:
        self._sessions[definition.quiz_id] = session
        self._definitions[definition.quiz_id] = definition
        if session.phase is not Phase.FINISHED:
            self._live_pins[definition.pin] = definition.quiz_id
            self._ended_pins.pop(definition.pin, None)
        else:
            self._ended_pins[definition.pin] = definition.quiz_id

    async def execute(self, batch: Sequence[Envelope]) -> list[Outcome]:
        async with self._lock:
            self._check_usable()
            outcomes: list[Outcome] = []
            rows: list[Row] = []
            finished: list[str] = []
            touched: set[str] = set()
            try:
                for envelope in batch:
                    session = self._sessions.get(envelope.quiz_id)
                    if session is None:
                        outcomes.append(Rejected(ErrorCode.UNKNOWN_QUIZ, "no such quiz"))
                        continue
                    touched.add(envelope.quiz_id)
                    try:
                        executed: Executed = execute(session, envelope.command, envelope.now_ms)
                    except Rejected as rejected:
                        outcomes.append(rejected)
                        continue
                    outcomes.append(executed)
                    if executed.changed:
                        record = to_record(envelope.command, envelope.now_ms)
                        rows.append((envelope.quiz_id, session.seq, record))
                        if session.phase is Phase.FINISHED and envelope.quiz_id not in finished:
                            finished.append(envelope.quiz_id)
                if self._journal is not None and rows:
                    await self._journal.append(rows, finished)
            except BaseException:
                await self._restore(touched)
                raise
            # Only a stored finish frees a PIN: until then the quiz may yet come back live.
            for quiz_id in finished:
                pin = self._definitions[quiz_id].pin
                if self._live_pins.get(pin) == quiz_id:
                    del self._live_pins[pin]
                    self._ended_pins[pin] = quiz_id
            return outcomes

    async def _restore(self, quiz_ids: set[str]) -> None:
        """After a failed batch: make each touched quiz what its journal says again."""
        if self._journal is None:
            # Nothing to rebuild from; without a journal only a core bug gets here, and the
            # quiz stays as the bug left it.
            return
        try:
            for quiz_id in sorted(quiz_ids):
                definition = self._definitions[quiz_id]
                records = await self._journal.records(quiz_id)
                self._sessions[quiz_id] = self._rebuild(definition, records)
        except BaseException as error:
            self._failure = error
            raise

    def _check_usable(self) -> None:
        if self._failure is not None:
            raise StoreFailed(
                "a failed batch could not be undone; restart the server to recover from the journal"
            ) from self._failure

    def pin_in_use(self, pin: str) -> bool:
        return pin in self._live_pins or pin in self._reserved_pins

    def ended_quiz_for_pin(self, pin: str) -> str | None:
        return self._ended_pins.get(pin)

    def quiz_id_for_pin(self, pin: str) -> str:
        quiz_id = self._live_pins.get(pin)
        if quiz_id is None:
            raise UnknownQuiz(pin)
        return quiz_id

    def definition(self, quiz_id: str) -> QuizDefinition:
        try:
            return self._definitions[quiz_id]
        except KeyError:
            raise UnknownQuiz(quiz_id) from None

    def session(self, quiz_id: str) -> QuizSession:
        try:
            return self._sessions[quiz_id]
        except KeyError:
            raise UnknownQuiz(quiz_id) from None

    def quiz_ids(self) -> list[str]:
        return list(self._sessions)

    async def close(self) -> None:
        if self._journal is not None:
            await self._journal.close()


class LocalBus:
    """The embedded :class:`~livequiz.ports.Bus`: one process, so publishing is a call."""

    def __init__(self) -> None:
        self._deliver: Callable[[str, Any], None] | None = None

    def subscribe(self, deliver: Callable[[str, Any], None]) -> None:
        self._deliver = deliver

    def publish(self, quiz_id: str, message: Any) -> None:
        if self._deliver is not None:
            self._deliver(quiz_id, message)
