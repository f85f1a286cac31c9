"""A Kahoot! quiz spreadsheet as a teacher's own questions (livequiz/vocabulary/kahoot.py)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from openpyxl import Workbook

from livequiz.vocabulary.kahoot import AUTHORED, read_kahoot
from livequiz.vocabulary.wordlist import WordListError

HEADER = [
    None,
    "Question - max 120 characters",
    "Answer 1 - max 75 characters",
    "Answer 2 - max 75 characters",
    "Answer 3 - max 75 characters",
    "Answer 4 - max 75 characters",
    "Time limit (sec) – 5, 10, 20, 30, 60, 90, 120, or 240 secs",
    "Correct answer(s) - choose at least one",
]


def kahoot_file(rows: list[list[Any]], *, instructions: int = 7) -> bytes:
    """A spreadsheet shaped like Kahoot!'s template: instruction rows, the header, the rows."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for n in range(instructions):
        sheet.append([None, f"Instructions, line {n + 1}"])
    sheet.append(HEADER)
    for number, row in enumerate(rows, start=1):
        sheet.append([number, *row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


GOOD: list[list[Any]] = [
    ["What is the capital of France?", "Berlin", "Paris", "Rome", "Madrid", 20, 2],
    ["Which word means 'very big'?", "huge", "tiny", None, None, 30, "1"],
]


def test_the_questions_are_kept_as_written() -> None:
    questions, problems, total = read_kahoot(kahoot_file(GOOD))
    assert (problems, total) == ([], 0)
    first, second = questions
    assert first.prompt == "What is the capital of France?"
    assert first.options == ("Berlin", "Paris", "Rome", "Madrid")
    assert first.options[first.correct_option] == "Paris"
    assert (first.kind, first.word) == (AUTHORED, "Paris")
    assert second.options == ("huge", "tiny")  # two answers are enough
    assert second.options[second.correct_option] == "huge"


def test_every_bad_row_is_reported_at_once_with_its_row_number() -> None:
    rows = [
        *GOOD,
        ["Two right answers?", "a", "b", "c", "d", 20, "1,3"],
        ["", "a", "b", None, None, 20, 1],
        ["Only one answer", "a", None, None, None, 20, 1],
        ["Same answers", "yes", "Yes", None, None, 20, 1],
        ["Marked an empty one", "a", "b", None, None, 20, 4],
        ["Odd time", "a", "b", None, None, 25, 1],
        ["No right answer", "a", "b", None, None, 20, None],
    ]
    questions, problems, total = read_kahoot(kahoot_file(rows))
    assert len(questions) == 2
    assert total == 7
    found = [(p.line, p.message) for p in problems]
    assert found == [
        (11, "answers 1,3 are all marked correct: a livequiz question has one"),
        (12, "the question is empty"),
        (13, "a question needs at least two answers"),
        (14, "two answers are the same"),
        (15, "the correct answer is 4, but answer 4 is empty"),
        (16, "time limit '25' is not one of Kahoot!'s (5, 10, 20, 30, 60, 90, 120, 240)"),
        (17, "no correct answer is given (a number from 1 to 4)"),
    ]


def test_a_sheet_without_the_header_or_no_spreadsheet_at_all_is_refused() -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Question", "Answer"])
    out = io.BytesIO()
    book.save(out)
    with pytest.raises(WordListError, match="no header row naming the columns"):
        read_kahoot(out.getvalue())
    with pytest.raises(WordListError, match="not a Kahoot! spreadsheet"):
        read_kahoot(b"word,definition\nharbour,a port\n")
    with pytest.raises(WordListError, match="no question under the header row"):
        read_kahoot(kahoot_file([]))
