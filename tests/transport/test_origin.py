"""The Origin allow-list's normal form (docs/protocol.md, "Limits")."""

from __future__ import annotations

import pytest

from livequiz.transport import TransportLimits
from livequiz.transport.origin import normalize_origin, normalize_origins


@pytest.mark.parametrize(
    ("written", "normal"),
    [
        ("https://quiz.example", "https://quiz.example"),
        ("HTTPS://Quiz.EXAMPLE", "https://quiz.example"),  # scheme and host case
        ("https://quiz.example:443", "https://quiz.example"),  # the default port
        ("http://quiz.example:80", "http://quiz.example"),
        ("wss://quiz.example:443", "wss://quiz.example"),
        ("https://quiz.example/", "https://quiz.example"),  # a trailing slash
        ("HTTP://Quiz.Example:80/", "http://quiz.example"),  # all at once
        ("  https://quiz.example ", "https://quiz.example"),
        ("https://quiz.example:8443", "https://quiz.example:8443"),  # another port stays
        ("http://quiz.example:443", "http://quiz.example:443"),  # 443 is not http's default
        ("http://[::1]:80", "http://[::1]"),
        ("http://[::1]:8000", "http://[::1]:8000"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
    ],
)
def test_equivalent_spellings_of_an_origin_have_one_normal_form(written: str, normal: str) -> None:
    assert normalize_origin(written) == normal


@pytest.mark.parametrize(
    "value",
    ["null", "https://quiz.example/play", "quiz.example", "https://quiz.example:99999", ""],
)
def test_what_is_not_an_origin_is_only_stripped_so_it_matches_nothing_else(value: str) -> None:
    assert normalize_origin(value) == value


@pytest.mark.parametrize(
    "entry",
    [
        "https://quiz.example/play",
        "quiz.example",
        "https://user@quiz.example",
        "https://quiz.example?x=1",
        "https://quiz.example:http",
        "null",
        "",
    ],
)
def test_an_allow_list_entry_that_is_not_an_origin_is_refused(entry: str) -> None:
    with pytest.raises(ValueError, match="not an origin"):
        normalize_origins([entry])
    with pytest.raises(ValueError, match="not an origin"):
        TransportLimits(origins=frozenset({entry}))


def test_the_limits_keep_the_allow_list_in_normal_form() -> None:
    limits = TransportLimits(origins=frozenset({"HTTPS://Quiz.Example:443/", "http://a.test:8080"}))
    assert limits.origins == frozenset({"https://quiz.example", "http://a.test:8080"})
