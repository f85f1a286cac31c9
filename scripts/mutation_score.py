"""The mutation score of the quiz core, per module (docs/reliability.md, section 8).

    .venv/bin/mutmut results --all true | python scripts/mutation_score.py

Reads mutmut's list of mutants and their fates (``    livequiz.domain.views.x_reveal__mutmut_3:
killed``) and prints one line per module: mutants killed (a test failed, or the mutant hung
and was stopped) out of all mutants, and the ones no test noticed, by name, so each can be
killed with an assertion or shown equivalent. The exit status is 1 while any survive.
"""

from __future__ import annotations

import re
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable

#: ``livequiz.domain.session.xǁQuizSessionǁskip__mutmut_3: survived`` → module, name, fate
_LINE = re.compile(r"^\s*(?P<name>(?P<module>[\w.]+?)\.x[_ǁ]\S*__mutmut_\d+): (?P<fate>.+)$")
#: A timeout is a kill: the mutant made the tests hang, which no release would get through.
_KILLED = {"killed", "timeout", "caught by type check"}


def tally(lines: Iterable[str]) -> tuple[dict[str, Counter[str]], list[str]]:
    """Fates counted per module, and the names of the mutants that were not killed."""
    fates: dict[str, Counter[str]] = defaultdict(Counter)
    alive: list[str] = []
    for line in lines:
        match = _LINE.match(line)
        if match is None:
            continue
        fate = "killed" if match["fate"] in _KILLED else match["fate"]
        fates[match["module"]][fate] += 1
        if fate != "killed":
            alive.append(f"{match['name']}: {fate}")
    return fates, alive


def main() -> int:
    fates, alive = tally(sys.stdin)
    if not fates:
        print("no mutants listed: run `mutmut run` first", file=sys.stderr)
        return 2
    print(f"{'module':<28} {'killed':>7} {'total':>6} {'score':>7}  not killed")
    totals: Counter[str] = Counter()
    for module in sorted(fates):
        counts = fates[module]
        totals += counts
        total = sum(counts.values())
        others = ", ".join(f"{n} {fate}" for fate, n in sorted(counts.items()) if fate != "killed")
        score = 100 * counts["killed"] / total
        print(f"{module:<28} {counts['killed']:>7} {total:>6} {score:>6.1f}%  {others}")
    total = sum(totals.values())
    score = 100 * totals["killed"] / total
    print(f"{'all':<28} {totals['killed']:>7} {total:>6} {score:>6.1f}%")
    for name in alive:
        print(f"  {name}")
    return 1 if alive else 0


if __name__ == "__main__":
    sys.exit(main())
