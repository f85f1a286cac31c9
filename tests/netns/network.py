"""Hosts on one machine: network namespaces joined to the root namespace by links that fail.

Each *host* is a network namespace with two links to the root namespace, each to a bridge there:

* the **service link** (``10.231.N.0/24``): the private PostgreSQL and NATS listen on the
  bridge's address ``10.231.N.1``; host ``i`` is ``10.231.N.(10+i)``;
* the **client link** (``10.232.N.0/24``): the test's clients, in the root namespace, reach host
  ``i`` at ``10.232.N.(10+i)``.

Two links, so that a test can cut a process off from the database and the bus while a client
still reaches it and asks it to do what it can no longer do; :meth:`Topology.cut` can also cut
both. A cut sets the root end of the link down: the host's end loses its carrier, packets are
dropped without a reset, and open TCP connections hang until the link is back — a pulled cable
or a partition, not a refused connection.

A link is a veth pair, or, for :meth:`Topology.impair` on a kernel without ``sch_netem``, a
:mod:`tests.netns.wire` process copying frames between two TAP devices with the delay and loss.

Names are unique to the run (a random tag; namespaces also carry the pid) so parallel runs do
not clash, and everything is removed on exit, even when a test fails: by ``async with``, by an
``atexit`` hook, and at the next start, which removes what a killed run (pid gone) left behind.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import random
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import orjson

#: The first two octets of the service and client networks (third octet: per run).
SERVICE_NET = "10.231"
CLIENT_NET = "10.232"
#: Marks the root namespace's devices of a run, with its pid (``ip link … alias``).
ALIAS = "livequiz-netns"
#: Namespaces are named ``lq-<pid>-<tag>-h<i>``.
NAMESPACE = re.compile(r"^lq-(\d+)-[0-9a-f]+-h\d+$")
ROOT = Path(__file__).resolve().parents[2]

#: Topologies not yet torn down, for the exit hook.
_LIVE: set[Topology] = set()


@atexit.register
def _tear_down_left_over() -> None:
    for topology in list(_LIVE):
        topology.tear_down()


def unavailable() -> str | None:
    """Why hosts cannot be made here (``None`` if they can): root, ``ip``, TAP/veth."""
    if sys.platform != "linux":
        return "network namespaces are Linux only"
    if os.geteuid() != 0:
        return "not root (ip netns add needs CAP_SYS_ADMIN and CAP_NET_ADMIN)"
    if shutil.which("ip") is None:
        return "no ip command (Debian's iproute2)"
    probe = f"lq-{os.getpid()}-{secrets.token_hex(3)}-h0"
    made = _run("ip", "netns", "add", probe, check=False)
    if made.returncode != 0:
        return f"ip netns add failed: {made.stderr.strip()}"
    _run("ip", "netns", "delete", probe, check=False)
    return None


def netem_available() -> bool:
    """Whether this kernel has ``sch_netem`` (``tc qdisc add … netem`` works)."""
    if shutil.which("tc") is None:
        return False
    probe = f"lq-{os.getpid()}-{secrets.token_hex(3)}-h0"
    try:
        _run("ip", "netns", "add", probe)
        tried = _run(
            "ip", "netns", "exec", probe, "tc", "qdisc", "add", "dev", "lo", "root", "netem",
            "delay", "1ms", check=False,
        )  # fmt: skip
        return tried.returncode == 0
    finally:
        _run("ip", "netns", "delete", probe, check=False)


def _run(*command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=30)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)}: {done.stderr.strip() or done.stdout.strip()}")
    return done


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_left_overs() -> None:
    """Remove namespaces and devices of earlier runs whose process is gone."""
    for line in _run("ip", "netns", "list", check=False).stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        found = NAMESPACE.match(name)
        if found and not _pid_alive(int(found.group(1))):
            _run("ip", "netns", "delete", name, check=False)
    for line in _run("ip", "-o", "link", "show", check=False).stdout.splitlines():
        alias = re.search(rf"alias {ALIAS} (\d+)", line)
        device = re.match(r"^\d+:\s+([^:@]+)", line)
        if alias and device and not _pid_alive(int(alias.group(1))):
            _run("ip", "link", "delete", device.group(1), check=False)


def _free_octet() -> int:
    """A third octet no address of this machine uses in either network."""
    used = _run("ip", "-o", "-4", "addr", "show", check=False).stdout
    free = [
        n
        for n in range(1, 255)
        if f"{SERVICE_NET}.{n}." not in used and f"{CLIENT_NET}.{n}." not in used
    ]
    if not free:
        raise RuntimeError(f"no free {SERVICE_NET}.N/24 network")
    return random.choice(free)


@dataclass
class Host:
    """One namespace: its name, addresses and the root ends of its two links."""

    index: int
    namespace: str
    service_address: str
    client_address: str
    #: root-namespace device of each link, by link name ("service", "client")
    root_ends: dict[str, str] = field(default_factory=dict)
    cut_links: set[str] = field(default_factory=set)

    def exec_prefix(self) -> list[str]:
        return ["ip", "netns", "exec", self.namespace]


class Topology:
    """The bridges, the hosts and their links (see the module docstring)."""

    def __init__(self, hosts: int, *, wire: bool = False) -> None:
        """``wire``: links are :mod:`tests.netns.wire` processes (impairable without netem)
        instead of veth pairs."""
        self.count = hosts
        self.wire = wire
        self.tag = secrets.token_hex(2)
        self.octet = 0
        self.hosts: list[Host] = []
        self.bridges: dict[str, str] = {}
        self._directory = Path(tempfile.mkdtemp(prefix="livequiz-netns-"))
        self._settings = self._directory / "wire.json"
        self._wire: subprocess.Popen[bytes] | None = None
        self.impairment: dict[str, float] = {}

    @property
    def service_gateway(self) -> str:
        """Where PostgreSQL and NATS listen (the root namespace's service bridge)."""
        return f"{SERVICE_NET}.{self.octet}.1"

    @property
    def service_network(self) -> str:
        return f"{SERVICE_NET}.{self.octet}.0/24"

    # ------------------------------------------------------------------ life cycle

    def build(self) -> None:
        sweep_left_overs()
        _LIVE.add(self)
        self.octet = _free_octet()
        pid = os.getpid()
        for link, net in (("service", SERVICE_NET), ("client", CLIENT_NET)):
            bridge = f"lq{self.tag}{link[0]}"
            _run("ip", "link", "add", bridge, "type", "bridge")
            self.bridges[link] = bridge
            _run("ip", "link", "set", bridge, "alias", f"{ALIAS} {pid}")
            _run("ip", "addr", "add", f"{net}.{self.octet}.1/24", "dev", bridge)
            _run("ip", "link", "set", bridge, "up")
        for index in range(1, self.count + 1):
            host = Host(
                index,
                f"lq-{pid}-{self.tag}-h{index}",
                f"{SERVICE_NET}.{self.octet}.{10 + index}",
                f"{CLIENT_NET}.{self.octet}.{10 + index}",
            )
            _run("ip", "netns", "add", host.namespace)
            self.hosts.append(host)
            _run(*host.exec_prefix(), "ip", "link", "set", "lo", "up")
            for link in ("service", "client"):
                host.root_ends[link] = f"lq{self.tag}{link[0]}{index}"
        if self.wire:
            self._start_wire()
        for host in self.hosts:
            for link in ("service", "client"):
                root_end, inside = host.root_ends[link], f"lq{link[0]}{self.tag}{host.index}i"
                if not self.wire:
                    _run(
                        "ip", "link", "add", root_end, "type", "veth",
                        "peer", "name", inside, "netns", host.namespace,
                    )  # fmt: skip
                else:
                    _run("ip", "link", "set", inside, "netns", host.namespace)
                _run("ip", "link", "set", root_end, "alias", f"{ALIAS} {pid}")
                _run("ip", "link", "set", root_end, "master", self.bridges[link], "up")
                address = host.service_address if link == "service" else host.client_address
                inner = [*host.exec_prefix(), "ip"]
                _run(*inner, "addr", "add", f"{address}/24", "dev", inside)
                _run(*inner, "link", "set", inside, "up")

    def _start_wire(self) -> None:
        self._settings.write_bytes(orjson.dumps({"delay_ms": 0, "jitter_ms": 0, "loss": 0}))
        pairs = [
            f"{host.root_ends[link]}:lq{link[0]}{self.tag}{host.index}i"
            for host in self.hosts
            for link in ("service", "client")
        ]
        with (self._directory / "wire.log").open("wb") as log:  # the child keeps its own copy
            self._wire = subprocess.Popen(
                [sys.executable, "-m", "tests.netns.wire", str(self._settings), *pairs],
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log,
            )
        assert self._wire.stdout is not None
        if self._wire.stdout.readline().strip() != b"ready":
            said = (self._directory / "wire.log").read_text(errors="replace")
            raise RuntimeError(f"the wire process did not start: {said}")

    def tear_down(self) -> None:
        """Remove every namespace, device and process of this topology; safe to call twice."""
        _LIVE.discard(self)
        if self._wire is not None:
            self._wire.terminate()
            try:
                self._wire.wait(10)
            except subprocess.TimeoutExpired:
                self._wire.kill()
                self._wire.wait()
            if self._wire.stdout is not None:
                self._wire.stdout.close()
            self._wire = None
        for host in self.hosts:
            _run("ip", "netns", "delete", host.namespace, check=False)
        for host in self.hosts:  # veth root ends go with their peers; make sure
            for device in host.root_ends.values():
                if _exists(device):
                    _run("ip", "link", "delete", device, check=False)
        for bridge in self.bridges.values():
            _run("ip", "link", "delete", bridge, check=False)
        self.hosts, self.bridges = [], {}
        shutil.rmtree(self._directory, ignore_errors=True)

    def __enter__(self) -> Topology:
        try:
            self.build()
        except BaseException:
            self.tear_down()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.tear_down()

    # ------------------------------------------------------------------ faults

    def cut(self, host: Host, links: tuple[str, ...] = ("service",)) -> None:
        """Pull the cable(s): the root end of each link down."""
        for link in links:
            _run("ip", "link", "set", host.root_ends[link], "down")
            host.cut_links.add(link)

    def restore(self, host: Host) -> None:
        for link in sorted(host.cut_links):
            _run("ip", "link", "set", host.root_ends[link], "up")
        host.cut_links.clear()

    @contextlib.contextmanager
    def cut_off(self, host: Host, links: tuple[str, ...] = ("service",)) -> Iterator[None]:
        self.cut(host, links)
        try:
            yield
        finally:
            self.restore(host)

    def impair(self, delay_ms: float, jitter_ms: float, loss: float) -> str:
        """Delay and loss on every link, both directions; returns how (``tc netem`` or the
        user-space wire). ``impair(0, 0, 0)`` takes it off."""
        self.impairment = {"delay_ms": delay_ms, "jitter_ms": jitter_ms, "loss": loss}
        if self.wire:
            assert self._wire is not None
            self._settings.write_bytes(orjson.dumps(self.impairment))
            self._wire.send_signal(1)  # SIGHUP: read the settings again
            return "wire"
        for host in self.hosts:
            for link in ("service", "client"):
                inside = f"lq{link[0]}{self.tag}{host.index}i"
                for prefix, device in (([], host.root_ends[link]), (host.exec_prefix(), inside)):
                    _run(*prefix, "tc", "qdisc", "del", "dev", device, "root", check=False)
                    if delay_ms or loss:
                        _run(
                            *prefix, "tc", "qdisc", "add", "dev", device, "root", "netem",
                            "delay", f"{delay_ms}ms", f"{jitter_ms}ms", "loss", f"{loss * 100}%",
                        )  # fmt: skip
        return "tc netem"


def _exists(device: str) -> bool:
    return _run("ip", "link", "show", device, check=False).returncode == 0
