"""The embedded default's durable journal: SQLite in WAL mode, commits grouped per batch.

Why SQLite: it ships with Python, needs no server, and in WAL mode a commit is an append to one
file. ``synchronous=NORMAL`` (the default here) survives a crash of the process (``kill -9``):
a committed transaction is in the WAL file before ``COMMIT`` returns, and the OS writes it out even
if the process dies. ``FULL`` also survives a power cut, at the price of an ``fsync`` per commit.
Commits are grouped: the store hands over one batch of commands (everything that arrived in the
last few milliseconds) and the journal writes it in one transaction.

All SQLite work runs on one dedicated thread, so an ``fsync`` never stalls the event loop, and the
connection is only ever touched by that thread.
"""

from __future__ import annotations

import asyncio
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

import orjson

from livequiz.ports import QuizDefinition

T = TypeVar("T")

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
"""


class Synchronous(StrEnum):
    """SQLite's ``synchronous`` pragma, as the two choices that make sense here."""

    NORMAL = "NORMAL"  #: survives a process crash
    FULL = "FULL"  #: also survives a power cut; an fsync per commit


class SqliteJournal:
    """A :class:`~livequiz.adapters.memory.Journal` in one SQLite file."""

    def __init__(self, path: Path, *, synchronous: Synchronous = Synchronous.NORMAL) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-journal")
        self._synchronous = synchronous
        self._db: sqlite3.Connection | None = None

    async def _run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={self._synchronous.value}")
            db.execute("PRAGMA foreign_keys=ON")
            db.executescript(SCHEMA)
            self._db = db
        return self._db

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

    async def append(self, rows: list[tuple[str, int, dict[str, object]]]) -> None:
        await self._run(self._append, rows)

    def _append(self, rows: list[tuple[str, int, dict[str, object]]]) -> None:
        db = self._connect()
        db.execute("BEGIN")
        try:
            db.executemany(
                "INSERT INTO journal (quiz_id, seq, record) VALUES (?, ?, ?)",
                [(quiz_id, seq, orjson.dumps(record)) for quiz_id, seq, record in rows],
            )
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    async def mark_finished(self, quiz_ids: list[str]) -> None:
        await self._run(self._mark_finished, quiz_ids)

    def _mark_finished(self, quiz_ids: list[str]) -> None:
        self._connect().executemany(
            "UPDATE quizzes SET finished = 1 WHERE quiz_id = ?", [(q,) for q in quiz_ids]
        )

    async def load(self) -> list[tuple[QuizDefinition, list[dict[str, object]]]]:
        result: list[tuple[QuizDefinition, list[dict[str, object]]]] = await self._run(self._load)
        return result

    def _load(self) -> list[tuple[QuizDefinition, list[dict[str, object]]]]:
        db = self._connect()
        quizzes = []
        for quiz_id, definition in db.execute(
            "SELECT quiz_id, definition FROM quizzes ORDER BY created_at_ms, quiz_id"
        ):
            records = [
                orjson.loads(record)
                for (record,) in db.execute(
                    "SELECT record FROM journal WHERE quiz_id = ? ORDER BY seq", (quiz_id,)
                )
            ]
            quizzes.append((QuizDefinition.from_dict(orjson.loads(definition)), records))
        return quizzes

    async def close(self) -> None:
        await self._run(self._close)
        self._executor.shutdown(wait=True)

    def _close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
