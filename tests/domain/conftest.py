"""Shared fixtures for the quiz core tests: a small quiz with known answers."""

from __future__ import annotations

import pytest

from livequiz.domain.question import Question
from tests.domain.factories import make_question


@pytest.fixture
def questions() -> list[Question]:
    """Three questions whose correct options are 0, 1 and 2."""
    return [make_question(n, correct=n) for n in range(3)]
