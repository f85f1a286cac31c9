"""The README's demo video (``docs/demo/``, made by ``make demo-video``) plays in a browser.

What a visitor of the README gets: a WebM that Chromium loads in a ``<video>`` element, with a
duration, a picture, and a picture that changes as it plays (a game, not a still), and a poster
image of the same size. The file is served to the page by Playwright itself, with byte ranges as
a web server gives them, so seeking works as on the project's pages.
"""

from __future__ import annotations

import math
import re
import struct
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Route

DEMO = Path(__file__).resolve().parents[2] / "docs" / "demo"
VIDEO = DEMO / "livequiz-demo.webm"
POSTER = DEMO / "livequiz-demo.png"
ORIGIN = "http://demo.livequiz.test"
#: The page a README renderer amounts to: the video, and a canvas to look at its frames.
PAGE = """<!doctype html><html lang="en"><head><title>demo video</title></head><body>
<video id="video" src="/livequiz-demo.webm" muted playsinline preload="metadata"></video>
</body></html>"""

#: The frame at ``at`` seconds, drawn at 160×90: its pixels as one list of RGBA values.
FRAME_AT = """async (at) => {
    const video = document.getElementById("video");
    if (Math.abs(video.currentTime - at) > 0.01) {
        const seeked = new Promise((resolve) =>
            video.addEventListener("seeked", resolve, {once: true}));
        video.currentTime = at;
        await seeked;
    }
    const canvas = document.createElement("canvas");
    canvas.width = 160;
    canvas.height = 90;
    const context = canvas.getContext("2d");
    context.drawImage(video, 0, 0, canvas.width, canvas.height);
    return Array.from(context.getImageData(0, 0, canvas.width, canvas.height).data);
}"""


def test_the_demo_video_is_a_small_webm_with_a_png_poster() -> None:
    assert VIDEO.is_file(), f"{VIDEO} is missing: make demo-video writes it"
    head = VIDEO.read_bytes()[:64]
    assert head[:4] == b"\x1a\x45\xdf\xa3", "not a Matroska/WebM file (no EBML header)"
    assert b"webm" in head, "an EBML file, but its DocType is not webm"
    assert VIDEO.stat().st_size <= 5_000_000, "too big for a README to load"
    assert POSTER.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{POSTER} is not a PNG"


def _poster_size() -> tuple[int, int]:
    width, height = struct.unpack(">II", POSTER.read_bytes()[16:24])  # the IHDR chunk
    return width, height


async def _serve(route: Route) -> None:
    """The page, and the video with byte ranges (``206``), as a web server serves them."""
    path = route.request.url.removeprefix(ORIGIN)
    if path == "/":
        await route.fulfill(content_type="text/html; charset=utf-8", body=PAGE)
        return
    if path != "/livequiz-demo.webm":
        await route.fulfill(status=404, body="")
        return
    data = VIDEO.read_bytes()
    wanted = re.fullmatch(r"bytes=(\d+)-(\d*)", route.request.headers.get("range", ""))
    if wanted is None:
        await route.fulfill(
            content_type="video/webm", headers={"accept-ranges": "bytes"}, body=data
        )
        return
    start = int(wanted.group(1))
    end = min(int(wanted.group(2) or len(data) - 1), len(data) - 1)
    await route.fulfill(
        status=206,
        content_type="video/webm",
        headers={"accept-ranges": "bytes", "content-range": f"bytes {start}-{end}/{len(data)}"},
        body=data[start : end + 1],
    )


def _mean_difference(a: list[int], b: list[int]) -> float:
    """How different two frames look: the mean difference of their colour values (0–255)."""
    channels = [(x, y) for i, (x, y) in enumerate(zip(a, b, strict=True)) if i % 4 != 3]
    return sum(abs(x - y) for x, y in channels) / len(channels)


def _colours(frame: list[int]) -> int:
    """The distinct colours of a frame, each channel in 16 steps (video noise aside)."""
    return len({tuple(v >> 4 for v in frame[i : i + 3]) for i in range(0, len(frame), 4)})


@pytest.mark.asyncio(loop_scope="module")  # the loop of the module's browser (conftest.py)
async def test_the_demo_video_loads_has_a_duration_and_plays_in_chromium(browser: Browser) -> None:
    assert VIDEO.is_file(), f"{VIDEO} is missing: make demo-video writes it"
    context = await browser.new_context()
    try:
        await context.route(f"{ORIGIN}/**", _serve)
        page = await context.new_page()
        await page.goto(f"{ORIGIN}/")
        meta: dict[str, Any] = await page.evaluate(
            """async () => {
                const video = document.getElementById("video");
                if (video.readyState < HTMLMediaElement.HAVE_METADATA) {
                    await new Promise((resolve, reject) => {
                        video.addEventListener("loadedmetadata", resolve, {once: true});
                        video.addEventListener("error", () => reject(new Error(
                            `the video did not load: ${video.error?.message || video.error?.code}`
                        )), {once: true});
                    });
                }
                return {duration: video.duration, width: video.videoWidth,
                        height: video.videoHeight};
            }"""
        )
        duration = meta["duration"]
        assert math.isfinite(duration), f"no duration: {duration}"
        assert 10 <= duration <= 60, f"{duration:.1f} s: a short game is 10 s to a minute"
        assert meta["width"] > meta["height"] > 0, meta
        assert _poster_size() == (meta["width"], meta["height"]), "the poster is of another run"

        await page.evaluate("document.getElementById('video').play()")
        await page.wait_for_function(
            "document.getElementById('video').currentTime > 1", timeout=15_000
        )
        assert not await page.evaluate("document.getElementById('video').paused")

        await page.evaluate("document.getElementById('video').pause()")
        first = await page.evaluate(FRAME_AT, 0.5)
        middle = await page.evaluate(FRAME_AT, duration / 2)
        assert _colours(first) >= 8, "the first frame is blank"
        assert _colours(middle) >= 8, "the middle frame is blank"
        assert _mean_difference(first, middle) > 3, "the picture does not change: a still"
        await page.close()
    finally:
        await context.close()
