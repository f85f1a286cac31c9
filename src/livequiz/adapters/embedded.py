"""The embedded default's storage: quizzes in this process's memory, made durable by SQLite.

:class:`EmbeddedRecords` implements :class:`~livequiz.ports.Records` — directory, journal and
leases — for one process with nothing to install: the directory and the leases live in memory,
the journal (when there is one) in a SQLite file (:mod:`livequiz.adapters.sqlite`). Without a
journal (tests, throwaway demos) the journal rows are kept in memory and nothing survives the
process.

**Only live quizzes are held in memory.** With a journal, start-up reads the quizzes that have
not finished (an index of them only), and a quiz that finishes leaves memory with its finish:
its definition, whether it finished, and the last finished quiz of a PIN are read from SQLite
when asked for (by indexed queries). So start-up time and memory do not grow with the quizzes
ever played (docs/reliability.md, "A long day"). Memory only, there is nowhere else to keep a
finished quiz's definition and rows: they stay in memory for the life of the process.

Leases are real here too, with the same rules as on PostgreSQL, so the owner logic is one code
path: the process takes every live quiz at start and renews its leases. Several servers in one
process can share one storage (:meth:`EmbeddedRecords.sharing`), each with its own owner id:
that is how the tests run "many processes" over the in-process bus, with the same routing as
PostgreSQL + NATS, before either is involved.
"""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Self

from livequiz.adapters.sqlite import SqliteJournal
from livequiz.ports import (
    ApiKey,
    Fenced,
    Flag,
    FlaggedQuestion,
    PinTaken,
    QuizDefinition,
    Record,
    Row,
    StorageUnavailable,
    UnknownQuiz,
    WebhookDelivery,
    flag_key,
    summarize_flags,
)


@contextmanager
def _outage(doing: str) -> Iterator[None]:
    """The journal's file cannot be written or read now (disk full, I/O error, locked by
    another program): :class:`~livequiz.ports.StorageUnavailable`, as the ports promise, so
    callers refuse the work as retryable instead of failing on an error they do not know."""
    try:
        yield
    except (sqlite3.OperationalError, OSError) as error:
        raise StorageUnavailable(f"{doing}: {error}") from error


@dataclass
class _Lease:
    owner: str
    epoch: int
    expires_at: float


@dataclass
class _Storage:
    """What every :class:`EmbeddedRecords` over one storage shares."""

    journal: SqliteJournal | None
    key: bytes
    #: The live (unfinished) quizzes, in order of creation.
    definitions: dict[str, QuizDefinition] = field(default_factory=dict)
    #: PIN → live quiz.
    live_pins: dict[str, str] = field(default_factory=dict)
    #: Memory only (with a journal, SQLite answers for finished quizzes): the finished
    #: quizzes, and PIN → the last finished quiz that had it, until a new quiz takes it.
    ended: dict[str, QuizDefinition] = field(default_factory=dict)
    ended_pins: dict[str, str] = field(default_factory=dict)
    #: Journal rows when there is no SQLite journal (memory only).
    rows: dict[str, dict[int, Record]] = field(default_factory=dict)
    #: Held by a write and by a lease change, so the two never interleave (see ``append``).
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    leases: dict[str, _Lease] = field(default_factory=dict)
    #: The highest epoch each quiz's lease ever had (epochs never repeat).
    epochs: dict[str, int] = field(default_factory=dict)
    #: Open flags by ``(word key, kind, quiz_id, flagger)`` when there is no SQLite journal;
    #: with one, the file is the only copy (so ``livequiz flags`` can change it beside a
    #: running server, and the server sees it at once).
    flags: dict[tuple[str, str, str, str], Flag] = field(default_factory=dict)
    #: API keys by id when there is no SQLite journal (as flags: with one, the file is the copy).
    api_keys: dict[str, ApiKey] = field(default_factory=dict)
    #: The webhook outbox when there is no SQLite journal.
    deliveries: dict[str, WebhookDelivery] = field(default_factory=dict)
    loaded: bool = False
    #: Views made by :meth:`EmbeddedRecords.sharing` (servers of a test sharing the storage).
    shared: bool = False


class EmbeddedRecords:
    """Directory, journal and leases of the embedded default (:class:`~livequiz.ports.Records`)."""

    def __init__(self, storage: _Storage, *, owner_id: str | None, lease_s: float) -> None:
        self._storage = storage
        self.owner_id = owner_id or f"embedded-{secrets.token_hex(4)}"
        self.lease_s = lease_s

    @classmethod
    def over(
        cls,
        journal: SqliteJournal | None,
        *,
        key: bytes | None = None,
        owner_id: str | None = None,
        lease_s: float = 3.0,
    ) -> Self:
        """Storage over ``journal`` (``None``: memory only); :meth:`load` reads what it holds."""
        storage = _Storage(journal, key or secrets.token_bytes(32))
        return cls(storage, owner_id=owner_id, lease_s=lease_s)

    @classmethod
    async def open(
        cls,
        journal: SqliteJournal | None,
        *,
        key: bytes | None = None,
        owner_id: str | None = None,
        lease_s: float = 3.0,
    ) -> EmbeddedRecords:
        """Storage over ``journal``, with what it already holds loaded."""
        records = cls.over(journal, key=key, owner_id=owner_id, lease_s=lease_s)
        await records.load()
        return records

    async def load(self) -> None:
        """Read the journal's live quizzes into memory (once; later calls do nothing).

        Finished ones stay on disk: they are read one at a time when asked for."""
        storage = self._storage
        if storage.loaded:
            return
        storage.loaded = True
        if storage.journal is None:
            return
        with _outage("reading the live quizzes"):
            live = await storage.journal.live()
        for definition in live:
            storage.definitions[definition.quiz_id] = definition
            storage.live_pins[definition.pin] = definition.quiz_id

    def sharing(
        self, *, owner_id: str | None = None, lease_s: float | None = None
    ) -> EmbeddedRecords:
        """Another process's view of the same storage (a test of many servers in one process)."""
        self._storage.shared = True
        return EmbeddedRecords(
            self._storage, owner_id=owner_id, lease_s=self.lease_s if lease_s is None else lease_s
        )

    @property
    def exclusive(self) -> bool:
        """One process, unless :meth:`sharing` made views for others."""
        return not self._storage.shared

    # ------------------------------------------------------------------ directory

    async def add_quiz(self, definition: QuizDefinition) -> int:
        storage = self._storage
        if definition.pin in storage.live_pins:
            raise PinTaken(definition.pin)
        if definition.quiz_id in storage.definitions or definition.quiz_id in storage.ended:
            raise ValueError(f"quiz id {definition.quiz_id} exists")
        # Taken before the await, so a concurrent create of the same PIN fails at once, and
        # nobody (a sweep for orphans) takes over a quiz that is still being created.
        storage.live_pins[definition.pin] = definition.quiz_id
        storage.definitions[definition.quiz_id] = definition
        epoch = self._grant(definition.quiz_id)
        try:
            if storage.journal is not None:
                with _outage("storing a new quiz"):
                    try:
                        await storage.journal.add_quiz(definition)
                    except sqlite3.IntegrityError:  # a finished quiz has the id (not in memory)
                        raise ValueError(f"quiz id {definition.quiz_id} exists") from None
        except BaseException:
            del storage.live_pins[definition.pin]
            del storage.definitions[definition.quiz_id]
            del storage.leases[definition.quiz_id]
            raise
        storage.leases[definition.quiz_id].expires_at = time.monotonic() + self.lease_s
        if storage.journal is None:
            storage.ended_pins.pop(definition.pin, None)
            storage.rows.setdefault(definition.quiz_id, {})
        return epoch

    async def _stored(self, quiz_id: str) -> tuple[QuizDefinition, bool]:
        """A quiz's definition and whether it finished: live ones from memory, finished ones
        from memory (memory only) or the journal; raises :class:`UnknownQuiz`."""
        storage = self._storage
        live = storage.definitions.get(quiz_id)
        if live is not None:
            return live, False
        if storage.journal is None:
            ended = storage.ended.get(quiz_id)
            if ended is None:
                raise UnknownQuiz(quiz_id)
            return ended, True
        with _outage("reading a quiz"):
            stored = await storage.journal.quiz(quiz_id)
        if stored is None:
            raise UnknownQuiz(quiz_id)
        return stored

    async def definition(self, quiz_id: str) -> QuizDefinition:
        definition, _finished = await self._stored(quiz_id)
        return definition

    async def live_quiz_for_pin(self, pin: str) -> str | None:
        return self._storage.live_pins.get(pin)

    async def ended_quiz_for_pin(self, pin: str) -> str | None:
        storage = self._storage
        if pin in storage.live_pins:
            return None
        if storage.journal is None:
            return storage.ended_pins.get(pin)
        with _outage("looking a quiz ID up"):
            return await storage.journal.ended_quiz_for_pin(pin)

    async def is_finished(self, quiz_id: str) -> bool:
        _definition, finished = await self._stored(quiz_id)
        return finished

    # ------------------------------------------------------------------ journal

    async def append(
        self,
        rows: Sequence[Row],
        finished: Sequence[str],
        epochs: Mapping[str, int],
        deliveries: Sequence[WebhookDelivery] = (),
    ) -> None:
        storage = self._storage
        # The check and the write are one step for every process sharing the storage, as a
        # transaction holding the lease rows is on PostgreSQL: an acquire waits for a write in
        # progress, so a new owner reads everything the old one was told is stored.
        async with storage.lock:
            quizzes = {quiz_id for quiz_id, _, _ in rows} | set(finished)
            # An expired lease nobody took yet fences nobody out: its epoch is the newest.
            fenced = [
                quiz_id
                for quiz_id in quizzes
                if (lease := storage.leases.get(quiz_id)) is None
                or lease.owner != self.owner_id
                or lease.epoch != epochs.get(quiz_id)
            ]
            if fenced:
                raise Fenced(fenced)
            if storage.journal is not None:
                try:
                    with _outage("storing a batch"):
                        await storage.journal.append(rows, finished, deliveries)
                except sqlite3.IntegrityError:
                    # A (quiz, seq) already stored: nothing of the batch was (one
                    # transaction). Which quiz clashed is read only now, on this rare path.
                    raise Fenced(
                        await self._clashing(rows), "a sequence number is already stored"
                    ) from None
            else:
                # Memory only: nothing to wait for, but a turn of the loop, as a write would
                # give, so a writer in a loop never starves the rest of the process.
                await asyncio.sleep(0)
                seen: set[tuple[str, int]] = set()
                clashing: set[str] = set()
                for quiz_id, seq, _record in rows:
                    if seq in storage.rows.get(quiz_id, {}) or (quiz_id, seq) in seen:
                        clashing.add(quiz_id)
                    seen.add((quiz_id, seq))
                if clashing:
                    raise Fenced(sorted(clashing), "a sequence number is already stored")
                for quiz_id, seq, record in rows:
                    storage.rows.setdefault(quiz_id, {})[seq] = record
                for delivery in deliveries:
                    storage.deliveries.setdefault(delivery.key, delivery)
            # A finished quiz leaves memory (its lease can never be taken again); memory
            # only, it is kept aside, there being nowhere else to keep it.
            for quiz_id in finished:
                storage.leases.pop(quiz_id, None)
                storage.epochs.pop(quiz_id, None)
                definition = storage.definitions.pop(quiz_id)
                if storage.live_pins.get(definition.pin) == quiz_id:
                    del storage.live_pins[definition.pin]
                if storage.journal is None:
                    storage.ended[quiz_id] = definition
                    storage.ended_pins[definition.pin] = quiz_id

    async def _clashing(self, rows: Sequence[Row]) -> list[str]:
        wanted: dict[str, set[int]] = {}
        for quiz_id, seq, _record in rows:
            wanted.setdefault(quiz_id, set()).add(seq)
        clashing = []
        for quiz_id, seqs in wanted.items():
            stored = await self.records(quiz_id, min(seqs) - 1)
            if any(seq in seqs for seq, _ in stored):
                clashing.append(quiz_id)
        return clashing or sorted(wanted)

    async def records(self, quiz_id: str, after_seq: int = 0) -> list[tuple[int, Record]]:
        storage = self._storage
        if storage.journal is not None:
            with _outage("reading the journal"):
                return await storage.journal.records(quiz_id, after_seq)
        stored = storage.rows.get(quiz_id, {})
        return [(seq, stored[seq]) for seq in sorted(stored) if seq > after_seq]

    # ------------------------------------------------------------------ leases

    def _grant(self, quiz_id: str) -> int:
        storage = self._storage
        epoch = storage.epochs.get(quiz_id, 0) + 1
        storage.epochs[quiz_id] = epoch
        storage.leases[quiz_id] = _Lease(self.owner_id, epoch, time.monotonic() + self.lease_s)
        return epoch

    async def acquire(self, quiz_id: str) -> int | None:
        storage = self._storage
        if quiz_id not in storage.definitions:
            await self._stored(quiz_id)  # UnknownQuiz, or a finished quiz: nobody takes it
            return None
        async with storage.lock:  # waits for a write in progress (see append)
            lease = storage.leases.get(quiz_id)
            if lease is not None and lease.expires_at >= time.monotonic():
                return None
            return self._grant(quiz_id)

    async def renew(self, epochs: Mapping[str, int]) -> set[str]:
        storage = self._storage
        until = time.monotonic() + self.lease_s
        lost: set[str] = set()
        for quiz_id, epoch in epochs.items():
            lease = storage.leases.get(quiz_id)
            if lease is None or lease.owner != self.owner_id or lease.epoch != epoch:
                lost.add(quiz_id)
            else:
                lease.expires_at = until
        return lost

    async def release(self, epochs: Mapping[str, int]) -> None:
        for quiz_id, epoch in epochs.items():
            lease = self._storage.leases.get(quiz_id)
            if lease is not None and lease.owner == self.owner_id and lease.epoch == epoch:
                lease.expires_at = float("-inf")

    async def orphans(self, limit: int) -> list[str]:
        storage = self._storage
        if limit <= 0:
            return []
        now = time.monotonic()
        found = []
        for quiz_id in storage.definitions:  # the live quizzes only
            lease = storage.leases.get(quiz_id)
            if lease is None or lease.expires_at < now:
                found.append(quiz_id)
                if len(found) >= limit:
                    break
        return found

    # ------------------------------------------------------------------ flags

    async def add_flag(self, flag: Flag) -> bool:
        storage = self._storage
        if storage.journal is not None:
            with _outage("storing a flag"):
                return await storage.journal.add_flag(flag)
        key = (*flag.key, flag.quiz_id, flag.flagger)
        if key in storage.flags:
            return False
        storage.flags[key] = flag
        return True

    async def open_flags(self) -> list[FlaggedQuestion]:
        storage = self._storage
        if storage.journal is not None:
            with _outage("reading the flags"):
                return summarize_flags(await storage.journal.flags())
        return summarize_flags(storage.flags.values())

    async def clear_flags(self, word: str, kind: str) -> int:
        storage = self._storage
        key = flag_key(word, kind)
        if storage.journal is not None:
            with _outage("clearing flags"):
                return await storage.journal.clear_flags(key)
        cleared = [k for k in storage.flags if k[:2] == key]
        for k in cleared:
            del storage.flags[k]
        return len(cleared)

    # ------------------------------------------------------------------ API keys

    async def add_api_key(self, key: ApiKey) -> None:
        storage = self._storage
        if storage.journal is not None:
            with _outage("storing an API key"):
                await storage.journal.add_api_key(key)
            return
        storage.api_keys[key.key_id] = key

    async def api_key(self, key_id: str) -> ApiKey | None:
        storage = self._storage
        if storage.journal is not None:
            with _outage("reading an API key"):
                found = await storage.journal.api_keys(key_id)
            return found[0] if found else None
        return storage.api_keys.get(key_id)

    async def api_keys(self) -> list[ApiKey]:
        storage = self._storage
        if storage.journal is not None:
            with _outage("reading the API keys"):
                return await storage.journal.api_keys()
        return sorted(storage.api_keys.values(), key=lambda k: (k.created_at_ms, k.key_id))

    async def revoke_api_key(self, key_id: str, at_ms: int) -> bool:
        storage = self._storage
        if storage.journal is not None:
            with _outage("revoking an API key"):
                return await storage.journal.revoke_api_key(key_id, at_ms)
        key = storage.api_keys.get(key_id)
        if key is None or key.revoked_at_ms is not None:
            return False
        storage.api_keys[key_id] = replace(key, revoked_at_ms=at_ms)
        return True

    # ------------------------------------------------------------------ the webhook outbox

    async def add_delivery(self, delivery: WebhookDelivery) -> bool:
        storage = self._storage
        if storage.journal is not None:
            with _outage("storing a webhook delivery"):
                return await storage.journal.add_delivery(delivery)
        if delivery.key in storage.deliveries:
            return False
        storage.deliveries[delivery.key] = delivery
        return True

    async def take_deliveries(
        self, now_ms: int, hold_until_ms: int, limit: int
    ) -> list[WebhookDelivery]:
        storage = self._storage
        if storage.journal is not None:
            with _outage("taking webhook deliveries"):
                return await storage.journal.take_deliveries(now_ms, hold_until_ms, limit)
        due = sorted(
            (
                d
                for d in storage.deliveries.values()
                if d.delivered_at_ms is None and d.next_at_ms <= now_ms
            ),
            key=lambda d: (d.next_at_ms, d.key),
        )[:limit]
        taken = [replace(d, next_at_ms=hold_until_ms) for d in due]
        for d in taken:
            storage.deliveries[d.key] = d
        return taken

    async def delivery_done(self, key: str, at_ms: int, attempts: int) -> None:
        storage = self._storage
        if storage.journal is not None:
            with _outage("marking a webhook delivered"):
                await storage.journal.delivery_done(key, at_ms, attempts)
            return
        found = storage.deliveries.get(key)
        if found is not None:
            storage.deliveries[key] = replace(
                found, delivered_at_ms=at_ms, attempts=attempts, last_error=""
            )

    async def delivery_failed(self, key: str, attempts: int, next_at_ms: int, error: str) -> None:
        storage = self._storage
        if storage.journal is not None:
            with _outage("recording a webhook attempt"):
                await storage.journal.delivery_failed(key, attempts, next_at_ms, error)
            return
        found = storage.deliveries.get(key)
        if found is not None and found.delivered_at_ms is None:
            storage.deliveries[key] = replace(
                found, attempts=attempts, next_at_ms=next_at_ms, last_error=error
            )

    async def delivery(self, key: str) -> WebhookDelivery | None:
        storage = self._storage
        if storage.journal is not None:
            with _outage("reading a webhook delivery"):
                return await storage.journal.delivery(key)
        return storage.deliveries.get(key)

    # ------------------------------------------------------------------ the rest

    async def signing_key(self) -> bytes:
        return self._storage.key

    async def check(self) -> None:
        """Nothing to reach: the journal is a file of this process."""

    async def close(self) -> None:
        if self._storage.journal is not None:
            await self._storage.journal.close()
