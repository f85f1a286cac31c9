"""What the question generator knows about each entry, and how entries relate.

A :class:`Profile` is an entry seen through the rules of question making: its definition cleaned
and checked for give-aways, its example sentences turned into fill-in blanks (in an author's list,
also where a sentence holds the word in an inflected form: "She gave up smoking" for give up),
whether it may be asked at all. Working this out needs stemming and text cleaning, which is slow
next to picking one quiz, so profiles are computed on first use and kept per deck; a quiz only
ever looks at a few hundred entries of the built-in deck.

A :class:`Lexicon` answers "could this option also be right?" for the decks a quiz draws on (an
author's list and the built-in deck behind it), over every part of speech a deck has a word in
(an author's "record" the noun and "record" the verb): two words conflict when they are one
family (or the same word), when
either lists the other as a synonym (directly, through one shared synonym, or as the first word
of a synonym phrase), when their definitions are near-identical, or, where asked, when they are
antonyms.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from weakref import WeakKeyDictionary

from livequiz.vocabulary.cleaning import clean_definition, clean_example
from livequiz.vocabulary.deck import Deck, Entry, Level
from livequiz.vocabulary.inflection import head_forms, inflections
from livequiz.vocabulary.leaks import (
    FUNCTION_WORDS,
    find_phrase,
    leaks,
    same_family,
    tokenize,
)
from livequiz.vocabulary.screening import screen_reason

__all__ = [
    "BLANK",
    "MIN_BLANK_CONTEXT",
    "MIN_SYNONYM_ZIPF",
    "Blank",
    "Lexicon",
    "Profile",
    "indefinite_article",
    "near_identical",
    "profile",
    "shape",
]

#: What replaces the word in a fill-in sentence.
BLANK = "_____"
#: A fill-in sentence needs at least this many other words, or most distractors fit it too
#: ("They live in the _____ house" fits "farther" and "surreal" alike).
MIN_BLANK_CONTEXT = 6
#: A synonym offered as the answer must be at least this common (Zipf; C1 starts at 3.0).
MIN_SYNONYM_ZIPF = 3.0
#: A synonym offered as the answer may be at most this many levels away from the word.
MAX_SYNONYM_LEVEL_GAP = 1
#: Two definitions sharing this share of their content words say the same thing.
NEAR_IDENTICAL = 0.5

_SINGLE_WORD_RE = re.compile(r"[^\W\d_]+")


@dataclass(frozen=True, slots=True)
class Blank:
    """An example sentence with the word blanked out.

    ``article`` is "a" or "an" when the word right before the blank is one: the distractors must
    then take the same article, or the article gives the answer away. ``form`` is the word as
    the sentence has it when that is an inflected form ("gave up" for give up), and ``tags``
    the forms it stands for (see :mod:`livequiz.vocabulary.inflection`): the options are then
    put in the same form. Both are empty when the sentence holds the word as it is.
    """

    prompt: str
    sentence: str
    article: str | None
    form: str = ""
    tags: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Profile:
    """An entry as the question generator sees it; see the module doc.

    ``definition`` is the cleaned gloss if it may be shown before the answer (``None`` if it
    cannot be cleaned or gives the word away); ``review`` is what the after-quiz review shows.
    ``gist`` is the set of roughly stemmed content words of the gloss. ``suitable`` is false for
    entries the deck's screens keep out of questions.
    """

    entry: Entry
    key: str
    definition: str | None
    review: str
    gist: frozenset[str]
    blanks: tuple[Blank, ...]
    example: str
    suitable: bool

    @property
    def word(self) -> str:
        """The headword."""
        return self.entry.word


def shape(word: str) -> str:
    """The inflection-like ending of ``word`` ("ing", "ed", "ly", "s" or ""), for look-alikes.

    Options that all end alike ("closed", "painted", "tired") cannot be told apart by grammar.
    """
    lower = word.casefold()
    for ending in ("ing", "ed", "ly"):
        if lower.endswith(ending):
            return ending
    if lower.endswith("s") and not lower.endswith(("ss", "us", "is")):
        return "s"
    return ""


def indefinite_article(word: str) -> str:
    """ "a" or "an" for ``word``, by its spelling with the common exceptions ("an hour")."""
    lower = word.casefold()
    if lower.startswith(("hour", "honest", "honor", "honour", "heir")):
        return "an"
    if lower.startswith(("uni", "use", "usu", "uti", "ure", "eu", "one", "once", "ewe", "ubiq")):
        return "a"
    return "an" if lower[:1] in set("aeiou") else "a"


def near_identical(a: frozenset[str], b: frozenset[str]) -> bool:
    """Do two gists (content-word stems of definitions) say the same thing?"""
    if not a or not b:
        return False
    return len(a & b) / len(a | b) >= NEAR_IDENTICAL


_ENDINGS = ("ing", "ed", "es", "s", "ly")


def _root(token: str) -> str:
    """A rough stem: enough to compare two definitions, and much cheaper than Snowball."""
    for ending in _ENDINGS:
        if token.endswith(ending) and len(token) - len(ending) >= 3:
            return token[: -len(ending)]
    return token


def _gist(text: str) -> frozenset[str]:
    return frozenset(_root(t) for t in tokenize(text) if t not in FUNCTION_WORDS)


def _blank(
    word: str,
    raw: str,
    forms: frozenset[str] = frozenset(),
    inflected: dict[str, frozenset[str]] | None = None,
) -> Blank | None:
    """The fill-in of one example, if it makes one. ``inflected``: the word's inflected forms
    (see :func:`~livequiz.vocabulary.inflection.inflections`), any of which the sentence may
    hold instead of the word; the word, in whatever form, must stand in it exactly once."""
    sentence = clean_example(raw)
    if sentence is None:
        return None
    found = [(span, "", frozenset[str]()) for span in find_phrase(word, sentence)]
    for surface, tags in (inflected or {}).items():
        found += [(span, surface, tags) for span in find_phrase(surface, sentence)]
    if len(found) != 1:
        return None
    (start, end), form, tags = found[0]
    before, after = sentence[:start], sentence[end:]
    rest = f"{before} {after}"
    if leaks(word, rest, forms) or len(tokenize(rest)) < MIN_BLANK_CONTEXT:
        return None
    previous = tokenize(before)[-1:]
    article = previous[0] if previous and previous[0] in ("a", "an") else None
    prompt = before + BLANK + after
    return Blank(
        prompt=prompt[:1].upper() + prompt[1:],
        sentence=sentence,
        article=article,
        form=form,
        tags=tags,
    )


def _make_profile(entry: Entry, deck: Deck) -> Profile:
    cleaned = clean_definition(entry.definition)
    definition = (
        cleaned if cleaned is not None and not leaks(entry.word, cleaned, entry.forms) else None
    )
    # An author's examples may hold the word in any inflected form ("gave up" for give up).
    # The built-in deck's fill-ins keep to the word as it is: their audited figures
    # (docs/questions.md) were measured so.
    inflected = None if deck.screened else inflections(entry.word, entry.pos)
    forms = entry.forms | head_forms(entry.word, entry.pos) if inflected else entry.forms
    blanks = tuple(
        b
        for b in (_blank(entry.word, raw, forms, inflected) for raw in entry.examples)
        if b is not None
    )
    examples = [e for e in (clean_example(raw) for raw in entry.examples) if e is not None]
    return Profile(
        entry=entry,
        key=entry.key,
        definition=definition,
        review=cleaned or entry.definition,
        gist=_gist(cleaned or entry.definition),
        blanks=blanks,
        example=examples[0] if examples else "",
        suitable=screen_reason(entry, deck) is None,
    )


#: Profiles per deck, by word and part of speech (an author may list "record" as a noun and as
#: a verb). Weak, so an author's deck and its profiles go when the quiz is made; a profile
#: therefore must not refer to its deck.
_PROFILES: WeakKeyDictionary[Deck, dict[tuple[str, str], Profile]] = WeakKeyDictionary()


def profile(entry: Entry, deck: Deck) -> Profile:
    """The profile of ``entry`` of ``deck``, computed once per deck."""
    cache = _PROFILES.setdefault(deck, {})
    found = cache.get((entry.key, entry.pos))
    if found is None or found.entry is not entry:
        found = cache[entry.key, entry.pos] = _make_profile(entry, deck)
    return found


_REVERSE: WeakKeyDictionary[Deck, tuple[dict[str, set[str]], dict[str, set[str]]]] = (
    WeakKeyDictionary()
)


def _with_heads(words: Iterable[str]) -> set[str]:
    """``words`` case-folded, plus the first word of each phrase ("pass over" -> "pass")."""
    found = set()
    for word in words:
        tokens = word.casefold().split()
        found.add(" ".join(tokens))
        if len(tokens) > 1 and tokens[0] not in FUNCTION_WORDS:
            found.add(tokens[0])
    return found


def _reverse_index(deck: Deck) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Who lists a word as a synonym, and who as an antonym, in ``deck``."""
    index = _REVERSE.get(deck)
    if index is None:
        synonyms: dict[str, set[str]] = {}
        antonyms: dict[str, set[str]] = {}
        for entry in deck:
            for other in _with_heads(entry.synonyms):
                synonyms.setdefault(other, set()).add(entry.key)
            for other in entry.antonyms:
                antonyms.setdefault(other.casefold(), set()).add(entry.key)
        index = _REVERSE[deck] = (synonyms, antonyms)
    return index


_Cache = dict[str, frozenset[str]]
#: Caches of one-deck lexicons, per deck; weak, and holding no reference to the deck.
_SHARED: WeakKeyDictionary[Deck, tuple[_Cache, _Cache, _Cache]] = WeakKeyDictionary()


class Lexicon:
    """Everything the decks of one quiz know about words; the first deck is asked first."""

    def __init__(self, decks: Sequence[Deck]) -> None:
        self.decks = tuple(decks)
        # The answers depend only on the decks: a lexicon of one deck (the built-in one, usually)
        # shares its caches with every other lexicon of that deck, so each quiz gets faster.
        caches = _SHARED.setdefault(self.decks[0], ({}, {}, {})) if len(self.decks) == 1 else None
        self._synonyms, self._close, self._antonyms = caches or ({}, {}, {})

    def lookup(self, word: str, pos: str | None = None) -> Profile | None:
        """The profile of ``word`` from the first deck that has it: its entry as ``pos`` if
        that deck has one, else its first entry."""
        for deck in self.decks:
            entries = deck.entries_of(word)
            if entries:
                entry = next((e for e in entries if e.pos == pos), entries[0])
                return profile(entry, deck)
        return None

    def _profiles(self, key: str) -> list[Profile]:
        """Every entry of ``key`` in every deck, each part of speech of it."""
        return [profile(e, d) for d in self.decks for e in d.entries_of(key)]

    def synonyms(self, key: str) -> frozenset[str]:
        """Every word listed as a synonym of ``key``, or listing it as one, in any deck.

        A multiword synonym also brings its first word: "pass over" is a synonym of "cross",
        so "pass" is too close to be a wrong answer.
        """
        found = self._synonyms.get(key)
        if found is None:
            words: set[str] = set()
            for deck in self.decks:
                for entry in deck.entries_of(key):
                    words.update(_with_heads(entry.synonyms))
                words.update(_reverse_index(deck)[0].get(key, ()))
            found = self._synonyms[key] = frozenset(words - {key})
        return found

    def close(self, key: str) -> frozenset[str]:
        """Synonyms of ``key`` and synonyms of those: words too close to be a wrong answer."""
        found = self._close.get(key)
        if found is None:
            direct = self.synonyms(key)
            found = direct.union(*(self.synonyms(s) for s in direct)) - {key}
            self._close[key] = found
        return found

    def antonyms(self, key: str) -> frozenset[str]:
        """Every word listed as an antonym of ``key``, or listing it as one, in any deck."""
        found = self._antonyms.get(key)
        if found is None:
            words: set[str] = set()
            for deck in self.decks:
                for entry in deck.entries_of(key):
                    words.update(a.casefold() for a in entry.antonyms)
                words.update(_reverse_index(deck)[1].get(key, ()))
            found = self._antonyms[key] = frozenset(words)
        return found

    def conflicts(self, a: Profile, b: Profile, *, antonyms: bool = False) -> bool:
        """Could ``b`` pass for ``a`` as an answer? See the module doc for the rules."""
        if a.key == b.key or same_family(a.key, b.key):
            return True
        if self.related(a.key, b.key):
            return True
        if b.key in self.close(a.key) or a.key in self.close(b.key):
            return True
        if antonyms and (b.key in self.antonyms(a.key) or a.key in self.antonyms(b.key)):
            return True
        gists_a = [p.gist for p in self._profiles(a.key)] or [a.gist]
        gists_b = [p.gist for p in self._profiles(b.key)] or [b.gist]
        return any(near_identical(x, y) for x in gists_a for y in gists_b)

    def related(self, a: str, b: str) -> bool:
        """Whether a deck relates the two words in any of their senses (either direction):
        "picture" is a film in one sense, so never a wrong option for "movie"."""
        for deck in self.decks:
            if any(b in e.related for e in deck.entries_of(a)) or any(
                a in e.related for e in deck.entries_of(b)
            ):
                return True
        return False

    def synonym_answers(self, target: Profile) -> tuple[Profile, ...]:
        """The synonyms of ``target`` that can be offered as the right answer.

        A single word (letters only) that a deck has with the same part of speech, with Zipf >=
        :data:`MIN_SYNONYM_ZIPF` and at most :data:`MAX_SYNONYM_LEVEL_GAP` level from the word;
        not of the word's family, not also an antonym, not screened out; neither word inside
        the other ("site", "website"); asked in the same sense (:func:`_same_sense`), which is
        the synonym's main one (``Entry.main``).
        Multiword synonyms ("all
        the same"), rare ones ("nigh") and ones whose everyday sense is another part of speech
        ("dead" for "perfectly") make poor options.
        """
        answers = []
        seen: set[str] = set()
        for raw in target.entry.synonyms:
            key = raw.casefold()
            if key in seen or not _SINGLE_WORD_RE.fullmatch(key) or key == target.key:
                continue
            seen.add(key)
            candidate = self.lookup(key, target.entry.pos)
            if (
                candidate is None
                or candidate.entry.pos != target.entry.pos
                or not candidate.suitable
                or candidate.entry.zipf < MIN_SYNONYM_ZIPF
                or _level_gap(candidate.entry.level, target.entry.level) > MAX_SYNONYM_LEVEL_GAP
                or same_family(key, target.key)
                or key in self.antonyms(target.key)
                or key in target.key  # "site" for website: the prompt holds the answer
                or target.key in key  # "hamburger" for burger
                or not _same_sense(candidate.entry, target.entry)
                or not candidate.entry.main  # "root" for source: its rare sense
                or key in target.entry.forms  # "theater" for theatre: the other spelling
            ):
                continue
            answers.append(candidate)
        return tuple(answers)


def _same_sense(a: Entry, b: Entry) -> bool:
    """Whether two entries of the built deck are asked in the same sense (WordNet puts "bar"
    among the synonyms of "cake" in the sense of a cake of soap; a learner knows a bar as
    something else, so "bar" is no answer for "cake"). An author's words, whose sense the
    deck does not know (no field), always pass."""
    if not a.field or not b.field:
        return True
    return a.definition == b.definition


def _level_gap(a: Level, b: Level) -> int:
    return abs(a.rank - b.rank)
