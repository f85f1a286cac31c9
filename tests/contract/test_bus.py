"""The Bus contract: the rules every bus adapter holds (see :class:`livequiz.ports.Bus`).

Each test runs on the in-process bus (``local``) and on NATS (``nats``, the shared server at
``LIVEQUIZ_TEST_BUS_URL``, default ``nats://127.0.0.1:4222``). A test gets two ends, ``here`` and
``there``: for NATS two connections, standing for two processes; for the in-process bus the same
bus twice. Every test uses subjects under a random prefix of its own, so tests sharing the NATS
server never see each other's messages.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from livequiz.adapters.bus_rules import ResponderFailed
from livequiz.adapters.local_bus import LocalBus
from livequiz.adapters.nats import NatsBus
from livequiz.ports import BusUnavailable, NoResponder
from tests.nats_server import shared_nats_url

AnyBus = LocalBus | NatsBus


@dataclass
class Ends:
    """Two ends of one bus, and this test's subjects."""

    here: AnyBus
    there: AnyBus
    prefix: str
    #: ``"local"`` or ``"nats"``: what :func:`open_bus` opens for this test.
    kind: str

    def subject(self, name: str) -> str:
        return f"{self.prefix}.{name}"


#: How :func:`barrier` markers start; subscribers in these tests ignore them.
BARRIER = b"\x00barrier "


class Inbox:
    """A subscriber's handler that keeps what it receives (but barrier markers) and lets a test
    wait for it."""

    def __init__(self) -> None:
        self.received: list[bytes] = []
        self._changed = asyncio.Event()

    def __call__(self, data: bytes) -> None:
        if data.startswith(BARRIER):
            return
        self.received.append(data)
        self._changed.set()

    async def wait_for(self, count: int, timeout_s: float = 5.0) -> list[bytes]:
        """Wait until ``count`` messages came; fails the test if they do not in time."""
        async with asyncio.timeout(timeout_s):
            while len(self.received) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.received


async def open_bus(kind: str, name: str, *, close_grace_s: float = 5.0) -> AnyBus:
    """A new bus of ``kind``: a LocalBus, or a connection to the shared NATS server (the test is
    skipped, loudly, if there is none)."""
    if kind == "local":
        return LocalBus(close_grace_s=close_grace_s)
    url = shared_nats_url()
    try:
        return await NatsBus.connect(
            url, name=name, first_connect_timeout_s=2.0, close_grace_s=close_grace_s
        )
    except BusUnavailable as error:
        pytest.skip(f"NATS IS NOT REACHABLE at {url} (set LIVEQUIZ_TEST_BUS_URL): {error}")


@pytest.fixture(params=["local", "nats"])
async def ends(request: pytest.FixtureRequest) -> AsyncIterator[Ends]:
    kind: str = request.param
    prefix = f"test.{uuid.uuid4().hex}"
    here = await open_bus(kind, "contract-here")
    try:
        there = here if kind == "local" else await open_bus(kind, "contract-there")
    except BaseException:
        await here.close()
        raise
    try:
        yield Ends(here, there, prefix, kind)
    finally:
        await here.close()
        await there.close()


async def barrier(ends: Ends, subject: str) -> None:
    """Return once everything ``here`` published on ``subject`` before has reached ``there``:
    a marker sent after it reaches a fresh subscriber of ``there`` (NATS keeps one publisher's
    order on a subject; the in-process bus delivers in publish order)."""
    marker = BARRIER + uuid.uuid4().bytes
    seen = asyncio.Event()

    def watch(data: bytes) -> None:
        if data == marker:
            seen.set()

    watcher = await ends.there.subscribe(subject, watch)
    await ends.here.publish(subject, marker)
    async with asyncio.timeout(5):
        await seen.wait()
    await watcher.unsubscribe()


# ---------------------------------------------------------------------- publish/subscribe


async def test_handlers_run_after_publish_returns_never_inside_it(ends: Ends) -> None:
    subject = ends.subject("news")
    inbox = Inbox()
    await ends.here.subscribe(subject, inbox)
    await ends.here.publish(subject, b"one")
    assert inbox.received == []
    assert await inbox.wait_for(1) == [b"one"]


async def test_every_subscriber_gets_every_message_in_order(ends: Ends) -> None:
    subject = ends.subject("log")
    inboxes = [Inbox(), Inbox(), Inbox()]
    await ends.there.subscribe(subject, inboxes[0])
    await ends.there.subscribe(subject, inboxes[1])
    await ends.here.subscribe(subject, inboxes[2])
    messages = [f"frame {n}".encode() for n in range(100)]
    for message in messages:
        await ends.here.publish(subject, message)
    for inbox in inboxes:
        assert await inbox.wait_for(len(messages)) == messages


async def test_ten_thousand_messages_from_one_publisher_arrive_in_order(ends: Ends) -> None:
    subject = ends.subject("seq")
    inbox = Inbox()
    await ends.there.subscribe(subject, inbox)
    messages = [n.to_bytes(4, "big") for n in range(10_000)]
    for message in messages:
        await ends.here.publish(subject, message)
    assert await inbox.wait_for(len(messages), timeout_s=20) == messages


async def test_a_message_on_another_subject_is_not_delivered(ends: Ends) -> None:
    inbox = Inbox()
    await ends.there.subscribe(ends.subject("a"), inbox)
    await ends.here.publish(ends.subject("b"), b"not for a")
    await ends.here.publish(ends.subject("a"), b"for a")
    assert await inbox.wait_for(1) == [b"for a"]
    await barrier(ends, ends.subject("a"))
    assert inbox.received == [b"for a"]


async def test_nothing_is_delivered_after_unsubscribe_even_if_already_queued(ends: Ends) -> None:
    subject = ends.subject("gone")
    inbox = Inbox()
    subscription = await ends.here.subscribe(subject, inbox)
    for n in range(5):
        await ends.here.publish(subject, b"%d" % n)
    await subscription.unsubscribe()
    await subscription.unsubscribe()  # twice does nothing
    await barrier(ends, subject)
    assert inbox.received == []


async def test_unsubscribe_in_the_middle_of_a_stream_stops_it_at_once(ends: Ends) -> None:
    subject = ends.subject("stream")
    inbox = Inbox()
    subscription = await ends.there.subscribe(subject, inbox)
    for n in range(2_000):
        await ends.here.publish(subject, n.to_bytes(4, "big"))
    await inbox.wait_for(1)
    await subscription.unsubscribe()
    count_at_unsubscribe = len(inbox.received)
    await barrier(ends, subject)
    assert len(inbox.received) == count_at_unsubscribe
    assert inbox.received == [n.to_bytes(4, "big") for n in range(count_at_unsubscribe)]


async def test_a_handler_that_raises_is_logged_and_the_subscription_goes_on(
    ends: Ends, caplog: pytest.LogCaptureFixture
) -> None:
    subject = ends.subject("fragile")
    received: list[bytes] = []

    def fragile(data: bytes) -> None:
        if data == b"poison":
            raise RuntimeError("cannot digest poison")
        if not data.startswith(BARRIER):
            received.append(data)

    await ends.there.subscribe(subject, fragile)
    with caplog.at_level(logging.ERROR):
        await ends.here.publish(subject, b"poison")
        await ends.here.publish(subject, b"bread")
        await barrier(ends, subject)
    assert received == [b"bread"]
    [record] = [r for r in caplog.records if "handler" in r.getMessage()]
    assert subject in record.getMessage()
    assert record.exc_info is not None
    assert "cannot digest poison" in str(record.exc_info[1])


async def test_a_handler_may_publish_and_unsubscribe_without_reentrancy(ends: Ends) -> None:
    subject = ends.subject("chain")
    order: list[str] = []
    subscription = None

    def first(data: bytes) -> None:
        order.append(f"first got {data.decode()}")
        if data == b"1":
            # Whatever a handler starts runs after it returns, never inside it.
            asyncio.get_running_loop().create_task(ends.here.publish(subject, b"2"))
            order.append("first returns")

    subscription = await ends.here.subscribe(subject, first)
    await ends.here.publish(subject, b"1")
    async with asyncio.timeout(5):
        while "first got 2" not in order:
            await asyncio.sleep(0.001)
    assert order == ["first got 1", "first returns", "first got 2"]
    await subscription.unsubscribe()


# ---------------------------------------------------------------------- request/reply


async def echo(data: bytes) -> bytes:
    return b"echo:" + data


async def test_request_gets_the_reply(ends: Ends) -> None:
    subject = ends.subject("cmd")
    await ends.there.serve(subject, echo)
    assert await ends.here.request(subject, b"join alice", timeout_s=5) == b"echo:join alice"
    assert await ends.there.request(subject, b"", timeout_s=5) == b"echo:"


async def test_no_responder_fails_at_once(ends: Ends) -> None:
    subject = ends.subject("nobody")
    started = time.perf_counter()
    with pytest.raises(NoResponder, match=subject):
        await ends.here.request(subject, b"hello?", timeout_s=5)
    assert time.perf_counter() - started < 1.0


async def test_a_slow_responder_times_out_and_is_not_cancelled(ends: Ends) -> None:
    subject = ends.subject("slow")
    release = asyncio.Event()
    finished = asyncio.Event()

    async def slow(data: bytes) -> bytes:
        await release.wait()
        finished.set()
        return data

    await ends.there.serve(subject, slow)
    started = time.perf_counter()
    with pytest.raises(TimeoutError, match=subject):
        await ends.here.request(subject, b"late", timeout_s=0.2)
    assert 0.2 <= time.perf_counter() - started < 1.0
    release.set()
    async with asyncio.timeout(5):
        await finished.wait()  # the work went on; its reply goes nowhere, harmlessly
    assert await ends.here.request(subject, b"in time", timeout_s=5) == b"in time"


async def test_a_responder_that_raises_fails_the_request_clearly(
    ends: Ends, caplog: pytest.LogCaptureFixture
) -> None:
    subject = ends.subject("broken")

    async def broken(data: bytes) -> bytes:
        if data == b"bad":
            raise ValueError("batch 7 is malformed")
        return b"fine"

    await ends.there.serve(subject, broken)
    with caplog.at_level(logging.ERROR), pytest.raises(ResponderFailed) as failure:
        await ends.here.request(subject, b"bad", timeout_s=5)
    assert failure.value.subject == subject
    assert failure.value.error_type == "ValueError"
    assert failure.value.error_message == "batch 7 is malformed"
    assert str(failure.value) == (
        f"the responder on {subject!r} failed: ValueError: batch 7 is malformed"
    )
    [record] = [r for r in caplog.records if "responder" in r.getMessage()]
    assert record.exc_info is not None
    assert await ends.here.request(subject, b"good", timeout_s=5) == b"fine"


async def test_a_reply_over_the_size_limit_fails_the_request(ends: Ends) -> None:
    subject = ends.subject("bloated")
    limit = ends.there.max_payload_bytes

    async def bloated(data: bytes) -> bytes:
        return b"x" * (limit + 1)

    await ends.there.serve(subject, bloated)
    with pytest.raises(ResponderFailed, match=f"{limit + 1} bytes") as failure:
        await ends.here.request(subject, b"", timeout_s=5)
    assert failure.value.error_type == "ValueError"


async def test_many_concurrent_requests_each_get_their_own_reply(ends: Ends) -> None:
    subject = ends.subject("busy")
    rng = random.Random(7)

    async def shuffled(data: bytes) -> bytes:
        await asyncio.sleep(rng.random() * 0.005)  # replies come back out of order
        return data[::-1]

    await ends.there.serve(subject, shuffled)
    requests = [f"request {n} from {end}".encode() for n in range(300) for end in ("a", "b")]
    replies = await asyncio.gather(
        *(
            (ends.here if b"from a" in data else ends.there).request(subject, data, timeout_s=10)
            for data in requests
        )
    )
    assert replies == [data[::-1] for data in requests]


async def test_after_serve_is_unsubscribed_requests_get_no_responder(ends: Ends) -> None:
    subject = ends.subject("owner")
    service = await ends.there.serve(subject, echo)
    with pytest.raises(ValueError, match="already served"):
        await ends.there.serve(subject, echo)
    assert await ends.here.request(subject, b"1", timeout_s=5) == b"echo:1"
    await service.unsubscribe()
    await service.unsubscribe()  # twice does nothing
    started = time.perf_counter()
    with pytest.raises(NoResponder):
        await ends.here.request(subject, b"2", timeout_s=5)
    assert time.perf_counter() - started < 1.0

    # another owner may take the subject over
    async def other(data: bytes) -> bytes:
        return b"other:" + data

    await ends.there.serve(subject, other)
    assert await ends.here.request(subject, b"3", timeout_s=5) == b"other:3"


async def test_interest_is_in_place_when_subscribe_serve_and_unsubscribe_return(
    ends: Ends,
) -> None:
    """Another process acting right after the call sees its effect (on NATS the call waits for
    the server's acknowledgement; without it these races are lost now and then)."""
    for attempt in range(30):
        inbox = Inbox()
        await ends.there.subscribe(ends.subject(f"log{attempt}"), inbox)
        await ends.here.publish(ends.subject(f"log{attempt}"), b"first")
        assert await inbox.wait_for(1, timeout_s=2) == [b"first"]

        service = await ends.there.serve(ends.subject(f"cmd{attempt}"), echo)
        assert await ends.here.request(ends.subject(f"cmd{attempt}"), b"x", 2) == b"echo:x"
        await service.unsubscribe()
        with pytest.raises(NoResponder):
            await ends.here.request(ends.subject(f"cmd{attempt}"), b"y", timeout_s=2)


# ---------------------------------------------------------------------- limits and closing


async def test_a_payload_over_the_limit_is_refused_naming_size_and_limit(ends: Ends) -> None:
    subject = ends.subject("big")
    limit = ends.here.max_payload_bytes
    assert limit == 1024 * 1024  # NATS's default, and the in-process bus's
    inbox = Inbox()
    await ends.there.subscribe(subject, inbox)
    await ends.there.serve(ends.subject("big-cmd"), echo)
    too_big = b"x" * (limit + 1)
    with pytest.raises(ValueError, match=f"{limit + 1} bytes.*limit of {limit} bytes"):
        await ends.here.publish(subject, too_big)
    with pytest.raises(ValueError, match=f"{limit + 1} bytes.*limit of {limit} bytes"):
        await ends.here.request(ends.subject("big-cmd"), too_big, timeout_s=5)
    just_fits = b"y" * limit
    await ends.here.publish(subject, just_fits)
    assert await inbox.wait_for(1) == [just_fits]


async def test_wildcard_and_malformed_subjects_are_refused(ends: Ends) -> None:
    for subject in (ends.subject("*"), ends.subject(">"), "a b", "", "a..b", "a.", "a\r\nPUB"):
        with pytest.raises(ValueError, match="invalid bus subject"):
            await ends.here.subscribe(subject, Inbox())
        with pytest.raises(ValueError, match="invalid bus subject"):
            await ends.here.publish(subject, b"")
        with pytest.raises(ValueError, match="invalid bus subject"):
            await ends.here.serve(subject, echo)


async def test_close_fails_waiting_requests_lets_responders_finish_and_is_idempotent(
    ends: Ends,
) -> None:
    subject = ends.subject("closing")
    release = asyncio.Event()
    finished = asyncio.Event()

    async def slow(data: bytes) -> bytes:
        await release.wait()
        finished.set()
        return data

    await ends.there.serve(subject, slow)
    waiting = asyncio.create_task(ends.here.request(subject, b"x", timeout_s=30))
    await asyncio.sleep(0.05)
    closing = asyncio.create_task(ends.here.close())
    with pytest.raises(BusUnavailable, match="closed"):
        async with asyncio.timeout(1):
            await waiting
    release.set()
    async with asyncio.timeout(5):
        await closing
        await finished.wait()
    await ends.here.close()  # twice does nothing
    assert not ends.here.connected
    with pytest.raises(BusUnavailable):
        await ends.here.publish(subject, b"after close")
    with pytest.raises(BusUnavailable):
        await ends.here.request(subject, b"after close", timeout_s=1)
    with pytest.raises(BusUnavailable):
        await ends.here.subscribe(subject, Inbox())


async def test_close_cancels_responders_still_running_after_the_grace_period(
    ends: Ends, caplog: pytest.LogCaptureFixture
) -> None:
    subject = ends.subject("stuck")
    responder_bus = await open_bus(ends.kind, "contract-closing", close_grace_s=0.1)
    requester = responder_bus if ends.kind == "local" else ends.here
    started_work = asyncio.Event()
    cancelled = asyncio.Event()

    async def stuck(data: bytes) -> bytes:
        started_work.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return data  # pragma: no cover - never reached

    await responder_bus.serve(subject, stuck)
    waiting = asyncio.create_task(requester.request(subject, b"x", timeout_s=1))
    async with asyncio.timeout(5):
        await started_work.wait()
    started = time.perf_counter()
    with caplog.at_level(logging.WARNING):
        await responder_bus.close()
    assert 0.1 <= time.perf_counter() - started < 1.0
    assert cancelled.is_set()
    assert any("cancelled 1 responders" in r.getMessage() for r in caplog.records)
    # The in-process requester shares the closed bus; over NATS the reply just never comes.
    with pytest.raises(BusUnavailable if ends.kind == "local" else TimeoutError):
        await waiting


async def test_connected_while_open(ends: Ends) -> None:
    assert ends.here.connected
    assert ends.there.connected
    assert ends.there.dropped == 0
