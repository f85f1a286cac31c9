"""Hand-made mutants of the PostgreSQL path's SQL (`make mutation-pg`; docs/reliability.md, 8).

    python scripts/mutation_pg_sql.py [NAME ...]

The fencing, the leases and the exactly-once key of the PostgreSQL path are SQL text in
:class:`livequiz.adapters.postgres._Statements` (f-strings), which mutmut leaves alone: it
would mutate ``append`` in Python, yet never drop ``l.epoch = w.epoch`` from the statement
that decides whether a stale owner may write. So each mutant below removes or weakens one
such condition. For each, a copy of ``src/`` is patched in a temporary directory and the
PostgreSQL tests of the journal and the leases run against it (put first on ``PYTHONPATH``,
so the patched copy is imported instead of the project's); a mutant is killed when a test
fails. The project's own files are never touched. Prints each mutant's fate; the exit
status is 1 while any survives.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULE = Path("src/livequiz/adapters/postgres.py")
#: The PostgreSQL cases of the contract suite (journal, leases, the store over it) and the
#: adapter's own tests.
TESTS = [
    "tests/contract/test_records.py",
    "tests/contract/test_store.py",
    "tests/adapters/test_postgres.py",
    "-k",
    "postgres or not (memory or sqlite)",
]


@dataclass(frozen=True)
class SqlMutant:
    """Replace ``old`` by ``new`` in the statement assigned to ``self.<statement>`` (or to
    the local ``append``, the text both append statements are made from)."""

    name: str
    statement: str
    old: str
    new: str


MUTANTS = [
    SqlMutant("append: no epoch check", "append", "l.epoch = w.epoch AND ", ""),
    SqlMutant("append: no owner check", "append", " AND l.owner_id = $3", ""),
    SqlMutant("append: writes after the finish", "append", " AND NOT l.finished", ""),
    SqlMutant(
        "append: one held lease is enough", "append", "count(*) = cardinality", "count(*) >= 1 OR"
    ),
    SqlMutant(
        "append: rows stored whatever the verdict",
        "append",
        "JOIN wanted AS w ON w.quiz_id = r.quiz_id\n                WHERE (SELECT ok FROM verdict)",
        "JOIN wanted AS w ON w.quiz_id = r.quiz_id",
    ),
    SqlMutant(
        "append: lease marked finished whatever the verdict",
        "append",
        "WHERE quiz_id = ANY($4::text[]) AND (SELECT ok FROM verdict)",
        "WHERE quiz_id = ANY($4::text[])",
    ),
    SqlMutant(
        "append: quiz marked finished whatever the verdict",
        "append",
        "AND finished_at IS NULL\n                  AND (SELECT ok FROM verdict)",
        "AND finished_at IS NULL",
    ),
    SqlMutant("append: rows under the first epoch", "append", "r.seq, w.epoch", "r.seq, 1"),
    SqlMutant("acquire: epoch not raised", "acquire", "epoch = epoch + 1", "epoch = epoch"),
    SqlMutant("acquire: a live lease taken", "acquire", "(expires_at <= now() OR ", "(true OR "),
    SqlMutant("acquire: not its own lease again", "acquire", " OR owner_id = $2)", ")"),
    SqlMutant("acquire: a finished quiz taken", "acquire", "NOT finished AND ", ""),
    SqlMutant(
        "recreate_lease: at the journal's last epoch", "recreate_lease", "1 + coalesce", "coalesce"
    ),
    SqlMutant("renew: no epoch check", "renew", "l.epoch = w.epoch AND ", ""),
    SqlMutant("renew: no owner check", "renew", " AND l.owner_id = $3", ""),
    SqlMutant("renew: a finished lease renewed", "renew", " AND NOT l.finished", ""),
    SqlMutant("release: no epoch check", "release", "l.epoch = w.epoch AND ", ""),
    SqlMutant("release: no owner check", "release", " AND l.owner_id = $3", ""),
    SqlMutant("orphans: live leases too", "orphans", " AND l.expires_at <= now()", ""),
    SqlMutant("orphans: finished leases too", "orphans", "WHERE NOT l.finished AND", "WHERE"),
    SqlMutant(
        "orphans: newest first",
        "orphans",
        "ORDER BY created_order LIMIT",
        "ORDER BY created_order DESC LIMIT",
    ),
    SqlMutant(
        "orphans: no unleased quizzes",
        "orphans",
        "SELECT * FROM expired UNION ALL SELECT * FROM unleased",
        "SELECT * FROM expired",
    ),
    SqlMutant("records: the given seq again", "records", "seq > $2", "seq >= $2"),
    SqlMutant("add_quiz: epoch 0", "add_quiz", "SELECT quiz_id, $4, 1,", "SELECT quiz_id, $4, 0,"),
]


def mutate(source: str, mutant: SqlMutant) -> str:
    """``source`` with the mutant's change made once, inside its statement only."""
    found = re.search(rf"^        (self\.)?{mutant.statement} = [f(]", source, re.MULTILINE)
    if found is None:
        raise SystemExit(f"{mutant.name}: no statement {mutant.statement}")
    start = found.start()
    end = source.find("\n        self.", start + 1)
    end = len(source) if end < 0 else end
    body = source[start:end]
    if body.count(mutant.old) != 1:
        raise SystemExit(f"{mutant.name}: {mutant.old!r} is not once in self.{mutant.statement}")
    return source[:start] + body.replace(mutant.old, mutant.new) + source[end:]


def run(mutant: SqlMutant | None, source: str, scratch: Path) -> bool:
    """Whether a test fails with the mutant in place (killed); ``None``: the source as it is."""
    target = scratch / MODULE
    target.write_text(source if mutant is None else mutate(source, mutant), "utf-8")
    env = {**os.environ, "PYTHONPATH": str(scratch / "src")}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-x", "-q", "--no-cov", "-p", "no:cacheprovider", *TESTS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    target.write_text(source, "utf-8")
    return done.returncode != 0


def main() -> int:
    wanted = set(sys.argv[1:])
    chosen = [m for m in MUTANTS if not wanted or m.name in wanted]
    source = (ROOT / MODULE).read_text("utf-8")
    survived: list[str] = []
    with tempfile.TemporaryDirectory(prefix="livequiz-sql-mutants-") as tmp:
        scratch = Path(tmp)
        shutil.copytree(ROOT / "src", scratch / "src")
        # the patched copy must be what the tests import: check it once
        probe = subprocess.run(
            [sys.executable, "-c", "import livequiz; print(livequiz.__file__)"],
            env={**os.environ, "PYTHONPATH": str(scratch / "src")},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        if not probe.startswith(str(scratch)):
            raise SystemExit(f"the tests would import {probe}, not the patched copy")
        if run(None, source, scratch):
            raise SystemExit("the tests fail without any mutant: nothing to measure")
        for mutant in chosen:
            killed = run(mutant, source, scratch)
            print(f"{'killed  ' if killed else 'SURVIVED'}  {mutant.name}", flush=True)
            if not killed:
                survived.append(mutant.name)
    print(f"SQL mutants: {len(chosen) - len(survived)} / {len(chosen)} killed")
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())
