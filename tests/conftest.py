"""Suite-wide rules: in CI nothing may be skipped.

Outside CI a test that lacks a service (Redis, PostgreSQL, Chromium) skips and says loudly what it
skipped; with ``CI=true`` the same skip fails the run, so a green CI always means every test ran.
"""

from __future__ import annotations

import os

import pytest


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    skipped = terminalreporter.stats.get("skipped", [])
    if not skipped:
        return
    terminalreporter.section("SKIPPED TESTS", sep="!", red=True, bold=True)
    for report in skipped:
        terminalreporter.write_line(f"SKIPPED {report.nodeid}: {report.longrepr}")
    if os.environ.get("CI") == "true":
        terminalreporter.write_line(
            "CI=true: skipped tests fail the run (a service or browser is missing)", red=True
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    if skipped and os.environ.get("CI") == "true" and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
