"""The friendly-name generator (livequiz/friendly_names.py)."""

from __future__ import annotations

import random

from livequiz.domain.nicknames import NicknamePolicy
from livequiz.friendly_names import ADJECTIVES, ANIMALS, friendly_name
from livequiz.moderation import is_profane_nickname


def test_every_friendly_name_is_a_fit_nickname() -> None:
    policy = NicknamePolicy(is_profane=is_profane_nickname)
    for adjective in ADJECTIVES:
        for animal in ANIMALS:
            assert policy.normalise(f"{adjective} {animal}") == f"{adjective} {animal}"
    assert len(set(ADJECTIVES)) == len(ADJECTIVES)
    assert len(set(ANIMALS)) == len(ANIMALS)


def test_a_friendly_name_is_never_one_already_taken() -> None:
    rng = random.Random(5)
    taken: set[str] = set()
    for _ in range(500):
        name = friendly_name(lambda n: n.casefold() in taken, rng)
        assert name.casefold() not in taken
        taken.add(name.casefold())


def test_when_every_pair_is_taken_a_number_tells_them_apart() -> None:
    name = friendly_name(lambda n: not n[-1].isdigit(), random.Random(1))
    adjective, animal, number = name.split()
    assert adjective in ADJECTIVES
    assert animal in ANIMALS
    assert 2 <= int(number) <= 99
