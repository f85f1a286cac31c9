"""Compares profanity filters on ``hostile.txt`` and ``ordinary.txt``: how many hostile names
each catches and how many ordinary names it refuses, on the raw name and with livequiz's
normalisation in front (:func:`livequiz.moderation.nickname_variants`).

Not part of the test suite: the candidate filters are not dependencies of livequiz. Run it in a
scratch environment that has them (the versions compared are pinned below):

    python3 -m venv /tmp/filters && /tmp/filters/bin/pip install disarm==0.17.2 \\
        better-profanity==0.7.0 glin-profanity==4.1.0 alt-profanity-check==1.9.1 \\
        pyobscenity==0.2.0 profanex==1.0.0 profanite==0.1.9 profanityfilter==2.1.0
    PYTHONPATH=src /tmp/filters/bin/python tests/data/nicknames/compare_filters.py

It prints the Markdown table of docs/reliability.md, section 6.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from livequiz.domain.errors import Rejected
from livequiz.domain.nicknames import NicknamePolicy
from livequiz.moderation import nickname_variants

HERE = Path(__file__).parent


def filters() -> dict[str, Callable[[str], bool]]:
    # Imported by name: they are installed only in the scratch environment of this comparison.
    def lib(name: str) -> Any:
        return importlib.import_module(name)

    better = lib("better_profanity").Profanity()
    better.load_censor_words()
    glin = lib("glin_profanity").Filter()
    rust = lib("profanex").Filter()
    kryptonite = lib("profanite").Profanite()
    universal = lib("profanityfilter").ProfanityFilter()
    model = lib("profanity_check")
    return {
        "better-profanity 0.7.0 (2020-11)": better.contains_profanity,
        "glin-profanity 4.1.0 (2026-10)": glin.is_profane,
        "pyobscenity 0.2.0 (2026-09)": lib("pyobscenity").check,
        "profanex 1.0.0 (2026-08)": rust.contains,
        "profanite 0.1.9 (2026-04)": kryptonite.contains_profanity,
        "profanityfilter 2.1.0 (2024-11)": universal.is_profane,
        "alt-profanity-check 1.9.1 (2026-09, ML)": lambda t: bool(model.predict([t])[0]),
    }


def lines(name: str) -> list[str]:
    return [line for line in (HERE / name).read_text(encoding="utf-8").splitlines() if line]


def main() -> None:
    hostile, ordinary = lines("hostile.txt"), lines("ordinary.txt")
    rules = NicknamePolicy()

    def refused_by_rules(name: str) -> bool:
        try:
            rules.normalise(name)
        except Rejected:
            return True
        return False

    by_rules = {name for name in hostile if refused_by_rules(name)}
    print(
        f"{len(hostile)} hostile names, {len(ordinary)} ordinary names; "
        f"{len(by_rules)} hostile names refused by the nickname rules alone "
        f"(invisible characters, over 20 characters)"
    )
    assert not any(refused_by_rules(name) for name in ordinary)
    print()
    print(
        "| filter (release) | hostile caught, raw | with normalisation | "
        "refused in all (rules + filter) | ordinary refused, raw | with normalisation | "
        "µs per name (normalised) |"
    )
    print("|---|---|---|---|---|---|---|")
    for label, check in filters().items():

        def normalised(name: str, check: Callable[[str], bool] = check) -> bool:
            return any(check(reading) for reading in nickname_variants(name))

        raw_caught = sum(check(name) for name in hostile)
        start = time.perf_counter()
        norm_flags = [normalised(name) for name in hostile]
        elapsed = time.perf_counter() - start
        norm_caught = sum(norm_flags)
        in_all = sum(f or name in by_rules for f, name in zip(norm_flags, hostile, strict=True))
        raw_false = [name for name in ordinary if check(name)]
        norm_false = [name for name in ordinary if normalised(name)]
        n = len(hostile)
        print(
            f"| {label} | {raw_caught}/{n} | {norm_caught}/{n} | {in_all}/{n} "
            f"| {len(raw_false)}/{len(ordinary)} | {len(norm_false)}/{len(ordinary)} "
            f"({', '.join(norm_false)}) | {elapsed / n * 1e6:.0f} |"
        )
        missed = [
            name
            for f, name in zip(norm_flags, hostile, strict=True)
            if not f and name not in by_rules
        ]
        print(f"<!-- {label} missed: {missed} -->")


if __name__ == "__main__":
    main()
