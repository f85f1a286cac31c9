from __future__ import annotations

import pytest

from livequiz.domain.errors import ErrorCode, Rejected
from livequiz.domain.settings import QuizSettings, RevealMode, ScoringMode


def test_defaults_are_what_live_quiz_players_expect() -> None:
    settings = QuizSettings().validate()
    assert settings.time_limit_ms == 20_000
    assert settings.base_points == 1000
    assert settings.streak_bonus == 100
    assert settings.streak_bonus_cap == 500
    assert settings.reveal is RevealMode.IMMEDIATE
    assert settings.scoring is ScoringMode.SPEED
    assert settings.top_k == 10


def test_from_mapping_reads_json_values() -> None:
    settings = QuizSettings.from_mapping(
        {
            "time_limit_ms": 10_000,
            "reveal": "at_close",
            "scoring": "accuracy",
            "allow_late_join": False,
        }
    )
    assert settings.time_limit_ms == 10_000
    assert settings.reveal is RevealMode.AT_CLOSE
    assert settings.scoring is ScoringMode.ACCURACY
    assert settings.allow_late_join is False
    assert QuizSettings.from_mapping(settings.to_mapping()) == settings


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"colour": "red"}, "unknown setting 'colour'"),
        ({"reveal": "sometimes"}, "reveal must be one of: immediate, at_close"),
        ({"allow_late_join": "yes"}, "allow_late_join must be true or false"),
        ({"time_limit_ms": "20"}, "time_limit_ms must be a whole number"),
        ({"time_limit_ms": 2.5}, "time_limit_ms must be a whole number"),
        ({"time_limit_ms": True}, "time_limit_ms must be a whole number"),
        ({"time_limit_ms": 999}, "time_limit_ms must be 1,000 to 600,000"),
        ({"grace_ms": -1}, "grace_ms must be 0 to 5,000"),
        ({"base_points": 0}, "base_points must be 1 to 100,000"),
        ({"streak_bonus": 10_001}, "streak_bonus must be 0 to 10,000"),
        ({"streak_bonus_cap": -5}, "streak_bonus_cap must be 0 to 100,000"),
        ({"max_players": 0}, "max_players must be 1 to 100,000"),
        ({"top_k": 101}, "top_k must be 1 to 100"),
        ({"max_delivery_lag_ms": 10_001}, "max_delivery_lag_ms must be 0 to 10,000"),
    ],
)
def test_bad_settings_are_refused_with_a_clear_message(
    values: dict[str, object], message: str
) -> None:
    with pytest.raises(Rejected) as caught:
        QuizSettings.from_mapping(values)
    assert caught.value.code is ErrorCode.INVALID_SETTINGS
    assert caught.value.message == message


def test_plain_strings_in_place_of_modes_are_refused() -> None:
    # from_mapping converts JSON strings; building the dataclass by hand must use the enums
    with pytest.raises(Rejected) as caught:
        QuizSettings(scoring="speed").validate()  # type: ignore[arg-type]
    assert caught.value.message == "scoring must be a ScoringMode"
    with pytest.raises(Rejected) as caught:
        QuizSettings(reveal="at_close").validate()  # type: ignore[arg-type]
    assert caught.value.message == "reveal must be a RevealMode"


#: Every numeric setting with its range, as its refusal message states it.
RANGES = [
    ("time_limit_ms", 1_000, 600_000, "time_limit_ms must be 1,000 to 600,000"),
    ("grace_ms", 0, 5_000, "grace_ms must be 0 to 5,000"),
    ("base_points", 1, 100_000, "base_points must be 1 to 100,000"),
    ("streak_bonus", 0, 10_000, "streak_bonus must be 0 to 10,000"),
    ("streak_bonus_cap", 0, 100_000, "streak_bonus_cap must be 0 to 100,000"),
    ("max_players", 1, 100_000, "max_players must be 1 to 100,000"),
    ("top_k", 1, 100, "top_k must be 1 to 100"),
    ("max_delivery_lag_ms", 0, 10_000, "max_delivery_lag_ms must be 0 to 10,000"),
]


@pytest.mark.parametrize(("name", "low", "high", "message"), RANGES)
def test_each_range_holds_both_its_ends_and_nothing_beyond_them(
    name: str, low: int, high: int, message: str
) -> None:
    """Both ends of every range count, on both sides: 1,000 ms is a valid time limit and
    999 is not, as 600,000 is and 600,001 is not."""
    assert getattr(QuizSettings.from_mapping({name: low}), name) == low
    assert getattr(QuizSettings.from_mapping({name: high}), name) == high
    for outside in (low - 1, high + 1):
        with pytest.raises(Rejected) as caught:
            QuizSettings.from_mapping({name: outside})
        assert caught.value.code is ErrorCode.INVALID_SETTINGS
        assert caught.value.message == message


def test_every_default_is_as_documented() -> None:
    assert QuizSettings().to_mapping() == {
        "time_limit_ms": 20_000,
        "grace_ms": 500,
        "scoring": "speed",
        "base_points": 1000,
        "streak_bonus": 100,
        "streak_bonus_cap": 500,
        "reveal": "immediate",
        "pace": "live",
        "identity": "nickname",
        "close_when_all_answered": True,
        "allow_late_join": True,
        "approve_names": False,
        "shuffle_options": False,
        "auto_advance_ms": 0,
        "reading_ms": 0,
        "teams": 0,
        "team_choice": False,
        "max_players": 20_000,
        "top_k": 10,
        "max_delivery_lag_ms": 1_000,
    }


def test_the_scoring_choices_are_named_in_the_refusal() -> None:
    with pytest.raises(Rejected) as caught:
        QuizSettings.from_mapping({"scoring": "fast"})
    assert caught.value.message == "scoring must be one of: speed, accuracy, none"


def test_the_mapping_holds_plain_strings_not_enums() -> None:
    """Any JSON encoder can write it (an enum is equal to its string, so compare types)."""
    mapping = QuizSettings(scoring=ScoringMode.NONE, reveal=RevealMode.AT_CLOSE).to_mapping()
    assert type(mapping["scoring"]) is str
    assert type(mapping["reveal"]) is str
    assert (mapping["scoring"], mapping["reveal"]) == ("none", "at_close")


def test_plain_strings_in_place_of_pace_or_identity_are_refused() -> None:
    with pytest.raises(Rejected) as caught:
        QuizSettings(pace="live").validate()  # type: ignore[arg-type]
    assert caught.value.code is ErrorCode.INVALID_SETTINGS
    assert caught.value.message == "pace must be a Pace"
    with pytest.raises(Rejected) as caught:
        QuizSettings(identity="nickname").validate()  # type: ignore[arg-type]
    assert caught.value.code is ErrorCode.INVALID_SETTINGS
    assert caught.value.message == "identity must be an Identity"


#: Settings that are 0 for "off", else in a range, with their refusal message.
OFF_OR_RANGES = [
    ("auto_advance_ms", 3_000, 120_000, "auto_advance_ms must be 0 (off) or 3,000 to 120,000"),
    ("reading_ms", 1_000, 30_000, "reading_ms must be 0 (off) or 1,000 to 30,000"),
    ("teams", 2, 6, "teams must be 0 (none) or 2 to 6"),
]


@pytest.mark.parametrize(("name", "low", "high", "message"), OFF_OR_RANGES)
def test_an_off_or_range_setting_holds_0_and_both_ends_and_nothing_between_or_beyond(
    name: str, low: int, high: int, message: str
) -> None:
    """0 (off), 3,000 and 120,000 ms are valid auto-advance delays; 1, 2,999 and 120,001 are
    not (a value between off and the lowest delay is not silently taken as either)."""
    for valid in (0, low, high):
        assert getattr(QuizSettings.from_mapping({name: valid}), name) == valid
    for outside in (-1, 1, low - 1, high + 1):
        with pytest.raises(Rejected) as caught:
            QuizSettings.from_mapping({name: outside})
        assert caught.value.code is ErrorCode.INVALID_SETTINGS
        assert caught.value.message == message


def test_team_choice_needs_teams() -> None:
    assert QuizSettings.from_mapping({"teams": 2, "team_choice": True}).team_choice is True
    with pytest.raises(Rejected) as caught:
        QuizSettings.from_mapping({"team_choice": True})
    assert caught.value.code is ErrorCode.INVALID_SETTINGS
    assert caught.value.message == "team_choice needs teams (2 or more)"
