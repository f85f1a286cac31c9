"""The teacher's report as CSV and XLSX files (``livequiz.exports``): what a teacher opens in a
spreadsheet says what the report says, and nothing a student typed runs as a formula."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from livequiz.domain.reports import class_report
from livequiz.exports import deck_id, report_csv, report_xlsx, safe_cell, words_csv, words_deck
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


# ---------------------------------------------------------------------- words to practise


def deck_notes(apkg: bytes) -> tuple[str, list[tuple[str, ...]]]:
    """The deck name and every note's fields of an Anki package, read as the SQLite file it
    is (``collection.anki2`` in a zip), as Anki itself reads it."""
    with zipfile.ZipFile(io.BytesIO(apkg)) as archive, tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "collection.anki2"
        path.write_bytes(archive.read("collection.anki2"))
        connection = sqlite3.connect(path)
        try:
            notes = [
                tuple(row[0].split("\x1f"))
                for row in connection.execute("SELECT flds FROM notes ORDER BY id")
            ]
            decks = json.loads(connection.execute("SELECT decks FROM col").fetchone()[0])
        finally:
            connection.close()
    names = [deck["name"] for deck in decks.values() if deck["name"] != "Default"]
    assert len(names) == 1, names
    return names[0], notes


WORDS = [
    {"word": "harbour", "definition": "a sheltered port", "example": "ships in the harbour"},
    {"word": "<b>brave</b>", "definition": "possessing courage & spirit", "example": ""},
]


def test_a_deck_holds_one_note_per_word_with_its_text_escaped() -> None:
    name, notes = deck_notes(words_deck("Week 3: words to practise", WORDS, key="q1/7"))
    assert name == "Week 3: words to practise"
    assert notes == [
        ("harbour", "a sheltered port", "ships in the harbour"),
        ("&lt;b&gt;brave&lt;/b&gt;", "possessing courage &amp; spirit", ""),
    ]
    empty_name, empty = deck_notes(words_deck("Nothing missed", [], key="q1/8"))
    assert (empty_name, empty) == ("Nothing missed", [])


def test_the_same_words_again_make_the_same_deck_and_notes() -> None:
    """Anki updates a deck and its notes by id and guid: a second download must not import a
    second copy."""
    assert deck_id("q1/7") == deck_id("q1/7") != deck_id("q1/8")
    assert 1 << 30 <= deck_id("q1/7") < 1 << 31

    def guids(apkg: bytes) -> list[str]:
        with zipfile.ZipFile(io.BytesIO(apkg)) as archive, tempfile.TemporaryDirectory() as d:
            path = Path(d) / "c.anki2"
            path.write_bytes(archive.read("collection.anki2"))
            connection = sqlite3.connect(path)
            try:
                return [row[0] for row in connection.execute("SELECT guid FROM notes")]
            finally:
                connection.close()

    assert guids(words_deck("a", WORDS, key="q1/7")) == guids(words_deck("b", WORDS, key="q1/7"))


def test_a_deck_leaves_no_file_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    words_deck("Week 3", WORDS, key="q1/7")
    assert list(tmp_path.iterdir()) == []


def test_words_as_csv() -> None:
    rows = list(
        csv.reader(
            io.StringIO(
                words_csv([*WORDS, {"word": "=1", "definition": "x"}]).removeprefix("\ufeff")
            )
        )
    )
    assert rows == [
        ["word", "definition", "example"],
        ["harbour", "a sheltered port", "ships in the harbour"],
        ["<b>brave</b>", "possessing courage & spirit", ""],
        ["'=1", "x", ""],
    ]
