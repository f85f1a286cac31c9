from __future__ import annotations

import dataclasses

import pytest

from livequiz.domain.errors import ErrorCode, Rejected
from livequiz.domain.nicknames import MAX_CODE_POINTS, NicknamePolicy, graphemes, nickname_key
from livequiz.domain.session import QuizSession
from tests.domain.factories import make_question

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
        ("प्रिया", "प्रिया"),  # Devanagari: letters with their vowel signs and virama (marks)
        ("สมชาย", "สมชาย"),  # Thai
        ("Nguyê\u0303n", "Nguyễn"),  # a decomposed letter is composed (NFKC)
        ("𝐀𝐧𝐧𝐚", "Anna"),  # mathematical bold letters are plain ones
        ("Anna\u2003Lee", "Anna Lee"),  # an em space is a space
        ("x" * 20, "x" * 20),  # 20 characters is the most
        ("e\u0301" * 20, "é" * 20),  # 20 letters with an accent each (40 code points typed)
        ("क्षि" * 5, "क्षि" * 5),  # 20 letters-with-marks, 20 code points
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
        ("\u3164\u3164", "invisible characters"),  # Hangul fillers: blank on screen
        ("A\u3164B", "invisible characters"),  # …or a gap no one can type back
        # control and format characters: zero-width, bidirectional, soft hyphen, BOM
        ("An\u200dna", "letters, digits, spaces"),  # zero-width joiner
        ("An\u200cna", "letters, digits, spaces"),  # zero-width non-joiner
        ("An\u2060na", "letters, digits, spaces"),  # word joiner
        ("\ufeffAnna", "letters, digits, spaces"),  # byte-order mark
        ("An\u00adna", "letters, digits, spaces"),  # soft hyphen
        ("Anna\u202eateB", "direction characters"),  # right-to-left override
        ("\u2067Anna\u2069", "direction characters"),  # right-to-left isolate
        ("\u200fAnna", "direction characters"),  # right-to-left mark
        ("An\u0000na", "control"),
        ("An\x1b[31mna", "control"),  # a terminal escape
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


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("Z\u0336\u0337\u0338\u0339algo", "at most 3 accents"),  # zalgo: marks piled up
        ("ab\u0300\u0301\u0302\u0303", "at most 3 accents"),
        ("\u0301\u0301 ab", "marks belong on a letter"),  # marks with nothing under them
        ("1\u0301 2", "marks belong on a letter"),
        ("An\u20ddna", "letters, digits, spaces"),  # an enclosing circle
        ("Anna\ufe0f", "invisible characters"),  # a variation selector
        ("Ann\u034fa", "invisible characters"),  # combining grapheme joiner
        ("x" * 21, "2 to 20 characters"),
        ("é" * 21, "2 to 20 characters"),
        ("\ufdfa\ufdfa", "2 to 20 characters"),  # two ligatures that NFKC spells out in 37
        ("x\u0305\u0336\u0337" * 11, "2 to 20 characters"),  # 11 letters, 44 code points
    ],
)
def test_marks_and_size_are_bounded(raw: str, message: str) -> None:
    with pytest.raises(Rejected, match=message) as caught:
        POLICY.normalise(raw)
    assert caught.value.code is ErrorCode.NICKNAME_INVALID


def test_length_is_counted_in_letters_with_their_marks_and_bounded_in_code_points() -> None:
    assert graphemes("प्रिया") == ["प्", "रि", "या"]
    assert graphemes("Zoë") == ["Z", "o", "ë"]
    assert graphemes("e\u0301x") == ["e\u0301", "x"]
    # At most 40 code points, so at most 160 bytes of UTF-8, whatever the script.
    widest = POLICY.normalise("x\u0305\u0306" * 13)  # 13 letters with two marks each
    assert len(widest) == MAX_CODE_POINTS - 1
    assert len(widest.encode()) <= 4 * MAX_CODE_POINTS


def test_the_comparison_key_is_handed_in() -> None:
    def key(name: str) -> str:
        return name.casefold().replace("а", "a")  # Cyrillic а reads as Latin a

    policy = NicknamePolicy(key=key)
    session = QuizSession([make_question(0)], nicknames=policy)
    session.join("Anna", 0)
    with pytest.raises(Rejected) as caught:
        session.join("\u0430nna", 1)
    assert caught.value.code is ErrorCode.NICKNAME_TAKEN
    # By default two alphabets are two names (the server hands in the UTS #39 skeleton).
    plain = QuizSession([make_question(0)])
    plain.join("Anna", 0)
    plain.join("\u0430nna", 1)
    assert len(plain.players) == 2


def test_a_kicked_players_nickname_is_free_again_under_the_key() -> None:
    policy = NicknamePolicy(key=lambda name: name.casefold().replace("а", "a"))
    session = QuizSession([make_question(0)], nicknames=policy)
    anna = session.join("Anna", 0).player_id
    session.kick(anna, 1)
    assert session.join("\u0430nna", 2).nickname == "\u0430nna"


def test_a_trusted_policy_refuses_nothing_it_accepted_once() -> None:
    """Journal replay: names accepted under earlier rules come back as they were shown."""
    strict = NicknamePolicy(is_profane=lambda name: name == "bramble", key=lambda name: "same")
    trusted = dataclasses.replace(strict, trusted=True)
    for accepted_once in ("A\u1160B", "Anna", "bramble"):
        assert trusted.normalise(f"  {accepted_once} ") == accepted_once
    session = QuizSession([make_question(0)], nicknames=trusted)
    first = session.join("Anna", 0).player_id
    twin = session.join("Anne", 1).player_id  # the same key: let in on replay
    session.kick(twin, 2)  # kicking the twin does not free the first one's name
    session.nicknames = strict
    with pytest.raises(Rejected) as caught:
        session.join("Anya", 3)
    assert caught.value.code is ErrorCode.NICKNAME_TAKEN
    session.kick(first, 4)
    assert session.join("Anya", 5).nickname == "Anya"


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
    assert message("<b>") == (
        "a nickname may hold letters, digits, spaces and - _ . ' only "
        "(no symbols, emoji, control or direction characters)"
    )
    assert message("-.") == "a nickname needs a letter or a digit"
    assert message(7) == "a nickname must be text"
    assert message("bad", NicknamePolicy(is_profane=lambda _n: True)) == (
        "please choose another nickname"
    )


def test_forty_code_points_are_allowed_and_forty_one_are_not() -> None:
    # 20 letters with one mark each that NFKC cannot compose: 40 code points
    assert POLICY.normalise("x\u0305" * 20) == "x\u0305" * 20
    with pytest.raises(Rejected) as caught:
        POLICY.normalise("x\u0305" * 19 + "x\u0305\u0306")  # still 20 letters, 41 code points
    assert caught.value.code is ErrorCode.NICKNAME_INVALID
    assert caught.value.message == "a nickname must be 2 to 20 characters long"


def test_three_marks_on_a_letter_are_allowed_and_four_are_not() -> None:
    assert POLICY.normalise("ax\u0305\u0306\u0307") == "ax\u0305\u0306\u0307"
    with pytest.raises(Rejected) as caught:
        POLICY.normalise("ax\u0305\u0306\u0307\u0308")
    assert caught.value.code is ErrorCode.NICKNAME_INVALID
    assert caught.value.message == "a letter may carry at most 3 accents or marks"


@pytest.mark.parametrize(
    "raw",
    [
        "\u0301ab",  # a lone accent first (a nonspacing mark, Mn)
        "\u093eab",  # a lone Devanagari vowel sign first (a spacing mark, Mc)
        "\u0301\u0301 ab",
        "1\u0301 2",  # a mark on a digit
    ],
)
def test_a_mark_with_no_letter_under_it_is_refused_as_such(raw: str) -> None:
    with pytest.raises(Rejected) as caught:
        POLICY.normalise(raw)
    assert caught.value.code is ErrorCode.NICKNAME_INVALID
    assert caught.value.message == "accents and other marks belong on a letter"


@pytest.mark.parametrize("raw", ["A\u3164B", "\u3164\u3164", "Anna\ufe0f", "Ann\u034fa"])
def test_an_invisible_character_is_refused_as_such(raw: str) -> None:
    with pytest.raises(Rejected) as caught:
        POLICY.normalise(raw)
    assert caught.value.code is ErrorCode.NICKNAME_INVALID
    assert caught.value.message == "a nickname may not hold invisible characters"


def test_an_apps_name_of_twenty_characters_is_shown_whole_and_a_longer_one_cut() -> None:
    assert POLICY.display_name("x" * 20) == "x" * 20
    assert POLICY.display_name("x" * 21) == "x" * 19 + "…"
    assert POLICY.display_name("Mary Jane Watson-Parker") == "Mary Jane Watson-Pa…"
