"""Nickname rules: what a player may call themselves in a quiz.

A nickname is shown on a classroom projector beside everyone else's, so the rules are strict, and
each one closes a trick a pupil would try (docs/protocol.md, "Nicknames", is the same list for
client authors):

1. **Normalised** with Unicode NFKC (full-width or styled letters become plain ones: "Ｊｏｓé",
   "𝐀𝐧𝐧𝐚"), and every run of white space becomes one space, none at either end.
2. **Letters, digits, spaces and ``- _ . '`` only.** A letter may carry combining marks (Hindi
   "प्रिया", Thai, a decomposed "é"), at most :data:`MAX_MARKS_PER_LETTER` of them: more is
   "zalgo" text that smears over the lines above and below. Control, format and bidirectional
   characters (zero-width spaces and joiners, right-to-left overrides that make a name read
   backwards) are refused, as are symbols, emoji and enclosing marks, and letters or marks that
   draw nothing (Hangul fillers, variation selectors).
3. **Length** counted as a reader counts it: 2 to 20 letters-with-their-marks (grapheme
   clusters, spaces and digits included), and at most :data:`MAX_CODE_POINTS` code points in all,
   so a name's size in bytes is bounded too (≤ 4 × 40 bytes of UTF-8).
4. **Unique** in the quiz up to look-alikes: two names that a reader cannot tell apart are the
   same name. ``Anna``, ``ANNA`` and ``Аnna`` (with a Cyrillic А) compare equal. The comparison
   key is handed in (:attr:`NicknamePolicy.key`): the server uses the Unicode confusables
   skeleton (UTS #39) of the casefolded name, which needs a data table the pure core does not
   load (:func:`livequiz.moderation.nickname_skeleton`); by default it is the casefolded name.
5. **Not profane**: a check handed in by the caller, for the same reason
   (:func:`livequiz.moderation.is_profane`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

from livequiz.domain.errors import ErrorCode, Rejected

#: Marks allowed besides letters, digits and single spaces.
ALLOWED_MARKS = frozenset("-_.'")
#: Combining marks one letter may carry: Vietnamese, Thai and Indic letters need two or three;
#: zalgo text stacks tens of them.
MAX_MARKS_PER_LETTER = 3
#: Code points after normalisation: twenty letters with a mark or so each. (NFKC can lengthen a
#: name: one Arabic ligature expands to 18 characters.)
MAX_CODE_POINTS = 40

#: Letters and marks that draw nothing (Default_Ignorable_Code_Point of Unicode): a name made
#: of them is blank on the projector, and one holding them looks like another name.
INVISIBLE = frozenset(
    [
        "\u034f",  # combining grapheme joiner
        "\u115f",
        "\u1160",
        "\u3164",
        "\uffa0",  # Hangul fillers
        "\u17b4",
        "\u17b5",  # Khmer inherent vowels
        *(chr(c) for c in range(0x180B, 0x1810)),  # Mongolian free variation selectors
        *(chr(c) for c in range(0xFE00, 0xFE10)),  # variation selectors
        *(chr(c) for c in range(0xE0100, 0xE01F0)),  # variation selectors supplement
    ]
)
#: Kept for callers of the first version of these rules.
INVISIBLE_LETTERS = frozenset(c for c in INVISIBLE if unicodedata.category(c)[0] == "L")


def _never_profane(_nickname: str) -> bool:
    return False


def nickname_key(nickname: str) -> str:
    """The plain comparison form: ``Anna`` and ``ANNA`` are the same player name."""
    return nickname.casefold()


def graphemes(nickname: str) -> list[str]:
    """The nickname cut into what a reader sees as one character: a letter (or digit, space,
    mark of punctuation) with the combining marks after it.

    This is Unicode's grapheme cluster rule restricted to the characters a nickname may hold
    (after NFKC there are no conjoining Hangul jamo left to join, and no joiners or emoji are
    allowed), so it needs no segmentation table.
    """
    clusters: list[str] = []
    for char in nickname:
        if clusters and unicodedata.category(char) in ("Mn", "Mc"):
            clusters[-1] += char
        else:
            clusters.append(char)
    return clusters


@dataclass(frozen=True, slots=True)
class NicknamePolicy:
    """Length limits, the look-alike key and the profanity check for nicknames."""

    #: One letter is not a name anyone can find on a board.
    min_length: int = 2
    #: Twenty characters fit one line of a phone-sized leaderboard.
    max_length: int = 20
    is_profane: Callable[[str], bool] = field(default=_never_profane)
    #: Two nicknames with the same key are the same name (see the module's rule 4).
    key: Callable[[str], str] = field(default=nickname_key)
    #: Names replayed from the journal were accepted once, under the rules then in force: rules
    #: tightened since, a changed word list or a stricter key must not refuse them now, or the
    #: replay would not reproduce the quiz. They are only normalised (NFKC and spaces, as every
    #: version of these rules did), and let in even if their key is taken.
    trusted: bool = False

    def display_name(self, raw: object) -> str:
        """A learning app's name for its user, as it will be shown: the app vouches for it, so
        it is not refused (a real name may be long, or hold a word a nickname filter would
        catch); it is made fit for a board: NFKC, one space between words, no control,
        format or direction characters, at most ``max_length`` characters (then "…")."""
        text = unicodedata.normalize("NFKC", raw) if isinstance(raw, str) else ""
        kept = "".join(
            char for char in text if unicodedata.category(char)[0] != "C" and char not in INVISIBLE
        )
        clusters = graphemes(" ".join(kept.split()))
        if len(clusters) > self.max_length:
            clusters = [*clusters[: self.max_length - 1], "…"]
        name = "".join(clusters)[:MAX_CODE_POINTS].strip()
        if not any(unicodedata.category(c[0])[0] in "LN" for c in graphemes(name)):
            return "Player"
        return name

    def normalise(self, raw: object) -> str:
        """Return the nickname as it will be shown, or raise :class:`Rejected`."""
        if not isinstance(raw, str):
            raise Rejected(ErrorCode.NICKNAME_INVALID, "a nickname must be text")
        nickname = " ".join(unicodedata.normalize("NFKC", raw).split())
        if self.trusted:
            return nickname
        clusters = graphemes(nickname)
        if (
            not self.min_length <= len(clusters) <= self.max_length
            or len(nickname) > MAX_CODE_POINTS
        ):
            raise Rejected(
                ErrorCode.NICKNAME_INVALID,
                f"a nickname must be {self.min_length} to {self.max_length} characters long",
            )
        for cluster in clusters:
            base, marks = cluster[0], cluster[1:]
            category = unicodedata.category(base)
            if category in ("Mn", "Mc") or (marks and category[0] != "L"):
                raise Rejected(
                    ErrorCode.NICKNAME_INVALID, "accents and other marks belong on a letter"
                )
            if not (category[0] in "LN" or base == " " or base in ALLOWED_MARKS):
                raise Rejected(
                    ErrorCode.NICKNAME_INVALID,
                    "a nickname may hold letters, digits, spaces and - _ . ' only "
                    "(no symbols, emoji, control or direction characters)",
                )
            if len(marks) > MAX_MARKS_PER_LETTER:
                raise Rejected(
                    ErrorCode.NICKNAME_INVALID,
                    f"a letter may carry at most {MAX_MARKS_PER_LETTER} accents or marks",
                )
            if any(char in INVISIBLE for char in cluster):
                raise Rejected(
                    ErrorCode.NICKNAME_INVALID, "a nickname may not hold invisible characters"
                )
        if not any(unicodedata.category(c[0])[0] in "LN" for c in clusters):
            raise Rejected(ErrorCode.NICKNAME_INVALID, "a nickname needs a letter or a digit")
        if self.is_profane(nickname):
            raise Rejected(ErrorCode.NICKNAME_PROFANE, "please choose another nickname")
        return nickname
