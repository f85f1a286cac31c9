"""The embedded store beyond the contract: what it does when storing a batch fails, and races.

A failed batch must leave memory as the journal has it. Otherwise the pump reports the batch as
failed ("try again"), the player's retry of the same answer finds the unstored answer in memory
and is acknowledged as a ``duplicate`` — an acknowledgement of something a crash would lose.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from livequiz.adapters import memory
from livequiz.adapters.memory import EmbeddedStore, LocalBus, Row, StoreFailed
from livequiz.adapters.sqlite import SqliteJournal
from livequiz.domain import commands
from livequiz.domain.commands import Answer, Command, End, Executed, Join, Start
from livequiz.domain.errors import CoreBug, ErrorCode
from livequiz.domain.nicknames import NicknamePolicy
from livequiz.domain.session import AnswerStatus, Phase, QuizSession
from livequiz.ports import Outcome, QuizDefinition
from tests.contract.model import T0, at, definition, executed, fingerprint, rejected_code


class FaultyJournal:
    """A SQLite journal whose next operations can be made to fail or to wait."""

    def __init__(self, path: Path) -> None:
        self.inner = SqliteJournal(path)
        #: Raise before storing anything (disk full before the commit).
        self.fail_before = False
        #: Store, then raise anyway (the commit went through, the error came after).
        self.fail_after = False
        self.fail_records = False
        #: If given, appends and quiz creations wait until it is set.
        self.gate: asyncio.Event | None = None

    async def _wait(self) -> None:
        if self.gate is not None:
            await self.gate.wait()

    async def add_quiz(self, definition: QuizDefinition) -> None:
        await self._wait()
        if self.fail_before:
            raise OSError("disk full")
        await self.inner.add_quiz(definition)

    async def append(self, rows: Sequence[Row], finished: Sequence[str] = ()) -> None:
        await self._wait()
        if self.fail_before:
            raise OSError("disk full")
        await self.inner.append(rows, finished)
        if self.fail_after:
            raise OSError("I/O error after the commit")

    async def records(self, quiz_id: str) -> list[dict[str, object]]:
        if self.fail_records:
            raise OSError("cannot read either")
        return await self.inner.records(quiz_id)

    async def load(self) -> list[tuple[QuizDefinition, list[dict[str, object]]]]:
        return await self.inner.load()

    async def close(self) -> None:
        await self.inner.close()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "journal.sqlite3"


@pytest.fixture
async def journal(path: Path) -> AsyncIterator[FaultyJournal]:
    journal = FaultyJournal(path)
    yield journal
    await journal.close()


async def reopened(path: Path) -> EmbeddedStore:
    store = EmbeddedStore(SqliteJournal(path), nicknames=NicknamePolicy())
    await store.recover()
    return store


async def quiz_with_an_answer(store: EmbeddedStore) -> str:
    """Players 1–3 in, the first question open since ``T0``, player 1's answer stored."""
    quiz = definition()
    await store.create(quiz)
    await store.execute(at(quiz.quiz_id, T0, Join("ann"), Join("bob"), Join("cat"), Start()))
    await store.execute(at(quiz.quiz_id, T0 + 100, Answer(1, 0, 0)))
    return quiz.quiz_id


def statuses(outcomes: Sequence[Outcome]) -> list[AnswerStatus | str]:
    """How each answer was taken ("ok" for a command that is not an answer)."""
    answers = [executed(outcome).answer for outcome in outcomes]
    return ["ok" if answer is None else answer.status for answer in answers]


# ---------------------------------------------------------------------- failed batches


async def test_a_batch_that_could_not_be_stored_is_undone(
    journal: FaultyJournal, path: Path
) -> None:
    store = EmbeddedStore(journal, nicknames=NicknamePolicy())
    q = await quiz_with_an_answer(store)
    before = fingerprint(store.session(q))
    batch = at(q, T0 + 200, Answer(2, 0, 1), Join("dan"), Answer(1, 0, 0))
    journal.fail_before = True

    with pytest.raises(OSError, match="disk full"):
        await store.execute(batch)

    assert fingerprint(store.session(q)) == before
    # the retry is taken afresh: never "duplicate" of an answer that was not stored
    journal.fail_before = False
    retried = await store.execute(batch)
    assert statuses(retried) == [AnswerStatus.ACCEPTED, "ok", AnswerStatus.DUPLICATE]
    recovered = await reopened(path)
    assert fingerprint(recovered.session(q)) == fingerprint(store.session(q))
    await recovered.close()


async def test_a_batch_stored_despite_an_error_stays_stored(
    journal: FaultyJournal, path: Path
) -> None:
    store = EmbeddedStore(journal, nicknames=NicknamePolicy())
    q = await quiz_with_an_answer(store)
    journal.fail_after = True

    with pytest.raises(OSError, match="after the commit"):
        await store.execute(at(q, T0 + 200, Answer(2, 0, 1)))

    # memory is what the journal holds, and the journal holds the answer: a retry is a duplicate
    journal.fail_after = False
    again = await store.execute(at(q, T0 + 300, Answer(2, 0, 1)))
    assert statuses(again) == [AnswerStatus.DUPLICATE]
    recovered = await reopened(path)
    assert fingerprint(recovered.session(q)) == fingerprint(store.session(q))
    await recovered.close()


async def test_a_core_bug_mid_batch_undoes_the_batch(
    journal: FaultyJournal, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = EmbeddedStore(journal, nicknames=NicknamePolicy())
    q = await quiz_with_an_answer(store)
    before = fingerprint(store.session(q))
    real_execute = commands.execute

    def half_done(session: QuizSession, command: Command, now_ms: int) -> Executed:
        result = real_execute(session, command, now_ms)
        if isinstance(command, Join):
            raise CoreBug("an invariant broke after the session changed")
        return result

    monkeypatch.setattr(memory, "execute", half_done)
    with pytest.raises(CoreBug):
        await store.execute(at(q, T0 + 200, Answer(2, 0, 1), Join("dan"), Answer(3, 0, 2)))
    monkeypatch.undo()

    assert fingerprint(store.session(q)) == before
    retried = await store.execute(at(q, T0 + 300, Answer(2, 0, 1)))
    assert statuses(retried) == [AnswerStatus.ACCEPTED]
    recovered = await reopened(path)
    assert fingerprint(recovered.session(q)) == fingerprint(store.session(q))
    await recovered.close()


async def test_when_the_undo_fails_too_the_store_refuses_all_work(
    journal: FaultyJournal, path: Path
) -> None:
    store = EmbeddedStore(journal, nicknames=NicknamePolicy())
    q = await quiz_with_an_answer(store)
    journal.fail_before = journal.fail_records = True

    with pytest.raises(OSError, match="cannot read either"):
        await store.execute(at(q, T0 + 200, Answer(2, 0, 1)))

    journal.fail_before = journal.fail_records = False
    with pytest.raises(StoreFailed, match="restart") as failed:
        await store.execute(at(q, T0 + 300, Answer(2, 0, 1)))
    assert isinstance(failed.value.__cause__, OSError)
    with pytest.raises(StoreFailed):
        await store.create(definition("222222"))
    # a restart recovers what was stored, and nothing else
    recovered = await reopened(path)
    assert recovered.session(q).players[2].answers == {}
    assert recovered.session(q).players[1].answers[0].option == 0
    await recovered.close()


# ---------------------------------------------------------------------- races and order


async def test_batches_run_one_at_a_time(journal: FaultyJournal) -> None:
    store = EmbeddedStore(journal, nicknames=NicknamePolicy())
    q = await quiz_with_an_answer(store)
    journal.gate = asyncio.Event()
    first = asyncio.create_task(store.execute(at(q, T0 + 200, Answer(2, 0, 1))))
    second = asyncio.create_task(store.execute(at(q, T0 + 300, Answer(2, 0, 3), Answer(3, 0, 2))))
    for _ in range(20):
        await asyncio.sleep(0)

    # the second batch waits: it must not build on the first before the first is stored
    assert not first.done()
    assert not second.done()
    assert store.session(q).answered_count == 2  # players 1 and 2, not 3
    journal.gate.set()
    (accepted,) = await first
    refused, third = await second

    assert statuses([accepted, refused, third]) == [
        AnswerStatus.ACCEPTED,
        AnswerStatus.ALREADY_ANSWERED,
        AnswerStatus.ACCEPTED,
    ]


async def test_a_pin_is_freed_only_once_the_finish_is_stored(journal: FaultyJournal) -> None:
    store = EmbeddedStore(journal, nicknames=NicknamePolicy())
    q = await quiz_with_an_answer(store)
    pin = store.definition(q).pin
    journal.gate = asyncio.Event()
    ending = asyncio.create_task(store.execute(at(q, T0 + 200, End())))
    for _ in range(20):
        await asyncio.sleep(0)

    assert store.pin_in_use(pin)  # not yet: the finish may still fail
    journal.fail_before = True
    journal.gate.set()
    with pytest.raises(OSError, match="disk full"):
        await ending

    assert store.pin_in_use(pin)
    assert store.quiz_id_for_pin(pin) == q
    assert store.session(q).phase is Phase.QUESTION_OPEN
    journal.fail_before = False
    await store.execute(at(q, T0 + 300, End()))
    assert not store.pin_in_use(pin)


async def test_two_creates_with_one_pin_cannot_both_succeed(journal: FaultyJournal) -> None:
    store = EmbeddedStore(journal, nicknames=NicknamePolicy())
    journal.gate = asyncio.Event()
    first = asyncio.create_task(store.create(definition("123456", "first")))
    for _ in range(20):
        await asyncio.sleep(0)

    assert store.pin_in_use("123456")
    with pytest.raises(ValueError, match="PIN"):
        await store.create(definition("123456", "second"))
    journal.gate.set()
    await first
    assert store.quiz_id_for_pin("123456") == "first"
    assert store.quiz_ids() == ["first"]


async def test_a_quiz_whose_creation_failed_leaves_its_pin_free(journal: FaultyJournal) -> None:
    store = EmbeddedStore(journal, nicknames=NicknamePolicy())
    journal.fail_before = True

    with pytest.raises(OSError, match="disk full"):
        await store.create(definition("123456", "first"))

    assert not store.pin_in_use("123456")
    assert store.quiz_ids() == []
    journal.fail_before = False
    await store.create(definition("123456", "first"))
    assert store.quiz_id_for_pin("123456") == "first"


async def test_a_quiz_id_is_never_created_twice() -> None:
    store = EmbeddedStore(None, nicknames=NicknamePolicy())
    await store.create(definition("111111", "same"))
    await store.execute(at("same", T0, End()))  # finished: its PIN is free, its id is not

    with pytest.raises(ValueError, match="same"):
        await store.create(definition("222222", "same"))


# ---------------------------------------------------------------------- recovery


async def test_recover_runs_once(journal: FaultyJournal) -> None:
    store = EmbeddedStore(journal, nicknames=NicknamePolicy())
    await quiz_with_an_answer(store)

    with pytest.raises(RuntimeError, match="once"):
        await store.recover()


async def test_recovery_keeps_nicknames_a_changed_policy_would_refuse(path: Path) -> None:
    store = EmbeddedStore(SqliteJournal(path), nicknames=NicknamePolicy())
    quiz = definition()
    await store.create(quiz)
    await store.execute(at(quiz.quiz_id, T0, Join("Bramble")))
    await store.close()

    strict = NicknamePolicy(is_profane=lambda name: name.casefold() == "bramble")
    recovered = EmbeddedStore(SqliteJournal(path), nicknames=strict)
    try:
        assert await recovered.recover() == [quiz.quiz_id]
        assert recovered.session(quiz.quiz_id).players[1].nickname == "Bramble"
        # the policy of today applies to joins of today
        (refused,) = await recovered.execute(at(quiz.quiz_id, T0 + 1, Join("bramble")))
        assert rejected_code(refused) is ErrorCode.NICKNAME_PROFANE
    finally:
        await recovered.close()


async def test_recover_without_a_journal_finds_nothing() -> None:
    assert await EmbeddedStore(None, nicknames=NicknamePolicy()).recover() == []


async def test_without_a_journal_a_core_bug_propagates(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing to rebuild from: the error reaches the caller, the store keeps serving."""
    store = EmbeddedStore(None, nicknames=NicknamePolicy())
    q = await quiz_with_an_answer(store)

    def broken(session: QuizSession, command: Command, now_ms: int) -> Executed:
        raise CoreBug("broken")

    monkeypatch.setattr(memory, "execute", broken)
    with pytest.raises(CoreBug):
        await store.execute(at(q, T0 + 200, Answer(2, 0, 1)))
    monkeypatch.undo()

    assert statuses(await store.execute(at(q, T0 + 300, Answer(2, 0, 1)))) == [
        AnswerStatus.ACCEPTED
    ]


# ---------------------------------------------------------------------- the bus


def test_the_local_bus_delivers_to_its_one_subscriber() -> None:
    bus = LocalBus()
    bus.publish("q1", "before anyone listens")  # dropped, not an error
    received: list[tuple[str, object]] = []

    bus.subscribe(lambda quiz_id, message: received.append((quiz_id, message)))
    bus.publish("q1", "hello")
    bus.publish("q2", 42)

    assert received == [("q1", "hello"), ("q2", 42)]
