"""``livequiz bench`` / ``python -m livequiz.bench``: argument parsing, the table, the JSON."""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from livequiz.bench.runner import BenchConfig, run_bench
from livequiz.bench.storm import StormConfig, format_storm, run_storm

__all__ = ["build_parser", "config_from_args", "format_table", "main", "storm_config_from_args"]

_FORMAT = argparse.ArgumentDefaultsHelpFormatter
DEFAULT_SERVER = "http://127.0.0.1:8000"
_PLOTS_HINT = "plots need matplotlib: pip install 'livequiz[bench]'"


def _addresses(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


#: Latency series a target may be set for (the result's ``<series>_ms`` figures).
TARGET_SERIES = ("ack", "board_own", "board_all")


def _target(text: str) -> tuple[str, float]:
    series, _, ms = text.partition("=")
    if series not in TARGET_SERIES:
        raise argparse.ArgumentTypeError(f"the series is one of {', '.join(TARGET_SERIES)}")
    try:
        value = float(ms)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not milliseconds: {ms!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("a target is a positive number of milliseconds")
    return series, value


def _play_options(parser: argparse.ArgumentParser, *, window_s: float) -> None:
    parser.add_argument("--questions", type=int, default=3)
    parser.add_argument(
        "--window-s", type=float, default=window_s, help="think times spread over this"
    )
    parser.add_argument(
        "--margin-s",
        type=float,
        default=2.0,
        help="the question's time limit is the window plus this",
    )
    parser.add_argument("--wrong-rate", type=float, default=0.3, help="answers wrong on purpose")
    parser.add_argument(
        "--duplicate-rate",
        type=float,
        default=0.05,
        help="answers sent again after their ack (must come back 'duplicate')",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="livequiz bench",
        description="Load generator: creates quizzes over HTTP, joins and plays the players over "
        "WebSockets from worker processes (picows, callbacks, no task per socket), and reports "
        "join rate, ack and board latencies, frame rates, the server's metrics, CPU and memory, "
        "errors and a recount of every score. Exit status 1 on any error, recount mismatch or "
        "missing final.",
        formatter_class=_FORMAT,
    )
    parser.add_argument(
        "--server",
        action="append",
        metavar="URL",
        help="server base URL (default http://127.0.0.1:8000); repeat for the processes of one "
        "deployment (PostgreSQL + NATS): players go round-robin over them, quiz i is created "
        "on server i mod N",
    )
    parser.add_argument(
        "--workers", "-W", type=int, help="worker processes; None: max(2, players / 15,000)"
    )
    parser.add_argument(
        "--server-pid",
        type=int,
        action="append",
        metavar="PID",
        help="measure this process's CPU and RSS (repeatable: reported per process and summed)",
    )
    parser.add_argument(
        "--connect-concurrency", type=int, default=256, help="connects + joins in flight per worker"
    )
    parser.add_argument(
        "--source-addresses",
        type=_addresses,
        metavar="ADDR,ADDR,...",
        help="local addresses to connect from, e.g. 127.0.0.1,127.0.0.2 (Linux routes 127/8 to "
        "loopback; each gives ~28,000 ports). None: the kernel's choice, or 127.0.0.1, "
        "127.0.0.2 … past 25,000 players on a loopback server",
    )
    parser.add_argument("--json-out", type=Path, help="write the full result as JSON here")
    parser.add_argument(
        "--plots-dir", type=Path, help="draw latency plots (PNG) here (needs matplotlib)"
    )
    parser.add_argument(
        "--target",
        type=_target,
        action="append",
        metavar="SERIES=MS",
        help="a p99 target to check and draw, e.g. ack=50 or board_all=300 (repeatable)",
    )
    parser.add_argument("--deadline-s", type=float, help="give up on a play after this long")
    parser.add_argument("--seed", type=int, default=1)
    sub = parser.add_subparsers(dest="scenario", required=True, metavar="SCENARIO")

    big = sub.add_parser(
        "one-big-quiz",
        help="one quiz, many players, answers over a window",
        formatter_class=_FORMAT,
    )
    big.add_argument("--players", type=int, default=1000)
    _play_options(big, window_s=5.0)

    small = sub.add_parser(
        "many-small-quizzes",
        help="many quizzes at once; a question closes when all have answered",
        formatter_class=_FORMAT,
    )
    small.add_argument("--quizzes", type=int, default=200)
    small.add_argument("--players-per-quiz", type=int, default=50)
    _play_options(small, window_s=1.0)

    storm = sub.add_parser(
        "join-storm",
        help="players join one quiz over the WebSocket as fast as they can, then leave",
        formatter_class=_FORMAT,
    )
    storm.add_argument("--players", type=int, default=1000)

    idle = sub.add_parser(
        "idle",
        help="players join and stay connected doing nothing: memory per connection",
        formatter_class=_FORMAT,
    )
    idle.add_argument("--players", type=int, default=1000)
    idle.add_argument("--hold-s", type=float, default=10.0, help="how long they stay")

    storm = sub.add_parser(
        "reconnect-storm",
        help="starts its own server, plays a question, kill -9s and restarts it: every client "
        "reconnects at once (backoff, jitter); time until they are back, stale views",
        description="Starts 'livequiz serve' itself (embedded default, a data directory, "
        "per-address limits raised) on --port, joins the players to one quiz, plays question 0, "
        "kill -9s the server and starts it again over the same data directory on the same port. "
        "Every client reconnects with exponential backoff (full jitter unless --no-jitter) and "
        "says hello with its token; reported: time from the restart until 50/99/100 %% have "
        "their welcome, stale views (must be 0), refused or failed tries, the server's CPU and "
        "peak RSS during the storm. Then question 1 is played and every score recounted. "
        "--server and --server-pid do not apply (the server is this run's own).",
        formatter_class=_FORMAT,
    )
    storm.add_argument("--players", type=int, default=1000)
    storm.add_argument("--port", type=int, default=8767, help="the server's port (both runs)")
    storm.add_argument(
        "--data-dir", type=Path, help="the server's data directory (default: a fresh temporary one)"
    )
    storm.add_argument("--backoff-base-s", type=float, default=0.5, help="backoff base")
    storm.add_argument("--backoff-cap-s", type=float, default=15.0, help="backoff cap")
    storm.add_argument(
        "--no-jitter",
        action="store_true",
        help="wait min(cap, base × 2^attempt) exactly instead of a random share of it",
    )
    storm.add_argument(
        "--window-s", type=float, default=3.0, help="think times of a question spread over this"
    )
    storm.add_argument(
        "--settle-s", type=float, default=1.0, help="wait after question 0 closed, then kill"
    )
    storm.add_argument(
        "--storm-timeout-s",
        type=float,
        default=180.0,
        help="stop waiting for clients to come back this long after the restart",
    )
    storm.add_argument(
        "--serve-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="one more 'livequiz serve' argument (repeatable: --serve-arg=--sync --serve-arg=full)",
    )
    return parser


def config_from_args(args: argparse.Namespace) -> BenchConfig:
    """The :class:`BenchConfig` of parsed arguments (scenario-specific ones where they exist)."""
    many = args.scenario == "many-small-quizzes"
    plays = args.scenario in ("one-big-quiz", "many-small-quizzes")
    extra: dict[str, Any] = {}
    if plays:
        extra = {
            "questions": args.questions,
            "window_s": args.window_s,
            "margin_s": args.margin_s,
            "wrong_rate": args.wrong_rate,
            "duplicate_rate": args.duplicate_rate,
        }
    if args.scenario == "idle":
        extra["hold_s"] = args.hold_s
    servers = tuple(args.server or [DEFAULT_SERVER])
    pids = tuple(args.server_pid or ())
    return BenchConfig(
        server=servers[0] if len(servers) == 1 else servers,
        scenario=args.scenario,
        quizzes=args.quizzes if many else 1,
        players_per_quiz=args.players_per_quiz if many else args.players,
        workers=args.workers,
        connect_concurrency=args.connect_concurrency,
        source_addresses=args.source_addresses,
        server_pid=(pids[0] if len(pids) == 1 else pids) or None,
        deadline_s=args.deadline_s,
        seed=args.seed,
        **extra,
    )


def _f(value: Any, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _ms(figures: dict[str, Any], keys: tuple[str, ...] = ("p50", "p95", "p99", "max")) -> str:
    return "/".join(_f(figures[k]) for k in keys) + f"  (n={figures['count']})"


def _bucket_quantile(buckets: dict[str, float], q: float) -> float | None:
    """The upper bound of the bucket a quantile falls in, from a histogram's bucket counts by
    ``le`` (cumulative, as Prometheus exports them); ``None`` if nothing was observed. The
    bound, not an interpolation: a figure the server's own histogram can vouch for."""
    bounds = sorted((float(le), count) for le, count in buckets.items())
    if not bounds or bounds[-1][1] <= 0:
        return None
    total = bounds[-1][1]
    return next(le for le, count in bounds if count >= q * total)


def _play_rows(result: dict[str, Any]) -> list[tuple[str, str]]:
    recount = result["recount"]
    late = result.get("late_duplicates") or {}
    late_text = (
        f"; repeats after the quiz finished: {late['refused']} refused, "
        f"{late['unanswered']} unanswered (not errors)"
        if late.get("refused") or late.get("unanswered")
        else ""
    )
    return [
        (
            "answers",
            f"{result['answers_sent']} sent (duplicates {result['duplicates_sent']}), "
            f"{result['accepted']} accepted, refused {result['refused'] or 'none'}, "
            f"correct {_f((result['correct_rate'] or 0) * 100, 0)} %" + late_text,
        ),
        (
            "answers/s",
            f"{_f(result['answers_per_s'])} over the play, peak {result['answers_peak_per_s']} "
            "in one second",
        ),
        ("ack ms p50/p95/p99/max", _ms(result["ack_ms"])),
        ("", "(the ack carries the player's new score and rank: answer → own score = ack)"),
        (
            "board own ms p50/p95/p99/max",
            _ms(result["board_own_ms"]) + f", not seen {result['board_own_unseen']}",
        ),
        (
            "board all ms p50/p95/p99/max",
            _ms(result["board_all_ms"]) + f", not seen by all {result['board_all_unseen']}",
        ),
        ("", "(answer sent → this player's / every client's board shows it)"),
        (
            "finals / recount",
            f"{result['finals']} finals, {result['missing_finals']} missing; own "
            f"{recount['own_checked']} checked, {recount['own_mismatches']} mismatches; host "
            f"{recount['host_checked']} checked, {recount['host_mismatches']} mismatches, "
            f"{recount['missing_host_finals']} host finals missing",
        ),
    ]


def _frame_row(figures: dict[str, Any]) -> str:
    kinds = ", ".join(
        f"{kind} {_f(v['frames_per_s'], 0)}" for kind, v in figures["by_type"].items()
    )
    return (
        f"{_f(figures['frames_per_s'], 0)}/s, {_f((figures['bytes_per_s'] or 0) / 2**20, 2)} "
        f"MiB/s ({kinds})"
    )


def format_table(result: dict[str, Any]) -> str:
    """The human-readable summary of one run."""
    cfg, joins, gen = result["config"], result["joins"], result["generator"]
    shape = f"{cfg['quizzes']} quiz(zes), {cfg['players']} players"
    if cfg["questions"] is not None:
        shape += (
            f", {cfg['questions']} questions, window {cfg['window_s']} s, time limit "
            f"{cfg['time_limit_ms']} ms"
            + (", closes when all answered" if cfg["close_when_all_answered"] else "")
        )
    servers = cfg.get("servers") or [cfg["server"]]
    spread = f"; {len(servers)} servers" if len(servers) > 1 else ""
    rows: list[tuple[str, str]] = [
        ("scenario", f"{cfg['scenario']}: {shape}; {cfg['workers']} workers{spread}"),
        (
            "joins (WebSocket)",
            f"{joins['joined']}/{joins['players']} in {joins['seconds']:.2f} s = "
            f"{_f(joins['rate'], 0)}/s; latency ms p50/p99 {_f(joins['latency_ms']['p50'])}/"
            f"{_f(joins['latency_ms']['p99'])}, retries {joins['retries']}"
            + (
                f"; by server {'/'.join(str(n) for n in joins['by_server'])}"
                if len(joins.get("by_server") or ()) > 1
                else ""
            ),
        ),
    ]
    phase = result["phase"]
    if phase == "play":
        rows += _play_rows(result)
        rows.append(("play", f"{result['play_s']:.1f} s"))
    elif phase == "hold":
        rows.append(("held", f"{result['hold_s']:.1f} s"))
    else:
        rows.append(("left", f"all sockets closed in {_f(result['leave_s'], 2)} s"))
    rows.append(("frames in, joining", _frame_row(result["frames"]["connect"])))
    if phase != "leave":
        rows.append((f"frames in, {phase}", _frame_row(result["frames"][phase])))
    metrics = result["server_metrics"]
    for name in ("connect", phase):
        deltas = metrics[name]
        if deltas is not None:
            sent = deltas.get("frames_sent", {})
            dropped = deltas.get("frames_dropped", {})
            rows.append(
                (
                    f"server frames, {name}",
                    f"sent {_counts(sent)}; dropped {_counts(dropped) if dropped else 'none'}",
                )
            )
            paused, pauses = (
                deltas.get("gc_pause_seconds_sum", {}),
                deltas.get("gc_pause_seconds_count", {}),
            )
            if pauses:
                rows.append(
                    (
                        f"server collections, {name}",
                        ", ".join(
                            f"generation {gen}: {pauses[gen]:.0f} taking "
                            f"{paused.get(gen, 0.0) * 1000:.0f} ms"
                            for gen in sorted(pauses)
                        ),
                    )
                )
            boards = _bucket_quantile(deltas.get("board_delay_seconds_bucket", {}), 0.99)
            if boards is not None:
                rows.append(
                    (
                        f"server board delay, {name}",
                        f"p99 <= {boards * 1000:.0f} ms (a bucket's bound) over "
                        f"{deltas['board_delay_seconds_count']['all']:.0f} boards "
                        "(each board's slowest new answer, stored → last connection written)",
                    )
                )
            moved = {
                kind: deltas[kind]
                for kind in ("routed_batches", "quiz_takeovers", "log_catch_ups")
                if kind in deltas
            }
            if moved:  # only with several processes
                rows.append(
                    (
                        f"between processes, {name}",
                        "; ".join(f"{kind} {_counts(series)}" for kind, series in moved.items()),
                    )
                )
    lag = gen["loop_lag_connect_ms"]
    rows.append(
        (
            "generator, joining",
            f"{_f(gen['cpu_connect_cores'], 2)} cores ({gen['cpu_connect_s']:.1f} s CPU), "
            f"loop lag ms p99/max {_f(lag['p99'])}/{_f(lag['max'])}",
        )
    )
    if phase != "leave":
        lag = gen["loop_lag_ms"]
        rows.append(
            (
                f"generator, {phase}",
                f"{_f(gen['cpu_cores'], 2)} cores ({gen['cpu_play_s']:.1f} s CPU, "
                f"{gen['cpu_play_kernel_s']:.1f} s in the kernel), loop lag ms p99/max "
                f"{_f(lag['p99'])}/{_f(lag['max'])}; per worker "
                + ", ".join(
                    f"#{w['index']} {_f(w['cpu_cores'], 2)} cores "
                    f"{_f(w['loop_lag_ms']['p99'])}/{_f(w['loop_lag_ms']['max'])}"
                    for w in gen["workers"]
                ),
            )
        )
    machine = result.get("machine", {}).get(phase)
    if machine is not None:
        rows.append(
            (
                f"machine, {phase}",
                f"{machine['cores']} cores: user {_f(machine['user_cores'], 2)}, system "
                f"{_f(machine['system_cores'], 2)}, interrupts {_f(machine['interrupts_cores'], 2)}"
                f", steal {_f(machine['steal_cores'], 2)}, idle {_f(machine['idle_cores'], 2)}",
            )
        )
    server = result["server_process"]
    if server is not None:
        each = server.get("processes") or []
        per_answer = server.get("cpu_ms_per_answer")
        rows.append(
            (
                "server process" if len(each) <= 1 else f"server processes ({len(each)}, summed)",
                _process_row(server, phase)
                + ("" if per_answer is None else f"; {per_answer:.3f} ms CPU per answer"),
            )
        )
        if len(each) > 1:
            rows += [
                (
                    f"  pid {one['pid']}",
                    (f"{one['server']}: " if one.get("server") else "") + _process_row(one, phase),
                )
                for one in each
            ]
    for series, target in (result.get("targets") or {}).items():
        p99 = (result.get(f"{series}_ms") or {}).get("p99")
        verdict = "no figure" if p99 is None else ("met" if p99 <= target else "MISSED")
        shown = "-" if p99 is None else f"{p99:.1f}"
        rows.append((f"target {series} p99", f"{shown} ms against {target:g} ms: {verdict}"))
    rows.append(("errors", str(result["errors"] or "none")))
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def _process_row(figures: dict[str, Any], phase: str) -> str:
    return (
        f"CPU {_f(figures['cpu_connect_cores'], 2)} cores joining, "
        f"{_f(figures['cpu_cores'], 2)} cores {phase}; RSS "
        f"{figures['rss_before_mib']:.0f} → {figures['rss_connected_mib']:.0f} MiB "
        f"connected (peak {figures['peak_rss_mib']:.0f}) = "
        f"{_f(figures['kib_per_player'])} KiB per player"
    )


def _counts(series: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.0f}" for k, v in series.items()) or "none"


def main(argv: list[str] | None = None) -> int:
    """Run one benchmark; exit status 1 if anything failed (errors, recount, missing finals)."""
    args = build_parser().parse_args(argv)
    if args.scenario == "reconnect-storm":
        return _storm_main(args)
    config = config_from_args(args)
    draw: Callable[[dict[str, Any], Path, str], list[Path]] | None = None
    if args.plots_dir is not None:
        # checked before the run, not after it: a long run should not end in a missing module
        try:
            from livequiz.bench.plots import draw_plots

            if importlib.util.find_spec("matplotlib") is None:
                raise ModuleNotFoundError("No module named 'matplotlib'", name="matplotlib")
        except ImportError as exc:
            print(f"--plots-dir: {exc}; {_PLOTS_HINT}", file=sys.stderr)
            return 2
        draw = draw_plots
    result = asyncio.run(run_bench(config))
    result["targets"] = dict(args.target or ())
    print(format_table(result))
    if args.json_out is not None:
        args.json_out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    if draw is not None:
        try:
            paths = draw(result, args.plots_dir, f"{config.scenario}-{config.players}")
        except ModuleNotFoundError as exc:
            print(f"--plots-dir: {exc}; {_PLOTS_HINT}", file=sys.stderr)
            return 2
        for path in paths:
            print(f"plot: {path}")
        if not paths:
            print("plots: no latency samples in this scenario, nothing drawn")
    return 0 if result["ok"] else 1


def storm_config_from_args(args: argparse.Namespace) -> StormConfig:
    """The :class:`StormConfig` of parsed ``reconnect-storm`` arguments."""
    return StormConfig(
        players=args.players,
        port=args.port,
        data_dir=args.data_dir,
        backoff_base_s=args.backoff_base_s,
        backoff_cap_s=args.backoff_cap_s,
        jitter=not args.no_jitter,
        window_s=args.window_s,
        settle_s=args.settle_s,
        storm_timeout_s=args.storm_timeout_s,
        workers=args.workers,
        connect_concurrency=args.connect_concurrency,
        serve_args=tuple(args.serve_arg),
        seed=args.seed,
    )


def _storm_main(args: argparse.Namespace) -> int:
    """``reconnect-storm``: its own server, so the options naming another one are refused
    rather than silently ignored."""
    given = [
        name
        for name, value in (
            ("--server", args.server),
            ("--server-pid", args.server_pid),
            ("--target", args.target),
            ("--plots-dir", args.plots_dir),
            ("--source-addresses", args.source_addresses),
            ("--deadline-s", args.deadline_s),
        )
        if value
    ]
    if given:
        print(f"reconnect-storm starts its own server: {', '.join(given)} do not apply",
              file=sys.stderr)  # fmt: skip
        return 2
    result = asyncio.run(run_storm(storm_config_from_args(args)))
    print(format_storm(result))
    if args.json_out is not None:
        args.json_out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    return 0 if result["ok"] else 1
