"""An author's own word list, as CSV or JSON.

Teachers write word lists by hand or export them from a spreadsheet, so the format is forgiving
(a byte order mark, spaces around values, upper-case headers, blank lines, semicolon- or
tab-separated spreadsheet exports are all fine) and every mistake is reported with the line to
fix, in the words a teacher would use: "line 7: unknown level 'Z9' (expected A1…C2)".

Formats:

- CSV: a header row naming the columns; ``word`` is required; ``definition``, ``pos``,
  ``example`` and ``level`` are optional. Line numbers count physical lines, header included.
- JSON: a list whose items are either a word (``"apple"``) or an object with the same keys as the
  CSV columns. Errors name the line the item starts on and its position in the list
  ("line 4 (item 2): ...").

Only the word is required. Whatever else is missing is taken from the built-in deck; a word the
deck does not have needs a definition, and if it looks like a misspelling of a word the deck has,
the error says which ("did you mean 'receive'?"). If the author's part of speech differs from
the deck's, the deck's definition and examples belong to another sense, so nothing but the
frequency is borrowed and the author must give the definition. The author's own definitions must be
presentable as an answer (2+ words, at most 120 characters, not containing the word).

Example sentences are kept as written; one that does not hold the word exactly (say "runs" for
"run") is still shown in the review but not used for fill-in-the-blank questions.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from os import PathLike
from pathlib import Path
from typing import Literal

from spellchecker import SpellChecker

from livequiz.vocabulary.cleaning import (
    MAX_DEFINITION_CHARS,
    MIN_DEFINITION_WORDS,
    clean_definition,
)
from livequiz.vocabulary.deck import PARTS_OF_SPEECH, UNKNOWN_POS, Deck, Entry, Level
from livequiz.vocabulary.leaks import leaks, tokenize

__all__ = ["COLUMNS", "MIN_WORDS", "WordListError", "load_wordlist", "load_wordlist_file"]

#: The columns (CSV) or keys (JSON) a word list may have; only ``word`` is required.
COLUMNS = ("word", "definition", "pos", "example", "level")
#: A list with fewer words cannot fill a quiz of its own.
MIN_WORDS = 4

_POS_ALIASES = {
    "n": "noun",
    "v": "verb",
    "adj": "adjective",
    "adv": "adverb",
    **{pos: pos for pos in PARTS_OF_SPEECH},
}
_WORD_RE = re.compile(r"[^\W\d_]+(?:[ '\u2019-][^\W\d_]+)*")

Format = Literal["csv", "json"]


class WordListError(ValueError):
    """A word list that cannot be used, and where: ``line`` (1-based) is ``None`` when the
    problem is the list as a whole; ``item`` (1-based) is the position in a JSON list."""

    def __init__(self, line: int | None, message: str, *, item: int | None = None) -> None:
        super().__init__(line, message)
        self.line = line
        self.item = item
        self.message = message

    def __str__(self) -> str:
        where = []
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.item is not None:
            where.append(f"(item {self.item})")
        return f"{' '.join(where)}: {self.message}" if where else self.message


@dataclass(frozen=True, slots=True)
class _Record:
    """One word of the list as written, before checking: where it is and its raw fields."""

    line: int
    item: int | None
    fields: Mapping[str, str]

    def error(self, message: str) -> WordListError:
        return WordListError(self.line, message, item=self.item)


def _check_columns(names: list[str], line: int, item: int | None = None) -> None:
    for name in names:
        if name not in COLUMNS:
            raise WordListError(
                line,
                f"unknown column {name!r} (expected {', '.join(COLUMNS)})",
                item=item,
            )


def _delimiter(text: str) -> str:
    """Comma, unless the header line has none and is clearly semicolon- or tab-separated."""
    header = next((line for line in text.splitlines() if line.strip()), "")
    if "," not in header:
        for candidate in (";", "\t"):
            if candidate in header:
                return candidate
    return ","


def _csv_records(text: str) -> Iterator[_Record]:
    reader = csv.reader(io.StringIO(text), delimiter=_delimiter(text), strict=True)
    header: list[str] | None = None
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader, None)
        except csv.Error as error:
            raise WordListError(start, f"malformed CSV: {error}") from None
        if row is None:
            break
        cells = [cell.strip() for cell in row]
        if not any(cells):
            continue
        if header is None:
            header = [cell.casefold() for cell in cells]
            _check_columns([name for name in header if name], start)
            if "" in header:
                raise WordListError(start, "a column has no name")
            if len(set(header)) != len(header):
                raise WordListError(start, "a column is named twice")
            if "word" not in header:
                raise WordListError(start, f"no 'word' column (columns: {', '.join(header)})")
            continue
        if len(cells) > len(header) and any(cells[len(header) :]):
            raise WordListError(
                start, f"{len(cells)} values but only {len(header)} columns in the header"
            )
        yield _Record(start, None, dict(zip(header, cells, strict=False)))
    if header is None:
        raise WordListError(None, "the list is empty")


def _json_records(text: str) -> Iterator[_Record]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise WordListError(
            error.lineno, f"malformed JSON: {error.msg} (column {error.colno})"
        ) from None
    if not isinstance(data, list):
        raise WordListError(None, "a JSON word list must be a list of words or of objects")
    decoder = json.JSONDecoder()
    position = text.index("[") + 1
    for number, item in enumerate(data, start=1):
        while text[position] in " \t\r\n,":
            position += 1
        line = text.count("\n", 0, position) + 1
        _, position = decoder.raw_decode(text, position)
        if isinstance(item, str):
            yield _Record(line, number, {"word": item})
        elif isinstance(item, dict):
            names = [str(key).strip().casefold() for key in item]
            _check_columns(names, line, number)
            fields: dict[str, str] = {}
            for name, value in zip(names, item.values(), strict=True):
                if value is None:
                    continue
                if not isinstance(value, str):
                    raise WordListError(line, f"{name!r} must be text", item=number)
                fields[name] = value.strip()
            yield _Record(line, number, fields)
        else:
            raise WordListError(line, "an item must be a word or an object", item=number)


def _check_definition(record: _Record, word: str, definition: str) -> None:
    if len(definition.split()) < MIN_DEFINITION_WORDS:
        raise record.error(f"the definition of {word!r} is too short to be an answer option")
    if len(definition) > MAX_DEFINITION_CHARS:
        raise record.error(
            f"the definition of {word!r} has {len(definition)} characters; "
            f"at most {MAX_DEFINITION_CHARS} fit on an answer button"
        )
    cleaned = clean_definition(definition)
    if cleaned is None:
        raise record.error(f"the definition of {word!r} has markup that cannot be shown")
    if leaks(word, cleaned):
        found = next((t for t in tokenize(cleaned) if leaks(word, t)), word)
        raise record.error(
            f"the definition of {word!r} contains {found!r}, which gives the answer away"
        )


def _entry(record: _Record, deck: Deck) -> Entry:
    fields = record.fields
    word = " ".join(fields.get("word", "").split())
    if not word:
        raise record.error("the word is empty")
    if not _WORD_RE.fullmatch(word):
        raise record.error(f"{word!r} is not a word (letters, spaces, hyphens, apostrophes)")
    pos: str | None = None
    if raw_pos := fields.get("pos", "").strip():
        pos = _POS_ALIASES.get(raw_pos.casefold().rstrip("."))
        if pos is None:
            raise record.error(
                f"unknown pos {raw_pos!r} (expected noun, verb, adjective or adverb)"
            )
    level: Level | None = None
    if raw_level := fields.get("level", "").strip():
        try:
            level = Level.parse(raw_level)
        except ValueError as error:
            raise record.error(str(error)) from None
    definition = fields.get("definition", "").strip()
    if definition:
        _check_definition(record, word, definition)
    example = fields.get("example", "").strip()
    examples = (example,) if example else ()

    known = deck.get(word)
    if known is not None and (pos is None or pos == known.pos):
        return Entry(
            word=word,
            pos=known.pos,
            definition=definition or known.definition,
            examples=examples or known.examples,
            synonyms=known.synonyms,
            antonyms=known.antonyms,
            zipf=known.zipf,
            level=level or known.level,
            related=known.related,
            forms=known.forms,
            # the deck's sense only if the author took its definition too
            field="" if definition else known.field,
            fields=known.fields,
        )
    if not definition:
        if known is not None:
            raise record.error(
                f"{word!r} is a {known.pos} in the built-in deck; give a definition for the {pos}"
            )
        guess = _spelling_of(word, deck)
        if guess is not None:
            raise record.error(
                f"{word!r} is not in the built-in deck; did you mean {guess!r}? "
                "If not, give its definition"
            )
        raise record.error(f"{word!r} is not in the built-in deck; give its definition")
    return Entry(
        word=word,
        pos=pos or UNKNOWN_POS,
        definition=definition,
        examples=examples,
        zipf=known.zipf if known is not None else 0.0,
        level=level or (known.level if known is not None else Level.C2),
        # forms belong to the word, whatever its part of speech ("runs" for run the noun too)
        forms=known.forms if known is not None else frozenset(),
    )


@cache
def _speller() -> SpellChecker:
    return SpellChecker(language="en")  # its English word frequencies ship in the package


def _spelling_of(word: str, deck: Deck) -> str | None:
    """The deck's word ``word`` is most likely a misspelling of ("recieve": receive), if any.

    Without it a teacher's typo would be taken as a new word and taught as written.
    """
    if not word.isalpha():
        return None
    guess = _speller().correction(word.casefold())
    return guess if guess is not None and guess != word.casefold() and guess in deck else None


def _sniff(text: str) -> Format:
    return "json" if text.lstrip()[:1] in ("[", "{") else "csv"


def load_wordlist(text: str, fmt: Format | None = None, *, deck: Deck | None = None) -> list[Entry]:
    """The entries of a word list given as text; ``fmt`` is sniffed when ``None``.

    Missing fields are filled from ``deck`` (default: the built-in deck). Raises
    :class:`WordListError` naming the line of the first problem found.
    """
    deck = deck if deck is not None else Deck.builtin()
    text = text.removeprefix("\ufeff")
    fmt = fmt or _sniff(text)
    if fmt not in ("csv", "json"):
        raise ValueError(f"unknown word list format {fmt!r} (expected 'csv' or 'json')")
    records = _csv_records(text) if fmt == "csv" else _json_records(text)
    entries: list[Entry] = []
    lines: dict[str, int] = {}
    for record in records:
        entry = _entry(record, deck)
        if entry.key in lines:
            raise record.error(f"{entry.word!r} is already on line {lines[entry.key]}")
        lines[entry.key] = record.line
        entries.append(entry)
    if len(entries) < MIN_WORDS:
        raise WordListError(
            None,
            f"a word list needs at least {MIN_WORDS} words to make a quiz; "
            f"this one has {len(entries)}",
        )
    return entries


def load_wordlist_file(
    path: str | PathLike[str], fmt: Format | None = None, *, deck: Deck | None = None
) -> list[Entry]:
    """The entries of the word list in the file at ``path``.

    The format comes from ``fmt``, else from the file's extension (``.csv``, ``.json``), else
    from its content. The file must be UTF-8 (a byte order mark is fine).
    """
    file = Path(path)
    try:
        text = file.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        prefix = file.read_bytes()[: error.start]
        raise WordListError(
            prefix.count(b"\n") + 1, "the file is not UTF-8 text; save it as UTF-8"
        ) from None
    suffix = file.suffix.casefold()
    if fmt is None and suffix in (".csv", ".json"):
        fmt = "csv" if suffix == ".csv" else "json"
    return load_wordlist(text, fmt, deck=deck)
