"""Extra time for chosen players (issue 18, accommodations): their own deadline, and speed
points measured against their own time limit, exact to the millisecond."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from livequiz.domain import commands as c
from livequiz.domain import scoring, views
from livequiz.domain.errors import ErrorCode, Rejected
from livequiz.domain.events import ExtraTimeGiven, QuestionClosed, QuestionOpened
from livequiz.domain.session import MAX_EXTRA_TIME_PERCENT, AnswerStatus, QuizSession
from livequiz.domain.settings import Pace, QuizSettings
from tests.domain.factories import make_question

QUESTIONS = [make_question(n, correct=1) for n in range(3)]
#: The ``QuestionOpened`` of each session :func:`class_of_two` started.
OPENED: dict[int, object] = {}


def live(limit_ms: int = 10_000, grace_ms: int = 500) -> QuizSettings:
    return QuizSettings(time_limit_ms=limit_ms, grace_ms=grace_ms, close_when_all_answered=False)


def class_of_two(settings: QuizSettings, percent: int) -> tuple[QuizSession, int, int]:
    """Anna with ``percent`` extra time, Ben with none; question 0 opened at 0 ms (its event
    kept as ``session.opened``, for the tests that read it)."""
    session = QuizSession(QUESTIONS, settings)
    anna = c.execute(session, c.Join("Anna"), 0).player_id
    ben = c.execute(session, c.Join("Ben"), 0).player_id
    assert anna is not None
    assert ben is not None
    c.execute(session, c.GiveExtraTime(anna, percent), 0)
    OPENED[id(session)] = c.execute(session, c.Start(), 0).events[-1]
    return session, anna, ben


def expected_points(at_ms: int, limit_ms: int, settings: QuizSettings) -> int:
    elapsed = min(at_ms, limit_ms)
    return settings.base_points - settings.base_points * elapsed // (2 * limit_ms)


@given(
    percent=st.integers(0, MAX_EXTRA_TIME_PERCENT),
    limit=st.integers(1_000, 60_000),
    grace=st.integers(0, 5_000),
    data=st.data(),
)
def test_each_player_has_their_own_deadline_and_speed_points_to_the_millisecond(
    percent: int, limit: int, grace: int, data: st.DataObject
) -> None:
    settings = live(limit, grace)
    extra = limit * percent // 100
    for who, own_limit in (("Anna", limit + extra), ("Ben", limit)):
        session, anna, ben = class_of_two(settings, percent)
        player = anna if who == "Anna" else ben
        last = own_limit + grace  # the last millisecond their answer counts
        at = data.draw(st.sampled_from([0, 1, limit // 2, own_limit, last, last + 1]), who)
        if at > last:
            with pytest.raises(Rejected) as caught:
                c.execute(session, c.Answer(player, 0, 1), at)
            assert caught.value.code is ErrorCode.TOO_LATE
            continue
        outcome = c.execute(session, c.Answer(player, 0, 1), at).answer
        assert outcome is not None
        assert outcome.status is AnswerStatus.ACCEPTED
        assert outcome.record.elapsed_ms == min(at, own_limit)
        assert outcome.record.points == expected_points(at, own_limit, settings)


@given(percent=st.integers(1, MAX_EXTRA_TIME_PERCENT), limit=st.integers(1_000, 60_000))
def test_the_question_waits_for_the_longest_extra_time_and_not_a_millisecond_more(
    percent: int, limit: int
) -> None:
    settings = live(limit, 500)
    session, _, _ = class_of_two(settings, percent)
    extra = limit * percent // 100
    end = limit + 500 + extra
    assert session.wakeup_ms == end
    assert session.closes_at_ms == limit  # everyone's countdown (and the big screen's)
    assert not c.execute(session, c.Tick(), end).changed
    (closed,) = c.execute(session, c.Tick(), end + 1).events
    assert isinstance(closed, QuestionClosed)


def test_the_question_frame_says_the_extra_time_and_each_player_sees_their_own_deadline() -> None:
    settings = live(10_000, 500)
    session, anna, ben = class_of_two(settings, 50)
    opened = OPENED[id(session)]
    assert isinstance(opened, QuestionOpened)
    assert opened.extra_ms == ((anna, 5_000),)
    mine = views.player_view(session, anna, 1_000)["question"]
    theirs = views.player_view(session, ben, 1_000)["question"]
    assert (mine["closes_at_ms"], mine["remaining_ms"], mine["extra_ms"]) == (15_000, 14_000, 5_000)
    assert (theirs["closes_at_ms"], theirs["remaining_ms"]) == (10_000, 9_000)
    assert "extra_ms" not in theirs
    host = views.host_view(session, 1_000)
    assert host["question"]["closes_at_ms"] == 10_000
    assert {p["nickname"]: p["extra_percent"] for p in host["players"]} == {"Anna": 50, "Ben": 0}


def test_a_pause_moves_every_deadline_by_its_length_exactly() -> None:
    settings = live(10_000, 500)
    session, anna, ben = class_of_two(settings, 100)
    c.execute(session, c.Pause(0), 4_000)
    c.execute(session, c.Resume(0), 7_000)  # 3 s paused
    with pytest.raises(Rejected) as caught:
        c.execute(session, c.Answer(ben, 0, 1), 13_501)
    assert caught.value.code is ErrorCode.TOO_LATE
    outcome = c.execute(session, c.Answer(ben, 0, 1), 13_500).answer
    assert outcome is not None
    assert outcome.record.elapsed_ms == 10_000  # 13.5 s less the pause, capped at his limit
    outcome = c.execute(session, c.Answer(anna, 0, 1), 23_500).answer
    assert outcome is not None
    assert outcome.record.points == expected_points(20_000, 20_000, settings)
    assert session.wakeup_ms == 23_500


def test_extra_time_counts_from_the_next_question_and_only_for_those_here() -> None:
    settings = live(10_000, 0)
    session, _, ben = class_of_two(settings, 0)
    (given_,) = c.execute(session, c.GiveExtraTime(ben, 100), 1_000).events
    assert given_ == ExtraTimeGiven(seq=given_.seq, at_ms=1_000, player_id=ben, percent=100)
    with pytest.raises(Rejected):  # not on the open question: its deadline was announced
        c.execute(session, c.Answer(ben, 0, 1), 10_001)
    c.execute(session, c.CloseQuestion(0), 10_001)
    c.execute(session, c.Next(0), 11_000)
    assert session.accepts_until_ms == 11_000 + 20_000
    c.execute(session, c.CloseQuestion(1), 12_000)
    c.execute(session, c.Leave(ben), 12_500)
    c.execute(session, c.Next(1), 13_000)  # Ben is away: nobody waits for his extra time
    assert session.accepts_until_ms == 13_000 + 10_000
    assert session.extra_ms(ben) == 0


def test_the_host_gives_and_takes_back_extra_time_within_limits() -> None:
    session, anna, ben = class_of_two(live(), 0)
    assert not c.execute(session, c.GiveExtraTime(anna, 0), 10).changed  # no change: no event
    for wrong in (-1, MAX_EXTRA_TIME_PERCENT + 1):
        with pytest.raises(Rejected) as caught:
            c.execute(session, c.GiveExtraTime(anna, wrong), 10)
        assert caught.value.code is ErrorCode.INVALID_SETTINGS
    with pytest.raises(Rejected) as caught:
        c.execute(session, c.GiveExtraTime(99, 50), 10)
    assert caught.value.code is ErrorCode.UNKNOWN_PLAYER
    c.execute(session, c.Kick(ben), 10)
    with pytest.raises(Rejected) as caught:
        c.execute(session, c.GiveExtraTime(ben, 50), 10)
    assert caught.value.code is ErrorCode.KICKED
    c.execute(session, c.End(), 20)
    with pytest.raises(Rejected) as caught:
        c.execute(session, c.GiveExtraTime(anna, 50), 30)
    assert caught.value.code is ErrorCode.QUIZ_FINISHED


def homework_with_half_again() -> tuple[QuizSession, int, QuizSettings]:
    """Homework of 10 s questions that Anna, given 50 % more, has opened at 1 s."""
    settings = QuizSettings(time_limit_ms=10_000, grace_ms=0, pace=Pace.SELF)
    session = QuizSession(QUESTIONS, settings)
    anna = c.execute(session, c.Join("Anna"), 0).player_id
    assert anna is not None
    c.execute(session, c.GiveExtraTime(anna, 50), 0)
    c.execute(session, c.Start(due_at_ms=3_600_000), 0)
    c.execute(session, c.Advance(anna), 1_000)
    return session, anna, settings


def test_homework_gives_a_player_their_extra_time_on_each_question_they_open() -> None:
    session, anna, settings = homework_with_half_again()
    assert session.players[anna].closes_at_ms == 16_000
    outcome = c.execute(session, c.Answer(anna, 0, 1), 16_000).answer
    assert outcome is not None
    assert outcome.record.points == expected_points(15_000, 15_000, settings)
    assert scoring.extra_ms(50, settings) == 5_000


def refusal(session: QuizSession, command: c.Command, now_ms: int) -> tuple[ErrorCode, str]:
    """The code and message of the refusal of ``command`` (the message is what users read)."""
    with pytest.raises(Rejected) as caught:
        c.execute(session, command, now_ms)
    return caught.value.code, caught.value.message


def test_extra_time_is_given_as_the_next_event_and_a_wrong_percent_is_told_the_range() -> None:
    session, anna, _ = class_of_two(live(), 0)
    seq = session.seq
    assert c.execute(session, c.GiveExtraTime(anna, MAX_EXTRA_TIME_PERCENT), 500).events == (
        ExtraTimeGiven(seq=seq + 1, at_ms=500, player_id=anna, percent=MAX_EXTRA_TIME_PERCENT),
    )
    assert session.seq == seq + 1
    for wrong in (-1, MAX_EXTRA_TIME_PERCENT + 1):
        assert refusal(session, c.GiveExtraTime(anna, wrong), 600) == (
            ErrorCode.INVALID_SETTINGS,
            "extra time must be a whole number from 0 to 300 percent",
        )
    assert session.players[anna].extra_percent == MAX_EXTRA_TIME_PERCENT


def test_an_answer_while_paused_is_told_to_wait_and_one_after_the_close_that_time_is_up() -> None:
    session, anna, ben = class_of_two(live(10_000, 500), 100)
    c.execute(session, c.Pause(0), 4_000)
    paused = (ErrorCode.PAUSED, "the teacher has paused this question: wait a moment")
    assert refusal(session, c.Answer(anna, 0, 1), 5_000) == paused
    assert refusal(session, c.Answer(ben, 0, 1), 5_000) == paused
    c.execute(session, c.Resume(0), 6_000)
    c.execute(session, c.CloseQuestion(0), 7_000)  # Anna's extra time does not keep it open
    assert refusal(session, c.Answer(anna, 0, 1), 7_000) == (
        ErrorCode.TOO_LATE,
        "time is up for this question: it has closed",
    )


def test_homework_speed_points_run_on_the_players_own_longer_limit() -> None:
    # 10 s questions, Anna 50 % more: 15 s of her own, so 6 s earns 800 (not 700 of 10 s)
    session, anna, _ = homework_with_half_again()
    first = c.execute(session, c.Answer(anna, 0, 1), 7_000).answer
    assert first is not None
    assert (first.record.elapsed_ms, first.record.points) == (6_000, 800)
    # past the class's 10 s and within her 15: 12 s counts in full, 600 + 100 for the streak
    c.execute(session, c.Advance(anna), 8_000)
    assert session.players[anna].closes_at_ms == 23_000
    second = c.execute(session, c.Answer(anna, 1, 1), 20_000).answer
    assert second is not None
    assert (second.record.elapsed_ms, second.record.points) == (12_000, 700)
