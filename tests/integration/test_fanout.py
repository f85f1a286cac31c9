"""Board fan-out: in chunks, every player served, no frame overtaking a board, within budget.

The gateway's board pump writes boards to ``fanout_chunk`` connections per event-loop turn so
that acks go out in between (``Gateway._pump_boards``). These tests use a chunk of 2 so that a
handful of players already needs several turns, and check what a player would notice if it
went wrong: a player left without the board, a stale board arriving after a newer one, a board
arriving after the ``closed`` frame that followed it, or boards falling behind the answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import orjson
import pytest

from livequiz.adapters.embedded import EmbeddedRecords
from livequiz.auth import Role
from livequiz.ports import Row, WebhookDelivery
from livequiz.service import Broadcast, ClosedFrame, QuizService, ServiceLimits
from tests.integration.helpers import Client, Quiz, open_client, setup_quiz
from tests.integration.test_cheating import Backend
from tests.server import running_server

PLAYERS = ["Anna", "Ben", "Cleo", "Dora", "Emil", "Finn", "Gus"]
FAST = ServiceLimits(tick_ms=20)
#: No board tick during the test: a real board would replace the test's own mid-way.
QUIET = ServiceLimits(tick_ms=60_000)


def _frame(**fields: object) -> bytes:
    return orjson.dumps(fields)


@contextlib.asynccontextmanager
async def _chunked_quiz(
    limits: ServiceLimits = FAST, chunk: int = 2, board_frames_per_s: int = 60_000
) -> AsyncIterator[Quiz]:
    """A server that writes boards ``chunk`` connections per loop turn, and a quiz of 7."""
    async with (
        running_server(
            service=limits, fanout_chunk=chunk, board_frames_per_s=board_frames_per_s
        ) as srv,
        contextlib.AsyncExitStack() as stack,
    ):
        yield await setup_quiz(srv, stack, PLAYERS, count=2, seed=3)


async def _one_loop_turn() -> None:
    """Let the board pump, scheduled before this call, write exactly one chunk."""
    await asyncio.sleep(0)


def _marks(client: Client) -> list[str]:
    """The ``mark`` of every synthetic frame the client received, in order."""
    return [f["mark"] for f in client.frames if "mark" in f]


async def test_every_player_sees_each_answer_on_a_board_sent_in_chunks() -> None:
    async with _chunked_quiz() as quiz:
        await quiz.start()
        for name, client in quiz.players.items():
            ack = await client.answer(0, quiz.correct(0))
            assert ack["status"] == "accepted", (name, ack)
            # the answer shows on the board of every connection, each fed by a different chunk
            seq = ack["seq"]
            for other in quiz.clients:
                board = await other.wait_for(
                    lambda f: f["type"] == "board" and f["seq"] >= seq  # noqa: B023 - awaited now
                )
                scores = {row["player_id"]: row["score"] for row in board["top"]}
                assert scores[quiz.ids[name]] == ack["answer"]["score"]
        await quiz.everyone_gets("closed")
        # whatever the chunking, no connection ever received frames out of sequence order
        for client in quiz.clients:
            seqs = [f["seq"] for f in client.frames if "seq" in f and f["type"] != "ack"]
            assert seqs == sorted(seqs), (client.name, seqs)


async def test_a_newer_board_replaces_one_still_going_out_and_nobody_gets_them_reversed() -> None:
    async with _chunked_quiz(QUIET) as quiz:
        gateway = quiz.srv.server.gateway
        # the first board reaches one chunk, then the second replaces it
        gateway.deliver(quiz.quiz_id, Broadcast(_frame(type="board", mark="old"), "board"))
        await _one_loop_turn()
        gateway.deliver(quiz.quiz_id, Broadcast(_frame(type="board", mark="new"), "board"))
        for client in quiz.clients:
            await client.wait_for(lambda f: f.get("mark") == "new")
        marks = [_marks(client) for client in quiz.clients]
        assert all(m in (["new"], ["old", "new"]) for m in marks), marks
        assert sum(m == ["old", "new"] for m in marks) == 2  # just the first chunk had it


async def test_those_a_replaced_board_did_not_reach_get_the_next_one_first() -> None:
    async with _chunked_quiz(QUIET) as quiz:
        gateway = quiz.srv.server.gateway
        # boards replaced faster than one goes round: each still reaches a different chunk
        for n in range(4):
            gateway.deliver(quiz.quiz_id, Broadcast(_frame(type="board", mark=str(n)), "board"))
            await _one_loop_turn()
        for client in quiz.clients:
            await client.wait_for(lambda f: f.get("mark") == "3")
        marks = [_marks(client) for client in quiz.clients]
        assert all(m[-1] == "3" and len(m) <= 2 for m in marks), marks
        # 8 connections, a chunk of 2: boards 0, 1 and 2 each reached 2 that had none yet
        assert sorted(m[0] for m in marks if len(m) == 2) == ["0", "0", "1", "1", "2", "2"]


async def test_a_frame_for_everyone_waits_for_the_board_before_it() -> None:
    async with _chunked_quiz(QUIET) as quiz:
        gateway = quiz.srv.server.gateway
        gateway.deliver(quiz.quiz_id, Broadcast(_frame(type="board", mark="board"), "board"))
        gateway.deliver(quiz.quiz_id, Broadcast(_frame(type="lock", mark="lock"), "lock"))
        for client in quiz.clients:
            await client.wait_for(lambda f: f.get("mark") == "lock")
            assert _marks(client) == ["board", "lock"], client.name


async def test_closing_a_question_finishes_the_board_in_progress_first() -> None:
    async with _chunked_quiz(QUIET) as quiz:
        await quiz.start()
        gateway = quiz.srv.server.gateway
        gateway.deliver(quiz.quiz_id, Broadcast(_frame(type="board", mark="board"), "board"))
        closed = _frame(type="closed", mark="closed", index=0)
        gateway.deliver(quiz.quiz_id, ClosedFrame(closed, 0))
        for client in quiz.clients:
            await client.wait_for(lambda f: f.get("mark") == "closed")
            assert _marks(client) == ["board", "closed"], client.name


async def test_a_process_over_its_board_budget_spreads_a_board_out_and_reaches_everyone() -> None:
    # 8 connections, a burst of one chunk (2), then 20 board frames a second: >= 0.3 s in all
    async with _chunked_quiz(QUIET, chunk=2, board_frames_per_s=20) as quiz:
        gateway = quiz.srv.server.gateway
        loop = asyncio.get_running_loop()
        started = loop.time()
        gateway.deliver(quiz.quiz_id, Broadcast(_frame(type="board", mark="b"), "board"))
        await asyncio.sleep(0.1)
        assert 0 < await quiz.srv.metric("livequiz_board_frames_waiting") < 8
        for client in quiz.clients:
            await client.wait_for(lambda f: f.get("mark") == "b")
        assert loop.time() - started >= 0.25
        assert await quiz.srv.metric("livequiz_board_frames_waiting") == 0


async def test_a_player_who_leaves_while_a_board_goes_round_is_not_counted_as_a_drop() -> None:
    async with _chunked_quiz(QUIET, chunk=2, board_frames_per_s=20) as quiz:
        gateway = quiz.srv.server.gateway
        gateway.deliver(quiz.quiz_id, Broadcast(_frame(type="board", mark="b"), "board"))
        await _one_loop_turn()  # the first chunk is out; the rest waits for the budget
        # the last player in the round: not reached yet (the host is no player)
        job = gateway._boards[quiz.quiz_id]
        last = [c.player_id for c in job.targets[job.position :] if c.role is Role.PLAYER][-1]
        gone = next(quiz.players[name] for name, pid in quiz.ids.items() if pid == last)
        await gone.ws.close()
        for client in quiz.clients:
            if client is not gone:
                await client.wait_for(lambda f: f.get("mark") == "b")
        async with asyncio.timeout(5):  # the round's end, where the one who left was
            while quiz.quiz_id in gateway._boards:
                await asyncio.sleep(0.02)
        assert await quiz.srv.metric("livequiz_frames_dropped_total") == 0
        assert _marks(gone) == []


async def test_snapshots_keep_their_tick_while_the_fan_out_is_slow() -> None:
    # one board frame a second for 8 connections: one round takes seconds, the tick is 20 ms
    async with _chunked_quiz(FAST, chunk=2, board_frames_per_s=1) as quiz:
        server = quiz.srv.server
        boards: list[bytes] = []

        def record(quiz_id: str, message: Any) -> None:
            if isinstance(message, Broadcast) and message.kind == "board":
                boards.append(message.data)
            server.gateway.deliver(quiz_id, message)

        server.service.deliver = record
        await quiz.start()
        first = len(boards)
        for name in PLAYERS[:4]:
            ack = await quiz.players[name].answer(0, quiz.correct(0))
            assert ack["status"] == "accepted"
            await asyncio.sleep(0.06)
        # a snapshot for each answer, none held back by the slow round...
        assert len(boards) - first >= 4
        # ...and the round going out carries the newest of them, with the last answer in it
        job = server.gateway._boards[quiz.quiz_id]
        data = job.frame.data
        assert data.endswith(boards[-1])
        newest = orjson.loads(data[data.index(b"{") :])  # past the WebSocket frame header
        assert newest["seq"] >= ack["seq"]


async def test_while_answers_wait_a_big_board_goes_in_smaller_chunks_and_reaches_everyone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with _chunked_quiz(QUIET, chunk=5) as quiz:
        gateway = quiz.srv.server.gateway
        with monkeypatch.context() as patch:  # as if answers were waiting for the pump
            patch.setattr(QuizService, "backlog", property(lambda _self: 3))
            gateway.deliver(quiz.quiz_id, Broadcast(_frame(type="board", mark="b"), "board"))
            await _one_loop_turn()
            job = gateway._boards[quiz.quiz_id]
            # a fifth of a chunk at this loop turn, the next fifth at the next
            assert job.position == 1
        for client in quiz.clients:
            await client.wait_for(lambda f: f.get("mark") == "b")
        assert quiz.quiz_id not in gateway._boards


async def test_a_lobby_board_waits_its_turn_and_the_game_board_does_not() -> None:
    # no ticker during the test (60 s): the test flushes the boards itself
    limits = ServiceLimits(tick_ms=60_000, lobby_board_frames_per_s=1)
    async with running_server(service=limits) as srv, contextlib.AsyncExitStack() as stack:
        quiz = await setup_quiz(srv, stack, PLAYERS[:3], count=2, seed=3)
        service = srv.service
        assert service.flush_boards() == 3 + 1  # the lobby board: three players and the host
        await srv.join(quiz.pin, "Late")
        # a lobby of 3 at one board frame a second: the next lobby board waits 3 s
        assert service.flush_boards() == 0
        assert service._runtime[quiz.quiz_id].board_dirty  # kept for later, not lost
        await quiz.start()
        # once the game runs, its board goes out at the next tick (Late counts as present)
        assert service.flush_boards() == 4 + 1
        for client in quiz.clients:
            board = await client.wait_for(
                lambda f: f["type"] == "board" and f["phase"] == "question_open"
            )
            assert {row["nickname"] for row in board["top"]} == {*PLAYERS[:3], "Late"}


async def test_personal_results_go_out_in_chunks_and_before_the_next_question() -> None:
    async with _chunked_quiz(QUIET) as quiz:
        gateway = quiz.srv.server.gateway
        await quiz.start()
        answering = PLAYERS[:-1]  # one is still thinking: the host closes the question
        for name in answering:
            assert (await quiz.players[name].answer(0, quiz.correct(0)))["status"] == "accepted"
        # the host closes, then moves on at once: the results of question 0 go out two per
        # loop turn, and the next question must not overtake the ones not yet written
        assert (await quiz.host.host("close"))["type"] == "host_ack"
        assert quiz.quiz_id in gateway._personal_jobs  # 7 players, 2 per turn: still going
        assert (await quiz.host.host("next"))["type"] == "host_ack"
        await quiz.everyone_gets("question", lambda f: f["question"]["index"] == 1)
        for name, client in quiz.players.items():
            kinds = [f["type"] for f in client.frames if f["type"] in ("closed", "result")]
            assert kinds == ["closed", "result"], name
            order = [f["type"] for f in client.frames if f["type"] in ("result", "question")]
            assert order == ["question", "result", "question"], name
            (result,) = [f for f in client.frames if f["type"] == "result"]
            assert result["index"] == 0
            if name in answering:
                assert result["answer"]["correct"] is True
            else:
                assert result["answer"] is None
        assert quiz.quiz_id not in gateway._personal_jobs


async def test_a_board_round_in_progress_carries_the_newest_scores_to_those_not_reached() -> None:
    # 8 connections at 20 board frames a second: one round takes ~0.3 s; no tick meanwhile
    async with _chunked_quiz(QUIET, chunk=2, board_frames_per_s=20) as quiz:
        gateway = quiz.srv.server.gateway
        await quiz.start()
        seq = quiz.srv.service.store.session(quiz.quiz_id).seq
        old = Broadcast(_frame(type="board", mark="old", seq=seq), "board", seq)
        gateway.deliver(quiz.quiz_id, old)
        await _one_loop_turn()  # the first chunk has the tick's board
        ack = await quiz.players["Anna"].answer(0, quiz.correct(0))
        assert ack["status"] == "accepted"
        # once the answer was stored, the rest of the round carries it, without a tick
        job = gateway._boards[quiz.quiz_id]
        not_reached = {c.player_id for c in job.targets[job.position :] if c.role is Role.PLAYER}
        assert len(not_reached) >= 3
        for name, client in quiz.players.items():
            if quiz.ids[name] in not_reached:
                # the first board this player ever got: the newest, not the tick's
                board = await client.wait_for(lambda f: f["type"] == "board")
                assert "mark" not in board, name
                assert board["seq"] >= ack["seq"], name
                assert board["answered"] == 1
                assert {r["player_id"]: r["score"] for r in board["top"]}[quiz.ids["Anna"]] > 0


class HeldRecords(EmbeddedRecords):
    """The embedded storage, whose writes wait while :attr:`writable` is clear: a slow disk,
    or a database taking its time to commit."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.writable = asyncio.Event()
        self.writable.set()

    async def append(
        self,
        rows: Sequence[Row],
        finished: Sequence[str],
        epochs: Mapping[str, int],
        deliveries: Sequence[WebhookDelivery] = (),
    ) -> None:
        await self.writable.wait()
        await super().append(rows, finished, epochs, deliveries)


async def test_a_board_never_shows_an_answer_still_being_stored() -> None:
    key = secrets.token_bytes(32)
    records = HeldRecords.over(None, key=key)
    async with (
        running_server(records=records, key=key, service=QUIET) as srv,
        contextlib.AsyncExitStack() as stack,
    ):
        stack.push_async_callback(records.close)
        quiz = await setup_quiz(srv, stack, PLAYERS[:3], count=2, seed=3)
        service, store = srv.service, srv.service.store
        await quiz.start()
        ben = await quiz.players["Ben"].answer(0, quiz.correct(0))
        assert ben["status"] == "accepted"  # stored: the board is due to show it
        records.writable.clear()
        anna = asyncio.create_task(quiz.players["Anna"].answer(0, quiz.correct(0)))
        async with asyncio.timeout(5):  # Anna's answer is applied, its commit held
            while store.session(quiz.quiz_id).seq == ben["seq"]:
                await asyncio.sleep(0.01)
        # a tick now: the board waits for the commit rather than show Anna's answer
        assert service.flush_boards() == 0
        await asyncio.sleep(0.2)
        assert not anna.done()
        for client in quiz.clients:
            assert all(f.get("answered") != 2 for f in client.frames), client.name
        records.writable.set()
        ack = await anna
        assert ack["status"] == "accepted"
        # ...and goes out as soon as the commit is done, without another tick
        for client in quiz.clients:
            board = await client.wait_for(lambda f: f["type"] == "board" and f["answered"] == 2)
            assert board["seq"] >= ack["seq"]


# ---------------------------------------------------------------- answer → every board, timed


async def _board_delays(quiz: Quiz) -> tuple[float, float]:
    """(count, sum) of ``livequiz_board_delay_seconds`` on the quiz's server."""
    count = await quiz.srv.metric("livequiz_board_delay_seconds_count")
    return count, await quiz.srv.metric("livequiz_board_delay_seconds_sum")


async def _round_over(gateway: Any, quiz_id: str) -> None:
    async with asyncio.timeout(5):
        while quiz_id in gateway._boards:
            await asyncio.sleep(0.01)


async def test_a_boards_delay_is_timed_once_it_has_reached_every_connection() -> None:
    # 8 connections at 20 board frames a second: the round takes ~0.3 s after a burst of 2
    async with _chunked_quiz(QUIET, chunk=2, board_frames_per_s=20) as quiz:
        gateway = quiz.srv.server.gateway
        answered_at = time.monotonic() - 0.5  # the answer was stored half a second ago
        board = Broadcast(_frame(type="board", mark="b"), "board", -1, answered_at)
        gateway.deliver(quiz.quiz_id, board)
        await asyncio.sleep(0.1)
        # part of the round is out: nothing is timed while anyone still waits for it
        assert 0 < await quiz.srv.metric("livequiz_board_frames_waiting") < 8
        assert await _board_delays(quiz) == (0, 0)
        await _round_over(gateway, quiz.quiz_id)
        reached = time.monotonic()
        count, total = await _board_delays(quiz)
        assert count == 1
        # from the answer to the last connection's frame: the half second and the round
        assert 0.5 + 0.25 <= total <= reached - answered_at
        # a board that shows no new answer (a join, a question opened) is not timed
        gateway.deliver(quiz.quiz_id, Broadcast(_frame(type="board", mark="c"), "board"))
        await _round_over(gateway, quiz.quiz_id)
        assert await _board_delays(quiz) == (1, total)


async def test_a_board_taken_over_is_timed_when_the_newer_one_has_reached_the_rest() -> None:
    async with _chunked_quiz(QUIET, chunk=2, board_frames_per_s=20) as quiz:
        gateway = quiz.srv.server.gateway
        first_at = time.monotonic() - 1.0
        first = Broadcast(_frame(type="board", mark="1"), "board", 1, first_at)
        gateway.deliver(quiz.quiz_id, first)
        await _one_loop_turn()  # the first chunk (2 of 8) has the first board
        second_at = time.monotonic()
        gateway.deliver(
            quiz.quiz_id, Broadcast(_frame(type="board", mark="2"), "board", 2, second_at)
        )
        # the second board goes first to the 6 the first had not reached: once they have it,
        # everyone has the first board's answers (or newer), and that is timed, alone
        async with asyncio.timeout(5):
            while gateway._boards[quiz.quiz_id].position < 6:
                await asyncio.sleep(0.01)
        count, first_delay = await _board_delays(quiz)
        assert count == 1
        assert first_delay >= 1.0 + 0.15  # 6 frames at 20 a second after the burst
        assert gateway._boards[quiz.quiz_id].waiting == 2  # the second round goes on
        await _round_over(gateway, quiz.quiz_id)
        count, total = await _board_delays(quiz)
        assert count == 2
        assert 0.25 <= total - first_delay <= time.monotonic() - second_at


async def test_a_board_finished_early_by_a_frame_for_everyone_is_timed_then() -> None:
    async with _chunked_quiz(QUIET, chunk=2, board_frames_per_s=20) as quiz:
        await quiz.start()
        gateway = quiz.srv.server.gateway
        answered_at = time.monotonic()
        gateway.deliver(
            quiz.quiz_id, Broadcast(_frame(type="board", mark="b"), "board", -1, answered_at)
        )
        gateway.deliver(quiz.quiz_id, ClosedFrame(_frame(type="closed", mark="closed"), 0))
        count, total = await _board_delays(quiz)
        assert count == 1  # the close wrote the rest of the board at once
        assert total < 0.2  # not the ~0.3 s the round would have taken at its pace


async def test_an_answers_way_to_every_board_is_timed_from_the_oldest_answer_it_shows() -> None:
    async with _chunked_quiz(QUIET) as quiz:
        await quiz.start()
        service = quiz.srv.service
        # the joins and the question opened changed the board, but no answer: not timed (a
        # lobby's board waits its turn on purpose, and the objective is the answers')
        assert service.flush_boards() > 0
        for client in quiz.clients:
            await client.wait_for(lambda f: f["type"] == "board")
        await _round_over(quiz.srv.server.gateway, quiz.quiz_id)
        assert await _board_delays(quiz) == (0, 0)
        anna = await quiz.players["Anna"].answer(0, quiz.correct(0))
        await asyncio.sleep(0.3)
        ben = await quiz.players["Ben"].answer(0, quiz.correct(0))
        assert anna["status"] == ben["status"] == "accepted"
        started = time.monotonic()
        assert service.flush_boards() > 0  # the tick: one board showing both answers
        for client in quiz.clients:
            await client.wait_for(lambda f: f["type"] == "board" and f["answered"] == 2)
        await _round_over(quiz.srv.server.gateway, quiz.quiz_id)
        count, total = await _board_delays(quiz)
        assert count == 1
        # timed from Anna's answer (stored 0.3 s before Ben's), not Ben's or the tick
        assert 0.3 <= total <= 0.3 + (time.monotonic() - started) + 0.2
        # with nothing new since, the next tick sends no board and times nothing
        assert service.flush_boards() == 0
        assert await _board_delays(quiz) == (1, total)


async def test_each_process_times_the_boards_it_sends_on_either_backend(backend: Backend) -> None:
    """The owner times the boards of its own connections, a copy (``postgres+nats``: the
    entry server) those of its connections, from the change applied there."""
    async with contextlib.AsyncExitStack() as stack:
        quiz = await backend.owner.create_quiz(count=1, seed=3)
        host = await stack.enter_async_context(
            open_client(backend.owner, "host", quiz["host_token"])
        )
        joined = await backend.entry.join(quiz["pin"], "Anna")
        anna = await stack.enter_async_context(open_client(backend.entry, "Anna", joined["token"]))
        servers = (
            [backend.owner] if backend.entry is backend.owner else [backend.owner, backend.entry]
        )
        began = time.monotonic()
        before = [
            (
                await srv.metric("livequiz_board_delay_seconds_count"),
                await srv.metric("livequiz_board_delay_seconds_sum"),
            )
            for srv in servers
        ]
        await host.host("start")
        await anna.expect("question")
        ack = await anna.answer(0, 0)
        assert ack["type"] == "ack"
        for client in (anna, host):
            await client.wait_for(lambda f: f["type"] == "board" and f["seq"] >= ack["seq"])
        elapsed = time.monotonic() - began
        for srv, (count, total) in zip(servers, before, strict=True):
            boards = await srv.metric("livequiz_board_delay_seconds_count") - count
            spent = await srv.metric("livequiz_board_delay_seconds_sum") - total
            assert boards >= 1, srv.base_url
            # each one from a change made since `began`, to a frame written before now
            assert 0 < spent <= boards * elapsed, (srv.base_url, boards, spent, elapsed)
