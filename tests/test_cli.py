"""The command line, run as a user runs it: arguments in, text out, an exit status."""

from __future__ import annotations

import io
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from livequiz.app import RESERVED_DESCRIPTORS
from livequiz.cli import main
from tests.serve_process import free_port, serving


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    status = main(list(argv), out)
    return status, out.getvalue()


def test_no_command_prints_the_help() -> None:
    status, text = run()
    assert status == 0
    assert "livequiz: a real-time vocabulary quiz" in text
    assert "sample" in text


def test_help_explains_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["sample", "--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    for option in ("--level", "--kind", "--count", "--seed", "--words", "--json"):
        assert option in text


def test_sample_prints_numbered_questions_with_the_answer_marked() -> None:
    status, text = run("sample", "--count", "4", "--seed", "11")
    assert status == 0
    blocks = [b for b in text.split("\n\n") if b.strip()]
    assert len(blocks) == 4
    for number, block in enumerate(blocks, start=1):
        lines = block.splitlines()
        assert lines[0].startswith(f"{number}. [")
        options = [line for line in lines if line.strip()[:3] in {"A) ", "B) ", "C) ", "D) "}
                   or line.strip().startswith("* ")]  # fmt: skip
        assert len(options) == 4
        assert sum(line.lstrip().startswith("*") for line in lines) == 1


def test_hide_answers_marks_nothing() -> None:
    _, text = run("sample", "--count", "3", "--hide-answers")
    assert "*" not in text


def test_json_output_is_reproducible_and_filtered() -> None:
    args = ("sample", "--json", "--count", "5", "--seed", "5", "--level", "B1", "--kind", "synonym")
    status, first = run(*args)
    assert status == 0
    _, second = run(*args)
    assert first == second
    questions = json.loads(first)
    assert len(questions) == 5
    for question in questions:
        assert question["kind"] == "synonym"
        assert question["level"] == "B1"
        assert len(question["options"]) == 4
        assert 0 <= question["correct_option"] < 4


def test_an_own_word_list_is_used(tmp_path: Path) -> None:
    words = tmp_path / "words.csv"
    words.write_text("word\nharbour\nbrave\nancient\nwhisper\nglacier\n", encoding="utf-8")
    status, text = run("sample", "--words", str(words), "--count", "5", "--json", "--seed", "1")
    assert status == 0
    asked = {q["word"] for q in json.loads(text)}
    assert asked <= {"harbour", "brave", "ancient", "whisper", "glacier"}
    assert len(asked) == 5


def test_a_bad_word_list_names_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    words = tmp_path / "words.csv"
    words.write_text("word,level\nbrave,A2\nharbour,Z9\n", encoding="utf-8")
    status, _ = run("sample", "--words", str(words))
    assert status == 1
    assert "line 3" in capsys.readouterr().err


def test_every_problem_of_a_word_list_is_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    words = tmp_path / "words.csv"
    words.write_text("word,level\nbrave,A2\nharbour,Z9\nxyzzyq,\nbrave,B1\n", encoding="utf-8")
    status, _ = run("sample", "--words", str(words))
    assert status == 1
    assert capsys.readouterr().err.splitlines() == [
        "livequiz: the word list has 3 problems:",
        "  line 3: unknown level 'Z9' (expected A1\u2026C2)",
        "  line 4: 'xyzzyq' is not in the built-in deck; give its definition",
        "  line 5: 'brave' is already on line 2 as an adjective",
    ]


def test_a_missing_file_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _ = run("sample", "--words", str(tmp_path / "nope.csv"))
    assert status == 1
    assert "nope.csv" in capsys.readouterr().err


def test_an_impossible_request_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    status, _ = run("sample", "--level", "A1", "--kind", "synonym", "--count", "200")
    assert status == 1
    assert "only" in capsys.readouterr().err


def test_a_count_out_of_range_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["sample", "--count", "0"])
    assert exited.value.code == 2
    assert "--count must be between 1 and 200" in capsys.readouterr().err


def test_the_installed_command_runs_and_survives_a_closed_pipe() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "livequiz", "sample", "--count", "50"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("\n\n") == 50
    shell = subprocess.run(
        f"{sys.executable} -m livequiz sample --count 100 | head -n 1",
        shell=True,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert shell.stdout.startswith("1. [")
    assert "Traceback" not in shell.stderr
    assert "Broken pipe" not in shell.stderr


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["serve", "--port", "0"], "--port must be between 1 and 65535"),
        (["serve", "--tick-ms", "1"], "--tick-ms must be between 10 and 5000"),
        (["serve", "--board-frames-per-s", "0"], "--board-frames-per-s must be at least 1"),
        (["serve", "--fanout-chunk", "0"], "--fanout-chunk must be at least 1"),
        (
            ["serve", "--finished-retention-s", "-1"],
            "--finished-retention-s must be between 0 and 604800",
        ),
        (["serve", "--stall-warning-s", "-1"], "--stall-warning-s must be between 0"),
        (["serve", "--public-url", "quiz.school.example"], "--public-url must start with http"),
        (["demo", "--players", "501"], "--players must be between 0 and 500"),
        (["demo", "--questions", "0"], "--questions must be between 1 and 50"),
        (["demo", "--seconds", "2"], "--seconds must be between 5 and 120"),
    ],
)
def test_server_options_out_of_range_are_usage_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_finished_retention_reaches_the_service_and_defaults_to_15_minutes() -> None:
    from livequiz.cli import _server_config, build_parser

    parser = build_parser()
    default = _server_config(parser.parse_args(["serve"]))
    given = _server_config(parser.parse_args(["serve", "--finished-retention-s", "1.5"]))

    assert default.service.finished_retention_s == 900.0
    assert given.service.finished_retention_s == 1.5


def test_the_stall_watch_is_on_at_one_second_unless_turned_off_with_0() -> None:
    from livequiz.cli import _server_config, build_parser

    parser = build_parser()
    assert _server_config(parser.parse_args(["serve"])).stall_warning_s == 1.0
    given = _server_config(parser.parse_args(["serve", "--stall-warning-s", "2.5"]))
    assert given.stall_warning_s == 2.5
    off = _server_config(parser.parse_args(["serve", "--stall-warning-s", "0"]))
    assert off.stall_warning_s is None


def test_the_public_url_comes_from_the_option_or_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from livequiz.cli import _server_config, build_parser

    parser = build_parser()
    assert _server_config(parser.parse_args(["serve"])).public_url is None
    monkeypatch.setenv("LIVEQUIZ_PUBLIC_URL", "https://env.example/")
    assert _server_config(parser.parse_args(["serve"])).public_url == "https://env.example"
    given = parser.parse_args(["serve", "--public-url", "http://10.0.0.5:8000"])
    assert _server_config(given).public_url == "http://10.0.0.5:8000"


def test_the_server_commands_explain_themselves(capsys: pytest.CaptureFixture[str]) -> None:
    for command, words in (
        (
            "serve",
            [
                "--data-dir",
                "--memory",
                "--sync",
                "--origin",
                "--tick-ms",
                "--board-frames-per-s",
                "--finished-retention-s",
            ],
        ),
        ("demo", ["--players", "--questions", "--seconds", "--lobby"]),
        ("play", ["--server", "--pin", "--nickname"]),
    ):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = capsys.readouterr().out
        for word in words:
            assert word in text, (command, word)


def test_serve_starts_answers_health_checks_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    argv = ["--port", str(port), "--data-dir", str(tmp_path)]
    with serving(argv, os.environ, port) as served:  # ready: /readyz answered 200
        status = Path(f"/proc/{served.process.pid}/status").read_text()
    # the descriptor table sized for the default caps at the start, not doubled under load
    slots = next(int(line.split()[1]) for line in status.splitlines() if "FDSize:" in line)
    wanted = 12_000 + 4096 + RESERVED_DESCRIPTORS
    assert slots >= min(wanted, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
    # stopped by SIGTERM: a graceful stop (exit 0, no traceback), the application's cleanup run
    assert '"msg":"server stopped"' in served.stderr
    assert (tmp_path / "livequiz.sqlite3").exists()
    assert (tmp_path / "signing.key").exists()


def test_bench_has_its_own_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["bench", "--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    assert "one-big-quiz" in text
    assert "many-small-quizzes" in text
