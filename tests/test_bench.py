"""The load generator, once, at a small size against an in-process server."""

from __future__ import annotations

from livequiz.bench import BenchConfig, run_bench
from livequiz.bench.cli import build_parser, config_from_args, format_table
from livequiz.service import ServiceLimits
from tests.server import running_server


async def test_a_small_run_is_clean_and_recounts() -> None:
    limits = ServiceLimits(tick_ms=50, joins_burst=10000, joins_per_second=10000)
    async with running_server(service=limits, max_connections_per_address=10000) as srv:
        config = BenchConfig(
            server=srv.base_url,
            players_per_quiz=20,
            questions=2,
            window_s=1.0,
            workers=2,
            duplicate_rate=0.2,
        )
        result = await run_bench(config)

    assert result["errors"] == {}
    assert result["joined"] == 20
    assert result["connected"] == 20
    assert result["config"]["workers"] == 2
    # every player answers every question once, plus the duplicates
    assert result["answers_sent"] == 20 * 2 + result["duplicates_sent"]
    assert result["acks_total"] == result["answers_sent"] - result["refused"]
    assert result["acks"]["accepted"] == 40
    assert result["acks"].get("duplicate", 0) == result["duplicates_sent"]
    assert result["recount"] == {"checked": 20, "mismatches": 0, "examples": []}
    for key in ("ack_ms", "board_ms"):
        figures = result[key]
        assert figures["count"] == 40
        assert all(figures[p] > 0 for p in ("p50", "p95", "p99", "max"))
    assert result["board_unseen"] == 0
    assert result["frames"] > 0
    assert result["frames_per_s"] > 0
    assert result["join_rate"] > 0
    assert result["generator"]["cpu_play_s"] > 0
    assert "ack ms" in format_table(result)


def test_the_cli_builds_both_scenarios() -> None:
    parser = build_parser()
    big = config_from_args(parser.parse_args(["one-big-quiz", "--players", "7"]))
    assert (big.quizzes, big.players_per_quiz, big.window_s) == (1, 7, 5.0)
    small = config_from_args(
        parser.parse_args(
            ["-W", "3", "many-small-quizzes", "--quizzes", "4", "--players-per-quiz", "5"]
        )
    )
    assert (small.quizzes, small.players, small.workers) == (4, 20, 3)
