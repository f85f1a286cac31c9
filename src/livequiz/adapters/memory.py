"""The embedded store: quizzes live in this process's memory, a journal makes them durable.

Each command runs against an in-memory :class:`~livequiz.domain.session.QuizSession` (microseconds,
no locks: one event loop owns them), and every command that changed something is appended to the
journal. :meth:`EmbeddedStore.execute` returns once the journal has committed the whole batch, so
an acknowledgement sent after it survives ``kill -9``. On start, :meth:`EmbeddedStore.recover`
replays the journal into fresh sessions, which rebuilds each quiz exactly (the core is
deterministic). Without a journal (tests, throwaway demos) nothing survives the process.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from livequiz.domain.commands import Executed, execute, replay, to_record
from livequiz.domain.errors import ErrorCode, Rejected
from livequiz.domain.nicknames import NicknamePolicy
from livequiz.domain.session import Phase, QuizSession
from livequiz.ports import Envelope, Outcome, QuizDefinition, UnknownQuiz


class Journal(Protocol):
    """Durable records: quiz definitions and the commands that changed each quiz."""

    async def add_quiz(self, definition: QuizDefinition) -> None: ...

    async def append(self, rows: list[tuple[str, int, dict[str, object]]]) -> None:
        """Store ``(quiz_id, seq, record)`` rows in one durable commit."""

    async def mark_finished(self, quiz_ids: list[str]) -> None: ...

    async def load(self) -> list[tuple[QuizDefinition, list[dict[str, object]]]]:
        """Every stored quiz with its records in order."""

    async def close(self) -> None: ...


class EmbeddedStore:
    """The default :class:`~livequiz.ports.QuizStore`: memory plus an optional journal."""

    def __init__(self, journal: Journal | None = None, *, nicknames: NicknamePolicy) -> None:
        self._journal = journal
        self._nicknames = nicknames
        self._sessions: dict[str, QuizSession] = {}
        self._definitions: dict[str, QuizDefinition] = {}
        self._live_pins: dict[str, str] = {}

    async def recover(self) -> list[str]:
        """Rebuild every journaled quiz; returns the ids of those still live."""
        if self._journal is None:
            return []
        # Nicknames in the journal were accepted once; a changed word list must not refuse them.
        trusted = NicknamePolicy(
            min_length=self._nicknames.min_length, max_length=self._nicknames.max_length
        )
        for definition, records in await self._journal.load():
            session = QuizSession(definition.questions, definition.settings, nicknames=trusted)
            replay(session, list(records))
            session.nicknames = self._nicknames
            self._add(definition, session)
        return [q for q, s in self._sessions.items() if s.phase is not Phase.FINISHED]

    async def create(self, definition: QuizDefinition) -> None:
        if definition.pin in self._live_pins:
            raise ValueError(f"PIN {definition.pin} is in use")
        session = QuizSession(definition.questions, definition.settings, nicknames=self._nicknames)
        if self._journal is not None:
            await self._journal.add_quiz(definition)
        self._add(definition, session)

    def _add(self, definition: QuizDefinition, session: QuizSession) -> None:
        self._sessions[definition.quiz_id] = session
        self._definitions[definition.quiz_id] = definition
        if session.phase is not Phase.FINISHED:
            self._live_pins[definition.pin] = definition.quiz_id

    async def execute(self, batch: Sequence[Envelope]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        rows: list[tuple[str, int, dict[str, object]]] = []
        finished: list[str] = []
        for envelope in batch:
            session = self._sessions.get(envelope.quiz_id)
            if session is None:
                outcomes.append(Rejected(ErrorCode.UNKNOWN_QUIZ, "no such quiz"))
                continue
            try:
                executed: Executed = execute(session, envelope.command, envelope.now_ms)
            except Rejected as rejected:
                outcomes.append(rejected)
                continue
            outcomes.append(executed)
            if executed.changed:
                rows.append(
                    (envelope.quiz_id, session.seq, to_record(envelope.command, envelope.now_ms))
                )
                if session.phase is Phase.FINISHED and envelope.quiz_id not in finished:
                    finished.append(envelope.quiz_id)
        for quiz_id in finished:
            pin = self._definitions[quiz_id].pin
            if self._live_pins.get(pin) == quiz_id:
                del self._live_pins[pin]
        if self._journal is not None:
            if rows:
                await self._journal.append(rows)
            if finished:
                await self._journal.mark_finished(finished)
        return outcomes

    def pin_in_use(self, pin: str) -> bool:
        return pin in self._live_pins

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
