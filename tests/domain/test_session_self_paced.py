"""Self-paced quizzes (homework), rule by rule, to the millisecond.

Each player opens their own next question, on a clock of its own; the live rules for scoring,
the grace and exactly-once apply per player; the quiz finishes for everyone at its due time.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from livequiz.domain import views
from livequiz.domain.commands import (
    Advance,
    Answer,
    Command,
    End,
    Join,
    Kick,
    Leave,
    Rejoin,
    Start,
    Tick,
    execute,
    replay,
    to_record,
)
from livequiz.domain.errors import CoreBug, ErrorCode, Rejected
from livequiz.domain.events import (
    AnswerAccepted,
    CloseReason,
    FinishReason,
    PlayerFinished,
    PlayerQuestionClosed,
    PlayerQuestionOpened,
    QuizFinished,
    QuizStarted,
)
from livequiz.domain.question import Question
from livequiz.domain.session import (
    MAX_DUE_MS,
    MIN_DUE_MS,
    AnswerStatus,
    Phase,
    QuizSession,
)
from livequiz.domain.settings import Pace, QuizSettings, RevealMode
from tests.domain.factories import make_question

# time_limit 10 s, grace 500 ms; the homework is handed out at t=0 and due a day later
SETTINGS = QuizSettings(time_limit_ms=10_000, grace_ms=500, pace=Pace.SELF)
DAY = 86_400_000
DUE = DAY


@pytest.fixture
def questions() -> list[Question]:
    """Three questions whose correct options are 0, 1 and 2."""
    return [make_question(n, correct=n) for n in range(3)]


def homework(questions: list[Question], *names: str, **changes: object) -> QuizSession:
    """A self-paced quiz with these players, handed out at t=0, due at :data:`DUE`."""
    session = QuizSession(questions, replace(SETTINGS, **changes))  # type: ignore[arg-type]
    for name in names:
        session.join(name, 0)
    session.start(0, due_at_ms=DUE)
    return session


def refused(code: ErrorCode, session: QuizSession, call: object) -> None:
    """``call()`` is refused with ``code`` and the session's views stay exactly as they were."""
    before = everything(session)
    with pytest.raises(Rejected) as caught:
        call()  # type: ignore[operator]
    assert caught.value.code is code, caught.value
    assert everything(session) == before


def everything(session: QuizSession) -> str:
    """Every view of the session, as one string: what changed if anything did."""
    return json.dumps(
        {
            "seq": session.seq,
            "host": views.host_view(session, 0),
            "players": [views.player_view(session, p, 0) for p in session.players],
            "results": [views.player_results(session, p) for p in session.players],
            "final": views.final_results(session),
            "wakeup": session.wakeup_ms,
        },
        sort_keys=True,
    )


# ---------------------------------------------------------------------- handing it out


def test_a_self_paced_quiz_is_handed_out_with_a_due_time(questions: list[Question]) -> None:
    session = QuizSession(questions, SETTINGS)
    session.join("ann", 0)
    events = session.start(5, due_at_ms=DUE)
    assert events == [QuizStarted(seq=2, at_ms=5, question_count=3, due_at_ms=DUE)]
    assert session.phase is Phase.IN_PROGRESS
    assert session.due_at_ms == DUE
    assert session.wakeup_ms == DUE + 500
    # nobody's question opens by itself: the board and views show no shared question
    assert session.question is None
    assert views.player_view(session, 1, 5)["question"] is None
    assert views.player_view(session, 1, 5)["progress"] == {
        "due_at_ms": DUE,
        "done": 0,
        "count": 3,
        "finished": False,
    }


@pytest.mark.parametrize(
    ("due", "ok"),
    [
        (None, False),
        ("86400000", False),
        (1.5e6, False),
        (True, False),
        (1_000 + MIN_DUE_MS - 1, False),
        (1_000 + MIN_DUE_MS, True),
        (1_000 + MAX_DUE_MS, True),
        (1_000 + MAX_DUE_MS + 1, False),
        (0, False),
    ],
)
def test_the_due_time_must_be_a_minute_to_ninety_days_away(
    questions: list[Question], due: object, ok: bool
) -> None:
    session = QuizSession(questions, SETTINGS)
    if ok:
        session.start(1_000, due_at_ms=due)
        assert session.due_at_ms == due
    else:
        refused(ErrorCode.INVALID_DUE, session, lambda: session.start(1_000, due_at_ms=due))
        assert session.phase is Phase.LOBBY


def test_a_live_quiz_has_no_due_time(questions: list[Question]) -> None:
    session = QuizSession(questions, replace(SETTINGS, pace=Pace.LIVE))
    refused(ErrorCode.INVALID_DUE, session, lambda: session.start(0, due_at_ms=DUE))
    refused(ErrorCode.ILLEGAL_STATE, session, lambda: session.advance(1, 0))


def test_the_host_does_not_move_a_self_paced_quiz_on(questions: list[Question]) -> None:
    session = homework(questions, "ann")
    session.advance(1, 0)
    for command in (session.close_question, session.next, session.skip):
        refused(ErrorCode.ILLEGAL_STATE, session, lambda c=command: c(1))
    refused(ErrorCode.ILLEGAL_STATE, session, lambda: session.start(1))


def test_players_join_while_it_is_in_progress_even_without_late_join(
    questions: list[Question],
) -> None:
    session = homework(questions, "ann", allow_late_join=False)
    joined = session.join("bo", 3 * 3_600_000)
    assert joined.late is False  # everyone starts at the first question with their own clock
    opened = session.advance(joined.player_id, 3 * 3_600_000)
    assert [(type(e), e.index) for e in opened] == [(PlayerQuestionOpened, 0)]  # type: ignore[attr-defined]


def test_nothing_can_be_opened_before_it_is_handed_out(questions: list[Question]) -> None:
    session = QuizSession(questions, SETTINGS)
    player = session.join("ann", 0).player_id
    refused(ErrorCode.QUESTION_NOT_OPEN, session, lambda: session.advance(player, 0))
    refused(ErrorCode.QUESTION_NOT_OPEN, session, lambda: session.submit_answer(player, 0, 0, 0))


# ---------------------------------------------------------------------- one player's clock


def test_a_question_opens_for_one_player_on_a_clock_of_its_own(
    questions: list[Question],
) -> None:
    session = homework(questions, "ann", "bo")
    hour = 3_600_000
    events = session.advance(2, hour)
    assert events == [
        PlayerQuestionOpened(
            seq=4,
            at_ms=hour,
            player_id=2,
            index=0,
            closes_at_ms=hour + 10_000,
            accepts_until_ms=hour + 10_500,
        )
    ]
    assert session.wakeup_ms == hour + 10_500
    bo = views.player_view(session, 2, hour + 4_000)
    assert bo["question"]["index"] == 0
    assert bo["question"]["open"] is True
    assert bo["question"]["remaining_ms"] == 6_000
    assert "reveal" not in bo["question"]
    assert bo["progress"] == {"due_at_ms": DUE, "done": 0, "count": 3, "finished": False}
    # ann has opened nothing: no question, and question 0 is still "not open" for her
    assert views.player_view(session, 1, hour)["question"] is None
    refused(ErrorCode.QUESTION_NOT_OPEN, session, lambda: session.submit_answer(1, 0, 0, hour))


def test_speed_points_count_from_the_players_own_open(questions: list[Question]) -> None:
    session = homework(questions, "ann", "bo")
    session.advance(1, 1_000)
    session.advance(2, 50_000)
    ann = session.submit_answer(1, 0, 0, 3_000)  # 2 s after her open
    bo = session.submit_answer(2, 0, 0, 52_000, sent_at_ms=50_400)  # 1.6 s after it reached him
    assert (ann.record.elapsed_ms, ann.record.points) == (2_000, 1000 - 2_000 * 1000 // 20_000)
    assert (bo.record.elapsed_ms, bo.record.points) == (1_600, 1000 - 1_600 * 1000 // 20_000)


def test_an_answer_closes_the_question_for_that_player_with_its_reveal(
    questions: list[Question],
) -> None:
    session = homework(questions, "ann", "bo")
    session.advance(1, 0)
    session.advance(2, 0)
    outcome = session.submit_answer(1, 0, 0, 1_000)
    assert outcome.status is AnswerStatus.ACCEPTED
    assert [type(e) for e in outcome.events] == [AnswerAccepted, PlayerQuestionClosed]
    closed = outcome.events[1]
    assert closed == PlayerQuestionClosed(
        seq=outcome.record.seq + 1,
        at_ms=1_000,
        player_id=1,
        index=0,
        correct_option=0,
        reason=CloseReason.ANSWERED,
    )
    ann = views.player_view(session, 1, 1_000)
    assert ann["question"]["open"] is False
    assert ann["question"]["reveal"]["correct_option"] == 0
    assert ann["answer"] == {
        "index": 0,
        "option": 0,
        "revealed": True,
        "correct": True,
        "points": outcome.record.points,
        "score": outcome.record.points,
        "streak": 1,
    }
    # the board shows her points at once; bo, still thinking, sees no reveal
    assert session.board.rank_of(1) == 1
    assert "reveal" not in views.player_view(session, 2, 1_000)["question"]
    # and her next question waits for her to ask: no clock runs on it
    assert session.wakeup_ms == 10_500  # bo's


def test_at_close_reveal_does_not_apply_to_self_paced(questions: list[Question]) -> None:
    """Each player's question closes for them when they answer: their result is the reveal."""
    session = homework(questions, "ann", reveal=RevealMode.AT_CLOSE)
    session.advance(1, 0)
    session.submit_answer(1, 0, 0, 100)
    assert views.player_view(session, 1, 100)["answer"]["revealed"] is True
    assert session.board.rank_of(1) == 1
    assert views.standing(session, session.players[1])["score"] > 0


def test_the_next_question_waits_until_this_one_is_answered_or_out_of_time(
    questions: list[Question],
) -> None:
    session = homework(questions, "ann")
    session.advance(1, 0)
    for now in (0, 5_000, 10_000, 10_500):
        refused(ErrorCode.ILLEGAL_STATE, session, lambda n=now: session.advance(1, n))
    # one millisecond after the grace the clock may not have ticked yet: advancing closes the
    # old question (time up, no points) and opens the next
    events = session.advance(1, 10_501)
    assert [type(e) for e in events] == [PlayerQuestionClosed, PlayerQuestionOpened]
    assert events[0].reason is CloseReason.TIME  # type: ignore[attr-defined]
    assert events[1].index == 1  # type: ignore[attr-defined]
    refused(ErrorCode.TOO_LATE, session, lambda: session.submit_answer(1, 0, 0, 10_502))


def test_the_clock_closes_only_the_players_whose_time_is_up(questions: list[Question]) -> None:
    session = homework(questions, "ann", "bo", "cy")
    session.advance(1, 0)
    session.advance(2, 3_000)
    session.advance(3, 3_000)
    session.submit_answer(3, 0, 0, 4_000)
    assert session.tick(10_500) == []
    assert session.wakeup_ms == 10_500
    events = session.tick(10_501)
    assert [(type(e), e.player_id) for e in events] == [(PlayerQuestionClosed, 1)]  # type: ignore[attr-defined]
    assert session.wakeup_ms == 13_500
    events = session.tick(20_000)
    assert [(type(e), e.player_id) for e in events] == [(PlayerQuestionClosed, 2)]  # type: ignore[attr-defined]
    assert session.wakeup_ms == DUE + 500
    assert views.player_view(session, 1, 20_000)["question"]["reveal"]["correct_option"] == 0


def test_a_missed_question_ends_the_streak(questions: list[Question]) -> None:
    session = homework(questions, "ann")
    session.advance(1, 0)
    assert session.submit_answer(1, 0, 0, 1_000).record.streak == 1
    session.advance(1, 2_000)
    session.tick(12_501)
    assert session.players[1].streak == 0
    session.advance(1, 20_000)
    assert session.submit_answer(1, 2, 2, 21_000).record.streak == 1


def test_the_last_question_finishes_the_player_and_nothing_opens_after(
    questions: list[Question],
) -> None:
    session = homework(questions, "ann", "bo")
    now = 0
    for index in range(3):
        session.advance(1, now)
        outcome = session.submit_answer(1, index, index, now + 1_000)
        now += 2_000
    assert [type(e) for e in outcome.events] == [
        AnswerAccepted,
        PlayerQuestionClosed,
        PlayerFinished,
    ]
    finished = outcome.events[2]
    assert finished == PlayerFinished(
        seq=outcome.events[1].seq + 1,
        at_ms=5_000,
        player_id=1,
        score=session.players[1].score,
        correct=3,
    )
    assert session.finished_count == 1
    assert session.phase is Phase.IN_PROGRESS  # bo has not started
    refused(ErrorCode.ILLEGAL_STATE, session, lambda: session.advance(1, now))
    assert views.player_view(session, 1, now)["progress"]["finished"] is True
    # a player who times out on the last question finishes too
    for _ in range(3):
        session.advance(2, now)
        now += 20_000
    events = session.tick(now)
    assert [type(e) for e in events] == [PlayerQuestionClosed, PlayerFinished]
    assert session.finished_count == 2


# ---------------------------------------------------------------------- exactly once


def test_a_repeat_gets_the_first_result_even_after_the_question_closed(
    questions: list[Question],
) -> None:
    session = homework(questions, "ann")
    session.advance(1, 0)
    first = session.submit_answer(1, 0, 1, 1_000)
    assert not first.record.correct
    session.advance(1, 2_000)
    for now in (1_001, 2_000, 50_000):
        same = session.submit_answer(1, 0, 1, now)
        other = session.submit_answer(1, 0, 0, now)
        assert (same.status, same.record, same.events) == (AnswerStatus.DUPLICATE, first.record, ())
        assert (other.status, other.record) == (AnswerStatus.ALREADY_ANSWERED, first.record)
    assert session.players[1].score == 0


def test_answers_to_a_question_not_yet_reached_are_refused(questions: list[Question]) -> None:
    session = homework(questions, "ann")
    session.advance(1, 0)
    refused(ErrorCode.WRONG_QUESTION, session, lambda: session.submit_answer(1, 1, 1, 100))
    refused(ErrorCode.WRONG_QUESTION, session, lambda: session.submit_answer(1, 2, 2, 100))
    refused(ErrorCode.WRONG_QUESTION, session, lambda: session.submit_answer(1, 3, 0, 100))
    refused(ErrorCode.INVALID_OPTION, session, lambda: session.submit_answer(1, 0, 4, 100))
    session.submit_answer(1, 0, 0, 200)
    refused(ErrorCode.QUESTION_NOT_OPEN, session, lambda: session.submit_answer(1, 1, 1, 300))


def test_each_refusal_of_a_homework_answer_tells_the_player_why(
    questions: list[Question],
) -> None:
    session = homework(questions, "ann")

    def told(code: ErrorCode, message: str, now: int, index: int = 0) -> None:
        before = everything(session)
        with pytest.raises(Rejected) as caught:
            session.submit_answer(1, index, index, now)
        assert (caught.value.code, caught.value.message) == (code, message)
        assert everything(session) == before

    told(ErrorCode.QUESTION_NOT_OPEN, "open your next question first", 100)
    session.advance(1, 1_000)
    told(ErrorCode.WRONG_QUESTION, "that question is not your open one", 1_100, index=1)
    # one millisecond past the grace, before the clock has ticked
    told(ErrorCode.TOO_LATE, "time is up for this question", 11_501)
    session.tick(11_501)
    told(ErrorCode.TOO_LATE, "time is up for this question: it has closed", 11_502)
    told(ErrorCode.QUESTION_NOT_OPEN, "open your next question first", 11_502, index=1)


# ---------------------------------------------------------------------- leaving and coming back


def test_leaving_and_coming_back_gives_no_extra_time(questions: list[Question]) -> None:
    session = homework(questions, "ann")
    session.advance(1, 0)
    session.leave(1, 4_000)
    session.rejoin(1, 9_000)
    view = views.player_view(session, 1, 9_000)
    assert view["question"]["index"] == 0
    assert view["question"]["remaining_ms"] == 1_000
    assert view["question"]["closes_at_ms"] == 10_000
    refused(ErrorCode.ILLEGAL_STATE, session, lambda: session.advance(1, 9_000))
    refused(ErrorCode.TOO_LATE, session, lambda: session.submit_answer(1, 0, 0, 10_501))


def test_a_kicked_players_open_question_stops_the_clock_waiting_on_it(
    questions: list[Question],
) -> None:
    session = homework(questions, "ann", "bo")
    session.advance(1, 0)
    session.advance(2, 5_000)
    session.kick(1, 6_000)
    assert session.wakeup_ms == 15_500
    session.check_invariants()
    refused(ErrorCode.KICKED, session, lambda: session.advance(1, 7_000))


# ---------------------------------------------------------------------- the due time


def test_no_question_runs_past_the_due_time(questions: list[Question]) -> None:
    session = homework(questions, "ann")
    events = session.advance(1, DUE - 4_000)
    assert events[0].closes_at_ms == DUE  # type: ignore[attr-defined]
    assert events[0].accepts_until_ms == DUE + 500  # type: ignore[attr-defined]
    assert session.submit_answer(1, 0, 0, DUE + 500).status is AnswerStatus.ACCEPTED
    refused(ErrorCode.QUIZ_FINISHED, session, lambda: session.advance(1, DUE))


def test_at_the_due_time_every_open_question_closes_and_the_quiz_finishes(
    questions: list[Question],
) -> None:
    session = homework(questions, "ann", "bo", "cy")
    session.advance(1, DUE - 3_000)
    session.advance(2, DUE - 2_000)
    session.advance(3, DUE - 60_000)
    session.submit_answer(3, 0, 0, DUE - 59_000)
    assert session.tick(DUE + 500) == []
    events = session.tick(DUE + 501)
    assert [(type(e), getattr(e, "player_id", None)) for e in events] == [
        (PlayerQuestionClosed, 1),
        (PlayerQuestionClosed, 2),
        (QuizFinished, None),
    ]
    assert all(e.reason is CloseReason.END for e in events[:2])  # type: ignore[attr-defined]
    assert events[2].reason is FinishReason.DUE  # type: ignore[attr-defined]
    assert session.phase is Phase.FINISHED
    assert session.wakeup_ms is None
    refused(ErrorCode.QUIZ_FINISHED, session, lambda: session.submit_answer(1, 0, 0, DUE + 502))
    refused(ErrorCode.QUIZ_FINISHED, session, lambda: session.advance(3, DUE + 502))
    refused(ErrorCode.QUIZ_FINISHED, session, lambda: session.join("dee", DUE + 502))


def test_the_host_may_end_it_early(questions: list[Question]) -> None:
    session = homework(questions, "ann", "bo")
    session.advance(1, 0)
    events = session.end(1_000)
    assert [type(e) for e in events] == [PlayerQuestionClosed, QuizFinished]
    assert events[1].reason is FinishReason.ENDED  # type: ignore[attr-defined]


# ---------------------------------------------------------------------- results and leaks


def test_results_hold_each_players_own_missed_words(questions: list[Question]) -> None:
    session = homework(questions, "ann", "bo")
    session.advance(1, 0)
    session.submit_answer(1, 0, 0, 1_000)  # right
    session.advance(1, 2_000)
    session.submit_answer(1, 1, 0, 3_000)  # wrong
    session.advance(1, 4_000)  # open: not yet in her review
    session.advance(2, 0)
    ann = views.player_results(session, 1)
    assert [m["word"] for m in ann["missed"]] == ["word1"]
    assert (ann["correct"], ann["answered"]) == (1, 2)
    assert views.player_results(session, 2)["missed"] == []
    # the teacher's statistics wait for the finish: a question is open for someone until then
    assert views.final_results(session)["questions"] == []
    session.tick(DUE + 501)
    report = views.final_results(session)
    assert [q["index"] for q in report["questions"]] == [0, 1, 2]
    assert [q["option_counts"] for q in report["questions"]] == [
        [1, 0, 0, 0],
        [1, 0, 0, 0],
        [0, 0, 0, 0],
    ]
    assert [m["word"] for m in views.player_results(session, 1)["missed"]] == ["word1", "word2"]
    assert [m["word"] for m in views.player_results(session, 2)["missed"]] == ["word0"]


def correct_options_in(value: object) -> set[int]:
    """The indexes of every question whose answer ``value`` (a view) gives away."""
    found: set[int] = set()
    if isinstance(value, dict):
        if "reveal" in value and "index" in value:
            found.add(value["index"])
        if "correct_option" in value and "index" in value:
            found.add(value["index"])
        for inner in value.values():
            found |= correct_options_in(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= correct_options_in(inner)
    return found


def test_no_view_gives_away_a_question_before_it_closed_for_its_viewer(
    questions: list[Question],
) -> None:
    session = homework(questions, "ann", "bo")
    session.advance(1, 0)
    session.submit_answer(1, 0, 0, 1_000)
    session.advance(1, 2_000)
    session.submit_answer(1, 1, 1, 3_000)
    session.advance(2, 3_000)
    assert correct_options_in(views.player_view(session, 2, 3_000)) == set()
    assert correct_options_in(views.player_results(session, 2)) == set()
    assert correct_options_in(views.host_view(session, 3_000)) == set()
    assert correct_options_in(views.final_results(session)) == set()
    assert correct_options_in(views.player_results(session, 1)) <= {0, 1}


# ---------------------------------------------------------------------- the journal


def test_replaying_the_journal_rebuilds_every_players_clock(questions: list[Question]) -> None:
    """A restart in the middle of a player's question: the rebuilt session has the same
    deadlines, and the question goes on with the time it had left."""
    settings = replace(SETTINGS)
    session = QuizSession(questions, settings)
    journal: list[dict[str, object]] = []

    def run(command: Command, now: int) -> None:
        if execute(session, command, now).changed:
            journal.append(to_record(command, now))

    run(Join("ann"), 0)
    run(Join("bo"), 0)
    run(Start(due_at_ms=DUE), 0)
    run(Advance(1), 1_000)
    run(Answer(1, 0, 0, sent_at_ms=1_200), 2_000)
    run(Advance(1), 3_000)
    run(Advance(2), 4_000)
    run(Leave(2), 5_000)
    run(Tick(), 13_501)
    run(Rejoin(2), 13_600)
    run(Kick(1), 13_700)
    assert journal[2] == {"c": "start", "t": 0, "due_at_ms": DUE}
    assert {"c": "advance", "t": 1_000, "player_id": 1} in journal
    assert len(journal) == 11

    rebuilt = QuizSession(questions, settings)
    replay(rebuilt, journal)
    rebuilt.check_invariants()
    assert everything(rebuilt) == everything(session)
    assert rebuilt.wakeup_ms == session.wakeup_ms == 14_500
    for later in (14_000, 14_600):
        assert views.player_view(rebuilt, 2, later) == views.player_view(session, 2, later)
    assert views.player_view(rebuilt, 2, 14_000)["question"]["remaining_ms"] == 0
    assert execute(rebuilt, Tick(), 14_501).events == execute(session, Tick(), 14_501).events
    assert execute(rebuilt, End(), 15_000).events == execute(session, End(), 15_000).events


def test_a_live_quizs_journal_records_stay_as_they_were() -> None:
    """Journals written before self-paced quizzes existed hold ``{"c": "start", "t": …}``."""
    assert to_record(Start(), 7) == {"c": "start", "t": 7}


# ---------------------------------------------------------------------- the clock and invariants


def test_the_clock_wakes_for_the_open_live_question_and_not_in_the_lobby_or_after(
    questions: list[Question],
) -> None:
    session = QuizSession(questions, replace(SETTINGS, pace=Pace.LIVE))
    session.join("ann", 0)
    assert session.wakeup_ms is None  # the lobby waits on nobody's clock
    session.start(1_000)
    assert session.wakeup_ms == 1_000 + 10_000 + 500
    session.close_question(2_000)
    assert session.wakeup_ms is None
    session.end(3_000)
    assert session.wakeup_ms is None


def test_advancing_past_a_last_question_whose_time_ran_out_finishes_the_player(
    questions: list[Question],
) -> None:
    session = homework(questions, "ann")
    now = 0
    for index in range(2):
        session.advance(1, now)
        session.submit_answer(1, index, index, now + 100)
        now += 1_000
    session.advance(1, now)  # the last question; its time runs out, the clock not ticked yet
    events = session.advance(1, now + 10_501)
    assert [type(e) for e in events] == [PlayerQuestionClosed, PlayerFinished]
    assert session.players[1].finished
    assert session.wakeup_ms == DUE + 500  # nothing of hers is left on the clock
    session.check_invariants()


@pytest.mark.parametrize(
    ("break_it", "message"),
    [
        (lambda s: setattr(s.players[1], "finished", True), "finished before"),
        (lambda s: setattr(s.players[1], "at_closed", True), "no longer open"),
    ],
)
def test_the_invariants_catch_a_self_paced_session_at_odds_with_itself(
    questions: list[Question], break_it: object, message: str
) -> None:
    session = homework(questions, "ann")
    session.advance(1, 0)
    break_it(session)  # type: ignore[operator]
    with pytest.raises(CoreBug, match=message):
        session.check_invariants()


def test_the_invariants_catch_a_live_player_with_a_question_of_their_own(
    questions: list[Question],
) -> None:
    session = QuizSession(questions, replace(SETTINGS, pace=Pace.LIVE))
    session.join("ann", 0)
    session.players[1].at = 0
    with pytest.raises(CoreBug, match="in a live quiz"):
        session.check_invariants()
