"""The protocol's written rules held against running servers (issue 16, "protocol semantics").

* Which refusal an answer gets, by where its question stands: a question that has closed is
  ``too_late`` (it used to be ``question_not_open``: the clock closes a question at deadline +
  grace, so the documented ``too_late`` was practically never sent), a repeat after the close
  gets its first result back (``ack duplicate``), a finished quiz ``quiz_finished``.
* Every error code of docs/protocol.md's tables, provoked, with the fields the document
  promises (``q`` for a refused answer, ``action`` for a refused host message, neither for a
  frame that is not a well-formed message): the test reads the codes from the document, so a
  code added there without a case here fails.
* The order of the checks (bad message, then ``busy``/``auth_required``, then ``forbidden``,
  then the quiz's rules).

What goes through the quiz's owner runs twice: on the embedded default, and on PostgreSQL +
NATS — two servers in this event loop over a fresh schema and the machine's NATS, the host on
the owner and the players on the other one, so that every answer crosses the bus.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from livequiz.adapters.nats import NatsBus
from livequiz.adapters.postgres import PostgresRecords
from livequiz.domain.errors import ErrorCode, Rejected
from livequiz.ports import BusUnavailable
from livequiz.transport import TransportLimits
from tests import pg_database
from tests.integration.helpers import Client, Frame, open_client
from tests.nats_server import shared_nats_url
from tests.server import RunningServer, running_server

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


# ---------------------------------------------------------------------- two deployments


@dataclass
class Deployment:
    """Where the host connects (the quiz's owner) and where the players connect."""

    kind: str
    owner: RunningServer
    edge: RunningServer


@contextlib.asynccontextmanager
async def on_postgres_and_nats() -> AsyncIterator[Deployment]:
    """Two servers of one deployment over a fresh PostgreSQL schema and the shared NATS."""
    async with pg_database.fresh_schema() as schema:
        key = secrets.token_bytes(32)
        closing: list[PostgresRecords | NatsBus] = []
        try:
            async with contextlib.AsyncExitStack() as stack:
                servers = []
                for n in range(2):
                    try:
                        bus = await NatsBus.connect(
                            shared_nats_url(), name=f"rules-{n}", first_connect_timeout_s=2.0
                        )
                    except BusUnavailable as error:
                        pytest.skip(f"NATS IS NOT REACHABLE at {shared_nats_url()}: {error}")
                    closing.append(bus)
                    records = await PostgresRecords.connect(
                        pg_database.database_url(), schema=schema, lease_s=3.0, owner_id=f"p{n}"
                    )
                    closing.append(records)
                    servers.append(
                        await stack.enter_async_context(
                            running_server(records=records, bus=bus, key=key)
                        )
                    )
                yield Deployment("postgres+nats", servers[0], servers[1])
        finally:
            for opened in reversed(closing):
                await opened.close()


@pytest.fixture(params=["embedded", "postgres+nats"])
async def deployment(request: pytest.FixtureRequest) -> AsyncIterator[Deployment]:
    if request.param == "embedded":
        async with running_server() as srv:
            yield Deployment("embedded", srv, srv)
    else:
        async with on_postgres_and_nats() as deployed:
            yield deployed


@dataclass
class Game:
    created: Frame
    host: Client
    players: dict[str, Client] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)

    @property
    def everyone(self) -> list[Client]:
        return [self.host, *self.players.values()]

    async def everyone_gets(self, kind: str, **fields: Any) -> list[Frame]:
        def match(frame: Frame) -> bool:
            return frame.get("type") == kind and all(frame.get(k) == v for k, v in fields.items())

        return list(await asyncio.gather(*(c.wait_for(match) for c in self.everyone)))


async def new_game(
    deployment: Deployment, stack: contextlib.AsyncExitStack, names: list[str], **create: Any
) -> Game:
    created = await deployment.owner.create_quiz(**{"count": 3, "seed": 11, **create})
    host = await stack.enter_async_context(
        open_client(deployment.owner, "host", created["host_token"])
    )
    game = Game(created, host)
    for name in names:
        joined = await deployment.edge.join(created["pin"], name)
        game.players[name] = await stack.enter_async_context(
            open_client(deployment.edge, name, joined["token"])
        )
        game.ids[name] = joined["player_id"]
    return game


def right_option(deployment: Deployment, game: Game, index: int) -> int:
    session = deployment.owner.service.store.session(game.created["quiz_id"])
    return session.questions[index].correct_option


async def refused(client: Client, message: Frame | str, code: str, **fields: Any) -> Frame:
    error = await client.error(message)
    assert error["code"] == code, (message, error)
    for name, value in fields.items():
        assert error.get(name) == value, (name, error)
    return error


# ------------------------------------------------------------------ which refusal an answer gets


async def test_an_answer_after_the_clock_closed_its_question_is_too_late(
    deployment: Deployment,
) -> None:
    """The regression of issue 16: a second after deadline + grace, ``too_late``."""
    async with contextlib.AsyncExitStack() as stack:
        game = await new_game(deployment, stack, ["Anna", "Ben"], time_limit_s=1)
        anna, ben = game.players["Anna"], game.players["Ben"]
        assert (await game.host.host("start"))["type"] == "host_ack"
        await game.everyone_gets("question")
        right = right_option(deployment, game, 0)
        first = await anna.answer(0, right)
        assert (first["type"], first["status"]) == ("ack", "accepted"), first
        closed = await game.everyone_gets("closed", index=0)
        assert closed[0]["reason"] == "time"  # Ben never answered: the clock closed it

        await refused(ben, {"type": "answer", "q": 0, "option": 0}, "too_late", q=0)
        # the next question has not been opened: none is open
        await refused(ben, {"type": "answer", "q": 1, "option": 0}, "question_not_open", q=1)
        # a repeat after the close is not refused: the first result, nothing changed
        again = await anna.answer(0, right)
        assert again["type"] == "ack", again
        assert again["status"] == "duplicate"
        assert (again["seq"], again["answer"]) == (first["seq"], first["answer"])
        other = await anna.answer(0, (right + 1) % 4)
        assert other["status"] == "already_answered"
        assert other["answer"] == first["answer"]

        assert (await game.host.host("next"))["type"] == "host_ack"
        await game.everyone_gets("question", seq=closed[0]["seq"] + 1)
        # question 1 is open: question 0 closed long ago, question 2 is not the open one
        await refused(ben, {"type": "answer", "q": 0, "option": 0}, "too_late", q=0)
        await refused(ben, {"type": "answer", "q": 2, "option": 0}, "wrong_question", q=2)
        assert (await ben.answer(1, 0))["status"] == "accepted"

        assert (await game.host.host("end"))["type"] == "host_ack"
        await game.everyone_gets("finished")
        for q, option in ((1, 0), (2, 0), (0, right)):  # a repeat included
            await refused(ben, {"type": "answer", "q": q, "option": option}, "quiz_finished", q=q)


async def test_an_answer_to_a_question_the_host_closed_is_too_late(deployment: Deployment) -> None:
    async with contextlib.AsyncExitStack() as stack:
        game = await new_game(deployment, stack, ["Anna", "Ben"])
        assert (await game.host.host("start"))["type"] == "host_ack"
        await game.everyone_gets("question")
        assert (await game.host.host("close"))["type"] == "host_ack"
        await game.everyone_gets("closed", index=0)
        await refused(game.players["Ben"], {"type": "answer", "q": 0, "option": 1}, "too_late", q=0)


# ------------------------------------------------------------------ the fields each error promises


def error_tables() -> dict[str, list[str]]:
    """The codes of each table of docs/protocol.md's "Error codes" section, by its heading
    (``any``, ``joining``, ``authenticated``, ``answers``, ``host``)."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split("\n## Error codes\n", 1)[1].split("\n## ", 1)[0]
    headings = {
        "**Any message, any time**": "any",
        "**Authenticating**": "joining",
        "**Once authenticated:**": "authenticated",
        "**Answers**": "answers",
        "**Host actions**": "host",
        "**Next**": "next",
    }
    tables: dict[str, list[str]] = {}
    current = None
    for line in section.splitlines():
        for heading, name in headings.items():
            if line.startswith(heading):
                current = name
                tables[name] = []
        match = re.match(r"\| `([a-z_]+)` \|", line)
        if match and current is not None:
            tables[current].append(match.group(1))
    return tables


def test_the_error_tables_are_read_from_the_document() -> None:
    tables = error_tables()
    assert set(tables) == {"any", "joining", "authenticated", "answers", "host", "next"}
    assert "too_late" in tables["answers"]
    assert "illegal_state" in tables["host"]
    assert "forbidden" in tables["authenticated"]


#: A frame that refuses itself before any identity is looked at, by code.
MALFORMED: dict[str, Frame | str] = {
    "bad_json": '{"type": "answer", "q": 0, "option": 0',
    "bad_message": {"type": "answer", "q": 0, "option": "two"},
    "unknown_type": {"type": "dance", "q": 0, "action": "start"},
}


async def test_errors_about_frames_that_are_no_message_carry_neither_q_nor_action() -> None:
    # a tight message budget, to reach rate_limited too
    tight = TransportLimits(max_messages_per_second=0.001, message_burst=len(MALFORMED))
    async with running_server(transport=tight) as srv:
        async with open_client(srv, "stranger") as stranger:
            got = {}
            for frame in MALFORMED.values():
                error = await stranger.error(frame)
                got[error["code"]] = error
            got["rate_limited"] = await stranger.error({"type": "answer", "q": 0, "option": 0})
        assert set(got) == set(error_tables()["any"])
        for code, error in got.items():
            assert error["code"] == code
            assert "q" not in error, error
            assert "action" not in error, error


async def outcome_of(
    deployment: Deployment, code: ErrorCode, send: Callable[[], Awaitable[Frame]]
) -> Frame:
    """What the client gets when the quiz refuses its message with ``code``.

    For refusals no client can provoke at will (storage down, the quiz moving, a race with a
    kick), the service's ``submit`` answers with that refusal instead of the quiz: it is the
    gateway's framing of each code that is under test here, the codes themselves are the
    core's and the store's, and are tested there.
    """
    service = deployment.edge.service
    original = service.submit

    def refuse(quiz_id: str, command: Any, reply: Any = None) -> None:
        reply(Rejected(code, f"refused with {code.value} by the test"))

    service.submit = refuse  # type: ignore[method-assign]
    try:
        return await send()
    finally:
        service.submit = original  # type: ignore[method-assign]


async def test_every_answer_and_host_refusal_in_the_document_carries_q_or_action() -> None:
    tables = error_tables()
    async with running_server() as srv, contextlib.AsyncExitStack() as stack:
        deployment = Deployment("embedded", srv, srv)
        game = await new_game(deployment, stack, ["Anna", "Ben"])
        anna = game.players["Anna"]
        answers: dict[str, Frame] = {}
        hosts: dict[str, Frame] = {}

        def answer(q: int, option: int = 0) -> Frame:
            return {"type": "answer", "q": q, "option": option}

        def host(action: str, **extra: Any) -> Frame:
            return {"type": "host", "action": action, **extra}

        # provoked for real, in a quiz's life
        answers["question_not_open"] = await anna.error(answer(0))
        assert (await game.host.host("start"))["type"] == "host_ack"
        await game.everyone_gets("question")
        hosts["illegal_state"] = await game.host.error(host("start"))
        answers["wrong_question"] = await anna.error(answer(99))
        answers["invalid_option"] = await anna.error(answer(0, 9))
        assert (await game.host.host("pause"))["type"] == "host_ack"
        answers["paused"] = await anna.error(answer(0))
        assert (await game.host.host("resume"))["type"] == "host_ack"
        hosts["unknown_player"] = await game.host.error(host("kick", player_id=99))
        anna_id = game.ids["Anna"]
        hosts["nickname_invalid"] = await game.host.error(
            host("rename", player_id=anna_id, nickname="A")
        )
        hosts["nickname_profane"] = await game.host.error(
            host("rename", player_id=anna_id, nickname="Poop")
        )
        hosts["nickname_taken"] = await game.host.error(
            host("rename", player_id=anna_id, nickname="ben")
        )
        assert (await game.host.host("close"))["type"] == "host_ack"
        await game.everyone_gets("closed")
        answers["too_late"] = await anna.error(answer(0))
        assert (await game.host.host("kick", player_id=game.ids["Ben"]))["type"] == "host_ack"
        hosts["kicked"] = await game.host.error(host("kick", player_id=game.ids["Ben"]))
        assert (await game.host.host("end"))["type"] == "host_ack"
        await game.host.wait_for(lambda f: f["type"] == "finished")
        answers["quiz_finished"] = await anna.error(answer(1))
        hosts["quiz_finished"] = await game.host.error(host("lock"))
        # a question whose reading time runs
        slow = await srv.create_quiz(count=1, settings={"reading_ms": 30_000})
        reader = await srv.join(slow["pin"], "Eve")
        eve = await stack.enter_async_context(open_client(srv, "Eve", reader["token"]))
        async with open_client(srv, "slow host", slow["host_token"]) as slow_host:
            assert (await slow_host.host("start"))["type"] == "host_ack"
            opened = await eve.expect("question")
            assert opened["question"]["options"] == []
            answers["reading"] = await eve.error(answer(0))
        # a name the host has not approved yet
        checked = await srv.create_quiz(count=1, settings={"approve_names": True})
        waiting = await srv.join(checked["pin"], "Dev")
        dev = await stack.enter_async_context(open_client(srv, "Dev", waiting["token"]))
        async with open_client(srv, "checked host", checked["host_token"]) as checked_host:
            assert (await checked_host.host("start"))["type"] == "host_ack"
            await dev.expect("question")
            answers["name_not_approved"] = await dev.error(answer(0))
        # refusals no client can provoke at will: the quiz's refusal, framed by the gateway
        late = await new_game(deployment, stack, ["Cleo"])
        cleo = late.players["Cleo"]
        for code in (ErrorCode.KICKED, ErrorCode.UNKNOWN_PLAYER, ErrorCode.UNKNOWN_QUIZ):
            answers[code.value] = await outcome_of(deployment, code, lambda: cleo.error(answer(0)))
        answers["unavailable"] = await outcome_of(
            deployment, ErrorCode.UNAVAILABLE, lambda: cleo.error(answer(0))
        )
        hosts["unavailable"] = await outcome_of(
            deployment, ErrorCode.UNAVAILABLE, lambda: late.host.error(host("next"))
        )

    assert sorted(answers) == sorted(tables["answers"])
    assert sorted(hosts) == sorted(tables["host"])
    for name, error in answers.items():
        assert error["code"] == name, error
        assert isinstance(error["q"], int), error
        assert "action" not in error
    for name, error in hosts.items():
        assert error["code"] == name, error
        assert isinstance(error["action"], str), error
        assert "q" not in error


async def test_forbidden_and_auth_required_name_the_message_they_refuse() -> None:
    """Issue 16: ``forbidden`` carried neither ``action`` nor ``q``."""
    tables = error_tables()
    assert {"forbidden", "already_authenticated"} == set(tables["authenticated"])
    assert {"auth_required", "busy"} <= set(tables["joining"])
    async with running_server() as srv, contextlib.AsyncExitStack() as stack:
        game = await new_game(Deployment("embedded", srv, srv), stack, ["Anna"])
        anna = game.players["Anna"]
        await refused(anna, {"type": "host", "action": "start"}, "forbidden", action="start")
        await refused(
            anna, {"type": "host", "action": "kick", "player_id": 1}, "forbidden", action="kick"
        )
        await refused(game.host, {"type": "answer", "q": 2, "option": 1}, "forbidden", q=2)
        again = await refused(anna, {"type": "hello", "token": "x"}, "already_authenticated")
        assert "q" not in again
        assert "action" not in again
        async with open_client(srv, "stranger") as stranger:
            await refused(stranger, {"type": "answer", "q": 1, "option": 0}, "auth_required", q=1)
            await refused(
                stranger, {"type": "host", "action": "end"}, "auth_required", action="end"
            )
            plain = await refused(stranger, {"type": "sync"}, "auth_required")
            assert "q" not in plain
            assert "action" not in plain
        assert srv.service.store.session(game.created["quiz_id"]).phase.value == "lobby"


async def test_every_next_refusal_in_the_document_carries_the_action() -> None:
    """A self-paced quiz's ``next``: every code of the document's table, provoked (or, for
    those no client can provoke at will, the quiz's refusal framed by the gateway)."""
    tables = error_tables()
    async with running_server() as srv, contextlib.AsyncExitStack() as stack:
        deployment = Deployment("embedded", srv, srv)
        got: dict[str, Frame] = {}
        live = await new_game(deployment, stack, ["Anna"])
        got["illegal_state"] = await live.players["Anna"].error({"type": "next"})
        created = await srv.http.post(
            "/api/quizzes",
            json={
                "count": 1,
                "settings": {"pace": "self"},
                "due_at_ms": srv.service.clock() + 120_000,
            },
        )
        homework = created.json()
        joined = await srv.join(homework["pin"], "Ben")
        ben = await stack.enter_async_context(open_client(srv, "Ben", joined["token"]))
        await ben.send({"type": "next"})
        await ben.expect("question")
        real_clock = srv.service.clock
        srv.service.clock = lambda: real_clock() + 121_000
        try:
            got["quiz_finished"] = await ben.error({"type": "next"})
        finally:
            srv.service.clock = real_clock
        for code in (ErrorCode.KICKED, ErrorCode.UNKNOWN_PLAYER, ErrorCode.UNAVAILABLE):
            got[code.value] = await outcome_of(
                deployment, code, lambda: ben.error({"type": "next"})
            )
        host = await stack.enter_async_context(open_client(srv, "host", homework["host_token"]))
        forbidden = await host.error({"type": "next"})
        checked = await srv.http.post(
            "/api/quizzes",
            json={
                "count": 1,
                "settings": {"pace": "self", "approve_names": True},
                "due_at_ms": srv.service.clock() + 120_000,
            },
        )
        waiting = await srv.join(checked.json()["pin"], "Dev")
        dev = await stack.enter_async_context(open_client(srv, "Dev", waiting["token"]))
        got["name_not_approved"] = await dev.error({"type": "next"})
    assert sorted(got) == sorted(tables["next"])
    for name, error in got.items():
        assert error["code"] == name, error
        assert error["action"] == "next", error
        assert "q" not in error
    assert (forbidden["code"], forbidden["action"]) == ("forbidden", "next")


# ---------------------------------------------------------------------- the order of the checks


async def test_the_checks_come_in_the_documented_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/protocol.md, "The order of the checks": the frame itself, then who is asking
    (``busy``, ``auth_required``, ``already_authenticated``, ``forbidden``), then the quiz."""
    async with running_server() as srv, contextlib.AsyncExitStack() as stack:
        game = await new_game(Deployment("embedded", srv, srv), stack, ["Anna"])
        anna = game.players["Anna"]
        assert (await game.host.host("start"))["type"] == "host_ack"
        assert (await game.host.host("end"))["type"] == "host_ack"
        await game.host.wait_for(lambda f: f["type"] == "finished")
        async with open_client(srv, "stranger") as stranger:
            # a malformed message before signing in: bad_message, not auth_required
            await refused(stranger, {"type": "answer", "q": "0", "option": 0}, "bad_message")
            await refused(stranger, {"type": "host", "action": "stop"}, "bad_message")
            await refused(stranger, {"type": "host"}, "bad_message")
            await refused(stranger, {"type": "dance"}, "unknown_type")
            await refused(stranger, "[" * 100, "bad_message")
        # a malformed message from the wrong role: bad_message, not forbidden
        await refused(anna, {"type": "host", "action": "kick"}, "bad_message")
        await refused(game.host, {"type": "answer", "q": 0, "option": None}, "bad_message")
        # the wrong role in a finished quiz: forbidden, not quiz_finished
        await refused(anna, {"type": "host", "action": "start"}, "forbidden", action="start")
        await refused(game.host, {"type": "answer", "q": 0, "option": 0}, "forbidden", q=0)
        # signed in: already_authenticated before the token is looked at
        await refused(anna, {"type": "hello", "token": "forged"}, "already_authenticated")
        # the quiz's own rules last: finished before no such question
        await refused(anna, {"type": "answer", "q": 99, "option": 0}, "quiz_finished", q=99)

        # while a join is being processed, every message is busy — an answer included
        held = asyncio.Event()
        join = srv.service.join

        async def slow_join(pin: str, nickname: object) -> tuple[str, int, str, str]:
            await held.wait()
            return await join(pin, nickname)

        monkeypatch.setattr(srv.service, "join", slow_join)
        live = await srv.create_quiz(count=1)
        async with open_client(srv, "joiner") as joiner:
            await joiner.send({"type": "join", "pin": live["pin"], "nickname": "Dan"})
            await refused(joiner, {"type": "answer", "q": 0, "option": 0}, "busy", q=0)
            await refused(joiner, {"type": "host", "action": "start"}, "busy", action="start")
            await refused(joiner, {"type": "sync"}, "busy")
            await refused(joiner, {"type": "answer", "q": 0}, "bad_message")  # the frame first
            held.set()
            assert (await joiner.expect("welcome"))["state"]["player"]["nickname"] == "Dan"


# ---------------------------------------------------------------------- valid JSON, end to end


async def test_valid_json_the_old_decoder_refused_now_gets_its_documented_answer() -> None:
    async with running_server() as srv, contextlib.AsyncExitStack() as stack:
        game = await new_game(Deployment("embedded", srv, srv), stack, ["Anna"])
        anna = game.players["Anna"]
        await anna.send('\ufeff{"type": "sync"}')
        assert (await anna.expect("snapshot"))["state"]["phase"] == "lobby"
        await anna.send('{"type": "sync", "x": "\\ud800", "y": 1e400, "z": ' + "9" * 400 + "}")
        assert (await anna.expect("snapshot"))["state"]["phase"] == "lobby"
        await refused(
            anna, '{"type": "answer", "q": ' + "9" * 400 + ', "option": 0}', "bad_message"
        )
        async with open_client(srv, "guest") as guest:
            error = await refused(
                guest,
                '{"type": "join", "pin": "' + game.created["pin"] + '", "nickname": "An\\ud800na"}',
                "bad_message",
            )
            assert "nickname" in error["message"]
            assert (await guest.join(game.created["pin"], "Anna B"))["type"] == "welcome"
        assert [
            p.nickname for p in srv.service.store.session(game.created["quiz_id"]).players.values()
        ] == ["Anna", "Anna B"]
