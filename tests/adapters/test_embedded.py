"""EmbeddedRecords: the embedded backend's directory, journal and leases, beyond the contract.

What it loads from a SQLite journal at start, which quiz a PIN names (live, or the last one that
ended), and its leases, between two views of one storage (:meth:`EmbeddedRecords.sharing`), as
two processes over PostgreSQL would see them: acquiring, renewing, releasing, expiring, orphans,
and fencing of a writer whose lease moved on. Leases here are a fraction of a second, so expiry
is real time, not a faked clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from livequiz.adapters.embedded import EmbeddedRecords
from livequiz.adapters.sqlite import SqliteJournal
from livequiz.domain.commands import Join, to_record
from livequiz.ports import (
    Fenced,
    PinTaken,
    QuizDefinition,
    Record,
    Row,
    StorageUnavailable,
    UnknownQuiz,
)
from tests.contract.model import T0, definition
from tests.test_store import FaultyJournal

#: Short, so expiry takes real but little time; long enough for a few statements in between.
LEASE_S = 0.2


def rows(quiz_id: str, *seqs: int) -> list[Row]:
    return [(quiz_id, seq, to_record(Join(f"player {seq}"), T0 + seq)) for seq in seqs]


def pairs(stored: list[Row]) -> list[tuple[int, Record]]:
    return [(seq, record) for _, seq, record in stored]


def quiz(pin: str, quiz_id: str | None = None, created: int = 0) -> QuizDefinition:
    return definition(pin, quiz_id, created_at_ms=T0 + created)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "journal.sqlite3"


@pytest.fixture
async def views() -> tuple[EmbeddedRecords, EmbeddedRecords]:
    """Two processes' views of one (memory) storage, with short leases."""
    first = await EmbeddedRecords.open(None, owner_id="first", lease_s=LEASE_S)
    return first, first.sharing(owner_id="second")


async def expire() -> None:
    await asyncio.sleep(LEASE_S * 1.5)


@pytest.fixture(params=["memory", "sqlite"])
async def records(request: pytest.FixtureRequest, path: Path) -> AsyncIterator[EmbeddedRecords]:
    journal = SqliteJournal(path) if request.param == "sqlite" else None
    records = await EmbeddedRecords.open(journal)
    yield records
    await records.close()


# ---------------------------------------------------------------------- loading a journal


async def test_with_a_journal_only_live_quizzes_are_held_in_memory(path: Path) -> None:
    """Start-up and memory do not grow with the quizzes ever played (docs/reliability.md,
    "A long day"): a finished quiz leaves memory, and is read from SQLite when asked for."""
    records = await EmbeddedRecords.open(SqliteJournal(path))
    done, live = quiz("111111", "done", 1), quiz("222222", "live", 2)
    await records.add_quiz(done)
    await records.add_quiz(live)
    await records.append(rows("done", 1, 2), ["done"], {"done": 1})
    try:
        storage = records._storage
        assert list(storage.definitions) == ["live"]
        assert list(storage.live_pins.values()) == ["live"]
        assert "done" not in storage.leases
        assert "done" not in storage.epochs
        assert (storage.ended, storage.ended_pins, storage.rows) == ({}, {}, {})
        # and yet everything about it is answered, from the journal
        assert await records.definition("done") == done
        assert await records.is_finished("done")
        assert await records.ended_quiz_for_pin("111111") == "done"
        assert await records.records("done") == pairs(rows("done", 1, 2))
        assert await records.acquire("done") is None
        assert await records.orphans(10) == []
        with pytest.raises(ValueError, match="done"):  # its id is taken for ever
            await records.add_quiz(quiz("333333", "done"))
        with pytest.raises(UnknownQuiz):
            await records.acquire("never")
    finally:
        await records.close()

    reopened = await EmbeddedRecords.open(SqliteJournal(path))
    try:
        assert list(reopened._storage.definitions) == ["live"]  # the finished one stays on disk
        assert await reopened.definition("done") == done
        assert await reopened.ended_quiz_for_pin("111111") == "done"
    finally:
        await reopened.close()


async def test_memory_only_keeps_finished_quizzes_there_being_nowhere_else() -> None:
    records = await EmbeddedRecords.open(None)
    done = quiz("111111", "done")
    await records.add_quiz(done)
    await records.append(rows("done", 1), ["done"], {"done": 1})

    storage = records._storage
    assert storage.definitions == {}
    assert storage.ended == {"done": done}
    assert await records.definition("done") == done
    assert await records.records("done") == pairs(rows("done", 1))
    assert await records.ended_quiz_for_pin("111111") == "done"


async def test_open_loads_what_the_journal_holds(path: Path) -> None:
    records = await EmbeddedRecords.open(SqliteJournal(path))
    a, b, c = quiz("111111", "a", 1), quiz("222222", "b", 2), quiz("333333", "c", 3)
    d, e = quiz("222222", "d", 4), quiz("444444", "e", 5)
    for one in (a, b, c):
        await records.add_quiz(one)
    await records.append(rows("a", 1, 2) + rows("b", 1), ["b"], {"a": 1, "b": 1})
    await records.add_quiz(d)  # takes the PIN b left
    await records.add_quiz(e)
    await records.append(rows("e", 1), ["e"], {"e": 1})
    await records.close()

    reopened = EmbeddedRecords.over(SqliteJournal(path))
    try:
        # nothing until it is loaded
        assert await reopened.live_quiz_for_pin("111111") is None
        assert await reopened.orphans(10) == []
        await reopened.load()
        await reopened.load()  # once: later calls change nothing

        for one in (a, b, c, d, e):
            assert await reopened.definition(one.quiz_id) == one
        assert [await reopened.is_finished(q) for q in "abcde"] == [
            False,
            True,
            False,
            False,
            True,
        ]
        assert {pin: await reopened.live_quiz_for_pin(pin) for pin in ("111111", "222222")} == {
            "111111": "a",
            "222222": "d",
        }
        assert await reopened.live_quiz_for_pin("444444") is None
        assert await reopened.ended_quiz_for_pin("444444") == "e"
        assert await reopened.ended_quiz_for_pin("222222") is None  # d took it since
        assert await reopened.records("a") == pairs(rows("a", 1, 2))
        assert await reopened.records("a", after_seq=1) == pairs(rows("a", 2))
        assert await reopened.records("c") == []
        # nobody holds a lease after a start: every live quiz is an orphan, oldest first
        assert await reopened.orphans(10) == ["a", "c", "d"]
        assert await reopened.acquire("b") is None  # finished
        epoch = await reopened.acquire("a")
        assert epoch is not None
        await reopened.append(rows("a", 3), [], {"a": epoch})
        assert await reopened.records("a", after_seq=2) == pairs(rows("a", 3))
    finally:
        await reopened.close()


async def test_without_a_journal_a_start_finds_nothing() -> None:
    records = await EmbeddedRecords.open(None)

    assert await records.orphans(10) == []
    assert await records.live_quiz_for_pin("123456") is None


@pytest.mark.parametrize(
    ("old_created", "new_created"), [(0, 0), (10, 0)], ids=["same-ms", "clock-stepped-back"]
)
async def test_a_live_quiz_keeps_its_pin_after_a_reload_whatever_its_creation_time(
    path: Path, old_created: int, new_created: int
) -> None:
    """Quizzes load in order of creation time; a live quiz's PIN must not end up pointing at
    an older finished quiz because of a tie, or a clock that stepped back."""
    records = await EmbeddedRecords.open(SqliteJournal(path))
    await records.add_quiz(quiz("123456", "old", old_created))
    await records.append(rows("old", 1), ["old"], {"old": 1})
    await records.add_quiz(quiz("123456", "new", new_created))
    await records.close()

    reopened = await EmbeddedRecords.open(SqliteJournal(path))
    try:
        assert await reopened.live_quiz_for_pin("123456") == "new"
        assert await reopened.ended_quiz_for_pin("123456") is None
        assert await reopened.orphans(10) == ["new"]
    finally:
        await reopened.close()


# ---------------------------------------------------------------------- the directory


async def test_a_pin_names_its_live_quiz_then_the_last_that_ended(
    records: EmbeddedRecords,
) -> None:
    assert await records.add_quiz(quiz("123456", "a")) == 1
    assert await records.live_quiz_for_pin("123456") == "a"
    assert await records.ended_quiz_for_pin("123456") is None

    await records.append(rows("a", 1), ["a"], {"a": 1})
    assert await records.live_quiz_for_pin("123456") is None
    assert await records.ended_quiz_for_pin("123456") == "a"

    await records.add_quiz(quiz("123456", "b", 1))
    assert await records.live_quiz_for_pin("123456") == "b"
    assert await records.ended_quiz_for_pin("123456") is None
    await records.append([], ["b"], {"b": 1})
    assert await records.ended_quiz_for_pin("123456") == "b"
    assert await records.ended_quiz_for_pin("654321") is None
    assert await records.is_finished("a")
    assert await records.is_finished("b")


async def test_add_quiz_refuses_a_live_pin_and_any_known_id(records: EmbeddedRecords) -> None:
    await records.add_quiz(quiz("123456", "a"))

    with pytest.raises(PinTaken, match="123456"):
        await records.add_quiz(quiz("123456", "b"))
    with pytest.raises(ValueError, match="a"):
        await records.add_quiz(quiz("654321", "a"))
    await records.append([], ["a"], {"a": 1})
    with pytest.raises(ValueError, match="a"):  # finished: its PIN is free, its id is not
        await records.add_quiz(quiz("654321", "a"))

    assert await records.live_quiz_for_pin("654321") is None
    with pytest.raises(UnknownQuiz):
        await records.definition("b")


async def test_unknown_quizzes(records: EmbeddedRecords) -> None:
    with pytest.raises(UnknownQuiz):
        await records.definition("nope")
    with pytest.raises(UnknownQuiz):
        await records.is_finished("nope")
    with pytest.raises(UnknownQuiz):
        await records.acquire("nope")
    assert await records.records("nope") == []  # as on PostgreSQL (the Records contract)
    assert await records.live_quiz_for_pin("000000") is None
    assert await records.ended_quiz_for_pin("000000") is None


async def test_a_quiz_being_created_is_nobody_elses_to_take(path: Path) -> None:
    journal = FaultyJournal(path)
    creator = await EmbeddedRecords.open(journal, owner_id="creator")
    sweeper = creator.sharing(owner_id="sweeper")
    try:
        journal.gate = asyncio.Event()
        creating = asyncio.create_task(creator.add_quiz(quiz("123456", "q")))
        for _ in range(20):
            await asyncio.sleep(0)

        # an owner's sweep looks for orphans every third of a lease: it must not find this one
        assert await sweeper.orphans(10) == []
        assert await sweeper.acquire("q") is None
        journal.gate.set()
        epoch = await creating
        assert await creator.renew({"q": epoch}) == set()

        # and a creation that failed leaves no lease behind
        journal.gate = None
        journal.fail_before = True
        with pytest.raises(StorageUnavailable):
            await creator.add_quiz(quiz("222222", "r"))
        assert await sweeper.orphans(10) == []
        with pytest.raises(UnknownQuiz):
            await sweeper.acquire("r")
    finally:
        await creator.close()


# ---------------------------------------------------------------------- leases


async def test_a_held_lease_is_nobody_elses(views: tuple[EmbeddedRecords, EmbeddedRecords]) -> None:
    first, second = views
    epoch = await first.add_quiz(quiz("123456", "q"))

    assert await second.acquire("q") is None
    assert await first.orphans(10) == [] == await second.orphans(10)
    assert await first.renew({"q": epoch}) == set()
    assert await second.renew({"q": epoch}) == {"q"}  # not its lease
    assert await first.renew({"q": epoch + 1}) == {"q"}  # not this epoch
    await second.release({"q": epoch})  # not its lease: nothing happens
    await first.release({"q": epoch + 1})  # not this epoch: nothing happens
    assert await second.acquire("q") is None
    with pytest.raises(Fenced):
        await second.append(rows("q", 1), [], {"q": epoch})
    assert await first.records("q") == []


async def test_renewing_keeps_a_lease(views: tuple[EmbeddedRecords, EmbeddedRecords]) -> None:
    first, second = views
    epoch = await first.add_quiz(quiz("123456", "q"))

    for _ in range(6):  # two lease lengths
        await asyncio.sleep(LEASE_S / 3)
        assert await first.renew({"q": epoch}) == set()
        assert await second.acquire("q") is None
    assert await second.orphans(10) == []


async def test_an_expired_lease_goes_to_whoever_takes_it_and_fences_the_old_owner(
    views: tuple[EmbeddedRecords, EmbeddedRecords],
) -> None:
    first, second = views
    old = await first.add_quiz(quiz("123456", "q"))
    await first.add_quiz(quiz("654321", "other"))
    await expire()

    # expired, but nobody took it: the owner may still write, and renew it back
    assert await second.orphans(10) == ["q", "other"]
    await first.append(rows("q", 1), [], {"q": old})
    assert await first.renew({"q": old}) == set()
    assert await second.orphans(10) == ["other"]
    await expire()
    new = await second.acquire("q")

    assert new is not None
    assert new > old
    assert await second.acquire("q") is None  # held now
    assert await first.renew({"q": old, "other": 1}) == {"q"}
    # the old owner can write nothing for it any more, not even beside another quiz's rows
    with pytest.raises(Fenced) as fenced:
        await first.append(rows("other", 1) + rows("q", 2), [], {"q": old, "other": 1})
    assert fenced.value.quiz_ids == {"q"}
    assert await first.records("other") == []
    await second.append(rows("q", 2), [], {"q": new})
    assert await first.records("q") == pairs(rows("q", 1, 2))


async def test_a_released_lease_is_free_at_once_and_epochs_never_repeat(
    views: tuple[EmbeddedRecords, EmbeddedRecords],
) -> None:
    first, second = views
    one = await first.add_quiz(quiz("123456", "q"))

    await first.release({"q": one})
    assert await second.orphans(10) == ["q"]
    two = await second.acquire("q")
    assert two is not None
    assert two > one
    with pytest.raises(Fenced):
        await first.append(rows("q", 1), [], {"q": one})
    await second.release({"q": two})
    three = await first.acquire("q")  # the first owner again: still a newer epoch
    assert three is not None
    assert three > two
    with pytest.raises(Fenced):
        await second.append(rows("q", 1), [], {"q": two})


async def test_a_finished_quiz_has_no_lease(views: tuple[EmbeddedRecords, EmbeddedRecords]) -> None:
    first, second = views
    epoch = await first.add_quiz(quiz("123456", "q"))

    await first.append(rows("q", 1), ["q"], {"q": epoch})

    assert await first.renew({"q": epoch}) == {"q"}
    assert await second.acquire("q") is None
    await expire()
    assert await second.orphans(10) == []
    assert await second.acquire("q") is None
    with pytest.raises(Fenced):
        await first.append(rows("q", 2), [], {"q": epoch})
    assert await first.records("q") == pairs(rows("q", 1))


async def test_orphans_come_oldest_first_up_to_the_limit(
    views: tuple[EmbeddedRecords, EmbeddedRecords],
) -> None:
    first, second = views
    ids = [f"q{n}" for n in range(5)]
    epochs = {q: await first.add_quiz(quiz(f"10000{n}", q, n)) for n, q in enumerate(ids)}
    await first.append([], ["q2"], {"q2": epochs["q2"]})

    await first.release(epochs)

    assert await second.orphans(2) == ["q0", "q1"]
    assert await second.orphans(10) == ["q0", "q1", "q3", "q4"]
    assert await second.acquire("q1") is not None
    assert await second.orphans(10) == ["q0", "q3", "q4"]


@pytest.mark.parametrize("journaled", [False, True], ids=["memory", "sqlite"])
async def test_a_row_already_stored_is_fenced(path: Path, journaled: bool) -> None:
    records = await EmbeddedRecords.open(SqliteJournal(path) if journaled else None)
    try:
        epoch = await records.add_quiz(quiz("123456", "q"))
        await records.append(rows("q", 1, 2), [], {"q": epoch})

        with pytest.raises(Fenced) as fenced:
            await records.append(rows("q", 3, 2), ["q"], {"q": epoch})

        assert fenced.value.quiz_ids == {"q"}
        assert await records.records("q") == pairs(rows("q", 1, 2))
        assert not await records.is_finished("q")
    finally:
        await records.close()


# ---------------------------------------------------------------------- the rest


async def test_every_view_shares_one_signing_key(
    views: tuple[EmbeddedRecords, EmbeddedRecords],
) -> None:
    first, second = views
    key = await first.signing_key()

    assert len(key) == 32
    assert await second.signing_key() == key == await first.signing_key()
    assert await EmbeddedRecords.over(None, key=b"k" * 32).signing_key() == b"k" * 32
    await first.check()
    assert (first.owner_id, second.owner_id) == ("first", "second")
    assert second.lease_s == first.lease_s == LEASE_S


async def test_close_twice_does_nothing(path: Path) -> None:
    records = await EmbeddedRecords.open(SqliteJournal(path))
    await records.add_quiz(quiz("123456", "q"))

    await records.close()
    await records.close()
