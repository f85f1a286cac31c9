"""The in-process bus: :class:`~livequiz.ports.Bus` for servers that share one event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from livequiz.ports import NoResponder


class _Subscription:
    def __init__(self, bus: LocalBus, subject: str, target: object) -> None:
        self._bus, self._subject, self._target = bus, subject, target
        self.active = True

    async def unsubscribe(self) -> None:
        self.active = False
        self._bus._drop(self._subject, self)


class LocalBus:
    """Publish is a deferred call per subscriber (``call_soon``: in order, never re-entrant);
    a request is an awaited call of the subject's responder."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[tuple[_Subscription, Callable[[bytes], None]]]] = {}
        self._responders: dict[str, tuple[_Subscription, Callable[[bytes], Awaitable[bytes]]]] = {}

    async def publish(self, subject: str, data: bytes) -> None:
        handlers = self._handlers.get(subject)
        if not handlers:
            return
        loop = asyncio.get_running_loop()
        for subscription, handler in handlers:
            loop.call_soon(_deliver, subscription, handler, data)

    async def subscribe(self, subject: str, handler: Callable[[bytes], None]) -> _Subscription:
        subscription = _Subscription(self, subject, handler)
        self._handlers.setdefault(subject, []).append((subscription, handler))
        return subscription

    async def serve(
        self, subject: str, responder: Callable[[bytes], Awaitable[bytes]]
    ) -> _Subscription:
        subscription = _Subscription(self, subject, responder)
        self._responders[subject] = (subscription, responder)
        return subscription

    async def request(self, subject: str, data: bytes, timeout_s: float) -> bytes:
        served = self._responders.get(subject)
        if served is None:
            raise NoResponder(subject)
        async with asyncio.timeout(timeout_s):
            return await served[1](data)

    @property
    def connected(self) -> bool:
        return True

    async def close(self) -> None:
        self._handlers.clear()
        self._responders.clear()

    def _drop(self, subject: str, subscription: _Subscription) -> None:
        handlers = self._handlers.get(subject)
        if handlers is not None:
            handlers[:] = [entry for entry in handlers if entry[0] is not subscription]
            if not handlers:
                del self._handlers[subject]
        served = self._responders.get(subject)
        if served is not None and served[0] is subscription:
            del self._responders[subject]


def _deliver(subscription: _Subscription, handler: Callable[[bytes], None], data: bytes) -> None:
    if subscription.active:
        handler(data)
