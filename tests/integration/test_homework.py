"""Homework (self-paced quizzes) over the wire, on the embedded default and on PostgreSQL + NATS.

On PostgreSQL + NATS the quiz is created on one server (its owner) and every player comes in
through the other, so each ``next``, answer and clock tick crosses the bus to the owner, and
each personal frame comes back through the owner's log to the process that serves the player.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import time
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from livequiz.auth import TokenError
from livequiz.domain.commands import Tick
from livequiz.exports import APKG_MEDIA_TYPE, XLSX_MEDIA_TYPE
from tests.domain.test_session_self_paced import correct_options_in
from tests.integration.helpers import Client, open_client
from tests.integration.test_cheating import Backend
from tests.server import RunningServer, running_server
from tests.test_exports import deck_notes

DAY_MS = 86_400_000
LIMIT_S = 3


def now_ms() -> int:
    return int(time.time() * 1000)


async def homework(srv: RunningServer, *, count: int = 2, **body: Any) -> dict[str, Any]:
    """Create homework due a day from now (one ``POST /api/quizzes``)."""
    response = await srv.http.post(
        "/api/quizzes",
        json={
            "count": count,
            "seed": 11,
            "time_limit_s": LIMIT_S,
            "settings": {"pace": "self"},
            "due_at_ms": now_ms() + DAY_MS,
            **body,
        },
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def learner(
    backend: Backend, stack: contextlib.AsyncExitStack, pin: str, name: str
) -> tuple[Client, dict[str, Any]]:
    joined = await backend.entry.join(pin, name)
    client = await stack.enter_async_context(open_client(backend.entry, name, joined["token"]))
    return client, joined


def right(backend: Backend, quiz_id: str, index: int) -> int:
    """The right option, read inside the owner (what no client may see)."""
    return right_in(backend.owner, quiz_id, index)


async def next_question(client: Client, index: int) -> dict[str, Any]:
    await client.send({"type": "next"})
    frame = await client.expect("question", "error")
    assert frame["type"] == "question", frame
    assert frame["question"]["index"] == index
    assert frame["question"]["open"] is True
    assert "reveal" not in frame["question"]
    return frame


async def answer(client: Client, index: int, option: int) -> tuple[dict[str, Any], ...]:
    """Answer the player's open question: its ack, then the reveal (``closed``) and the
    ``result`` it brings. On a process that does not own the quiz the reveal may come first
    (it travels on the owner's log, the ack on the reply), so they are looked for from the
    moment the answer was sent, in any order."""
    since = len(client.frames)
    ack = await client.answer(index, option)
    assert ack["type"] == "ack", ack
    closed = await client.wait_for(
        lambda f: f["type"] == "closed" and f["index"] == index, since=since
    )
    result = await client.wait_for(
        lambda f: f["type"] == "result" and f["index"] == index, since=since
    )
    return ack, closed, result


async def test_three_learners_do_one_homework_at_their_own_pace(backend: Backend) -> None:
    async with contextlib.AsyncExitStack() as stack:
        quiz = await homework(backend.owner)
        quiz_id = quiz["quiz_id"]
        assert quiz["settings"]["pace"] == "self"
        host = await stack.enter_async_context(
            open_client(backend.owner, "host", quiz["host_token"])
        )
        anna, anna_joined = await learner(backend, stack, quiz["pin"], "Anna")
        quiz["anna_token"] = anna_joined["token"]
        ben, ben_joined = await learner(backend, stack, quiz["pin"], "Ben")
        cleo, cleo_joined = await learner(backend, stack, quiz["pin"], "Cleo")
        quiz["ben_token"], quiz["cleo_token"] = ben_joined["token"], cleo_joined["token"]
        welcome = anna.frames[0]
        assert welcome["state"]["phase"] == "in_progress"
        assert welcome["state"]["question"] is None
        assert welcome["state"]["progress"] == {
            "due_at_ms": quiz["due_at_ms"],
            "done": 0,
            "count": 2,
            "finished": False,
        }

        # Anna: question 0, right; the answer closes it for her with its reveal
        opened = await next_question(anna, 0)
        limit = opened["question"]["closes_at_ms"] - opened["server_time_ms"]
        assert limit == LIMIT_S * 1000
        refused = await anna.error({"type": "next"})
        assert (refused["code"], refused["action"]) == ("illegal_state", "next")
        ack, closed, result = await answer(anna, 0, right(backend, quiz_id, 0))
        assert ack["answer"]["revealed"] is True
        assert ack["answer"]["correct"] is True
        assert ack["answer"]["points"] > 500
        assert closed["reason"] == "answered"
        assert closed["reveal"]["correct_option"] == right(backend, quiz_id, 0)
        assert "option_counts" not in closed
        assert result["standing"]["rank"] == 1
        assert result["answer"] == ack["answer"]

        # Ben and Cleo saw none of it: no question, no reveal of question 0
        for other in (ben, cleo):
            assert not [f for f in other.frames if f["type"] in ("question", "closed")]

        # Ben opens question 0, drops mid-question, comes back: same question, less time
        await next_question(ben, 0)
        ben.abort()
        await asyncio.sleep(1.0)
        ben = await stack.enter_async_context(
            open_client(backend.entry, "Ben again", ben_joined["token"])
        )
        back = ben.frames[0]["state"]
        assert back["question"]["index"] == 0
        assert back["question"]["open"] is True
        assert 0 < back["question"]["remaining_ms"] <= limit - 900
        ack, closed, _ = await answer(ben, 0, (right(backend, quiz_id, 0) + 1) % 4)
        assert ack["answer"]["correct"] is False
        assert ack["answer"]["points"] == 0
        assert closed["reason"] == "answered"

        # Cleo opens question 0 and lets the time run out: the server's clock closes it
        await next_question(cleo, 0)
        timed_out = await cleo.expect("closed", index=0, timeout=LIMIT_S + 5)
        assert timed_out["reason"] == "time"
        late = await cleo.answer(0, right(backend, quiz_id, 0))
        assert (late["type"], late["code"]) == ("error", "too_late")

        # Anna finishes: her final results come at once, and the host hears of it
        await next_question(anna, 1)
        since = len(anna.frames)
        await answer(anna, 1, right(backend, quiz_id, 1))
        final = await anna.wait_for(lambda f: f["type"] == "final", since=since)
        assert (final["results"]["correct"], final["results"]["answered"]) == (2, 2)
        assert final["results"]["missed"] == []
        done = await host.expect("player_finished")
        assert (done["player_id"], done["correct"]) == (1, 2)
        refused = await anna.error({"type": "next"})
        assert refused["code"] == "illegal_state"

        # the host's snapshot shows everyone's progress, and no answer of any question
        snapshot = (await host.sync())["state"]
        progress = {p["nickname"]: p["progress"]["done"] for p in snapshot["players"]}
        assert progress == {"Anna": 2, "Ben": 1, "Cleo": 1}
        assert snapshot["due_at_ms"] == quiz["due_at_ms"]
        assert correct_options_in(snapshot) == set()

        # the due time comes (the owner's clock moved a day on): it finishes for everyone
        await next_question(ben, 1)
        owner = backend.owner.service
        real_clock = owner.clock
        owner.clock = lambda: real_clock() + DAY_MS + 1_000
        try:
            await owner.call(quiz_id, Tick())
        finally:
            owner.clock = real_clock
        closed = await ben.expect("closed", index=1)
        assert closed["reason"] == "end"
        for client in (anna, ben, cleo, host):
            finished = await client.expect("finished")
            assert finished["reason"] == "due"
        ben_final = (await ben.expect("final"))["results"]
        assert [m["index"] for m in ben_final["missed"]] == [0, 1]
        report = (await host.expect("final"))["results"]
        assert report["phase"] == "finished"
        first = report["questions"][0]
        assert first["option_counts"][right(backend, quiz_id, 0)] == 1
        assert {p["nickname"]: p["correct"] for p in report["players"]} == {
            "Anna": 2,
            "Ben": 0,
            "Cleo": 0,
        }

        # the teacher's report, read through the other process: the same in JSON and XLSX
        await check_class_report(backend.entry, quiz)


async def check_class_report(srv: RunningServer, quiz: dict[str, Any]) -> None:
    """Anna knew both words, Ben neither (wrong, then cut off by the due time), Cleo ran out of
    time on the first and never opened the second."""
    url = f"/api/quizzes/{quiz['quiz_id']}/report"
    headers = {"authorization": f"Bearer {quiz['host_token']}"}
    report = (await srv.http.get(url, headers=headers)).json()
    by_index = {word["index"]: word for word in report["words"]}
    assert (by_index[0]["asked"], by_index[0]["answered"], by_index[0]["correct"]) == (3, 2, 1)
    assert (by_index[1]["asked"], by_index[1]["answered"], by_index[1]["correct"]) == (2, 1, 1)
    assert report["reteach"] == [w["word"] for w in report["words"]]  # 1/3 and 1/2 knew them
    cleo = next(s for s in report["students"] if s["nickname"] == "Cleo")
    assert cleo["cells"][0]["option"] is None
    assert cleo["cells"][1] is None
    response = await srv.http.get(url, params={"format": "xlsx"}, headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == XLSX_MEDIA_TYPE
    book = load_workbook(io.BytesIO(response.content))
    rows = list(book["Words"].iter_rows(values_only=True))[2:]
    assert [(row[0], row[4], row[5]) for row in rows] == [
        (w["word"], w["correct"], w["asked"]) for w in report["words"]
    ]
    grid = list(book["Grid"].iter_rows(values_only=True))
    assert [row[0] for row in grid[1:]] == [s["nickname"] for s in report["students"]]
    player = await srv.http.get(url, headers={"authorization": f"Bearer {quiz['anna_token']}"})
    assert player.status_code == 403

    # words to keep practising: the class's to reteach (host), a learner's missed ones (player)
    words_url = f"/api/quizzes/{quiz['quiz_id']}/words"
    deck = await srv.http.get(words_url, headers=headers)
    assert deck.status_code == 200
    assert deck.headers["content-type"] == APKG_MEDIA_TYPE
    _, notes = deck_notes(deck.content)
    assert [note[0] for note in notes] == report["reteach"]
    for name in ("ben", "cleo"):
        token = {"authorization": f"Bearer {quiz[f'{name}_token']}"}
        mine = await srv.http.get(f"/api/quizzes/{quiz['quiz_id']}/results", headers=token)
        missed = [m["word"] for m in mine.json()["missed"]]
        assert missed, name
        deck = await srv.http.get(words_url, headers=token)
        assert [note[0] for note in deck_notes(deck.content)[1]] == missed
        flashcards = await srv.http.get(words_url, params={"format": "csv"}, headers=token)
        lines = flashcards.text.removeprefix("\ufeff").splitlines()
        assert [line.split(",")[0] for line in lines[1:]] == missed


async def test_an_answer_repeated_on_another_device_counts_once(backend: Backend) -> None:
    async with contextlib.AsyncExitStack() as stack:
        quiz = await homework(backend.owner)
        phone, joined = await learner(backend, stack, quiz["pin"], "Anna")
        laptop = await stack.enter_async_context(
            open_client(backend.owner, "laptop", joined["token"])
        )
        await next_question(phone, 0)
        await laptop.expect("question")  # both of her devices get her question
        option = right(backend, quiz["quiz_id"], 0)
        first, second = await asyncio.gather(phone.answer(0, option), laptop.answer(0, option))
        assert {first["status"], second["status"]} == {"accepted", "duplicate"}
        assert first["answer"]["points"] == second["answer"]["points"]
        session = backend.owner.service.store.session(quiz["quiz_id"])
        assert session.players[joined["player_id"]].score == first["answer"]["points"]


# ---------------------------------------------------------------------- creating homework


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"settings": {"pace": "self"}}, "a self-paced quiz needs a due time"),
        ({"settings": {"pace": "self"}, "due_at_ms": "tomorrow"}, "needs a due time"),
        ({"settings": {"pace": "self"}, "due_at_ms": 1_000}, "1 minute to 90 days from now"),
        ({"settings": {"pace": "self"}, "due_at_ms": "FAR"}, "1 minute to 90 days from now"),
        ({"due_at_ms": "SOON"}, "a live quiz has no due time"),
    ],
)
async def test_homework_without_a_proper_due_time_is_refused(
    backend: Backend, body: dict[str, Any], message: str
) -> None:
    moments = {"FAR": now_ms() + 91 * DAY_MS, "SOON": now_ms() + DAY_MS}
    body = {k: moments.get(v, v) if isinstance(v, str) else v for k, v in body.items()}
    before = await backend.owner.metric("livequiz_quizzes_created_total")
    response = await backend.owner.http.post("/api/quizzes", json={"count": 2, **body})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_due"
    assert message in error["message"]
    assert await backend.owner.metric("livequiz_quizzes_created_total") == before


async def test_homework_is_joinable_while_in_progress_and_its_tokens_last_past_a_day(
    backend: Backend,
) -> None:
    quiz = await homework(backend.owner, settings={"pace": "self", "allow_late_join": False})
    state = (await backend.entry.http.get(f"/api/quizzes/{quiz['pin']}")).json()
    assert (state["phase"], state["joinable"], state["due_at_ms"]) == (
        "in_progress",
        True,
        quiz["due_at_ms"],
    )
    joined = await backend.entry.join(quiz["pin"], "Anna")
    signer = backend.entry.service.signer
    two_days_on = (now_ms() + 2 * DAY_MS) // 1000
    claims = signer.verify(joined["token"], (quiz["due_at_ms"] // 1000) + 3600)
    assert claims.player_id == joined["player_id"]
    signer.verify(quiz["host_token"], (quiz["due_at_ms"] // 1000) + 3600)
    live = await backend.owner.create_quiz(count=1)
    live_player = await backend.entry.join(live["pin"], "Anna")
    with pytest.raises(TokenError):
        signer.verify(live_player["token"], two_days_on)


async def test_a_restart_in_the_middle_of_a_learners_question_keeps_its_clock(
    tmp_path: Path,
) -> None:
    """The server stops while a learner's question is open and comes back from its journal:
    the same question, with the time it had left (less the downtime), closed by the clock of
    the new process at the same moment; the learner who had finished stays finished."""
    async with contextlib.AsyncExitStack() as stack:
        first = await stack.enter_async_context(running_server(data_dir=tmp_path))
        quiz = await homework(first, count=1)
        anna = await first.join(quiz["pin"], "Anna")
        ben = await first.join(quiz["pin"], "Ben")
        async with open_client(first, "Anna", anna["token"]) as client:
            opened = await next_question(client, 0)
        async with open_client(first, "Ben", ben["token"]) as client:
            await next_question(client, 0)
            await answer(client, 0, right_in(first, quiz["quiz_id"], 0))
            assert (await client.expect("final"))["results"]["answered"] == 1
        port = first.port
        await stack.aclose()
    async with running_server(data_dir=tmp_path, port=port) as second:
        async with open_client(second, "Anna", anna["token"]) as client:
            state = client.frames[0]["state"]
            assert state["question"]["index"] == 0
            assert state["question"]["open"] is True
            closes_at = opened["question"]["closes_at_ms"]
            assert state["question"]["closes_at_ms"] == closes_at
            assert state["question"]["remaining_ms"] <= closes_at - now_ms() + 50
            closed = await client.expect("closed", index=0, timeout=LIMIT_S + 5)
            assert closed["reason"] == "time"
            assert now_ms() >= closes_at + 500  # not before its grace was over
        async with open_client(second, "Ben", ben["token"]) as client:
            assert client.frames[0]["state"]["progress"]["finished"] is True


def right_in(srv: RunningServer, quiz_id: str, index: int) -> int:
    return srv.service.store.session(quiz_id).questions[index].correct_option
