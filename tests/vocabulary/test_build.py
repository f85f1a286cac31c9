"""The deck built from WordNet 3.0, wordfreq and cefrpy (``livequiz deck build``)."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from livequiz.cli import main
from livequiz.vocabulary import Deck, Entry, Level
from livequiz.vocabulary.build import (
    _SEXUAL,
    GRAMMAR_WORDS,
    SENSE_CHOICES,
    SWEAR_WORDS,
    BuildReport,
    _chosen,
    _level,
    build_deck,
    content_words,
    deck_lines,
)
from livequiz.vocabulary.leaks import FUNCTION_WORDS
from livequiz.vocabulary.profiles import Lexicon, profile
from livequiz.vocabulary.sources import frequency_list, headword_of, upstream_sources
from livequiz.vocabulary.wordnet import DEFAULT_DIRECTORY, WordNet

pytestmark = pytest.mark.skipif(
    not (DEFAULT_DIRECTORY / "index.sense").exists(),
    reason=f"WordNet 3.0 is not installed in {DEFAULT_DIRECTORY} (make wordnet): not tested",
)

EVERYDAY = [
    "house",
    "money",
    "family",
    "school",
    "time",
    "people",
    "work",
    "day",
    "home",
    "water",
    "food",
    "friend",
]


@pytest.fixture(scope="module")
def wordnet() -> WordNet:
    return WordNet.load()


@pytest.fixture(scope="module")
def built(wordnet: WordNet) -> tuple[list[dict[str, object]], BuildReport]:
    return build_deck(wordnet, upstream_sources())


@pytest.fixture(scope="module")
def deck(built: tuple[list[dict[str, object]], BuildReport]) -> Deck:
    return Deck.from_jsonl("".join(deck_lines(built[0])), screened=True)


def test_everyday_words_are_in_it_with_their_everyday_sense(deck: Deck) -> None:
    assert all(word in deck for word in EVERYDAY)
    assert deck["house"].definition.startswith("a dwelling")
    assert deck["house"].level is Level.A1
    # senses the old deck got wrong: a baseball hit, an uncastrated horse, combing fibres
    assert "baseball" not in deck["single"].definition
    assert "horse" not in deck["entire"].definition
    assert deck["card"].definition.startswith("one of a set of small pieces of stiff paper")
    assert deck["accommodation"].definition == "living quarters provided for public convenience"


def test_senses_the_tag_counts_get_wrong_are_chosen_by_hand(deck: Deck, wordnet: WordNet) -> None:
    # 1960s texts met "bank" the river side and "party" the political one more often
    assert deck["bank"].definition.startswith("a financial institution")
    assert deck["party"].definition.startswith("an occasion on which people can assemble")
    assert deck["outfit"].definition.startswith("a set of clothing")
    assert deck["lorry"].definition.startswith("a large truck")
    assert deck["canal"].definition.startswith("long and narrow strip of water")
    # untagged senses: a sewing receptacle, a braid of hair, a seed spreader are not what
    # learners mean by tidy, queue and broadcaster
    assert deck["tidy"].pos == "adjective"
    assert deck["queue"].definition.startswith("a line of people")
    assert deck["broadcaster"].definition.startswith("someone who broadcasts")
    assert deck["now"].definition.startswith("at the present moment")
    # chosen by hand means met by learners: still asked at A1 although rarely tagged
    assert deck["party"].level is Level.A1
    assert deck["party"].for_beginners
    for word, start in SENSE_CHOICES.items():
        assert deck[word].definition.startswith(start), word
    with pytest.raises(ValueError, match="no usable sense"):
        _chosen("bank", [s for s in wordnet.lemma_senses("bank") if s.count != 20], wordnet)


def test_a_word_whose_frequency_is_a_name_s_is_not_for_beginners(deck: Deck) -> None:
    # "Henry", "Smith", "August": frequent as names, rare as the words WordNet defines
    for word in ("henry", "smith", "august", "google"):
        assert deck[word].level.rank >= Level.C1.rank, word
        assert not deck[word].for_beginners, word
    # a word that is also a name but met as a word keeps its level
    assert deck["march"].level.rank <= Level.B1.rank
    assert deck["grey"].level.rank <= Level.A2.rank  # met as "gray" in American texts
    assert "gray" in deck["grey"].forms
    for word in ("iii", "viii", "non", "must"):  # Roman numerals, left out by hand
        assert word not in deck, word
    assert "mix" in deck  # spelled like a Roman numeral, met as a word
    for word in ("fart", "clegg", "ness"):  # crude, a name's frequency, a fragment
        assert word not in deck, word
    assert not deck["franklin"].plain  # a name to learners: never a wrong option
    assert not deck["ganja"].plain  # may be asked at C2, never offered by chance
    assert deck["house"].plain


def test_beginners_get_no_definition_with_a_very_rare_word(deck: Deck) -> None:
    # "being of the achromatic color of maximum darkness": no A1 learner reads "achromatic"
    assert not deck["black"].for_beginners
    assert deck["house"].for_beginners
    # a definition about sex screens the sense: "proposition" is the noun, not "suggest sex to"
    assert deck["proposition"].pos == "noun"


def test_it_holds_97_percent_of_the_most_frequent_content_words(
    deck: Deck, wordnet: WordNet
) -> None:
    words = content_words(
        frequency_list(10_000), headword_of(wordnet, upstream_sources().zipf), 1000
    )
    assert len(words) == 1000
    missing = [word for word in words if word not in deck]
    assert len(missing) <= 30, missing
    # what is missing was left out on purpose: swearing, sex, an abbreviation, a name
    assert "house" not in missing
    assert "money" not in missing


def test_nothing_offensive_or_unaskable_is_kept(deck: Deck) -> None:
    for entry in deck:
        assert entry.word not in FUNCTION_WORDS
        assert entry.word not in GRAMMAR_WORDS
        assert entry.word not in SWEAR_WORDS
        assert re.search("[aeiouy]", entry.word), entry.word
        assert not _SEXUAL.search(entry.definition.casefold()), entry
    for word in (
        "fuck",
        "shit",
        "shitty",
        "bitchy",
        "bollocks",
        "damn",
        "ass",
        "screw",
        "getting",
        "sent",
        "ways",
        "organised",
    ):
        assert word not in deck, word
    assert "kill" in deck  # on the nickname profanity list, but a word a class needs


def test_what_was_left_out_is_counted(built: tuple[list[dict[str, object]], BuildReport]) -> None:
    records, report = built
    assert report.kept == len(records)
    assert report.left_out["mostly another word's inflection"] > 1000
    assert report.left_out["a swear word"] >= 10


def test_examples_use_the_word_and_relatives_are_never_wrong_options(deck: Deck) -> None:
    company = deck["company"]
    assert company.examples
    assert all("compan" in example for example in company.examples)
    assert {"film", "picture"} <= deck["movie"].related
    lexicon = Lexicon([deck])
    movie, picture = profile(deck["movie"], deck), profile(deck["picture"], deck)
    assert lexicon.conflicts(movie, picture)


def test_records_are_in_frequency_order_with_sorted_lists(
    built: tuple[list[dict[str, object]], BuildReport],
) -> None:
    records = built[0]
    keys = [(-float(r["zipf"]), r["word"]) for r in records]  # type: ignore[arg-type]
    assert keys == sorted(keys)
    for record in records[:2000]:
        related = record["related"]
        assert isinstance(related, list)
        assert related == sorted(related)
        assert json.loads(json.dumps(record)) == record


def test_a_level_is_never_far_easier_than_the_words_frequency() -> None:
    assert _level(Level.A1, 3.15) is Level.B2  # cefrpy calls "interplay" A1
    assert _level(Level.A1, 5.6) is Level.A1
    assert _level(Level.C1, 5.0) is Level.C1  # frequent but hard: cefrpy lifts it
    assert _level(None, 4.2) is Level.B1


def test_the_command_writes_the_same_deck_every_time_and_measures_it(
    tmp_path: Path, built: tuple[list[dict[str, object]], BuildReport]
) -> None:
    out = io.StringIO()
    target = tmp_path / "deck.jsonl"
    assert main(["deck", "build", "--out", str(target)], out) == 0
    assert f"{len(built[0])} headwords written" in out.getvalue()
    # reproducible: a second build from the same sources is the same file, byte for byte
    assert target.read_text(encoding="utf-8") == "".join(deck_lines(built[0]))
    first = Entry.from_record(json.loads(target.read_text().splitlines()[0]))
    assert first.level is Level.A1
    out = io.StringIO()
    assert main(["deck", "coverage", "--deck", str(target), "--top", "200"], out) == 0
    assert re.match(r"\d+ of the 200 most frequent content words \(\d+\.\d%\)", out.getvalue())
