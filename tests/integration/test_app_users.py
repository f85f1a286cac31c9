"""The learning app's users over HTTP and WebSocket, on the embedded default and on PostgreSQL +
NATS (the quiz on one server, the users coming in through the other): a token the app signed
lets its user in as themselves, the same user on two devices is one player, results carry the
app's user id, and every token that is not the app's now is refused with ``bad_app_token``."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import jwt
import pytest

from tests.integration.helpers import open_client
from tests.integration.test_cheating import FAST, Backend, postgres_and_nats
from tests.server import running_server
from tests.test_openapi import APP_AUTH, app_token


@pytest.fixture(params=["embedded", "postgres+nats"])
async def app_backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    if request.param == "embedded":
        async with running_server(service=FAST, app_auth=APP_AUTH) as srv:
            yield Backend("embedded", srv, srv)
    else:
        async with postgres_and_nats(app_auth=APP_AUTH) as both:
            yield both


async def join(backend: Backend, pin: str, body: dict[str, Any]) -> Any:
    return await backend.entry.http.post(f"/api/quizzes/{pin}/players", json=body)


async def test_the_same_user_on_two_devices_is_one_player(app_backend: Backend) -> None:
    quiz = await app_backend.owner.create_quiz(count=1, settings={"identity": "app"})
    refused = await join(app_backend, quiz["pin"], {"nickname": "Anna"})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "app_sign_in_required"

    phone = await join(app_backend, quiz["pin"], {"app_token": app_token("u-42", "Anna Schmidt")})
    assert phone.status_code == 201, phone.text
    laptop = await join(app_backend, quiz["pin"], {"app_token": app_token("u-42", "Anna S.")})
    assert laptop.status_code == 201, laptop.text
    assert phone.json()["player_id"] == laptop.json()["player_id"]
    assert laptop.json()["nickname"] == "Anna Schmidt"  # the name the quiz has for her
    ben = await join(app_backend, quiz["pin"], {"app_token": app_token("u-7", "Ben")})
    assert ben.json()["player_id"] != phone.json()["player_id"]

    async with contextlib.AsyncExitStack() as stack:
        first = await stack.enter_async_context(
            open_client(app_backend.entry, "phone", phone.json()["token"])
        )
        second = await stack.enter_async_context(
            open_client(app_backend.owner, "laptop", laptop.json()["token"])
        )
        assert first.frames[0]["state"]["player"]["player_id"] == phone.json()["player_id"]
        assert second.frames[0]["state"]["player"]["player_id"] == phone.json()["player_id"]
        host = await stack.enter_async_context(
            open_client(app_backend.owner, "host", quiz["host_token"])
        )
        assert len(host.frames[0]["state"]["players"]) == 2
        await host.host("end")
        await host.expect("final")
    headers = {"authorization": f"Bearer {quiz['host_token']}"}
    results = await app_backend.entry.http.get(
        f"/api/quizzes/{quiz['quiz_id']}/results", headers=headers
    )
    assert {line["user_id"]: line["nickname"] for line in results.json()["players"]} == {
        "u-42": "Anna Schmidt",
        "u-7": "Ben",
    }


@pytest.mark.parametrize(
    ("make_token", "message"),
    [
        (lambda: app_token("u-1", "Anna", iss="https://evil.example"), "another issuer"),
        (lambda: app_token("u-1", "Anna", aud="another-service"), "another audience"),
        (lambda: app_token("u-1", "Anna", expires_in_s=-120), "expired"),
        (
            lambda: jwt.encode({"sub": "u-1", "name": "A"}, key="", algorithm="none"),
            "algorithm 'none' is not accepted",
        ),
        (lambda: app_token("u-1", "Anna")[:-4] + "AAAA", "signature"),
    ],
    ids=["issuer", "audience", "expired", "unsigned", "forged"],
)
async def test_a_token_that_is_not_the_apps_now_is_refused(
    app_backend: Backend, make_token: Callable[[], str], message: str
) -> None:
    # Made when the test runs, not when it is collected: a token good for 5 minutes made at
    # collection had expired by the time a long run reached it, and "expired" came first.
    quiz = await app_backend.owner.create_quiz(count=1, settings={"identity": "app"})
    response = await join(app_backend, quiz["pin"], {"app_token": make_token()})
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "bad_app_token"
    assert message in error["message"]
    assert app_backend.owner.service.store.session(quiz["quiz_id"]).players == {}


async def test_a_server_without_the_apps_keys_says_so() -> None:
    async with running_server() as srv:
        quiz = await srv.create_quiz(count=1)
        response = await srv.http.post(
            f"/api/quizzes/{quiz['pin']}/players", json={"app_token": app_token("u-1", "A")}
        )
    assert response.status_code == 422
    assert "no app sign-in" in response.json()["error"]["message"]


async def test_a_nickname_join_over_the_websocket_is_refused_too(app_backend: Backend) -> None:
    quiz = await app_backend.owner.create_quiz(count=1, settings={"identity": "app"})
    async with open_client(app_backend.entry, "stranger") as stranger:
        await stranger.send({"type": "join", "pin": quiz["pin"], "nickname": "Anna"})
        refusal = await stranger.expect("error", "welcome")
    assert refusal["type"] == "error"
    assert refusal["code"] == "app_sign_in_required"
