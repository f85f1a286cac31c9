"""The trusted-proxy rule (:mod:`livequiz.transport.proxy`) case by case, and how the operator
sets it (``livequiz serve --trusted-proxy`` / ``$LIVEQUIZ_TRUSTED_PROXIES``).

Over real sockets: tests/integration/test_trusted_proxies.py and tests/deploy/test_nginx.py.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import pytest

from livequiz.app import ServerConfig
from livequiz.cli import UsageError, _server_config, build_parser
from livequiz.transport import TransportLimits
from livequiz.transport.proxy import client_address, parse_networks

LOCAL_AND_PRIVATE = parse_networks(["127.0.0.1/32, 10.0.0.0/8", "fd00::/8"])


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        # No header: the peer, trusted or not.
        ("127.0.0.1", [], "127.0.0.1"),
        ("203.0.113.9", [], "203.0.113.9"),
        # A spoofed header from an untrusted peer is ignored entirely.
        ("203.0.113.9", ["198.51.100.1"], "203.0.113.9"),
        ("203.0.113.9", ["127.0.0.1"], "203.0.113.9"),
        ("203.0.113.9", ["garbage"], "203.0.113.9"),
        # A trusted peer (nginx on the host): the rightmost entry, the address nginx saw.
        ("127.0.0.1", ["198.51.100.1"], "198.51.100.1"),
        # A client's own made-up entries on the left do not matter: nginx appended the real one.
        ("127.0.0.1", ["1.1.1.1, 2.2.2.2, 198.51.100.1"], "198.51.100.1"),
        # A chain of trusted proxies is skipped from the right to the first untrusted entry.
        ("127.0.0.1", ["198.51.100.1, 10.1.2.3, 10.0.0.7"], "198.51.100.1"),
        # ...also when each proxy sent a header line of its own (joined in order).
        ("127.0.0.1", ["198.51.100.1", "10.1.2.3", "10.0.0.7"], "198.51.100.1"),
        # Everything trusted: the leftmost (a trusted host was itself the client).
        ("127.0.0.1", ["10.0.0.1, 10.0.0.2"], "10.0.0.1"),
        # Garbage stops the walk: the last good address seen is the client.
        ("127.0.0.1", ["garbage"], "127.0.0.1"),
        ("127.0.0.1", ["unknown, 10.0.0.5"], "10.0.0.5"),
        ("127.0.0.1", ["198.51.100.1, garbage, 10.0.0.5"], "10.0.0.5"),
        ("127.0.0.1", ["198.51.100.1,,10.0.0.5"], "10.0.0.5"),
        ("127.0.0.1", ["198.51.100.1, 999.1.1.1"], "127.0.0.1"),
        ("127.0.0.1", ["198.51.100.1/24"], "127.0.0.1"),
        ("127.0.0.1", ["x" * 5000], "127.0.0.1"),
        # An empty header, or only blanks: nothing forwarded, the peer.
        ("127.0.0.1", [""], "127.0.0.1"),
        ("127.0.0.1", [" , "], "127.0.0.1"),
        # IPv6: trusted peers and clients, normalized spelling, brackets and ports.
        ("fd00::1", ["2001:db8::1"], "2001:db8::1"),
        ("fd00::1", ["2001:DB8:0:0::1"], "2001:db8::1"),
        ("127.0.0.1", ["[2001:db8::1]"], "2001:db8::1"),
        ("127.0.0.1", ["[2001:db8::1]:4711"], "2001:db8::1"),
        ("127.0.0.1", ["[2001:db8::1]x"], "127.0.0.1"),
        ("127.0.0.1", ["[2001:db8::1"], "127.0.0.1"),
        ("::1", ["198.51.100.1"], "::1"),  # ::1 was not trusted (only 127.0.0.1/32)
        ("2001:db8::5", ["198.51.100.1"], "2001:db8::5"),
        # IPv4 with a port (some proxies add it); a bad port is garbage.
        ("127.0.0.1", ["198.51.100.1:5678"], "198.51.100.1"),
        ("127.0.0.1", ["198.51.100.1:http"], "127.0.0.1"),
        # An IPv4-mapped IPv6 address is the IPv4 address, as a peer and as an entry.
        ("::ffff:127.0.0.1", ["::ffff:198.51.100.1"], "198.51.100.1"),
        ("::ffff:203.0.113.9", ["198.51.100.1"], "::ffff:203.0.113.9"),
    ],
)
def test_the_client_address_rule(peer: str, forwarded: list[str], expected: str) -> None:
    assert client_address(peer, forwarded, LOCAL_AND_PRIVATE) == expected


def test_with_no_trusted_proxy_the_header_is_never_read() -> None:
    def header() -> Iterator[str]:
        raise AssertionError("the header was read")
        yield "198.51.100.1"

    assert client_address("127.0.0.1", header(), ()) == "127.0.0.1"


def test_a_peer_that_is_no_ip_address_is_kept_and_never_trusted() -> None:
    # A Unix socket peer (uvicorn --uds) has no IP address; nothing to trust.
    assert client_address("/run/livequiz.sock", ["198.51.100.1"], LOCAL_AND_PRIVATE) == (
        "/run/livequiz.sock"
    )


def test_networks_parse_from_repeated_and_comma_separated_items() -> None:
    networks = parse_networks(
        ["127.0.0.1/32,10.0.0.0/8", " 172.16.0.0/12 ", "::1", "", "10.0.0.0/8"]
    )
    assert networks == (
        ipaddress.ip_network("127.0.0.1/32"),
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("172.16.0.0/12"),
        ipaddress.ip_network("::1/128"),
    )
    assert parse_networks([]) == ()
    assert parse_networks([" , "]) == ()


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("localhost", "'localhost' is not an IP network"),
        ("10.0.0.0/33", "'10.0.0.0/33' is not an IP network"),
        ("10.0.0.1/8", "'10.0.0.1/8' has host bits set: did you mean 10.0.0.0/8?"),
    ],
)
def test_a_bad_network_is_refused_with_the_reason(item: str, message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("?", r"\?")):
        parse_networks(["127.0.0.1", item])


def test_transport_limits_take_networks_only() -> None:
    with pytest.raises(TypeError, match="tuple of ipaddress networks"):
        TransportLimits(trusted_proxies=("10.0.0.0/8",))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="tuple of ipaddress networks"):
        TransportLimits(trusted_proxies=list(LOCAL_AND_PRIVATE))  # type: ignore[arg-type]
    assert TransportLimits(trusted_proxies=LOCAL_AND_PRIVATE).trusted_proxies == LOCAL_AND_PRIVATE


# ------------------------------------------------------------------ the option and the variable


def serve_config(argv: list[str]) -> ServerConfig:
    config: ServerConfig = _server_config(build_parser().parse_args(["serve", *argv]))
    return config


def test_by_default_no_proxy_is_trusted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LIVEQUIZ_TRUSTED_PROXIES", raising=False)
    assert serve_config([]).trusted_proxies == ()
    assert ServerConfig().trusted_proxies == ()


def test_the_option_repeats_and_takes_commas(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LIVEQUIZ_TRUSTED_PROXIES", raising=False)
    config = serve_config(["--trusted-proxy", "127.0.0.1/32,10.0.0.0/8", "--trusted-proxy", "::1"])
    assert config.trusted_proxies == parse_networks(["127.0.0.1/32", "10.0.0.0/8", "::1"])


def test_the_variable_applies_when_the_option_is_not_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LIVEQUIZ_TRUSTED_PROXIES", "172.16.0.0/12, fd00::/8")
    assert serve_config([]).trusted_proxies == parse_networks(["172.16.0.0/12", "fd00::/8"])
    # The option wins over the variable.
    assert serve_config(["--trusted-proxy", "127.0.0.1"]).trusted_proxies == parse_networks(
        ["127.0.0.1"]
    )


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["--trusted-proxy", "nginx"], "", "--trusted-proxy: 'nginx' is not an IP network"),
        ([], "10.0.0.0/8,10.1.0.0/8", "LIVEQUIZ_TRUSTED_PROXIES: '10.1.0.0/8' has host bits"),
    ],
)
def test_a_bad_network_is_a_usage_error_naming_where_it_came_from(
    argv: list[str], env: str, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIVEQUIZ_TRUSTED_PROXIES", env)
    with pytest.raises(UsageError, match="^" + message):
        serve_config(argv)
