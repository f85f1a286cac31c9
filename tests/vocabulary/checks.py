"""An independent check of the rules every generated question must follow.

Written from the product rules, not from the generator's code: relations are read straight from
the decks' raw synonym and antonym lists, and only the leak test (tested on its own in
test_leaks.py) and the definition cleaner (test_cleaning.py) are shared with the generator.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from lemminflect import getAllInflections, getAllInflectionsOOV, getAllLemmas, getAllLemmasOOV

from livequiz.domain.question import Question
from livequiz.vocabulary import Deck, Entry, QuestionKind
from livequiz.vocabulary.cleaning import clean_definition
from livequiz.vocabulary.leaks import find_phrase, leaks, same_family, tokenize
from livequiz.vocabulary.questions import fields_near

BLANK = "_____"
WORD_OPTION_KINDS = {QuestionKind.MEANING_TO_WORD, QuestionKind.SYNONYM, QuestionKind.FILL_BLANK}


@cache
def _reverse(deck: Deck, field: str) -> dict[str, frozenset[str]]:
    index: dict[str, set[str]] = {}
    for entry in deck:
        for other in getattr(entry, field):
            index.setdefault(other.casefold(), set()).add(entry.key)
    return {key: frozenset(value) for key, value in index.items()}


@cache
def _definitions(deck: Deck) -> dict[str, tuple[Entry, ...]]:
    found: dict[str, list[Entry]] = {}
    for entry in deck:
        cleaned = clean_definition(entry.definition)
        if cleaned is not None:
            found.setdefault(cleaned.casefold(), []).append(entry)
    return {key: tuple(value) for key, value in found.items()}


def definition_owners(text: str, decks: Sequence[Deck]) -> list[Entry]:
    """The entries whose cleaned definition is ``text``."""
    return [e for d in decks for e in _definitions(d).get(text.casefold(), ())]


def related(word: str, decks: Sequence[Deck], field: str = "synonyms") -> set[str]:
    """Words listed as synonyms (or antonyms) of ``word``, or listing it, in any deck."""
    key = word.casefold()
    words: set[str] = set()
    for deck in decks:
        entry = deck.get(key)
        if entry is not None:
            words.update(w.casefold() for w in getattr(entry, field))
        words.update(_reverse(deck, field).get(key, ()))
    return words


#: Parts of speech whose words may also be offered beside a word of another: a phrasal verb's
#: wrong options are phrasal verbs or plain verbs (never nouns).
ALSO_OFFERED = {"phrasal verb": {"verb"}}


def entries_of(word: str, decks: Sequence[Deck]) -> list[Entry]:
    """Every entry of ``word``, each part of speech, from the first deck that has it."""
    for deck in decks:
        entries = deck.entries_of(word)
        if entries:
            return list(entries)
    raise AssertionError(f"{word!r} is in none of the decks")


def entry_of(word: str, decks: Sequence[Deck]) -> Entry:
    return entries_of(word, decks)[0]


def fits(option_pos: str, target_pos: str) -> bool:
    return option_pos == target_pos or option_pos in ALSO_OFFERED.get(target_pos, ())


_UPOS = {"verb": "VERB", "phrasal verb": "VERB", "noun": "NOUN"}


def form_tags(form: str, base: str, pos: str) -> set[str]:
    """The Penn tags for which lemminflect makes ``form`` of ``base`` (a verb inflects its
    first word, a noun its last) (the base form too: "set" is past)."""
    words, forms = base.casefold().split(), form.casefold().split()
    if pos not in _UPOS or len(words) != len(forms):
        return set()
    i = len(words) - 1 if pos == "noun" else 0
    if words[:i] + words[i + 1 :] != forms[:i] + forms[i + 1 :]:
        return set()
    upos = _UPOS[pos]
    found = getAllInflections(words[i], upos=upos) or getAllInflectionsOOV(words[i], upos=upos)
    return {tag for tag, made in found.items() if forms[i] in made}


def base_of(option: str, decks: Sequence[Deck]) -> tuple[str, Entry]:
    """The deck word ``option`` is an inflected form of, and its entry."""
    words = option.casefold().split()
    for i in sorted({0, len(words) - 1}):
        lemmas = {**getAllLemmasOOV(words[i], "VERB"), **getAllLemmas(words[i])}
        for found in lemmas.values():
            for lemma in found:
                base = " ".join([*words[:i], lemma, *words[i + 1 :]])
                for deck in decks:
                    for entry in deck.entries_of(base):
                        if form_tags(option, base, entry.pos):
                            return base, entry
    for deck in decks:  # a form lemminflect makes but does not take back ("bussed": bus)
        for entry in deck:
            if entry.key[:2] == option.casefold()[:2] and form_tags(option, entry.key, entry.pos):
                return entry.key, entry
    raise AssertionError(f"{option!r} is no inflected form of a word of the decks")


def article(word: str) -> str:
    lower = word.casefold()
    if lower.startswith(("hour", "honest", "honor", "honour", "heir")):
        return "an"
    if lower.startswith(("uni", "use", "usu", "uti", "ure", "eu", "one", "once", "ewe", "ubiq")):
        return "a"
    return "an" if lower[0] in "aeiou" else "a"


def check_question(question: Question, decks: Sequence[Deck], options: int = 4) -> None:
    """Assert every product rule for ``question``; ``decks`` are the decks it was made from."""
    q = question
    kind = QuestionKind(q.kind)
    assert len(q.options) == options, q
    assert len({o.casefold() for o in q.options}) == options, q
    assert all("`" not in text for text in (q.prompt, *q.options)), q
    targets = entries_of(q.word, decks)
    target = targets[0]
    if kind is QuestionKind.WORD_TO_MEANING:  # a word in two parts of speech: the sense asked
        target = next((t for t in targets if clean_definition(t.definition) == q.answer), target)
    elif kind is QuestionKind.MEANING_TO_WORD:
        asked = [
            t for t in targets if q.prompt == f"Which word means: {clean_definition(t.definition)}?"
        ]
        target = asked[0] if asked else target
    distractors = [o for i, o in enumerate(q.options) if i != q.correct_option]
    # A fill-in whose sentence holds the word inflected: every option is in that form.
    inflected = kind is QuestionKind.FILL_BLANK and q.answer != q.word
    bases = {o: base_of(o, decks)[0] for o in distractors} if inflected else {}

    if kind in WORD_OPTION_KINDS:
        synonyms = related(q.word, decks)
        for shown in distractors:
            option = bases.get(shown, shown)
            others = entries_of(option, decks)
            if target.pos and kind is QuestionKind.MEANING_TO_WORD:
                assert any(fits(o.pos, target.pos) for o in others), (q, option)
            elif target.pos:  # the sense asked is not told: one of the word's
                assert any(fits(o.pos, t.pos) for o in others for t in targets), (q, option)
            assert not same_family(option, q.word), (q, option)
            assert not same_family(option, q.answer), (q, option)
            assert option.casefold() not in synonyms, (q, option)
            assert q.word.casefold() not in related(option, decks), (q, option)
        if kind is not QuestionKind.FILL_BLANK:
            for option in q.options:
                assert not leaks(option, q.prompt), (q, option)

    if kind is QuestionKind.WORD_TO_MEANING:
        assert q.prompt == f"What does '{q.word}' mean?"
        assert q.answer == clean_definition(target.definition), q
        for option in q.options:
            assert not leaks(q.word, option), (q, option)
            assert len(option.split()) >= 2, (q, option)
            assert len(option) <= 120, (q, option)
        synonyms = related(q.word, decks)
        for option in distractors:
            owners = definition_owners(option, decks)
            assert owners, (q, option)
            assert all(e.key != target.key and e.key not in synonyms for e in owners), (q, option)
            if target.pos:
                assert any(fits(e.pos, target.pos) for e in owners), (q, option)
    elif kind is QuestionKind.MEANING_TO_WORD:
        assert q.answer == q.word
        assert q.prompt == f"Which word means: {clean_definition(target.definition)}?"
        assert not leaks(q.word, q.prompt), q
    elif kind is QuestionKind.SYNONYM:
        assert q.prompt == f"Which word is closest in meaning to '{q.word}'?"
        synonyms = related(q.word, decks)
        assert q.answer.casefold() in synonyms, q
        assert sum(o.casefold() in synonyms for o in q.options) == 1, q
        assert q.answer.isalpha(), q
        assert not same_family(q.answer, q.word), q
        for option in distractors:
            assert option.casefold() not in related(q.answer, decks), (q, option)
            assert q.answer.casefold() not in related(option, decks), (q, option)
    else:
        if inflected:  # the form the sentence has, and the options in the same form
            tags = set().union(*(form_tags(q.answer, q.word, t.pos) for t in targets))
            assert tags, q
            for shown in distractors:
                base, entry = base_of(shown, decks)
                assert tags <= form_tags(shown, base, entry.pos), (q, shown)
                assert shown.split()[1:] == base.split()[1:] or entry.pos == "noun", (q, shown)
        else:
            assert q.answer == q.word
        assert q.prompt.count(BLANK) == 1, q
        rest = q.prompt.replace(BLANK, " ")
        assert not leaks(q.word, rest), q
        assert len(tokenize(rest)) >= 6, q
        spans = find_phrase(q.answer, q.example)
        assert len(spans) == 1, q
        assert find_phrase(q.word, q.example) == ([] if inflected else spans), q
        start, end = spans[0]
        filled = q.example[:start] + BLANK + q.example[end:]
        assert q.prompt == filled[:1].upper() + filled[1:], q
        antonyms = related(q.word, decks, "antonyms")
        before = tokenize(q.prompt.split(BLANK)[0])[-1:]
        for shown in distractors:
            option = bases.get(shown, shown)
            assert option.casefold() not in antonyms, (q, option)
            assert q.word.casefold() not in related(option, decks, "antonyms"), (q, option)
            assert not leaks(option, q.example), (q, option)
            if before in (["a"], ["an"]):
                assert article(shown) == before[0], (q, shown)
            # no wrong option from the answer's semantic field group: it would fit the slot
            for other in entries_of(option, decks):
                assert fields_near(target).isdisjoint(other.fields), (q, option)
        if decks[0].screened:  # the built-in deck blanks nouns and verbs, used as such
            assert target.pos in ("noun", "verb"), q
            if target.pos == "verb":
                assert before[0:1] != ["the"], q
