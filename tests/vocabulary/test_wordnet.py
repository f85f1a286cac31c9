"""Reading WordNet 3.0 from Debian's files (wordnet-base, wordnet-sense-index)."""

from __future__ import annotations

import pytest

from livequiz.vocabulary.wordnet import DEFAULT_DIRECTORY, WordNet, _split_gloss

pytestmark = pytest.mark.skipif(
    not (DEFAULT_DIRECTORY / "index.sense").exists(),
    reason=f"WordNet 3.0 is not installed in {DEFAULT_DIRECTORY} (make wordnet): not tested",
)


@pytest.fixture(scope="module")
def wordnet() -> WordNet:
    return WordNet.load()


def test_a_words_senses_come_most_met_first_with_their_synsets(wordnet: WordNet) -> None:
    first = wordnet.lemma_senses("house")[0]
    assert (first.pos, first.number) == ("noun", 1)
    assert first.count > 100  # the dwelling: met far more than any other sense
    synset = wordnet.synset(first.synset)
    assert synset.definition == "a dwelling that serves as living quarters for one or more families"
    assert synset.examples == (
        "he has a house on Cape Cod",
        "she felt she had to get out of the house",
    )
    assert "house" in synset.words
    counts = [sense.count for sense in wordnet.lemma_senses("house")]
    assert counts == sorted(counts, reverse=True)


def test_parts_of_speech_and_pointers_are_read(wordnet: WordNet) -> None:
    (good,) = [s for s in wordnet.lemma_senses("good") if s.pos == "adjective"][:1]
    synset = wordnet.synset(good.synset)
    antonyms = [
        wordnet.synset(p.target).words[p.target_word - 1]
        for p in synset.pointers
        if p.symbol == "!"
    ]
    assert "bad" in antonyms
    run = [s for s in wordnet.lemma_senses("run") if s.pos == "verb"]
    assert len(run) > 40  # WordNet's most polysemous verbs


def test_a_proper_noun_is_written_with_its_capital(wordnet: WordNet) -> None:
    (paris, *_) = wordnet.lemma_senses("paris")
    assert wordnet.word_in(paris) == "Paris"
    assert wordnet.word_in(wordnet.lemma_senses("house")[0]) == "house"


def test_adjective_markers_and_underscores_are_cleaned(wordnet: WordNet) -> None:
    words = {w for synset in wordnet.synsets.values() for w in synset.words}
    assert not any("(" in w or "_" in w for w in words)
    assert "ice cream" in words


def test_a_gloss_splits_into_definition_and_examples() -> None:
    gloss = (
        "move fast by using one's feet; "
        '"Don\'t run--you\'ll be out of breath"; "The children ran to the store"'
    )
    assert _split_gloss(gloss) == (
        "move fast by using one's feet",
        ("Don't run--you'll be out of breath", "The children ran to the store"),
    )
    assert _split_gloss("slightly wet") == ("slightly wet", ())
    assert _split_gloss('a poem; "odes of Horace" - Milton') == ("a poem", ("odes of Horace",))


def test_a_missing_database_names_the_file(tmp_path: object) -> None:
    with pytest.raises(FileNotFoundError, match=r"data\.noun"):
        WordNet.load(tmp_path)  # type: ignore[arg-type]
