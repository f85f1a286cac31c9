"""Where the reliability runs put their figures: printed, and appended as one JSON line to
``$LIVEQUIZ_RELIABILITY_OUT`` when set (``make reliability`` sets it), from which the tables in
docs/reliability.md are written."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path
from typing import Any

import orjson


def record(test: str, figures: dict[str, Any]) -> None:
    out = os.environ.get("LIVEQUIZ_RELIABILITY_OUT")
    if not out:
        return
    line = {
        "test": test,
        "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        **figures,
    }
    with Path(out).open("ab") as results:
        results.write(orjson.dumps(line) + b"\n")
