"""The package as a user gets it: a wheel built from this tree, installed into a clean venv.

A checkout runs from ``src/`` (an editable install), so it never notices a file the wheel leaves
out (the vocabulary deck and its licence notice, the web pages) until someone installs the wheel
and the server fails at its first quiz or serves a page without its script. So these tests build
the wheel as a user would (``pip wheel``, with the build backend pinned in ``pyproject.toml`` in
an isolated build environment: the development environment's own setuptools is older and refuses
the ``license`` field as written), install it with its dependencies into a fresh virtual
environment, and use it from there only, in a directory where the source tree cannot be imported
by accident.

The wheel is built from a copy of the working tree (without what ``.gitignore`` leaves out), so
building writes nothing into the checkout and sees the tree as it is, uncommitted files
included. Building and installing happen once for the module. They need the package index (PyPI,
or the one pip is configured with); where it cannot be reached the tests skip saying why, and in
CI (``CI=true``) that skip fails the run.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from livequiz.cli import main

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
NAME: str = PROJECT["name"]
VERSION: str = PROJECT["version"]

#: Never copied for the build, wherever they are: version control, environments, caches.
NEVER_COPIED = {
    ".git",
    ".venv",
    "__pycache__",
    "node_modules",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".hypothesis",
}
#: Not copied at the top of the tree: build output and what runs leave behind (.gitignore).
NOT_COPIED_AT_ROOT = {"build", "dist", "data", "mutants", ".mutation-pg", ".fuzz"}

#: What pip says when the package index cannot be reached (as opposed to a real build or
#: install failure, which must fail the test).
UNREACHABLE = (
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Name or service not known",
    "Network is unreachable",
    "No route to host",
    "ConnectTimeoutError",
    "ReadTimeoutError",
    "ProxyError",
)

#: Generous: building and installing run beside the rest of the suite on a busy machine.
PIP_TIMEOUT_S = 900
SERVER_TIMEOUT_S = 60


@dataclass(frozen=True)
class Installed:
    """The wheel, the tree it was built from, and the fresh venv it is installed in."""

    source: Path
    wheel: Path
    venv: Path
    #: An empty directory: the working directory of every command run from the venv.
    workdir: Path
    #: The environment of those commands: nothing that points Python at the source tree.
    env: dict[str, str]

    def bin(self, name: str) -> Path:
        return self.venv / ("Scripts" if os.name == "nt" else "bin") / name

    def run(self, *args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(arg) for arg in args],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def _ignore(directory: str, names: list[str]) -> set[str]:
    here = Path(directory)
    ignored = {n for n in names if n in NEVER_COPIED or n.endswith((".egg-info", ".pyc"))}
    if here == ROOT:
        ignored |= {n for n in names if n in NOT_COPIED_AT_ROOT or n.startswith(".coverage")}
    if here == ROOT / "bench":
        ignored |= {"results"} & set(names)
    return ignored


def _copy(source: str, target: str) -> object:
    """``shutil.copy2``, except for a file that went away between listing and copying (an
    editor's or a test run's temporary file): the build must not fail over it."""
    try:
        return shutil.copy2(source, target)
    except FileNotFoundError:
        return target


def _clean_env() -> dict[str, str]:
    """This process's environment without what would make the fresh venv's Python find the
    source tree or this venv (``PYTHONPATH``, an active virtualenv) instead of its own files."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTHON", "COV_CORE", "COVERAGE")) and key != "VIRTUAL_ENV"
    }
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _index_unreachable() -> str | None:
    """Why the package index pip uses (``PIP_INDEX_URL``, else PyPI) cannot be reached, or
    ``None`` if it answers."""
    index = os.environ.get("PIP_INDEX_URL") or "https://pypi.org/simple/"
    try:  # HEAD: PyPI's full list of projects is large
        with urllib.request.urlopen(urllib.request.Request(index, method="HEAD"), timeout=10):
            return None
    except urllib.error.HTTPError:
        return None  # it answered
    except (OSError, ValueError) as error:
        return f"{index}: {error}"


def _pip(args: list[str | Path], doing: str, *, cwd: Path, env: dict[str, str]) -> None:
    """Run a pip command; skip if it could not reach the package index, fail if it failed."""
    try:
        result = subprocess.run(
            [str(arg) for arg in args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=PIP_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{doing} took more than {PIP_TIMEOUT_S} s")
    if result.returncode == 0:
        return
    output = result.stdout + result.stderr
    for line in output.splitlines():
        if any(marker in line for marker in UNREACHABLE):
            pytest.skip(f"{doing} needs the package index, which cannot be reached: {line.strip()}")
    # pip without retries says only that it found no version: ask the index itself
    unreachable = _index_unreachable() if "(from versions: none)" in output else None
    if unreachable is not None:
        pytest.skip(f"{doing} needs the package index, which cannot be reached: {unreachable}")
    pytest.fail(f"{doing} failed (exit status {result.returncode}):\n{output[-6000:]}")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """Build the wheel from a copy of the tree and install it into a new venv, once."""
    base = tmp_path_factory.mktemp("packaging")
    env = _clean_env()
    source = base / "source"
    shutil.copytree(ROOT, source, ignore=_ignore, symlinks=True, copy_function=_copy)
    dist = base / "dist"
    _pip(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", dist, source],
        "building the wheel",
        cwd=base,
        env=env,
    )
    wheels = sorted(dist.glob("*.whl"))
    assert len(wheels) == 1, f"pip wheel made {[w.name for w in wheels]}, expected one wheel"
    # A venv without pip of its own, installed into by this environment's pip (--python): the
    # same packages as a venv with pip would get, in half the time (no ensurepip, a faster pip);
    # and no bytecode compiled ahead, which the tests do not need.
    venv = base / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", venv],
        check=True,
        capture_output=True,
        timeout=120,
    )
    workdir = base / "work"
    workdir.mkdir()
    result = Installed(source=source, wheel=wheels[0], venv=venv, workdir=workdir, env=env)
    install: list[str | Path] = ["install", "--no-input", "--no-compile", result.wheel]
    _pip(
        [sys.executable, "-m", "pip", "--python", result.bin("python"), *install],
        "installing the wheel with its dependencies",
        cwd=workdir,
        env=env,
    )
    return result


def _package_files(package: Path) -> dict[str, str]:
    """Every file of a package directory but compiled bytecode: relative path → SHA-256."""
    return {
        path.relative_to(package).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(package.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


def test_the_wheel_holds_the_whole_package_and_nothing_else(installed: Installed) -> None:
    names = zipfile.ZipFile(installed.wheel).namelist()
    dist_info = f"{NAME}-{VERSION}.dist-info/"
    assert installed.wheel.name.startswith(f"{NAME}-{VERSION}-")
    # only the package and its metadata: no tests, docs, bench scripts, caches or bytecode
    outside = [n for n in names if not n.startswith((f"{NAME}/", dist_info))]
    assert outside == []
    assert [n for n in names if "__pycache__" in n or n.endswith(".pyc")] == []
    # every file of src/livequiz, Python or not (the deck, its notice, the pages, py.typed)
    expected = {f"{NAME}/{path}" for path in _package_files(installed.source / "src" / NAME)}
    assert expected - set(names) == set()
    assert {f"{NAME}/vocabulary/data/vocabulary.jsonl", f"{NAME}/web/static/play.html"} <= expected
    # the licences travel in the metadata too
    licences = {n.rsplit("/", 1)[-1] for n in names if n.startswith(f"{dist_info}licenses/")}
    assert {"LICENSE", "NOTICE.md"} <= licences


def test_livequiz_version_from_the_installed_wheel(installed: Installed) -> None:
    result = installed.run(installed.bin("livequiz"), "--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"livequiz {VERSION}"


#: Run by the fresh venv's interpreter in isolated mode (no current directory, no PYTHON*
#: variables on its path): where the package was imported from, the deck it loads.
PROBE = """
import json, livequiz
from livequiz.vocabulary import Deck
print(json.dumps({"file": livequiz.__file__, "deck": len(Deck.builtin())}))
"""


def test_the_installed_package_is_the_source_package_with_its_data(installed: Installed) -> None:
    result = installed.run(installed.bin("python"), "-I", "-c", PROBE)
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout)
    package = Path(probe["file"]).resolve().parent
    assert package.is_relative_to(installed.venv.resolve()), package  # not the source tree
    installed_files = _package_files(package)
    source_files = _package_files(installed.source / "src" / NAME)
    # the same files, byte for byte: the whole deck (not a truncated copy), its licence
    # notice, every page, script and style sheet
    assert installed_files == source_files
    # and the deck loads from it with every entry
    deck = installed.source / "src" / NAME / "vocabulary" / "data" / "vocabulary.jsonl"
    entries = [line for line in deck.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert probe["deck"] == len(entries)
    notice = (package / "vocabulary" / "data" / "NOTICE.md").read_text(encoding="utf-8")
    assert "WordNet 3.0 Copyright 2006 by Princeton University" in notice


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_until_healthy(
    client: httpx.Client, process: subprocess.Popen[bytes], stderr_path: Path
) -> None:
    deadline = time.monotonic() + SERVER_TIMEOUT_S
    while True:
        try:
            if client.get("/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert process.poll() is None, stderr_path.read_text()
        assert time.monotonic() < deadline, "the installed server did not start"
        time.sleep(0.1)


def test_the_installed_server_serves_its_pages_and_a_quiz(
    installed: Installed, tmp_path: Path
) -> None:
    port = _free_port()
    stderr_path = tmp_path / "stderr.log"
    command = [installed.bin("livequiz"), "serve", "--port", str(port)]
    command += ["--data-dir", tmp_path / "data"]
    with stderr_path.open("w") as stderr:
        process = subprocess.Popen(
            [str(arg) for arg in command],
            cwd=installed.workdir,
            env=installed.env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            _wait_until_healthy(client, process, stderr_path)
            assets: set[str] = set()
            for page in ("/", "/play", "/host", "/screen"):
                response = client.get(page)
                assert response.status_code == 200, page
                assert response.headers["content-type"].startswith("text/html"), page
                assert response.text.lstrip().lower().startswith("<!doctype html"), page
                assets.update(re.findall(r'(?:src|href)="(/static/[^"]+)"', response.text))
            # the scripts and the style sheet the pages load come from the package too
            assert assets
            for asset in sorted(assets):
                loaded = client.get(asset)
                assert loaded.status_code == 200, asset
                assert loaded.content, asset
            # a quiz from the built-in deck: its questions come from the installed data
            created = client.post("/api/quizzes", json={"count": 5, "seed": 7})
            assert created.status_code == 201, created.text
            quiz = created.json()
            assert quiz["questions"] == 5
            state = client.get(f"/api/quizzes/{quiz['pin']}")
            assert state.status_code == 200, state.text
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=SERVER_TIMEOUT_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    log = stderr_path.read_text()
    assert process.returncode == 0, log  # a graceful stop
    assert "Traceback" not in log


def test_version_of_the_development_install(capsys: pytest.CaptureFixture[str]) -> None:
    """``livequiz --version`` prints the version in the package's metadata (pyproject.toml),
    which ``livequiz.__version__`` repeats by hand."""
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"livequiz {importlib.metadata.version(NAME)}"
