"""A Kahoot! quiz spreadsheet, as a teacher's own questions.

Kahoot!'s template ("Quiz spreadsheet template", .xlsx) has a header row naming the columns
"Question - max 120 characters", "Answer 1 - max 75 characters" … "Answer 4", "Time limit (sec)
– 5, 10, 20, 30, 60, 90, 120, or 240 secs" and "Correct answer(s) - choose at least one", below a
few rows of instructions, and one question per row under it. The columns are found by the start
of their names, wherever the header row is, so a sheet a teacher rearranged still reads.

The questions are kept as written (prompt, answers, which one is right); they are "authored"
questions, asked as they are. Every problem of every row is reported at once, with its row
number as the spreadsheet shows it; a preview offers the questions the other rows make.
livequiz questions have one right answer: a row marking two is left out, saying so. A quiz has
one time limit (the host form's), so a row's own is checked but not used.
"""

from __future__ import annotations

import io
from typing import Any

from livequiz.domain.question import MAX_OPTION_CHARS, MAX_PROMPT_CHARS, Question
from livequiz.vocabulary.wordlist import MAX_PROBLEMS, Problem, WordListError

#: The kind of a question a teacher wrote, asked as written.
AUTHORED = "authored"
#: The time limits Kahoot! offers (seconds).
KAHOOT_TIME_LIMITS = frozenset({5, 10, 20, 30, 60, 90, 120, 240})
_COLUMNS = {
    "question": "question",
    "answer 1": "a1",
    "answer 2": "a2",
    "answer 3": "a3",
    "answer 4": "a4",
    "time limit": "time",
    "correct answer": "correct",
}


def read_kahoot(data: bytes) -> tuple[list[Question], list[Problem], int]:
    """The questions of a Kahoot! spreadsheet, the problems of the rows left out (the first
    :data:`MAX_PROBLEMS`) and how many there are. Raises :class:`WordListError` if the file is
    no spreadsheet, or has no header row naming the question and answer columns."""
    from openpyxl import load_workbook  # a spreadsheet import is rare: loaded when used

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a file that is no .xlsx
        raise WordListError(None, "this is not a Kahoot! spreadsheet (.xlsx)") from None
    try:
        sheet = book.worksheets[0]
        rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    finally:
        book.close()
    header_at, columns = _header(rows)
    questions: list[Question] = []
    problems: list[Problem] = []
    total = 0
    for number, row in enumerate(rows[header_at + 1 :], start=header_at + 2):
        cells = {name: _text(row, index) for name, index in columns.items()}
        if not any(cells.values()):
            continue
        question, found = _question(number, cells)
        if question is not None:
            questions.append(question)
        total += len(found)
        problems += found[: max(0, MAX_PROBLEMS - len(problems))]
    if not questions and not problems:
        raise WordListError(header_at + 2, "no question under the header row")
    return questions, problems, total


def _header(rows: list[list[Any]]) -> tuple[int, dict[str, int]]:
    for at, row in enumerate(rows[:30]):
        found: dict[str, int] = {}
        for index, cell in enumerate(row):
            name = str(cell or "").strip().casefold()
            for start, key in _COLUMNS.items():
                if name.startswith(start) and key not in found:
                    found[key] = index
        if {"question", "a1", "a2", "correct"} <= found.keys():
            return at, found
    raise WordListError(
        None,
        "no header row naming the columns 'Question', 'Answer 1', 'Answer 2' and "
        "'Correct answer(s)' (Kahoot!'s quiz spreadsheet template)",
    )


def _text(row: list[Any], index: int) -> str:
    value = row[index] if index < len(row) else None
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _question(line: int, cells: dict[str, str]) -> tuple[Question | None, list[Problem]]:
    problems: list[Problem] = []

    def problem(message: str) -> None:
        problems.append(Problem(line, None, message))

    prompt = cells.get("question", "")
    if not prompt:
        problem("the question is empty")
    elif len(prompt) > MAX_PROMPT_CHARS:
        problem(f"the question is {len(prompt)} characters long (at most {MAX_PROMPT_CHARS})")
    slots = [cells.get(f"a{n}", "") for n in range(1, 5)]
    answers = [answer for answer in slots if answer]
    if len(answers) < 2:
        problem("a question needs at least two answers")
    for number, answer in enumerate(slots, start=1):
        if len(answer) > MAX_OPTION_CHARS:
            problem(
                f"answer {number} is {len(answer)} characters long (at most {MAX_OPTION_CHARS})"
            )
    if len({answer.casefold() for answer in answers}) != len(answers):
        problem("two answers are the same")
    correct = cells.get("correct", "").replace(" ", "")
    marked = [part for part in correct.split(",") if part]
    right: int | None = None
    if not marked:
        problem("no correct answer is given (a number from 1 to 4)")
    elif len(marked) > 1:
        problem(f"answers {correct} are all marked correct: a livequiz question has one")
    elif not marked[0].isdigit() or not 1 <= int(marked[0]) <= 4:
        problem(f"the correct answer must be a number from 1 to 4, not {marked[0]!r}")
    elif not slots[int(marked[0]) - 1]:
        problem(f"the correct answer is {marked[0]}, but answer {marked[0]} is empty")
    else:
        right = int(marked[0])
    seconds = cells.get("time", "")
    if seconds and (not seconds.isdigit() or int(seconds) not in KAHOOT_TIME_LIMITS):
        problem(f"time limit {seconds!r} is not one of Kahoot!'s (5, 10, 20, 30, 60, 90, 120, 240)")
    if problems or right is None:
        return None, problems
    # The right answer keeps its place among the answers given (empty slots closed up).
    options = tuple(answers)
    answer = slots[right - 1]
    question = Question(
        prompt=prompt,
        options=options,
        correct_option=options.index(answer),
        kind=AUTHORED,
        word=answer[:50],
        definition="",
    )
    return question, []
