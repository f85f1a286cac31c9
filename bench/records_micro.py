"""Micro-benchmark of the PostgreSQL journal: ``PostgresRecords.append`` alone.

Not a test. Run against the local server (the one the tests use)::

    .venv/bin/python bench/records_micro.py [--dsn postgresql://postgres@127.0.0.1:5432/test]
        [--seconds 3] [--quizzes 8] [--sizes 1,10,100,1000]

Why: every batch of answers a quiz owner commits is one ``append`` — one statement that checks
the writer's leases under a row lock and inserts the rows — so its latency is a floor under the
answer acknowledgement time, and appends per second × rows per batch is the most one owner
process can journal. This measures it without the rest of the server.

For each batch size it appends batches of that many answer records (spread over ``--quizzes``
quizzes, as interleaved answers arrive) one after another, for ``--seconds`` seconds, as one
owner process does (a quiz's batches are written in order, never two at once). It prints
appends/s, rows/s, the p50/p99/max latency of ``append``, and the client CPU per row (the
share of the event loop the journal takes), on uvloop as the server runs. It works in a
schema of its own, dropped at the end. The server's settings are whatever it runs with
(``synchronous_commit=on`` by default, so every append waits for its WAL flush): the figures
are for this machine and that server.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import time

import asyncpg

from livequiz.adapters.postgres import PostgresRecords, quote_ident
from livequiz.domain.commands import Answer, to_record
from livequiz.domain.question import Question
from livequiz.domain.settings import QuizSettings
from livequiz.ports import QuizDefinition, Row

T0 = 1_700_000_000_000


def definition(n: int) -> QuizDefinition:
    question = Question(
        prompt="Question?",
        options=("a", "b", "c", "d"),
        correct_option=0,
        kind="word_to_meaning",
        word="word",
        definition="meaning",
    )
    return QuizDefinition(
        quiz_id=f"bench-{n}",
        pin=f"{100000 + n}",
        title=f"Bench {n}",
        questions=(question,),
        settings=QuizSettings(),
        created_at_ms=T0,
    )


def percentile(sorted_values: list[float], fraction: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


async def measure(
    records: PostgresRecords, epochs: dict[str, int], size: int, seconds: float, next_seq: int
) -> tuple[int, list[float], float]:
    """Append batches of ``size`` rows for ``seconds``: (last seq, latencies in s, client CPU
    seconds spent inside ``append``, building the records excluded)."""
    quiz_ids = sorted(epochs)
    latencies: list[float] = []
    cpu_s = 0.0
    seq = next_seq
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        rows: list[Row] = []
        for n in range(size):
            seq += 1
            record = to_record(Answer(player_id=n, index=0, option=n % 4), T0 + seq)
            rows.append((quiz_ids[n % len(quiz_ids)], seq, record))
        cpu_started, started = time.process_time(), time.perf_counter()
        await records.append(rows, [], epochs)
        latencies.append(time.perf_counter() - started)
        cpu_s += time.process_time() - cpu_started
    return seq, latencies, cpu_s


async def main(args: argparse.Namespace) -> None:
    schema = "livequiz_bench_" + secrets.token_hex(4)
    records = await PostgresRecords.connect(args.dsn, schema=schema, lease_s=600)
    try:
        epochs = {}
        for n in range(args.quizzes):
            quiz = definition(n)
            epochs[quiz.quiz_id] = await records.add_quiz(quiz)
        await measure(records, epochs, 10, 0.5, 0)  # warm up: prepared statements, caches
        seq = 1_000_000
        print(
            f"PostgresRecords.append, one writer, {args.quizzes} quizzes, {args.seconds:g} s each"
        )
        print(
            f"{'rows/batch':>10} {'appends/s':>10} {'rows/s':>10} {'p50 ms':>8} {'p99 ms':>8}"
            f" {'max ms':>8} {'client CPU µs/row':>18}"
        )
        for size in args.sizes:
            seq, latencies, cpu_s = await measure(records, epochs, size, args.seconds, seq)
            ordered = sorted(latencies)
            rate = len(latencies) / sum(latencies)
            print(
                f"{size:>10} {rate:>10.0f} {rate * size:>10.0f}"
                f" {statistics.median(ordered) * 1e3:>8.2f} {percentile(ordered, 0.99) * 1e3:>8.2f}"
                f" {ordered[-1] * 1e3:>8.2f} {cpu_s / (len(latencies) * size) * 1e6:>18.1f}"
            )
    finally:
        await records.close()
        connection = await asyncpg.connect(args.dsn)
        try:
            await connection.execute(f"DROP SCHEMA {quote_ident(schema)} CASCADE")
        finally:
            await connection.close()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--seconds", type=float, default=3.0, help="per batch size")
    parser.add_argument("--quizzes", type=int, default=8, help="quizzes the rows spread over")
    parser.add_argument(
        "--sizes",
        type=lambda text: [int(part) for part in text.split(",")],
        default=[1, 10, 100, 1000],
        help="rows per batch, comma-separated",
    )
    return parser.parse_args()


if __name__ == "__main__":
    try:  # the loop the server runs on (livequiz.app), where installed
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency where it builds
        asyncio.run(main(parse_args()))
    else:
        uvloop.run(main(parse_args()))
