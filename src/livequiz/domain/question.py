"""A multiple-choice question as the quiz core sees it.

The core does not care where a question came from (the built-in deck, an author's word list, a
later hand-written quiz); it needs the prompt, the options, which option is right, and what a
learner should review if they miss it.
"""

from __future__ import annotations

from dataclasses import dataclass

from livequiz.domain.errors import ErrorCode, Rejected

#: Fewer than two options is not a choice; more than six does not fit a phone screen.
MIN_OPTIONS = 2
MAX_OPTIONS = 6


@dataclass(frozen=True, slots=True)
class Question:
    """One question of a quiz.

    ``correct_option`` is an index into ``options``. ``word``, ``definition`` and ``example`` are
    what the review of missed words shows after the quiz; ``kind`` names how the question was
    built (e.g. ``"word_to_meaning"``), for reports.
    """

    prompt: str
    options: tuple[str, ...]
    correct_option: int
    kind: str
    word: str
    definition: str
    example: str = ""

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
