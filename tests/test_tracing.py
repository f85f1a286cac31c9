"""Traces of an answer's path (livequiz.tracing), received by a real OTLP/HTTP collector.

The collector is a small HTTP server in the test, on a free port, that takes ``POST
/v1/traces`` and decodes the body with opentelemetry-proto's ``ExportTraceServiceRequest``, as
a real collector would. The servers are real (``running_server`` with ``otlp_endpoint``, or
``livequiz serve`` in a subprocess), and the players answer over real WebSocket connections.
What is checked is what an engineer on call would look at: the spans of each answer, under
one trace, in the order the answer went, with its ids and outcome and nothing private.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import os
import socket
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import orjson
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from livequiz import codec
from livequiz.domain.commands import Answer
from livequiz.service import ServiceLimits
from tests.integration.helpers import first_board_since, setup_quiz
from tests.server import TIMEOUT_S, running_server

FAST = ServiceLimits(tick_ms=20)


# ---------------------------------------------------------------------- the collector


@dataclass
class Span:
    """One span as the collector got it."""

    name: str
    trace_id: str
    span_id: str
    parent_id: str
    start: int
    end: int
    attributes: dict[str, Any]
    events: dict[str, int]
    resource: dict[str, Any]

    @property
    def seconds(self) -> float:
        return (self.end - self.start) / 1e9


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    return None if kind is None else getattr(value, kind)


def _attributes(pairs: Iterator[KeyValue] | Any) -> dict[str, Any]:
    return {pair.key: _value(pair.value) for pair in pairs}


@dataclass
class Collector:
    """An OTLP/HTTP traces endpoint: every request's headers and decoded spans."""

    url: str = ""
    requests: list[tuple[dict[str, str], ExportTraceServiceRequest]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def spans(self) -> list[Span]:
        with self.lock:
            requests = [request for _headers, request in self.requests]
        found = []
        for request in requests:
            for resource_spans in request.resource_spans:
                resource = _attributes(resource_spans.resource.attributes)
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        found.append(
                            Span(
                                span.name,
                                span.trace_id.hex(),
                                span.span_id.hex(),
                                span.parent_span_id.hex(),
                                span.start_time_unix_nano,
                                span.end_time_unix_nano,
                                _attributes(span.attributes),
                                {e.name: e.time_unix_nano for e in span.events},
                                resource,
                            )
                        )
        return found

    def headers(self) -> list[dict[str, str]]:
        with self.lock:
            return [headers for headers, _request in self.requests]


@contextlib.contextmanager
def otlp_collector() -> Iterator[Collector]:
    collector = Collector()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            encoding = self.headers.get("content-encoding", "")
            if encoding == "gzip":
                body = gzip.decompress(body)
            elif encoding == "deflate":
                body = zlib.decompress(body)
            if self.path != "/v1/traces":
                with collector.lock:
                    collector.refused.append(self.path)
                self.send_response(404)
                self.end_headers()
                return
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            with collector.lock:
                headers = {key.lower(): value for key, value in self.headers.items()}
                collector.requests.append((headers, request))
            answer = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    collector.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield collector
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=TIMEOUT_S)


@pytest.fixture
def collector() -> Iterator[Collector]:
    with otlp_collector() as running:
        yield running


# ---------------------------------------------------------------------- helpers


def children(spans: list[Span], parent: Span) -> dict[str, Span]:
    found = {s.name: s for s in spans if s.parent_id == parent.span_id}
    assert all(s.trace_id == parent.trace_id for s in found.values())
    return found


def assert_in_order(*times: int) -> None:
    assert list(times) == sorted(times), times


@dataclass
class Answered:
    frame: dict[str, Any]
    #: seconds from sending the answer to receiving its ack, on the client
    round_trip: float


async def answer(client: Any, index: int, option: int) -> Answered:
    sent = time.perf_counter()
    frame = await client.answer(index, option)
    return Answered(frame, time.perf_counter() - sent)


async def ack_seconds(srv: Any) -> tuple[float, float]:
    return (
        await srv.metric("livequiz_ack_seconds_count"),
        await srv.metric("livequiz_ack_seconds_sum"),
    )


# ---------------------------------------------------------------------- tracing on


async def test_each_answer_is_one_trace_from_receipt_to_its_board(
    collector: Collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a standard OTEL_* variable still applies: the collector sees the header it names
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-livequiz-test=on-call")
    async with running_server(service=FAST, otlp_endpoint=collector.url) as srv:
        async with contextlib.AsyncExitStack() as stack:
            quiz = await setup_quiz(srv, stack, ["Annabel", "Bartholomew"], count=2, seed=5)
            await quiz.start()
            ann, ben = quiz.players["Annabel"], quiz.players["Bartholomew"]
            first = await answer(ann, 0, quiz.correct(0))
            second = await answer(ben, 0, quiz.wrong(0))
            again = await answer(ann, 0, quiz.correct(0))  # the same again: a duplicate
            refused = await answer(ben, 1, 0)  # question 1 is not open
            assert first.frame["status"] == second.frame["status"] == "accepted", (first, second)
            assert again.frame["status"] == "duplicate", again.frame
            assert refused.frame["type"] == "error", refused.frame
            # both accepted answers on a board that left the server
            for client in (ann, ben):
                await first_board_since(client, second.frame["seq"])
            acks_counted, acks_sum = await ack_seconds(srv)
            instance = srv.server.store.owner_id
        assert srv.server.tracing is not None
        assert srv.server.tracing.traced == 4
    # the server stopped: what was queued was flushed to the collector

    spans = collector.spans()
    assert collector.refused == []
    roots = [s for s in spans if s.name == "answer"]
    assert len(roots) == 4
    assert all(s.parent_id == "" for s in roots)
    assert len({s.trace_id for s in roots}) == 4  # one trace per answer
    by_outcome = {s.attributes["livequiz.outcome"]: s for s in roots}
    assert set(by_outcome) == {"accepted", "duplicate", refused.frame["code"]}
    accepted = sorted(
        (s for s in roots if s.attributes["livequiz.outcome"] == "accepted"),
        key=lambda s: s.start,
    )
    assert [s.attributes["livequiz.player_id"] for s in accepted] == [
        quiz.ids["Annabel"],
        quiz.ids["Bartholomew"],
    ]
    duplicate = by_outcome["duplicate"]
    assert duplicate.attributes["livequiz.player_id"] == quiz.ids["Annabel"]
    assert by_outcome[refused.frame["code"]].attributes["livequiz.q"] == 1
    for root in roots:
        assert root.attributes["livequiz.quiz_id"] == quiz.quiz_id
        assert root.resource["service.name"] == "livequiz"
        assert root.resource["service.instance.id"] == instance
        assert root.resource["process.pid"] == os.getpid()

    for root, answered in zip(accepted, (first, second), strict=True):
        parts = children(spans, root)
        assert set(parts) == {"route", "batch", "commit", "ack", "board"}
        route, batch, commit, ack, board = (
            parts[name] for name in ("route", "batch", "commit", "ack", "board")
        )
        assert route.attributes["livequiz.route"] == "local"
        assert batch.attributes["livequiz.batch.size"] >= 1
        assert commit.attributes["livequiz.batch.id"] == batch.attributes["livequiz.batch.id"]
        assert commit.attributes["livequiz.batch.rows"] >= 1  # an accepted answer is stored
        # receive ≤ route ≤ batch (inbox, then the run) ≤ commit ≤ ack ≤ board
        assert_in_order(
            root.start,
            route.start,
            route.end,
            batch.start,
            batch.events["run"],
            batch.end,
            commit.start,
            commit.end,
            ack.start,
            ack.end,
            board.start,
            board.end,
        )
        assert ack.end == root.end == board.start  # the ack ends the answer; the board follows
        assert board.attributes["livequiz.board.seq"] >= answered.frame["seq"]
        # the server's part of the answer fits inside what the player waited for
        assert root.seconds <= answered.round_trip

    # a duplicate changed nothing: no board to wait for; a refusal, the same
    assert set(children(spans, duplicate)) == {"route", "batch", "commit", "ack"}
    assert "board" not in children(spans, by_outcome[refused.frame["code"]])

    # the spans agree with livequiz_ack_seconds (which counts acks, not refusals): the same
    # start, and ends within microseconds
    acked = [s for s in roots if s.attributes["livequiz.outcome"] != refused.frame["code"]]
    assert acks_counted == len(acked) == 3
    assert sum(s.seconds for s in acked) == pytest.approx(acks_sum, abs=0.001)
    assert sum(s.seconds for s in acked) >= acks_sum

    # no nickname (or anything a player typed or chose) in any span
    for span in spans:
        assert not any("nickname" in key or "option" in key for key in span.attributes)
        texts = {str(v) for v in [*span.attributes.values(), *span.resource.values()]}
        assert not {"Annabel", "Bartholomew"} & texts

    assert collector.headers()
    assert all(h.get("x-livequiz-test") == "on-call" for h in collector.headers())


async def test_a_sample_ratio_of_zero_traces_nothing(collector: Collector) -> None:
    async with running_server(
        service=FAST, otlp_endpoint=collector.url, trace_sample_ratio=0.0
    ) as srv:
        async with contextlib.AsyncExitStack() as stack:
            quiz = await setup_quiz(srv, stack, ["Cleo"], count=1, seed=2)
            await quiz.start()
            ack = await quiz.players["Cleo"].answer(0, quiz.correct(0))
            assert ack["status"] == "accepted", ack
        assert srv.server.tracing is not None
        assert srv.server.tracing.traced == 0
    assert collector.spans() == []


# ---------------------------------------------------------------------- across processes


async def test_an_answer_routed_over_nats_is_one_trace_across_both_processes(
    collector: Collector,
) -> None:
    from tests.integration.test_cheating import postgres_and_nats, quiz_on

    async with postgres_and_nats(otlp_endpoint=collector.url) as backend:
        async with contextlib.AsyncExitStack() as stack:
            quiz = await quiz_on(backend, stack, ["Dara"], count=1, seed=4)
            await quiz.start()
            right = backend.owner.service.store.session(quiz.quiz_id).questions[0].correct_option
            answered = await answer(quiz.players["Dara"], 0, right)
            assert answered.frame["status"] == "accepted", answered.frame
            await first_board_since(quiz.players["Dara"], answered.frame["seq"])
        entry_id = backend.entry.server.store.owner_id
        owner_id = backend.owner.server.store.owner_id
    spans = collector.spans()
    (root,) = [s for s in spans if s.name == "answer"]
    assert root.resource["service.instance.id"] == entry_id
    assert root.attributes["livequiz.route"] == "nats"
    parts = children(spans, root)
    assert set(parts) == {"route", "ack", "board"}
    route = parts["route"]
    assert route.attributes["livequiz.route"] == "nats"
    # the owner's part, under the sender's route span, in the same trace
    owned = children(spans, route)
    assert set(owned) == {"batch", "commit"}
    for span in owned.values():
        assert span.resource["service.instance.id"] == owner_id != entry_id
        assert span.attributes["livequiz.quiz_id"] == quiz.quiz_id
        assert span.attributes["livequiz.player_id"] == quiz.ids["Dara"]
        assert span.attributes["livequiz.outcome"] == "accepted"
    assert_in_order(
        root.start,
        route.start,
        owned["batch"].start,
        owned["batch"].events["run"],
        owned["batch"].end,
        owned["commit"].start,
        owned["commit"].end,
        route.end,
        parts["ack"].start,
        parts["ack"].end,
    )
    assert route.end == parts["ack"].start  # the ack waits from the owner's reply on
    board = parts["board"]
    assert board.attributes["livequiz.board.seq"] >= answered.frame["seq"]
    if not board.attributes.get("livequiz.board.before_ack"):
        # (a copy's board may overtake the ack, which waits for the copy: the span says so)
        assert parts["ack"].end <= board.end
    assert root.seconds <= answered.round_trip


def test_a_command_batch_carries_trace_parents_only_when_there_are_some() -> None:
    answer = Answer(3, 0, 1, None)
    plain = codec.CommandBatch("p0", (answer,), 5)
    assert b'"tp"' not in codec.encode(plain)  # tracing off: the batch is what it was
    assert codec.decode_commands(codec.encode(plain)).traces == {}
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    traced = codec.CommandBatch("p0", (answer, answer), 5, {1: parent})
    assert codec.decode_commands(codec.encode(traced)) == traced
    # a malformed trace parent is left out; the answers still go to the owner
    data = orjson.loads(codec.encode(traced))
    data["tp"] = [[1, 2], "x", [True, parent], [0, parent, 1]]
    decoded = codec.decode_commands(orjson.dumps(data))
    assert decoded.traces == {}
    assert decoded.items == (answer, answer)


@pytest.mark.parametrize(
    ("options", "said"),
    [
        (["--otlp-endpoint", "otel-collector:4318"], "http:// or https://"),
        (["--otlp-endpoint", "http://127.0.0.1:4318", "--trace-sample-ratio", "1.5"], "0 and 1"),
        (["--trace-sample-ratio", "0.5"], "--trace-sample-ratio needs --otlp-endpoint"),
    ],
)
def test_tracing_options_that_cannot_work_are_refused_at_start(
    options: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from livequiz.cli import main

    try:
        status: int | str | None = main(["serve", "--memory", *options])
    except SystemExit as stopped:  # argparse's way of refusing
        status = stopped.code
    assert status == 2
    assert said in capsys.readouterr().err


# ---------------------------------------------------------------------- tracing off


async def test_off_by_default_nothing_is_traced(
    collector: Collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    # even with the standard variable naming a collector, no --otlp-endpoint means no tracing
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
    async with running_server(service=FAST) as srv:
        assert srv.server.tracing is None
        assert srv.server.gateway.tracing is None
        assert srv.service.router.tracing is None
        assert srv.service.owner.tracing is None
        async with contextlib.AsyncExitStack() as stack:
            quiz = await setup_quiz(srv, stack, ["Eli"], count=1, seed=3)
            await quiz.start()
            ack = await quiz.players["Eli"].answer(0, quiz.correct(0))
            assert ack["status"] == "accepted", ack
            await first_board_since(quiz.players["Eli"], ack["seq"])
    assert collector.requests == []


#: Runs ``livequiz`` as if OpenTelemetry were not installed: any import of it fails.
WITHOUT_OPENTELEMETRY = """
import importlib.abc, sys

class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "opentelemetry" or name.startswith("opentelemetry."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NotInstalled())
from livequiz.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def serve_without_opentelemetry(*options: str) -> AsyncIterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-c", WITHOUT_OPENTELEMETRY, "serve", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(2)  # SIGINT, as Ctrl-C
            try:
                process.wait(timeout=TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def test_a_server_without_opentelemetry_installed_runs_when_tracing_is_off() -> None:
    port = _free_port()
    async with serve_without_opentelemetry("--memory", "--port", str(port)) as process:
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base) as http:
            deadline = time.monotonic() + TIMEOUT_S
            while True:
                assert process.poll() is None, process.communicate()
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get("/readyz")).status_code == 200:
                        break
                assert time.monotonic() < deadline, "the server did not start"
                await asyncio.sleep(0.05)
            created = await http.post("/api/quizzes", json={"count": 1, "seed": 1})
            assert created.status_code == 201, created.text
            joined = await http.post(
                f"/api/quizzes/{created.json()['pin']}/players", json={"nickname": "Fay"}
            )
            assert joined.status_code == 201, joined.text
        process.send_signal(2)
        _out, err = process.communicate(timeout=TIMEOUT_S)
    assert process.returncode == 0, err
    assert "Traceback" not in err


async def test_tracing_asked_for_without_opentelemetry_is_refused_naming_the_option() -> None:
    async with serve_without_opentelemetry(
        "--memory", "--port", str(_free_port()), "--otlp-endpoint", "http://127.0.0.1:4318"
    ) as process:
        _out, err = process.communicate(timeout=TIMEOUT_S)
    assert process.returncode == 2, err
    assert "--otlp-endpoint" in err
    assert "livequiz[tracing]" in err
    assert "Traceback" not in err
