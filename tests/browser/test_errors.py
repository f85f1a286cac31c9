"""What a player reads in ``#message`` (role=alert) when joining fails or the network goes."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from tests.browser.harness import (
    NETWORK_ERRORS,
    Harness,
    cut_connection,
    host_socket,
    join_in_ui,
    restore_connection,
)
from tests.server import RunningServer

pytestmark = pytest.mark.asyncio(loop_scope="module")

#: Refused joins over HTTP make the browser log "Failed to load resource: … 404/409".
REFUSED_REQUEST = r"Failed to load resource: the server responded with a status of 4\d\d"


async def _refused(player: Page, text: re.Pattern[str]) -> None:
    """The join was refused with ``text`` in the alert, and the player can try again."""
    message = player.locator("#message")
    await expect(message).to_be_visible()
    await expect(message).to_have_attribute("role", "alert")
    await expect(message).to_contain_text(text)
    await expect(player.locator("#join-form")).to_be_visible()
    await expect(player.locator("#lobby")).to_be_hidden()


async def test_an_unknown_quiz_id(harness: Harness, srv: RunningServer) -> None:
    harness.console.allow(REFUSED_REQUEST)
    taken = {srv.server.store.definition(quiz_id).pin for quiz_id in srv.server.store.quiz_ids()}
    unused = next(pin for pin in ("000000", "999999", "123456") if pin not in taken)
    player = await harness.open("/play", "phone")
    await join_in_ui(player, "Anna", pin=unused)
    await _refused(player, re.compile(r"quiz|PIN", re.IGNORECASE))


async def test_a_taken_nickname_then_another_one(harness: Harness, srv: RunningServer) -> None:
    harness.console.allow(REFUSED_REQUEST)
    quiz = await srv.create_quiz(count=1, seed=21)
    await srv.join(quiz["pin"], "Anna")
    player = await harness.open(f"/play?pin={quiz['pin']}", "phone")
    await join_in_ui(player, "anna")
    await _refused(player, re.compile(r"taken|in use|already", re.IGNORECASE))
    await join_in_ui(player, "Anna B")
    await expect(player.locator("#lobby")).to_be_visible()
    await expect(player.locator("#message")).to_be_hidden()


async def test_a_full_quiz(harness: Harness, srv: RunningServer) -> None:
    harness.console.allow(REFUSED_REQUEST)
    quiz = await srv.create_quiz(count=1, seed=22, settings={"max_players": 1})
    await srv.join(quiz["pin"], "Anna")
    player = await harness.open(f"/play?pin={quiz['pin']}", "desktop")
    await join_in_ui(player, "Ben")
    await _refused(player, re.compile(r"full", re.IGNORECASE))


async def test_a_finished_quiz(harness: Harness, srv: RunningServer) -> None:
    harness.console.allow(REFUSED_REQUEST)
    quiz = await srv.create_quiz(count=1, seed=23)
    async with host_socket(srv, quiz["host_token"]) as host:
        await host.act("end")
    player = await harness.open(f"/play?pin={quiz['pin']}", "phone")
    await join_in_ui(player, "Ben")
    await _refused(player, re.compile(r"already finished", re.IGNORECASE))


async def test_a_lost_connection(harness: Harness, srv: RunningServer) -> None:
    harness.console.allow(NETWORK_ERRORS)
    quiz = await srv.create_quiz(count=1, seed=24)
    context = await harness.context("phone")
    player = await harness.open(f"/play?pin={quiz['pin']}", context=context)
    await join_in_ui(player, "Anna")
    await expect(player.locator("#lobby")).to_be_visible()
    await cut_connection(context, player)
    await expect(player.locator("#connection")).to_contain_text("Reconnecting")
    message = player.locator("#message")
    await expect(message).to_contain_text(re.compile(r"connection|offline", re.IGNORECASE))
    await expect(message).to_have_attribute("role", "alert")
    await restore_connection(context, player)
    await expect(player.locator("#connection")).to_be_hidden(timeout=15_000)
    await expect(player.locator("#lobby")).to_be_visible()
