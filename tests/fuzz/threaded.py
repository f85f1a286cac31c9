"""A livequiz server on its own thread and event loop, for synchronous fuzzers.

schemathesis and Hypothesis drive their examples synchronously (``requests``, the sync
``websockets`` client), so the server cannot share the test's loop as in
:mod:`tests.server`; it runs the same :func:`~tests.server.running_server` on a thread of its
own. Every log record the server writes at WARNING or above is kept, so a test can check that
hostile input left no traceback (``server.tracebacks()``).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from types import TracebackType
from typing import Any

from tests.server import TIMEOUT_S, running_server


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class ThreadedServer:
    """``with ThreadedServer(**config_overrides) as server:`` — ``server.base_url``,
    ``server.ws_url``; stopped gracefully on leaving the block."""

    def __init__(self, **overrides: Any) -> None:
        self._overrides = overrides
        self._started: queue.Queue[tuple[str, str] | BaseException] = queue.Queue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="livequiz-fuzz-server")
        self._logs = _Collector()
        self.base_url = ""
        self.ws_url = ""

    def _run(self) -> None:
        async def serve() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            try:
                async with running_server(**self._overrides) as srv:
                    self._started.put((srv.base_url, srv.ws_url))
                    await self._stop.wait()
            except BaseException as error:
                self._started.put(error)
                raise

        asyncio.run(serve())

    def __enter__(self) -> ThreadedServer:
        logging.getLogger().addHandler(self._logs)
        self._thread.start()
        started = self._started.get(timeout=TIMEOUT_S)
        if isinstance(started, BaseException):
            raise started
        self.base_url, self.ws_url = started
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(TIMEOUT_S)
        logging.getLogger().removeHandler(self._logs)

    def problems(self) -> list[str]:
        """What the server logged at ERROR or with a traceback: a bug or an unhandled input."""
        return [
            f"{record.name}: {record.getMessage()}"
            + (
                f" ({record.exc_info[0].__name__})"
                if record.exc_info and record.exc_info[0]
                else ""
            )
            for record in self._logs.records
            if record.levelno >= logging.ERROR or record.exc_info
        ]
