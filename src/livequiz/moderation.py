"""The profanity checks of nicknames and of a teacher's questions, kept out of the pure core
because they load word lists.

``better-profanity`` matches whole words against its list, including common letter swaps
(``sh1t``), and does not flag innocent words that merely contain a bad one ("Scunthorpe",
"assassin"), which matters for a filter that children's names and words pass through.
"""

from __future__ import annotations

import re
from functools import cache

from better_profanity import Profanity


@cache
def _filter() -> Profanity:
    profanity = Profanity()
    profanity.load_censor_words()
    return profanity


def is_profane(text: str) -> bool:
    """Whether ``text`` contains a word on the profanity list (any case, common letter swaps).

    Tokens that are only digits are left out: the list's letter swaps read "455" as a rude word,
    and "Sam 455" is a name, not an insult. Mixed tokens ("a55") are still checked.
    """
    words = [word for word in re.split(r"[\s\-_.']+", text) if word and not word.isdigit()]
    return bool(words) and bool(_filter().contains_profanity(" ".join(words)))


#: Splits question text into words, keeping the marks of letter swaps ("$h!t", "a55").
_QUESTION_WORDS = re.compile(r"[^\w$@!*]+")


@cache
def _deck_words() -> frozenset[str]:
    """Every word the built-in deck uses: its headwords, and every word of its definitions and
    examples (case-folded). The build screened them (slurs, swear words, senses about sex), so
    they are fit for a class even when the nickname list has them ("sex" in "a young person
    of either sex", "pot", "strip")."""
    from livequiz.vocabulary import Deck  # the deck is data; loaded on first use

    words: set[str] = set()
    for entry in Deck.builtin():
        words.add(entry.key)
        for text in (entry.definition, *entry.examples):
            words.update(word.casefold() for word in _QUESTION_WORDS.split(text) if word)
    return frozenset(words)


def is_unfit_question_text(text: str) -> bool:
    """Whether a question's text (a teacher's edit) holds a word of the profanity list that
    the built-in deck never uses.

    The nickname check alone refuses 86 of 1,800 generated questions as they stand; sparing the
    deck's own words refuses none of 2,400, and still every common swear word (none of which the
    deck uses).
    """
    words = [
        word
        for word in _QUESTION_WORDS.split(text)
        if word and not word.isdigit() and word.casefold() not in _deck_words()
    ]
    return bool(words) and bool(_filter().contains_profanity(" ".join(words)))
