"""The session state machine, rule by rule, to the millisecond."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from livequiz.domain import views
from livequiz.domain.commands import (
    Answer,
    AnswerRejoin,
    Approve,
    Command,
    Join,
    Leave,
    Pause,
    Rename,
    RequestRejoin,
    Resume,
    Start,
    execute,
    replay,
    to_record,
)
from livequiz.domain.errors import CoreBug, ErrorCode, Rejected
from livequiz.domain.events import (
    AnswerAccepted,
    CloseReason,
    FinishReason,
    LobbyLockChanged,
    OptionsShown,
    PlayerJoined,
    PlayerKicked,
    PlayerLeft,
    PlayerNamed,
    PlayerQuestionClosed,
    PlayerQuestionOpened,
    PlayerRejoined,
    QuestionClosed,
    QuestionOpened,
    QuestionPaused,
    QuestionResumed,
    QuizFinished,
    QuizStarted,
    RejoinAnswered,
    RejoinRequested,
)
from livequiz.domain.nicknames import NicknamePolicy
from livequiz.domain.question import Question
from livequiz.domain.ranking import Placing
from livequiz.domain.session import MAX_QUESTIONS, AnswerStatus, Phase, QuizSession
from livequiz.domain.settings import Identity, Pace, QuizSettings, RevealMode, ScoringMode
from tests.domain.factories import make_question

# time_limit 10 s, grace 500 ms: a question opened at t closes at t+10,000, accepts to t+10,500
SETTINGS = QuizSettings(time_limit_ms=10_000, grace_ms=500, close_when_all_answered=False)


def new_session(questions: list[Question], **changes: object) -> QuizSession:
    return QuizSession(questions, replace(SETTINGS, **changes))  # type: ignore[arg-type]


class _Raises:
    """``with raising(code):`` — the block must raise Rejected with exactly this code."""

    def __init__(self, code: ErrorCode) -> None:
        self.code = code

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, error: object, _tb: object) -> bool:
        assert isinstance(error, Rejected), f"expected Rejected({self.code}), got {error!r}"
        assert error.code is self.code, f"expected {self.code}, got {error.code}"
        return True


raising = _Raises


def phase_of(session: QuizSession) -> Phase:
    """The phase, read through a call so that type checkers do not pin it after one assert."""
    return session.phase


def state(session: QuizSession) -> tuple[object, ...]:
    """Everything observable about a session, to check that a refusal changed nothing."""
    return (
        session.phase,
        session.seq,
        session.current,
        session.locked,
        session.present_count,
        session.answered_count,
        [
            (p.id, p.nickname, p.present, p.kicked, p.score, p.streak, dict(p.answers))
            for p in session.players.values()
        ],
        list(session.board),
    )


# ---------------------------------------------------------------- construction


def test_a_quiz_needs_questions(questions: list[Question]) -> None:
    with raising(ErrorCode.NO_QUESTIONS):
        QuizSession([])
    with raising(ErrorCode.NO_QUESTIONS):
        QuizSession(questions * (MAX_QUESTIONS // 3 + 1))


def test_a_quiz_refuses_bad_settings(questions: list[Question]) -> None:
    with raising(ErrorCode.INVALID_SETTINGS):
        QuizSession(questions, QuizSettings(time_limit_ms=5))


def test_a_new_quiz_waits_in_the_lobby(questions: list[Question]) -> None:
    session = QuizSession(questions)
    assert phase_of(session) is Phase.LOBBY
    assert session.seq == 0
    assert session.question is None
    assert session.settings == QuizSettings()


# ---------------------------------------------------------------- joining


def test_players_join_with_increasing_ids_and_sequence_numbers(
    questions: list[Question],
) -> None:
    session = new_session(questions)
    anna = session.join("Anna", 100)
    ben = session.join("Ben", 150)
    assert anna == PlayerJoined(seq=1, at_ms=100, player_id=1, nickname="Anna", late=False)
    assert ben == PlayerJoined(seq=2, at_ms=150, player_id=2, nickname="Ben", late=False)
    assert session.present_count == 2
    assert [p.player_id for p in session.board] == [1, 2]  # equal scores: joined first, first


def test_a_taken_nickname_is_refused_whatever_its_case(questions: list[Question]) -> None:
    session = new_session(questions)
    session.join("Anna", 0)
    before = state(session)
    with raising(ErrorCode.NICKNAME_TAKEN):
        session.join("  ANNA ", 1)
    assert state(session) == before


def test_bad_and_profane_nicknames_are_refused(questions: list[Question]) -> None:
    session = QuizSession(questions, nicknames=NicknamePolicy(is_profane=lambda n: "rude" in n))
    with raising(ErrorCode.NICKNAME_INVALID):
        session.join("x", 0)
    with raising(ErrorCode.NICKNAME_PROFANE):
        session.join("rude boy", 0)
    assert session.seq == 0
    assert session.players == {}


def test_a_full_quiz_refuses_more_players(questions: list[Question]) -> None:
    session = new_session(questions, max_players=2)
    session.join("Anna", 0)
    session.join("Ben", 0)
    with raising(ErrorCode.QUIZ_FULL):
        session.join("Cleo", 0)
    session.kick(2, 1)  # a kicked player frees a place
    assert session.join("Cleo", 2).player_id == 3


def test_a_locked_lobby_refuses_joins_until_unlocked(questions: list[Question]) -> None:
    session = new_session(questions)
    assert session.set_locked(True, 5) == [LobbyLockChanged(seq=1, at_ms=5, locked=True)]
    assert session.set_locked(True, 6) == []  # no change, no event
    with raising(ErrorCode.LOBBY_LOCKED):
        session.join("Anna", 7)
    assert session.set_locked(False, 8) == [LobbyLockChanged(seq=2, at_ms=8, locked=False)]
    assert session.join("Anna", 9).seq == 3


def test_late_join_starts_at_the_current_question_with_no_points(
    questions: list[Question],
) -> None:
    session = new_session(questions)
    session.join("Anna", 0)
    session.start(1_000)
    session.submit_answer(1, 0, 0, 2_000)
    late = session.join("Ben", 3_000)
    assert late.late is True
    assert session.board.score_of(2) == 0
    outcome = session.submit_answer(2, 0, 0, 4_000)  # may still answer the open question
    assert outcome.status is AnswerStatus.ACCEPTED


def test_late_join_can_be_switched_off(questions: list[Question]) -> None:
    session = new_session(questions, allow_late_join=False)
    session.start(0)
    with raising(ErrorCode.LATE_JOIN_CLOSED):
        session.join("Anna", 1)


def test_nobody_joins_a_finished_quiz(questions: list[Question]) -> None:
    session = new_session(questions)
    session.end(0)
    with raising(ErrorCode.QUIZ_FINISHED):
        session.join("Anna", 1)


# ---------------------------------------------------------------- leave, rejoin, kick


def test_leave_and_rejoin_keep_the_score(questions: list[Question]) -> None:
    session = new_session(questions)
    session.join("Anna", 0)
    session.start(0)
    session.submit_answer(1, 0, 0, 1_000)
    score = session.players[1].score
    assert session.leave(1, 2_000) == [PlayerLeft(seq=5, at_ms=2_000, player_id=1)]
    assert session.present_count == 0
    with raising(ErrorCode.ILLEGAL_STATE):
        session.leave(1, 2_001)
    assert session.rejoin(1, 3_000) == [PlayerRejoined(seq=6, at_ms=3_000, player_id=1)]
    assert session.rejoin(1, 3_001) == []  # already here: a second connection, no change
    assert session.players[1].score == score
    assert session.board.score_of(1) == score


def test_unknown_players_are_refused(questions: list[Question]) -> None:
    session = new_session(questions)
    for command in (session.leave, session.rejoin, session.kick):
        with raising(ErrorCode.UNKNOWN_PLAYER):
            command(42, 0)
    with raising(ErrorCode.UNKNOWN_PLAYER):
        session.submit_answer(42, 0, 0, 0)


def test_a_kick_sticks(questions: list[Question]) -> None:
    session = new_session(questions)
    session.join("Anna", 0)
    session.join("Ben", 0)
    assert session.kick(1, 10) == [PlayerKicked(seq=3, at_ms=10, player_id=1)]
    assert 1 not in session.board
    assert session.present_count == 1
    for command in (session.leave, session.rejoin, session.kick):
        with raising(ErrorCode.KICKED):
            command(1, 11)
    session.start(20)
    with raising(ErrorCode.KICKED):
        session.submit_answer(1, 0, 0, 30)
    assert session.join("Anna", 40).player_id == 3  # the nickname is free again


def test_kicking_an_absent_player(questions: list[Question]) -> None:
    session = new_session(questions)
    session.join("Anna", 0)
    session.leave(1, 1)
    session.kick(1, 2)
    assert session.present_count == 0
    assert session.players[1].kicked


def test_no_kicks_or_locks_after_the_end(questions: list[Question]) -> None:
    session = new_session(questions)
    session.join("Anna", 0)
    session.end(1)
    with raising(ErrorCode.QUIZ_FINISHED):
        session.kick(1, 2)
    with raising(ErrorCode.QUIZ_FINISHED):
        session.set_locked(True, 2)
    # leaving and coming back to see the results is still possible
    assert session.leave(1, 3)[0].seq == 3
    assert session.rejoin(1, 4)[0].seq == 4


# ---------------------------------------------------------------- host flow


def test_a_whole_quiz_from_lobby_to_finish(questions: list[Question]) -> None:
    session = new_session(questions)
    session.join("Anna", 0)
    events = session.start(1_000)
    assert events == [
        QuizStarted(seq=2, at_ms=1_000, question_count=3),
        QuestionOpened(seq=3, at_ms=1_000, index=0, closes_at_ms=11_000, accepts_until_ms=11_500),
    ]
    assert phase_of(session) is Phase.QUESTION_OPEN
    assert session.question is questions[0]
    closed = session.close_question(5_000)
    assert closed == [
        QuestionClosed(
            seq=4,
            at_ms=5_000,
            index=0,
            correct_option=0,
            option_counts=(0, 0, 0, 0),
            reason=CloseReason.HOST,
        )
    ]
    assert phase_of(session) is Phase.QUESTION_CLOSED
    opened = session.next(6_000)
    assert opened == [
        QuestionOpened(seq=5, at_ms=6_000, index=1, closes_at_ms=16_000, accepts_until_ms=16_500)
    ]
    assert [type(e) for e in session.skip(7_000)] == [QuestionClosed, QuestionOpened]
    assert session.current == 2
    session.close_question(8_000)
    assert session.next(9_000) == [QuizFinished(seq=9, at_ms=9_000, reason=FinishReason.COMPLETED)]
    assert phase_of(session) is Phase.FINISHED


@pytest.mark.parametrize("phase", ["lobby", "open", "closed", "finished"])
def test_illegal_host_commands_raise_and_change_nothing(
    questions: list[Question], phase: str
) -> None:
    session = new_session(questions)
    session.join("Anna", 0)
    if phase != "lobby":
        session.start(10)
    if phase in ("closed", "finished"):
        session.close_question(20)
    if phase == "finished":
        session.end(30)
    legal = {
        "lobby": {"start", "end"},
        "open": {"close_question", "skip", "end"},
        "closed": {"next", "end"},
        "finished": set(),
    }[phase]
    for name in ("start", "close_question", "next", "skip", "end"):
        if name in legal:
            continue
        before = state(session)
        with pytest.raises(Rejected) as caught:
            getattr(session, name)(40)
        expected = ErrorCode.QUIZ_FINISHED if name == "end" else ErrorCode.ILLEGAL_STATE
        assert caught.value.code is expected, name
        assert state(session) == before, name


def test_skipping_the_last_question_finishes_the_quiz(questions: list[Question]) -> None:
    session = new_session(questions[:1])
    session.start(0)
    events = session.skip(100)
    assert [type(e) for e in events] == [QuestionClosed, QuizFinished]
    assert isinstance(events[0], QuestionClosed)
    assert events[0].reason is CloseReason.SKIP
    assert phase_of(session) is Phase.FINISHED


def test_ending_an_open_question_reveals_it_first(questions: list[Question]) -> None:
    session = new_session(questions)
    session.join("Anna", 0)
    session.start(0)
    session.submit_answer(1, 0, 0, 500)
    events = session.end(600)
    assert events == [
        QuestionClosed(
            seq=5,
            at_ms=600,
            index=0,
            correct_option=0,
            option_counts=(1, 0, 0, 0),
            reason=CloseReason.END,
        ),
        QuizFinished(seq=6, at_ms=600, reason=FinishReason.ENDED),
    ]


def test_ending_from_the_lobby(questions: list[Question]) -> None:
    session = new_session(questions)
    assert session.end(5) == [QuizFinished(seq=1, at_ms=5, reason=FinishReason.ENDED)]


# ---------------------------------------------------------------- the clock


def test_the_clock_closes_a_question_only_after_the_grace(questions: list[Question]) -> None:
    session = new_session(questions)
    session.start(1_000)
    assert session.tick(11_000) == []  # the countdown is at zero, answers still count
    assert session.tick(11_500) == []  # the last millisecond of the grace
    events = session.tick(11_501)
    assert len(events) == 1
    assert isinstance(events[0], QuestionClosed)
    assert events[0].reason is CloseReason.TIME
    assert session.tick(20_000) == []  # already closed: nothing to do


def test_the_clock_does_nothing_in_the_lobby(questions: list[Question]) -> None:
    session = new_session(questions)
    assert session.tick(10**9) == []
    assert session.seq == 0


# ---------------------------------------------------------------- answers


def test_a_correct_answer_is_scored_at_once(questions: list[Question]) -> None:
    session = new_session(questions)
    session.join("Anna", 0)
    session.start(1_000)
    outcome = session.submit_answer(1, 0, 0, 3_000)  # 2 s of 10: 1000 - 1000*2000//20000
    assert outcome.status is AnswerStatus.ACCEPTED
    assert outcome.record.points == 900
    assert outcome.record.score == 900
    assert outcome.record.correct is True
    assert outcome.events == (
        AnswerAccepted(
            seq=4,
            at_ms=3_000,
            player_id=1,
            index=0,
            option=0,
            correct=True,
            points=900,
            score=900,
            streak=1,
            elapsed_ms=2_000,
        ),
    )
    assert session.board.score_of(1) == 900
    assert session.answered_count == 1


def test_speed_counts_from_when_the_question_was_sent_to_the_player(
    questions: list[Question],
) -> None:
    session = new_session(questions)
    session.join("Anna", 0)
    session.start(1_000)
    outcome = session.submit_answer(1, 0, 0, 3_000, sent_at_ms=1_400)
    assert outcome.record.elapsed_ms == 1_600
    assert outcome.record.points == 920


def test_a_wrong_answer_scores_zero_and_breaks_the_streak(questions: list[Question]) -> None:
    session = new_session(questions)
    session.join("Anna", 0)
    session.start(0)
    session.submit_answer(1, 0, 0, 0)
    session.close_question(1)
    session.next(2)
    assert session.submit_answer(1, 1, 1, 2).record.streak == 2
    assert session.players[1].score == 1000 + 1100
    session.close_question(3)
    session.next(4)
    wrong = session.submit_answer(1, 2, 0, 4)
    assert (wrong.record.correct, wrong.record.points, wrong.record.streak) == (False, 0, 0)


def test_a_missed_question_breaks_the_streak(questions: list[Question]) -> None:
    session = new_session(questions)
    session.join("Anna", 0)
    session.start(0)
    session.submit_answer(1, 0, 0, 0)
    assert session.players[1].streak == 1
    session.close_question(1)
    session.next(2)
    session.close_question(3)  # Anna did not answer question 1
    assert session.players[1].streak == 0
    session.next(4)
    assert session.submit_answer(1, 2, 2, 4).record.points == 1000  # no bonus


def test_the_same_answer_twice_counts_once(questions: list[Question]) -> None:
    session = new_session(questions)
    session.join("Anna", 0)
    session.start(0)
    first = session.submit_answer(1, 0, 0, 1_000)
    before = state(session)
    again = session.submit_answer(1, 0, 0, 2_000)
    assert again.status is AnswerStatus.DUPLICATE
    assert again.record == first.record
    assert again.events == ()
    assert state(session) == before


def test_a_different_second_answer_is_refused_with_the_first_result(
    questions: list[Question],
) -> None:
    session = new_session(questions)
    session.join("Anna", 0)
    session.start(0)
    first = session.submit_answer(1, 0, 3, 1_000)
    before = state(session)
    other = session.submit_answer(1, 0, 0, 1_500)
    assert other.status is AnswerStatus.ALREADY_ANSWERED
    assert other.record == first.record
    assert other.record.option == 3
    assert state(session) == before


def test_a_repeat_after_the_close_still_gets_the_first_result(
    questions: list[Question],
) -> None:
    session = new_session(questions)
    session.join("Anna", 0)
    session.start(0)
    first = session.submit_answer(1, 0, 0, 1_000)
    session.close_question(2_000)
    session.next(3_000)
    assert session.submit_answer(1, 0, 0, 4_000).record == first.record


def test_answers_up_to_the_end_of_the_grace_count_and_later_ones_do_not(
    questions: list[Question],
) -> None:
    session = new_session(questions)
    session.join("Anna", 0)
    session.join("Ben", 0)
    session.start(1_000)
    in_grace = session.submit_answer(1, 0, 0, 11_500)
    assert in_grace.status is AnswerStatus.ACCEPTED
    assert in_grace.record.points == 500  # the time is clamped to the limit
    before = state(session)
    with raising(ErrorCode.TOO_LATE):
        session.submit_answer(2, 0, 0, 11_501)
    assert state(session) == before


@pytest.mark.parametrize(
    ("index", "option", "code"),
    [
        (5, 0, ErrorCode.WRONG_QUESTION),
        (-1, 0, ErrorCode.WRONG_QUESTION),
        ("0", 0, ErrorCode.WRONG_QUESTION),
        (True, 0, ErrorCode.WRONG_QUESTION),
        (0, 4, ErrorCode.INVALID_OPTION),
        (0, -1, ErrorCode.INVALID_OPTION),
        (0, 1.0, ErrorCode.INVALID_OPTION),
        (0, None, ErrorCode.INVALID_OPTION),
        (1, 0, ErrorCode.WRONG_QUESTION),  # a question that is not the open one
    ],
)
def test_malformed_answers_are_refused(
    questions: list[Question], index: object, option: object, code: ErrorCode
) -> None:
    session = new_session(questions)
    session.join("Anna", 0)
    session.start(0)
    before = state(session)
    with raising(code):
        session.submit_answer(1, index, option, 100)
    assert state(session) == before


def test_no_answers_while_no_question_is_open(questions: list[Question]) -> None:
    session = new_session(questions)
    session.join("Anna", 0)
    before = state(session)
    with raising(ErrorCode.QUESTION_NOT_OPEN):
        session.submit_answer(1, 0, 0, 0)
    assert state(session) == before
    session.start(0)
    session.close_question(1)
    before = state(session)
    with raising(ErrorCode.QUESTION_NOT_OPEN):  # the next one, not opened yet
        session.submit_answer(1, 1, 0, 2)
    assert state(session) == before


def test_an_answer_just_after_the_clock_closed_the_question_is_too_late(
    questions: list[Question],
) -> None:
    """The clock closes a question at deadline + grace: an answer that arrives a moment after
    that is ``too_late`` (as documented), not ``question_not_open`` (issue 16)."""
    session = new_session(questions)
    session.join("Anna", 0)
    session.join("Ben", 0)
    session.start(1_000)  # accepts until 11,500
    assert session.tick(11_501) != []
    assert phase_of(session) is Phase.QUESTION_CLOSED
    before = state(session)
    with raising(ErrorCode.TOO_LATE):
        session.submit_answer(1, 0, 0, 11_502)
    assert state(session) == before


@pytest.mark.parametrize("how", ["host", "skip", "all answered"])
def test_an_answer_to_a_question_closed_early_is_too_late(
    questions: list[Question], how: str
) -> None:
    session = new_session(questions, close_when_all_answered=how == "all answered")
    session.join("Anna", 0)
    session.join("Ben", 0)
    session.start(0)
    if how == "host":
        session.close_question(10)
    elif how == "skip":
        session.skip(10)  # question 1 is open now
    else:
        session.leave(2, 5)
        session.submit_answer(1, 0, 0, 10)
        session.rejoin(2, 15)
    before = state(session)
    with raising(ErrorCode.TOO_LATE):
        session.submit_answer(2, 0, 0, 20)
    assert state(session) == before


def test_an_answer_to_a_question_closed_long_ago_is_too_late(questions: list[Question]) -> None:
    session = new_session(questions)
    session.join("Anna", 0)
    session.start(0)
    session.skip(10)
    session.close_question(20)
    session.next(30)  # question 2 is open; 0 and 1 closed long ago
    seq = session.seq
    for index in (0, 1):
        with raising(ErrorCode.TOO_LATE):
            session.submit_answer(1, index, 0, 40)
    with raising(ErrorCode.TOO_LATE):  # between questions too
        session.close_question(50)
        session.submit_answer(1, 0, 0, 60)
    assert session.seq == seq + 1  # the close, nothing else
    assert session.answered_count == 0


def test_an_answer_to_a_question_not_opened_yet_while_another_is_open_is_wrong_question(
    questions: list[Question],
) -> None:
    session = new_session(questions)
    session.join("Anna", 0)
    session.start(0)
    before = state(session)
    for index in (1, 2):
        with raising(ErrorCode.WRONG_QUESTION):
            session.submit_answer(1, index, 0, 10)
    assert state(session) == before


def test_a_repeat_after_the_question_closed_gets_the_first_result(
    questions: list[Question],
) -> None:
    """Written down in docs/protocol.md: a client that lost its ack may ask again after the
    close, and gets the first result, not ``too_late``."""
    session = new_session(questions)
    session.join("Anna", 0)
    session.join("Ben", 0)
    session.start(0)
    first = session.submit_answer(1, 0, 0, 100)
    session.tick(20_000)
    session.next(20_001)
    before = state(session)
    again = session.submit_answer(1, 0, 0, 20_002)
    other = session.submit_answer(1, 0, 3, 20_003)
    assert (again.status, again.record, again.events) == (AnswerStatus.DUPLICATE, first.record, ())
    assert (other.status, other.record) == (AnswerStatus.ALREADY_ANSWERED, first.record)
    assert state(session) == before


def test_every_answer_to_a_finished_quiz_is_quiz_finished(questions: list[Question]) -> None:
    session = new_session(questions)
    session.join("Anna", 0)
    session.start(0)
    session.submit_answer(1, 0, 0, 10)
    session.end(20)
    before = state(session)
    for index, option in ((0, 0), (0, 1), (1, 0), (2, 0), (99, 0), (0, 9)):
        with raising(ErrorCode.QUIZ_FINISHED):
            session.submit_answer(1, index, option, 30)
    with raising(ErrorCode.QUIZ_FINISHED):
        session.submit_answer(42, 0, 0, 30)
    assert state(session) == before


# ---------------------------------------------------------------- all answered → close


def test_the_question_closes_when_every_present_player_has_answered(
    questions: list[Question],
) -> None:
    session = new_session(questions, close_when_all_answered=True)
    for name in ("Anna", "Ben", "Cleo"):
        session.join(name, 0)
    session.leave(3, 0)  # Cleo is away: she is not waited for
    session.start(0)
    assert session.submit_answer(1, 0, 0, 100).events[1:] == ()
    closing = session.submit_answer(2, 0, 1, 200).events
    assert isinstance(closing[-1], QuestionClosed)
    assert closing[-1].reason is CloseReason.ALL_ANSWERED
    assert closing[-1].option_counts == (1, 1, 0, 0)
    assert phase_of(session) is Phase.QUESTION_CLOSED


def test_leaving_and_coming_back_after_answering_counts_right(
    questions: list[Question],
) -> None:
    session = new_session(questions, close_when_all_answered=True)
    session.join("Anna", 0)
    session.join("Ben", 0)
    session.start(0)
    session.submit_answer(1, 0, 0, 100)
    session.leave(1, 150)
    session.rejoin(1, 160)
    assert phase_of(session) is Phase.QUESTION_OPEN
    session.submit_answer(2, 0, 0, 200)
    assert phase_of(session) is Phase.QUESTION_CLOSED


def test_an_absent_player_who_answers_does_not_count_as_present(
    questions: list[Question],
) -> None:
    session = new_session(questions, close_when_all_answered=True)
    session.join("Anna", 0)
    session.join("Ben", 0)
    session.start(0)
    session.leave(2, 10)
    session.submit_answer(2, 0, 0, 20)  # an answer that was in flight when Ben dropped
    assert phase_of(session) is Phase.QUESTION_OPEN
    session.submit_answer(1, 0, 0, 30)
    assert phase_of(session) is Phase.QUESTION_CLOSED


def test_kicking_the_last_player_who_had_not_answered_closes_the_question(
    questions: list[Question],
) -> None:
    session = new_session(questions, close_when_all_answered=True)
    session.join("Anna", 0)
    session.join("Ben", 0)
    session.start(0)
    session.submit_answer(1, 0, 0, 100)
    events = session.kick(2, 200)
    assert [type(e) for e in events] == [PlayerKicked, QuestionClosed]


# ---------------------------------------------------------------- reveal at close


def test_at_close_reveal_keeps_the_board_until_the_question_closes(
    questions: list[Question],
) -> None:
    session = new_session(questions, reveal=RevealMode.AT_CLOSE)
    session.join("Anna", 0)
    session.join("Ben", 0)
    session.start(0)
    session.submit_answer(2, 0, 0, 1_000)
    assert session.players[2].score == 950
    assert session.board.score_of(2) == 0
    assert [p.player_id for p in session.board] == [1, 2]
    session.close_question(2_000)
    assert session.board.score_of(2) == 950
    assert [p.player_id for p in session.board] == [2, 1]


def test_at_close_reveal_skips_players_kicked_meanwhile(questions: list[Question]) -> None:
    session = new_session(questions, reveal=RevealMode.AT_CLOSE)
    session.join("Anna", 0)
    session.join("Ben", 0)
    session.start(0)
    session.submit_answer(2, 0, 0, 1_000)
    session.kick(2, 1_500)
    session.close_question(2_000)
    assert 2 not in session.board
    assert len(session.board) == 1


# ---------------------------------------------------------------- invariants


def test_check_invariants_finds_a_broken_score(questions: list[Question]) -> None:
    session = new_session(questions)
    session.join("Anna", 0)
    session.check_invariants()
    session.players[1].score = 5
    with pytest.raises(CoreBug, match="score"):
        session.check_invariants()


def test_check_invariants_finds_a_kicked_player_on_the_board(questions: list[Question]) -> None:
    session = new_session(questions)
    session.join("Anna", 0)
    session.players[1].kicked = True
    with pytest.raises(CoreBug, match="board"):
        session.check_invariants()


def test_check_invariants_finds_a_pause_with_no_open_question(questions: list[Question]) -> None:
    session = new_session(questions)
    session.paused_at_ms = 5  # a bug would have left it set in the lobby
    with pytest.raises(CoreBug, match="paused"):
        session.check_invariants()


def test_check_invariants_finds_a_wrong_presence_count(questions: list[Question]) -> None:
    session = new_session(questions)
    session.join("Anna", 0)
    session.players[1].present = False
    with pytest.raises(CoreBug, match="present"):
        session.check_invariants()


def test_player_lookups(questions: list[Question]) -> None:
    session = new_session(questions)
    session.join("Anna", 0)
    assert session.player(1).nickname == "Anna"
    assert session.active_player(1).id == 1


def test_a_wrong_answer_keeps_a_players_place_among_equal_scores(
    questions: list[Question],
) -> None:
    session = new_session(questions)
    session.join("Anna", 0)
    session.join("Ben", 0)
    session.start(0)
    session.submit_answer(1, 0, 3, 100)  # wrong: Anna still has 0, reached when she joined
    assert [p.player_id for p in session.board] == [1, 2]


def test_the_last_unanswered_player_leaving_closes_the_question(
    questions: list[Question],
) -> None:
    session = new_session(questions, close_when_all_answered=True)
    session.join("Anna", 0)
    session.join("Ben", 0)
    session.start(0)
    session.submit_answer(1, 0, 0, 100)
    events = session.leave(2, 200)
    assert [type(e) for e in events] == [PlayerLeft, QuestionClosed]
    session.next(300)
    session.leave(1, 400)  # nobody is left: nothing to close on
    assert phase_of(session) is Phase.QUESTION_OPEN


def test_a_player_who_answered_coming_back_to_an_empty_room_closes_the_question(
    questions: list[Question],
) -> None:
    session = new_session(questions, close_when_all_answered=True)
    session.join("Anna", 0)
    session.join("Ben", 0)
    session.start(0)
    session.submit_answer(1, 0, 0, 100)
    session.leave(1, 200)
    session.leave(2, 300)  # nobody present: nothing to close on
    events = session.rejoin(1, 400)
    assert events == [
        PlayerRejoined(seq=8, at_ms=400, player_id=1),
        QuestionClosed(
            seq=9,
            at_ms=400,
            index=0,
            correct_option=0,
            option_counts=(1, 0, 0, 0),
            reason=CloseReason.ALL_ANSWERED,
        ),
    ]


# ---------------------------------------------------------------- what a refusal says


def refusal(action: Callable[[], object]) -> tuple[ErrorCode, str]:
    """The code and message of the refusal ``action()`` raises (the message is what users
    read: the protocol sends it on beside the code)."""
    with pytest.raises(Rejected) as caught:
        action()
    return caught.value.code, caught.value.message


def test_a_quiz_of_exactly_the_most_questions_is_allowed(questions: list[Question]) -> None:
    many = [questions[n % 3] for n in range(MAX_QUESTIONS)]
    assert len(QuizSession(many).questions) == MAX_QUESTIONS == 200
    assert refusal(lambda: QuizSession([*many, questions[0]])) == (
        ErrorCode.NO_QUESTIONS,
        "a quiz may have at most 200 questions",
    )
    assert refusal(lambda: QuizSession([])) == (
        ErrorCode.NO_QUESTIONS,
        "a quiz needs at least one question",
    )


def test_every_refusal_says_why_in_words(questions: list[Question]) -> None:
    session = new_session(questions, max_players=2, allow_late_join=False)
    session.join("Anna", 0)
    assert refusal(lambda: session.join("anna", 1)) == (
        ErrorCode.NICKNAME_TAKEN,
        "the nickname 'anna' is taken",
    )
    session.set_locked(True, 2)
    assert refusal(lambda: session.join("Ben", 3)) == (
        ErrorCode.LOBBY_LOCKED,
        "the host has locked this quiz",
    )
    session.set_locked(False, 4)
    session.join("Ben", 5)
    assert refusal(lambda: session.join("Cleo", 6)) == (ErrorCode.QUIZ_FULL, "this quiz is full")
    assert refusal(lambda: session.next(7)) == (
        ErrorCode.ILLEGAL_STATE,
        "there is no closed question to move on from",
    )
    assert refusal(lambda: session.close_question(8)) == (
        ErrorCode.ILLEGAL_STATE,
        "no question is open",
    )
    assert refusal(lambda: session.submit_answer(1, 0, 0, 9)) == (
        ErrorCode.QUESTION_NOT_OPEN,
        "no question is open",
    )
    assert refusal(lambda: session.player(9)) == (
        ErrorCode.UNKNOWN_PLAYER,
        "no such player in this quiz",
    )
    session.start(1_000)
    assert refusal(lambda: session.start(1_001)) == (
        ErrorCode.ILLEGAL_STATE,
        "the quiz has already started",
    )
    session.kick(2, 1_002)
    assert refusal(lambda: session.join("Dev", 1_003)) == (
        ErrorCode.LATE_JOIN_CLOSED,
        "this quiz has already started",
    )
    assert refusal(lambda: session.active_player(2)) == (
        ErrorCode.KICKED,
        "you were removed from this quiz",
    )
    assert refusal(lambda: session.submit_answer(1, 3, 0, 1_004)) == (
        ErrorCode.WRONG_QUESTION,
        "no such question in this quiz",
    )
    assert refusal(lambda: session.submit_answer(1, 0, 4, 1_005)) == (
        ErrorCode.INVALID_OPTION,
        "no such option in this question",
    )
    assert refusal(lambda: session.submit_answer(1, 1, 0, 1_006)) == (
        ErrorCode.WRONG_QUESTION,
        "that question is not the open one",
    )
    session.leave(1, 1_007)
    assert refusal(lambda: session.leave(1, 1_008)) == (
        ErrorCode.ILLEGAL_STATE,
        "that player has already left",
    )
    session.end(1_009)
    assert refusal(lambda: session.end(1_010)) == (
        ErrorCode.QUIZ_FINISHED,
        "this quiz has finished",
    )


def test_a_late_answer_is_told_that_time_is_up(questions: list[Question]) -> None:
    session = new_session(questions)
    session.join("Anna", 0)
    session.start(1_000)
    assert refusal(lambda: session.submit_answer(1, 0, 0, 11_501)) == (
        ErrorCode.TOO_LATE,
        "time is up for this question",
    )


# ------------------------------------------------------------ a skipped question counts for nobody


@pytest.mark.parametrize("reveal", [RevealMode.IMMEDIATE, RevealMode.AT_CLOSE])
def test_a_skip_takes_back_the_answers_already_given(
    questions: list[Question], reveal: RevealMode
) -> None:
    """A teacher skips a broken or unfair question: whoever had answered it must not keep
    points (or a lost streak) that the others could not get."""
    session = new_session(questions, reveal=reveal)
    for name in ("Anna", "Ben", "Cleo"):
        session.join(name, 0)
    session.start(0)
    session.submit_answer(1, 0, 0, 1_000)  # Anna right
    session.submit_answer(2, 0, 0, 2_000)  # Ben right, slower
    session.close_question(3_000)
    session.next(4_000)  # question 1
    anna_before, ben_before = session.players[1].score, session.players[2].score
    assert anna_before > ben_before > 0
    board_before = [(p.player_id, p.score, p.rank) for p in session.board]
    session.submit_answer(2, 1, 1, 4_100)  # Ben right at once: would pass Anna
    session.submit_answer(1, 1, 0, 4_200)  # Anna wrong: would end her streak of 1
    events = session.skip(5_000)
    assert [type(e) for e in events] == [QuestionClosed, QuestionOpened]
    closed = events[0]
    assert isinstance(closed, QuestionClosed)
    assert closed.reason is CloseReason.SKIP
    assert closed.option_counts == (1, 1, 0, 0)  # what was picked, still shown
    anna, ben, cleo = (session.players[i] for i in (1, 2, 3))
    assert (anna.score, anna.correct_count, anna.streak) == (anna_before, 1, 1)
    assert (ben.score, ben.correct_count, ben.streak) == (ben_before, 1, 1)
    assert (anna.published_score, anna.published_streak) == (anna_before, 1)
    assert 1 not in anna.answers
    assert 1 not in ben.answers
    assert cleo.streak == 0
    assert cleo.score == 0
    assert [(p.player_id, p.score, p.rank) for p in session.board] == board_before
    session.check_invariants()
    # the next question scores as if question 1 had never been: Anna's streak goes on
    right = session.submit_answer(1, 2, 2, 5_000)
    assert right.record.streak == 2
    # an answer to the skipped question again is too late, not a duplicate
    with raising(ErrorCode.TOO_LATE):
        session.submit_answer(2, 1, 0, 5_100)


def test_a_skip_keeps_the_streak_of_those_who_had_not_answered(questions: list[Question]) -> None:
    session = new_session(questions)
    session.join("Anna", 0)
    session.start(0)
    session.submit_answer(1, 0, 0, 1_000)
    session.close_question(2_000)
    session.next(3_000)
    session.skip(4_000)  # Anna had not answered question 1: no streak lost for it
    assert session.players[1].streak == 1
    assert session.submit_answer(1, 2, 2, 4_500).record.streak == 2


def test_a_skip_after_a_skip_goes_back_to_the_last_question_that_counted(
    questions: list[Question],
) -> None:
    session = new_session(questions + questions)
    session.join("Anna", 0)
    session.start(0)
    session.submit_answer(1, 0, 0, 1_000)  # streak 1
    session.close_question(1_500)
    session.next(1_600)
    session.skip(2_000)  # question 1 skipped unanswered
    session.submit_answer(1, 2, 1, 2_500)  # question 2 wrong: streak 0 …
    assert session.players[1].streak == 0
    session.skip(3_000)  # … but question 2 is skipped too: back to the streak after question 0
    assert session.players[1].streak == 1
    assert session.skipped == {1, 2}
    assert not session.was_asked(session.players[1], 1)
    session.check_invariants()


def test_a_skipped_answer_of_a_removed_player_is_taken_back_too(questions: list[Question]) -> None:
    session = new_session(questions)
    session.join("Anna", 0)
    session.join("Ben", 0)
    session.start(0)
    session.submit_answer(2, 0, 0, 1_000)
    session.kick(2, 1_500)
    session.skip(2_000)
    assert session.players[2].score == 0
    assert session.players[2].answers == {}
    assert 2 not in session.board
    session.check_invariants()


# --------------------------------------------------------- a dead phone: back with the host's leave

REQUEST = "r" * 22
OTHER_REQUEST = "s" * 22


def test_a_student_on_a_borrowed_phone_is_let_back_in_as_themselves(
    questions: list[Question],
) -> None:
    session = new_session(questions)
    session.join("Leo", 0)
    session.join("Mia", 0)
    session.start(0)
    session.submit_answer(1, 0, 0, 1_000)
    score = session.players[1].score
    session.leave(1, 2_000)  # Leo's phone dies
    with raising(ErrorCode.NICKNAME_TAKEN):  # a new join under his name is still refused
        session.join("Leo", 3_000)
    events = session.request_rejoin(" leo ", REQUEST, 3_100)
    assert events == [RejoinRequested(seq=events[0].seq, at_ms=3_100, player_id=1, nickname="Leo")]
    assert session.asks_to_rejoin(1)
    assert session.rejoin_waiting(REQUEST) == 1
    assert session.rejoin_answer(REQUEST) is None
    answered = session.answer_rejoin(1, True, 4_000)
    assert answered == [RejoinAnswered(seq=answered[0].seq, at_ms=4_000, player_id=1, let_in=True)]
    assert session.rejoin_answer(REQUEST) == (1, True)
    assert session.rejoin_waiting(REQUEST) is None
    assert not session.asks_to_rejoin(1)
    assert session.players[1].score == score  # the same player: nothing lost, no "Leo 2"
    assert len(session.players) == 2


def test_only_an_away_player_can_be_asked_for_and_only_once_per_request(
    questions: list[Question],
) -> None:
    session = new_session(questions)
    session.join("Leo", 0)
    before = state(session)
    with raising(ErrorCode.NICKNAME_TAKEN):  # Leo is here: nobody may take his place
        session.request_rejoin("Leo", REQUEST, 100)
    with raising(ErrorCode.UNKNOWN_PLAYER):
        session.request_rejoin("Nobody", REQUEST, 100)
    with raising(ErrorCode.NICKNAME_INVALID):
        session.request_rejoin("", REQUEST, 100)
    with raising(ErrorCode.ILLEGAL_STATE):  # no request id of the server's
        session.request_rejoin("Leo", "short", 100)
    with raising(ErrorCode.ILLEGAL_STATE):  # nobody asks: nothing to answer
        session.answer_rejoin(1, True, 100)
    assert state(session) == before
    session.leave(1, 200)
    session.request_rejoin("Leo", REQUEST, 300)
    with raising(ErrorCode.ILLEGAL_STATE):
        session.request_rejoin("Leo", REQUEST, 310)
    session.request_rejoin("Leo", OTHER_REQUEST, 320)  # a second try replaces the first
    assert session.rejoin_waiting(REQUEST) is None
    session.answer_rejoin(1, False, 400)
    assert session.rejoin_answer(OTHER_REQUEST) == (1, False)
    assert session.rejoin_answer(REQUEST) is None


def test_removing_a_player_turns_away_whoever_asks_to_be_them(questions: list[Question]) -> None:
    session = new_session(questions)
    session.join("Leo", 0)
    session.leave(1, 100)
    session.request_rejoin("Leo", REQUEST, 200)
    session.kick(1, 300)
    assert session.rejoin_answer(REQUEST) == (1, False)
    with raising(ErrorCode.KICKED):
        session.answer_rejoin(1, True, 400)


def test_rejoin_requests_replay_from_the_journal(questions: list[Question]) -> None:
    session = new_session(questions)
    commands: list[tuple[Command, int]] = [
        (Join("Leo"), 0),
        (Leave(1), 100),
        (RequestRejoin("Leo", REQUEST), 200),
        (AnswerRejoin(1, True), 300),
    ]
    records = []
    for command, now in commands:
        execute(session, command, now)
        records.append(to_record(command, now))
    again = new_session(questions)
    replay(again, records)
    assert again.rejoin_answer(REQUEST) == (1, True)
    assert state(again) == state(session)


# ------------------------------------------------------------ names the host approves first


def test_with_name_approval_a_name_shows_only_once_the_host_approves_it(
    questions: list[Question],
) -> None:
    session = new_session(questions, approve_names=True, close_when_all_answered=True)
    joined = session.join("Sexy Sam", 0)
    assert joined.approved is False
    session.join("Anna", 10)
    anna = session.players[2]
    assert not anna.approved
    assert len(session.board) == 0  # on no board, no screen
    assert session.present_count == 0
    session.check_invariants()
    session.start(100)
    with raising(ErrorCode.NAME_NOT_APPROVED):  # waiting: cannot answer yet
        session.submit_answer(2, 0, 0, 200)
    (named,) = session.approve(2, 300)
    assert named == PlayerNamed(seq=named.seq, at_ms=300, player_id=2, nickname="Anna")
    assert anna.approved
    assert [p.player_id for p in session.board] == [2]
    assert session.present_count == 1
    with raising(ErrorCode.ILLEGAL_STATE):
        session.approve(2, 310)
    # Anna is the only one shown and present: her answer closes the question
    outcome = session.submit_answer(2, 0, 0, 400)
    assert [type(e) for e in outcome.events] == [AnswerAccepted, QuestionClosed]
    # "Sexy Sam" gets a friendly name instead, approved with it; the old one is free
    (renamed,) = session.rename(1, "Brave Otter", 500)
    assert renamed.nickname == "Brave Otter"
    assert session.players[1].approved
    assert session.players[1].nickname == "Brave Otter"
    session.check_invariants()
    with raising(ErrorCode.NICKNAME_TAKEN):
        session.rename(1, "anna", 600)
    session.leave(2, 650)
    with raising(ErrorCode.NICKNAME_TAKEN):  # Anna is away, her name still hers
        session.join("Anna", 700)


def test_a_name_waiting_for_approval_can_be_removed_and_comes_and_goes_uncounted(
    questions: list[Question],
) -> None:
    session = new_session(questions, approve_names=True)
    session.join("Poo Poo", 0)
    session.leave(1, 10)
    session.rejoin(1, 20)
    assert session.present_count == 0
    session.kick(1, 30)
    assert session.players[1].kicked
    session.check_invariants()
    session.join("Poo Poo", 40)  # the name is free again; approval still needed
    assert not session.players[2].approved


def test_a_renamed_name_follows_the_nickname_rules(questions: list[Question]) -> None:
    session = new_session(questions)
    session.join("Anna", 0)
    before = state(session)
    with raising(ErrorCode.NICKNAME_INVALID):
        session.rename(1, "A", 10)
    with raising(ErrorCode.UNKNOWN_PLAYER):
        session.rename(9, "Bea", 10)
    assert state(session) == before
    session.rename(1, "anna", 20)  # the same name in another case: hers
    assert session.players[1].nickname == "anna"


def test_self_paced_homework_waits_for_the_approval_too(questions: list[Question]) -> None:
    session = new_session(questions, approve_names=True, pace=Pace.SELF)
    session.join("Anna", 0)
    session.start(0, due_at_ms=86_400_000)
    with raising(ErrorCode.NAME_NOT_APPROVED):
        session.advance(1, 10)
    session.approve(1, 20)
    assert [type(e).__name__ for e in session.advance(1, 30)] == ["PlayerQuestionOpened"]


def test_approvals_and_renames_replay_from_the_journal(questions: list[Question]) -> None:
    session = new_session(questions, approve_names=True)
    commands: list[tuple[Command, int]] = [
        (Join("Anna"), 0),
        (Join("Sexy Sam"), 10),
        (Leave(1), 20),
        (Approve(1), 30),  # approved while away: counted present once back
        (Rename(2, "Brave Otter"), 40),
    ]
    records = []
    for command, now in commands:
        execute(session, command, now)
        records.append(to_record(command, now))
    assert session.present_count == 1  # Brave Otter; Anna is away
    again = new_session(questions, approve_names=True)
    replay(again, records)
    assert state(again) == state(session)
    assert [session.players[i].nickname for i in (1, 2)] == ["Anna", "Brave Otter"]
    session.rejoin(1, 50)
    assert session.present_count == 2
    session.check_invariants()


def test_a_rename_with_trusted_names_leaves_a_twin_its_name(questions: list[Question]) -> None:
    """Trusted names (the load generator's) may repeat: renaming one twin frees nothing the
    other holds."""
    session = QuizSession(questions, SETTINGS, nicknames=NicknamePolicy(trusted=True))
    session.join("Bot", 0)
    session.join("Bot", 0)  # the key stays the first one's
    session.rename(2, "Bot 2", 10)
    (named,) = session.rename(1, "Bot 2", 20)  # trusted: may repeat
    assert isinstance(named, PlayerNamed)
    assert named.nickname == "Bot 2"


def test_an_app_quiz_takes_no_rejoin_by_name(questions: list[Question]) -> None:
    session = new_session(questions, identity=Identity.APP)
    with raising(ErrorCode.APP_SIGN_IN_REQUIRED):
        session.request_rejoin("Leo", REQUEST, 0)


# ------------------------------------------------------------ pause and resume


def test_a_pause_moves_the_deadline_by_its_length_exactly(questions: list[Question]) -> None:
    session = new_session(questions)  # 10 s, grace 500 ms
    session.join("Anna", 0)
    session.join("Ben", 0)
    session.start(1_000)  # closes at 11,000, accepts until 11,500
    (paused,) = session.pause(4_000)
    assert paused == QuestionPaused(seq=paused.seq, at_ms=4_000, index=0, remaining_ms=7_000)
    assert session.wakeup_ms is None  # the clock does not close a paused question
    assert session.tick(60_000) == []
    with raising(ErrorCode.PAUSED):
        session.submit_answer(1, 0, 0, 5_000)
    with raising(ErrorCode.ILLEGAL_STATE):
        session.pause(5_000)
    view = views.question_view(session, 9_000)
    assert view is not None
    assert (view["paused"], view["remaining_ms"]) == (True, 7_000)
    (resumed,) = session.resume(64_000)  # paused for 60 s
    assert resumed == QuestionResumed(
        seq=resumed.seq, at_ms=64_000, index=0, closes_at_ms=71_000, accepts_until_ms=71_500
    )
    assert session.wakeup_ms == 71_500
    assert "paused" not in (views.question_view(session, 64_000) or {})
    with raising(ErrorCode.ILLEGAL_STATE):
        session.resume(64_100)
    # the pause is nobody's thinking time: 3 s before it, 1 s after it = 4 s
    anna = session.submit_answer(1, 0, 0, 65_000)
    assert anna.record.elapsed_ms == 4_000
    assert session.tick(71_500) == []
    assert [type(e) for e in session.tick(71_501)] == [QuestionClosed]


def test_a_player_sent_the_question_during_the_pause_is_timed_from_the_resume(
    questions: list[Question],
) -> None:
    session = new_session(questions)
    session.join("Anna", 0)
    session.start(1_000)
    session.pause(1_200)
    session.resume(11_200)  # 10 s paused
    # her connection got the question at 1,500 (during the pause): from 11,200 on, 2 s
    outcome = session.submit_answer(1, 0, 0, 13_200, sent_at_ms=1_500)
    assert outcome.record.elapsed_ms == 2_000


def test_closing_skipping_or_ending_a_paused_question_works(questions: list[Question]) -> None:
    session = new_session(questions)
    session.join("Anna", 0)
    session.start(0)
    session.pause(100)
    session.close_question(200)
    assert session.paused_at_ms is None
    session.check_invariants()
    with raising(ErrorCode.ILLEGAL_STATE):  # nothing open to pause
        session.pause(300)
    session.next(400)
    session.pause(500)
    session.skip(600)  # the next question opens, running
    assert session.paused_at_ms is None
    assert session.wakeup_ms == session.accepts_until_ms
    session.pause(700)
    session.end(800)
    session.check_invariants()


def test_a_question_past_its_time_cannot_be_paused(questions: list[Question]) -> None:
    session = new_session(questions)
    session.join("Anna", 0)
    session.start(0)  # accepts until 10,500
    with raising(ErrorCode.ILLEGAL_STATE):
        session.pause(10_501)


def test_homework_has_no_pause(questions: list[Question]) -> None:
    session = new_session(questions, pace=Pace.SELF)
    session.join("Anna", 0)
    session.start(0, due_at_ms=86_400_000)
    with raising(ErrorCode.ILLEGAL_STATE):
        session.pause(10)


def test_pauses_replay_from_the_journal(questions: list[Question]) -> None:
    session = new_session(questions)
    commands: list[tuple[Command, int]] = [
        (Join("Anna"), 0),
        (Start(), 1_000),
        (Pause(), 2_000),
        (Resume(), 9_000),
        (Answer(1, 0, 0), 10_000),
    ]
    records = [to_record(command, now) for command, now in commands]
    for command, now in commands:
        execute(session, command, now)
    again = new_session(questions)
    replay(again, records)
    assert state(again) == state(session)
    assert again.players[1].answers[0].elapsed_ms == 2_000
    assert again.closes_at_ms == session.closes_at_ms == 18_000


# ------------------------------------------------------------ moving on by itself


def test_with_auto_advance_the_next_question_opens_by_itself(questions: list[Question]) -> None:
    session = new_session(questions, auto_advance_ms=5_000)
    session.join("Anna", 0)
    session.start(0)
    (closed,) = session.close_question(2_000)
    assert isinstance(closed, QuestionClosed)
    assert closed.next_at_ms == 7_000
    assert session.wakeup_ms == 6_999  # the tick just after it: at 7,000
    view = views.question_view(session, 4_000)
    assert view is not None
    assert view["next_in_ms"] == 3_000
    assert session.tick(6_999) == []
    assert [type(e) for e in session.tick(7_000)] == [QuestionOpened]
    assert session.current == 1
    assert "next_in_ms" not in (views.question_view(session, 7_000) or {})
    # the clock closes question 1, and the quiz moves on again; after the last, it finishes
    assert [type(e) for e in session.tick(17_501)] == [QuestionClosed]
    session.next(18_000)  # the host moving on sooner is fine
    session.close_question(19_000)
    assert [type(e) for e in session.tick(24_000)] == [QuizFinished]
    assert session.wakeup_ms is None


def test_without_auto_advance_a_reveal_waits_for_the_host(questions: list[Question]) -> None:
    session = new_session(questions)
    session.join("Anna", 0)
    session.start(0)
    (closed,) = session.close_question(2_000)
    assert isinstance(closed, QuestionClosed)
    assert closed.next_at_ms is None
    assert session.wakeup_ms is None
    assert session.tick(100_000) == []


def test_an_ended_quiz_does_not_move_on(questions: list[Question]) -> None:
    session = new_session(questions, auto_advance_ms=3_000)
    session.join("Anna", 0)
    session.start(0)
    events = session.end(1_000)
    closed = events[0]
    assert isinstance(closed, QuestionClosed)
    assert closed.next_at_ms is None
    assert session.wakeup_ms is None


@pytest.mark.parametrize("value", [1, 2_999, 120_001])
def test_auto_advance_is_off_or_three_seconds_to_two_minutes(value: int) -> None:
    with raising(ErrorCode.INVALID_SETTINGS):
        QuizSettings(auto_advance_ms=value).validate()


# ------------------------------------------------------------ found by mutation testing
# Assertions that mutation testing (mutmut) showed missing: the session's pacing (start, pause,
# resume, the clock, end, a self-paced player's advance), its exact events and refusals.

DAY = 86_400_000


def test_a_due_time_that_does_not_fit_the_quiz_is_refused_saying_why(
    questions: list[Question],
) -> None:
    live = new_session(questions)
    assert refusal(lambda: live.start(0, due_at_ms=DAY)) == (
        ErrorCode.INVALID_DUE,
        "a live quiz has no due time (pace is 'live')",
    )
    homework = new_session(questions, pace=Pace.SELF)
    needs_one = (
        ErrorCode.INVALID_DUE,
        "a self-paced quiz needs a due time (due_at_ms, a whole number)",
    )
    assert refusal(lambda: homework.start(0)) == needs_one
    assert refusal(lambda: homework.start(0, due_at_ms=str(DAY))) == needs_one
    # one minute to 90 days from the start: one millisecond outside either end is refused
    out_of_range = (ErrorCode.INVALID_DUE, "the due time must be 1 minute to 90 days from now")
    assert refusal(lambda: homework.start(1_000, due_at_ms=1_000 + 59_999)) == out_of_range
    assert refusal(lambda: homework.start(1_000, due_at_ms=1_000 + 90 * DAY + 1)) == out_of_range
    assert phase_of(homework) is Phase.LOBBY


def test_every_refused_pause_or_resume_says_why(questions: list[Question]) -> None:
    session = new_session(questions)
    session.join("Anna", 0)
    session.start(0)  # accepts until 10,500
    assert refusal(lambda: session.resume(100)) == (
        ErrorCode.ILLEGAL_STATE,
        "the question is not paused",
    )
    session.pause(200)
    assert refusal(lambda: session.pause(300)) == (
        ErrorCode.ILLEGAL_STATE,
        "the question is paused already",
    )
    session.resume(400)  # deadline now 10,200, accepting until 10,700
    assert refusal(lambda: session.pause(10_701)) == (
        ErrorCode.ILLEGAL_STATE,
        "time is up for this question",
    )
    reading = new_session(questions, reading_ms=2_000)
    reading.join("Anna", 0)
    reading.start(0)
    assert refusal(lambda: reading.pause(1_999)) == (
        ErrorCode.ILLEGAL_STATE,
        "the answers are not shown yet: pause once they are",
    )


def test_a_pause_in_the_last_grace_millisecond_is_taken_and_a_zero_length_pause_moves_nothing(
    questions: list[Question],
) -> None:
    session = new_session(questions)
    session.join("Anna", 0)  # seq 1
    session.start(0)  # seq 2, 3: closes at 10,000, accepts until 10,500
    # the countdown has reached zero (the grace runs): nothing remains to show, not 1 ms
    assert session.pause(10_500) == [QuestionPaused(seq=4, at_ms=10_500, index=0, remaining_ms=0)]
    # resumed in the same millisecond: paused for 0 ms, so the deadlines stay where they were
    assert session.resume(10_500) == [
        QuestionResumed(seq=5, at_ms=10_500, index=0, closes_at_ms=10_000, accepts_until_ms=10_500)
    ]
    assert session.tick(10_500) == []
    (closed,) = session.tick(10_501)
    assert isinstance(closed, QuestionClosed)
    assert (closed.seq, closed.at_ms, closed.reason) == (6, 10_501, CloseReason.TIME)


def test_the_clock_shows_the_options_after_the_reading_time_as_the_next_event(
    questions: list[Question],
) -> None:
    session = new_session(questions, reading_ms=2_000)
    session.join("Anna", 0)  # seq 1
    session.start(0)  # seq 2, 3: the options show at 2,000
    assert session.tick(1_999) == []
    assert session.tick(2_000) == [OptionsShown(seq=4, at_ms=2_000, index=0)]
    assert session.tick(2_001) == []


def homework_of(questions: list[Question], *names: str, due_at_ms: int = DAY) -> QuizSession:
    """A self-paced quiz with these players (seq 1, 2, ...), handed out at t=0."""
    session = new_session(questions, pace=Pace.SELF)
    for name in names:
        session.join(name, 0)
    session.start(0, due_at_ms=due_at_ms)
    return session


def test_ending_homework_closes_each_open_question_then_finishes_at_that_time(
    questions: list[Question],
) -> None:
    session = homework_of(questions, "Anna", "Ben", "Cleo")  # seq 1-3, started seq 4
    session.advance(1, 1_000)  # seq 5
    session.advance(2, 2_000)  # seq 6; Cleo has opened nothing: nothing of hers closes
    assert session.end(3_000) == [
        PlayerQuestionClosed(
            seq=7, at_ms=3_000, player_id=1, index=0, correct_option=0, reason=CloseReason.END
        ),
        PlayerQuestionClosed(
            seq=8, at_ms=3_000, player_id=2, index=0, correct_option=0, reason=CloseReason.END
        ),
        QuizFinished(seq=9, at_ms=3_000, reason=FinishReason.ENDED),
    ]


def test_homework_past_its_due_time_closes_what_is_open_and_finishes_at_the_tick(
    questions: list[Question],
) -> None:
    session = homework_of(questions, "Anna", due_at_ms=60_000)  # seq 1, started seq 2
    (opened,) = session.advance(1, 55_000)  # never open past the due time
    assert opened == PlayerQuestionOpened(
        seq=3, at_ms=55_000, player_id=1, index=0, closes_at_ms=60_000, accepts_until_ms=60_500
    )
    assert session.tick(60_500) == []
    assert session.tick(60_501) == [
        PlayerQuestionClosed(
            seq=4, at_ms=60_501, player_id=1, index=0, correct_option=0, reason=CloseReason.END
        ),
        QuizFinished(seq=5, at_ms=60_501, reason=FinishReason.DUE),
    ]


def test_one_tick_closes_every_players_question_whose_time_ran_out(
    questions: list[Question],
) -> None:
    session = homework_of(questions, "Anna", "Ben")  # seq 1, 2, started seq 3
    session.advance(1, 1_000)  # seq 4, accepts until 11,500
    session.advance(2, 1_200)  # seq 5, accepts until 11,700
    assert session.tick(12_000) == [
        PlayerQuestionClosed(
            seq=6, at_ms=12_000, player_id=1, index=0, correct_option=0, reason=CloseReason.TIME
        ),
        PlayerQuestionClosed(
            seq=7, at_ms=12_000, player_id=2, index=0, correct_option=0, reason=CloseReason.TIME
        ),
    ]


def test_advancing_past_a_question_whose_time_ran_out_closes_it_then_opens_the_next(
    questions: list[Question],
) -> None:
    session = homework_of(questions, "Anna")  # seq 1, started seq 2
    session.advance(1, 1_000)  # seq 3, accepts until 11,500
    assert refusal(lambda: session.advance(1, 11_500)) == (
        ErrorCode.ILLEGAL_STATE,
        "answer the open question first (or let its time run out)",
    )
    # the clock has not closed it yet (no tick): the advance does, at its own time
    assert session.advance(1, 11_501) == [
        PlayerQuestionClosed(
            seq=4, at_ms=11_501, player_id=1, index=0, correct_option=0, reason=CloseReason.TIME
        ),
        PlayerQuestionOpened(
            seq=5, at_ms=11_501, player_id=1, index=1, closes_at_ms=21_501, accepts_until_ms=22_001
        ),
    ]


def test_every_refused_advance_says_why(questions: list[Question]) -> None:
    live = new_session(questions)
    live.join("Anna", 0)
    live.start(0)
    assert refusal(lambda: live.advance(1, 100)) == (
        ErrorCode.ILLEGAL_STATE,
        "in a live quiz the host opens each question for everyone",
    )
    waiting = new_session(questions, pace=Pace.SELF)
    waiting.join("Anna", 0)
    assert refusal(lambda: waiting.advance(1, 100)) == (
        ErrorCode.QUESTION_NOT_OPEN,
        "this quiz has not been handed out yet",
    )
    unnamed = new_session(questions, pace=Pace.SELF, approve_names=True)
    unnamed.join("Anna", 0)
    unnamed.start(0, due_at_ms=DAY)
    assert refusal(lambda: unnamed.advance(1, 100)) == (
        ErrorCode.NAME_NOT_APPROVED,
        "wait a moment: your teacher checks your name first",
    )
    session = homework_of(questions, "Anna")
    assert refusal(lambda: session.advance(1, DAY)) == (
        ErrorCode.QUIZ_FINISHED,
        "this quiz is past its due time",
    )
    for index in range(3):
        session.advance(1, 1_000 * (index + 1))
        session.submit_answer(1, index, index, 1_000 * (index + 1) + 500)
    assert refusal(lambda: session.advance(1, 5_000)) == (
        ErrorCode.ILLEGAL_STATE,
        "you have done every question of this quiz",
    )


def test_a_skip_puts_a_player_back_among_equal_scores_where_their_counted_answers_put_them(
    questions: list[Question],
) -> None:
    # one point a right answer, no streak bonus: the three end on 1 point each, and the tie-break
    # is who reached 1 first; a skipped answer (and a wrong one, worth nothing) reaches nothing
    session = new_session(
        [*questions, make_question(3)],
        scoring=ScoringMode.ACCURACY,
        base_points=1,
        streak_bonus=0,
    )
    for name in ("Anna", "Ben", "Cleo"):
        session.join(name, 0)
    session.start(1_000)
    session.submit_answer(2, 0, 0, 1_100)  # Ben reaches 1 first,
    session.submit_answer(1, 0, 0, 1_200)  # then Anna,
    session.submit_answer(3, 0, 0, 1_300)  # then Cleo
    session.close_question(2_000)
    session.next(3_000)
    session.submit_answer(1, 1, 0, 3_100)  # Anna, wrong: 0 points, after all three reached 1
    session.close_question(4_000)
    session.next(5_000)
    session.submit_answer(1, 2, 2, 5_100)  # Anna reaches 2 ...
    assert [p.player_id for p in session.board] == [1, 2, 3]
    session.skip(6_000)  # ... which is taken back
    assert list(session.board) == [
        Placing(player_id=2, score=1, rank=1),
        Placing(player_id=1, score=1, rank=1),
        Placing(player_id=3, score=1, rank=1),
    ]


def test_nothing_waits_to_move_on_once_the_next_question_opens_or_the_quiz_finishes(
    questions: list[Question],
) -> None:
    session = new_session(questions, auto_advance_ms=5_000)
    session.join("Anna", 0)
    session.start(0)
    session.close_question(1_000)
    assert session.next_at_ms == 6_000
    session.tick(6_000)  # question 1 opens by itself
    assert session.current == 1
    assert session.next_at_ms is None
    session.close_question(7_000)
    session.next(8_000)  # the host moves on first
    assert session.next_at_ms is None
    session.close_question(9_000)
    assert session.next_at_ms == 14_000
    assert session.tick(14_000) == [
        QuizFinished(seq=9, at_ms=14_000, reason=FinishReason.COMPLETED)
    ]
    assert session.next_at_ms is None
