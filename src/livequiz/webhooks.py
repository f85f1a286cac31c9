"""Results back to the learning app: a signed POST to its webhook, retried until it answers 2xx.

When a quiz with a webhook finishes, and (homework) when each of its players finishes, the
quiz's owner stores a delivery in the outbox (:class:`~livequiz.ports.Deliveries`: SQLite or
PostgreSQL) in the very commit that stores the finish (``QuizStore.execute``): a finish is never
stored without its delivery, so no crash or restart loses one. Every process runs a
:class:`WebhookSender`, which takes due deliveries (one process at a time holds each) and POSTs
them:

* **Body**: JSON, the same bytes on every attempt: ``{"type": "quiz.finished" |
  "player.finished", "id", "quiz_id", "title", "at_ms", …}`` with the final results, or one
  player's results (with their missed words), and the app's ``user_id`` of each player.
* **Signature** (as Stripe and GitHub sign theirs): ``Livequiz-Signature: t=<unix seconds>,
  v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``, with the quiz's (or the API key's) webhook
  secret; :func:`verify` is the check an app makes (the timestamp guards against replays).
* **Idempotency**: ``Idempotency-Key`` is the delivery's id (``<quiz_id>:finished``,
  ``<quiz_id>:player:<id>``), the same on every attempt, so the app ignores a repeat.
* **Retries**: any answer but 2xx, a timeout or a refused connection is tried again after 1 s,
  2 s, 4 s, … at most an hour apart, until the app answers 2xx. Nothing is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from livequiz import __version__
from livequiz.domain import views
from livequiz.domain.events import Event, PlayerFinished, QuizFinished
from livequiz.domain.session import QuizSession
from livequiz.ports import Deliveries, QuizDefinition, Unavailable, WebhookDelivery

if TYPE_CHECKING:
    import httpx

# httpx (~16 MiB) is imported when the first delivery is sent or a URL checked, not with the
# server: most servers never send one.

log = logging.getLogger("livequiz.webhooks")

SIGNATURE_HEADER = "Livequiz-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
#: A signature older than this is refused by :func:`verify` (a replayed request).
TOLERANCE_S = 300
#: The longest webhook URL taken.
MAX_URL_CHARS = 2000


@dataclass(frozen=True)
class WebhookLimits:
    """The sender's pace, with the reason for each default."""

    #: How often each process looks for due deliveries: results reach the app within ~1 s.
    poll_s: float = 1.0
    #: The first retry waits this long; each next one twice as long ...
    first_retry_s: float = 1.0
    #: ... but never longer than this (an app down for a day gets its results within an hour).
    max_retry_s: float = 3600.0
    #: An app that does not answer within this long has failed this attempt.
    timeout_s: float = 10.0
    #: Deliveries taken at once by one process.
    batch: int = 20


def new_secret() -> str:
    """A webhook signing secret for a quiz or an API key."""
    return "whsec_" + secrets.token_urlsafe(32)


def check_url(url: object) -> str:
    """A webhook URL as given, or :class:`ValueError` saying what is wrong with it."""
    if not isinstance(url, str) or not 0 < len(url) <= MAX_URL_CHARS:
        raise ValueError(f"webhook_url must be a URL of at most {MAX_URL_CHARS} characters")
    import httpx

    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        raise ValueError("webhook_url is not a valid URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError("webhook_url must be an http:// or https:// URL")
    return url


def sign(secret: str, timestamp_s: int, body: bytes) -> str:
    """The ``Livequiz-Signature`` header of ``body`` sent at ``timestamp_s``."""
    mac = hmac.new(secret.encode(), f"{timestamp_s}.".encode() + body, hashlib.sha256)
    return f"t={timestamp_s},v1={mac.hexdigest()}"


def verify(secret: str, header: str, body: bytes, now_s: int) -> bool:
    """What a receiving app checks: the signature is the secret's, over this body, and recent."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    fresh = abs(now_s - timestamp) <= TOLERANCE_S
    return fresh and hmac.compare_digest(expected, parts.get("v1", ""))


def retry_delay_s(attempts: int, limits: WebhookLimits) -> float:
    """How long to wait after the ``attempts``-th failed attempt."""
    return float(min(limits.first_retry_s * 2 ** (attempts - 1), limits.max_retry_s))


def deliveries_for(
    definition: QuizDefinition, session: QuizSession, events: Sequence[Event], now_ms: int
) -> list[WebhookDelivery]:
    """The deliveries these just-stored events of a quiz call for (none without a webhook)."""
    url, secret = definition.webhook_url, definition.webhook_secret
    if url is None or secret is None:
        return []
    found: list[WebhookDelivery] = []
    for event in events:
        body: dict[str, Any]
        if isinstance(event, PlayerFinished):
            key = f"{definition.quiz_id}:player:{event.player_id}"
            player = session.players[event.player_id]
            results = {**views.player_results(session, event.player_id), "user_id": player.user_id}
            body = {"type": "player.finished", "player": results}
        elif isinstance(event, QuizFinished):
            key = f"{definition.quiz_id}:finished"
            body = {
                "type": "quiz.finished",
                "reason": event.reason.value,
                "results": views.final_results(session),
            }
        else:
            continue
        body = {
            "id": key,
            "quiz_id": definition.quiz_id,
            "title": definition.title,
            "at_ms": event.at_ms,
            **body,
        }
        text = orjson.dumps(body).decode()
        found.append(WebhookDelivery(key, definition.quiz_id, url, secret, text, now_ms, now_ms))
    return found


class WebhookSender:
    """Takes due deliveries from the outbox and POSTs them, on every process."""

    def __init__(
        self,
        outbox: Deliveries,
        clock: Callable[[], int],
        limits: WebhookLimits | None = None,
        *,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.outbox = outbox
        self.clock = clock
        self.limits = limits or WebhookLimits()
        self._client = client
        self._wake = asyncio.Event()

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            import httpx

            self._client = httpx.AsyncClient(
                timeout=self.limits.timeout_s,
                follow_redirects=False,
                headers={"user-agent": f"livequiz/{__version__}"},
            )
        return self._client

    def wake(self) -> None:
        """Look for due deliveries now (one was just added)."""
        self._wake.set()

    async def run(self) -> None:
        """Until cancelled: every ``poll_s`` (or when woken), send what is due."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.limits.poll_s)
            self._wake.clear()
            try:
                await self.send_due()
            except Unavailable as error:
                log.warning("webhook outbox unreachable: %s", error)
            except Exception:
                log.exception("sending webhooks failed")

    async def send_due(self) -> int:
        """Send every delivery due now; returns how many were tried."""
        now = self.clock()
        # held while tried: a slow app (timeout) and the storage round trips fit in twice
        hold_until = now + int(2_000 * self.limits.timeout_s) + 5_000
        taken = await self.outbox.take_deliveries(now, hold_until, self.limits.batch)
        await asyncio.gather(*(self._send(delivery) for delivery in taken))
        return len(taken)

    async def _send(self, delivery: WebhookDelivery) -> None:
        body = delivery.body.encode()
        attempts = delivery.attempts + 1
        headers = {
            "content-type": "application/json",
            SIGNATURE_HEADER: sign(delivery.secret, self.clock() // 1000, body),
            IDEMPOTENCY_HEADER: delivery.key,
        }
        try:
            client = self._http()
            response = await client.post(delivery.url, content=body, headers=headers)
            error = "" if response.is_success else f"HTTP {response.status_code}"
        except _http_errors() as failure:
            error = f"{type(failure).__name__}: {failure}"[:300]
        if not error:
            await self.outbox.delivery_done(delivery.key, self.clock(), attempts)
            log.info("webhook delivered", extra={"quiz_id": delivery.quiz_id, "key": delivery.key})
            return
        delay_ms = int(1000 * retry_delay_s(attempts, self.limits))
        await self.outbox.delivery_failed(delivery.key, attempts, self.clock() + delay_ms, error)
        log.warning(
            "webhook attempt failed: %s; retry in %.1f s",
            error,
            delay_ms / 1000,
            extra={"quiz_id": delivery.quiz_id, "key": delivery.key},
        )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()


def _http_errors() -> type[Exception]:
    import httpx

    return httpx.HTTPError
