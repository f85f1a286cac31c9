"""What a cheating pupil would try, on the embedded default and on PostgreSQL + NATS.

On PostgreSQL + NATS two servers share one schema and the machine's NATS server, as two
processes of one deployment would: the quiz is created on the first (its owner) and every
player and intruder comes in through the second, so each refusal below goes through the
owner over the bus. tests/integration/test_security.py has the same checks on the embedded
default in more detail; docs/reliability.md, section 6, reports what was found.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from livequiz.adapters.nats import NatsBus
from livequiz.adapters.postgres import PostgresRecords
from livequiz.ports import BusUnavailable
from livequiz.service import QuizService, ServiceLimits
from tests import pg_database
from tests.integration.helpers import Quiz, open_client, setup_quiz
from tests.integration.test_security import BAD_TOKENS, HOST_COMMANDS, bearer, while_open
from tests.nats_server import shared_nats_url
from tests.server import RunningServer, running_server

FAST = ServiceLimits(tick_ms=20)


@dataclass
class Backend:
    """Where a quiz lives (``owner``) and where its players come in (``entry``)."""

    name: str
    owner: RunningServer
    entry: RunningServer


@contextlib.asynccontextmanager
async def postgres_and_nats(**server_options: Any) -> AsyncIterator[Backend]:
    """Two servers (``running_server(**server_options)`` each) over a fresh schema and NATS."""
    schema = pg_database.new_schema_name()
    key = secrets.token_bytes(32)
    opened: list[PostgresRecords | NatsBus] = []
    try:
        async with contextlib.AsyncExitStack() as stack:
            servers = []
            for n in range(2):
                records = await PostgresRecords.connect(
                    pg_database.database_url(), schema=schema, lease_s=3.0, owner_id=f"p{n}"
                )
                opened.append(records)
                try:
                    bus = await NatsBus.connect(
                        shared_nats_url(), name=f"cheat-p{n}", first_connect_timeout_s=2.0
                    )
                except BusUnavailable as error:
                    pytest.skip(f"NATS IS NOT REACHABLE at {shared_nats_url()}: {error}")
                opened.append(bus)
                servers.append(
                    await stack.enter_async_context(
                        running_server(
                            records=records,
                            bus=bus,
                            key=key,
                            **({"service": FAST} | server_options),
                        )
                    )
                )
            yield Backend("postgres+nats", servers[0], servers[1])
    finally:
        for resource in reversed(opened):
            await resource.close()
        await pg_database.drop_schema(schema)


async def quiz_on(
    backend: Backend, stack: contextlib.AsyncExitStack, names: list[str], **create: Any
) -> Quiz:
    """A quiz created on the owner, its host there, its players joined through ``entry``."""
    quiz = await setup_quiz(backend.owner, stack, [], **create)
    quiz.srv = backend.entry
    for name in names:
        joined = await backend.entry.join(quiz.pin, name)
        client = await stack.enter_async_context(open_client(backend.entry, name, joined["token"]))
        quiz.players[name] = client
        quiz.tokens[name] = joined["token"]
        quiz.ids[name] = joined["player_id"]
    return quiz


def correct(backend: Backend, quiz: Quiz, index: int) -> int:
    return backend.owner.service.store.session(quiz.quiz_id).questions[index].correct_option


# ---------------------------------------------------------------------- tokens and roles


@pytest.mark.parametrize("make", BAD_TOKENS.values(), ids=BAD_TOKENS.keys())
async def test_a_bad_token_is_refused_through_any_process(
    backend: Backend, make: Callable[[RunningServer, Quiz, Quiz], str]
) -> None:
    async with contextlib.AsyncExitStack() as stack:
        quiz = await quiz_on(backend, stack, ["Anna", "Ben"])
        other = await quiz_on(backend, stack, [])
        token = make(backend.owner, quiz, other)
        async with open_client(backend.entry, "intruder") as intruder:
            await intruder.send({"type": "hello", "token": token})
            error = await intruder.expect("error")
            assert error["code"] == "bad_token", error
            assert (await intruder.closed())[0] == 4003
        if token:
            response = await backend.entry.http.get(
                f"/api/quizzes/{quiz.quiz_id}/results", headers=bearer(token)
            )
            assert response.status_code in (401, 403), response.text
            assert response.json()["error"]["code"] in ("bad_token", "forbidden"), response.text
        assert (await quiz.players["Anna"].answer(0, 0))["code"] == "question_not_open"


async def test_a_player_cannot_command_kick_or_answer_for_another(backend: Backend) -> None:
    async with contextlib.AsyncExitStack() as stack:
        quiz = await quiz_on(backend, stack, ["Anna", "Ben"])
        anna = quiz.players["Anna"]
        for command in HOST_COMMANDS:
            refused = await anna.host(**command)
            assert (refused["type"], refused.get("code")) == ("error", "forbidden"), refused
        await quiz.start()
        right = correct(backend, quiz, 0)
        ack = await anna.answer(0, right, player_id=quiz.ids["Ben"], token=quiz.tokens["Ben"])
        assert ack["status"] == "accepted"
        # Ben's answer is still his own to give: Anna's counted for Anna.
        assert (await quiz.players["Ben"].answer(0, (right + 1) % 4))["status"] == "accepted"
        report = (
            await backend.entry.http.get(
                f"/api/quizzes/{quiz.quiz_id}/results", headers=bearer(quiz.host_token)
            )
        ).json()
        scores = {line["nickname"]: (line["score"], line["answered"]) for line in report["players"]}
        assert scores["Anna"] == (ack["answer"]["points"], 1)
        assert scores["Ben"] == (0, 1)
        # The host's token does not let a player through the owner either.
        kicked = await quiz.host.host("kick", player_id=quiz.ids["Ben"])
        assert kicked["type"] == "host_ack"
        assert (await quiz.players["Ben"].closed())[0] == 4009
        async with open_client(backend.entry, "Ben again") as again:
            await again.send({"type": "hello", "token": quiz.tokens["Ben"]})
            assert (await again.expect("error"))["code"] == "kicked"
            assert (await again.closed())[0] == 4009


async def test_a_token_of_an_ended_quiz_does_not_open_the_next_quiz_with_its_pin(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PINs are reused once a quiz ends; tokens name the quiz's internal id, not its PIN."""
    monkeypatch.setattr(QuizService, "_random_pin", staticmethod(lambda: "424242"))
    async with contextlib.AsyncExitStack() as stack:
        first = await quiz_on(backend, stack, ["Anna"])
        assert (await first.host.host("end"))["type"] == "host_ack"
        await first.players["Anna"].expect("finished")
        second = await quiz_on(backend, stack, ["Ben"])
        assert second.pin == first.pin == "424242"
        assert second.quiz_id != first.quiz_id
        # Anna's old token brings her back to her own, finished quiz, never into the new one.
        async with open_client(backend.entry, "Anna again") as anna:
            welcome = await anna.hello(first.tokens["Anna"])
            assert welcome["quiz"]["quiz_id"] == first.quiz_id
            assert welcome["state"]["phase"] == "finished"
        for token in (first.tokens["Anna"], first.host_token):
            response = await backend.entry.http.get(
                f"/api/quizzes/{second.quiz_id}/results", headers=bearer(token)
            )
            assert response.status_code == 403, response.text
            assert response.json()["error"]["code"] == "forbidden"
        # The old host cannot run the new quiz: its token is for the old one.
        async with open_client(backend.entry, "old host") as old_host:
            await old_host.hello(first.host_token)
            refused = await old_host.host("start")
            assert refused["type"] == "error", refused
        state = (await backend.entry.http.get(f"/api/quizzes/{second.pin}")).json()
        assert (state["phase"], state["players"]) == ("lobby", 1)


# ---------------------------------------------------------------------- the deadline


async def test_an_answer_after_the_deadline_and_grace_never_scores(backend: Backend) -> None:
    """The owner's clock is moved past the deadline: by 400 ms (inside the 500 ms grace, it
    counts) and past the grace (it never does, whatever the close timer has done yet)."""
    async with contextlib.AsyncExitStack() as stack:
        settings = {"time_limit_ms": 5_000, "grace_ms": 500, "close_when_all_answered": False}
        quiz = await quiz_on(backend, stack, ["Anna", "Ben"], count=2, settings=settings)
        owner = backend.owner.service
        real_clock = owner.clock
        await quiz.start()
        session = owner.store.session(quiz.quiz_id)
        deadline = session.closes_at_ms
        owner.clock = lambda: deadline + 400
        inside = await quiz.players["Anna"].answer(0, correct(backend, quiz, 0))
        assert inside["status"] == "accepted", inside
        assert inside["answer"]["points"] >= 500
        owner.clock = lambda: deadline + 501
        late = await quiz.players["Ben"].answer(0, correct(backend, quiz, 0))
        assert late["type"] == "error", late
        assert late["code"] in ("too_late", "question_not_open"), late
        owner.clock = real_clock
        await quiz.players["Ben"].expect("result", index=0)
        report = (
            await backend.entry.http.get(
                f"/api/quizzes/{quiz.quiz_id}/results", headers=bearer(quiz.host_token)
            )
        ).json()
        scores = {line["nickname"]: (line["score"], line["answered"]) for line in report["players"]}
        assert scores == {"Anna": (inside["answer"]["points"], 1), "Ben": (0, 0)}


# ---------------------------------------------------------------------- look-alike nicknames


async def test_a_look_alike_of_a_players_nickname_is_taken(backend: Backend) -> None:
    async with contextlib.AsyncExitStack() as stack:
        quiz = await quiz_on(backend, stack, ["Anna"])
        for twin in ("\u0410nna", "\u0391NNA", "𝐀𝐧𝐧𝐚", "anna"):
            response = await backend.entry.http.post(
                f"/api/quizzes/{quiz.pin}/players", json={"nickname": twin}
            )
            assert response.status_code == 409, (twin, response.text)
            assert response.json()["error"]["code"] == "nickname_taken"
        async with open_client(backend.entry, "twin") as twin_ws:
            refused = await twin_ws.error({"type": "join", "pin": quiz.pin, "nickname": "Аnna"})
            assert refused["code"] == "nickname_taken"
        for hostile, code in [
            ("ѕһіt", "nickname_profane"),
            ("f u c k", "nickname_profane"),
            ("Anna\u202eateB", "nickname_invalid"),
            ("An\u200bna", "nickname_invalid"),
            ("Z\u0336\u0337\u0338\u0339algo", "nickname_invalid"),
        ]:
            response = await backend.entry.http.post(
                f"/api/quizzes/{quiz.pin}/players", json={"nickname": hostile}
            )
            assert response.status_code == 422, (hostile, response.text)
            assert response.json()["error"]["code"] == code, (hostile, response.text)
        assert (await backend.entry.join(quiz.pin, "Anne"))["nickname"] == "Anne"


# ---------------------------------------------------------------------- the answer stays secret

#: Fields that carry a question's answer (``reveal`` as an object; ``settings.reveal`` is a mode).
ANSWER_FIELDS = frozenset({"correct_option", "reveal", "definition", "word", "example"})


def leaks(value: Any, index: int, answer_text: str, path: str = "") -> list[str]:
    """Where in a JSON value the answer of open question ``index`` shows: an answer field of
    that question (or of no named question), or the right option's text anywhere but in a list
    of options. Objects about another (closed) question, which carry their own answers by
    design, are left out."""
    found: list[str] = []
    if isinstance(value, dict):
        about = value.get("index")
        if isinstance(about, int) and about != index:
            return []
        for key, item in value.items():
            here = f"{path}.{key}"
            if key in ANSWER_FIELDS and (key != "reveal" or isinstance(item, dict)):
                found.append(here)
            if key != "options":
                found += leaks(item, index, answer_text, here)
    elif isinstance(value, list):
        for n, item in enumerate(value):
            found += leaks(item, index, answer_text, f"{path}[{n}]")
    elif isinstance(value, str) and answer_text in value:
        found.append(f"{path} = {value!r}")
    return found


def results_about(value: Any, index: int) -> list[dict[str, Any]]:
    """Objects about question ``index`` that tell whether an answer was right or its points."""
    found: list[dict[str, Any]] = []
    if isinstance(value, dict):
        if value.get("index") == index and ({"correct", "points"} & value.keys()):
            found.append(value)
        for item in value.values():
            found += results_about(item, index)
    elif isinstance(value, list):
        for item in value:
            found += results_about(item, index)
    return found


@pytest.mark.parametrize("reveal", ["immediate", "at_close"])
async def test_nothing_sent_while_a_question_is_open_holds_its_answer(
    backend: Backend, reveal: str
) -> None:
    """Every frame to every client (players, a late joiner and a second tab each question, the
    host and the big screen, which is a second host connection) and every HTTP response a client
    can ask for while a question is open, in both reveal modes."""
    async with contextlib.AsyncExitStack() as stack:
        count = 4
        quiz = await quiz_on(
            backend,
            stack,
            ["Anna", "Ben", "Cleo"],
            count=count,
            kinds=["word_to_meaning", "meaning_to_word", "synonym", "fill_blank"],
            settings={"reveal": reveal, "close_when_all_answered": False},
        )
        screen = await stack.enter_async_context(
            open_client(backend.entry, "screen", quiz.host_token)
        )
        watched = [*quiz.clients, screen]
        session = backend.owner.service.store.session(quiz.quiz_id)
        http_scanned = 0
        frames_scanned = 0
        url = f"/api/quizzes/{quiz.quiz_id}"
        for index in range(count):
            if index == 0:
                await quiz.start()
            else:
                await quiz.next(index)
            question = session.questions[index]
            right, text = question.correct_option, question.options[question.correct_option]
            anna, ben = quiz.players["Anna"], quiz.players["Ben"]
            acks = [await anna.answer(index, right), await ben.answer(index, (right + 1) % 4)]
            assert [a["status"] for a in acks] == ["accepted", "accepted"], acks
            late = await stack.enter_async_context(open_client(backend.entry, f"late{index}"))
            await late.join(quiz.pin, f"Late {index}")
            tab = await stack.enter_async_context(open_client(backend.entry, f"tab{index}"))
            await tab.hello(quiz.tokens["Cleo"])
            watched += [late, tab]
            for client in (quiz.host, anna, screen):
                await client.send({"type": "sync"})
                await client.expect("snapshot")
            # Every HTTP answer a client can get now.
            responses = [
                await backend.entry.http.get(f"/api/quizzes/{quiz.pin}"),
                await backend.entry.http.get(f"{url}/results", headers=bearer(quiz.host_token)),
                await backend.entry.http.get(
                    f"{url}/results?format=csv", headers=bearer(quiz.host_token)
                ),
                await backend.entry.http.get("/api/flags", headers=bearer(quiz.host_token)),
                await backend.entry.http.post(
                    f"{url}/flags", json={"index": index}, headers=bearer(quiz.tokens["Anna"])
                ),
                await backend.entry.http.post(
                    f"{url}/flags", json={"index": index}, headers=bearer(quiz.host_token)
                ),
            ] + [
                await backend.entry.http.get(f"{url}/results", headers=bearer(token))
                for token in quiz.tokens.values()
            ]
            for response in responses:
                assert response.status_code in (200, 409), response.text
                body: Any = response.text if response.text.startswith("\ufeff") else response.json()
                if isinstance(body, str):
                    assert text not in body, body
                else:
                    assert not leaks(body, index, text), (response.url, body)
                http_scanned += 1
            assert (await quiz.host.host("close"))["type"] == "host_ack"
            for client in watched:
                closed = await client.expect("closed", index=index)
                assert closed["reveal"]["correct_option"] == right
                # The scan would see it: the reveal itself is what it looks for.
                assert ".reveal" in leaks(closed, index, text)
        for client in watched:
            for index in {f["index"] for f in client.frames if f["type"] == "closed"}:
                question = session.questions[index]
                text = question.options[question.correct_option]
                frames = while_open(client, index)
                assert frames, (client.name, index)
                frames_scanned += len(frames)
                found = [
                    (f["type"], leaks(f, index, text)) for f in frames if leaks(f, index, text)
                ]
                assert not found, (client.name, index, found)
                if reveal == "at_close":  # not even whether one's own answer was right
                    told = [r for f in frames for r in results_about(f, index)]
                    assert not told, (client.name, index, told)
        print(f"\n{backend.name}, {reveal}: {frames_scanned} frames, {http_scanned} HTTP answers")
        assert frames_scanned >= 10 * count
