"""Bad input over real sockets: each gets its error frame (or close code), and afterwards the
server is as healthy as before — ``/healthz`` answers and a fresh player can join and play."""

from __future__ import annotations

import asyncio
import contextlib
import json

import pytest

from livequiz import gateway
from tests.integration.helpers import Client, assert_healthy, open_client, setup_quiz
from tests.server import RunningServer, running_server


def dumps(message: object) -> str:
    # The standard library, not orjson: it writes integers past 64 bits, as any client may.
    return json.dumps(message)


def answer(**fields: object) -> str:
    return dumps({"type": "answer", **fields})


#: What a signed-in player may send wrongly while question 0 (of 2) is open, and the error
#: code each must get; the connection stays open.
FROM_A_PLAYER: dict[str, tuple[str, set[str]]] = {
    "not JSON": ("{not json", {"bad_json"}),
    "empty text": ("", {"bad_json"}),
    "cut short": ('{"type": "answer", "q": 0', {"bad_json"}),
    "two documents": ('{"type": "sync"} {"type": "sync"}', {"bad_json"}),
    "NaN": ('{"type": "answer", "q": 0, "option": NaN}', {"bad_json"}),
    "Infinity": ('{"type": "answer", "q": 0, "option": Infinity}', {"bad_json"}),
    "lone surrogate in a nickname": (
        '{"type": "join", "pin": "1", "nickname": "An\\ud800na"}',
        {"bad_message"},
    ),
    "nested too deep": ("[" * 2000, {"bad_message"}),
    "nested too deep in a field": (
        '{"type": "answer", "q": 0, "option": 0, "x": ' + "[" * 65 + "]" * 65 + "}",
        {"bad_message"},
    ),
    "q as 1e400": ('{"type": "answer", "q": 1e400, "option": 0}', {"bad_message"}),
    "q of 400 digits": ('{"type": "answer", "q": ' + "9" * 400 + ', "option": 0}', {"bad_message"}),
    "a list": ("[1, 2]", {"bad_message"}),
    "a string": ('"answer"', {"bad_message"}),
    "a number": ("42", {"bad_message"}),
    "null": ("null", {"bad_message"}),
    "no type": (dumps({"q": 0, "option": 1}), {"bad_message"}),
    "type not a string": (dumps({"type": 7}), {"bad_message"}),
    "unknown type": (dumps({"type": "dance"}), {"unknown_type"}),
    "q as a string": (answer(q="0", option=1), {"bad_message"}),
    "q as null": (answer(q=None, option=1), {"bad_message"}),
    "q as a float": (answer(q=0.0, option=1), {"bad_message"}),
    "option as a float": (answer(q=0, option=1.5), {"bad_message"}),
    "option as a whole float": (answer(q=0, option=1.0), {"bad_message"}),
    "option as a bool": (answer(q=0, option=True), {"bad_message"}),
    "option as a list": (answer(q=0, option=[1]), {"bad_message"}),
    "q missing": (answer(option=1), {"bad_message"}),
    "option missing": (answer(q=0), {"bad_message"}),
    "q past 32 bits": (answer(q=2**32, option=0), {"bad_message"}),
    "q past 64 bits": (answer(q=2**70, option=0), {"bad_message"}),
    "no such question": (answer(q=99, option=0), {"wrong_question"}),
    "negative question": (answer(q=-1, option=0), {"wrong_question"}),
    "a question not open yet": (answer(q=1, option=0), {"wrong_question"}),
    "no such option": (answer(q=0, option=9), {"invalid_option"}),
    "negative option": (answer(q=0, option=-1), {"invalid_option"}),
    "hello again": (dumps({"type": "hello", "token": "v1.a.b"}), {"already_authenticated"}),
    "join when signed in": (
        dumps({"type": "join", "pin": "123456", "nickname": "Eve"}),
        {"already_authenticated"},
    ),
    "hello with a number for a token": (dumps({"type": "hello", "token": 5}), {"bad_message"}),
    "hello with a huge token": (
        dumps({"type": "hello", "token": "v1." + "a" * 600}),
        {"bad_message"},
    ),
    "a host command": (dumps({"type": "host", "action": "start"}), {"forbidden"}),
}


@pytest.mark.parametrize(("frame", "codes"), FROM_A_PLAYER.values(), ids=FROM_A_PLAYER.keys())
async def test_a_bad_message_from_a_player_gets_an_error_and_changes_nothing(
    frame: str, codes: set[str]
) -> None:
    async with running_server() as srv, contextlib.AsyncExitStack() as stack:
        quiz = await setup_quiz(srv, stack, ["Anna", "Ben"], count=2)
        await quiz.start()
        anna = quiz.players["Anna"]
        error = await anna.error(frame)
        assert error["code"] in codes, error
        assert isinstance(error["message"], str)
        assert error["message"]
        if error["code"] in ("wrong_question", "invalid_option"):
            assert error["q"] == json.loads(frame)["q"]  # a refused answer names its question
        if error["code"] == "forbidden":  # a refused host message names its action
            assert error["action"] == json.loads(frame)["action"]
        if error["code"] in ("bad_json", "bad_message", "unknown_type", "already_authenticated"):
            assert "q" not in error, error
            assert "action" not in error, error
        # Nothing was taken as an answer, and the connection plays on.
        assert quiz.session().answered_count == 0
        ack = await anna.answer(0, quiz.correct(0))
        assert ack["status"] == "accepted", ack
        await assert_healthy(srv)


HOST_MISTAKES: dict[str, tuple[str, str]] = {
    "unknown action": (dumps({"type": "host", "action": "stop"}), "bad_message"),
    "action not a string": (dumps({"type": "host", "action": 1}), "bad_message"),
    "action missing": (dumps({"type": "host"}), "bad_message"),
    "kick without a player": (dumps({"type": "host", "action": "kick"}), "bad_message"),
    "kick a player id as text": (
        dumps({"type": "host", "action": "kick", "player_id": "1"}),
        "bad_message",
    ),
    "kick nobody": (dumps({"type": "host", "action": "kick", "player_id": 99}), "unknown_player"),
    "start twice": (dumps({"type": "host", "action": "start"}), "illegal_state"),
    "next while open": (dumps({"type": "host", "action": "next"}), "illegal_state"),
}


@pytest.mark.parametrize(("frame", "code"), HOST_MISTAKES.values(), ids=HOST_MISTAKES.keys())
async def test_a_bad_host_command_gets_an_error_and_the_quiz_goes_on(frame: str, code: str) -> None:
    async with running_server() as srv, contextlib.AsyncExitStack() as stack:
        quiz = await setup_quiz(srv, stack, ["Anna", "Ben"], count=2)
        await quiz.start()
        error = await quiz.host.error(frame)
        assert error["code"] == code, error
        if code != "bad_message":  # a refused (well-formed) host action names the action
            assert error["action"] == json.loads(frame)["action"]
        assert quiz.session().phase.value == "question_open"
        assert quiz.session().current == 0
        assert len(quiz.session().board) == 2
        assert (await quiz.host.host("close"))["type"] == "host_ack"
        await quiz.next(1)
        await assert_healthy(srv)


# ---------------------------------------------------------------------- before signing in


async def test_messages_before_signing_in_get_auth_required_then_hello_works() -> None:
    async with running_server() as srv, contextlib.AsyncExitStack() as stack:
        quiz = await setup_quiz(srv, stack, ["Anna"])
        async with open_client(srv, "early") as early:
            for message in (
                {"type": "answer", "q": 0, "option": 0},
                {"type": "sync"},
                {"type": "host", "action": "start"},
            ):
                assert (await early.error(message))["code"] == "auth_required"
            assert (await early.error("{oops"))["code"] == "bad_json"
            welcome = await early.hello(quiz.tokens["Anna"])
            assert welcome["state"]["player"]["nickname"] == "Anna"
        assert quiz.session().phase.value == "lobby"
        await assert_healthy(srv)


async def test_a_websocket_join_with_an_unknown_pin_gets_unknown_quiz_and_may_try_again() -> None:
    async with running_server() as srv:
        quiz = await srv.create_quiz(count=1)
        wrong_pin = "000000" if quiz["pin"] != "000000" else "000001"
        async with open_client(srv, "guest") as guest:
            for pin in (wrong_pin, "", "not a pin", "9" * 64):
                await guest.send({"type": "join", "pin": pin, "nickname": "Anna"})
                error = await guest.expect("error")
                assert error["code"] == "unknown_quiz", (pin, error)
            welcome = await guest.join(quiz["pin"], "Anna")
            assert welcome["state"]["player"]["nickname"] == "Anna"
        await assert_healthy(srv)


#: Nicknames refused when joining over the socket (the quiz already has "Anna"), with the code.
BAD_NICKNAMES: dict[str, tuple[object, str]] = {
    "one letter": ("A", "nickname_invalid"),
    "empty": ("", "nickname_invalid"),
    "only spaces": ("   ", "nickname_invalid"),
    "too long": ("Abcdefghijklmnopqrstu", "nickname_invalid"),
    "markup": ("<b>Anna</b>", "nickname_invalid"),
    "an emoji": ("Anna 🎉", "nickname_invalid"),
    "control character": ("An\u0000na", "nickname_invalid"),
    "only marks": ("-_.'", "nickname_invalid"),
    "taken": ("Anna", "nickname_taken"),
    "taken in other letters": ("ANNA", "nickname_taken"),
    "taken after normalising": ("Ａｎｎａ", "nickname_taken"),
    "profane": ("bastard", "nickname_profane"),
    "far too long for the protocol": ("x" * 65, "bad_message"),
    "not text": (12, "bad_message"),
    "null": (None, "bad_message"),
}


async def test_bad_nicknames_get_their_error_and_the_same_connection_may_try_again() -> None:
    async with running_server() as srv, contextlib.AsyncExitStack() as stack:
        quiz = await setup_quiz(srv, stack, ["Anna"])
        async with open_client(srv, "guest") as guest:
            got = {}
            for case, (nickname, _code) in BAD_NICKNAMES.items():
                await guest.send({"type": "join", "pin": quiz.pin, "nickname": nickname})
                got[case] = (await guest.expect("error"))["code"]
            assert got == {case: code for case, (_n, code) in BAD_NICKNAMES.items()}
            welcome = await guest.join(quiz.pin, "Anna B")
            assert welcome["state"]["player"]["nickname"] == "Anna B"
        assert sorted(p.nickname for p in quiz.session().players.values()) == ["Anna", "Anna B"]
        await assert_healthy(srv)


async def test_joins_the_quiz_refuses_get_their_code_and_the_connection_may_try_again() -> None:
    async with running_server() as srv, contextlib.AsyncExitStack() as stack:
        locked = await setup_quiz(srv, stack, ["Anna"])
        full = await setup_quiz(srv, stack, ["Anna"], settings={"max_players": 1})
        started = await setup_quiz(srv, stack, ["Anna"], settings={"allow_late_join": False})
        over = await setup_quiz(srv, stack, ["Anna"])
        assert (await locked.host.host("lock"))["type"] == "host_ack"
        await started.start()
        assert (await over.host.host("end"))["type"] == "host_ack"
        await over.host.expect("final")

        async with open_client(srv, "guest") as guest:
            refusals = {}
            for name, quiz in (("locked", locked), ("full", full), ("started", started)):
                await guest.send({"type": "join", "pin": quiz.pin, "nickname": "Ben"})
                refusals[name] = (await guest.expect("error"))["code"]
                response = await srv.http.post(
                    f"/api/quizzes/{quiz.pin}/players", json={"nickname": "Ben"}
                )
                assert response.status_code == 403, response.text
                assert response.json()["error"]["code"] == refusals[name]
            assert refusals == {
                "locked": "lobby_locked",
                "full": "quiz_full",
                "started": "late_join_closed",
            }
            # A finished quiz's PIN names no live quiz, but a latecomer is told it finished
            await guest.send({"type": "join", "pin": over.pin, "nickname": "Ben"})
            assert (await guest.expect("error"))["code"] == "quiz_finished"
            response = await srv.http.post(
                f"/api/quizzes/{over.pin}/players", json={"nickname": "Ben"}
            )
            assert response.status_code == 410
            assert response.json()["error"]["code"] == "quiz_finished"
            assert (await srv.http.get(f"/api/quizzes/{over.pin}")).status_code == 404

            assert (await locked.host.host("unlock"))["type"] == "host_ack"
            welcome = await guest.join(locked.pin, "Ben")
            assert welcome["quiz"]["quiz_id"] == locked.quiz_id
        await assert_healthy(srv)


async def test_two_joins_on_one_connection_make_one_player() -> None:
    async with running_server() as srv:
        quiz = await srv.create_quiz(count=1)
        async with open_client(srv, "eager") as eager:
            await asyncio.gather(
                *(
                    eager.send({"type": "join", "pin": quiz["pin"], "nickname": name})
                    for name in ("Anna", "Ben")
                )
            )
            welcome = await eager.wait_for(lambda f: f["type"] == "welcome")
            error = await eager.wait_for(lambda f: f["type"] == "error")
            assert error["code"] in ("busy", "already_authenticated"), error
            session = srv.service.store.session(quiz["quiz_id"])
            assert [p.nickname for p in session.players.values()] == [
                welcome["state"]["player"]["nickname"]
            ]
        await assert_healthy(srv)


# ---------------------------------------------------------------------- closing errors


async def test_a_binary_frame_closes_1003() -> None:
    async with running_server() as srv, contextlib.AsyncExitStack() as stack:
        quiz = await setup_quiz(srv, stack, ["Anna", "Ben"])
        await quiz.players["Anna"].ws.send(b'{"type": "sync"}')
        assert (await quiz.players["Anna"].closed())[0] == 1003
        await assert_quiz_goes_on(srv, quiz.players["Ben"])


async def test_invalid_utf8_closes_1007() -> None:
    async with running_server() as srv, contextlib.AsyncExitStack() as stack:
        quiz = await setup_quiz(srv, stack, ["Anna", "Ben"])
        await quiz.players["Anna"].ws.send(b'{"type": "sync", "x": "\xff\xfe"}', text=True)
        assert (await quiz.players["Anna"].closed())[0] == 1007
        await assert_quiz_goes_on(srv, quiz.players["Ben"])


async def test_binary_and_invalid_utf8_before_signing_in_close_too() -> None:
    async with running_server() as srv:
        async with open_client(srv, "binary") as binary:
            await binary.ws.send(b"\x00\x01")
            assert (await binary.closed())[0] == 1003
        async with open_client(srv, "latin1") as latin1:
            await latin1.ws.send("café".encode("latin-1"), text=True)
            assert (await latin1.closed())[0] == 1007
        await assert_healthy(srv)


async def test_a_connection_that_never_signs_in_is_closed_4001(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with running_server() as srv, contextlib.AsyncExitStack() as stack:
        quiz = await setup_quiz(srv, stack, ["Anna"])
        # The timer starts when a connection opens: only these two get the short timeout.
        monkeypatch.setattr(gateway, "AUTH_TIMEOUT_S", 0.5)
        async with open_client(srv, "silent") as silent, open_client(srv, "chatty") as chatty:
            monkeypatch.undo()
            # Errors and refused joins do not count as signing in, nor restart the clock.
            assert (await chatty.error({"type": "sync"}))["code"] == "auth_required"
            await chatty.send({"type": "join", "pin": quiz.pin, "nickname": "A"})
            assert (await chatty.expect("error"))["code"] == "nickname_invalid"
            assert (await silent.closed(timeout=5.0))[0] == 4001
            assert (await chatty.closed(timeout=5.0))[0] == 4001
        # Signed-in connections are not timed out.
        assert not quiz.players["Anna"].is_closed
        assert not quiz.host.is_closed
        await assert_healthy(srv)


async def assert_quiz_goes_on(srv: RunningServer, player: Client) -> None:
    await player.send({"type": "sync"})
    assert (await player.expect("snapshot"))["state"]["phase"] == "lobby"
    await assert_healthy(srv)
