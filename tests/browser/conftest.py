"""Fixtures of the browser tests: one chromium and one server per test module, in one loop.

Every test module here runs its tests in the module's event loop, where the browser and the
server live::

    pytestmark = pytest.mark.asyncio(loop_scope="module")

    async def test_something(harness: Harness) -> None:
        host = await harness.open("/host", "desktop")

Without ``/usr/bin/chromium`` the tests skip loudly (and with ``CI=true`` the suite's skip rule
in ``tests/conftest.py`` turns the skip into a failure). Each test gets a fresh
:class:`~tests.browser.harness.Harness`: its contexts are closed afterwards and the test fails
on any JavaScript error its pages logged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from playwright.async_api import Browser, async_playwright

from livequiz.service import ServiceLimits
from tests.browser.harness import Harness, chromium_missing, launch_chromium
from tests.server import RunningServer, running_server

#: Leaderboard frames every 50 ms: pages catch up fast, tests stay short.
TICK_MS = 50


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    missing = chromium_missing()
    if missing is not None:
        pytest.skip(missing)
    async with async_playwright() as playwright:
        launched = await launch_chromium(playwright)
        try:
            yield launched
        finally:
            await launched.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def srv() -> AsyncIterator[RunningServer]:
    async with running_server(service=ServiceLimits(tick_ms=TICK_MS)) as running:
        yield running


@pytest_asyncio.fixture(loop_scope="module")
async def harness(browser: Browser, srv: RunningServer) -> AsyncIterator[Harness]:
    pages = Harness(browser, srv)
    try:
        yield pages
    finally:
        await pages.close()
    pages.console.check()
