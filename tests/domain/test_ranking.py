from __future__ import annotations

import pytest

from livequiz.domain.errors import CoreBug
from livequiz.domain.ranking import Leaderboard, Placing


def test_higher_score_first_and_equal_scores_share_a_rank() -> None:
    board = Leaderboard()
    board.set(1, 300, reached_seq=5)
    board.set(2, 500, reached_seq=6)
    board.set(3, 300, reached_seq=4)
    board.set(4, 100, reached_seq=7)
    assert list(board) == [
        Placing(2, 500, 1),
        Placing(3, 300, 2),  # reached 300 first (seq 4), so listed before player 1
        Placing(1, 300, 2),
        Placing(4, 100, 4),  # 1, 2, 2, 4
    ]
    assert [board.rank_of(p) for p in (1, 2, 3, 4)] == [2, 1, 2, 4]


def test_updating_a_score_moves_the_player() -> None:
    board = Leaderboard()
    board.set(1, 0, 1)
    board.set(2, 0, 2)
    assert board.top(1) == [Placing(1, 0, 1)]
    board.set(2, 700, 3)
    assert board.top(2) == [Placing(2, 700, 1), Placing(1, 0, 2)]
    assert board.score_of(2) == 700
    assert len(board) == 2


def test_top_k_is_a_prefix_with_ranks_from_the_start() -> None:
    board = Leaderboard()
    for player in range(1, 21):
        board.set(player, 1000 - 10 * (player // 2), player)
    top = board.top(5)
    assert top == list(board)[:5]
    assert [p.rank for p in top] == [1, 2, 2, 4, 4]


def test_removed_players_leave_the_board() -> None:
    board = Leaderboard()
    board.set(1, 10, 1)
    board.set(2, 20, 2)
    board.remove(2)
    assert 2 not in board
    assert 1 in board
    assert list(board) == [Placing(1, 10, 1)]


def test_removing_an_unknown_player_is_a_bug_of_the_caller() -> None:
    with pytest.raises(CoreBug) as caught:
        Leaderboard().remove(99)
    assert str(caught.value) == "player 99 is not on the board"


def test_the_player_to_catch_is_the_nearest_with_more_points() -> None:
    board = Leaderboard()
    board.set(1, 300, reached_seq=5)
    board.set(2, 500, reached_seq=6)
    board.set(3, 300, reached_seq=4)
    board.set(4, 100, reached_seq=7)
    board.set(5, 500, reached_seq=8)
    # both 300s chase the later of the two 500s (listed just above them), not each other
    assert board.ahead_of(1) == Placing(5, 500, 1)
    assert board.ahead_of(3) == Placing(5, 500, 1)
    assert board.ahead_of(4) == Placing(1, 300, 3)
    assert board.ahead_of(2) is None  # sharing the lead: nobody to catch
    assert board.ahead_of(5) is None
