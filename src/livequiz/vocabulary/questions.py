"""Multiple-choice vocabulary questions, reproducible from a seed.

:func:`generate_quiz` picks words from a deck (the built-in one, or an author's list backed by the
built-in one) and builds one question per word, mixing the requested kinds. All randomness comes
from one ``random.Random(seed)``, consumed in a fixed order, so the same arguments give the same
quiz on every machine and every run: a host can announce a seed and replay a quiz, and a failing
test names the seed that breaks.

The rules every question follows (they are product requirements; the tests check each one):

- exactly ``options`` distinct options, exactly one of them right, shuffled with the seed;
- wrong options of the built-in deck are plain words (``Entry.plain``: no word whose
  frequency is a name's, no short word no source knows);
- wrong options (distractors) have the part of speech of the asked word and a similar level:
  the same level first, then one level away, then further; from an author's list, the author's
  own words come first and the built-in deck tops them up. An author's phrasal verb ("give up")
  is offered beside other phrasal verbs first, then beside plain verbs that are neither in nor
  close to the words of its definition (never beside a noun); an expression ("break the ice")
  only beside other expressions of the list;
- a distractor is never another right answer: it is not of the answer's word family, not a
  synonym of it in any deck (either direction, through one shared synonym, or as the first word
  of a synonym phrase: "pass over" rules out "pass" for "cross"), its definition is not
  near-identical; in fill-in questions it is not an antonym either (an antonym often fits a
  sentence just as well), and it takes the same "a"/"an" as the blank;
- no question gives its answer away: a definition shown before the answer never contains the
  word or a form of it, no option word appears (in any form) in the prompt, not even in its
  fixed wording ("close" is never an option of "Which word is closest ..."), and a fill-in
  sentence holds the word exactly once, as a whole token, with no other form of it left;
- in an author's list, a fill-in sentence may hold the word in an inflected form ("She gave up
  smoking" for give up, "runs", "studied", "went", "books"): the right option is then that form
  and every wrong option is put in the same form ("looked after"), one a word cannot be put in
  unambiguously ("took off"/"taken off" for a form that is past or participle) is not offered
  (:mod:`livequiz.vocabulary.inflection`);
- definitions are cleaned of WordNet markup and must be 2+ words and at most 120 characters
  (:mod:`livequiz.vocabulary.cleaning`); fill-in sentences keep at least 6 other words; synonym
  answers are single common words (:meth:`Lexicon.synonym_answers`); entries screened out of the
  built-in deck (:mod:`livequiz.vocabulary.screening`) are neither asked nor offered;
- no word is asked twice in one quiz, not even in another part of speech (an author's "record"
  the noun and "record" the verb: one question, whose options never hold the other sense);
- a question whose ``(word, kind)`` was flagged on this server (``exclude``: the open flags,
  :mod:`livequiz.flags`) is not made until a teacher clears the flag; the word may still be
  asked in another kind, and still be offered as a wrong option.

:func:`replacement_question` makes one more question of a given kind and level for a teacher's
draft, under the same rules, asking no word of the draft nor one related to a word of it.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from enum import StrEnum
from typing import TypeVar

from livequiz.domain.errors import ErrorCode, Rejected
from livequiz.domain.question import MAX_OPTIONS, MIN_OPTIONS, Question
from livequiz.vocabulary.deck import DISTRACTOR_POS, UNKNOWN_POS, Deck, Entry, Level
from livequiz.vocabulary.inflection import inflect
from livequiz.vocabulary.leaks import FUNCTION_WORDS, leaks, same_family, tokenize
from livequiz.vocabulary.profiles import (
    BLANK,
    Blank,
    Lexicon,
    Profile,
    indefinite_article,
    near_identical,
    profile,
    shape,
)
from livequiz.vocabulary.screening import SCREENED_LEVELS
from livequiz.vocabulary.speech import MISSING as MISSING_SPEECH
from livequiz.vocabulary.speech import Speech

__all__ = ["BLANKABLE_POS", "QuestionKind", "fields_near", "generate_quiz", "replacement_question"]

#: A flagged question's key: ``(word case-folded, kind)``.
FlagKey = tuple[str, str]

_T = TypeVar("_T")

#: How many distractor candidates are looked at first with the preferences on (similar length
#: for definitions, same ending for words); after that any acceptable candidate will do.
LOOKAHEAD = 40
#: A question whose distractors are not found among this many candidates is given up on.
MAX_CANDIDATES = 1500


#: Parts of speech the built-in deck blanks out in fill-in questions. An adjective or adverb
#: slot rarely pins its word down: "We must look at the facts _____" takes objectively and
#: mathematically alike, and WordNet gives adjectives and adverbs no semantic fields to keep
#: the wrong options apart. An author's own sentences are blanked whatever the word's part of
#: speech: the author wrote them to fit one word.
BLANKABLE_POS = frozenset({"noun", "verb"})

_THINGS = frozenset(
    {"noun.artifact", "noun.body", "noun.food", "noun.location", "noun.object", "noun.plant"}
    | {"noun.substance"}
)
_BEINGS = frozenset({"noun.animal", "noun.group", "noun.person"})
_IDEAS = frozenset(
    {"noun.Tops", "noun.act", "noun.attribute", "noun.cognition", "noun.communication"}
    | {"noun.event", "noun.feeling", "noun.motive", "noun.phenomenon", "noun.possession"}
    | {"noun.process", "noun.quantity", "noun.relation", "noun.shape", "noun.state"}
    | {"noun.time"}
)
#: For a noun answer's field, the fields a fill-in's wrong option has no sense in: a sentence
#: about a thing gets no other thing ("He slammed the _____": door, never gate), one about a
#: person or creature no other one, one about an idea, act, quality or time no other one
#: ("replaced because of its _____": age, never price). Places and times fit the same slots
#: ("drive through _____": town, winter), so each also keeps the other out.
NOUN_FIELDS_APART = {
    **dict.fromkeys(_THINGS, _THINGS),
    **dict.fromkeys(_BEINGS, _BEINGS),
    **dict.fromkeys(_IDEAS, _IDEAS),
    "noun.location": _THINGS | {"noun.time"},
    "noun.time": _IDEAS | {"noun.location"},
}


#: Words after which a blank is a noun's place ("The _____ showed us to our seats" uses usher
#: as a noun), and words after which it is a verb's ("we _____", "must _____").
_BEFORE_NOUNS = frozenset(
    {"the", "a", "an", "his", "her", "their", "its", "my", "our", "your", "this", "these"}
    | {"those", "every", "each"}
)
_BEFORE_VERBS = frozenset(
    {"will", "would", "can", "could", "shall", "should", "may", "might", "must", "we", "they"}
    | {"i", "you", "he", "she", "cannot", "not", "please"}
)


def used_as(pos: str, blank: Blank) -> bool:
    """Whether the sentence of ``blank`` uses the word as ``pos``, as far as the word before
    the blank tells (WordNet's examples of one sense sometimes use the word in another part of
    speech: a question would then ask a verb in a noun's place)."""
    before = tokenize(blank.prompt.partition(BLANK)[0])[-1:]
    if not before:
        return True
    if pos in ("verb", "phrasal verb"):
        return before[0] not in _BEFORE_NOUNS
    if pos == "noun":
        return before[0] not in _BEFORE_VERBS
    return True


def fields_near(entry: Entry) -> frozenset[str]:
    """The semantic fields a fill-in's wrong option must have no sense in, for ``entry`` as the
    answer: see :data:`NOUN_FIELDS_APART`; for a verb its own field (verb fields are narrower:
    "motion", "contact", "possession"). Empty when the field is unknown (an author's words)."""
    if entry.field in NOUN_FIELDS_APART:
        return NOUN_FIELDS_APART[entry.field]
    return frozenset({entry.field}) if entry.field else frozenset()


class QuestionKind(StrEnum):
    """How a question asks about its word."""

    #: "What does 'X' mean?"; options are definitions.
    WORD_TO_MEANING = "word_to_meaning"
    #: "Which word means: <definition>?"; options are words.
    MEANING_TO_WORD = "meaning_to_word"
    #: "Which word is closest in meaning to 'X'?"; the right option is one of its synonyms.
    SYNONYM = "synonym"
    #: An example sentence with the word replaced by a blank; options are words.
    FILL_BLANK = "fill_blank"
    #: The word is spoken (:mod:`livequiz.vocabulary.speech`); options are written words of
    #: its level, none said like it. Only when asked for: it needs the synthesizer.
    LISTENING = "listening"


#: The kinds a quiz mixes when none are named: every kind that needs nothing but the deck.
WRITTEN_KINDS = tuple(kind for kind in QuestionKind if kind is not QuestionKind.LISTENING)
#: A listening question's prompt: it must not hold the word (the audio says it).
LISTENING_PROMPT = "Listen, then choose the word you hear."


def _lazy_shuffle(rng: random.Random, size: int) -> Iterator[int]:
    """``range(size)`` in random order, produced one by one (a lazy Fisher-Yates shuffle).

    Distractors are usually found among the first few dozen candidates of a pool of thousands;
    shuffling the whole pool for every question would cost more than the rest of the quiz.
    """
    moved: dict[int, int] = {}
    for i in range(size):
        j = rng.randrange(i, size)
        value = moved.get(j, j)
        moved[j] = moved.get(i, i)
        yield value


def _shuffled(rng: random.Random, pools: Sequence[Sequence[Entry]]) -> Iterator[Entry]:
    """The entries of all ``pools`` together, in random order."""
    for index in _lazy_shuffle(rng, sum(len(pool) for pool in pools)):
        which = 0
        while index >= len(pools[which]):
            index -= len(pools[which])
            which += 1
        yield pools[which][index]


class _LazyShuffle:
    """One pool of words in random order, drawn lazily and kept, so that each kind of question
    can walk it at its own pace (a word a fill-in question skips is still there for the others).
    """

    def __init__(self, rng: random.Random, pool: Sequence[Entry]) -> None:
        self._iterator = _shuffled(rng, [pool])
        self._words: list[Entry] = []

    def __getitem__(self, index: int) -> Entry | None:
        while len(self._words) <= index:
            entry = next(self._iterator, None)
            if entry is None:
                return None
            self._words.append(entry)
        return self._words[index]


class _QuizBuilder:
    """Builds the questions of one quiz; holds its random generator and caches."""

    def __init__(
        self,
        source: Deck,
        decks: Sequence[Deck],
        rng: random.Random,
        options: int,
        speech: Speech | None = None,
    ):
        self.speech = speech
        self.source = source
        self.decks = tuple(decks)
        self.rng = rng
        self.distractors_needed = options - 1
        self.lexicon = Lexicon(self.decks)

    # -- candidates ---------------------------------------------------------------------------

    def _candidates(self, target: Profile) -> Iterator[Profile]:
        """Distractor candidates for ``target``: same part of speech, nearest level first.

        The decks are taken in order (an author's list before the built-in deck). An author's
        word of unknown part of speech only gets candidates from the author's list, any part of
        speech, as nothing else is known to match it. A part of speech with stand-ins
        (:data:`~livequiz.vocabulary.deck.DISTRACTOR_POS`: plain verbs for a phrasal verb) has
        them after its own words, and only those that pass :meth:`_stands_in`.
        """
        entry = target.entry
        seen = {target.key}
        for pos in (entry.pos, *DISTRACTOR_POS.get(entry.pos, ())):
            for deck in self.decks:
                if entry.pos == UNKNOWN_POS and deck is not self.source:
                    break
                for distance in range(len(Level)):
                    levels = entry.level.at_distance(distance)
                    if pos == UNKNOWN_POS:
                        pools = [deck.with_level(level) for level in levels]
                    else:
                        pools = [deck.with_level_and_pos(level, pos) for level in levels]
                    for candidate in _shuffled(self.rng, pools):
                        if candidate.key not in seen:
                            seen.add(candidate.key)
                            found = profile(candidate, deck)
                            if pos == entry.pos or self._stands_in(target, found):
                                yield found

    def _stands_in(self, target: Profile, candidate: Profile) -> bool:
        """May a word of another part of speech be a wrong option for ``target``?

        The decks know no synonyms of an author's phrasal verb, so the words of its definition
        stand for them: "give up", "to stop doing something", rules out "stop" and every word
        close to it ("quit", "cease"), and any word sharing a content word of the definition.
        """
        if target.gist & candidate.gist:
            return False
        words = [t for t in tokenize(target.review) if t not in FUNCTION_WORDS]
        return not any(
            same_family(word, candidate.key) or candidate.key in self.lexicon.close(word)
            for word in words
        )

    def _choose(
        self,
        target: Profile,
        accept: Callable[[Profile], bool],
        compatible: Callable[[Profile, Profile], bool],
        prefer: Callable[[Profile], bool],
    ) -> list[Profile] | None:
        """Pick the distractors: acceptable, pairwise compatible, preferred ones first.

        The first :data:`LOOKAHEAD` candidates are taken only if preferred; the others wait and
        are used, in order, if too few preferred ones turn up; then the rest of the candidates
        are taken as they come.
        """
        chosen: list[Profile] = []
        waiting: list[Profile] = []

        def take(candidate: Profile) -> bool:
            if all(compatible(candidate, other) for other in chosen):
                chosen.append(candidate)
            return len(chosen) == self.distractors_needed

        candidates = self._candidates(target)
        for examined, candidate in enumerate(candidates, start=1):
            if examined > MAX_CANDIDATES:
                return None
            if not candidate.suitable or not candidate.entry.plain or not accept(candidate):
                continue
            if examined <= LOOKAHEAD and not prefer(candidate):
                waiting.append(candidate)
            elif take(candidate):
                return chosen
            if examined == LOOKAHEAD:
                if any(take(c) for c in waiting):
                    return chosen
                waiting.clear()
        if any(take(c) for c in waiting):  # there were fewer than LOOKAHEAD candidates
            return chosen
        return None

    def _question(
        self,
        kind: QuestionKind,
        target: Profile,
        prompt: str,
        answer: str,
        distractors: Iterable[str],
        example: str,
    ) -> Question:
        options = [answer, *distractors]
        self.rng.shuffle(options)
        return Question(
            prompt=prompt,
            options=tuple(options),
            correct_option=options.index(answer),
            kind=kind.value,
            word=target.word,
            definition=target.review,
            example=example,
            level=target.entry.level.value,
        )

    def _words_compatible(self, a: Profile, b: Profile) -> bool:
        return not self.lexicon.conflicts(a, b)

    # -- the four kinds -----------------------------------------------------------------------

    def _word_to_meaning(self, target: Profile, correct: str) -> Question | None:
        # at A1-B1 the wrong definitions are read too: only those meant for beginners
        beginner = target.entry.level in SCREENED_LEVELS

        def accept(candidate: Profile) -> bool:
            text = candidate.definition
            return (
                text is not None
                and (candidate.entry.for_beginners or not beginner)
                and text.casefold() != correct.casefold()
                and not leaks(target.word, text, target.entry.forms)
                and not near_identical(candidate.gist, target.gist)
                and not self.lexicon.conflicts(target, candidate)
            )

        def compatible(a: Profile, b: Profile) -> bool:
            return str(a.definition).casefold() != str(b.definition).casefold() and not (
                near_identical(a.gist, b.gist)
            )

        def prefer(candidate: Profile) -> bool:
            return 0.5 <= len(str(candidate.definition)) / len(correct) <= 2.0

        chosen = self._choose(target, accept, compatible, prefer)
        if chosen is None:
            return None
        return self._question(
            QuestionKind.WORD_TO_MEANING,
            target,
            f"What does '{target.word}' mean?",
            correct,
            (str(c.definition) for c in chosen),
            target.example,
        )

    def _meaning_to_word(self, target: Profile, definition: str) -> Question | None:
        prompt = f"Which word means: {definition}?"
        if leaks(target.word, prompt, target.entry.forms):  # "meanwhile" and "means"
            return None  # or "angry" and "feeling anger"

        def accept(candidate: Profile) -> bool:
            return not self.lexicon.conflicts(target, candidate) and not leaks(
                candidate.word, prompt, candidate.entry.forms
            )

        ending = shape(target.word)
        chosen = self._choose(
            target, accept, self._words_compatible, lambda c: shape(c.word) == ending
        )
        if chosen is None:
            return None
        return self._question(
            QuestionKind.MEANING_TO_WORD,
            target,
            prompt,
            target.word,
            (c.word for c in chosen),
            target.example,
        )

    def _synonym(self, target: Profile) -> Question | None:
        prompt = f"Which word is closest in meaning to '{target.word}'?"
        # "close" would echo the "closest" of the prompt
        answers = [
            a
            for a in self.lexicon.synonym_answers(target)
            if not leaks(a.word, prompt, a.entry.forms)
        ]
        if not answers:
            return None
        answer = self.rng.choice(answers)

        def accept(candidate: Profile) -> bool:
            return (
                not self.lexicon.conflicts(target, candidate)
                and not self.lexicon.conflicts(answer, candidate)
                and not leaks(candidate.word, prompt, candidate.entry.forms)
            )

        ending = shape(answer.word)
        chosen = self._choose(
            target, accept, self._words_compatible, lambda c: shape(c.word) == ending
        )
        if chosen is None:
            return None
        return self._question(
            QuestionKind.SYNONYM,
            target,
            prompt,
            answer.word,
            (c.word for c in chosen),
            target.example,
        )

    def _fill_blank(self, target: Profile, blank: Blank) -> Question | None:
        excluded = fields_near(target.entry)
        answer = blank.form or target.word

        def option(candidate: Profile) -> str | None:
            """The candidate in the blank's form ("looked after" beside "gave up")."""
            if not blank.tags:
                return candidate.word
            return inflect(candidate.word, candidate.entry.pos, blank.tags)

        def accept(candidate: Profile) -> bool:
            text = option(candidate)
            return (
                text is not None
                and text.casefold() != answer.casefold()
                and (blank.article is None or indefinite_article(text) == blank.article)
                and excluded.isdisjoint(candidate.entry.fields)
                and not leaks(candidate.word, blank.sentence, candidate.entry.forms)
                and not self.lexicon.conflicts(target, candidate, antonyms=True)
            )

        def compatible(a: Profile, b: Profile) -> bool:
            return self._words_compatible(a, b) and option(a) != option(b)

        ending = shape(target.word)
        chosen = self._choose(target, accept, compatible, lambda c: shape(c.word) == ending)
        if chosen is None:
            return None
        return self._question(
            QuestionKind.FILL_BLANK,
            target,
            blank.prompt,
            answer,
            (str(option(c)) for c in chosen),
            blank.sentence,
        )

    def _listening(self, target: Profile) -> Question | None:
        """The word said aloud; the options are words of its part of speech and level (the
        nearest level first), none said like it nor like each other ("right", "write")."""
        speech = self.speech
        assert speech is not None  # _parse_kinds refuses listening without it

        def accept(candidate: Profile) -> bool:
            return not speech.sound_alike(candidate.word, target.word)

        def compatible(a: Profile, b: Profile) -> bool:
            return not speech.sound_alike(a.word, b.word)

        ending = shape(target.word)
        chosen = self._choose(target, accept, compatible, lambda c: shape(c.word) == ending)
        if chosen is None:
            return None
        return self._question(
            QuestionKind.LISTENING,
            target,
            LISTENING_PROMPT,
            target.word,
            (c.word for c in chosen),
            target.example,
        )

    def build(self, kind: QuestionKind, target: Profile) -> Question | None:
        """A question of ``kind`` about ``target``, or ``None`` if the rules cannot be met.

        The cheap tests come first: most words of a deck lack an example sentence or a usable
        synonym, and are passed over without looking for distractors.
        """
        if not target.suitable:
            return None
        if kind is QuestionKind.FILL_BLANK:
            if self.source.screened and target.entry.pos not in BLANKABLE_POS:
                return None
            blanks = [b for b in target.blanks if used_as(target.entry.pos, b)]
            return self._fill_blank(target, self.rng.choice(blanks)) if blanks else None
        if kind is QuestionKind.SYNONYM:
            return self._synonym(target)
        if kind is QuestionKind.LISTENING:
            return self._listening(target)
        if target.definition is None:
            return None
        if kind is QuestionKind.WORD_TO_MEANING:
            return self._word_to_meaning(target, target.definition)
        return self._meaning_to_word(target, target.definition)


def _parse_levels(levels: Iterable[Level | str] | None, deck: Deck) -> tuple[Level, ...]:
    if levels is None:
        return deck.levels()
    try:
        parsed = {level if isinstance(level, Level) else Level.parse(level) for level in levels}
    except ValueError as error:
        raise Rejected(ErrorCode.INVALID_SETTINGS, str(error)) from None
    if not parsed:
        raise Rejected(ErrorCode.INVALID_SETTINGS, "choose at least one level")
    return tuple(sorted(parsed, key=lambda level: level.rank))


def _parse_kinds(
    kinds: Iterable[QuestionKind | str] | None, speech: Speech | None = None
) -> tuple[QuestionKind, ...]:
    if kinds is None:
        return WRITTEN_KINDS
    parsed: list[QuestionKind] = []
    for kind in kinds:
        try:
            value = QuestionKind(kind.strip().lower() if isinstance(kind, str) else kind)
        except ValueError:
            expected = ", ".join(k.value for k in QuestionKind)
            raise Rejected(
                ErrorCode.INVALID_SETTINGS,
                f"unknown question kind {kind!r} (expected one of {expected})",
            ) from None
        if value not in parsed:
            parsed.append(value)
    if not parsed:
        raise Rejected(ErrorCode.INVALID_SETTINGS, "choose at least one kind of question")
    if QuestionKind.LISTENING in parsed and speech is None:
        raise Rejected(ErrorCode.INVALID_SETTINGS, MISSING_SPEECH)
    return tuple(parsed)


def _rounds(rng: random.Random, items: Sequence[_T]) -> Iterator[_T]:
    """``items`` in rounds, each round in a new random order: an even, unpredictable mix."""
    while True:
        order = list(items)
        rng.shuffle(order)
        yield from order


class _Picker:
    """Decides which word each question asks: kinds and levels take turns, words never repeat.

    Levels take turns separately from kinds, so a quiz over A2 and C1 asks about as many A2 as C1
    words although the deck holds five times more C1 words, and although C1 words less often
    have an example sentence. A (kind, level) pair that runs out of words passes its turn to the
    next level; a kind that runs out everywhere leaves its turns to the other kinds.
    """

    def __init__(
        self,
        builder: _QuizBuilder,
        source: Deck,
        levels: Sequence[Level],
        kinds: Sequence[QuestionKind],
        exclude: Collection[FlagKey] = frozenset(),
    ) -> None:
        rng = builder.rng
        self._exclude = frozenset(exclude)
        #: the words of a teacher's draft (see avoid)
        self._avoided: set[str] = set()
        self._builder = builder
        self._source = source
        self._words = {level: _LazyShuffle(rng, source.with_level(level)) for level in levels}
        self._positions = {(kind, level): 0 for kind in kinds for level in levels}
        self._kinds = _rounds(rng, kinds)
        self._levels = _rounds(rng, levels)
        self._open_kinds = set(kinds)
        self._all_levels = tuple(levels)
        self._used: set[str] = set()
        #: every word related to one asked (see Entry.related): not asked in the same quiz
        self._used_related: set[str] = set()

    def _ask(self, kind: QuestionKind, level: Level) -> Question | None:
        words = self._words[level]
        while (entry := words[self._positions[kind, level]]) is not None:
            self._positions[kind, level] += 1
            if entry.key in self._used or entry.key in self._used_related:
                continue  # asked, or right in some sense of a word asked ("almost", "nearly")
            if entry.related & self._avoided:
                continue  # related to a word of the teacher's draft, the other way round
            if (entry.key, kind.value) in self._exclude:
                continue  # flagged on this server, not cleared yet
            if level in SCREENED_LEVELS and not entry.for_beginners:
                continue  # a rare sense, or a definition in rare words: not for A1-B1
            question = self._builder.build(kind, profile(entry, self._source))
            if question is not None:
                self._used.add(entry.key)
                self._used_related |= entry.related
                return question
        return None

    def next_question(self) -> Question | None:
        """The next question, or ``None`` when no kind can make one any more."""
        while self._open_kinds:
            kind = next(self._kinds)
            if kind not in self._open_kinds:
                continue
            first = self._all_levels.index(next(self._levels))
            for level in self._all_levels[first:] + self._all_levels[:first]:
                question = self._ask(kind, level)
                if question is not None:
                    return question
            self._open_kinds.discard(kind)
        return None

    def avoid(self, words: Iterable[str]) -> None:
        """Ask none of ``words`` (a teacher's draft), nor a word related to one of them."""
        for word in words:
            key = word.casefold()
            self._used.add(key)
            self._avoided.add(key)
            entry = self._source.get(word)
            if entry is not None:
                self._used_related |= entry.related


def generate_quiz(
    deck: Deck | Iterable[Entry],
    *,
    levels: Iterable[Level | str] | None = None,
    kinds: Iterable[QuestionKind | str] | None = None,
    count: int = 10,
    seed: int | str | bytes | None = None,
    options: int = 4,
    fallback: Deck | None = None,
    exclude: Collection[FlagKey] = frozenset(),
    speech: Speech | None = None,
) -> list[Question]:
    """``count`` questions about distinct words of ``deck``; see the module doc for the rules.

    ``deck`` is a :class:`Deck` (usually :meth:`Deck.builtin`) or an author's entries (from
    :func:`~livequiz.vocabulary.load_wordlist`). Distractors come from ``deck`` first and then
    from ``fallback``, which for an author's entries defaults to the built-in deck. Words are
    asked from ``levels`` only (default: every level of ``deck``); levels and ``kinds``
    (default: every kind but listening) each take turns, each round in a new random order, so
    both are mixed evenly; a kind or level that runs out of words leaves its turns to the others
    (see :class:`_Picker`).
    ``options`` counts the right answer too. ``exclude`` holds ``(word, kind)`` pairs (the word
    case-folded) not to make: the questions flagged on this server. Listening questions are
    made only when asked for, and need ``speech`` (the synthesizer: its sounds keep words that
    are said alike apart).

    The result depends only on the arguments: ``seed=None`` seeds from the operating system,
    any other seed gives the same quiz every time.

    Raises :class:`~livequiz.domain.errors.Rejected` with ``INVALID_SETTINGS`` for a bad argument
    and with ``NO_QUESTIONS`` if fewer than ``count`` questions can be made; :class:`ValueError`
    if the given entries hold a word twice in one part of speech
    (:func:`~livequiz.vocabulary.load_wordlist` never returns such a list).
    """
    if count < 1:
        raise Rejected(ErrorCode.INVALID_SETTINGS, f"a quiz needs at least 1 question, not {count}")
    source, decks = _decks(deck, fallback, options)
    chosen_levels = _parse_levels(levels, source)
    chosen_kinds = _parse_kinds(kinds, speech)

    builder = _QuizBuilder(source, decks, random.Random(seed), options, speech)
    picker = _Picker(builder, source, chosen_levels, chosen_kinds, exclude)
    questions: list[Question] = []
    while len(questions) < count and (question := picker.next_question()) is not None:
        questions.append(question)
    if len(questions) < count:
        raise Rejected(
            ErrorCode.NO_QUESTIONS,
            f"only {len(questions)} of the {count} questions asked for can be made from these "
            f"words (levels {', '.join(chosen_levels)}; kinds {', '.join(chosen_kinds)})",
        )
    return questions


def _decks(
    deck: Deck | Iterable[Entry], fallback: Deck | None, options: int
) -> tuple[Deck, list[Deck]]:
    """The deck words are asked from, and the decks distractors come from, in order."""
    if not MIN_OPTIONS <= options <= MAX_OPTIONS:
        raise Rejected(
            ErrorCode.INVALID_SETTINGS,
            f"a question has {MIN_OPTIONS} to {MAX_OPTIONS} options, not {options}",
        )
    if isinstance(deck, Deck):
        decks = [deck] if fallback is None or fallback is deck else [deck, fallback]
        return deck, decks
    source = Deck(deck)
    return source, [source, fallback if fallback is not None else Deck.builtin()]


def replacement_question(
    deck: Deck | Iterable[Entry],
    *,
    kind: QuestionKind | str,
    level: Level | str,
    avoid: Iterable[str] = (),
    seed: int | str | bytes | None = None,
    options: int = 4,
    fallback: Deck | None = None,
    exclude: Collection[FlagKey] = frozenset(),
    speech: Speech | None = None,
) -> Question:
    """A fresh question of ``kind`` about a word of ``level`` of ``deck``, for a teacher's draft.

    It asks none of the words in ``avoid`` (every word of the draft, the replaced one
    included), nor one related to them (the rule that keeps "almost" out of a quiz that asks
    "nearly"), nor a flagged ``(word, kind)`` of ``exclude``; the rest is as
    :func:`generate_quiz` (same decks, same rules). Raises :class:`Rejected` with
    ``INVALID_SETTINGS`` for an unknown kind or level, ``NO_QUESTIONS`` when no word is left.
    """
    source, decks = _decks(deck, fallback, options)
    (chosen_level,) = _parse_levels([level], source)
    (chosen_kind,) = _parse_kinds([kind], speech)
    builder = _QuizBuilder(source, decks, random.Random(seed), options, speech)
    picker = _Picker(builder, source, [chosen_level], [chosen_kind], exclude)
    picker.avoid(avoid)
    question = picker.next_question()
    if question is None:
        raise Rejected(
            ErrorCode.NO_QUESTIONS,
            f"no other {chosen_level} word is left for a {chosen_kind.value} question "
            "(every one is in the quiz already, related to one in it, or flagged)",
        )
    return question
