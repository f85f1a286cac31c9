"""Closed connections are freed at once, without the cyclic garbage collector.

A server process freezes the survivors of each full collection (``app.tune_runtime``): an
object frozen while alive is never looked at by the collector again, so anything that is only
freed by the collector (a reference cycle) would leak once it dies. Connections are the
objects that come and go by the thousand: a closed one must go by reference counting alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc

from livequiz.gateway import Client
from livequiz.transport.websocket import WebSocketConnection
from tests.integration.helpers import setup_quiz
from tests.server import running_server


def _alive(cls: type) -> int:
    return sum(isinstance(o, cls) for o in gc.get_objects())


async def test_closed_connections_are_freed_without_the_garbage_collector() -> None:
    async with running_server() as srv:
        gc.collect()
        gc.disable()
        try:
            before = _alive(WebSocketConnection), _alive(Client)
            async with contextlib.AsyncExitStack() as stack:
                quiz = await setup_quiz(srv, stack, [f"p{n}" for n in range(20)], count=2)
                await quiz.start()
                await quiz.players["p0"].answer(0, quiz.correct(0))
            # 21 connections (the host and 20 players) closed; wait until the server saw it
            for _ in range(250):
                if not srv.server.gateway._clients.get(quiz.quiz_id):
                    break
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.05)
            after = _alive(WebSocketConnection), _alive(Client)
        finally:
            gc.enable()
    # at most the last one may still be on its way out
    assert after[0] - before[0] <= 1, after
    assert after[1] - before[1] <= 1, after
