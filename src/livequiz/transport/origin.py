"""The ``Origin`` allow-list: both sides compared in one normal form.

Why normalise: an operator writes ``--origin https://Quiz.Example:443/`` and the browser sends
``https://quiz.example``; both name the same origin (RFC 6454 §4: scheme and host are
case-insensitive, the default port is implied, an origin has no path), so comparing the strings
as given refused honest pages. The rule, in :func:`normalize_origin`, is documented in
docs/protocol.md ("Limits"): lower-case scheme and host, no default port (80 for http and ws,
443 for https and wss), no trailing slash. Anything else still has to match exactly: another
host, another port or another scheme is another origin.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

__all__ = ["normalize_origin", "normalize_origins"]

#: The port a scheme implies when none is written (RFC 6454 §4, RFC 6455 §3).
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def normalize_origin(origin: str) -> str:
    """The normal form of an ``Origin`` header value (or of an allow-list entry).

    A value that is not ``scheme://host[:port][/]`` (``null``, a path, garbage) comes back only
    stripped of surrounding spaces: it can match nothing but the very same string.
    """
    text = origin.strip()
    normal = _parse(text)
    return text if normal is None else normal


def normalize_origins(origins: Iterable[str]) -> frozenset[str]:
    """An allow-list in normal form; refuses an entry that is not an origin at all.

    Why refuse: ``--origin https://quiz.example/play`` (a page, not an origin) would never
    match any browser, and the operator would only find out from refused players.
    """
    normal = set()
    for origin in origins:
        form = _parse(origin.strip())
        if form is None:
            raise ValueError(
                f"{origin!r} is not an origin: give scheme://host[:port], e.g. https://quiz.example"
            )
        normal.add(form)
    return frozenset(normal)


def _parse(text: str) -> str | None:
    """``scheme://host[:port]`` in normal form, or None when ``text`` is not an origin."""
    try:
        parts = urlsplit(text)
        port = parts.port  # raises ValueError for a port out of range or not a number
    except ValueError:
        return None
    host = parts.hostname
    if (
        not parts.scheme
        or not host
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or "@" in parts.netloc
        or text.endswith(("?", "#"))
        or any(char.isspace() for char in text)
    ):
        return None
    scheme = parts.scheme.lower()
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    if port is None or port == DEFAULT_PORTS.get(scheme):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"
