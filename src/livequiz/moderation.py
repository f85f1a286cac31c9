"""The profanity check for nicknames, kept out of the pure core because it loads a word list.

``better-profanity`` matches whole words against its list, including common letter swaps
(``sh1t``), and does not flag innocent words that merely contain a bad one ("Scunthorpe",
"assassin"), which matters for a filter that children's names and words pass through.
"""

from __future__ import annotations

from functools import cache

from better_profanity import Profanity


@cache
def _filter() -> Profanity:
    profanity = Profanity()
    profanity.load_censor_words()
    return profanity


def is_profane(text: str) -> bool:
    """Whether ``text`` contains a word on the profanity list (any case, common letter swaps)."""
    return bool(_filter().contains_profanity(text))
