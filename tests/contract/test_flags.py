"""The flags contract (:class:`~livequiz.ports.QuestionFlags`): every backend keeps flags on
questions for the whole server, counts a repeated flag once, shows them to every process at
once, keeps them over a restart, and forgets them only when a teacher clears them.

Runs once per backend: the embedded default in memory and on SQLite, and PostgreSQL (a real
server, a schema of the test's own).
"""

from __future__ import annotations

from livequiz.ports import Flag, Records
from tests.contract.harness import Harness
from tests.contract.records_harness import T0, Storage


def flag(
    word: str = "harbour",
    kind: str = "synonym",
    *,
    quiz_id: str = "quiz-1",
    flagger: str = "player:1",
    reason: str = "",
    at_ms: int = T0,
) -> Flag:
    return Flag(
        word=word,
        kind=kind,
        level="B1",
        prompt=f"Which word is closest in meaning to '{word}'?",
        quiz_id=quiz_id,
        question=0,
        flagger=flagger,
        reason=reason,
        at_ms=at_ms,
    )


async def test_a_flag_is_listed_with_its_count_and_reasons(records: Records) -> None:
    assert await records.open_flags() == []
    assert await records.add_flag(flag(reason="two answers are right", at_ms=T0))
    assert await records.add_flag(flag(flagger="player:2", at_ms=T0 + 5))
    assert await records.add_flag(flag(flagger="host", reason="port fits too", at_ms=T0 + 9))
    (listed,) = await records.open_flags()
    assert (listed.word, listed.kind, listed.level) == ("harbour", "synonym", "B1")
    assert listed.flags == 3
    assert listed.reasons == ("port fits too", "two answers are right")  # newest first
    assert (listed.first_ms, listed.last_ms) == (T0, T0 + 9)


async def test_a_repeated_flag_counts_once(records: Records) -> None:
    assert await records.add_flag(flag(reason="first"))
    assert not await records.add_flag(flag(reason="again", at_ms=T0 + 1))
    assert not await records.add_flag(flag(word="HARBOUR", reason="in capitals"))
    (listed,) = await records.open_flags()
    assert listed.flags == 1
    assert listed.reasons == ("first",)
    # the same player in another quiz, or of another kind of question, is another flag
    assert await records.add_flag(flag(quiz_id="quiz-2"))
    assert await records.add_flag(flag(kind="fill_blank"))
    listed_flags = {(f.word, f.kind): f.flags for f in await records.open_flags()}
    assert listed_flags == {("harbour", "synonym"): 2, ("harbour", "fill_blank"): 1}


async def test_most_flagged_first(records: Records) -> None:
    await records.add_flag(flag("brave", at_ms=T0 + 50))
    await records.add_flag(flag("harbour", at_ms=T0))
    await records.add_flag(flag("harbour", flagger="player:2", at_ms=T0))
    await records.add_flag(flag("glacier", at_ms=T0 + 10))
    assert [f.word for f in await records.open_flags()] == ["harbour", "brave", "glacier"]


async def test_clearing_forgets_every_flag_of_that_question_only(records: Records) -> None:
    await records.add_flag(flag())
    await records.add_flag(flag(flagger="player:2"))
    await records.add_flag(flag(kind="fill_blank"))
    await records.add_flag(flag("brave"))
    assert await records.clear_flags("Harbour", "synonym") == 2
    assert await records.clear_flags("harbour", "synonym") == 0
    assert {(f.word, f.kind) for f in await records.open_flags()} == {
        ("harbour", "fill_blank"),
        ("brave", "synonym"),
    }
    # flagged again after the clear: counted anew
    assert await records.add_flag(flag())
    assert {(f.word, f.kind, f.flags) for f in await records.open_flags()} >= {
        ("harbour", "synonym", 1)
    }


async def test_every_process_sees_flags_and_clears_at_once(storage: Storage) -> None:
    first = await storage.open()
    second = await storage.open()
    assert await first.add_flag(flag(reason="odd sentence"))
    assert not await second.add_flag(flag(reason="the same player, through another process"))
    (seen,) = await second.open_flags()
    assert (seen.word, seen.flags, seen.reasons) == ("harbour", 1, ("odd sentence",))
    assert await second.clear_flags("harbour", "synonym") == 1
    assert await first.open_flags() == []


async def test_flags_survive_a_restart(durable: Harness) -> None:
    store = await durable.open()
    await store.records.add_flag(flag(reason="kept"))
    await store.records.add_flag(flag("brave"))
    await store.records.clear_flags("brave", "synonym")
    restarted = await durable.reopen(store)
    (kept,) = await restarted.records.open_flags()
    assert (kept.word, kept.kind, kept.flags, kept.reasons) == ("harbour", "synonym", 1, ("kept",))
    # idempotence holds over the restart too
    assert not await restarted.records.add_flag(flag(reason="again"))
    assert (await restarted.records.open_flags())[0].flags == 1


async def test_text_is_kept_exactly(records: Records) -> None:
    odd = flag("café", reason="l'accent: « é » — 😀 and 'quotes' \"too\"")
    await records.add_flag(odd)
    (listed,) = await records.open_flags()
    assert listed.word == "café"
    assert listed.reasons == (odd.reason,)
    assert listed.prompt == odd.prompt
