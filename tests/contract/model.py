"""What the contract compares stores against: a plain session per quiz, one command at a time.

A store promises to apply each command of a batch atomically and in order; so whatever it
returns, and whatever state it ends in, must equal what :func:`livequiz.domain.commands.execute`
gives when the same commands run one by one on plain sessions. :class:`Reference` is that model,
and :func:`fingerprint` is the state two sessions must share to count as the same quiz.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from livequiz.domain.commands import Command, Executed, execute
from livequiz.domain.errors import ErrorCode, Rejected
from livequiz.domain.nicknames import NicknamePolicy
from livequiz.domain.question import Question
from livequiz.domain.session import QuizSession
from livequiz.domain.settings import QuizSettings
from livequiz.ports import Envelope, Outcome, QuizDefinition, QuizStore
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


class Reference:
    """Plain sessions, one per quiz, each command applied on its own: the contract's model."""

    def __init__(self) -> None:
        self.sessions: dict[str, QuizSession] = {}

    def create(self, definition: QuizDefinition) -> None:
        self.sessions[definition.quiz_id] = QuizSession(
            definition.questions, definition.settings, nicknames=NicknamePolicy()
        )

    def execute(self, batch: Iterable[Envelope]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for envelope in batch:
            session = self.sessions.get(envelope.quiz_id)
            if session is None:
                outcomes.append(Rejected(ErrorCode.UNKNOWN_QUIZ, "no such quiz"))
                continue
            try:
                outcomes.append(execute(session, envelope.command, envelope.now_ms))
            except Rejected as rejected:
                outcomes.append(rejected)
        return outcomes


class Twin:
    """A store and the reference driven with the same batches, checked after every one."""

    def __init__(self, store: QuizStore) -> None:
        self.store = store
        self.reference = Reference()

    async def create(self, definition: QuizDefinition) -> None:
        await self.store.create(definition)
        self.reference.create(definition)

    async def execute(self, batch: Sequence[Envelope]) -> list[Outcome]:
        outcomes = await self.store.execute(batch)
        expected = self.reference.execute(batch)
        assert [comparable(o) for o in outcomes] == [comparable(o) for o in expected]
        return outcomes

    def assert_same_state(self) -> None:
        assert sorted(self.store.quiz_ids()) == sorted(self.reference.sessions)
        for quiz_id, session in self.reference.sessions.items():
            assert fingerprint(self.store.session(quiz_id)) == fingerprint(session), quiz_id


def at(quiz_id: str, now_ms: int, *commands: Command) -> list[Envelope]:
    """A batch of ``commands`` for one quiz, all stamped ``now_ms``."""
    return [Envelope(quiz_id, command, now_ms) for command in commands]
