"""Princeton WordNet 3.0, read from its own database files: the source of the built-in deck.

The files are the ones Debian ships in ``wordnet-base`` (``data.noun``, ``data.verb``,
``data.adj``, ``data.adv``) and ``wordnet-sense-index`` (``index.sense``), in
``/usr/share/wordnet``; their format is documented in the ``wndb(5WN)`` and ``senseidx(5WN)``
manual pages. Reading them directly needs no library, and no download: the deck can be rebuilt
on any machine with those two packages (:mod:`livequiz.vocabulary.build`).

What the deck needs from WordNet, and where it is:

- **Synsets** (``data.*``): the words of one sense, its gloss (a definition, then example
  sentences in double quotes) and its pointers to other synsets or words (antonym, hypernym,
  derivation, the usage domain that marks slang or vulgar senses, …).
- **Senses** (``index.sense``): for every lemma, its senses in each part of speech, each with
  its *tag count*: how many times that sense was found in WordNet's sense-tagged texts. That
  count is what orders a word's senses by how often they are met; WordNet's sense numbers are
  that order too, with ties and untagged senses in no meaningful order.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DEFAULT_DIRECTORY", "LEXNAMES", "Pointer", "Sense", "Synset", "WordNet"]

#: Where Debian's ``wordnet-base`` and ``wordnet-sense-index`` put the files.
DEFAULT_DIRECTORY = Path("/usr/share/wordnet")

#: A data file per part of speech; satellite adjectives (``s``) live in ``data.adj``.
_DATA_FILES = {"n": "data.noun", "v": "data.verb", "a": "data.adj", "r": "data.adv"}
_FILE_OF = {"n": "n", "v": "v", "a": "a", "s": "a", "r": "r"}
#: The part of speech of each data file, as the deck names it.
POS_NAMES = {"n": "noun", "v": "verb", "a": "adjective", "r": "adverb"}
#: The lexicographer files (``lexnames(5WN)``), by number: the semantic field of a synset
#: ("noun.artifact", "verb.motion"). Debian ships no ``lexnames`` file, so the fixed list is here.
LEXNAMES = (
    "adj.all", "adj.pert", "adv.all", "noun.Tops", "noun.act", "noun.animal", "noun.artifact",
    "noun.attribute", "noun.body", "noun.cognition", "noun.communication", "noun.event",
    "noun.feeling", "noun.food", "noun.group", "noun.location", "noun.motive", "noun.object",
    "noun.person", "noun.phenomenon", "noun.plant", "noun.possession", "noun.process",
    "noun.quantity", "noun.relation", "noun.shape", "noun.state", "noun.substance",
    "noun.time", "verb.body", "verb.change", "verb.cognition", "verb.communication",
    "verb.competition", "verb.consumption", "verb.contact", "verb.creation", "verb.emotion",
    "verb.motion", "verb.perception", "verb.possession", "verb.social", "verb.stative",
    "verb.weather", "adj.ppl",
)  # fmt: skip
#: ``ss_type`` digits of a sense key (``senseidx(5WN)``).
_SS_TYPES = {"1": "n", "2": "v", "3": "a", "4": "r", "5": "a"}


@dataclass(frozen=True, slots=True)
class Pointer:
    """A relation from a synset, or from one of its words, to another synset or word.

    ``source`` and ``target`` are word numbers (1-based) within the two synsets, 0 for a
    relation between whole synsets (a hypernym) rather than words (an antonym, a derivation).
    """

    symbol: str
    target: tuple[str, int]
    source: int
    target_word: int


@dataclass(frozen=True, slots=True)
class Synset:
    """One sense: its words (as written, spaces for underscores), gloss and pointers.

    ``pos`` is the data file's letter (``n``, ``v``, ``a``, ``r``): with ``offset``, the key
    pointers and senses use.
    """

    pos: str
    offset: int
    lexname: int
    words: tuple[str, ...]
    pointers: tuple[Pointer, ...]
    gloss: str

    @property
    def key(self) -> tuple[str, int]:
        return self.pos, self.offset

    @property
    def part_of_speech(self) -> str:
        """``noun``, ``verb``, ``adjective`` or ``adverb``."""
        return POS_NAMES[self.pos]

    @property
    def field(self) -> str:
        """The semantic field of the sense, its lexicographer file ("noun.artifact")."""
        return LEXNAMES[self.lexname]

    @property
    def definition(self) -> str:
        """The gloss without its example sentences."""
        return _split_gloss(self.gloss)[0]

    @property
    def examples(self) -> tuple[str, ...]:
        """The example sentences of the gloss, without their quotes."""
        return _split_gloss(self.gloss)[1]


@dataclass(frozen=True, slots=True)
class Sense:
    """A lemma in one synset, with how often that sense was met in WordNet's tagged texts."""

    lemma: str
    synset: tuple[str, int]
    number: int
    count: int

    @property
    def pos(self) -> str:
        return POS_NAMES[self.synset[0]]


class WordNet:
    """The synsets and senses of one WordNet 3.0 database directory, all in memory."""

    def __init__(self, synsets: dict[tuple[str, int], Synset], senses: dict[str, list[Sense]]):
        self.synsets = synsets
        self.senses = senses

    @classmethod
    def load(cls, directory: Path = DEFAULT_DIRECTORY) -> WordNet:
        """Read a WordNet 3.0 database; :class:`FileNotFoundError` names a missing file."""
        synsets: dict[tuple[str, int], Synset] = {}
        for pos, name in _DATA_FILES.items():
            for line in _lines(directory / name):
                synset = _parse_synset(pos, line)
                synsets[synset.key] = synset
        senses: dict[str, list[Sense]] = {}
        for line in _lines(directory / "index.sense"):
            key, offset, number, count = line.split()
            lemma, _, rest = key.partition("%")
            sense = Sense(
                lemma.replace("_", " "),
                (_SS_TYPES[rest[0]], int(offset)),
                int(number),
                int(count),
            )
            senses.setdefault(sense.lemma, []).append(sense)
        for found in senses.values():
            found.sort(key=lambda s: (-s.count, s.synset[0], s.number))
        return cls(synsets, senses)

    def synset(self, key: tuple[str, int]) -> Synset:
        return self.synsets[key]

    def lemma_senses(self, lemma: str) -> list[Sense]:
        """The lemma's senses over every part of speech, most often met first."""
        return self.senses.get(lemma, [])

    def domains(self, symbol: str) -> dict[tuple[str, int], frozenset[str]]:
        """For each synset, the names of the domains it points to with ``symbol``: ``;u`` for
        usage ("slang", "obscenity"), ``;c`` for topic ("baseball"), ``;r`` for region."""
        found: dict[tuple[str, int], frozenset[str]] = {}
        for synset in self.synsets.values():
            names = frozenset(
                self.synsets[p.target].words[0].casefold()
                for p in synset.pointers
                if p.symbol == symbol
            )
            if names:
                found[synset.key] = names
        return found

    def related(self, lemma: str, symbols: frozenset[str]) -> set[str]:
        """The words of every synset of ``lemma`` and of what their ``symbols`` pointers reach
        (a lexical pointer reaches one word, a semantic one the whole synset), lower-cased."""
        found: set[str] = set()
        for sense in self.lemma_senses(lemma):
            synset = self.synsets[sense.synset]
            found.update(w.casefold() for w in synset.words)
            for pointer in synset.pointers:
                if pointer.symbol in symbols:
                    target = self.synsets[pointer.target]
                    if pointer.target_word:
                        found.add(target.words[pointer.target_word - 1].casefold())
                    else:
                        found.update(w.casefold() for w in target.words)
        return found

    def derived(self, lemma: str) -> set[str]:
        """Words derived from ``lemma`` or it from them, in any sense (the lexical ``+`` and
        ``\\`` pointers of the lemma itself): "anger" for angry, "imperial" for empire."""
        found: set[str] = set()
        for sense in self.lemma_senses(lemma):
            synset = self.synsets[sense.synset]
            index = [w.casefold() for w in synset.words].index(lemma) + 1
            for pointer in synset.pointers:
                if (
                    pointer.symbol in ("+", "\\")
                    and pointer.source == index
                    and pointer.target_word
                ):
                    target = self.synsets[pointer.target]
                    found.add(target.words[pointer.target_word - 1].casefold())
        return found

    def word_in(self, sense: Sense) -> str:
        """The lemma as the sense's synset writes it (its case tells a proper noun)."""
        for word in self.synsets[sense.synset].words:
            if word.casefold() == sense.lemma:
                return word
        return sense.lemma


def _lines(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if not line.startswith("  "):  # the licence header of every file
                yield line.rstrip("\n")


def _parse_synset(pos: str, line: str) -> Synset:
    head, _, gloss = line.partition(" | ")
    fields = head.split()
    offset, lexname = int(fields[0]), int(fields[1])
    count = int(fields[3], 16)
    words = []
    at = 4
    for _ in range(count):
        word = fields[at]
        if word.endswith(")") and "(" in word:  # adjective markers: (a), (p), (ip)
            word = word[: word.index("(")]
        words.append(word.replace("_", " "))
        at += 2
    pointers = []
    for _ in range(int(fields[at])):
        symbol, target, target_pos, numbers = fields[at + 1 : at + 5]
        pointers.append(
            Pointer(
                symbol,
                (_FILE_OF[target_pos], int(target)),
                int(numbers[:2], 16),
                int(numbers[2:], 16),
            )
        )
        at += 4
    return Synset(pos, offset, lexname, tuple(words), tuple(pointers), gloss.strip())


def _split_gloss(gloss: str) -> tuple[str, tuple[str, ...]]:
    """``definition; "example one"; "example two"`` → the definition and the examples.

    WordNet puts examples in double quotes after the definition; a few glosses quote a phrase
    inside the definition too, so the definition ends at the first ``; "`` only.
    """
    definition, sep, rest = gloss.partition('; "')
    examples: list[str] = []
    if sep:
        for part in ('"' + rest).split('"'):
            part = part.strip().strip(";").strip()
            if part and not part.startswith(("-", ",")):
                examples.append(part)
    return definition.strip().rstrip(";").strip(), tuple(examples)
