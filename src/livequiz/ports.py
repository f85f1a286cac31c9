"""Ports: what the service needs from storage and messaging, not how they do it.

The embedded default (:mod:`livequiz.adapters.memory` with a SQLite journal) and the later
Redis/PostgreSQL adapters implement the same ports and are held to the same rules by one contract
test suite (``tests/contract/``).

**The store.** Every change to live state is one whole operation: :meth:`QuizStore.execute`
takes a batch of commands and applies each atomically and in order — "accept this answer" checks
the deadline, dedupes, scores, updates the board and bumps the sequence number in one step.
A batch exists so that durability is paid once per batch (one SQLite commit, one Redis pipeline),
not once per answer; ``execute`` returns only when the batch is durable, so whoever acknowledges
an answer after it can promise the answer survives a crash.

**The bus.** Frames for the players of a quiz go through :class:`Bus`, so that a process holding
some of a quiz's connections gets the quiz's frames whichever process changed it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from livequiz.domain.commands import Command, Executed
from livequiz.domain.errors import Rejected
from livequiz.domain.question import Question
from livequiz.domain.session import QuizSession
from livequiz.domain.settings import QuizSettings


@dataclass(frozen=True, slots=True)
class QuizDefinition:
    """What a quiz is made of when it is created; never changes afterwards."""

    #: Internal id, bound into tokens; never reused.
    quiz_id: str
    #: The short quiz ID players type; unique among live quizzes, reused after a quiz ends.
    pin: str
    title: str
    questions: tuple[Question, ...]
    settings: QuizSettings
    created_at_ms: int

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form, for journals and stores."""
        return {
            "quiz_id": self.quiz_id,
            "pin": self.pin,
            "title": self.title,
            "questions": [
                {
                    "prompt": q.prompt,
                    "options": list(q.options),
                    "correct_option": q.correct_option,
                    "kind": q.kind,
                    "word": q.word,
                    "definition": q.definition,
                    "example": q.example,
                }
                for q in self.questions
            ],
            "settings": self.settings.to_mapping(),
            "created_at_ms": self.created_at_ms,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QuizDefinition:
        return cls(
            quiz_id=data["quiz_id"],
            pin=data["pin"],
            title=data["title"],
            questions=tuple(
                Question(**{**q, "options": tuple(q["options"])}) for q in data["questions"]
            ),
            settings=QuizSettings.from_mapping(data["settings"]),
            created_at_ms=data["created_at_ms"],
        )


@dataclass(frozen=True, slots=True)
class Envelope:
    """One command for one quiz, stamped with the server time it runs at."""

    quiz_id: str
    command: Command
    now_ms: int


Outcome = Executed | Rejected


class UnknownQuiz(Exception):
    """No live quiz has that id or PIN."""


class QuizStore(Protocol):
    """Live quiz state: creation, whole-operation commands, and reads for views."""

    async def recover(self) -> list[str]:
        """Load what storage holds (once, at start); returns the ids of quizzes still live."""

    async def create(self, definition: QuizDefinition) -> None:
        """Store a new quiz durably; raises ``ValueError`` if its PIN is in use."""

    async def execute(self, batch: Sequence[Envelope]) -> list[Outcome]:
        """Apply each command atomically, in order; return when the changes are durable."""

    def pin_in_use(self, pin: str) -> bool:
        """Whether a live (unfinished) quiz has this PIN."""

    def quiz_id_for_pin(self, pin: str) -> str:
        """The live quiz with this PIN; raises :class:`UnknownQuiz`."""

    def ended_quiz_for_pin(self, pin: str) -> str | None:
        """The last finished quiz that had this PIN, while no live quiz has taken it since."""

    def definition(self, quiz_id: str) -> QuizDefinition:
        """Raises :class:`UnknownQuiz`."""

    def session(self, quiz_id: str) -> QuizSession:
        """The quiz's state for building views; read-only for callers. Raises UnknownQuiz."""

    def quiz_ids(self) -> list[str]:
        """Every quiz the store holds, live or finished."""

    async def close(self) -> None:
        """Flush and release resources."""


class Bus(Protocol):
    """Fan-out of ready-made frames to every process serving a quiz's connections."""

    def subscribe(self, deliver: Callable[[str, Any], None]) -> None:
        """Call ``deliver(quiz_id, message)`` for every message published (this process's one
        subscriber, the gateway, then sends it to the connections it holds for that quiz)."""

    def publish(self, quiz_id: str, message: Any) -> None: ...
