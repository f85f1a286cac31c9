"""The teacher's report: which words the class did not know, and how each student did.

Built from the session alone, live quizzes and homework alike, for the host's end screen and the
CSV and XLSX downloads (:mod:`livequiz.exports`). Like every view it gives away no question that
is still open for anyone: a live question once it has closed, a self-paced one once the quiz has
finished.

The figures, per word (question):

* ``asked``: players (not removed) the question was put to: live, everyone who had joined
  before it closed; self-paced, everyone who opened it. ``answered`` and ``correct`` count
  their answers, so ``correct / asked`` is the share who *knew* the word (not answering is not
  knowing it), as a teacher reads "only 10 of 16 knew 'cape'".
* ``average_ms``: the mean time of the answers given (right or wrong), ``None`` if nobody
  answered.
* ``most_picked_wrong``: the wrong option chosen most (the lowest such option on a tie), with
  how often; ``None`` if nobody chose a wrong one.

Words come hardest first: the lowest share correct, then the slowest average, then quiz order.
A word is **to reteach** when fewer than :data:`RETEACH_BELOW` of those asked knew it.
"""

from __future__ import annotations

from typing import Any

from livequiz.domain.session import Phase, Player, QuizSession

JSON = dict[str, Any]

#: A word fewer than this share of the class knew is on the "words to reteach" list.
RETEACH_BELOW = 0.8


def reported_questions(session: QuizSession) -> list[int]:
    """The questions the report may show: closed and not skipped (live), or all once finished
    (self-paced)."""
    if session.self_paced:
        if session.phase is not Phase.FINISHED:
            return []
        return list(range(max((p.at + 1 for p in session.players.values()), default=0)))
    return [i for i in range(len(session.closed_seqs)) if i not in session.skipped]


def class_report(session: QuizSession) -> JSON:
    """Words hardest first, the words to reteach, and each student's line with a cell per word."""
    indexes = reported_questions(session)
    players = [session.players[placing.player_id] for placing in session.board]
    words = [_word(session, index, players) for index in indexes]
    words.sort(key=_hardest_first)
    return {
        "phase": session.phase.value,
        "words": words,
        "reteach": [word["word"] for word in words if word["to_reteach"]],
        "students": [_student(session, player, indexes) for player in players],
    }


def _word(session: QuizSession, index: int, players: list[Player]) -> JSON:
    question = session.questions[index]
    asked = answered = correct = total_ms = 0
    picks = [0] * len(question.options)
    for player in players:
        if not session.was_asked(player, index):
            continue
        asked += 1
        record = player.answers.get(index)
        if record is None:
            continue
        answered += 1
        correct += record.correct
        total_ms += record.elapsed_ms
        picks[record.option] += 1
    wrong = [(count, -option) for option, count in enumerate(picks)]
    wrong.pop(question.correct_option)
    top_count, top_option = max(wrong)
    share = correct / asked if asked else None
    return {
        "index": index,
        "word": question.word,
        "kind": question.kind,
        "prompt": question.prompt,
        "answer": question.answer,
        "asked": asked,
        "answered": answered,
        "correct": correct,
        "share_correct": None if share is None else round(share, 4),
        "average_ms": total_ms // answered if answered else None,
        "most_picked_wrong": None
        if top_count == 0
        else {
            "option": -top_option,
            "text": question.options[-top_option],
            "count": top_count,
        },
        "to_reteach": share is not None and share < RETEACH_BELOW,
    }


def _hardest_first(word: JSON) -> tuple[float, int, int]:
    share = word["share_correct"]
    return (
        2.0 if share is None else share,  # never asked: last
        -(word["average_ms"] or 0),
        word["index"],
    )


def _student(session: QuizSession, player: Player, indexes: list[int]) -> JSON:
    cells: list[JSON | None] = []
    for index in indexes:
        record = player.answers.get(index)
        if not session.was_asked(player, index):
            cells.append(None)
        elif record is None:
            cells.append(
                {"index": index, "option": None, "correct": False, "points": 0, "elapsed_ms": None}
            )
        else:
            cells.append(
                {
                    "index": index,
                    "option": record.option,
                    "correct": record.correct,
                    "points": record.points,
                    "elapsed_ms": record.elapsed_ms,
                }
            )
    given = [cell for cell in cells if cell is not None and cell["option"] is not None]
    return {
        "rank": session.board.rank_of(player.id),
        "player_id": player.id,
        "nickname": player.nickname,
        "user_id": player.user_id,
        # as the board shows it (in at_close mode an open question's points wait for its close)
        "score": player.published_score,
        "asked": sum(cell is not None for cell in cells),
        "answered": len(given),
        "correct": sum(cell["correct"] for cell in given),
        "average_ms": sum(cell["elapsed_ms"] for cell in given) // len(given) if given else None,
        "cells": cells,
    }
