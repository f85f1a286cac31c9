"""The address phones join at: what the join link and QR code say.

A teacher starts ``livequiz serve --host 0.0.0.0`` on a laptop and opens the host page at
``http://127.0.0.1:8000``. A link built from the page's own address would send every phone in
the room to *its own* 127.0.0.1. So the join link is built, in this order, from:

1. ``--public-url`` (``$LIVEQUIZ_PUBLIC_URL``): the address the operator says phones use (a
   reverse proxy's ``https://quiz.school.example``, a fixed LAN name);
2. the address the page was opened at, when it is not a loopback one (the teacher opened the
   host page by the LAN address or a domain: phones can use the same);
3. the machine's LAN address with the server's port, when the server listens on every
   interface (``0.0.0.0``/``::``) or on a non-loopback one;
4. else the loopback address, flagged as reachable from this computer only, so the host page
   warns the teacher instead of showing a QR code that no phone can open.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

WILDCARDS = frozenset({"", "0.0.0.0", "::"})
#: What the page says when only this computer can open the join link.
LOCAL_ONLY_HINT = (
    "Only this computer can open this link: phones cannot reach 127.0.0.1. Start the server "
    "with --host 0.0.0.0 so phones on the same network can join (or give --public-url)."
)


class PublicUrlError(ValueError):
    """``--public-url`` is not an absolute http(s) URL of a host (with no query or fragment)."""


def check_public_url(url: str) -> str:
    """The URL without a trailing slash; raises :class:`PublicUrlError` naming what is wrong."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https"):
        raise PublicUrlError(f"--public-url must start with http:// or https://, not {url!r}")
    if not parts.hostname:
        raise PublicUrlError(f"--public-url names no host: {url!r}")
    if parts.query or parts.fragment:
        raise PublicUrlError(f"--public-url must have no query or fragment: {url!r}")
    return url.strip().rstrip("/")


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def lan_address() -> str | None:
    """This machine's address on the network its default route leaves by, or ``None``.

    A UDP socket "connected" to a documentation address sends nothing; the kernel only picks
    the source address it would use."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))
            address = str(probe.getsockname()[0])
    except OSError:
        return None
    return None if is_loopback(address) or address in WILDCARDS else address


@dataclass(frozen=True)
class JoinAddress:
    """How this server builds join links (see the module's docstring for the order)."""

    #: ``--public-url``, checked, without a trailing slash.
    public_url: str | None
    #: The address the server listens on (``--host``).
    listen_host: str
    #: The machine's LAN address, found at start when the server listens on every interface.
    lan_host: str | None = None

    @classmethod
    def for_server(cls, listen_host: str, public_url: str | None) -> JoinAddress:
        lan = lan_address() if public_url is None and listen_host in WILDCARDS else None
        return cls(public_url, listen_host, lan)

    def base_for(self, page_base: str) -> tuple[str, bool]:
        """``(base URL of the join link, whether other devices can reach it)`` for a page
        opened at ``page_base`` (``scheme://host[:port]``)."""
        if self.public_url is not None:
            return self.public_url, True
        parts = urlsplit(page_base)
        host = parts.hostname or ""
        if not is_loopback(host) and host.strip("[]") not in WILDCARDS:
            return page_base.rstrip("/"), True
        if self.listen_host in WILDCARDS:
            if self.lan_host is None:
                return page_base.rstrip("/"), False
            return _with_host(parts.scheme, self.lan_host, parts.port), True
        if is_loopback(self.listen_host):
            return page_base.rstrip("/"), False
        return _with_host(parts.scheme, self.listen_host, parts.port), True


def _with_host(scheme: str, host: str, port: int | None) -> str:
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    default = {"http": 80, "https": 443}.get(scheme)
    return f"{scheme}://{host}" if port in (None, default) else f"{scheme}://{host}:{port}"
