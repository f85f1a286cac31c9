from __future__ import annotations

import pytest

from livequiz.domain.errors import ErrorCode, Rejected
from livequiz.domain.nicknames import NicknamePolicy, nickname_key

POLICY = NicknamePolicy()


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("Anna", "Anna"),
        ("  Mary   Jane ", "Mary Jane"),
        ("Ｊｏｓé", "José"),  # full-width letters become plain ones (NFKC)
        ("li_wei-99", "li_wei-99"),
        ("O'Brien.", "O'Brien."),
        ("Żaneta", "Żaneta"),
        ("明美", "明美"),
        ("tab\there", "tab here"),  # any white space becomes one space
    ],
)
def test_good_nicknames_are_normalised(raw: str, shown: str) -> None:
    assert POLICY.normalise(raw) == shown


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("A", "2 to 20 characters"),
        ("x" * 21, "2 to 20 characters"),
        ("   ", "2 to 20 characters"),
        ("<script>", "letters, digits, spaces"),
        ("zero\u200bwidth", "letters, digits, spaces"),
        ("__", "needs a letter or a digit"),
        ("\u3164\u3164", "needs a letter or a digit"),  # Hangul fillers: blank on screen
        ("🙂🙂", "letters, digits, spaces"),
    ],
)
def test_bad_nicknames_are_refused(raw: str, message: str) -> None:
    with pytest.raises(Rejected, match=message) as caught:
        POLICY.normalise(raw)
    assert caught.value.code is ErrorCode.NICKNAME_INVALID


def test_a_nickname_must_be_text() -> None:
    with pytest.raises(Rejected, match="must be text"):
        POLICY.normalise(42)


def test_the_profanity_check_is_applied_to_the_normalised_name() -> None:
    seen: list[str] = []

    def is_profane(name: str) -> bool:
        seen.append(name)
        return name == "bad word"

    policy = NicknamePolicy(is_profane=is_profane)
    with pytest.raises(Rejected) as caught:
        policy.normalise("  bad   word ")
    assert caught.value.code is ErrorCode.NICKNAME_PROFANE
    assert policy.normalise("good word") == "good word"
    assert seen == ["bad word", "good word"]


def test_nicknames_compare_case_insensitively() -> None:
    assert nickname_key("ANNA") == nickname_key("anna")
    assert nickname_key("Straße") == nickname_key("STRASSE")


def test_two_and_twenty_characters_are_both_allowed() -> None:
    assert POLICY.normalise("Al") == "Al"
    assert POLICY.normalise("x" * 20) == "x" * 20
    assert NicknamePolicy(min_length=3, max_length=4).normalise("Abcd") == "Abcd"


def test_each_refusal_says_what_is_wrong() -> None:
    def message(raw: object, policy: NicknamePolicy = POLICY) -> str:
        with pytest.raises(Rejected) as caught:
            policy.normalise(raw)
        return caught.value.message

    assert message("A") == "a nickname must be 2 to 20 characters long"
    assert message("Ab", NicknamePolicy(min_length=3, max_length=4)) == (
        "a nickname must be 3 to 4 characters long"
    )
    assert message("<b>") == "a nickname may hold letters, digits, spaces and - _ . ' only"
    assert message("-.") == "a nickname needs a letter or a digit"
    assert message(7) == "a nickname must be text"
    assert message("bad", NicknamePolicy(is_profane=lambda _n: True)) == (
        "please choose another nickname"
    )
