"""Kill the real server (SIGKILL) while answers are in flight and restart it: nothing is lost.

The promise under test (``docs`` and ``/work/shared/notes/decisions.md``, "Durability and
restart"): an ``ack`` is sent only once its answer is durable, so after a crash every
acknowledged answer is there exactly once — the player's score is what the ack said, a repeat of
the answer is a ``duplicate`` with the first result — and an answer whose ack never arrived is
counted once or not at all, never twice. Live quizzes come back with the open question and its
absolute deadline; a deadline that passed while the server was down closes and reveals.

The server runs in a process of its own (``runner.py``) so that it can really be SIGKILLed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.durability.harness import TIMEOUT_S, Frame, Peer, ServerProcess

PLAYERS = 20
#: Players who answer the second question first, and are all acknowledged before the kill.
WAVE_A = 10
#: Rounds of wave A's repeated answers around wave B's answers, to keep the server busy; with
#: the hello and two first answers, within the transport's burst of 20 messages a connection.
FLOODS = 12

StartServer = Callable[..., Awaitable[ServerProcess]]


@pytest.fixture
async def start_server(tmp_path: Path) -> AsyncIterator[StartServer]:
    """Start server processes over one data directory; whatever is left is killed at the end."""
    started: list[ServerProcess] = []

    async def start(reconnect_grace_s: float = 15.0) -> ServerProcess:
        server = ServerProcess(
            tmp_path / "data", tmp_path / "server.log", reconnect_grace_s=reconnect_grace_s
        )
        started.append(server)
        await server.start()
        return server

    yield start
    for server in started:
        await server.kill()


async def create_quiz(server: ServerProcess, players: int, **body: Any) -> dict[str, Any]:
    """``POST /api/quizzes`` with ``body``, then ``players`` joins; adds their ``tokens``."""
    async with httpx.AsyncClient(base_url=server.base_url, timeout=TIMEOUT_S) as http:
        response = await http.post("/api/quizzes", json=body)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        joins = await asyncio.gather(
            *(
                http.post(f"/api/quizzes/{created['pin']}/players", json={"nickname": nickname(n)})
                for n in range(players)
            )
        )
    for join in joins:
        assert join.status_code == 201, join.text
    created["tokens"] = [join.json()["token"] for join in joins]
    return created


async def connect_all(server: ServerProcess, tokens: list[str]) -> list[tuple[Peer, Frame]]:
    opened = await asyncio.gather(*(Peer.open(server.ws_url, token) for token in tokens))
    for _, welcome in opened:
        assert welcome["type"] == "welcome", welcome
    return list(opened)


def is_question(index: int) -> Callable[[Frame], bool]:
    return lambda f: f["type"] == "question" and f["question"]["index"] == index


def is_ack(index: int) -> Callable[[Frame], bool]:
    return lambda f: f["type"] == "ack" and f["q"] == index


def nickname(player: int) -> str:
    return f"player {player:02}"


def is_reply(index: int) -> Callable[[Frame], bool]:
    """The server's reply to an answer to question ``index``: an ack or an error."""
    return lambda f: f["type"] in ("ack", "error") and f.get("q") == index


def answer(index: int, option: int) -> Frame:
    return {"type": "answer", "q": index, "option": option}


def option_of(player: int) -> int:
    return player % 4


@pytest.mark.parametrize("kill_at", ["first-ack", "sent"])
async def test_acknowledged_answers_survive_kill_9(start_server: StartServer, kill_at: str) -> None:
    server = await start_server()
    quiz = await create_quiz(
        server,
        count=3,
        time_limit_s=60,
        seed=1,
        settings={"close_when_all_answered": False},
        players=PLAYERS,
    )
    host, _ = await Peer.open(server.ws_url, quiz["host_token"])
    players = [peer for peer, _ in await connect_all(server, quiz["tokens"])]

    # question 0: everybody answers, every ack arrives
    await host.send({"type": "host", "action": "start"})
    await asyncio.gather(*(p.wait_for(is_question(0)) for p in players))
    await asyncio.gather(*(p.send(answer(0, option_of(n))) for n, p in enumerate(players)))
    await asyncio.gather(*(p.wait_for(is_ack(0)) for p in players))
    await host.send({"type": "host", "action": "close"})
    await host.wait_for(lambda f: f["type"] == "closed" and f["index"] == 0)
    await host.send({"type": "host", "action": "next"})
    opened = await asyncio.gather(*(p.wait_for(is_question(1)) for p in players))
    closes_at_ms = opened[0]["question"]["closes_at_ms"]

    # question 1: wave A answers and is acknowledged. Then wave B answers in the middle of a
    # flood of wave A's repeats, and the server is killed the moment the first of wave B's acks
    # is back, or as soon as everything is sent. Half of wave B drop their connection right
    # after answering, so their acks are lost whatever the server did. Some of wave B are
    # acknowledged, some stored without an ack reaching them, some never reach the store.
    wave_a, wave_b = range(WAVE_A), range(WAVE_A, PLAYERS)
    deaf, listening = wave_b[: len(wave_b) // 2], wave_b[len(wave_b) // 2 :]
    await asyncio.gather(*(players[n].send(answer(1, option_of(n))) for n in wave_a))
    await asyncio.gather(*(players[n].wait_for(is_ack(1)) for n in wave_a))
    waiting = [asyncio.create_task(players[n].wait_for(is_ack(1))) for n in listening]
    for flood in range(FLOODS):
        if flood == 1:
            await asyncio.gather(*(players[n].send_and_drop(answer(1, option_of(n))) for n in deaf))
            await asyncio.gather(*(players[n].send(answer(1, option_of(n))) for n in listening))
        await asyncio.gather(*(players[n].send(answer(1, option_of(n))) for n in wave_a))
    if kill_at == "first-ack":
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    await server.kill()
    for task in waiting:
        task.cancel()
    await asyncio.gather(*waiting, return_exceptions=True)
    await asyncio.gather(*(p.gone() for p in [host, *players]))

    # what the clients were told before the crash
    acked: dict[tuple[int, int], Frame] = {}
    for n, player in enumerate(players):
        for ack in player.acks():
            assert ack["status"] in ("accepted", "duplicate"), ack
            first = acked.setdefault((n, ack["q"]), ack)
            # every repeat, before the crash, already got the first result
            assert (ack["seq"], ack["answer"]) == (first["seq"], first["answer"])
    assert all((n, 0) in acked for n in range(PLAYERS))
    assert all((n, 1) in acked for n in wave_a)
    seqs = [ack["seq"] for ack in acked.values()]
    assert len(seqs) == len(set(seqs)), "two answers acknowledged under one sequence number"
    # the independent recount: a score is the sum of the player's acknowledged points
    for n in range(PLAYERS):
        first_points = acked[(n, 0)]["answer"]["points"]
        assert acked[(n, 0)]["answer"]["score"] == first_points
        if (n, 1) in acked:
            assert (
                acked[(n, 1)]["answer"]["score"] == first_points + acked[(n, 1)]["answer"]["points"]
            )
    unacknowledged = [n for n in wave_b if (n, 1) not in acked]

    # restart over the same data directory
    server = await start_server()
    host, host_welcome = await Peer.open(server.ws_url, quiz["host_token"])
    state = host_welcome["state"]
    assert state["phase"] == "question_open"
    assert state["question"]["index"] == 1
    assert state["question"]["open"] is True
    assert state["question"]["closes_at_ms"] == closes_at_ms  # the same absolute deadline
    assert state["seq"] >= max(seqs)

    final: dict[int, int] = {}
    outcome = {"duplicate": 0, "accepted": 0}
    for n, (player, welcome) in enumerate(await connect_all(server, quiz["tokens"])):
        score_at_restart = welcome["state"]["player"]["score"]
        # every question answered again: acknowledged ones come back as the first result
        for index in (0, 1):
            await player.send(answer(index, option_of(n)))
            again = await player.wait_for(is_reply(index))
            assert again["type"] == "ack", (n, index, again)
            before = acked.get((n, index))
            if before is not None:
                assert again["status"] == "duplicate", (n, index, again)
                assert (again["seq"], again["answer"]) == (before["seq"], before["answer"])
            else:  # never acknowledged: it was stored (a duplicate now) or it is taken now
                assert (index, n in unacknowledged) == (1, True)
                assert again["status"] in ("duplicate", "accepted"), again
                outcome[again["status"]] += 1
                if again["status"] == "accepted":
                    assert score_at_restart == acked[(n, 0)]["answer"]["score"]
                acked[(n, index)] = again
        # the score at restart already held everything stored (all that was acknowledged
        # included), and nothing twice
        ack_1 = acked[(n, 1)]
        if n not in unacknowledged or ack_1["status"] == "duplicate":
            assert score_at_restart == ack_1["answer"]["score"], n
        await player.send({"type": "sync"})
        synced = await player.wait_for(lambda f: f["type"] == "snapshot")
        final[n] = synced["state"]["player"]["score"]
        assert final[n] == ack_1["answer"]["score"]
        assert final[n] == acked[(n, 0)]["answer"]["points"] + ack_1["answer"]["points"]
        await player.close()

    await host.send({"type": "sync"})
    host_state = (await host.wait_for(lambda f: f["type"] == "snapshot"))["state"]
    assert {p["nickname"]: p["score"] for p in host_state["players"]} == {
        nickname(n): score for n, score in final.items()
    }
    assert host_state["question"]["closes_at_ms"] == closes_at_ms
    await host.close()
    print(  # shown with -s: which paths this run took
        f"wave B: {len(wave_b) - len(unacknowledged)} acknowledged before the kill, "
        f"{outcome['duplicate']} stored but unacknowledged, {outcome['accepted']} never stored"
    )


async def test_a_deadline_that_passed_while_down_closes_and_reveals_on_restart(
    start_server: StartServer,
) -> None:
    server = await start_server()
    quiz = await create_quiz(
        server,
        count=2,
        time_limit_s=3,
        seed=2,
        settings={"close_when_all_answered": False},
        players=2,
    )
    grace_ms = quiz["settings"]["grace_ms"]
    host, _ = await Peer.open(server.ws_url, quiz["host_token"])
    (answerer, _), (silent, _) = await connect_all(server, quiz["tokens"])
    await host.send({"type": "host", "action": "start"})
    question = (await answerer.wait_for(is_question(0)))["question"]
    await answerer.send(answer(0, 1))
    acked = await answerer.wait_for(is_ack(0))
    assert acked["status"] == "accepted"
    await server.kill()
    assert not any(f["type"] == "closed" for f in host.frames), "closed before the kill"

    # down until well after the question's last moment (deadline plus grace)
    accepts_until_ms = question["closes_at_ms"] + grace_ms
    await asyncio.sleep(max(0.0, (accepts_until_ms + 300) / 1000 - time.time()))
    server = await start_server()

    host, welcome = await Peer.open(server.ws_url, quiz["host_token"])
    if welcome["state"]["phase"] == "question_open":  # the restart's clock may not have run yet
        closed = await host.wait_for(lambda f: f["type"] == "closed")
        assert (closed["index"], closed["reason"]) == (0, "time")
    answerer, again = await Peer.open(server.ws_url, quiz["tokens"][0])
    state = again["state"]
    assert state["phase"] == "question_closed"
    assert state["question"]["index"] == 0
    assert state["question"]["open"] is False
    assert state["question"]["closes_at_ms"] == question["closes_at_ms"]
    assert "correct_option" in state["question"]["reveal"]
    assert state["player"]["score"] == acked["answer"]["score"]
    assert state["answer"]["option"] == 1
    # the player who never answered cannot any more
    silent, silent_welcome = await Peer.open(server.ws_url, quiz["tokens"][1])
    assert silent_welcome["state"]["player"]["score"] == 0
    await silent.send(answer(0, 0))
    refused = await silent.wait_for(lambda f: f["type"] == "error")
    assert refused["code"] in ("question_not_open", "too_late")
    for peer in (host, answerer, silent):
        await peer.close()


async def test_after_a_restart_only_reconnected_players_count_as_present(
    start_server: StartServer,
) -> None:
    server = await start_server()
    quiz = await create_quiz(server, count=2, time_limit_s=60, seed=3, players=2)
    assert quiz["settings"]["close_when_all_answered"] is True
    host, _ = await Peer.open(server.ws_url, quiz["host_token"])
    await connect_all(server, quiz["tokens"])
    await host.send({"type": "host", "action": "start"})
    await host.wait_for(is_question(0))
    await server.kill()

    # players get a grace to reconnect after a restart (15 s by default; 1 s here)
    server = await start_server(reconnect_grace_s=1.0)
    host, _ = await Peer.open(server.ws_url, quiz["host_token"])
    (back, _) = (await connect_all(server, quiz["tokens"][:1]))[0]  # the other one never returns
    await back.send(answer(0, 0))
    assert (await back.wait_for(is_reply(0)))["type"] == "ack"

    # once the grace is over, the one who did not come back is gone, the one who did has
    # answered: the question closes then, not after its 60 s …
    closed = await host.wait_for(lambda f: f["type"] == "closed", timeout=10)
    assert closed["reason"] == "all_answered"
    # … and the host sees one player here
    await host.send({"type": "sync"})
    state = (await host.wait_for(lambda f: f["type"] == "snapshot"))["state"]
    assert [p["present"] for p in state["players"]] == [True, False]
    assert state["present"] == 1
