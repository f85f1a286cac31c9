"""``livequiz bench`` / ``python -m livequiz.bench``: argument parsing, the table, the JSON."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

import orjson

from livequiz.bench.runner import BenchConfig, run_bench

__all__ = ["build_parser", "format_table", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="livequiz bench",
        description="Load generator: creates quizzes, joins players over HTTP, plays them over "
        "WebSockets from worker processes, and reports latencies, rates, errors and a recount.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--server", default="http://127.0.0.1:8000", help="server base URL")
    parser.add_argument("--workers", "-W", type=int, default=2, help="worker processes")
    parser.add_argument("--server-pid", type=int, help="measure this process's CPU and RSS")
    parser.add_argument("--json-out", type=Path, help="write the full result as JSON here")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--join-concurrency", type=int, default=64)
    parser.add_argument("--connect-concurrency", type=int, default=200, help="per worker")
    sub = parser.add_subparsers(dest="scenario", required=True)
    big = sub.add_parser("one-big-quiz", formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    big.add_argument("--players", type=int, default=1000)
    big.add_argument("--questions", type=int, default=3)
    big.add_argument("--window-s", type=float, default=5.0, help="answers spread over this")
    big.add_argument("--wrong-rate", type=float, default=0.3)
    big.add_argument("--duplicate-rate", type=float, default=0.05)
    small = sub.add_parser(
        "many-small-quizzes", formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    small.add_argument("--quizzes", type=int, default=50)
    small.add_argument("--players-per-quiz", type=int, default=20)
    small.add_argument("--questions", type=int, default=3)
    small.add_argument("--window-s", type=float, default=1.0, help="short think times")
    small.add_argument("--wrong-rate", type=float, default=0.3)
    small.add_argument("--duplicate-rate", type=float, default=0.05)
    return parser


def config_from_args(args: argparse.Namespace) -> BenchConfig:
    big = args.scenario == "one-big-quiz"
    return BenchConfig(
        server=args.server,
        scenario=args.scenario,
        quizzes=1 if big else args.quizzes,
        players_per_quiz=args.players if big else args.players_per_quiz,
        questions=args.questions,
        window_s=args.window_s,
        wrong_rate=args.wrong_rate,
        duplicate_rate=args.duplicate_rate,
        workers=args.workers,
        join_concurrency=args.join_concurrency,
        connect_concurrency=args.connect_concurrency,
        server_pid=args.server_pid,
        seed=args.seed,
    )


def _ms(value: Any) -> str:
    return "-" if value is None else f"{value:.1f}"


def format_table(result: dict[str, Any]) -> str:
    """The human-readable summary of one run."""
    cfg = result["config"]
    ack, board, gen = result["ack_ms"], result["board_ms"], result["generator"]
    rows = [
        (
            "scenario",
            f"{cfg['scenario']}: {cfg['quizzes']} quiz(zes), {cfg['players']} players, "
            f"{cfg['questions']} questions, window {cfg['window_s']} s, {cfg['workers']} workers",
        ),
        (
            "joins",
            f"{result['joined']} in {result['join_s']:.2f} s = {result['join_rate'] or 0:.0f}/s",
        ),
        ("connected", f"{result['connected']} in {result['connect_s']:.2f} s"),
        (
            "answers sent",
            f"{result['answers_sent']} (duplicates {result['duplicates_sent']}, "
            f"refused {result['refused']})",
        ),
        (
            "acks",
            f"{result['acks_total']} {result['acks']}, correct {result['correct_rate'] or 0:.0%}",
        ),
        ("ack ms p50/p95/p99/max", "/".join(_ms(ack[k]) for k in ("p50", "p95", "p99", "max"))),
        (
            "board ms p50/p99 (n)",
            f"{_ms(board['p50'])}/{_ms(board['p99'])} ({board['count']}, "
            f"unseen {result['board_unseen']})",
        ),
        ("frames received", f"{result['frames']} = {result['frames_per_s'] or 0:.0f}/s"),
        ("errors", str(result["errors"] or "none")),
        (
            "recount",
            f"{result['recount']['checked']} players checked, "
            f"{result['recount']['mismatches']} mismatches",
        ),
        (
            "generator CPU",
            f"{gen['cpu_play_s']:.2f} s = {gen['cpu_cores'] or 0:.2f} cores "
            f"(play {result['play_s']:.1f} s)",
        ),
    ]
    server = result["server_process"]
    if server is not None:
        rows.append(
            (
                "server CPU / RSS",
                f"{server['cpu_cores']:.2f} cores, "
                f"{server['rss_mib']:.0f} MiB (peak {server['peak_rss_mib']:.0f} MiB)",
            )
        )
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def main(argv: list[str] | None = None) -> int:
    """Run one benchmark; exit status 1 if anything failed (errors, recount, no finals)."""
    args = build_parser().parse_args(argv)
    config = config_from_args(args)
    result = asyncio.run(run_bench(config))
    print(format_table(result))
    if args.json_out is not None:
        args.json_out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    failed = result["errors"] or result["recount"]["mismatches"]
    return 1 if failed else 0
