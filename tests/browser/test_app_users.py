"""The learning app sends its signed-in users to the player page with its token in the address's
fragment (``/play?pin=…#app_token=…``): they join as themselves, on any device as the same
player, and the token leaves the address at once."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from playwright.async_api import expect

from livequiz.service import ServiceLimits
from tests.browser.conftest import TICK_MS
from tests.browser.harness import Harness
from tests.server import RunningServer, running_server
from tests.test_openapi import APP_AUTH, app_token

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def srv() -> AsyncIterator[RunningServer]:
    """This module's server checks the learning app's tokens."""
    async with running_server(service=ServiceLimits(tick_ms=TICK_MS), app_auth=APP_AUTH) as s:
        yield s


async def test_an_app_user_arrives_signed_in_on_two_devices_as_one_player(
    harness: Harness, srv: RunningServer
) -> None:
    quiz = await srv.create_quiz(count=2, settings={"identity": "app"})
    pin = quiz["pin"]
    phone = await harness.open(f"/play?pin={pin}#app_token={app_token('u-42', 'Anna Schmidt')}")
    await expect(phone.locator("#lobby-nickname")).to_have_text("Anna Schmidt")
    assert "app_token" not in phone.url  # the token left the address (and the history)
    tablet = await harness.open(f"/play?pin={pin}#app_token={app_token('u-42', 'Anna S.')}")
    await expect(tablet.locator("#lobby-nickname")).to_have_text("Anna Schmidt")
    session = srv.service.store.session(quiz["quiz_id"])
    assert [(p.user_id, p.nickname) for p in session.players.values()] == [("u-42", "Anna Schmidt")]

    # the two refusals below are 401 and 403 answers, which the browser logs as such
    harness.console.allow(r"status of 40[13] \((Unauthorized|Forbidden)\)")
    stale = app_token("u-7", "Ben", expires_in_s=-120)
    ben = await harness.open(f"/play?pin={pin}#app_token={stale}", name="stale")
    await expect(ben.locator("#message")).to_contain_text("Open the quiz from the app again")
    nickname = await harness.open(f"/play?pin={pin}", name="nickname")
    await nickname.locator("#nickname").fill("Cleo")
    await nickname.locator("#join-button").click()
    await expect(nickname.locator("#message")).to_contain_text("open it from the app")
    assert len(session.players) == 1
