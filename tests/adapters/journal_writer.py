"""A process that appends to a SQLite journal until it is killed (for the crash test).

Run as ``python journal_writer.py <db path> <NORMAL|FULL>``. It stores one quiz, prints
``ready``, then appends batches of :data:`BATCH` rows forever; after each ``append()`` returns
it prints the batch's last sequence number — its acknowledgement: every printed number must be in
the database after the process is killed at any moment. Self-contained (imports only livequiz),
so it runs as a plain script.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from livequiz.adapters.sqlite import SqliteJournal, Synchronous
from livequiz.domain.question import Question
from livequiz.domain.settings import QuizSettings
from livequiz.ports import QuizDefinition

QUIZ_ID = "crash-quiz"
#: Rows per batch: a few, like a busy pump's batch, so a kill can land inside one.
BATCH = 7


def make_definition() -> QuizDefinition:
    question = Question(
        prompt="Which word means 'very big'?",
        options=("huge", "tiny", "quick", "late"),
        correct_option=0,
        kind="meaning_to_word",
        word="huge",
        definition="very big",
    )
    return QuizDefinition(
        quiz_id=QUIZ_ID,
        pin="424242",
        title="Crash test",
        questions=(question,),
        settings=QuizSettings(),
        created_at_ms=1_700_000_000_000,
    )


def record_for(seq: int) -> dict[str, object]:
    """The record stored under ``seq``: recognisable, so the test can check every byte came back."""
    return {"c": "answer", "t": 1_700_000_000_000 + seq, "player_id": seq, "index": 0, "option": 1}


async def main(path: Path, synchronous: Synchronous) -> None:
    journal = SqliteJournal(path, synchronous=synchronous)
    await journal.add_quiz(make_definition())
    print("ready", flush=True)
    seq = 0
    while True:
        rows = [(QUIZ_ID, s, record_for(s)) for s in range(seq + 1, seq + BATCH + 1)]
        await journal.append(rows)
        seq += BATCH
        print(seq, flush=True)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), Synchronous(sys.argv[2])))
