"""Listening questions (issue 18): the word is spoken, the player picks it from written words
of its level, none said like it; the audio is made by espeak-ng and kept."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest

from livequiz.domain.errors import ErrorCode, Rejected
from livequiz.vocabulary import Deck, Entry, Level, QuestionKind, generate_quiz
from livequiz.vocabulary.questions import LISTENING_PROMPT, WRITTEN_KINDS, replacement_question
from livequiz.vocabulary.speech import MISSING, Speech


@pytest.fixture
def speech(tmp_path: Path) -> Speech:
    found = Speech.find(tmp_path / "audio")
    if found is None:
        pytest.skip("espeak-ng is not installed (make speech): listening questions not tested")
    return found


def test_a_listening_question_says_the_word_and_shows_words_of_its_level(speech: Speech) -> None:
    deck = Deck.builtin()
    questions = generate_quiz(
        deck, kinds=["listening"], levels=["A2", "B2"], count=12, seed=5, speech=speech
    )
    assert {q.kind for q in questions} == {"listening"}
    for q in questions:
        assert q.prompt == LISTENING_PROMPT  # the word is only in the audio
        assert q.answer == q.word
        asked = deck.get(q.word)
        assert asked is not None
        for option in q.options:
            entry = next(e for e in deck.entries_of(option) if e.pos == asked.pos)
            assert entry.level == asked.level, (q, option)  # plenty of words at each level
        said = [speech.sounds(option) for option in q.options]
        assert len(set(said)) == len(said), (q, said)


def test_words_said_alike_are_never_options_of_one_listening_question(speech: Speech) -> None:
    assert speech.sound_alike("piece", "peace")
    assert speech.sound_alike("right", "write")
    assert not speech.sound_alike("ship", "sheep")  # a minimal pair is a fair test of the ear

    def noun(word: str) -> Entry:
        return Entry(word, "noun", f"a kind of thing called {word}", zipf=4.0, level=Level.B1)

    words = ["peace", "piece", "cloud", "brick", "stone", "sail", "sale", "river"]
    small = Deck([noun(word) for word in words])
    alike = [{"peace", "piece"}, {"sail", "sale"}]
    asked = set()
    for seed in range(30):
        for q in generate_quiz(small, kinds=["listening"], count=3, seed=seed, speech=speech):
            asked.add(q.word)
            for pair in alike:
                assert len(pair & set(q.options)) <= 1, q
    assert asked >= {"peace", "piece", "sail", "sale"}  # each asked, never beside its twin


def test_listening_is_made_only_when_asked_for_and_only_with_the_synthesizer() -> None:
    deck = Deck.builtin()
    assert QuestionKind.LISTENING not in WRITTEN_KINDS
    mixed = generate_quiz(deck, count=12, seed=2)
    assert {q.kind for q in mixed} == {kind.value for kind in WRITTEN_KINDS}
    for make in (
        lambda: generate_quiz(deck, kinds=["listening", "synonym"], count=2, seed=1),
        lambda: replacement_question(deck, kind="listening", level="B1", seed=1),
    ):
        with pytest.raises(Rejected) as caught:
            make()
        assert caught.value.code is ErrorCode.INVALID_SETTINGS
        assert caught.value.message == MISSING


def test_a_replacement_listening_question_asks_another_word(speech: Speech) -> None:
    deck = Deck.builtin()
    (first,) = generate_quiz(
        deck, kinds=["listening"], levels=["B1"], count=1, seed=9, speech=speech
    )
    other = replacement_question(
        deck, kind="listening", level="B1", avoid=[first.word], seed=9, speech=speech
    )
    assert other.kind == "listening"
    assert other.word != first.word
    assert other.prompt == LISTENING_PROMPT


def test_the_audio_of_a_word_is_a_wav_made_once_and_kept(speech: Speech) -> None:
    path = speech.audio("harbour")
    with wave.open(str(path)) as audio:
        seconds = audio.getnframes() / audio.getframerate()
    assert 0.3 < seconds < 3.0
    made = path.stat().st_mtime_ns
    assert speech.audio("harbour") == path
    assert path.stat().st_mtime_ns == made  # kept, not made again
    assert speech.audio("harvest") != path
    assert not list(path.parent.glob("*.part"))  # no half-written file left behind
