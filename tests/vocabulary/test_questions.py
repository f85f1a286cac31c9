"""The question generator: every rule, on thousands of questions, plus the API's promises."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import replace
from itertools import product

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from livequiz.domain.errors import ErrorCode, Rejected
from livequiz.vocabulary import Deck, Entry, Level, QuestionKind, generate_quiz, questions
from livequiz.vocabulary.profiles import Lexicon, profile
from livequiz.vocabulary.questions import WRITTEN_KINDS, fields_near
from livequiz.vocabulary.screening import screen_reason

from .checks import WORD_OPTION_KINDS, check_question, definition_owners

ALL_LEVELS = list(Level)
ALL_KINDS = list(WRITTEN_KINDS)


def test_thousands_of_questions_over_every_level_and_kind_follow_every_rule(deck: Deck) -> None:
    questions = []
    for seed, (level, kind) in enumerate(product(ALL_LEVELS, ALL_KINDS)):
        for round_ in range(5):
            questions += generate_quiz(
                deck, levels=[level], kinds=[kind], count=25, seed=seed * 10 + round_
            )
    for seed in range(5):  # and mixed quizzes over all levels and kinds
        questions += generate_quiz(deck, count=20, seed=f"mixed-{seed}")
    assert len(questions) >= 3_000
    for question in questions:
        check_question(question, [deck])
    assert {q.kind for q in questions} == {k.value for k in WRITTEN_KINDS}
    assert {deck[q.word].level for q in questions} == set(Level)


def test_distractors_come_from_the_same_level_first(deck: Deck) -> None:
    for level in ALL_LEVELS:
        quiz = generate_quiz(deck, levels=[level], kinds=WORD_OPTION_KINDS, count=30, seed=7)
        for q in quiz:
            assert deck[q.word].level is level
            # the built-in pools are large enough never to need a neighbouring level
            for i, option in enumerate(q.options):
                if i != q.correct_option:
                    assert deck[option].level is level, (q, option)
            if q.kind == QuestionKind.SYNONYM:  # a synonym answer may be one level away
                assert abs(deck[q.answer].level.rank - level.rank) <= 1


def test_a_small_level_is_topped_up_from_the_nearest_levels() -> None:
    glosses = {
        "apple": "a round fruit with red or green skin",
        "brick": "a block of baked clay used for building walls",
        "cloud": "a white or grey mass floating in the sky",
        "drum": "a musical instrument that you hit with sticks",
        "eagle": "a large bird of prey with a hooked beak",
        "fjord": "a long narrow inlet of the sea between cliffs",
        "geyser": "a hot spring that throws up water and steam",
        "harp": "a large stringed instrument played by plucking",
        "igloo": "a dome-shaped hut built from blocks of snow",
    }

    def noun(word: str, level: Level) -> Entry:
        return Entry(word, "noun", glosses[word], level=level)

    small = Deck(
        [noun("apple", Level.A1), noun("brick", Level.A2), noun("cloud", Level.A2)]
        + [noun("drum", Level.B1), noun("eagle", Level.B1)]
        + [noun(word, Level.C2) for word in ("fjord", "geyser", "harp", "igloo")]
    )
    seen = set()
    for seed in range(20):
        (q,) = generate_quiz(small, levels=["A1"], kinds=["meaning_to_word"], count=1, seed=seed)
        assert {"apple", "brick", "cloud"} < set(q.options)
        assert len(set(q.options) & {"drum", "eagle"}) == 1
        seen |= set(q.options)
    assert seen == {"apple", "brick", "cloud", "drum", "eagle"}


def test_word_to_meaning_distractors_have_the_same_level_and_pos(deck: Deck) -> None:
    quiz = generate_quiz(deck, levels=["B1"], kinds=["word_to_meaning"], count=40, seed=3)
    for q in quiz:
        for option in q.options:
            owners = definition_owners(option, [deck])
            assert any(e.level is Level.B1 and e.pos == deck[q.word].pos for e in owners)


def test_the_same_seed_gives_the_same_quiz(deck: Deck) -> None:
    first = generate_quiz(deck, count=20, seed=42)
    generate_quiz(deck, count=20, seed=43)  # warms caches in between; must not matter
    assert generate_quiz(deck, count=20, seed=42) == first
    assert generate_quiz(deck, count=20, seed="42") == generate_quiz(deck, count=20, seed="42")


def test_different_seeds_give_different_quizzes(deck: Deck) -> None:
    quizzes = {tuple(q.word for q in generate_quiz(deck, count=10, seed=s)) for s in range(10)}
    assert len(quizzes) == 10


def test_no_seed_gives_a_fresh_quiz_each_time(deck: Deck) -> None:
    words = [tuple(q.word for q in generate_quiz(deck, count=10)) for _ in range(3)]
    assert len(set(words)) == 3


@pytest.mark.parametrize("levels", [["A1"], ["A2", "B1"], [Level.C2], ["b2", " C1 "]])
def test_only_words_of_the_requested_levels_are_asked(deck: Deck, levels: list[str]) -> None:
    wanted = {Level.parse(level) for level in levels}
    quiz = generate_quiz(deck, levels=levels, count=30, seed=1)
    assert {deck[q.word].level for q in quiz} == wanted  # every level, and no other


def test_levels_take_turns(deck: Deck) -> None:
    quiz = generate_quiz(deck, levels=["A2", "C1"], count=40, seed=5)
    counts = Counter(deck[q.word].level for q in quiz)
    assert abs(counts[Level.A2] - counts[Level.C1]) <= 4


@pytest.mark.parametrize("count", [1, 7, 50])
def test_count_is_respected_and_no_word_repeats(deck: Deck, count: int) -> None:
    quiz = generate_quiz(deck, count=count, seed=count)
    assert len(quiz) == count
    assert len({q.word for q in quiz}) == count


@pytest.mark.parametrize(
    "kinds",
    [[QuestionKind.SYNONYM], ["fill_blank", "word_to_meaning"], [" Meaning_To_Word "]],
)
def test_only_requested_kinds_are_made(deck: Deck, kinds: list[str]) -> None:
    wanted = {str(kind).strip().lower() for kind in kinds}
    quiz = generate_quiz(deck, kinds=kinds, count=24, seed=2)
    assert {q.kind for q in quiz} == wanted


def test_kinds_are_mixed_evenly(deck: Deck) -> None:
    quiz = generate_quiz(deck, count=20, seed=11)
    assert Counter(q.kind for q in quiz) == dict.fromkeys(WRITTEN_KINDS, 5)
    rounds = [tuple(q.kind for q in quiz[start : start + 4]) for start in range(0, 20, 4)]
    assert all(set(round_) == set(WRITTEN_KINDS) for round_ in rounds)
    assert len(set(rounds)) > 1  # each round in its own order


def test_right_answers_are_spread_over_the_positions(deck: Deck) -> None:
    positions = Counter(
        q.correct_option for seed in range(20) for q in generate_quiz(deck, count=20, seed=seed)
    )
    assert sorted(positions) == [0, 1, 2, 3]
    assert min(positions.values()) > 400 * 0.18


@pytest.mark.parametrize("options", [2, 3, 5, 6])
def test_other_numbers_of_options(deck: Deck, options: int) -> None:
    for q in generate_quiz(deck, count=12, seed=options, options=options):
        check_question(q, [deck], options=options)


def test_an_impossible_request_is_rejected_clearly(deck: Deck) -> None:
    with pytest.raises(Rejected) as caught:
        generate_quiz(deck, levels=["A1"], kinds=["synonym"], count=500, seed=1)
    assert caught.value.code is ErrorCode.NO_QUESTIONS
    assert "of the 500 questions" in caught.value.message
    assert "A1" in caught.value.message
    assert "synonym" in caught.value.message


def test_a_deck_without_the_requested_level_is_rejected() -> None:
    small = Deck(
        Entry(w, "noun", f"a kind of thing number {i}", level=Level.A1)
        for i, w in enumerate(["apple", "brick", "cloud", "drum", "eagle"])
    )
    with pytest.raises(Rejected) as caught:
        generate_quiz(small, levels=["C2"], count=1, seed=1)
    assert caught.value.code is ErrorCode.NO_QUESTIONS


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"options": 1}, "2 to 6 options"),
        ({"options": 7}, "2 to 6 options"),
        ({"count": 0}, "at least 1 question"),
        ({"kinds": ["riddle"]}, "unknown question kind 'riddle'"),
        ({"kinds": []}, "at least one kind"),
        ({"levels": ["Z9"]}, "unknown level 'Z9' (expected A1\u2026C2)"),
        ({"levels": []}, "at least one level"),
    ],
)
def test_bad_settings_are_rejected(deck: Deck, arguments: dict[str, object], message: str) -> None:
    with pytest.raises(Rejected) as caught:
        generate_quiz(deck, seed=1, **arguments)  # type: ignore[arg-type]
    assert caught.value.code is ErrorCode.INVALID_SETTINGS
    assert message in caught.value.message


def test_screened_words_are_neither_asked_nor_offered(deck: Deck) -> None:
    quiz = []
    for seed in range(10):
        quiz += generate_quiz(deck, levels=["A1", "A2", "B1"], count=30, seed=seed)
    for q in quiz:
        words = [q.word] + ([*q.options] if QuestionKind(q.kind) in WORD_OPTION_KINDS else [])
        for word in words:
            assert screen_reason(deck[word], deck) is None, (q, word)


def test_verb_form_nouns_are_kept_out_of_the_low_levels(deck: Deck) -> None:
    assert "getting" not in deck  # the build leaves most out as inflections
    assert deck["looking"].level in (Level.A1, Level.A2, Level.B1)
    assert not profile(deck["looking"], deck).suitable  # "the act of directing the eyes"
    for word in ("building", "feeling"):  # things of their own: asked
        assert profile(deck[word], deck).suitable


def test_a_definition_that_gives_the_word_away_is_never_shown(deck: Deck) -> None:
    # regression: "colonization: the act of colonizing"
    colonization = deck["colonization"]
    assert colonization.definition == "the act of colonizing; the establishment of colonies"
    assert profile(colonization, deck).definition is None
    words = ["colonization", "migration", "harbor", "frontier", "voyage"]
    author_list = [deck[word] for word in words]
    kinds = ["word_to_meaning", "meaning_to_word"]
    with pytest.raises(Rejected):
        generate_quiz(author_list, kinds=kinds, count=5, seed=1)
    quiz = generate_quiz(author_list, kinds=kinds, count=4, seed=1)
    assert {q.word for q in quiz} == set(words) - {"colonization"}


def test_backtick_markup_is_cleaned_before_it_is_shown(deck: Deck) -> None:
    # regression: "few: ... often preceded by `a'"
    assert "`a'" in deck["few"].definition
    cleaned = (
        'a quantifier that can be used with count nouns and is often preceded by "a"; '
        "a small but indefinite number"
    )
    assert profile(deck["few"], deck).definition == cleaned
    # as an author would list it ("few" is not for beginners in the deck: "quantifier")
    author_list = [
        replace(deck["few"], for_beginners=True),
        deck["whole"],
        deck["several"],
        deck["single"],
    ]
    asked = [
        q
        for seed in range(30)
        for q in generate_quiz(author_list, kinds=["meaning_to_word"], count=1, seed=seed)
        if q.word == "few"
    ]
    assert asked
    assert all(q.prompt == f"Which word means: {cleaned}?" for q in asked)


def test_questions_carry_what_the_review_needs(deck: Deck) -> None:
    for q in generate_quiz(deck, count=20, seed=9):
        assert q.definition
        assert "`" not in q.definition
        if q.kind == QuestionKind.FILL_BLANK:
            assert q.word.casefold() in q.example.casefold()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(min_value=0, max_value=2**32),
    levels=st.sets(st.sampled_from(ALL_LEVELS), min_size=1),
    kinds=st.sets(st.sampled_from(ALL_KINDS), min_size=1),
    count=st.integers(min_value=1, max_value=12),
    options=st.integers(min_value=2, max_value=6),
)
def test_generator_invariants_hold_for_any_settings(
    seed: int, levels: set[Level], kinds: set[QuestionKind], count: int, options: int
) -> None:
    deck = Deck.builtin()
    quiz = generate_quiz(deck, levels=levels, kinds=kinds, count=count, seed=seed, options=options)
    assert len(quiz) == count
    assert len({q.word for q in quiz}) == count
    for q in quiz:
        assert q.kind in kinds
        assert deck[q.word].level in levels
        check_question(q, [deck], options=options)


def test_a_quiz_takes_well_under_100_ms_once_the_deck_is_loaded(deck: Deck) -> None:
    generate_quiz(deck, count=20, seed=0)  # first use of the indexes
    started = time.perf_counter()
    for seed in range(1, 11):
        generate_quiz(deck, count=20, seed=seed)
    assert (time.perf_counter() - started) / 10 < 0.1


def test_entries_that_are_not_in_a_deck_can_be_quizzed() -> None:
    entries = [
        Entry("zorbing", "", "rolling downhill inside a large transparent ball"),
        Entry("parkour", "", "moving quickly through a city by running and jumping"),
        Entry("geocaching", "", "hunting for hidden containers using satellite navigation"),
        Entry("slacklining", "", "balancing on a loose strap tied between two anchors"),
    ]
    quiz = generate_quiz(entries, kinds=["meaning_to_word", "word_to_meaning"], count=4, seed=1)
    for q in quiz:
        assert set(q.options) <= {e.word for e in entries} | {e.definition for e in entries}
        check_question(q, [Deck(entries)])


#: Made-up nouns of no shared family: ka-bor, ka-dan, ..., ze-hex.
MADE_UP = [
    f"{a}{b}"
    for a in ("ka", "lo", "mi", "nu", "pe", "ra", "si", "tu", "vo", "ze")
    for b in ("bor", "dan", "fil", "gum", "hex")
]


def _nouns(words: list[str], level: Level = Level.A1) -> list[Entry]:
    """Nouns with made-up definitions that share no word, so none looks like another."""
    return [Entry(word, "noun", f"{word[::-1]} {word[::-1]}x", level=level) for word in words]


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_a_deck_too_small_for_the_options_makes_no_questions(kind: QuestionKind) -> None:
    def noun(word: str, synonyms: tuple[str, ...] = ()) -> Entry:
        example = f"a big {word} was lying on the old road"
        return Entry(word, "noun", f"{word[::-1]} {word[::-1]}x", (example,), synonyms, zipf=4.0)

    small = Deck([noun("apple", ("pome",)), noun("pome"), noun("brick"), noun("cloud")])
    assert generate_quiz(small, kinds=[kind], count=1, seed=1, options=3)
    with pytest.raises(Rejected) as caught:
        generate_quiz(small, kinds=[kind], count=1, seed=1, options=5)
    assert caught.value.code is ErrorCode.NO_QUESTIONS


def test_words_that_look_alike_are_preferred_as_distractors() -> None:
    ing = ["zorbing", "skating", "surfing", "hiking"]
    small = Deck(_nouns(ing + MADE_UP))
    asked = 0
    for seed in range(10):
        (q,) = generate_quiz(small, kinds=["meaning_to_word"], count=1, seed=seed)
        if q.word in ing:  # the other three -ing words, although 50 other nouns could do
            assert set(q.options) == set(ing)
            asked += 1
    assert asked


@pytest.mark.parametrize("others", [3, 50])
def test_look_alikes_are_only_preferred(others: int) -> None:
    # "zorbing" has no -ing look-alike: any other noun will do
    small = Deck(_nouns(["zorbing", *MADE_UP[:others]]))
    for seed in range(5):
        quiz = generate_quiz(small, kinds=["meaning_to_word"], count=1, seed=seed)
        assert len(quiz[0].options) == 4


def test_distractors_are_searched_past_the_first_candidates() -> None:
    # the 45 nearest candidates all mean the same thing, so only one of them can be offered
    alike = [
        Entry(word, "noun", "a small furry animal kept as a pet", level=Level.A2)
        for word in MADE_UP[:45]
    ]
    far = _nouns(["apple", "brick", "cloud"], level=Level.B1)
    small = Deck([*_nouns(["zorbing"]), *alike, *far])
    (q,) = generate_quiz(small, levels=["A1"], kinds=["meaning_to_word"], count=1, seed=1)
    assert len(set(q.options) & set(MADE_UP)) == 1
    assert len(set(q.options) & {"apple", "brick", "cloud"}) == 2


def test_a_question_is_given_up_after_too_many_candidates(monkeypatch: pytest.MonkeyPatch) -> None:
    alike = [
        Entry(word, "noun", "a small furry animal kept as a pet", level=Level.A1)
        for word in ("kitten", "puppy", "bunny", "hamster", "ferret", "gerbil", "piglet")
    ]
    different = _nouns(["apple", "brick", "cloud"], level=Level.C2)
    small = Deck([*alike, *different])
    kinds = ["meaning_to_word"]
    assert generate_quiz(small, levels=["A1"], kinds=kinds, count=1, seed=1)
    monkeypatch.setattr(questions, "MAX_CANDIDATES", 5)
    with pytest.raises(Rejected):
        generate_quiz(small, levels=["A1"], kinds=kinds, count=1, seed=1)


def test_a_kind_that_runs_out_leaves_its_turns_to_the_others() -> None:
    entries = _nouns(["apple", "brick", "cloud", "drum", "eagle", "fjord"])
    entries[0] = Entry(
        "apple", "noun", entries[0].definition, ("she ate a red apple in the garden",)
    )
    quiz = generate_quiz(entries, kinds=["fill_blank", "meaning_to_word"], count=6, seed=4)
    assert Counter(q.kind for q in quiz) == {"fill_blank": 1, "meaning_to_word": 5}


def test_a_prompt_never_echoes_its_answer(deck: Deck) -> None:
    # "meanwhile" would be asked as "Which word means: at the same time ...?"
    meanwhile = deck["meanwhile"]
    assert profile(meanwhile, deck).definition == "at the same time but in another place"
    others = [deck[w] for w in ("however", "therefore", "instead", "already", "soon")]
    for seed in range(5):
        quiz = generate_quiz([meanwhile, *others], kinds=["meaning_to_word"], count=5, seed=seed)
        assert "meanwhile" not in {q.word for q in quiz}
    with pytest.raises(Rejected):
        generate_quiz([meanwhile, *others], kinds=["meaning_to_word"], count=6, seed=1)


def test_two_words_right_in_some_sense_of_each_other_are_not_asked_in_one_quiz() -> None:
    def word(name: str, definition: str, related: frozenset[str] = frozenset()) -> Entry:
        return Entry(name, "adverb", definition, level=Level.B1, related=related)

    words = [
        word("almost", "slightly short of being done", frozenset({"nearly"})),
        word("nearly", "not quite the whole way", frozenset({"almost"})),
        word("rarely", "not often at any time"),
        word("loudly", "with a great deal of noise"),
        word("calmly", "without any hurry or worry"),
        word("gladly", "with pleasure and good will"),
    ]
    for seed in range(20):
        quiz = generate_quiz(words, kinds=["meaning_to_word"], count=5, seed=seed)
        asked = {q.word for q in quiz}
        assert not {"almost", "nearly"} <= asked, (seed, asked)
    with pytest.raises(Rejected):  # six words, but one of the pair must stay out
        generate_quiz(words, kinds=["meaning_to_word"], count=6, seed=1)


def test_beginners_are_asked_only_senses_and_definitions_meant_for_them(deck: Deck) -> None:
    not_for_beginners = [e for e in deck if e.level is Level.A2 and not e.for_beginners]
    assert not_for_beginners  # the build marks some: rare senses, definitions in rare words
    quiz = [
        q for seed in range(10) for q in generate_quiz(deck, levels=["A2"], count=30, seed=seed)
    ]
    assert all(deck[q.word].for_beginners for q in quiz)
    # an author's own words are asked as the author chose them
    own = [Entry(e.word, e.pos, e.definition, level=Level.A2) for e in not_for_beginners[:6]]
    assert len(generate_quiz(own, kinds=["word_to_meaning"], count=4, seed=1)) == 4


def test_fill_in_wrong_options_come_from_other_semantic_fields(deck: Deck) -> None:
    # "It was replaced because of its _____": age and price are both qualities, so both fit
    age, price, banana = deck["age"], deck["price"], deck["banana"]
    assert age.field == "noun.attribute"
    assert not fields_near(age).isdisjoint(price.fields)
    assert fields_near(age).isdisjoint(banana.fields)
    # "He slammed the _____": a thing's place is no other thing's
    assert not fields_near(deck["door"]).isdisjoint(deck["gate"].fields)
    # "They drive through _____": places and times fit the same slots
    assert not fields_near(deck["town"]).isdisjoint(deck["winter"].fields)
    # a verb keeps out verbs of its own field only
    assert fields_near(deck["restore"]) == frozenset({deck["restore"].field})
    quiz = [
        q
        for seed in range(40)
        for q in generate_quiz(deck, kinds=["fill_blank"], count=10, seed=seed)
    ]
    for q in quiz:
        for i, option in enumerate(q.options):
            if i != q.correct_option:
                assert fields_near(deck[q.word]).isdisjoint(deck[option].fields), (q, option)


def test_the_built_in_deck_blanks_only_nouns_and_verbs_used_as_such(deck: Deck) -> None:
    quiz = [
        q
        for seed in range(40)
        for q in generate_quiz(deck, kinds=["fill_blank"], count=10, seed=seed)
    ]
    assert {deck[q.word].pos for q in quiz} == {"noun", "verb"}
    # WordNet's example for the verb usher uses it as a noun: not a question about the verb
    usher = profile(deck["usher"], deck)
    [noun_use] = [b for b in usher.blanks if b.prompt.startswith("The _____ showed us")]
    assert not questions.used_as("verb", noun_use)
    assert questions.used_as("noun", noun_use)
    with pytest.raises(Rejected):
        generate_quiz([deck["usher"]], kinds=["fill_blank"], count=1, seed=1)


def test_an_author_s_adjective_sentences_are_still_blanked() -> None:
    # an author wrote the sentence for the word: any part of speech is blanked
    words = [
        Entry(
            "brave", "adjective", "showing no fear", ("The brave firefighter ran into the house",)
        ),
        Entry("lazy", "adjective", "not willing to work", ("He was too lazy to get up today",)),
        Entry(
            "noisy",
            "adjective",
            "full of loud sounds",
            ("The noisy party next door kept us awake",),
        ),
        Entry("tidy", "adjective", "neat and in order", ("Her room is always tidy and clean",)),
    ]
    quiz = generate_quiz(words, kinds=["fill_blank"], count=4, seed=3)
    assert len(quiz) == 4


def test_a_synonym_answer_is_the_word_in_the_sense_asked_and_not_inside_it(deck: Deck) -> None:
    lexicon = Lexicon([deck])
    # WordNet lists "bar" (a cake of soap) among the synonyms of cake: not in the sense asked
    cake = profile(deck["cake"], deck)
    assert "bar" not in {a.word for a in lexicon.synonym_answers(cake)}
    # "root" is a source only in a rare sense: its main one is the plant's
    source = profile(deck["source"], deck)
    assert "root" in deck["source"].synonyms
    assert "root" not in {a.word for a in lexicon.synonym_answers(source)}
    # "theater" is the other spelling of theatre, not another word
    theatre = profile(deck["theatre"], deck)
    assert "theater" not in {a.word for a in lexicon.synonym_answers(theatre)}
    # "site" is inside "website": the prompt would give it away
    website = profile(deck["website"], deck)
    assert "site" not in {a.word for a in lexicon.synonym_answers(website)}
    quiz = [
        q for seed in range(40) for q in generate_quiz(deck, kinds=["synonym"], count=10, seed=seed)
    ]
    for q in quiz:
        assert deck[q.answer].definition == deck[q.word].definition, q
        assert deck[q.answer].main, q
        assert q.answer not in q.word, q
        assert q.word not in q.answer, q


def test_wrong_options_of_the_built_in_deck_are_plain_words(deck: Deck) -> None:
    names = [e for e in deck if not e.plain]
    assert {"franklin", "henry"} <= {e.word for e in names}
    quiz = [q for seed in range(60) for q in generate_quiz(deck, count=10, seed=seed)]
    words = {q.options[i] for q in quiz for i in range(len(q.options)) if i != q.correct_option}
    assert not words & {e.word for e in names}


def test_a_beginner_reads_only_definitions_meant_for_beginners(deck: Deck) -> None:
    quiz = [
        q
        for seed in range(30)
        for q in generate_quiz(
            deck, levels=["A1", "A2"], kinds=["word_to_meaning"], count=10, seed=seed
        )
    ]
    for q in quiz:
        for option in q.options:
            owners = definition_owners(option, [deck])
            assert any(e.for_beginners for e in owners), (q, option)
