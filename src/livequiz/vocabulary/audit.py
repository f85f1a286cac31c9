"""An independent check of generated questions, by the faults teachers found in them.

``livequiz audit`` generates many questions (every level and kind) and counts, per fault class,
the questions that have it. The judge is WordNet itself plus inflections and frequencies
(:mod:`livequiz.vocabulary.sources`), not the generator's own rules: a fault the generator's
checks miss is still counted. The classes, from the question-quality issue:

- ``give_away``: the answer, or a form of it (inflected, derived, the other spelling), in the
  prompt; for a word-to-meaning question, the asked word in its right definition ("feeling
  hunger" for hungry).
- ``second_right_option``: a wrong option that is right in some sense: a synonym, hypernym,
  hyponym, similar word or derived form of the answer in any sense (an antonym too, in a
  fill-in); for a word-to-meaning question, a wrong definition that is a sense of the word.
- ``junk_option``: an option that is no common word: no vowel, one or two letters, a name, or
  not in WordNet at all ("iii", "bse", "kat").
- ``offensive``: a swear word, or a word with only obscene, vulgar or sexual senses, in the
  prompt or options.
- ``same_meaning_in_quiz``: two words of one quiz that share a sense (almost / nearly).
- ``rare_sense``: at A1–B1, a sense asked although the word has a far more common one (five or
  more tagged uses, three times the asked sense's), unless the sense was chosen by hand
  (:data:`~livequiz.vocabulary.build.SENSE_CHOICES`: "party" the gathering, not the political
  one, is the sense a class meets although 1960s texts met it less).
- ``hard_definition``: at A1–B1, a definition of which a third or more of the words are rare.
- ``open_blank``: a fill-in whose blank many words fit: an adjective or adverb blank, or a
  wrong option with a sense in the semantic field group of the asked sense (WordNet's
  lexicographer files, grouped as :data:`~livequiz.vocabulary.questions.NOUN_FIELDS_APART`:
  "replaced because of its _____" with age and price, both qualities).

Whether another option really fits a fill-in sentence no rule here can judge: ``open_blank``
counts the blanks where one is likely; a reader judges the rest (docs/questions.md, the blind
review).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from livequiz.domain.question import Question
from livequiz.vocabulary.build import (
    RELATED_POINTERS,
    SENSE_CHOICES,
    SWEAR_WORDS,
    Sources,
    american_spelling,
    british_spelling,
    offensive_sense,
)
from livequiz.vocabulary.deck import Level
from livequiz.vocabulary.questions import NOUN_FIELDS_APART
from livequiz.vocabulary.wordnet import Synset, WordNet

__all__ = ["FAULTS", "Audit", "Auditor"]

FAULTS = (
    "give_away",
    "second_right_option",
    "junk_option",
    "offensive",
    "same_meaning_in_quiz",
    "rare_sense",
    "hard_definition",
    "open_blank",
)
_BEGINNER = frozenset({Level.A1, Level.A2, Level.B1})
_WORD_OPTIONS = frozenset({"meaning_to_word", "synonym", "fill_blank"})


@dataclass
class Audit:
    """Faulty questions counted by class, with a few examples of each."""

    questions: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, fault: str, question: Question, why: str) -> None:
        self.faults[fault] += 1
        shown = self.examples.setdefault(fault, [])
        if len(shown) < 5:
            shown.append(f"{question.kind} {question.word!r}: {why}")

    @property
    def faulty_share(self) -> dict[str, float]:
        return {fault: self.faults[fault] / max(1, self.questions) for fault in FAULTS}


class Auditor:
    """Judges questions against WordNet (see the module doc)."""

    def __init__(self, wordnet: WordNet, sources: Sources) -> None:
        self.wordnet = wordnet
        self.sources = sources
        self._usage = wordnet.domains(";u")

    # ------------------------------------------------------------------ what a word is

    def synsets(self, word: str) -> list[Synset]:
        return [self.wordnet.synset(s.synset) for s in self.wordnet.lemma_senses(word)]

    def forms(self, word: str) -> set[str]:
        """The word, its inflections and derived forms, and its other spelling."""
        found = {word, american_spelling(word), british_spelling(word)}
        for pos in ("noun", "verb", "adjective", "adverb"):
            found |= self.sources.inflections(word, pos)
        found |= self.wordnet.derived(word)
        for form in list(found):
            found |= {american_spelling(form), british_spelling(form)}
        return {f for f in found if f}

    def related(self, word: str, *, antonyms: bool) -> set[str]:
        """Words right in some sense of ``word`` (see the module doc)."""
        symbols = RELATED_POINTERS if antonyms else RELATED_POINTERS - {"!"}
        found = self.wordnet.related(word, symbols)
        return found - {word}

    # ------------------------------------------------------------------ the checks

    def audit(self, quizzes: Iterable[tuple[Level | None, Sequence[Question]]]) -> Audit:
        """Judge every question of every quiz (with the level it was asked at, if known)."""
        report = Audit()
        for level, questions in quizzes:
            for question in questions:
                report.questions += 1
                for fault, why in self.faults(question, level):
                    report.add(fault, question, why)
            for fault, question, why in self.quiz_faults(questions):
                report.add(fault, question, why)
        return report

    def faults(self, question: Question, level: Level | None) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        word = question.word.casefold()
        prompt_words = set(_tokens(question.prompt))
        if question.kind in _WORD_OPTIONS:
            answer = question.answer.casefold()
            leaked = self.forms(answer) & prompt_words
            if leaked and question.kind != "synonym":
                found.append(("give_away", f"{sorted(leaked)} in the prompt"))
            elif question.kind == "synonym" and (self.forms(answer) - {word}) & prompt_words:
                found.append(("give_away", "the answer's form in the prompt"))
            related = self.related(answer, antonyms=question.kind == "fill_blank")
            for index, option in enumerate(question.options):
                if index == question.correct_option:
                    continue
                key = option.casefold()
                if key in related or key in self.forms(answer):
                    found.append(("second_right_option", f"{option!r} beside {answer!r}"))
                    break
            for option in question.options:
                if self._junk(option.casefold()):
                    found.append(("junk_option", repr(option)))
                    break
        else:  # word_to_meaning: options are definitions
            right = set(_tokens(question.answer))
            leaked = (self.forms(word) - {""}) & right
            if leaked or any(t.startswith(word[:5]) for t in right if len(word) >= 5):
                found.append(("give_away", f"{word!r} in its definition"))
            senses = {s.definition.casefold() for s in self.synsets(word)}
            for index, option in enumerate(question.options):
                if index != question.correct_option and option.casefold() in senses:
                    found.append(("second_right_option", f"another sense: {option!r}"))
                    break
        if question.kind == "fill_blank":
            found.extend(self._open_blank(question))
        # names in a sentence ("Peter") are not the words they spell
        prompt = " ".join(re.findall(r"\b[a-z]+\b", question.prompt))
        bad = self._offensive(" ".join((prompt, *question.options)).casefold())
        if bad:
            found.append(("offensive", repr(bad)))
        if level in _BEGINNER:
            found.extend(self._beginner_faults(question))
        return found

    def quiz_faults(self, questions: Sequence[Question]) -> list[tuple[str, Question, str]]:
        """Two words of one quiz that share a sense."""
        found = []
        words = [q.word.casefold() for q in questions]
        for i, question in enumerate(questions):
            synsets = {s.key for s in self.synsets(words[i])}
            for other in words[i + 1 :]:
                if synsets & {s.key for s in self.synsets(other)}:
                    found.append(("same_meaning_in_quiz", question, f"{words[i]} / {other}"))
        return found

    def _beginner_faults(self, question: Question) -> list[tuple[str, str]]:
        found = []
        word = question.word.casefold()
        senses = self.wordnet.lemma_senses(word)
        asked = [
            s
            for s in senses
            if self.wordnet.synset(s.synset).definition.casefold() == question.definition.casefold()
        ]
        chosen = SENSE_CHOICES.get(word)
        if asked and senses and not (chosen and question.definition.startswith(chosen)):
            top = max(s.count for s in senses)
            if top >= 5 and top >= 3 * max(s.count for s in asked):
                found.append(("rare_sense", question.definition[:70]))
        words = [w for w in _tokens(question.definition) if len(w) > 3]
        rare = [w for w in words if self.sources.zipf(w) < 3.0]
        if words and len(rare) * 3 >= len(words):
            found.append(("hard_definition", f"{rare} in {question.definition[:60]!r}"))
        return found

    def _open_blank(self, question: Question) -> list[tuple[str, str]]:
        asked = [
            synset
            for synset in self.synsets(question.word.casefold())
            if synset.definition.casefold() == question.definition.casefold()
        ]
        if not asked:
            return []  # an author's own definition: its sense is unknown
        sense = asked[0]
        if sense.part_of_speech in ("adjective", "adverb"):
            return [("open_blank", f"an {sense.part_of_speech} blank")]
        near = NOUN_FIELDS_APART.get(sense.field, frozenset({sense.field}))
        for index, option in enumerate(question.options):
            if index == question.correct_option:
                continue
            shared = {
                synset.field
                for synset in self.synsets(option.casefold())
                if synset.pos == sense.pos
            } & near
            if shared:
                return [("open_blank", f"{option!r} beside {question.answer!r}: {min(shared)}")]
        return []

    def _junk(self, word: str) -> bool:
        if len(word) < 3 or not re.search("[aeiouy]", word):
            return True
        senses = self.wordnet.lemma_senses(word)
        if not senses:
            return not any(self.wordnet.lemma_senses(base) for base in self.sources.lemmas(word))
        return not any(self.wordnet.word_in(s).islower() for s in senses)

    def _offensive(self, text: str) -> str | None:
        """The first word of ``text`` that is a swear word or has no sense but offensive ones
        ("sex" in "a person of either sex" is not: it also means a gender)."""
        for token in sorted(set(_tokens(text))):
            if token in SWEAR_WORDS:
                return token
            # "caressing" in "by gentle urging, caressing" is caress's form, not the noun
            synsets = [
                self.wordnet.synset(s.synset)
                for word in {token} | self.sources.lemmas(token)
                for s in self.wordnet.lemma_senses(word)
                if self.wordnet.word_in(s).islower()
            ]
            if synsets and all(offensive_sense(synset, self._usage) for synset in synsets):
                return token
        return None


def _tokens(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.casefold())
