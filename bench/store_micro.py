"""Micro-benchmark of scoring alone: answers per second through the store, no network.

Not a test. Run: ``.venv/bin/python bench/store_micro.py [--quizzes 200] [--players 50]``.

Why: the end-to-end benchmark (docs/benchmarks.md) is limited by writing frames to sockets.
This measures the part below it — ``QuizStore.execute`` over the embedded storage
(``EmbeddedRecords``): the domain core (deadline, dedupe, score, board, sequence number), the
lease check and the durable SQLite journal — on the same batches the owner's pump would hand it,
so the report can say how far scoring itself is from being the limit.

For ``--quizzes`` quizzes of ``--players`` players it joins everyone, starts every quiz, and
for each of ``--questions`` questions submits one answer per player in batches of ``--batch``
(answers of all quizzes interleaved, as they arrive), then closes and moves on. It prints the
answers per second of the answer batches only (joins and question changes excluded) and the
batch time p50/p99, with the journal (the embedded default) and in memory only.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from pathlib import Path

from livequiz.adapters.embedded import EmbeddedRecords
from livequiz.adapters.sqlite import SqliteJournal
from livequiz.domain.commands import Answer, CloseQuestion, Command, Join, Next, Start
from livequiz.domain.errors import Rejected
from livequiz.domain.nicknames import NicknamePolicy
from livequiz.domain.question import Question
from livequiz.domain.settings import QuizSettings
from livequiz.ports import Envelope, QuizDefinition
from livequiz.store import QuizStore

T0 = 1_700_000_000_000


def _questions(count: int) -> tuple[Question, ...]:
    return tuple(
        Question(
            prompt=f"Question {n}?",
            options=tuple(f"option {n}.{i}" for i in range(4)),
            correct_option=n % 4,
            kind="word_to_meaning",
            word=f"word{n}",
            definition=f"meaning of word{n}",
        )
        for n in range(count)
    )


async def _run(args: argparse.Namespace, journal_dir: Path | None) -> tuple[float, list[float]]:
    journal = None if journal_dir is None else SqliteJournal(journal_dir / "journal.sqlite3")
    # A lease far longer than the run: nothing renews it here (the owner's job, not measured).
    records = await EmbeddedRecords.open(journal, lease_s=3600.0)
    store = QuizStore(records, nicknames=NicknamePolicy())
    settings = QuizSettings(time_limit_ms=60_000, close_when_all_answered=False)
    quiz_ids = []
    for q in range(args.quizzes):
        definition = QuizDefinition(
            quiz_id=f"quiz-{q}",
            pin=f"{100000 + q}",
            title=f"Quiz {q}",
            questions=_questions(args.questions),
            settings=settings,
            created_at_ms=T0,
        )
        await store.create(definition)
        quiz_ids.append(definition.quiz_id)

    def envelopes(commands: list[tuple[str, Command]], now_ms: int) -> list[Envelope]:
        return [Envelope(quiz_id, command, now_ms) for quiz_id, command in commands]

    joins: list[tuple[str, Command]] = [
        (quiz_id, Join(f"player{p}")) for quiz_id in quiz_ids for p in range(args.players)
    ]
    await store.execute(envelopes(joins, T0))
    await store.execute(envelopes([(quiz_id, Start()) for quiz_id in quiz_ids], T0))
    rng = random.Random(1)
    answered = 0
    seconds = 0.0
    batch_ms: list[float] = []
    for index in range(args.questions):
        now = T0 + 1_000 + index * 100_000
        answers: list[tuple[str, Command]] = [
            (quiz_id, Answer(p + 1, index, rng.randrange(4)))
            for p in range(args.players)
            for quiz_id in quiz_ids
        ]
        for start in range(0, len(answers), args.batch):
            batch = envelopes(answers[start : start + args.batch], now + start // 100)
            began = time.perf_counter()
            outcomes, _committed = await store.execute(batch)
            took = time.perf_counter() - began
            # Refusals are cheaper than answers: a run that measured them would mislead.
            refused = [o for o in outcomes if isinstance(o, Rejected)]
            if refused:
                raise SystemExit(f"{len(refused)} answers refused, e.g. {refused[0]!r}")
            seconds += took
            batch_ms.append(took * 1000)
        answered += len(answers)
        await store.execute(envelopes([(q, CloseQuestion()) for q in quiz_ids], now + 50_000))
        if index + 1 < args.questions:
            await store.execute(envelopes([(q, Next()) for q in quiz_ids], now + 60_000))
    await store.close()
    return answered / seconds, sorted(batch_ms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quizzes", type=int, default=200)
    parser.add_argument("--players", type=int, default=50)
    parser.add_argument("--questions", type=int, default=5)
    parser.add_argument("--batch", type=int, default=200, help="answers per store.execute")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for label, directory in (("journal (SQLite, NORMAL)", Path(tmp)), ("memory only", None)):
            rate, ms = asyncio.run(_run(args, directory))
            p50, p99 = ms[len(ms) // 2], ms[min(len(ms) - 1, int(len(ms) * 0.99))]
            print(
                f"{label:<26} {rate:>9,.0f} answers/s   batch of {args.batch}: "
                f"p50 {p50:.2f} ms, p99 {p99:.2f} ms"
            )


if __name__ == "__main__":
    main()
