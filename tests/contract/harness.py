"""How the contract suite opens each :class:`~livequiz.ports.QuizStore` adapter.

An adapter is described by one :class:`Harness` factory: given a fresh directory (or, for a
server-backed store, a fresh namespace), it returns a harness whose :meth:`Harness.open` gives a
store over that storage. For a durable adapter every ``open`` sees what earlier stores over the
same storage made durable (it runs the adapter's recovery); for a memory-only one every ``open``
starts empty.

**Adding an adapter** (Redis, PostgreSQL): write one factory beside :func:`memory_store` and
:func:`sqlite_store` — connect, clear a namespace of its own (a Redis key prefix or DB number, a
PostgreSQL schema), and return ``Harness(name, durable=True, opener=...)`` whose opener builds a
store and runs its recovery — then add it to :data:`ADAPTERS`. Every contract test, and every
durable-only test, then runs against it. If the server is not reachable, ``pytest.skip`` with
what is missing: the suite's conftest turns that skip into a failure under ``CI=true``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from livequiz.adapters.memory import EmbeddedStore
from livequiz.adapters.sqlite import SqliteJournal, Synchronous
from livequiz.domain.nicknames import NicknamePolicy
from livequiz.ports import QuizStore


@dataclass
class Harness:
    """One adapter under test, over storage of its own."""

    name: str
    #: Whether what ``execute`` returned survives ``close()`` and a new store over the storage.
    durable: bool
    opener: Callable[[], Awaitable[QuizStore]]
    opened: list[QuizStore] = field(default_factory=list)

    async def open(self) -> QuizStore:
        """A new store over this harness's storage, with everything durable recovered."""
        store = await self.opener()
        self.opened.append(store)
        return store

    async def reopen(self, store: QuizStore) -> QuizStore:
        """Close ``store`` and open a new one over the same storage (a restart)."""
        await store.close()
        return await self.open()

    async def close_all(self) -> None:
        for store in self.opened:
            await store.close()
        self.opened.clear()


def nicknames() -> NicknamePolicy:
    return NicknamePolicy()


def memory_store(_directory: Path) -> Harness:
    """The embedded store without a journal: nothing survives, every open starts empty."""

    async def opener() -> QuizStore:
        return EmbeddedStore(None, nicknames=nicknames())

    return Harness("memory", durable=False, opener=opener)


def sqlite_store(directory: Path, synchronous: Synchronous = Synchronous.NORMAL) -> Harness:
    """The embedded default: memory plus a SQLite journal in ``directory``."""
    path = directory / "livequiz.sqlite3"

    async def opener() -> QuizStore:
        store = EmbeddedStore(SqliteJournal(path, synchronous=synchronous), nicknames=nicknames())
        await store.recover()
        return store

    return Harness("sqlite", durable=True, opener=opener)


HarnessFactory = Callable[[Path], Harness]


@dataclass(frozen=True)
class Adapter:
    """An adapter as the suite's parameters list it."""

    factory: HarnessFactory
    #: Known before building one, so durable-only tests are parametrized (never skipped).
    durable: bool


#: Every adapter the contract holds, by test id. Add Redis/PostgreSQL here (see the docstring).
ADAPTERS: dict[str, Adapter] = {
    "memory": Adapter(memory_store, durable=False),
    "sqlite": Adapter(sqlite_store, durable=True),
}
DURABLE_ADAPTERS = {name: adapter for name, adapter in ADAPTERS.items() if adapter.durable}
