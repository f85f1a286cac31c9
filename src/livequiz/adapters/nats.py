"""The NATS bus: :class:`livequiz.ports.Bus` between processes, on nats-py.

One :class:`NatsBus` is one NATS connection. It keeps the semantics of the in-process bus
(:mod:`livequiz.adapters.local_bus`; the contract suite ``tests/contract/test_bus.py`` runs on
both) and adds what a network brings:

**Outages never end the process.** After the first connection, nats-py reconnects forever, with
an exponential backoff (``reconnect_backoff_s``, jittered) so a fleet of processes does not
hammer a restarting server. nats-py replays every subscription on the new connection, so
subscriptions and :meth:`NatsBus.serve` survive an outage without the caller doing anything.
:attr:`NatsBus.connected` tells the live state (readiness checks). A silently dead connection
(no FIN: a cable, a paused VM) is noticed by pings within about ``3 × PING_INTERVAL_S``.

**While disconnected, nothing is buffered: calls fail at once with BusUnavailable.** nats-py
would buffer publishes during a reconnect and send them after it; we refuse instead, because a
buffered frame can be lost with the process while ``publish`` said it went, and a buffered
*request* would reach the owner long after its requester gave up — and was perhaps retried, so
the command would run twice. Refusing makes every loss visible to the caller, who knows how to
catch up (the journal). One window remains that no client can close: frames handed to the
connection just before it broke are lost with it, or sent right after the reconnect. Either way
subscribers see a gap in the quiz's sequence numbers and catch up from the journal. Requests in
flight when the connection drops fail with :class:`~livequiz.ports.BusUnavailable` at once
rather than waiting for their timeout; their command may or may not have run. ``subscribe`` and
``serve`` also raise it while disconnected; ``unsubscribe`` always works.

**Interest is in place when a call returns.** ``subscribe``, ``serve`` and ``unsubscribe`` wait
for the server to acknowledge (a PING round trip, about 0.1 ms on loopback), so a message
published by another process right after ``subscribe`` arrives, a request right after ``serve``
finds the responder, and one right after ``unsubscribe`` gets ``NoResponder``. (nats-py's own
``flush()`` does not promise this: see :meth:`NatsBus._acknowledged`.)

**Handlers** are called in a nats-py task per subscription: in order within a subscription, in
no promised order across subscriptions.

**Slow consumers lose messages, counted.** nats-py queues each subscription's messages and drops
new ones once ``pending_msgs_limit`` messages or ``pending_bytes_limit`` bytes wait (its error
callback says so): :attr:`NatsBus.dropped` counts them and a warning is logged at most every few
seconds. livequiz survives a drop (sequence numbers show the gap; the journal fills it), so the
limits (64 Ki messages, 64 MiB per subscription, below nats-py's 512 Ki and 128 MiB) bound the
memory of a process that fell behind rather than try to save it. The server, too, cuts off a
client that does not read fast enough; that shows as a disconnect and a reconnect.

**Closing** stops every delivery at once, fails waiting requests with BusUnavailable, lets
responders already running send their replies (up to ``close_grace_s``), waits for the server
to have what was published (one PING round trip), and closes; it never drains subscriptions
(messages not yet handled are dropped, as on the in-process bus) and never raises.

**Requests.** Replies come back on one wildcard inbox subscription per connection and are
matched to their request by a token; the server's "no responders" status (it answers at once
when nobody subscribes to the subject) raises :class:`~livequiz.ports.NoResponder`. Responders
run in a task per request, started in arrival order, so a slow responder does not hold up the
next request and a timed-out requester does not cancel the work. A responder that raises is
logged where it runs, and the request raises
:class:`~livequiz.adapters.bus_rules.ResponderFailed` with the error's type and message.

Payloads over the server's ``max_payload`` (1 MiB by default) raise ``ValueError`` before
anything is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

from nats import errors as nats_errors
from nats.aio.client import Client, Server
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription as NatsSubscription

from livequiz.adapters.bus_rules import ResponderFailed, check_subject, payload_too_large
from livequiz.ports import BusUnavailable, NoResponder, Subscription

logger = logging.getLogger(__name__)

Handler = Callable[[bytes], None]
Responder = Callable[[bytes], Awaitable[bytes]]

#: Seconds between client PINGs; two unanswered ones mark the connection dead.
PING_INTERVAL_S = 5
#: How long a subscribe/unsubscribe/close waits for the server's acknowledgement.
ACK_TIMEOUT_S = 2
#: How long an acknowledgement that came too late for its caller is still waited for, in the
#: background, to count the possible loss once it comes (see :meth:`NatsBus._acknowledged`).
LATE_ACK_TIMEOUT_S = 60
#: The status header NATS puts on a reply when nobody subscribes to a request's subject.
_STATUS_HEADER = "Status"
_NO_RESPONDERS = "503"
#: The header of a reply that reports a failed responder; the payload is the error's message.
_FAILED_HEADER = "Livequiz-Responder-Failed"
#: An error message sent back to a requester is cut to this many bytes.
_MAX_ERROR_BYTES = 4096
#: At most one slow-consumer warning per this many seconds.
_DROP_WARNING_INTERVAL_S = 5.0

#: What nats-py's unsubscribe raises when the connection is closed or draining, or the
#: subscription already ended: in each case there is no interest left to remove.
_GONE = (
    nats_errors.ConnectionClosedError,
    nats_errors.ConnectionDrainingError,
    nats_errors.BadSubscriptionError,
)


class _NatsListener:
    """One :meth:`NatsBus.subscribe` or :meth:`NatsBus.serve`: stops delivering the moment
    ``unsubscribe`` is called (``active``), whatever nats-py still holds in its queue."""

    __slots__ = ("active", "bus", "nats_subscription", "served", "subject")

    def __init__(self, bus: NatsBus, subject: str, *, served: bool) -> None:
        self.bus = bus
        self.subject = subject
        self.served = served
        self.active = True
        self.nats_subscription: NatsSubscription | None = None

    async def unsubscribe(self) -> None:
        if self.active:
            self.active = False
            await self.bus._forget(self)


class NatsBus:
    """:class:`livequiz.ports.Bus` over one NATS connection; create with :meth:`connect`."""

    def __init__(
        self,
        client: Client,
        url: str,
        *,
        reconnect_backoff_s: tuple[float, float],
        pending_msgs_limit: int,
        pending_bytes_limit: int,
        close_grace_s: float,
    ) -> None:
        self._client = client
        self._url = url
        self._backoff_first_s, self._backoff_max_s = reconnect_backoff_s
        self._pending_msgs_limit = pending_msgs_limit
        self._pending_bytes_limit = pending_bytes_limit
        self._close_grace_s = close_grace_s
        self._listeners: set[_NatsListener] = set()
        self._served: dict[str, _NatsListener] = {}
        #: Requests waiting for a reply, by the token at the end of their reply subject.
        self._waiting: dict[str, asyncio.Future[Msg]] = {}
        self._tokens = itertools.count(1)
        self._inbox = ""
        self._inbox_subscription: NatsSubscription | None = None
        #: Responders running now (kept referenced until done; awaited by ``close``).
        self._responding: set[asyncio.Task[None]] = set()
        self._closing = False
        self._dropped = 0
        self._last_drop_warning = -_DROP_WARNING_INTERVAL_S
        self._disconnected_at: float | None = None
        #: False from a disconnect until nats-py has replayed the subscriptions on the new
        #: connection and the server acknowledged them (its reconnected callback).
        self._up = True
        #: See :attr:`livequiz.ports.Bus.losses`.
        self._losses = 0
        #: Waiting for acknowledgements that came too late (kept referenced until done).
        self._late: set[asyncio.Task[None]] = set()

    @property
    def losses(self) -> int:
        return self._losses

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        name: str,
        first_connect_timeout_s: float = 10.0,
        reconnect_backoff_s: tuple[float, float] = (0.05, 2.0),
        pending_msgs_limit: int = 65_536,
        pending_bytes_limit: int = 64 * 1024 * 1024,
        close_grace_s: float = 5.0,
    ) -> NatsBus:
        """Connect to the NATS server at ``url`` (``nats://host:port``) as ``name``.

        The first connection is tried for ``first_connect_timeout_s``, then
        :class:`BusUnavailable` is raised (a wrong URL should stop a process that is starting,
        visibly); once connected, the bus reconnects forever, waiting between attempts from
        ``reconnect_backoff_s[0]`` doubling up to ``reconnect_backoff_s[1]`` seconds.
        ``pending_*_limit`` bound each subscription's queue (see :attr:`dropped`).
        ``close_grace_s`` is how long :meth:`close` lets running responders finish.
        """
        client = Client()
        bus = cls(
            client,
            url,
            reconnect_backoff_s=reconnect_backoff_s,
            pending_msgs_limit=pending_msgs_limit,
            pending_bytes_limit=pending_bytes_limit,
            close_grace_s=close_grace_s,
        )
        try:
            await asyncio.wait_for(
                client.connect(
                    servers=[url],
                    name=name,
                    error_cb=bus._on_error,
                    disconnected_cb=bus._on_disconnected,
                    reconnected_cb=bus._on_reconnected,
                    allow_reconnect=True,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=1,
                    reconnect_to_server_handler=bus._next_server,
                    connect_timeout=2,
                    ping_interval=PING_INTERVAL_S,
                    max_outstanding_pings=2,
                    # check_subject() checks every subject (stricter, and refuses wildcards).
                    skip_subject_validation=True,
                ),
                first_connect_timeout_s,
            )
        except (TimeoutError, OSError, nats_errors.Error) as error:
            reason = client.last_error or error
            bus._closing = True
            await client.close()
            raise BusUnavailable(
                f"cannot connect to NATS at {url} within {first_connect_timeout_s} s: {reason!r}"
            ) from error
        bus._inbox = client.new_inbox() + "."
        bus._inbox_subscription = await client.subscribe(bus._inbox + "*", cb=bus._on_reply)
        await client.flush(ACK_TIMEOUT_S)
        logger.info("bus connected to NATS at %s as %r", url, name)
        return bus

    # ------------------------------------------------------------------ state

    @property
    def connected(self) -> bool:
        """Whether the connection is up now, with every subscription in place at the server
        (false while reconnecting — until the replayed subscriptions are acknowledged —,
        draining, or closed)."""
        client = self._client
        return not self._closing and self._up and client.is_connected and not client.is_draining

    @property
    def max_payload_bytes(self) -> int:
        """The largest payload the server accepts (its ``max_payload``)."""
        return self._client.max_payload

    @property
    def dropped(self) -> int:
        """Messages nats-py dropped because a subscription's queue was full (slow consumer)."""
        return self._dropped

    def _check_usable(self, subject: str, data: bytes) -> None:
        if self._closing:
            raise BusUnavailable("the bus is closed")
        if not self.connected:
            raise BusUnavailable(f"NATS at {self._url} is unreachable now (reconnecting)")
        check_subject(subject)
        client = self._client
        if len(data) > client.max_payload:
            raise payload_too_large(subject, len(data), client.max_payload)

    # ------------------------------------------------------------------ publish/subscribe

    async def publish(self, subject: str, data: bytes) -> None:
        """Send ``data`` to every subscriber of ``subject``; :class:`BusUnavailable` while the
        connection is down (nothing is buffered for later)."""
        self._check_usable(subject, data)
        try:
            await self._client.publish(subject, data)
        except (nats_errors.ConnectionClosedError, nats_errors.OutboundBufferLimitError) as error:
            raise BusUnavailable(f"NATS at {self._url} refused the message: {error}") from error

    async def subscribe(self, subject: str, handler: Handler) -> Subscription:
        """Call ``handler(data)`` on the event loop for every message on ``subject`` from the
        server's acknowledgement on; a handler that raises is logged and the subscription goes
        on."""
        listener = _NatsListener(self, subject, served=False)

        async def deliver(msg: Msg) -> None:
            if listener.active:
                try:
                    handler(msg.data)
                except Exception:
                    logger.exception("bus handler for %r raised; the subscription goes on", subject)

        await self._listen(listener, deliver)
        return listener

    # ------------------------------------------------------------------ request/reply

    async def serve(self, subject: str, responder: Responder) -> Subscription:
        """Answer requests on ``subject`` with ``responder``, each in a task of its own (started
        in arrival order); one responder per subject on this connection."""
        if subject in self._served:
            raise ValueError(f"{subject!r} is already served on this bus")
        listener = _NatsListener(self, subject, served=True)

        async def answer(msg: Msg) -> None:
            if not listener.active:
                return
            if not msg.reply:
                logger.warning("a message published (not requested) on served %r: ignored", subject)
                return
            task = asyncio.get_running_loop().create_task(
                self._answer(subject, responder, msg.data, msg.reply)
            )
            self._responding.add(task)
            task.add_done_callback(self._responding.discard)

        self._served[subject] = listener
        try:
            await self._listen(listener, answer)
        except BaseException:
            del self._served[subject]
            raise
        return listener

    async def request(self, subject: str, data: bytes, timeout_s: float) -> bytes:
        """Send a request and wait for its reply.

        Raises :class:`NoResponder` at once if nobody serves ``subject``, ``TimeoutError`` after
        ``timeout_s`` without a reply, :class:`ResponderFailed` if the responder raised, and
        :class:`BusUnavailable` if the connection is down or drops while waiting.
        """
        self._check_usable(subject, data)
        token = str(next(self._tokens))
        reply_subject = self._inbox + token
        reply: asyncio.Future[Msg] = asyncio.get_running_loop().create_future()
        self._waiting[token] = reply
        try:
            await self._client.publish(subject, data, reply=reply_subject)
            try:
                async with asyncio.timeout(timeout_s):
                    msg = await reply
            except TimeoutError:
                raise TimeoutError(f"no reply on {subject!r} within {timeout_s} s") from None
        except (nats_errors.ConnectionClosedError, nats_errors.OutboundBufferLimitError) as error:
            raise BusUnavailable(f"NATS at {self._url} refused the request: {error}") from error
        finally:
            del self._waiting[token]
        headers = msg.headers
        if headers:
            if headers.get(_STATUS_HEADER) == _NO_RESPONDERS:
                raise NoResponder(f"nobody serves {subject!r}")
            failed_type = headers.get(_FAILED_HEADER)
            if failed_type is not None:
                raise ResponderFailed(subject, failed_type, msg.data.decode(errors="replace"))
        return msg.data

    async def _on_reply(self, msg: Msg) -> None:
        reply = self._waiting.get(msg.subject[len(self._inbox) :])
        if reply is not None and not reply.done():
            reply.set_result(msg)

    async def _answer(self, subject: str, responder: Responder, data: bytes, to: str) -> None:
        """Run the responder and send its reply, or what it raised, to the requester."""
        headers: dict[str, str] | None = None
        try:
            reply = await responder(data)
        except Exception as error:
            logger.exception("bus responder for %r raised", subject)
            headers = {_FAILED_HEADER: type(error).__name__}
            reply = str(error).encode()[:_MAX_ERROR_BYTES]
        else:
            limit = self._client.max_payload
            if len(reply) > limit:
                too_large = payload_too_large(f"the reply to {subject}", len(reply), limit)
                logger.error("bus responder for %r: %s", subject, too_large)
                headers = {_FAILED_HEADER: "ValueError"}
                reply = str(too_large).encode()
        if not self._client.is_connected:
            logger.info("reply on %r lost: NATS is unreachable (the requester is told)", subject)
            return
        try:
            await self._client.publish(to, reply, headers=headers)
        except nats_errors.Error as error:
            logger.info("reply on %r lost: %s", subject, error)
        except Exception:
            logger.exception("sending the reply on %r failed", subject)

    # ------------------------------------------------------------------ subscriptions

    async def _listen(self, listener: _NatsListener, cb: Callable[[Msg], Awaitable[None]]) -> None:
        """Subscribe ``cb`` for ``listener`` and wait until the server has the interest."""
        if self._closing:
            raise BusUnavailable("the bus is closed")
        check_subject(listener.subject)
        if not self.connected:
            # nats-py would queue the SUB and replay it too: refuse rather than send it twice.
            raise BusUnavailable(f"NATS at {self._url} is unreachable now (reconnecting)")
        listener.nats_subscription = await self._client.subscribe(
            listener.subject,
            cb=cb,
            pending_msgs_limit=self._pending_msgs_limit,
            pending_bytes_limit=self._pending_bytes_limit,
        )
        self._listeners.add(listener)
        await self._acknowledged()

    async def _forget(self, listener: _NatsListener) -> None:
        """Remove ``listener``'s interest here and, when connected, at the server."""
        self._listeners.discard(listener)
        if listener.served and self._served.get(listener.subject) is listener:
            del self._served[listener.subject]
        subscription = listener.nats_subscription
        if subscription is None or self._closing:
            return
        try:
            await subscription.unsubscribe()
        except _GONE:
            return
        await self._acknowledged()

    async def _acknowledged(self) -> None:
        """Wait for the server to have processed what was sent (a PING round trip). If the
        connection drops meanwhile, nats-py replays subscriptions on reconnect: nothing to do.

        nats-py 2.16's ``flush()`` alone is not enough: it writes its PING straight to the
        socket, ahead of commands still waiting for nats-py's flusher task (our SUB or UNSUB), so
        the PONG can come back before the server has the interest (measured: 4 of 300
        subscribe-flush-publish races lost the message). So first wait until the flusher has
        written what is queued — ``_flush_pending(force_flush=True)``, a private method of the
        pinned version; ``test_interest_is_in_place_when_subscribe_serve_and_unsubscribe_return``
        fails if an upgrade breaks this.

        Not acknowledged in time (a slow or lossy link: the SUB is in flight, not lost, while
        the connection lives), the call returns anyway, and messages published before the
        interest reaches the server never arrive, with no reconnect to count them. So the
        acknowledgement is still waited for in the background, and when it comes a possible
        loss is counted (:attr:`losses`): followers then read what they may have missed.
        """
        client = self._client
        if not client.is_connected:
            return
        try:
            async with asyncio.timeout(ACK_TIMEOUT_S):
                await client._flush_pending(force_flush=True)
            await client.flush(ACK_TIMEOUT_S)
        except (nats_errors.Error, TimeoutError) as error:
            logger.info("NATS did not acknowledge in time (%s); counted once it does", error)
            task = asyncio.get_running_loop().create_task(self._count_late_ack())
            self._late.add(task)
            task.add_done_callback(self._late.discard)

    async def _count_late_ack(self) -> None:
        """After a late acknowledgement: wait for it, then count a possible loss. A drop of the
        connection meanwhile is counted by the reconnect instead."""
        client = self._client
        try:
            await client.flush(LATE_ACK_TIMEOUT_S)
        except (nats_errors.Error, TimeoutError) as error:
            logger.info("NATS still did not acknowledge (%s); counted at the reconnect", error)
            return
        if not self._closing:
            self._losses += 1

    # ------------------------------------------------------------------ connection events

    def _next_server(self, servers: list[Server], _info: dict[str, Any]) -> tuple[Server, float]:
        """nats-py asks before each reconnect attempt: same server, after an exponential,
        jittered backoff (so restarting servers are not stampeded)."""
        server = servers[0]
        attempt = min(server.reconnects, 30)
        delay = min(self._backoff_max_s, self._backoff_first_s * 2**attempt)
        return server, delay * random.uniform(0.5, 1.0)

    async def _on_disconnected(self) -> None:
        if self._closing:
            return
        self._up = False
        self._disconnected_at = time.monotonic()
        logger.warning("bus lost NATS at %s; reconnecting", self._url)
        self._fail_waiting("the connection to NATS dropped before the reply came")

    async def _on_reconnected(self) -> None:
        self._up = True
        self._losses += 1  # what was published while we were away never reaches us
        down_s = 0.0 if self._disconnected_at is None else time.monotonic() - self._disconnected_at
        logger.warning("bus reconnected to NATS at %s after %.1f s", self._url, down_s)

    async def _on_error(self, error: Exception) -> None:
        """nats-py's error callback: counts slow-consumer drops, logs the rest."""
        if isinstance(error, nats_errors.SlowConsumerError):
            self._dropped += 1
            self._losses += 1
            now = time.monotonic()
            if now - self._last_drop_warning >= _DROP_WARNING_INTERVAL_S:
                self._last_drop_warning = now
                logger.warning(
                    "bus subscriber too slow: NATS messages dropped on %r (%d so far)",
                    error.subject,
                    self._dropped,
                )
        elif self._closing or not self._client.is_connected:
            logger.debug("NATS at %s: %r", self._url, error)
        else:
            logger.warning("NATS at %s: %r", self._url, error)

    def _fail_waiting(self, reason: str) -> None:
        for reply in self._waiting.values():
            if not reply.done():
                reply.set_exception(BusUnavailable(reason))

    # ------------------------------------------------------------------ closing

    async def close(self) -> None:
        """Stop every delivery now, fail waiting requests with :class:`BusUnavailable`, let
        running responders send their replies (up to ``close_grace_s``), flush what was
        published, and close the connection. Closing twice does nothing; closing never raises
        for the connection's sake (during an outage it just lets go)."""
        if self._closing:
            return
        self._closing = True
        subscriptions = [self._inbox_subscription]
        for listener in self._listeners:
            listener.active = False
            subscriptions.append(listener.nats_subscription)
        self._listeners.clear()
        self._served.clear()
        # Ended here, through the public API, so their tasks are gone even if nats-py's close
        # stops half-way (below).
        for subscription in subscriptions:
            if subscription is not None:
                with contextlib.suppress(*_GONE):
                    await subscription.unsubscribe()
        self._fail_waiting("the bus was closed before the reply came")
        for task in self._late:
            task.cancel()
        if self._responding:
            _, late = await asyncio.wait(set(self._responding), timeout=self._close_grace_s)
            for task in late:
                task.cancel()
            if late:
                logger.warning("bus closed: cancelled %d responders still running", len(late))
                await asyncio.wait(late)
        if self._client.is_connected:
            try:
                await self._client.flush(ACK_TIMEOUT_S)
            except (nats_errors.Error, TimeoutError) as error:
                logger.info("NATS did not acknowledge the last messages before closing: %s", error)
        try:
            await self._client.close()
        except OSError as error:
            # nats-py writes what it still holds to the old socket; if the connection died
            # with data pending, that write fails. The data is lost either way.
            logger.info("closing the NATS connection to %s: %r", self._url, error)
