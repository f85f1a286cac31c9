"""The profanity and look-alike checks of nicknames, and the profanity check of a teacher's
questions, kept out of the pure core because they load word lists and Unicode data tables.

``better-profanity`` matches whole words against its list, including common letter swaps
(``sh1t``), and does not flag innocent words that merely contain a bad one ("Scunthorpe",
"assassin"), which matters for a filter that children's names and words pass through. It was
compared with the maintained filters on PyPI on the same generated list of hostile nicknames
and a list of ordinary names (docs/reliability.md, "6. Cheating and leaks"); with the
normalisation below in front it caught the most hostile names with the fewest false alarms.

A filter sees only what it is given, and pupils hide words from it: look-alike letters of other
alphabets ("ѕhit" with a Cyrillic ѕ), accents ("fück"), digits ("5h17"), spacing and dots
("f u c k", "f.u.c.k"), stretched letters ("fuuuck"). :func:`nickname_variants` undoes those
first, and :func:`is_profane_nickname` asks the filter about every reading.
"""

from __future__ import annotations

import re
from functools import cache

import disarm
from better_profanity import Profanity
from better_profanity.varying_string import VaryingString


class CompiledWordset:
    """better-profanity's word list as one compiled regular expression, for its ``in`` test.

    Why: better-profanity keeps its ~900 words as a list of ``VaryingString`` objects and asks
    ``token in CENSOR_WORDSET``, a linear scan that compares the token with every word in Python
    (~110 µs a token). Every join's nickname goes through it inside the owner's batch, so in a
    join storm it was a quarter of the event loop, and every answer in the same batch waited
    for it (docs/reliability.md, part 5). The same words with the same letter swaps, as one
    alternation of character classes matched with ``fullmatch``, give the same verdict in C
    (~4 µs): ``VaryingString("ass") == token`` holds exactly when the token has the word's length
    and each of its characters is one of the swaps allowed at that place, which is what
    ``[a@*4][s$5][s$5]`` matches. The library's own matching (tokens, multi-word phrases,
    allowed characters) is untouched: this object only answers its ``in``.
    ``tests/test_moderation.py`` checks the two agree on every word of the list, its letter
    swaps and random tokens.
    """

    __slots__ = ("_pattern", "words")

    def __init__(self, words: list[VaryingString]) -> None:
        branches = []
        for word in words:
            places = word._char_combos
            if any(len(swap) != 1 for swaps in places for swap in swaps):
                raise ValueError(f"a swap of {word} is not one character: keep the list")
            branches.append("".join(_character_class(swaps) for swaps in places))
        self.words = words
        self._pattern = re.compile("|".join(branches))

    def __contains__(self, token: object) -> bool:
        return isinstance(token, str) and self._pattern.fullmatch(token) is not None

    def __bool__(self) -> bool:  # ``censor`` reloads the default list when the set is empty
        return bool(self.words)


def _character_class(swaps: tuple[str, ...]) -> str:
    if len(swaps) == 1:
        return re.escape(swaps[0])
    return "[" + "".join(re.escape(swap) for swap in swaps) + "]"


@cache
def _filter() -> Profanity:
    profanity = Profanity()
    profanity.load_censor_words()
    profanity.CENSOR_WORDSET = CompiledWordset(profanity.CENSOR_WORDSET)
    return profanity


def prepare() -> None:
    """Build the profanity filter now, at a server's start.

    Built on first use, it held the event loop ~35 ms at the first join a server saw (the
    list's ~800 words, each with its letter swaps, compiled into one pattern): every player
    answering at that moment waited for it (found by bench/floods.py: the first flood a fresh
    server met began with that stall)."""
    _filter()


def is_profane(text: str) -> bool:
    """Whether ``text`` contains a word on the profanity list (any case, common letter swaps).

    Tokens that are only digits are left out: the list's letter swaps read "455" as a rude word,
    and "Sam 455" is a name, not an insult. Mixed tokens ("a55") are still checked.
    """
    words = [word for word in re.split(r"[\s\-_.']+", text) if word and not word.isdigit()]
    return bool(words) and bool(_filter().contains_profanity(" ".join(words)))


def nickname_skeleton(nickname: str) -> str:
    """The key two nicknames are compared by: the Unicode confusables skeleton (UTS #39) of the
    casefolded name, so ``Anna``, ``ANNA``, ``Аnna`` (Cyrillic А) and ``Αnna`` (Greek Α) are one
    name, and nobody can sit on the board as a look-alike of another player.

    ``disarm.skeleton_key`` applies the Unicode 17 confusables table and folds case until
    nothing changes; it keeps digits apart from letters ("Sam 1" is not "Sam l"), and accents
    (``José`` and ``Jose`` are two names).
    """
    return str(disarm.skeleton_key(nickname))


#: Digits read as letters ("5h17"). A "1" reads as i or l, so both readings are tried.
_LEET = str.maketrans({"0": "o", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g"})
_SEPARATORS = re.compile(r"[\s\-_.']+")
#: Three or more of one letter: "fuuuck" reads as "fuck", "asssss" as "ass".
_STRETCHED = re.compile(r"(\w)\1{2,}")
#: Tokens this short are a spelling out when several stand in a row ("f u c k", "sh it").
_SPELLED_OUT = 2


def nickname_variants(nickname: str) -> set[str]:
    """The readings of a nickname a filter should judge, with the usual disguises undone.

    1. the look-alike skeleton (:func:`nickname_skeleton`: other alphabets, full-width and
       styled letters, invisible characters, case), and the plain casefolded name; then
       accents taken off;
    2. words cut at spaces and ``- _ . '``; a run of two or more words of at most two letters
       each is read as one word ("f u c k", "f.u.c.k", "sh it"), while names like "Ana L." or
       "Li Na" are left as they are;
    3. digits inside a word read as letters (``0→o 1→i/l 3→e 4→a 5→s 7→t 8→b 9→g``); words
       that are only digits are left out ("Sam 455");
    4. a letter written three or more times read once and twice ("fuuuck", "asssss").
    """
    readings: set[str] = set()
    # The skeleton reads a capital I as l ("ShIt" as "shlt"), so the casefolded name is read too.
    for form in {nickname_skeleton(nickname), nickname.casefold()}:
        readings |= _readings(str(disarm.strip_accents(form)))
    readings.discard("")
    return readings


def _readings(plain: str) -> set[str]:
    words: list[str] = []
    run: list[str] = []
    for word in [*_SEPARATORS.split(plain), ""]:
        if word and len(word) <= _SPELLED_OUT:
            run.append(word)
            continue
        words.extend(["".join(run)] if len(run) > 1 else run)
        run = []
        if word:
            words.append(word)
    words = [word for word in words if not word.isdigit()]
    readings: set[str] = set()
    for one in ("i", "l"):
        text = " ".join(w.replace("1", one).translate(_LEET) for w in words)
        readings.update({text, _STRETCHED.sub(r"\1", text), _STRETCHED.sub(r"\1\1", text)})
    return readings


#: Words that are no swear words (better-profanity has none of them) but that a class of
#: children would snigger at on the big screen ("Sexy Sam", "Poo Poo": issue 18's moderation
#: point). Whole words only: "Pooja", "Essex" and "Button" are names and words.
CLASSROOM_WORDS = frozenset(
    {
        "sexy", "sexxy", "sexi", "poo", "poopoo", "poos", "poopy", "pooey", "fart", "farts",
        "farty", "butt", "butts", "butthead", "buttface", "boob", "boobs", "booty", "nude",
        "nudes", "naked", "peepee", "weewee", "wee-wee", "snot", "bum", "bums", "bumhole",
    }
)  # fmt: skip


def is_profane_nickname(nickname: str) -> bool:
    """Whether any reading of a nickname (:func:`nickname_variants`) holds a word of the
    profanity list, or a word of :data:`CLASSROOM_WORDS`."""
    check = _filter().contains_profanity
    for reading in nickname_variants(nickname):
        if check(reading) or not CLASSROOM_WORDS.isdisjoint(reading.split()):
            return True
    return False


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
