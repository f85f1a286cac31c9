"""QuizOwner's trust in its leases: a lease it may have lost, and one it lost.

Two "processes" run in the test's event loop, each a :class:`~livequiz.store.QuizStore` and a
started :class:`~livequiz.owner.QuizOwner` with a bus of its own (a ``LocalBus`` takes one
responder per subject, as one NATS connection does, and the old owner serves the quiz until it
hears it lost it: two processes are two connections), over one storage: the
embedded backend shared between them (``EmbeddedRecords.sharing``), and PostgreSQL (two pools
on one fresh schema, as two processes would have; skipped loudly when it is not running).
Leases are short and real: the owners renew them on their own, every third of a lease. A test
pauses a process's renewals (:class:`Renewals`: they wait, as renewals sent to storage that
does not answer), lets time pass, and lets them through again.

What is checked is what a user of the owner relies on: a process that cannot be sure of its
lease answers for the quiz no more (every command is refused as ``unavailable``, "moving to
another server", and a refusal of the core is not passed on as true) until a renewal is
answered; a process that lost its lease stops running the quiz (no responder, no clock, no
write under its old epoch) and keeps the session as a copy that follows the new owner. The
routing of commands between processes and what players are shown are tested with whole
servers in ``tests/integration/test_many_servers.py`` and ``test_doubtful_lease.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from livequiz import codec, names
from livequiz.adapters.embedded import EmbeddedRecords
from livequiz.adapters.local_bus import LocalBus
from livequiz.domain.commands import Answer, Command, End, Executed, Join, Kick, Leave, Start
from livequiz.domain.errors import ErrorCode, Rejected
from livequiz.domain.events import Event, PlayerJoined, QuestionClosed
from livequiz.domain.nicknames import NicknamePolicy
from livequiz.observability import Metrics
from livequiz.owner import LEASE_TRUST, OwnerLimits, QuizOwner
from livequiz.ports import (
    BusUnavailable,
    Envelope,
    NoResponder,
    Outcome,
    Records,
    StorageUnavailable,
)
from livequiz.store import QuizStore
from tests.contract.model import definition

#: Short enough that a lease runs out within a test, long enough that a renewal every third
#: of it keeps up on a busy machine.
LEASE_S = 1.0
#: How long a test waits for something that should happen within a lease or two.
WAIT_S = 10.0

MOVING = (ErrorCode.UNAVAILABLE, "this quiz is moving to another server; try again")


def now_ms() -> int:
    return int(time.time() * 1000)


class Renewals:
    """A process's lease renewals, which a test can hold back (storage not answering them)
    and let through again; counts the renewals answered."""

    def __init__(self, records: Records) -> None:
        self._renew = records.renew
        self._open = asyncio.Event()
        self._open.set()
        self.answered = 0
        #: When each renewal was sent (``time.monotonic()``), held back or not.
        self.sent: list[float] = []
        #: Renewals fail as storage that cannot be reached does.
        self.failing = False

    async def renew(self, epochs: Any) -> set[str]:
        self.sent.append(time.monotonic())
        await self._open.wait()
        if self.failing:
            raise StorageUnavailable("PostgreSQL unavailable while renewing leases: test")
        lost = await self._renew(epochs)
        self.answered += 1
        return lost

    def pause(self) -> None:
        self._open.clear()

    def resume(self) -> None:
        self._open.set()


class DownBus(LocalBus):
    """A bus whose new subscriptions (``serve``) and publications can be made to fail, as
    NATS does while the process has lost its connection."""

    def __init__(self) -> None:
        super().__init__()
        self.serve_down = False
        self.publish_down = False

    async def serve(self, subject: str, responder: Any) -> Any:
        if self.serve_down:
            raise BusUnavailable("NATS is not connected")
        return await super().serve(subject, responder)

    async def publish(self, subject: str, data: bytes) -> None:
        if self.publish_down:
            raise BusUnavailable("NATS is not connected")
        await super().publish(subject, data)


@dataclass
class Process:
    """One process: its store, owner and bus, and what the owner told it."""

    store: QuizStore
    owner: QuizOwner
    bus: LocalBus
    renewals: Renewals
    lost: list[str] = field(default_factory=list)
    events: list[tuple[str, tuple[Event, ...]]] = field(default_factory=list)
    #: Every batch the store was asked to run, as (quiz id, command) pairs.
    batches: list[list[tuple[str, Command]]] = field(default_factory=list)

    @property
    def records(self) -> Records:
        return self.store.records

    def leases_lost(self) -> float:
        value = self.owner.metrics.registry.get_sample_value("livequiz_leases_lost_total")
        return 0.0 if value is None else value

    async def create(self, pin: str, **settings: Any) -> str:
        quiz = definition(pin, created_at_ms=now_ms(), **settings)
        await self.store.create(quiz)
        await self.owner.adopt(quiz.quiz_id)
        return quiz.quiz_id

    async def submit(self, quiz_id: str, command: Command) -> Outcome:
        """A command for the owner (as this process's router hands it over)."""
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self.owner.submit(quiz_id, command, future.set_result)
        async with asyncio.timeout(WAIT_S):
            return await future

    async def from_another_process(self, quiz_id: str, *commands: Command) -> list[Outcome]:
        """Commands another process's router sends to this one's responder for the quiz."""
        batch = codec.CommandBatch("another-process", commands, now_ms() + 5_000)
        reply = await self.bus.request(names.quiz_commands(quiz_id), codec.encode(batch), WAIT_S)
        return list(codec.decode_outcomes(reply).outcomes)


def code_and_message(outcome: Outcome) -> tuple[ErrorCode, str]:
    assert isinstance(outcome, Rejected), outcome
    return outcome.code, outcome.message


async def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"not within {WAIT_S} s: {what}"
        await asyncio.sleep(0.01)


async def nicknames_stored(records: Records, quiz_id: str) -> list[str]:
    return [
        str(record["nickname"])
        for _seq, record in await records.records(quiz_id)
        if record["c"] == "join"
    ]


async def _memory(_tmp: Path) -> AsyncGenerator[tuple[Records, Callable[[], Any]]]:
    first = EmbeddedRecords.over(None, owner_id="first", lease_s=LEASE_S)

    async def other() -> Records:
        return first.sharing(owner_id="second")

    yield first, other


async def _postgres(_tmp: Path) -> AsyncGenerator[tuple[Records, Callable[[], Any]]]:
    from livequiz.adapters.postgres import PostgresRecords
    from tests.pg_database import admin_connection, database_url, drop_schema, new_schema_name

    async with admin_connection():  # skips loudly when PostgreSQL is not there
        pass
    schema = new_schema_name()
    opened: list[Records] = []

    async def connect() -> Records:
        records = await PostgresRecords.connect(database_url(), schema=schema, lease_s=LEASE_S)
        opened.append(records)
        return records

    try:
        yield await connect(), connect
    finally:
        for records in opened:
            await records.close()
        await drop_schema(schema)


BACKENDS = {"memory": _memory, "postgres": _postgres}


@dataclass
class Storage:
    """The storage two processes share, and the processes started over it."""

    first_records: Records
    other_records: Callable[[], Any]
    stack: contextlib.AsyncExitStack
    monkeypatch: pytest.MonkeyPatch
    started: int = 0

    async def process(
        self,
        *,
        sweep_limit: int = 50,
        reconnect_grace_s: float = 15.0,
        bus: LocalBus | None = None,
    ) -> Process:
        """A started process over the storage (the first one gets the first records)."""
        records = self.first_records if self.started == 0 else await self.other_records()
        self.started += 1
        renewals = Renewals(records)
        self.monkeypatch.setattr(records, "renew", renewals.renew)
        store = QuizStore(records, nicknames=NicknamePolicy())
        bus = LocalBus() if bus is None else bus
        process = Process(store, None, bus, renewals)  # type: ignore[arg-type]
        owner = QuizOwner(
            store,
            bus,
            Metrics(),
            clock=now_ms,
            on_events=lambda quiz_id, events: process.events.append((quiz_id, events)),
            limits=OwnerLimits(sweep_limit=sweep_limit, reconnect_grace_s=reconnect_grace_s),
        )
        owner.on_lost = process.lost.append
        process.owner = owner
        execute = store.execute

        async def recorded(batch: Sequence[Envelope]) -> Any:
            process.batches.append([(e.quiz_id, e.command) for e in batch])
            return await execute(batch)

        self.monkeypatch.setattr(store, "execute", recorded)
        await owner.start()
        self.stack.push_async_callback(owner.stop)
        self.stack.push_async_callback(bus.close)
        return process


@pytest.fixture(params=list(BACKENDS))
async def storage(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Storage]:
    opened = BACKENDS[request.param](tmp_path)
    first, other = await anext(opened)
    try:
        async with contextlib.AsyncExitStack() as stack:
            yield Storage(first, other, stack, monkeypatch)
    finally:
        await opened.aclose()


# ---------------------------------------------------------------------- a doubtful lease


async def test_while_its_renewals_go_unanswered_an_owner_answers_for_the_quiz_no_more(
    storage: Storage,
) -> None:
    first = await storage.process()
    await storage.other_records()  # another process could take the quiz over
    quiz_id = await first.create("111111")
    assert isinstance(await first.submit(quiz_id, Join("Anna")), Executed)
    in_lobby = await first.submit(quiz_id, Answer(1, 0, 0))  # the core refuses it: no question
    assert code_and_message(in_lobby)[0] is ErrorCode.QUESTION_NOT_OPEN

    await until(lambda: first.renewals.answered >= 1, "a first renewal")
    first.renewals.pause()
    paused_at = time.monotonic()
    # A renewal is trusted for LEASE_TRUST of a lease from when it was sent (the lease may
    # have been granted at any moment of the call), never longer: past the lease's own end
    # another process may have taken the quiz.
    last_answered = max(sent for sent in first.renewals.sent if sent < paused_at)
    await asyncio.sleep(last_answered + LEASE_S * LEASE_TRUST + 0.02 - time.monotonic())
    assert not first.owner.owns(quiz_id)
    await until(lambda: not first.owner.owns(quiz_id), "the lease is no longer trusted")
    # Not before the lease's trusted part has run out (the last renewal went out just before).
    assert time.monotonic() - paused_at >= LEASE_S * LEASE_TRUST - LEASE_S / 3 - 0.05
    assert first.store.owns(quiz_id)  # still held: nobody has said it is lost
    # Other processes' commands are refused: the quiz may be moving.
    (join,) = await first.from_another_process(quiz_id, Join("Ben"))
    assert code_and_message(join) == MOVING
    # A refusal from the session may be wrong now (a new owner may be further on): the client
    # is told to try again instead.
    assert code_and_message(await first.submit(quiz_id, Answer(1, 0, 0))) == MOVING
    # What the session accepts is stored under the lease's epoch, which the journal still
    # takes (nobody took the lease): that stands.
    assert isinstance(await first.submit(quiz_id, Join("Cleo")), Executed)
    assert first.lost == []

    first.renewals.resume()
    await until(lambda: first.owner.owns(quiz_id), "a renewal restores the trust")
    (join,) = await first.from_another_process(quiz_id, Join("Ben"))
    assert isinstance(join, Executed), join
    assert code_and_message(await first.submit(quiz_id, Answer(1, 0, 0))) == code_and_message(
        in_lobby
    )
    assert await nicknames_stored(first.records, quiz_id) == ["Anna", "Cleo", "Ben"]
    assert first.lost == []
    assert first.leases_lost() == 0


async def test_renewals_that_fail_are_logged_and_lose_nothing(
    storage: Storage, caplog: pytest.LogCaptureFixture
) -> None:
    first = await storage.process()
    quiz_id = await first.create("444444")
    with caplog.at_level(logging.WARNING, logger="livequiz.owner"):
        first.renewals.failing = True
        failed_from = len(first.renewals.sent)
        await until(lambda: len(first.renewals.sent) >= failed_from + 2, "two failed renewals")
        first.renewals.failing = False
        await until(lambda: first.owner.owns(quiz_id), "a renewal restores the trust")

    warnings = [r.getMessage() for r in caplog.records if r.name == "livequiz.owner"]
    assert warnings
    assert set(warnings) == {"could not renew leases: storage unavailable"}
    assert first.lost == []  # not lost: nobody said so
    assert first.store.owns(quiz_id)


async def test_a_process_alone_on_its_storage_never_doubts_its_lease() -> None:
    # The embedded default with nobody sharing its storage: no other process can take a lease
    # over, so a late renewal (a saturated loop) never makes it refuse anything.
    records = EmbeddedRecords.over(None, owner_id="alone", lease_s=LEASE_S)
    assert records.exclusive
    async with contextlib.AsyncExitStack() as stack:
        with pytest.MonkeyPatch.context() as monkeypatch:
            alone = await Storage(records, _no_other, stack, monkeypatch).process()
            quiz_id = await alone.create("222222")
            alone.renewals.pause()
            await asyncio.sleep(LEASE_S * 1.5)
            assert alone.owner.owns(quiz_id)
            (join,) = await alone.from_another_process(quiz_id, Join("Ben"))
            assert isinstance(join, Executed), join
            refused = await alone.submit(quiz_id, Answer(1, 0, 0))
            assert code_and_message(refused)[0] is ErrorCode.QUESTION_NOT_OPEN
            alone.renewals.resume()


async def test_leases_are_renewed_every_third_of_a_lease_and_not_more_often(
    storage: Storage,
) -> None:
    # Often enough that one late renewal still leaves the lease trusted (a renewal trusts it
    # for LEASE_TRUST of a lease); not more often, which would only load the storage: with
    # thousands of quizzes per process every renewal is one statement over all of them.
    first = await storage.process()
    await first.create("333333")
    first.renewals.sent.clear()
    await asyncio.sleep(LEASE_S * 1.6)
    sent = first.renewals.sent
    assert len(sent) >= 3, f"{len(sent)} renewals in {LEASE_S * 1.6} s"
    gaps = [later - earlier for earlier, later in itertools.pairwise(sent)]
    assert min(gaps) >= LEASE_S / 3 - 0.01, gaps


async def _no_other() -> Records:
    raise AssertionError("no other process in this test")


# ---------------------------------------------------------------------- a lost lease


async def test_an_owner_that_lost_its_lease_stops_running_the_quiz_and_keeps_a_copy(
    storage: Storage, caplog: pytest.LogCaptureFixture
) -> None:
    first = await storage.process()
    second = await storage.process()
    quiz_id = await first.create("333333", time_limit_ms=5_000)
    assert isinstance(await first.submit(quiz_id, Join("Anna")), Executed)
    assert isinstance(await first.submit(quiz_id, Start()), Executed)  # question 1 is open
    seq = first.store.session(quiz_id).seq

    # The first process is paused past its lease (its renewals wait): the second one's sweep
    # finds the lease run out and takes the quiz over, question clock included.
    first.renewals.pause()
    await until(lambda: second.owner.owns(quiz_id), "the second process takes the quiz")
    assert not first.owner.owns(quiz_id)
    assert first.lost == []
    caplog.set_level(logging.WARNING)
    caplog.clear()
    first.renewals.resume()  # the renewal answers: lost
    await until(lambda: first.lost == [quiz_id], "the first process hears it lost the quiz")
    lost_at = len(first.batches)

    assert not first.owner.owns(quiz_id)
    assert not first.store.owns(quiz_id)
    assert quiz_id not in first.store.owned()
    assert first.leases_lost() == 1
    await asyncio.sleep(0)  # the responder goes in a task of its own
    await asyncio.sleep(0)
    with pytest.raises(NoResponder):
        await first.from_another_process(quiz_id, Join("Ben"))
    # One warning says so, naming the quiz; nothing else is logged (no failed task).
    assert [(r.name, r.getMessage(), getattr(r, "quiz_id", None)) for r in caplog.records] == [
        ("livequiz.owner", "lost the lease of a quiz", quiz_id)
    ]

    # The session stays as a copy, which follows what the new owner commits.
    assert first.store.session(quiz_id).seq == seq
    outcome = await second.submit(quiz_id, Join("Ben"))
    assert isinstance(outcome, Executed)
    rows = await second.records.records(quiz_id, seq)
    applied = first.store.replicate(quiz_id, seq, rows)
    assert applied is not None
    assert [event.seq for executed in applied for event in executed.events] == [
        event.seq for event in outcome.events
    ]
    assert sorted(p.nickname for p in first.store.session(quiz_id).players.values()) == [
        "Anna",
        "Ben",
    ]

    # The question closes once, by the new owner's clock; the first runs nothing for the quiz.
    def closed(process: Process) -> bool:
        return any(
            isinstance(event, QuestionClosed)
            for quiz, events in process.events
            if quiz == quiz_id
            for event in events
        )

    await until(lambda: closed(second), "the new owner closes the question at its deadline")
    await asyncio.sleep(0.2)
    assert not closed(first)
    assert [batch for batch in first.batches[lost_at:] if any(q == quiz_id for q, _ in batch)] == []
    assert first.leases_lost() == 1


def pins_iterating_in_order() -> tuple[str, str]:
    """Two PINs whose quiz ids a set of both yields in this order (CPython: by hash slot).

    A renewal reports its lost leases as a set: the owner must handle every one of them, also
    when one it already let go comes first."""
    for n in range(100_000, 200_000):
        first, second = f"{n}", f"{n + 1}"
        ids = (f"quiz-{first}", f"quiz-{second}")
        if hash(ids[0]) & 7 < hash(ids[1]) & 7:
            assert list({ids[0], ids[1]}) == list({ids[1], ids[0]}) == list(ids)
            return first, second
    raise AssertionError("no such pins")


async def test_a_batch_under_a_lease_another_process_took_is_fenced_and_stored_nowhere(
    storage: Storage,
) -> None:
    first = await storage.process()
    second = await storage.process(sweep_limit=0)  # takes only what it is asked to
    fenced_pin, lost_pin = pins_iterating_in_order()
    quiz_id = await first.create(fenced_pin)
    lost_too = await first.create(lost_pin)
    other_quiz = await first.create("555555")
    assert isinstance(await first.submit(quiz_id, Join("Anna")), Executed)
    stored = await first.records.records(quiz_id)

    first.renewals.pause()  # a renewal of both quizzes is on its way, unanswered
    await until(lambda: not first.owner.owns(quiz_id), "the lease is no longer trusted")
    deadline = time.monotonic() + WAIT_S
    for taken in (quiz_id, lost_too):
        while not await second.owner.take(taken):  # as a router finding nobody serving it
            assert time.monotonic() < deadline, "the second process never took the quiz"
            await asyncio.sleep(0.05)

    # A command the first process still had for the quiz (queued before it stopped trusting
    # the lease; a presence change; its clock): the journal refuses the old epoch.
    outcome = await first.submit(quiz_id, Join("Zed"))
    assert code_and_message(outcome) == MOVING
    assert await first.records.records(quiz_id) == stored
    assert "Zed" not in {p.nickname for p in second.store.session(quiz_id).players.values()}
    assert first.lost == [quiz_id]
    assert not first.store.owns(quiz_id)
    assert first.leases_lost() == 1
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    with pytest.raises(NoResponder):
        await first.from_another_process(quiz_id, Join("Ben"))

    # The renewal sent before the fence now answers that lease lost too (already let go:
    # counted once), and the other quiz it took meanwhile; the third quiz's lease is kept on
    # being renewed.
    answered = first.renewals.answered
    first.renewals.resume()
    await until(lambda: first.renewals.answered > answered, "the held renewal is answered")
    assert first.lost == [quiz_id, lost_too]
    assert first.leases_lost() == 2
    assert not first.owner.owns(lost_too)
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    with pytest.raises(NoResponder):
        await first.from_another_process(lost_too, Join("Ben"))
    await until(lambda: first.owner.owns(other_quiz), "the other quiz's lease is trusted again")
    renewed = first.renewals.answered
    await asyncio.sleep(LEASE_S * 1.2)
    assert first.renewals.answered > renewed  # the renewals go on
    assert first.owner.owns(other_quiz)
    assert isinstance(await first.submit(other_quiz, Join("Anna")), Executed)
    # and the quiz it lost is the second process's
    assert isinstance(await second.submit(quiz_id, Join("Ben")), Executed)
    assert await nicknames_stored(second.records, quiz_id) == ["Anna", "Ben"]


# ---------------------------------------------------------------------- taking a quiz over


async def test_a_takeover_is_announced_trusted_from_before_it_began_and_taken_once(
    storage: Storage, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="livequiz.owner")
    first = await storage.process()
    second = await storage.process()
    quiz_id = await first.create("111111")
    assert isinstance(await first.submit(quiz_id, Join("Anna")), Executed)
    # held by the first process, or not a quiz at all: not taken
    assert await second.owner.take(quiz_id) is False
    assert await second.owner.take("0123456789abcdef") is False
    assert not second.owner.owns(quiz_id)

    announced: list[codec.OwnerChanged] = []
    await second.bus.subscribe(
        names.quiz_owner(quiz_id),
        lambda data: announced.append(codec.decode_owner(data)),
    )
    await first.owner.stop()  # a clean stop gives the lease up
    # The take itself is slow (storage far away): the lease may have been granted at any
    # moment of it, so it is trusted from the moment the take began, not from its end.
    take = second.store.take

    async def slow_take(quiz_id: str) -> int | None:
        await asyncio.sleep(0.6)
        return await take(quiz_id)

    monkeypatch.setattr(second.store, "take", slow_take)
    second.renewals.pause()  # no renewal extends the trust meanwhile
    owned: list[str] = []
    second.owner.on_owned = owned.append  # the service subscribes to what its owner runs
    began = time.monotonic()
    assert await second.owner.take(quiz_id) is True
    assert owned == [quiz_id]
    assert second.owner.owns(quiz_id)
    await until(lambda: bool(announced), "the new owner announces itself")
    assert announced == [codec.OwnerChanged(quiz_id, second.owner.process_id, 2)]
    # and tells the operator: one line with the quiz and its epoch, one more takeover counted
    (line,) = [r for r in caplog.records if r.name == "livequiz.owner" and "took" in r.msg]
    assert (line.levelno, line.getMessage(), line.__dict__["quiz_id"], line.__dict__["epoch"]) == (
        logging.INFO,
        "took over a quiz",
        quiz_id,
        2,
    )
    takeovers = second.owner.metrics.registry.get_sample_value("livequiz_quiz_takeovers_total")
    assert takeovers == 1
    # taking what it owns again: still its own, one responder, no second announcement
    assert await second.owner.take(quiz_id) is True
    await asyncio.sleep(0.05)
    assert len(announced) == 1
    await asyncio.sleep(max(0.0, began + LEASE_S * LEASE_TRUST + 0.05 - time.monotonic()))
    assert not second.owner.owns(quiz_id)  # trusted until 0.9 s after the take began
    second.renewals.resume()
    await until(lambda: second.owner.owns(quiz_id), "a renewal is answered")
    # a stopping process takes nothing over
    await second.owner.stop()
    assert await second.owner.take(quiz_id) is False


async def test_a_sweep_goes_on_past_a_quiz_it_fails_to_take_and_says_which(
    storage: Storage, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    first = await storage.process()
    second = await storage.process()
    broken = await first.create("111111")
    fine = await first.create("222222")
    await first.owner.stop()  # both orphans now
    take = second.store.take

    async def take_but_one(quiz_id: str) -> int | None:
        if quiz_id == broken:
            raise RuntimeError("a bug while taking it over")
        return await take(quiz_id)

    monkeypatch.setattr(second.store, "take", take_but_one)
    caplog.set_level(logging.INFO, logger="livequiz.owner")
    await second.owner.sweep()

    assert second.owner.owns(fine)
    assert not second.owner.owns(broken)
    (line,) = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert (line.name, line.getMessage(), line.__dict__["quiz_id"]) == (
        "livequiz.owner",
        "taking a quiz over failed",
        broken,
    )
    assert line.exc_info is not None
    assert str(line.exc_info[1]) == "a bug while taking it over"


async def test_after_a_takeover_the_players_nobody_reports_are_away_after_the_grace(
    storage: Storage,
) -> None:
    # The new owner cannot know who is connected to which process: each process serving the
    # quiz tells it again; a player nobody reports within the reconnect grace is marked away
    # (one Leave). Players away already, and removed ones, are left alone.
    first = await storage.process()
    second = await storage.process(reconnect_grace_s=1.0)
    quiz_id = await first.create("111111")
    for name in ("Anna", "Ben", "Cleo", "Dev"):
        assert isinstance(await first.submit(quiz_id, Join(name)), Executed)
    await first.submit(quiz_id, Leave(3))  # Cleo is away already
    await first.submit(quiz_id, Kick(4))  # Dev was removed
    await first.owner.stop()
    assert await second.owner.take(quiz_id) is True

    def left() -> list[Command]:
        return [c for batch in second.batches for q, c in batch if q == quiz_id]

    await asyncio.sleep(0.1)
    assert left() == []  # within the grace, nothing yet
    await until(lambda: len(left()) >= 2, "the unreported players are marked away")
    await asyncio.sleep(0.2)
    assert sorted(left(), key=repr) == [Leave(1), Leave(2)]
    session = second.store.session(quiz_id)
    assert [p.present for p in session.players.values()] == [False] * 4


@pytest.mark.parametrize("down", ["serve and publish", "publish"])
async def test_a_quiz_taken_over_while_the_bus_is_down_is_run_and_served_once_it_is_back(
    storage: Storage, caplog: pytest.LogCaptureFixture, down: str
) -> None:
    # The quiz is stored and its lease is ours: the new owner runs it at once for its own
    # clients; other processes' commands reach it, and the takeover is announced, once the bus
    # takes them again (found by the cluster nemesis with NATS killed: a 500 before).
    caplog.set_level(logging.INFO, logger="livequiz.owner")
    first = await storage.process()
    bus = DownBus()
    second = await storage.process(bus=bus)
    quiz_id = await first.create("111111")
    await first.owner.stop()
    announced: list[codec.OwnerChanged] = []
    await bus.subscribe(
        names.quiz_owner(quiz_id), lambda data: announced.append(codec.decode_owner(data))
    )
    bus.serve_down = down == "serve and publish"
    bus.publish_down = True

    assert await second.owner.take(quiz_id) is True
    assert isinstance(await second.submit(quiz_id, Join("Anna")), Executed)  # its own clients
    warnings = [r for r in caplog.records if r.getMessage().startswith("serving")]
    if bus.serve_down:
        (line,) = warnings
        assert (line.getMessage(), line.__dict__["quiz_id"]) == (
            "serving a quiz's commands waits for the bus: NATS is not connected",
            quiz_id,
        )
        with pytest.raises(NoResponder):  # nobody serves it on the bus yet
            await second.from_another_process(quiz_id, Join("Ben"))
    else:
        assert warnings == []
    (log_line,) = [r for r in caplog.records if r.getMessage().startswith("publishing the log")]
    assert (log_line.getMessage(), log_line.__dict__["quiz_id"]) == (
        "publishing the log waits for the bus: NATS is not connected",
        quiz_id,
    )
    await asyncio.sleep(0.6)  # a few retries
    assert announced == []

    bus.serve_down = bus.publish_down = False
    await until(lambda: bool(announced), "the takeover is announced once the bus is back")
    (joined,) = await second.from_another_process(quiz_id, Join("Ben"))
    assert isinstance(joined, Executed)
    await asyncio.sleep(0.6)
    assert announced == [codec.OwnerChanged(quiz_id, second.owner.process_id, 2)]
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


@pytest.mark.parametrize(
    ("failure", "logged"),
    [
        (StorageUnavailable("disk full"), "storage unavailable; the batch is not acknowledged: "),
        (RuntimeError("a bug"), "storing a batch failed; it is not acknowledged"),
    ],
    ids=["storage-down", "a-bug"],
)
async def test_a_batch_that_cannot_be_stored_is_refused_to_every_command_and_logged_once(
    storage: Storage,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    failure: Exception,
    logged: str,
) -> None:
    # Nothing of it is acknowledged: each command of the batch is told to try again (never
    # "accepted"), the operator gets one error line (a traceback only for what is not a storage
    # failure), and the next batch goes through once storage is back.
    caplog.set_level(logging.INFO, logger="livequiz.owner")
    first = await storage.process()
    quiz_id = await first.create("111111")
    execute = first.store.execute

    async def failing(batch: Sequence[Envelope]) -> Any:
        raise failure

    monkeypatch.setattr(first.store, "execute", failing)
    refused = await asyncio.gather(
        first.submit(quiz_id, Join("Anna")), first.submit(quiz_id, Join("Ben"))
    )
    assert [code_and_message(outcome) for outcome in refused] == [
        (ErrorCode.UNAVAILABLE, "the server could not store this; try again")
    ] * 2
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) in (1, 2)  # the two joins in one batch or in two
    for line in errors:
        assert line.getMessage() == logged + ("disk full" if logged.endswith(": ") else "")
        assert (line.exc_info is not None) == isinstance(failure, RuntimeError)
    failures = first.owner.metrics.registry.get_sample_value("livequiz_storage_failures_total")
    assert failures == len(errors)

    monkeypatch.setattr(first.store, "execute", execute)
    assert isinstance(await first.submit(quiz_id, Join("Anna")), Executed)
    assert await nicknames_stored(first.records, quiz_id) == ["Anna"]


async def test_each_stored_batch_is_published_on_the_quizs_log_for_the_copies(
    storage: Storage,
) -> None:
    # Other processes' copies apply these rows (and check prev_seq for a gap): each batch's
    # rows, named by their quiz, after the sequence number the quiz had before them.
    first = await storage.process()
    quiz_id = await first.create("111111")
    entries: list[codec.LogEntry] = []
    await first.bus.subscribe(
        names.quiz_log(quiz_id), lambda data: entries.append(codec.decode_log(data))
    )
    before = first.store.session(quiz_id).seq
    assert isinstance(await first.submit(quiz_id, Join("Anna")), Executed)
    assert isinstance(await first.submit(quiz_id, Join("Ben")), Executed)
    await until(lambda: len(entries) == 2, "both batches published")
    assert [(e.quiz_id, e.prev_seq, len(e.rows)) for e in entries] == [
        (quiz_id, before, 1),
        (quiz_id, before + 1, 1),
    ]
    assert [record["nickname"] for e in entries for _seq, record in e.rows] == ["Anna", "Ben"]
    # and how long each batch took is measured (two batches, in well under a second each)
    registry = first.owner.metrics.registry
    count = registry.get_sample_value("livequiz_batch_seconds_count")
    total = registry.get_sample_value("livequiz_batch_seconds_sum")
    assert count is not None
    assert count >= 2
    assert total is not None
    assert 0 < total < 5


class BrokenLogBus(LocalBus):
    """A bus whose publications on quizzes' logs fail with a bug, not an outage."""

    async def publish(self, subject: str, data: bytes) -> None:
        if subject == names.quiz_log(subject.split(".")[-2]):
            raise RuntimeError("an encoder bug")
        await super().publish(subject, data)


async def test_a_log_that_cannot_be_published_for_a_bug_is_logged_and_the_batch_stands(
    storage: Storage, caplog: pytest.LogCaptureFixture
) -> None:
    # The batch is stored: its commands are acknowledged all the same (the copies catch up
    # from the journal at the gap); the bug is the operator's to see, with its quiz.
    first = await storage.process(bus=BrokenLogBus())
    quiz_id = await first.create("555555")
    with caplog.at_level(logging.WARNING, logger="livequiz.owner"):
        assert isinstance(await first.submit(quiz_id, Join("Anna")), Executed)

    (logged,) = [r for r in caplog.records if r.name == "livequiz.owner"]
    assert_error_line(logged, "publishing the log failed", quiz_id)
    assert await nicknames_stored(first.records, quiz_id) == ["Anna"]


def assert_error_line(record: logging.LogRecord, message: str, quiz_id: str) -> None:
    """One error line for the operator: the message, the quiz, and the traceback."""
    assert (record.levelname, record.getMessage()) == ("ERROR", message)
    assert record.__dict__["quiz_id"] == quiz_id
    assert record.exc_info is not None


def stored_despite_the_error(records: Records, monkeypatch: pytest.MonkeyPatch) -> None:
    """The next append is stored, then fails anyway (the commit went through, its answer was
    lost): the batch is refused, and the store finds its rows when it rebuilds the quiz."""
    append = records.append
    calls = 0

    async def append_then_fail(*args: Any, **kwargs: Any) -> None:
        nonlocal calls
        calls += 1
        await append(*args, **kwargs)
        if calls == 1:
            raise StorageUnavailable("the commit's answer was lost")

    monkeypatch.setattr(records, "append", append_then_fail)


def joined_names(process: Process, quiz_id: str) -> list[str]:
    return [
        event.nickname
        for quiz, events in process.events
        if quiz == quiz_id
        for event in events
        if isinstance(event, PlayerJoined)
    ]


async def test_the_events_of_a_batch_stored_despite_its_error_go_out_before_the_next_ones(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Anna's join was refused "try again", yet stored: the store finds it at once when it
    # rebuilds the quiz, and every process's players see her join (she is in the quiz),
    # before anything that comes after it.
    first = await storage.process()
    quiz_id = await first.create("666666")
    stored_despite_the_error(first.records, monkeypatch)

    refused = await first.submit(quiz_id, Join("Anna"))
    assert code_and_message(refused)[0] is ErrorCode.UNAVAILABLE
    assert joined_names(first, quiz_id) == ["Anna"]
    assert isinstance(await first.submit(quiz_id, Join("Ben")), Executed)

    assert joined_names(first, quiz_id) == ["Anna", "Ben"]
    assert await nicknames_stored(first.records, quiz_id) == ["Anna", "Ben"]


async def test_events_that_cannot_be_published_are_logged_and_the_rest_go_out(
    storage: Storage, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    first = await storage.process()
    quiz_id = await first.create("777777")
    stored_despite_the_error(first.records, monkeypatch)
    published = first.owner.on_events

    failing_for = ["Anna"]

    def fails_for_anna(quiz: str, events: tuple[Event, ...]) -> None:
        if any(isinstance(e, PlayerJoined) and e.nickname in failing_for for e in events):
            raise RuntimeError("a frame encoder bug")
        published(quiz, events)

    first.owner.on_events = fails_for_anna
    with caplog.at_level(logging.WARNING, logger="livequiz.owner"):
        refused = await first.submit(quiz_id, Join("Anna"))
        assert code_and_message(refused)[0] is ErrorCode.UNAVAILABLE
        assert isinstance(await first.submit(quiz_id, Join("Ben")), Executed)

        # and the same for a batch stored at the first try
        failing_for.append("Cleo")
        assert isinstance(await first.submit(quiz_id, Join("Cleo")), Executed)
        assert isinstance(await first.submit(quiz_id, Join("Dan")), Executed)

    storage_line, *logged = [r for r in caplog.records if r.name == "livequiz.owner"]
    assert storage_line.getMessage().startswith("storage unavailable; the batch is not")
    assert len(logged) == 2
    for line in logged:
        assert_error_line(line, "publishing events failed", quiz_id)
    assert joined_names(first, quiz_id) == ["Ben", "Dan"]


async def test_a_question_opened_by_a_batch_stored_despite_its_error_closes_on_time(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The host's start was refused "try again", yet stored: the question is open for everyone,
    # so the owner's clock must close it at its deadline as for any other start.
    first = await storage.process()
    quiz_id = await first.create("888888", time_limit_ms=1_000)
    assert isinstance(await first.submit(quiz_id, Join("Anna")), Executed)
    stored_despite_the_error(first.records, monkeypatch)

    refused = await first.submit(quiz_id, Start())
    assert code_and_message(refused)[0] is ErrorCode.UNAVAILABLE

    await until(lambda: closed_in(first, quiz_id), "the question closes at its deadline")


async def test_a_started_question_closes_at_its_deadline_by_the_owners_clock(
    storage: Storage,
) -> None:
    first = await storage.process()
    quiz_id = await first.create("999999", time_limit_ms=1_000)
    assert isinstance(await first.submit(quiz_id, Join("Anna")), Executed)
    started = time.monotonic()
    assert isinstance(await first.submit(quiz_id, Start()), Executed)

    await until(lambda: closed_in(first, quiz_id), "the question closes at its deadline")
    assert time.monotonic() - started >= 1.0  # not before


def closed_in(process: Process, quiz_id: str) -> bool:
    return any(
        isinstance(event, QuestionClosed)
        for quiz, events in process.events
        if quiz == quiz_id
        for event in events
    )


async def test_a_reply_that_fails_is_logged_and_the_rest_of_the_batch_goes_on(
    storage: Storage, caplog: pytest.LogCaptureFixture
) -> None:
    # A reply hands the outcome to a connection or another process; one that raises (a bug)
    # must not keep the rest of the batch from its replies and events.
    first = await storage.process()
    quiz_id = await first.create("121212")

    def broken(_outcome: Outcome) -> None:
        raise RuntimeError("a connection handler bug")

    with caplog.at_level(logging.WARNING, logger="livequiz.owner"):
        first.owner.submit(quiz_id, Join("Anna"), broken)
        assert isinstance(await first.submit(quiz_id, Join("Ben")), Executed)

    (logged,) = [r for r in caplog.records if r.name == "livequiz.owner"]
    assert_error_line(logged, "reply failed", quiz_id)
    assert joined_names(first, quiz_id) == ["Anna", "Ben"]


async def test_after_each_stored_batch_the_service_is_told_and_a_failure_there_is_logged(
    storage: Storage, caplog: pytest.LogCaptureFixture
) -> None:
    # The service sends a board held back while the batch was being stored (a tick that found
    # the quiz mid-commit): it must hear of every stored batch, with its quiz.
    first = await storage.process()
    quiz_id = await first.create("131313")
    told: list[str] = []

    def settled(quiz: str) -> None:
        told.append(quiz)
        if len(told) == 2:
            raise RuntimeError("a board encoder bug")

    first.owner.on_settled = settled
    with caplog.at_level(logging.WARNING, logger="livequiz.owner"):
        for name in ("Anna", "Ben", "Cleo"):
            assert isinstance(await first.submit(quiz_id, Join(name)), Executed)

    assert told == [quiz_id] * 3
    (logged,) = [r for r in caplog.records if r.name == "livequiz.owner"]
    assert_error_line(logged, "after a stored batch", quiz_id)


@pytest.mark.parametrize("started", [True, False], ids=["mid-question", "from-the-lobby"])
async def test_a_finished_quiz_is_let_go_its_clock_stopped_and_its_responder_gone(
    storage: Storage, started: bool, caplog: pytest.LogCaptureFixture
) -> None:
    # The lease goes with the finish: the owner stops serving the quiz and running its clock
    # (a tick after the end would be a write without a lease).
    first = await storage.process()
    quiz_id = await first.create("141414", time_limit_ms=1_000)
    assert isinstance(await first.submit(quiz_id, Join("Anna")), Executed)
    if started:
        assert isinstance(await first.submit(quiz_id, Start()), Executed)  # the clock is armed
    assert isinstance(await first.submit(quiz_id, End()), Executed)
    batches = len(first.batches)

    with caplog.at_level(logging.WARNING):
        await until(lambda: not first.owner.owns(quiz_id), "the quiz is let go")
        await asyncio.sleep(1.5)  # past the question's deadline
    assert len(first.batches) == batches  # no tick ran
    assert [r.getMessage() for r in caplog.records] == []  # nothing failed on the way
    with pytest.raises(NoResponder):
        await first.from_another_process(quiz_id, Join("Ben"))
