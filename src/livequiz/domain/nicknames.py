"""Nickname rules: what a player may call themselves in a quiz.

A nickname is shown on a classroom projector, so the rules are strict: it is normalised (Unicode
NFKC, so full-width or styled letters become plain ones, and runs of spaces become one), then
must be 2–20 characters of letters, digits, spaces and a few marks (``- _ . '``), must not be
taken by another player of the quiz (compared case-insensitively), and must pass a profanity check.
The profanity check is a function handed in by the caller, because word lists are data that the
pure core does not load (see :mod:`livequiz.moderation`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

from livequiz.domain.errors import ErrorCode, Rejected

#: Marks allowed besides letters, digits and single spaces.
ALLOWED_MARKS = frozenset("-_.'")
#: "Letters" that draw nothing (Hangul fillers): a name made of them is blank on the projector.
INVISIBLE_LETTERS = frozenset("\u115f\u1160\u3164\uffa0")


def _never_profane(_nickname: str) -> bool:
    return False


@dataclass(frozen=True, slots=True)
class NicknamePolicy:
    """Length limits and the profanity check for nicknames."""

    #: One letter is not a name anyone can find on a board.
    min_length: int = 2
    #: Twenty characters fit one line of a phone-sized leaderboard.
    max_length: int = 20
    is_profane: Callable[[str], bool] = field(default=_never_profane)

    def normalise(self, raw: object) -> str:
        """Return the nickname as it will be shown, or raise :class:`Rejected`."""
        if not isinstance(raw, str):
            raise Rejected(ErrorCode.NICKNAME_INVALID, "a nickname must be text")
        nickname = " ".join(unicodedata.normalize("NFKC", raw).split())
        if not self.min_length <= len(nickname) <= self.max_length:
            raise Rejected(
                ErrorCode.NICKNAME_INVALID,
                f"a nickname must be {self.min_length} to {self.max_length} characters long",
            )
        for char in nickname:
            category = unicodedata.category(char)
            if not (category[0] in "LN" or char == " " or char in ALLOWED_MARKS):
                raise Rejected(
                    ErrorCode.NICKNAME_INVALID,
                    "a nickname may hold letters, digits, spaces and - _ . ' only",
                )
        if not any(
            unicodedata.category(char)[0] in "LN" and char not in INVISIBLE_LETTERS
            for char in nickname
        ):
            raise Rejected(ErrorCode.NICKNAME_INVALID, "a nickname needs a letter or a digit")
        if self.is_profane(nickname):
            raise Rejected(ErrorCode.NICKNAME_PROFANE, "please choose another nickname")
        return nickname


def nickname_key(nickname: str) -> str:
    """The form two nicknames are compared in: ``Anna`` and ``ANNA`` are the same player name."""
    return nickname.casefold()
