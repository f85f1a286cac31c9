"""Three real ``livequiz serve`` processes on the real PostgreSQL and NATS.

What a school district running livequiz on several machines relies on: players of one quiz on
any process see the same leaderboard; an answer is counted once however often and wherever it
is sent; a process killed with ``kill -9`` — the quiz's owner or not — loses no acknowledged
answer, counts none twice, and the quiz goes on with the deadlines it had; an owner frozen past
its lease (SIGSTOP) cannot write when it wakes up. Each scenario ends with the checker
(:class:`~tests.cluster.harness.Ledger`) comparing every ack with the stored results.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx

from tests.cluster.harness import (
    TIMEOUT_S,
    Frame,
    Ledger,
    Player,
    cluster,
    gauge,
    post,
    results,
)
from tests.deploy.processes import LiveQuizProcess

NAMES = [f"player{n:02d}" for n in range(12)]


@contextlib.asynccontextmanager
async def quiz_on(
    processes: Sequence[LiveQuizProcess], *, owner: int, host_at: int, **create: Any
) -> AsyncIterator[tuple[Frame, Player, dict[str, Player]]]:
    """A quiz created on ``processes[owner]``, its host on ``host_at``, and the players of
    :data:`NAMES` joined and connected on each process in turn."""
    body = {"count": 2, "seed": 3, "time_limit_s": 30, **create}
    created = await post(processes[owner], "/api/quizzes", body)
    host = Player("host", created["host_token"], processes, host_at)
    players: dict[str, Player] = {}
    try:
        await host.connect()
        for n, name in enumerate(NAMES):
            at = n % len(processes)
            joined = await post(
                processes[at], f"/api/quizzes/{created['pin']}/players", {"nickname": name}
            )
            players[name] = Player(name, joined["token"], processes, at)
            await players[name].connect()
        yield created, host, players
    finally:
        for client in [host, *players.values()]:
            await client.drop()


async def host_action(host: Player, action: str) -> None:
    reply = await host.request(
        {"type": "host", "action": action},
        lambda f: f["type"] in ("host_ack", "error") and f.get("action") == action,
    )
    assert reply["type"] == "host_ack", reply


def option_of(name: str) -> int:
    return int(name[-2:]) % 4


async def answer_all(ledger: Ledger, players: dict[str, Player], names: list[str], q: int) -> None:
    acks = await asyncio.gather(*(players[n].answer(q, option_of(n)) for n in names))
    for name, ack in zip(names, acks, strict=True):
        ledger.record(name, ack)


async def finish_and_check(
    processes: Sequence[LiveQuizProcess],
    created: Frame,
    host: Player,
    players: dict[str, Player],
    ledger: Ledger,
) -> None:
    """Play question 1, end the quiz, and hold the stored results against every ack."""
    # every player has answered: the question closes by itself
    async with asyncio.timeout(TIMEOUT_S):
        while (await host.state())["phase"] != "question_closed":
            await asyncio.sleep(0.1)
    await host_action(host, "next")
    await host.wait_for(lambda f: f["type"] == "question" and f["question"]["index"] == 1)
    await answer_all(ledger, players, NAMES, 1)
    await host_action(host, "end")
    alive = next(p for p in processes if p.alive)
    report = await results(alive, created["quiz_id"], created["host_token"])
    for name, client in [("host", host), *players.items()]:
        ledger.watch(name, client.frames)
    states = {name: await player.state() for name, player in players.items()}
    verdict = ledger.check(report, states)
    assert verdict.ok, str(verdict)
    assert verdict.acknowledged == 2 * len(NAMES)


async def owner_of(processes: Sequence[LiveQuizProcess]) -> list[float]:
    """Each process's ``livequiz_quizzes_owned`` gauge (-1 for a dead one)."""
    return [
        await gauge(process, "livequiz_quizzes_owned") if process.alive else -1.0
        for process in processes
    ]


# ---------------------------------------------------------------------- one quiz, three processes


async def test_players_on_three_processes_see_the_same_boards_and_each_answer_counts_once() -> None:
    async with cluster(3) as processes, quiz_on(processes, owner=0, host_at=1) as quiz:
        created, host, players = quiz
        assert await owner_of(processes) == [1.0, 0.0, 0.0]
        ledger = Ledger()
        await host_action(host, "start")
        await answer_all(ledger, players, NAMES, 0)
        # the same answer 50 times more, over connections to different processes
        anna, token = players[NAMES[0]], players[NAMES[0]].token
        extra = [Player("again", token, processes, n % 3) for n in range(3)]
        for client in extra:
            await client.connect()
        repeats = await asyncio.gather(
            *(extra[n % 3].answer(0, option_of(NAMES[0])) for n in range(50))
        )
        for ack in repeats:
            ledger.record(NAMES[0], ack)
        assert ledger.repeats == 50
        del anna
        # every client, whichever process it is on, sees the same board at each sequence
        last = max(acks[0]["seq"] for acks in ledger.acks.values())
        everyone = [host, *players.values()]
        for client in everyone:
            await client.wait_for(lambda f: f["type"] == "board" and f["seq"] >= last)
        boards: dict[int, Frame] = {}
        for client in everyone:
            for frame in client.frames:
                if frame["type"] == "board":
                    assert boards.setdefault(frame["seq"], frame) == frame, client.name
        for client in extra:
            await client.drop()
        await finish_and_check(processes, created, host, players, ledger)


async def test_kill_9_of_the_owner_mid_question_loses_and_doubles_nothing() -> None:
    async with cluster(3) as processes, quiz_on(processes, owner=0, host_at=1) as quiz:
        created, host, players = quiz
        ledger = Ledger()
        await host_action(host, "start")
        opened = await host.wait_for(lambda f: f["type"] == "question")
        closes_at = opened["question"]["closes_at_ms"]
        before, after = NAMES[:6], NAMES[6:]
        await answer_all(ledger, players, before, 0)

        processes[0].kill()
        killed = time.monotonic()
        first = await players[after[-1]].answer(0, option_of(after[-1]))
        taken_over_s = time.monotonic() - killed
        ledger.record(after[-1], first)
        assert first["status"] == "accepted"
        assert taken_over_s < 5, f"a new owner took {taken_over_s:.1f} s"
        await answer_all(ledger, players, after[:-1], 0)
        # the ones acknowledged before the kill are still there, with the same result
        await answer_all(ledger, players, before, 0)
        assert sorted(await owner_of(processes)) in ([-1.0, 0.0, 1.0],)
        # the question keeps the deadline it opened with
        assert (await host.state())["question"]["closes_at_ms"] == closes_at
        await finish_and_check(processes, created, host, players, ledger)
        moved = [p for p in players.values() if p.reconnects]
        assert len(moved) == 4  # every player of the killed process came back elsewhere


async def test_kill_9_of_a_process_that_owns_nothing_loses_and_doubles_nothing() -> None:
    async with cluster(3) as processes, quiz_on(processes, owner=0, host_at=0) as quiz:
        created, host, players = quiz
        ledger = Ledger()
        await host_action(host, "start")
        await answer_all(ledger, players, NAMES[:6], 0)
        processes[2].kill()
        await answer_all(ledger, players, NAMES[6:], 0)
        await answer_all(ledger, players, NAMES[:6], 0)
        assert await owner_of(processes) == [1.0, 0.0, -1.0]
        await finish_and_check(processes, created, host, players, ledger)


async def test_an_owner_frozen_past_its_lease_cannot_write_when_it_wakes() -> None:
    async with cluster(3) as processes, quiz_on(processes, owner=0, host_at=1) as quiz:
        created, host, players = quiz
        ledger = Ledger()
        await host_action(host, "start")
        await answer_all(ledger, players, NAMES[:3], 0)
        frozen = processes[0]
        frozen.process.send_signal(signal.SIGSTOP)
        try:
            # the others take the quiz over and go on taking answers...
            others = [n for n in NAMES[3:] if players[n].at != 0]
            await answer_all(ledger, players, others, 0)
            # ...while the frozen owner's own players send theirs into its socket buffers
            waiting = [n for n in NAMES[3:] if players[n].at == 0]
            pending = [asyncio.create_task(players[n].answer(0, option_of(n))) for n in waiting]
            await asyncio.sleep(0.5)
        finally:
            frozen.process.send_signal(signal.SIGCONT)
        # it wakes believing it owns the quiz; its batch is fenced, the answers are refused
        # as unavailable, and the players' retries reach the new owner
        for name, task in zip(waiting, pending, strict=True):
            ledger.record(name, await task)
        for _ in range(50):
            owned = await owner_of(processes)
            if owned[0] == 0.0:
                break
            await asyncio.sleep(0.1)
        assert owned[0] == 0.0, owned
        assert sorted(owned[1:]) == [0.0, 1.0], owned
        async with httpx.AsyncClient(base_url=frozen.url, timeout=TIMEOUT_S) as http:
            metrics = (await http.get("/metrics")).text
        assert "livequiz_leases_lost_total 1.0" in metrics
        await finish_and_check(processes, created, host, players, ledger)
