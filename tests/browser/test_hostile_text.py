"""Text a hostile pupil or a careless teacher types never runs as HTML on any page.

A nickname with markup is refused by the server (``<`` ``>`` ``=`` are not letters), and a
quiz title, which may hold any one line of text, is never made into markup on the player page or the
big screen (neither shows it today): no element is made from it and no handler runs.
"""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from tests.browser.harness import Harness, create_quiz_in_ui, join_in_ui

pytestmark = pytest.mark.asyncio(loop_scope="module")

#: Sets a flag if it ever runs; an ``img`` with ``src=x`` shows it was made into an element.
PAYLOAD = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'


async def assert_nothing_ran(page: Page) -> None:
    ran = await page.evaluate(
        "() => [window.__xss ?? null,"
        " document.querySelectorAll('img[src=\"x\"], script:not([src])').length]"
    )
    assert ran == [None, 0], ran


async def test_markup_in_a_nickname_or_a_title_never_runs(harness: Harness) -> None:
    host = await harness.open("/host", "desktop", name="host")
    pin = await create_quiz_in_ui(host, count=1)

    # The nickname is refused with its rule, over HTTP and on the player page.
    refused = await harness.srv.http.post(
        f"/api/quizzes/{pin}/players", json={"nickname": "<img src=x onerror=alert(1)>"}
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "nickname_invalid"
    harness.console.allow("status of 422")  # the refused join, as the browser logs it
    player = await harness.open(f"/play?pin={pin}", name="player")
    await join_in_ui(player, PAYLOAD[:20])
    await expect(player.locator("body")).to_contain_text("Nicknames need 2–20 letters")
    await assert_nothing_ran(player)
    await join_in_ui(player, "O'Brien")  # the one quote a nickname may hold
    await expect(host.locator("body")).to_contain_text("O'Brien")
    for page in (host, player):
        await assert_nothing_ran(page)

    # A title is any one line of text, markup included.
    created = await harness.srv.create_quiz(count=1, title=PAYLOAD[:80])
    screen = await harness.open(f"/screen#token={created['host_token']}", "desktop", name="screen")
    other = await harness.open(f"/play?pin={created['pin']}", name="player 2")
    await join_in_ui(other, "Bea")
    await expect(screen.locator("body")).to_contain_text(created["pin"])
    await expect(other.locator("#lobby")).to_contain_text("You're in, Bea!")
    for page in (screen, other):
        await assert_nothing_ran(page)
