"""Profiles (what the generator knows about an entry) and the relations between words."""

from __future__ import annotations

import gc
import weakref

import pytest

from livequiz.vocabulary import Deck, Entry, Level
from livequiz.vocabulary.profiles import (
    Lexicon,
    indefinite_article,
    near_identical,
    profile,
    shape,
)


@pytest.mark.parametrize(
    ("word", "ending"),
    [
        ("running", "ing"),
        ("painted", "ed"),
        ("quickly", "ly"),
        ("apples", "s"),
        ("glass", ""),
        ("bus", ""),
        ("axis", ""),
        ("tree", ""),
    ],
)
def test_shape(word: str, ending: str) -> None:
    assert shape(word) == ending


@pytest.mark.parametrize(
    ("word", "article"),
    [
        ("apple", "an"),
        ("hour", "an"),
        ("Honest", "an"),
        ("book", "a"),
        ("university", "a"),
        ("user", "a"),
        ("European", "a"),
        ("one", "a"),
        ("umbrella", "an"),
    ],
)
def test_indefinite_article(word: str, article: str) -> None:
    assert indefinite_article(word) == article


def test_near_identical() -> None:
    assert near_identical(frozenset({"big", "anim"}), frozenset({"big", "anim", "grey"}))
    assert not near_identical(frozenset({"big", "anim"}), frozenset({"small", "fish"}))
    assert not near_identical(frozenset(), frozenset({"small"}))


def test_profile_of_a_builtin_entry(deck: Deck) -> None:
    company = profile(deck["company"], deck)
    assert company is profile(deck["company"], deck)  # computed once
    assert company.definition == "an institution created to conduct business"
    assert company.review == company.definition
    assert company.example == "he only invests in large well-established companies"
    assert [b.prompt for b in company.blanks] == ["He started the _____ in his garage"]
    assert company.suitable
    assert company.word == "company"


def test_a_leaking_definition_is_still_shown_in_the_review(deck: Deck) -> None:
    colonization = profile(deck["colonization"], deck)
    assert colonization.definition is None
    assert colonization.review == "the act of colonizing; the establishment of colonies"


def entry(word: str, **fields: object) -> Entry:
    # a definition of two made-up words: no two entries' definitions look alike
    values: dict[str, object] = {"pos": "noun", "definition": f"{word[::-1]} {word[::-1]}x"}
    values.update(fields)
    return Entry(word, **values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("example", "prompt", "article"),
    [
        ("She ate an apple in the garden today", "She ate an _____ in the garden today", "an"),
        ("apple trees grow in the old garden", "_____ trees grow in the old garden", None),
        ("She ate an apple and then another apple", None, None),  # twice: which one?
        ("She ate an apple from the apples in the bowl", None, None),  # another form stays
        ("She ate an apple", None, None),  # too little context
        ("She ate an Apple's core in the garden", None, None),  # not the word as a token
        ("She said `apple' in the garden", None, None),  # markup
    ],
)
def test_fill_in_blanks(example: str, prompt: str | None, article: str | None) -> None:
    own = Deck([entry("apple", examples=(example,))])
    blanks = profile(own["apple"], own).blanks
    if prompt is None:
        assert blanks == ()
    else:
        assert [(b.prompt, b.sentence, b.article) for b in blanks] == [(prompt, example, article)]


@pytest.mark.parametrize(
    ("word", "pos", "example", "prompt", "form", "tags"),
    [
        (
            "give up",
            "phrasal verb",
            "She gave up smoking after her doctor warned her",
            "She _____ smoking after her doctor warned her",
            "gave up",
            {"VBD"},
        ),
        (
            "study",
            "verb",
            "They studied French together for three long years",
            "They _____ French together for three long years",
            "studied",
            {"VBD", "VBN"},
        ),
        (
            "apple",
            "noun",
            "She put three shiny apples in her lunch box",
            "She put three shiny _____ in her lunch box",
            "apples",
            {"NNS"},
        ),
        # the word as it is: no form, no tags, as before
        (
            "apple",
            "noun",
            "She put a shiny apple in her lunch box",
            "She put a shiny _____ in her lunch box",
            "",
            set(),
        ),
        # a form of another part of speech is not the word
        ("apple", "noun", "She appled the pie in her lunch box at noon", None, "", set()),
        # the word twice, in two forms: which one?
        ("run", "verb", "He runs and then ran again along the river", None, "", set()),
        # another form of the word left next to the blank gives it away
        (
            "give up",
            "phrasal verb",
            "She gave up smoking and gave her cigarettes away",
            None,
            "",
            set(),
        ),
    ],
)
def test_an_authors_example_may_hold_the_word_inflected(
    word: str, pos: str, example: str, prompt: str | None, form: str, tags: set[str]
) -> None:
    own = Deck([entry(word, pos=pos, examples=(example,))])
    blanks = profile(own[word], own).blanks
    if prompt is None:
        assert blanks == ()
    else:
        assert [(b.prompt, b.form, b.tags) for b in blanks] == [(prompt, form, frozenset(tags))]


def test_the_builtin_decks_fill_ins_keep_to_the_word_as_it_is() -> None:
    example = "She put three shiny apples in her lunch box"
    screened = Deck([entry("apple", examples=(example,))], screened=True)
    assert profile(screened["apple"], screened).blanks == ()


def test_profiles_go_with_their_deck() -> None:
    own = Deck([entry("apple")])
    profile(own["apple"], own)
    gone = weakref.ref(own)
    del own
    gc.collect()
    assert gone() is None  # an author's deck is not kept alive by the cache


def test_a_new_entry_for_a_word_gets_a_new_profile() -> None:
    first = Deck([entry("apple")])
    second = Deck([entry("apple", definition="a round fruit with red skin")])
    assert profile(first["apple"], first).definition == "elppa elppax"
    assert profile(second["apple"], second).definition == "a round fruit with red skin"


@pytest.fixture
def lexicon() -> Lexicon:
    own = Deck(
        [
            entry("hot", pos="adjective", synonyms=("warm",), antonyms=("cold",)),
            entry("cold", pos="adjective"),
            entry("warm", pos="adjective", synonyms=("toasty",)),
            entry("toasty", pos="adjective"),
            entry("heated", pos="adjective", synonyms=("hot",)),
            entry("chilly", pos="adjective", definition="unpleasantly cold weather"),
            entry("frosty", pos="adjective", definition="cold weather, unpleasantly"),
        ]
    )
    backing = Deck([entry("warm", pos="adjective", synonyms=("tepid",)), entry("tepid")])
    return Lexicon([own, backing])


def test_relations_read_every_deck_in_both_directions(lexicon: Lexicon) -> None:
    assert lexicon.synonyms("hot") == {"warm", "heated"}
    assert lexicon.synonyms("warm") == {"hot", "toasty", "tepid"}
    assert lexicon.close("hot") == {"warm", "heated", "toasty", "tepid"}
    assert lexicon.antonyms("cold") == {"hot"}
    assert lexicon.antonyms("hot") == {"cold"}
    assert lexicon.synonyms("unknown") == frozenset()
    found = lexicon.lookup("warm")
    assert found is not None
    assert found.entry.synonyms == ("toasty",)  # the first deck wins
    assert lexicon.lookup("tepid") is not None
    assert lexicon.lookup("nothing") is None


@pytest.mark.parametrize(
    ("a", "b", "antonyms", "expected"),
    [
        ("hot", "toasty", False, True),  # through one shared synonym
        ("toasty", "hot", False, True),
        ("hot", "hot", False, True),
        ("hot", "cold", False, False),  # an antonym is a fine wrong answer ...
        ("hot", "cold", True, True),  # ... except where it fits the same sentence
        ("cold", "hot", True, True),
        ("chilly", "frosty", False, True),  # near-identical definitions
        ("chilly", "cold", False, False),
    ],
)
def test_conflict_rules(lexicon: Lexicon, a: str, b: str, antonyms: bool, expected: bool) -> None:
    first, second = lexicon.lookup(a), lexicon.lookup(b)
    assert first is not None
    assert second is not None
    assert lexicon.conflicts(first, second, antonyms=antonyms) is expected


def test_synonym_answers_are_single_common_words_of_the_same_pos() -> None:
    def adjective(word: str, zipf: float, level: Level, **fields: object) -> Entry:
        return entry(word, pos="adjective", zipf=zipf, level=level, **fields)

    synonyms = ("large", "great big", "huge", "bigger", "vast", "tiny", "giant", "bbq", "gross")
    own = Deck(
        [
            adjective("big", 5.0, Level.A1, synonyms=synonyms, antonyms=("tiny",)),
            adjective("large", 5.2, Level.A1),
            adjective("huge", 2.5, Level.C2),  # too rare
            adjective("bigger", 4.9, Level.A2),  # of the same family
            adjective("vast", 3.2, Level.C1),  # too far in level
            adjective("tiny", 4.5, Level.A2),  # also an antonym
            entry("giant", zipf=4.5, level=Level.A2),  # a noun
            adjective("bbq", 4.5, Level.A2),  # screened out: an abbreviation
            adjective("gross", 4.6, Level.A2),
        ],
        screened=True,
    )
    lexicon = Lexicon([own])
    big = lexicon.lookup("big")
    assert big is not None
    assert [p.word for p in lexicon.synonym_answers(big)] == ["large", "gross"]
