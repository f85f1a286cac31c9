"""The ``livequiz`` command: the single entry point for everything livequiz does.

Each subcommand is a small function that parses nothing itself: :func:`build_parser` owns every
option, so ``livequiz --help`` and ``livequiz COMMAND --help`` explain the whole tool.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
from collections.abc import Sequence
from typing import TextIO

from livequiz import __version__
from livequiz.domain.errors import Rejected
from livequiz.domain.question import Question
from livequiz.vocabulary import (
    Deck,
    Level,
    QuestionKind,
    WordListError,
    generate_quiz,
    load_wordlist_file,
)

DESCRIPTION = """\
livequiz: a real-time vocabulary quiz for English learners.

A host starts a quiz, learners join it with a short quiz ID from a phone or a browser, answer
timed questions built from real vocabulary data, and watch a live leaderboard.
"""

EPILOG = """\
examples:
  livequiz sample                          a 10-question quiz over all levels
  livequiz sample --level A2 --level B1 --kind fill_blank --count 5 --seed 7
  livequiz sample --words my-words.csv     questions from your own word list
  livequiz sample --json                   the same, as JSON (answers included)
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="livequiz",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"livequiz {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    sample = commands.add_parser(
        "sample",
        help="generate a vocabulary quiz and print it",
        description=(
            "Generate a vocabulary quiz from the built-in deck (20,363 English words with "
            "WordNet definitions) or from your own word list, and print it. The same options "
            "and seed always give the same quiz."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    sample.add_argument(
        "--level",
        dest="levels",
        action="append",
        choices=[level.value for level in Level],
        help="CEFR-like level of the words; repeat for several (default: all)",
    )
    sample.add_argument(
        "--kind",
        dest="kinds",
        action="append",
        choices=[kind.value for kind in QuestionKind],
        help="kind of question; repeat for several (default: all)",
    )
    sample.add_argument("--count", type=int, default=10, help="number of questions (1–200)")
    sample.add_argument("--seed", type=int, default=2026, help="seed: same seed, same quiz")
    sample.add_argument(
        "--words",
        metavar="FILE",
        help="your own word list, CSV or JSON: a 'word' column, and optionally "
        "'definition', 'pos', 'example', 'level' (missing ones come from the built-in deck)",
    )
    sample.add_argument("--json", action="store_true", help="print JSON instead of text")
    sample.add_argument(
        "--hide-answers", action="store_true", help="do not mark the correct options"
    )
    sample.set_defaults(handler=run_sample)
    return parser


def run_sample(args: argparse.Namespace, out: TextIO) -> int:
    if not 1 <= args.count <= 200:
        raise UsageError("--count must be between 1 and 200")
    deck = Deck.builtin()
    source = load_wordlist_file(args.words, deck=deck) if args.words else deck
    questions = generate_quiz(
        source,
        levels=args.levels,
        kinds=args.kinds,
        count=args.count,
        seed=args.seed,
    )
    if args.json:
        json.dump([question_to_json(q) for q in questions], out, indent=2, ensure_ascii=False)
        out.write("\n")
    else:
        for number, question in enumerate(questions, start=1):
            out.write(format_question(number, question, show_answer=not args.hide_answers))
    return 0


def question_to_json(question: Question) -> dict[str, object]:
    return {
        "kind": question.kind,
        "prompt": question.prompt,
        "options": list(question.options),
        "correct_option": question.correct_option,
        "word": question.word,
        "definition": question.definition,
        "example": question.example,
    }


def format_question(number: int, question: Question, *, show_answer: bool) -> str:
    lines = [f"{number}. [{question.kind}] " + textwrap.fill(question.prompt, 90)]
    for index, option in enumerate(question.options):
        mark = "*" if show_answer and index == question.correct_option else " "
        lines.append(f"   {mark} {'ABCDEF'[index]}) {option}")
    return "\n".join(lines) + "\n\n"


class UsageError(Exception):
    """A command was given options that cannot work together; the message says why."""


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 bad input, 2 bad usage)."""
    out = out or sys.stdout
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(out)
        return 0
    try:
        status: int = args.handler(args, out)
    except UsageError as error:
        parser.error(str(error))  # exits with status 2
    except BrokenPipeError:  # the reader went away (``livequiz sample | head``): not an error
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keeps the interpreter's final flush quiet
        return 0
    except (WordListError, OSError) as error:
        print(f"livequiz: {error}", file=sys.stderr)
        return 1
    except Rejected as error:
        print(f"livequiz: {error.message}", file=sys.stderr)
        return 1
    return status
