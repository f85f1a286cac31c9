"""Authors' word lists: parsing, filling from the deck, errors that name the line, quizzes."""

from __future__ import annotations

from pathlib import Path

import pytest

from livequiz.domain.errors import Rejected
from livequiz.domain.question import Question
from livequiz.vocabulary import (
    Deck,
    Entry,
    Level,
    QuestionKind,
    WordListError,
    generate_quiz,
    load_wordlist,
    load_wordlist_file,
)
from livequiz.vocabulary.questions import WRITTEN_KINDS
from livequiz.vocabulary.wordlist import MAX_PROBLEMS, MIN_WORDS, read_wordlist

from .checks import base_of, check_question, definition_owners, form_tags

FRUITS_CSV = """word,definition,pos,example,level
apple,,,,
happy,,,,
river,,,,
zorbing,rolling downhill inside a large transparent ball,noun,We went zorbing on the hill,B2
"""


def test_csv_missing_fields_are_filled_from_the_deck(deck: Deck) -> None:
    entries = load_wordlist(FRUITS_CSV)
    assert [e.word for e in entries] == ["apple", "happy", "river", "zorbing"]
    assert entries[0] == deck["apple"]
    assert entries[1].definition == deck["happy"].definition
    assert entries[1].pos == "adjective"
    assert entries[2].level is deck["river"].level
    assert entries[3] == Entry(
        word="zorbing",
        pos="noun",
        definition="rolling downhill inside a large transparent ball",
        examples=("We went zorbing on the hill",),
        level=Level.B2,
    )


def test_the_authors_fields_win_over_the_deck(deck: Deck) -> None:
    text = "word,definition,example,level\napple,a round fruit,I ate an apple today,C1\n"
    text += "happy,,,\nriver,,,\nbook,,,\n"
    apple = load_wordlist(text)[0]
    assert apple.definition == "a round fruit"
    assert apple.examples == ("I ate an apple today",)
    assert apple.level is Level.C1
    assert apple.pos == "noun"
    assert apple.zipf == deck["apple"].zipf


def test_a_different_pos_borrows_only_the_frequency(deck: Deck) -> None:
    text = "word,pos,definition\nrun,noun,a trip on foot at speed\napple,,\nhappy,,\nbook,,\n"
    run = load_wordlist(text)[0]
    assert (run.pos, run.definition, run.synonyms, run.examples) == (
        "noun",
        "a trip on foot at speed",
        (),
        (),
    )
    assert run.level is deck["run"].level


def test_json_list_of_words_and_objects(deck: Deck) -> None:
    text = """[
      "apple",
      {"word": "zorbing", "definition": "rolling downhill inside a large ball", "pos": "noun"},
      {"Word": " Happy ", "Level": "a2", "example": null},
      "river"
    ]"""
    entries = load_wordlist(text)
    assert [e.word for e in entries] == ["apple", "zorbing", "Happy", "river"]
    assert entries[0] == deck["apple"]
    assert entries[1].level is Level.C2  # a word the deck does not know is taken to be rare
    assert entries[1].zipf == 0.0
    assert entries[2].level is Level.A2
    assert entries[2].definition == deck["happy"].definition


def test_csv_is_tolerant_of_bom_spaces_case_blank_lines_and_crlf() -> None:
    text = "\ufeff Word ; DEFINITION \r\n\r\n  apple ;  \r\nhappy;\r\n;\r\nriver ; \r\nbook;\r\n"
    assert [e.word for e in load_wordlist(text)] == ["apple", "happy", "river", "book"]
    tabbed = "word\tpos\napple\tn.\nhappy\tadj\nriver\tN\nrun\tV\n"
    assert [e.pos for e in load_wordlist(tabbed)] == ["noun", "adjective", "noun", "verb"]


def test_the_format_is_sniffed() -> None:
    assert len(load_wordlist('  ["apple", "happy", "river", "book"]')) == 4
    assert len(load_wordlist("word\napple\nhappy\nriver\nbook\n")) == 4
    with pytest.raises(ValueError, match="unknown word list format 'xml'"):
        load_wordlist("<words/>", "xml")  # type: ignore[arg-type]


def error_of(text: str, fmt: str | None = None) -> str:
    with pytest.raises(WordListError) as caught:
        load_wordlist(text, fmt)  # type: ignore[arg-type]
    return str(caught.value)


GOOD = "apple,,,\nhappy,,,\nriver,,,\nbook,,,\n"
HEADER = "word,definition,pos,level\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            HEADER + GOOD + "zxqv,,,\n",
            "line 6: 'zxqv' is not in the built-in deck; give its definition",
        ),
        (  # a typo is not taught as written: the teacher is told the likely word
            HEADER + GOOD + "recieve,,,\n",
            "line 6: 'recieve' is not in the built-in deck; did you mean 'receive'? "
            "If not, give its definition",
        ),
        (HEADER + GOOD + " ,a thing,,\n", "line 6: the word is empty"),
        (HEADER + GOOD + "apple pie 2,,,\n", "line 6: 'apple pie 2' is not a word"),
        (
            HEADER + GOOD + "sun,,thing,\n",
            "line 6: unknown pos 'thing' "
            "(expected noun, verb, adjective, adverb, phrasal verb or expression)",
        ),
        (HEADER + GOOD + "sun,,,Z9\n", "line 6: unknown level 'Z9' (expected A1\u2026C2)"),
        (HEADER + GOOD + "Apple,,,\n", "line 6: 'Apple' is already on line 2"),
        (
            HEADER + GOOD + "run,,noun,\n",
            "line 6: 'run' is a verb in the built-in deck; give a definition for the noun",
        ),
        (
            HEADER + GOOD + "colonization,the act of colonizing,,\n",
            "line 6: the definition of 'colonization' contains 'colonizing', "
            "which gives the answer away",
        ),
        (HEADER + GOOD + "sun,star,,\n", "line 6: the definition of 'sun' is too short"),
        (
            HEADER + GOOD + "sun,a" + " very" * 30 + " hot star,,\n",
            "line 6: the definition of 'sun' has 160 characters; at most 120 fit",
        ),
        (HEADER + GOOD + "sun,a hot star [sic],,\n", "line 6: the definition of 'sun' has markup"),
        (HEADER + GOOD + "sun,a hot star,,,extra\n", "line 6: 5 values but only 4 columns"),
        (HEADER + 'sun,"a star\nnear us",,\n' + GOOD + "zxqv,,,\n", "line 8: 'zxqv'"),
        (HEADER + GOOD + 'sun,"a hot star,,\nmoon,,,\n', "line 6: malformed CSV"),
        ("definition,pos\na fruit,noun\n", "line 1: no 'word' column (columns: definition, pos)"),
        ("word,meaning\napple,a fruit\n", "line 1: unknown column 'meaning' (expected word,"),
        ("word,,pos\napple,,noun\n", "line 1: a column has no name"),
        ("word,pos,Pos\napple,noun,noun\n", "line 1: a column is named twice"),
        ("\n\n", "the list is empty"),
        (HEADER + "apple,,,\nhappy,,,\n", f"a word list needs at least {MIN_WORDS} words"),
    ],
)
def test_csv_errors_name_the_line(text: str, message: str) -> None:
    assert error_of(text, "csv").startswith(message)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('["apple", "happy",\n "river", "book",\n  "zxqv"]', "line 3 (item 5): 'zxqv' is not in"),
        ('[\n "apple",\n {"word": "sun", "level": "Z9"}\n]', "line 3 (item 2): unknown level 'Z9'"),
        ('["apple",\n {"word": "sun", "level": 2}]', "line 2 (item 2): 'level' must be text"),
        ('["apple",\n {"word": "sun", "colour": "red"}]', "line 2 (item 2): unknown column"),
        ('["apple",\n 42]', "line 2 (item 2): an item must be a word or an object"),
        ('["apple",\n "Apple"]', "line 2 (item 2): 'Apple' is already on line 1"),
        ('["apple",\n "happy"\n "river"]', "line 3: malformed JSON: Expecting ',' delimiter"),
        ('{"word": "apple"}', "a JSON word list must be a list of words or of objects"),
        ('["apple", "happy"]', "a word list needs at least 4 words to make a quiz; this one has 2"),
    ],
)
def test_json_errors_name_the_line_and_item(text: str, message: str) -> None:
    assert error_of(text).startswith(message)


def test_the_error_reads_like_the_documentation() -> None:
    text = HEADER + GOOD + "sun,,,A1\nmoon,,,Z9\n"
    with pytest.raises(WordListError) as caught:
        load_wordlist(text)
    assert str(caught.value) == "line 7: unknown level 'Z9' (expected A1\u2026C2)"
    assert caught.value.line == 7
    assert caught.value.item is None
    assert isinstance(caught.value, ValueError)


def problems_of(text: str, fmt: str | None = None) -> list[tuple[int | None, int | None, str]]:
    with pytest.raises(WordListError) as caught:
        load_wordlist(text, fmt)  # type: ignore[arg-type]
    assert caught.value.total == len(caught.value.problems)
    return [(p.line, p.item, p.message) for p in caught.value.problems]


def test_every_mistake_is_reported_at_once_with_its_line() -> None:
    text = (
        "word,definition,pos,level\n"
        "apple,,,\n"
        "recieve,,,\n"  # 3
        "happy,,,Z9\n"  # 4
        "river,,,\n"
        "sun,star,thing,A7\n"  # 6: three mistakes on one line
        "book,,,\n"
        "Apple,,,\n"  # 8
        "xyzzyq,,,\n"  # 9
    )
    assert problems_of(text) == [
        (
            3,
            None,
            "'recieve' is not in the built-in deck; did you mean 'receive'? "
            "If not, give its definition",
        ),
        (4, None, "unknown level 'Z9' (expected A1\u2026C2)"),
        (
            6,
            None,
            "unknown pos 'thing' "
            "(expected noun, verb, adjective, adverb, phrasal verb or expression)",
        ),
        (6, None, "unknown level 'A7' (expected A1\u2026C2)"),
        (6, None, "the definition of 'sun' is too short to be an answer option"),
        (8, None, "'Apple' is already on line 2 as a noun"),
        (9, None, "'xyzzyq' is not in the built-in deck; give its definition"),
    ]
    with pytest.raises(WordListError) as caught:
        load_wordlist(text)
    assert str(caught.value) == (
        "line 3: 'recieve' is not in the built-in deck; did you mean 'receive'? "
        "If not, give its definition; and 6 more problems"
    )
    assert (caught.value.line, caught.value.item, caught.value.total) == (3, None, 7)


def test_json_items_are_all_checked() -> None:
    text = """[
      "apple",
      {"word": "sun", "level": 2, "colour": "red"},
      42,
      "zxqv",
      {"word": "happy", "level": "Z9"}
    ]"""
    assert problems_of(text) == [
        (3, 2, "unknown column 'colour' (expected word, definition, pos, example, level)"),
        (3, 2, "'level' must be text"),
        (4, 3, "an item must be a word or an object"),
        (5, 4, "'zxqv' is not in the built-in deck; give its definition"),
        (6, 5, "unknown level 'Z9' (expected A1\u2026C2)"),
    ]


def test_too_few_words_is_reported_with_the_lines_mistakes() -> None:
    assert problems_of("word,level\napple,Z9\nhappy,\n") == [
        (2, None, "unknown level 'Z9' (expected A1\u2026C2)"),
        (None, None, "a word list needs at least 4 words to make a quiz; this one has 2"),
    ]


def test_a_mistake_that_stops_the_reading_comes_after_those_before_it() -> None:
    text = HEADER + "apple,,,Z9\nhappy,,,\nzxqv,,,\n" + 'sun,"a hot star,,\nmoon,,,\n'
    found = problems_of(text, "csv")
    assert [(line, message[:20]) for line, _, message in found] == [
        (2, "unknown level 'Z9' ("),
        (4, "'zxqv' is not in the"),
        (5, "malformed CSV: unexp"),
    ]
    # a header naming no usable columns: every fault of it, and nothing read under it
    assert problems_of("word,meaning,,colour\napple,a fruit,,red\n") == [
        (1, None, "unknown column 'meaning' (expected word, definition, pos, example, level)"),
        (1, None, "unknown column 'colour' (expected word, definition, pos, example, level)"),
        (1, None, "a column has no name"),
    ]


def test_at_most_max_problems_are_kept_and_all_are_counted() -> None:
    text = "word\n" + "".join(f"zq{chr(97 + i % 26)}{chr(97 + i // 26)}x\n" for i in range(300))
    with pytest.raises(WordListError) as caught:
        load_wordlist(text)
    error = caught.value
    assert len(error.problems) == MAX_PROBLEMS == 50
    assert error.total == 300
    assert [p.line for p in error.problems] == list(range(2, 52))
    assert str(error).endswith("; and 299 more problems")


def test_files_are_read_by_extension_or_content(tmp_path: Path) -> None:
    csv_file = tmp_path / "list.CSV"
    csv_file.write_bytes(("\ufeff" + HEADER + GOOD).encode())
    json_file = tmp_path / "list.json"
    json_file.write_text('["apple", "happy", "river", "book"]', encoding="utf-8")
    other = tmp_path / "list.txt"
    other.write_text('["apple", "happy", "river", "book"]', encoding="utf-8")
    for path in (csv_file, json_file, other, str(other)):
        assert [e.word for e in load_wordlist_file(path)] == ["apple", "happy", "river", "book"]


def test_a_file_that_is_not_utf8_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_bytes(b"word\napple\nh\xe9ppy\n")
    with pytest.raises(WordListError, match="line 3: the file is not UTF-8 text"):
        load_wordlist_file(path)


OWN_NOUNS = [
    "apple",
    "river",
    "book",
    "mountain",
    "teacher",
    "window",
    "garden",
    "kitchen",
    "bridge",
    "island",
    "forest",
    "village",
    "store",  # a synonym in the sense asked ("shop"), for the synonym kind
]


def test_questions_from_a_list_follow_the_same_rules(deck: Deck) -> None:
    entries = load_wordlist("\n".join(["word", *OWN_NOUNS, "happy", "quickly"]))
    own = {e.word for e in entries}
    questions = []
    for seed in range(30):
        questions += generate_quiz(entries, count=6, seed=seed)
    for q in questions:
        check_question(q, [Deck(entries), deck])
        assert q.word in own
        if QuestionKind(q.kind) in (QuestionKind.MEANING_TO_WORD, QuestionKind.FILL_BLANK):
            if q.word in OWN_NOUNS:  # 12 other nouns: the author's words are enough
                assert set(q.options) <= own
            else:  # a lone adjective or adverb: the built-in deck tops up
                assert set(q.options) - own
    assert {q.kind for q in questions} == {k.value for k in WRITTEN_KINDS}


def test_a_small_list_is_topped_up_from_the_deck_with_the_same_pos(deck: Deck) -> None:
    entries = load_wordlist("word\napple\nriver\nhappy\nquickly\n")
    for seed in range(10):
        for q in generate_quiz(entries, kinds=["meaning_to_word"], count=4, seed=seed):
            pos = deck[q.word].pos
            assert all(deck[option].pos == pos for option in q.options)
            if q.word == "apple":
                assert "river" in q.options  # the list's own noun comes first


def test_fill_blank_only_for_entries_with_a_usable_example() -> None:
    text = (
        "word,example\n"
        "apple,She put a shiny red apple in her lunch box\n"
        "river,They swam across the wide river before breakfast\n"
        "book,I am reading books\n"  # not the word itself
        "garden,garden\n"  # too short to pin the answer down
    )
    entries = load_wordlist(text)
    quiz = generate_quiz(entries, kinds=["fill_blank"], count=2, seed=1)
    assert {q.word for q in quiz} == {"apple", "river"}
    assert {q.prompt for q in quiz} == {
        "She put a shiny red _____ in her lunch box",
        "They swam across the wide _____ before breakfast",
    }
    with pytest.raises(Rejected):
        generate_quiz(entries, kinds=["fill_blank"], count=3, seed=1)


def test_words_of_unknown_pos_get_distractors_from_the_list_only() -> None:
    text = """[
      {"word": "zorbing", "definition": "rolling downhill inside a large transparent ball"},
      {"word": "parkour", "definition": "moving through a city by running and jumping"},
      {"word": "geocaching", "definition": "hunting for hidden boxes using satellite navigation"},
      {"word": "slacklining", "definition": "balancing on a loose strap tied between two anchors"}
    ]"""
    entries = load_wordlist(text)
    assert {e.pos for e in entries} == {""}
    quiz = generate_quiz(entries, kinds=["meaning_to_word"], count=4, seed=3)
    for q in quiz:
        assert set(q.options) == {e.word for e in entries}


RECORD_LIST = """word,pos,definition,example
record,noun,a written account of what happened,She keeps a careful record of each meeting she has
record,verb,,
apple,,,
river,,,
garden,,,
kitchen,,,
"""


def test_a_word_may_be_listed_once_per_part_of_speech(deck: Deck) -> None:
    entries = load_wordlist(RECORD_LIST)
    noun, verb = entries[:2]
    assert (noun.word, noun.pos, noun.definition) == (
        "record",
        "noun",
        "a written account of what happened",
    )
    assert verb == deck["record"]  # the deck's verb, as it is
    assert (verb.pos, noun.level) == ("verb", deck["record"].level)
    # the same part of speech twice is still a mistake, naming both lines
    twice = RECORD_LIST + "Record,verb,,\n"
    assert problems_of(twice) == [(8, None, "'Record' is already on line 3 as a verb")]


def test_a_word_in_two_parts_of_speech_is_asked_once_and_never_offered_against_itself(
    deck: Deck,
) -> None:
    entries = load_wordlist(RECORD_LIST)
    own = Deck(entries)
    definitions = {"a written account of what happened", deck["record"].definition}
    asked = set()
    for seed in range(40):
        quiz = generate_quiz(entries, count=5, seed=seed)  # five words: record once
        assert sorted(q.word for q in quiz) == ["apple", "garden", "kitchen", "record", "river"]
        for q in quiz:
            check_question(q, [own, deck])
            if q.word == "record":
                asked.add((q.kind, q.answer))
                assert "record" not in [o.casefold() for o in q.options if o != q.answer]
                # never both senses among the options of "What does 'record' mean?"
                assert len(definitions & set(q.options)) <= 1, q
    # both senses are asked over the seeds (the noun's definition as the answer, the verb's
    # gives itself away), the noun in a fill-in too
    assert ("word_to_meaning", "a written account of what happened") in asked
    assert ("fill_blank", "record") in asked


PHRASAL_LIST = "\n".join(
    [
        "word,pos,definition,example",
        "give up,phrasal verb,to stop doing something you did often,"
        "She gave up smoking after her doctor warned her last year",
        "look after,phrasal-verb,to take care of a person or an animal,"
        "My grandmother looks after the children every Friday evening",
        "turn down,Phrasal Verb,to say no to an offer or a request,"
        "They turned down the job because the pay was far too low",
        "set off,phrasal,to begin a journey somewhere,"
        "We set off early to avoid the heavy traffic on the motorway",
        "break the ice,idiom,to make people who have just met feel relaxed,",
        "by the way,expression,said when you add something to what you were saying,",
        "apple,,,",
        "river,,,",
        "",
    ]
)


def test_phrasal_verbs_and_expressions_are_parts_of_speech(deck: Deck) -> None:
    entries = load_wordlist(PHRASAL_LIST)
    assert [(e.word, e.pos) for e in entries[:6]] == [
        ("give up", "phrasal verb"),
        ("look after", "phrasal verb"),
        ("turn down", "phrasal verb"),
        ("set off", "phrasal verb"),
        ("break the ice", "expression"),
        ("by the way", "expression"),
    ]
    # a phrasal verb knows its verb's irregular forms: "gave" alone gives "give up" away
    assert {"gave", "given"} <= entries[0].forms
    assert problems_of(PHRASAL_LIST + "give,phrasal verb,to hand something to someone,\n") == [
        (
            10,
            None,
            "'give' is one word; a phrasal verb is a verb with its particle "
            "('give up', 'look after')",
        )
    ]


def test_a_phrasal_verb_is_asked_among_phrasal_verbs_and_verbs(deck: Deck) -> None:
    entries = load_wordlist(PHRASAL_LIST)
    own = Deck(entries)
    phrasal = {e.word for e in entries if e.pos == "phrasal verb"}
    seen_kinds = set()
    for seed in range(30):
        quiz = generate_quiz(
            entries,
            count=4,
            seed=seed,
            kinds=["meaning_to_word", "word_to_meaning"],
            levels=["C2"],
        )
        for q in quiz:
            check_question(q, [own, deck])
            if q.word not in phrasal:
                continue
            seen_kinds.add(q.kind)
            if q.kind == "meaning_to_word":
                # the list's other phrasal verbs first, then plain verbs; never a noun
                # ("set off" is out of "... an offer ...": "off" + "er" looks like a form of it)
                pos = {o: (own.get(o) or deck[o]).pos for o in q.options}
                assert set(pos.values()) <= {"phrasal verb", "verb"}, q
                assert len(set(q.options) & phrasal) >= 3, q
            else:
                for option in q.options:
                    owners = definition_owners(option, [own, deck])
                    assert owners, q
                    assert all(e.pos in ("phrasal verb", "verb") for e in owners), q
    assert seen_kinds == {"meaning_to_word", "word_to_meaning"}


def test_a_phrasal_verb_tops_up_with_verbs_not_close_to_its_meaning(deck: Deck) -> None:
    # the list's own verbs come first: "stop", "quit" and "cease" would be, and each would be a
    # second right answer to "to stop doing something"
    text = "word,pos,definition\ngive up,phrasal verb,to stop doing something you did often\n"
    verbs = ("stop", "quit", "cease", "swim", "paint", "cook")
    text += "".join(f"{verb},verb,\n" for verb in verbs)
    text += "apple,,\nriver,,\n"
    entries = load_wordlist(text)
    for seed in range(10):
        (q,) = generate_quiz(entries, count=1, seed=seed, kinds=["meaning_to_word"], levels=["C2"])
        assert q.word == "give up"
        check_question(q, [Deck(entries), deck])
        assert set(q.options) == {"give up", "swim", "paint", "cook"}, q


def test_an_example_in_an_inflected_form_makes_a_fill_in(deck: Deck) -> None:
    entries = load_wordlist(PHRASAL_LIST)
    own = Deck(entries)
    prompts = {}
    for seed in range(30):
        for q in generate_quiz(entries, count=4, seed=seed, kinds=["fill_blank"]):
            check_question(q, [own, deck])
            prompts[q.prompt] = q
    gave = prompts["She _____ smoking after her doctor warned her last year"]
    assert (gave.word, gave.answer) == ("give up", "gave up")
    assert gave.example == "She gave up smoking after her doctor warned her last year"
    # every option a phrasal verb or a verb, in the same (past) form: parallel
    assert {"turned down", "set off"} <= set(gave.options)  # "looked after": "after" is in it
    assert_all_in_form(gave, "VBD", [own, deck])
    looks = prompts["My grandmother _____ the children every Friday evening"]
    assert looks.answer == "looks after"
    assert_all_in_form(looks, "VBZ", [own, deck])
    # "turned down" is past or participle: "set off" is both, "gave up"/"given up" not
    turned = prompts["They _____ the job because the pay was far too low"]
    assert turned.answer == "turned down"
    assert "gave up" not in turned.options
    assert "given up" not in turned.options


def assert_all_in_form(q: Question, tag: str, decks: list[Deck]) -> None:
    for option in q.options:
        base, entry = base_of(option, decks)
        assert entry.pos in ("phrasal verb", "verb"), (q, option)
        assert tag in form_tags(option, base, entry.pos), (q, option)


@pytest.mark.parametrize(
    ("line", "prompt", "answer"),
    [
        ("run,,,He runs along the river before work every morning", "He _____ along", "runs"),
        (  # the deck's "study" is a noun: the verb is the teacher's
            "study,verb,to spend time learning a subject,"
            "They studied French together for three long years",
            "They _____ French",
            "studied",
        ),
        (  # "go" is too short for the deck
            "go,verb,to move from one place to another,"
            "We went to the seaside with all our cousins in August",
            "We _____ to",
            "went",
        ),
        (
            "book,,,She carried three heavy books up the stairs to her room",
            "three heavy _____ up",
            "books",
        ),
    ],
)
def test_regular_and_irregular_forms_fill_in_with_options_in_the_same_form(
    deck: Deck, line: str, prompt: str, answer: str
) -> None:
    entries = load_wordlist(f"word,pos,definition,example\n{line}\napple,,,\nriver,,,\nhappy,,,\n")
    word, pos, example = entries[0].word, entries[0].pos, entries[0].examples[0]
    asked = [
        q
        for seed in range(10)
        for q in generate_quiz(entries, count=1, seed=seed, kinds=["fill_blank"])
        if q.word == word
    ]
    assert asked
    tag = {"runs": "VBZ", "studied": "VBD", "went": "VBD", "books": "NNS"}[answer]
    for q in asked:
        check_question(q, [Deck(entries), deck])
        assert (q.word, q.answer, q.example) == (word, answer, example)
        assert prompt in q.prompt
        for option in q.options:  # every option a word of the same part of speech, so inflected
            base, entry = base_of(option, [Deck(entries), deck])
            assert entry.pos == pos, (q, option)
            assert tag in form_tags(option, base, entry.pos), (q, option)


def test_expressions_are_asked_among_expressions(deck: Deck) -> None:
    text = """[
      {"word": "break the ice", "pos": "idiom",
       "definition": "to make people who have just met feel relaxed"},
      {"word": "by the way", "pos": "expression",
       "definition": "said when you add something to what you were saying"},
      {"word": "once in a blue moon", "pos": "Idiom",
       "definition": "very rarely, almost never"},
      {"word": "under the weather", "pos": "fixed expression",
       "definition": "feeling a little ill"},
      "apple", "river", "quickly"
    ]"""
    entries = load_wordlist(text)
    expressions = {e.word for e in entries if e.pos == "expression"}
    assert len(expressions) == 4
    own = Deck(entries)
    for seed in range(10):
        for q in generate_quiz(entries, count=7, seed=seed, kinds=["meaning_to_word"]):
            check_question(q, [own, deck])
            if q.word in expressions:
                assert set(q.options) == expressions, q  # never "apple" or "quickly"


# ---------------------------------------------------------------- a Quizlet export

QUIZLET = (
    "harbour\ta place where ships stay safe\n"
    "ancient\tvery, very old\n"
    "whisper\tto speak very quietly\n"
    "glacier\ta slow river of ice\n"
)


@pytest.mark.parametrize(
    "text",
    [
        QUIZLET,  # Quizlet's default: a tab between term and definition
        QUIZLET.replace("\t", ","),  # "comma": not quoted, so the definition is the rest
        QUIZLET.replace("\t", ";"),
        "Term,Definition\n" + QUIZLET.replace("\t", ","),
    ],
)
def test_a_quizlet_export_is_read_as_words_with_the_teachers_definitions(
    deck: Deck, text: str
) -> None:
    entries = load_wordlist(text, deck=deck)
    assert [(e.word, e.definition) for e in entries] == [
        ("harbour", "a place where ships stay safe"),
        ("ancient", "very, very old"),
        ("whisper", "to speak very quietly"),
        ("glacier", "a slow river of ice"),
    ]


def test_a_quizlet_quiz_asks_the_teachers_definitions_as_written(deck: Deck) -> None:
    entries = load_wordlist(QUIZLET, deck=deck)
    quiz = generate_quiz(entries, count=4, kinds=[QuestionKind.WORD_TO_MEANING], seed=3)
    for question in quiz:
        right = question.options[question.correct_option]
        assert right == {e.word: e.definition for e in entries}[question.word]


def test_a_preview_keeps_the_good_lines_and_names_the_others(deck: Deck) -> None:
    text = QUIZLET + "brave\tbrave and not afraid\nfoo\t\n"
    entries, problems, total = read_wordlist(text, deck=deck)
    assert [e.word for e in entries] == ["harbour", "ancient", "whisper", "glacier"]
    assert total == 2
    assert [(p.line, "brave" in p.message) for p in problems] == [(5, True), (6, False)]
    with pytest.raises(WordListError) as refused:  # a creation from it refuses the whole list
        load_wordlist(text, deck=deck)
    assert refused.value.total == 2
