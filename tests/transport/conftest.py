"""Run every async transport test on both event loops.

Why: production runs on uvloop, whose transports differ from asyncio's in the details this
package relies on (``set_protocol`` during an upgrade, ``get_write_buffer_size``, when
``pause_writing`` fires); the standard loop is the fallback where uvloop is unavailable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

import pytest


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    factories: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
        "asyncio": asyncio.new_event_loop
    }
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a declared dependency off Windows
        return factories
    factories["uvloop"] = uvloop.new_event_loop
    return factories
