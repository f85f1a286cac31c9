"""The classroom's frames over the wire, on the embedded default and on PostgreSQL + NATS (issue
18): the host learns who has answered; a skipped question is taken back from everyone; a
student who joins between questions is told the closed one was not theirs.

On PostgreSQL + NATS the quiz and its host are on one server (the owner) and the players come in
through the other, so every answer crosses the bus and every frame comes back through the log.
"""

from __future__ import annotations

import contextlib
from typing import Any

from tests.integration.helpers import Client, open_client
from tests.integration.test_cheating import Backend
from tests.integration.test_homework import right


async def player(
    backend: Backend, stack: contextlib.AsyncExitStack, pin: str, name: str
) -> tuple[Client, dict[str, Any]]:
    joined = await backend.entry.join(pin, name)
    client = await stack.enter_async_context(open_client(backend.entry, name, joined["token"]))
    return client, joined


async def test_the_host_learns_who_answered_the_open_question(backend: Backend) -> None:
    async with contextlib.AsyncExitStack() as stack:
        quiz = await backend.owner.create_quiz(
            count=2, seed=3, settings={"close_when_all_answered": False}
        )
        host = await stack.enter_async_context(
            open_client(backend.owner, "host", quiz["host_token"])
        )
        anna, anna_joined = await player(backend, stack, quiz["pin"], "Anna")
        ben, ben_joined = await player(backend, stack, quiz["pin"], "Ben")
        await host.host("start")
        await anna.expect("question")
        since = len(host.frames)
        assert (await anna.answer(0, 0))["type"] == "ack"
        frame = await host.wait_for(lambda f: f["type"] == "players" and f["answered"], since=since)
        assert frame["answered"] == [anna_joined["player_id"]]
        # a host arriving now reads the same from its snapshot
        late_host = await stack.enter_async_context(
            open_client(backend.entry, "host 2", quiz["host_token"])
        )
        marks = {p["nickname"]: p["answered"] for p in late_host.frames[0]["state"]["players"]}
        assert marks == {"Anna": True, "Ben": False}
        since = len(host.frames)
        assert (await ben.answer(0, 1))["type"] == "ack"
        frame = await host.wait_for(lambda f: f["type"] == "players" and f["answered"], since=since)
        assert frame["answered"] == [ben_joined["player_id"]]


async def test_a_skip_takes_back_points_and_a_late_joiner_was_not_asked(
    backend: Backend,
) -> None:
    async with contextlib.AsyncExitStack() as stack:
        quiz = await backend.owner.create_quiz(
            count=3, seed=5, settings={"close_when_all_answered": False}
        )
        quiz_id = quiz["quiz_id"]
        host = await stack.enter_async_context(
            open_client(backend.owner, "host", quiz["host_token"])
        )
        anna, _ = await player(backend, stack, quiz["pin"], "Anna")
        await host.host("start")
        await anna.expect("question")
        first = await anna.answer(0, right(backend, quiz_id, 0))
        kept = first["answer"]["score"]
        assert kept > 0
        await host.host("close")
        await anna.expect("result")

        # Cleo comes in between questions: question 0 was not put to her
        cleo_joined = await backend.entry.join(quiz["pin"], "Cleo")
        cleo = await stack.enter_async_context(
            open_client(backend.entry, "Cleo", cleo_joined["token"])
        )
        welcome = cleo.frames[0]["state"]
        assert welcome["phase"] == "question_closed"
        assert welcome["asked"] is False
        assert welcome["question"]["index"] == 0

        await host.host("next")
        await anna.wait_for(lambda f: f["type"] == "question" and f["question"]["index"] == 1)
        since = len(anna.frames)
        second = await anna.answer(1, right(backend, quiz_id, 1))
        assert second["answer"]["score"] > kept
        await host.host("skip")
        closed = await anna.wait_for(
            lambda f: f["type"] == "closed" and f["index"] == 1, since=since
        )
        assert closed["reason"] == "skip"
        result = await anna.wait_for(
            lambda f: f["type"] == "result" and f["index"] == 1, since=since
        )
        assert result["answer"] is None
        assert result["standing"]["score"] == kept
        repeat = await anna.answer(1, right(backend, quiz_id, 1))
        assert (repeat["type"], repeat["code"]) == ("error", "too_late")

        await host.host("end")
        final = await cleo.expect("final")
        assert [w["index"] for w in final["results"]["missed"]] == [2]  # not 0 (before her), not 1
        anna_final = await anna.expect("final")
        assert anna_final["results"]["score"] == kept
        assert [w["index"] for w in anna_final["results"]["missed"]] == [2]
        report = await backend.owner.http.get(
            f"/api/quizzes/{quiz_id}/results",
            headers={"Authorization": f"Bearer {quiz['host_token']}"},
        )
        assert [q["index"] for q in report.json()["questions"]] == [0, 2]
