"""The upstream data a deck build reads besides WordNet, from the packages made for each.

- frequencies: ``wordfreq`` (Zipf scale, English; its data ships inside the package);
- CEFR levels by part of speech: ``cefrpy``;
- inflections ("give" → gave, given, giving, gives) and lemmas ("days" → day): ``lemminflect``;
- the profanity list: the one nicknames are checked with (:mod:`livequiz.moderation`).

They are needed to *build* the deck (``livequiz deck build``), not to serve quizzes, so they are
an optional extra (``pip install 'livequiz[deck]'``, part of the development install) and are
imported only here, on first use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cache

from livequiz.vocabulary.build import Sources
from livequiz.vocabulary.deck import Level
from livequiz.vocabulary.wordnet import WordNet

__all__ = ["MissingSource", "frequency_list", "headword_of", "upstream_sources"]

_CEFR_TAGS = {"noun": "NN", "verb": "VB", "adjective": "JJ", "adverb": "RB"}
_UPOS = {"noun": "NOUN", "verb": "VERB", "adjective": "ADJ", "adverb": "ADV"}


class MissingSource(RuntimeError):
    """A package the deck build reads is not installed."""


def upstream_sources() -> Sources:
    """Frequencies, CEFR levels, inflections and the profanity check, from their packages."""
    try:
        import wordfreq
        from cefrpy import CEFRAnalyzer
        from lemminflect import getAllInflections, getAllLemmas
    except ImportError as error:
        raise MissingSource(
            f"the deck build needs {error.name}: pip install 'livequiz[deck]'"
        ) from None
    from livequiz.moderation import is_profane

    analyzer = CEFRAnalyzer()

    @cache
    def zipf(word: str) -> float:
        return float(wordfreq.zipf_frequency(word, "en"))

    def cefr(word: str, pos: str) -> Level | None:
        level = analyzer.get_word_pos_level_CEFR(word, _CEFR_TAGS[pos])
        return None if level is None else Level(str(level))

    @cache
    def inflections(word: str, pos: str) -> frozenset[str]:
        found = getAllInflections(word, upos=_UPOS[pos])
        return frozenset(form for forms in found.values() for form in forms)

    @cache
    def lemmas(word: str) -> frozenset[str]:
        return frozenset(base for bases in getAllLemmas(word).values() for base in bases)

    return Sources(
        zipf=zipf, cefr=cefr, inflections=inflections, lemmas=lemmas, is_profane=is_profane
    )


def frequency_list(count: int) -> list[str]:
    """wordfreq's ``count`` most frequent English words, most frequent first."""
    import wordfreq

    return list(wordfreq.top_n_list("en", count))


def headword_of(wordnet: WordNet, zipf: Callable[[str], float]) -> Callable[[str], str | None]:
    """How a learner looks a running-text word up: "days" under day, "data" under data.

    The lemma wins when WordNet knows it as a common (lower-case) word and it is not far rarer
    than the form (within one Zipf step: "minutes" 5.2 is looked up as minute 4.9, but "data"
    5.5 not as datum 2.5); ``None`` for a word WordNet knows only as a name, or not at all.
    """
    from lemminflect import getAllLemmas

    def known(word: str) -> bool:
        return any(wordnet.word_in(sense).islower() for sense in wordnet.lemma_senses(word))

    def lemmas(word: str) -> Iterable[str]:
        for found in getAllLemmas(word).values():
            yield from found

    def headword(word: str) -> str | None:
        for lemma in lemmas(word):
            if lemma != word and known(lemma) and zipf(lemma) >= zipf(word) - 1.0:
                return lemma
        return word if known(word) else None

    return headword
