"""A multiple-choice question as the quiz core sees it.

The core does not care where a question came from (the built-in deck, an author's word list, a
later hand-written quiz); it needs the prompt, the options, which option is right, and what a
learner should review if they miss it.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from livequiz.domain.errors import ErrorCode, Rejected

#: Fewer than two options is not a choice; more than six does not fit a phone screen.
MIN_OPTIONS = 2
MAX_OPTIONS = 6
#: The CEFR levels a question may be tagged with; ``""`` is "not known" (a hand-written one).
LEVELS = ("A1", "A2", "B1", "B2", "C1", "C2")
#: Limits of a question a client sends (:func:`parse_questions`). Generated questions stay far
#: below them (over 2,400 generated ones: prompts up to 192 characters, options up to 120,
#: words up to 14, definitions up to 189, examples up to 195), so a teacher's edit has room,
#: and a prompt still fits a phone screen and an option a button.
MAX_PROMPT_CHARS = 300
MAX_OPTION_CHARS = 150
MAX_WORD_CHARS = 50
MAX_TEXT_CHARS = 300
#: As many questions as a generated quiz may have.
MAX_QUESTIONS = 100
#: The fields of a question a client sends; ``level``, ``definition`` and ``example`` may be left
#: out (empty).
QUESTION_FIELDS = (
    "prompt",
    "options",
    "correct_option",
    "kind",
    "level",
    "word",
    "definition",
    "example",
)
_REQUIRED_FIELDS = ("prompt", "options", "correct_option", "kind", "word")
#: Characters that draw nothing or reorder text around them (bidirectional overrides and
#: isolates): a prompt holding one may show something other than what was checked.
_INVISIBLE_CONTROLS = frozenset(
    "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


@dataclass(frozen=True, slots=True)
class Question:
    """One question of a quiz.

    ``correct_option`` is an index into ``options``. ``word``, ``definition`` and ``example`` are
    what the review of missed words shows after the quiz; ``kind`` names how the question was
    built (e.g. ``"word_to_meaning"``), for reports; ``kind`` and ``level`` are what a
    replacement of the same kind and level is drawn by, and ``(word, kind)`` is what a flag
    keeps out of generation.
    """

    prompt: str
    options: tuple[str, ...]
    correct_option: int
    kind: str
    word: str
    definition: str
    example: str = ""
    #: The CEFR level of the asked word (one of :data:`LEVELS`), ``""`` if not known.
    level: str = ""

    def __post_init__(self) -> None:
        if not MIN_OPTIONS <= len(self.options) <= MAX_OPTIONS:
            raise Rejected(
                ErrorCode.INVALID_QUESTION,
                f"a question needs {MIN_OPTIONS} to {MAX_OPTIONS} options, got {len(self.options)}",
            )
        if len({option.casefold() for option in self.options}) != len(self.options):
            raise Rejected(ErrorCode.INVALID_QUESTION, "the options of a question must differ")
        if not 0 <= self.correct_option < len(self.options):
            raise Rejected(
                ErrorCode.INVALID_QUESTION, "the correct option is not one of the options"
            )
        if not self.prompt.strip():
            raise Rejected(ErrorCode.INVALID_QUESTION, "a question needs a prompt")

    @property
    def answer(self) -> str:
        """The text of the correct option."""
        return self.options[self.correct_option]


# ---------------------------------------------------------------------- questions a client sends


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a question a client sent: its number (1-based; 0 for the list as a
    whole), the field, and what to fix."""

    question: int
    field: str
    message: str

    def __str__(self) -> str:
        if self.question == 0:
            return f"{self.field}: {self.message}"
        return f"question {self.question}, {self.field}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"question": self.question, "field": self.field, "message": self.message}


class InvalidQuestions(Rejected):
    """Questions a client sent that break the rules; :attr:`problems` lists every one."""

    def __init__(self, problems: Collection[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__(ErrorCode.INVALID_QUESTION, "; ".join(str(p) for p in self.problems))


def _never_profane(_text: str) -> bool:
    return False


def _unprintable(text: str) -> bool:
    return any(
        unicodedata.category(char) in ("Cc", "Cs", "Co") or char in _INVISIBLE_CONTROLS
        for char in text
    )


class _Checker:
    """The checks of one question, collecting problems instead of stopping at the first."""

    def __init__(self, number: int, is_profane: Callable[[str], bool]) -> None:
        self.number = number
        self.is_profane = is_profane
        self.problems: list[Problem] = []

    def fail(self, field: str, message: str) -> None:
        self.problems.append(Problem(self.number, field, message))

    def text(self, field: str, value: object, limit: int, *, required: bool) -> str | None:
        if value is None and not required:
            return ""
        if not isinstance(value, str):
            self.fail(field, "must be text")
            return None
        value = value.strip()
        if required and not value:
            self.fail(field, "must not be empty")
            return None
        if len(value) > limit:
            self.fail(field, f"must be at most {limit} characters, not {len(value)}")
            return None
        if _unprintable(value):
            self.fail(field, "must be one line of plain text (no control characters)")
            return None
        if value and self.is_profane(value):
            self.fail(field, "holds a word not fit for a class; please reword it")
            return None
        return value


def parse_question(
    number: int,
    raw: object,
    *,
    kinds: Collection[str],
    is_profane: Callable[[str], bool] = _never_profane,
) -> tuple[Question | None, list[Problem]]:
    """Question ``number`` (1-based) of a list a client sent, checked field by field.

    Returns the question, or ``None`` and every problem found (not only the first), each naming
    the question and the field. ``kinds`` are the kinds a question may have.

    ``is_profane`` checks every text (handed in: the pure core loads no word list; the server
    gives :func:`livequiz.moderation.is_unfit_question_text`).
    """
    check = _Checker(number, is_profane)
    if not isinstance(raw, Mapping):
        check.fail("question", "must be an object with prompt, options, correct_option, ...")
        return None, check.problems
    for name in sorted(set(raw) - set(QUESTION_FIELDS)):
        check.fail(str(name)[:32], f"unknown field; fields are {', '.join(QUESTION_FIELDS)}")
    for name in _REQUIRED_FIELDS:
        if name not in raw:
            check.fail(name, "is missing")
    if check.problems:
        return None, check.problems
    prompt = check.text("prompt", raw["prompt"], MAX_PROMPT_CHARS, required=True)
    word = check.text("word", raw["word"], MAX_WORD_CHARS, required=True)
    definition = check.text("definition", raw.get("definition"), MAX_TEXT_CHARS, required=False)
    example = check.text("example", raw.get("example"), MAX_TEXT_CHARS, required=False)
    kind = raw["kind"]
    if not isinstance(kind, str) or kind not in kinds:
        check.fail("kind", f"must be one of {', '.join(sorted(kinds))}")
    level = raw.get("level") or ""
    if level not in ("", *LEVELS):
        check.fail("level", f"must be one of {', '.join(LEVELS)} (or left out)")
    options: list[str] = []
    raw_options = raw["options"]
    if not isinstance(raw_options, list) or not MIN_OPTIONS <= len(raw_options) <= MAX_OPTIONS:
        check.fail("options", f"must be a list of {MIN_OPTIONS} to {MAX_OPTIONS} answers")
    else:
        for index, value in enumerate(raw_options):
            text = check.text(f"options[{index + 1}]", value, MAX_OPTION_CHARS, required=True)
            if text is not None:
                options.append(text)
        if len(options) == len(raw_options):
            seen: dict[str, int] = {}
            for index, text in enumerate(options):
                first = seen.setdefault(text.casefold(), index)
                if first != index:
                    same = options[first][:40]
                    check.fail(
                        f"options[{index + 1}]",
                        f"is the same as option {first + 1} ({same!r}); options must differ",
                    )
    correct = raw["correct_option"]
    if type(correct) is not int:
        check.fail("correct_option", "must be a whole number (0 is the first option)")
    elif isinstance(raw_options, list) and not 0 <= correct < len(raw_options):
        check.fail(
            "correct_option",
            f"must be 0 to {max(len(raw_options) - 1, 0)} (an index into options), not {correct}",
        )
    if check.problems:
        return None, check.problems
    # every check passed: each value is what its check returned
    assert prompt is not None
    assert word is not None
    assert definition is not None
    assert example is not None
    assert isinstance(kind, str)
    assert isinstance(correct, int)
    question = Question(
        prompt=prompt,
        options=tuple(options),
        correct_option=correct,
        kind=kind,
        word=word,
        definition=definition,
        example=example,
        level=str(level),
    )
    return question, []


def parse_questions(
    raw: object,
    *,
    kinds: Collection[str],
    is_profane: Callable[[str], bool] = _never_profane,
) -> tuple[Question, ...]:
    """A quiz's questions as a client sent them (a teacher's edited preview), every field
    checked; raises :class:`InvalidQuestions` listing every problem of every question.

    Nothing a client sends is trusted: the answer index, the number and sameness of options,
    lengths, control characters and the profanity check are all the server's.
    """
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_QUESTIONS:
        raise InvalidQuestions(
            [Problem(0, "questions", f"must be a list of 1 to {MAX_QUESTIONS} questions")]
        )
    questions: list[Question] = []
    problems: list[Problem] = []
    for number, item in enumerate(raw, start=1):
        question, found = parse_question(number, item, kinds=kinds, is_profane=is_profane)
        problems += found
        if question is not None:
            questions.append(question)
    if problems:
        raise InvalidQuestions(problems)
    return tuple(questions)
