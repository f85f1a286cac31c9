"""The PostgreSQL adapter beyond the Records contract: migrations, the schema, outages.

The contract (tests/contract/test_records.py) says what any backend does; this file checks what
only PostgreSQL has: versioned migrations run once by many processes, the layout an operator
sees, and what happens when the server goes away, crashes, hangs and comes back. Outage tests
run on a private server (:class:`tests.pg_cluster.PgCluster`) so the shared one stays up.
"""

from __future__ import annotations

import asyncio
import collections
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

import asyncpg
import pytest

from livequiz import names
from livequiz.adapters import pg_schema
from livequiz.adapters.postgres import PostgresRecords, UnsuitableDatabase, migrate, quote_ident
from livequiz.domain.commands import Join, to_record
from livequiz.ports import Fenced, Row, StorageUnavailable
from tests.contract.records_harness import T0, definition
from tests.pg_cluster import PgCluster, free_port
from tests.pg_database import admin_connection, database_url, fresh_schema, new_schema_name

Opener = Callable[..., Coroutine[Any, Any, PostgresRecords]]
#: The latest migration version, which a migrated schema records.


@pytest.fixture
async def schema() -> AsyncIterator[str]:
    async with fresh_schema() as name:
        yield name


@pytest.fixture
async def open_records(schema: str) -> AsyncIterator[Opener]:
    """Opens PostgresRecords over the test's schema on the shared server; closes them all."""
    opened: list[PostgresRecords] = []

    async def open_(**options: Any) -> PostgresRecords:
        records = await PostgresRecords.connect(database_url(), schema=schema, **options)
        opened.append(records)
        return records

    yield open_
    for records in opened:
        await records.close()


def rows(quiz_id: str, *seqs: int) -> list[Row]:
    return [(quiz_id, seq, to_record(Join(f"player {seq}"), T0 + seq)) for seq in seqs]


async def fetch(schema: str, sql: str, *args: object) -> list[Any]:
    """Run ``sql`` with ``{schema}`` standing for the quoted schema, as an operator would."""
    async with admin_connection() as connection:
        return list(await connection.fetch(sql.format(schema=quote_ident(schema)), *args))


# ---------------------------------------------------------------------- migrations


async def test_a_new_schema_holds_the_tables_names_lists_and_records_each_version_once(
    open_records: Opener, schema: str
) -> None:
    await open_records()
    await open_records()  # a second start migrates nothing

    tables = await fetch(
        schema,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = $1",
        schema,
    )
    assert {row["table_name"] for row in tables} == set(names.PG_TABLES)
    versions = await fetch(schema, f"SELECT version FROM {{schema}}.{names.PG_MIGRATIONS}")
    assert [row["version"] for row in versions] == [version for version, _ in pg_schema.MIGRATIONS]


async def test_processes_starting_together_migrate_exactly_once(schema: str) -> None:
    connections = [await asyncpg.connect(database_url()) for _ in range(4)]
    try:
        applied = await asyncio.gather(*(migrate(c, schema) for c in connections))
    finally:
        for connection in connections:
            await connection.close()

    # one process applies every migration, in order; the others find nothing left to do
    assert sorted(applied) == [[], [], [], [version for version, _ in pg_schema.MIGRATIONS]]
    versions = await fetch(schema, f"SELECT version FROM {{schema}}.{names.PG_MIGRATIONS}")
    assert len(versions) == len(pg_schema.MIGRATIONS)


async def test_two_processes_connecting_at_once_share_one_schema(open_records: Opener) -> None:
    first, second = await asyncio.gather(open_records(), open_records())

    epoch = await first.add_quiz(definition("123456", "q"))
    await first.append(rows("q", 1), [], {"q": epoch})

    assert await second.live_quiz_for_pin("123456") == "q"
    assert [seq for seq, _ in await second.records("q")] == [1]


async def test_migrations_wait_for_the_advisory_lock(open_records: Opener) -> None:
    async with admin_connection() as holder:
        await holder.execute("SELECT pg_advisory_lock($1)", names.PG_MIGRATION_LOCK)
        starting = asyncio.create_task(open_records())
        await asyncio.sleep(0.3)
        assert not starting.done(), "migrations ran without the migration lock"
        await holder.execute("SELECT pg_advisory_unlock($1)", names.PG_MIGRATION_LOCK)
        records = await asyncio.wait_for(starting, 5)

    await records.check()


async def test_a_schema_migrated_by_a_newer_version_is_refused(
    open_records: Opener, schema: str
) -> None:
    await open_records()
    await fetch(schema, f"INSERT INTO {{schema}}.{names.PG_MIGRATIONS} (version) VALUES (999)")

    with pytest.raises(UnsuitableDatabase, match=r"\[999\].*a newer version migrated it"):
        await open_records()


async def test_a_database_that_is_not_utf8_is_refused_with_the_reason() -> None:
    database = "livequiz_test_latin1_" + secrets.token_hex(4)
    async with admin_connection() as admin:
        await admin.execute(
            f"CREATE DATABASE {database} ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' "
            f"TEMPLATE template0"
        )
        try:
            dsn = database_url().rsplit("/", 1)[0] + f"/{database}"
            with pytest.raises(UnsuitableDatabase, match=r"LATIN1.*UTF8"):
                await PostgresRecords.connect(dsn, schema=new_schema_name())
        finally:
            await admin.execute(f"DROP DATABASE {database}")


# ---------------------------------------------------------------------- what is stored


async def test_rows_keep_the_writers_epoch_and_readable_json(
    open_records: Opener, schema: str
) -> None:
    records = await open_records()
    epoch = await records.add_quiz(definition("123456", "q"))

    await records.append(rows("q", 1, 2), [], {"q": epoch})

    stored = await fetch(
        schema,
        f"SELECT seq, epoch, record->>'nickname' AS nickname FROM {{schema}}.{names.PG_JOURNAL}"
        " ORDER BY seq",
    )
    assert [tuple(row) for row in stored] == [(1, epoch, "player 1"), (2, epoch, "player 2")]


async def test_a_lease_expires_by_the_databases_clock(open_records: Opener, schema: str) -> None:
    records = await open_records(lease_s=7.5)

    await records.add_quiz(definition("123456", "q"))

    [lease] = await fetch(
        schema,
        f"SELECT owner_id, epoch, extract(epoch FROM expires_at - now()) AS left_s "
        f"FROM {{schema}}.{names.PG_LEASES}",
    )
    assert lease["owner_id"] == records.owner_id
    assert lease["epoch"] == 1
    assert 6.5 < lease["left_s"] <= 7.5


async def test_a_lease_row_removed_by_hand_is_recreated_above_every_stored_epoch(
    open_records: Opener, schema: str
) -> None:
    first, second = await open_records(), await open_records()
    created = await first.add_quiz(definition("123456", "q"))
    await first.release({"q": created})
    epoch = await first.acquire("q")
    assert epoch == 2
    await first.append(rows("q", 1), [], {"q": epoch})

    await fetch(schema, f"DELETE FROM {{schema}}.{names.PG_LEASES}")

    assert await second.orphans(10) == ["q"]
    assert await second.acquire("q") == 3
    assert await first.acquire("q") is None


async def test_a_finished_quiz_whose_lease_row_was_removed_by_hand_is_never_taken_again(
    open_records: Opener, schema: str
) -> None:
    # A lease row removed by hand is recreated for a live quiz (above); a finished quiz stays
    # finished: no process takes it, so no process writes to its journal again.
    records = await open_records()
    epoch = await records.add_quiz(definition("123456", "q"))
    await records.append(rows("q", 1), ["q"], {"q": epoch})

    await fetch(schema, f"DELETE FROM {{schema}}.{names.PG_LEASES}")

    assert await records.acquire("q") is None
    assert await records.orphans(10) == []
    assert await fetch(schema, f"SELECT * FROM {{schema}}.{names.PG_LEASES}") == []


async def test_acquiring_a_lease_it_holds_gives_a_new_epoch_and_fences_the_old_one(
    open_records: Opener,
) -> None:
    # PostgresRecords.acquire: "Take the lease if it has expired, was released, or is this
    # process's own". Taking back its own live lease, a process writes under a new epoch and
    # a batch still in flight under the old one is refused. (The embedded backend answers
    # None here instead; no caller acquires a lease it holds: QuizStore.take returns early.)
    owner = await open_records()  # the default 3 s lease: nothing expires here
    epoch = await owner.add_quiz(definition("123456", "q"))

    again = await owner.acquire("q")

    assert again == epoch + 1
    with pytest.raises(Fenced, match=r"^lease lost for q: nothing was stored$"):
        await owner.append(rows("q", 1), [], {"q": epoch})
    assert await owner.renew({"q": epoch}) == {"q"}  # the old epoch is lost for renewals too
    assert await owner.renew({"q": again}) == set()
    await owner.append(rows("q", 1), [], {"q": again})
    assert [seq for seq, _ in await owner.records("q")] == [1]


async def test_append_refuses_rows_of_a_quiz_it_has_no_epoch_for(open_records: Opener) -> None:
    records = await open_records()
    a = await records.add_quiz(definition("111111", "a"))
    await records.add_quiz(definition("222222", "b"))

    with pytest.raises(ValueError, match="epoch of b"):
        await records.append([*rows("a", 1), *rows("b", 1)], [], {"a": a})
    with pytest.raises(ValueError, match="epoch of b"):
        await records.append([], ["b"], {"a": a})
    with pytest.raises(ValueError, match=r"epoch of b, c$"):
        await records.append([*rows("c", 1), *rows("b", 1)], [], {"a": a})

    assert await records.records("a") == []


async def test_a_clash_names_the_stored_key(open_records: Opener) -> None:
    # What PostgreSQL says about the clash goes into the message an operator reads.
    records = await open_records()
    epoch = await records.add_quiz(definition("111111", "a"))
    await records.append(rows("a", 1, 2), [], {"a": epoch})

    with pytest.raises(Fenced) as fenced:
        await records.append(rows("a", 3, 2), [], {"a": epoch})

    assert str(fenced.value) == (
        "sequence numbers already stored (Key (quiz_id, seq)=(a, 2) already exists.)"
    )


async def test_rows_may_come_as_any_sequence(open_records: Opener) -> None:
    # The port takes a Sequence; the rows go to PostgreSQL as one JSON document, which
    # orjson makes only of lists and tuples.
    records = await open_records()
    epoch = await records.add_quiz(definition("111111", "a"))

    await records.append(collections.UserList(rows("a", 1, 2)), [], {"a": epoch})

    assert [(seq, record) for seq, record in await records.records("a")] == [
        (seq, record) for _quiz, seq, record in rows("a", 1, 2)
    ]


async def test_default_owner_ids_differ_and_calls_after_close_are_unavailable(
    open_records: Opener,
) -> None:
    first, second = await open_records(), await open_records()
    assert first.owner_id != second.owner_id

    await first.close()

    with pytest.raises(StorageUnavailable, match="closed"):
        await first.check()
    await second.check()


# ---------------------------------------------------------------------- outages


async def test_connecting_to_no_server_is_unavailable_at_once() -> None:
    started = time.monotonic()

    with pytest.raises(StorageUnavailable, match="cannot connect to PostgreSQL"):
        await PostgresRecords.connect(f"postgresql://postgres@127.0.0.1:{free_port()}/test")

    assert time.monotonic() - started < 2


def private_cluster() -> PgCluster:
    reason = PgCluster.unavailable()
    if reason is not None:
        pytest.skip(f"cannot make a private PostgreSQL server for outage tests: {reason}")
    return PgCluster()


async def fails_promptly(call: Awaitable[object], within_s: float) -> str:
    """Await ``call``, which must raise StorageUnavailable within ``within_s``; its message."""
    started = time.monotonic()
    with pytest.raises(StorageUnavailable) as raised:
        await call
    took = time.monotonic() - started
    assert took < within_s, f"took {took:.2f} s to report the outage"
    return str(raised.value)


async def test_a_crash_fails_calls_at_once_loses_nothing_acknowledged_and_heals_itself() -> None:
    async with private_cluster() as cluster:
        records = await PostgresRecords.connect(cluster.dsn, min_size=2)
        try:
            epoch = await records.add_quiz(definition("123456", "q"))
            acknowledged: list[int] = []
            uncertain: list[int] = []

            async def write_until_the_crash() -> None:
                seq = 0
                while True:
                    seq += 1
                    try:
                        await records.append(rows("q", seq), [], {"q": epoch})
                    except StorageUnavailable:
                        uncertain.append(seq)  # its commit may or may not have happened
                        return
                    acknowledged.append(seq)

            writer = asyncio.create_task(write_until_the_crash())
            await asyncio.sleep(0.3)
            await cluster.stop(mode="immediate")  # SIGQUIT: no checkpoint, crash recovery next
            await asyncio.wait_for(writer, 5)
            assert len(acknowledged) > 10, "the writer should have been busy when it crashed"

            message = await fails_promptly(records.append(rows("q", 10**6), [], {"q": epoch}), 5)
            assert "PostgreSQL unavailable while appending to the journal" in message
            await fails_promptly(records.check(), 5)
            await fails_promptly(records.records("q"), 5)

            await cluster.start()

            await records.check()  # the same object, no reconnect call
            stored = [seq for seq, _ in await records.records("q")]
            assert set(acknowledged) <= set(stored)
            assert set(stored) <= set(acknowledged) | set(uncertain)
            await records.append(rows("q", stored[-1] + 1), [], {"q": epoch})

            # a clean restart between two calls: the first call after it already works
            await cluster.restart(mode="fast")
            assert [seq for seq, _ in await records.records("q")][-1] == stored[-1] + 1
        finally:
            await records.close()


async def test_with_the_server_down_each_call_says_what_it_could_not_do() -> None:
    """The operator reads these in the log ("could not renew leases: …", a refused batch):
    each names the call, so an outage seen while renewing is not taken for a slow journal."""
    async with private_cluster() as cluster:
        records = await PostgresRecords.connect(cluster.dsn, timeout_s=2.0)
        try:
            epoch = await records.add_quiz(definition("123456", "q"))
            await cluster.stop(mode="fast")
            calls: list[tuple[str, Callable[[], Awaitable[object]]]] = [
                ("creating a quiz", lambda: records.add_quiz(definition("654321", "r"))),
                ("reading a quiz definition", lambda: records.definition("q")),
                ("resolving a PIN", lambda: records.live_quiz_for_pin("123456")),
                ("resolving an ended PIN", lambda: records.ended_quiz_for_pin("123456")),
                ("reading a quiz's state", lambda: records.is_finished("q")),
                (
                    "appending to the journal",
                    lambda: records.append(rows("q", 1), [], {"q": epoch}),
                ),
                (
                    "finding clashing sequence numbers",
                    lambda: records._clashing_quizzes(rows("q", 1)),
                ),
                ("reading the journal", lambda: records.records("q")),
                ("acquiring a lease", lambda: records.acquire("q")),
                ("renewing leases", lambda: records.renew({"q": epoch})),
                ("releasing leases", lambda: records.release({"q": epoch})),
                ("looking for orphaned quizzes", lambda: records.orphans(10)),
                ("checking the database", lambda: records.check()),
            ]
            for doing, call in calls:
                message = await fails_promptly(call(), 3)
                assert message.startswith(f"PostgreSQL unavailable while {doing}: "), message
                assert "Error" in message or "refused" in message, message  # and why
        finally:
            await records.close()


async def test_a_hung_server_fails_calls_within_the_timeout_then_works_again() -> None:
    async with private_cluster() as cluster:
        records = await PostgresRecords.connect(cluster.dsn, timeout_s=1.0, min_size=2)
        try:
            epoch = await records.add_quiz(definition("123456", "q"))

            async with cluster.paused():
                message = await fails_promptly(records.check(), 2.0)
                assert "no answer within 1 s" in message
                await fails_promptly(records.append(rows("q", 1), [], {"q": epoch}), 2.0)

            await records.check()
            stored = [seq for seq, _ in await records.records("q")]
            # the append that timed out may have landed (its reply never came); never twice
            assert stored in ([], [1])
            await records.append(rows("q", len(stored) + 1), [], {"q": epoch})
            assert len(await records.records("q")) == len(stored) + 1
            await records.close()
            await records.close()  # closing twice does nothing
        finally:
            await records.close()
