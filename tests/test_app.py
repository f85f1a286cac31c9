"""``livequiz.app``: the interpreter settings of a server process (``tune_runtime``)."""

from __future__ import annotations

import gc
import json
import resource
import shutil
import subprocess
import sys
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest

from livequiz import moderation
from livequiz.app import (
    GC_THRESHOLDS,
    GIL_SWITCH_INTERVAL_S,
    RESERVED_DESCRIPTORS,
    _freeze_after_full_collection,
    freeze_start_up,
    tune_runtime,
)
from livequiz.vocabulary.deck import Deck
from tests.server import running_server


@pytest.fixture
def restored_runtime() -> Iterator[None]:
    """tune_runtime changes the whole process: put it back for the other tests."""
    interval = sys.getswitchinterval()
    thresholds = gc.get_threshold()
    yield
    gc.set_threshold(*thresholds)
    while _freeze_after_full_collection in gc.callbacks:
        gc.callbacks.remove(_freeze_after_full_collection)
    gc.unfreeze()
    sys.setswitchinterval(interval)


@pytest.mark.usefixtures("restored_runtime")
def test_full_collections_freeze_their_survivors_and_leave_young_garbage_collectable() -> None:
    tune_runtime()
    tune_runtime()  # idempotent: one callback, not two
    assert gc.callbacks.count(_freeze_after_full_collection) == 1
    assert sys.getswitchinterval() == pytest.approx(GIL_SWITCH_INTERVAL_S)
    assert gc.get_threshold() == GC_THRESHOLDS
    frozen = gc.get_freeze_count()
    assert frozen > 0  # everything alive at start-up is out of the collector's way

    survivors = [[n] for n in range(1000)]  # long-lived state (lists are tracked)
    gc.collect()  # a full collection: its survivors are frozen too
    assert gc.get_freeze_count() >= frozen + len(survivors)

    class Node:
        def __init__(self) -> None:
            self.other: Node | None = None

    a, b = Node(), Node()
    a.other, b.other = b, a  # a cycle created after the freeze is still collected
    del a, b
    assert gc.collect(0) + gc.collect() >= 2
    assert len(survivors) == 1000


@pytest.mark.usefixtures("restored_runtime")
def test_what_start_up_built_after_the_first_freeze_is_frozen_before_clients_come() -> None:
    tune_runtime()
    # built after tune_runtime's freeze, as a server's deck is
    data = resources.files("livequiz.vocabulary").joinpath("data", "vocabulary.jsonl")
    deck = Deck.from_jsonl("\n".join(data.read_text(encoding="utf-8").splitlines()[:100]))
    entry = next(iter(deck))

    def collectable(obj: object) -> bool:
        return any(obj is other for generation in range(3) for other in gc.get_objects(generation))

    assert collectable(entry)
    freeze_start_up()
    assert not collectable(entry)  # no later collection scans it
    assert next(iter(deck)) is entry


_GROW_IN_A_FRESH_PROCESS = """
import json, resource, sys, threading
from livequiz.app import grow_descriptor_table
from livequiz.transport import TransportLimits

def slots():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("FDSize:"))

soft = int(sys.argv[1])
if soft:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
threading.Thread(target=threading.Event().wait, daemon=True).start()  # a server has threads
before = slots()
asked = grow_descriptor_table(TransportLimits(max_connections=3000, max_http_connections=500))
print(json.dumps({"before": before, "asked": asked, "after": slots()}))
"""


def grow_in_a_fresh_process(soft_limit: int = 0) -> dict[str, int]:
    """A new process's table is small; what grow_descriptor_table makes of it there."""
    done = subprocess.run(
        [sys.executable, "-c", _GROW_IN_A_FRESH_PROCESS, str(soft_limit)],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, int] = json.loads(done.stdout)
    return result


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="Linux only")
def test_the_descriptor_table_is_grown_once_for_every_connection_the_caps_allow() -> None:
    """Each growth of the table in a threaded process waits for an RCU grace period (8–24 ms of
    the event loop, measured): a server grows it for its caps at the start instead."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    wanted = 3000 + 500 + RESERVED_DESCRIPTORS
    grown = grow_in_a_fresh_process()
    assert grown["before"] < wanted  # a fresh process starts small (64 or 256 slots)
    assert grown["asked"] == min(wanted, soft)
    assert grown["after"] >= min(wanted, soft)  # the kernel rounds up to a power of two
    # bounded by the soft limit on open files: a descriptor above it cannot exist anyway
    bounded = grow_in_a_fresh_process(soft_limit=2048)
    assert bounded["asked"] == 2048
    assert 2048 <= bounded["after"] < wanted


async def test_the_profanity_filter_is_built_before_the_first_join() -> None:
    """Building it takes ~35 ms of the event loop; at the first join it held every answer."""
    moderation._filter.cache_clear()
    async with running_server():
        assert moderation._filter.cache_info().currsize == 1  # nobody has joined yet


async def test_the_embedded_journal_exports_its_disk_space_and_memory_exports_none(
    tmp_path: Path,
) -> None:
    async with running_server(data_dir=tmp_path / "data") as srv:
        usage = shutil.disk_usage(tmp_path)
        assert await srv.metric("livequiz_data_dir_size_bytes") == usage.total
        free = await srv.metric("livequiz_data_dir_free_bytes")
        assert abs(free - usage.free) < 64 * 2**20  # other writers may come and go meanwhile
    # in memory (and on PostgreSQL) livequiz writes nothing of its own: no figure, not a 0
    async with running_server() as srv:
        text = (await srv.http.get("/metrics")).text
        assert "livequiz_data_dir_free_bytes" not in text
        assert "livequiz_data_dir_size_bytes" not in text
