"""Writes ``hostile.txt``: nicknames a pupil would try to get a rude word onto the projector,
generated from a seed list with every evasion of docs/protocol.md ("Nicknames"), so the list is
not hand-picked. ``ordinary.txt`` (written by hand) is the other side: real names and words that
hold a rude word inside ("Dickens", "Scunthorpe") or look like one after folding ("Bích", "Phúc").

Run ``python tests/data/nicknames/make_lists.py`` after changing a seed or an evasion; the
output is deterministic (no randomness), one name per line, and committed as test data.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

#: Words no quiz projector should show in a nickname (swear words, slurs, sexual words).
SEEDS = [
    "fuck", "shit", "bitch", "cunt", "dick", "cock", "pussy", "asshole", "bastard", "whore",
    "slut", "penis", "boobs", "tits", "wanker", "twat", "nigger", "faggot", "retard", "dildo",
    "porn", "rape", "cum", "jizz", "piss", "bollocks", "motherfucker", "bullshit", "dickhead",
    "blowjob",
]  # fmt: skip

#: Digits for letters (only digits: a nickname may hold no $ @ !).
LEET = {"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7", "b": "8", "g": "9"}
#: Cyrillic letters drawn like Latin ones (UTS #39 confusables).
CYRILLIC = {
    "a": "а", "c": "с", "e": "е", "i": "і", "j": "ј", "o": "о", "p": "р", "s": "ѕ",
    "x": "х", "y": "у", "h": "һ", "k": "к", "b": "Ь", "d": "ԁ", "w": "ԝ",
}  # fmt: skip
#: Greek letters drawn like Latin ones.
GREEK = {"o": "ο", "i": "ι", "k": "κ", "v": "ν", "u": "υ", "t": "τ", "a": "α", "p": "ρ", "n": "η"}
#: Accented vowels.
ACCENTS = {"a": "á", "e": "ë", "i": "ï", "o": "ö", "u": "ü"}


def swap(table: dict[str, str], every: bool = True) -> Callable[[str], str]:
    def apply(word: str) -> str:
        out, done = [], False
        for char in word:
            if char in table and (every or not done):
                out.append(table[char])
                done = True
            else:
                out.append(char)
        return "".join(out)

    return apply


def stretch(word: str) -> str:
    """The first vowel written five times ("fuuuuck")."""
    for i, char in enumerate(word):
        if char in "aeiou":
            return word[:i] + char * 5 + word[i + 1 :]
    return word + word[-1] * 4


def mixed_case(word: str) -> str:
    return "".join(c.upper() if i % 2 == 0 else c for i, c in enumerate(word))


def full_width(word: str) -> str:
    return "".join(chr(ord(c) - 0x61 + 0xFF41) for c in word)


def math_bold(word: str) -> str:
    return "".join(chr(ord(c) - 0x61 + 0x1D41A) for c in word)


EVASIONS: dict[str, Callable[[str], str]] = {
    "plain": lambda w: w,
    "capitalised, beside a number": lambda w: f"{w.capitalize()} 99",
    "in a name": lambda w: f"Mr {w.capitalize()}",
    "mixed case": mixed_case,
    "leetspeak": swap(LEET),
    "one leet digit": swap(LEET, every=False),
    "Cyrillic look-alikes": swap(CYRILLIC),
    "one Cyrillic letter": swap(CYRILLIC, every=False),
    "Greek look-alikes": swap(GREEK),
    "accents": swap(ACCENTS),
    "spaced": " ".join,
    "dotted": ".".join,
    "dashed": "-".join,
    "underscored": "_".join,
    "split in two": lambda w: f"{w[: len(w) // 2]} {w[len(w) // 2 :]}",
    "stretched": stretch,
    "zero-width space inside": lambda w: "\u200b".join(w),
    "soft hyphen inside": lambda w: "\u00ad".join(w),
    "full-width": full_width,
    "mathematical bold": math_bold,
    "Cyrillic and spaced": lambda w: " ".join(swap(CYRILLIC)(w)),
    "leet and spaced": lambda w: " ".join(swap(LEET)(w)),
}


def hostile() -> list[str]:
    names: list[str] = []
    for seed in SEEDS:
        for evasion in EVASIONS.values():
            name = evasion(seed)
            if name not in names:
                names.append(name)
    return names


if __name__ == "__main__":
    here = Path(__file__).parent
    lines = hostile()
    (here / "hostile.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(lines)} hostile names")
