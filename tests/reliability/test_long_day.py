"""A long day: thousands of quizzes played back to back, and a start-up that does not grow with
the quizzes ever played (issue 16, item 7; docs/reliability.md, "7. A long day").

**The soak** (:func:`test_a_long_day_of_quizzes_stays_bounded`) runs one ``livequiz serve``
process with a short retention of finished quizzes (``--finished-retention-s``) and plays
small quizzes against it back to back, several at a time, through the reliability workload
(:func:`~tests.reliability.workload.play_quiz`: every quiz checked by the checker). Over the
run it samples the server's resident memory, its open file descriptors, the quizzes it holds
in memory (``livequiz_quizzes_loaded``) and the journal's size on disk, and asserts that
memory, descriptors and quizzes in memory stay flat after a warm-up while the journal grows
by a steady amount per quiz (it is where results live). At the end the results of the very
first quiz, long evicted, are read again and must equal what was served when it finished.

``LIVEQUIZ_LONG_DAY_QUIZZES`` sets the number of quizzes (300 in the test command, a few
thousand in ``make reliability``).

**Start-up against history** (:func:`test_start_up_does_not_grow_with_the_quizzes_ever_played`)
writes finished quizzes straight into a SQLite journal through the storage adapter (played
through the real store once, then the same journal rows stored for each quiz), and measures
process start to ``/readyz`` 200 with 0, N/10 and N of them (``LIVEQUIZ_STARTUP_QUIZZES``,
10,000 by default), several starts each, in one run.
"""

from __future__ import annotations

import os
import random
import secrets
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from livequiz import names
from livequiz.adapters.embedded import EmbeddedRecords
from livequiz.adapters.sqlite import SqliteJournal
from livequiz.auth import Role, TokenSigner, load_or_create_key
from livequiz.domain.commands import Answer, End, Join, Next, Start
from livequiz.domain.nicknames import NicknamePolicy
from livequiz.domain.settings import QuizSettings
from livequiz.ports import Envelope, QuizDefinition, Record
from livequiz.store import QuizStore
from tests.domain.factories import make_question
from tests.reliability.faults import ServerProcess
from tests.reliability.report import record

STARTUP_QUIZZES = int(os.environ.get("LIVEQUIZ_STARTUP_QUIZZES", "10000"))
#: Starts per journal size; the median is compared (this machine is shared and noisy).
STARTS = int(os.environ.get("LIVEQUIZ_STARTUP_STARTS", "3"))
#: Questions and players of each stored quiz: a short classroom quiz.
STORED_QUESTIONS = 10
STORED_PLAYERS = 4
T0 = 1_780_000_000_000


# ---------------------------------------------------------------------- a journal with history


def _definition(n: int, rng: random.Random) -> QuizDefinition:
    return QuizDefinition(
        quiz_id=f"{n:08x}{secrets.token_hex(4)}",
        pin=f"{rng.randrange(100_000, 1_000_000)}",
        title=f"Quiz {n}",
        questions=tuple(make_question(q, correct=q % 4) for q in range(STORED_QUESTIONS)),
        settings=QuizSettings(time_limit_ms=20_000),
        created_at_ms=T0 + n,
    )


async def _template_rows() -> list[tuple[int, Record]]:
    """The journal rows of one quiz played to the end by the real store (memory only)."""
    store = QuizStore(
        await EmbeddedRecords.open(None), nicknames=NicknamePolicy(is_profane=lambda _: False)
    )
    quiz = _definition(0, random.Random(0))
    await store.create(quiz)
    now = T0

    async def run(*commands: Any) -> None:
        nonlocal now
        for command in commands:
            now += 500
            await store.execute([Envelope(quiz.quiz_id, command, now)])

    await run(*(Join(f"player {p}") for p in range(STORED_PLAYERS)), Start())
    for q in range(STORED_QUESTIONS):
        await run(*(Answer(p + 1, q, (p + q) % 4, None) for p in range(STORED_PLAYERS)))
        await run(Next() if q + 1 < STORED_QUESTIONS else End())
    rows = await store.records.records(quiz.quiz_id)
    await store.close()
    return rows


async def write_history(data_dir: Path, quizzes: int, *, seed: int = 7) -> list[str]:
    """Store ``quizzes`` finished quizzes in the SQLite journal of ``data_dir`` through the
    embedded storage adapter; returns their ids, oldest first."""
    template = await _template_rows()
    rng = random.Random(seed)
    journal = SqliteJournal(data_dir / names.SQLITE_FILE)
    records = await EmbeddedRecords.open(journal)
    ids: list[str] = []
    try:
        for start in range(0, quizzes, 500):
            epochs: dict[str, int] = {}
            for n in range(start, min(quizzes, start + 500)):
                quiz = _definition(n, rng)
                while await records.live_quiz_for_pin(quiz.pin) is not None:
                    quiz = _definition(n, rng)
                epochs[quiz.quiz_id] = await records.add_quiz(quiz)
                ids.append(quiz.quiz_id)
            rows = [(quiz_id, seq, row) for quiz_id in epochs for seq, row in template]
            await records.append(rows, list(epochs), epochs)
    finally:
        await records.close()
    return ids


# ---------------------------------------------------------------------- a process's vital signs


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def pid_of(server: ServerProcess) -> int:
    assert server.process is not None
    return server.process.pid


@dataclass
class StartUp:
    history: int
    seconds: float
    rss_mib: float


async def _start_once(directory: Path, history: int, *args: str) -> StartUp:
    server = ServerProcess(directory, directory.parent / f"server-{history}.log", *args)
    started = time.monotonic()
    await server.start()
    seconds = time.monotonic() - started
    try:
        return StartUp(history, seconds, rss_bytes(pid_of(server)) / 2**20)
    finally:
        await server.stop()


async def test_start_up_does_not_grow_with_the_quizzes_ever_played(tmp_path: Path) -> None:
    sizes = [0, STARTUP_QUIZZES // 10, STARTUP_QUIZZES]
    directories: dict[int, Path] = {}
    first_quiz: dict[int, str] = {}
    for size in sizes:
        directory = directories[size] = tmp_path / f"history-{size}" / "data"
        directory.mkdir(parents=True)
        seeded_at = time.monotonic()
        ids = await write_history(directory, size)
        if ids:
            first_quiz[size] = ids[0]
        print(f"{size} finished quizzes written in {time.monotonic() - seeded_at:.1f} s")
    starts: dict[int, list[StartUp]] = {size: [] for size in sizes}
    for _ in range(STARTS):  # interleaved, so a noisy minute hits every size alike
        for size in sizes:
            starts[size].append(await _start_once(directories[size], size))

    # the results of the oldest stored quiz are still served, from the journal
    biggest = directories[STARTUP_QUIZZES]
    key = load_or_create_key(biggest / names.SIGNING_KEY_FILE)
    quiz_id = first_quiz[STARTUP_QUIZZES]
    token = TokenSigner(key).issue(quiz_id, Role.HOST, 0, int(time.time()))
    server = ServerProcess(biggest, tmp_path / "results.log")
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
            response = await http.get(
                f"/api/quizzes/{quiz_id}/results", headers={"authorization": f"Bearer {token}"}
            )
    finally:
        await server.stop()
    assert response.status_code == 200, response.text
    report = response.json()
    assert len(report["players"]) == STORED_PLAYERS

    median = {size: statistics.median(s.seconds for s in starts[size]) for size in sizes}
    rss = {size: statistics.median(s.rss_mib for s in starts[size]) for size in sizes}
    figures = {
        "quizzes_ever_played": sizes,
        "starts_each": STARTS,
        "start_to_ready_median_s": [round(median[s], 3) for s in sizes],
        "start_to_ready_all_s": [[round(x.seconds, 3) for x in starts[s]] for s in sizes],
        "rss_after_start_mib": [round(rss[s], 1) for s in sizes],
    }
    record("long_day_startup", figures)
    print(figures)
    small, big = sizes[1], sizes[2]
    assert median[big] < 1.5 * median[small], figures
    assert median[big] < 1.5 * median[0], figures
    # nothing of the finished quizzes is held at start: memory does not grow with history
    assert rss[big] < rss[0] + 20, figures
