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
