"""Who may do what, over real sockets: tokens, roles, kicks, origins, limits, and the answer kept
secret while its question is open."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import secrets
import time
from collections.abc import Callable

import orjson
import pytest
from websockets.exceptions import InvalidStatus

from livequiz.auth import DEFAULT_TTL_S, Role, TokenSigner
from livequiz.service import ServiceLimits
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
from tests.server import RunningServer, running_server

FAST = ServiceLimits(tick_ms=20)


def leaked(frame: Frame) -> list[str]:
    """What in a frame gives an answer away: a ``correct_option`` anywhere, or a ``reveal``
    object (the answer with its word and meaning; ``settings.reveal`` is only the mode)."""
    return [
        key
        for key, value in walk(frame)
        if key == "correct_option" or (key == "reveal" and isinstance(value, dict))
    ]


def bearer(token: str) -> dict[bytes, bytes]:
    # As bytes: a tampered token may hold non-ASCII, which httpx refuses in a str header.
    return {b"authorization": b"Bearer " + token.encode()}


def now_s() -> int:
    return int(time.time())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(token: str) -> dict[str, object]:
    body = token.split(".")[1]
    claims: dict[str, object] = orjson.loads(
        base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    )
    return claims


def _with_claims(token: str, **changes: object) -> str:
    """The same token with its claims changed and its signature kept (a tampered token)."""
    version, _body, signature = token.split(".")
    return f"{version}.{_b64(orjson.dumps(_claims(token) | changes))}.{signature}"


# ---------------------------------------------------------------------- tokens

#: Ways to make a token that must not let anyone in: (srv, quiz, other quiz) → token.
BadToken = Callable[[RunningServer, Quiz, Quiz], str]

BAD_TOKENS: dict[str, BadToken] = {
    "signed with another key": lambda _srv, quiz, _other: TokenSigner(
        secrets.token_bytes(32)
    ).issue(quiz.quiz_id, Role.PLAYER, quiz.ids["Anna"], now_s()),
    "host token signed with another key": lambda _srv, quiz, _other: TokenSigner(
        secrets.token_bytes(32)
    ).issue(quiz.quiz_id, Role.HOST, 0, now_s()),
    "player claims changed to another player": lambda _srv, quiz, _other: _with_claims(
        quiz.tokens["Anna"], p=quiz.ids["Ben"]
    ),
    "player claims changed to the host": lambda _srv, quiz, _other: _with_claims(
        quiz.tokens["Anna"], r="host", p=0
    ),
    "expiry pushed back": lambda _srv, quiz, _other: _with_claims(
        quiz.tokens["Anna"], e=now_s() + 10 * DEFAULT_TTL_S
    ),
    "signature altered": lambda _srv, quiz, _other: (
        quiz.tokens["Anna"][:-2] + ("AA" if not quiz.tokens["Anna"].endswith("AA") else "BB")
    ),
    "signature cut off": lambda _srv, quiz, _other: quiz.tokens["Anna"].rpartition(".")[0],
    "non-ASCII letter in the claims": lambda _srv, quiz, _other: quiz.tokens["Anna"].replace(
        ".", ".é", 1
    ),
    "non-ASCII letter in the signature": lambda _srv, quiz, _other: quiz.tokens["Anna"] + "é",
    "expired": lambda srv, quiz, _other: srv.service.signer.issue(
        quiz.quiz_id, Role.PLAYER, quiz.ids["Anna"], now_s() - DEFAULT_TTL_S - 60
    ),
    "for another quiz, where that player does not exist": lambda srv, quiz, other: (
        srv.service.signer.issue(other.quiz_id, Role.PLAYER, quiz.ids["Ben"], now_s())
    ),
    "not a token": lambda _srv, _quiz, _other: "hello",
    "empty": lambda _srv, _quiz, _other: "",
}


@pytest.mark.parametrize("make", BAD_TOKENS.values(), ids=BAD_TOKENS.keys())
async def test_a_bad_token_is_refused_with_bad_token_and_close_4003(make: BadToken) -> None:
    async with running_server() as srv, contextlib.AsyncExitStack() as stack:
        quiz = await setup_quiz(srv, stack, ["Anna", "Ben"])
        other = await setup_quiz(srv, stack, [])
        token = make(srv, quiz, other)
        async with open_client(srv, "intruder") as intruder:
            await intruder.send({"type": "hello", "token": token})
            error = await intruder.expect("error")
            assert error["code"] == "bad_token", error
            assert await intruder.closed() == (4003, intruder.close_reason)
            assert not any(f["type"] == "welcome" for f in intruder.frames)
        # Over HTTP the same token reads nothing either.
        if token:  # (an empty one cannot even be sent as a header)
            response = await srv.http.get(
                f"/api/quizzes/{quiz.quiz_id}/results", headers=bearer(token)
            )
            assert response.status_code in (401, 403), response.text
        # Nothing changed for the real players.
        assert quiz.session().phase.value == "lobby"
        assert (await quiz.players["Anna"].answer(0, 0))["code"] == "question_not_open"


async def test_a_token_for_a_quiz_that_does_not_exist_closes_4004() -> None:
    async with running_server() as srv, open_client(srv, "stranger") as stranger:
        token = srv.service.signer.issue("0123456789abcdef", Role.PLAYER, 1, now_s())
        await stranger.send({"type": "hello", "token": token})
        assert (await stranger.expect("error"))["code"] == "unknown_quiz"
        assert (await stranger.closed())[0] == 4004


async def test_a_token_of_one_quiz_reads_nothing_of_another_over_http() -> None:
    async with running_server() as srv, contextlib.AsyncExitStack() as stack:
        mine = await setup_quiz(srv, stack, ["Anna"])
        other = await setup_quiz(srv, stack, ["Ben"])
        for token in (mine.host_token, mine.tokens["Anna"]):
            response = await srv.http.get(
                f"/api/quizzes/{other.quiz_id}/results", headers=bearer(token)
            )
            assert response.status_code == 403, response.text
            assert response.json()["error"]["code"] == "forbidden"


# ---------------------------------------------------------------------- roles and identity

HOST_COMMANDS: list[Frame] = [
    {"action": "start"},
    {"action": "close"},
    {"action": "next"},
    {"action": "skip"},
    {"action": "end"},
    {"action": "lock"},
    {"action": "unlock"},
    {"action": "kick", "player_id": 2},
]


async def test_a_player_cannot_run_host_commands() -> None:
    async with running_server(service=FAST) as srv, contextlib.AsyncExitStack() as stack:
        quiz = await setup_quiz(srv, stack, ["Anna", "Ben"])
        anna = quiz.players["Anna"]
        for command in HOST_COMMANDS:
            refused = await anna.host(**command)
            assert refused["type"] == "error", (command, refused)
            assert refused["code"] == "forbidden", (command, refused)
        state = (await srv.http.get(f"/api/quizzes/{quiz.pin}")).json()
        assert state["phase"] == "lobby"
        assert state["locked"] is False
        assert state["players"] == 2
        assert not any(f["type"] in ("question", "kicked") for c in quiz.clients for f in c.frames)
        # The real host still can.
        await quiz.start()


async def test_the_host_cannot_answer() -> None:
    async with running_server() as srv, contextlib.AsyncExitStack() as stack:
        quiz = await setup_quiz(srv, stack, ["Anna"])
        await quiz.start()
        refused = await quiz.host.answer(0, quiz.correct(0))
        assert refused["type"] == "error"
        assert refused["code"] == "forbidden"
        assert quiz.session().answered_count == 0


async def test_the_player_an_answer_counts_for_comes_from_the_token_not_the_message() -> None:
    async with running_server(service=FAST) as srv, contextlib.AsyncExitStack() as stack:
        quiz = await setup_quiz(srv, stack, ["Anna", "Ben", "Cleo"])
        await quiz.start()
        ben_id = quiz.ids["Ben"]
        ack = await quiz.players["Anna"].answer(
            0, quiz.correct(0), player_id=ben_id, nickname="Ben", token=quiz.tokens["Ben"]
        )
        assert ack["status"] == "accepted"
        board = await first_board_since(quiz.host, ack["seq"])
        assert board_entry(board, quiz.ids["Anna"]) == {
            "player_id": quiz.ids["Anna"],
            "nickname": "Anna",
            "score": ack["answer"]["points"],
            "rank": 1,
        }
        ben_line = board_entry(board, ben_id)
        assert ben_line is not None
        assert ben_line["score"] == 0
        # Ben has not answered: his own answer is his first.
        assert (await quiz.players["Ben"].answer(0, quiz.wrong(0)))["status"] == "accepted"


async def test_a_kicked_player_is_disconnected_everywhere_and_stays_out() -> None:
    async with running_server(service=FAST) as srv, contextlib.AsyncExitStack() as stack:
        quiz = await setup_quiz(srv, stack, ["Anna", "Ben"])
        ben = quiz.players["Ben"]
        ben_tab = await stack.enter_async_context(open_client(srv, "Ben#2", quiz.tokens["Ben"]))
        await quiz.start()
        assert (await ben.answer(0, quiz.correct(0)))["status"] == "accepted"

        kicked = await quiz.host.host("kick", player_id=quiz.ids["Ben"])
        assert kicked["type"] == "host_ack", kicked
        for connection in (ben, ben_tab):
            assert (await connection.expect("kicked"))["type"] == "kicked"
            assert (await connection.closed())[0] == 4009

        # The token is refused from now on, over the socket and over HTTP.
        async with open_client(srv, "Ben again") as again:
            await again.send({"type": "hello", "token": quiz.tokens["Ben"]})
            assert (await again.expect("error"))["code"] == "kicked"
            assert (await again.closed())[0] == 4009
        response = await srv.http.get(
            f"/api/quizzes/{quiz.quiz_id}/results", headers=bearer(quiz.tokens["Ben"])
        )
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "kicked"

        # The board forgets Ben; Anna plays on.
        board = await quiz.host.wait_for(
            lambda f: f["type"] == "board" and f["seq"] >= kicked["seq"]
        )
        assert board["players"] == 1
        assert board_entry(board, quiz.ids["Ben"]) is None
        assert (await quiz.players["Anna"].answer(0, quiz.correct(0)))["status"] == "accepted"


# ---------------------------------------------------------------------- transport protection


async def test_the_origin_allow_list_refuses_other_sites_at_the_handshake() -> None:
    good = "http://good.example"
    async with running_server(origins=frozenset({good})) as srv:
        quiz = await srv.create_quiz(count=1)
        with pytest.raises(InvalidStatus) as refused:
            async with srv.connect(origin="http://evil.example"):
                pass
        assert refused.value.response.status_code == 403
        async with open_client(srv, "good", quiz["host_token"], origin=good) as host:
            assert host.frames[0]["type"] == "welcome"
        # Clients that send no Origin (apps, bots) cannot be a hijacking web page: allowed.
        async with open_client(srv, "app", quiz["host_token"]) as app:
            assert app.frames[0]["type"] == "welcome"


async def test_an_oversized_frame_closes_1009_and_the_others_play_on() -> None:
    async with running_server(service=FAST) as srv, contextlib.AsyncExitStack() as stack:
        quiz = await setup_quiz(srv, stack, ["Anna", "Ben"])
        await quiz.start()
        big = orjson.dumps({"type": "answer", "q": 0, "option": 0, "pad": "x" * 10_000}).decode()
        await quiz.players["Anna"].send(big)
        assert (await quiz.players["Anna"].closed())[0] == 1009
        await assert_others_play_on(quiz, "Ben")


async def test_a_message_flood_is_warned_then_closed_1008_and_the_others_play_on() -> None:
    async with running_server(service=FAST) as srv, contextlib.AsyncExitStack() as stack:
        quiz = await setup_quiz(srv, stack, ["Anna", "Ben"])
        await quiz.start()
        anna = quiz.players["Anna"]
        await asyncio.gather(*(anna.send({"type": "sync"}) for _ in range(60)))
        warning = await anna.expect("error")
        assert warning["code"] == "rate_limited"
        assert (await anna.closed())[0] == 1008
        await assert_others_play_on(quiz, "Ben")


async def assert_others_play_on(quiz: Quiz, name: str) -> None:
    ack = await quiz.players[name].answer(0, quiz.correct(0))
    assert ack["status"] == "accepted", ack
    board = await first_board_since(quiz.host, ack["seq"])
    line = board_entry(board, quiz.ids[name])
    assert line is not None
    assert line["score"] == ack["standing"]["score"] > 0


async def test_connections_are_limited_per_client_address() -> None:
    # ServerConfig.max_connections_per_address: "Open WebSocket connections per client address".
    async with running_server(max_connections_per_address=3) as srv:
        async with contextlib.AsyncExitStack() as stack:
            for i in range(3):
                await stack.enter_async_context(open_client(srv, f"tab{i}"))
            with pytest.raises(InvalidStatus) as refused:
                async with srv.connect():
                    pass
            assert refused.value.response.status_code == 429
        # Once those are closed, the address may connect again.
        async with open_client(srv, "later") as later:
            assert not later.is_closed


async def test_websocket_joins_are_rate_limited_per_client_address() -> None:
    # A bot opening a new socket for each fake player is still one address.
    async with running_server(service=ServiceLimits(joins_burst=3, joins_per_second=0.01)) as srv:
        quiz = await srv.create_quiz(count=1)
        codes = [await ws_join(srv, quiz["pin"], f"Bot {i}") for i in range(5)]
        assert codes == ["welcome"] * 3 + ["rate_limited"] * 2


async def test_http_and_websocket_joins_share_one_budget_per_address() -> None:
    async with running_server(service=ServiceLimits(joins_burst=3, joins_per_second=0.01)) as srv:
        quiz = await srv.create_quiz(count=1)
        await srv.join(quiz["pin"], "Anna")
        await srv.join(quiz["pin"], "Ben")
        assert await ws_join(srv, quiz["pin"], "Cleo") == "welcome"
        assert await ws_join(srv, quiz["pin"], "Dana") == "rate_limited"
        response = await srv.http.post(
            f"/api/quizzes/{quiz['pin']}/players", json={"nickname": "Emil"}
        )
        assert response.status_code == 429
        assert response.json()["error"]["code"] == "rate_limited"


async def ws_join(srv: RunningServer, pin: str, nickname: str) -> str:
    """Join over a new socket; ``"welcome"`` or the error code."""
    async with open_client(srv, nickname) as bot:
        await bot.send({"type": "join", "pin": pin, "nickname": nickname})
        frame = await bot.expect("welcome", "error")
        return str(frame.get("code", frame["type"]))


# ---------------------------------------------------------------------- the answer stays secret


@pytest.mark.parametrize("reveal", ["immediate", "at_close"])
async def test_no_frame_holds_the_answer_while_its_question_is_open(reveal: str) -> None:
    async with running_server(service=FAST) as srv, contextlib.AsyncExitStack() as stack:
        players = ["Anna", "Ben", "Cleo"]
        settings = {"reveal": reveal}
        quiz = await setup_quiz(srv, stack, players, ws_joins=["Cleo"], count=2, settings=settings)
        watched: list[Client] = list(quiz.clients)
        scores = {"Anna": 0, "Ben": 0}
        await quiz.start()
        anna, ben = quiz.players["Anna"], quiz.players["Ben"]
        for index in range(2):
            if index:
                await quiz.next(index)
            right = await anna.answer(index, quiz.correct(index))
            wrong = await ben.answer(index, quiz.wrong(index))
            for ack in (right, wrong):
                assert ack["status"] == "accepted"
                assert not leaked(ack), ack
            if reveal == "at_close":
                # Nothing about the open question yet: not right or wrong, no points, old score.
                for ack, name in ((right, "Anna"), (wrong, "Ben")):
                    assert set(ack["answer"]) == {"index", "option", "revealed"}
                    assert ack["answer"]["revealed"] is False
                    assert ack["standing"]["score"] == scores[name]
            # Every way in while the question is open: a late joiner, a second tab, a resync.
            late = await stack.enter_async_context(open_client(srv, f"Late{index}"))
            await late.join(quiz.pin, f"Late {index}")
            tab = await stack.enter_async_context(open_client(srv, f"Anna#{index}"))
            await tab.hello(quiz.tokens["Anna"])
            watched += [late, tab]
            await quiz.host.send({"type": "sync"})
            await anna.send({"type": "sync"})
            await quiz.host.expect("snapshot")
            await anna.expect("snapshot")
            for client in quiz.clients:  # (those who came in later got the board in a snapshot)
                await first_board_since(client, wrong["seq"])
            state = (await srv.http.get(f"/api/quizzes/{quiz.pin}")).text
            assert "correct" not in state
            assert (await quiz.host.host("close"))["type"] == "host_ack"
            for client in watched:
                await client.expect("closed", index=index)
            for name in scores:
                result = await quiz.players[name].expect("result", index=index)
                scores[name] = result["standing"]["score"]

        for client in watched:
            seen = [f["index"] for f in client.frames if f["type"] == "closed"]
            assert seen in ([0, 1], [1]), (client.name, seen)
            for index in seen:
                frames = while_open(client, index)
                assert frames, (client.name, index)
                leaks = [f for f in frames if leaked(f)]
                assert not leaks, (client.name, index, leaks)
                closed = next(
                    f for f in client.frames if f["type"] == "closed" and f["index"] == index
                )
                assert closed["reveal"]["correct_option"] == quiz.correct(index)


def while_open(client: Client, index: int) -> list[Frame]:
    """The frames a client got while question ``index`` was open: from the first frame showing
    it open (the question frame, or a snapshot of a client that came in later) to its close."""
    frames: list[Frame] = []
    opened = False
    for frame in client.frames:
        if frame["type"] == "closed" and frame["index"] == index:
            return frames
        question = frame.get("question") or frame.get("state", {}).get("question")
        if question is not None and question["index"] == index:
            opened = True
        if opened:
            frames.append(frame)
    raise AssertionError(f"{client.name}: question {index} never closed")


async def test_at_close_mode_hides_results_and_holds_the_board_until_the_close() -> None:
    async with running_server(service=FAST) as srv, contextlib.AsyncExitStack() as stack:
        quiz = await setup_quiz(
            srv, stack, ["Anna", "Ben", "Cleo"], settings={"reveal": "at_close"}
        )
        await quiz.start()
        anna = quiz.players["Anna"]
        ack = await anna.answer(0, quiz.correct(0))
        assert ack["answer"] == {"index": 0, "option": quiz.correct(0), "revealed": False}
        assert ack["standing"]["score"] == 0
        opened_at = len(quiz.host.frames)
        await quiz.players["Ben"].answer(0, quiz.wrong(0))
        # Boards keep coming (the answered count moves) but no score moves while it is open.
        board = await quiz.host.wait_for(
            lambda f: f["type"] == "board" and f["answered"] == 2, since=opened_at
        )
        assert all(line["score"] == 0 for line in board["top"])
        await anna.send({"type": "sync"})
        snapshot = await anna.expect("snapshot")
        assert snapshot["state"]["answer"]["revealed"] is False
        assert snapshot["state"]["player"]["score"] == 0

        assert (await quiz.host.host("close"))["type"] == "host_ack"
        result = await anna.expect("result", index=0)
        assert result["answer"]["revealed"] is True
        assert result["answer"]["correct"] is True
        points = result["answer"]["points"]
        assert points > 0
        assert result["standing"]["score"] == points
        closed = await quiz.host.expect("closed")
        board = await first_board_since(quiz.host, closed["seq"])
        line = board_entry(board, quiz.ids["Anna"])
        assert line is not None
        assert line["score"] == points


async def test_at_close_mode_own_results_over_http_do_not_tell_if_the_open_answer_was_right() -> (
    None
):
    async with running_server() as srv, contextlib.AsyncExitStack() as stack:
        quiz = await setup_quiz(srv, stack, ["Anna", "Ben"], settings={"reveal": "at_close"})
        await quiz.start()
        url = f"/api/quizzes/{quiz.quiz_id}/results"
        before = (await srv.http.get(url, headers=bearer(quiz.tokens["Anna"]))).json()
        report_before = (await srv.http.get(url, headers=bearer(quiz.host_token))).json()
        ack = await quiz.players["Anna"].answer(0, quiz.correct(0))
        assert ack["answer"]["revealed"] is False
        after = (await srv.http.get(url, headers=bearer(quiz.tokens["Anna"]))).json()
        report_after = (await srv.http.get(url, headers=bearer(quiz.host_token))).json()
        # Whatever can be read of the results must not change with the correctness of an
        # answer whose question is still open (the answered count may).
        assert after["score"] == before["score"]
        assert after["correct"] == before["correct"], (before, after)
        for line_before, line_after in zip(
            report_before["players"], report_after["players"], strict=True
        ):
            assert line_after["score"] == line_before["score"]
            assert line_after["correct"] == line_before["correct"], report_after
        assert report_after["questions"] == []


# ---------------------------------------------------------------------- floods (issue 16, part 5)


async def _hold_idle(port: int, count: int, source: str) -> list[asyncio.StreamWriter]:
    writers = []
    for _ in range(count):
        _, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
        writers.append(writer)
    return writers


async def _healthz(port: int, source: str) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    response = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    return int(response.split(b" ", 2)[1])


async def test_idle_connections_from_one_address_cannot_take_healthz_down() -> None:
    # The tester's ~21,000 idle sockets, scaled down: 60 from 127.0.0.1 against a cap of 20
    # per address and 40 in all. /healthz keeps answering, from another address and from the
    # flooding one, and the refusals are counted.
    from livequiz.transport import TransportLimits

    limits = TransportLimits(
        max_http_connections_per_address=20, max_http_connections=40, http_head_timeout_s=30
    )
    async with running_server(transport=limits) as srv:
        flood = await _hold_idle(srv.port, 60, "127.0.0.1")
        try:
            assert srv.server.transport.http.per_address("127.0.0.1") <= 20
            assert await _healthz(srv.port, "127.0.0.2") == 200
            assert await _healthz(srv.port, "127.0.0.1") == 200
            metrics = (await srv.http.get("/metrics")).text
            assert 'livequiz_http_connections_closed_total{reason="evicted"}' in metrics
        finally:
            for writer in flood:
                writer.close()


async def test_a_body_over_the_limit_gets_413_with_the_json_error_every_time() -> None:
    async with running_server() as srv:
        for size in (2 << 20, 8 << 20):
            for _ in range(20):
                reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
                head = (
                    b"POST /api/quizzes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n" % size
                )
                writer.write(head + b" " * size)
                response = await asyncio.wait_for(reader.readuntil(b"}}"), 5)
                writer.close()
                assert response.startswith(b"HTTP/1.1 413 "), response[:40]
                body = orjson.loads(response.partition(b"\r\n\r\n")[2])
                assert body["error"]["code"] == "too_large"


async def test_an_endless_body_gets_413_and_the_server_stops_reading_it() -> None:
    # A chunked body that never ends: before, the API refused it at 1 MiB and the server then
    # read and dropped the rest for as long as it came (gigabytes a minute on loopback). Now
    # the 413 comes at the limit, the server drops at most http_discard_bytes more so that a
    # client still writing reads it, then stops reading and ends the connection within
    # close_timeout_s (5 s); a quiz created afterwards from the same address is created.
    async with running_server() as srv:
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        writer.write(
            b"POST /api/quizzes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        answered = asyncio.create_task(reader.read())  # until the server ends it
        chunk = b"10000\r\n" + b" " * 0x10000 + b"\r\n"
        sent = 0
        began = time.monotonic()
        with contextlib.suppress(ConnectionError):
            while not answered.done() and time.monotonic() - began < 10:
                writer.write(chunk)
                sent += len(chunk)
                await asyncio.wait_for(writer.drain(), 10)
        response = await asyncio.wait_for(answered, 10)
        ended_after = time.monotonic() - began
        writer.close()
        assert response.startswith(b"HTTP/1.1 413 "), response[:40]
        assert orjson.loads(response.partition(b"\r\n\r\n")[2])["error"] == {
            "code": "too_large",
            "message": "the request body may be at most 1048576 bytes",
        }
        # 1 MiB + the 8 MiB dropped + what the two kernels hold (tcp_rmem's maximum: 32 MiB)
        assert sent < 64 << 20, sent
        assert ended_after < 9, ended_after
        created = await srv.http.post("/api/quizzes", json={"count": 3})
        assert created.status_code == 201, created.text
