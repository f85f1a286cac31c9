"""Whole games over real sockets: joining, answering, the live board, the end, exactly once.

Every test starts a real server (``tests.server.running_server``) and talks to it only as clients
would — HTTP and WebSocket — reading the server's own state only to know which option is right.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
from collections import Counter

from livequiz.domain.commands import Next, Skip
from livequiz.service import ServiceLimits, wall_clock_ms
from livequiz.transport import TransportLimits
from tests.integration.helpers import (
    Client,
    Frame,
    Quiz,
    board_entry,
    first_board_since,
    open_client,
    setup_quiz,
    walk,
)
from tests.server import running_server

#: Boards every 20 ms instead of 100: the tests wait less for the board to catch up.
FAST = ServiceLimits(tick_ms=20)
#: The per-connection flood limit is off where a test floods on purpose to test dedupe.
NO_FLOOD_LIMIT = TransportLimits(max_messages_per_second=0)


async def assert_board_shows(quiz: Quiz, ack: Frame, player_id: int) -> None:
    """Every client of the quiz gets a board, current to the ack, listing the acked score."""
    for client in quiz.clients:
        board = await first_board_since(client, ack["seq"])
        line = board_entry(board, player_id)
        assert line is not None, (client.name, board)
        assert line["score"] == ack["standing"]["score"], (client.name, board, ack)


# ---------------------------------------------------------------------- playing


async def test_two_quizzes_play_at_once_and_stay_isolated() -> None:
    async with running_server(service=FAST) as srv, contextlib.AsyncExitStack() as stack:
        a = await setup_quiz(srv, stack, ["Alma", "Arno", "Asha"], ws_joins=["Asha"], seed=1)
        b = await setup_quiz(srv, stack, ["Bert", "Bina", "Boris"], ws_joins=["Bert"], seed=2)
        assert a.pin != b.pin
        await asyncio.gather(a.start(), b.start())

        # Both quizzes answer at the same moment; some right, some wrong.
        plan: list[tuple[Quiz, str, bool]] = [
            (a, "Alma", True),
            (a, "Arno", False),
            (b, "Bert", True),
            (b, "Bina", False),
            (b, "Boris", True),
        ]
        acks = await asyncio.gather(
            *(
                quiz.players[name].answer(0, quiz.correct(0) if right else quiz.wrong(0))
                for quiz, name, right in plan
            )
        )
        for (quiz, name, right), ack in zip(plan, acks, strict=True):
            # The answerer's own score moves at once, in the ack …
            assert ack["type"] == "ack", ack
            assert ack["status"] == "accepted"
            assert ack["answer"]["correct"] is right
            assert (ack["answer"]["points"] > 0) is right
            assert ack["standing"]["score"] == ack["answer"]["score"] == ack["answer"]["points"]
            # … and every client's board of that quiz lists it at the next tick.
            await assert_board_shows(quiz, ack, quiz.ids[name])

        # B's question closed (all three answered); A's is still open (Asha has not answered).
        await b.everyone_gets("closed")
        assert a.session().phase.value == "question_open"

        for mine, other in ((a, b), (b, a)):
            for client in mine.clients:
                frames = client.frames
                assert not any(other.quiz_id in text for text in client.texts), client.name
                nicknames = {v for f in frames for k, v in walk(f) if k == "nickname"}
                assert nicknames <= set(mine.players), (client.name, nicknames)
                pins = {v for f in frames for k, v in walk(f) if k == "pin"}
                assert pins <= {mine.pin}, (client.name, pins)
                boards = [f for f in frames if f["type"] == "board"]
                assert all(f["players"] <= 3 for f in boards), client.name
                assert all(f["players"] == 3 for f in boards if f["phase"] != "lobby")
                closed = [f for f in frames if f["type"] == "closed"]
                assert len(closed) == (1 if mine is b else 0), (client.name, closed)


async def test_a_whole_quiz_plays_through_to_final_results_and_the_csv_report() -> None:
    # right (True), wrong (False) or no answer (None), per question
    plan: dict[str, list[bool | None]] = {
        "Anna": [True, True, True],
        "Ben": [False, False, False],
        "Cleo": [True, None, False],
    }
    async with running_server(service=FAST) as srv, contextlib.AsyncExitStack() as stack:
        quiz = await setup_quiz(srv, stack, plan, ws_joins=["Cleo"], count=3, seed=11)
        await quiz.start()
        totals = dict.fromkeys(plan, 0)
        streaks = dict.fromkeys(plan, 0)
        for index in range(3):
            if index:
                await quiz.next(index)
            answering = {name: right[index] for name, right in plan.items()}
            acks = {}
            for name, right in answering.items():
                if right is None:
                    continue
                option = quiz.correct(index) if right else quiz.wrong(index)
                acks[name] = await quiz.players[name].answer(index, option)
            for name, ack in acks.items():
                right = answering[name]
                streaks[name] = streaks[name] + 1 if right else 0
                totals[name] += ack["answer"]["points"]
                assert ack["status"] == "accepted", ack
                assert ack["answer"]["correct"] is right
                assert ack["answer"]["streak"] == streaks[name]
                assert ack["standing"]["score"] == totals[name]
                if right:  # speed points (≥ half of 1000) plus +100 per answer in a row
                    assert ack["answer"]["points"] >= 500 + 100 * (streaks[name] - 1)
                else:
                    assert ack["answer"]["points"] == 0
            if None in answering.values():  # not everyone answered: the host closes it
                assert (await quiz.host.host("close"))["type"] == "host_ack"
            closed = await quiz.host.expect("closed", index=index)
            for client in quiz.players.values():
                assert (await client.expect("closed", index=index)) == closed
            assert closed["reason"] == ("host" if None in answering.values() else "all_answered")
            assert closed["reveal"]["correct_option"] == quiz.correct(index)
            assert sum(closed["option_counts"]) == len(acks)
            for name, client in quiz.players.items():
                result = await client.expect("result", index=index)
                assert result["standing"]["score"] == totals[name], (name, result)
                if name in acks:
                    assert result["answer"]["points"] == acks[name]["answer"]["points"]
                else:
                    assert result["answer"] is None
                    streaks[name] = 0
                assert result["streak"] == streaks[name]

        assert (await quiz.host.host("next"))["type"] == "host_ack"
        await quiz.everyone_gets("finished")
        await quiz.everyone_gets("final")

        # Each player: own score, rank and the words to review.
        finals: dict[str, Frame] = {}
        for name, client in quiz.players.items():
            results = (await client.expect("final"))["results"]
            finals[name] = results
            expected_rank = 1 + sum(total > totals[name] for total in totals.values())
            assert results["score"] == totals[name]
            assert results["rank"] == expected_rank
            assert results["correct"] == sum(right is True for right in plan[name])
            assert results["answered"] == sum(right is not None for right in plan[name])
            missed = [i for i, right in enumerate(plan[name]) if right is not True]
            assert [m["index"] for m in results["missed"]] == missed
            for line in results["missed"]:
                question = quiz.question(line["index"])
                assert line["word"] == question.word
                assert line["definition"] == question.definition
                assert line["correct_option"] == question.correct_option
            # The same results over HTTP with the player's own token.
            response = await srv.http.get(
                f"/api/quizzes/{quiz.quiz_id}/results", headers=bearer(quiz.tokens[name])
            )
            assert response.status_code == 200
            assert response.json() == results

        # The host: the teacher's report.
        report = (await quiz.host.expect("final"))["results"]
        assert report["phase"] == "finished"
        assert [(p["nickname"], p["score"], p["rank"]) for p in report["players"]] == sorted(
            ((n, totals[n], finals[n]["rank"]) for n in plan), key=lambda t: (t[2], -t[1])
        )
        assert [q["index"] for q in report["questions"]] == [0, 1, 2]
        for q in report["questions"]:
            assert q["correct"] == sum(plan[n][q["index"]] is True for n in plan)
            assert q["correct_option"] == quiz.correct(q["index"])
        response = await srv.http.get(
            f"/api/quizzes/{quiz.quiz_id}/results", headers=bearer(quiz.host_token)
        )
        assert response.status_code == 200
        assert response.json() == report

        # The CSV export matches the report, row for row.
        response = await srv.http.get(
            f"/api/quizzes/{quiz.quiz_id}/results",
            params={"format": "csv"},
            headers=bearer(quiz.host_token),
        )
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(response.text.removeprefix("\ufeff"))))
        forbidden = await srv.http.get(
            f"/api/quizzes/{quiz.quiz_id}/results",
            params={"format": "csv"},
            headers=bearer(quiz.tokens["Anna"]),
        )
        assert forbidden.status_code == 403  # the class report is the teacher's
        assert rows[0] == ["rank", "nickname", "score", "correct", "answered", "questions"]
        assert rows[1:] == [
            [*(str(p[key]) for key in ("rank", "nickname", "score", "correct", "answered")), "3"]
            for p in report["players"]
        ]


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


# ---------------------------------------------------------------------- exactly once


async def test_the_same_answer_50_times_at_once_is_accepted_exactly_once() -> None:
    async with (
        running_server(service=FAST, transport=NO_FLOOD_LIMIT) as srv,
        contextlib.AsyncExitStack() as stack,
    ):
        quiz = await setup_quiz(srv, stack, ["Anna", "Ben"], count=2)
        await quiz.start()
        anna = quiz.players["Anna"]
        message = {"type": "answer", "q": 0, "option": quiz.correct(0)}
        await asyncio.gather(*(anna.send(message) for _ in range(50)))
        acks = await anna.collect(50, lambda f: f["type"] in ("ack", "error"))

        first = assert_exactly_once(acks)
        assert first["answer"]["correct"] is True
        assert first["answer"]["points"] > 0

        # A different second answer is refused, with the first result.
        other = await anna.answer(0, quiz.wrong(0))
        assert other["type"] == "ack"
        assert other["status"] == "already_answered"
        assert other["seq"] == first["seq"]
        assert other["answer"] == first["answer"]
        assert other["standing"]["score"] == first["answer"]["points"]

        # The board, the server and the final results count it once.
        await assert_board_shows(quiz, first, quiz.ids["Anna"])
        assert len(quiz.session().players[quiz.ids["Anna"]].answers) == 1
        assert (await quiz.host.host("end"))["type"] == "host_ack"
        final = await anna.expect("final")
        assert final["results"]["score"] == first["answer"]["points"]
        assert final["results"]["answered"] == 1


async def test_the_same_answer_on_5_connections_of_one_player_is_accepted_exactly_once() -> None:
    async with (
        running_server(service=FAST, transport=NO_FLOOD_LIMIT) as srv,
        contextlib.AsyncExitStack() as stack,
    ):
        quiz = await setup_quiz(srv, stack, ["Anna", "Ben"], count=2)
        tabs = [quiz.players["Anna"]] + [
            await stack.enter_async_context(open_client(srv, f"Anna#{i}", quiz.tokens["Anna"]))
            for i in range(2, 6)
        ]
        await quiz.start()
        await asyncio.gather(*(tab.expect("question") for tab in tabs))
        message = {"type": "answer", "q": 0, "option": quiz.wrong(0)}
        await asyncio.gather(*(tab.send(message) for tab in tabs for _ in range(10)))
        acks = [
            ack
            for tab in tabs
            for ack in await tab.collect(10, lambda f: f["type"] in ("ack", "error"))
        ]
        first = assert_exactly_once(acks)
        assert first["answer"]["correct"] is False
        assert first["answer"]["points"] == 0

        # Another option from yet another tab: already answered, first result.
        other = await tabs[3].answer(0, quiz.correct(0))
        assert other["status"] == "already_answered"
        assert other["answer"] == first["answer"]
        assert quiz.session().players[quiz.ids["Anna"]].score == 0

        # Ben answers right and is the only one with points.
        ben = await quiz.players["Ben"].answer(0, quiz.correct(0))
        assert ben["status"] == "accepted"
        assert (await quiz.host.host("end"))["type"] == "host_ack"
        report = (await quiz.host.expect("final"))["results"]
        scores = {p["nickname"]: (p["score"], p["answered"]) for p in report["players"]}
        assert scores == {"Ben": (ben["answer"]["points"], 1), "Anna": (0, 1)}


async def test_different_answers_racing_on_several_connections_keep_only_the_first() -> None:
    async with (
        running_server(service=FAST, transport=NO_FLOOD_LIMIT) as srv,
        contextlib.AsyncExitStack() as stack,
    ):
        quiz = await setup_quiz(srv, stack, ["Anna", "Ben"], count=2)
        tabs = [quiz.players["Anna"]] + [
            await stack.enter_async_context(open_client(srv, f"Anna#{i}", quiz.tokens["Anna"]))
            for i in range(2, 5)
        ]
        await quiz.start()
        await asyncio.gather(*(tab.expect("question") for tab in tabs))
        options = len(quiz.question(0).options)
        await asyncio.gather(
            *(
                tab.send({"type": "answer", "q": 0, "option": (i + k) % options})
                for i, tab in enumerate(tabs)
                for k in range(5)
            )
        )
        # One connection's acks come back in the order its answers were sent.
        sent_and_acked = [
            ((i + k) % options, ack)
            for i, tab in enumerate(tabs)
            for k, ack in enumerate(await tab.collect(5, lambda f: f["type"] in ("ack", "error")))
        ]
        acks = [ack for _option, ack in sent_and_acked]
        assert all(ack["type"] == "ack" for ack in acks), acks
        (first,) = [ack for ack in acks if ack["status"] == "accepted"]
        for option, ack in sent_and_acked:
            # Every ack carries the first answer; its status says how this one was taken.
            assert ack["answer"] == first["answer"]
            assert ack["seq"] == first["seq"]
            if option == first["answer"]["option"]:
                assert ack["status"] in ("accepted", "duplicate"), (option, ack)
            else:
                assert ack["status"] == "already_answered", (option, ack)
        record = quiz.session().players[quiz.ids["Anna"]].answers[0]
        assert record.option == first["answer"]["option"]
        assert record.points == first["answer"]["points"]


def assert_exactly_once(acks: list[Frame]) -> Frame:
    """One ``accepted``; every other ack a ``duplicate`` carrying the same result."""
    assert all(ack["type"] == "ack" for ack in acks), [a for a in acks if a["type"] != "ack"]
    statuses = Counter(ack["status"] for ack in acks)
    assert statuses == {"accepted": 1, "duplicate": len(acks) - 1}, statuses
    (first,) = [ack for ack in acks if ack["status"] == "accepted"]
    for ack in acks:
        assert ack["seq"] == first["seq"]
        assert ack["answer"] == first["answer"]
        assert ack["standing"]["score"] == first["answer"]["score"]
    return first


# ---------------------------------------------------------------------- late answers

LATE_SETTINGS = {"time_limit_ms": 1000, "grace_ms": 0, "close_when_all_answered": False}


async def test_an_answer_after_the_deadline_is_refused_and_scores_nothing() -> None:
    async with running_server(service=FAST) as srv, contextlib.AsyncExitStack() as stack:
        quiz = await setup_quiz(srv, stack, ["Anna", "Ben"], count=2, settings=LATE_SETTINGS)
        await quiz.start()
        anna, ben = quiz.players["Anna"], quiz.players["Ben"]
        in_time = await anna.answer(0, quiz.correct(0))
        assert in_time["status"] == "accepted"

        closed = await ben.expect("closed", timeout=5.0)
        assert closed["reason"] == "time"
        late = await ben.answer(0, quiz.correct(0))
        assert late["type"] == "error", late
        assert late["code"] == "too_late"  # closed by the clock: still too late (issue 16)
        await assert_score_unchanged(quiz, ben, "Ben")


async def test_an_answer_arriving_after_the_deadline_before_the_close_is_too_late() -> None:
    async with running_server(service=FAST) as srv, contextlib.AsyncExitStack() as stack:
        quiz = await setup_quiz(srv, stack, ["Anna", "Ben"], count=2, settings=LATE_SETTINGS)
        await quiz.start()
        # The answer reaches the server 2 s after the question opened (a slow network), while
        # the question's clock has not closed it yet: the deadline still applies.
        srv.service.clock = lambda: wall_clock_ms() + 2_000
        late = await quiz.players["Ben"].answer(0, quiz.correct(0))
        assert late["type"] == "error", late
        assert late["code"] == "too_late"
        await assert_score_unchanged(quiz, quiz.players["Ben"], "Ben")


async def assert_score_unchanged(quiz: Quiz, client: Client, name: str) -> None:
    await client.send({"type": "sync"})
    snapshot = await client.expect("snapshot")
    assert snapshot["state"]["player"]["score"] == 0
    assert snapshot["state"]["answer"] is None
    assert quiz.session().players[quiz.ids[name]].answers == {}


async def test_a_batch_holding_next_and_skip_shows_each_question_once_with_its_own_prompt() -> None:
    # Frames used to be built from the session after the whole batch: when one batch held
    # 'next' (opens question 1) and 'skip' (closes it, opens question 2), the frame for
    # question 1 carried question 2's prompt, so question 1 was never shown and 2 twice.
    async with running_server(service=FAST) as srv, contextlib.AsyncExitStack() as stack:
        quiz = await setup_quiz(srv, stack, ["Anna"], count=3)
        await quiz.start()
        assert (await quiz.host.host("close"))["type"] == "host_ack"
        await quiz.everyone_gets("closed", lambda f: f["index"] == 0)
        # both in the inbox before the pump runs: one batch, 'next' first
        srv.service.submit(quiz.quiz_id, Next())
        srv.service.submit(quiz.quiz_id, Skip())
        await quiz.everyone_gets("question", lambda f: f["question"]["index"] == 2)
        for client in quiz.clients:
            shown = [
                (f["question"]["index"], f["question"]["prompt"])
                for f in client.frames
                if f["type"] == "question"
            ]
            assert shown == [(i, quiz.question(i).prompt) for i in range(3)], client.name
            closed = [f["index"] for f in client.frames if f["type"] == "closed"]
            assert closed == [0, 1], client.name
