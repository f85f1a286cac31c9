"""The operator's side of deploy/: the alert rules, their unit tests, the Grafana dashboard and
the runbook they point to, checked the way someone on call would rely on them.

* ``promtool check rules`` accepts deploy/alerts.yml and ``promtool test rules`` passes
  deploy/alerts.test.yml (Debian's promtool, installed by ``make deploy-tools``), and every
  alert has a case where it fires and one where it stays quiet;
* every metric the rules and the dashboard query is one a real server exports on /metrics
  (a server is started and played on until its labelled series appear);
* the dashboard is a Grafana dashboard (the fields Grafana needs, panels that do not overlap,
  each expression valid PromQL by ``promtool check rules``), shows every metric an alert
  watches and draws the objectives;
* every alert names its severity and a runbook section that exists in docs/operations.md,
  whose alert table lists it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import re
import shutil
import subprocess
import tempfile
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.deploy.nginx import DEPLOY
from tests.integration.helpers import setup_quiz
from tests.server import TIMEOUT_S, running_server

REPO = DEPLOY.parent
ALERTS_FILE = DEPLOY / "alerts.yml"
ALERT_TESTS_FILE = DEPLOY / "alerts.test.yml"
DASHBOARD_FILE = DEPLOY / "grafana" / "livequiz.json"
RUNBOOK = REPO / "docs" / "operations.md"

RULES: dict[str, Any] = yaml.safe_load(ALERTS_FILE.read_text())
ALERT_TESTS: dict[str, Any] = yaml.safe_load(ALERT_TESTS_FILE.read_text())
DASHBOARD: dict[str, Any] = json.loads(DASHBOARD_FILE.read_text())
COMPOSE: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool is not installed (make deploy-tools: Debian's prometheus)"
)

#: Series Prometheus makes itself for every target: not on /metrics, always there.
PROMETHEUS_OWN = {"up"}
SEVERITIES = {"critical", "warning"}
#: The objectives of docs/operations.md, and the metric of the dashboard panel that must draw
#: each as a threshold: (metric queried, line drawn).
OBJECTIVE_LINES = [
    ("livequiz_ack_seconds_bucket", 0.05),  # ack p99 within 50 ms
    ("livequiz_ack_seconds_bucket", 0.01),  # at most 1 % of acks slower
    ("livequiz_answers_total", 0.001),  # at most 0.1 % of answers refused
    ("livequiz_board_delay_seconds_bucket", 0.3),  # answer -> every board within 300 ms
    ("livequiz_board_frames_waiting", 0.3),  # the same, estimated from the queue
    ("livequiz_tick_lag_seconds_bucket", 0.1),  # ticks late by less than the tick
    ("livequiz_batch_seconds_bucket", 0.05),  # batches within 50 ms
]


# -- reading PromQL ----------------------------------------------------------------------------

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_NUMBERS = re.compile(r"(?<![\w:])\d[\w.]*")  # 0.05, 1e3, and durations: 5m, 1h30m
_IDENTIFIERS = re.compile(r"(?<![\w:])[a-zA-Z_:][\w:]*\b(?!\s*\()")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects: every identifier that is not a function, an
    aggregation, a keyword, a label (in matchers and grouping), a number or a duration."""
    text = _STRINGS.sub('""', expr)
    text = _MATCHERS.sub(" ", text)
    text = _RANGES.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    text = _NUMBERS.sub(" ", text)  # after the ranges: [5m] is gone, "offset 5m" is not
    return {name for name in _IDENTIFIERS.findall(text) if name.lower() not in _KEYWORDS}


def test_metric_names_are_read_from_promql_as_prometheus_would() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (job, le) (rate(a_bucket{le="0.05", x=~"y|z"}[5m])))'
        " / on (job) group_left (instance) b_total offset 5m > 1e3 and ignoring(x) c:rule"
        ' or absent(up{job="livequiz"}) * 1024'
    )
    assert metric_names(expr) == {"a_bucket", "b_total", "c:rule", "up"}


# -- the rules ---------------------------------------------------------------------------------


def rules() -> Iterator[dict[str, Any]]:
    for group in RULES["groups"]:
        yield from group["rules"]


ALERTS = [rule for rule in rules() if "alert" in rule]
RECORDED = {rule["record"] for rule in rules() if "record" in rule}


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run(
        [PROMTOOL, *args], capture_output=True, text=True, timeout=60, check=False
    )


@needs_promtool
def test_promtool_accepts_the_alert_rules() -> None:
    result = promtool("check", "rules", str(ALERTS_FILE))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(list(rules()))} rules found" in result.stdout


@needs_promtool
def test_the_alerts_fire_and_stay_quiet_as_their_unit_tests_say() -> None:
    result = promtool("test", "rules", str(ALERT_TESTS_FILE))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_is_tested_firing_and_quiet() -> None:
    """A rule whose unit tests only ever expect silence passes with any expression; one that
    is only tested firing passes with ``vector(1)``."""
    assert ALERT_TESTS["rule_files"] == [ALERTS_FILE.name]
    fires: set[str] = set()
    quiet: set[str] = set()
    for case in ALERT_TESTS["tests"]:
        instances = {
            match
            for series in case["input_series"]
            for match in re.findall(r'instance="([^"]+)"', series["series"])
        }
        for check in case.get("alert_rule_test", []):
            expected = check.get("exp_alerts") or []
            firing = {alert["exp_labels"].get("instance") for alert in expected}
            if expected:
                fires.add(check["alertname"])
            # quiet: nothing expected, or (alerts per process) a process of the case that no
            # expected alert names
            if not expected or (None not in firing and instances - firing):
                quiet.add(check["alertname"])
    names = {alert["alert"] for alert in ALERTS}
    assert names - fires == set(), "alerts never tested firing"
    assert names - quiet == set(), "alerts never tested staying quiet"


def test_every_alert_says_how_bad_and_what_to_read() -> None:
    headings = runbook_anchors()
    for alert in ALERTS:
        name = alert["alert"]
        assert alert["labels"]["severity"] in SEVERITIES, name
        annotations = alert["annotations"]
        assert annotations["summary"].strip(), name
        assert annotations["description"].strip(), name
        path, _, anchor = annotations["runbook_url"].partition("#")
        assert path == "docs/operations.md", (name, path)
        assert anchor in headings, f"{name}: no heading of docs/operations.md has #{anchor}"


def test_the_runbook_lists_every_alert_with_its_severity() -> None:
    text = RUNBOOK.read_text()
    rows = {row[1]: row[0] for row in re.finditer(r"^\| `(\w+)` \|.*$", text, re.MULTILINE)}
    for alert in ALERTS:
        name = alert["alert"]
        assert name in rows, f"docs/operations.md has no row for {name}"
        assert f"| {alert['labels']['severity']} |" in rows[name], rows[name]


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading: lower case, punctuation dropped, spaces as
    hyphens (duplicates are not used in the runbook)."""
    kept = "".join(
        char
        for char in heading.strip().lower()
        if char in " -_" or unicodedata.category(char)[0] in "LN"
    )
    return kept.replace(" ", "-")


def runbook_anchors() -> set[str]:
    headings = re.findall(r"^#{1,6} (.+)$", RUNBOOK.read_text(), re.MULTILINE)
    anchors = [github_anchor(heading.replace("`", "")) for heading in headings]
    assert len(anchors) == len(set(anchors)), "two headings of docs/operations.md share an anchor"
    return set(anchors)


def test_anchors_are_made_as_github_makes_them() -> None:
    assert github_anchor("A process saturated by fan-out") == "a-process-saturated-by-fan-out"
    assert github_anchor("Storage: slow, or full (SQLite)") == "storage-slow-or-full-sqlite"


def test_prometheus_loads_the_rules_in_compose_and_here() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    assert config["rule_files"] == [ALERTS_FILE.name]  # relative to prometheus.yml
    mounts = [str(volume) for volume in COMPOSE["services"]["prometheus"]["volumes"]]
    assert "./prometheus.yml:/etc/prometheus/prometheus.yml:ro" in mounts
    assert "./alerts.yml:/etc/prometheus/alerts.yml:ro" in mounts


def test_compose_keeps_the_objectives_window_of_data() -> None:
    command = COMPOSE["services"]["prometheus"]["command"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in command
    (retention,) = [arg for arg in command if arg.startswith("--storage.tsdb.retention.time=")]
    days = re.fullmatch(r"--storage.tsdb.retention.time=(\d+)d", retention)
    assert days is not None, retention
    assert int(days[1]) >= 28, "the objectives count over 28 days"


# -- the dashboard -------------------------------------------------------------------------------

PANELS: list[dict[str, Any]] = DASHBOARD["panels"]
QUERY_PANELS = [panel for panel in PANELS if panel["type"] != "row"]
VARIABLES = {variable["name"]: variable for variable in DASHBOARD["templating"]["list"]}
#: Grafana's own variables that stand for a duration in an expression.
DURATIONS = {"__rate_interval", "__interval", "__range"}
_VARIABLE = re.compile(r"\$\{?(\w+)\}?")


def dashboard_expressions() -> Iterator[tuple[str, str]]:
    """(where, expr) for every query of the dashboard: panels' targets and variables."""
    for panel in QUERY_PANELS:
        for target in panel["targets"]:
            yield f"panel {panel['id']} {panel['title']!r} {target['refId']}", target["expr"]


def variable_queries() -> Iterator[tuple[str, str]]:
    for name, variable in VARIABLES.items():
        if variable["type"] == "query":
            query = variable["query"]
            yield f"variable {name}", query["query"] if isinstance(query, dict) else query


def as_promql(expr: str) -> str:
    """The expression as Grafana sends it: its variables replaced by values."""

    def value(match: re.Match[str]) -> str:
        name = match[1]
        if name in DURATIONS:
            return "5m"
        assert name in VARIABLES, f"{expr}: no variable ${name} on the dashboard"
        return ".+"

    return _VARIABLE.sub(value, expr)


def test_the_dashboard_has_what_grafana_needs() -> None:
    assert DASHBOARD["title"]
    assert re.fullmatch(r"[a-zA-Z0-9_-]{1,40}", DASHBOARD["uid"])
    assert isinstance(DASHBOARD["schemaVersion"], int)
    assert DASHBOARD["schemaVersion"] >= 39  # Grafana 11 and later
    ids = [panel["id"] for panel in PANELS]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    taken: set[tuple[int, int]] = set()
    for panel in PANELS:
        grid = panel["gridPos"]
        assert all(isinstance(grid[key], int) for key in ("h", "w", "x", "y")), panel["title"]
        assert grid["w"] > 0, panel["title"]
        assert grid["h"] > 0, panel["title"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]  # Grafana's grid is 24 wide
        cells = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & taken, f"panel {panel['title']!r} overlaps another"
        taken |= cells
    assert QUERY_PANELS
    for panel in QUERY_PANELS:
        assert panel["title"], panel
        assert panel["type"] in {"timeseries", "stat"}, panel["title"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        refs = [target["refId"] for target in panel["targets"]]
        assert refs, panel["title"]
        assert len(refs) == len(set(refs)), panel["title"]
        assert all(target["expr"].strip() for target in panel["targets"]), panel["title"]
    datasource = VARIABLES["datasource"]
    assert (datasource["type"], datasource["query"]) == ("datasource", "prometheus")


@needs_promtool
def test_every_dashboard_expression_is_valid_promql(tmp_path: Path) -> None:
    rules_file = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:query_{index}", "expr": as_promql(expr)}
                    for index, (_where, expr) in enumerate(dashboard_expressions())
                ],
            }
        ]
    }
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(yaml.safe_dump(rules_file))
    result = promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    # label_values() is Grafana's, not PromQL: its selector is what must be valid
    for where, query in variable_queries():
        selector = re.fullmatch(r"label_values\((.+),\s*\w+\)", query)
        assert selector is not None, f"{where}: {query}"
        path.write_text(
            yaml.safe_dump(
                {"groups": [{"name": "v", "rules": [{"record": "v", "expr": selector[1]}]}]}
            )
        )
        result = promtool("check", "rules", str(path))
        assert result.returncode == 0, (where, result.stdout + result.stderr)


def test_the_dashboard_shows_what_every_alert_watches() -> None:
    shown = set().union(*(metric_names(expr) for _, expr in dashboard_expressions()))
    descriptions = " ".join(panel.get("description", "") for panel in QUERY_PANELS)
    for alert in ALERTS:
        watched = expand_recorded(metric_names(alert["expr"]))
        assert watched <= shown, f"{alert['alert']}: not on the dashboard: {watched - shown}"
        assert alert["alert"] in descriptions, f"no panel says it shows {alert['alert']}"


def expand_recorded(names: set[str]) -> set[str]:
    """Recorded series replaced by the metrics their rules read."""
    by_name = {rule["record"]: rule["expr"] for rule in rules() if "record" in rule}
    out: set[str] = set()
    for name in names:
        out |= expand_recorded(metric_names(by_name[name])) if name in by_name else {name}
    return out


def test_the_dashboard_draws_the_objectives() -> None:
    for metric, line in OBJECTIVE_LINES:
        drawn = [
            panel["title"]
            for panel in QUERY_PANELS
            if any(metric in target["expr"] for target in panel["targets"])
            and any(
                step["value"] == line
                for step in panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
            )
        ]
        assert drawn, f"no panel of {metric} draws {line}"


def test_grafana_in_compose_loads_the_dashboard_from_prometheus() -> None:
    grafana = COMPOSE["services"]["grafana"]
    mounts = dict(str(volume).split(":")[:2] for volume in grafana["volumes"])
    assert mounts["./grafana/livequiz.json"].startswith("/etc/grafana/dashboards/")
    provisioning = mounts["./grafana/provisioning"]
    assert provisioning == "/etc/grafana/provisioning"
    local = DEPLOY / "grafana" / "provisioning"
    (provider,) = yaml.safe_load((local / "dashboards" / "livequiz.yml").read_text())["providers"]
    assert provider["options"]["path"] == str(Path(mounts["./grafana/livequiz.json"]).parent)
    (source,) = yaml.safe_load((local / "datasources" / "prometheus.yml").read_text())[
        "datasources"
    ]
    assert source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"
    assert "9090:9090" in COMPOSE["services"]["prometheus"]["ports"]


# -- against a real server -------------------------------------------------------------------------


async def exported_names() -> set[str]:
    """Every sample name a real server's /metrics shows once a quiz has been played: a join,
    an answer, a refused answer, a malformed HTTP request, a refused upgrade and a garbage
    collection make its labelled series appear. On the embedded default with a data directory
    (its journal's disk space is exported there only)."""
    with tempfile.TemporaryDirectory() as data_dir:
        return await _exported_names(Path(data_dir))


async def _exported_names(data_dir: Path) -> set[str]:
    async with running_server(data_dir=data_dir) as srv, contextlib.AsyncExitStack() as stack:
        quiz = await setup_quiz(srv, stack, ["Anna"])
        await quiz.start()
        anna = quiz.players["Anna"]
        assert (await anna.answer(0, quiz.correct(0)))["type"] == "ack"
        assert (await anna.answer(7, 0))["type"] == "error"
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        writer.write(b"NOT HTTP\r\n\r\n")
        async with asyncio.timeout(TIMEOUT_S):
            assert (await reader.read()).startswith(b"HTTP/1.1 400")
        writer.close()
        await writer.wait_closed()
        with pytest.raises(InvalidStatus):  # an upgrade refused (404: not the WebSocket path)
            async with connect(srv.ws_url.replace("/ws", "/not-ws"), open_timeout=TIMEOUT_S):
                pass
        gc.collect()
        text = (await srv.http.get("/metrics")).text
    return {
        line.split("{")[0].split(" ")[0]
        for line in text.splitlines()
        if line and not line.startswith("#")
    }


async def test_every_metric_queried_is_one_the_server_exports() -> None:
    exported = await exported_names()
    assert {"process_cpu_seconds_total", "process_open_fds"} <= exported
    known = exported | PROMETHEUS_OWN | RECORDED
    queried = [
        ("rule " + rule.get("alert", rule.get("record", "")), rule["expr"]) for rule in rules()
    ]
    queried += [*dashboard_expressions(), *variable_queries()]
    for where, expr in queried:
        names = metric_names(expr)
        if where.startswith("variable"):
            names = {re.split(r"[{,]", expr.removeprefix("label_values("))[0].strip()}
        assert names, f"{where}: no metric found in {expr!r}"
        assert names <= known, f"{where}: not exported: {sorted(names - known)}"
