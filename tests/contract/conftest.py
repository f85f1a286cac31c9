"""Fixtures: every contract test runs once per backend in :data:`~tests.contract.harness.ADAPTERS`.

``adapter`` gives every backend; ``durable`` only those that promise to survive a restart (so
durable-only tests are parametrized, never skipped for the memory backend). Each test's storage
is closed and removed afterwards (:meth:`~tests.contract.harness.Harness.close_all`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from livequiz.ports import Records
from tests.contract.harness import ADAPTERS, DURABLE_ADAPTERS, Adapter, Harness
from tests.contract.records_harness import BACKENDS, Storage


async def _harness(spec: Adapter, directory: Path) -> AsyncIterator[Harness]:
    harness = spec.factory(directory)
    assert harness.durable == spec.durable
    try:
        yield harness
    finally:
        await harness.close_all()


@pytest.fixture(params=list(ADAPTERS.values()), ids=list(ADAPTERS))
async def adapter(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Harness]:
    async for harness in _harness(request.param, tmp_path):
        yield harness


@pytest.fixture(params=list(DURABLE_ADAPTERS.values()), ids=list(DURABLE_ADAPTERS))
async def durable(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Harness]:
    async for harness in _harness(request.param, tmp_path):
        yield harness


@pytest.fixture(params=list(BACKENDS.values()), ids=list(BACKENDS))
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    """The records storage of each backend (``test_records``, ``test_flags``), closed after."""
    storage = Storage(request.param, tmp_path)
    try:
        yield storage
    finally:
        await storage.close()


@pytest.fixture
async def records(storage: Storage) -> Records:
    return await storage.open()
