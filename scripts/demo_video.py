"""The README's demo video: one short game in Chromium, its five screens side by side.

    .venv/bin/python scripts/demo_video.py [outdir]      (default: docs/demo/; make demo-video)

Writes ``livequiz-demo.webm`` (VP9, 1600×900, under a minute) and ``livequiz-demo.png`` (a
still of the same run, the video's poster). The game: the teacher creates a quiz of three
questions on the host page, the big screen opens from it, three students join from their phones
with the quiz ID and answer, some right, some wrong, some faster; the leaderboard moves after
each question, and the quiz ends on the podium.

How it is recorded, and why:

* One page, the *stage*, lays out the five views in iframes: the host page (a laptop), the big
  screen (a projector) and three phones; Playwright records that page (``record_video_dir``).
  One recording keeps the five in step with no editing afterwards.
* Each view comes from an origin of its own (``host.demo.localhost``, ``anna.demo.localhost``…;
  Chromium sends every ``*.localhost`` name to this machine), so each keeps its own storage, like
  a device of its own: three phones of one origin would share one player's saved token.
* The pages are the server's own, unchanged, except that the recording takes
  ``frame-ancestors 'none'`` out of their Content-Security-Policy: the real server forbids
  framing (no other site may wrap the pages), and the stage has to frame them.
* The pages are driven as the browser tests drive them, with their helpers
  (``tests/browser/harness.py``): the server runs in this process, and the right answer of each
  question is read inside it, so each student answers right or wrong as the script says.
* Playwright encodes its recordings with an ffmpeg of its own, fetched by ``playwright install``,
  a download that does not work everywhere; this script hands it Debian's ffmpeg instead (in a
  ``PLAYWRIGHT_BROWSERS_PATH`` of its own, where Playwright looks for it), then uses that ffmpeg
  again to cut the seconds the pages take to load (up to where a mark on the stage goes away)
  and to encode the result small.

Not run by the tests (``tests/browser/test_demo_video.py`` plays the committed file).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import string
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import playwright  # noqa: E402
from playwright.async_api import (  # noqa: E402
    ConsoleMessage,
    Error,
    FrameLocator,
    Page,
    Route,
    async_playwright,
    expect,
)
from tests.browser.harness import (  # noqa: E402
    CHROMIUM_ARGS,
    CHROMIUM_PATH,
    chromium_missing,
    correct_option,
    player_rank,
    session_for_pin,
    wrong_option,
)
from tests.server import RunningServer, running_server  # noqa: E402

from livequiz.service import ServiceLimits  # noqa: E402

DEFAULT_OUT = ROOT / "docs" / "demo"
VIDEO_NAME = "livequiz-demo.webm"
POSTER_NAME = "livequiz-demo.png"

#: The stage, in CSS pixels: the video's size.
WIDTH, HEIGHT = 1600, 900
#: The screens the views are laid out at (CSS pixels), each scaled down to fit the stage: a
#: laptop (640×400 on the stage), a 720p projector (640×360) and phones (292×633).
LAPTOP, LAPTOP_SCALE = (1024, 640), 0.625
PROJECTOR, PROJECTOR_SCALE = (1280, 720), 0.5
PHONE, PHONE_SCALE = (390, 844), 0.75
#: What the join link on the host page and the big screen says (``--public-url``): an address
#: phones in a room could open, not the 127.0.0.1 the server is recorded on.
PUBLIC_URL = "https://quiz.school.example"
#: Frames per second of the recording and of the video.
FPS = 25
#: A magenta square in the stage's bottom right corner while the pages load, so the video can
#: start where the game does (:func:`start_of_game`); never in the video itself.
MARK_PX = 16
#: Smaller is better quality; 38 keeps the video near 1 MB with the text still sharp.
CRF = 38
#: How long each step stays on screen for a viewer to read it (seconds).
READ_S = 2.6

STUDENTS = ("Anna", "Ben", "Cleo")

#: Chromium's flags for the stage: the views' names go to the server (IPv4, as it listens); and
#: since the pages reach the browser through Playwright's interception (``frame-ancestors`` taken
#: out), Chromium cannot tell that they came from this machine and would block their
#: connections to it as a public page's requests into the local network.
STAGE_ARGS = [
    "--host-resolver-rules=MAP *.demo.localhost 127.0.0.1",
    "--disable-features=LocalNetworkAccessChecks",
]


@dataclass(frozen=True)
class Answer:
    """One student's answer to a question: how long after it shows, and whether it is right."""

    nickname: str
    after_s: float
    right: bool


#: The game, question by question, in the order the students answer. Ben is quickest at first,
#: Cleo starts wrong and catches up, Anna is steady: the leaderboard moves after each question.
PLAN = (
    (Answer("Ben", 1.2, True), Answer("Anna", 2.2, True), Answer("Cleo", 3.0, False)),
    (Answer("Cleo", 1.0, True), Answer("Ben", 1.8, False), Answer("Anna", 2.6, True)),
    (Answer("Cleo", 0.9, True), Answer("Anna", 1.6, True), Answer("Ben", 2.4, True)),
)
#: What the caption says while each question is open.
HINTS = (
    "Every phone shows the options; a right answer scores more the faster it comes.",
    "Right answers in a row earn a streak bonus; the host sees who has answered.",
    "The last question: the big screen counts down with everyone.",
)

#: The stage: the host page and the big screen on the left, the phones on the right, a caption
#: under them saying what happens ($-names: :func:`stage_html`).
STAGE_HTML = string.Template("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>livequiz demo</title><style>
html, body { margin: 0; height: 100%; }
body { background: #151a22; color: #e9edf3; font: 16px/1.3 system-ui, "DejaVu Sans", sans-serif;
       overflow: hidden; }
.stage { display: flex; gap: 24px; padding: 14px 16px; box-sizing: border-box; height: 100%; }
.label { margin: 0 0 6px; font-size: 15px; color: #9eabbd; }
.label b { color: #e9edf3; font-weight: 600; }
.box { position: relative; overflow: hidden; background: #fff; border-radius: 6px; }
.box iframe { position: absolute; top: 0; left: 0; border: 0; transform-origin: 0 0;
              background: #fff; }
.laptop { margin-bottom: 14px; }
.phone { border-radius: 20px; box-shadow: 0 0 0 5px #2d3542; }
.placeholder { position: absolute; inset: 0; display: grid; place-items: center;
               background: #232a35; color: #8793a5; font-size: 20px; }
.right { display: flex; flex-direction: column; }
.title { display: flex; align-items: baseline; gap: 14px; height: 40px; }
.brand { font-size: 28px; font-weight: 700; letter-spacing: .01em; }
.tagline { font-size: 17px; color: #9eabbd; }
.phones { display: flex; gap: 14px; }
.caption { margin-top: 26px; }
.caption .step { margin: 0 0 8px; font-size: 30px; font-weight: 700; }
.caption .detail { margin: 0; font-size: 21px; color: #c3ccd8; }
</style></head>
<body><div class="stage">
  <div class="left">
    <p class="label"><b>Host page</b> · the teacher's laptop</p>
    $host
    <p class="label"><b>Big screen</b> · the classroom projector</p>
    $screen
  </div>
  <div class="right">
    <div class="title"><span class="brand">livequiz</span>
      <span class="tagline">a live vocabulary quiz: one host, one big screen, three phones</span>
    </div>
    <div class="phones">$phones</div>
    <div class="caption"><p id="step" class="step"></p><p id="detail" class="detail"></p></div>
  </div>
</div>
<div id="loading-mark" style="position: fixed; right: 0; bottom: 0; width: ${mark}px;
     height: ${mark}px; background: #f0f"></div>
</body></html>
""")


def origin(srv: RunningServer, name: str) -> str:
    """The origin of one view: a name of its own on this machine, the server's port."""
    return f"http://{name.lower()}.demo.localhost:{srv.server.port}"


def view(
    kind: str, name: str, src: str, size: tuple[int, int], scale: float, inner: str = ""
) -> str:
    """One view: a page laid out at ``size`` (the device's screen), shown ``scale`` times as big."""
    width, height = size
    frame = f"width: {width}px; height: {height}px; transform: scale({scale:.5f})"
    box = f"width: {int(width * scale)}px; height: {int(height * scale)}px"
    source = f' src="{src}"' if src else ""
    return (
        f'<div class="box {kind}" style="{box}">'
        f'<iframe name="{name}" title="{name}" style="{frame}"{source}></iframe>{inner}</div>'
    )


def stage_html(srv: RunningServer) -> str:
    phones = "".join(
        f'<div><p class="label"><b>{name}</b> · a phone</p>'
        + view("phone", name, f"{origin(srv, name)}/play", PHONE, PHONE_SCALE)
        + "</div>"
        for name in STUDENTS
    )
    placeholder = '<div id="screen-placeholder" class="placeholder">opened from the host page</div>'
    return STAGE_HTML.substitute(
        host=view("laptop", "host", f"{origin(srv, 'host')}/host", LAPTOP, LAPTOP_SCALE),
        screen=view("projector", "screen", "", PROJECTOR, PROJECTOR_SCALE, placeholder),
        phones=phones,
        mark=MARK_PX,
    )


def playwright_ffmpeg_dir(ffmpeg: str) -> Path:
    """A Playwright browsers directory holding only Debian's ffmpeg, where Playwright's video
    recorder looks for its own (``ffmpeg-<revision>/ffmpeg-linux``; the revision is the one
    this Playwright was built with)."""
    browsers = Path(playwright.__file__).parent / "driver" / "package" / "browsers.json"
    revision = next(
        entry["revision"]
        for entry in json.loads(browsers.read_text())["browsers"]
        if entry["name"] == "ffmpeg"
    )
    directory = Path(tempfile.mkdtemp(prefix="livequiz-playwright-"))
    (directory / f"ffmpeg-{revision}").mkdir()
    (directory / f"ffmpeg-{revision}" / "ffmpeg-linux").symlink_to(ffmpeg)
    return directory


class Stage:
    """The recorded page and its five views; says on screen what happens (the caption)."""

    def __init__(self, page: Page, srv: RunningServer) -> None:
        self.page = page
        self.srv = srv
        self.host = page.frame_locator('iframe[name="host"]')
        self.screen = page.frame_locator('iframe[name="screen"]')
        self.phones: dict[str, FrameLocator] = {
            name: page.frame_locator(f'iframe[name="{name}"]') for name in STUDENTS
        }

    async def say(self, step: str, detail: str = "") -> None:
        await self.page.evaluate(
            """([step, detail]) => {
                document.getElementById("step").textContent = step;
                document.getElementById("detail").textContent = detail;
            }""",
            [step, detail],
        )

    async def scroll_to_top(self, frame_name: str) -> None:
        frame = self.page.frame(name=frame_name)
        assert frame is not None, frame_name
        await frame.evaluate("window.scrollTo(0, 0)")


def ordinal(n: int) -> str:
    return f"{n}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(n if n < 20 else n % 10, 'th') }"


async def play(stage: Stage, poster: Path) -> None:
    """The game, step by step, each step said in the caption."""
    srv = stage.srv
    host = stage.host
    await stage.say(
        "The teacher creates a quiz",
        "Three questions from the built-in vocabulary, 15 seconds each.",
    )
    await asyncio.sleep(1.5)
    for field, value in (("#count", "3"), ("#seconds", "15")):
        await host.locator(field).select_text()
        await host.locator(field).press_sequentially(value, delay=150)
    await asyncio.sleep(0.5)
    await host.locator("#create-button").click()
    await expect(host.locator("#pin-display")).to_have_text(re.compile(r"\d{4,}"))
    pin = "".join(ch for ch in await host.locator("#pin-display").inner_text() if ch.isdigit())
    await stage.scroll_to_top("host")
    session = session_for_pin(srv, pin)

    await stage.say(
        "The big screen shows how to join",
        "Opened from the host page on the projector: the join address, the quiz ID, a QR code.",
    )
    screen_link = await host.locator("#screen-link").get_attribute("href")
    assert screen_link is not None
    await stage.page.evaluate(
        """url => {
            document.querySelector('iframe[name="screen"]').src = url;
            document.getElementById("screen-placeholder").remove();
        }""",
        origin(srv, "screen") + screen_link,
    )
    await expect(stage.screen.locator("#screen-pin-number")).to_contain_text(pin)
    await asyncio.sleep(READ_S - 1)

    await stage.say(
        "Three students join from their phones",
        f"They type the quiz ID, {pin}, and a name; the big screen lists them as they arrive.",
    )
    for name in STUDENTS:
        phone = stage.phones[name]
        await phone.locator("#pin").press_sequentially(pin, delay=60)
        await phone.locator("#nickname").press_sequentially(name, delay=80)
        await phone.locator("#join-button").click()
        await expect(phone.locator("#lobby")).to_be_visible()
        await expect(stage.screen.locator("#screen-lobby-names")).to_contain_text(name)
        await asyncio.sleep(0.4)
    await asyncio.sleep(1.0)

    ranks: dict[str, int] = {}
    for index, answers in enumerate(PLAN):
        action = "#start-button" if index == 0 else "#next-button"
        await host.locator(action).click()
        await stage.say(f"Question {index + 1} of {len(PLAN)}", HINTS[index])
        for phone in stage.phones.values():
            await expect(phone.locator("#question")).to_be_visible()
        opened = time.monotonic()
        right, wrong = correct_option(srv, pin), wrong_option(srv, pin)
        for answer in answers:
            await asyncio.sleep(max(0.0, opened + answer.after_s - time.monotonic()))
            choice = right if answer.right else wrong
            phone = stage.phones[answer.nickname]
            await phone.locator(f'button.option[data-option="{choice}"]').click()
        # everyone has answered: the question closes at once and the answer shows
        await expect(stage.screen.locator("#screen-reveal")).to_be_visible()
        await expect(host.locator("#host-reveal")).to_be_visible()
        asked = session.questions[index]
        answer_text = asked.options[asked.correct_option]
        if len(answer_text) > 60:
            answer_text = answer_text[:57].rstrip() + "…"
        before, ranks = ranks, {name: player_rank(session, name) for name in STUDENTS}
        moved = [f"{n} up to {ordinal(r)}" for n, r in ranks.items() if r < before.get(n, r)]
        wrong_ones = [a.nickname for a in answers if not a.right]
        leader = min(ranks, key=lambda name: ranks[name])
        detail = f"The answer: “{answer_text}”. " + (
            f"{' and '.join(wrong_ones)} got it wrong; " if wrong_ones else "All three right; "
        )
        detail += f"{', '.join(moved)}." if moved else f"{leader} leads."
        await stage.say("The answer, and the leaderboard moves", detail)
        await asyncio.sleep(READ_S)
        if index == 1:
            await stage.page.screenshot(path=str(poster))
        await asyncio.sleep(0.4)

    await host.locator("#next-button").click()
    await stage.say(
        "The end: the podium",
        "Third place first on the big screen; each phone shows its place and the words to review.",
    )
    await expect(stage.screen.locator("#screen-podium li").first).to_be_visible()
    await expect(stage.screen.locator("#screen-podium li:not([hidden])")).to_have_count(3)
    for phone in stage.phones.values():
        await expect(phone.locator("#podium")).to_be_visible()
    await asyncio.sleep(READ_S + 0.5)


async def record(out: Path, ffmpeg: str) -> None:
    """Play the game on the stage and write the video and its poster to ``out``."""
    errors: list[str] = []
    with tempfile.TemporaryDirectory(prefix="livequiz-video-") as raw_dir:
        async with (
            running_server(service=ServiceLimits(tick_ms=50), public_url=PUBLIC_URL) as srv,
            async_playwright() as driver,
        ):
            browser = await driver.chromium.launch(
                executable_path=str(CHROMIUM_PATH),
                args=[*CHROMIUM_ARGS, *STAGE_ARGS],
                headless=True,
            )
            try:
                context = await browser.new_context(
                    viewport={"width": WIDTH, "height": HEIGHT},
                    record_video_dir=raw_dir,
                    record_video_size={"width": WIDTH, "height": HEIGHT},
                    record_video_fps=FPS,
                )
                context.set_default_timeout(20_000)
                stage_url = f"{origin(srv, 'stage')}/"
                await context.route(stage_url, _fulfil_with(stage_html(srv)))
                await context.route(_is_page, _framable(srv))
                page = await context.new_page()
                page.on("console", lambda m: _console(m, errors))
                page.on("pageerror", lambda e: errors.append(f"uncaught {e.name}: {e.message}"))
                await page.goto(stage_url)
                stage = Stage(page, srv)
                await expect(stage.host.locator("#create-form")).to_be_visible()
                for phone in stage.phones.values():
                    await expect(phone.locator("#join-form")).to_be_visible()
                await asyncio.sleep(0.3)
                await page.evaluate("document.getElementById('loading-mark').remove()")
                await play(stage, out / POSTER_NAME)
                video = page.video
                assert video is not None
                await context.close()  # the pages close before the server stops
                raw = Path(await video.path())
            finally:
                await browser.close()
        if errors:
            raise SystemExit("JavaScript errors while recording:\n" + "\n".join(errors))
        encode(ffmpeg, raw, out / VIDEO_NAME, start_s=start_of_game(ffmpeg, raw))
    for path in (out / VIDEO_NAME, out / POSTER_NAME):
        size = path.stat().st_size / 1e6
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        print(f"{shown}  {size:.1f} MB")


def start_of_game(ffmpeg: str, raw: Path) -> float:
    """Where the game starts in Playwright's recording: the first frame after the stage's
    loading mark (:data:`MARK_PX`) went away, read from the frames themselves (the recording's
    clock starts at its first frame, which comes a varying while after the page opens)."""
    frames = subprocess.run(
        [
            ffmpeg, "-loglevel", "error", "-i", str(raw), "-vf",
            f"crop=8:8:iw-{MARK_PX // 2 + 4}:ih-{MARK_PX // 2 + 4},scale=1:1",
            "-r", str(FPS), "-f", "rawvideo", "-pix_fmt", "rgb24", "-",
        ],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    marked = [r > 180 and g < 90 and b > 180 for r, g, b in zip(*[iter(frames)] * 3, strict=True)]
    if True not in marked:
        raise SystemExit("the loading mark is not in the recording: cannot tell where to cut")
    first_marked = marked.index(True)
    return marked.index(False, first_marked) / FPS if False in marked[first_marked:] else 0.0


def encode(ffmpeg: str, raw: Path, video: Path, *, start_s: float) -> None:
    """The recording from ``start_s`` on (the pages have loaded), as a small VP9 WebM."""
    subprocess.run(
        [
            ffmpeg, "-loglevel", "error", "-y", "-ss", f"{start_s:.2f}", "-i", str(raw),
            "-an", "-c:v", "libvpx-vp9", "-b:v", "0", "-crf", str(CRF), "-row-mt", "1",
            "-deadline", "good", "-cpu-used", "4", "-pix_fmt", "yuv420p", "-r", str(FPS),
            "-metadata", "title=livequiz: a live vocabulary quiz", str(video),
        ],
        check=True,
    )  # fmt: skip


def _is_page(url: str) -> bool:
    """The server's pages (not their scripts, not the API): the documents the stage frames."""
    parts = urlsplit(url)
    return bool(parts.hostname and parts.hostname.endswith(".demo.localhost")) and (
        parts.path in ("/host", "/screen", "/play")
    )


def _fulfil_with(html: str) -> Callable[[Route], Awaitable[None]]:
    async def fulfil(route: Route) -> None:
        await route.fulfill(status=200, content_type="text/html; charset=utf-8", body=html)

    return fulfil


def _framable(srv: RunningServer) -> Callable[[Route], Awaitable[None]]:
    """The server's page as it is, but for ``frame-ancestors`` in its Content-Security-Policy
    (fetched here from the server: the driver cannot resolve ``*.demo.localhost``)."""

    async def fetch(route: Route) -> None:
        parts = urlsplit(route.request.url)
        response = await srv.http.get(parts.path + (f"?{parts.query}" if parts.query else ""))
        headers = {
            name: value
            for name, value in response.headers.items()
            if name not in ("content-length", "content-encoding", "transfer-encoding")
        }
        policy = headers.get("content-security-policy", "")
        headers["content-security-policy"] = "; ".join(
            part for part in policy.split("; ") if not part.startswith("frame-ancestors")
        )
        await route.fulfill(status=response.status_code, headers=headers, body=response.content)

    return fetch


def _console(message: ConsoleMessage, errors: list[str]) -> None:
    if message.type == "error":
        errors.append(f"console.error: {message.text} ({message.location.get('url', '')})")


def main(argv: list[str]) -> int:
    missing = chromium_missing()
    ffmpeg = shutil.which("ffmpeg")
    if missing is not None or ffmpeg is None:
        print(missing or "ffmpeg not installed (make demo-video installs it)", file=sys.stderr)
        return 2
    out = Path(argv[1]).resolve() if len(argv) > 1 else DEFAULT_OUT
    out.mkdir(parents=True, exist_ok=True)
    browsers = playwright_ffmpeg_dir(ffmpeg)
    os.environ["PLAYWRIGHT_BROWSERS_PATH"] = str(browsers)  # read by the driver at its start
    try:
        asyncio.run(record(out, ffmpeg))
    except Error as error:
        print(f"recording failed: {error}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(browsers, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
