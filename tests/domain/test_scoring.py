from __future__ import annotations

import pytest

from livequiz.domain import scoring
from livequiz.domain.question import Question
from livequiz.domain.session import QuizSession
from livequiz.domain.settings import QuizSettings, ScoringMode

SPEED = QuizSettings(time_limit_ms=20_000, grace_ms=500)


def test_deadline_and_grace() -> None:
    assert scoring.deadline(1_000, SPEED) == 21_000
    assert scoring.accepts_until(1_000, SPEED) == 21_500


@pytest.mark.parametrize(
    ("elapsed", "points"),
    [(0, 1000), (1, 1000), (40, 999), (10_000, 750), (19_999, 501), (20_000, 500)],
)
def test_speed_points_follow_the_documented_formula(elapsed: int, points: int) -> None:
    assert scoring.points_for(True, elapsed, 1, SPEED) == points


def test_wrong_answer_earns_nothing_even_with_a_streak() -> None:
    assert scoring.points_for(False, 0, 5, SPEED) == 0


@pytest.mark.parametrize(("streak", "bonus"), [(1, 0), (2, 100), (3, 200), (6, 500), (20, 500)])
def test_streak_bonus_grows_by_step_and_is_capped(streak: int, bonus: int) -> None:
    assert scoring.points_for(True, 0, streak, SPEED) == 1000 + bonus


def test_accuracy_mode_ignores_time_but_keeps_the_streak() -> None:
    accuracy = QuizSettings(scoring=ScoringMode.ACCURACY)
    assert scoring.points_for(True, 19_000, 1, accuracy) == 1000
    assert scoring.points_for(True, 19_000, 3, accuracy) == 1200


def test_no_points_mode_gives_nothing() -> None:
    none = QuizSettings(scoring=ScoringMode.NONE)
    assert scoring.points_for(True, 0, 4, none) == 0


def test_answer_time_counts_from_when_the_question_reached_the_player() -> None:
    # opened at 1,000, sent to this player at 1,300, answered at 3,300: 2 s of thinking.
    assert scoring.answer_time(1_000, 1_300, 3_300, SPEED) == 2_000


def test_answer_time_without_a_send_time_counts_from_the_open() -> None:
    assert scoring.answer_time(1_000, None, 3_300, SPEED) == 2_300


def test_a_late_send_time_is_capped_so_reconnecting_cannot_reset_the_clock() -> None:
    # sent 9 s after the open (a reconnect): the clock starts at most 1 s after the open
    assert scoring.answer_time(1_000, 10_000, 10_500, SPEED) == 8_500


def test_a_send_time_before_the_open_is_ignored() -> None:
    assert scoring.answer_time(1_000, 0, 1_500, SPEED) == 500


def test_answer_time_is_clamped_to_the_time_limit_and_zero() -> None:
    assert scoring.answer_time(0, None, 20_400, SPEED) == 20_000  # inside the grace
    assert scoring.answer_time(1_000, None, 900, SPEED) == 0  # clock skew between callers


def test_a_pause_counts_only_where_it_overlaps_the_players_thinking_time() -> None:
    # opened at 1,000, reached the player at 1,800, answered at 4,800: 3 s from the send
    assert scoring.answer_time(1_000, 1_800, 4_800, SPEED, ((1_200, 1_500),)) == 3_000
    assert scoring.answer_time(1_000, 1_800, 4_800, SPEED, ((1_800, 1_800),)) == 3_000
    assert scoring.answer_time(1_000, 1_800, 4_800, SPEED, ((4_800, 5_000),)) == 3_000
    # a pause from 1,500 to 2,300 stopped the player's clock for its last 500 ms only
    assert scoring.answer_time(1_000, 1_800, 4_800, SPEED, ((1_500, 2_300),)) == 2_500


def test_a_skipped_question_gives_back_the_streak_a_missed_one_had_ended(
    questions: list[Question],
) -> None:
    settings = QuizSettings(time_limit_ms=20_000, grace_ms=500, close_when_all_answered=False)
    session = QuizSession(questions, settings)
    anna = session.join("Anna", 0).player_id
    session.start(0)  # question 0: Anna misses it
    session.close_question(1_000)
    session.next(2_000)
    assert session.submit_answer(anna, 1, 1, 2_000).record.streak == 1
    session.skip(3_000)  # question 1 is taken back: her streak is the 0 her miss left
    assert session.players[anna].streak == 0
    # so her next right answer starts a streak again: no bonus
    outcome = session.submit_answer(anna, 2, 2, 3_000)
    assert (outcome.record.streak, outcome.record.points, outcome.record.score) == (1, 1000, 1000)
