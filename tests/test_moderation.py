from __future__ import annotations

import pytest

from livequiz.moderation import is_profane


@pytest.mark.parametrize("name", ["sh1t happens", "FUCK", "big ass", "a55", "Big-Ass"])
def test_profanity_is_caught_in_any_case_and_with_letter_swaps(name: str) -> None:
    assert is_profane(name)


@pytest.mark.parametrize(
    "name", ["Scunthorpe", "assassin", "Class 5B", "grape", "Anna", "Sam 455", "bot-717", "1234"]
)
def test_innocent_names_that_contain_a_bad_word_pass(name: str) -> None:
    assert not is_profane(name)


def test_a_teachers_question_text_is_checked_against_the_deck_words() -> None:
    from livequiz.moderation import is_unfit_question_text

    # the deck's own words pass, though the nickname list has them
    for fine in ("a young person of either sex", "a metal pot for stewing", "Which word means?"):
        assert not is_unfit_question_text(fine), fine
    for rude in ("What the fuck does it mean?", "a shit answer", "you b1tch", "Dick's word"):
        assert is_unfit_question_text(rude), rude


def test_no_generated_question_is_refused_as_it_stands() -> None:
    from livequiz.moderation import is_unfit_question_text
    from livequiz.vocabulary import Deck, generate_quiz

    deck = Deck.builtin()
    for seed in range(10):
        for q in generate_quiz(deck, count=50, seed=seed):
            for text in (q.prompt, q.word, q.definition, q.example, *q.options):
                assert not is_unfit_question_text(text), (q.word, text)
