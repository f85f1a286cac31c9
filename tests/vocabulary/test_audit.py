"""The question audit: each fault class caught on a question that has it, and the built-in deck
kept clear of the classes the deck decides."""

from __future__ import annotations

import io
import re

import pytest

from livequiz.cli import main
from livequiz.domain.question import Question
from livequiz.vocabulary import Deck, Level, generate_quiz
from livequiz.vocabulary.audit import FAULTS, Auditor
from livequiz.vocabulary.sources import upstream_sources
from livequiz.vocabulary.wordnet import DEFAULT_DIRECTORY, WordNet

pytestmark = pytest.mark.skipif(
    not (DEFAULT_DIRECTORY / "index.sense").exists(),
    reason=f"WordNet 3.0 is not installed in {DEFAULT_DIRECTORY} (make wordnet): not tested",
)


@pytest.fixture(scope="module")
def auditor() -> Auditor:
    return Auditor(WordNet.load(), upstream_sources())


def q(kind: str, prompt: str, options: list[str], word: str, definition: str = "") -> Question:
    return Question(prompt, tuple(options), 0, kind, word, definition or f"about {word}")


def faults(auditor: Auditor, question: Question, level: Level | None = None) -> set[str]:
    return {fault for fault, _ in auditor.faults(question, level)}


def test_a_form_of_the_answer_in_the_prompt_is_a_give_away(auditor: Auditor) -> None:
    angry = q(
        "meaning_to_word",
        "Which word means: feeling anger?",
        ["angry", "tired", "quiet", "early"],
        "angry",
    )
    assert "give_away" in faults(auditor, angry)
    favourite = q(
        "fill_blank", "My favourite colour is _____", ["blue", "lazy", "loud", "thin"], "blue"
    )
    assert "give_away" not in faults(auditor, favourite)
    spelled = q(
        "meaning_to_word",
        "Which word means: the favorite one?",
        ["favourite", "tired", "quiet", "early"],
        "favourite",
    )
    assert "give_away" in faults(auditor, spelled)  # the other spelling
    hungry = q(
        "word_to_meaning",
        "What does 'hungry' mean?",
        ["feeling hunger", "very old", "quite far", "rather dull"],
        "hungry",
    )
    assert "give_away" in faults(auditor, hungry)


def test_an_option_right_in_another_sense_is_a_second_right_option(auditor: Auditor) -> None:
    movie = q(
        "meaning_to_word",
        "Which word means: a story told in moving images?",
        ["movie", "picture", "pencil", "river"],
        "movie",
    )
    assert "second_right_option" in faults(auditor, movie)
    clean = q(
        "meaning_to_word",
        "Which word means: a story told in moving images?",
        ["movie", "pencil", "river", "spoon"],
        "movie",
    )
    assert "second_right_option" not in faults(auditor, clean)


def test_junk_and_offensive_options_are_caught(auditor: Auditor) -> None:
    junk = q(
        "synonym",
        "Which word is closest in meaning to 'cape'?",
        ["cloak", "bse", "iii", "kat"],
        "cape",
    )
    assert "junk_option" in faults(auditor, junk)
    rude = q("fill_blank", "The _____ projector", ["new", "damned", "old", "big"], "new")
    assert "offensive" in faults(auditor, rude)
    named = q("fill_blank", "Peter bought a _____ coat", ["new", "sad", "old", "big"], "new")
    assert "offensive" not in faults(auditor, named)  # a name is not the word it spells


def test_two_words_of_one_meaning_in_a_quiz_are_caught(auditor: Auditor) -> None:
    almost = q(
        "synonym",
        "Which word is closest in meaning to 'almost'?",
        ["nearly", "a", "b", "c"],
        "almost",
    )
    nearly = q(
        "synonym",
        "Which word is closest in meaning to 'nearly'?",
        ["almost", "a", "b", "c"],
        "nearly",
    )
    report = auditor.audit([(None, [almost, nearly])])
    assert report.faults["same_meaning_in_quiz"] == 1


def test_a_rare_sense_at_a_beginner_level_is_caught(auditor: Auditor) -> None:
    single = q(
        "word_to_meaning",
        "What does 'single' mean?",
        ["a base hit on which the batter stops safely at first base", "x y", "y z", "z w"],
        "single",
        "a base hit on which the batter stops safely at first base",
    )
    assert "rare_sense" in faults(auditor, single, Level.A1)
    assert "rare_sense" not in faults(auditor, single, Level.C1)  # advanced learners meet them


def test_built_in_quizzes_have_no_fault_of_any_class(
    auditor: Auditor,
) -> None:
    deck = Deck.builtin()
    quizzes = [
        (level, generate_quiz(deck, levels=[level], count=10, seed=seed))
        for seed in range(20)
        for level in deck.levels()
    ]
    report = auditor.audit(quizzes)
    assert report.questions == 1200
    assert set(report.faults) <= set(FAULTS)
    # every class at 0 (the target), over a sample the tests can afford
    assert {fault: report.faults[fault] for fault in FAULTS} == dict.fromkeys(FAULTS, 0), (
        report.examples
    )


def test_the_command_prints_every_class() -> None:
    out = io.StringIO()
    assert main(["audit", "--questions", "60"], out) == 0
    text = out.getvalue()
    assert text.startswith("60 questions (6 quizzes of 10")
    for fault in FAULTS:
        assert re.search(rf"^  {fault} +\d+ +\d+\.\d%$", text, re.MULTILINE), fault


def test_a_blank_that_other_options_fit_is_an_open_blank(auditor: Auditor) -> None:
    definition = "how long something has existed"
    replaced = Question(
        "It was replaced because of its _____",
        ("age", "price", "banana", "pigeon"),
        0,
        "fill_blank",
        "age",
        definition,
    )
    assert "open_blank" in faults(auditor, replaced)  # price: a quality too
    apart = Question(
        "It was replaced because of its _____",
        ("age", "banana", "pigeon", "sofa"),
        0,
        "fill_blank",
        "age",
        definition,
    )
    assert "open_blank" not in faults(auditor, apart)
    facts = Question(
        "We must look at the facts _____",
        ("objectively", "sadly", "loudly", "early"),
        0,
        "fill_blank",
        "objectively",
        "with objectivity",
    )
    assert "open_blank" in faults(auditor, facts)  # an adverb's slot takes many
