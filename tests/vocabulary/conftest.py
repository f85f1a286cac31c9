"""Fixtures shared by the vocabulary tests."""

from __future__ import annotations

import pytest

from livequiz.vocabulary import Deck


@pytest.fixture(scope="session")
def deck() -> Deck:
    """The built-in deck (loaded once per process anyway)."""
    return Deck.builtin()
