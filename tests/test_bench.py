"""The load generator: each scenario once, small, against an in-process server; its pure parts.

The in-process server runs in this test's process, so ``os.getpid()`` is its pid for the CPU and
memory figures (they then include the runner's own share: only their presence is checked).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import secrets
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from livequiz.adapters.embedded import EmbeddedRecords
from livequiz.adapters.local_bus import LocalBus
from livequiz.bench import BenchConfig, run_bench
from livequiz.bench.board_all import VisibleToAll, merge_min_seen, merge_transitions
from livequiz.bench.cli import _bucket_quantile, build_parser, config_from_args, format_table, main
from livequiz.bench.runner import _Host, _plan
from livequiz.bench.stats import peak_per_second, percentile, subsample, summary
from livequiz.service import ServiceLimits
from tests.integration.helpers import open_client
from tests.server import RunningServer, running_server

_LIMITS = ServiceLimits(tick_ms=50, joins_burst=10000, joins_per_second=10000)


async def _run(**options: Any) -> dict[str, Any]:
    async with running_server(service=_LIMITS, max_connections_per_address=10000) as srv:
        return await run_bench(BenchConfig(server=srv.base_url, **options))


@contextlib.asynccontextmanager
async def _two_servers() -> AsyncIterator[list[RunningServer]]:
    """Two servers sharing one storage and one bus, as two processes share PostgreSQL and NATS
    (tests/integration/test_many_servers.py)."""
    storage = EmbeddedRecords.over(None, lease_s=3.0)
    bus, key = LocalBus(), secrets.token_bytes(32)
    async with contextlib.AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(
                running_server(
                    records=storage.sharing(owner_id=f"process-{n}"),
                    bus=bus,
                    key=key,
                    service=_LIMITS,
                    max_connections_per_address=10000,
                )
            )
            for n in range(2)
        ]


def _assert_positive_latencies(figures: dict[str, Any], count: int) -> None:
    assert figures["count"] == count
    assert all(figures[p] > 0 for p in ("p50", "p95", "p99", "max"))
    assert figures["p50"] <= figures["p95"] <= figures["p99"] <= figures["max"]


# ---------------------------------------------------------------------- whole runs


async def test_one_big_quiz_is_clean_measured_and_recounted() -> None:
    result = await _run(
        players_per_quiz=20,
        questions=2,
        window_s=0.5,
        margin_s=1.0,
        workers=2,
        duplicate_rate=0.2,
        server_pid=os.getpid(),
    )

    assert result["errors"] == {}
    assert result["ok"] is True
    assert result["joined"] == 20
    assert result["config"]["workers"] == 2
    assert result["config"]["close_when_all_answered"] is False
    joins = result["joins"]
    assert joins["rate"] > 0
    _assert_positive_latencies(joins["latency_ms"], 20)
    # every player answers every question once, plus the duplicates, and every one is answered
    assert result["accepted"] == 20 * 2
    assert result["answers_sent"] == 40 + result["duplicates_sent"]
    assert result["refused"] == (
        {"duplicate": result["duplicates_sent"]} if result["duplicates_sent"] else {}
    )
    for key in ("ack_ms", "board_own_ms", "board_all_ms"):
        _assert_positive_latencies(result[key], 40)
    assert result["board_own_unseen"] == result["board_all_unseen"] == 0
    # everyone's board cannot show an answer before the answerer's own board does
    assert result["board_all_ms"]["max"] >= result["board_own_ms"]["max"]
    assert result["answers_per_s"] > 0
    assert 1 <= result["answers_peak_per_s"] <= 40
    samples = result["samples"]
    assert {k: len(v) for k, v in samples.items()} == {"ack": 40, "board_own": 40, "board_all": 40}
    assert all(0 <= t < result["play_s"] and ms > 0 for t, ms in samples["ack"])

    assert result["finals"] == 20
    assert result["missing_finals"] == 0
    assert result["recount"] == {
        "own_checked": 20,
        "own_mismatches": 0,
        "host_checked": 20,
        "host_mismatches": 0,
        "missing_host_finals": 0,
        "mismatches": 0,
        "examples": [],
    }

    play = result["frames"]["play"]
    assert {"board", "question", "ack", "closed", "result", "final"} <= play["by_type"].keys()
    assert play["by_type"]["question"]["frames"] == 20 * 2
    assert play["by_type"]["ack"]["frames"] == result["answers_sent"]
    assert play["frames_per_s"] > 0
    assert play["bytes_per_s"] > 0
    assert result["frames"]["connect"]["by_type"]["welcome"]["frames"] == 20

    server_play = result["server_metrics"]["play"]
    assert server_play["frames_sent"]["question"] >= 20 * 2
    assert server_play["frames_sent"]["ack"] == result["answers_sent"]
    assert server_play["answers"]["accepted"] == 40
    # the server timed each board's slowest new answer on its way to every connection: at
    # most one board per answer, within 0.5 s
    boards = server_play["board_delay_seconds_count"]["all"]
    assert 1 <= boards <= 40
    board_buckets = server_play["board_delay_seconds_bucket"]
    assert board_buckets["+Inf"] == boards
    slowest_board_s = min(float(le) for le, n in board_buckets.items() if n == boards)
    assert slowest_board_s <= 0.5
    assert result["server_metrics"]["connect"]["joins"] == {"websocket": 20}

    generator = result["generator"]
    assert len(generator["workers"]) == 2
    for worker in generator["workers"]:
        assert worker["joined"] == 10
        assert worker["loop_lag_ms"]["count"] > 10
        assert worker["loop_lag_ms"]["max"] >= worker["loop_lag_ms"]["p99"] >= 0
    assert generator["cpu_play_s"] > 0

    # the whole machine's CPU over the play, in cores: the groups add up to every core
    machine = result["machine"]["play"]
    assert machine["cores"] == os.cpu_count()
    groups = ("user", "system", "interrupts", "steal", "idle")
    assert sum(machine[f"{g}_cores"] for g in groups) == pytest.approx(machine["cores"])
    assert machine["user_cores"] > 0

    server = result["server_process"]
    assert server["pid"] == os.getpid()
    assert server["kib_per_player"] is not None
    assert server["cpu_play_s"] > 0

    table = format_table(result)
    for row in (
        "ack ms",
        "board all ms",
        "server board delay, play",
        "own score = ack",
        "recount",
        "loop lag",
        "machine, play",
    ):
        assert row in table
    # the server's collections, when it had some (read from its pause histogram)
    server_play["gc_pause_seconds_count"] = {"0": 12.0, "2": 1.0}
    server_play["gc_pause_seconds_sum"] = {"0": 0.004, "2": 0.12}
    assert any(
        line.startswith("server collections, play")
        and line.endswith("generation 0: 12 taking 4 ms, generation 2: 1 taking 120 ms")
        for line in format_table(result).splitlines()
    )
    # targets on either side of the measured p99: one met, one missed
    ack_p99 = result["ack_ms"]["p99"]
    result["targets"] = {"ack": ack_p99 * 2, "board_all": result["board_all_ms"]["p99"] / 2}
    lines = format_table(result).splitlines()
    assert any(line.startswith("target ack p99") and line.endswith(": met") for line in lines)
    assert any(
        line.startswith("target board_all p99") and line.endswith(": MISSED") for line in lines
    )


async def test_many_small_quizzes_close_when_all_have_answered() -> None:
    result = await _run(
        scenario="many-small-quizzes",
        quizzes=3,
        players_per_quiz=4,
        questions=2,
        window_s=0.3,
        workers=2,
        duplicate_rate=0.3,
    )

    assert result["errors"] == {}
    assert result["ok"] is True
    assert result["config"]["close_when_all_answered"] is True
    assert result["joined"] == 12
    assert result["accepted"] == 12 * 2
    # a repeat is answered 'duplicate' even once its question has closed
    duplicates = result["duplicates_sent"]
    assert result["refused"] == ({"duplicate": duplicates} if duplicates else {})
    _assert_positive_latencies(result["ack_ms"], 24)
    assert result["board_own_ms"]["count"] + result["board_own_unseen"] == 24
    assert result["board_all_ms"]["count"] + result["board_all_unseen"] == 24
    assert result["recount"]["mismatches"] == 0
    assert result["recount"]["own_checked"] == result["recount"]["host_checked"] == 12
    # no question waited for its time limit (window + 2 s margin): all were closed early
    assert result["play_s"] < 2 * (0.3 + 2.0)
    assert result["server_metrics"]["play"]["frames_sent"]["final"] == 12 + 3


async def test_a_join_storm_joins_everyone_and_leaves() -> None:
    # two local addresses: Linux routes all of 127/8 to the loopback interface
    result = await _run(
        scenario="join-storm",
        players_per_quiz=60,
        workers=2,
        source_addresses=("127.0.0.1", "127.0.0.2"),
    )

    assert result["errors"] == {}
    assert result["ok"] is True
    assert result["config"]["source_addresses"] == ["127.0.0.1", "127.0.0.2"]
    assert result["joined"] == 60
    assert result["joins"]["rate"] > 0
    _assert_positive_latencies(result["joins"]["latency_ms"], 60)
    assert result["server_metrics"]["connect"]["joins"] == {"websocket": 60}
    assert "recount" not in result
    assert result["phase"] == "leave"
    assert result["frames"]["connect"]["by_type"]["welcome"]["frames"] == 60
    assert result["leave_s"] is not None
    assert result["generator"]["cpu_connect_s"] >= 0
    assert result["generator"]["loop_lag_connect_ms"]["count"] > 0
    assert "joins (WebSocket)" in format_table(result)


async def test_refused_connections_are_errors_and_fail_the_run() -> None:
    async with running_server(service=_LIMITS, max_connections_per_address=5) as srv:
        result = await run_bench(
            BenchConfig(server=srv.base_url, scenario="join-storm", players_per_quiz=8, workers=1)
        )

    assert result["joined"] == 5
    assert result["errors"] == {"connect:http_429": 3}
    assert result["ok"] is False


async def test_idle_players_stay_connected_and_cost_memory() -> None:
    result = await _run(
        scenario="idle", players_per_quiz=20, hold_s=0.5, workers=1, server_pid=os.getpid()
    )

    assert result["errors"] == {}
    assert result["ok"] is True
    assert result["joined"] == 20
    assert result["joins"]["rate"] > 0
    assert result["phase"] == "hold"
    assert result["hold_s"] >= 0.5
    assert result["frames"]["hold"]["seconds"] >= 0.5
    assert result["server_metrics"]["connections_after_connect"] == 20
    assert result["server_process"]["kib_per_player"] is not None
    assert result["generator"]["workers"][0]["loop_lag_ms"]["count"] > 10
    assert "KiB per player" in format_table(result)


# ---------------------------------------------------------------------- several servers


async def test_one_big_quiz_over_two_servers_is_measured_per_server_and_recounted() -> None:
    async with _two_servers() as servers:
        result = await run_bench(
            BenchConfig(
                server=tuple(srv.base_url for srv in servers),
                players_per_quiz=20,
                questions=2,
                window_s=0.5,
                margin_s=1.0,
                workers=2,
                duplicate_rate=0.2,
                # both servers run in this process: its CPU is counted twice, which is fine
                server_pid=(os.getpid(), os.getpid()),
            )
        )

    assert result["errors"] == {}
    assert result["ok"] is True
    assert result["config"]["servers"] == [srv.base_url for srv in servers]
    assert result["joined"] == 20
    assert result["accepted"] == 40
    for key in ("ack_ms", "board_own_ms", "board_all_ms"):
        _assert_positive_latencies(result[key], 40)
    assert result["board_own_unseen"] == result["board_all_unseen"] == 0
    assert result["finals"] == 20
    assert result["recount"]["mismatches"] == 0
    assert result["recount"]["own_checked"] == result["recount"]["host_checked"] == 20
    assert result["host_results_from"] == {"frame": 1}

    # the players were split evenly; the quiz (and its host) on the first server
    assert result["joins"]["by_server"] == [10, 10]
    by_server = result["server_metrics"]["by_server"]
    assert [one["connect"]["joins"] for one in by_server] == [{"websocket": 10}] * 2
    assert [one["connections_after_connect"] for one in by_server] == [11, 10]
    summed = result["server_metrics"]
    assert summed["connect"]["joins"] == {"websocket": 20}
    assert summed["connections_after_connect"] == 21
    # every answer of a player on the second server went to the owner, the first
    assert by_server[1]["play"]["routed_batches"]["ok"] > 0
    assert summed["play"]["frames_sent"]["ack"] == result["answers_sent"]

    server = result["server_process"]
    assert server["pid"] is None
    assert server["pids"] == [os.getpid()] * 2
    assert len(server["processes"]) == 2
    each = server["processes"]
    assert server["cpu_play_s"] == pytest.approx(sum(p["cpu_play_s"] for p in each))
    assert server["rss_connected_mib"] == pytest.approx(sum(p["rss_connected_mib"] for p in each))
    assert server["cpu_ms_per_answer"] == pytest.approx(server["cpu_play_s"] * 1000 / 40)
    # as many pids as servers: the n-th is the n-th server's, with its own players
    assert [p["server"] for p in each] == [srv.base_url for srv in servers]
    assert all(p["kib_per_player"] is not None for p in each)

    table = format_table(result)
    assert "2 servers" in table
    assert "server processes (2, summed)" in table
    assert "ms CPU per answer" in table
    assert "between processes, play" in table


async def test_many_small_quizzes_over_two_servers_spread_their_owners() -> None:
    async with _two_servers() as servers:
        result = await run_bench(
            BenchConfig(
                server=tuple(srv.base_url for srv in servers),
                scenario="many-small-quizzes",
                quizzes=4,
                players_per_quiz=4,
                questions=2,
                window_s=0.3,
                workers=2,
            )
        )

    assert result["errors"] == {}
    assert result["ok"] is True
    assert result["joined"] == 16
    assert result["joins"]["by_server"] == [8, 8]
    assert result["accepted"] == 32
    assert result["recount"]["mismatches"] == 0
    assert result["recount"]["host_checked"] == 16
    # two quizzes created on each server: each owns some (a server that owned all would route
    # nothing), and each routes its players' answers for the other's
    by_server = result["server_metrics"]["by_server"]
    assert [one["connect"]["joins"] for one in by_server] == [{"websocket": 8}] * 2
    assert all(one["play"]["routed_batches"]["ok"] > 0 for one in by_server)
    assert result["server_process"] is None


def test_players_are_split_evenly_per_quiz_and_per_worker() -> None:
    config = BenchConfig(
        server=("http://127.0.0.1:1", "http://127.0.0.1:2"),
        scenario="many-small-quizzes",
        quizzes=4,
        players_per_quiz=8,
        workers=2,
    )
    quizzes = [{"pin": str(100 + q)} for q in range(4)]
    plan = _plan(config, quizzes)
    assert len(plan) == 32
    per_quiz = Counter((quiz, server) for quiz, *_, server in plan)
    assert per_quiz == {(q, s): 4 for q in range(4) for s in range(2)}
    per_worker = Counter((k % 2, plan[k][4]) for k in range(len(plan)))
    assert per_worker == {(w, s): 8 for w in range(2) for s in range(2)}
    # one server: the plan of a single-server run, every player on server 0
    single = _plan(BenchConfig(players_per_quiz=5), [{"pin": "1"}])
    assert single == [(0, "1", f"b0_{n}", None, 0) for n in range(5)]


async def test_a_hosts_missing_final_is_read_from_any_live_server() -> None:
    async with _two_servers() as (first, second):
        quiz = await first.create_quiz(count=1, seed=3)
        async with open_client(second, "host", quiz["host_token"]) as host:
            assert (await host.host("end"))["type"] == "host_ack"
        reader = _Host(second.ws_url, quiz["host_token"], quiz["quiz_id"])
        async with (
            httpx.AsyncClient(base_url="http://127.0.0.1:9", timeout=2) as dead,
            httpx.AsyncClient(base_url=second.base_url) as live,
        ):
            await reader.results_over_http([dead, live])

    assert reader.final_from == "http:1"
    assert reader.final is not None
    assert reader.final["phase"] == "finished"


def test_a_repeat_refused_because_the_quiz_finished_under_it_is_not_an_error() -> None:
    from types import SimpleNamespace

    from livequiz.bench.worker import _Player

    worker = SimpleNamespace(errors=Counter(), refused=Counter(), late_duplicates=0)
    player = _Player(worker, 0, "1", "b0_0")  # type: ignore[arg-type]
    player.last_q, player.final_score = 2, 900
    # the repeat of the last answer: refused once the quiz finished (routed: 'unavailable')
    player.pending = [[2, 1, 0.0, True], [1, 3, 0.0, True], [2, 0, 0.0, False]]
    player._on_error({"code": "unavailable", "q": 2})
    assert (worker.late_duplicates, worker.errors) == (1, Counter())
    # a repeat of an earlier answer, or a first answer, refused: errors as always
    player._on_error({"code": "unavailable", "q": 1})
    player._on_error({"code": "quiz_finished", "q": 2})
    assert worker.errors == {"duplicate:unavailable": 1, "answer:quiz_finished": 1}
    assert worker.refused == {"unavailable": 2, "quiz_finished": 1}


# ---------------------------------------------------------------------- the command line


def test_targets_are_parsed_and_bad_ones_are_usage_errors(
    capsys: pytest.CaptureFixture[str],
) -> None:
    parser = build_parser()
    args = parser.parse_args(["--target", "ack=50", "--target", "board_all=300", "idle"])
    assert args.target == [("ack", 50.0), ("board_all", 300.0)]
    for bad in ("latency=50", "ack=fast", "ack=0"):
        with pytest.raises(SystemExit) as exited:
            parser.parse_args(["--target", bad, "idle"])
        assert exited.value.code == 2
        assert "--target" in capsys.readouterr().err


def test_the_cli_builds_all_four_scenarios() -> None:
    parser = build_parser()
    big = config_from_args(parser.parse_args(["one-big-quiz", "--players", "7"]))
    assert (big.scenario, big.quizzes, big.players_per_quiz, big.window_s) == (
        "one-big-quiz",
        1,
        7,
        5.0,
    )
    assert (big.questions, big.closes_when_all_answered, big.worker_count) == (3, False, 2)
    assert big.time_limit_ms == 7000

    small = config_from_args(
        parser.parse_args(
            ["-W", "3", "many-small-quizzes", "--quizzes", "4", "--players-per-quiz", "5"]
        )
    )
    assert (small.quizzes, small.players, small.workers, small.worker_count) == (4, 20, 3, 3)
    assert small.closes_when_all_answered is True
    default_small = config_from_args(parser.parse_args(["many-small-quizzes"]))
    assert (default_small.quizzes, default_small.players) == (200, 10_000)

    storm = config_from_args(
        parser.parse_args(
            [
                "--source-addresses",
                "127.0.0.1, 127.0.0.2",
                "--connect-concurrency",
                "64",
                "join-storm",
                "--players",
                "30000",
            ]
        )
    )
    assert (storm.scenario, storm.players, storm.plays) == ("join-storm", 30_000, False)
    assert storm.addresses() == ["127.0.0.1", "127.0.0.2"]
    assert (storm.connect_concurrency, storm.worker_count) == (64, 2)

    idle = config_from_args(
        parser.parse_args(["--server-pid", "42", "idle", "--players", "50000", "--hold-s", "3"])
    )
    assert idle.servers == ("http://127.0.0.1:8000",)
    assert idle.server_pids == (42,)
    assert (idle.scenario, idle.players, idle.hold_s, idle.server_pid) == ("idle", 50_000, 3, 42)
    # past 15,000 players per process and 25,000 per local address, both grow on their own
    assert idle.worker_count == 4
    assert idle.addresses() == ["127.0.0.1", "127.0.0.2"]


def test_servers_and_their_pids_are_repeatable() -> None:
    args = build_parser().parse_args(
        [
            "--server",
            "http://127.0.0.1:8765",
            "--server",
            "http://127.0.0.1:8766",
            "--server-pid",
            "11",
            "--server-pid",
            "12",
            "one-big-quiz",
        ]
    )
    config = config_from_args(args)
    assert config.servers == ("http://127.0.0.1:8765", "http://127.0.0.1:8766")
    assert config.server_pids == (11, 12)
    # past 25,000 players on loopback servers, more source addresses as with one server
    many = BenchConfig(server=config.servers, players_per_quiz=30_000)
    assert many.addresses() == ["127.0.0.1", "127.0.0.2"]
    remote = BenchConfig(
        server=(*config.servers, "http://quiz.example.org"), players_per_quiz=30_000
    )
    assert remote.addresses() == [None]
    one = config_from_args(build_parser().parse_args(["--server", "http://127.0.0.1:1", "idle"]))
    assert (one.server, one.server_pid) == ("http://127.0.0.1:1", None)


def test_plots_without_matplotlib_fail_before_the_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        return None if name == "matplotlib" else real_find_spec(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    # no server listens there: the run would fail, but it must not even start
    status = main(["--server", "http://127.0.0.1:9", "--plots-dir", str(tmp_path), "idle"])
    assert status == 2
    assert "pip install 'livequiz[bench]'" in capsys.readouterr().err


def test_a_remote_server_is_not_reached_from_loopback_addresses() -> None:
    config = BenchConfig(server="http://quiz.example.org", players_per_quiz=50_000)
    assert config.addresses() == [None]


def test_unknown_options_of_another_scenario_are_refused() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["join-storm", "--questions", "3"])


# ---------------------------------------------------------------------- "seen by everyone"


def test_an_answer_is_seen_by_all_when_the_last_client_gets_a_board_covering_it() -> None:
    # worker A: client 1 saw boards 5 → 9 → 12; worker B: client 2 saw 5 → 12 (9 was dropped)
    worker_a = {(0, 5, 9): 1.0, (0, 9, 12): 2.0}
    worker_b = {(0, 5, 12): 3.0, (0, 5, 9): 1.5}
    merged = merge_transitions([worker_a, worker_b])
    assert merged == {(0, 5, 9): 1.5, (0, 9, 12): 2.0, (0, 5, 12): 3.0}
    visible = VisibleToAll(merged, merge_min_seen([{0: 12}, {0: 12}]))
    assert visible.time_seen(0, 6) == 3.0  # client 2 saw it only with board 12
    assert visible.time_seen(0, 9) == 3.0
    assert visible.time_seen(0, 10) == 3.0
    assert visible.time_seen(0, 13) is None  # nobody saw a board that far
    assert visible.time_seen(0, 5) is None  # already in the welcome: no board showed it
    assert visible.time_seen(1, 6) is None  # an unknown quiz


def test_an_answer_beyond_some_clients_last_board_is_unseen() -> None:
    transitions = {(0, 1, 4): 1.0, (0, 4, 8): 2.0, (0, 1, 8): 2.5, (1, 0, 3): 9.0}
    visible = VisibleToAll(transitions, merge_min_seen([{0: 8, 1: 3}, {0: 4}]))
    assert visible.time_seen(0, 3) == 2.5
    assert visible.time_seen(0, 4) == 2.5
    assert visible.time_seen(0, 5) is None  # one client's last board was 4
    assert visible.time_seen(1, 2) == 9.0  # quizzes do not mix


def test_a_late_joiner_does_not_hold_back_earlier_answers() -> None:
    # client 1 saw 2 → 6 → 10; client 2 joined at seq 7 (welcome) and saw 7 → 10
    visible = VisibleToAll({(0, 2, 6): 1.0, (0, 6, 10): 2.0, (0, 7, 10): 2.2}, {0: 10})
    assert visible.time_seen(0, 5) == 1.0
    assert visible.time_seen(0, 8) == 2.2


# ---------------------------------------------------------------------- statistics


def test_summaries_use_nearest_rank_over_every_value() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile([], 50) is None
    assert summary(reversed(values)) == {
        "count": 100,
        "p50": 50.0,
        "p95": 95.0,
        "p99": 99.0,
        "max": 100.0,
    }
    assert summary([])["max"] is None


def test_subsamples_are_bounded_seeded_and_in_time_order() -> None:
    pairs = [(i / 10, float(i)) for i in range(1000)]
    first = subsample(pairs, 100, seed=7)
    assert len(first) == 100
    assert first == sorted(first)
    assert first == subsample(pairs, 100, seed=7)
    assert subsample(pairs[:5], 100, seed=7) == [[t, v] for t, v in pairs[:5]]


def test_the_peak_rate_is_the_fullest_one_second_bucket() -> None:
    assert peak_per_second([0.1, 0.5, 0.9, 1.0, 1.5, 2.2]) == 3
    assert peak_per_second([]) == 0


def test_a_quantile_of_a_histogram_is_the_bound_of_the_bucket_it_falls_in() -> None:
    buckets = {"0.1": 90.0, "0.3": 99.0, "0.5": 100.0, "+Inf": 100.0}
    assert _bucket_quantile(buckets, 0.99) == 0.3
    assert _bucket_quantile(buckets, 0.995) == 0.5
    assert _bucket_quantile(buckets, 0.5) == 0.1
    assert _bucket_quantile({**buckets, "+Inf": 101.0}, 0.999) == float("inf")
    assert _bucket_quantile({"0.1": 0.0, "+Inf": 0.0}, 0.99) is None
    assert _bucket_quantile({}, 0.99) is None
