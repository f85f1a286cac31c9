"""Vocabulary questions built from real data: the built-in deck and authors' word lists."""

from livequiz.vocabulary.deck import Deck, Entry, Level
from livequiz.vocabulary.questions import QuestionKind, generate_quiz, replacement_question
from livequiz.vocabulary.wordlist import WordListError, load_wordlist, load_wordlist_file

__all__ = [
    "Deck",
    "Entry",
    "Level",
    "QuestionKind",
    "WordListError",
    "generate_quiz",
    "load_wordlist",
    "load_wordlist_file",
    "replacement_question",
]
