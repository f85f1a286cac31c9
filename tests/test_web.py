"""The web client as served: pages, static files, and the join QR code."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from livequiz.domain.views import TEAM_NAMES
from tests.server import RunningServer, running_server

in_module_loop = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def srv() -> AsyncIterator[RunningServer]:
    async with running_server() as running:
        yield running


@pytest.mark.parametrize(
    ("path", "title", "marker"),
    [
        ("/", "livequiz – join a quiz", 'id="join-form"'),
        ("/play", "livequiz – play", 'id="announcer"'),
        ("/play?pin=123456", "livequiz – play", 'src="/static/play.js"'),
        ("/host", "livequiz – host a quiz", 'id="create-form"'),
        ("/screen", "livequiz – big screen", 'id="screen-leaderboard"'),
    ],
)
@in_module_loop
async def test_pages_are_html_with_their_title(
    srv: RunningServer, path: str, title: str, marker: str
) -> None:
    response = await srv.http.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert f"<title>{title}</title>" in response.text
    assert '<html lang="en">' in response.text
    assert marker in response.text
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "http" not in policy  # nothing from another origin
    assert response.headers["referrer-policy"] == "no-referrer"


@pytest.mark.parametrize(
    ("name", "media"),
    [
        ("connection.js", "text/javascript"),
        ("play.js", "text/javascript"),
        ("host.js", "text/javascript"),
        ("screen.js", "text/javascript"),
        ("style.css", "text/css"),
    ],
)
@in_module_loop
async def test_static_files_are_served(srv: RunningServer, name: str, media: str) -> None:
    response = await srv.http.get(f"/static/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] in (media, "application/javascript")
    assert response.headers["cache-control"] == "no-cache"
    assert len(response.content) > 500
    assert "innerHTML" not in response.text  # user text only ever goes in as textContent


@in_module_loop
async def test_a_missing_static_file_is_a_json_404(srv: RunningServer) -> None:
    response = await srv.http.get("/static/nope.js")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@in_module_loop
async def test_the_api_still_answers_behind_the_pages(srv: RunningServer) -> None:
    assert (await srv.http.get("/healthz")).json() == {"status": "ok"}
    response = await srv.http.get("/no/such/page")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@in_module_loop
async def test_the_qr_code_is_an_svg_of_the_join_link(srv: RunningServer) -> None:
    pin = (await srv.create_quiz(count=1))["pin"]
    response = await srv.http.get(f"/api/quizzes/{pin}/qr.svg")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert response.headers["cache-control"] == "no-store"
    svg = response.text
    assert svg.startswith("<svg")
    assert svg.rstrip().endswith("</svg>")
    assert len(svg) > 1000  # modules drawn, not an empty picture
    assert f"{srv.base_url}/play?pin={pin}" in svg  # in its <title>


@in_module_loop
async def test_the_qr_code_of_an_unknown_pin_is_a_json_404(srv: RunningServer) -> None:
    response = await srv.http.get("/api/quizzes/999999/qr.svg")
    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "unknown_quiz", "message": "no live quiz has that PIN"}
    }


def test_the_pages_name_the_teams_as_the_server_does() -> None:
    """The pages draw a team from its number before any team board has come (a player's
    standing names the team by number): their list of names must be the server's."""
    script = (Path(__file__).parents[1] / "src/livequiz/web/static/connection.js").read_text()
    found = re.search(r"export const TEAM_NAMES = (\[[^\]]*\]);", script)
    assert found is not None
    assert tuple(json.loads(found.group(1))) == TEAM_NAMES
