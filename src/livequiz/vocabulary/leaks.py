"""Does a piece of text give a word away?

A question is worthless if its answer can be found by matching letters instead of knowing the
meaning: "colonization" asked with the definition "the act of colonizing", a fill-in sentence that
still holds "decided" next to the blank for "decide", or "happily" offered as a synonym of
"happy". Everything here answers one question, "are these two words the same word in another
form?", generously: a false alarm only costs the generator one candidate among thousands, while a
missed leak puts a give-away question in front of a class.

Two words are taken to be one family when, after lower-casing,

- they are equal, or their Snowball (English) stems are equal ("getting"/"get");
- the stem of one, if at least 4 letters long, begins the other ("colon" begins "colonizing",
  "happi" begins "happily"); shorter stems are too common as prefixes ("act" starts "actual"), so
  for them only the stem plus a common suffix counts ("act" + "ion", "run" + "n" + "ing");
- they start with the same 5 letters ("grandpa"/"grandfather"), or their stems differ only in
  the last letter and share at least 4 ("decid"/"decis");
- either starts with a negating or degree prefix ("un", "dis", "over" ...) and the rest is of the
  family of the other ("unhappiness"/"happy").

Tokens are runs of letters joined by apostrophes or hyphens, so "dog-eared" is one token for a
fill-in blank; for leak checks the parts of a hyphenated token are checked as well
("self-destruction" gives away "destruction").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import lru_cache

import snowballstemmer

__all__ = [
    "FUNCTION_WORDS",
    "find_phrase",
    "leaks",
    "same_family",
    "stem",
    "tokenize",
]


def _words(text: str) -> frozenset[str]:
    """The whitespace-separated words of ``text``: keeps long word lists readable."""
    return frozenset(text.split())


_STEMMER = snowballstemmer.stemmer("english")

#: A word: letters, possibly joined by apostrophes or hyphens ("don't", "dog-eared").
TOKEN_RE = re.compile(r"[^\W\d_]+(?:['\u2019-][^\W\d_]+)*")

#: Stems shorter than this are only matched exactly or with a common suffix (see module doc).
MIN_PREFIX_STEM = 4

#: Words starting with this many letters in common are taken to be related, whatever their
#: stems ("grandpa"/"grandfather"); a false alarm ("interest"/"internet") only costs a candidate.
SHARED_START = 5

#: Endings that turn a short word into another form of itself ("act" -> "action").
_SUFFIXES = frozenset(
    {
        "s",
        "es",
        "d",
        "ed",
        "ing",
        "er",
        "ers",
        "est",
        "ly",
        "y",
        "ion",
        "ions",
        "ive",
        "ment",
        "ments",
        "ness",
        "al",
        "ful",
        "less",
        "ity",
        "or",
        "ors",
    }
)

#: Prefixes that build a related word from a root ("unhappy", "overuse", "misread").
_PREFIXES = ("under", "over", "anti", "non", "dis", "mis", "un", "in", "im", "il", "ir", "re")
_PREFIXES_BY_LETTER = {
    letter: tuple(p for p in _PREFIXES if p.startswith(letter))
    for letter in {p[0] for p in _PREFIXES}
}

#: Function words: a definition saying "for" does not give away "forest" ("for" + "est").
FUNCTION_WORDS = _words(
    "a an the of to in on at by for from with and or but not no as is are was were be been "
    "it its he she his her him they them their we us our you your i me my this that these those "
    "who whom which what than then so such do does did has have had can may will"
)


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The Snowball (English) stem of ``word``, lower-cased; cached, as stemming is not cheap."""
    return str(_STEMMER.stemWord(word.casefold()))


def tokenize(text: str) -> list[str]:
    """The words of ``text``, lower-cased, hyphenated compounds kept whole."""
    return [match.group().casefold() for match in TOKEN_RE.finditer(text)]


def _shared_start(a: str, b: str) -> int:
    """How many letters ``a`` and ``b`` share at the start."""
    pairs = enumerate(zip(a, b, strict=False))
    return next((i for i, (x, y) in pairs if x != y), min(len(a), len(b)))


def _suffixed(base: str, other: str) -> bool:
    """Is ``other`` ``base`` plus a common ending, with a doubled consonant or dropped "e"?"""
    if not other.startswith(base[:-1]):
        return False
    candidates = [other.removeprefix(base)] if other.startswith(base) else []
    if other.startswith(base + base[-1]):  # run -> running
        candidates.append(other.removeprefix(base + base[-1]))
    if base.endswith("e"):  # use -> using
        candidates.append(other.removeprefix(base[:-1]))
    return any(ending in _SUFFIXES for ending in candidates)


def _family(a: str, b: str) -> bool:
    """The family test without prefix stripping; ``a`` and ``b`` are lower-case words."""
    if a == b:
        return True
    if a[:2] != b[:2]:  # every rule below keeps the first letters; skip the costly stemming
        return False
    if _shared_start(a, b) >= SHARED_START:  # "grandpa"/"grandfather"
        return True
    stem_a, stem_b = stem(a), stem(b)
    if stem_a == stem_b:
        return True
    if a in FUNCTION_WORDS or b in FUNCTION_WORDS:
        return False
    for word_stem, other in ((stem_a, b), (stem_b, a)):
        if len(word_stem) >= MIN_PREFIX_STEM and other.startswith(word_stem):
            return True
    short, long_ = sorted((a, b), key=len)
    if len(stem(short)) < MIN_PREFIX_STEM and _suffixed(short, long_):
        return True
    shorter = min(len(stem_a), len(stem_b))
    return shorter > MIN_PREFIX_STEM and _shared_start(stem_a, stem_b) >= shorter - 1


@lru_cache(maxsize=65536)
def same_family(a: str, b: str) -> bool:
    """Are ``a`` and ``b`` (single words, any case) forms of one word? See the module doc."""
    a, b = a.casefold(), b.casefold()
    if _family(a, b):
        return True
    for word, other in ((a, b), (b, a)):
        for prefix in _PREFIXES_BY_LETTER.get(word[:1], ()):
            if (
                word.startswith(prefix)
                and len(word) - len(prefix) >= 3
                and _family(word[len(prefix) :], other)
            ):
                return True
    return False


def _parts(token: str) -> Iterator[str]:
    yield token
    if "-" in token:
        yield from token.split("-")
    if "'" in token or "\u2019" in token:
        yield re.split(r"['\u2019]", token)[0]


def leaks(word: str, text: str, forms: Iterable[str] = ()) -> bool:
    """Does ``text`` contain ``word`` or another form of it?

    ``word`` may be a phrase ("look after"); then any of its content words (not function words)
    appearing in a form in ``text`` counts. ``forms`` are the word's forms that no stemming
    finds, from the deck (:attr:`~.deck.Entry.forms`): derived words ("anger" for angry,
    "wisdom" for wise), the other spelling ("favorite"), irregular inflections ("went").
    """
    words = tokenize(word)
    if not words:
        return False
    content = [w for w in words if w not in FUNCTION_WORDS] or words
    tokens = [part for token in tokenize(text) for part in _parts(token) if part]
    if any(same_family(w, token) for w in content for token in tokens):
        return True
    extra = {form.casefold() for form in forms} - FUNCTION_WORDS
    return bool(extra) and any(token.casefold() in extra for token in tokens)


def find_phrase(word: str, text: str) -> list[tuple[int, int]]:
    """Where ``word`` (a word or phrase) stands in ``text`` as whole tokens, case-insensitively.

    Returns ``(start, end)`` character spans. A token is matched whole, so "eared" is not found in
    "dog-eared" and "sun" is not found in "sun's" or "sunny".
    """
    target = tokenize(word)
    if not target:
        return []
    matches = list(TOKEN_RE.finditer(text))
    spans = []
    size = len(target)
    for i in range(len(matches) - size + 1):
        window = matches[i : i + size]
        if [m.group().casefold() for m in window] == target:
            spans.append((window[0].start(), window[-1].end()))
    return spans
