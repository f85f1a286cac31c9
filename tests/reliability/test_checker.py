"""The checker catches each fault it counts: made-up histories, one fault each.

Without these a 0 from the checker could mean a checker that cannot see anything.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.reliability.checker import QuizHistory

Frame = dict[str, Any]


def ack(q: int, option: int, seq: int, points: int, score: int, correct: bool) -> Frame:
    return {
        "type": "ack",
        "q": q,
        "status": "accepted",
        "seq": seq,
        "answer": {
            "index": q,
            "option": option,
            "revealed": True,
            "correct": correct,
            "points": points,
            "score": score,
            "streak": 1 if correct else 0,
        },
    }


#: Anna answers both questions right, Bea the first wrong; the right option is 2, then 0.
ACKS = {
    "Anna": [ack(0, 2, 5, 900, 900, True), ack(1, 0, 9, 800, 1700, True)],
    "Bea": [ack(0, 1, 6, 0, 0, False)],
}


def report() -> Frame:
    return {
        "players": [
            {"nickname": "Anna", "score": 1700, "answered": 2},
            {"nickname": "Bea", "score": 0, "answered": 1},
        ],
        "questions": [
            {"index": 0, "correct_option": 2, "option_counts": [0, 1, 1, 0]},
            {"index": 1, "correct_option": 0, "option_counts": [1, 0, 0, 0]},
        ],
    }


def history(frames: list[Frame] | None = None) -> QuizHistory:
    checked = QuizHistory("q1")
    for name, acks in ACKS.items():
        for one in acks:
            checked.record(name, copy.deepcopy(one))
    checked.watch(
        "Anna",
        frames
        if frames is not None
        else [
            {"type": "welcome", "state": {"seq": 3}},
            {"type": "question", "seq": 4},
            {"type": "ack", "seq": 5},
            {"type": "board", "seq": 6},
            {"type": "closed", "seq": 7},
            {"type": "welcome", "state": {"seq": 8}},  # after a reconnect
            {"type": "board", "seq": 9},
        ],
    )
    return checked


FINAL = {
    "Anna": {"phase": "finished", "player": {"score": 1700}},
    "Bea": {"phase": "finished", "player": {"score": 0}},
}


def test_a_true_history_has_no_fault() -> None:
    verdict = history().check(report(), FINAL)
    assert verdict.ok, str(verdict)
    assert (verdict.acknowledged, verdict.frames) == (3, 7)


def test_an_acknowledged_answer_missing_from_the_store_is_lost() -> None:
    stored = report()
    stored["questions"][1]["option_counts"] = [0, 0, 0, 0]
    stored["players"][0].update(score=900, answered=1)
    verdict = history().check(stored, None)
    assert verdict.lost == 1
    assert verdict.recount == 1  # Anna's stored score is not what her acks add up to
    assert not verdict.ok


def test_an_answer_stored_twice_is_doubled() -> None:
    stored = report()
    stored["questions"][0]["option_counts"] = [0, 2, 1, 0]
    verdict = history().check(stored, None)
    assert verdict.doubled == 1
    assert not verdict.ok


def test_a_score_that_is_not_the_sum_of_the_acks_is_a_recount_fault() -> None:
    stored = report()
    stored["players"][1]["score"] = 100
    assert history().check(stored, None).recount == 1


def test_an_ack_that_disagrees_with_the_answer_key_is_a_recount_fault() -> None:
    stored = report()
    stored["questions"][0]["correct_option"] = 1  # Bea was right after all
    assert history().check(stored, None).recount >= 1


def test_a_repeat_with_another_result_is_inconsistent() -> None:
    checked = history()
    repeat = copy.deepcopy(ACKS["Bea"][0])
    repeat.update(status="duplicate", seq=12)
    checked.record("Bea", repeat)
    assert checked.check(report(), None).inconsistent == 1


def test_two_answers_under_one_sequence_number_are_inconsistent() -> None:
    checked = QuizHistory("q1")
    checked.record("Anna", ack(0, 2, 5, 900, 900, True))
    checked.record("Bea", ack(0, 1, 5, 0, 0, False))
    stored = report()
    stored["players"][0].update(score=900, answered=1)
    stored["questions"][1]["option_counts"] = [0, 0, 0, 0]
    assert checked.check(stored, None).inconsistent == 1


@pytest.mark.parametrize(
    "frames",
    [
        [{"type": "board", "seq": 9}, {"type": "board", "seq": 8}],
        [{"type": "closed", "seq": 9}, {"type": "welcome", "state": {"seq": 7}}],
        [{"type": "snapshot", "state": {"seq": 9}}, {"type": "question", "seq": 4}],
    ],
)
def test_a_sequence_number_going_back_is_a_regression(frames: list[Frame]) -> None:
    assert history(frames).check(report(), None).regressions == 1


def test_acks_and_host_acks_may_arrive_after_a_later_board() -> None:
    frames = [
        {"type": "board", "seq": 9},
        {"type": "ack", "seq": 7},
        {"type": "host_ack", "seq": 8},
    ]
    assert history(frames).check(report(), None).regressions == 0


@pytest.mark.parametrize(
    "state",
    [
        {"phase": "question_closed", "player": {"score": 1700}},
        {"phase": "finished", "player": {"score": 900}},
    ],
)
def test_a_client_back_with_an_old_view_is_stale(state: Frame) -> None:
    assert history().check(report(), {**FINAL, "Anna": state}).stale == 1


def test_at_close_acks_count_with_the_revealed_repeat() -> None:
    checked = QuizHistory("q1")
    hidden = ack(0, 2, 5, 0, 0, True)
    hidden["answer"] = {"index": 0, "option": 2, "revealed": False}
    checked.record("Anna", hidden)
    stored = {
        "players": [{"nickname": "Anna", "score": 900, "answered": 1}],
        "questions": [{"index": 0, "correct_option": 2, "option_counts": [0, 0, 1, 0]}],
    }
    verdict = checked.check(stored, None)
    # never revealed: neither the answer nor the score it went into can be recounted
    assert verdict.recount == 2
    revealed = ack(0, 2, 5, 900, 900, True)
    revealed["status"] = "duplicate"
    checked.record("Anna", revealed)
    assert checked.check(stored, None).ok
    wrong = copy.deepcopy(revealed)
    wrong["answer"]["points"] = 800
    checked.record("Anna", wrong)  # a later repeat must show the same revealed result
    assert checked.check(stored, None).inconsistent == 1
