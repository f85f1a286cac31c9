"""``kill -9`` at random moments, many times, while quizzes are played: the checker finds
nothing lost, nothing doubled, every score equal to its recount, no sequence number going back,
and every client back with a correct snapshot.

``LIVEQUIZ_RELIABILITY_KILLS`` sets the number of kills (10 in the test command; ``make
reliability`` runs 100 and more, and writes the figures into docs/reliability.md by hand).
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import sys
from pathlib import Path

from tests.reliability.faults import server_process, tracebacks
from tests.reliability.nemesis import kill_repeatedly
from tests.reliability.report import record
from tests.reliability.workload import Played, play_quiz

KILLS = int(os.environ.get("LIVEQUIZ_RELIABILITY_KILLS", "10"))
#: Quizzes alternate between the two reveal modes (docs/protocol.md).
REVEALS = ("immediate", "at_close")
SEED = int(os.environ.get("LIVEQUIZ_RELIABILITY_SEED", "16"))


def progress(kills: int) -> None:
    """A progress bar on stderr (shown with ``-s``, as ``make reliability`` runs it)."""
    done = 40 * kills // KILLS
    end = "\n" if kills >= KILLS else ""
    print(
        f"\rkill -9 {kills:>4}/{KILLS} [{'#' * done}{'.' * (40 - done)}]", end=end, file=sys.stderr
    )


async def test_kill_9_at_random_moments_loses_and_doubles_nothing(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    async with server_process(tmp_path) as server:
        played = Played()
        nemesis = asyncio.create_task(kill_repeatedly(server, KILLS, rng, progress=progress))
        # quizzes back to back until the nemesis is done, then one more in quiet
        while not nemesis.done():
            reveal = REVEALS[played.quizzes % 2]
            played.add(
                await play_quiz(lambda: server.url, lambda: server.ws_url, rng, reveal=reveal)
            )
        kills = await nemesis
        played.add(await play_quiz(lambda: server.url, lambda: server.ws_url, rng))
        log = server.output()

    verdict = played.verdict
    figures = {
        "kills": kills.kills,
        "kills_during_startup": kills.during_startup,
        "restart_to_ready_p50_s": round(statistics.median(kills.restarts_s), 3),
        "restart_to_ready_max_s": round(max(kills.restarts_s), 3),
        "slowest_death_s": round(server.slowest_death_s, 3),
        "quizzes": played.quizzes,
        "questions": played.questions,
        "answers_refused_for_good": played.refused,
        "reconnects": played.reconnects,
        **verdict.counts(),
    }
    record("kill9_embedded", figures)
    print(figures)
    assert kills.kills >= KILLS
    assert verdict.acknowledged > 0
    assert verdict.ok, str(verdict)
    assert tracebacks(log) == [], log[-3000:]
