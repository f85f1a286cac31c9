"""The teacher's report, figure by figure (``livequiz.domain.reports``)."""

from __future__ import annotations

from livequiz.domain.question import Question
from livequiz.domain.reports import RETEACH_BELOW, class_report
from livequiz.domain.session import QuizSession
from livequiz.domain.settings import Pace, QuizSettings
from tests.domain.factories import make_question

LIVE = QuizSettings(time_limit_ms=10_000, grace_ms=500, close_when_all_answered=False)


def live_game() -> QuizSession:
    """Four players; question 0 (right: 0): Ann right in 1 s, Bo right in 3 s, Cy wrong (2) in
    5 s, Di no answer. Eve joins after it closed. Question 1 (right: 1): everyone right but Di,
    who picks 3; Eve right in 2 s."""
    session = QuizSession([make_question(0, correct=0), make_question(1, correct=1)], LIVE)
    for name in ("Ann", "Bo", "Cy", "Di"):
        session.join(name, 0)
    session.start(0)
    session.submit_answer(1, 0, 0, 1_000)
    session.submit_answer(2, 0, 0, 3_000)
    session.submit_answer(3, 0, 2, 5_000)
    session.close_question(6_000)
    session.join("Eve", 6_500)
    session.next(7_000)
    for player, at in ((1, 8_000), (2, 8_000), (3, 8_000), (5, 9_000)):
        session.submit_answer(player, 1, 1, at)
    session.submit_answer(4, 1, 3, 9_000)
    session.close_question(10_000)
    return session


def test_each_word_says_who_knew_it_how_fast_and_the_wrong_answer_picked_most() -> None:
    report = class_report(live_game())
    by_index = {word["index"]: word for word in report["words"]}
    q0, q1 = by_index[0], by_index[1]
    assert q0 == {
        "index": 0,
        "word": "word0",
        "kind": "word_to_meaning",
        "prompt": "Question 0?",
        "answer": "option 0.0",
        "asked": 4,  # Eve joined after it closed; Di was asked and did not answer
        "answered": 3,
        "correct": 2,
        "share_correct": 0.5,
        "average_ms": (1_000 + 3_000 + 5_000) // 3,
        "most_picked_wrong": {"option": 2, "text": "option 0.2", "count": 1},
        "to_reteach": True,
    }
    assert (q1["asked"], q1["answered"], q1["correct"]) == (5, 5, 4)
    assert q1["share_correct"] == 0.8
    assert q1["to_reteach"] is False  # 80 % is not below the line
    assert RETEACH_BELOW == 0.8
    assert q1["most_picked_wrong"] == {"option": 3, "text": "option 1.3", "count": 1}
    assert [word["index"] for word in report["words"]] == [0, 1]  # hardest first
    assert report["reteach"] == ["word0"]


def test_students_have_a_cell_per_word_asked_in_rank_order() -> None:
    session = live_game()
    report = class_report(session)
    students = {s["nickname"]: s for s in report["students"]}
    assert [s["nickname"] for s in report["students"]] == [
        session.players[p.player_id].nickname for p in session.board
    ]
    assert [s["rank"] for s in report["students"]] == [p.rank for p in session.board]
    di = students["Di"]
    assert di["cells"][0] == {
        "index": 0,
        "option": None,
        "correct": False,
        "points": 0,
        "elapsed_ms": None,
    }
    assert di["cells"][1]["correct"] is False
    assert (di["asked"], di["answered"], di["correct"]) == (2, 1, 0)
    eve = students["Eve"]
    assert eve["cells"][0] is None  # never asked: she came after it closed
    assert (eve["asked"], eve["answered"], eve["correct"]) == (1, 1, 1)
    cy = students["Cy"]
    assert cy["cells"][0]["option"] == 2
    assert cy["average_ms"] == (5_000 + cy["cells"][1]["elapsed_ms"]) // 2
    for student in report["students"]:
        player = session.players[student["player_id"]]
        assert student["score"] == player.score
        assert student["score"] == sum(c["points"] for c in student["cells"] if c)


def test_words_of_equal_difficulty_come_slowest_first() -> None:
    session = QuizSession([make_question(n) for n in range(3)], LIVE)
    session.join("Ann", 0)
    session.start(0)
    for index, took in ((0, 2_000), (1, 7_000), (2, 4_000)):
        opened = session.opened_at_ms
        session.submit_answer(1, index, 1, opened + took)  # wrong every time
        session.close_question(opened + 9_000)
        session.next(opened + 9_500)
    report = class_report(session)
    assert [word["index"] for word in report["words"]] == [1, 2, 0]
    assert report["reteach"] == ["word1", "word2", "word0"]


def test_an_open_question_is_not_in_the_report() -> None:
    session = QuizSession([make_question(0), make_question(1)], LIVE)
    session.join("Ann", 0)
    session.start(0)
    session.submit_answer(1, 0, 0, 100)
    report = class_report(session)
    assert report["words"] == []
    assert report["students"][0]["cells"] == []
    assert report["students"][0]["correct"] == 0


def test_homework_is_reported_once_due_with_what_each_student_opened() -> None:
    questions: list[Question] = [make_question(n, correct=0) for n in range(3)]
    session = QuizSession(questions, QuizSettings(pace=Pace.SELF))
    for name in ("Ann", "Bo"):
        session.join(name, 0)
    session.start(0, due_at_ms=3_600_000)
    session.advance(1, 1_000)
    session.submit_answer(1, 0, 0, 2_000)
    session.advance(1, 3_000)
    session.submit_answer(1, 1, 1, 4_000)
    session.advance(2, 5_000)  # Bo opens question 0 and never answers it
    assert class_report(session)["words"] == []  # still open for someone until it is due
    session.tick(3_600_000 + 501)
    report = class_report(session)
    by_index = {word["index"]: word for word in report["words"]}
    assert sorted(by_index) == [0, 1]  # question 2 was opened by nobody
    assert (by_index[0]["asked"], by_index[0]["correct"]) == (2, 1)
    assert (by_index[1]["asked"], by_index[1]["correct"]) == (1, 0)
    bo = next(s for s in report["students"] if s["nickname"] == "Bo")
    assert bo["cells"][1] is None
    assert bo["cells"][0]["option"] is None


def test_a_removed_player_is_left_out() -> None:
    session = live_game()
    session.kick(3, 11_000)
    report = class_report(session)
    assert "Cy" not in {s["nickname"] for s in report["students"]}
    q0 = next(word for word in report["words"] if word["index"] == 0)
    assert (q0["asked"], q0["answered"], q0["correct"]) == (3, 2, 2)
    assert q0["most_picked_wrong"] is None


# Figures exact to the digit and lines compared whole: the report is read by teachers and
# downloaded as CSV / XLSX, where a renamed key is a column that vanishes.


def six_players_one_word() -> QuizSession:
    """One word (right: 0) put to six: Ann and Eve right, Bo silent, Cy and Di pick 3, Flo 2."""
    session = QuizSession([make_question(0, correct=0)], LIVE)
    for name in ("Ann", "Bo", "Cy", "Di", "Eve", "Flo"):
        session.join(name, 0)
    session.start(0)
    for player, option, at in ((1, 0, 1_000), (3, 3, 2_000), (4, 3, 2_500), (5, 0, 1_500)):
        session.submit_answer(player, 0, option, at)
    session.submit_answer(6, 0, 2, 3_001)
    session.close_question(9_000)
    return session


def test_a_words_figures_count_everyone_asked_after_a_silent_one() -> None:
    report = class_report(six_players_one_word())
    # Bo (no answer) is ranked above Cy, Di and Flo (all 0 points): they still count
    assert [s["nickname"] for s in report["students"]] == ["Ann", "Eve", "Bo", "Cy", "Di", "Flo"]
    assert report["phase"] == "question_closed"
    assert report["words"] == [
        {
            "index": 0,
            "word": "word0",
            "kind": "word_to_meaning",
            "prompt": "Question 0?",
            "answer": "option 0.0",
            "asked": 6,
            "answered": 5,
            "correct": 2,
            "share_correct": 0.3333,  # 2 of 6, to four places
            "average_ms": 2_000,  # 10,001 ms over 5 answers, rounded down to the ms
            "most_picked_wrong": {"option": 3, "text": "option 0.3", "count": 2},
            "to_reteach": True,
        }
    ]
    assert report["reteach"] == ["word0"]


def test_a_students_line_whole() -> None:
    report = class_report(six_players_one_word())
    students = {s["nickname"]: s for s in report["students"]}
    assert students["Cy"] == {
        "rank": 3,
        "player_id": 3,
        "nickname": "Cy",
        "user_id": None,  # a nickname join: no user of the learning app
        "score": 0,
        "asked": 1,
        "answered": 1,
        "correct": 0,
        "average_ms": 2_000,
        "cells": [{"index": 0, "option": 3, "correct": False, "points": 0, "elapsed_ms": 2_000}],
    }
    assert students["Bo"]["cells"] == [
        {"index": 0, "option": None, "correct": False, "points": 0, "elapsed_ms": None}
    ]


def test_a_students_average_time_is_rounded_down_to_the_ms() -> None:
    session = QuizSession([make_question(0, correct=0), make_question(1, correct=0)], LIVE)
    session.join("Ann", 0)
    session.start(0)
    session.submit_answer(1, 0, 0, 1_000)
    session.close_question(9_000)
    session.next(10_000)
    session.submit_answer(1, 1, 2, 11_001)  # 1,001 ms
    session.close_question(19_000)
    (ann,) = class_report(session)["students"]
    assert ann["average_ms"] == 1_000  # (1,000 + 1,001) // 2, an int
    assert type(ann["average_ms"]) is int


def test_words_come_by_share_known_then_slowest_and_unanswered_counts_as_fastest() -> None:
    """Ann alone: word 0 not answered, word 1 wrong in 1 ms, word 2 right in 5 s."""
    session = QuizSession([make_question(n, correct=0) for n in range(3)], LIVE)
    session.join("Ann", 0)
    session.start(0)
    session.close_question(9_000)  # word 0: no answer
    session.next(10_000)
    session.submit_answer(1, 1, 2, 10_001)  # word 1: wrong, 1 ms
    session.close_question(19_000)
    session.next(20_000)
    session.submit_answer(1, 2, 0, 25_000)  # word 2: right, 5 s
    session.close_question(29_000)
    report = class_report(session)
    figures = [(w["index"], w["share_correct"], w["average_ms"]) for w in report["words"]]
    # the lowest share first, however fast (word 2 was the slowest); among words of equal
    # share, an answer in 1 ms is slower than none (no average counts as 0)
    assert figures == [(1, 0.0, 1), (0, 0.0, None), (2, 1.0, 5_000)]
    assert report["reteach"] == ["word1", "word0"]


def test_a_word_only_a_removed_player_was_asked_comes_last_and_is_not_to_reteach() -> None:
    session = QuizSession([make_question(0, correct=0), make_question(1, correct=0)], LIVE)
    session.join("Ann", 0)
    session.start(0)
    session.submit_answer(1, 0, 1, 1_000)
    session.close_question(9_000)
    session.join("Bo", 9_500)  # after word 0 closed: not asked it
    session.next(10_000)
    session.submit_answer(2, 1, 1, 11_000)  # Bo wrong on word 1
    session.close_question(19_000)
    session.kick(1, 20_000)  # Ann removed: nobody left was asked word 0
    report = class_report(session)
    assert [w["index"] for w in report["words"]] == [1, 0]
    assert report["words"][1] == {
        "index": 0,
        "word": "word0",
        "kind": "word_to_meaning",
        "prompt": "Question 0?",
        "answer": "option 0.0",
        "asked": 0,
        "answered": 0,
        "correct": 0,
        "share_correct": None,
        "average_ms": None,
        "most_picked_wrong": None,
        "to_reteach": False,
    }
    assert report["reteach"] == ["word1"]


def test_homework_nobody_joined_reports_nothing_once_due() -> None:
    session = QuizSession([make_question(0), make_question(1)], QuizSettings(pace=Pace.SELF))
    session.start(0, due_at_ms=3_600_000)
    session.tick(3_600_000 + 501)
    assert class_report(session) == {
        "phase": "finished",
        "words": [],
        "reteach": [],
        "students": [],
    }
