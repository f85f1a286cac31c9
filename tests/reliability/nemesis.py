"""The nemesis: kills the server at random moments while the workload plays, and restarts it.

Random moments include a server still starting up (killed before it is ready), one busy
committing a batch, and one idle between questions. Each kill is ``SIGKILL``: no shutdown code
runs, the kernel resets every connection, and whatever was not yet written to the journal is
gone — exactly the crash the durability promise is about.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.reliability.faults import ServerProcess


@dataclass
class Kills:
    """What the nemesis did: kills, of which during start-up, and restart times."""

    kills: int = 0
    during_startup: int = 0
    #: seconds from each restart to ``/readyz`` 200
    restarts_s: list[float] = field(default_factory=list)


async def kill_repeatedly(
    server: ServerProcess,
    kills: int,
    rng: random.Random,
    *,
    between_s: tuple[float, float] = (0.3, 1.5),
    during_startup: float = 0.15,
    progress: Callable[[int], None] | None = None,
) -> Kills:
    """``kills`` SIGKILLs, ``between_s`` apart (uniform), restarting after each; a share
    ``during_startup`` of them hits a server that is still starting."""
    done = Kills()
    while done.kills < kills:
        await asyncio.sleep(rng.uniform(*between_s))
        await server.kill()
        done.kills += 1
        if progress is not None:
            progress(done.kills)
        await server.spawn()
        if done.kills < kills and rng.random() < during_startup:
            await asyncio.sleep(rng.uniform(0.0, 0.4))
            if server.alive:
                await server.kill()
                done.kills += 1
                done.during_startup += 1
                if progress is not None:
                    progress(done.kills)
                await server.spawn()
        started = time.monotonic()
        await server.wait_ready()
        done.restarts_s.append(time.monotonic() - started)
    return done
