"""Print the result files of bench/report.sh (and bench/report-cluster.sh) as the Markdown tables
of docs/benchmarks.md.

.venv/bin/python bench/summarize.py bench/results/*.json

Results of ``livequiz bench`` make the first table (with several server processes, the server
cores, the server CPU per accepted answer and the memory are their sum); results of
``bench/failover.py`` the second.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson


def _ms(figures: dict[str, Any] | None, key: str) -> str:
    value = (figures or {}).get(key)
    return "–" if value is None else f"{value:.0f}"


def _per_answer(ms: float | None) -> str:
    return "" if not ms else f" ({ms:.2f} ms/answer)"


def row(path: Path, r: dict[str, Any] | None = None) -> str:
    r = r if r is not None else orjson.loads(path.read_bytes())
    cfg, server, gen = r["config"], r.get("server_process") or {}, r.get("generator") or {}
    ack, own, every = r.get("ack_ms"), r.get("board_own_ms"), r.get("board_all_ms")
    cells = [
        path.stem,
        cfg["scenario"],
        f"{cfg['quizzes']}×{cfg['players'] // max(1, cfg['quizzes'])}",
        f"{r['joins']['rate']:.0f}",
        f"{r.get('answers_per_s') or 0:.0f} / {r.get('answers_peak_per_s') or 0}",
        f"{_ms(ack, 'p50')} / {_ms(ack, 'p99')} / {_ms(ack, 'max')}",
        f"{_ms(own, 'p50')} / {_ms(own, 'p99')}",
        f"{_ms(every, 'p50')} / {_ms(every, 'p99')} / {_ms(every, 'max')}",
        f"{server.get('cpu_cores') or 0:.2f}" + _per_answer(server.get("cpu_ms_per_answer")),
        f"{gen.get('cpu_cores') or 0:.2f} (lag p99 {_ms(gen.get('loop_lag_ms'), 'p99')})",
        f"{server.get('rss_connected_mib') or 0:.0f} ({server.get('kib_per_player') or 0:.1f})",
        "clean" if r.get("ok") else "FAILED",
    ]
    return "| " + " | ".join(cells) + " |"


def failover_row(path: Path, r: dict[str, Any]) -> str:
    cfg, recount = r["config"], r["recount"]
    failover, seen = r["failover_ms"], r["owner_seen_ms"]
    cells = [
        path.stem,
        f"{cfg['processes']} (lease {cfg['lease_s']:g} s)",
        f"{r['kills_done']} of {cfg['kills']}, {r['failed_kills']} failed",
        f"{_ms(failover, 'p50')} / {_ms(failover, 'max')}",
        f"{_ms(seen, 'p50')} / {_ms(seen, 'max')}",
        f"{(r['restart_s'] or {}).get('p50') or 0:.1f}",
        f"{recount.get('answers_acked')} acked, {recount.get('mismatches')} mismatches",
    ]
    return "| " + " | ".join(cells) + " |"


if __name__ == "__main__":
    results = [(Path(name), orjson.loads(Path(name).read_bytes())) for name in sys.argv[1:]]
    benches = [(path, r) for path, r in results if "failover_ms" not in r]
    failovers = [(path, r) for path, r in results if "failover_ms" in r]
    if benches:
        print(
            "| run | scenario | quizzes×players | joins/s | answers/s avg / peak "
            "| ack ms p50 / p99 / max | own board ms p50 / p99 | every board ms p50 / p99 / max "
            "| server cores | generator cores (loop lag ms) | server MiB (KiB/player) "
            "| errors, recount |"
        )
        print("|" + " --- |" * 12)
        for path, r in benches:
            print(row(path, r))
    if failovers:
        if benches:
            print()
        print(
            "| run | processes | kills | kill -9 → first accepted answer ms p50 / max "
            "| kill -9 → new owner on /metrics ms p50 / max | restart → ready s p50 | recount |"
        )
        print("|" + " --- |" * 7)
        for path, r in failovers:
            print(failover_row(path, r))
