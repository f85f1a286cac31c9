"""The client's real address behind trusted reverse proxies: one rule for WebSocket and HTTP.

Why: every per-address limit (open connections per address, joins per address) counts by the
client's IP address. Behind nginx the TCP peer is nginx, so without this every player would share
one address and the first few hundred would lock everyone else out. A proxy says who its client
was in ``X-Forwarded-For``; but anyone can send that header, so it is believed only from peers the
operator named (``livequiz serve --trusted-proxy CIDR``). Default: nobody is trusted.

The rule (the one of nginx's ``real_ip_recursive on`` and uvicorn's proxy headers):

1. If the TCP peer is not in a trusted network, it is the client; the header is ignored entirely,
   so a client cannot forge its address.
2. Otherwise walk ``X-Forwarded-For`` from the right (each proxy appends the address it saw),
   skipping trusted addresses: the first untrusted one is the client.
3. An entry that is not an IP address stops the walk: the last good address seen is the client
   (a proxy we trust never writes garbage, so garbage came from further left, where the client
   could write anything).
4. If every entry is trusted, the leftmost is the client (a trusted host was the client).

Differences from uvicorn's ``ProxyHeadersMiddleware`` (why it is not used, see
:mod:`livequiz.transport.server`): uvicorn returns a non-IP entry as the client's "address"
(each made-up string a fresh budget) where we stop the walk, and it only sees HTTP requests,
not our WebSocket upgrades, which bypass ASGI.

Addresses are normalized (``ipaddress``'s text form; an IPv4-mapped IPv6 address becomes the
IPv4 address) so one client is counted once however a proxy spells it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = [
    "IPAddress",
    "IPNetwork",
    "TrustedProxyHeaders",
    "client_address",
    "parse_networks",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Longest text of one address entry worth parsing ("[ffff:…:ffff%zone]:65535" fits).
_MAX_ENTRY: Final = 64


def parse_networks(items: Iterable[str]) -> tuple[IPNetwork, ...]:
    """Networks from ``items``, each a CIDR (``10.0.0.0/8``, ``fd00::/8``) or a single address
    (``127.0.0.1`` = ``/32``); an item may hold several separated by commas; blanks are skipped.

    Raises ValueError naming the bad item: a host name (never resolved: a name is not a
    network), or a network with host bits set, which is almost always a typo
    (``10.0.0.1/8``: did you mean ``10.0.0.0/8``?).
    """
    networks: list[IPNetwork] = []
    for item in items:
        for part in item.split(","):
            text = part.strip()
            if not text:
                continue
            try:
                networks.append(ipaddress.ip_network(text, strict=True))
            except ValueError:
                try:
                    loose = ipaddress.ip_network(text, strict=False)
                except ValueError:
                    raise ValueError(
                        f"{text!r} is not an IP network (expected e.g. 10.0.0.0/8, "
                        "172.16.0.0/12, 127.0.0.1 or fd00::/8; host names are not resolved)"
                    ) from None
                raise ValueError(
                    f"{text!r} has host bits set: did you mean {loose.with_prefixlen}?"
                ) from None
    return tuple(dict.fromkeys(networks))


def _parse_address(text: str) -> IPAddress | None:
    """One address as a proxy writes it, or None if it is not one.

    Accepted: ``1.2.3.4``, ``1.2.3.4:5678``, ``2001:db8::1``, ``[2001:db8::1]`` and
    ``[2001:db8::1]:5678`` (some proxies add the client's port). The port is dropped: limits
    count addresses. IPv4-mapped IPv6 addresses become IPv4.
    """
    text = text.strip()
    if not text or len(text) > _MAX_ENTRY:
        return None
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not (rest[0] == ":" and rest[1:].isdigit())):
            return None
        text = host
    elif text.count(":") == 1:  # IPv4 with a port (a bare IPv6 address has at least two)
        text, _, port = text.partition(":")
        if not port.isdigit():
            return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: IPAddress, networks: Sequence[IPNetwork]) -> bool:
    # ``in`` is False across IP versions, so an IPv6 network never matches an IPv4 address.
    return any(address in network for network in networks)


def client_address(peer: str, forwarded_for: Iterable[str], trusted: Sequence[IPNetwork]) -> str:
    """The client's address: ``peer`` (the TCP peer's IP) unless it is a trusted proxy, then
    what ``forwarded_for`` (every ``X-Forwarded-For`` header value, in order) says by the rule
    in the module docstring.

    Pure and cheap: with no trusted network, ``peer`` is returned as it is (the header is not
    even read); otherwise a few ``ipaddress`` parses per upgrade or join request.
    """
    if not trusted:
        return peer
    current = _parse_address(peer)
    if current is None or not _trusted(current, trusted):
        return peer
    entries = [entry for value in forwarded_for for entry in value.split(",")]
    for entry in reversed(entries):
        address = _parse_address(entry)
        if address is None:
            break  # garbage: only the client could have written it; keep the last good one
        current = address
        if not _trusted(address, trusted):
            break
    return str(current)


class TrustedProxyHeaders:
    """ASGI middleware: the HTTP side of the same rule, for ``request.client.host``.

    Rewrites ``scope["client"]`` to ``(client address, 0)`` (the client's port is not known),
    and ``scope["scheme"]`` from the trusted proxy's ``X-Forwarded-Proto`` (``http``/``https``;
    the rightmost value, written by the nearest proxy), so URLs the API builds for the client
    (the QR code's join link) say ``https`` behind a TLS-terminating proxy. From an untrusted
    peer nothing is changed.
    """

    def __init__(self, app: ASGIApp, trusted: Sequence[IPNetwork]) -> None:
        self.app = app
        self.trusted = tuple(trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        # Only HTTP: WebSocket upgrades never reach ASGI here (the transport takes them, and
        # applies the same rule to Connection.address).
        if scope["type"] == "http" and client:
            peer = str(client[0])
            forwarded: list[str] = []
            proto = ""
            for name, value in scope["headers"]:
                if name == b"x-forwarded-for":
                    forwarded.append(value.decode("latin-1"))
                elif name == b"x-forwarded-proto":
                    proto = value.decode("latin-1").rpartition(",")[2].strip().lower()
            if forwarded or proto in ("http", "https"):
                address = _parse_address(peer)
                if address is not None and _trusted(address, self.trusted):
                    scope = dict(scope)
                    if forwarded:
                        scope["client"] = (client_address(peer, forwarded, self.trusted), 0)
                    if proto in ("http", "https"):
                        scope["scheme"] = proto
        await self.app(scope, receive, send)
