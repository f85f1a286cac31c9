"""Commands to wherever their quiz's owner is: this process, or another over the bus.

Any process accepts any player of any quiz, so the load balancer needs no stickiness. A command
for a quiz this process owns goes straight into the owner's inbox (:class:`QuizOwner.submit
<livequiz.owner.QuizOwner.submit>`); one for a quiz another process owns joins a batch per quiz,
sent once per event-loop turn as one request on the quiz's command subject, whose reply holds
every outcome in order. The reply is handed on only once this process's copy of the quiz has
caught up with it, so an ack shows the rank its own board will show.

**No owner.** While a quiz has no owner (its owner just died), a request finds nobody serving
the subject. The router then tries to take the quiz over itself — it succeeds once the dead
owner's lease has run out — and retries with backoff for up to ``retry_for_s``, after which
the command is refused as ``unavailable``. A request that went out but got no reply may have
been carried out: only answers (the core dedupes them) and presence are retried then; any other
command is refused as ``unavailable``, for the user to retry knowingly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from livequiz import codec, names
from livequiz.domain.commands import Answer, Command
from livequiz.domain.errors import ErrorCode, Rejected
from livequiz.observability import Metrics
from livequiz.owner import QuizOwner, Reply, resolver
from livequiz.ports import (
    Bus,
    BusUnavailable,
    NoResponder,
    Outcome,
    ResponderFailed,
    StorageUnavailable,
)

if TYPE_CHECKING:
    from livequiz.tracing import Tracing

log = logging.getLogger("livequiz.router")

Entry = tuple[codec.Item, Reply | None]


class Router:
    """``submit`` a command for any quiz; its reply runs once the outcome is durable."""

    def __init__(
        self,
        owner: QuizOwner,
        bus: Bus,
        metrics: Metrics,
        *,
        caught_up: Callable[[str, int], Awaitable[None]],
        request_timeout_s: float = 5.0,
        retry_for_s: float = 10.0,
    ) -> None:
        self.owner = owner
        self.bus = bus
        self.metrics = metrics
        #: Waits until this process's copy of a quiz has reached a sequence number.
        self.caught_up = caught_up
        self.request_timeout_s = request_timeout_s
        self.retry_for_s = retry_for_s
        self._pending: dict[str, list[Entry]] = {}
        #: Per quiz, resolved when it gets a new owner: requests still waiting for the old
        #: one (which may have died with them) stop waiting and go to the new one.
        self._moved: dict[str, asyncio.Future[None]] = {}
        #: Per quiz, how many requests wait on its ``_moved`` future.
        self._asking: dict[str, int] = {}
        self._flush: asyncio.Handle | None = None
        self._in_flight = 0
        self._sending: set[asyncio.Task[None]] = set()
        self._stopped = False
        #: Traces of answers (:mod:`livequiz.tracing`); ``None``, the default: off, and
        #: looked at once per batch sent to another process.
        self.tracing: Tracing | None = None

    @property
    def backlog(self) -> int:
        """Commands waiting for a batch, here or on their way to another process's owner."""
        return self.owner.backlog + self._in_flight + sum(map(len, self._pending.values()))

    def submit(self, quiz_id: str, command: Command, reply: Reply | None = None) -> None:
        if self.owner.owns(quiz_id):
            self.owner.submit(quiz_id, command, reply)
        else:
            self._queue(quiz_id, command, reply)

    def presence(self, quiz_id: str, player_id: int, present: bool) -> None:
        """This process gained its first, or lost its last, connection of a player."""
        if self.owner.owns(quiz_id):
            self.owner.presence(quiz_id, self.owner.process_id, player_id, present)
        else:
            self._queue(quiz_id, codec.Presence(player_id, present), None)

    def owner_changed(self, quiz_id: str) -> None:
        """The quiz has a new owner (announced, or this process took it over)."""
        moved = self._moved.pop(quiz_id, None)
        if moved is not None and not moved.done():
            moved.set_result(None)

    def forget(self, quiz_id: str) -> None:
        """The quiz left this process's memory: keep nothing for it that nobody waits on."""
        if quiz_id not in self._asking:
            self._moved.pop(quiz_id, None)

    async def _request(self, quiz_id: str, data: bytes) -> bytes:
        """One request to the quiz's owner; ``TimeoutError`` also when the quiz gets a new
        owner meanwhile (the old one may have died with the request)."""
        loop = asyncio.get_running_loop()
        moved = self._moved.get(quiz_id)
        if moved is None or moved.done():
            moved = self._moved[quiz_id] = loop.create_future()
        self._asking[quiz_id] = self._asking.get(quiz_id, 0) + 1
        try:
            request = asyncio.ensure_future(
                self.bus.request(names.quiz_commands(quiz_id), data, self.request_timeout_s)
            )
            waiting: set[asyncio.Future[Any]] = {request, moved}
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if request.done():
                return request.result()
            request.cancel()
            with contextlib.suppress(BaseException):
                await request
            raise TimeoutError("the quiz moved to another process while its owner was asked")
        finally:
            # Nobody asking any more: nothing to tell of a move (one future per quiz ever
            # asked would otherwise stay for the life of the process).
            left = self._asking.pop(quiz_id) - 1
            if left:
                self._asking[quiz_id] = left
            elif self._moved.get(quiz_id) is moved:
                del self._moved[quiz_id]

    # ------------------------------------------------------------------ to another process

    async def stop(self) -> None:
        """Send nothing more; what is on its way is answered ``unavailable`` (the process is
        stopping: the clients reconnect to another)."""
        self._stopped = True
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        pending, self._pending = self._pending, {}
        for entries in pending.values():
            for _item, reply in entries:
                if reply is not None:
                    reply(_unavailable())
        for task in list(self._sending):
            task.cancel()
        for task in list(self._sending):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _queue(self, quiz_id: str, item: codec.Item, reply: Reply | None) -> None:
        if self._stopped:
            if reply is not None:
                reply(_unavailable())
            return
        self._pending.setdefault(quiz_id, []).append((item, reply))
        if self._flush is None:
            self._flush = asyncio.get_running_loop().call_soon(self._send_all)

    def _send_all(self) -> None:
        self._flush = None
        pending, self._pending = self._pending, {}
        for quiz_id, entries in pending.items():
            self._in_flight += len(entries)
            task = asyncio.create_task(self._send(quiz_id, entries))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)
            task.add_done_callback(_log_failure)

    async def _send(self, quiz_id: str, entries: list[Entry]) -> None:
        try:
            outcomes = await self._deliver(quiz_id, entries)
        except Exception:
            # Whatever went wrong, every waiting client hears back (never a silent hang).
            log.exception("routing a batch failed", extra={"quiz_id": quiz_id})
            outcomes = [_unavailable()] * len(entries)
        finally:
            self._in_flight -= len(entries)
        if self.tracing is not None:
            self.tracing.replied(entries)
        for (item, reply), outcome in zip(entries, outcomes, strict=True):
            if reply is None:
                continue
            seq = codec.outcome_seq(outcome)
            if seq:
                await self.caught_up(quiz_id, seq)
            try:
                reply(outcome)
            except Exception:
                log.exception("reply failed", extra={"quiz_id": quiz_id, "item": repr(item)})

    async def _deliver(self, quiz_id: str, entries: list[Entry]) -> list[Outcome]:
        """Send the entries to the quiz's owner until they are answered or time runs out."""
        deadline = time.monotonic() + self.retry_for_s
        delay = 0.05
        if self.owner.store.known_finished(quiz_id):  # our copy says so: nobody to ask
            return [_finished()] * len(entries)
        while True:
            if self.owner.owns(quiz_id):  # we took it over meanwhile
                self.metrics.routed.labels("local").inc()
                return await self._local(quiz_id, entries)
            # The owner carries out no unrepeatable command that reaches it after we stopped
            # waiting (a partition can hold a request for as long as it lasts).
            until_ms = self.owner.clock() + int(self.request_timeout_s * 1000)
            traces = {} if self.tracing is None else self.tracing.routed(entries)
            batch = codec.CommandBatch(self.owner.process_id, _items(entries), until_ms, traces)
            data = codec.encode(batch)
            try:
                reply = await self._request(quiz_id, data)
                outcomes = list(codec.decode_outcomes(reply).outcomes)
            except NoResponder:
                # Nobody owns it right now: maybe its owner died; take it over if we may.
                self.metrics.routed.labels("no_owner").inc()
                try:
                    if await self.owner.take(quiz_id):
                        continue
                except StorageUnavailable:
                    pass
                if await self._finished(quiz_id):
                    return [_finished()] * len(entries)
            except (TimeoutError, BusUnavailable) as error:
                self.metrics.routed.labels("timeout").inc()
                log.warning("no reply from a quiz's owner: %r", error, extra={"quiz_id": quiz_id})
                # It may have been carried out: retry only what is safe to repeat.
                unsafe = [not _repeatable(item) for item, _ in entries]
                if any(unsafe):
                    return await self._retry_safe(quiz_id, entries, unsafe, deadline)
            except (codec.BadMessage, ResponderFailed):
                # A bug on one side or the other (logged there too): the commands may or may
                # not have run, so none is sent again.
                log.exception("a quiz's owner could not answer", extra={"quiz_id": quiz_id})
                self.metrics.routed.labels("failed").inc()
                return [_unavailable()] * len(entries)
            else:
                self.metrics.routed.labels("ok").inc()
                return outcomes
            if time.monotonic() + delay > deadline:
                return [_unavailable()] * len(entries)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    async def _retry_safe(
        self, quiz_id: str, entries: list[Entry], unsafe: list[bool], deadline: float
    ) -> list[Outcome]:
        safe = [entry for entry, bad in zip(entries, unsafe, strict=True) if not bad]
        outcomes = iter(
            await self._deliver(quiz_id, safe) if safe and time.monotonic() < deadline else []
        )
        return [_unavailable() if bad else next(outcomes, _unavailable()) for bad in unsafe]

    async def _local(self, quiz_id: str, entries: list[Entry]) -> list[Outcome]:
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[Outcome]] = []
        for item, _ in entries:
            future: asyncio.Future[Outcome] = loop.create_future()
            futures.append(future)
            if isinstance(item, codec.Presence):
                self.owner.presence(quiz_id, self.owner.process_id, item.player_id, item.present)
                future.set_result(_PRESENCE_DONE)
            else:
                self.owner.submit(quiz_id, item, resolver(future))
        return list(await asyncio.gather(*futures))

    async def _finished(self, quiz_id: str) -> bool:
        try:
            return await self.owner.store.records.is_finished(quiz_id)
        except Exception:
            return False


_PRESENCE_DONE: Outcome = Rejected(ErrorCode.ILLEGAL_STATE, "presence has no outcome")


def _items(entries: list[Entry]) -> tuple[codec.Item, ...]:
    return tuple(item for item, _ in entries)


def _repeatable(item: codec.Item) -> bool:
    """Whether carrying an item out twice is the same as once (the core dedupes answers)."""
    return isinstance(item, codec.Presence | Answer)


def _unavailable() -> Rejected:
    return Rejected(
        ErrorCode.UNAVAILABLE, "the server running this quiz cannot be reached; try again"
    )


def _finished() -> Rejected:
    return Rejected(ErrorCode.QUIZ_FINISHED, "this quiz has finished")


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("routing failed", exc_info=task.exception())
