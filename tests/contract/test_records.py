"""The Records contract: the rules every storage backend holds (see :mod:`livequiz.ports`).

Each test runs once per backend in :data:`~tests.contract.records_harness.BACKENDS`. Tests
that need two processes open a second ``Records`` over the same storage: the directory, the
journal and the leases must behave as one shared database to both.
"""

from __future__ import annotations

import asyncio

import pytest

from livequiz.domain.commands import Join, to_record
from livequiz.ports import Fenced, PinTaken, Record, Records, Row, UnknownQuiz
from tests.contract.records_harness import (
    SHORT_LEASE_S,
    T0,
    Storage,
    definition,
)

#: Waits this much longer than a lease so that it has surely expired by the database's clock.
EXPIRY_MARGIN_S = 0.15


def record(seq: int) -> Record:
    return to_record(Join(f"player {seq}"), T0 + seq)


def rows(quiz_id: str, *seqs: int) -> list[Row]:
    return [(quiz_id, seq, record(seq)) for seq in seqs]


async def stored_seqs(records: Records, quiz_id: str) -> list[int]:
    return [seq for seq, _ in await records.records(quiz_id)]


async def expire() -> None:
    await asyncio.sleep(SHORT_LEASE_S + EXPIRY_MARGIN_S)


# ---------------------------------------------------------------------- the directory


async def test_a_created_quiz_is_live_under_its_pin_and_owned_at_a_positive_epoch(
    records: Records,
) -> None:
    quiz = definition("111111")

    epoch = await records.add_quiz(quiz)

    assert epoch >= 1
    assert await records.definition(quiz.quiz_id) == quiz
    assert await records.live_quiz_for_pin("111111") == quiz.quiz_id
    assert await records.ended_quiz_for_pin("111111") is None
    assert not await records.is_finished(quiz.quiz_id)
    # the creator holds the lease: its epoch writes
    await records.append(rows(quiz.quiz_id, 1), [], {quiz.quiz_id: epoch})
    assert await stored_seqs(records, quiz.quiz_id) == [1]


async def test_unknown_quizzes_and_pins(records: Records) -> None:
    # each names the quiz it did not find (the service's 404 and the logs say which)
    with pytest.raises(UnknownQuiz, match=r"^no-such-quiz$"):
        await records.definition("no-such-quiz")
    with pytest.raises(UnknownQuiz, match=r"^no-such-quiz$"):
        await records.is_finished("no-such-quiz")
    with pytest.raises(UnknownQuiz, match=r"^no-such-quiz$"):
        await records.acquire("no-such-quiz")
    assert await records.live_quiz_for_pin("000000") is None
    assert await records.ended_quiz_for_pin("000000") is None
    assert await records.records("no-such-quiz") == []


async def test_a_pin_is_unique_among_live_quizzes_and_an_id_for_ever(records: Records) -> None:
    first = definition("222222", "first")
    await records.add_quiz(first)

    with pytest.raises(PinTaken):
        await records.add_quiz(definition("222222", "second"))
    with pytest.raises(ValueError, match="first"):
        await records.add_quiz(definition("333333", "first"))
    # nothing of the refused quizzes was stored
    with pytest.raises(UnknownQuiz):
        await records.definition("second")
    assert await records.live_quiz_for_pin("333333") is None


async def test_finishing_frees_the_pin_and_the_ended_quiz_answers_until_the_pin_is_reused(
    records: Records,
) -> None:
    first, second = definition("444444", "first"), definition("444444", "second")
    first_epoch = await records.add_quiz(first)

    await records.append(rows("first", 1, 2), ["first"], {"first": first_epoch})

    assert await records.is_finished("first")
    assert await records.live_quiz_for_pin("444444") is None
    assert await records.ended_quiz_for_pin("444444") == "first"
    assert await records.definition("first") == first  # finished quizzes keep their definition

    second_epoch = await records.add_quiz(second)
    assert await records.live_quiz_for_pin("444444") == "second"
    assert await records.ended_quiz_for_pin("444444") is None  # the PIN means the new quiz now

    await records.append([], ["second"], {"second": second_epoch})
    assert await records.ended_quiz_for_pin("444444") == "second"  # the last one that ended
    assert await stored_seqs(records, "first") == [1, 2]


async def test_concurrent_creates_of_one_pin_in_two_processes_make_exactly_one_quiz(
    storage: Storage,
) -> None:
    one, other = await storage.open(), await storage.open()
    attempts = [
        (one if n % 2 else other).add_quiz(definition("555555", f"quiz-{n}")) for n in range(8)
    ]

    outcomes = await asyncio.gather(*attempts, return_exceptions=True)

    winners = [n for n, outcome in enumerate(outcomes) if isinstance(outcome, int)]
    assert len(winners) == 1, outcomes
    assert all(
        isinstance(outcome, PinTaken) for n, outcome in enumerate(outcomes) if n != winners[0]
    ), outcomes
    assert await one.live_quiz_for_pin("555555") == f"quiz-{winners[0]}"


# ---------------------------------------------------------------------- the journal


async def test_records_come_back_in_sequence_order_after_a_given_seq(records: Records) -> None:
    a, b = definition("100001", "a"), definition("100002", "b")
    epochs = {"a": await records.add_quiz(a), "b": await records.add_quiz(b)}

    # one batch, two quizzes interleaved and out of order, as answers arrive
    await records.append(
        [("a", 3, record(3)), ("b", 1, record(1)), ("a", 1, record(1)), ("a", 2, record(2))],
        [],
        epochs,
    )
    await records.append(rows("a", 4), [], {"a": epochs["a"]})

    assert await records.records("a") == [(seq, record(seq)) for seq in (1, 2, 3, 4)]
    assert await records.records("a", after_seq=2) == [(3, record(3)), (4, record(4))]
    assert await records.records("a", after_seq=4) == []
    assert await records.records("b") == [(1, record(1))]


async def test_records_keep_any_text_exactly(records: Records) -> None:
    epoch = await records.add_quiz(definition("100003", "q"))
    text = "Zoë 日本 🦊 \"'\\ \n \\u0000 \t"
    odd: Record = {"c": "join", "t": T0, "nickname": text, "nested": {"list": [1, None, True]}}
    with_nul: Record = {"c": "join", "t": T0, "nickname": "a\u0000b"}  # the control character

    await records.append([("q", 1, odd), ("q", 2, odd)], [], {"q": epoch})
    await records.append([("q", 3, with_nul), ("q", 4, odd)], [], {"q": epoch})

    assert await records.records("q") == [(1, odd), (2, odd), (3, with_nul), (4, odd)]


async def test_an_append_is_all_or_nothing_across_quizzes(storage: Storage) -> None:
    owner, other = await storage.open(lease_s=SHORT_LEASE_S), await storage.open()
    kept_epoch = await owner.add_quiz(definition("200001", "kept"))
    lost_epoch = await owner.add_quiz(definition("200002", "lost"))
    await expire()
    assert await other.acquire("lost") is not None
    await owner.renew({"kept": kept_epoch})

    with pytest.raises(Fenced) as fenced:
        await owner.append(
            [*rows("kept", 1, 2), *rows("lost", 1)],
            ["kept"],
            {"kept": kept_epoch, "lost": lost_epoch},
        )

    assert fenced.value.quiz_ids == {"lost"}
    assert str(fenced.value).startswith("lease lost for lost")  # the owner's warning says it
    assert await stored_seqs(owner, "kept") == []
    assert await stored_seqs(owner, "lost") == []
    assert not await owner.is_finished("kept")  # the finish mark was rolled back too
    # and the quiz whose lease holds still takes the same rows
    await owner.append(rows("kept", 1, 2), [], {"kept": kept_epoch})
    assert await stored_seqs(owner, "kept") == [1, 2]


async def test_a_stale_epoch_is_fenced_and_stores_nothing(records: Records) -> None:
    epoch = await records.add_quiz(definition("200003", "q"))
    await records.release({"q": epoch})
    newer = await records.acquire("q")  # taken again, by anyone: the epoch moves on
    assert newer is not None
    assert newer > epoch

    with pytest.raises(Fenced) as fenced:
        await records.append(rows("q", 1), [], {"q": epoch})

    assert fenced.value.quiz_ids == {"q"}
    assert await stored_seqs(records, "q") == []
    await records.append(rows("q", 1), [], {"q": newer})
    assert await stored_seqs(records, "q") == [1]


async def test_every_quiz_whose_lease_was_lost_is_named(storage: Storage) -> None:
    owner, other = await storage.open(lease_s=SHORT_LEASE_S), await storage.open()
    epochs = {
        q: await owner.add_quiz(definition(pin, q)) for q, pin in (("x", "200005"), ("y", "200006"))
    }
    await expire()
    for quiz_id in epochs:
        assert await other.acquire(quiz_id) is not None

    with pytest.raises(Fenced) as fenced:
        await owner.append([*rows("y", 1), *rows("x", 1)], [], epochs)

    assert fenced.value.quiz_ids == {"x", "y"}
    assert str(fenced.value).startswith("lease lost for x, y")


async def test_another_process_cannot_write_with_the_owners_epoch(storage: Storage) -> None:
    owner, intruder = await storage.open(), await storage.open()
    epoch = await owner.add_quiz(definition("200004", "q"))

    with pytest.raises(Fenced):
        await intruder.append(rows("q", 1), [], {"q": epoch})
    with pytest.raises(Fenced):
        await intruder.append([], ["q"], {"q": epoch})

    assert await stored_seqs(owner, "q") == []
    assert not await owner.is_finished("q")


async def test_a_sequence_number_already_stored_is_fenced_and_the_batch_is_not_stored(
    records: Records,
) -> None:
    a = await records.add_quiz(definition("300001", "a"))
    b = await records.add_quiz(definition("300002", "b"))
    await records.append(rows("a", 1, 2), [], {"a": a})

    with pytest.raises(Fenced) as fenced:
        await records.append([*rows("b", 1), *rows("a", 3, 2)], [], {"a": a, "b": b})

    assert fenced.value.quiz_ids == {"a"}
    assert "already stored" in str(fenced.value)
    assert await stored_seqs(records, "a") == [1, 2]
    assert await stored_seqs(records, "b") == []


async def test_a_sequence_number_twice_in_one_batch_is_fenced(records: Records) -> None:
    epoch = await records.add_quiz(definition("300003", "q"))

    with pytest.raises(Fenced) as fenced:
        await records.append(rows("q", 1, 2, 2), [], {"q": epoch})

    assert fenced.value.quiz_ids == {"q"}
    assert await stored_seqs(records, "q") == []


async def test_a_finished_quiz_takes_no_more_records_and_cannot_be_acquired(
    storage: Storage,
) -> None:
    owner, other = await storage.open(), await storage.open()
    epoch = await owner.add_quiz(definition("300004", "q"))
    await owner.append(rows("q", 1), ["q"], {"q": epoch})

    with pytest.raises(Fenced):
        await owner.append(rows("q", 2), [], {"q": epoch})
    assert await owner.renew({"q": epoch}) == {"q"}
    assert await owner.acquire("q") is None
    assert await other.acquire("q") is None
    assert await other.orphans(10) == []
    assert await stored_seqs(owner, "q") == [1]


# ---------------------------------------------------------------------- leases


async def test_a_held_lease_cannot_be_acquired_by_another_process(storage: Storage) -> None:
    owner, other = await storage.open(), await storage.open()
    epoch = await owner.add_quiz(definition("400001", "q"))

    assert await other.acquire("q") is None
    assert await other.orphans(10) == []
    assert await owner.renew({"q": epoch}) == set()


async def test_renewing_keeps_a_lease_past_its_duration(storage: Storage) -> None:
    owner = await storage.open(lease_s=SHORT_LEASE_S)
    other = await storage.open()
    epoch = await owner.add_quiz(definition("400002", "q"))

    for _ in range(4):  # 4 × lease/2: twice the lease in all
        await asyncio.sleep(SHORT_LEASE_S / 2)
        assert await owner.renew({"q": epoch}) == set()

    assert await other.acquire("q") is None
    assert await other.orphans(10) == []


async def test_takeover_after_expiry_fences_the_old_owner(storage: Storage) -> None:
    old = await storage.open(lease_s=SHORT_LEASE_S)
    new = await storage.open(lease_s=SHORT_LEASE_S)
    old_epoch = await old.add_quiz(definition("400003", "q"))
    await old.append(rows("q", 1), [], {"q": old_epoch})

    await expire()
    assert await new.orphans(10) == ["q"]
    new_epoch = await new.acquire("q")

    assert new_epoch is not None
    assert new_epoch > old_epoch
    assert await new.records("q") == [(1, record(1))]  # the new owner sees what the old wrote
    with pytest.raises(Fenced) as fenced:
        await old.append(rows("q", 2), [], {"q": old_epoch})
    assert fenced.value.quiz_ids == {"q"}
    assert await old.renew({"q": old_epoch}) == {"q"}
    assert await new.renew({"q": new_epoch}) == set()
    await new.append(rows("q", 2), [], {"q": new_epoch})
    assert await stored_seqs(new, "q") == [1, 2]


async def test_an_expired_lease_nobody_took_is_renewed_at_the_same_epoch(
    storage: Storage,
) -> None:
    owner = await storage.open(lease_s=SHORT_LEASE_S)
    epoch = await owner.add_quiz(definition("400004", "q"))
    await expire()

    assert await owner.renew({"q": epoch}) == set()
    await owner.append(rows("q", 1), [], {"q": epoch})
    assert await stored_seqs(owner, "q") == [1]


async def test_a_released_lease_is_taken_at_once(storage: Storage) -> None:
    owner, other = await storage.open(), await storage.open()  # 30 s leases: no expiry here
    epoch = await owner.add_quiz(definition("400005", "q"))

    await owner.release({"q": epoch + 1})  # not the epoch it holds: nothing happens
    assert await other.acquire("q") is None

    await owner.release({"q": epoch})
    assert await other.orphans(10) == ["q"]
    taken = await other.acquire("q")
    assert taken is not None
    assert taken > epoch
    with pytest.raises(Fenced):
        await owner.append(rows("q", 1), [], {"q": epoch})


async def test_only_one_of_two_processes_acquiring_an_orphan_gets_it(storage: Storage) -> None:
    creator = await storage.open(lease_s=SHORT_LEASE_S)
    first, second = await storage.open(), await storage.open()
    for n in range(5):
        await creator.add_quiz(definition(f"50000{n}", f"q{n}"))
    await expire()

    for n in range(5):
        outcomes = await asyncio.gather(first.acquire(f"q{n}"), second.acquire(f"q{n}"))
        assert sorted(outcomes, key=lambda e: e is None) == [2, None], outcomes


async def test_orphans_are_the_expired_or_released_live_quizzes_oldest_first(
    storage: Storage,
) -> None:
    short = await storage.open(lease_s=SHORT_LEASE_S)
    held = await storage.open()
    epochs: dict[str, int] = {}
    for name in ("oldest", "middle", "newest", "finished"):
        epochs[name] = await short.add_quiz(definition(f"6{len(epochs)}0000", name))
    await held.add_quiz(definition("700000", "held"))
    released = await held.add_quiz(definition("700001", "released"))
    await held.release({"released": released})
    await short.append([], ["finished"], {"finished": epochs["finished"]})
    await expire()

    assert await held.orphans(10) == ["oldest", "middle", "newest", "released"]
    assert await held.orphans(2) == ["oldest", "middle"]
    assert await held.orphans(1) == ["oldest"]  # a sweep limited to one still gets one
    assert await held.orphans(0) == []
    await held.acquire("oldest")
    assert await held.orphans(10) == ["middle", "newest", "released"]


async def test_fencing_holds_while_the_old_owner_keeps_writing_during_a_takeover(
    storage: Storage,
) -> None:
    """Everything the old owner was told is stored is seen by the new owner right after its
    acquire, and nothing the old owner writes after that is stored."""
    old = await storage.open(lease_s=SHORT_LEASE_S)
    new = await storage.open()
    old_epoch = await old.add_quiz(definition("800000", "q"))
    acknowledged: list[int] = []
    fenced_at: list[int] = []

    async def old_owner_writes() -> None:
        seq = 0
        while not fenced_at:
            seq += 1
            try:
                await old.append(rows("q", seq), [], {"q": old_epoch})
            except Fenced:
                fenced_at.append(seq)
            else:
                acknowledged.append(seq)

    writer = asyncio.create_task(old_owner_writes())
    new_epoch = None
    while new_epoch is None:
        await asyncio.sleep(0.02)
        new_epoch = await new.acquire("q")
    seen_by_new_owner = await stored_seqs(new, "q")
    await asyncio.wait_for(writer, 5)

    assert acknowledged, "the old owner should have written before the takeover"
    assert set(acknowledged) <= set(seen_by_new_owner)
    assert await stored_seqs(new, "q") == acknowledged


# ---------------------------------------------------------------------- the rest


async def test_every_process_gets_the_same_signing_key(storage: Storage) -> None:
    first, second = await storage.open(), await storage.open()

    keys = await asyncio.gather(first.signing_key(), second.signing_key(), first.signing_key())

    assert len(keys[0]) >= 32
    assert keys[0] == keys[1] == keys[2]
    assert await (await storage.open()).signing_key() == keys[0]


async def test_check_passes_and_close_is_idempotent(storage: Storage) -> None:
    records = await storage.open()

    await records.check()
    await records.close()
    await records.close()
