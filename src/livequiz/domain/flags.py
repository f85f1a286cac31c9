"""Flags on questions: when a player or the host may flag one, and what a reason may be.

A flag says "something is wrong with this question" (two right answers, a strange sentence, a
word not fit for class). It is given during the review: once the question has closed (its
reveal), or after the quiz in the review of missed words; never while the question is open, as
flagging is no way to learn the answer or to stall a question. Storage keeps flags for the
whole server (:class:`~livequiz.ports.QuestionFlags`); the generator leaves flagged
``(word, kind)`` pairs out until a teacher clears them.
"""

from __future__ import annotations

import unicodedata

from livequiz.domain.question import Question
from livequiz.domain.session import Phase, QuizSession

#: A short reason: one line on the teacher's list.
MAX_REASON_CHARS = 200


def in_review(session: QuizSession, index: int) -> bool:
    """Whether question ``index`` has been asked and has closed, so it may be flagged."""
    if not 0 <= index <= session.current:
        return False
    return index < session.current or session.phase in (Phase.QUESTION_CLOSED, Phase.FINISHED)


def flaggable(session: QuizSession, index: int) -> Question | None:
    """The question ``index`` of the quiz if it may be flagged now, else ``None``."""
    return session.questions[index] if in_review(session, index) else None


def reason_problem(reason: object) -> str | None:
    """Why ``reason`` cannot be a flag's reason, or ``None`` if it can (``None`` and ``""``
    are no reason, which is fine)."""
    if reason is None:
        return None
    if not isinstance(reason, str):
        return "reason must be text"
    if len(reason) > MAX_REASON_CHARS:
        return f"reason must be at most {MAX_REASON_CHARS} characters"
    if any(unicodedata.category(char) in ("Cc", "Cs", "Co") for char in reason):
        return "reason must be one line of plain text"
    return None
