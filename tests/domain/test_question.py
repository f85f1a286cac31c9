from __future__ import annotations

import pytest

from livequiz.domain.errors import ErrorCode, Rejected
from livequiz.domain.question import Question


def build(**overrides: object) -> Question:
    values: dict[str, object] = {
        "prompt": "What does 'brave' mean?",
        "options": ("ready to face danger", "very tired", "easily broken", "full of water"),
        "correct_option": 0,
        "kind": "word_to_meaning",
        "word": "brave",
        "definition": "ready to face danger",
    }
    values.update(overrides)
    return Question(**values)  # type: ignore[arg-type]


def test_a_valid_question_knows_its_answer() -> None:
    question = build()
    assert question.answer == "ready to face danger"
    assert question.example == ""


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"options": ("only one",)}, "2 to 6 options"),
        ({"options": tuple("abcdefg")}, "2 to 6 options"),
        ({"options": ("same", "SAME", "other")}, "must differ"),
        ({"correct_option": 4}, "not one of the options"),
        ({"correct_option": -1}, "not one of the options"),
        ({"prompt": "   "}, "needs a prompt"),
    ],
)
def test_malformed_questions_are_refused(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(Rejected, match=message) as caught:
        build(**overrides)
    assert caught.value.code is ErrorCode.INVALID_QUESTION
    assert "Rejected('invalid_question'" in repr(caught.value)
