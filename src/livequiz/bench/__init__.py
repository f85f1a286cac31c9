"""Load generator for livequiz: ``python -m livequiz.bench --help``.

The parent process creates the quizzes and joins the players over HTTP, drives every quiz as its
host over one WebSocket each, and spreads the players' WebSockets over worker processes
(:mod:`livequiz.bench.worker`); :mod:`livequiz.bench.runner` gathers what they measured.
"""

from livequiz.bench.runner import BenchConfig, run_bench

__all__ = ["BenchConfig", "run_bench"]
