"""The blind review of generated questions (docs/questions.md), reproducibly.

    python scripts/blind_review.py sample OUT.json      # 20 questions per level, every kind
    python scripts/blind_review.py sheet BEFORE.json AFTER.json DIR --seed 777
    python scripts/blind_review.py tally docs/questions/blind-review-2.csv

``sample`` uses whichever livequiz is importable (run it in a checkout of the version to
review). ``sheet`` shuffles both samples together and writes DIR/sheet-1.md and sheet-2.md (120
questions each, nothing telling the version) and DIR/key.json; reviewers grade each question
good / weak / wrong in a CSV ``id,grade,reason``. ``tally`` counts the grades per version from
a committed review file.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from collections import Counter
from pathlib import Path

LEVELS = ("A1", "A2", "B1", "B2", "C1", "C2")


def sample(out: Path) -> None:
    from livequiz.vocabulary import Deck, generate_quiz

    deck = Deck.builtin()
    questions = []
    for level in LEVELS:
        for q in generate_quiz(deck, levels=[level], count=20, seed=f"blind-review-{level}"):
            questions.append(
                {
                    "level": level,
                    "kind": q.kind,
                    "prompt": q.prompt,
                    "options": list(q.options),
                    "correct": q.correct_option,
                    "word": q.word,
                    "definition": q.definition,
                    "example": q.example,
                }
            )
    out.write_text(json.dumps(questions, indent=1, ensure_ascii=False))


def sheet(before: Path, after: Path, directory: Path, seed: int) -> None:
    items = [dict(q, version="before") for q in json.loads(before.read_text())]
    items += [dict(q, version="after") for q in json.loads(after.read_text())]
    random.Random(seed).shuffle(items)
    directory.mkdir(parents=True, exist_ok=True)
    for part, start in ((1, 0), (2, len(items) // 2)):
        lines = ["# Blind review sheet", ""]
        for number, q in enumerate(items[start : start + len(items) // 2], start + 1):
            options = " / ".join(
                f"*{o}*" if i == q["correct"] else o for i, o in enumerate(q["options"])
            )
            example = f" | example: {q['example']}" if q["example"] else ""
            lines += [
                f"## Q{number} [{q['level']}, {q['kind']}]",
                f"Prompt: {q['prompt']}",
                f"Options: {options}",
                f"Word: {q['word']} | review definition: {q['definition']}{example}",
                "",
            ]
        (directory / f"sheet-{part}.md").write_text("\n".join(lines))
    key = [{"id": n, **q} for n, q in enumerate(items, 1)]
    (directory / "key.json").write_text(json.dumps(key, indent=1, ensure_ascii=False))


def tally(review: Path) -> None:
    counts: dict[str, Counter[str]] = {}
    with review.open(newline="") as rows:
        for row in csv.DictReader(rows):
            counts.setdefault(row["version"], Counter())[row["grade"]] += 1
    for version, grades in counts.items():
        total = sum(grades.values())
        shares = ", ".join(
            f"{g} {grades[g]} ({grades[g] / total:.1%})" for g in ("good", "weak", "wrong")
        )
        print(f"{version}: {shares}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("sample").add_argument("out", type=Path)
    sheets = commands.add_parser("sheet")
    for name in ("before", "after", "directory"):
        sheets.add_argument(name, type=Path)
    sheets.add_argument("--seed", type=int, default=777)
    commands.add_parser("tally").add_argument("review", type=Path)
    args = parser.parse_args()
    if args.command == "sample":
        sample(args.out)
    elif args.command == "sheet":
        sheet(args.before, args.after, args.directory, args.seed)
    else:
        tally(args.review)


if __name__ == "__main__":
    main()
