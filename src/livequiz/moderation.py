"""The profanity check for nicknames, kept out of the pure core because it loads a word list.

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
