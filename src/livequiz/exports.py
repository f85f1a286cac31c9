"""Files to download: the teacher's report as CSV and XLSX, missed words as an Anki deck or CSV.

Pure functions from the report's JSON to bytes, so the HTTP API only picks one. The XLSX
workbook (openpyxl) has the three views a teacher asks for:

* **Words**: hardest first, with the share who knew each, the average time, the wrong answer
  picked most, and whether it is to reteach;
* **Students**: rank, nickname, points, right answers of those asked, average time;
* **Grid**: a student × word table, each cell ✓ or ✗ with the seconds taken (– for no answer,
  blank for a word never put to that student).

The CSV is the grid with the student columns in front (one file, opened by any spreadsheet).
Text a player typed (nicknames) is written so a spreadsheet never runs it as a formula.

Words to keep practising (a learner's missed words, a class's words to reteach) go out as an
Anki deck (genanki: a note per word, the word on the front, its meaning and example on the
back) or as CSV (Quizlet and most flashcard apps import ``word,definition``).
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import sqlite3
import tempfile
import time
import zipfile
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import genanki

# openpyxl and genanki are imported when a file is first made, not with the server: together
# they are ~38 MiB of every process's memory, for a download at the end of some quizzes.

JSON = dict[str, Any]

#: The media type of an Excel workbook (ECMA-376).
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

#: Excel and LibreOffice read a CSV file as UTF-8 (accented nicknames) only after this mark.
_BOM = "\ufeff"
#: A cell starting with one of these is a formula to a spreadsheet (OWASP "CSV injection").
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: Grid cells: green for a right answer, red for a wrong one (fill colours, ARGB).
_RIGHT, _WRONG = "C6EFCE", "FFC7CE"


def safe_cell(text: str) -> str:
    """A cell that a spreadsheet shows as the text it is: one starting with ``= + - @`` (or a
    tab or carriage return) would be run as a formula (CSV injection, OWASP)."""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def seconds(ms: int | None) -> float | None:
    """Milliseconds as seconds with one decimal (what a teacher reads), ``None`` kept."""
    return None if ms is None else round(ms / 1000, 1)


def grid_cell(cell: JSON | None) -> str:
    """One student's answer to one word: ``✓ 3.2 s``, ``✗ 7.0 s``, ``–`` (asked, no answer) or
    ``""`` (never asked)."""
    if cell is None:
        return ""
    if cell["option"] is None:
        return "–"
    return f"{'✓' if cell['correct'] else '✗'} {seconds(cell['elapsed_ms'])} s"


def _word_columns(report: JSON) -> list[JSON]:
    """The words in quiz order: the grid's columns, and the order of each student's cells."""
    return sorted(report["words"], key=lambda word: word["index"])


def results_csv(report: JSON) -> str:
    """The final results (``views.final_results``) as CSV: a row per player in rank order."""
    out = io.StringIO()
    out.write(_BOM)
    writer = csv.writer(out)
    writer.writerow(["rank", "nickname", "score", "correct", "answered", "questions"])
    asked = len(report["questions"])
    for line in report["players"]:
        writer.writerow(
            [
                line["rank"],
                safe_cell(line["nickname"]),
                line["score"],
                line["correct"],
                line["answered"],
                asked,
            ]
        )
    return out.getvalue()


def report_csv(report: JSON) -> str:
    """The student × word grid, a row per student in rank order."""
    words = _word_columns(report)
    out = io.StringIO()
    out.write(_BOM)
    writer = csv.writer(out)
    writer.writerow(
        ["rank", "nickname", "score", "correct", "asked", "average_s"]
        + [f"Q{word['index'] + 1} {word['word']}" for word in words]
    )
    for student in report["students"]:
        writer.writerow(
            [
                student["rank"],
                safe_cell(student["nickname"]),
                student["score"],
                student["correct"],
                student["asked"],
                seconds(student["average_ms"]),
                *(grid_cell(cell) for cell in student["cells"]),
            ]
        )
    return out.getvalue()


def report_xlsx(report: JSON, *, title: str) -> bytes:
    """The workbook: Words, Students and Grid sheets."""
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill

    bold = Font(bold=True)
    fills = {
        True: PatternFill("solid", fgColor=_RIGHT),
        False: PatternFill("solid", fgColor=_WRONG),
    }
    book = Workbook()
    words_sheet = book.active
    assert words_sheet is not None
    words_sheet.title = "Words"
    words_sheet.append([f"{safe_cell(title)}: words, hardest first"])
    words_sheet["A1"].font = bold
    words_sheet.append(
        [
            "word",
            "question",
            "right answer",
            "knew it (%)",
            "right",
            "asked",
            "average time (s)",
            "wrong answer picked most",
            "picked by",
            "to reteach",
        ]
    )
    for word in report["words"]:
        wrong = word["most_picked_wrong"]
        share = word["share_correct"]
        words_sheet.append(
            [
                word["word"],
                word["prompt"],
                word["answer"],
                None if share is None else round(100 * share),
                word["correct"],
                word["asked"],
                seconds(word["average_ms"]),
                None if wrong is None else wrong["text"],
                None if wrong is None else wrong["count"],
                "yes" if word["to_reteach"] else "",
            ]
        )
    students_sheet = book.create_sheet("Students")
    students_sheet.append(
        ["rank", "nickname", "score", "right", "answered", "asked", "average time (s)"]
    )
    for student in report["students"]:
        students_sheet.append(
            [
                student["rank"],
                safe_cell(student["nickname"]),
                student["score"],
                student["correct"],
                student["answered"],
                student["asked"],
                seconds(student["average_ms"]),
            ]
        )
    grid = book.create_sheet("Grid")
    columns = _word_columns(report)
    grid.append(["nickname"] + [f"Q{word['index'] + 1} {word['word']}" for word in columns])
    for student in report["students"]:
        cells = student["cells"]
        grid.append([safe_cell(student["nickname"])] + [grid_cell(cell) for cell in cells])
        row = grid.max_row
        for offset, cell in enumerate(cells, start=2):
            if cell is not None and cell["option"] is not None:
                grid.cell(row=row, column=offset).fill = fills[bool(cell["correct"])]
    for sheet in (words_sheet, students_sheet, grid):
        for header in sheet[2 if sheet is words_sheet else 1]:
            header.font = bold
        sheet.freeze_panes = "B3" if sheet is words_sheet else "B2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# ---------------------------------------------------------------------- words to practise

#: The note type of every livequiz deck: fixed, so importing a later deck updates the same
#: kind of note instead of adding a copy of the type (genanki's advice: a constant id).
ANKI_MODEL_ID = 1_790_418_223


@cache
def anki_model() -> genanki.Model:
    """The note type: the word on the front, its meaning and example on the back."""
    import genanki

    return genanki.Model(
        ANKI_MODEL_ID,
        "livequiz word",
        fields=[{"name": "Word"}, {"name": "Meaning"}, {"name": "Example"}],
        templates=[
            {
                "name": "Word → meaning",
                "qfmt": '<div class="word">{{Word}}</div>',
                "afmt": '{{FrontSide}}<hr id="answer"><div class="meaning">{{Meaning}}</div>'
                '{{#Example}}<div class="example">{{Example}}</div>{{/Example}}',
            }
        ],
        css=".card { font-family: sans-serif; font-size: 22px; text-align: center; }"
        " .word { font-size: 32px; font-weight: bold; } .example { font-style: italic;"
        " margin-top: 12px; color: #555; }",
    )


APKG_MEDIA_TYPE = "application/apkg"


def deck_id(key: str) -> int:
    """A deck id stable for ``key`` (a quiz and a player): downloading the same words again and
    importing them updates that deck instead of making a second one."""
    return 1 << 30 | int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") >> 2


def words_deck(name: str, words: Sequence[JSON], *, key: str) -> bytes:
    """An Anki package (``.apkg``) with one note per word (``word``, ``definition``,
    ``example``), named ``name``.

    Text is escaped: Anki shows fields as HTML, and a teacher's word list is not trusted to be
    markup. Written here rather than by ``genanki.Package.write_to_file``, which leaves its
    temporary database file behind on every call (a server would fill its disk).
    """
    import genanki

    deck = genanki.Deck(deck_id(key), name)
    for word in words:
        fields = [html.escape(word["word"]), html.escape(word["definition"])]
        fields.append(html.escape(word.get("example") or ""))
        guid = genanki.guid_for(key, word["word"], word["definition"])
        deck.add_note(genanki.Note(model=anki_model(), fields=fields, guid=guid))
    package = genanki.Package(deck)
    with tempfile.TemporaryDirectory(prefix="livequiz-deck-") as folder:
        database = Path(folder) / "collection.anki2"
        connection = sqlite3.connect(database)
        try:
            now = time.time()
            package.write_to_db(connection.cursor(), now, iter(range(int(now * 1000), 1 << 62)))
            connection.commit()
        finally:
            connection.close()
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.write(database, "collection.anki2")
            archive.writestr("media", "{}")
        return out.getvalue()


def words_csv(words: Sequence[JSON]) -> str:
    """``word,definition,example`` rows under a header, for any flashcard app."""
    out = io.StringIO()
    out.write(_BOM)
    writer = csv.writer(out)
    writer.writerow(["word", "definition", "example"])
    for word in words:
        writer.writerow(
            [
                safe_cell(word["word"]),
                safe_cell(word["definition"]),
                safe_cell(word.get("example") or ""),
            ]
        )
    return out.getvalue()
