"""The SQLite journal: WAL, the synchronous setting, one transaction per batch, crash safety."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import livequiz.adapters.sqlite
from livequiz.adapters.sqlite import (
    CHECKPOINT_EVERY_COMMITS,
    INLINE_MAX_ROWS,
    INLINE_STREAK_MAX,
    JournalError,
    SqliteJournal,
    Synchronous,
)
from livequiz.domain.commands import (
    Answer,
    CloseQuestion,
    Command,
    End,
    Join,
    Kick,
    Leave,
    Next,
    Rejoin,
    SetLocked,
    Skip,
    Start,
    Tick,
    from_record,
    to_record,
)
from livequiz.domain.question import Question
from livequiz.domain.settings import QuizSettings, RevealMode, ScoringMode
from livequiz.ports import QuizDefinition
from tests.adapters import journal_writer
from tests.contract.model import T0, definition

WRITER = Path(journal_writer.__file__)


@pytest.fixture
async def journal(tmp_path: Path) -> AsyncIterator[SqliteJournal]:
    journal = SqliteJournal(tmp_path / "journal.sqlite3")
    yield journal
    await journal.close()


def rows(quiz_id: str, *seqs: int) -> list[tuple[str, int, dict[str, object]]]:
    return [(quiz_id, seq, to_record(Join(f"player {seq}"), T0 + seq)) for seq in seqs]


def peek(path: Path, sql: str) -> list[tuple[object, ...]]:
    """Read the database through a connection of its own (what another process would see)."""
    db = sqlite3.connect(path)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


# ---------------------------------------------------------------------- settings


async def test_wal_mode_is_on(journal: SqliteJournal) -> None:
    await journal.add_quiz(definition())

    assert (await journal.pragmas())["journal_mode"] == "wal"
    # WAL is a property of the file: any connection, any process, sees it
    assert peek(journal.path, "PRAGMA journal_mode") == [("wal",)]
    assert journal.path.with_name(journal.path.name + "-wal").exists()


@pytest.mark.parametrize(("synchronous", "level"), [(Synchronous.NORMAL, 1), (Synchronous.FULL, 2)])
async def test_the_synchronous_setting_is_honoured(
    tmp_path: Path, synchronous: Synchronous, level: int
) -> None:
    journal = SqliteJournal(tmp_path / "journal.sqlite3", synchronous=synchronous)
    try:
        pragmas = await journal.pragmas()
    finally:
        await journal.close()

    assert pragmas["synchronous"] == level
    assert pragmas["journal_mode"] == "wal"
    assert pragmas["foreign_keys"] == 1
    # checkpoints are the journal thread's (they fsync): never inside a commit
    assert pragmas["wal_autocheckpoint"] == 0


async def test_normal_is_the_default(journal: SqliteJournal) -> None:
    assert journal.synchronous is Synchronous.NORMAL
    assert (await journal.pragmas())["synchronous"] == 1


async def test_a_database_that_refuses_wal_is_refused() -> None:
    journal = SqliteJournal(Path(":memory:"))  # SQLite keeps in-memory databases out of WAL
    try:
        with pytest.raises(JournalError, match="WAL"):
            await journal.load()
    finally:
        await journal.close()


# ---------------------------------------------------------------------- one batch, one transaction


async def test_a_batch_is_one_transaction(journal: SqliteJournal) -> None:
    quiz = definition()
    await journal.add_quiz(quiz)
    await journal.append(rows(quiz.quiz_id, 1, 2, 3))

    # the last row repeats (quiz_id, seq) 3: the whole batch fails, the "finished" mark included
    with pytest.raises(sqlite3.IntegrityError):
        await journal.append(rows(quiz.quiz_id, 4, 5, 3), [quiz.quiz_id])
    with pytest.raises(sqlite3.IntegrityError):
        await journal.append(rows(quiz.quiz_id, 4, 5, 5))

    assert await journal.records(quiz.quiz_id) == [
        (s, r) for _, s, r in rows(quiz.quiz_id, 1, 2, 3)
    ]
    assert peek(journal.path, "SELECT seq FROM journal ORDER BY seq") == [(1,), (2,), (3,)]
    assert peek(journal.path, "SELECT finished FROM quizzes") == [(0,)]
    # and the journal is still usable
    await journal.append(rows(quiz.quiz_id, 4, 5), [quiz.quiz_id])
    assert peek(journal.path, "SELECT seq FROM journal ORDER BY seq") == [(s,) for s in range(1, 6)]
    assert peek(journal.path, "SELECT finished FROM quizzes") == [(1,)]


async def test_a_batch_whose_commit_fails_leaves_nothing_and_the_journal_usable(
    journal: SqliteJournal,
) -> None:
    quiz = definition()
    await journal.add_quiz(quiz)
    # A deferred foreign key is checked at COMMIT: a trigger makes seq 99 violate one, so the
    # failure comes from COMMIT itself, after every INSERT succeeded.
    db = sqlite3.connect(journal.path)
    db.executescript(
        """
        CREATE TABLE parent (id INTEGER PRIMARY KEY);
        CREATE TABLE child (parent INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED);
        CREATE TRIGGER poison AFTER INSERT ON journal WHEN NEW.seq = 99
        BEGIN INSERT INTO child VALUES (12345); END;
        """
    )
    db.close()

    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        await journal.append(rows(quiz.quiz_id, 98, 99))

    assert await journal.records(quiz.quiz_id) == []
    await journal.append(rows(quiz.quiz_id, 1, 2))
    assert len(await journal.records(quiz.quiz_id)) == 2


async def test_records_of_an_unknown_quiz_are_refused(journal: SqliteJournal) -> None:
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        await journal.append(rows("never-created", 1))


async def test_a_quiz_id_is_stored_once(journal: SqliteJournal) -> None:
    await journal.add_quiz(definition())
    with pytest.raises(sqlite3.IntegrityError):
        await journal.add_quiz(definition())


# ---------------------------------------------------------------------- round trips


EVERY_COMMAND: list[Command] = [
    Join("Zoë O'Neil-Ünal"),
    Rejoin(1),
    Leave(1),
    Answer(1, 0, 2),
    Answer(2, 1, 0, sent_at_ms=T0 + 17),
    Kick(3),
    SetLocked(True),
    SetLocked(False),
    Start(),
    CloseQuestion(),
    Next(),
    Skip(),
    End(),
    Tick(),
]


async def test_records_and_definitions_round_trip(tmp_path: Path) -> None:
    rich = QuizDefinition(
        quiz_id="q-ünïcode",
        pin="987654",
        title="Wörter — «quiz» 🎓",
        questions=(
            Question(
                prompt="Which word means “to run away”?",
                options=("flee", "flea", "fly", "flow", "free", "flew"),
                correct_option=0,
                kind="meaning_to_word",
                word="flee",
                definition="to run away from danger",
                example="They had to ___ the city.",
            ),
            Question(
                prompt="plain",
                options=("yes", "no"),
                correct_option=1,
                kind="word_to_meaning",
                word="no",
                definition="not yes",
            ),
        ),
        settings=QuizSettings(
            time_limit_ms=45_000,
            grace_ms=0,
            scoring=ScoringMode.ACCURACY,
            base_points=250,
            streak_bonus=0,
            reveal=RevealMode.AT_CLOSE,
            close_when_all_answered=False,
            allow_late_join=False,
            max_players=7,
            top_k=3,
            max_delivery_lag_ms=0,
        ),
        created_at_ms=T0 - 5,
    )
    plain = definition("111111", created_at_ms=T0)
    records = [to_record(command, T0 + n) for n, command in enumerate(EVERY_COMMAND)]
    path = tmp_path / "journal.sqlite3"
    journal = SqliteJournal(path)
    await journal.add_quiz(plain)
    await journal.add_quiz(rich)
    # in several batches, two quizzes interleaved
    await journal.append([(rich.quiz_id, n + 1, r) for n, r in enumerate(records[:5])])
    await journal.append(
        [(plain.quiz_id, 1, records[0])]
        + [(rich.quiz_id, n + 6, r) for n, r in enumerate(records[5:])]
    )
    await journal.close()

    reopened = SqliteJournal(path)
    try:
        loaded = await reopened.load()
        one = await reopened.records(rich.quiz_id)
        later = await reopened.records(rich.quiz_id, after_seq=5)
        other = await reopened.records(plain.quiz_id)
    finally:
        await reopened.close()

    assert loaded == [(rich, False), (plain, False)]  # in order of creation
    assert one == [(n + 1, r) for n, r in enumerate(records)]
    assert later == one[5:]
    assert other == [(1, records[0])]
    assert [from_record(r) for _, r in one] == [(c, T0 + n) for n, c in enumerate(EVERY_COMMAND)]


async def test_load_says_which_quizzes_finished(journal: SqliteJournal) -> None:
    first, second = definition("111111"), definition("222222", created_at_ms=T0 + 1)
    await journal.add_quiz(first)
    await journal.add_quiz(second)
    await journal.append(rows(first.quiz_id, 1), [first.quiz_id])

    assert await journal.load() == [(first, True), (second, False)]
    assert await journal.records(second.quiz_id) == []
    assert await journal.records(first.quiz_id, after_seq=1) == []


async def test_live_reads_only_the_unfinished_quizzes_and_one_quiz_is_read_by_id(
    journal: SqliteJournal,
) -> None:
    first, second = definition("111111"), definition("222222", created_at_ms=T0 + 1)
    third = definition("111111", "third", created_at_ms=T0 - 5)  # a clock stepped back
    await journal.add_quiz(first)
    await journal.add_quiz(second)
    await journal.append(rows(first.quiz_id, 1), [first.quiz_id])
    await journal.add_quiz(third)  # takes the PIN first left

    assert await journal.live() == [third, second]  # oldest first, by creation time
    assert await journal.quiz(first.quiz_id) == (first, True)
    assert await journal.quiz(second.quiz_id) == (second, False)
    assert await journal.quiz("no-such-quiz") is None
    assert await journal.ended_quiz_for_pin("111111") is None  # third is live under it
    await journal.append([], [third.quiz_id])
    assert await journal.ended_quiz_for_pin("111111") == "third"  # the last stored, not the
    assert await journal.ended_quiz_for_pin("222222") is None  # clock's; second is live
    assert await journal.ended_quiz_for_pin("999999") is None


@pytest.mark.parametrize(
    ("sql", "index"),
    [
        (
            "SELECT definition FROM quizzes WHERE finished = 0 ORDER BY created_at_ms, quiz_id",
            "quizzes_live",
        ),
        (
            "SELECT definition, finished FROM quizzes WHERE quiz_id = 'q'",
            "sqlite_autoindex_quizzes_1",
        ),
        (
            "SELECT quiz_id, finished FROM quizzes WHERE pin = '1' ORDER BY rowid DESC LIMIT 1",
            "quizzes_pin",
        ),
    ],
)
async def test_start_up_and_finished_quiz_lookups_use_an_index_not_a_scan(
    journal: SqliteJournal, sql: str, index: str
) -> None:
    """A journal of a month of quizzes must not be read whole at start or per lookup."""
    await journal.add_quiz(definition())
    plan = " ".join(str(row[-1]) for row in peek(journal.path, f"EXPLAIN QUERY PLAN {sql}"))
    # every row the query reads comes through the index (a partial one holds live quizzes only)
    assert re.fullmatch(rf"(SEARCH|SCAN) quizzes USING (COVERING )?INDEX {index}\b.*", plan), plan
    assert "TEMP B-TREE" not in plan, plan


async def test_an_empty_journal_loads_empty(journal: SqliteJournal) -> None:
    assert await journal.load() == []
    assert await journal.records("anything") == []


async def test_close_is_idempotent_and_a_closed_journal_says_so(journal: SqliteJournal) -> None:
    await journal.add_quiz(definition())
    await journal.close()
    await journal.close()

    with pytest.raises(JournalError, match="closed"):
        await journal.load()


# ---------------------------------------------------------------------- a crash of the writer


@pytest.mark.parametrize("synchronous", list(Synchronous))
def test_every_acknowledged_batch_survives_a_kill_of_the_writer(
    tmp_path: Path, synchronous: Synchronous
) -> None:
    path = tmp_path / "journal.sqlite3"
    writer = subprocess.Popen(
        [sys.executable, str(WRITER), str(path), synchronous.value],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # a watchdog, so a writer that hangs fails the test instead of blocking it forever
    watchdog = threading.Timer(60, writer.kill)
    watchdog.start()
    acknowledged: list[int] = []
    try:
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == "ready"
        # let it get well into its stride, then kill it wherever it is
        while len(acknowledged) < 40:
            line = writer.stdout.readline()
            assert line, "the writer died before it was killed"
            acknowledged.append(int(line))
        os.kill(writer.pid, signal.SIGKILL)
        # acknowledgements already on their way count too: they were printed after append()
        rest, errors = writer.communicate(timeout=30)
        acknowledged += [int(line) for line in rest.split()]
    finally:
        watchdog.cancel()
        if writer.poll() is None:
            writer.kill()
            writer.wait()
    assert writer.returncode == -signal.SIGKILL, errors

    async def check() -> None:
        journal = SqliteJournal(path, synchronous=synchronous)
        try:
            ((quiz, finished),) = await journal.load()
            records = await journal.records(quiz.quiz_id)
            stored = len(records)
            # every acknowledged batch is there, whole, and nothing but whole batches
            assert quiz == journal_writer.make_definition()
            assert not finished
            assert stored >= acknowledged[-1]
            assert stored % journal_writer.BATCH == 0
            assert records == [
                (seq, journal_writer.record_for(seq)) for seq in range(1, stored + 1)
            ]
            # and the file is healthy and takes more
            more = [(quiz.quiz_id, stored + 1, journal_writer.record_for(stored + 1))]
            await journal.append(more, [quiz.quiz_id])
            assert len(await journal.records(quiz.quiz_id)) == stored + 1
        finally:
            await journal.close()

    asyncio.run(check())
    assert peek(path, "PRAGMA integrity_check") == [("ok",)]


async def test_the_journal_thread_keeps_the_event_loop_free(journal: SqliteJournal) -> None:
    """An append runs on the journal's thread: the loop keeps ticking while it commits."""
    quiz = definition()
    await journal.add_quiz(quiz)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await journal.append(rows(quiz.quiz_id, *range(1, 20_001)))
    task.cancel()

    assert ticks > 10


# ---------------------------------------------------------------------- where a commit runs


class Ticker:
    """Counts turns of the event loop while it runs."""

    def __init__(self) -> None:
        self.ticks = 0
        self.task = asyncio.create_task(self._tick())

    async def _tick(self) -> None:
        while True:
            self.ticks += 1
            await asyncio.sleep(0)

    def stop(self) -> int:
        self.task.cancel()
        return self.ticks


async def test_a_small_batch_on_an_idle_journal_is_stored_within_the_call(
    journal: SqliteJournal,
) -> None:
    """No hand-over to the thread and back: an ack behind it waits no turn of the loop."""
    quiz = definition()
    await journal.add_quiz(quiz)
    ticker = Ticker()

    await journal.append(rows(quiz.quiz_id, *range(1, INLINE_MAX_ROWS + 1)), [quiz.quiz_id])

    assert ticker.stop() == 0  # not one turn of the loop went by
    assert (journal.inline_commits, journal.thread_commits) == (1, 0)
    # committed: another connection (another process) reads it, the finish mark with it
    assert peek(journal.path, "SELECT count(*) FROM journal") == [(INLINE_MAX_ROWS,)]
    assert peek(journal.path, "SELECT finished FROM quizzes") == [(1,)]


async def test_a_writer_appending_in_a_loop_does_not_starve_the_event_loop(
    journal: SqliteJournal,
) -> None:
    """Commits on the loop never yield by themselves; a caller that does nothing but append
    must still let the loop turn every few commits, as a write on the thread would."""
    quiz = definition()
    await journal.add_quiz(quiz)
    ticker = Ticker()
    for seq in range(1, 1 + 10 * INLINE_STREAK_MAX):
        await journal.append(rows(quiz.quiz_id, seq))

    assert ticker.stop() >= 9  # a turn after every INLINE_STREAK_MAX commits in a row
    assert journal.inline_commits == 10 * INLINE_STREAK_MAX


async def test_a_bigger_batch_or_a_full_sync_commits_on_the_thread(tmp_path: Path) -> None:
    quiz = definition()
    normal = SqliteJournal(tmp_path / "normal.sqlite3")
    full = SqliteJournal(tmp_path / "full.sqlite3", synchronous=Synchronous.FULL)
    try:
        for journal in (normal, full):
            await journal.add_quiz(quiz)
        await normal.append(rows(quiz.quiz_id, *range(1, INLINE_MAX_ROWS + 2)))
        await full.append(rows(quiz.quiz_id, 1, 2))  # its fsync must not stall the loop

        assert (normal.inline_commits, normal.thread_commits) == (0, 1)
        assert (full.inline_commits, full.thread_commits) == (0, 1)
        assert len(await normal.records(quiz.quiz_id)) == INLINE_MAX_ROWS + 1
        assert len(await full.records(quiz.quiz_id)) == 2
    finally:
        await normal.close()
        await full.close()


async def test_a_batch_while_another_connection_writes_waits_on_the_thread_not_the_loop(
    journal: SqliteJournal,
) -> None:
    """A backup tool holding the write lock: the small batch would commit on the loop, but the
    loop must not wait for the lock; the thread waits (up to its busy timeout) instead."""
    quiz = definition()
    await journal.add_quiz(quiz)
    await journal.append(rows(quiz.quiz_id, 1))
    other = sqlite3.connect(journal.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        ticker = Ticker()
        append = asyncio.create_task(journal.append(rows(quiz.quiz_id, 2, 3)))
        await asyncio.sleep(0.3)
        assert not append.done()  # waiting for the lock...
        assert ticker.ticks > 10  # ...while the loop runs on
    finally:
        other.execute("ROLLBACK")
        other.close()
    await asyncio.wait_for(append, 5)
    ticker.stop()

    assert (journal.inline_commits, journal.thread_commits) == (1, 1)
    assert [seq for seq, _ in await journal.records(quiz.quiz_id)] == [1, 2, 3]
    # the inline attempt gave way with the busy timeout put back
    assert (await journal.pragmas())["busy_timeout"] == 5_000


async def test_a_batch_behind_a_job_on_the_thread_goes_after_it(journal: SqliteJournal) -> None:
    """While the thread has work (here a big batch), a small batch queues behind it there
    instead of overtaking it on the loop."""
    quiz = definition()
    await journal.add_quiz(quiz)
    big = asyncio.create_task(journal.append(rows(quiz.quiz_id, *range(1, 20_001))))
    await asyncio.sleep(0)  # handed to the thread
    await journal.append(rows(quiz.quiz_id, 20_001))
    await big

    assert (journal.inline_commits, journal.thread_commits) == (0, 2)
    assert [seq for seq, _ in await journal.records(quiz.quiz_id)] == list(range(1, 20_002))


async def test_the_wal_is_checkpointed_beside_the_commits_and_stays_bounded(
    journal: SqliteJournal,
) -> None:
    """Automatic checkpoints are off (they fsync inside a commit); one starts every
    CHECKPOINT_EVERY_COMMITS commits on a thread of its own, and no commit waits for it."""
    quiz = definition()
    await journal.add_quiz(quiz)
    wal = journal.path.with_name(journal.path.name + "-wal")
    seq = 0
    sizes = []
    for _ in range(5):
        for _ in range(CHECKPOINT_EVERY_COMMITS):
            seq += 1
            await journal.append(rows(quiz.quiz_id, seq))
        await journal.wait_checkpoint()
        sizes.append(wal.stat().st_size)

    assert journal.full_checkpoints == 5
    assert (journal.inline_commits, journal.thread_commits) == (seq, 0)
    # each time the WAL was copied whole, the next commit began it again from the start:
    # not grown five times over
    assert max(sizes) <= sizes[0] * 1.2, sizes
    assert len(await journal.records(quiz.quiz_id)) == seq
    # and what the checkpoints copied is in the database file itself
    await journal.close()
    assert peek(journal.path, "PRAGMA integrity_check") == [("ok",)]
    assert peek(journal.path, "SELECT count(*) FROM journal") == [(seq,)]


async def test_a_wal_grown_behind_a_long_reader_is_emptied_once_the_reader_is_done(
    journal: SqliteJournal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A passive checkpoint copies nothing past the oldest reader's snapshot, and the WAL only
    starts again from its beginning when nobody reads it: behind a reader that stays, it grows
    (a long day's WAL passed 17 MiB). Past WAL_TRUNCATE_BYTES the next checkpoint waits for the
    readers and empties the file."""
    monkeypatch.setattr(livequiz.adapters.sqlite, "WAL_TRUNCATE_BYTES", 256 * 1024)
    quiz = definition()
    await journal.add_quiz(quiz)
    wal = journal.path.with_name(journal.path.name + "-wal")
    reader = sqlite3.connect(journal.path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM journal").fetchall()  # holds its snapshot
    seq = 0
    for _ in range(2):
        for _ in range(CHECKPOINT_EVERY_COMMITS):
            seq += 1
            await journal.append(rows(quiz.quiz_id, seq))
        await journal.wait_checkpoint()
    grown = wal.stat().st_size
    assert grown > 256 * 1024
    assert journal.truncating_checkpoints == 0  # the reader is still there: nothing emptied
    reader.execute("ROLLBACK")
    reader.close()
    for _ in range(CHECKPOINT_EVERY_COMMITS):
        seq += 1
        await journal.append(rows(quiz.quiz_id, seq))
    await journal.wait_checkpoint()

    assert journal.truncating_checkpoints == 1
    assert wal.stat().st_size < 256 * 1024, (grown, wal.stat().st_size)
    assert len(await journal.records(quiz.quiz_id)) == seq
    await journal.close()
    assert peek(journal.path, "PRAGMA integrity_check") == [("ok",)]
    assert peek(journal.path, "SELECT count(*) FROM journal") == [(seq,)]
