"""Headwords and the deck that holds them.

An :class:`Entry` is one headword with the gloss of its most used sense, examples, synonyms,
antonyms and a frequency band. A :class:`Deck` is a set of entries with the two indexes the
question generator needs: by word (to check a candidate answer against everything the deck knows
about it) and by (level, part of speech) (distractors must look like the answer: same part of
speech, similar difficulty).

The built-in deck (:meth:`Deck.builtin`) is read from the package data once per process; the file
ships inside the package, so it is read with :mod:`importlib.resources` and works from a wheel or
a zip as well as from a checkout.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any

__all__ = [
    "DISTRACTOR_POS",
    "MULTIWORD_PARTS_OF_SPEECH",
    "PARTS_OF_SPEECH",
    "UNKNOWN_POS",
    "Deck",
    "Entry",
    "Level",
]

#: The parts of speech of the built-in deck.
PARTS_OF_SPEECH = ("noun", "verb", "adjective", "adverb")
#: Parts of speech only an author's list has: a verb with its particle ("give up", "look
#: after") and a fixed expression or idiom ("by the way", "break the ice"). Each is asked and
#: offered beside its own kind first (see :data:`DISTRACTOR_POS`).
MULTIWORD_PARTS_OF_SPEECH = ("phrasal verb", "expression")
#: For each part of speech, the others whose words may stand in as wrong options once its own
#: run out, in order: a phrasal verb can be offered beside plain verbs ("gave up", "stopped"),
#: but never beside a noun.
DISTRACTOR_POS: dict[str, tuple[str, ...]] = {"phrasal verb": ("verb",)}
#: The part of speech of an author's word that is neither given nor in the built-in deck.
UNKNOWN_POS = ""

_DATA_FILE = "vocabulary.jsonl"


class Level(StrEnum):
    """A CEFR-like difficulty band, A1 (most common words) to C2 (rarest).

    The built-in levels come from word frequency alone (Zipf scale; see ``data/NOTICE.md``), so
    they say how often a word is met, not how hard its meaning is.
    """

    A1 = "A1"
    A2 = "A2"
    B1 = "B1"
    B2 = "B2"
    C1 = "C1"
    C2 = "C2"

    @property
    def rank(self) -> int:
        """0 for A1 up to 5 for C2; the distance between two levels is the difference."""
        return _LEVELS.index(self)

    @classmethod
    def parse(cls, text: str) -> Level:
        """The level written as ``text`` ("b2", " B2 "); :class:`ValueError` if there is none."""
        try:
            return cls(text.strip().upper())
        except ValueError:
            raise ValueError(f"unknown level {text!r} (expected A1\u2026C2)") from None

    @classmethod
    def from_zipf(cls, zipf: float) -> Level:
        """The band of a Zipf frequency, with the thresholds the built-in data was made with."""
        for level, floor in _ZIPF_FLOORS:
            if zipf >= floor:
                return level
        return cls.C2

    def at_distance(self, distance: int) -> tuple[Level, ...]:
        """The levels exactly ``distance`` bands away, the easier one first."""
        if distance == 0:
            return (self,)
        ranks = (self.rank - distance, self.rank + distance)
        return tuple(_LEVELS[r] for r in ranks if 0 <= r < len(_LEVELS))


_LEVELS = tuple(Level)
_ZIPF_FLOORS = (
    (Level.A1, 5.0),
    (Level.A2, 4.5),
    (Level.B1, 4.0),
    (Level.B2, 3.5),
    (Level.C1, 3.0),
)


@dataclass(frozen=True, slots=True)
class Entry:
    """One headword.

    ``pos`` is one of :data:`PARTS_OF_SPEECH`, one of :data:`MULTIWORD_PARTS_OF_SPEECH` (an
    author's own words only), or :data:`UNKNOWN_POS` for an author's own word whose part of
    speech nobody gave. ``definition`` and ``examples`` are the raw data; the
    generator cleans them (see :mod:`livequiz.vocabulary.cleaning`). ``zipf`` is 0.0 when the
    frequency is unknown.
    """

    word: str
    pos: str
    definition: str
    examples: tuple[str, ...] = ()
    synonyms: tuple[str, ...] = ()
    antonyms: tuple[str, ...] = ()
    zipf: float = 0.0
    level: Level = Level.C2
    #: Words that are right in *some* sense of this one (synonyms, antonyms, hypernyms,
    #: hyponyms, derived forms over all its senses; see :mod:`livequiz.vocabulary.build`):
    #: never a wrong option beside it. Empty for an author's own words.
    related: frozenset[str] = frozenset()
    #: Forms of the word no stemming finds: derived words ("anger" for angry), the other
    #: spelling ("favorite"), irregular inflections ("went"). A prompt holding one gives the
    #: word away. Empty for an author's own words.
    forms: frozenset[str] = frozenset()
    #: Whether the sense and its definition suit A1–B1 learners: the word's most met sense or
    #: near it, in common words (see :mod:`livequiz.vocabulary.build`). An author's own words
    #: are taken as the author chose them.
    for_beginners: bool = True
    #: The semantic field of the asked sense, WordNet's lexicographer file ("noun.artifact"),
    #: and the fields of all the word's senses in its part of speech. A fill-in's wrong options
    #: come from other fields, so they do not fit the sentence (see
    #: :mod:`livequiz.vocabulary.questions`). Empty for an author's own words.
    field: str = ""
    fields: frozenset[str] = frozenset()
    #: Whether the generator may offer the word as a wrong option: a word some source knows
    #: (WordNet's tagged texts, or a CEFR list), not one whose frequency is a name's
    #: ("franklin", "khan"), not a subject a class should not meet by chance ("ganja"). Other
    #: words read as junk beside the answer; they may still be asked. True for an author's.
    plain: bool = True
    #: Whether the asked sense is the word's main one (met most often, or WordNet's first if
    #: none was met): only then is the word a synonym question's answer. True for an author's.
    main: bool = True

    def __post_init__(self) -> None:
        if not self.word.strip():
            raise ValueError("an entry needs a word")
        if (
            self.pos not in PARTS_OF_SPEECH
            and self.pos not in MULTIWORD_PARTS_OF_SPEECH
            and self.pos != UNKNOWN_POS
        ):
            raise ValueError(f"unknown part of speech {self.pos!r} for {self.word!r}")
        if not isinstance(self.level, Level):
            object.__setattr__(self, "level", Level.parse(self.level))

    @property
    def key(self) -> str:
        """The word as the deck looks it up: case-folded."""
        return self.word.casefold()

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Entry:
        """An entry from one object of the JSON Lines data."""
        return cls(
            word=record["word"],
            pos=record["pos"],
            definition=record["definition"],
            examples=tuple(record.get("examples", ())),
            synonyms=tuple(record.get("synonyms", ())),
            antonyms=tuple(record.get("antonyms", ())),
            zipf=float(record.get("zipf", 0.0)),
            level=_LEVEL_OF[record["level"]],
            related=frozenset(record.get("related", ())),
            forms=frozenset(record.get("forms", ())),
            for_beginners=bool(record.get("for_beginners", True)),
            field=record.get("field", ""),
            fields=_fields(tuple(record.get("fields", ()))),
            plain=record.get("plain", True),
            main=record.get("main", True),
        )


_LEVEL_OF = {level.value: level for level in Level}


@cache
def _fields(names: tuple[str, ...]) -> frozenset[str]:
    """One set per distinct list of fields: a few hundred for the whole deck."""
    return frozenset(names)


class Deck:
    """An immutable collection of entries, indexed for question making.

    A word is in a deck once per part of speech: an author may list "record" as a noun and as a
    verb. Looking a word up (:meth:`get`, ``deck[word]``) gives its first entry;
    :meth:`entries_of` gives them all.

    ``screened`` says whether the generator should apply the data-quality screens meant for the
    automatically built data (see :mod:`livequiz.vocabulary.screening`); it is on for the
    built-in deck and off for an author's own list, whose words were chosen by a person.
    """

    __slots__ = (
        "__weakref__",
        "_all_by_word",
        "_by_level",
        "_by_level_pos",
        "_by_word",
        "_entries",
        "screened",
    )

    def __init__(self, entries: Iterable[Entry], *, screened: bool = False) -> None:
        self._entries = tuple(entries)
        self.screened = screened
        self._by_word: dict[str, Entry] = {}
        all_by_word: dict[str, list[Entry]] = {}
        by_level_pos: dict[tuple[Level, str], list[Entry]] = {}
        by_level: dict[Level, list[Entry]] = {}
        for entry in self._entries:
            key = entry.key
            first = self._by_word.setdefault(key, entry)
            if first is not entry:  # the same word again: rare, so kept apart
                same_word = all_by_word.setdefault(key, [first])
                if any(other.pos == entry.pos for other in same_word):
                    article = "an" if entry.pos[:1] in "aeiou" else "a"
                    as_pos = f" as {article} {entry.pos}" if entry.pos else ""
                    raise ValueError(f"the word {entry.word!r} is in the deck twice{as_pos}")
                same_word.append(entry)
            by_level_pos.setdefault((entry.level, entry.pos), []).append(entry)
            by_level.setdefault(entry.level, []).append(entry)
        #: only the words with more than one entry
        self._all_by_word = {key: tuple(group) for key, group in all_by_word.items()}
        self._by_level_pos = {key: tuple(group) for key, group in by_level_pos.items()}
        self._by_level = {key: tuple(group) for key, group in by_level.items()}

    @classmethod
    def from_jsonl(cls, text: str, *, screened: bool = False) -> Deck:
        """A deck from JSON Lines text in the format of the built-in data file."""
        lines = [line for line in text.splitlines() if line.strip()]
        # one decoder call for the whole file: a call per line costs twice the time
        records = json.loads("[" + ",".join(lines) + "]")
        return cls((Entry.from_record(record) for record in records), screened=screened)

    @classmethod
    def builtin(cls) -> Deck:
        """The built-in deck (``livequiz deck build``); loaded on first use, then shared."""
        return _builtin_deck()

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._entries)

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and word.casefold() in self._by_word

    def __getitem__(self, word: str) -> Entry:
        """The entry for ``word`` (any case); :class:`KeyError` if the deck does not have it."""
        return self._by_word[word.casefold()]

    def get(self, word: str) -> Entry | None:
        """The (first) entry for ``word`` (any case), or ``None``."""
        return self._by_word.get(word.casefold())

    def entries_of(self, word: str) -> tuple[Entry, ...]:
        """Every entry for ``word`` (any case), one per part of speech, in deck order."""
        key = word.casefold()
        several = self._all_by_word.get(key)
        if several is not None:
            return several
        first = self._by_word.get(key)
        return () if first is None else (first,)

    def __repr__(self) -> str:
        return f"<Deck of {len(self)} entries{' (screened)' if self.screened else ''}>"

    def with_level_and_pos(self, level: Level, pos: str) -> tuple[Entry, ...]:
        """The entries of one level and part of speech, in deck order (most frequent first)."""
        return self._by_level_pos.get((level, pos), ())

    def with_level(self, level: Level) -> tuple[Entry, ...]:
        """The entries of one level, in deck order."""
        return self._by_level.get(level, ())

    def levels(self) -> tuple[Level, ...]:
        """The levels that have at least one entry, easiest first."""
        return tuple(level for level in Level if level in self._by_level)


@cache
def _builtin_deck() -> Deck:
    text = (
        resources.files("livequiz.vocabulary")
        .joinpath("data", _DATA_FILE)
        .read_text(encoding="utf-8")
    )
    return Deck.from_jsonl(text, screened=True)
