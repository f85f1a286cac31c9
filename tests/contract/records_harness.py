"""How the :class:`~livequiz.ports.Records` contract opens each storage backend.

A backend is one :class:`Backend` in :data:`BACKENDS`: an ``open`` that gives a ``Records`` over
the storage of one test, named by that test's ``tmp_path``. The first ``open`` of a path starts
from empty storage; every later ``open`` of the same path gives another ``Records`` over the
same storage, as a second process would get (the two-process tests: takeover, fencing, one PIN
created twice at once). ``cleanup`` removes whatever ``open`` made outside ``tmp_path``.

**Adding a backend**: write ``async def open(storage, *, lease_s)`` — for
a file-based store, open the files under ``storage`` — and add ``Backend(open)`` to
:data:`BACKENDS`; every contract test then runs against it. A server-backed one that cannot
reach its server calls ``pytest.skip`` with what is missing (a failure under ``CI=true``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from livequiz.adapters.embedded import EmbeddedRecords
from livequiz.adapters.postgres import PostgresRecords
from livequiz.adapters.sqlite import SqliteJournal
from livequiz.domain.question import Question
from livequiz.domain.settings import QuizSettings
from livequiz.ports import QuizDefinition, Records
from tests.domain.factories import make_question
from tests.pg_database import admin_connection, database_url, drop_schema, new_schema_name

#: Long enough that no lease expires during a test unless the test waits for it.
LONG_LEASE_S = 30.0
#: Short enough that tests of expiry stay fast, long enough to outlast a slow statement.
SHORT_LEASE_S = 0.3
#: A fixed creation time (ms); storage never interprets it.
T0 = 1_700_000_000_000


class Opener(Protocol):
    def __call__(self, storage: Path, *, lease_s: float) -> Awaitable[Records]: ...


async def _nothing_to_clean(_storage: Path) -> None:
    return None


@dataclass(frozen=True)
class Backend:
    #: A ``Records`` over the storage named by ``storage`` (see the module docstring).
    open: Opener
    #: Removes what ``open`` made outside ``storage``.
    cleanup: Callable[[Path], Awaitable[None]] = _nothing_to_clean


# ---------------------------------------------------------------------- PostgreSQL

#: tmp_path → the random schema its test uses, while the test runs.
_postgres_schemas: dict[Path, str] = {}


async def _open_postgres(storage: Path, *, lease_s: float) -> Records:
    schema = _postgres_schemas.get(storage)
    if schema is None:
        async with admin_connection():  # skips the test loudly if the server is down
            pass
        schema = _postgres_schemas[storage] = new_schema_name()
    return await PostgresRecords.connect(database_url(), schema=schema, lease_s=lease_s)


async def _cleanup_postgres(storage: Path) -> None:
    schema = _postgres_schemas.pop(storage, None)
    if schema is not None:
        await drop_schema(schema)


# ---------------------------------------------------------------------- the embedded default

#: tmp_path → the first EmbeddedRecords over it; later opens share its storage.
_embedded: dict[Path, EmbeddedRecords] = {}


def _embedded_opener(journaled: bool) -> Opener:
    async def open_embedded(storage: Path, *, lease_s: float) -> Records:
        first = _embedded.get(storage)
        if first is None:
            journal = SqliteJournal(storage / "journal.sqlite3") if journaled else None
            first = _embedded[storage] = await EmbeddedRecords.open(journal, lease_s=lease_s)
            return first
        return first.sharing(lease_s=lease_s)

    return open_embedded


async def _cleanup_embedded(storage: Path) -> None:
    _embedded.pop(storage, None)


#: Every backend the contract holds, by test id.
BACKENDS: dict[str, Backend] = {
    "memory": Backend(_embedded_opener(False), _cleanup_embedded),
    "sqlite": Backend(_embedded_opener(True), _cleanup_embedded),
    "postgres": Backend(_open_postgres, _cleanup_postgres),
}


@dataclass
class Storage:
    """One test's storage in one backend: opens ``Records`` over it and closes them all."""

    backend: Backend
    path: Path
    opened: list[Records] = field(default_factory=list)

    async def open(self, *, lease_s: float = LONG_LEASE_S) -> Records:
        """Another ``Records`` over this storage (another process, as far as storage knows)."""
        records = await self.backend.open(self.path, lease_s=lease_s)
        self.opened.append(records)
        return records

    async def close(self) -> None:
        try:
            for records in self.opened:
                await records.close()
        finally:
            self.opened.clear()
            await self.backend.cleanup(self.path)


def questions(count: int = 2) -> tuple[Question, ...]:
    return tuple(make_question(n, correct=n % 4) for n in range(count))


def definition(pin: str = "123456", quiz_id: str | None = None) -> QuizDefinition:
    """A quiz definition; the id defaults to one derived from the PIN."""
    return QuizDefinition(
        quiz_id=quiz_id or f"quiz-{pin}",
        pin=pin,
        title=f"Quiz {pin}",
        questions=questions(),
        settings=QuizSettings(time_limit_ms=10_000),
        created_at_ms=T0,
    )
