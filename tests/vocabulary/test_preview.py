"""What the teacher's preview needs of the generator: each question's level, a replacement of
the same kind and level that asks nothing already in the draft, and flagged questions kept out."""

from __future__ import annotations

import dataclasses

import pytest

from livequiz.domain.errors import ErrorCode, Rejected
from livequiz.vocabulary import (
    Deck,
    Entry,
    Level,
    QuestionKind,
    generate_quiz,
    replacement_question,
)

from .checks import check_question


def test_every_generated_question_carries_the_level_of_its_word(deck: Deck) -> None:
    for question in generate_quiz(deck, levels=["A2", "C1"], count=30, seed=5):
        assert question.level in ("A2", "C1")
        assert deck[question.word].level.value == question.level


def test_a_replacement_has_the_kind_and_level_and_asks_no_word_of_the_draft(deck: Deck) -> None:
    draft = generate_quiz(deck, levels=["B1"], count=10, seed=11)
    words = [q.word for q in draft]
    related = set().union(*(deck[w].related for w in words))
    for seed in range(15):
        for old in draft[:4]:
            new = replacement_question(deck, kind=old.kind, level=old.level, avoid=words, seed=seed)
            assert (new.kind, new.level) == (old.kind, old.level)
            assert new.word.casefold() not in {w.casefold() for w in words}
            assert new.word.casefold() not in related  # the generator's rule: none related
            assert not deck[new.word].related & {w.casefold() for w in words}
            check_question(new, [deck])


def test_a_replacement_is_reproducible_from_its_seed(deck: Deck) -> None:
    first = replacement_question(deck, kind="synonym", level="B2", avoid=["big"], seed=3)
    assert replacement_question(deck, kind="synonym", level="B2", avoid=["big"], seed=3) == first


def own_words(deck: Deck) -> list[Entry]:
    """An author's five words, all B1 (as the author's level column would say)."""
    words = ("harbour", "brave", "ancient", "whisper", "glacier")
    return [dataclasses.replace(deck[w], level=Level.B1) for w in words]


def test_a_replacement_from_a_word_list_asks_another_word_of_that_list(deck: Deck) -> None:
    own = own_words(deck)
    draft = generate_quiz(own, count=3, seed=1, kinds=["word_to_meaning"])
    asked = {q.word for q in draft}
    level = draft[0].level
    new = replacement_question(own, kind="word_to_meaning", level=level, avoid=asked, seed=1)
    assert new.word in {"harbour", "brave", "ancient", "whisper", "glacier"} - asked
    assert new.level == level


def test_no_word_left_is_a_clear_no_questions(deck: Deck) -> None:
    own = [Entry("harbour", "noun", "a sheltered port for ships", level=Level.B1)] + [
        deck[w] for w in ("brave", "ancient", "whisper")
    ]
    with pytest.raises(Rejected) as caught:
        replacement_question(own, kind="word_to_meaning", level="B1", avoid=["harbour"])
    assert caught.value.code is ErrorCode.NO_QUESTIONS
    assert "no other B1 word is left for a word_to_meaning question" in caught.value.message


@pytest.mark.parametrize(
    ("kind", "level"), [("essay", "B1"), ("synonym", "Z9")], ids=["kind", "level"]
)
def test_an_unknown_kind_or_level_is_invalid_settings(deck: Deck, kind: str, level: str) -> None:
    with pytest.raises(Rejected) as caught:
        replacement_question(deck, kind=kind, level=level)
    assert caught.value.code is ErrorCode.INVALID_SETTINGS


def test_flagged_questions_are_not_generated_until_cleared(deck: Deck) -> None:
    before = generate_quiz(deck, levels=["B1"], count=12, seed=21)
    flagged = {(q.word.casefold(), q.kind) for q in before[:6]}
    after = generate_quiz(deck, levels=["B1"], count=12, seed=21, exclude=flagged)
    assert not {(q.word.casefold(), q.kind) for q in after} & flagged
    assert len(after) == 12
    # many seeds: a flagged pair never comes back
    for seed in range(20):
        quiz = generate_quiz(deck, levels=["B1"], count=12, seed=seed, exclude=flagged)
        assert not {(q.word.casefold(), q.kind) for q in quiz} & flagged
    # cleared (not excluded any more): the same quiz as before
    assert generate_quiz(deck, levels=["B1"], count=12, seed=21) == before


def test_a_flag_keeps_out_only_its_kind(deck: Deck) -> None:
    own = [deck[w] for w in ("harbour", "gentle", "ancient", "whisper", "glacier")]
    kinds = [QuestionKind.WORD_TO_MEANING, QuestionKind.MEANING_TO_WORD]
    flagged = {("harbour", "word_to_meaning")}
    asked = set()
    for seed in range(30):
        for q in generate_quiz(own, count=5, kinds=kinds, seed=seed, exclude=flagged):
            asked.add((q.word, q.kind))
    assert ("harbour", "word_to_meaning") not in asked
    assert ("harbour", "meaning_to_word") in asked


def test_replacements_skip_flagged_questions(deck: Deck) -> None:
    own = own_words(deck)
    flagged = {(e.word, "word_to_meaning") for e in own[1:]}
    for seed in range(5):
        new = replacement_question(
            own, kind="word_to_meaning", level="B1", exclude=flagged, seed=seed
        )
        assert new.word == own[0].word
