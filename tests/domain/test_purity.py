"""The core stays pure: it imports nothing that does I/O, so it runs the same everywhere."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import livequiz.domain

#: The only modules outside the standard library the core may use.
ALLOWED_THIRD_PARTY = {"sortedcontainers"}
#: Standard-library modules that reach the outside world or the real clock.
FORBIDDEN_STDLIB = {
    "asyncio", "socket", "os", "io", "pathlib", "time", "datetime", "random", "threading",
    "subprocess", "sqlite3", "logging", "urllib", "http", "selectors", "shutil", "tempfile",
}  # fmt: skip

DOMAIN = Path(livequiz.domain.__file__).parent


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_core_imports_only_itself_the_stdlib_and_allowed_libraries() -> None:
    files = sorted(DOMAIN.glob("*.py"))
    assert len(files) >= 9
    for path in files:
        for module in imported_modules(path):
            top = module.split(".")[0]
            if module.startswith("livequiz."):
                assert module.startswith("livequiz.domain"), f"{path.name} imports {module}"
                continue
            assert top not in FORBIDDEN_STDLIB, f"{path.name} imports {module}"
            assert top in sys.stdlib_module_names or top in ALLOWED_THIRD_PARTY, (
                f"{path.name} imports {module}"
            )
