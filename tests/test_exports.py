"""The teacher's report as CSV and XLSX files (``livequiz.exports``): what a teacher opens in a
spreadsheet says what the report says, and nothing a student typed runs as a formula."""

from __future__ import annotations

import csv
import io
from typing import Any

from openpyxl import load_workbook

from livequiz.domain.reports import class_report
from livequiz.exports import report_csv, report_xlsx, safe_cell
from tests.domain.test_reports import live_game


def named_game() -> dict[str, Any]:
    session = live_game()
    session.players[1].nickname = "=HYPERLINK(1)"  # as a hostile nickname would look
    return class_report(session)


def test_a_formula_in_a_nickname_is_written_as_text() -> None:
    assert safe_cell("=1+1") == "'=1+1"
    assert safe_cell("@SUM(A1)") == "'@SUM(A1)"
    assert safe_cell("-Anna") == "'-Anna"
    assert safe_cell("Anna") == "Anna"


def test_the_csv_is_the_student_by_word_grid() -> None:
    report = named_game()
    text = report_csv(report)
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert rows[0] == [
        "rank",
        "nickname",
        "score",
        "correct",
        "asked",
        "average_s",
        "Q1 word0",
        "Q2 word1",
    ]
    by_name = {row[1]: row for row in rows[1:]}
    assert set(by_name) == {"'=HYPERLINK(1)", "Bo", "Cy", "Di", "Eve"}
    assert by_name["'=HYPERLINK(1)"][6] == "✓ 1.0 s"
    assert by_name["Cy"][6] == "✗ 5.0 s"
    assert by_name["Di"][6] == "–"  # asked, no answer
    assert by_name["Eve"][6] == ""  # joined after it closed: never asked
    assert [row[0] for row in rows[1:]] == [str(s["rank"]) for s in report["students"]]
    for row, student in zip(rows[1:], report["students"], strict=True):
        assert (int(row[2]), int(row[3]), int(row[4])) == (
            student["score"],
            student["correct"],
            student["asked"],
        )


def test_the_workbook_holds_words_students_and_the_grid() -> None:
    report = named_game()
    book = load_workbook(io.BytesIO(report_xlsx(report, title="Week 3")))
    assert book.sheetnames == ["Words", "Students", "Grid"]
    words = list(book["Words"].iter_rows(values_only=True))
    assert words[0] == ("Week 3: words, hardest first",) + (None,) * 9
    assert words[1][:4] == ("word", "question", "right answer", "knew it (%)")
    assert [row[0] for row in words[2:]] == [w["word"] for w in report["words"]]
    word0 = next(row for row in words[2:] if row[0] == "word0")
    assert word0 == (
        "word0",
        "Question 0?",
        "option 0.0",
        50,
        2,
        4,
        3.0,
        "option 0.2",
        1,
        "yes",
    )
    students = list(book["Students"].iter_rows(values_only=True))
    assert students[0] == (
        "rank",
        "nickname",
        "score",
        "right",
        "answered",
        "asked",
        "average time (s)",
    )
    assert [row[1] for row in students[1:]] == [
        safe_cell(s["nickname"]) for s in report["students"]
    ]
    grid = book["Grid"]
    rows = list(grid.iter_rows(values_only=True))
    assert rows[0] == ("nickname", "Q1 word0", "Q2 word1")
    cy = next(n for n, row in enumerate(rows, start=1) if row[0] == "Cy")
    assert grid.cell(row=cy, column=2).value == "✗ 5.0 s"
    assert grid.cell(row=cy, column=2).fill.fgColor.rgb.endswith("FFC7CE")  # red
    assert grid.cell(row=cy, column=3).fill.fgColor.rgb.endswith("C6EFCE")  # green
    eve = next(row for row in rows if row[0] == "Eve")
    assert eve[1] is None  # never asked: an empty cell
