"""What an operator sees while a game runs: metrics that move with it, health endpoints, and
JSON log lines that carry quiz and player ids and never a token."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import io
import logging
import secrets
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from livequiz.adapters.embedded import EmbeddedRecords
from livequiz.auth import Role, TokenSigner
from livequiz.http_api import READY_CHECK_TIMEOUT_S
from livequiz.observability import JsonFormatter
from livequiz.ports import StorageUnavailable
from livequiz.service import ServiceLimits
from tests.integration.helpers import open_client, setup_quiz
from tests.integration.test_cheating import Backend
from tests.server import TIMEOUT_S, RunningServer, running_server

FAST = ServiceLimits(tick_ms=20)
#: Loggers of the client libraries the tests use, not of the server.
CLIENT_LOGGERS = ("websockets.client", "httpx", "httpcore")


async def wait_metric(srv: RunningServer, name: str, value: float, **labels: str) -> None:
    """Wait until a metric reads ``value`` (gauges and counters may lag a frame behind)."""
    deadline = time.monotonic() + TIMEOUT_S
    while (current := await srv.metric(name, **labels)) != value:
        assert time.monotonic() < deadline, f"{name}{labels} is {current}, not {value}"
        await asyncio.sleep(0.01)


async def test_metrics_move_as_the_game_moves() -> None:
    async with running_server(service=FAST) as srv:
        m = srv.metric
        assert await m("livequiz_connections") == 0
        async with contextlib.AsyncExitStack() as stack:
            quiz = await setup_quiz(srv, stack, ["Anna", "Ben", "Cleo"], ws_joins=["Cleo"])
            assert await m("livequiz_connections") == 4
            assert await m("livequiz_joins_total", via="http") == 2
            assert await m("livequiz_joins_total", via="websocket") == 1

            # Everyone sees the three players: in a board, or, for a client that connected
            # just as the last join's board went out, in its welcome (the state it starts from).
            def sees_three(frame: dict[str, Any]) -> bool:
                if frame.get("type") == "board":
                    return bool(frame["players"] == 3)
                board = frame.get("state", {}).get("leaderboard") or {}
                return frame.get("type") == "welcome" and board.get("players") == 3

            await asyncio.gather(*(client.wait_for(sees_three) for client in quiz.clients))
            got_board = [
                client
                for client in quiz.clients
                if any(f.get("type") == "board" and f["players"] == 3 for f in client.frames)
            ]
            assert len(got_board) >= 3  # every client connected before the last join
            boards_before = await m("livequiz_frames_sent_total", kind="board")
            assert boards_before >= len(got_board)  # the counter counted at least what arrived

            await quiz.start()
            anna, ben = quiz.players["Anna"], quiz.players["Ben"]
            acks = [
                await anna.answer(0, quiz.correct(0)),
                await anna.answer(0, quiz.correct(0)),
                await anna.answer(0, quiz.wrong(0)),
                await ben.answer(0, quiz.wrong(0)),
            ]
            assert [a["status"] for a in acks] == [
                "accepted",
                "duplicate",
                "already_answered",
                "accepted",
            ]
            assert await m("livequiz_answers_total", outcome="accepted") == 2
            assert await m("livequiz_answers_total", outcome="duplicate") == 1
            assert await m("livequiz_answers_total", outcome="already_answered") == 1
            assert await m("livequiz_ack_seconds_count") == len(acks)
            assert await m("livequiz_frames_sent_total", kind="ack") == len(acks)

            # Every client's board catches up; the counter counted at least what arrived.
            for client in quiz.clients:
                await client.wait_for(
                    lambda f: f["type"] == "board" and f["seq"] >= acks[-1]["seq"]
                )
            received = sum(f["type"] == "board" for c in quiz.clients for f in c.frames)
            boards = await m("livequiz_frames_sent_total", kind="board")
            assert boards >= received > boards_before

            # Errors are counted by code; a refused answer by its outcome.
            assert (await ben.error("{oops"))["code"] == "bad_json"
            assert await m("livequiz_errors_total", code="bad_json") == 1
            assert (await quiz.host.host("close"))["type"] == "host_ack"
            late = await quiz.players["Cleo"].answer(0, quiz.correct(0))
            assert late["code"] == "too_late"  # the question has closed
            assert await m("livequiz_answers_total", outcome="too_late") == 1
            assert await m("livequiz_errors_total", code="too_late") == 1
            assert await m("livequiz_frames_sent_total", kind="closed") == 4
            assert await m("livequiz_quizzes_live") == 1
            assert (await quiz.host.host("end"))["type"] == "host_ack"
            await quiz.everyone_gets("final")
            assert await m("livequiz_frames_sent_total", kind="final") == 4
            assert await m("livequiz_quizzes_live") == 0
            quiz.players["Cleo"].abort()  # a lost connection, no closing handshake
            await wait_metric(srv, "livequiz_connections", 3)
        await wait_metric(srv, "livequiz_connections", 0)


async def test_health_readiness_and_metrics_endpoints_answer() -> None:
    async with running_server() as srv:
        healthz = await srv.http.get("/healthz")
        assert healthz.status_code == 200
        assert healthz.json() == {"status": "ok"}
        readyz = await srv.http.get("/readyz")
        assert readyz.status_code == 200
        assert readyz.json() == {"status": "ready"}
        metrics = await srv.http.get("/metrics")
        assert metrics.status_code == 200
        assert metrics.headers["content-type"].startswith("text/plain")
        assert "# TYPE livequiz_connections gauge" in metrics.text


class UnsureRecords(EmbeddedRecords):
    """The embedded storage, whose readiness check fails (``down``) or hangs (``hung``) as a
    database gone or stuck would."""

    down = hung = False

    async def check(self) -> None:
        if self.hung:
            await asyncio.Event().wait()
        if self.down:
            raise StorageUnavailable("the database is unreachable")


async def test_readiness_is_a_metric_that_a_hung_storage_check_cannot_hold() -> None:
    key = secrets.token_bytes(32)
    records = UnsureRecords.over(None, key=key)
    async with running_server(records=records, key=key) as srv:
        assert await srv.metric("livequiz_ready") == 1
        records.down = True  # nobody is playing: only the check can tell
        assert (await srv.http.get("/readyz")).status_code == 503
        assert await srv.metric("livequiz_ready") == 0
        records.down = False
        assert await srv.metric("livequiz_ready") == 1
        records.hung = True
        began = time.monotonic()
        assert await srv.metric("livequiz_ready") == 0  # the scrape still answers
        assert time.monotonic() - began < READY_CHECK_TIMEOUT_S + 2
        records.hung = False
        assert await srv.metric("livequiz_ready") == 1
    await records.close()


async def test_garbage_collection_pauses_are_measured_by_generation() -> None:
    async with running_server() as srv:
        count = "livequiz_gc_pause_seconds_count"
        before = await srv.metric(count, generation="2")
        took = await srv.metric("livequiz_gc_pause_seconds_sum", generation="2")
        gc.collect()  # one full collection, as the interpreter runs now and then
        assert await srv.metric(count, generation="2") >= before + 1
        assert await srv.metric("livequiz_gc_pause_seconds_sum", generation="2") > took


async def test_result_frames_are_counted_once_per_frame_sent() -> None:
    async with running_server(service=FAST) as srv, contextlib.AsyncExitStack() as stack:
        quiz = await setup_quiz(srv, stack, ["Anna", "Ben"])
        await quiz.start()
        for client in quiz.players.values():
            await client.answer(0, quiz.correct(0))
        for client in quiz.players.values():
            await client.expect("result", index=0)
        received = sum(f["type"] == "result" for c in quiz.clients for f in c.frames)
        assert received == 2  # one per player; the host gets none
        assert await srv.metric("livequiz_frames_sent_total", kind="result") == received


async def test_a_flood_warning_is_counted_as_an_error_sent() -> None:
    async with running_server() as srv, contextlib.AsyncExitStack() as stack:
        quiz = await setup_quiz(srv, stack, ["Anna"])
        anna = quiz.players["Anna"]
        await asyncio.gather(*(anna.send({"type": "sync"}) for _ in range(60)))
        assert (await anna.expect("error"))["code"] == "rate_limited"
        assert (await anna.closed())[0] == 1008
        # livequiz_errors_total is "Errors sent to clients, by code" (HTTP 429s are counted).
        assert await srv.metric("livequiz_errors_total", code="rate_limited") == 1


# ---------------------------------------------------------------------- logs


@contextlib.contextmanager
def json_log() -> Iterator[io.StringIO]:
    """Every log record of the process, formatted by livequiz's JsonFormatter, at DEBUG."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    # The test's own clients (websockets, httpx) log each request or frame they send at DEBUG,
    # tokens included: that is the test talking, not the server.
    handler.addFilter(lambda record: not record.name.startswith(CLIENT_LOGGERS))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


async def test_logs_are_json_lines_with_ids_and_never_a_token() -> None:
    with json_log() as out:
        async with running_server(service=FAST) as srv, contextlib.AsyncExitStack() as stack:
            quiz = await setup_quiz(srv, stack, ["Anna", "Ben"], ws_joins=["Ben"])
            await quiz.start()
            for name in quiz.players:
                await quiz.players[name].answer(0, quiz.correct(0))
            forged = TokenSigner(secrets.token_bytes(32)).issue(
                quiz.quiz_id, Role.HOST, 0, int(time.time())
            )
            expired = srv.service.signer.issue(quiz.quiz_id, Role.PLAYER, 1, 0)
            for bad in (forged, expired, quiz.tokens["Anna"] + "x"):
                async with open_client(srv, "intruder") as intruder:
                    await intruder.send({"type": "hello", "token": bad})
                    assert (await intruder.closed())[0] == 4003
            response = await srv.http.get(
                f"/api/quizzes/{quiz.quiz_id}/results",
                headers={"authorization": f"Bearer {forged}"},
            )
            assert response.status_code == 401
            kicked = await quiz.host.host("kick", player_id=quiz.ids["Ben"])
            assert kicked["type"] == "host_ack"
            await quiz.players["Ben"].closed()
            assert (await quiz.host.host("end"))["type"] == "host_ack"
            await quiz.host.expect("final")
        secrets_seen = [
            quiz.host_token,
            *quiz.tokens.values(),
            forged,
            expired,
            *(token.rpartition(".")[2] for token in (quiz.host_token, *quiz.tokens.values())),
        ]
    lines = out.getvalue().splitlines()
    assert lines
    entries = []
    for line in lines:
        entry = orjson.loads(line)
        assert isinstance(entry, dict)
        assert {"ts", "level", "logger", "msg"} <= set(entry), entry
        entries.append(entry)
        for secret in secrets_seen:
            assert secret not in line, f"a token in the log: {line}"
    assert {"quiz_id": quiz.quiz_id} in [{"quiz_id": e.get("quiz_id")} for e in entries]
    authenticated = {
        (e["quiz_id"], e["player_id"], e["role"])
        for e in entries
        if e["msg"] == "connection authenticated"
    }
    assert authenticated >= {
        (quiz.quiz_id, 0, "host"),
        (quiz.quiz_id, quiz.ids["Anna"], "player"),
        (quiz.quiz_id, quiz.ids["Ben"], "player"),
    }, authenticated
    created = [e for e in entries if e["msg"] == "quiz created"]
    assert [e["quiz_id"] for e in created] == [quiz.quiz_id]


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
async def test_operator_endpoints_need_no_token(path: str) -> None:
    async with running_server() as srv:
        assert (await srv.http.get(path)).status_code == 200


async def test_each_process_reports_itself_ready_on_either_backend(backend: Backend) -> None:
    for srv in {id(s): s for s in (backend.owner, backend.entry)}.values():
        assert (await srv.http.get("/readyz")).status_code == 200
        assert await srv.metric("livequiz_ready") == 1, backend.name
