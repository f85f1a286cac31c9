"""Dropping and coming back with the same token: the snapshot restores where the player stood,
nothing is counted twice, and neither a player's nor the host's drop stops the game."""

from __future__ import annotations

import contextlib

import pytest

from livequiz.service import ServiceLimits
from tests.integration.helpers import (
    Client,
    Frame,
    Quiz,
    board_entry,
    first_board_since,
    open_client,
    setup_quiz,
)
from tests.server import running_server

FAST = ServiceLimits(tick_ms=20, disconnect_grace_s=0.2)

#: How a connection is lost: a clean close, the TCP connection cut (no closing handshake) and
#: the host told of it before the player is back, or cut and back at once (a network switch).
DROPS = ["close", "abort", "abort, back at once"]


async def drop(quiz: Quiz, client: Client, how: str, player_id: int) -> None:
    """Lose ``client``'s connection; unless coming back at once, wait until the host is told."""
    since = len(quiz.host.frames)
    if how == "close":
        await client.ws.close()
    else:
        client.abort()
    if how != "abort, back at once":
        await quiz.host.wait_for(
            lambda f: f["type"] == "players" and player_id in f["left"], since=since
        )


async def back(quiz: Quiz, stack: contextlib.AsyncExitStack, name: str) -> tuple[Client, Frame]:
    """Connect again with the same token; returns the new connection and its welcome."""
    client = await stack.enter_async_context(open_client(quiz.srv, f"{name} again"))
    welcome = await client.hello(quiz.tokens[name])
    quiz.players[name] = client
    return client, welcome


async def assert_all_present(quiz: Quiz) -> None:
    await quiz.host.send({"type": "sync"})
    snapshot = await quiz.host.expect("snapshot")
    assert snapshot["state"]["present"] == len(quiz.players)
    assert all(p["present"] for p in snapshot["state"]["players"]), snapshot["state"]["players"]


@pytest.mark.parametrize("how", DROPS)
async def test_a_player_comes_back_with_score_rank_streak_and_answer(how: str) -> None:
    async with running_server(service=FAST) as srv, contextlib.AsyncExitStack() as stack:
        # Anna joins over the socket: the token she comes back with is the welcome's.
        quiz = await setup_quiz(srv, stack, ["Anna", "Ben", "Cleo"], ws_joins=["Anna"], count=2)
        await quiz.start()
        for name, right in (("Anna", True), ("Ben", False), ("Cleo", True)):
            option = quiz.correct(0) if right else quiz.wrong(0)
            assert (await quiz.players[name].answer(0, option))["status"] == "accepted"
        await quiz.everyone_gets("closed")
        await quiz.next(1)
        ack = await quiz.players["Anna"].answer(1, quiz.correct(1))
        assert ack["status"] == "accepted"
        assert ack["answer"]["streak"] == 2

        await drop(quiz, quiz.players["Anna"], how, quiz.ids["Anna"])
        anna, welcome = await back(quiz, stack, "Anna")

        state = welcome["state"]
        assert state["phase"] == "question_open"
        assert state["question"]["index"] == 1
        assert state["question"]["open"] is True
        player = state["player"]
        assert player["player_id"] == quiz.ids["Anna"]
        assert player["score"] == ack["standing"]["score"] == ack["answer"]["score"]
        assert player["rank"] == ack["standing"]["rank"] == 1
        assert player["streak"] == 2
        assert state["answer"] == ack["answer"]
        line = board_entry(state["leaderboard"], quiz.ids["Anna"])
        assert line is not None
        assert line["score"] == ack["standing"]["score"]

        # The same answer again is a duplicate; another option is refused; the score stays.
        again = await anna.answer(1, quiz.correct(1))
        assert again["status"] == "duplicate"
        assert again["seq"] == ack["seq"]
        assert again["answer"] == ack["answer"]
        other = await anna.answer(1, quiz.wrong(1))
        assert other["status"] == "already_answered"
        assert other["standing"]["score"] == ack["standing"]["score"]
        assert quiz.session().players[quiz.ids["Anna"]].score == ack["answer"]["score"]
        await assert_all_present(quiz)


@pytest.mark.parametrize("how", DROPS)
async def test_a_player_who_drops_before_answering_can_still_answer(how: str) -> None:
    async with running_server(service=FAST) as srv, contextlib.AsyncExitStack() as stack:
        quiz = await setup_quiz(srv, stack, ["Anna", "Ben", "Cleo"], count=2)
        await quiz.start()
        await drop(quiz, quiz.players["Ben"], how, quiz.ids["Ben"])
        assert (await quiz.players["Anna"].answer(0, quiz.correct(0)))["status"] == "accepted"

        ben, welcome = await back(quiz, stack, "Ben")
        assert welcome["state"]["question"]["index"] == 0
        assert welcome["state"]["question"]["open"] is True
        assert welcome["state"]["answer"] is None
        assert welcome["state"]["player"]["score"] == 0

        ack = await ben.answer(0, quiz.correct(0))
        assert ack["status"] == "accepted", ack
        assert ack["answer"]["correct"] is True
        assert ack["answer"]["points"] >= 500
        board = await first_board_since(quiz.host, ack["seq"])
        line = board_entry(board, quiz.ids["Ben"])
        assert line is not None
        assert line["score"] == ack["answer"]["points"]
        await assert_all_present(quiz)


async def test_several_tabs_one_closing_leaves_the_player_present() -> None:
    async with running_server(service=FAST) as srv, contextlib.AsyncExitStack() as stack:
        quiz = await setup_quiz(srv, stack, ["Anna", "Ben"])
        tab = await stack.enter_async_context(open_client(srv, "Anna#2", quiz.tokens["Anna"]))
        await tab.stop()
        # Commands run in order and lobby changes reach the host in order: once the host hears
        # of a later join, it would have heard of Anna leaving.
        await srv.join(quiz.pin, "Cleo")
        await quiz.host.wait_for(
            lambda f: f["type"] == "players" and any(p["nickname"] == "Cleo" for p in f["joined"])
        )
        assert not any(f["type"] == "players" and f["left"] for f in quiz.host.frames)
        await quiz.host.send({"type": "sync"})
        state = (await quiz.host.expect("snapshot"))["state"]
        assert state["present"] == 3
        assert all(p["present"] for p in state["players"]), state["players"]


async def test_the_host_dropping_does_not_end_the_game() -> None:
    async with running_server(service=FAST) as srv, contextlib.AsyncExitStack() as stack:
        quiz = await setup_quiz(srv, stack, ["Anna", "Ben"], count=2)
        await quiz.start()
        quiz.host.abort()
        await quiz.host.closed()

        # The players play on: answers count, the question closes, results come.
        acks = [await quiz.players[name].answer(0, quiz.correct(0)) for name in ("Anna", "Ben")]
        assert [ack["status"] for ack in acks] == ["accepted", "accepted"]
        for name, client in quiz.players.items():
            await client.expect("closed", index=0)
            result = await client.expect("result", index=0)
            assert result["standing"]["score"] > 0, (name, result)
        state = (await srv.http.get(f"/api/quizzes/{quiz.pin}")).json()
        assert state["phase"] == "question_closed"

        # The host comes back to the same quiz, where it stands, and carries on.
        host = await stack.enter_async_context(open_client(srv, "host again"))
        welcome = await host.hello(quiz.host_token)
        assert welcome["role"] == "host"
        assert welcome["state"]["phase"] == "question_closed"
        assert welcome["state"]["question"]["index"] == 0
        assert welcome["state"]["present"] == 2
        scores = {p["nickname"]: p["score"] for p in welcome["state"]["players"]}
        assert scores == {"Anna": acks[0]["answer"]["points"], "Ben": acks[1]["answer"]["points"]}
        quiz.host = host
        await quiz.next(1)


async def test_coming_back_in_at_close_mode_keeps_the_open_answer_hidden() -> None:
    async with running_server(service=FAST) as srv, contextlib.AsyncExitStack() as stack:
        quiz = await setup_quiz(srv, stack, ["Anna", "Ben"], settings={"reveal": "at_close"})
        await quiz.start()
        ack = await quiz.players["Anna"].answer(0, quiz.correct(0))
        await drop(quiz, quiz.players["Anna"], "abort", quiz.ids["Anna"])
        anna, welcome = await back(quiz, stack, "Anna")
        assert (
            welcome["state"]["answer"]
            == ack["answer"]
            == {
                "index": 0,
                "option": quiz.correct(0),
                "revealed": False,
            }
        )
        assert welcome["state"]["player"]["score"] == 0
        assert (await anna.answer(0, quiz.correct(0)))["status"] == "duplicate"
        assert (await quiz.host.host("close"))["type"] == "host_ack"
        result = await anna.expect("result", index=0)
        assert result["answer"]["revealed"] is True
        assert result["standing"]["score"] == result["answer"]["points"] > 0


async def test_a_short_drop_does_not_close_the_question_on_the_others() -> None:
    # Ben's phone switches networks while Anna has answered: with "close when all answered",
    # an immediate leave would close the question on him. Within the grace, nothing happens.
    limits = ServiceLimits(tick_ms=20, disconnect_grace_s=2.0)
    async with running_server(service=limits) as srv, contextlib.AsyncExitStack() as stack:
        quiz = await setup_quiz(srv, stack, ["Anna", "Ben"], time_limit_s=60)
        await quiz.start()
        await quiz.players["Anna"].answer(0, quiz.correct(0))
        quiz.players["Ben"].abort()
        ben, welcome = await back(quiz, stack, "Ben")
        assert welcome["state"]["question"]["open"] is True
        assert (await ben.answer(0, quiz.correct(0)))["status"] == "accepted"
        closed = await quiz.host.wait_for(lambda f: f["type"] == "closed")
        assert closed["reason"] == "all_answered"
        assert closed["option_counts"][quiz.correct(0)] == 2


async def test_a_player_who_stays_away_is_marked_gone_after_the_grace() -> None:
    limits = ServiceLimits(tick_ms=20, disconnect_grace_s=0.3)
    async with running_server(service=limits) as srv, contextlib.AsyncExitStack() as stack:
        quiz = await setup_quiz(srv, stack, ["Anna", "Ben", "Cleo"], time_limit_s=60)
        await quiz.start()
        await quiz.players["Anna"].answer(0, quiz.correct(0))
        await quiz.players["Ben"].answer(0, quiz.correct(0))
        await quiz.players["Cleo"].ws.close()
        # still present during the grace: the question waits for her …
        await quiz.host.send({"type": "sync"})
        snapshot = await quiz.host.expect("snapshot")
        assert snapshot["state"]["present"] == 3
        # … then she is gone, everyone present has answered, and the question closes
        closed = await quiz.host.wait_for(lambda f: f["type"] == "closed")
        assert closed["reason"] == "all_answered"
