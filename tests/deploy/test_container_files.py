"""The container files (deploy/Dockerfile, deploy/compose.yaml, deploy/prometheus.yml) checked as
far as this machine allows: it has no container engine, so nothing here builds or starts them.

What is checked: every service has an image or a build; the livequiz commands parse with the real
``livequiz serve`` parser (the options still being added, --database and --bus, are allowed as
expected until the parser has them); nginx's upstream list, Prometheus's targets and the compose
services agree; ``nginx -t`` accepts the committed nginx.conf; ``promtool check config`` accepts
prometheus.yml; the Dockerfile's health check command works against a real server.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from livequiz.cli import _server_config, build_parser
from tests.deploy.nginx import DEPLOY, NGINX, check_config, upstream_parameters
from tests.server import running_server

REPO = DEPLOY.parent
COMPOSE: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
LIVEQUIZ = sorted(name for name in SERVICES if name.startswith("livequiz-"))
DOCKERFILE = (DEPLOY / "Dockerfile").read_text()

#: ``livequiz serve`` options the compose file uses that are being added on another branch
#: (PostgreSQL store, NATS bus). Allowed while the parser does not know them; once it does, they
#: are parsed like every other option.
EXPECTED_OPTIONS = {"--database": "postgresql://", "--bus": "nats://"}

PROMTOOL = shutil.which("promtool")


def _address(service: str) -> str:
    return str(SERVICES[service]["networks"]["livequiz"]["ipv4_address"])


def _serve_args(service: str) -> list[str]:
    """The service's command as ``livequiz`` arguments (the image's entry point is livequiz)."""
    command = SERVICES[service]["command"]
    return shlex.split(command) if isinstance(command, str) else [str(arg) for arg in command]


def _dockerfile_instruction(name: str) -> list[str]:
    """Every ``NAME ...`` instruction's text, continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    return [
        line.split(None, 1)[1]
        for line in joined.splitlines()
        if line.upper().startswith(name + " ")
    ]


def test_the_stack_has_every_service_with_an_image_or_a_build() -> None:
    assert set(SERVICES) == {*LIVEQUIZ, "postgres", "nats", "nginx", "prometheus", "grafana"}
    assert len(LIVEQUIZ) == 3
    for name, service in SERVICES.items():
        assert "image" in service or "build" in service, name
        image = str(service.get("image", ""))
        assert ":" in image, f"{name}: pin the image's version ({image})"
        assert not image.endswith(":latest"), f"{name}: pin the image's version ({image})"
    assert SERVICES["postgres"]["image"].startswith("postgres:15")
    assert "-js" in SERVICES["nats"]["command"], "NATS without JetStream"
    for name in LIVEQUIZ:
        build = SERVICES[name]["build"]
        assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == DEPLOY / "Dockerfile"


def test_the_livequiz_commands_are_real_serve_options() -> None:
    parser = build_parser()
    for name in LIVEQUIZ:
        argv = _serve_args(name)
        assert argv[0] == "serve", (name, argv)
        args, unknown = parser.parse_known_args(argv)
        # What the parser does not know must be exactly the expected options with their value.
        given = dict(zip(unknown[::2], unknown[1::2], strict=True))
        assert set(given) <= set(EXPECTED_OPTIONS), f"{name}: unknown options {unknown}"
        for option, scheme in EXPECTED_OPTIONS.items():
            value = given.get(option) or getattr(args, option.strip("-"), None)
            assert value is not None, f"{name}: no {option}"
            assert str(value).startswith(scheme), (name, option, value)
            given[option] = str(value)
        assert "@postgres:5432/" in given["--database"]
        assert given["--bus"] == "nats://nats:4222"
        config = _server_config(args)  # the values pass the same checks as on a command line
        assert config.host == "0.0.0.0"
        assert config.port == 8000
        # The backends trust nginx, and only nginx.
        nginx = ipaddress.ip_address(_address("nginx"))
        assert [nginx in network for network in config.trusted_proxies] == [True]
        assert not any(
            ipaddress.ip_address(_address(other)) in network
            for other in SERVICES
            if other != "nginx"
            for network in config.trusted_proxies
        )


def test_the_image_listens_where_the_stack_and_the_health_check_look() -> None:
    assert re.search(r"^FROM python:3\.11-slim\s*$", DOCKERFILE, re.MULTILINE)
    users = _dockerfile_instruction("USER")
    assert users, "the image must not run as root"
    assert users[-1].strip() not in ("root", "0"), "the image must not run as root"
    assert _dockerfile_instruction("EXPOSE") == ["8000"]
    assert _dockerfile_instruction("ENTRYPOINT") == ['["livequiz"]']
    (healthcheck,) = _dockerfile_instruction("HEALTHCHECK")
    assert "http://127.0.0.1:8000/healthz" in healthcheck
    for source in re.findall(r"^COPY (?!--from)(.+) \S+$", DOCKERFILE, re.MULTILINE):
        for path in source.split():
            assert (REPO / path).exists(), f"Dockerfile copies {path}, which does not exist"
    build_args = [str(a) for a in SERVICES["livequiz-1"]["command"]]
    assert build_args[build_args.index("--port") + 1] == "8000"


async def test_the_health_check_command_passes_on_a_server_and_fails_without_one() -> None:
    (healthcheck,) = _dockerfile_instruction("HEALTHCHECK")
    exec_form = healthcheck[healthcheck.index("CMD") + 3 :].strip()
    command: list[str] = yaml.safe_load(exec_form)  # a JSON array: YAML reads it as is
    assert command[0] == "python"
    assert command[1] == "-c"

    async def run(port: int) -> int:
        """The health check's script, here against ``port`` instead of the image's 8000."""
        script = command[2].replace(":8000/", f":{port}/")
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", script, stderr=asyncio.subprocess.DEVNULL
        )
        async with asyncio.timeout(10):
            return await process.wait()

    async with running_server() as srv:
        port = srv.port
        assert await run(port) == 0
    assert await run(port) != 0  # the server is gone


def test_nginx_sends_to_the_compose_livequiz_services() -> None:
    upstream = (DEPLOY / "livequiz-upstream.conf").read_text()
    servers = re.findall(r"^server (\S+)", upstream, re.MULTILINE)
    assert servers == [f"{name}:8000" for name in LIVEQUIZ]
    assert upstream_parameters(upstream)  # one set of parameters, which the tests use
    nginx = SERVICES["nginx"]
    command = nginx["command"]
    conf = command[command.index("-c") + 1]
    mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in nginx["volumes"]}
    assert mounts[conf] == "./nginx.conf"
    # nginx.conf includes the upstream file by a path relative to its own directory.
    assert mounts[str(Path(conf).parent / "livequiz-upstream.conf")] == "./livequiz-upstream.conf"
    assert "8080:8080" in nginx["ports"]


def test_prometheus_scrapes_every_livequiz_service() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    (job,) = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    targets = [target for group in job["static_configs"] for target in group["targets"]]
    assert targets == [f"{name}:8000" for name in LIVEQUIZ]
    mounts = [str(volume) for volume in SERVICES["prometheus"]["volumes"]]
    assert "./prometheus.yml:/etc/prometheus/prometheus.yml:ro" in mounts


@pytest.mark.skipif(NGINX is None, reason="nginx is not installed (make deploy-tools)")
def test_nginx_accepts_the_committed_configuration() -> None:
    # As committed, but for the backends' names, which only resolve inside the compose network.
    upstream = (DEPLOY / "livequiz-upstream.conf").read_text()
    local = re.sub(r"^server livequiz-\d+:", "server 127.0.0.1:", upstream, flags=re.MULTILINE)
    assert local != upstream
    output = check_config((DEPLOY / "nginx.conf").read_text(), local)
    assert "test is successful" in output, output
    assert "[warn]" not in output, output


@pytest.mark.skipif(
    PROMTOOL is None, reason="promtool is not installed (make deploy-tools: Debian's prometheus)"
)
def test_promtool_accepts_the_prometheus_configuration() -> None:
    assert PROMTOOL is not None
    result = subprocess.run(
        [PROMTOOL, "check", "config", str(DEPLOY / "prometheus.yml")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
