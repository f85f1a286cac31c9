"""The embedded default's durable journal: SQLite in WAL mode, commits grouped per batch.

Why SQLite: it ships with Python, needs no server, and in WAL mode a commit is an append to one
file. ``synchronous=NORMAL`` (the default here) survives a crash of the process (``kill -9``):
a committed transaction is in the WAL file before ``COMMIT`` returns, and the OS writes it out even
if the process dies. ``FULL`` also survives a power cut, at the price of an ``fsync`` per commit.
Commits are grouped: the store hands over one batch of commands (everything that arrived in the
last few milliseconds) and the journal writes it in one transaction — its rows and the "finished"
marks of the quizzes it ended, all or nothing.

SQLite work runs on one dedicated thread, so an ``fsync`` never stalls the event loop, with one
exception: a small batch (:data:`INLINE_MAX_ROWS` rows at most) with ``synchronous=NORMAL``, while
the thread has nothing to do, is committed on the event loop itself. Such a commit is a
``write()`` into the WAL file, no ``fsync`` (~0.1 ms), and it saves the answer behind it two
turns of the loop: the hand-over to the thread and the wake-up after it. On a busy loop those
turns are what an ack waits for: in a join storm, answers batched with joins waited 5-12 ms for
the thread's commit (it competes for the GIL) and the loop's turn after it, against 0.6 ms
for the same answers on an idle loop (docs/reliability.md, "The join storm, measured again").
What may ``fsync`` stays off the loop: ``synchronous=FULL`` commits run on the thread, and the WAL
checkpoints on a thread and connection of their own (automatic checkpoints are off: one every
:data:`CHECKPOINT_EVERY_COMMITS` commits), which in WAL mode runs beside the commits instead of
holding them up; and an inline commit never waits for a lock held by another connection (a
backup tool): it gives way to the thread, which waits up to :data:`BUSY_TIMEOUT_MS`.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import astuple, replace
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

import orjson

from livequiz.ports import FLAG_COLUMNS, ApiKey, Flag, QuizDefinition, Record, Row, WebhookDelivery

T = TypeVar("T")

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS quizzes (
    quiz_id TEXT PRIMARY KEY,
    pin TEXT NOT NULL,
    definition BLOB NOT NULL,
    created_at_ms INTEGER NOT NULL,
    finished INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS journal (
    quiz_id TEXT NOT NULL REFERENCES quizzes(quiz_id),
    seq INTEGER NOT NULL,
    record BLOB NOT NULL,
    PRIMARY KEY (quiz_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS flags (
    word_key TEXT NOT NULL,
    kind TEXT NOT NULL,
    quiz_id TEXT NOT NULL,
    flagger TEXT NOT NULL,
    word TEXT NOT NULL,
    level TEXT NOT NULL,
    prompt TEXT NOT NULL,
    question INTEGER NOT NULL,
    reason TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    PRIMARY KEY (word_key, kind, quiz_id, flagger)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS api_keys (
    key_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    secret_sha256 TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    revoked_at_ms INTEGER,
    webhook_url TEXT,
    webhook_secret TEXT
);
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    key TEXT PRIMARY KEY,
    quiz_id TEXT NOT NULL,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    next_at_ms INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    delivered_at_ms INTEGER,
    last_error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS deliveries_due ON webhook_deliveries (next_at_ms)
    WHERE delivered_at_ms IS NULL;
-- Start-up reads the live quizzes only, and a finished quiz is looked up by id or PIN when
-- asked for: neither may scan every quiz ever played (docs/reliability.md, "A long day").
CREATE INDEX IF NOT EXISTS quizzes_live ON quizzes (created_at_ms, quiz_id) WHERE finished = 0;
CREATE INDEX IF NOT EXISTS quizzes_pin ON quizzes (pin);
"""

_KEY_COLUMNS = (
    "key_id, name, secret_sha256, created_at_ms, revoked_at_ms, webhook_url, webhook_secret"
)
_DELIVERY_COLUMNS = (
    "key, quiz_id, url, secret, body, created_at_ms, next_at_ms, attempts, delivered_at_ms,"
    " last_error"
)

#: Inserts a batch given as one JSON array of ``[quiz_id, seq, record]`` rows, in one step.
_INSERT_ROWS = """
INSERT INTO journal (quiz_id, seq, record)
SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'),
       CAST(json_extract(value, '$[2]') AS BLOB)
FROM json_each(?)
"""

#: How long a write on the journal's thread waits for a lock held by another connection (a
#: backup tool, the sqlite3 shell) before failing; our own writes are serialised and never wait.
BUSY_TIMEOUT_MS = 5_000

#: A batch of at most this many rows may be committed on the event loop (see the module
#: docstring): a live quiz's batches in a storm of joins are ~10 rows, and ~0.1 ms to commit;
#: the big batches of thousands of players answering at once stay on the thread, where the
#: commit (the GIL released around each SQLite step) overlaps the loop's own work.
INLINE_MAX_ROWS = 64

#: Commits on the event loop in a row with no turn of the loop between them, at most: a caller
#: that appends in a loop (nothing else awaited) would otherwise never let the loop turn, as
#: a write on the thread would. The server's owner appends once per batch and never meets it.
INLINE_STREAK_MAX = 8

#: With automatic checkpoints off (they ``fsync``, and would do it inside whichever commit
#: crossed the threshold, an inline one too), a checkpoint of the WAL starts after this many
#: commits, on its own thread and connection: a PASSIVE checkpoint copies what was committed
#: before it began while later commits go on appending, so no ack waits for its ``fsync``
#: (at the writer's thread, each checkpoint held up every batch behind it: the ack p99 of
#: 10,000 players in 200 quizzes was ~200 ms without checkpoints, 290-510 ms with them).
#: A small commit writes two or three 4 KiB pages, so the WAL stays near SQLite's own default
#: threshold of 1,000 pages.
CHECKPOINT_EVERY_COMMITS = 300

#: A checkpoint that could not copy everything (commits went on meanwhile) is tried again at
#: once, this many times at most: the WAL starts again from its beginning only after a
#: checkpoint copied all of it, so a busy journal would otherwise keep growing its WAL.
CHECKPOINT_RETRIES = 3

#: A WAL file this big (about two checkpoint intervals of small commits) means the passive
#: checkpoints have not let it start again from its beginning (a reader always on an older
#: snapshot, commits always arriving): the next checkpoint is a TRUNCATE, which waits (up to
#: TRUNCATE_WAIT_MS) for the readers and holds the writers back while it copies the rest and
#: empties the file. Rare, and then a few commits wait for it; without it a long day's WAL grew
#: past 17 MiB (tests/reliability/test_long_day.py).
WAL_TRUNCATE_BYTES = 8 * 2**20
TRUNCATE_WAIT_MS = 2000


class Synchronous(StrEnum):
    """SQLite's ``synchronous`` pragma, as the two choices that make sense here."""

    NORMAL = "NORMAL"  #: survives a process crash
    FULL = "FULL"  #: also survives a power cut; an fsync per commit


#: What ``PRAGMA synchronous`` reads back as for each choice.
_SYNCHRONOUS_LEVEL = {Synchronous.NORMAL: 1, Synchronous.FULL: 2}


class JournalError(RuntimeError):
    """The database cannot give the guarantees the journal promises (e.g. no WAL mode)."""


class SqliteJournal:
    """A :class:`~livequiz.adapters.memory.Journal` in one SQLite file."""

    def __init__(self, path: Path, *, synchronous: Synchronous = Synchronous.NORMAL) -> None:
        self.path = path
        self.synchronous = Synchronous(synchronous)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-journal")
        self._db: sqlite3.Connection | None = None
        self._closed = False
        # Jobs handed to the thread and not done (or cancelled) yet, under _jobs_lock (the
        # thread counts them down): the loop commits inline only when there are none, so the
        # connection is never used by both at once and writes stay in order.
        self._jobs = 0
        self._jobs_lock = threading.Lock()
        self._commits_since_checkpoint = 0
        # Inline commits since the loop last turned (see INLINE_STREAK_MAX).
        self._inline_streak = 0
        self._streak_reset_scheduled = False
        self._checkpointer = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="sqlite-checkpoint"
        )
        self._checkpoint_db: sqlite3.Connection | None = None
        self._checkpointing: Future[None] | None = None
        #: Batches committed on the event loop and on the journal's thread, and checkpoints
        #: that copied the whole WAL (for tests).
        self.inline_commits = 0
        self.thread_commits = 0
        self.full_checkpoints = 0
        #: Of those, checkpoints that emptied a WAL grown past WAL_TRUNCATE_BYTES.
        self.truncating_checkpoints = 0

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        if self._closed:
            raise JournalError(f"{self.path}: the journal is closed")
        with self._jobs_lock:
            self._jobs += 1
        try:
            job: Future[T] = self._executor.submit(fn, *args)
        except BaseException:
            self._job_done()
            raise
        job.add_done_callback(self._job_done)
        return await asyncio.wrap_future(job)

    def _job_done(self, _job: object = None) -> None:
        with self._jobs_lock:
            self._jobs -= 1

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            try:
                (mode,) = db.execute("PRAGMA journal_mode=WAL").fetchone()
                if str(mode).lower() != "wal":
                    raise JournalError(f"{self.path}: SQLite refused WAL mode (got {mode!r})")
                db.execute(f"PRAGMA synchronous={self.synchronous.value}")
                (level,) = db.execute("PRAGMA synchronous").fetchone()
                if level != _SYNCHRONOUS_LEVEL[self.synchronous]:
                    raise JournalError(
                        f"{self.path}: synchronous is {level}, not {self.synchronous}"
                    )
                db.execute("PRAGMA foreign_keys=ON")
                db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
                db.execute("PRAGMA wal_autocheckpoint=0")  # see CHECKPOINT_EVERY_COMMITS
                db.executescript(SCHEMA)
            except BaseException:
                db.close()
                raise
            self._db = db
        return self._db

    async def pragmas(self) -> dict[str, object]:
        """What the journal's own connection runs with (for health checks and tests)."""
        return await self._run(self._pragmas)

    def _pragmas(self) -> dict[str, object]:
        db = self._connect()
        return {
            name: db.execute(f"PRAGMA {name}").fetchone()[0]
            for name in (
                "journal_mode",
                "synchronous",
                "foreign_keys",
                "busy_timeout",
                "wal_autocheckpoint",
            )
        }

    async def add_quiz(self, definition: QuizDefinition) -> None:
        await self._run(self._add_quiz, definition)

    def _add_quiz(self, definition: QuizDefinition) -> None:
        db = self._connect()
        db.execute(
            "INSERT INTO quizzes (quiz_id, pin, definition, created_at_ms) VALUES (?, ?, ?, ?)",
            (
                definition.quiz_id,
                definition.pin,
                orjson.dumps(definition.to_dict()),
                definition.created_at_ms,
            ),
        )

    async def append(
        self,
        rows: Sequence[Row],
        finished: Sequence[str] = (),
        deliveries: Sequence[WebhookDelivery] = (),
    ) -> None:
        """Store a batch in one transaction; returns once it is committed.

        On the event loop when it is small and nothing else is on the thread (see the module
        docstring), else on the journal's thread; then a checkpoint starts beside the commits
        if one is due.
        """
        # Encoded here, on the event loop (~1 µs a row), so the writer thread needs the GIL
        # as little as possible: see _append.
        encoded = orjson.dumps(rows)
        if self._inline_streak >= INLINE_STREAK_MAX:
            await asyncio.sleep(0)  # let the loop turn: the rest of the process runs too
        try:
            inline = len(rows) <= INLINE_MAX_ROWS and not deliveries
            if not inline or not self._append_inline(encoded, finished):
                await self._run(self._append_on_thread, encoded, finished, deliveries)
        finally:
            if self._commits_since_checkpoint >= CHECKPOINT_EVERY_COMMITS:
                self._start_checkpoint()

    def _append_inline(self, rows: bytes, finished: Sequence[str]) -> bool:
        """Commit on the calling (event loop) thread if that cannot wait on anything: the
        thread idle, no ``fsync`` per commit, no lock held elsewhere. False: nothing was
        written, and the thread should do it."""
        db = self._db
        if self._closed or db is None or self.synchronous is not Synchronous.NORMAL:
            return False
        with self._jobs_lock:
            if self._jobs:
                return False
            self._jobs += 1
        try:
            db.execute("PRAGMA busy_timeout=0")
            try:
                self._append(rows, finished)
            except sqlite3.OperationalError as error:
                if error.sqlite_errorcode != sqlite3.SQLITE_BUSY:
                    raise
                return False  # another connection writes: the thread waits for it
            finally:
                db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            self.inline_commits += 1
            self._inline_streak += 1
            if not self._streak_reset_scheduled:
                self._streak_reset_scheduled = True
                asyncio.get_running_loop().call_soon(self._reset_streak)
            return True
        finally:
            self._job_done()

    def _reset_streak(self) -> None:
        """Runs in the loop's next turn: the loop turned."""
        self._inline_streak = 0
        self._streak_reset_scheduled = False

    def _append_on_thread(
        self, rows: bytes, finished: Sequence[str], deliveries: Sequence[WebhookDelivery] = ()
    ) -> None:
        self._append(rows, finished, deliveries)
        self.thread_commits += 1

    def _start_checkpoint(self) -> None:
        """Start a checkpoint on its own thread unless one is running (then it is due again
        at the next commit)."""
        if self._closed or (self._checkpointing is not None and not self._checkpointing.done()):
            return
        self._commits_since_checkpoint = 0
        self._checkpointing = self._checkpointer.submit(self._checkpoint)

    async def wait_checkpoint(self) -> None:
        """Return once the checkpoint running now, if any, is done (for tests)."""
        if self._checkpointing is not None:
            await asyncio.wrap_future(self._checkpointing)

    def _checkpoint(self) -> None:
        try:
            db = self._checkpoint_db
            if db is None:
                db = self._checkpoint_db = sqlite3.connect(
                    self.path,
                    isolation_level=None,
                    check_same_thread=False,
                    timeout=TRUNCATE_WAIT_MS / 1000,  # only TRUNCATE waits (PASSIVE never does)
                )
            wal = Path(f"{self.path}-wal")
            if wal.exists() and wal.stat().st_size > WAL_TRUNCATE_BYTES:
                busy, _, _ = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                if not busy:
                    self.full_checkpoints += 1
                    self.truncating_checkpoints += 1
                    return
            for _ in range(1 + CHECKPOINT_RETRIES):
                # PASSIVE: waits for no reader or writer; copies what was committed when it began.
                busy, in_wal, copied = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                if not busy and copied == in_wal:
                    self.full_checkpoints += 1
                    return
        except sqlite3.Error as error:
            # The commits are in the WAL whatever happens here. A full disk fails the next
            # commits too, and says so there.
            log.warning("checkpointing the journal failed: %s", error)

    def _append(
        self, rows: bytes, finished: Sequence[str], deliveries: Sequence[WebhookDelivery] = ()
    ) -> None:
        db = self._connect()
        db.execute("BEGIN IMMEDIATE")
        try:
            # One statement for the whole batch, not executemany: sqlite3 releases the GIL
            # around every step, and on a busy server each time this thread wants it back it
            # waits up to the switch interval: a few hundred rows added up to hundreds of ms.
            db.execute(_INSERT_ROWS, (rows,))
            db.executemany(
                "UPDATE quizzes SET finished = 1 WHERE quiz_id = ?", [(q,) for q in finished]
            )
            for delivery in deliveries:
                self._add_delivery(delivery)
            db.execute("COMMIT")
            self._commits_since_checkpoint += 1
        except BaseException:
            # Also when COMMIT itself failed (disk full, I/O error): leave no transaction open,
            # or every later BEGIN would fail too.
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    async def records(self, quiz_id: str, after_seq: int = 0) -> list[tuple[int, Record]]:
        """One quiz's ``(seq, record)`` rows after ``after_seq``, in order."""
        return await self._run(self._records, quiz_id, after_seq)

    def _records(self, quiz_id: str, after_seq: int) -> list[tuple[int, Record]]:
        return [
            (seq, orjson.loads(record))
            for seq, record in self._connect().execute(
                "SELECT seq, record FROM journal WHERE quiz_id = ? AND seq > ? ORDER BY seq",
                (quiz_id, after_seq),
            )
        ]

    async def load(self) -> list[tuple[QuizDefinition, bool]]:
        """Every stored quiz's definition and whether it has finished, oldest first.

        For tools and tests: a server reads only :meth:`live` at start, and finished quizzes
        one at a time when asked for (:meth:`quiz`, :meth:`ended_quiz_for_pin`)."""
        return await self._run(self._load)

    async def live(self) -> list[QuizDefinition]:
        """The quizzes that have not finished, oldest first (from an index of them only, so
        a journal of a month of finished quizzes is read as fast as a new one)."""
        return await self._run(self._live)

    def _live(self) -> list[QuizDefinition]:
        return [
            QuizDefinition.from_dict(orjson.loads(definition))
            for (definition,) in self._connect().execute(
                "SELECT definition FROM quizzes WHERE finished = 0 ORDER BY created_at_ms, quiz_id"
            )
        ]

    async def quiz(self, quiz_id: str) -> tuple[QuizDefinition, bool] | None:
        """One quiz's definition and whether it has finished; ``None`` if none has the id."""
        return await self._run(self._quiz, quiz_id)

    def _quiz(self, quiz_id: str) -> tuple[QuizDefinition, bool] | None:
        row = (
            self._connect()
            .execute("SELECT definition, finished FROM quizzes WHERE quiz_id = ?", (quiz_id,))
            .fetchone()
        )
        if row is None:
            return None
        return QuizDefinition.from_dict(orjson.loads(row[0])), bool(row[1])

    async def ended_quiz_for_pin(self, pin: str) -> str | None:
        """The last stored quiz with this PIN if it has finished (a PIN is unique among live
        quizzes, so quizzes of one PIN follow each other: the last stored is the last that
        ended, or the live one). Rows are never deleted, so the rowid orders them by when
        they were stored, whatever the clock said."""
        return await self._run(self._ended_quiz_for_pin, pin)

    def _ended_quiz_for_pin(self, pin: str) -> str | None:
        row = (
            self._connect()
            .execute(
                "SELECT quiz_id, finished FROM quizzes WHERE pin = ? ORDER BY rowid DESC LIMIT 1",
                (pin,),
            )
            .fetchone()
        )
        return str(row[0]) if row is not None and row[1] else None

    def _load(self) -> list[tuple[QuizDefinition, bool]]:
        return [
            (QuizDefinition.from_dict(orjson.loads(definition)), bool(finished))
            for definition, finished in self._connect().execute(
                "SELECT definition, finished FROM quizzes ORDER BY created_at_ms, quiz_id"
            )
        ]

    # ------------------------------------------------------------------ flags

    async def add_flag(self, flag: Flag) -> bool:
        """Store a flag in its own commit; ``False`` if that flagger's flag is there already."""
        return await self._run(self._add_flag, flag)

    def _add_flag(self, flag: Flag) -> bool:
        cursor = self._connect().execute(
            f"INSERT OR IGNORE INTO flags ({', '.join(FLAG_COLUMNS)})"
            f" VALUES ({', '.join('?' * len(FLAG_COLUMNS))})",
            flag.row(),
        )
        return cursor.rowcount == 1

    async def flags(self) -> list[Flag]:
        """Every stored flag."""
        return await self._run(self._flags)

    def _flags(self) -> list[Flag]:
        return [
            Flag(
                word=word,
                kind=kind,
                level=level,
                prompt=prompt,
                quiz_id=quiz_id,
                question=question,
                flagger=flagger,
                reason=reason,
                at_ms=at_ms,
            )
            for word, kind, level, prompt, quiz_id, question, flagger, reason, at_ms in (
                self._connect().execute(
                    "SELECT word, kind, level, prompt, quiz_id, question, flagger, reason, at_ms"
                    " FROM flags"
                )
            )
        ]

    async def clear_flags(self, key: tuple[str, str]) -> int:
        """Delete every flag of ``key`` (``(word case-folded, kind)``); returns how many."""
        return await self._run(self._clear_flags, key)

    def _clear_flags(self, key: tuple[str, str]) -> int:
        cursor = self._connect().execute("DELETE FROM flags WHERE word_key = ? AND kind = ?", key)
        return cursor.rowcount

    # ------------------------------------------------------------------ API keys

    async def add_api_key(self, key: ApiKey) -> None:
        await self._run(self._add_api_key, key)

    def _add_api_key(self, key: ApiKey) -> None:
        self._connect().execute(
            f"INSERT INTO api_keys ({_KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                key.key_id,
                key.name,
                key.secret_sha256,
                key.created_at_ms,
                key.revoked_at_ms,
                key.webhook_url,
                key.webhook_secret,
            ),
        )

    async def api_keys(self, key_id: str | None = None) -> list[ApiKey]:
        """Every key, oldest first (or the one with ``key_id``)."""
        return await self._run(self._api_keys, key_id)

    def _api_keys(self, key_id: str | None) -> list[ApiKey]:
        query = f"SELECT {_KEY_COLUMNS} FROM api_keys"
        rows = (
            self._connect().execute(query + " ORDER BY created_at_ms, key_id")
            if key_id is None
            else self._connect().execute(query + " WHERE key_id = ?", (key_id,))
        )
        return [ApiKey(*row) for row in rows]

    async def revoke_api_key(self, key_id: str, at_ms: int) -> bool:
        return await self._run(self._revoke_api_key, key_id, at_ms)

    def _revoke_api_key(self, key_id: str, at_ms: int) -> bool:
        cursor = self._connect().execute(
            "UPDATE api_keys SET revoked_at_ms = ? WHERE key_id = ? AND revoked_at_ms IS NULL",
            (at_ms, key_id),
        )
        return cursor.rowcount == 1

    # ------------------------------------------------------------------ the webhook outbox

    async def add_delivery(self, delivery: WebhookDelivery) -> bool:
        return await self._run(self._add_delivery, delivery)

    def _add_delivery(self, d: WebhookDelivery) -> bool:
        cursor = self._connect().execute(
            f"INSERT OR IGNORE INTO webhook_deliveries ({_DELIVERY_COLUMNS})"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            astuple(d),  # the fields in the order of the columns
        )
        return cursor.rowcount == 1

    async def take_deliveries(
        self, now_ms: int, hold_until_ms: int, limit: int
    ) -> list[WebhookDelivery]:
        return await self._run(self._take_deliveries, now_ms, hold_until_ms, limit)

    def _take_deliveries(
        self, now_ms: int, hold_until_ms: int, limit: int
    ) -> list[WebhookDelivery]:
        db = self._connect()
        db.execute("BEGIN IMMEDIATE")  # read and hold in one step: nobody else takes them
        try:
            rows = db.execute(
                f"SELECT {_DELIVERY_COLUMNS} FROM webhook_deliveries"
                " WHERE delivered_at_ms IS NULL AND next_at_ms <= ?"
                " ORDER BY next_at_ms, key LIMIT ?",
                (now_ms, limit),
            ).fetchall()
            db.executemany(
                "UPDATE webhook_deliveries SET next_at_ms = ? WHERE key = ?",
                [(hold_until_ms, row[0]) for row in rows],
            )
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return [replace(WebhookDelivery(*row), next_at_ms=hold_until_ms) for row in rows]

    async def delivery_done(self, key: str, at_ms: int, attempts: int) -> None:
        await self._run(
            self._update_delivery,
            "UPDATE webhook_deliveries SET delivered_at_ms = ?, attempts = ?, last_error = ''"
            " WHERE key = ?",
            (at_ms, attempts, key),
        )

    async def delivery_failed(self, key: str, attempts: int, next_at_ms: int, error: str) -> None:
        await self._run(
            self._update_delivery,
            "UPDATE webhook_deliveries SET attempts = ?, next_at_ms = ?, last_error = ?"
            " WHERE key = ? AND delivered_at_ms IS NULL",
            (attempts, next_at_ms, error, key),
        )

    def _update_delivery(self, sql: str, values: tuple[object, ...]) -> None:
        self._connect().execute(sql, values)

    async def delivery(self, key: str) -> WebhookDelivery | None:
        return await self._run(self._delivery, key)

    def _delivery(self, key: str) -> WebhookDelivery | None:
        row = (
            self._connect()
            .execute(f"SELECT {_DELIVERY_COLUMNS} FROM webhook_deliveries WHERE key = ?", (key,))
            .fetchone()
        )
        return None if row is None else WebhookDelivery(*row)

    async def close(self) -> None:
        """Close the connections and the threads; closing twice does nothing."""
        if self._closed:
            return
        try:
            await self._run(self._close)
        finally:
            self._closed = True
            self._executor.shutdown(wait=True)
            self._checkpointer.submit(self._close_checkpointer)
            self._checkpointer.shutdown(wait=True)

    def _close_checkpointer(self) -> None:
        if self._checkpoint_db is not None:
            self._checkpoint_db.close()
            self._checkpoint_db = None

    def _close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
