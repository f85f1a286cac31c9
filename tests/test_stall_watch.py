"""The event loop's watchdog: a loop held for longer than the threshold is reported once, with
the stack that held it, counted, and its end logged; a loop that keeps turning is not."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from livequiz.stall_watch import StallWatch
from tests.server import running_server

THRESHOLD_S = 0.2


def a_call_that_blocks_the_loop(seconds: float) -> None:
    time.sleep(seconds)  # what a synchronous disk, DNS or CPU-bound call does to the loop


def watch_messages(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "livequiz.stall_watch"]


async def test_a_held_loop_is_reported_once_with_the_stack_that_held_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    counted: list[int] = []
    watch = StallWatch(asyncio.get_running_loop(), THRESHOLD_S, on_stall=lambda: counted.append(1))
    with caplog.at_level(logging.WARNING, logger="livequiz.stall_watch"):
        watch.start()
        try:
            await asyncio.sleep(THRESHOLD_S * 2)  # turning: nothing to say
            assert watch_messages(caplog) == []
            a_call_that_blocks_the_loop(THRESHOLD_S * 5)  # one stall, five thresholds long
            await asyncio.sleep(THRESHOLD_S)  # turning again
        finally:
            watch.stop()

    stalled, turned = watch_messages(caplog)
    assert stalled.getMessage().startswith("the event loop has not turned for ")
    assert THRESHOLD_S <= stalled.__dict__["held_s"] <= THRESHOLD_S * 1.25 + 0.1
    stack = stalled.__dict__["stack"]
    assert "a_call_that_blocks_the_loop" in stack
    assert stack.rstrip().splitlines()[-1].strip().startswith("time.sleep(seconds)")  # innermost
    assert turned.getMessage() == "the event loop turns again"
    assert THRESHOLD_S * 5 <= turned.__dict__["held_s"] < THRESHOLD_S * 5 + 0.5
    assert counted == [1]
    assert watch.stalls == 1


async def test_two_stalls_are_two_reports() -> None:
    watch = StallWatch(asyncio.get_running_loop(), THRESHOLD_S)
    watch.start()
    try:
        for _ in range(2):
            a_call_that_blocks_the_loop(THRESHOLD_S * 2)
            await asyncio.sleep(THRESHOLD_S)
    finally:
        watch.stop()
    assert watch.stalls == 2


async def test_a_stall_under_a_tenth_of_a_second_says_how_long_it_was(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A threshold of a few milliseconds (looking for what holds the loop under load) is
    allowed; the message must say the stall's length, not round it to 0.0 s."""
    threshold = 0.02
    watch = StallWatch(asyncio.get_running_loop(), threshold)
    with caplog.at_level(logging.WARNING, logger="livequiz.stall_watch"):
        watch.start()
        try:
            a_call_that_blocks_the_loop(threshold * 4)
            await asyncio.sleep(threshold * 2)
        finally:
            watch.stop()
    stalled = watch_messages(caplog)[0]
    said = float(stalled.getMessage().removeprefix("the event loop has not turned for ").split()[0])
    assert said >= threshold
    assert said == stalled.__dict__["held_s"]


def test_a_threshold_must_be_positive() -> None:
    loop = asyncio.new_event_loop()
    try:
        with pytest.raises(ValueError, match="positive"):
            StallWatch(loop, 0)
    finally:
        loop.close()


async def test_a_server_counts_its_stalls_in_its_metrics(caplog: pytest.LogCaptureFixture) -> None:
    async with running_server(stall_warning_s=THRESHOLD_S) as srv:
        before = await srv.http.get("/metrics")
        assert "livequiz_event_loop_stalls_total 0.0" in before.text
        with caplog.at_level(logging.WARNING, logger="livequiz.stall_watch"):
            a_call_that_blocks_the_loop(THRESHOLD_S * 3)
            await asyncio.sleep(THRESHOLD_S)
        after = await srv.http.get("/metrics")
        assert "livequiz_event_loop_stalls_total 1.0" in after.text
        assert "a_call_that_blocks_the_loop" in watch_messages(caplog)[0].__dict__["stack"]


async def test_a_server_without_a_threshold_does_not_watch() -> None:
    async with running_server(stall_warning_s=None) as srv:
        a_call_that_blocks_the_loop(0.3)
        await asyncio.sleep(0.05)
        metrics = await srv.http.get("/metrics")
        assert "livequiz_event_loop_stalls_total 0.0" in metrics.text
