"""Scale-out storage: :class:`~livequiz.ports.Records` on PostgreSQL, with asyncpg.

Every process of a scale-out deployment opens one :class:`PostgresRecords` on the same database.
PostgreSQL is the one place that decides who owns a quiz: a lease row per quiz holds the owner,
an *epoch* that grows at every change of owner, and an expiry computed by the database's own
clock (``now()``), never a process's, so clock skew between machines cannot give a quiz two
owners. Every journal write re-checks the writer's epoch under a row lock in the same statement
as the insert (fencing): a process that was paused or cut off while another took its quiz over
cannot write after the takeover, whatever it believes about its lease.

What is where (tables from :mod:`livequiz.names`, SQL in :mod:`livequiz.adapters.pg_schema`):

* quizzes: definition (``json``), PIN, ``finished_at``; a partial unique index makes the PIN
  unique among live quizzes, so two processes creating one PIN at once cannot both win.
* journal: ``(quiz_id, seq)`` primary key, the writer's epoch, the record (``json``).
* quiz_leases: ``(quiz_id, owner_id, epoch, expires_at, finished)``, one row per quiz for ever.
* secrets: the token signing key, made once and shared.

Failures: anything that means "the database cannot be reached or cannot serve now" (refused
or dropped connections, a server starting or shutting down, a full disk, a read-only standby, a
call that took longer than ``timeout_s``) is raised as :class:`~livequiz.ports.StorageUnavailable`.
The pool replaces dead connections by itself on the next call, so the same object works again
when the server is back; nothing needs restarting.

One caveat callers must know: a commit whose reply was lost (the connection died after
``COMMIT`` reached the server) is reported as :class:`StorageUnavailable`, yet may have been
stored. Before retrying an ``append`` after an outage, read :meth:`PostgresRecords.records`
to see whether the batch landed; a blind retry of a stored batch raises :class:`Fenced` (its
sequence numbers are taken).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import astuple
from typing import Any

import asyncpg
import orjson

from livequiz import names
from livequiz.adapters import pg_schema
from livequiz.ports import (
    FLAG_COLUMNS,
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

#: How long one call may take, from waiting for a connection to the answer, before it gives up
#: with :class:`StorageUnavailable`. A hung database (paused, partitioned, stuck on I/O) then
#: fails an answer in bounded time instead of holding it, and the connection it was on is
#: dropped so no late reply can be mistaken for a new one.
DEFAULT_TIMEOUT_S = 5.0
#: Name of the token signing key in the secrets table.
SIGNING_KEY_NAME = "token_signing_key"
#: Bytes of a new signing key (HMAC-SHA256 wants at least 32).
SIGNING_KEY_BYTES = 32

#: Errors that mean the database is unreachable or cannot serve right now, as opposed to errors
#: that mean our request was wrong. ``OSError`` covers refused connections and timeouts
#: (``TimeoutError`` is an ``OSError``); ``PostgresConnectionError`` (class 08) covers
#: connections that died; class 57 covers a server shutting down or still starting
#: (``CannotConnectNowError``) and a statement cancelled by a timeout; class 53 a full disk or
#: too many connections; ``ReadOnlySQLTransactionError`` a standby reached after a failover.
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
    asyncpg.exceptions.ReadOnlySQLTransactionError,
)

#: A call cancelled half-way leaves its connection in an unknown state, as a failure does.
_UNAVAILABLE_OR_CANCELLED: tuple[type[BaseException], ...] = (asyncio.CancelledError, *_UNAVAILABLE)


class UnsuitableDatabase(RuntimeError):
    """The database cannot hold livequiz's data as promised (e.g. it is not UTF-8)."""


def quote_ident(name: str) -> str:
    """``name`` as a PostgreSQL identifier, quoted, so any schema name is safe in SQL text."""
    return '"' + name.replace('"', '""') + '"'


def default_owner_id() -> str:
    """An id unique among live processes: the host and pid say which one it is to an operator
    reading ``quiz_leases``, and random bytes keep a restarted process with a reused pid (or a
    container whose pid is always 1) from being mistaken for its predecessor."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"


async def migrate(connection: Any, schema: str) -> list[int]:
    """Bring ``schema`` up to date; returns the versions this call applied.

    Everything runs in one transaction holding ``pg_advisory_xact_lock(PG_MIGRATION_LOCK)``:
    processes starting together queue on the lock, the first applies the missing migrations
    and records them, the others then find nothing to do. ``CREATE SCHEMA IF NOT EXISTS`` is
    inside the lock too, because two of them racing outside it can both fail with a duplicate
    key in the catalogue. A schema migrated by a newer livequiz (versions this one does not
    know) is refused with :class:`UnsuitableDatabase` rather than used with the wrong shape.
    """
    applied: list[int] = []
    async with connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock($1)", names.PG_MIGRATION_LOCK)
        await connection.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}")
        await connection.execute(f"SET LOCAL search_path TO {quote_ident(schema)}")
        await connection.execute(pg_schema.CREATE_MIGRATIONS_TABLE)
        done = {
            row["version"]
            for row in await connection.fetch(f"SELECT version FROM {names.PG_MIGRATIONS}")
        }
        known = {version for version, _ in pg_schema.MIGRATIONS}
        unknown = done - known
        if unknown:
            raise UnsuitableDatabase(
                f"schema {schema} has migrations {sorted(unknown)} that this livequiz does not "
                f"know (it knows up to {max(known)}): a newer version migrated it; run that one"
            )
        for version, sql in pg_schema.MIGRATIONS:
            if version in done:
                continue
            await connection.execute(sql)
            await connection.execute(
                f"INSERT INTO {names.PG_MIGRATIONS} (version) VALUES ($1)", version
            )
            applied.append(version)
    return applied


async def _init_connection(connection: Any) -> None:
    """Send and receive ``json`` values as orjson bytes.

    Why ``json`` and one document per batch. Measured on this project's records (an answer
    record, ~80 bytes), asyncpg 0.32, PostgreSQL 15 on the same 2-core machine, client CPU
    time (``time.process_time``) per row for encoding and sending a batch:

    ==============================================  =========  ==========  ==========
    batch of                                        100 rows   1000 rows   4096 rows
    ==============================================  =========  ==========  ==========
    one ``json`` document, one ``orjson.dumps``     1.0 µs     0.24 µs     0.30 µs
    ``unnest(text[], bigint[], bytea[])``           2.0 µs     4.2 µs      1.6 µs
    ``unnest(text[], bigint[], json[])``            2.2 µs     1.8 µs      1.2 µs
    ==============================================  =========  ==========  ==========

    (Best of 5 runs of a throwaway script; asyncpg encoding the ``text[]`` of quiz ids alone
    costs ~0.8 µs per row, which is why no array layout gets close.) The client is
    the scarce side — one event loop runs the quiz core and every socket — so a batch goes as
    one document; the server pays a little more to parse it (a 4,096-row insert took ~27 ms
    against ~21 ms for arrays, end to end). Stored as ``json`` (the text as sent, validated,
    not decomposed) a record reads back at the same client cost as ``bytea`` (~1.8 µs per
    row) where ``jsonb`` costs ~2.9 µs (the server renders it back to text), and an operator
    can still query it (``record->>'c'``). ``json`` also stores ``\\u0000``, which ``jsonb``
    refuses (see :meth:`PostgresRecords._append_statement`).
    """
    await connection.set_type_codec(
        "json",
        schema="pg_catalog",
        encoder=_encode_json,
        decoder=orjson.loads,
        format="binary",
    )


def _encode_json(value: Any) -> bytes:
    """A value as JSON for a ``json`` parameter; ``bytes`` are taken as JSON already encoded
    (the batch document of :meth:`PostgresRecords.append`, encoded once to be inspected)."""
    if isinstance(value, bytes):
        return value
    return orjson.dumps(value)


async def _reset_nothing(_connection: Any) -> None:
    """What a connection needs between two calls: nothing.

    asyncpg's default reset sends ``SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL`` at every release: a second round trip per call, which took the client CPU of
    a one-row append from ~210 to ~330 µs (asyncio loop) and added its latency. No call here
    leaves session state behind (no ``SET``, ``LISTEN``, cursor or session-level advisory
    lock; the migration lock is transaction-scoped), and asyncpg still rolls back a
    transaction left open before calling this.
    """


class PostgresRecords:
    """:class:`~livequiz.ports.Records` over one PostgreSQL schema, shared by every process.

    Open with :meth:`connect`; every method may raise :class:`StorageUnavailable`.
    """

    @property
    def exclusive(self) -> bool:
        """Other processes share the database and may take a lease that runs out."""
        return False

    def __init__(
        self, pool: Any, *, schema: str, lease_s: float, owner_id: str, timeout_s: float
    ) -> None:
        """Use :meth:`connect`, which also creates the schema and runs migrations."""
        self._pool: Any | None = pool
        self.schema = schema
        self.lease_s = lease_s
        self.owner_id = owner_id
        self.timeout_s = timeout_s
        self._sql = _Statements(schema)

    @classmethod
    async def connect(
        cls,
        dsn: str,
        *,
        schema: str = names.PG_SCHEMA,
        lease_s: float = 3.0,
        owner_id: str | None = None,
        min_size: int = 1,
        max_size: int = 4,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> PostgresRecords:
        """Connect a pool of ``min_size``–``max_size`` connections, create ``schema`` if missing
        and apply missing migrations.

        ``timeout_s`` bounds every call (connecting included). Raises
        :class:`StorageUnavailable` if the database cannot be reached, and
        :class:`UnsuitableDatabase` if its encoding is not UTF-8 (records carry nicknames in
        every script).
        """
        if lease_s <= 0:
            raise ValueError(f"lease_s must be positive, not {lease_s}")
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, not {timeout_s}")
        owner = owner_id or default_owner_id()
        try:
            pool = await asyncpg.create_pool(
                dsn,
                min_size=min_size,
                max_size=max_size,
                timeout=timeout_s,
                command_timeout=timeout_s,
                init=_init_connection,
                reset=_reset_nothing,
                # shows which livequiz process a connection belongs to in pg_stat_activity
                server_settings={"application_name": f"livequiz {owner}"[:63]},
            )
        except _UNAVAILABLE as exc:
            raise StorageUnavailable(
                f"cannot connect to PostgreSQL ({_describe(exc)}); is the server running and "
                f"the --database address right?"
            ) from exc
        records = cls(pool, schema=schema, lease_s=lease_s, owner_id=owner, timeout_s=timeout_s)
        try:
            async with records._connection("migrating the schema") as connection:
                encoding = await connection.fetchval("SELECT current_setting('server_encoding')")
                if encoding != "UTF8":
                    raise UnsuitableDatabase(
                        f"the database's encoding is {encoding}; livequiz needs UTF8 "
                        f"(CREATE DATABASE … ENCODING 'UTF8' TEMPLATE template0)"
                    )
                await migrate(connection, schema)
        except BaseException:
            await records.close()
            raise
        return records

    # ------------------------------------------------------------------ the directory

    async def add_quiz(self, definition: QuizDefinition) -> int:
        """Insert the quiz and its lease (this process, epoch 1) in one statement.

        One statement is one transaction: a quiz is never stored without its owner, so it can
        never be live and unowned without also being visible to :meth:`orphans`. The partial
        unique index on live PINs settles concurrent creates: the second waits for the first
        to commit, then fails, and exactly one wins.
        """
        try:
            async with self._connection("creating a quiz") as connection:
                epoch: int = await connection.fetchval(
                    self._sql.add_quiz,
                    definition.quiz_id,
                    definition.pin,
                    definition.to_dict(),
                    self.owner_id,
                    self.lease_s,
                )
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name == pg_schema.LIVE_PIN_INDEX:
                raise PinTaken(f"a live quiz already has PIN {definition.pin}") from exc
            if exc.constraint_name == pg_schema.QUIZZES_PKEY:
                raise ValueError(f"a quiz with id {definition.quiz_id} exists") from exc
            raise
        return epoch

    async def definition(self, quiz_id: str) -> QuizDefinition:
        """The stored definition; :class:`UnknownQuiz` if there is none."""
        async with self._connection("reading a quiz definition") as connection:
            data = await connection.fetchval(self._sql.definition, quiz_id)
        if data is None:
            raise UnknownQuiz(quiz_id)
        return QuizDefinition.from_dict(data)

    async def live_quiz_for_pin(self, pin: str) -> str | None:
        """The live quiz with ``pin``: at most one, by the partial unique index."""
        async with self._connection("resolving a PIN") as connection:
            quiz_id: str | None = await connection.fetchval(self._sql.live_quiz_for_pin, pin)
        return quiz_id

    async def ended_quiz_for_pin(self, pin: str) -> str | None:
        """The last created (hence last finished) finished quiz with ``pin``, unless a live
        quiz has the PIN now: a player typing the PIN then means the new quiz."""
        async with self._connection("resolving an ended PIN") as connection:
            quiz_id: str | None = await connection.fetchval(self._sql.ended_quiz_for_pin, pin)
        return quiz_id

    async def is_finished(self, quiz_id: str) -> bool:
        """Whether the quiz has finished; :class:`UnknownQuiz` if there is none."""
        async with self._connection("reading a quiz's state") as connection:
            finished: bool | None = await connection.fetchval(self._sql.is_finished, quiz_id)
        if finished is None:
            raise UnknownQuiz(quiz_id)
        return finished

    # ------------------------------------------------------------------ the journal

    async def append(
        self,
        rows: Sequence[Row],
        finished: Sequence[str],
        epochs: Mapping[str, int],
        deliveries: Sequence[WebhookDelivery] = (),
    ) -> None:
        """Store ``rows`` and the ``finished`` marks in one statement, only at the held epochs.

        The statement locks the lease rows of the quizzes involved (in quiz-id order, as every
        multi-row locker here does, so two of them never deadlock), checks each one's epoch,
        owner and that it has not finished, and only if every one holds inserts the rows and
        marks the finished quizzes. Holding the lock until commit is what makes fencing safe:
        an :meth:`acquire` by another process waits for this commit and then bumps the epoch,
        so the new owner, reading the journal after its acquire, sees every row this wrote,
        and this process can write nothing more. Only the quizzes in ``rows`` and ``finished``
        are checked: a lease lost elsewhere does not fail a batch that does not touch it.

        One statement also means one round trip for the whole batch (this runs for every
        batch of answers), with the rows sent as one ``json`` document (see
        :func:`_init_connection` for why).
        """
        if not rows and not finished:
            return
        involved = {row[0] for row in rows}.union(finished)
        missing = involved.difference(epochs)
        if missing:
            raise ValueError(f"append needs the lease epoch of {', '.join(sorted(missing))}")
        quiz_ids = sorted(involved)
        statement, row_parameters = self._append_statement(rows)
        parameters = (
            quiz_ids,
            [epochs[quiz_id] for quiz_id in quiz_ids],
            self.owner_id,
            list(finished),
            *row_parameters,
        )
        try:
            async with self._connection("appending to the journal") as connection:
                if not deliveries:  # the common case: one statement, its own transaction
                    outcome = await connection.fetchrow(statement, *parameters)
                else:  # a finish with its webhook deliveries: one transaction for both
                    async with connection.transaction():
                        outcome = await connection.fetchrow(statement, *parameters)
                        if not outcome["ok"]:
                            raise _NotHeld(outcome)
                        await connection.executemany(
                            self._sql.add_delivery, [_delivery_row(d) for d in deliveries]
                        )
        except _NotHeld as not_held:
            outcome = not_held.outcome
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name != pg_schema.JOURNAL_PKEY:
                raise
            raise Fenced(
                sorted(await self._clashing_quizzes(rows)),
                f"sequence numbers already stored ({exc.detail or exc})",
            ) from exc
        if not outcome["ok"]:
            lost = involved.difference(outcome["held"])
            raise Fenced(
                sorted(lost), f"lease lost for {', '.join(sorted(lost))}: nothing was stored"
            )
        if outcome["stored"] != len(rows):  # pragma: no cover - the join above is wrong
            raise AssertionError(f"stored {outcome['stored']} of {len(rows)} rows")

    def _append_statement(self, rows: Sequence[Row]) -> tuple[str, list[Any]]:
        """The statement for ``rows``, and its row parameters (after the four shared ones).

        The rows normally go as one ``json`` document, the cheapest for the client. But
        PostgreSQL's JSON functions refuse a whole document if any string in it holds
        ``\\u0000`` (it cannot become text), while a ``json`` value stored as it is keeps it;
        so a batch whose document holds that escape goes as three arrays instead, each record
        its own ``json`` value. Nicknames cannot contain control characters, so in practice
        that is never; but a journal stores what it is given.
        """
        document = orjson.dumps(rows if isinstance(rows, list | tuple) else list(rows))
        if b"\\u0000" not in document:
            return self._sql.append_document, [document]
        return self._sql.append_arrays, [
            [row[0] for row in rows],
            [row[1] for row in rows],
            [row[2] for row in rows],
        ]

    async def _clashing_quizzes(self, rows: Sequence[Row]) -> set[str]:
        """The quizzes of ``rows`` whose sequence number is taken, in the journal or twice in
        the batch itself (after a unique violation, to name them in :class:`Fenced`)."""
        seen: set[tuple[str, int]] = set()
        clashing: set[str] = set()
        for quiz_id, seq, _record in rows:
            if (quiz_id, seq) in seen:
                clashing.add(quiz_id)
            seen.add((quiz_id, seq))
        async with self._connection("finding clashing sequence numbers") as connection:
            stored = await connection.fetch(
                self._sql.stored_keys, [key[0] for key in seen], [key[1] for key in seen]
            )
        clashing.update(row["quiz_id"] for row in stored)
        return clashing or {row[0] for row in rows}

    async def records(self, quiz_id: str, after_seq: int = 0) -> list[tuple[int, Record]]:
        """The quiz's records after ``after_seq``, in order (by the primary key's index)."""
        async with self._connection("reading the journal") as connection:
            stored = await connection.fetch(self._sql.records, quiz_id, after_seq)
        return [(row["seq"], row["record"]) for row in stored]

    # ------------------------------------------------------------------ leases

    async def acquire(self, quiz_id: str) -> int | None:
        """Take the lease if it has expired, was released, or is this process's own.

        One conditional ``UPDATE``: if another process is acquiring or writing the quiz at the
        same moment, PostgreSQL makes this wait for it and re-checks the condition on the row
        it committed, so exactly one of two racing processes gets the lease, and an epoch only
        grows. Expiry is judged by the database's clock. A quiz whose lease row is missing
        (removed by hand) gets a new one above every epoch in its journal.
        """
        async with self._connection("acquiring a lease") as connection:
            epoch: int | None = await connection.fetchval(
                self._sql.acquire, quiz_id, self.owner_id, self.lease_s
            )
            if epoch is not None:
                return epoch
            state = await connection.fetchrow(self._sql.lease_state, quiz_id)
            if state is None:
                raise UnknownQuiz(quiz_id)
            if state["finished"] or state["has_lease"]:
                return None
            recreated: int | None = await connection.fetchval(
                self._sql.recreate_lease, quiz_id, self.owner_id, self.lease_s
            )
            return recreated

    async def renew(self, epochs: Mapping[str, int]) -> set[str]:
        """Extend every lease held at these epochs in one statement; returns the lost ones.

        A lease that expired but that nobody took is renewed: its epoch has not moved, so no
        one else can have written. Lost: another process holds it at a newer epoch, or the
        quiz finished.
        """
        if not epochs:
            return set()
        quiz_ids = sorted(epochs)
        async with self._connection("renewing leases") as connection:
            renewed = await connection.fetchval(
                self._sql.renew,
                quiz_ids,
                [epochs[quiz_id] for quiz_id in quiz_ids],
                self.owner_id,
                self.lease_s,
            )
        return set(quiz_ids).difference(renewed)

    async def release(self, epochs: Mapping[str, int]) -> None:
        """Set these leases' expiry to the past (epoch unchanged), so that the next
        :meth:`acquire` anywhere succeeds at once instead of waiting ``lease_s``."""
        if not epochs:
            return
        quiz_ids = sorted(epochs)
        async with self._connection("releasing leases") as connection:
            await connection.execute(
                self._sql.release, quiz_ids, [epochs[q] for q in quiz_ids], self.owner_id
            )

    async def orphans(self, limit: int) -> list[str]:
        """Live quizzes with an expired (or released) lease, or no lease row, oldest first.

        ``FOR NO KEY UPDATE SKIP LOCKED`` on the lease rows: a sweep neither waits for nor
        returns a quiz that another transaction is acquiring or writing right now, so many
        processes sweeping at once get different quizzes instead of queueing on the same rows.
        (The lock ends with the statement; :meth:`acquire` settles any remaining race.)
        """
        if limit <= 0:
            return []
        async with self._connection("looking for orphaned quizzes") as connection:
            found = await connection.fetch(self._sql.orphans, limit)
        return [row["quiz_id"] for row in found]

    # ------------------------------------------------------------------ flags

    async def add_flag(self, flag: Flag) -> bool:
        """One insert; the primary key makes a repeated flag a no-op (``ON CONFLICT``)."""
        async with self._connection("storing a flag") as connection:
            added = await connection.fetchval(self._sql.add_flag, *flag.row())
        return added is not None

    async def open_flags(self) -> list[FlaggedQuestion]:
        async with self._connection("reading the flags") as connection:
            rows = await connection.fetch(self._sql.flags)
        return summarize_flags(Flag(**dict(row)) for row in rows)

    # ------------------------------------------------------------------ API keys

    async def add_api_key(self, key: ApiKey) -> None:
        async with self._connection("storing an API key") as connection:
            await connection.execute(
                self._sql.add_api_key,
                key.key_id,
                key.name,
                key.secret_sha256,
                key.created_at_ms,
                key.revoked_at_ms,
                key.webhook_url,
                key.webhook_secret,
            )

    async def api_key(self, key_id: str) -> ApiKey | None:
        async with self._connection("reading an API key") as connection:
            row = await connection.fetchrow(self._sql.api_key, key_id)
        return None if row is None else ApiKey(**dict(row))

    async def api_keys(self) -> list[ApiKey]:
        async with self._connection("reading the API keys") as connection:
            rows = await connection.fetch(self._sql.api_keys)
        return [ApiKey(**dict(row)) for row in rows]

    async def revoke_api_key(self, key_id: str, at_ms: int) -> bool:
        async with self._connection("revoking an API key") as connection:
            revoked = await connection.fetchval(self._sql.revoke_api_key, key_id, at_ms)
        return bool(revoked)

    # ------------------------------------------------------------------ the webhook outbox

    async def add_delivery(self, delivery: WebhookDelivery) -> bool:
        async with self._connection("storing a webhook delivery") as connection:
            added = await connection.fetchval(self._sql.add_delivery, *_delivery_row(delivery))
        return bool(added)

    async def take_deliveries(
        self, now_ms: int, hold_until_ms: int, limit: int
    ) -> list[WebhookDelivery]:
        async with self._connection("taking webhook deliveries") as connection:
            rows = await connection.fetch(self._sql.take_deliveries, now_ms, hold_until_ms, limit)
        return sorted((WebhookDelivery(**dict(row)) for row in rows), key=lambda d: d.key)

    async def delivery_done(self, key: str, at_ms: int, attempts: int) -> None:
        async with self._connection("marking a webhook delivered") as connection:
            await connection.execute(self._sql.delivery_done, key, at_ms, attempts)

    async def delivery_failed(self, key: str, attempts: int, next_at_ms: int, error: str) -> None:
        async with self._connection("recording a webhook attempt") as connection:
            await connection.execute(self._sql.delivery_failed, key, attempts, next_at_ms, error)

    async def delivery(self, key: str) -> WebhookDelivery | None:
        async with self._connection("reading a webhook delivery") as connection:
            row = await connection.fetchrow(self._sql.delivery, key)
        return None if row is None else WebhookDelivery(**dict(row))

    async def clear_flags(self, word: str, kind: str) -> int:
        async with self._connection("clearing flags") as connection:
            cleared: int = await connection.fetchval(self._sql.clear_flags, *flag_key(word, kind))
        return cleared

    # ------------------------------------------------------------------ the rest

    async def signing_key(self) -> bytes:
        """The shared key: the first process to ask stores a random one, every later ask (in
        any process) reads that one. ``ON CONFLICT DO NOTHING`` then a separate ``SELECT``
        (a new snapshot), so a process that lost the race reads the winner's key."""
        async with self._connection("reading the signing key") as connection:
            await connection.execute(
                self._sql.insert_secret, SIGNING_KEY_NAME, secrets.token_bytes(SIGNING_KEY_BYTES)
            )
            key: bytes = await connection.fetchval(self._sql.select_secret, SIGNING_KEY_NAME)
        return key

    async def check(self) -> None:
        """One round trip through the pool (readiness probes)."""
        async with self._connection("checking the database") as connection:
            await connection.fetchval("SELECT 1")

    async def close(self) -> None:
        """Close the pool, waiting at most ``timeout_s`` for calls in flight; then cut them."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            await asyncio.wait_for(pool.close(), self.timeout_s)
        except _UNAVAILABLE:  # TimeoutError included
            pool.terminate()

    # ------------------------------------------------------------------ plumbing

    @asynccontextmanager
    async def _connection(self, doing: str) -> AsyncIterator[Any]:
        """A pooled connection for one call, within ``timeout_s`` from start to finish.

        Connection-level failures become :class:`StorageUnavailable` naming what was being
        done. The connection is dropped (``terminate``) when the call fails that way or is
        cancelled: its state is unknown, a reply may still be on its way, and waiting to reset
        it could hang as long as the database does; the pool opens a fresh one next time,
        which is how the same object recovers once the server is back.
        """
        pool = self._pool
        if pool is None:
            raise StorageUnavailable(f"{doing}: the PostgreSQL storage is closed")
        try:
            async with asyncio.timeout(self.timeout_s), pool.acquire() as connection:
                try:
                    yield connection
                except _UNAVAILABLE_OR_CANCELLED:
                    _drop(connection)
                    raise
                except asyncpg.InternalClientError as exc:
                    # The connection's protocol is in a state no call expects: "cannot switch
                    # to state 11; another operation (2) is in progress", a pooled connection
                    # still consuming the error a killed server sent it (found by the cluster
                    # nemesis: a copy's catch-up from the journal failed so). Unusable: drop it.
                    _drop(connection)
                    raise StorageUnavailable(
                        f"PostgreSQL unavailable while {doing}: a broken connection ({exc})"
                    ) from exc
                except asyncpg.InterfaceError as exc:
                    if _is_dead(connection):
                        raise StorageUnavailable(
                            f"PostgreSQL unavailable while {doing}: connection lost ({exc})"
                        ) from exc
                    raise
        except _UNAVAILABLE as exc:
            if isinstance(exc, TimeoutError):
                reason = f"no answer within {self.timeout_s:g} s"
            else:
                reason = _describe(exc)
            raise StorageUnavailable(f"PostgreSQL unavailable while {doing}: {reason}") from exc


def _is_dead(connection: Any) -> bool:
    """Whether a pooled connection has closed. The pool detaches a connection that closes
    while in use, and its proxy then refuses every call: that too means it is dead."""
    try:
        closed: bool = connection.is_closed()
    except asyncpg.InterfaceError:
        return True
    return closed


def _drop(connection: Any) -> None:
    """Close a connection at once, without the goodbye a hung server would never answer."""
    if not _is_dead(connection):
        connection.terminate()


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class _NotHeld(Exception):
    """A batch's leases did not hold: roll its transaction back (nothing was stored)."""

    def __init__(self, outcome: Any) -> None:
        super().__init__("lease not held")
        self.outcome = outcome


def _delivery_row(d: WebhookDelivery) -> tuple[object, ...]:
    """The columns of a delivery, in the order of its fields (and of the table's columns)."""
    return astuple(d)


class _Statements:
    """Every statement, with the schema's tables named in full (built once per object).

    Fully qualified names rather than ``search_path``: a statement cannot resolve to a table
    in another schema whatever the connection's settings (a pooler, a role default).
    """

    def __init__(self, schema: str) -> None:
        s = quote_ident(schema)
        quizzes = f"{s}.{names.PG_QUIZZES}"
        journal = f"{s}.{names.PG_JOURNAL}"
        leases = f"{s}.{names.PG_LEASES}"
        secrets_ = f"{s}.{names.PG_SECRETS}"
        flags = f"{s}.{names.PG_FLAGS}"
        api_keys = f"{s}.{names.PG_API_KEYS}"
        key_columns = (
            "key_id, name, secret_sha256, created_at_ms, revoked_at_ms, webhook_url, webhook_secret"
        )
        self.add_api_key = (
            f"INSERT INTO {api_keys} ({key_columns}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        )
        self.api_key = f"SELECT {key_columns} FROM {api_keys} WHERE key_id = $1"
        self.api_keys = f"SELECT {key_columns} FROM {api_keys} ORDER BY created_at_ms, key_id"
        deliveries = f"{s}.{names.PG_DELIVERIES}"
        delivery_columns = (
            "key, quiz_id, url, secret, body, created_at_ms, next_at_ms, attempts,"
            " delivered_at_ms, last_error"
        )
        self.add_delivery = f"""
            INSERT INTO {deliveries} ({delivery_columns})
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
            ON CONFLICT (key) DO NOTHING RETURNING true"""
        # held rows are skipped by another process's take (SKIP LOCKED), then moved on
        self.take_deliveries = f"""
            UPDATE {deliveries} SET next_at_ms = $2
            WHERE key IN (
                SELECT key FROM {deliveries}
                WHERE delivered_at_ms IS NULL AND next_at_ms <= $1
                ORDER BY next_at_ms, key LIMIT $3
                FOR UPDATE SKIP LOCKED
            )
            RETURNING {delivery_columns}"""
        self.delivery_done = f"""
            UPDATE {deliveries} SET delivered_at_ms = $2, attempts = $3, last_error = ''
            WHERE key = $1"""
        self.delivery_failed = f"""
            UPDATE {deliveries} SET attempts = $2, next_at_ms = $3, last_error = $4
            WHERE key = $1 AND delivered_at_ms IS NULL"""
        self.delivery = f"SELECT {delivery_columns} FROM {deliveries} WHERE key = $1"
        self.revoke_api_key = f"""
            UPDATE {api_keys} SET revoked_at_ms = $2
            WHERE key_id = $1 AND revoked_at_ms IS NULL RETURNING true"""
        lease_end = "now() + make_interval(secs => $3)"

        self.add_quiz = f"""
            WITH quiz AS (
                INSERT INTO {quizzes} (quiz_id, pin, definition) VALUES ($1, $2, $3::json)
                RETURNING quiz_id
            )
            INSERT INTO {leases} (quiz_id, owner_id, epoch, expires_at)
            SELECT quiz_id, $4, 1, now() + make_interval(secs => $5) FROM quiz
            RETURNING epoch"""
        self.definition = f"SELECT definition FROM {quizzes} WHERE quiz_id = $1"
        self.live_quiz_for_pin = (
            f"SELECT quiz_id FROM {quizzes} WHERE pin = $1 AND finished_at IS NULL"
        )
        self.ended_quiz_for_pin = f"""
            SELECT quiz_id FROM {quizzes}
            WHERE pin = $1 AND finished_at IS NOT NULL
              AND NOT EXISTS (SELECT FROM {quizzes} WHERE pin = $1 AND finished_at IS NULL)
            ORDER BY created_order DESC LIMIT 1"""
        self.is_finished = f"SELECT finished_at IS NOT NULL FROM {quizzes} WHERE quiz_id = $1"

        # $1/$2 the quizzes involved (sorted) and the epochs held; $3 this owner; $4 the
        # quizzes to mark finished; from $5 the rows, in one of two shapes (see append).
        append = f"""
            WITH wanted AS (
                SELECT quiz_id, epoch FROM unnest($1::text[], $2::bigint[]) AS w (quiz_id, epoch)
            ), held AS (
                SELECT l.quiz_id FROM {leases} AS l JOIN wanted AS w ON w.quiz_id = l.quiz_id
                WHERE l.epoch = w.epoch AND l.owner_id = $3 AND NOT l.finished
                ORDER BY l.quiz_id
                FOR NO KEY UPDATE OF l
            ), verdict AS (
                SELECT count(*) = cardinality($1::text[]) AS ok FROM held
            ), incoming AS (
                {{incoming}}
            ), stored AS (
                INSERT INTO {journal} (quiz_id, seq, epoch, record)
                SELECT r.quiz_id, r.seq, w.epoch, r.record
                FROM incoming AS r JOIN wanted AS w ON w.quiz_id = r.quiz_id
                WHERE (SELECT ok FROM verdict)
                RETURNING 1
            ), ended_leases AS (
                -- data-modifying CTEs run to completion even when nothing reads them
                UPDATE {leases} SET finished = true
                WHERE quiz_id = ANY($4::text[]) AND (SELECT ok FROM verdict)
            ), ended AS (
                UPDATE {quizzes} SET finished_at = now()
                WHERE quiz_id = ANY($4::text[]) AND finished_at IS NULL
                  AND (SELECT ok FROM verdict)
            )
            SELECT (SELECT ok FROM verdict) AS ok,
                   ARRAY(SELECT quiz_id FROM held) AS held,
                   (SELECT count(*) FROM stored) AS stored"""
        #: $5 every row as one json document ``[[quiz_id, seq, record], …]``.
        self.append_document = append.format(
            incoming="""SELECT r.value ->> 0 AS quiz_id, (r.value ->> 1)::bigint AS seq,
                       r.value -> 2 AS record
                FROM json_array_elements($5::json) AS r"""
        )
        #: $5/$6/$7 the rows as three arrays, each record its own json value.
        self.append_arrays = append.format(
            incoming="""SELECT * FROM unnest($5::text[], $6::bigint[], $7::json[])
                    AS r (quiz_id, seq, record)"""
        )
        self.stored_keys = f"""
            SELECT DISTINCT j.quiz_id FROM {journal} AS j
            JOIN unnest($1::text[], $2::bigint[]) AS k (quiz_id, seq)
              ON j.quiz_id = k.quiz_id AND j.seq = k.seq"""
        self.records = f"""
            SELECT seq, record FROM {journal} WHERE quiz_id = $1 AND seq > $2 ORDER BY seq"""

        self.acquire = f"""
            UPDATE {leases}
            SET owner_id = $2, epoch = epoch + 1, expires_at = {lease_end}
            WHERE quiz_id = $1 AND NOT finished AND (expires_at <= now() OR owner_id = $2)
            RETURNING epoch"""
        self.lease_state = f"""
            SELECT q.finished_at IS NOT NULL AS finished,
                   EXISTS (SELECT FROM {leases} AS l WHERE l.quiz_id = q.quiz_id) AS has_lease
            FROM {quizzes} AS q WHERE q.quiz_id = $1"""
        self.recreate_lease = f"""
            INSERT INTO {leases} (quiz_id, owner_id, epoch, expires_at)
            SELECT $1, $2,
                   1 + coalesce((SELECT max(epoch) FROM {journal} WHERE quiz_id = $1), 0),
                   {lease_end}
            ON CONFLICT (quiz_id) DO NOTHING
            RETURNING epoch"""
        self.renew = f"""
            WITH kept AS (
                SELECT l.quiz_id FROM {leases} AS l
                JOIN unnest($1::text[], $2::bigint[]) AS w (quiz_id, epoch)
                  ON w.quiz_id = l.quiz_id
                WHERE l.epoch = w.epoch AND l.owner_id = $3 AND NOT l.finished
                ORDER BY l.quiz_id
                FOR NO KEY UPDATE OF l
            ), renewed AS (
                UPDATE {leases} AS l SET expires_at = now() + make_interval(secs => $4)
                FROM kept WHERE l.quiz_id = kept.quiz_id
                RETURNING l.quiz_id
            )
            SELECT ARRAY(SELECT quiz_id FROM renewed)"""
        self.release = f"""
            WITH kept AS (
                SELECT l.quiz_id FROM {leases} AS l
                JOIN unnest($1::text[], $2::bigint[]) AS w (quiz_id, epoch)
                  ON w.quiz_id = l.quiz_id
                WHERE l.epoch = w.epoch AND l.owner_id = $3 AND NOT l.finished
                ORDER BY l.quiz_id
                FOR NO KEY UPDATE OF l
            )
            UPDATE {leases} AS l SET expires_at = '-infinity'
            FROM kept WHERE l.quiz_id = kept.quiz_id"""
        self.orphans = f"""
            WITH expired AS (
                SELECT l.quiz_id, q.created_order
                FROM {leases} AS l JOIN {quizzes} AS q ON q.quiz_id = l.quiz_id
                WHERE NOT l.finished AND l.expires_at <= now() AND q.finished_at IS NULL
                ORDER BY q.created_order LIMIT $1
                FOR NO KEY UPDATE OF l SKIP LOCKED
            ), unleased AS (
                SELECT q.quiz_id, q.created_order FROM {quizzes} AS q
                WHERE q.finished_at IS NULL
                  AND NOT EXISTS (SELECT FROM {leases} AS l WHERE l.quiz_id = q.quiz_id)
                ORDER BY q.created_order LIMIT $1
            )
            SELECT quiz_id FROM (
                SELECT * FROM expired UNION ALL SELECT * FROM unleased
            ) AS orphan
            ORDER BY created_order LIMIT $1"""
        self.insert_secret = f"""
            INSERT INTO {secrets_} (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING"""
        self.select_secret = f"SELECT value FROM {secrets_} WHERE name = $1"
        places = ", ".join(f"${n}" for n in range(1, len(FLAG_COLUMNS) + 1))
        self.add_flag = f"""
            INSERT INTO {flags} ({", ".join(FLAG_COLUMNS)}) VALUES ({places})
            ON CONFLICT DO NOTHING
            RETURNING 1"""
        self.flags = f"""
            SELECT word, kind, level, prompt, quiz_id, question, flagger, reason, at_ms
            FROM {flags}"""
        self.clear_flags = f"""
            WITH cleared AS (
                DELETE FROM {flags} WHERE word_key = $1 AND kind = $2 RETURNING 1
            )
            SELECT count(*) FROM cleared"""
