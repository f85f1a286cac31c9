"""An author's own word list, as CSV or JSON.

Teachers write word lists by hand or export them from a spreadsheet, so the format is forgiving
(a byte order mark, spaces around values, upper-case headers, blank lines, semicolon- or
tab-separated spreadsheet exports are all fine) and every mistake is reported with the line to
fix, in the words a teacher would use: "line 7: unknown level 'Z9' (expected A1…C2)". The whole
list is checked in one pass and :class:`WordListError` carries every mistake found (the first
:data:`MAX_PROBLEMS`, and how many there are), so a list with ten mistakes is fixed in one go,
not in ten uploads. Only a mistake that keeps the rest from being read (malformed CSV or JSON, a
header row that does not name the columns) ends the reading where it is.

Formats:

- CSV: a header row naming the columns; ``word`` is required; ``definition``, ``pos``,
  ``example`` and ``level`` are optional. Line numbers count physical lines, header included.
- A Quizlet export ("Export" of a set, as text): no header, a term and its definition on each
  line, separated by a tab (Quizlet's default), a comma or a semicolon; or the same with a
  ``term,definition`` header. Read as ``word`` and ``definition``: the definitions are the
  teacher's own, kept as written.
- JSON: a list whose items are either a word (``"apple"``) or an object with the same keys as the
  CSV columns. Errors name the line the item starts on and its position in the list
  ("line 4 (item 2): ...").

Only the word is required. Whatever else is missing is taken from the built-in deck; a word the
deck does not have needs a definition, and if it looks like a misspelling of a word the deck has
(one letter out), the error says which ("did you mean 'receive'?"). If the author's part of
speech differs from the deck's, the deck's definition and examples belong to another sense, so
nothing but the frequency is borrowed and the author must give the definition. The author's own
definitions must be presentable as an answer (2+ words, at most 120 characters, not containing the
word).

Parts of speech (``pos``, any case, a final "." and hyphens ignored):

- ``noun``, ``verb``, ``adjective``, ``adverb`` (or ``n``, ``v``, ``adj``, ``adv``): the built-in
  deck's;
- ``phrasal verb`` (or ``phrasal-verb``, ``phrasal``, ``phr v``): a verb with its particle, two
  words or more ("give up", "look after"); asked beside other phrasal verbs, topped up with plain
  verbs that are not close to its meaning, never beside a noun;
- ``expression`` (or ``idiom``, ``phrase``, ``fixed expression``): a fixed expression or idiom
  ("by the way", "break the ice"); asked beside the list's other expressions only, so a list
  needs a few of them for any to be asked.

A word may be listed once per part of speech: "record" as a noun and as a verb are two entries
(a quiz asks one of them, and never offers the other beside it). The same word twice with the
same part of speech (or without one) is a mistake naming both lines.

Example sentences are kept as written. One may hold the word in any inflected form: "She gave up
smoking" is a fill-in-the-blank example for "give up", as "runs" is for run, "studied" for study,
"went" for go and "books" for book (verbs and phrasal verbs in their past, participle, -ing and
third-person forms, nouns in the plural; :mod:`livequiz.vocabulary.inflection`). The blank then
takes the form the sentence has, the right option is that form ("gave up"), and the wrong options
are put in the same form ("looked after", "turned down"). A sentence that holds the word more than
once, or in a form of another part of speech, is still shown in the review but not used for
fill-ins.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator, Mapping, Sequence
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
from livequiz.vocabulary.deck import (
    MULTIWORD_PARTS_OF_SPEECH,
    PARTS_OF_SPEECH,
    UNKNOWN_POS,
    Deck,
    Entry,
    Level,
)
from livequiz.vocabulary.leaks import leaks, tokenize

__all__ = [
    "COLUMNS",
    "MAX_PROBLEMS",
    "MIN_WORDS",
    "Problem",
    "WordListError",
    "load_wordlist",
    "load_wordlist_file",
]

#: The columns (CSV) or keys (JSON) a word list may have; only ``word`` is required.
COLUMNS = ("word", "definition", "pos", "example", "level")
#: A list with fewer words cannot fill a quiz of its own.
MIN_WORDS = 4
#: At most this many problems are reported (all are counted): a page of mistakes is what a
#: teacher fixes in one go, and a hostile upload of a million bad lines must not make a
#: million-line answer.
MAX_PROBLEMS = 50

_POS_ALIASES = {
    "n": "noun",
    "v": "verb",
    "adj": "adjective",
    "adv": "adverb",
    "phr v": "phrasal verb",
    "phrasal": "phrasal verb",
    "idiom": "expression",
    "phrase": "expression",
    "fixed expression": "expression",
    **{pos: pos for pos in (*PARTS_OF_SPEECH, *MULTIWORD_PARTS_OF_SPEECH)},
}
_EXPECTED_POS = f"{', '.join((*PARTS_OF_SPEECH, *MULTIWORD_PARTS_OF_SPEECH)[:-1])} or expression"
_WORD_RE = re.compile(r"[^\W\d_]+(?:[ '\u2019-][^\W\d_]+)*")

Format = Literal["csv", "json"]


@dataclass(frozen=True, slots=True)
class Problem:
    """One mistake in a word list: ``line`` (1-based) is ``None`` when the problem is the list
    as a whole; ``item`` (1-based) is the position in a JSON list."""

    line: int | None
    item: int | None
    message: str

    def __str__(self) -> str:
        where = []
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.item is not None:
            where.append(f"(item {self.item})")
        return f"{' '.join(where)}: {self.message}" if where else self.message

    def to_json(self) -> dict[str, int | str | None]:
        """The problem as the HTTP API sends it: ``{"line", "item", "message"}``."""
        return {"line": self.line, "item": self.item, "message": self.message}


class WordListError(ValueError):
    """A word list that cannot be used, with every mistake found in it.

    ``problems`` are the first :data:`MAX_PROBLEMS` mistakes in list order (a problem of the
    list as a whole last); ``total`` counts them all. ``line``, ``item`` and ``message`` are
    those of the first problem. The text of the error is the first problem, followed by how
    many more there are: "line 4: ... ; and 2 more problems".
    """

    def __init__(
        self,
        line: int | None,
        message: str,
        *,
        item: int | None = None,
        problems: Sequence[Problem] = (),
        total: int | None = None,
    ) -> None:
        first = Problem(line, item, message)
        self.problems: tuple[Problem, ...] = tuple(problems) or (first,)
        self.total = max(total or 0, len(self.problems))
        super().__init__(line, message)
        self.line = line
        self.item = item
        self.message = message

    @classmethod
    def of(cls, problems: Sequence[Problem], total: int | None = None) -> WordListError:
        """The error for ``problems`` (at least one), of ``total`` in all."""
        first = problems[0]
        return cls(first.line, first.message, item=first.item, problems=problems, total=total)

    @property
    def summary(self) -> str:
        """The first problem, and how many more there are."""
        first = str(self.problems[0])
        more = self.total - 1
        return f"{first}; and {more} more problem{'s' if more > 1 else ''}" if more else first

    def __str__(self) -> str:
        return self.summary


class _Problems:
    """The mistakes found so far: the first :data:`MAX_PROBLEMS` kept, all of them counted."""

    def __init__(self) -> None:
        self.kept: list[Problem] = []
        self.total = 0

    @property
    def full(self) -> bool:
        """Whether more problems would only be counted (so their wording need not be worked
        out: a spelling suggestion costs a millisecond)."""
        return len(self.kept) >= MAX_PROBLEMS

    def add(self, problem: Problem) -> None:
        self.total += 1
        if not self.full:
            self.kept.append(problem)

    def add_all(self, error: WordListError) -> None:
        for problem in error.problems:
            self.add(problem)
        self.total += error.total - len(error.problems)


@dataclass(frozen=True, slots=True)
class _Record:
    """One word of the list as written, before checking: where it is and its raw fields."""

    line: int
    item: int | None
    fields: Mapping[str, str]

    def problem(self, message: str) -> Problem:
        return Problem(self.line, self.item, message)


def _column_problems(names: list[str], line: int, item: int | None = None) -> list[Problem]:
    return [
        Problem(line, item, f"unknown column {name!r} (expected {', '.join(COLUMNS)})")
        for name in names
        if name not in COLUMNS
    ]


def _delimiter(text: str) -> str:
    """Comma, unless the header line has none and is clearly semicolon- or tab-separated."""
    header = next((line for line in text.splitlines() if line.strip()), "")
    if "," not in header:
        for candidate in (";", "\t"):
            if candidate in header:
                return candidate
    return ","


def _csv_records(text: str) -> Iterator[_Record | Problem]:
    """The rows of a CSV list, or the problem of a row. A problem no later row can be read
    past (a broken header, malformed CSV) is raised as :class:`WordListError`."""
    delimiter = _delimiter(text)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, strict=True)
    header: list[str] | None = None
    #: A Quizlet export (or any list of that shape): no header, a term and its definition on
    #: each line (a tab between them by default). An export with commas does not quote, so the
    #: definition is the rest of the line.
    headerless = False
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
        if header is None and _term_and_definition(cells):
            header, headerless = ["word", "definition"], True
        if headerless:
            definition = delimiter.join(row[1:]).strip()  # as written, its commas too
            yield _Record(start, None, {"word": cells[0], "definition": definition})
            continue
        if header is None:
            header = [cell.casefold() for cell in cells]
            if header == ["term", "definition"]:  # Quizlet's names for the two columns
                header, headerless = ["word", "definition"], True
                continue
            problems = _column_problems([name for name in header if name], start)
            if "" in header:
                problems.append(Problem(start, None, "a column has no name"))
            if len(set(header)) != len(header):
                problems.append(Problem(start, None, "a column is named twice"))
            if "word" not in header:
                problems.append(
                    Problem(start, None, f"no 'word' column (columns: {', '.join(header)})")
                )
            if problems:  # the rows cannot be read without knowing their columns
                raise WordListError.of(problems)
            continue
        if len(cells) > len(header) and any(cells[len(header) :]):
            yield Problem(
                start, None, f"{len(cells)} values but only {len(header)} columns in the header"
            )
            continue
        yield _Record(start, None, dict(zip(header, cells, strict=False)))
    if header is None:
        raise WordListError(None, "the list is empty")


def _term_and_definition(cells: list[str]) -> bool:
    """Whether a first row is a term and its definition rather than a header: two or more
    values, none of them a column name (nor Quizlet's "term")."""
    names = {*COLUMNS, "term"}
    return len(cells) >= 2 and not any(cell.casefold() in names for cell in cells)


def _json_records(text: str) -> Iterator[_Record | Problem]:
    """The items of a JSON list, or the problem of an item; malformed JSON, or JSON that is not
    a list, is raised as :class:`WordListError`."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise WordListError(
            error.lineno, f"malformed JSON: {error.msg} (column {error.colno})"
        ) from None
    except RecursionError:
        # Found with the fuzz harness: "[[[[…" a thousand deep exhausts the decoder's stack.
        raise WordListError(None, "malformed JSON: lists or objects nested too deeply") from None
    except ValueError:
        # Found with the fuzz harness: an integer of more than 4,300 digits is refused by int()
        # itself (the limit against CVE-2020-10735), outside JSONDecodeError.
        raise WordListError(None, "malformed JSON: a number far too long") from None
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
            problems = _column_problems(names, line, number)
            fields: dict[str, str] = {}
            for name, value in zip(names, item.values(), strict=True):
                if value is None:
                    continue
                if not isinstance(value, str):
                    problems.append(Problem(line, number, f"{name!r} must be text"))
                    continue
                fields[name] = value.strip()
            if problems:
                yield from problems
            else:
                yield _Record(line, number, fields)
        else:
            yield Problem(line, number, "an item must be a word or an object")


def _definition_problem(word: str, definition: str) -> str | None:
    if len(definition.split()) < MIN_DEFINITION_WORDS:
        return f"the definition of {word!r} is too short to be an answer option"
    if len(definition) > MAX_DEFINITION_CHARS:
        return (
            f"the definition of {word!r} has {len(definition)} characters; "
            f"at most {MAX_DEFINITION_CHARS} fit on an answer button"
        )
    cleaned = clean_definition(definition)
    if cleaned is None:
        return f"the definition of {word!r} has markup that cannot be shown"
    if leaks(word, cleaned):
        found = next((t for t in tokenize(cleaned) if leaks(word, t)), word)
        return f"the definition of {word!r} contains {found!r}, which gives the answer away"
    return None


def _a(pos: str) -> str:
    """``pos`` with its article: "a noun", "an adjective"."""
    return f"{'an' if pos[:1] in 'aeiou' else 'a'} {pos}"


def _pos_of(raw: str) -> str | None:
    """The part of speech written as ``raw`` ("n.", "Phrasal-Verb", "idiom"), or ``None``."""
    return _POS_ALIASES.get(" ".join(raw.casefold().rstrip(".").replace("-", " ").split()))


def _entry(record: _Record, deck: Deck, *, suggest: bool = True) -> Entry | list[Problem]:
    """The entry of one record, or every problem of it. ``suggest``: look for the word a
    misspelt one may be (costly; not worth it once the problems will not be shown)."""
    fields = record.fields
    word = " ".join(fields.get("word", "").split())
    if not word:
        return [record.problem("the word is empty")]
    if not _WORD_RE.fullmatch(word):
        return [record.problem(f"{word!r} is not a word (letters, spaces, hyphens, apostrophes)")]
    problems: list[Problem] = []
    pos: str | None = None
    if raw_pos := fields.get("pos", "").strip():
        pos = _pos_of(raw_pos)
        if pos is None:
            problems.append(record.problem(f"unknown pos {raw_pos!r} (expected {_EXPECTED_POS})"))
        elif pos == "phrasal verb" and len(word.split()) < 2:
            problems.append(
                record.problem(
                    f"{word!r} is one word; a phrasal verb is a verb with its particle "
                    "('give up', 'look after')"
                )
            )
    level: Level | None = None
    if raw_level := fields.get("level", "").strip():
        try:
            level = Level.parse(raw_level)
        except ValueError as error:
            problems.append(record.problem(str(error)))
    definition = fields.get("definition", "").strip()
    if definition and (message := _definition_problem(word, definition)) is not None:
        problems.append(record.problem(message))
    if raw_pos and pos is None:
        return problems  # which entry of the deck it is cannot be known
    example = fields.get("example", "").strip()
    examples = (example,) if example else ()

    same_word = deck.entries_of(word)
    known = next((e for e in same_word if pos is None or e.pos == pos), None)
    if known is not None:
        if problems:
            return problems
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
        if same_word:
            message = (
                f"{word!r} is {_a(same_word[0].pos)} in the built-in deck; "
                f"give a definition for the {pos}"
            )
        elif (guess := _spelling_of(word, deck) if suggest else None) is not None:
            message = (
                f"{word!r} is not in the built-in deck; did you mean {guess!r}? "
                "If not, give its definition"
            )
        else:
            message = f"{word!r} is not in the built-in deck; give its definition"
        problems.append(record.problem(message))
    if problems:
        return problems
    other = same_word[0] if same_word else None
    return Entry(
        word=word,
        pos=pos or UNKNOWN_POS,
        definition=definition,
        examples=examples,
        zipf=other.zipf if other is not None else 0.0,
        level=level or (other.level if other is not None else Level.C2),
        forms=_forms(word, pos, other, deck),
    )


def _forms(word: str, pos: str | None, other: Entry | None, deck: Deck) -> frozenset[str]:
    """The forms no stemming finds of an author's word the deck lacks in this part of speech.

    Forms belong to the word, whatever its part of speech ("runs" for run the noun too); a
    phrasal verb has those of its verb with the particle ("gave up" for give up: "gave" alone
    in a sentence gives it away).
    """
    if other is not None:
        return other.forms
    if pos == "phrasal verb":
        verb = next((e for e in deck.entries_of(word.split()[0]) if e.pos == "verb"), None)
        if verb is not None:
            return verb.forms
    return frozenset()


@cache
def _speller() -> SpellChecker:
    # Its English word frequencies ship in the package. One edit away only: typos are mostly
    # one letter out ("recieve", "untill"), and two edits cost a second or more for a long
    # word that is no word at all, which a list of such words would multiply.
    return SpellChecker(language="en", distance=1)


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


def _duplicate(entry: Entry, seen: Mapping[str, list[tuple[str, int]]]) -> int | None:
    """The line the same word has already been listed on with the same part of speech (or
    without one, when either has none), if any."""
    for pos, line in seen.get(entry.key, ()):
        if pos == entry.pos or UNKNOWN_POS in (pos, entry.pos):
            return line
    return None


def load_wordlist(text: str, fmt: Format | None = None, *, deck: Deck | None = None) -> list[Entry]:
    """The entries of a word list given as text; ``fmt`` is sniffed when ``None``.

    Missing fields are filled from ``deck`` (default: the built-in deck). Raises
    :class:`WordListError` with every problem found (the first :data:`MAX_PROBLEMS` of them,
    and how many there are): each record is checked whatever the ones before it hold; only a
    problem that keeps the rest from being read (malformed CSV or JSON, a header that does not
    name the columns) stops the reading there.
    """
    entries, problems, total = read_wordlist(text, fmt, deck=deck)
    if total:
        raise WordListError.of(problems, total)
    return entries


def read_wordlist(
    text: str, fmt: Format | None = None, *, deck: Deck | None = None
) -> tuple[list[Entry], list[Problem], int]:
    """What :func:`load_wordlist` reads, without refusing the list for its mistakes: the
    entries that could be read, the problems (the first :data:`MAX_PROBLEMS`) and how many
    there are. A teacher's preview offers the questions the good lines make and names the
    lines left out, and why."""
    deck = deck if deck is not None else Deck.builtin()
    text = text.removeprefix("\ufeff")
    fmt = fmt or _sniff(text)
    if fmt not in ("csv", "json"):
        raise ValueError(f"unknown word list format {fmt!r} (expected 'csv' or 'json')")
    records = _csv_records(text) if fmt == "csv" else _json_records(text)
    entries: list[Entry] = []
    problems = _Problems()
    seen: dict[str, list[tuple[str, int]]] = {}
    written: set[int] = set()  # where a word was written, usable or not
    try:
        for record in records:
            if isinstance(record, Problem):
                problems.add(record)
                written.add(record.item or record.line or 0)
                continue
            written.add(record.item or record.line)
            found = _entry(record, deck, suggest=not problems.full)
            if isinstance(found, list):
                for problem in found:
                    problems.add(problem)
                continue
            line = _duplicate(found, seen)
            if line is not None:
                as_pos = f" as {_a(found.pos)}" if found.pos else ""
                problems.add(record.problem(f"{found.word!r} is already on line {line}{as_pos}"))
                continue
            seen.setdefault(found.key, []).append((found.pos, record.line))
            entries.append(found)
    except WordListError as fatal:
        problems.add_all(fatal)
    else:
        if len(written) < MIN_WORDS:
            problems.add(
                Problem(
                    None,
                    None,
                    f"a word list needs at least {MIN_WORDS} words to make a quiz; "
                    f"this one has {len(written)}",
                )
            )
    return entries, list(problems.kept), problems.total


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
