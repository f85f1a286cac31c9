"""A real livequiz server in a process of its own, for tests that kill it.

``python runner.py <data_dir> [<reconnect grace seconds>]`` starts
:class:`~livequiz.app.LiveQuizServer` on a free port (on uvloop where installed, as in
production) over ``data_dir``, recovers what the journal
holds, and prints ``port <n>`` once it accepts connections. It then serves until killed.
Self-contained (imports only livequiz), so it runs as a plain script.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from livequiz.app import LiveQuizServer, ServerConfig
from livequiz.service import ServiceLimits


async def serve(data_dir: Path, grace_s: float) -> None:
    limits = ServiceLimits(reconnect_grace_s=grace_s)
    config = ServerConfig(host="127.0.0.1", port=0, data_dir=data_dir, service=limits)
    server = LiveQuizServer(config)
    ready = asyncio.Event()
    serving = asyncio.create_task(server.serve(ready))
    started = asyncio.create_task(ready.wait())
    await asyncio.wait({serving, started}, return_when=asyncio.FIRST_COMPLETED)
    if serving.done():
        await serving  # it failed to start: let the error out
        raise SystemExit("the server stopped before it was ready")
    print(f"port {server.port}", flush=True)
    await serving


def main() -> None:
    data_dir = Path(sys.argv[1])
    grace_s = float(sys.argv[2]) if len(sys.argv) > 2 else ServiceLimits().reconnect_grace_s
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency off Windows
        asyncio.run(serve(data_dir, grace_s))
        return
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(serve(data_dir, grace_s))


if __name__ == "__main__":
    main()
