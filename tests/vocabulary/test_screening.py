"""Which built-in entries are kept out of questions."""

from __future__ import annotations

import pytest

from livequiz.vocabulary import Deck, Entry, Level
from livequiz.vocabulary.profiles import profile
from livequiz.vocabulary.screening import SCREENED_LEVELS, screen_reason


@pytest.mark.parametrize(
    ("word", "reason"),
    [
        ("looking", "-ing form of a verb"),  # "the act of directing the eyes toward something"
        ("john", "mostly a name"),
        ("twitter", "mostly a name"),
    ],
)
def test_screened_entries_and_why(deck: Deck, word: str, reason: str) -> None:
    assert screen_reason(deck[word], deck) == reason


def test_the_built_deck_leaves_inflections_and_abbreviations_out(deck: Deck) -> None:
    for word in ("getting", "ways", "sent", "men", "children", "gdp", "utc"):
        assert word not in deck, word


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        (
            Entry("getting", "noun", "the act of acquiring something", level=Level.A1),
            "-ing form of a verb",
        ),
        (Entry("ways", "noun", "manners of doing", level=Level.A1), "inflected form of 'way'"),
        (Entry("sent", "noun", "100 senti equal 1 kroon", level=Level.A1), "irregular past form"),
        (
            Entry("canal", "noun", "(astronomy) an indistinct feature of Mars", level=Level.B1),
            "specialist sense (astronomy)",
        ),
        (
            Entry("hit", "noun", "(baseball) a successful stroke", level=Level.A2),
            "specialist sense (baseball)",
        ),
        (Entry("gdp", "noun", "the value of all goods", level=Level.B2), "abbreviation"),
    ],
)
def test_the_rules_catch_what_an_automatic_deck_can_hold(entry: Entry, reason: str) -> None:
    # each rule on a deck that holds the entry and the words it is a form of
    small = Deck(
        [
            entry,
            Entry("get", "verb", "come into possession of"),
            Entry("way", "noun", "how something is done"),
            Entry("send", "verb", "cause to go somewhere"),
        ],
        screened=True,
    )
    assert screen_reason(small[entry.word], small) == reason


def test_a_noun_in_ing_that_is_a_thing_of_its_own_passes(deck: Deck) -> None:
    # "building: a structure that has a roof and walls", not the act of building
    assert screen_reason(deck["building"], deck) is None
    assert profile(deck["building"], deck).suitable


@pytest.mark.parametrize(
    "word", ["company", "morning", "nothing", "light", "crime", "happy", "tired", "news", "lost"]
)
def test_everyday_words_pass(deck: Deck, word: str) -> None:
    assert screen_reason(deck[word], deck) is None


def test_screens_are_for_beginner_levels_only(deck: Deck) -> None:
    advanced = [e for e in deck if e.level not in SCREENED_LEVELS and e.word.isalpha()]
    reasons = {screen_reason(e, deck) for e in advanced}
    assert reasons <= {None, "abbreviation", "mostly a name"}


def test_about_nine_in_ten_beginner_words_pass(deck: Deck) -> None:
    beginner = [e for e in deck if e.level in SCREENED_LEVELS]
    passed = [e for e in beginner if screen_reason(e, deck) is None]
    assert 0.85 * len(beginner) < len(passed) < len(beginner)


def test_an_authors_deck_is_not_screened() -> None:
    own = Deck([Entry("getting", "noun", "the act of acquiring something", level=Level.A1)])
    assert screen_reason(own["getting"], own) is None


def test_verb_forms_in_a_small_screened_deck() -> None:
    small = Deck(
        [
            Entry("stop", "verb", "come to a halt"),
            Entry("stopped", "noun", "a thing that came to a halt", level=Level.A1),
            Entry("tried", "noun", "a thing attempted", level=Level.A1),
            Entry("try", "verb", "make an effort"),
            Entry("lying", "noun", "the act of telling lies", level=Level.A1),
            Entry("lie", "verb", "tell an untruth"),
            Entry("glasses", "noun", "spectacles", level=Level.A2),
            Entry("glass", "noun", "a hard brittle substance"),
            Entry("berries", "noun", "small fruits", level=Level.A2),
            Entry("berry", "noun", "a small fruit"),
            Entry("bed", "noun", "a piece of furniture to sleep on", level=Level.A1),
        ],
        screened=True,
    )
    reasons = {entry.word: screen_reason(entry, small) for entry in small}
    assert reasons == {
        "stop": None,
        "stopped": "inflected form of 'stop'",
        "tried": "inflected form of 'try'",
        "try": None,
        "lying": "-ing form of a verb",
        "lie": None,
        "glasses": "inflected form of 'glass'",
        "glass": None,
        "berries": "inflected form of 'berry'",
        "berry": None,
        "bed": None,
    }
