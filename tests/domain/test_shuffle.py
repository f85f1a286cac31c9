"""Answers in an order of each player's own (setting ``shuffle_options``, issue 18): a view
concern only. Each player's question lists the options in their own order with ``order``; the
core, answers, reveals and counts keep the question's order."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from livequiz.domain import commands as c
from livequiz.domain import views
from livequiz.domain.question import MAX_OPTIONS, MIN_OPTIONS
from livequiz.domain.session import QuizSession
from livequiz.domain.settings import Pace, QuizSettings
from tests.domain.factories import make_question

SHUFFLED = QuizSettings(shuffle_options=True, close_when_all_answered=False)


@given(
    player_id=st.integers(1, 100_000),
    index=st.integers(0, 99),
    options=st.integers(MIN_OPTIONS, MAX_OPTIONS),
    correct=st.integers(0, MAX_OPTIONS - 1),
)
def test_each_player_sees_every_option_once_in_an_order_that_never_changes(
    player_id: int, index: int, options: int, correct: int
) -> None:
    question = make_question(index, correct=correct % options, options=options)
    order = views.option_order(player_id, index, question)
    assert sorted(order) == list(range(options))
    assert views.option_order(player_id, index, question) == order  # every reconnect, replay
    view = views.question_at(
        [question] * (index + 1), SHUFFLED, index, 20_000, 0, is_open=True, player_id=player_id
    )
    assert view["order"] == order
    assert view["options"] == [question.options[k] for k in order]
    # nothing in it says which option is right while it is open
    assert "reveal" not in view
    assert question.word not in json.dumps(view)


def test_players_get_different_orders_and_the_host_the_questions_own() -> None:
    question = make_question(0)
    orders = {tuple(views.option_order(player, 0, question)) for player in range(1, 61)}
    assert len(orders) >= 12  # of the 24 orders of four options, most turn up among 60 players
    firsts = {order[0] for order in orders}
    assert firsts == {0, 1, 2, 3}  # the right answer is not always in one place
    host = views.question_at([question], SHUFFLED, 0, 20_000, 0, is_open=True)
    assert host["options"] == list(question.options)
    assert "order" not in host
    unshuffled = views.question_at(
        [question], QuizSettings(), 0, 20_000, 0, is_open=True, player_id=7
    )
    assert unshuffled["options"] == list(question.options)
    assert "order" not in unshuffled


@given(st.lists(st.integers(0, 3), min_size=3, max_size=3))
def test_answers_reveals_and_counts_keep_the_questions_order(places: list[int]) -> None:
    """Each player taps a place on their phone; the phone sends the question's option in that
    place (``order[place]``); points, counts and the reveal are the question's, whatever the
    order each player saw."""
    questions = [make_question(0, correct=2)]
    session = QuizSession(questions, SHUFFLED)
    ids = [c.execute(session, c.Join(name), 0).player_id for name in ("Anna", "Ben", "Cleo")]
    c.execute(session, c.Start(), 10)
    sent = []
    for player_id, place in zip(ids, places, strict=True):
        assert player_id is not None
        snapshot = views.player_view(session, player_id, 20)
        order = snapshot["question"]["order"]
        assert snapshot["question"]["options"][place] == questions[0].options[order[place]]
        sent.append(order[place])
        c.execute(session, c.Answer(player_id, 0, order[place]), 30)
    (closed,) = c.execute(session, c.CloseQuestion(), 40).events
    counts = [sent.count(option) for option in range(4)]
    assert list(closed.option_counts) == counts  # type: ignore[attr-defined]
    for player_id, option in zip(ids, sent, strict=True):
        assert player_id is not None
        scored = session.players[player_id].score > 0
        assert scored == (option == 2)
        view = views.player_view(session, player_id, 50)
        assert view["question"]["reveal"]["correct_option"] == 2
        assert view["answer"]["option"] == option


def test_a_players_order_is_the_same_on_every_version_of_the_server() -> None:
    """Nothing is stored: a process started after an upgrade (a replay, a move to another
    server) must draw the same orders, or a player's screen would change under their finger.
    So the orders of a few players are pinned here."""
    question = make_question(0)
    assert [views.option_order(player, 0, question) for player in (1, 2, 3)] == [
        [1, 2, 3, 0],
        [0, 3, 2, 1],
        [1, 2, 0, 3],
    ]


def test_homework_shows_each_player_their_own_order() -> None:
    question = make_question(0)
    session = QuizSession([question], QuizSettings(shuffle_options=True, pace=Pace.SELF))
    anna = c.execute(session, c.Join("Anna"), 0).player_id
    assert anna is not None
    c.execute(session, c.Start(due_at_ms=86_400_000), 0)
    c.execute(session, c.Advance(anna), 1_000)
    order = views.option_order(anna, 0, question)
    view = views.player_view(session, anna, 2_000)["question"]
    assert view["order"] == order
    assert view["options"] == [question.options[k] for k in order]
