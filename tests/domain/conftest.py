"""Shared fixtures for the quiz core tests: a small quiz with known answers."""

from __future__ import annotations

import pytest

from livequiz.domain.question import Question


def make_question(n: int, correct: int = 0, options: int = 4) -> Question:
    return Question(
        prompt=f"Question {n}?",
        options=tuple(f"option {n}.{i}" for i in range(options)),
        correct_option=correct,
        kind="word_to_meaning",
        word=f"word{n}",
        definition=f"meaning of word{n}",
        example=f"an example with word{n} in it",
    )


@pytest.fixture
def questions() -> list[Question]:
    """Three questions whose correct options are 0, 1 and 2."""
    return [make_question(n, correct=n) for n in range(3)]
