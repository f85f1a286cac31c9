"""How the contract suite opens a :class:`~livequiz.store.QuizStore` over each storage backend.

A backend is described by one :class:`Harness` factory: given a fresh directory (or, for a
server-backed one, a fresh namespace of its own), it returns a harness over that storage whose

* :meth:`Harness.open` gives a new store over it, as a process starting on that storage: the
  store takes over every live quiz nobody holds (``records.orphans`` then ``store.take``, as
  :meth:`QuizOwner.start <livequiz.owner.QuizOwner.start>` does) — at the first open, none;
* :meth:`Harness.reopen` is a restart: the old store gives its leases up and closes, a new one
  takes its quizzes over from the journal;
* :meth:`Harness.peer` gives another store over the *same live storage* as a running one (a
  second process beside it), for copies, takeovers and fencing.

For a durable backend every ``open`` sees what earlier stores over the same storage made
durable; for a memory-only one every ``open`` starts empty (its peers share its memory).

**Adding a backend**: write one factory beside :func:`memory_store`, :func:`sqlite_store` and
:func:`postgres_store` — a ``connect`` that gives a new :class:`~livequiz.ports.Records` over
storage of the test's own (a PostgreSQL schema, a key prefix), and a ``cleanup`` that removes
that storage — return ``Harness(name, durable=..., opener=connect, peer_opener=...,
cleanup=...)``, and add it to :data:`ADAPTERS`. Every contract test, and every durable-only
test, then runs against it. A backend whose module is not there yet skips loudly (the suite's
conftest turns that skip into a failure under ``CI=true``); nothing else may skip.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from livequiz.adapters.embedded import EmbeddedRecords
from livequiz.adapters.sqlite import SqliteJournal, Synchronous
from livequiz.domain.nicknames import NicknamePolicy
from livequiz.ports import Records
from livequiz.store import QuizStore

#: Long enough that no lease runs out during a test: nothing in the contract waits for expiry
#: (the store's own tests do, in tests/test_store.py).
LEASE_S = 30.0
#: How many orphans one open asks for at once; more than any test creates.
ORPHANS_LIMIT = 10_000


async def _nothing() -> None:
    return None


@dataclass
class Harness:
    """One backend under test, over storage of its own."""

    name: str
    #: Whether what ``execute`` returned survives ``close()`` and a new store over the storage.
    durable: bool
    #: A new ``Records`` over this harness's storage, as a process starting on it would open.
    opener: Callable[[], Awaitable[Records]]
    #: Another ``Records`` over the same live storage as the given one (another process).
    peer_opener: Callable[[Records], Awaitable[Records]]
    #: Removes the storage (a schema, a key prefix) once the test is over.
    cleanup: Callable[[], Awaitable[None]] = _nothing
    opened: list[QuizStore] = field(default_factory=list)

    def _store(self, records: Records) -> QuizStore:
        store = QuizStore(records, nicknames=nicknames())
        self.opened.append(store)
        return store

    async def open(self, *, take_over: bool = True) -> QuizStore:
        """A new store over this harness's storage; with ``take_over``, it owns every live
        quiz nobody holds, caught up from the journal. Without, it owns nothing (a process
        that only reads: it loads copies)."""
        store = self._store(await self.opener())
        if take_over:
            for quiz_id in await store.records.orphans(ORPHANS_LIMIT):
                epoch = await store.take(quiz_id)
                assert epoch is not None, f"{self.name}: could not take {quiz_id} over"
        return store

    async def reopen(self, store: QuizStore) -> QuizStore:
        """A restart: ``store`` gives its leases up and closes; a new store over the same
        storage takes every live quiz over."""
        await store.records.release(store.owned())
        await store.close()
        return await self.open()

    async def peer(self, store: QuizStore) -> QuizStore:
        """Another store over the same live storage as ``store`` (a second process); it owns
        nothing until it takes something over."""
        return self._store(await self.peer_opener(store.records))

    async def close_all(self) -> None:
        try:
            for store in self.opened:
                await store.close()
        finally:
            self.opened.clear()
            await self.cleanup()


def nicknames() -> NicknamePolicy:
    return NicknamePolicy()


async def _sharing(records: Records) -> Records:
    assert isinstance(records, EmbeddedRecords)
    return records.sharing(owner_id=f"peer-{secrets.token_hex(4)}")


def memory_store(_directory: Path) -> Harness:
    """The embedded backend without a journal: nothing survives, every open starts empty."""

    async def connect() -> Records:
        return await EmbeddedRecords.open(None, lease_s=LEASE_S)

    return Harness("memory", durable=False, opener=connect, peer_opener=_sharing)


def sqlite_store(directory: Path, synchronous: Synchronous = Synchronous.NORMAL) -> Harness:
    """The embedded default: memory plus a SQLite journal in ``directory``. Every open is a
    process starting on the file (it loads the journal); a peer shares a running one's memory
    (leases are kept in memory, so two processes on one file would not see each other's)."""
    path = directory / "livequiz.sqlite3"

    async def connect() -> Records:
        journal = SqliteJournal(path, synchronous=synchronous)
        return await EmbeddedRecords.open(journal, lease_s=LEASE_S)

    return Harness("sqlite", durable=True, opener=connect, peer_opener=_sharing)


#: The module of the PostgreSQL backend; the only thing whose absence skips its tests.
POSTGRES_MODULE = "livequiz.adapters.postgres"


def postgres_store(_directory: Path) -> Harness:
    """``PostgresRecords`` over a fresh schema of the test database
    (:mod:`tests.pg_database`: ``postgresql://postgres@127.0.0.1:5432/test`` unless
    ``$LIVEQUIZ_TEST_DATABASE_URL`` says otherwise), dropped afterwards. Every open and every
    peer is another pool over that schema, as another process would have."""
    try:
        from livequiz.adapters import postgres
    except ModuleNotFoundError as missing:
        if missing.name != POSTGRES_MODULE:
            raise  # the module is there but something it needs is not: that is a failure
        pytest.skip(f"{POSTGRES_MODULE} does not exist yet: the PostgreSQL contract did not run")
    from tests import pg_database

    schema = pg_database.new_schema_name()

    async def connect() -> Records:
        return await postgres.PostgresRecords.connect(
            pg_database.database_url(), schema=schema, lease_s=LEASE_S
        )

    async def peer(_records: Records) -> Records:
        return await connect()

    async def drop() -> None:
        await pg_database.drop_schema(schema)

    return Harness("postgres", durable=True, opener=connect, peer_opener=peer, cleanup=drop)


HarnessFactory = Callable[[Path], Harness]


@dataclass(frozen=True)
class Adapter:
    """A backend as the suite's parameters list it."""

    factory: HarnessFactory
    #: Known before building one, so durable-only tests are parametrized (never skipped).
    durable: bool
    #: Examples of the property test: each is fresh storage (for a server, a schema of its
    #: own and four pools), so a server-backed backend runs fewer to keep the suite quick.
    examples: int = 100


#: Every backend the contract holds, by test id. Add more here (see the docstring).
ADAPTERS: dict[str, Adapter] = {
    "memory": Adapter(memory_store, durable=False),
    "sqlite": Adapter(sqlite_store, durable=True),
    "postgres": Adapter(postgres_store, durable=True, examples=30),
}
DURABLE_ADAPTERS = {name: adapter for name, adapter in ADAPTERS.items() if adapter.durable}
