"""OpenTelemetry traces of an answer's path: receive → route → batch → commit → ack → board.

Off by default. ``livequiz serve --otlp-endpoint URL`` turns it on: one trace per answer,
exported by the standard OTLP/HTTP exporter from a ``BatchSpanProcessor`` (a thread of its
own, so exporting never blocks the event loop); the standard ``OTEL_*`` variables
(``OTEL_EXPORTER_OTLP_HEADERS``, ``OTEL_BSP_*``, ``OTEL_TRACES_SAMPLER``,
``OTEL_RESOURCE_ATTRIBUTES``…) still apply through the SDK. For an engineer on call who wants
to see where an answer's time goes: the metrics (``livequiz_ack_seconds``…) say how often, a
trace says where.

**Why this shape.** The hot path is the project's pride (10,000 players on one process), so:

* *Off costs nothing.* Nothing here imports OpenTelemetry at module level, and no object of
  this module exists unless tracing is on: the gateway, router and owner hold ``tracing =
  None`` and check it once per answer (the gateway), once per batch (router, owner) or once per
  board chunk (the board pump). No span objects, no context variables, no propagation.
* *On, spans are made after the fact.* Only the root span ``answer`` is started when the frame
  arrives, so the sampler decides at once (an answer not sampled costs one non-recording span
  and nothing more). The path then only records ``time.perf_counter()`` stamps on one small
  object that rides along as the command's reply (:class:`TracedAnswer`), and the children are
  made with those times when the ack is written. No ``contextvars`` are touched, so nothing
  leaks into other tasks, and the times are those of the metrics: the ``answer`` span runs
  from the instant ``livequiz_ack_seconds`` starts counting to just after it stops.

**The spans of one answer** (all children of ``answer``, on the process holding the socket):

* ``route``: from the frame's receipt to the owner's inbox (``livequiz.route=local``), or, for a
  quiz owned by another process, until that owner's reply came back over NATS
  (``livequiz.route=nats``);
* ``batch``: from the inbox to the end of the core's run of the batch the answer was in, with
  an event ``run`` when the owner's pump took the batch (before it: waiting in the inbox);
* ``commit``: the batch stored (the SQLite or PostgreSQL transaction). A commit is one per
  batch; every answer of the batch gets a ``commit`` child with the same times and the same
  ``livequiz.batch.id``, so the waterfall of one answer is whole (links would leave a gap);
* ``ack``: from the outcome's arrival to the ack written to the socket (on a copy, this includes
  waiting for the copy to reach the answer's sequence number);
* ``board``: from the ack to the first board frame that includes the answer
  (``board.seq >= ack.seq``) leaving this process, so it ends after its parent. Accepted answers
  only (a duplicate's score was on a board already).

A quiz owned by another process: the command batch carries each traced answer's W3C
``traceparent`` (``codec.CommandBatch.traces``, a few dozen bytes, only when tracing is on at
the sender), and the owner — if its tracing is on too — adds its own ``batch`` and ``commit``
spans under the sender's ``route`` span, in the same trace.

**Privacy.** Learners are often children: spans carry ids (``livequiz.quiz_id``,
``livequiz.player_id``), the question's index, the outcome and batch sizes, never a nickname,
the option chosen, a token or any text a user typed.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from livequiz.domain.commands import Answer, Executed
from livequiz.domain.errors import Rejected
from livequiz.domain.session import AnswerStatus

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
    from opentelemetry.trace import Span, SpanContext, Tracer

    from livequiz.ports import Outcome

log = logging.getLogger("livequiz.tracing")

#: What an operator installs to turn tracing on (``pip install 'livequiz[tracing]'``).
EXTRA = "tracing"
#: The OTLP/HTTP path of traces, appended to an endpoint given as the collector's base URL.
TRACES_PATH = "/v1/traces"
SERVICE_NAME = "livequiz"
#: How long a stopping server waits for its last spans to be exported.
SHUTDOWN_S = 5.0


class TracingUnavailable(RuntimeError):
    """Tracing was asked for (``--otlp-endpoint``) but OpenTelemetry is not installed."""


def traces_url(endpoint: str) -> str:
    """The URL spans are posted to: ``endpoint`` as the collector's base URL (as
    ``OTEL_EXPORTER_OTLP_ENDPOINT`` is), or as the full URL if it already ends in
    ``/v1/traces``."""
    endpoint = endpoint.strip()
    if endpoint.rstrip("/").endswith(TRACES_PATH):
        return endpoint.rstrip("/")
    return endpoint.rstrip("/") + TRACES_PATH


def _check_installed() -> None:
    try:
        import opentelemetry.exporter.otlp.proto.http.trace_exporter
        import opentelemetry.sdk.trace  # noqa: F401
    except ImportError as error:
        raise TracingUnavailable(
            f"--otlp-endpoint (tracing) needs the OpenTelemetry packages, which are not "
            f"installed ({error.name or error}): pip install 'livequiz[{EXTRA}]'"
        ) from None


def endpoint_option(value: str) -> str:
    """``--otlp-endpoint``: an http(s) URL, and the packages to export to it installed (said
    at once, naming the option, rather than after the server has started)."""
    if not value.strip().startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an http:// or https:// URL (the collector's OTLP/HTTP address, "
            "e.g. http://otel-collector:4318)"
        )
    try:
        _check_installed()
    except TracingUnavailable as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return value.strip()


def sample_ratio_option(value: str) -> float:
    """``--trace-sample-ratio``: a number from 0 to 1."""
    try:
        ratio = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not 0.0 <= ratio <= 1.0:
        raise argparse.ArgumentTypeError(f"{value} is not between 0 and 1")
    return ratio


class Tracing:
    """The tracer of one server, and what it keeps between an answer's ack and its board.

    Made only when tracing is on (:meth:`start`). Its provider is the server's own, never the
    global one: several servers in one process (the tests) each export their own spans, and
    nothing else in the process starts tracing because livequiz did.

    Only the root span goes through ``Tracer.start_span`` (the sampler's decision, the SDK's
    limits). The children's times are all known by the time they are made, so each is handed
    to the batch processor as a finished ``ReadableSpan``, with the root's trace id and flags
    and a fresh span id: ~15–30 µs of ``start_span`` per span (its sampler call, locks and
    attribute checks) was most of tracing's cost per answer (docs/design.md, "Monitoring").
    """

    def __init__(self, provider: TracerProvider, tracer: Tracer, processor: SpanProcessor) -> None:
        from opentelemetry.sdk.trace import Event, ReadableSpan
        from opentelemetry.sdk.util.instrumentation import InstrumentationScope
        from opentelemetry.trace import SpanContext
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        from livequiz import __version__

        self.provider = provider
        self.tracer = tracer
        self._processor = processor
        self._readable = ReadableSpan
        self._event = Event
        self._span_context = SpanContext
        self._new_span_id = provider.id_generator.generate_span_id
        self._scope = InstrumentationScope("livequiz", __version__)
        self._propagator = TraceContextTextMapPropagator()
        #: ``time.time_ns() - time.perf_counter_ns()``: the path stamps times with the cheap
        #: monotonic clock (the one the metrics use); spans want epoch nanoseconds.
        self._offset_ns = 0
        self._anchored_at = 0.0
        self._anchor()
        self._batch_ids = itertools.count(1)
        #: Per quiz, the answers waiting for a board of at least their seq to leave:
        #: ``(seq, the answer's span context, when it was acked)``.
        self._board_waiting: dict[str, list[tuple[int, SpanContext, float]]] = {}
        #: Per quiz, the newest board seq that left this process, and when.
        self._board_sent: dict[str, tuple[int, float]] = {}
        #: Answers whose root span was recording (sampled): a figure for tests and measures.
        self.traced = 0

    @classmethod
    def start(cls, endpoint: str, *, sample_ratio: float | None = None, instance: str) -> Tracing:
        """A provider with the OTLP/HTTP exporter behind a batch processor.

        ``sample_ratio``: a parent-based ratio sampler; ``None``: the SDK's own choice
        (``OTEL_TRACES_SAMPLER``, by default every trace). ``instance``: this process's id
        on the bus and in the journal's leases (``service.instance.id``).
        """
        _check_installed()
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import OTELResourceDetector, Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

        from livequiz import __version__

        ours: dict[str, Any] = {
            "service.name": SERVICE_NAME,
            "service.version": __version__,
            "service.instance.id": instance,
            "process.pid": os.getpid(),
        }
        # OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win over ours, as the standard says
        # they should (Resource.create alone would let ours win).
        resource = Resource.create({**ours, **OTELResourceDetector().detect().attributes})
        sampler = None if sample_ratio is None else ParentBased(TraceIdRatioBased(sample_ratio))
        provider = TracerProvider(sampler=sampler, resource=resource, shutdown_on_exit=False)
        processor = BatchSpanProcessor(OTLPSpanExporter(traces_url(endpoint)))
        provider.add_span_processor(processor)
        tracing = cls(provider, provider.get_tracer("livequiz", __version__), processor)
        log.info("tracing answers", extra={"endpoint": traces_url(endpoint)})
        return tracing

    def shutdown(self) -> None:
        """End the board spans still waiting, export what is queued, stop the exporter
        (blocking: call it off the event loop). A collector that does not answer holds a
        stopping server up for about ``SHUTDOWN_S`` and the exporter's own timeout
        (``OTEL_EXPORTER_OTLP_TIMEOUT``, 10 s): the spans not sent by then are lost."""
        for quiz_id in list(self._board_waiting):
            self.forget_quiz(quiz_id)
        self._processor.force_flush(int(SHUTDOWN_S * 1000))
        self.provider.shutdown()

    # ------------------------------------------------------------------ spans

    def _anchor(self) -> None:
        self._offset_ns = time.time_ns() - time.perf_counter_ns()
        self._anchored_at = time.perf_counter()

    def ns(self, perf_s: float) -> int:
        """A ``time.perf_counter()`` reading as epoch nanoseconds (re-anchored every minute,
        so the wall clock's slewing by NTP does not pile up)."""
        if perf_s - self._anchored_at > 60.0:
            self._anchor()
        return int(perf_s * 1e9) + self._offset_ns

    def _child(self, parent: SpanContext) -> SpanContext:
        """A new span's context in the parent's trace, sampled as the parent is."""
        return self._span_context(
            parent.trace_id, self._new_span_id(), is_remote=False, trace_flags=parent.trace_flags
        )

    def _finished(
        self,
        name: str,
        parent: SpanContext,
        start: float,
        end: float,
        attributes: dict[str, Any],
        events: tuple[tuple[str, float], ...] = (),
        context: SpanContext | None = None,
    ) -> SpanContext:
        """A child span of ``parent`` from ``start`` to ``end`` (``perf_counter`` times),
        exported as it is (see the class docstring)."""
        context = context or self._child(parent)
        self._processor.on_end(
            self._readable(
                name,
                context,
                parent,
                self.provider.resource,
                attributes,
                tuple(self._event(event, timestamp=self.ns(at)) for event, at in events),
                start_time=self.ns(start),
                end_time=self.ns(max(start, end)),
                instrumentation_scope=self._scope,
            )
        )
        return context

    # ------------------------------------------------------------------ the path

    def answer(
        self,
        quiz_id: str,
        player_id: int,
        index: int,
        received_at: float,
        reply: Callable[[Outcome], None],
    ) -> Callable[[Outcome], None]:
        """The gateway got an answer frame at ``received_at``: start its trace, and return
        the reply that records its way (``reply`` itself if the sampler said no)."""
        span = self.tracer.start_span(
            "answer",
            start_time=self.ns(received_at),
            attributes={
                "livequiz.quiz_id": quiz_id,
                "livequiz.player_id": player_id,
                "livequiz.q": index,
            },
        )
        if not span.is_recording():
            return reply
        self.traced += 1
        return TracedAnswer(self, span, quiz_id, received_at, reply)

    def routed(self, entries: Iterable[tuple[object, object]]) -> dict[int, str]:
        """A batch leaves for another process's owner: give each traced answer in it its
        ``route`` span's id (once, whatever the retries), and return their W3C
        ``traceparent`` by position, for the owner to put its spans under."""
        traces: dict[int, str] = {}
        for position, (_item, reply) in enumerate(entries):
            if not isinstance(reply, TracedAnswer):
                continue
            if reply.route is None:
                reply.route = self._child(reply.span.get_span_context())
            route = reply.route
            traces[position] = (
                f"00-{route.trace_id:032x}-{route.span_id:016x}-{route.trace_flags:02x}"
            )
        return traces

    def replied(self, entries: Iterable[tuple[object, object]]) -> None:
        """The owner's reply to a routed batch came back: the ``route`` spans end."""
        now = time.perf_counter()
        for _item, reply in entries:
            if isinstance(reply, TracedAnswer) and reply.route is not None:
                reply.replied_at = now

    def remote(
        self, reply: Callable[[Outcome], None], traceparent: str, quiz_id: str, item: object
    ) -> Callable[[Outcome], None]:
        """On the owner: an answer routed here by a process that traces it (``traceparent``
        names its ``route`` span); this process's ``batch`` and ``commit`` go under it."""
        from opentelemetry.trace import get_current_span

        parent = get_current_span(
            self._propagator.extract({"traceparent": traceparent})
        ).get_span_context()
        if not parent.is_valid or not parent.trace_flags.sampled:
            return reply
        player_id, index = (item.player_id, item.index) if isinstance(item, Answer) else (-1, -1)
        return RemoteAnswer(self, parent, quiz_id, player_id, index, reply)

    def batch(
        self,
        entries: Iterable[tuple[object, object]],
        taken_at: float,
        ran_at: float,
        stored_at: float,
        rows: int,
    ) -> None:
        """The owner ran and stored a batch: its traced answers keep the times (the core's
        run ended at ``ran_at``, the commit at ``stored_at``)."""
        entries = list(entries)
        ran_at = min(max(ran_at, taken_at), stored_at)
        batch_id = next(self._batch_ids)
        size = len(entries)
        for _envelope, reply in entries:
            if isinstance(reply, _Traced):
                reply.taken_at, reply.ran_at, reply.stored_at = taken_at, ran_at, stored_at
                reply.batch = (batch_id, size, rows)

    def _batch_spans(self, traced: _Traced, parent: SpanContext, extra: Mapping[str, Any]) -> None:
        """The ``batch`` (with its ``run`` event) and ``commit`` spans of a traced command."""
        if traced.batch is None:  # refused before any batch (the server stopping…)
            return
        batch_id, size, rows = traced.batch
        about = {"livequiz.batch.id": batch_id, "livequiz.batch.size": size, **extra}
        inbox = traced.routed_at
        ran = max(inbox, traced.ran_at)
        run = (("run", max(inbox, traced.taken_at)),)
        self._finished("batch", parent, inbox, ran, about, run)
        self._finished(
            "commit", parent, ran, traced.stored_at, {**about, "livequiz.batch.rows": rows}
        )

    def _answered(
        self, answer: TracedAnswer, outcome: Outcome, called: float, acked: float
    ) -> None:
        span = answer.span
        context = span.get_span_context()
        span.set_attribute("livequiz.outcome", _outcome_name(outcome))
        if answer.route is None:
            span.set_attribute("livequiz.route", "local")
            self._finished(
                "route", context, answer.received_at, answer.routed_at, {"livequiz.route": "local"}
            )
        else:
            span.set_attribute("livequiz.route", "nats")
            if answer.replied_at == 0.0:  # no reply came back (the router gave up)
                answer.replied_at = called
            self._finished(
                "route",
                context,
                answer.received_at,
                answer.replied_at,
                {"livequiz.route": "nats"},
                context=answer.route,
            )
        self._batch_spans(answer, context, {})
        self._finished("ack", context, answer.replied_at or called, acked, {})
        span.end(self.ns(acked))
        if (
            isinstance(outcome, Executed)
            and outcome.answer is not None
            and outcome.answer.status is AnswerStatus.ACCEPTED
        ):
            self._await_board(answer.quiz_id, outcome.answer.record.seq, context, acked)

    def _await_board(self, quiz_id: str, seq: int, context: SpanContext, acked: float) -> None:
        sent = self._board_sent.get(quiz_id)
        if sent is not None and sent[0] >= seq:
            # A board with the answer left before its ack (a copy's board can overtake the
            # ack, which waits for the copy): the span says when, and that it came first.
            about = {"livequiz.board.seq": sent[0], "livequiz.board.before_ack": True}
            self._finished("board", context, sent[1], sent[1], about)
            return
        self._board_waiting.setdefault(quiz_id, []).append((seq, context, acked))

    def board_left(self, quiz_id: str, seq: int) -> None:
        """The board pump wrote board frames of a quiz current to ``seq`` (``-1``: unknown):
        the board spans of answers up to ``seq`` end."""
        if seq < 0:
            return
        now = time.perf_counter()
        self._board_sent[quiz_id] = (seq, now)
        waiting = self._board_waiting.get(quiz_id)
        if not waiting:
            return
        still = []
        for answer_seq, context, acked in waiting:
            if answer_seq <= seq:
                self._finished("board", context, acked, now, {"livequiz.board.seq": seq})
            else:
                still.append((answer_seq, context, acked))
        if still:
            self._board_waiting[quiz_id] = still
        else:
            del self._board_waiting[quiz_id]

    def forget_quiz(self, quiz_id: str) -> None:
        """No connection of the quiz is left here: no board will leave for its answers."""
        self._board_sent.pop(quiz_id, None)
        now = time.perf_counter()
        for _seq, context, acked in self._board_waiting.pop(quiz_id, ()):
            self._finished("board", context, acked, now, {"livequiz.board.sent": False})


class _Traced:
    """The stamps a traced command collects on its way through an owner's batch."""

    __slots__ = ("batch", "ran_at", "reply", "routed_at", "stored_at", "taken_at", "tracing")

    def __init__(self, tracing: Tracing, reply: Callable[[Outcome], None]) -> None:
        self.tracing = tracing
        self.reply = reply
        #: In the owner's inbox (for an answer of this process: the gateway handed it on, and
        #: the router put it straight in; the route span of a routed one ends elsewhere).
        self.routed_at = time.perf_counter()
        self.taken_at = self.ran_at = self.stored_at = 0.0
        #: ``(batch id, commands, journal rows)`` of the batch it was in, once run.
        self.batch: tuple[int, int, int] | None = None


class TracedAnswer(_Traced):
    """The reply of a traced answer: it rides along the path collecting times, and writes the
    trace when the ack is written."""

    __slots__ = ("quiz_id", "received_at", "replied_at", "route", "span")

    def __init__(
        self,
        tracing: Tracing,
        span: Span,
        quiz_id: str,
        received_at: float,
        reply: Callable[[Outcome], None],
    ) -> None:
        super().__init__(tracing, reply)
        self.span = span
        self.quiz_id = quiz_id
        self.received_at = received_at
        #: Routed to another process: its ``route`` span's context (made when the batch
        #: left) and when the owner's reply came back.
        self.route: SpanContext | None = None
        self.replied_at = 0.0

    def __call__(self, outcome: Outcome) -> None:
        called = time.perf_counter()
        try:
            self.reply(outcome)
        finally:
            acked = time.perf_counter()
            try:
                self.tracing._answered(self, outcome, called, acked)
            except Exception:
                log.exception("tracing an answer failed", extra={"quiz_id": self.quiz_id})


class RemoteAnswer(_Traced):
    """On the owner: the reply of an answer another process traces."""

    __slots__ = ("index", "parent", "player_id", "quiz_id")

    def __init__(
        self,
        tracing: Tracing,
        parent: SpanContext,
        quiz_id: str,
        player_id: int,
        index: int,
        reply: Callable[[Outcome], None],
    ) -> None:
        super().__init__(tracing, reply)
        self.parent = parent
        self.quiz_id = quiz_id
        self.player_id = player_id
        self.index = index

    def __call__(self, outcome: Outcome) -> None:
        try:
            self.reply(outcome)
        finally:
            try:
                about = {
                    "livequiz.quiz_id": self.quiz_id,
                    "livequiz.player_id": self.player_id,
                    "livequiz.q": self.index,
                    "livequiz.outcome": _outcome_name(outcome),
                }
                self.tracing._batch_spans(self, self.parent, about)
            except Exception:
                log.exception("tracing a routed answer failed", extra={"quiz_id": self.quiz_id})


def _outcome_name(outcome: Outcome) -> str:
    """``accepted``, ``duplicate``, ``already_answered``, or the refusal's code."""
    if isinstance(outcome, Rejected):
        return outcome.code.value
    if outcome.answer is not None:
        return outcome.answer.status.value
    return "executed"
