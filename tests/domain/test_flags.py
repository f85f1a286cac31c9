"""When a question may be flagged, and what a flag's reason may be."""

from __future__ import annotations

import pytest

from livequiz.domain.flags import MAX_REASON_CHARS, flaggable, in_review, reason_problem
from livequiz.domain.question import Question
from livequiz.domain.session import QuizSession


def test_only_asked_and_closed_questions_may_be_flagged(questions: list[Question]) -> None:
    session = QuizSession(questions)
    session.join("Anna", 0)
    assert [in_review(session, n) for n in (-1, 0, 1, 2, 3)] == [False] * 5  # the lobby
    session.start(1_000)
    assert [in_review(session, n) for n in (-1, 0, 1, 2, 3)] == [False] * 5  # 0 is open
    session.close_question(2_000)
    assert [in_review(session, n) for n in (-1, 0, 1, 2, 3)] == [False, True, False, False, False]
    session.next(3_000)
    assert [in_review(session, n) for n in (-1, 0, 1, 2, 3)] == [False, True, False, False, False]
    session.end(4_000)
    assert [in_review(session, n) for n in (-1, 0, 1, 2, 3)] == [False, True, True, False, False]


def test_flaggable_gives_the_question_itself(questions: list[Question]) -> None:
    session = QuizSession(questions)
    session.join("Anna", 0)
    session.start(1_000)
    assert flaggable(session, 0) is None
    session.skip(2_000)
    assert flaggable(session, 0) is questions[0]
    assert flaggable(session, 1) is None


@pytest.mark.parametrize("reason", [None, "", "two right answers", "x" * MAX_REASON_CHARS])
def test_good_reasons(reason: object) -> None:
    assert reason_problem(reason) is None


@pytest.mark.parametrize(
    ("reason", "problem"),
    [
        (42, "reason must be text"),
        ("x" * 201, "reason must be at most 200 characters"),
        ("two\nlines", "reason must be one line of plain text"),
        ("private \ue000 use", "reason must be one line of plain text"),
        ("lone \ud800 surrogate", "reason must be one line of plain text"),
    ],
)
def test_bad_reasons_say_what_is_wrong(reason: object, problem: str) -> None:
    assert MAX_REASON_CHARS == 200
    assert reason_problem(reason) == problem
