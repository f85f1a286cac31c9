"""The OpenAPI 3.1 document of the HTTP API, kept as data and checked against the routes."""

from __future__ import annotations

from typing import Any

from livequiz import __version__

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "livequiz", "version": __version__},
    "paths": {},
}
