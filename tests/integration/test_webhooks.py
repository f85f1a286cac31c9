"""Results back to the learning app: a webhook receiver on this machine checks every signature,
answers 500 for a while, and still records each result set exactly once, across a restart of
the server in between; homework sends each player's results as they finish, on the embedded
default and on PostgreSQL + NATS (where every process runs a sender: still one delivery each).
"""

from __future__ import annotations

import asyncio
import http.server
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson
import pytest

from livequiz.apikeys import new_api_key
from livequiz.domain.commands import Answer, End, Start
from livequiz.service import ServiceLimits
from livequiz.webhooks import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, WebhookLimits, verify
from tests.integration.test_cheating import Backend
from tests.server import RunningServer, running_server

#: Quick retries, so failures and a restart fit in a test.
QUICK = WebhookLimits(poll_s=0.05, first_retry_s=0.2, max_retry_s=0.5, timeout_s=1.0)


@dataclass
class Receiver:
    """The learning app's webhook endpoint: answers ``failures`` times 500, then 200."""

    url: str
    failures: int = 0
    #: every request: (idempotency key, signature ok, body, status answered)
    seen: list[tuple[str, bool, dict[str, Any], int]] = field(default_factory=list)
    secrets: dict[str, str] = field(default_factory=dict)  # quiz_id → signing secret
    lock: threading.Lock = field(default_factory=threading.Lock)

    def accepted(self) -> dict[str, dict[str, Any]]:
        """What the app stored: the first 2xx body of each idempotency key."""
        stored: dict[str, dict[str, Any]] = {}
        for key, _, body, status in self.seen:
            if status == 200:
                stored.setdefault(key, body)
        return stored


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers["content-length"]))
            body = orjson.loads(raw)
            secret = state.secrets.get(body["quiz_id"], "")
            signed = verify(secret, self.headers[SIGNATURE_HEADER], raw, int(time.time()))
            with state.lock:
                failing = state.failures > 0
                state.failures -= failing
                status = 500 if failing or not signed else 200
                state.seen.append((self.headers[IDEMPOTENCY_HEADER], signed, body, status))
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/livequiz/results"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def app_key(srv: RunningServer) -> str:
    text, key = new_api_key("Lingo app", int(time.time() * 1000))
    await srv.server.store.records.add_api_key(key)
    return text


async def until(check: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_results_reach_the_app_once_through_failures_and_a_restart(
    tmp_path: Path, receiver: Receiver
) -> None:
    receiver.failures = 3
    limits = ServiceLimits(webhooks=QUICK)
    async with running_server(data_dir=tmp_path, service=limits) as first:
        key = await app_key(first)
        body = {"count": 2, "webhook_url": receiver.url}
        created = await first.http.post("/api/quizzes", json=body, headers=bearer(key))
        assert created.status_code == 201, created.text
        quiz = created.json()
        quiz_id = quiz["quiz_id"]
        receiver.secrets[quiz_id] = quiz["webhook_secret"]
        anna = await first.join(quiz["pin"], "Anna")
        await first.service.call(quiz_id, Start())
        right = first.service.store.session(quiz_id).questions[0].correct_option
        await first.service.call(quiz_id, Answer(anna["player_id"], 0, right))
        await first.service.call(quiz_id, End())
        records = first.server.store.records

        async def failed_once() -> bool:
            delivery = await records.delivery(f"{quiz_id}:finished")
            return delivery is not None and delivery.attempts >= 1

        await until(failed_once)
    assert receiver.accepted() == {}  # nothing stored by the app yet: it answered 500
    async with running_server(data_dir=tmp_path, service=limits) as second:

        async def delivered() -> bool:
            return bool(receiver.accepted())

        await until(delivered)
        await asyncio.sleep(0.6)  # longer than a retry: nothing more comes
        stored = await second.server.store.records.delivery(f"{quiz_id}:finished")
    assert stored is not None
    assert stored.delivered_at_ms is not None
    assert len(receiver.seen) == 4  # three 500s, then the 200
    assert [status for _, _, _, status in receiver.seen] == [500, 500, 500, 200]
    # Every attempt whose answer the server got is counted; one cut short by the first
    # server's stop (its retry comes 0.2 s after the first failure, as the stop begins) was
    # made but its outcome never recorded, and is sent again by the second server.
    assert len(receiver.seen) - 1 <= stored.attempts <= len(receiver.seen)
    assert {key for key, _, _, _ in receiver.seen} == {f"{quiz_id}:finished"}
    assert all(signed for _, signed, _, _ in receiver.seen)
    assert len({orjson.dumps(b) for _, _, b, _ in receiver.seen}) == 1  # the same body each time
    (result,) = receiver.accepted().values()
    assert result["type"] == "quiz.finished"
    assert result["reason"] == "ended"
    assert [(p["nickname"], p["correct"]) for p in result["results"]["players"]] == [("Anna", 1)]


async def test_a_forged_or_stale_signature_is_what_an_app_refuses() -> None:
    from livequiz.webhooks import sign

    body = b'{"id": "q:finished"}'
    now = int(time.time())
    header = sign("whsec_right", now, body)
    assert verify("whsec_right", header, body, now)
    assert not verify("whsec_wrong", header, body, now)
    assert not verify("whsec_right", header, body + b" ", now)
    assert not verify("whsec_right", header, body, now + 301)  # replayed 5 minutes later
    assert not verify("whsec_right", "v1=abc", body, now)


async def test_homework_sends_each_players_results_then_the_quiz_once(
    backend: Backend, receiver: Receiver
) -> None:
    for srv in (backend.owner, backend.entry):  # every process runs a sender
        srv.service.webhooks.limits = replace(srv.service.webhooks.limits, poll_s=0.05)
    key = await app_key(backend.owner)
    body = {
        "count": 1,
        "settings": {"pace": "self"},
        "due_at_ms": int(time.time() * 1000) + 3_600_000,
        "webhook_url": receiver.url,
    }
    created = await backend.owner.http.post("/api/quizzes", json=body, headers=bearer(key))
    quiz = created.json()
    quiz_id = quiz["quiz_id"]
    receiver.secrets[quiz_id] = quiz["webhook_secret"]
    from livequiz.domain.commands import Advance

    players = [await backend.entry.join(quiz["pin"], name) for name in ("Anna", "Ben")]
    for player in players:
        await backend.owner.service.call(quiz_id, Advance(player["player_id"]))
        await backend.owner.service.call(quiz_id, Answer(player["player_id"], 0, 0))

    async def both_players() -> bool:
        return len(receiver.accepted()) == 2

    await until(both_players)
    await backend.owner.service.call(quiz_id, End())

    async def all_three() -> bool:
        return len(receiver.accepted()) == 3

    await until(all_three)
    await asyncio.sleep(0.5)
    accepted = receiver.accepted()
    assert set(accepted) == {
        f"{quiz_id}:player:{players[0]['player_id']}",
        f"{quiz_id}:player:{players[1]['player_id']}",
        f"{quiz_id}:finished",
    }
    assert len(receiver.seen) == 3  # one POST each, whichever process sent it
    anna = accepted[f"{quiz_id}:player:{players[0]['player_id']}"]
    assert anna["type"] == "player.finished"
    assert anna["player"]["nickname"] == "Anna"
    assert anna["player"]["answered"] == 1


async def test_a_webhook_without_the_apps_key_is_refused_and_never_called(
    receiver: Receiver,
) -> None:
    """Only the learning app may make the server send requests: an anonymous host naming a
    webhook (an address of their choosing, perhaps inside the server's network) gets 403."""
    async with running_server(service=ServiceLimits(webhooks=QUICK)) as srv:
        body = {"count": 2, "webhook_url": receiver.url}
        anonymous = await srv.http.post("/api/quizzes", json=body)
        forged = await srv.http.post("/api/quizzes", json=body, headers=bearer("lq_" + "0" * 40))
        assert srv.service.store.quiz_ids() == []  # no quiz made by either
        key = await app_key(srv)
        allowed = await srv.http.post("/api/quizzes", json=body, headers=bearer(key))
        await asyncio.sleep(0.3)
    assert anonymous.status_code == 403, anonymous.text
    assert anonymous.json()["error"] == {
        "code": "forbidden",
        "message": "a webhook needs the learning app's API key as the bearer",
    }
    assert forged.status_code == 401, forged.text  # a key the server never made
    assert forged.json()["error"]["code"] == "bad_api_key"
    assert allowed.status_code == 201, allowed.text  # the same body with the app's key
    assert receiver.seen == []  # nothing was sent anywhere
