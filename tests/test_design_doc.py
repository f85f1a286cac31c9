"""docs/design.md names only what exists, and its pictures show its diagrams as they are now.

The design document is where an operator or a new developer learns how livequiz is built; a name
in it the code does not have (a module moved, a metric renamed, an option spelled another way, a
subject that changed) sends them looking for something that is not there. So every name of these
kinds that the document writes is checked against the code itself, never against a list kept
here:

* file paths (``src/livequiz/…``, ``adapters/local_bus.py``, ``tests/…py::test_…``) exist, with
  the function named after ``:`` or ``::``;
* dotted names whose first part is a livequiz module or class (``livequiz.owner``,
  ``QuizStore.execute``, ``owner.LEASE_TRUST``) resolve by import and attribute;
* every ``livequiz_…`` metric is registered by ``observability.Metrics``, with its labels;
* every ``--option`` is an option of the real ``livequiz`` parser (every subcommand) or of
  ``livequiz bench``;
* every ``livequiz COMMAND [ACTION]`` is a command of that parser, every ``make TARGET`` a target
  of the Makefile;
* every NATS subject is one that ``names.py`` makes;
* every Mermaid block has its rendered SVG beside the document, and the SVG records the hash of
  that very source (``scripts/render_diagrams.py``): a diagram changed without rendering it again
  fails here.

Each check is a function of the document's text, so the second half of this file shows each one
catching a wrong name.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import inspect
import pkgutil
import re
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from prometheus_client.metrics import MetricWrapperBase

import livequiz
from livequiz import names
from livequiz.bench.cli import build_parser as build_bench_parser
from livequiz.cli import build_parser
from livequiz.observability import Metrics

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
DOC = DOCS / "design.md"
PACKAGE = ROOT / "src" / "livequiz"

FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"`([^`\n]+)`")
#: Extensions of files a document names (a name ending so is a path, never a dotted name).
FILE_EXTENSIONS = frozenset(
    {"py", "conf", "css", "html", "js", "json", "jsonl", "key", "md", "png", "sh", "sqlite3"}
    | {"svg", "toml", "txt", "yaml", "yml"}
)
PATH = re.compile(r"(?<![\w/.:-])((?:[\w.-]+/)+[\w.*-]*|[\w-]+\.py)(?:(::?)\s?([A-Za-z_]\w*))?")
DOTTED = re.compile(r"(?<![\w./-])([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)(?![\w/-])")
METRIC = re.compile(r"\b(livequiz_[a-z0-9_]+)(?:\{([^}]*)\})?")
OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z0-9]*(?:-[a-z0-9]+)*)")
COMMAND = re.compile(r"(?<![\w.-])livequiz ([a-z][\w-]*)(?: ([a-z][\w-]*))?")
MAKE = re.compile(r"(?<![\w-])make ([a-z][\w-]*)")
SUBJECT = re.compile(
    r"(?<![\w.])(livequiz\.(?:quiz\.[^.\s`<>]*(?:<[^>]*>)?[^.\s`]*\.[a-z]+|processes))"
)


def _renderer() -> ModuleType:
    """scripts/render_diagrams.py: the one definition of a diagram's source and its record."""
    spec = importlib.util.spec_from_file_location(
        "render_diagrams", ROOT / "scripts" / "render_diagrams.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it runs
    spec.loader.exec_module(module)
    return module


RENDERER = _renderer()


def prose_spans(text: str) -> Iterator[str]:
    """The inline code spans of the text outside fenced blocks."""
    yield from CODE_SPAN.findall(FENCE.sub("", text))


def mermaid_sources(text: str) -> list[str]:
    return [body for kind, body in FENCE.findall(text) if kind == "mermaid"]


def named_places(text: str) -> Iterator[str]:
    """Where the document names code: its code spans, and its diagrams' text."""
    yield from prose_spans(text)
    yield from mermaid_sources(text)


# ---------------------------------------------------------------------- what the code has


@cache
def modules() -> dict[str, list[str]]:
    """Short name of every livequiz module and package (``owner``, ``views``) → full names."""
    found: dict[str, list[str]] = {"livequiz": ["livequiz"]}
    for info in pkgutil.walk_packages(livequiz.__path__, "livequiz."):
        if not info.name.endswith("__main__"):
            found.setdefault(info.name.rsplit(".", 1)[1], []).append(info.name)
    return found


@cache
def classes() -> dict[str, list[type]]:
    """Every class defined in a livequiz module, by its name."""
    found: dict[str, list[type]] = {}
    for full_names in modules().values():
        for full in full_names:
            module = importlib.import_module(full)
            for name, value in vars(module).items():
                if inspect.isclass(value) and value.__module__ == module.__name__:
                    found.setdefault(name, []).append(value)
    return found


def _has(owner: Any, name: str) -> Any:
    """``owner.name``, or a dataclass field or protocol attribute only annotated there."""
    if hasattr(owner, name):
        return getattr(owner, name)
    if inspect.isclass(owner) and any(
        name in getattr(base, "__annotations__", {}) for base in owner.__mro__
    ):
        return name
    if inspect.ismodule(owner) and owner.__name__.startswith("livequiz"):
        try:
            return importlib.import_module(f"{owner.__name__}.{name}")
        except ModuleNotFoundError:
            return None
    return None


def resolves(dotted: str) -> bool | None:
    """Whether a dotted name exists; ``None`` if it is not about livequiz's code at all."""
    first, *rest = dotted.split(".")
    owners: list[Any] = [importlib.import_module(m) for m in modules().get(first, [])]
    owners += classes().get(first, [])
    if not owners:
        return None
    for owner in owners:
        value: Any = owner
        for part in rest:
            value = _has(value, part)
            if value is None:
                break
        else:
            return True
    return False


@cache
def metric_labels() -> dict[str, tuple[str, ...]]:
    """Every exported metric name (counters with ``_total``, histograms with their series),
    with its label names, from a real server's registry."""
    found: dict[str, tuple[str, ...]] = {}
    for collector in vars(Metrics()).values():
        if not isinstance(collector, MetricWrapperBase):
            continue
        labels = tuple(collector._labelnames)
        for family in collector.describe():
            suffixes = {
                "counter": ("", "_total"),
                "histogram": ("", "_bucket", "_count", "_sum"),
            }.get(family.type, ("",))
            for suffix in suffixes:
                found[family.name + suffix] = labels
    return found


def _options(parser: argparse.ArgumentParser) -> Iterator[str]:
    for action in parser._actions:
        yield from action.option_strings
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _options(sub)


@cache
def options() -> frozenset[str]:
    return frozenset(_options(build_parser())) | frozenset(_options(build_bench_parser()))


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


@cache
def make_targets() -> frozenset[str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return frozenset(re.findall(r"^([A-Za-z][\w-]*):", text, re.MULTILINE))


# ---------------------------------------------------------------------- the checks


def _file(path: str) -> Path | None:
    """The file or directory a document's path means: from the repository, the package or
    the docs; a bare ``x.py`` anywhere in the package."""
    if "/" not in path.rstrip("/") and not path.endswith("/"):
        return next(iter(sorted(PACKAGE.rglob(path))), None)
    for base in (ROOT, PACKAGE, DOCS):
        if (base / path).exists():
            return base / path
    return None


def _is_path(path: str) -> bool:
    """Whether a token with a slash names a file of the project: it ends in a file's extension,
    or starts with a directory of the repository, the package or the docs (not, say, an
    OpenAPI pointer such as ``components/schemas``)."""
    if "*" in path or "<" in path:
        return False
    if path.rsplit(".", 1)[-1] in FILE_EXTENSIONS and "." in path.rsplit("/", 1)[-1]:
        return True
    first = path.split("/", 1)[0]
    return any((base / first).is_dir() for base in (ROOT, PACKAGE, DOCS))


def path_problems(text: str) -> list[str]:
    problems = []
    for span in prose_spans(text):
        if "://" in span:
            continue
        for path, colons, name in PATH.findall(span):
            if not _is_path(path):
                continue
            found = _file(path)
            if found is None:
                problems.append(f"no file {path}")
            elif name and colons == "::":
                source = found.read_text(encoding="utf-8")
                if not re.search(rf"^(async )?def {name}\(", source, re.MULTILINE):
                    problems.append(f"no test {name} in {path}")
            elif name and found.is_file() and found.suffix == ".py":
                source = found.read_text(encoding="utf-8")
                if not re.search(rf"^\s*(async def|def|class) {name}\b|^{name}\b", source, re.M):
                    problems.append(f"no {name} in {path}")
    return problems


def dotted_problems(text: str) -> list[str]:
    problems = []
    for place in named_places(text):
        for dotted in DOTTED.findall(place):
            if dotted.rsplit(".", 1)[1] in FILE_EXTENSIONS:
                continue  # a file name (names.py, livequiz.sqlite3)
            if dotted.startswith(("livequiz.quiz.", "livequiz.processes")) or dotted == (
                "livequiz.quiz"
            ):
                continue  # a subject (subject_problems)
            if resolves(dotted) is False:
                problems.append(f"no {dotted} in livequiz")
    return problems


def metric_problems(text: str) -> list[str]:
    problems = []
    exported = metric_labels()
    for name, labels in METRIC.findall(text):
        if name not in exported:
            problems.append(f"no metric {name}")
            continue
        for label in re.findall(r"(\w+)\s*(?:=|,|$)", labels):
            if label not in exported[name]:
                problems.append(f"metric {name} has no label {label}")
    return problems


def option_problems(text: str) -> list[str]:
    known = options()
    return [
        f"no option {option} in livequiz's parsers"
        for place in named_places(text)
        for option in OPTION.findall(place)
        if option not in known
    ]


def command_problems(text: str) -> list[str]:
    problems = []
    commands = _subcommands(build_parser())
    for span in prose_spans(text):
        for command, action in COMMAND.findall(span):
            if command not in commands:
                problems.append(f"no command livequiz {command}")
                continue
            actions = _subcommands(commands[command])
            if actions and action and action not in actions:
                problems.append(f"no command livequiz {command} {action}")
        for target in MAKE.findall(span):
            if target not in make_targets():
                problems.append(f"no make target {target}")
    return problems


def subject_problems(text: str) -> list[str]:
    problems = []
    for subject in SUBJECT.findall(text):
        if subject == names.PROCESSES:
            continue
        placeholder = subject.split(".")[2]
        made = {
            make(placeholder) for make in (names.quiz_commands, names.quiz_log, names.quiz_owner)
        }
        if subject not in made:
            problems.append(f"no subject {subject} in names.py")
    return problems


def diagram_problems(text: str) -> list[str]:
    problems = []
    linked = set()
    for diagram in RENDERER.diagrams(text):
        if diagram.picture is None:
            problems.append(f"line {diagram.line}: no link to design/….svg under the diagram")
            continue
        linked.add(diagram.picture)
        path = DOCS / diagram.picture
        if not path.exists():
            problems.append(f"{diagram.picture} is missing: make diagrams")
        elif RENDERER.recorded_sha256(path.read_text(encoding="utf-8")) != diagram.sha256:
            problems.append(f"{diagram.picture} was not rendered from its source: make diagrams")
    for picture in sorted((DOCS / "design").glob("*.svg")):
        if f"design/{picture.name}" not in linked:
            problems.append(f"design/{picture.name} belongs to no diagram")
    return problems


# ---------------------------------------------------------------------- the document


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


def test_every_file_the_design_names_exists(doc: str) -> None:
    assert path_problems(doc) == []


def test_every_module_class_and_function_the_design_names_exists(doc: str) -> None:
    assert dotted_problems(doc) == []


def test_every_metric_the_design_names_is_exported_and_every_metric_is_named(doc: str) -> None:
    assert metric_problems(doc) == []
    named = {name.removesuffix("_total") for name, _ in METRIC.findall(doc)}
    families = {
        family.name
        for collector in vars(Metrics()).values()
        if isinstance(collector, MetricWrapperBase)
        for family in collector.describe()
    }
    assert families - named == set()


def test_every_option_the_design_names_is_an_option_of_livequiz(doc: str) -> None:
    assert option_problems(doc) == []


def test_every_command_and_make_target_the_design_names_exists(doc: str) -> None:
    assert command_problems(doc) == []


def test_every_subject_the_design_names_is_one_names_py_makes_and_all_are_named(doc: str) -> None:
    assert subject_problems(doc) == []
    for subject in (names.quiz_commands, names.quiz_log, names.quiz_owner):
        assert subject("ID") in doc, f"the design never names {subject('ID')}"
    assert names.PROCESSES in doc


def test_the_architecture_diagram_shows_every_table(doc: str) -> None:
    architecture = mermaid_sources(doc)[0]
    assert [table for table in names.PG_TABLES if table not in architecture] == []


def test_every_diagram_has_its_picture_rendered_from_its_source(doc: str) -> None:
    assert len(RENDERER.diagrams(doc)) >= 7  # the architecture and the six sequences
    assert diagram_problems(doc) == []


# ---------------------------------------------------------------------- the checks catch


@pytest.mark.parametrize(
    ("written", "check", "problem"),
    [
        ("`src/livequiz/nowhere.py`", path_problems, "no file src/livequiz/nowhere.py"),
        ("`adapters/local_bus.py`, `nowhere.py`", path_problems, "no file nowhere.py"),
        (
            "`tests/test_store.py::test_that_was_never_written`",
            path_problems,
            "no test test_that_was_never_written in tests/test_store.py",
        ),
        ("`transport/proxy.py:no_such_function`", path_problems, "no no_such_function in"),
        ("`QuizStore.no_such_method`", dotted_problems, "no QuizStore.no_such_method"),
        ("`livequiz.no_such_module`", dotted_problems, "no livequiz.no_such_module"),
        ("`owner.NO_SUCH_CONSTANT`", dotted_problems, "no owner.NO_SUCH_CONSTANT"),
        ("`livequiz_no_such_metric`", metric_problems, "no metric livequiz_no_such_metric"),
        ("`livequiz_joins_total{how}`", metric_problems, "no label how"),
        ("`livequiz serve --no-such-option`", option_problems, "no option --no-such-option"),
        ("`livequiz nosuchcommand`", command_problems, "no command livequiz nosuchcommand"),
        ("`livequiz flags forget`", command_problems, "no command livequiz flags forget"),
        ("`make nosuchtarget`", command_problems, "no make target nosuchtarget"),
        ("`livequiz.quiz.<id>.commands`", subject_problems, "no subject livequiz.quiz.<id>."),
    ],
)
def test_a_wrong_name_in_the_design_is_caught(written: str, check: Any, problem: str) -> None:
    problems = check(f"Some prose naming {written} among the rest.\n")
    assert len(problems) == 1
    assert problem in problems[0]


@pytest.mark.parametrize(
    "written",
    [
        "`adapters/local_bus.py`, `domain/session.py`, `tests/contract/`",
        "`livequiz.owner`, `QuizStore.execute`, `Client.shown_seq`, `QuestionFrame.for_player`",
        '`livequiz_joins_total{via}`, `livequiz_http_connections_closed{reason="evicted"}`',
        "`livequiz serve --workers N --lease-s 3`, `livequiz bench --players 10`",
        "`livequiz apikey revoke`, `make test`, `livequiz.quiz.<id>.log`, `livequiz.processes`",
    ],
)
def test_right_names_pass(written: str) -> None:
    text = f"Prose naming {written}.\n"
    checks = (path_problems, dotted_problems, metric_problems, option_problems)
    assert [problem for check in checks for problem in check(text)] == []
    assert command_problems(text) + subject_problems(text) == []


def test_a_diagram_changed_without_rendering_it_again_is_caught(doc: str) -> None:
    first = mermaid_sources(doc)[0]
    changed = doc.replace(first, first + '  LATE["a node added later"]\n', 1)
    assert diagram_problems(changed) == [
        "design/01-architecture.svg was not rendered from its source: make diagrams"
    ]


def test_a_diagram_without_its_picture_is_caught() -> None:
    text = "## A\n\n```mermaid\nflowchart LR\n  A --> B\n```\n\nNo picture here.\n"
    problems = diagram_problems(text)
    assert problems[0] == "line 3: no link to design/….svg under the diagram"
