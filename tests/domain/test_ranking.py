from __future__ import annotations

import pytest

from livequiz.domain.errors import CoreBug
from livequiz.domain.ranking import Leaderboard, Placing, TeamPlacing


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


def test_a_board_without_teams_has_no_team_lines() -> None:
    assert Leaderboard().teams() == []
    assert Leaderboard(0).teams() == []


def test_a_teams_score_follows_each_new_score_of_its_members() -> None:
    # a new score replaces the old one in the team's sum: it is not added to it
    board = Leaderboard(2)
    board.assign(1, 0)
    board.assign(2, 0)
    board.set(1, 0, 1)
    board.set(2, 0, 2)
    board.set(1, 100, 3)
    board.set(1, 300, 4)
    board.set(2, 200, 5)
    assert board.teams() == [TeamPlacing(0, 250, 2, 1), TeamPlacing(1, 0, 0, 2)]


def test_an_empty_team_scores_zero_and_is_listed_last() -> None:
    board = Leaderboard(3)
    board.assign(1, 1)
    board.set(1, 40, 1)
    assert board.teams() == [
        TeamPlacing(1, 40, 1, 1),
        TeamPlacing(0, 0, 0, 2),
        TeamPlacing(2, 0, 0, 2),  # equal averages share a rank, listed in team order
    ]


def test_a_removed_member_takes_their_points_out_of_the_teams_average() -> None:
    board = Leaderboard(2)
    for player, (team, score) in enumerate([(0, 100), (0, 300), (1, 150)], start=1):
        board.assign(player, team)
        board.set(player, score, player)
    assert board.teams() == [TeamPlacing(0, 200, 2, 1), TeamPlacing(1, 150, 1, 2)]
    board.remove(2)
    assert board.teams() == [TeamPlacing(1, 150, 1, 1), TeamPlacing(0, 100, 1, 2)]


def test_a_player_moved_before_reaching_the_board_counts_only_for_their_last_team() -> None:
    # a name waiting for the host's approval is in a team but not yet on the board
    board = Leaderboard(2)
    board.assign(1, 0)
    board.assign(1, 1)
    assert board.team_of(1) == 1
    assert board.teams() == [TeamPlacing(0, 0, 0, 1), TeamPlacing(1, 0, 0, 1)]
    board.set(1, 70, 1)
    assert board.teams() == [TeamPlacing(1, 70, 1, 1), TeamPlacing(0, 0, 0, 2)]


def test_a_player_on_the_board_put_in_a_first_team_brings_their_points() -> None:
    board = Leaderboard(2)
    board.set(1, 90, 1)
    board.assign(1, 1)
    assert board.teams() == [TeamPlacing(1, 90, 1, 1), TeamPlacing(0, 0, 0, 2)]


def test_moving_a_teams_only_member_leaves_it_empty() -> None:
    board = Leaderboard(2)
    board.assign(1, 0)
    board.set(1, 60, 1)
    board.assign(1, 1)
    assert board.teams() == [TeamPlacing(1, 60, 1, 1), TeamPlacing(0, 0, 0, 2)]
    # and from a team of three, two stay
    for player in (2, 3, 4):
        board.assign(player, 0)
        board.set(player, 30, player)
    board.assign(2, 1)
    assert board.teams() == [TeamPlacing(1, 45, 2, 1), TeamPlacing(0, 30, 2, 2)]
