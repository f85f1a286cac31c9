"""Reading time before the options open (issue 18, setting ``reading_ms``): every student
reads the prompt before anyone can answer; the time limit and speed points run from the
options, to the millisecond."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from livequiz.domain import commands as c
from livequiz.domain import views
from livequiz.domain.errors import ErrorCode, Rejected
from livequiz.domain.events import OptionsShown, QuestionClosed, QuestionOpened
from livequiz.domain.session import AnswerStatus, QuizSession
from livequiz.domain.settings import QuizSettings
from tests.domain.factories import make_question

QUESTIONS = [make_question(n, correct=2) for n in range(2)]


def reading_quiz(reading_ms: int, **settings: object) -> tuple[QuizSession, int, QuestionOpened]:
    session = QuizSession(
        QUESTIONS,
        QuizSettings(reading_ms=reading_ms, close_when_all_answered=False, **settings),  # type: ignore[arg-type]
    )
    anna = c.execute(session, c.Join("Anna"), 0).player_id
    assert anna is not None
    opened = c.execute(session, c.Start(), 1_000).events[-1]
    assert isinstance(opened, QuestionOpened)
    return session, anna, opened


@given(reading=st.integers(1_000, 30_000), limit=st.integers(1_000, 60_000), data=st.data())
def test_the_options_show_after_the_reading_time_and_the_clock_runs_from_them(
    reading: int, limit: int, data: st.DataObject
) -> None:
    session, anna, opened = reading_quiz(reading, time_limit_ms=limit, grace_ms=0)
    shown_at = 1_000 + reading
    assert opened.options_at_ms == shown_at
    assert opened.closes_at_ms == shown_at + limit
    assert session.wakeup_ms == shown_at - 1  # the owner's clock ticks just after: at shown_at
    early = data.draw(st.integers(1_000, shown_at - 1), "early")
    with pytest.raises(Rejected) as caught:
        c.execute(session, c.Answer(anna, 0, 2), early)
    assert caught.value.code is ErrorCode.READING
    assert not c.execute(session, c.Tick(), shown_at - 1).changed
    (shown,) = c.execute(session, c.Tick(), shown_at).events
    assert shown == OptionsShown(seq=shown.seq, at_ms=shown_at, index=0)
    assert session.wakeup_ms == shown_at + limit
    took = data.draw(st.integers(0, limit), "took")
    outcome = c.execute(session, c.Answer(anna, 0, 2), shown_at + took).answer
    assert outcome is not None
    assert outcome.status is AnswerStatus.ACCEPTED
    assert outcome.record.elapsed_ms == took  # none of the reading time counts
    assert outcome.record.points == 1_000 - 1_000 * took // (2 * limit)


def test_nobody_sees_the_options_while_reading_and_everyone_after() -> None:
    session, anna, _ = reading_quiz(5_000, shuffle_options=True)
    reading = views.player_view(session, anna, 2_000)["question"]
    assert reading["options"] == []
    assert (reading["options_at_ms"], reading["options_in_ms"]) == (6_000, 4_000)
    assert "order" not in reading
    host = views.host_view(session, 2_000)["question"]
    assert host["options"] == []
    c.execute(session, c.Tick(), 6_000)
    shown = views.player_view(session, anna, 6_500)["question"]
    assert sorted(shown["options"]) == sorted(QUESTIONS[0].options)
    assert "options_at_ms" not in shown
    assert [QUESTIONS[0].options[k] for k in shown["order"]] == shown["options"]
    assert views.options_view(QUESTIONS[0], session.settings, 0)["options"] == list(
        QUESTIONS[0].options
    )
    # the options frame a phone gets lists them in the order its snapshot does
    mine = views.options_view(QUESTIONS[0], session.settings, 0, anna)
    assert (mine["options"], mine["order"]) == (shown["options"], shown["order"])


def test_the_host_cannot_pause_while_reading_but_may_close_or_skip() -> None:
    session, _, _ = reading_quiz(5_000)
    with pytest.raises(Rejected) as caught:
        c.execute(session, c.Pause(0), 2_000)
    assert caught.value.code is ErrorCode.ILLEGAL_STATE
    (closed,) = c.execute(session, c.CloseQuestion(0), 2_000).events
    assert isinstance(closed, QuestionClosed)
    assert session.options_at_ms is None
    assert views.player_view(session, 1, 2_100)["question"]["options"] == list(QUESTIONS[0].options)
    (opened,) = c.execute(session, c.Next(0), 3_000).events
    assert isinstance(opened, QuestionOpened)
    assert opened.options_at_ms == session.options_at_ms == 8_000


def test_reading_time_must_be_off_or_one_to_thirty_seconds() -> None:
    for wrong in (1, 999, 30_001):
        with pytest.raises(Rejected) as caught:
            QuizSettings(reading_ms=wrong).validate()
        assert caught.value.code is ErrorCode.INVALID_SETTINGS
    assert QuizSettings(reading_ms=30_000).validate().reading_ms == 30_000


def test_an_answer_while_reading_is_told_to_read_first() -> None:
    session, anna, _ = reading_quiz(5_000)
    with pytest.raises(Rejected) as caught:
        c.execute(session, c.Answer(anna, 0, 2), 5_999)
    assert (caught.value.code, caught.value.message) == (
        ErrorCode.READING,
        "read the question: its answers are not shown yet",
    )
    assert session.players[anna].answers == {}


def test_the_options_frame_names_its_question_and_lists_its_options() -> None:
    plain = QuizSettings(reading_ms=5_000)
    assert views.options_view(QUESTIONS[1], plain, 1) == {
        "index": 1,
        "options": list(QUESTIONS[1].options),
    }
    assert views.options_view(QUESTIONS[1], plain, 1, 7) == {
        "index": 1,
        "options": list(QUESTIONS[1].options),
    }
    shuffled = QuizSettings(reading_ms=5_000, shuffle_options=True)
    order = views.option_order(7, 1, QUESTIONS[1])
    assert views.options_view(QUESTIONS[1], shuffled, 1, 7) == {
        "index": 1,
        "options": [QUESTIONS[1].options[k] for k in order],
        "order": order,
    }
