"""The NATS bus beyond the contract: outages, reconnects, slow consumers, the first connection.

Each test runs its own ``nats-server`` (:class:`tests.nats_server.PrivateNatsServer`) so it can
stop and restart it; the rules every bus holds are in ``tests/contract/test_bus.py``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Protocol

import pytest

from livequiz.adapters import nats as nats_adapter
from livequiz.adapters.nats import NatsBus
from livequiz.ports import BusUnavailable
from tests.nats_server import PrivateNatsServer, free_port, nats_server_binary

#: Reconnect attempts every 20–50 ms, so a test sees the bus back soon after the server.
QUICK_BACKOFF = (0.02, 0.05)


@pytest.fixture
async def server() -> AsyncIterator[PrivateNatsServer]:
    if nats_server_binary() is None:
        pytest.skip(
            "NO nats-server BINARY: apt-get install nats-server (or set LIVEQUIZ_TEST_NATS_SERVER)"
        )
    async with PrivateNatsServer() as private:
        yield private


class Connect(Protocol):
    async def __call__(
        self,
        name: str,
        *,
        reconnect_backoff_s: tuple[float, float] = QUICK_BACKOFF,
        pending_msgs_limit: int = 65_536,
    ) -> NatsBus: ...


@pytest.fixture
async def connect(server: PrivateNatsServer) -> AsyncIterator[Connect]:
    """Open NatsBus connections to the private server; all closed after the test."""
    opened: list[NatsBus] = []

    async def open_bus(
        name: str,
        *,
        reconnect_backoff_s: tuple[float, float] = QUICK_BACKOFF,
        pending_msgs_limit: int = 65_536,
    ) -> NatsBus:
        bus = await NatsBus.connect(
            server.url,
            name=name,
            first_connect_timeout_s=2,
            reconnect_backoff_s=reconnect_backoff_s,
            pending_msgs_limit=pending_msgs_limit,
        )
        opened.append(bus)
        return bus

    yield open_bus
    for bus in opened:
        await bus.close()


async def until(
    condition: Callable[[], bool], timeout_s: float = 5.0, poll_s: float = 0.005
) -> None:
    """Wait until ``condition()`` holds (fails the test after ``timeout_s``)."""
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(poll_s)


async def echo(data: bytes) -> bytes:
    return b"echo:" + data


async def test_an_outage_fails_calls_at_once_and_the_bus_recovers_by_itself(
    server: PrivateNatsServer, connect: Connect
) -> None:
    here = await connect("here")
    there = await connect("there")
    received: list[bytes] = []
    # Many subscriptions make the replay after the reconnect take a while: "connected" must
    # wait for all of them (the last one is used below).
    await asyncio.gather(*(there.serve(f"quiz.q{quiz}.cmd", echo) for quiz in range(2, 5000)))
    await there.subscribe("quiz.q1.log", received.append)
    await there.serve("quiz.q1.cmd", echo)
    await here.publish("quiz.q1.log", b"before")
    assert await here.request("quiz.q1.cmd", b"before", timeout_s=5) == b"echo:before"
    await until(lambda: received == [b"before"])

    await server.stop()
    await until(lambda: not here.connected and not there.connected)
    started = time.perf_counter()
    with pytest.raises(BusUnavailable, match="unreachable"):
        await here.publish("quiz.q1.log", b"during")
    with pytest.raises(BusUnavailable, match="unreachable"):
        await here.request("quiz.q1.cmd", b"during", timeout_s=5)
    with pytest.raises(BusUnavailable, match="unreachable"):
        await here.subscribe("quiz.q2.log", received.append)
    assert time.perf_counter() - started < 0.5
    await asyncio.sleep(0.3)  # a few reconnect attempts fail meanwhile
    assert not here.connected

    await server.start()
    await until(lambda: here.connected)
    await until(lambda: there.connected, poll_s=0)  # act the moment it says so
    # The subscription and the responder made before the outage work again, untouched.
    await here.publish("quiz.q1.log", b"after")
    assert await here.request("quiz.q1.cmd", b"after", timeout_s=5) == b"echo:after"
    await until(lambda: received == [b"before", b"after"])


async def test_a_request_in_flight_when_the_connection_drops_fails_at_once(
    server: PrivateNatsServer, connect: Connect
) -> None:
    here = await connect("here")
    there = await connect("there")
    answered = asyncio.Event()

    async def never(data: bytes) -> bytes:
        await answered.wait()
        return data

    await there.serve("quiz.q1.cmd", never)
    waiting = asyncio.create_task(here.request("quiz.q1.cmd", b"x", timeout_s=30))
    await asyncio.sleep(0.05)
    await server.stop()
    started = time.perf_counter()
    with pytest.raises(BusUnavailable, match="dropped before the reply"):
        async with asyncio.timeout(5):
            await waiting
    assert time.perf_counter() - started < 1.0
    answered.set()


async def test_the_bus_outlives_a_long_outage_and_reconnects_after_it(
    server: PrivateNatsServer, connect: Connect
) -> None:
    """Many failed attempts (nats-py gives up after 60 by default) must not close the bus."""
    bus = await connect("patient", reconnect_backoff_s=(0.002, 0.004))
    assert bus.losses == 0
    await server.stop()
    await until(lambda: not bus.connected)
    await asyncio.sleep(1.0)  # over 300 attempts, 2-4 ms apart
    assert not bus.connected
    await server.start()
    await until(lambda: bus.connected)
    # what was published meanwhile is gone: followers must catch up (Bus.losses)
    assert bus.losses == 1
    received: list[bytes] = []
    await bus.subscribe("after.outage", received.append)
    await bus.publish("after.outage", b"alive")
    await until(lambda: received == [b"alive"])


async def test_slow_consumer_drops_are_counted_and_the_rest_arrive_in_order(
    connect: Connect, caplog: pytest.LogCaptureFixture
) -> None:
    here = await connect("fast")
    there = await connect("slow", pending_msgs_limit=10)
    received: list[int] = []

    def slow(data: bytes) -> None:
        time.sleep(0.0005)  # a handler that blocks the loop: its queue overflows
        received.append(int.from_bytes(data, "big"))

    await there.subscribe("quiz.q1.log", slow)
    sent = 2_000
    with caplog.at_level(logging.WARNING):
        for n in range(sent):
            await here.publish("quiz.q1.log", n.to_bytes(4, "big"))
        await until(lambda: len(received) + there.dropped == sent, timeout_s=10)
    assert there.dropped > 0
    assert there.losses > 0  # a subscriber too slow lost messages: followers catch up
    assert here.losses == 0
    assert received == sorted(received)  # gaps, never reordering
    assert any("too slow" in r.getMessage() for r in caplog.records)
    assert here.dropped == 0


async def test_the_first_connection_fails_clearly_when_nothing_listens() -> None:
    url = f"nats://127.0.0.1:{free_port()}"
    started = time.perf_counter()
    with pytest.raises(BusUnavailable, match=f"cannot connect to NATS at {url} within 0.5 s"):
        await NatsBus.connect(url, name="nowhere", first_connect_timeout_s=0.5)
    assert time.perf_counter() - started < 2.0


async def test_close_during_an_outage_returns_promptly(
    server: PrivateNatsServer, connect: Connect
) -> None:
    bus = await connect("closing")
    await server.stop()
    await until(lambda: not bus.connected)
    started = time.perf_counter()
    await bus.close()
    assert time.perf_counter() - started < 2.0
    assert not bus.connected


async def test_a_subscription_acknowledged_too_late_counts_a_possible_loss(
    connect: Connect, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over a slow, lossy link (tests/netns/test_latency.py) the server's acknowledgement of a
    new subscription can come after ``subscribe`` stopped waiting for it: messages published
    before the interest reached the server are lost with no reconnect to say so. The late
    acknowledgement is still awaited and then counted, so followers catch up."""
    bus = await connect("slow link")
    monkeypatch.setattr(nats_adapter, "ACK_TIMEOUT_S", 0)  # every acknowledgement is too late
    received: list[bytes] = []
    await bus.subscribe("late.ack", received.append)
    await until(lambda: bus.losses == 1)
    await bus.publish("late.ack", b"here")
    await until(lambda: received == [b"here"])
    assert bus.losses == 1
