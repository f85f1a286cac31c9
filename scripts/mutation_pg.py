"""Mutation testing of the PostgreSQL path (`make mutation-pg`; docs/reliability.md, section 8).

    python scripts/mutation_pg.py [--fresh] [--jobs N] [MUTANT_GLOB ...]

mutmut 3 reads its settings only from ``[tool.mutmut]`` of the ``pyproject.toml`` in the
directory it runs in, and keeps its mutants in ``mutants/`` there. That section belongs to
``make mutation`` (the quiz core). So this runs mutmut in a directory of its own,
``.mutation-pg/``: a copy of ``pyproject.toml`` whose ``[tool.mutmut]`` is replaced by
``[tool.livequiz.mutation-pg]``, and links to ``src`` and ``tests``. The two runs never share
mutants or results.

Without globs it runs the functions listed in ``mutants`` of that section (the journal's fenced
append, leases, the store's batches and takeovers, the owner's lease trust); with globs, only
those (``'livequiz.store.xǁQuizStoreǁlose__mutmut_*'``), to re-check after new tests.
``--fresh`` starts from new mutants (mutmut copies the tests when it starts, so new tests are
only seen by a fresh run or by the mutants it re-runs). Prints killed / total per module for
the selected functions and every mutant not killed (``scripts/mutation_score.py``); the exit
status is that script's.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".mutation-pg"
#: The core's section, from its header to the next table header (or the end of the file).
_MUTMUT_SECTION = re.compile(r"^\[tool\.mutmut\]\n(?:(?!\[).*\n?)*", re.MULTILINE)


def settings() -> dict[str, list[str] | str]:
    """``[tool.livequiz.mutation-pg]`` of the project's ``pyproject.toml``."""
    with (ROOT / "pyproject.toml").open("rb") as file:
        table: dict[str, list[str] | str] = tomllib.load(file)["tool"]["livequiz"]["mutation-pg"]
    return table


def prepare(table: dict[str, list[str] | str], *, fresh: bool) -> None:
    """Write ``.mutation-pg/``: the project's pyproject with the PostgreSQL path's mutmut
    settings as its ``[tool.mutmut]``, and links to the sources and tests."""
    if fresh and WORK.exists():
        shutil.rmtree(WORK)
    WORK.mkdir(exist_ok=True)
    text = (ROOT / "pyproject.toml").read_text("utf-8")
    section = '[tool.mutmut]\nsource_paths = ["src"]\n' + "".join(
        # JSON strings and lists of them are TOML too (no escapes beyond JSON's are needed)
        f"{key} = {_toml(value)}\n"
        for key, value in table.items()
        if key != "mutants"
    )
    text, replaced = _MUTMUT_SECTION.subn(lambda _: section + "\n", text)
    if replaced != 1:
        raise SystemExit("pyproject.toml: expected exactly one [tool.mutmut] section")
    (WORK / "pyproject.toml").write_text(text, "utf-8")
    for name in ("src", "tests"):
        link = WORK / name
        if not link.is_symlink():
            link.symlink_to(ROOT / name, target_is_directory=True)


def _toml(value: list[str] | str) -> str:
    """A TOML string, or list of strings (JSON's escapes are TOML's)."""
    if isinstance(value, str):
        return json.dumps(value)
    return "[" + ", ".join(json.dumps(item) for item in value) + "]"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("globs", nargs="*", help="mutant names (mutmut globs); default: all listed")
    parser.add_argument("--fresh", action="store_true", help="start from new mutants")
    parser.add_argument("--jobs", type=int, default=1, help="mutmut workers (default 1)")
    args = parser.parse_args()
    table = settings()
    listed = table["mutants"]
    assert isinstance(listed, list)
    globs: list[str] = args.globs or listed
    prepare(table, fresh=args.fresh)
    mutmut = str(Path(sys.executable).parent / "mutmut")
    subprocess.run([mutmut, "run", "--max-children", str(args.jobs), *globs], cwd=WORK, check=True)
    results = subprocess.run(
        [mutmut, "results", "--all", "true"], cwd=WORK, check=True, capture_output=True, text=True
    ).stdout
    # the score of the selected functions only: the rest of those files is not this item
    chosen = [
        line
        for line in results.splitlines(keepends=True)
        if any(fnmatch.fnmatchcase(line.strip().split(":")[0], glob) for glob in globs)
    ]
    score = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "mutation_score.py")],
        input="".join(chosen),
        text=True,
    )
    return score.returncode


if __name__ == "__main__":
    sys.exit(main())
