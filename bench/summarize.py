"""Print the result files of bench/report.sh as the Markdown table rows of docs/benchmarks.md.

.venv/bin/python bench/summarize.py bench/results/*.json
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson


def _ms(figures: dict[str, Any] | None, key: str) -> str:
    value = (figures or {}).get(key)
    return "–" if value is None else f"{value:.0f}"


def row(path: Path) -> str:
    r = orjson.loads(path.read_bytes())
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
        f"{server.get('cpu_cores') or 0:.2f}",
        f"{gen.get('cpu_cores') or 0:.2f} (lag p99 {_ms(gen.get('loop_lag_ms'), 'p99')})",
        f"{server.get('rss_connected_mib') or 0:.0f} ({server.get('kib_per_player') or 0:.1f})",
        "clean" if r.get("ok") else "FAILED",
    ]
    return "| " + " | ".join(cells) + " |"


if __name__ == "__main__":
    print(
        "| run | scenario | quizzes×players | joins/s | answers/s avg / peak "
        "| ack ms p50 / p99 / max | own board ms p50 / p99 | every board ms p50 / p99 / max "
        "| server cores | generator cores (loop lag ms) | server MiB (KiB/player) "
        "| errors, recount |"
    )
    print("|" + " --- |" * 12)
    for name in sys.argv[1:]:
        print(row(Path(name)))
