"""Browser-test harness: Debian's chromium driven by Playwright, pages of a real livequiz server.

Shared by the browser tests (``tests/browser/conftest.py`` wraps it in fixtures) and by
``scripts/screenshots.py``, which plays a short quiz with the same helpers.

* :func:`launch_chromium` starts ``/usr/bin/chromium`` (Playwright's own browser download does
  not work everywhere) with flags that keep it quiet and offline.
* :class:`Harness` opens pages in fresh browser contexts with a :data:`PHONE` or :data:`DESKTOP`
  viewport, records every JavaScript error of every page (:class:`ConsoleErrors`) and closes
  its contexts at the end.
* The module-level helpers drive the pages by the DOM contract (``#join-form``, ``#pin``…) and
  read what the server knows (``srv.server.store.session(quiz_id)``) for the test to compare.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Dialog,
    Error,
    Page,
    Playwright,
    expect,
)
from websockets.asyncio.client import ClientConnection

from livequiz.domain.session import Phase, QuizSession
from tests.server import RunningServer

__all__ = [
    "CHROMIUM_ARGS",
    "CHROMIUM_PATH",
    "DESKTOP",
    "NETWORK_ERRORS",
    "PHONE",
    "SOCKET_HOOK",
    "ConsoleErrors",
    "Harness",
    "HostSocket",
    "Viewport",
    "chromium_missing",
    "correct_option",
    "create_quiz_in_ui",
    "cut_connection",
    "eventually",
    "host_socket",
    "join_in_ui",
    "launch_chromium",
    "number_anywhere",
    "number_first",
    "player_rank",
    "player_scores",
    "press_tab_until",
    "read_board",
    "restore_connection",
    "session_for_pin",
    "wrong_option",
]

CHROMIUM_PATH = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

#: How long an ``expect`` waits for the page by default (ms): pages react within a tick or two.
EXPECT_TIMEOUT_MS = 5_000

Viewport = Literal["phone", "desktop", "projector"]

#: A phone (iPhone 12-14 sized) and a laptop screen: the two viewports every flow is tried on.
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
DESKTOP: dict[str, Any] = {"viewport": {"width": 1280, "height": 800}}
#: A classroom projector (1080p).
PROJECTOR: dict[str, Any] = {"viewport": {"width": 1920, "height": 1080}}
_VIEWPORTS: dict[Viewport, dict[str, Any]] = {
    "phone": PHONE,
    "desktop": DESKTOP,
    "projector": PROJECTOR,
}


#: axe-core, installed from the npm registry by ``make browser`` (pinned in tests/browser/axe).
AXE_PATH = Path(__file__).parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"


async def audit(page: Page) -> list[str]:
    """The serious and critical accessibility violations axe-core finds on the page as it is
    now (WCAG 2.1 A and AA rules, best practices included), one line each: rule, impact, the
    first elements it names. The caller skips loudly if axe-core is missing (:data:`AXE_PATH`)."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        # evaluated through the DevTools protocol: the pages' Content-Security-Policy (scripts
        # from 'self' only) rightly refuses a <script> tag injected by a test
        await page.evaluate(AXE_PATH.read_text() + "\n;undefined")
    violations: list[dict[str, Any]] = await page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
            .map(v => ({id: v.id, impact: v.impact, help: v.help,
                        nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))"""
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {v['nodes']}"
        for v in violations
        if v["impact"] in ("serious", "critical")
    ]


def chromium_missing() -> str | None:
    """Why chromium cannot run here, or ``None`` if it can."""
    if not CHROMIUM_PATH.exists():
        return f"chromium not installed: {CHROMIUM_PATH} is missing (make test installs it)"
    return None


async def launch_chromium(playwright: Playwright) -> Browser:
    """Debian's chromium, headless."""
    return await playwright.chromium.launch(
        executable_path=str(CHROMIUM_PATH), args=CHROMIUM_ARGS, headless=True
    )


@dataclass
class ConsoleErrors:
    """Every JavaScript error of the pages it watches: uncaught exceptions and ``console.error``.

    A test fails on any of them (:meth:`check`), except console messages matching a pattern the
    test expects (:meth:`allow`), e.g. the browser's own "WebSocket connection … failed" while a
    test has cut the network, or "Failed to load resource: … 409" after a refused join.
    """

    errors: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def watch(self, page: Page, name: str) -> None:
        def on_console(message: ConsoleMessage) -> None:
            if message.type != "error":
                return
            location = message.location.get("url", "")
            if location.endswith("/favicon.ico"):
                return  # the browser's own request, not the page's code
            text = f"{name}: console.error: {message.text} ({location})"
            if not any(pattern.search(message.text) for pattern in self.allowed):
                self.errors.append(text)

        def on_page_error(error: Error) -> None:
            self.errors.append(f"{name}: uncaught {error.name}: {error.message}")

        page.on("console", on_console)
        page.on("pageerror", on_page_error)

    def allow(self, pattern: str) -> None:
        """Expect console errors matching ``pattern`` (a regular expression); never exceptions."""
        self.allowed.append(re.compile(pattern))

    def check(self) -> None:
        assert not self.errors, "JavaScript errors in the console:\n" + "\n".join(self.errors)


class Harness:
    """Pages of one server in one browser, each in a context of its own (its own storage)."""

    def __init__(self, browser: Browser, srv: RunningServer) -> None:
        #: The browser every context is opened in, and the server the pages talk to.
        self.browser = browser
        self.srv = srv
        self.console = ConsoleErrors()
        self.contexts: list[BrowserContext] = []

    async def context(self, viewport: Viewport | tuple[int, int] = "phone") -> BrowserContext:
        """A fresh context (own localStorage) with the viewport, or a phone of ``(width,
        height)`` CSS pixels; closed by :meth:`close`."""
        if isinstance(viewport, tuple):
            width, height = viewport
            options = {**PHONE, "viewport": {"width": width, "height": height}}
        else:
            options = _VIEWPORTS[viewport]
        context = await self.browser.new_context(
            base_url=self.srv.base_url, accept_downloads=True, **options
        )
        await context.add_init_script(SOCKET_HOOK)
        context.set_default_timeout(EXPECT_TIMEOUT_MS * 2)
        self.contexts.append(context)
        return context

    async def open(
        self,
        path: str,
        viewport: Viewport | tuple[int, int] = "phone",
        *,
        name: str | None = None,
        context: BrowserContext | None = None,
    ) -> Page:
        """A page at ``path`` (relative to the server) in a new context (or ``context``)."""
        if context is None:
            context = await self.context(viewport)
        page = await context.new_page()
        self.console.watch(page, name or path)
        await page.goto(path)
        return page

    async def close(self) -> None:
        for context in self.contexts:
            with contextlib.suppress(Error):  # a context whose browser already went away
                await context.close()
        self.contexts.clear()


# ---------------------------------------------------------------------- the network

#: Injected into every page before its own scripts: keeps a list of the page's WebSockets
#: (``window.__livequizSockets``) so a test can drop them, and while ``__livequizOffline`` is
#: set sends new ones to a path the server refuses (404 at the upgrade, same origin so the page's
#: CSP allows it), so they fail like on a phone without network: Chromium's offline emulation
#: does not stop WebSockets to the loopback address. The page itself is not changed:
#: ``WebSocket`` stays a working subclass of the browser's own.
SOCKET_HOOK = """(() => {
  const Native = window.WebSocket;
  const sockets = [];
  Object.defineProperty(window, "__livequizSockets", { value: sockets });
  window.__livequizOffline = false;
  window.WebSocket = class extends Native {
    constructor(url, ...rest) {
      const target = new URL(url, location.href);
      if (window.__livequizOffline) target.pathname = "/test-network-is-down";
      super(target.href, ...rest);
      sockets.push(this);
    }
  };
})();"""

#: What the browser logs about sockets that fail while a test has cut the network.
NETWORK_ERRORS = r"WebSocket connection to .* failed|ERR_INTERNET_DISCONNECTED"


async def cut_connection(context: BrowserContext, page: Page) -> None:
    """The network of ``context`` goes away: HTTP requests fail (offline emulation), the page's
    open WebSockets drop and new ones cannot connect until :func:`restore_connection`."""
    # Cut a connection that is up: wait until the page has an open socket (its welcome may
    # still be on the way when the lobby shows).
    await page.wait_for_function(
        "() => window.__livequizSockets.some(ws => ws.readyState === WebSocket.OPEN)"
    )
    await page.evaluate(
        """() => {
            window.__livequizOffline = true;
            window.__livequizSockets
                .filter(ws => ws.readyState <= WebSocket.OPEN)
                .forEach(ws => ws.close(3000, "test: network lost"));
        }"""
    )
    # Go offline only once the sockets are closed: under offline emulation Chromium may hold a
    # closing handshake (and so the page's close event) for a long time.
    await page.wait_for_function(
        "() => window.__livequizSockets.every(ws => ws.readyState === WebSocket.CLOSED)"
    )
    await context.set_offline(True)


async def restore_connection(context: BrowserContext, page: Page) -> None:
    """Back online; the page must reconnect by itself (no user action)."""
    await page.evaluate("() => { window.__livequizOffline = false; }")
    await context.set_offline(False)


class HostSocket:
    """The host over the WebSocket protocol, for tests whose subject is not the host page."""

    def __init__(self, srv: RunningServer, ws: ClientConnection) -> None:
        self.srv = srv
        self.ws = ws

    async def act(self, action: str, **fields: Any) -> None:
        """Send a host action; fails unless the server acknowledges it."""
        await self.srv.send(self.ws, {"type": "host", "action": action, **fields})
        frame = await self.srv.receive(self.ws, "host_ack", "error")
        assert frame["type"] == "host_ack", frame


@contextlib.asynccontextmanager
async def host_socket(srv: RunningServer, host_token: str) -> AsyncIterator[HostSocket]:
    """``async with host_socket(srv, quiz["host_token"]) as host: await host.act("start")``."""
    async with srv.connect() as ws:
        await srv.hello(ws, host_token)
        yield HostSocket(srv, ws)


# ---------------------------------------------------------------------- driving the pages


async def create_quiz_in_ui(
    host: Page,
    *,
    count: int = 3,
    seconds: int = 20,
    level: str | None = None,
    kind: str | None = None,
) -> str:
    """Fill ``#create-form`` on ``/host`` and submit it; returns the PIN shown in the lobby."""
    await expect(host.locator("#create-form")).to_be_visible()
    if level is not None:
        await host.locator(f'input[name="level"][value="{level}"]').check()
    if kind is not None:
        await host.locator(f'input[name="kind"][value="{kind}"]').check()
    await host.locator("#count").fill(str(count))
    await host.locator("#seconds").fill(str(seconds))
    await host.locator("#create-button").click()
    pin_display = host.locator("#pin-display")
    await expect(pin_display).to_have_text(re.compile(r"\d{4,}"))
    match = re.search(r"\d{4,}", await pin_display.inner_text())
    assert match is not None
    return match.group(0)


def answer_next_dialog(page: Page, *, accept: bool = True) -> list[str]:
    """Answer the page's next ``confirm()`` (accept or dismiss); returns a list that then holds
    its message (empty if none came)."""
    messages: list[str] = []

    async def answer(dialog: Dialog) -> None:
        messages.append(dialog.message)
        await (dialog.accept() if accept else dialog.dismiss())

    page.once("dialog", answer)
    return messages


async def join_in_ui(player: Page, nickname: str, pin: str | None = None) -> None:
    """Type the PIN (unless the page was opened with ``?pin=``) and the nickname, click join."""
    if pin is not None:
        await player.locator("#pin").fill(pin)
    await player.locator("#nickname").fill(nickname)
    await player.locator("#join-button").click()


async def in_view(page: Page, selector: str) -> bool:
    """Whether the element is shown and wholly inside the viewport (nothing to scroll to)."""
    inside: bool = await page.eval_on_selector(
        selector,
        """e => { const r = e.getBoundingClientRect();
                  return r.height > 0 && r.top >= 0 && r.bottom <= innerHeight
                         && r.left >= 0 && r.right <= innerWidth; }""",
    )
    return inside


def session_for_pin(srv: RunningServer, pin: str) -> QuizSession:
    """The server's live session of the quiz with this PIN (to read what no client may see)."""
    store = srv.server.store
    for quiz_id in store.quiz_ids():
        session = store.session(quiz_id)
        if store.definition(quiz_id).pin == pin and session.phase is not Phase.FINISHED:
            return session
    raise AssertionError(f"no live quiz has the PIN {pin}")


def correct_option(srv: RunningServer, pin: str) -> int:
    """The right option of the current question, read inside the server."""
    question = session_for_pin(srv, pin).question
    assert question is not None, "no question has been opened yet"
    return question.correct_option


def wrong_option(srv: RunningServer, pin: str) -> int:
    """Some wrong option of the current question."""
    question = session_for_pin(srv, pin).question
    assert question is not None, "no question has been opened yet"
    return (question.correct_option + 1) % len(question.options)


async def read_board(page: Page, board: str) -> list[tuple[str, int]]:
    """``(nickname, score)`` of each line of a leaderboard (``#leaderboard``…), in order.

    ``board`` may be the ``ol`` itself or hold it (the contract's "``ol`` > ``li``")."""
    rows: Sequence[dict[str, str]] = await page.eval_on_selector_all(
        f"{board} > li, {board} > ol > li",
        """items => items.map(li => ({
            nickname: (li.querySelector('.nickname')?.textContent ?? '').trim(),
            score: (li.querySelector('.score')?.textContent ?? '').trim(),
        }))""",
    )
    return [(row["nickname"], _number(row["score"])) for row in rows]


def _number(text: str) -> int:
    digits = re.sub(r"[^\d-]", "", text)
    assert digits, f"not a score: {text!r}"
    return int(digits)


def player_scores(session: QuizSession) -> dict[str, int]:
    """``nickname → score`` of every player the server holds (kicked ones left out)."""
    return {p.nickname: p.score for p in session.players.values() if not p.kicked}


def player_rank(session: QuizSession, nickname: str) -> int:
    """The server's rank of the player with this nickname."""
    for player in session.players.values():
        if player.nickname == nickname:
            return session.board.rank_of(player.id)
    raise AssertionError(f"no player {nickname!r} in the quiz")


async def eventually(
    check: Callable[[], Awaitable[None]], *, timeout_s: float = EXPECT_TIMEOUT_MS / 1000
) -> None:
    """Run ``check`` until it stops raising ``AssertionError`` (or re-raise after ``timeout_s``).

    For comparisons across pages and the server, which ``expect`` cannot express; the pages get
    a leaderboard frame every tick, so they agree within a few ticks.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            await check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)
        else:
            return


async def press_tab_until(page: Page, selector: str, *, max_presses: int = 20) -> None:
    """Press Tab (keyboard only, no mouse) until the focused element matches ``selector``."""
    for _ in range(max_presses):
        if await page.evaluate(
            "selector => document.activeElement?.matches(selector) ?? false", selector
        ):
            return
        await page.keyboard.press("Tab")
    raise AssertionError(f"{selector} is not reachable with {max_presses} presses of Tab")


def number_first(value: int) -> re.Pattern[str]:
    """Text whose first number is ``value``, written ``1000``, ``1,000`` or with a thin space
    (``"1,000 points"``, ``"2 / 3 answered"``, ``"Rank 2"``): for ``expect(...).to_have_text``."""
    spellings = {str(value), f"{value:,}", f"{value:,}".replace(",", "\u202f")}
    spellings |= {f"{value:,}".replace(",", " "), f"{value:,}".replace(",", ".")}
    alternatives = "|".join(re.escape(text) for text in sorted(spellings, key=len, reverse=True))
    return re.compile(rf"^[^\d]*(?<![\d,.])(?:{alternatives})(?![\d,.]\d|\d)")


def number_anywhere(value: int) -> re.Pattern[str]:
    """``value`` as a whole number anywhere in the text (``"+1,000 points"``)."""
    first = number_first(value).pattern
    return re.compile(first.removeprefix("^[^\\d]*"))
