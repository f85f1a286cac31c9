"""Load generator for livequiz: ``livequiz bench --help`` (or ``python -m livequiz.bench``).

The parent process (:mod:`livequiz.bench.runner`) creates the quizzes over HTTP, drives every
quiz as its host over one WebSocket each, and reads the server's metrics, CPU and memory; worker
processes (:mod:`livequiz.bench.worker`) hold the players' WebSockets, join and play; the report
merges what they measured (:mod:`livequiz.bench.board_all` for "seen on every board").

``BenchConfig`` and ``run_bench`` are imported lazily: a spawned worker imports this package
first, and should not pay for httpx, psutil and websockets, which only the runner uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from livequiz.bench.runner import BenchConfig, run_bench

__all__ = ["BenchConfig", "run_bench"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from livequiz.bench import runner

        return getattr(runner, name)
    raise AttributeError(f"module 'livequiz.bench' has no attribute {name!r}")
