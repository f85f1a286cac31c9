"""Screenshots of the web pages for the docs: plays a short quiz in chromium and saves PNGs.

    .venv/bin/python scripts/screenshots.py [outdir]      (default: docs/screenshots/)

Reuses the browser-test harness (``tests/browser/harness.py``): Debian's chromium, a server in
this process, a phone for the player and a desktop for the host and the big screen. Not run by
the tests, so a test run leaves the tree clean.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from playwright.async_api import Page, async_playwright, expect  # noqa: E402
from tests.browser.harness import (  # noqa: E402
    Harness,
    chromium_missing,
    correct_option,
    create_quiz_in_ui,
    join_in_ui,
    launch_chromium,
    session_for_pin,
    wrong_option,
)
from tests.server import running_server  # noqa: E402

from livequiz.service import ServiceLimits  # noqa: E402

DEFAULT_OUT = ROOT / "docs" / "screenshots"


async def _shot(page: Page, out: Path, name: str) -> Path:
    path = out / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    return path


async def play(out: Path) -> list[Path]:
    """One short quiz: a host, the big screen and three players; returns the files written."""
    shots: list[Path] = []
    async with (
        running_server(service=ServiceLimits(tick_ms=50)) as srv,
        async_playwright() as playwright,
    ):
        browser = await launch_chromium(playwright)
        pages = Harness(browser, srv)
        try:
            host = await pages.open("/host", "desktop", name="host")
            pin = await create_quiz_in_ui(host, count=2, seconds=30)
            session = session_for_pin(srv, pin)
            screen_link = await host.locator("#screen-link").get_attribute("href")
            assert screen_link is not None
            screen = await pages.open(screen_link, "desktop", name="screen")
            players: dict[str, Page] = {}
            for nickname in ("Anna", "Ben", "Cleo"):
                players[nickname] = await pages.open(f"/play?pin={pin}", "phone", name=nickname)
                await join_in_ui(players[nickname], nickname)
                await expect(players[nickname].locator("#lobby")).to_be_visible()
            await expect(host.locator("#players li[data-player-id]")).to_have_count(3)
            await expect(host.locator("#qr")).to_be_visible()
            shots.append(await _shot(host, out, "host-lobby"))

            anna = players["Anna"]
            await host.locator("#start-button").click()
            for index in range(len(session.questions)):
                if index:
                    await host.locator("#next-button").click()
                await expect(anna.locator("#question")).to_be_visible()
                await expect(anna.locator("#prompt")).to_contain_text(
                    session.questions[index].prompt[:20]
                )
                right, wrong = correct_option(srv, pin), wrong_option(srv, pin)
                if index == 0:
                    await asyncio.sleep(1.2)  # the countdown moves a little
                    shots.append(await _shot(anna, out, "player-question"))
                await players["Ben"].locator(f'button.option[data-option="{right}"]').click()
                await players["Cleo"].locator(f'button.option[data-option="{wrong}"]').click()
                if index == 0:
                    await expect(host.locator("#answered-count")).to_contain_text("2")
                    shots.append(await _shot(host, out, "host-question"))
                choice = right if index == 0 else wrong
                await anna.locator(f'button.option[data-option="{choice}"]').click()
                await expect(anna.locator("#reveal")).to_be_visible()
                if index == 0:
                    await asyncio.sleep(0.3)  # a few leaderboard ticks
                    shots.append(await _shot(anna, out, "player-reveal"))
                    shots.append(await _shot(screen, out, "screen-leaderboard"))
            await host.locator("#next-button").click()
            await expect(anna.locator("#podium")).to_be_visible()
            await expect(anna.locator("#review li")).to_have_count(1)
            await expect(screen.locator("#screen-podium")).to_be_visible()
            await asyncio.sleep(0.3)
            shots.append(await _shot(anna, out, "player-review"))
            shots.append(await _shot(screen, out, "screen-podium"))
        finally:
            await pages.close()
            await browser.close()
    return shots


def main(argv: list[str]) -> int:
    missing = chromium_missing()
    if missing is not None:
        print(missing, file=sys.stderr)
        return 2
    out = Path(argv[1]).resolve() if len(argv) > 1 else DEFAULT_OUT
    out.mkdir(parents=True, exist_ok=True)
    asyncio.run(play(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
