"""The settings of ``livequiz serve`` from flags, ``LIVEQUIZ_*`` variables and a TOML file.

Through the real parser (what each source sets, and which one wins), through ``main`` (what an
operator reads when a setting is wrong, and the exit status), and through real ``livequiz
serve`` processes configured by a file alone or by the environment alone, checked over HTTP.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import socket
import subprocess
import sys
import tomllib
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect
from websockets.typing import Origin

from livequiz import configuration
from livequiz.adapters.sqlite import Synchronous
from livequiz.cli import CONFIGURED_COMMANDS, _server_config, build_parser, main
from tests.serve_process import free_port, serving

ROOT = Path(__file__).resolve().parents[1]
SECRET = "correct-horse-battery-staple-0123456789"


def parse(argv: list[str], environ: Mapping[str, str] | None = None) -> argparse.Namespace:
    """The command line ``argv`` with the variables ``environ``, as ``main`` reads them."""
    return configuration.parse_args(
        build_parser(), argv, environ or {}, commands=CONFIGURED_COMMANDS
    )


def server_config(argv: list[str], environ: Mapping[str, str] | None = None) -> Any:
    return _server_config(parse(argv, environ))


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def sources(args: argparse.Namespace) -> dict[str, str]:
    effective: configuration.Configuration = args.configuration
    return {entry.setting.key: entry.source for entry in effective.entries}


# -- each source, and which one wins ------------------------------------------------------------


def test_environment_variables_override_the_defaults() -> None:
    default = server_config(["serve"])
    config = server_config(
        ["serve"],
        {
            "LIVEQUIZ_PORT": "9100",
            "LIVEQUIZ_JOIN_RATE": "2.5",
            "LIVEQUIZ_MEMORY": "yes",
            "LIVEQUIZ_SYNC": "full",
            "LIVEQUIZ_ORIGIN": "https://a.example, https://b.example:8443",
        },
    )
    assert (default.port, config.port) == (8000, 9100)
    assert (default.service.joins_per_second, config.service.joins_per_second) == (20.0, 2.5)
    assert default.data_dir == Path("data")
    assert config.data_dir is None  # --memory
    assert (default.synchronous, config.synchronous) == (Synchronous.NORMAL, Synchronous.FULL)
    assert default.origins is None
    assert config.origins == {"https://a.example", "https://b.example:8443"}
    assert config.host == default.host == "127.0.0.1"


def test_the_config_file_overrides_the_defaults(tmp_path: Path) -> None:
    path = write(
        tmp_path / "livequiz.toml",
        'port = 9100\njoin-rate = 2\nmemory = true\nsync = "full"\n'
        'origin = ["https://a.example", "https://b.example:8443"]\n'
        'public_url = "https://quiz.school.example/"\n',
    )
    args = parse(["serve", "--config", str(path)])
    config = _server_config(args)
    assert config.port == 9100
    assert config.service.joins_per_second == 2.0
    assert config.data_dir is None
    assert config.synchronous is Synchronous.FULL
    assert config.origins == {"https://a.example", "https://b.example:8443"}
    assert config.public_url == "https://quiz.school.example"
    assert sources(args)["port"] == "file"
    assert sources(args)["host"] == "default"


def test_the_environment_beats_the_file_and_a_flag_beats_both(tmp_path: Path) -> None:
    path = write(tmp_path / "livequiz.toml", "port = 9100\ntick_ms = 200\nlease_s = 5\n")
    args = parse(
        ["serve", "--tick-ms", "300"],
        {"LIVEQUIZ_CONFIG": str(path), "LIVEQUIZ_PORT": "9200", "LIVEQUIZ_TICK_MS": "250"},
    )
    assert (args.port, args.tick_ms, args.lease_s) == (9200, 300, 5.0)
    assert [sources(args)[key] for key in ("port", "tick_ms", "lease_s", "host")] == [
        "environment",
        "flag",
        "file",
        "default",
    ]


def test_a_flag_replaces_a_list_from_the_environment_and_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "livequiz.toml", 'origin = "https://file.example"\n')
    environ = {"LIVEQUIZ_ORIGIN": "https://env.example"}
    assert parse(["serve", "--config", str(path)]).origins == ["https://file.example"]
    assert parse(["serve", "--config", str(path)], environ).origins == ["https://env.example"]
    given = parse(["serve", "--config", str(path), "--origin", "https://flag.example"], environ)
    assert given.origins == ["https://flag.example"]  # not added to the others


def test_config_beats_the_config_variable(tmp_path: Path) -> None:
    path = write(tmp_path / "livequiz.toml", "port = 9100\n")
    missing = str(tmp_path / "missing.toml")
    args = parse(["serve", "--config", str(path)], {"LIVEQUIZ_CONFIG": missing})
    assert args.port == 9100
    assert args.configuration.file == str(path)


def test_the_variables_of_before_keep_working() -> None:
    config = server_config(
        ["serve"],
        {
            "LIVEQUIZ_DATABASE_URL": "postgresql://quiz@db:5432/livequiz",
            "LIVEQUIZ_DATABASE_SCHEMA": "school",
            "LIVEQUIZ_BUS_URL": "nats://nats:4222",
            "LIVEQUIZ_WORKERS": "3",
            "LIVEQUIZ_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.0.1",
            "LIVEQUIZ_APP_JWT_SECRET": SECRET,
            "LIVEQUIZ_APP_ISSUER": "https://app.example",
            "LIVEQUIZ_APP_AUDIENCE": "livequiz",
            "LIVEQUIZ_PUBLIC_URL": "https://quiz.school.example",
        },
    )
    assert config.database_url == "postgresql://quiz@db:5432/livequiz"
    assert config.database_schema == "school"
    assert config.bus_url == "nats://nats:4222"
    assert [str(network) for network in config.trusted_proxies] == [
        "10.0.0.0/8",
        "192.168.0.1/32",
    ]
    assert config.app_auth.secret == SECRET
    assert config.public_url == "https://quiz.school.example"
    assert parse(["serve"], {"LIVEQUIZ_WORKERS": "3"}).workers == 3


def test_an_empty_variable_counts_as_unset() -> None:
    args = parse(["serve"], {"LIVEQUIZ_PORT": "", "LIVEQUIZ_DATABASE_URL": ""})
    assert (args.port, args.database) == (8000, None)
    assert sources(args)["port"] == "default"


def test_booleans_read_both_ways() -> None:
    for word, memory in (("true", True), ("1", True), ("On", True), ("no", False), ("0", False)):
        assert parse(["serve"], {"LIVEQUIZ_MEMORY": word}).memory is memory, word


def test_demo_reads_the_server_settings_but_not_its_own_options() -> None:
    args = parse(["demo"], {"LIVEQUIZ_PORT": "9100", "LIVEQUIZ_PLAYERS": "3"})
    assert args.port == 9100
    assert args.players == 12  # --players is the demo's own, not a server setting


def test_other_commands_ignore_the_settings(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.toml")
    args = parse(["sample", "--count", "3"], {"LIVEQUIZ_CONFIG": missing, "LIVEQUIZ_PORT": "x"})
    assert args.count == 3
    assert not hasattr(args, "configuration")


# -- refusals -----------------------------------------------------------------------------------


def refusal(
    command: str,
    argv: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    environ: Mapping[str, str] | None = None,
) -> str:
    """``livequiz COMMAND ARGV`` with ``environ``, which must be refused: its message."""
    for name in list(os.environ):
        if name.startswith("LIVEQUIZ_"):
            monkeypatch.delenv(name)
    for name, value in (environ or {}).items():
        monkeypatch.setenv(name, value)
    out = io.StringIO()
    assert main([command, *argv], out) == 2
    err = capsys.readouterr().err
    assert out.getvalue() == ""
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize("command", ["serve", "config"])
def test_a_bad_variable_is_refused_naming_it(
    command: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    err = refusal(command, [], monkeypatch, capsys, {"LIVEQUIZ_PORT": "abc"})
    assert (
        err
        == "livequiz: invalid configuration: LIVEQUIZ_PORT='abc' (environment): not an integer\n"
    )


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"LIVEQUIZ_SYNC": "fast"}, "LIVEQUIZ_SYNC='fast' (environment): not one of normal, full"),
        (
            {"LIVEQUIZ_LOG_LEVEL": "warn"},
            "LIVEQUIZ_LOG_LEVEL='warn' (environment): not one of debug, info, warning, error "
            "(did you mean 'warning'?)",
        ),
        ({"LIVEQUIZ_JOIN_RATE": "fast"}, "LIVEQUIZ_JOIN_RATE='fast' (environment): not a number"),
        (
            {"LIVEQUIZ_MEMORY": "maybe"},
            "LIVEQUIZ_MEMORY='maybe' (environment): not a boolean (true or false, 1 or 0, yes or "
            "no, on or off)",
        ),
        (
            {"LIVEQUIZ_PORT": "0"},
            "--port must be between 1 and 65535; set by LIVEQUIZ_PORT='0' (environment)",
        ),
        (
            {"LIVEQUIZ_TRUSTED_PROXIES": "nginx"},
            "--trusted-proxy: 'nginx' is not an IP network … "
            "set by LIVEQUIZ_TRUSTED_PROXIES='nginx' (environment)",
        ),
    ],
)
def test_bad_variables_are_refused_naming_them(
    environ: dict[str, str],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    err = refusal("serve", [], monkeypatch, capsys, environ)
    expected = ".*".join(re.escape(part) for part in message.split(" … "))  # … : anything
    assert re.fullmatch(f"livequiz: invalid configuration: {expected}\n", err), err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("prot = 8000\n", "prot (in {path}): unknown setting (did you mean 'port'?)"),
        ('port = "8000"\n', 'port = "8000" (in {path}): not an integer (a TOML string)'),
        ("join_rate = true\n", "join_rate = true (in {path}): not a number (a TOML boolean)"),
        (
            'sync = "ful"\n',
            "sync = \"ful\" (in {path}): not one of normal, full (did you mean 'full'?)",
        ),
        ("memory = 1\n", "memory = 1 (in {path}): not a boolean (a TOML integer)"),
        (
            "port = [8000]\n",
            "port = [8000] (in {path}): an array, but this setting takes one value",
        ),
        (
            "[serve]\nport = 8000\n",
            "[serve] (in {path}): settings are top-level keys, not in a table",
        ),
        (
            "port = 8000\nhost = \n",
            "{path}: not valid TOML: Invalid value (at line 2, column 8)",
        ),
        ("port = 0\n", "--port must be between 1 and 65535; set by port = 0 (in {path})"),
        (
            "workers = 2\n",
            "--workers needs --database and --bus: processes share quizzes through them; "
            "set by workers = 2 (in {path})",
        ),
    ],
)
@pytest.mark.parametrize("command", ["serve", "config"])
def test_a_bad_config_file_is_refused_naming_the_key_and_the_file(
    command: str,
    text: str,
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = write(tmp_path / "livequiz.toml", text)
    err = refusal(command, ["--config", str(path)], monkeypatch, capsys)
    assert err == f"livequiz: invalid configuration: {message.format(path=path)}\n"


def test_a_missing_config_file_is_refused_naming_who_named_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.toml"
    err = refusal("serve", ["--config", str(missing)], monkeypatch, capsys)
    assert err == f"livequiz: invalid configuration: --config {missing}: no such file\n"
    err = refusal("serve", [], monkeypatch, capsys, {"LIVEQUIZ_CONFIG": str(missing)})
    assert err == (
        f"livequiz: invalid configuration: LIVEQUIZ_CONFIG='{missing}' (environment): "
        "no such file\n"
    )


def test_every_problem_is_reported_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "livequiz.toml", 'prot = 1\nsync = "fast"\n')
    err = refusal("serve", ["--config", str(path)], monkeypatch, capsys, {"LIVEQUIZ_PORT": "x"})
    assert err.splitlines() == [
        "livequiz: invalid configuration:",
        f"  prot (in {path}): unknown setting (did you mean 'port'?)",
        "  LIVEQUIZ_PORT='x' (environment): not an integer",
        f'  sync = "fast" (in {path}): not one of normal, full',
    ]


def test_a_wrong_value_is_refused_even_where_a_flag_overrides_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    err = refusal("serve", ["--port", "9000"], monkeypatch, capsys, {"LIVEQUIZ_PORT": "x"})
    assert "LIVEQUIZ_PORT='x' (environment): not an integer" in err


def test_a_bad_flag_is_still_argparse_s_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--port", "0"])
    assert exited.value.code == 2
    assert "livequiz: error: --port must be between 1 and 65535" in capsys.readouterr().err


# -- livequiz config ----------------------------------------------------------------------------


def test_config_shows_every_setting_with_its_source_and_masks_the_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(
        tmp_path / "livequiz.toml",
        'database = "postgresql://quiz:hunter2-db-password@db:5432/livequiz?sslmode=require"\n'
        'bus = "nats://quiz:nats-password-77@nats:4222"\n'
        "tick_ms = 250\n",
    )
    for name in list(os.environ):
        if name.startswith("LIVEQUIZ_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("LIVEQUIZ_APP_JWT_SECRET", SECRET)
    monkeypatch.setenv("LIVEQUIZ_APP_ISSUER", "https://app.example")
    monkeypatch.setenv("LIVEQUIZ_APP_AUDIENCE", "livequiz")
    monkeypatch.setenv("LIVEQUIZ_PROT", "9000")
    out = io.StringIO()
    assert main(["config", "--config", str(path), "--port", "9300"], out) == 0
    text = out.getvalue()

    for secret in (SECRET, "hunter2-db-password", "nats-password-77"):
        assert secret not in text
    lines = {line.split(" = ")[0]: line for line in text.splitlines() if " = " in line}
    assert re.fullmatch(
        r'app_jwt_secret = "\*\*\*" +# environment LIVEQUIZ_APP_JWT_SECRET', lines["app_jwt_secret"]
    )
    assert lines["database"].startswith(
        'database = "postgresql://quiz:***@db:5432/livequiz?sslmode=require"'
    )
    assert lines["database"].endswith(f"# file {path}")
    assert lines["bus"].startswith('bus = "nats://quiz:***@nats:4222"')
    assert re.fullmatch(r"port = 9300 +# flag --port", lines["port"])
    assert re.fullmatch(r"tick_ms = 250 +# file .*", lines["tick_ms"])
    assert re.fullmatch(r'host = "127.0.0.1" +# default', lines["host"])
    assert (
        "# LIVEQUIZ_PROT is set but is no setting, so it is ignored (did you mean LIVEQUIZ_PORT?)"
        in text
    )
    # Every setting is there, and the output is a TOML file with the values in effect.
    shown = {line.lstrip("# ").split(" = ")[0] for line in text.splitlines() if " = " in line}
    assert shown == {setting.key for setting in serve_settings()}
    document = tomllib.loads(text)
    assert (document["port"], document["tick_ms"], document["sync"]) == (9300, 250, "normal")

    out = io.StringIO()
    assert main(["config", "--config", str(path), "--format", "json"], out) == 0
    for secret in (SECRET, "hunter2-db-password", "nats-password-77"):
        assert secret not in out.getvalue()
    settings = json.loads(out.getvalue())["settings"]
    assert settings["port"] == {"value": 8000, "source": "default", "from": None}
    assert settings["tick_ms"] == {"value": 250, "source": "file", "from": str(path)}
    assert settings["app_jwt_secret"] == {
        "value": "***",
        "source": "environment",
        "from": "LIVEQUIZ_APP_JWT_SECRET",
    }


def test_a_secret_refused_at_start_is_not_printed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    short = "short-secret-xyz"
    environ = {
        "LIVEQUIZ_APP_JWT_SECRET": short,
        "LIVEQUIZ_APP_ISSUER": "https://app.example",
        "LIVEQUIZ_APP_AUDIENCE": "livequiz",
    }
    err = refusal("config", [], monkeypatch, capsys, environ)
    assert "--app-jwt-secret must be at least 32 bytes" in err
    assert "LIVEQUIZ_APP_JWT_SECRET='***' (environment)" in err
    assert short not in err


def test_an_option_with_its_own_parser_reads_as_its_flag_would() -> None:
    def ratio(text: str) -> float:
        if not 0 <= float(text) <= 1:
            raise argparse.ArgumentTypeError(f"{text} is not between 0 and 1")
        return float(text)

    parser = argparse.ArgumentParser()
    parser.add_argument("--sample-ratio", type=ratio)
    (setting,) = configuration.settings_of(parser)
    assert (setting.env, setting.key) == ("LIVEQUIZ_SAMPLE_RATIO", "sample_ratio")
    assert setting.from_text("0.25") == setting.from_toml(0.25) == setting.from_toml("0.25") == 0.25
    with pytest.raises(ValueError, match=r"^2 is not between 0 and 1$"):
        setting.from_toml(2)
    with pytest.raises(ValueError, match=r"^not a string or a number"):
        setting.from_toml(True)
    with pytest.raises(ValueError, match=r"^not a valid value$"):
        setting.from_text("many")


def test_a_password_in_a_url_is_masked() -> None:
    mask = configuration.mask_url
    assert mask("postgresql://quiz:pw@db:5432/livequiz") == "postgresql://quiz:***@db:5432/livequiz"
    assert mask("postgresql://db/livequiz?user=quiz&password=pw") == (
        "postgresql://db/livequiz?user=quiz&password=***"
    )
    assert mask("postgresql://quiz@db/livequiz") == "postgresql://quiz@db/livequiz"
    assert mask("nats://:token@nats:4222") == "nats://:***@nats:4222"
    assert mask("not a url: pw") == "not a url: pw"


# -- the settings and their documentation -------------------------------------------------------


def serve_settings() -> list[configuration.Setting]:
    parser = argparse.ArgumentParser()
    from livequiz.cli import _server_options

    _server_options(parser)
    return configuration.settings_of(parser)


def test_every_option_in_the_help_of_serve_is_a_setting_of_its_own(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    usage = capsys.readouterr().out.split("\n\n")[0]
    settings = serve_settings()
    assert {setting.flag for setting in settings} == set(re.findall(r"--[a-z0-9-]+", usage)) - {
        "--help",
        "--config",
    }
    assert len({setting.env for setting in settings}) == len(settings)
    assert len({setting.key for setting in settings}) == len(settings)


def documented_rows() -> dict[str, list[str]]:
    """The table of docs/configuration.md: option → its cells."""
    rows = {}
    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    for line in text.split("\n## Every setting\n")[1].splitlines():
        if line.startswith("| `--"):
            cells = [cell.strip() for cell in line.strip("|").split(" | ")]
            rows[cells[0].strip("`")] = cells
    return rows


def test_the_documentation_lists_exactly_the_settings_of_the_parser() -> None:
    rows = documented_rows()
    settings = serve_settings()
    expected = {
        setting.flag: [
            f"`{setting.flag}`",
            f"`{setting.env}`",
            f"`{setting.key}`",
            configuration.default_text(setting),
        ]
        for setting in settings
    }
    missing = [
        " | ".join([*expected[flag], setting.help])
        for setting in settings
        if (flag := setting.flag) not in rows
    ]
    assert not missing, "docs/configuration.md lacks the rows:\n" + "\n".join(missing)
    assert set(rows) == set(expected), f"documented but no option: {set(rows) - set(expected)}"
    for flag, cells in rows.items():
        assert cells[:4] == expected[flag], flag
        assert cells[4], f"{flag}: say what it is for"


# -- real servers -------------------------------------------------------------------------------


def clean_environment(**variables: str) -> dict[str, str]:
    environ = {
        name: value for name, value in os.environ.items() if not name.startswith("LIVEQUIZ_")
    }
    return {**environ, **variables}


def get_json(url: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def test_serve_runs_from_a_config_file_alone(tmp_path: Path) -> None:
    port = free_port()
    data = tmp_path / "journal"
    path = write(
        tmp_path / "livequiz.toml",
        f'port = {port}\ndata_dir = "{data}"\npublic_url = "https://quiz.school.example"\n'
        'log_level = "warning"\n',
    )
    with serving(["--config", str(path)], clean_environment(), port):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as health:
            assert health.status == 200
        base = f"http://127.0.0.1:{port}"
        quiz = get_json(f"{base}/api/quizzes", {"count": 2, "seed": 1})
        link = get_json(f"{base}/api/quizzes/{quiz['pin']}/join")
        assert link["join_url"] == f"https://quiz.school.example/play?pin={quiz['pin']}"
        assert (data / "livequiz.sqlite3").exists()


def test_serve_runs_from_the_environment_alone(tmp_path: Path) -> None:
    port = free_port()
    data = tmp_path / "journal"
    environ = clean_environment(
        LIVEQUIZ_PORT=str(port),
        LIVEQUIZ_DATA_DIR=str(data),
        LIVEQUIZ_ORIGIN="https://quiz.school.example",
        LIVEQUIZ_LOG_LEVEL="warning",
    )
    with serving([], environ, port):
        url = f"ws://127.0.0.1:{port}/ws"
        with connect(url, origin=Origin("https://quiz.school.example"), open_timeout=10) as allowed:
            assert allowed.response is not None
            assert allowed.response.status_code == 101
        with pytest.raises(InvalidStatus) as refused:
            connect(url, origin=Origin("https://elsewhere.example"), open_timeout=10)
        assert refused.value.response.status_code == 403
        assert (data / "livequiz.sqlite3").exists()


def test_serve_with_a_bad_setting_exits_2_without_starting(tmp_path: Path) -> None:
    port = free_port()
    data = tmp_path / "journal"
    path = write(tmp_path / "livequiz.toml", f'port = {port}\ndata_dir = "{data}"\ntick_ms = 1\n')
    done = subprocess.run(
        [sys.executable, "-m", "livequiz", "serve"],
        env=clean_environment(LIVEQUIZ_CONFIG=str(path)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr == (
        "livequiz: invalid configuration: --tick-ms must be between 10 and 5000; set by "
        f"tick_ms = 1 (in {path})\n"
    )
    assert done.stdout == ""
    assert not data.exists()
    with socket.socket() as probe, pytest.raises(ConnectionRefusedError):
        probe.connect(("127.0.0.1", port))
