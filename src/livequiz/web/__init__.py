"""The web client: the player, host and big-screen pages, served by the server itself.

Plain HTML, CSS and JavaScript modules in ``static/``, no build step and nothing fetched from
elsewhere (a classroom server may be offline). :func:`build_web` puts the pages and
``/static/...`` in front of the HTTP API; every other path goes to the API, so errors keep the
API's JSON shape. The pages talk to the server only through the public protocol
(``docs/protocol.md``): the HTTP API and the WebSocket at ``/ws``.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Scope

from livequiz.http_api import error_response

STATIC_DIR = Path(__file__).parent / "static"

#: URL path → page file in ``static/``.
PAGES = {"/": "index.html", "/play": "play.html", "/host": "host.html", "/screen": "screen.html"}

#: Everything a page loads comes from this server; no inline script, no framing, no referrer
#: (the big screen's URL fragment holds the host token; fragments are never sent, but still).
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "cache-control": "no-cache",
}


def _page(filename: str) -> Callable[[Request], Awaitable[Response]]:
    path = STATIC_DIR / filename

    async def page(_request: Request) -> Response:
        return FileResponse(path, media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS)

    return page


class _Static(StaticFiles):
    """Static files, revalidated on every load (no stale script after an upgrade)."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["cache-control"] = "no-cache"
        response.headers["x-content-type-options"] = "nosniff"
        return response


def build_web(api: ASGIApp) -> Starlette:
    """The pages and static files, with ``api`` (the HTTP API) behind them for every other path."""

    async def on_http(request: Request, error: Exception) -> Response:
        # A missing static file: the API's error shape (other paths reach the API's own handler).
        assert isinstance(error, HTTPException)
        if error.status_code == 404:
            message = f"nothing at {request.url.path[:100]}"
            return error_response(404, "not_found", message, error.headers)
        return error_response(error.status_code, "method_not_allowed", str(error.detail))

    routes: list[Route | Mount] = [
        Route(url, _page(name), methods=["GET"]) for url, name in PAGES.items()
    ]
    routes.append(Mount("/static", app=_Static(directory=STATIC_DIR), name="static"))
    routes.append(Mount("", app=api))
    return Starlette(routes=routes, exception_handlers={HTTPException: on_http})
