"""``livequiz.app``: the interpreter settings of a server process (``tune_runtime``)."""

from __future__ import annotations

import gc
import shutil
import sys
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest

from livequiz import moderation
from livequiz.app import (
    GC_THRESHOLDS,
    GIL_SWITCH_INTERVAL_S,
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
