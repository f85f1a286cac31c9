from __future__ import annotations

import pytest

from livequiz.domain.errors import ErrorCode, Rejected
from livequiz.domain.question import LEVELS, InvalidQuestions, Question, parse_questions


def build(**overrides: object) -> Question:
    values: dict[str, object] = {
        "prompt": "What does 'brave' mean?",
        "options": ("ready to face danger", "very tired", "easily broken", "full of water"),
        "correct_option": 0,
        "kind": "word_to_meaning",
        "word": "brave",
        "definition": "ready to face danger",
    }
    values.update(overrides)
    return Question(**values)  # type: ignore[arg-type]


def test_a_valid_question_knows_its_answer() -> None:
    question = build()
    assert question.answer == "ready to face danger"
    assert question.example == ""


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"options": ("only one",)}, "2 to 6 options"),
        ({"options": tuple("abcdefg")}, "2 to 6 options"),
        ({"options": ("same", "SAME", "other")}, "must differ"),
        ({"correct_option": 4}, "not one of the options"),
        ({"correct_option": -1}, "not one of the options"),
        ({"prompt": "   "}, "needs a prompt"),
    ],
)
def test_malformed_questions_are_refused(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(Rejected, match=message) as caught:
        build(**overrides)
    assert caught.value.code is ErrorCode.INVALID_QUESTION
    assert "Rejected('invalid_question'" in repr(caught.value)


# ---------------------------------------------------------------------- questions a client sends

KINDS = ("word_to_meaning", "meaning_to_word", "synonym", "fill_blank")


def sent(**overrides: object) -> dict[str, object]:
    values: dict[str, object] = {
        "prompt": "What does 'brave' mean?",
        "options": ["ready to face danger", "very tired", "easily broken", "full of water"],
        "correct_option": 0,
        "kind": "word_to_meaning",
        "level": "B1",
        "word": "brave",
        "definition": "ready to face danger",
        "example": "a brave firefighter",
    }
    values.update(overrides)
    return values


def problems_of(raw: object) -> list[str]:
    with pytest.raises(InvalidQuestions) as caught:
        parse_questions(raw, kinds=KINDS)
    assert caught.value.code is ErrorCode.INVALID_QUESTION
    assert caught.value.message == "; ".join(str(p) for p in caught.value.problems)
    return [str(p) for p in caught.value.problems]


def test_a_good_question_is_taken_as_sent_with_its_level() -> None:
    (question,) = parse_questions([sent(prompt="  What does 'brave' mean?  ")], kinds=KINDS)
    assert question.prompt == "What does 'brave' mean?"
    assert question.options[question.correct_option] == "ready to face danger"
    assert (question.kind, question.level, question.word) == ("word_to_meaning", "B1", "brave")


def test_level_definition_and_example_may_be_left_out() -> None:
    raw = sent()
    for name in ("level", "definition", "example"):
        del raw[name]
    (question,) = parse_questions([raw], kinds=KINDS)
    assert (question.level, question.definition, question.example) == ("", "", "")


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"options": ["only one"]}, "question 1, options: must be a list of 2 to 6 answers"),
        ({"options": [f"o{i}" for i in range(7)]}, "question 1, options: must be a list of 2"),
        ({"options": "a,b,c"}, "question 1, options: must be a list of 2 to 6 answers"),
        ({"options": ["Big", "small", "big "]}, "question 1, options[3]: is the same as option 1"),
        ({"options": ["big", ""]}, "question 1, options[2]: must not be empty"),
        ({"options": ["big", 3]}, "question 1, options[2]: must be text"),
        ({"correct_option": 4}, "question 1, correct_option: must be 0 to 3"),
        ({"correct_option": -1}, "question 1, correct_option: must be 0 to 3"),
        ({"correct_option": True}, "question 1, correct_option: must be a whole number"),
        ({"correct_option": "0"}, "question 1, correct_option: must be a whole number"),
        ({"prompt": "   "}, "question 1, prompt: must not be empty"),
        ({"prompt": "x" * 301}, "question 1, prompt: must be at most 300 characters, not 301"),
        ({"prompt": "two\nlines"}, "question 1, prompt: must be one line of plain text"),
        ({"prompt": "evil \u202e txet"}, "question 1, prompt: must be one line of plain text"),
        ({"options": ["a\x00", "b"]}, "question 1, options[1]: must be one line of plain text"),
        ({"definition": "d" * 301}, "question 1, definition: must be at most 300 characters"),
        ({"example": 5}, "question 1, example: must be text"),
        ({"word": ""}, "question 1, word: must not be empty"),
        ({"word": "w" * 51}, "question 1, word: must be at most 50 characters"),
        ({"kind": "essay"}, "question 1, kind: must be one of fill_blank, meaning_to_word"),
        ({"level": "Z9"}, "question 1, level: must be one of A1, A2, B1, B2, C1, C2"),
        ({"answer": 1}, "question 1, answer: unknown field"),
    ],
)
def test_each_bad_field_is_named(overrides: dict[str, object], expected: str) -> None:
    (problem,) = problems_of([sent(), sent(**overrides)][1:])
    assert problem.startswith(expected), problem


def test_every_problem_of_every_question_is_listed_with_its_number() -> None:
    raw = [sent(), sent(prompt="", correct_option=9), "not a question", {"prompt": "p"}]
    assert problems_of(raw) == [
        "question 2, prompt: must not be empty",
        "question 2, correct_option: must be 0 to 3 (an index into options), not 9",
        "question 3, question: must be an object with prompt, options, correct_option, ...",
        "question 4, options: is missing",
        "question 4, correct_option: is missing",
        "question 4, kind: is missing",
        "question 4, word: is missing",
    ]


@pytest.mark.parametrize("raw", [[], "questions", None, [sent()] * 101])
def test_the_list_itself_must_hold_1_to_100_questions(raw: object) -> None:
    assert problems_of(raw) == ["questions: must be a list of 1 to 100 questions"]


def test_levels_are_the_decks_levels() -> None:
    from livequiz.vocabulary import Level

    assert tuple(level.value for level in Level) == LEVELS


def test_the_profanity_check_handed_in_is_applied_to_every_text() -> None:
    def rude(text: str) -> bool:
        return "rude" in text

    raw = [sent(prompt="a rude prompt", example="rude", options=["fine", "rude one"])]
    with pytest.raises(InvalidQuestions) as caught:
        parse_questions(raw, kinds=KINDS, is_profane=rude)
    assert [(p.field, p.message) for p in caught.value.problems] == [
        ("prompt", "holds a word not fit for a class; please reword it"),
        ("example", "holds a word not fit for a class; please reword it"),
        ("options[2]", "holds a word not fit for a class; please reword it"),
    ]


def test_two_and_six_options_are_both_allowed() -> None:
    assert build(options=("yes", "no"), correct_option=1).answer == "no"
    assert build(options=tuple("abcdef"), correct_option=5).answer == "f"
    (two,) = parse_questions([sent(options=["yes", "no"], correct_option=1)], kinds=KINDS)
    assert two.options == ("yes", "no")
    (six,) = parse_questions([sent(options=list("abcdef"), correct_option=5)], kinds=KINDS)
    assert six.options == tuple("abcdef")


def test_the_refusals_of_a_malformed_question_say_what_to_fix() -> None:
    def message(**overrides: object) -> str:
        with pytest.raises(Rejected) as caught:
            build(**overrides)
        return caught.value.message

    assert message(options=("only one",)) == "a question needs 2 to 6 options, got 1"
    assert message(options=tuple("abcdefg")) == "a question needs 2 to 6 options, got 7"
    assert message(options=("same", "SAME")) == "the options of a question must differ"
    assert message(correct_option=4) == "the correct option is not one of the options"
    assert message(prompt="") == "a question needs a prompt"


def test_a_list_of_exactly_100_questions_is_taken() -> None:
    raw = [sent(word=f"word{n}") for n in range(100)]
    assert len(parse_questions(raw, kinds=KINDS)) == 100


def test_limits_are_inclusive_and_problems_are_spelled_out_in_full() -> None:
    (question,) = parse_questions(
        [
            sent(
                prompt="p" * 300,
                word="w" * 50,
                definition="d" * 300,
                example="e" * 300,
                options=["o" * 150, "other"],
                level="C2",
            )
        ],
        kinds=KINDS,
    )
    assert (len(question.prompt), len(question.word), len(question.options[0])) == (300, 50, 150)
    assert problems_of([sent(options=["o" * 151, "other"])]) == [
        "question 1, options[1]: must be at most 150 characters, not 151"
    ]
    assert problems_of([sent(word="w" * 51)]) == [
        "question 1, word: must be at most 50 characters, not 51"
    ]
    assert problems_of([sent(kind="essay")]) == [
        "question 1, kind: must be one of fill_blank, meaning_to_word, synonym, word_to_meaning"
    ]
    assert problems_of([sent(options=["a", "b"], correct_option=2)]) == [
        "question 1, correct_option: must be 0 to 1 (an index into options), not 2"
    ]
    assert problems_of([sent(options=["Big", "small", "big "])]) == [
        "question 1, options[3]: is the same as option 1 ('Big'); options must differ"
    ]
    assert problems_of([sent(answer=1)]) == [
        "question 1, answer: unknown field; fields are prompt, options, correct_option, kind, "
        "level, word, definition, example"
    ]
    assert problems_of([sent(options=[1, 2])]) == [
        "question 1, options[1]: must be text",
        "question 1, options[2]: must be text",
    ]


def test_every_field_is_kept_as_sent() -> None:
    (question,) = parse_questions([sent()], kinds=KINDS)
    assert question == Question(
        prompt="What does 'brave' mean?",
        options=("ready to face danger", "very tired", "easily broken", "full of water"),
        correct_option=0,
        kind="word_to_meaning",
        word="brave",
        definition="ready to face danger",
        example="a brave firefighter",
        level="B1",
    )


@pytest.mark.parametrize("char", ["\ue000", "\ud800", "\x7f"])  # private use, surrogate, DEL
def test_private_use_and_surrogate_characters_are_refused(char: str) -> None:
    assert problems_of([sent(prompt=f"a {char} prompt")]) == [
        "question 1, prompt: must be one line of plain text (no control characters)"
    ]


def test_long_names_and_options_are_cut_short_in_a_problem() -> None:
    """A problem quotes at most 32 characters of an unknown field's name and 40 of a repeated
    option, so a hostile client cannot make the error as long as it likes."""
    (problem,) = problems_of([sent(**{"n" * 60: 1})])
    assert problem.startswith(f"question 1, {'n' * 32}: unknown field")
    long = "o" * 60
    assert problems_of([sent(options=[long, long.upper()])]) == [
        f"question 1, options[2]: is the same as option 1 ({'o' * 40!r}); options must differ"
    ]


def test_a_correct_option_beyond_a_single_option_names_the_only_index() -> None:
    assert problems_of([sent(options=["alone"], correct_option=1)]) == [
        "question 1, options: must be a list of 2 to 6 answers",
        "question 1, correct_option: must be 0 to 0 (an index into options), not 1",
    ]


def test_a_problem_as_json_names_its_question_field_and_message() -> None:
    with pytest.raises(InvalidQuestions) as caught:
        parse_questions([sent(word="")], kinds=KINDS)
    assert [p.to_dict() for p in caught.value.problems] == [
        {"question": 1, "field": "word", "message": "must not be empty"}
    ]
