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

``LIVEQUIZ_LONG_DAY_QUIZZES`` sets the number of quizzes (200 in the test command, a few
thousand in ``make reliability``).

**Start-up against history** (:func:`test_start_up_does_not_grow_with_the_quizzes_ever_played`)
writes finished quizzes straight into a SQLite journal through the storage adapter (played
through the real store once, then the same journal rows stored for each quiz), and measures
process start to ``/readyz`` 200 with 0, N/10 and N of them (``LIVEQUIZ_STARTUP_QUIZZES``,
10,000 by default), several starts each, in one run.
"""

from __future__ import annotations

import asyncio
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
from tests.reliability.client import Client
from tests.reliability.faults import ServerProcess, tracebacks
from tests.reliability.report import record
from tests.reliability.workload import (
    Played,
    at_question,
    closed,
    host_until,
    http_retrying,
    join,
    play_quiz,
    results_retrying,
)

QUIZZES = int(os.environ.get("LIVEQUIZ_LONG_DAY_QUIZZES", "200"))
#: Quizzes played at once (a school's classrooms), each of PLAYERS players and QUESTIONS.
CONCURRENT = int(os.environ.get("LIVEQUIZ_LONG_DAY_CONCURRENT", "10"))
PLAYERS = 3
QUESTIONS = 2
#: A day compressed: finished quizzes leave memory a second after they finish.
RETENTION_S = float(os.environ.get("LIVEQUIZ_LONG_DAY_RETENTION_S", "1"))
#: The first part of the run is warm-up (imports, caches, the allocator's arenas): the
#: figures after it must stay flat.
WARM_UP = 0.2
#: Allowed growth after the warm-up: resident memory, within this factor...
RSS_FACTOR = 1.2
#: ...open descriptors, by at most this many (each quiz in play holds ~5 sockets)...
FD_SLACK = CONCURRENT * 8
#: ...quizzes in memory at most (those in play, plus those finished within the retention).
LOADED_MAX = 60
#: The journal grows by what each quiz stores; the second half of the run may store at most
#: this factor more per quiz than the first (no growth that accelerates), and SQLite's
#: write-ahead log stays below this size (it is checkpointed as it goes).
JOURNAL_PER_QUIZ_FACTOR = 1.5
WAL_MAX_BYTES = 16 * 2**20
STARTUP_QUIZZES = int(os.environ.get("LIVEQUIZ_STARTUP_QUIZZES", "10000"))
#: Starts per journal size; the best is compared (this machine is shared and noisy).
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
    # the best of the starts is compared: other work on a shared machine only ever adds time
    best = {size: min(s.seconds for s in starts[size]) for size in sizes}
    rss = {size: statistics.median(s.rss_mib for s in starts[size]) for size in sizes}
    figures = {
        "quizzes_ever_played": sizes,
        "starts_each": STARTS,
        "start_to_ready_best_s": [round(best[s], 3) for s in sizes],
        "start_to_ready_median_s": [round(median[s], 3) for s in sizes],
        "start_to_ready_all_s": [[round(x.seconds, 3) for x in starts[s]] for s in sizes],
        "rss_after_start_mib": [round(rss[s], 1) for s in sizes],
    }
    record("long_day_startup", figures)
    print(figures)
    small, big = sizes[1], sizes[2]
    assert best[big] < 1.5 * best[small], figures
    assert best[big] < 1.5 * best[0], figures
    # nothing of the finished quizzes is held at start: memory does not grow with history
    assert rss[big] < rss[0] + 20, figures


# ---------------------------------------------------------------------- the soak


@dataclass
class Sample:
    at_s: float
    quizzes: int
    rss_mib: float
    fds: int
    loaded: int
    live: int
    #: the database file (results, checkpointed), and its write-ahead log apart
    journal_bytes: int
    wal_bytes: int


async def metrics(server: ServerProcess) -> dict[str, float]:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        text = (await http.get("/metrics")).text
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and "{" not in line:
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


def file_size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


async def sample(server: ServerProcess, started: float, quizzes: int) -> Sample:
    pid = pid_of(server)
    figures = await metrics(server)
    database = server.data_dir / names.SQLITE_FILE
    wal = database.with_name(database.name + "-wal")
    return Sample(
        at_s=round(time.monotonic() - started, 2),
        quizzes=quizzes,
        rss_mib=round(rss_bytes(pid) / 2**20, 1),
        fds=open_fds(pid),
        loaded=int(figures["livequiz_quizzes_loaded"]),
        live=int(figures["livequiz_quizzes_live"]),
        journal_bytes=file_size(database),
        wal_bytes=file_size(wal),
    )


@dataclass
class FirstQuiz:
    quiz_id: str
    host_token: str
    tokens: dict[str, str]
    report: Any
    own: dict[str, Any]


async def play_first_quiz(server: ServerProcess, rng: random.Random) -> FirstQuiz:
    """The morning's first quiz, kept track of: its results are read again at the end."""
    base, ws = (lambda: server.url), (lambda: server.ws_url)
    created = (
        await http_retrying(base, "POST", "/api/quizzes", 201, json={"count": 2, "seed": 1})
    ).json()
    tokens = dict([await join(base, created["pin"], f"early {n}") for n in range(2)])
    host = Client("host", created["host_token"], ws, rng)
    players = [Client(name, token, ws, rng) for name, token in tokens.items()]
    await asyncio.gather(*(c.connect() for c in [host, *players]))
    for index in range(2):
        await host_until(host, "start" if index == 0 else "next", at_question(index))
        await asyncio.gather(*(p.answer(index, (index + n) % 4) for n, p in enumerate(players)))
        await host_until(host, "close", closed(index))
    await host_until(host, "end", lambda state: state["phase"] == "finished")
    await asyncio.gather(*(c.drop() for c in [host, *players]))
    first = FirstQuiz(created["quiz_id"], created["host_token"], tokens, None, {})
    first.report, first.own = await read_results(server, first)
    return first


async def read_results(server: ServerProcess, quiz: FirstQuiz) -> tuple[Any, dict[str, Any]]:
    async def get(token: str) -> Any:
        return await results_retrying(lambda: server.url, quiz.quiz_id, token)

    return await get(quiz.host_token), {n: await get(t) for n, t in quiz.tokens.items()}


def plot(samples: list[Sample], path: Path) -> None:
    """The curves of a run, for docs/reliability.md (``LIVEQUIZ_LONG_DAY_PLOT=path.png``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = [s.quizzes for s in samples]
    fig, axes = plt.subplots(2, 2, figsize=(10, 6), sharex=True)
    panels = [
        ("resident memory (MiB)", [s.rss_mib for s in samples]),
        ("open file descriptors", [s.fds for s in samples]),
        ("quizzes in memory (loaded / live)", [s.loaded for s in samples]),
        ("journal on disk (MiB)", [s.journal_bytes / 2**20 for s in samples]),
    ]
    for axis, (title, y) in zip(axes.flat, panels, strict=True):
        axis.plot(x, y)
        axis.set_title(title)
        axis.set_ylim(bottom=0)
        axis.grid(alpha=0.3)
    axes.flat[2].plot(x, [s.live for s in samples])
    for axis in axes[1]:
        axis.set_xlabel("quizzes played")
    fig.suptitle(f"A long day: {samples[-1].quizzes} quizzes, retention {RETENTION_S:g} s")
    fig.tight_layout()
    fig.savefig(path, dpi=80)


async def test_a_long_day_of_quizzes_stays_bounded(tmp_path: Path) -> None:
    rng = random.Random(int(os.environ.get("LIVEQUIZ_RELIABILITY_SEED", "16")))
    server = ServerProcess(
        tmp_path / "data",
        tmp_path / "server.log",
        "--finished-retention-s",
        f"{RETENTION_S:g}",
        # every player of the day comes from 127.0.0.1
        "--join-burst",
        "1000000",
        "--join-rate",
        "1000000",
        "--max-connections-per-address",
        "100000",
        "--new-connection-burst",
        "1000000",
        "--new-connection-rate",
        "1000000",
    )
    await server.start()
    started = time.monotonic()
    samples: list[Sample] = []
    played = Played()
    try:
        first = await play_first_quiz(server, rng)
        done = 1
        samples.append(await sample(server, started, done))
        every = max(1, QUIZZES // 60)

        async def worker(seed: int) -> None:
            nonlocal done
            own = random.Random(seed)
            while done < QUIZZES:
                done += 1  # claimed before it is played, so the total is exact
                result = await play_quiz(
                    lambda: server.url,
                    lambda: server.ws_url,
                    own,
                    players=PLAYERS,
                    questions=QUESTIONS,
                    answer_pause_s=0.05,
                )
                played.add(result)
                if played.quizzes % every == 0:
                    samples.append(await sample(server, started, played.quizzes + 1))

        await asyncio.gather(*(worker(rng.randrange(1 << 30)) for _ in range(CONCURRENT)))
        samples.append(await sample(server, started, played.quizzes + 1))
        await asyncio.sleep(RETENTION_S * 2 + 0.5)  # the last ones' retention passes
        rested = await sample(server, started, played.quizzes + 1)
        report, own = await read_results(server, first)
        evicted = (await metrics(server))["livequiz_quizzes_evicted_total"]
        log = server.output()
    finally:
        await server.stop()

    elapsed = time.monotonic() - started
    warm = [s for s in samples if s.quizzes >= WARM_UP * QUIZZES]
    base = warm[0]
    half = next(s for s in samples if s.quizzes >= QUIZZES / 2)
    first_half = (half.journal_bytes - samples[0].journal_bytes) / max(1, half.quizzes - 1)
    second_half = (samples[-1].journal_bytes - half.journal_bytes) / max(
        1, samples[-1].quizzes - half.quizzes
    )
    figures = {
        "quizzes": played.quizzes + 1,
        "concurrent": CONCURRENT,
        "players_each": PLAYERS,
        "questions_each": QUESTIONS,
        "retention_s": RETENTION_S,
        "elapsed_s": round(elapsed, 1),
        "quizzes_per_s": round((played.quizzes + 1) / elapsed, 1),
        "evicted": int(evicted),
        "rss_mib_after_warm_up": base.rss_mib,
        "rss_mib_max": max(s.rss_mib for s in warm),
        "rss_mib_end": samples[-1].rss_mib,
        "fds_after_warm_up": base.fds,
        "fds_max": max(s.fds for s in warm),
        "fds_rested": rested.fds,
        "loaded_max": max(s.loaded for s in samples),
        "loaded_rested": rested.loaded,
        "journal_mib_end": round(samples[-1].journal_bytes / 2**20, 2),
        "journal_kib_per_quiz": [round(first_half / 1024, 2), round(second_half / 1024, 2)],
        "wal_mib_max": round(max(s.wal_bytes for s in samples) / 2**20, 2),
        **played.verdict.counts(),
        "samples": [list(vars(s).values()) for s in samples],
    }
    record("long_day_soak", figures)
    print({k: v for k, v in figures.items() if k != "samples"})
    plot_to = os.environ.get("LIVEQUIZ_LONG_DAY_PLOT")
    if plot_to:
        plot(samples, Path(plot_to))

    assert played.verdict.ok, str(played.verdict)
    assert played.quizzes + 1 == QUIZZES
    assert tracebacks(log) == [], log[-3000:]
    # the morning's first quiz left memory long ago, and reads back exactly the same
    assert evicted >= QUIZZES - LOADED_MAX
    assert report == first.report
    assert own == first.own
    # memory, descriptors and quizzes in memory stay flat after the warm-up
    assert max(s.rss_mib for s in warm) <= RSS_FACTOR * base.rss_mib, figures
    assert max(s.fds for s in warm) <= base.fds + FD_SLACK, figures
    assert max(s.loaded for s in samples) <= LOADED_MAX, figures
    assert rested.loaded == 0, figures
    assert rested.live == 0, figures
    # the journal grows by what each quiz stores, steadily; its WAL stays small
    assert second_half <= JOURNAL_PER_QUIZ_FACTOR * first_half, figures
    assert max(s.wal_bytes for s in samples) <= WAL_MAX_BYTES, figures
