"""The answer-leak checks: word families, leaks in text, whole-token matching."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from livequiz.vocabulary.leaks import find_phrase, leaks, same_family, stem, tokenize

words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=14)
filler = st.lists(st.sampled_from(["the", "act", "of", "a", "green", "Tree", "42", "it's"]))


def test_stem_is_snowball_english_lower_case() -> None:
    assert stem("Colonizing") == stem("colonization") == "colon"
    assert stem("getting") == "get"


def test_tokens_keep_hyphenated_words_and_contractions_whole() -> None:
    assert tokenize("A dog-eared book, don't ask!") == ["a", "dog-eared", "book", "don't", "ask"]
    assert tokenize("in 1999 (or so)") == ["in", "or", "so"]


@pytest.mark.parametrize(
    ("word", "text"),
    [
        ("colonization", "the act of colonizing"),  # regression: a form, not the word
        ("colonization", "people who colonize a land"),
        ("colony", "the colonization of America"),
        ("happy", "a feeling of unhappiness"),
        ("happy", "she smiled happily"),
        ("decide", "a decision made quickly"),
        ("act", "an action of some kind"),
        ("run", "they were running late"),
        ("use", "using a tool"),
        ("teacher", "a person whose occupation is teaching"),
        ("destruction", "an act of self-destruction"),
        ("sun", "The SUN rose"),
        ("look after", "to look carefully"),
        ("apple", "Apple's"),
    ],
)
def test_a_form_of_the_word_leaks(word: str, text: str) -> None:
    assert leaks(word, text)


@pytest.mark.parametrize(
    ("word", "text"),
    [
        ("forest", "a plant for the garden"),  # "for" + "est" is no form of "forest"
        ("cat", "a category of animals"),  # a short stem only matches with a known suffix
        ("apple", "a round fruit with red or green skin"),
        ("sun", "sunday"),  # a short word with an unknown ending
        ("her", "a herd of cattle"),
        ("act", ""),
        ("", "anything"),
    ],
)
def test_unrelated_words_do_not_leak(word: str, text: str) -> None:
    assert not leaks(word, text)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("getting", "get", True),
        ("colonization", "colony", True),
        ("decide", "decision", True),
        ("unhappy", "happy", True),
        ("happy", "unhappiness", True),
        ("run", "running", True),
        ("use", "using", True),
        ("probe", "problem", True),  # a false alarm by design: it only costs a candidate
        ("apple", "maple", False),
        ("act", "actual", False),
        ("bank", "banana", False),
        ("the", "theory", False),
    ],
)
def test_same_family(a: str, b: str, expected: bool) -> None:
    assert same_family(a, b) is expected
    assert same_family(b, a) is expected


def test_find_phrase_matches_whole_tokens_only() -> None:
    assert find_phrase("eared", "an old book with dog-eared pages") == []
    assert find_phrase("sun", "the sun's rays and sunny days") == []
    assert find_phrase("sun", "The Sun is up") == [(4, 7)]
    assert find_phrase("look after", "Please LOOK  after the kids") == [(7, 18)]
    assert find_phrase("run", "run, run!") == [(0, 3), (5, 8)]
    assert find_phrase("", "anything") == []


@given(word=words, before=filler, after=filler, upper=st.booleans())
def test_the_word_itself_is_always_found(
    word: str, before: list[str], after: list[str], upper: bool
) -> None:
    shown = word.upper() if upper else word
    text = " ".join([*before, shown, *after])
    assert leaks(word, text)
    assert leaks(word, f"({shown}),")
    assert find_phrase(word, text)


@given(a=words, b=words)
def test_family_is_symmetric_and_reflexive(a: str, b: str) -> None:
    assert same_family(a, a)
    assert same_family(a, b) == same_family(b, a)


def test_forms_no_stemmer_finds_leak_when_the_deck_knows_them() -> None:
    # "angry" and "anger" share no stem; the deck lists anger among angry's forms
    assert not leaks("angry", "feeling anger")
    assert leaks("angry", "feeling anger", {"anger", "angrier"})
    assert leaks("favourite", "my favorite one", {"favorite"})  # the other spelling
    assert not leaks("angry", "feeling calm", {"anger"})
    assert not leaks("wise", "it is in the house", {"in"})  # a function word is no give-away
