"""Inflected forms of a word or phrase, so that "She gave up smoking" can ask "give up".

A fill-in sentence may hold its word in another form ("gave up" for give up, "runs" for run,
"studied", "went", "books"). The blank then takes that form, and every option is put in the same
form ("looked after", "turned down"), so the options stay grammatically parallel and only the
meaning tells them apart. The forms come from ``lemminflect`` (its dictionary of English
inflections, with rules for words it does not know), by Penn Treebank tag:

- verbs and phrasal verbs inflect their verb, the first word: past (VBD), past participle
  (VBN), -ing form (VBG), third person singular (VBZ): "give up" -> "gave up", "given up", ...;
- nouns inflect their last word to the plural (NNS): "bus stop" -> "bus stops".

Adjectives, adverbs, expressions and words of unknown part of speech are only matched as
written. A form equal to the word itself ("put" for put, past) is the word, not an inflection.
A form can carry several tags ("looked" is past and past participle); an option must then have
one form for all of them ("turned", not "took"/"taken"), or it is not offered.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

__all__ = ["INFLECTED_TAGS", "head_forms", "inflect", "inflections"]

#: The tags a part of speech is inflected to, besides its base form.
INFLECTED_TAGS: dict[str, tuple[str, ...]] = {
    "verb": ("VBD", "VBN", "VBG", "VBZ"),
    "phrasal verb": ("VBD", "VBN", "VBG", "VBZ"),
    "noun": ("NNS",),
}


@lru_cache(maxsize=1 << 17)  # the built-in deck's 18,945 words, four tags each, fit
def _inflection(lemma: str, tag: str) -> tuple[str, ...]:
    """lemminflect's forms of ``lemma`` for ``tag``, most common first. Imported on first use:
    it brings numpy, which a server that only asks the built-in deck need not load."""
    from lemminflect import getInflection

    return tuple(getInflection(lemma, tag))


def _head(words: list[str], pos: str) -> int:
    """Which word of a phrase inflects: the verb first, the noun last ("bus stop")."""
    return len(words) - 1 if pos == "noun" else 0


def _with_head(words: list[str], index: int, form: str) -> str:
    return " ".join([*words[:index], form, *words[index + 1 :]])


@lru_cache(maxsize=8192)
def inflections(word: str, pos: str) -> dict[str, frozenset[str]]:
    """The inflected forms of ``word`` (lower-case) with the tags each stands for; empty for a
    part of speech that is not inflected. The word itself is never one of them."""
    tags = INFLECTED_TAGS.get(pos)
    words = word.casefold().split()
    if not tags or not words:
        return {}
    index = _head(words, pos)
    found: dict[str, set[str]] = {}
    for tag in tags:
        for form in _inflection(words[index], tag):
            surface = _with_head(words, index, form.casefold())
            if surface != " ".join(words):
                found.setdefault(surface, set()).add(tag)
    return {surface: frozenset(tags) for surface, tags in found.items()}


def head_forms(word: str, pos: str) -> frozenset[str]:
    """The inflected forms of the word that inflects ("gave", "given" for give up)."""
    words = word.casefold().split()
    if not words or pos not in INFLECTED_TAGS:
        return frozenset()
    index = _head(words, pos)
    return frozenset(surface.split()[index] for surface in inflections(word, pos))


def inflect(word: str, pos: str, tags: Iterable[str]) -> str | None:
    """``word`` in the one form that ``tags`` all give ("turn down", {VBD, VBN}: "turned
    down"); ``None`` when its part of speech is not inflected to them or the tags disagree
    ("take off": "took off" and "taken off")."""
    wanted = frozenset(tags)
    if not wanted or not wanted <= frozenset(INFLECTED_TAGS.get(pos, ())):
        return None
    words = word.casefold().split()
    if not words:
        return None
    index = _head(words, pos)
    forms = {(_inflection(words[index], tag) or (None,))[0] for tag in wanted}
    if len(forms) != 1:
        return None
    (form,) = forms
    return None if form is None else _with_head(words, index, form.casefold())
