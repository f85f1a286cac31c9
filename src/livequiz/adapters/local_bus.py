"""The in-process bus: :class:`livequiz.ports.Bus` inside one process.

The embedded default routes every command through :meth:`LocalBus.request` — the same
request/reply path scale-out takes over NATS — so the single-process server and the many-process
one share their code paths. For that to be worth anything, this bus keeps NATS's semantics as
livequiz relies on them (the contract suite ``tests/contract/test_bus.py`` runs on both):

* **Delivery after publish, in order.** ``publish`` never calls a handler itself; handlers run
  later on the event loop, each subscriber's messages in the order they were published. A
  handler may therefore publish, subscribe or unsubscribe freely: nothing runs re-entrantly.
* **Unsubscribe is immediate.** Once :meth:`Subscription.unsubscribe` returns, the handler is
  never called again, not even for messages published before and still queued.
* **Requests run apart from the requester.** Each request runs its responder in a task of its
  own, as a NATS responder runs in another process: a requester that times out or is cancelled
  does not cancel the responder's work (the command may still be carried out, exactly as on
  NATS). Nobody serving the subject raises :class:`~livequiz.ports.NoResponder` at once; no
  reply in time raises ``TimeoutError``; a responder that raises makes the request raise
  :class:`~livequiz.adapters.bus_rules.ResponderFailed` (the original error is its
  ``__cause__``, and the traceback is logged).
* **Same limits.** Payloads over 1 MiB and wildcard subjects raise ``ValueError``, as on the
  NATS bus (:mod:`~livequiz.adapters.bus_rules`).

Cost matters: every player's command goes through ``request``. Publishing appends to one queue
and delivery drains it in a single callback per event-loop turn, so a message costs a tuple, an
append and a call — no task, no future. Measured on uvloop (this machine, 2 cores): 1.5 µs per
message published and delivered, against 4.3 µs with a ``call_soon`` per message and 15 µs with a
task per message. A request costs one task (for the isolation above), one future and one timer:
about 9 µs, against 5 µs for awaiting the responder inline, which would let a requester's
timeout cancel the responder half-way. ``bench/bus_micro.py`` measures the whole hop.

Differences from NATS that livequiz does not rely on: a request reaches only the responder, not
plain subscribers of the same subject; one subject has at most one responder in this process
(a second :meth:`LocalBus.serve` on it is a ``ValueError``); nothing is ever dropped, so
:attr:`LocalBus.dropped` stays 0.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable

from livequiz.adapters.bus_rules import (
    MAX_PAYLOAD_BYTES,
    ResponderFailed,
    check_subject,
    payload_too_large,
)
from livequiz.ports import BusUnavailable, NoResponder, Subscription

logger = logging.getLogger(__name__)

Handler = Callable[[bytes], None]
Responder = Callable[[bytes], Awaitable[bytes]]


class _Listener:
    """One subscription: its handler, and whether it still receives."""

    __slots__ = ("active", "bus", "handler", "subject")

    def __init__(self, bus: LocalBus, subject: str, handler: Handler) -> None:
        self.bus = bus
        self.subject = subject
        self.handler = handler
        self.active = True

    async def unsubscribe(self) -> None:
        if self.active:
            self.active = False
            self.bus._remove_listener(self)


class _Service:
    """One served subject: its responder, and whether it still answers."""

    __slots__ = ("active", "bus", "responder", "subject")

    def __init__(self, bus: LocalBus, subject: str, responder: Responder) -> None:
        self.bus = bus
        self.subject = subject
        self.responder = responder
        self.active = True

    async def unsubscribe(self) -> None:
        if self.active:
            self.active = False
            self.bus._remove_service(self)


class LocalBus:
    """:class:`livequiz.ports.Bus` within one process and one event loop."""

    def __init__(
        self, *, max_payload_bytes: int = MAX_PAYLOAD_BYTES, close_grace_s: float = 5.0
    ) -> None:
        #: Subscribers by subject; a tuple replaced on change, so publishing never copies.
        self._listeners: dict[str, tuple[_Listener, ...]] = {}
        self._services: dict[str, _Service] = {}
        #: Messages published but not yet delivered, for every subscriber, in publish order.
        self._undelivered: deque[tuple[_Listener, bytes]] = deque()
        self._delivery_scheduled = False
        #: Responders running now (kept referenced until done; awaited by ``close``).
        self._responding: set[asyncio.Task[None]] = set()
        #: Requests waiting for their reply (failed by ``close``).
        self._waiting: set[asyncio.Future[bytes | ResponderFailed]] = set()
        self._max_payload = max_payload_bytes
        self._close_grace_s = close_grace_s
        self._closed = False
        self._losses = 0

    @property
    def connected(self) -> bool:
        """Always true until :meth:`close` (there is nothing to lose contact with)."""
        return not self._closed

    @property
    def losses(self) -> int:
        """In-process delivery loses nothing, unless a test says it did (:meth:`lost`)."""
        return self._losses

    def lost(self) -> None:
        """Count a loss, as a NATS reconnect would (tests of what follows one)."""
        self._losses += 1

    @property
    def max_payload_bytes(self) -> int:
        """The largest payload ``publish`` and ``request`` accept."""
        return self._max_payload

    @property
    def dropped(self) -> int:
        """Messages dropped for slow subscribers: never on this bus (NATS may drop some)."""
        return 0

    # ------------------------------------------------------------------ publish/subscribe

    async def publish(self, subject: str, data: bytes) -> None:
        """Queue ``data`` for every current subscriber of ``subject``; handlers run later."""
        if self._closed:
            raise BusUnavailable("the bus is closed")
        if len(data) > self._max_payload:
            raise payload_too_large(subject, len(data), self._max_payload)
        listeners = self._listeners.get(subject)
        if not listeners:
            # Subjects with subscribers were checked when subscribed: only this path needs it.
            check_subject(subject)
            return
        undelivered = self._undelivered
        for listener in listeners:
            undelivered.append((listener, data))
        if not self._delivery_scheduled:
            self._delivery_scheduled = True
            asyncio.get_running_loop().call_soon(self._deliver)

    def _deliver(self) -> None:
        """Call the handlers of what was queued before this turn; newer messages wait a turn."""
        self._delivery_scheduled = False
        undelivered = self._undelivered
        try:
            for _ in range(len(undelivered)):
                listener, data = undelivered.popleft()
                if listener.active:
                    try:
                        listener.handler(data)
                    except Exception:
                        logger.exception(
                            "bus handler for %r raised; the subscription goes on", listener.subject
                        )
        finally:
            if undelivered and not self._delivery_scheduled:
                self._delivery_scheduled = True
                asyncio.get_running_loop().call_soon(self._deliver)

    async def subscribe(self, subject: str, handler: Handler) -> Subscription:
        """Call ``handler(data)`` on the event loop for each message published from now on."""
        if self._closed:
            raise BusUnavailable("the bus is closed")
        check_subject(subject)
        listener = _Listener(self, subject, handler)
        self._listeners[subject] = (*self._listeners.get(subject, ()), listener)
        return listener

    def _remove_listener(self, listener: _Listener) -> None:
        remaining = tuple(x for x in self._listeners.get(listener.subject, ()) if x is not listener)
        if remaining:
            self._listeners[listener.subject] = remaining
        else:
            self._listeners.pop(listener.subject, None)

    # ------------------------------------------------------------------ request/reply

    async def serve(self, subject: str, responder: Responder) -> Subscription:
        """Answer requests on ``subject`` with ``responder``; one responder per subject."""
        if self._closed:
            raise BusUnavailable("the bus is closed")
        check_subject(subject)
        if subject in self._services:
            raise ValueError(f"{subject!r} is already served on this bus")
        service = _Service(self, subject, responder)
        self._services[subject] = service
        return service

    def _remove_service(self, service: _Service) -> None:
        if self._services.get(service.subject) is service:
            del self._services[service.subject]

    async def request(self, subject: str, data: bytes, timeout_s: float) -> bytes:
        """Run the subject's responder on ``data`` in a task of its own and return its reply.

        Raises :class:`NoResponder` at once if nobody serves ``subject``, ``TimeoutError`` if
        the reply takes longer than ``timeout_s`` (the responder goes on), :class:`ResponderFailed`
        if the responder raised, and :class:`BusUnavailable` once the bus is closed.
        """
        if self._closed:
            raise BusUnavailable("the bus is closed")
        if len(data) > self._max_payload:
            raise payload_too_large(subject, len(data), self._max_payload)
        service = self._services.get(subject)
        if service is None:
            check_subject(subject)
            raise NoResponder(f"nobody serves {subject!r}")
        loop = asyncio.get_running_loop()
        answered: asyncio.Future[bytes | ResponderFailed] = loop.create_future()
        task = loop.create_task(self._answer(subject, service.responder, data, answered))
        self._responding.add(task)
        task.add_done_callback(self._responding.discard)
        timer = loop.call_later(timeout_s, _expire, answered, subject, timeout_s)
        self._waiting.add(answered)
        try:
            reply = await answered
        finally:
            timer.cancel()
            self._waiting.discard(answered)
        if isinstance(reply, ResponderFailed):
            raise reply
        return reply

    async def _answer(
        self,
        subject: str,
        responder: Responder,
        data: bytes,
        answered: asyncio.Future[bytes | ResponderFailed],
    ) -> None:
        """Run the responder and settle ``answered`` with its reply, or with what it raised
        (logged here, where it happened), unless the requester stopped waiting."""
        reply: bytes | ResponderFailed
        try:
            reply = await responder(data)
        except Exception as error:
            logger.exception("bus responder for %r raised", subject)
            reply = ResponderFailed(subject, type(error).__name__, str(error))
            reply.__cause__ = error
        else:
            if len(reply) > self._max_payload:
                too_large = payload_too_large(
                    f"the reply to {subject}", len(reply), self._max_payload
                )
                logger.error("bus responder for %r: %s", subject, too_large)
                reply = ResponderFailed(subject, "ValueError", str(too_large))
        if not answered.done():
            answered.set_result(reply)

    # ------------------------------------------------------------------ closing

    async def close(self) -> None:
        """Stop every delivery now, fail waiting requests with :class:`BusUnavailable`, and give
        running responders ``close_grace_s`` to finish before cancelling them."""
        if self._closed:
            return
        self._closed = True
        for listeners in self._listeners.values():
            for listener in listeners:
                listener.active = False
        for service in self._services.values():
            service.active = False
        self._listeners.clear()
        self._services.clear()
        self._undelivered.clear()
        for answered in self._waiting:
            if not answered.done():
                answered.set_exception(BusUnavailable("the bus was closed before the reply came"))
        self._waiting.clear()
        if self._responding:
            running = set(self._responding)
            _, late = await asyncio.wait(running, timeout=self._close_grace_s)
            for task in late:
                task.cancel()
            if late:
                logger.warning("bus closed: cancelled %d responders still running", len(late))
                await asyncio.wait(late)


def _expire(
    answered: asyncio.Future[bytes | ResponderFailed], subject: str, timeout_s: float
) -> None:
    if not answered.done():
        answered.set_exception(TimeoutError(f"no reply on {subject!r} within {timeout_s} s"))
