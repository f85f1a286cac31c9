"""What players and the host see, and above all what they do not see."""

from __future__ import annotations

import json
from dataclasses import replace

from livequiz.domain import views
from livequiz.domain.events import QuestionClosed
from livequiz.domain.question import Question
from livequiz.domain.session import Phase, QuizSession
from livequiz.domain.settings import Pace, QuizSettings, RevealMode

SETTINGS = QuizSettings(time_limit_ms=10_000, grace_ms=500, close_when_all_answered=False)


def played(questions: list[Question], **changes: object) -> QuizSession:
    """Anna and Ben in a started quiz; Anna has answered question 0 correctly at 2 s."""
    session = QuizSession(questions, replace(SETTINGS, **changes))  # type: ignore[arg-type]
    session.join("Anna", 0)
    session.join("Ben", 0)
    session.start(1_000)
    session.submit_answer(1, 0, 0, 3_000)
    return session


def secrets_in(view: object) -> bool:
    """Whether a view holds anything that gives away the open question's answer."""
    text = json.dumps(view)
    keys = ('"correct_option"', '"word"', '"definition"', '"example"', '"correct"')
    return any(key in text for key in keys) or _has_reveal(view)


def _has_reveal(view: object) -> bool:
    if isinstance(view, dict):
        question = view.get("question", view)
        if isinstance(question, dict) and "reveal" in question:
            return True
    return False


def test_no_view_gives_the_answer_away_while_the_question_is_open(
    questions: list[Question],
) -> None:
    session = played(questions)
    anna = views.player_view(session, 1, 4_000)
    # Anna answered: in immediate mode she learns at once whether *her* answer was right, …
    assert anna["answer"]["correct"] is True
    # … but nothing else in any view says which option is right.
    del anna["answer"]
    for view in (
        anna,
        views.player_view(session, 2, 4_000),
        views.host_view(session, 4_000),
        views.leaderboard(session),
    ):
        assert not secrets_in(view)
    question = views.question_view(session, 4_000)
    assert question is not None
    assert question["options"] == list(questions[0].options)
    assert question["remaining_ms"] == 7_000
    assert question["open"] is True


def test_the_reveal_comes_with_the_close(questions: list[Question]) -> None:
    session = played(questions)
    session.close_question(5_000)
    question = views.question_view(session, 12_000)
    assert question is not None
    assert question["remaining_ms"] == 0
    assert question["reveal"] == {
        "correct_option": 0,
        "word": "word0",
        "definition": "meaning of word0",
        "example": "an example with word0 in it",
    }


def test_no_question_in_the_lobby(questions: list[Question]) -> None:
    session = QuizSession(questions)
    session.join("Anna", 0)
    view = views.player_view(session, 1, 0)
    assert view["question"] is None
    assert view["answer"] is None
    assert view["player"]["rank"] == 1


def test_a_player_sees_their_own_result_score_and_rank_at_once(
    questions: list[Question],
) -> None:
    session = played(questions)
    view = views.player_view(session, 1, 4_000)
    assert view["answer"] == {
        "index": 0,
        "option": 0,
        "revealed": True,
        "correct": True,
        "points": 900,
        "score": 900,
        "streak": 1,
    }
    assert view["player"] == {
        "player_id": 1,
        "nickname": "Anna",
        "streak": 1,
        "kicked": False,
        "approved": True,
        "score": 900,
        "rank": 1,
        "players": 2,
    }
    assert views.player_view(session, 2, 4_000)["player"]["rank"] == 2


def test_at_close_mode_hides_the_result_and_score_until_the_close(
    questions: list[Question],
) -> None:
    session = played(questions, reveal=RevealMode.AT_CLOSE)
    view = views.player_view(session, 1, 4_000)
    assert view["answer"] == {"index": 0, "option": 0, "revealed": False}
    assert view["player"]["score"] == 0
    assert view["player"]["streak"] == 0
    assert not secrets_in(view)
    session.close_question(5_000)
    view = views.player_view(session, 1, 5_000)
    assert view["answer"]["correct"] is True
    assert view["player"]["score"] == 900
    assert view["player"]["streak"] == 1


def test_the_leaderboard_frame(questions: list[Question]) -> None:
    session = played(questions)
    frame = views.leaderboard(session)
    assert frame == {
        "seq": session.seq,
        "phase": "question_open",
        "players": 2,
        "answered": 1,
        "top": [
            {"player_id": 1, "nickname": "Anna", "score": 900, "rank": 1},
            {"player_id": 2, "nickname": "Ben", "score": 0, "rank": 2},
        ],
    }
    session.close_question(5_000)
    assert views.leaderboard(session)["answered"] is None


def test_the_leaderboard_frame_lists_top_k_only(questions: list[Question]) -> None:
    session = QuizSession(questions, replace(SETTINGS, top_k=3))
    for n in range(6):
        session.join(f"player {n}", n)
    frame = views.leaderboard(session)
    assert [line["nickname"] for line in frame["top"]] == ["player 0", "player 1", "player 2"]
    assert [line["rank"] for line in frame["top"]] == [1, 1, 1]
    assert frame["players"] == 6


def test_the_host_sees_who_is_here(questions: list[Question]) -> None:
    session = played(questions)
    session.leave(2, 3_500)
    session.join("Cleo", 3_600)
    session.kick(3, 3_700)
    host = views.host_view(session, 4_000)
    assert host["players"] == [
        {
            "player_id": 1,
            "nickname": "Anna",
            "present": True,
            "score": 900,
            "answered": True,
            "asks_to_rejoin": False,
            "approved": True,
            "extra_percent": 0,
        },
        {
            "player_id": 2,
            "nickname": "Ben",
            "present": False,
            "score": 0,
            "answered": False,
            "asks_to_rejoin": False,
            "approved": True,
            "extra_percent": 0,
        },
    ]
    assert host["answered"] == 1
    assert host["present"] == 1
    assert host["settings"]["time_limit_ms"] == 10_000
    assert host["locked"] is False


def test_a_kicked_player_has_no_rank(questions: list[Question]) -> None:
    session = played(questions)
    session.kick(1, 4_000)
    view = views.player_view(session, 1, 4_000)
    assert view["player"]["kicked"] is True
    assert view["player"]["rank"] is None


def test_results_list_the_words_each_player_missed(questions: list[Question]) -> None:
    session = played(questions)  # Anna right on question 0
    session.submit_answer(2, 0, 3, 3_500)  # Ben wrong on question 0
    session.close_question(4_000)
    session.next(5_000)
    session.submit_answer(1, 1, 0, 6_000)  # Anna wrong on question 1 (correct is 1)
    session.close_question(7_000)
    session.next(8_000)  # question 2 open: not part of any review yet
    anna = views.player_results(session, 1)
    assert anna["correct"] == 1
    assert anna["answered"] == 2
    assert anna["missed"] == [
        {
            "index": 1,
            "word": "word1",
            "definition": "meaning of word1",
            "example": "an example with word1 in it",
            "answered": 0,
            "correct_option": 1,
        }
    ]
    ben = views.player_results(session, 2)
    assert [m["index"] for m in ben["missed"]] == [0, 1]  # wrong, then no answer
    assert ben["missed"][1]["answered"] is None
    session.end(9_000)
    assert [m["index"] for m in views.player_results(session, 2)["missed"]] == [0, 1, 2]


def test_final_results_for_the_teacher(questions: list[Question]) -> None:
    session = played(questions)
    session.submit_answer(2, 0, 3, 3_500)
    session.close_question(4_000)
    session.next(5_000)
    session.close_question(6_000)  # nobody answered question 1
    session.next(7_000)
    session.end(8_000)
    results = views.final_results(session)
    assert results["phase"] == "finished"
    line = {"user_id": None}  # nickname joins: no user of the learning app
    assert results["players"] == [
        {"rank": 1, "player_id": 1, "nickname": "Anna", "score": 900, "correct": 1, "answered": 1}
        | line,
        {"rank": 2, "player_id": 2, "nickname": "Ben", "score": 0, "correct": 0, "answered": 1}
        | line,
    ]
    first, second, third = results["questions"]
    assert first["option_counts"] == [1, 0, 0, 1]
    assert first["correct"] == 1
    assert first["most_picked_wrong"] == 3
    assert second["most_picked_wrong"] is None
    assert third["index"] == 2


def test_results_leave_out_questions_not_yet_closed(questions: list[Question]) -> None:
    session = played(questions)
    assert views.final_results(session)["questions"] == []
    assert views.player_results(session, 1)["missed"] == []


def test_at_close_results_do_not_count_the_open_questions_right_answer(
    questions: list[Question],
) -> None:
    session = played(questions, reveal=RevealMode.AT_CLOSE)  # Anna right, question still open
    assert views.player_results(session, 1)["correct"] == 0
    assert views.final_results(session)["players"][0]["correct"] == 0
    session.close_question(5_000)
    assert views.player_results(session, 1)["correct"] == 1


def test_results_mid_quiz_stop_at_the_question_just_closed(questions: list[Question]) -> None:
    """Between a reveal and the next question, results hold the closed question only: the
    next one has not been asked, and its answer must not show."""
    session = played(questions)  # Anna right on question 0
    session.close_question(4_000)
    assert [m["index"] for m in views.player_results(session, 2)["missed"]] == [0]
    assert views.player_results(session, 1)["missed"] == []
    assert [q["index"] for q in views.final_results(session)["questions"]] == [0]


def test_players_who_pick_the_same_option_are_all_counted(questions: list[Question]) -> None:
    session = played(questions)  # Anna: option 0 (right)
    session.join("Cleo", 3_100)
    session.join("Dev", 3_200)
    session.submit_answer(2, 0, 2, 3_500)  # Ben, Cleo and Dev: option 2 (wrong)
    session.submit_answer(3, 0, 2, 3_600)
    session.submit_answer(4, 0, 2, 3_700)
    closed = session.close_question(4_000)[0]
    assert isinstance(closed, QuestionClosed)
    assert closed.option_counts == (1, 0, 3, 0)
    (question,) = views.final_results(session)["questions"]
    assert question["option_counts"] == [1, 0, 3, 0]
    assert question["correct"] == 1
    assert question["most_picked_wrong"] == 2


# Whole views compared at once, so that a renamed or missing key is noticed: clients read
# these names (docs/protocol.md), and a key that changes its name is a field that vanishes.

SETTINGS_MAPPING = SETTINGS.to_mapping()


def test_the_whole_player_view_while_a_question_is_open(questions: list[Question]) -> None:
    session = played(questions)
    assert views.player_view(session, 2, 4_000) == {
        "seq": 5,
        "phase": "question_open",
        "player": {
            "player_id": 2,
            "nickname": "Ben",
            "streak": 0,
            "kicked": False,
            "approved": True,
            "score": 0,
            "rank": 2,
            "players": 2,
        },
        "question": {
            "index": 0,
            "count": 3,
            "kind": "word_to_meaning",
            "prompt": "Question 0?",
            "options": ["option 0.0", "option 0.1", "option 0.2", "option 0.3"],
            "closes_at_ms": 11_000,
            "remaining_ms": 7_000,
            "time_limit_ms": 10_000,
            "open": True,
        },
        "answer": None,
        "leaderboard": views.leaderboard(session),
        "asked": True,
    }


def test_the_whole_host_view_after_a_reveal(questions: list[Question]) -> None:
    session = played(questions)
    session.close_question(5_000)
    assert views.host_view(session, 6_000) == {
        "seq": 6,
        "phase": "question_closed",
        "locked": False,
        "question": {
            "index": 0,
            "count": 3,
            "kind": "word_to_meaning",
            "prompt": "Question 0?",
            "options": ["option 0.0", "option 0.1", "option 0.2", "option 0.3"],
            "closes_at_ms": 11_000,
            "remaining_ms": 5_000,
            "time_limit_ms": 10_000,
            "open": False,
            "reveal": views.reveal(questions[0]),
        },
        "answered": 1,
        "present": 2,
        "players": [
            {
                "player_id": 1,
                "nickname": "Anna",
                "present": True,
                "score": 900,
                "answered": True,
                "asks_to_rejoin": False,
                "approved": True,
                "extra_percent": 0,
            },
            {
                "player_id": 2,
                "nickname": "Ben",
                "present": True,
                "score": 0,
                "answered": False,
                "asks_to_rejoin": False,
                "approved": True,
                "extra_percent": 0,
            },
        ],
        "leaderboard": {
            "seq": 6,
            "phase": "question_closed",
            "players": 2,
            "answered": None,
            "top": [
                {"player_id": 1, "nickname": "Anna", "score": 900, "rank": 1},
                {"player_id": 2, "nickname": "Ben", "score": 0, "rank": 2},
            ],
        },
        "settings": SETTINGS_MAPPING,
    }


def test_the_whole_standing_of_a_kicked_player(questions: list[Question]) -> None:
    session = played(questions)
    session.kick(1, 4_000)
    assert views.player_view(session, 1, 4_000)["player"] == {
        "player_id": 1,
        "nickname": "Anna",
        "streak": 1,
        "kicked": True,
        "approved": True,
        "score": 900,
        "rank": None,
        "players": 1,
    }


def test_the_whole_results_of_a_player_and_of_the_quiz(questions: list[Question]) -> None:
    session = played(questions)  # Anna right on question 0
    session.submit_answer(2, 0, 3, 3_500)  # Ben wrong
    session.end(4_000)
    assert views.player_results(session, 2) == {
        "score": 0,
        "rank": 2,
        "players": 2,
        "player_id": 2,
        "nickname": "Ben",
        "correct": 0,
        "answered": 1,
        "missed": [
            {
                "index": 0,
                "word": "word0",
                "definition": "meaning of word0",
                "example": "an example with word0 in it",
                "answered": 3,
                "correct_option": 0,
            }
        ],
    }
    assert views.final_results(session) == {
        "phase": "finished",
        "players": [
            {"rank": 1, "player_id": 1, "nickname": "Anna", "user_id": None, "score": 900,
             "correct": 1, "answered": 1},
            {"rank": 2, "player_id": 2, "nickname": "Ben", "user_id": None, "score": 0,
             "correct": 0, "answered": 1},
        ],
        "questions": [
            {
                "index": 0,
                "kind": "word_to_meaning",
                "prompt": "Question 0?",
                "word": "word0",
                "options": ["option 0.0", "option 0.1", "option 0.2", "option 0.3"],
                "correct_option": 0,
                "option_counts": [1, 0, 0, 1],
                "correct": 1,
                "most_picked_wrong": 3,
            }
        ],
    }  # fmt: skip


def test_a_late_joiner_between_questions_was_not_asked_the_closed_one(
    questions: list[Question],
) -> None:
    """Joined after question 0 closed: their screen must not say "no answer", and question 0
    is not one of their words to review."""
    session = played(questions)
    session.close_question(5_000)
    session.join("Cleo", 6_000)
    cleo = views.player_view(session, 3, 6_000)
    assert cleo["phase"] == "question_closed"
    assert cleo["asked"] is False
    assert views.player_view(session, 2, 6_000)["asked"] is True  # Ben saw it, did not answer
    session.next(7_000)
    assert views.player_view(session, 3, 7_000)["asked"] is True  # question 1, open: theirs
    session.close_question(8_000)
    assert [m["index"] for m in views.player_results(session, 3)["missed"]] == [1]
    assert [m["index"] for m in views.player_results(session, 2)["missed"]] == [0, 1]
    session.next(9_000)
    session.close_question(10_000)
    session.next(11_000)  # finished
    assert "asked" not in views.player_view(session, 3, 12_000)


def test_a_late_joiner_during_a_question_was_asked_it(questions: list[Question]) -> None:
    session = played(questions)
    session.join("Cleo", 4_000)  # question 0 is open: it is on their screen
    session.close_question(5_000)
    assert views.player_view(session, 3, 5_000)["asked"] is True
    assert [m["index"] for m in views.player_results(session, 3)["missed"]] == [0]


def test_a_skipped_question_is_in_nobodys_review_nor_the_teachers_results(
    questions: list[Question],
) -> None:
    session = played(questions)  # Anna answered question 0 right
    session.skip(4_000)  # question 0 skipped, question 1 open
    session.submit_answer(1, 1, 0, 5_000)  # Anna wrong on question 1
    session.close_question(6_000)
    assert [m["index"] for m in views.player_results(session, 1)["missed"]] == [1]
    assert [m["index"] for m in views.player_results(session, 2)["missed"]] == [1]
    results = views.player_results(session, 1)
    assert (results["score"], results["correct"], results["answered"]) == (0, 0, 1)
    assert [q["index"] for q in views.final_results(session)["questions"]] == [1]


def test_a_result_says_who_to_catch(questions: list[Question]) -> None:
    session = played(questions)  # Anna right (900), Ben nothing yet
    session.join("Cleo", 3_100)
    session.submit_answer(3, 0, 0, 4_000)  # Cleo right, slower
    cleo = session.players[3].score
    assert views.ahead(session, session.players[1]) is None
    assert views.ahead(session, session.players[3]) == {
        "player_id": 1,
        "nickname": "Anna",
        "score": 900,
        "rank": 1,
    }
    assert views.ahead(session, session.players[2]) == {
        "player_id": 3,
        "nickname": "Cleo",
        "score": cleo,
        "rank": 2,
    }
    session.kick(2, 4_500)
    assert views.ahead(session, session.players[2]) is None


# Clocks at their boundaries: a countdown reaches 0 and stays there, it never shows 1 ms left
# once its moment has come (a phone would then wait for nothing).


def test_the_wait_for_the_next_question_counts_down_to_0_not_1(questions: list[Question]) -> None:
    session = QuizSession(questions, replace(SETTINGS, auto_advance_ms=5_000))
    session.join("Anna", 0)
    session.start(0)
    session.close_question(2_000)  # question 1 opens by itself at 7,000
    for now, left in ((6_999, 1), (7_000, 0), (7_500, 0)):  # a view built before the tick
        view = views.question_view(session, now)
        assert view is not None
        assert view["next_in_ms"] == left


def test_a_paused_players_time_left_includes_their_extra_time(questions: list[Question]) -> None:
    session = QuizSession(questions, SETTINGS)
    session.join("Anna", 0)
    session.join("Ben", 0)
    session.give_extra_time(1, 50, 0)  # Anna: 5 s more
    session.start(1_000)  # everyone's deadline 11,000, Anna's 16,000
    session.pause(4_000)
    options = ["option 0.0", "option 0.1", "option 0.2", "option 0.3"]
    paused = {
        "index": 0,
        "count": 3,
        "kind": "word_to_meaning",
        "prompt": "Question 0?",
        "options": options,
        "time_limit_ms": 10_000,
        "open": True,
        "paused": True,
    }
    assert views.question_view(session, 9_000, 1) == paused | {
        "closes_at_ms": 16_000,
        "remaining_ms": 12_000,  # what was left at the pause, however long it lasts
        "extra_ms": 5_000,
    }
    assert views.question_view(session, 9_000, 2) == paused | {
        "closes_at_ms": 11_000,
        "remaining_ms": 7_000,
    }


def test_a_question_paused_in_its_grace_shows_no_time_left(questions: list[Question]) -> None:
    session = played(questions)  # closes at 11,000, answers taken until 11,500
    session.pause(11_200)
    view = views.question_view(session, 12_000)
    assert view is not None
    assert (view["paused"], view["remaining_ms"]) == (True, 0)


def test_options_are_due_in_0_ms_from_the_moment_the_reading_ends(
    questions: list[Question],
) -> None:
    session = QuizSession(questions, replace(SETTINGS, reading_ms=2_000))
    session.join("Anna", 0)
    session.start(1_000)  # options at 3,000
    for now, left in ((2_999, 1), (3_000, 0)):  # a view built before the tick shows them
        view = views.question_view(session, now)
        assert view is not None
        assert view["options"] == []
        assert (view["options_at_ms"], view["options_in_ms"]) == (3_000, left)


# Whole views of the other kinds of quiz: homework and teams.


def test_the_whole_host_view_of_homework(questions: list[Question]) -> None:
    settings = QuizSettings(time_limit_ms=10_000, grace_ms=500, pace=Pace.SELF)
    session = QuizSession(questions, settings)
    session.join("Anna", 0)
    session.join("Ben", 0)
    session.start(0, due_at_ms=86_400_000)
    session.advance(1, 1_000)
    session.submit_answer(1, 0, 0, 2_000)  # Anna: question 0 done; Ben has opened nothing

    def progress(done: int) -> dict[str, object]:
        return {"due_at_ms": 86_400_000, "done": done, "count": 3, "finished": False}

    line = {"present": True, "asks_to_rejoin": False, "approved": True, "extra_percent": 0}
    assert views.host_view(session, 3_000) == {
        "seq": 6,
        "phase": "in_progress",
        "locked": False,
        "question": None,  # each player has their own
        "answered": 0,
        "present": 2,
        "players": [
            {"player_id": 1, "nickname": "Anna", "score": 950, "progress": progress(1)} | line,
            {"player_id": 2, "nickname": "Ben", "score": 0, "progress": progress(0)} | line,
        ],
        "leaderboard": views.leaderboard(session),
        "settings": settings.to_mapping(),
        "due_at_ms": 86_400_000,
    }


def test_the_host_sees_each_players_team(questions: list[Question]) -> None:
    session = QuizSession(questions, replace(SETTINGS, teams=2))
    for name in ("Anna", "Ben", "Cleo"):
        session.join(name, 0)
    line = {
        "present": True,
        "score": 0,
        "answered": False,
        "asks_to_rejoin": False,
        "approved": True,
        "extra_percent": 0,
    }
    teams = {player_id: session.board.team_of(player_id) for player_id in (1, 2, 3)}
    assert teams == {1: 0, 2: 1, 3: 0}  # each joins the smallest team
    assert views.host_view(session, 100)["players"] == [
        {"player_id": 1, "nickname": "Anna"} | line | {"team": 0},
        {"player_id": 2, "nickname": "Ben"} | line | {"team": 1},
        {"player_id": 3, "nickname": "Cleo"} | line | {"team": 0},
    ]


def test_the_host_sees_who_asks_to_come_back(questions: list[Question]) -> None:
    session = played(questions)
    session.leave(2, 3_500)  # Ben's phone dies
    session.request_rejoin("Ben", "r" * 22, 3_600)
    lines = {line["nickname"]: line for line in views.host_view(session, 4_000)["players"]}
    assert lines["Ben"]["asks_to_rejoin"] is True
    assert lines["Anna"]["asks_to_rejoin"] is False


def test_homework_results_hold_the_questions_someone_reached(questions: list[Question]) -> None:
    """Three questions; Anna got to question 1, Ben to question 0: question 2, opened by
    nobody, is not in the teacher's results."""
    session = QuizSession(questions, QuizSettings(time_limit_ms=10_000, pace=Pace.SELF))
    session.join("Anna", 0)
    session.join("Ben", 0)
    session.start(0, due_at_ms=86_400_000)
    session.advance(1, 1_000)
    session.submit_answer(1, 0, 0, 2_000)
    session.advance(1, 3_000)
    session.advance(2, 3_000)
    session.end(5_000)
    assert session.phase is Phase.FINISHED
    assert [q["index"] for q in views.final_results(session)["questions"]] == [0, 1]


def test_homework_nobody_joined_has_empty_results(questions: list[Question]) -> None:
    session = QuizSession(questions, QuizSettings(pace=Pace.SELF))
    session.start(0, due_at_ms=86_400_000)
    session.end(1_000)
    assert views.final_results(session) == {"phase": "finished", "players": [], "questions": []}
