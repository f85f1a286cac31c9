"""The session's rules about players (joining, teams, names, rejoin requests, leaving, kicks,
presence), with the assertions that mutation testing found missing: exact events, exact
refusals (code and message), both sides of each bound."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from livequiz.domain import views
from livequiz.domain.errors import CoreBug, ErrorCode, Rejected
from livequiz.domain.events import (
    AnswerAccepted,
    CloseReason,
    PlayerJoined,
    PlayerKicked,
    PlayerLeft,
    PlayerNamed,
    QuestionClosed,
    RejoinAnswered,
    RejoinRequested,
)
from livequiz.domain.question import Question
from livequiz.domain.ranking import Placing
from livequiz.domain.session import QuizSession
from livequiz.domain.settings import Identity, Pace, QuizSettings
from tests.domain.factories import make_question

# time_limit 10 s, grace 500 ms: a question opened at t closes at t+10,000, accepts to t+10,500
SETTINGS = QuizSettings(time_limit_ms=10_000, grace_ms=500, close_when_all_answered=False)
DAY = 24 * 3_600_000


def new_session(questions: list[Question], **changes: object) -> QuizSession:
    return QuizSession(questions, replace(SETTINGS, **changes))  # type: ignore[arg-type]


def refusal(action: Callable[[], object]) -> tuple[ErrorCode, str]:
    """The code and message of the refusal ``action()`` raises (the message is what users
    read: the protocol sends it on beside the code)."""
    with pytest.raises(Rejected) as caught:
        action()
    return caught.value.code, caught.value.message


def away(questions: list[Question], *names: str) -> QuizSession:
    """A lobby where these players joined at t=0 and the first of them has left at t=10."""
    session = new_session(questions)
    for name in names:
        session.join(name, 0)
    session.leave(1, 10)
    return session


# ---------------------------------------------------------------- a new session


def test_a_new_live_quiz_has_nothing_scheduled_and_no_extra_time(
    questions: list[Question],
) -> None:
    session = new_session(questions)
    session.join("Anna", 0)
    # None means "nothing pending": no due time (the quiz page reads it), no next question
    # opening by itself, no reading time running
    assert session.due_at_ms is None
    assert session.next_at_ms is None
    assert session.options_at_ms is None
    assert session.paused_at_ms is None
    assert session.wakeup_ms is None
    assert session.extra_ms(1) == 0  # no question has opened: nobody has extra time on it
    session.start(0)
    session.end(1_000)
    assert session.due_at_ms is None  # a live quiz never has one


def test_a_self_paced_quiz_has_no_due_time_until_it_is_handed_out(
    questions: list[Question],
) -> None:
    session = new_session(questions, pace=Pace.SELF)
    session.join("Anna", 0)
    assert session.due_at_ms is None
    assert views.host_view(session, 0)["due_at_ms"] is None
    session.start(0, due_at_ms=DAY)
    assert session.due_at_ms == DAY
    # no shared question ever opens: no shared timers, no extra time on one
    assert session.next_at_ms is None
    assert session.options_at_ms is None
    assert session.extra_ms(1) == 0


# ---------------------------------------------------------------- joining


def test_a_player_who_picks_team_0_joins_team_0(questions: list[Question]) -> None:
    session = new_session(questions, teams=2, team_choice=True)
    assert session.join("Anna", 5, team=0) == PlayerJoined(
        seq=1, at_ms=5, player_id=1, nickname="Anna", late=False, approved=True, team=0
    )
    assert session.join("Ben", 6, team=1) == PlayerJoined(
        seq=2, at_ms=6, player_id=2, nickname="Ben", late=False, approved=True, team=1
    )
    assert session.team_sizes == [1, 1]
    # one either side of the teams 0 and 1
    wrong_team = (ErrorCode.INVALID_SETTINGS, "pick a team from 0 to 1")
    assert refusal(lambda: session.join("Cleo", 7, team=-1)) == wrong_team
    assert refusal(lambda: session.join("Cleo", 7, team=2)) == wrong_team
    assert len(session.players) == 2


def test_the_team_draw_of_a_newcomer_is_the_same_on_every_version(
    questions: list[Question],
) -> None:
    # Journals replay the commands, not the draws: a draw that changed between versions would
    # put a replayed player in another team than the one the class saw. These are the draws
    # of the hash of "<player id>:<name>" (a tie between both teams only at an even count).
    session = new_session(questions, teams=2)
    teams = [session.join(name, 0).team for name in ("Bo", "Ann", "Cy", "Di", "Flo", "Ed")]
    assert teams == [0, 1, 1, 0, 0, 1]


def test_an_app_quiz_refuses_nickname_joins_and_rejoin_requests(
    questions: list[Question],
) -> None:
    session = new_session(questions, identity=Identity.APP)
    assert refusal(lambda: session.join("Anna", 0)) == (
        ErrorCode.APP_SIGN_IN_REQUIRED,
        "this quiz is for the learning app's users: join from the app",
    )
    assert refusal(lambda: session.request_rejoin("Anna", "r" * 16, 0)) == (
        ErrorCode.APP_SIGN_IN_REQUIRED,
        "this quiz is for the learning app's users: sign in from the app again",
    )
    assert session.seq == 0
    assert not session.players


# ---------------------------------------------------------------- leaving and kicks


def test_the_last_player_still_thinking_leaving_closes_the_question_at_that_moment(
    questions: list[Question],
) -> None:
    session = new_session(questions, close_when_all_answered=True)
    session.join("Anna", 0)
    session.join("Ben", 0)
    session.start(1_000)  # seq 3 and 4
    session.submit_answer(1, 0, 0, 2_000)  # seq 5
    assert session.leave(2, 3_000) == [
        PlayerLeft(seq=6, at_ms=3_000, player_id=2),
        QuestionClosed(
            seq=7,
            at_ms=3_000,
            index=0,
            correct_option=0,
            option_counts=(1, 0, 0, 0),
            reason=CloseReason.ALL_ANSWERED,
        ),
    ]


def test_kicking_the_last_player_still_thinking_closes_the_question_at_that_moment(
    questions: list[Question],
) -> None:
    session = new_session(questions, close_when_all_answered=True)
    session.join("Anna", 0)
    session.join("Ben", 0)
    session.start(1_000)
    session.submit_answer(1, 0, 1, 2_000)
    assert session.kick(2, 3_500) == [
        PlayerKicked(seq=6, at_ms=3_500, player_id=2),
        QuestionClosed(
            seq=7,
            at_ms=3_500,
            index=0,
            correct_option=0,
            option_counts=(0, 1, 0, 0),
            reason=CloseReason.ALL_ANSWERED,
        ),
    ]


def test_a_player_who_answered_and_left_no_longer_counts_among_who_answered(
    questions: list[Question],
) -> None:
    # Anna and Ben answer, Anna leaves: of the two present (Ben, Cleo) one has answered, so
    # the question closes the moment Cleo answers, not before and not never.
    session = new_session(questions, close_when_all_answered=True)
    for name in ("Anna", "Ben", "Cleo"):
        session.join(name, 0)
    session.start(1_000)  # seq 4 and 5
    session.submit_answer(1, 0, 0, 2_000)  # seq 6
    session.submit_answer(2, 0, 0, 2_100)  # seq 7
    assert session.leave(1, 2_200) == [PlayerLeft(seq=8, at_ms=2_200, player_id=1)]
    outcome = session.submit_answer(3, 0, 2, 2_300)
    assert [type(event) for event in outcome.events] == [AnswerAccepted, QuestionClosed]
    assert outcome.events[1] == QuestionClosed(
        seq=10,
        at_ms=2_300,
        index=0,
        correct_option=0,
        option_counts=(2, 0, 1, 0),
        reason=CloseReason.ALL_ANSWERED,
    )
    session.check_invariants()


# ---------------------------------------------------------------- rejoin requests


def test_a_rejoin_request_is_an_event_in_the_quizs_order(questions: list[Question]) -> None:
    session = away(questions, "Anna", "Ben")  # joins 1, 2; left 3
    assert session.request_rejoin("Anna", "r" * 16, 20) == [
        RejoinRequested(seq=4, at_ms=20, player_id=1, nickname="Anna")
    ]
    assert session.answer_rejoin(1, True, 30) == [
        RejoinAnswered(seq=5, at_ms=30, player_id=1, let_in=True)
    ]
    assert session.rejoin_answer("r" * 16) == (1, True)


def test_a_rejoin_request_id_is_16_to_64_characters(questions: list[Question]) -> None:
    for length in (16, 64):
        session = away(questions, "Anna")
        assert session.request_rejoin("Anna", "r" * length, 20) == [
            RejoinRequested(seq=3, at_ms=20, player_id=1, nickname="Anna")
        ]
        assert session.rejoin_waiting("r" * length) == 1
    session = away(questions, "Anna")
    no_id = (ErrorCode.ILLEGAL_STATE, "a rejoin request needs its server id")
    assert refusal(lambda: session.request_rejoin("Anna", "r" * 15, 20)) == no_id
    assert refusal(lambda: session.request_rejoin("Anna", "r" * 65, 20)) == no_id
    assert refusal(lambda: session.request_rejoin("Anna", 16 * 10**15, 20)) == no_id
    assert not session.asks_to_rejoin(1)


def test_a_rejoin_request_id_is_used_once(questions: list[Question]) -> None:
    session = away(questions, "Anna", "Ben")
    session.leave(2, 11)
    first = "a" * 16
    session.request_rejoin("Anna", first, 20)
    already = (ErrorCode.ILLEGAL_STATE, "that request has been made already")
    assert refusal(lambda: session.request_rejoin("Ben", first, 21)) == already  # waiting
    session.answer_rejoin(1, False, 22)
    assert refusal(lambda: session.request_rejoin("Ben", first, 23)) == already  # answered
    assert not session.asks_to_rejoin(2)


def test_a_rejoin_request_names_a_player_who_is_away(questions: list[Question]) -> None:
    session = away(questions, "Anna", "Ben")
    assert refusal(lambda: session.request_rejoin("Zora", "r" * 16, 20)) == (
        ErrorCode.UNKNOWN_PLAYER,
        "nobody called 'Zora' is in this quiz",
    )
    assert refusal(lambda: session.request_rejoin("Ben", "r" * 16, 20)) == (
        ErrorCode.NICKNAME_TAKEN,
        "'Ben' is playing right now: only a player who is away can be taken back",
    )


def test_the_host_answers_only_a_request_that_waits(questions: list[Question]) -> None:
    session = away(questions, "Anna")
    assert refusal(lambda: session.answer_rejoin(1, True, 20)) == (
        ErrorCode.ILLEGAL_STATE,
        "nobody is asking to come back as that player",
    )
    assert session.seq == 2


# ---------------------------------------------------------------- names


def test_approving_a_name_twice_is_refused(questions: list[Question]) -> None:
    session = new_session(questions, approve_names=True)
    session.join("Anna", 0)
    assert session.approve(1, 10) == [PlayerNamed(seq=2, at_ms=10, player_id=1, nickname="Anna")]
    assert refusal(lambda: session.approve(1, 20)) == (
        ErrorCode.ILLEGAL_STATE,
        "that name is approved already",
    )


def test_players_tied_at_zero_are_listed_in_the_order_their_names_were_approved(
    questions: list[Question],
) -> None:
    session = new_session(questions, approve_names=True)
    session.join("Anna", 0)
    session.join("Ben", 0)
    session.approve(2, 10)  # Ben reaches the board first
    session.approve(1, 20)
    assert list(session.board) == [
        Placing(player_id=2, score=0, rank=1),
        Placing(player_id=1, score=0, rank=1),
    ]


def test_a_rename_is_an_event_at_its_time(questions: list[Question]) -> None:
    session = new_session(questions)
    session.join("Anna", 0)
    assert session.rename(1, "Annie", 700) == [
        PlayerNamed(seq=2, at_ms=700, player_id=1, nickname="Annie")
    ]


def test_a_rename_to_a_name_taken_by_another_is_refused(questions: list[Question]) -> None:
    session = new_session(questions)
    session.join("Anna", 0)
    session.join("Ben", 0)
    assert refusal(lambda: session.rename(1, "ben", 10)) == (
        ErrorCode.NICKNAME_TAKEN,
        "the nickname 'ben' is taken",
    )
    assert session.players[1].nickname == "Anna"


def test_a_renamed_player_frees_the_old_name_and_holds_the_new_one(
    questions: list[Question],
) -> None:
    session = new_session(questions)
    session.join("Anna", 0)
    session.rename(1, "Annie", 10)
    # the old name is free for someone else
    assert session.join("Anna", 20).player_id == 2
    # the new one is the renamed player's: taken, and theirs to ask back after they left
    assert refusal(lambda: session.join("annie", 30)) == (
        ErrorCode.NICKNAME_TAKEN,
        "the nickname 'annie' is taken",
    )
    session.leave(1, 40)
    assert session.request_rejoin("Annie", "r" * 16, 50) == [
        RejoinRequested(seq=5, at_ms=50, player_id=1, nickname="Annie")
    ]
    # kicked, the renamed player gives the new name back
    session.kick(1, 60)
    assert session.join("Annie", 70).player_id == 3


# ---------------------------------------------------------------- live-only host commands


def test_the_host_commands_of_a_live_quiz_say_why_a_self_paced_one_refuses_them(
    questions: list[Question],
) -> None:
    session = new_session(questions, pace=Pace.SELF)
    session.join("Anna", 0)
    session.start(0, due_at_ms=DAY)
    no_shared = (
        ErrorCode.ILLEGAL_STATE,
        "a self-paced quiz has no shared question: each player moves on by themselves",
    )
    assert refusal(lambda: session.next(10)) == no_shared
    assert refusal(lambda: session.close_question(10)) == no_shared
    assert refusal(lambda: session.pause(10)) == no_shared
    session.end(20)
    # once it has finished, the refusal is the one of any finished quiz
    assert refusal(lambda: session.next(30)) == (
        ErrorCode.ILLEGAL_STATE,
        "there is no closed question to move on from",
    )
    assert refusal(lambda: session.close_question(30)) == (
        ErrorCode.ILLEGAL_STATE,
        "no question is open",
    )


# ---------------------------------------------------------------- invariants


def test_check_invariants_finds_a_player_finished_on_a_question_still_open() -> None:
    session = new_session([make_question(0)], pace=Pace.SELF)
    session.join("Anna", 0)
    session.start(0, due_at_ms=DAY)
    session.advance(1, 0)  # the last (and only) question, open
    session.check_invariants()
    session.players[1].finished = True
    with pytest.raises(CoreBug, match=r"^player 1: finished before closing the last question$"):
        session.check_invariants()


def test_check_invariants_finds_a_player_finished_before_the_last_question(
    questions: list[Question],
) -> None:
    session = new_session(questions, pace=Pace.SELF)
    session.join("Anna", 0)
    session.start(0, due_at_ms=DAY)
    session.advance(1, 0)
    session.submit_answer(1, 0, 0, 1_000)  # question 0 of 3 closed for her
    session.check_invariants()
    session.players[1].finished = True
    with pytest.raises(CoreBug, match=r"^player 1: finished before closing the last question$"):
        session.check_invariants()


def test_check_invariants_says_what_it_found(questions: list[Question]) -> None:
    session = new_session(questions)
    session.paused_at_ms = 5  # a bug would have left it set in the lobby
    with pytest.raises(CoreBug, match=r"^paused, but no question is open$"):
        session.check_invariants()
    homework = new_session(questions, pace=Pace.SELF)
    homework.join("Anna", 0)
    homework.start(0, due_at_ms=DAY)
    homework.advance(1, 0)
    homework.check_invariants()
    homework.players[1].at_closed = True  # closed without its expiry dropped
    with pytest.raises(CoreBug, match=r"^the soonest expiry is of a question no longer open$"):
        homework.check_invariants()
