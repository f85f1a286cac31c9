"""What the contract compares stores against: a plain session per quiz, one command at a time.

A :class:`~livequiz.store.QuizStore` promises to apply each command of a batch for a quiz it
owns atomically and in order; so whatever it returns, and whatever state it ends in, must equal
what :func:`livequiz.domain.commands.execute` gives when the same commands run one by one on
plain sessions. :class:`Reference` is that model, with the two rules the store adds to the core:
a quiz the store does not own is refused as ``unavailable`` (it may be moving to another
server), and once a batch that finished a quiz is stored the quiz is no longer owned and every
later command for it is refused as ``quiz_finished``. :func:`fingerprint` is the state two
sessions must share to count as the same quiz.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from livequiz.domain.commands import Answer, Command, Executed, execute, to_record
from livequiz.domain.errors import ErrorCode, Rejected
from livequiz.domain.nicknames import NicknamePolicy
from livequiz.domain.question import Question
from livequiz.domain.session import Phase, QuizSession
from livequiz.domain.settings import QuizSettings
from livequiz.ports import Envelope, Outcome, QuizDefinition, Record
from livequiz.store import OUTCOME_KEY, QuizStore
from tests.domain.factories import make_question

#: A fixed server time (ms) the scenarios count from; stores never read a clock themselves.
T0 = 1_700_000_000_000


def questions(count: int = 3) -> tuple[Question, ...]:
    """``count`` questions; question ``n`` has ``n % 4`` as its correct option."""
    return tuple(make_question(n, correct=n % 4) for n in range(count))


def definition(
    pin: str = "123456",
    quiz_id: str | None = None,
    *,
    count: int = 3,
    created_at_ms: int = T0,
    **settings: Any,
) -> QuizDefinition:
    """A quiz definition; ``settings`` default to a 10 s question that stays open until its time
    is up (no "all answered" close), so scenarios decide when questions close."""
    values: dict[str, Any] = {"time_limit_ms": 10_000, "close_when_all_answered": False}
    values.update(settings)
    return QuizDefinition(
        quiz_id=quiz_id or f"quiz-{pin}",
        pin=pin,
        title=f"Quiz {pin}",
        questions=questions(count),
        settings=QuizSettings(**values),
        created_at_ms=created_at_ms,
    )


def fingerprint(session: QuizSession) -> dict[str, Any]:
    """Everything that makes a quiz what it is, as comparable values."""
    return {
        "phase": session.phase,
        "seq": session.seq,
        "current": session.current,
        "locked": session.locked,
        "opened_at_ms": session.opened_at_ms,
        "closes_at_ms": session.closes_at_ms,
        "accepts_until_ms": session.accepts_until_ms,
        "present": session.present_count,
        "answered": session.answered_count,
        "board": list(session.board),
        "players": {
            player_id: {
                "nickname": player.nickname,
                "joined_seq": player.joined_seq,
                "present": player.present,
                "kicked": player.kicked,
                "score": player.score,
                "published_score": player.published_score,
                "streak": player.streak,
                "published_streak": player.published_streak,
                "correct_count": player.correct_count,
                "answers": dict(player.answers),
            }
            for player_id, player in session.players.items()
        },
    }


def comparable(outcome: Outcome) -> object:
    """An outcome as a value (``Rejected`` is an exception, so it has no useful ``==``)."""
    if isinstance(outcome, Rejected):
        return ("rejected", outcome.code, outcome.message)
    return outcome


def rejected_code(outcome: Outcome) -> ErrorCode:
    assert isinstance(outcome, Rejected), f"expected a rejection, got {outcome!r}"
    return outcome.code


def executed(outcome: Outcome) -> Executed:
    assert isinstance(outcome, Executed), f"expected the command to run, got {outcome!r}"
    return outcome


#: What the store answers for a quiz it does not own (never created here, or owned elsewhere).
NOT_OWNED = Rejected(ErrorCode.UNAVAILABLE, "this quiz is moving to another server; try again")
#: What the store answers for a quiz whose finish is stored (it changes no more).
FINISHED = Rejected(ErrorCode.QUIZ_FINISHED, "this quiz has finished")


def journal_record(envelope: Envelope, outcome: Executed) -> Record:
    """The journal record of a command that changed its quiz: the command, its time, and for an
    answer the points it was given (what a replay must reproduce)."""
    record = to_record(envelope.command, envelope.now_ms)
    if isinstance(envelope.command, Answer) and outcome.answer is not None:
        record[OUTCOME_KEY] = outcome.answer.record.points
    return record


class Reference:
    """Plain sessions, one per quiz, each command applied on its own: the contract's model."""

    def __init__(self) -> None:
        self.sessions: dict[str, QuizSession] = {}
        self.definitions: dict[str, QuizDefinition] = {}
        #: Quizzes whose finish was stored (at the end of the batch that finished them).
        self.closed: set[str] = set()
        #: PIN → live quiz, and PIN → the last quiz that finished with it (until a new one).
        self.live_pins: dict[str, str] = {}
        self.ended_pins: dict[str, str] = {}

    def create(self, definition: QuizDefinition) -> None:
        self.sessions[definition.quiz_id] = QuizSession(
            definition.questions, definition.settings, nicknames=NicknamePolicy()
        )
        self.definitions[definition.quiz_id] = definition
        self.live_pins[definition.pin] = definition.quiz_id
        self.ended_pins.pop(definition.pin, None)

    def execute(self, batch: Iterable[Envelope]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        touched: set[str] = set()
        for envelope in batch:
            session = self.sessions.get(envelope.quiz_id)
            if session is None:
                outcomes.append(NOT_OWNED)
                continue
            if envelope.quiz_id in self.closed:
                outcomes.append(FINISHED)
                continue
            touched.add(envelope.quiz_id)
            try:
                outcomes.append(execute(session, envelope.command, envelope.now_ms))
            except Rejected as rejected:
                outcomes.append(rejected)
        for quiz_id in sorted(touched):
            if self.sessions[quiz_id].phase is Phase.FINISHED:
                self.closed.add(quiz_id)
                pin = self.definitions[quiz_id].pin
                del self.live_pins[pin]
                self.ended_pins[pin] = quiz_id
        return outcomes


class Twin:
    """A store and the reference driven with the same batches, checked after every one.

    With a ``copy`` (another store over the same storage, as another process has), every batch
    the store commits is also applied to the copy (:meth:`QuizStore.replicate`), which must
    then produce the same events and hold the same sessions as the owner.
    """

    def __init__(self, store: QuizStore, copy: QuizStore | None = None) -> None:
        self.store = store
        self.copy = copy
        self.reference = Reference()

    async def create(self, definition: QuizDefinition) -> None:
        await self.store.create(definition)
        self.reference.create(definition)
        if self.copy is not None:
            await self.copy.load(definition.quiz_id)

    async def follow(self, copy: QuizStore) -> None:
        """Keep ``copy`` from now on, loading every quiz into it from the journal."""
        self.copy = copy
        for quiz_id in self.reference.sessions:
            await copy.load(quiz_id)

    async def execute(self, batch: Sequence[Envelope]) -> list[Outcome]:
        outcomes, committed = await self.store.execute(batch)
        expected = self.reference.execute(batch)
        assert [comparable(o) for o in outcomes] == [comparable(o) for o in expected]
        # what was committed, per quiz: exactly the commands that changed it, in order, each
        # row under the quiz's sequence number after it, and the journal holds just that
        changed: dict[str, list[tuple[int, Record]]] = {}
        events: dict[str, list[Executed]] = {}
        for envelope, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, Executed) and outcome.changed:
                row = (outcome.events[-1].seq, journal_record(envelope, outcome))
                changed.setdefault(envelope.quiz_id, []).append(row)
                events.setdefault(envelope.quiz_id, []).append(outcome)
        assert {quiz_id: list(c.rows) for quiz_id, c in committed.items()} == changed
        for quiz_id, c in committed.items():
            seq = c.prev_seq
            for outcome in events[quiz_id]:
                assert [e.seq for e in outcome.events] == list(
                    range(seq + 1, seq + 1 + len(outcome.events))
                )
                seq += len(outcome.events)
            assert seq == self.store.session(quiz_id).seq
            stored = await self.store.records.records(quiz_id, c.prev_seq)
            assert [(s, r) for s, r in stored] == list(c.rows), quiz_id
            if self.copy is not None:
                replayed = self.copy.replicate(quiz_id, c.prev_seq, c.rows)
                assert replayed == events[quiz_id], quiz_id
                assert fingerprint(self.copy.session(quiz_id)) == fingerprint(
                    self.store.session(quiz_id)
                )
        return outcomes

    async def assert_same_state(self) -> None:
        """The store owns exactly the live quizzes; every quiz (a finished one loaded from the
        journal if need be) is the reference's; the directory has the reference's PINs."""
        reference = self.reference
        live = {q for q, s in reference.sessions.items() if s.phase is not Phase.FINISHED}
        assert set(self.store.owned()) == live
        for quiz_id, session in reference.sessions.items():
            mine = await self.store.load(quiz_id)
            assert fingerprint(mine) == fingerprint(session), quiz_id
            assert self.store.definition(quiz_id) == reference.definitions[quiz_id]
            assert await self.store.records.is_finished(quiz_id) == (quiz_id not in live)
        records = self.store.records
        for pin in {d.pin for d in reference.definitions.values()}:
            assert await records.live_quiz_for_pin(pin) == reference.live_pins.get(pin), pin
            assert await records.ended_quiz_for_pin(pin) == reference.ended_pins.get(pin), pin


def at(quiz_id: str, now_ms: int, *commands: Command) -> list[Envelope]:
    """A batch of ``commands`` for one quiz, all stamped ``now_ms``."""
    return [Envelope(quiz_id, command, now_ms) for command in commands]
