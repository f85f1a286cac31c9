"""A private nginx running the committed ``deploy/nginx.conf`` in front of test backends.

Usage::

    async with NginxProxy(backends=[srv.port, other.port]) as proxy:
        httpx.AsyncClient(base_url=proxy.url)   # http://127.0.0.1:<proxy.port>
        websockets.connect(proxy.ws_url)        # ws://127.0.0.1:<proxy.port>/ws

Why this way: the configuration that ships (``deploy/nginx.conf``) is what the tests run, so
it cannot rot. It is copied byte for byte, with exactly two differences, each checked to still
apply (:func:`render_config`, :func:`render_upstream`):

* its ``listen 8080;`` line listens on ``127.0.0.1:<a free port>`` instead;
* the ``livequiz-upstream.conf`` it includes lists the test's backends, with the server
  parameters (``max_fails``, ``fail_timeout``…) of the committed ``deploy/livequiz-upstream.conf``,
  whose host names only resolve inside Compose.

nginx runs as a subprocess in the foreground (``daemon off``) with its prefix (``-p``) in a
temporary directory, where the committed file's relative paths put the pid file and temp
directories; its stdout (access log) and stderr (error log) go to files there, readable through
:attr:`NginxProxy.access_log` and :attr:`NginxProxy.error_log`. Run as root, nginx's workers
switch to its compiled-in unprivileged user, so the directory is made world-readable.

Reusable for any backends: ports of in-process servers (``tests.server.running_server``) or of
``livequiz serve`` subprocesses, or ``(host, port)`` pairs.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

__all__ = [
    "DEPLOY",
    "NGINX",
    "NginxError",
    "NginxProxy",
    "check_config",
    "render_config",
    "render_upstream",
    "upstream_parameters",
    "upstreams_of",
]

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
NGINX_CONF = DEPLOY / "nginx.conf"
UPSTREAM_CONF = DEPLOY / "livequiz-upstream.conf"
#: The one line of nginx.conf the tests change (to listen on a free loopback port).
LISTEN_LINE = re.compile(r"^(\s*)listen 8080;$", re.MULTILINE)
_SERVER_LINE = re.compile(r"^\s*server\s+(?P<address>\S+)(?P<parameters>(?:\s+[^;\s]+)*)\s*;\s*$")


def _find_nginx() -> str | None:
    # Debian installs it in /usr/sbin, which is not on an ordinary user's PATH.
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")


#: The nginx binary, or None when nginx is not installed (``make nginx`` installs it).
NGINX = _find_nginx()

#: How long to wait for nginx to listen or to stop.
TIMEOUT_S = 10.0

Backend = int | tuple[str, int]


class NginxError(RuntimeError):
    """nginx refused the configuration or did not start; the message holds its error log."""


def upstream_parameters(text: str | None = None) -> str:
    """The server parameters shared by every line of ``livequiz-upstream.conf`` (committed one
    by default), e.g. ``" max_fails=2 fail_timeout=10s"``.

    Raises NginxError if the file has no server line, a line that is not ``server ADDRESS
    [PARAMETERS];``, or lines with different parameters (the tests could then not stand for
    every backend of the committed file).
    """
    if text is None:
        text = UPSTREAM_CONF.read_text()
    parameters: set[str] = set()
    for line in text.splitlines():
        stripped = line.split("#", 1)[0].strip()
        if not stripped:
            continue
        match = _SERVER_LINE.match(stripped)
        if match is None:
            raise NginxError(
                f"{UPSTREAM_CONF.name}: not a 'server ADDRESS [PARAMETERS];' line: {line!r}"
            )
        parameters.add(match["parameters"])
    if len(parameters) != 1:
        raise NginxError(
            f"{UPSTREAM_CONF.name}: need server lines that all share one set of parameters, "
            f"found {sorted(parameters) or 'none'}"
        )
    return parameters.pop()


def render_upstream(backends: Sequence[Backend], parameters: str | None = None) -> str:
    """``livequiz-upstream.conf`` for ``backends`` (ports on 127.0.0.1, or (host, port)) with
    the committed file's server parameters."""
    if not backends:
        raise ValueError("nginx needs at least one backend")
    if parameters is None:
        parameters = upstream_parameters()
    lines = ["# written by tests/deploy/nginx.py from deploy/livequiz-upstream.conf"]
    for backend in backends:
        host, port = ("127.0.0.1", backend) if isinstance(backend, int) else backend
        lines.append(f"server {host}:{port}{parameters};")
    return "\n".join(lines) + "\n"


def render_config(port: int, host: str = "127.0.0.1") -> str:
    """The committed ``nginx.conf`` listening on ``host:port`` instead of 8080."""
    text = NGINX_CONF.read_text()
    rendered, count = LISTEN_LINE.subn(rf"\g<1>listen {host}:{port};", text)
    if count != 1:
        raise NginxError(
            f"{NGINX_CONF}: expected exactly one 'listen 8080;' line for the tests to replace, "
            f"found {count}"
        )
    return rendered


def _write_prefix(prefix: Path, config: str, upstream: str) -> Path:
    conf_dir = prefix / "conf"
    conf_dir.mkdir(parents=True, exist_ok=True)
    (conf_dir / "nginx.conf").write_text(config)
    (conf_dir / UPSTREAM_CONF.name).write_text(upstream)
    prefix.chmod(0o755)  # nginx workers run as an unprivileged user when started as root
    conf_dir.chmod(0o755)
    return conf_dir / "nginx.conf"


def check_config(config: str, upstream: str) -> str:
    """``nginx -t`` on ``config`` with ``upstream`` as its livequiz-upstream.conf; returns
    nginx's output, raises NginxError with it when the configuration is refused."""
    if NGINX is None:
        raise NginxError("nginx is not installed")
    with tempfile.TemporaryDirectory(prefix="livequiz-nginx-t-") as tmp:
        conf = _write_prefix(Path(tmp), config, upstream)
        result = subprocess.run(
            [NGINX, "-t", "-p", f"{tmp}/", "-c", str(conf), "-e", "stderr"],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
        )
    output = result.stdout + result.stderr
    if result.returncode != 0:
        raise NginxError(f"nginx -t refused the configuration:\n{output}")
    return output


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class NginxProxy:
    """nginx with the committed configuration in front of ``backends``, for one ``async with``."""

    def __init__(self, backends: Sequence[Backend], host: str = "127.0.0.1") -> None:
        if NGINX is None:
            raise NginxError("nginx is not installed (make nginx, or apt-get install nginx)")
        self.backends = list(backends)
        self.host = host
        self.port = 0
        self._upstream = render_upstream(self.backends)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        """``http://host:port`` of the proxy, without a trailing slash."""
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        """``ws://host:port/ws`` through the proxy."""
        return f"ws://{self.host}:{self.port}/ws"

    @property
    def prefix(self) -> Path:
        assert self._tmp is not None, "not started"
        return Path(self._tmp.name)

    @property
    def access_log(self) -> str:
        """What nginx has logged of requests so far (the ``livequiz`` format of nginx.conf)."""
        return (self.prefix / "access.log").read_text(errors="replace")

    @property
    def error_log(self) -> str:
        return (self.prefix / "error.log").read_text(errors="replace")

    async def __aenter__(self) -> NginxProxy:
        self._tmp = tempfile.TemporaryDirectory(prefix="livequiz-nginx-")
        try:
            for _attempt in range(5):  # another process may take the free port before nginx
                if await self._start():
                    return self
            raise NginxError(f"nginx found no free port; error log:\n{self.error_log}")
        except BaseException:
            await self._stop()
            self._tmp.cleanup()
            raise

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self._stop()
        finally:
            assert self._tmp is not None
            self._tmp.cleanup()

    async def _start(self) -> bool:
        """Start nginx on a free port; False if that port was taken meanwhile."""
        assert NGINX is not None
        self.port = _free_port(self.host)
        conf = _write_prefix(self.prefix, render_config(self.port, self.host), self._upstream)
        with (
            open(self.prefix / "access.log", "ab") as stdout,
            open(self.prefix / "error.log", "ab") as stderr,
        ):
            self._process = await asyncio.create_subprocess_exec(
                NGINX,
                "-p",
                f"{self.prefix}/",
                "-c",
                str(conf),
                "-e",
                "stderr",
                "-g",
                "daemon off;",
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
            )
        async with asyncio.timeout(TIMEOUT_S):
            while True:
                if self._process.returncode is not None:
                    log = self.error_log
                    if "Address already in use" in log:
                        self._process = None
                        return False
                    raise NginxError(f"nginx exited with {self._process.returncode}:\n{log}")
                with contextlib.suppress(OSError):
                    _reader, writer = await asyncio.open_connection(self.host, self.port)
                    writer.close()
                    await writer.wait_closed()
                    return True
                await asyncio.sleep(0.02)

    async def _stop(self) -> None:
        """Fast shutdown (SIGTERM): a graceful one (SIGQUIT) would wait for open WebSockets."""
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(TIMEOUT_S):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()
            raise NginxError(f"nginx did not stop within {TIMEOUT_S} s") from None


def upstreams_of(log_line: str) -> list[str]:
    """The backends one access-log line says were tried, in order (the last one answered);
    empty for a request nginx answered itself."""
    match = re.search(r" upstream=(.*) status=", log_line)
    if match is None or match[1] == "-":
        return []
    return [address.strip() for address in re.split(r"[,:] (?=\S)", match[1]) if address != "-"]
