"""Building blocks for the quiz core tests."""

from __future__ import annotations

from livequiz.domain.question import Question


def make_question(n: int, correct: int = 0, options: int = 4) -> Question:
    """Question ``n`` with ``options`` plain options, ``correct`` being the right one."""
    return Question(
        prompt=f"Question {n}?",
        options=tuple(f"option {n}.{i}" for i in range(options)),
        correct_option=correct,
        kind="word_to_meaning",
        word=f"word{n}",
        definition=f"meaning of word{n}",
        example=f"an example with word{n} in it",
    )
