"""Which entries of the built-in deck are kept out of questions, and why.

The built-in data was made automatically: each headword's level comes from how often the
*string* occurs, and its gloss is WordNet's first sense for that string and part of speech. For
a word form that is mostly another word's inflection the two do not match: "getting" is A1
because of "get", but its noun gloss is "the act of acquiring something"; "sent" is A1 because of
"send", but its noun gloss is "100 senti equal 1 kroon in Estonia". Beginners (A1-B1) would meet
these as if they were everyday words, so there they are screened out, both as answers and as
distractors. Higher levels keep them: advanced learners are expected to know rarer senses, and
the pools there are large.

Only decks built with ``screened=True`` (the built-in one) are screened; an author's own list is
taken as the author wrote it.
"""

from __future__ import annotations

import re
from functools import cache

from livequiz.vocabulary.cleaning import subject_label
from livequiz.vocabulary.deck import Deck, Entry, Level
from livequiz.vocabulary.leaks import stem

__all__ = ["SCREENED_LEVELS", "screen_reason"]


def _words(text: str) -> frozenset[str]:
    """The whitespace-separated words of ``text``: keeps long word lists readable."""
    return frozenset(text.split())


#: The beginner levels where surface forms and specialist senses are kept out.
SCREENED_LEVELS = frozenset({Level.A1, Level.A2, Level.B1})

#: Irregular past forms: as nouns, or as verbs in their own right, they are mostly another verb
#: in disguise ("sent: 100 senti equal 1 kroon", "fell: cause to fall by cutting").
#: Forms that are everyday nouns in their own right ("thought", "wound", "bet") are not listed.
_IRREGULAR_PAST = _words(
    """
    arose awoke bade beheld bent bit bled blew bore bought bound bred brought built burnt
    caught chose clung crept dealt did dove drank drew drove dug dwelt fed fell felt fled flew
    flung forbade forgot forgave fought found froze gave got grew hid held hung kept knelt knew
    laid lay led leapt left lent lit lost made meant met paid rang ran rode rose said sang sank
    sat saw sent shone shook shot slept slid slung sold sought spat spent spoke sprang spun stank
    stole stood stuck stung strode struck strove swam swept swore swung taught threw
    told took tore trod understood wept woke won wore wove wrote
    """
)

#: Subject labels of glosses that beginners can still be asked about: everyday science and
#: society. Any other label ("(baseball) a successful stroke", "(astronomy) an indistinct surface
#: feature of Mars") marks a specialist sense of a common word and is screened at A1-B1.
_EVERYDAY_SUBJECTS = frozenset(
    {
        "physics",
        "biology",
        "medicine",
        "law",
        "criminal law",
        "military",
        "biochemistry",
        "virology",
        "microbiology",
        "genetics",
        "botany",
        "physiology",
        "psychology",
        "folklore",
        "anatomy",
        "zoology",
    }
)

#: Headwords that in running text are mostly a name (of a person, a brand): their frequency, and
#: so their level, is the name's, while their gloss is a rare common-noun sense ("john: a room or
#: building equipped with one or more toilets" at A1). Found by checking common first names and
#: brands against the deck; kept out at every level.
_NAME_LIKE = _words(
    """
    amazon anna august bart batman ben benjamin benny beth billy bobby canton chuck cooper donna
    ford hank harry hector henry jack john ken kitty kylie maria max mike molly murphy nick rick
    sally sam sherlock timothy trump twitter
    """
)

_VOWEL_RE = re.compile(r"[aeiouy]")


@cache
def _known_words(deck: Deck, pos: str) -> frozenset[str]:
    """Words the deck shows to be of ``pos``: its entries, their synonyms and antonyms, and for
    verbs the first words of glosses.

    The deck has one entry per word, so the verb "look" is missing (the word is there only as the
    noun "looking"); but "look" is a synonym of the verb "appear", and WordNet verb glosses start
    with a verb ("move fast by using one's feet").
    """
    words: set[str] = set()
    for entry in deck:
        if entry.pos == pos:
            words.add(entry.key)
            words.update(w.casefold() for w in (*entry.synonyms, *entry.antonyms) if " " not in w)
            if pos == "verb":
                words.update(entry.definition.casefold().split()[:1])
    return frozenset(words)


#: The gloss of a noun that only names its verb's action ("getting: the act of acquiring
#: something"), as opposed to a thing of its own ("building: a structure that has a roof").
_ACTION_GLOSS = re.compile(r"^(the |an? )?(act|action|activity|process|practice)s? of\b")


def _is_verb_form_noun(entry: Entry, deck: Deck) -> bool:
    """A noun ending in -ing that only names its verb's action: "getting", "looking"."""
    word = entry.key
    if entry.pos != "noun" or not word.endswith("ing") or len(word) < 5:
        return False
    if not _ACTION_GLOSS.match(entry.definition.casefold()):
        return False
    base = word[:-3]
    bases = {base, base + "e", stem(word)}
    if len(base) > 2 and base[-1] == base[-2]:  # getting -> get
        bases.add(base[:-1])
    if base.endswith("y"):  # lying -> lie
        bases.add(base[:-1] + "ie")
    return not bases.isdisjoint(_known_words(deck, "verb"))


def _inflected_base(entry: Entry, deck: Deck) -> str | None:
    """The word this one is a plural or past form of, if the deck has it ("ways" -> "way")."""
    word = entry.word.casefold()
    if entry.pos == "noun" and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        singular = [word[:-1]]
        if word.endswith("es"):
            singular.append(word[:-2])
        if word.endswith("ies"):
            singular.append(word[:-3] + "y")
        for base in singular:
            if len(base) >= 3 and base in _known_words(deck, "noun"):
                return base
    if entry.pos == "noun" and word.endswith("ed"):
        bases = [word[:-1], word[:-2]]  # lied -> lie, played -> play
        if len(word) >= 5 and word[-3] == word[-4]:  # stopped -> stop
            bases.append(word[:-3])
        if word.endswith("ied"):  # tried -> try
            bases.append(word[:-3] + "y")
        for base in bases:
            if len(base) >= 3 and base in _known_words(deck, "verb"):
                return base
    return None


def screen_reason(entry: Entry, deck: Deck) -> str | None:
    """Why ``entry`` of a screened ``deck`` is kept out of questions, or ``None`` if it is not.

    The rules, in order:

    - a word without a vowel is an abbreviation ("gdp", "utc"), at every level;
    - a word that is mostly a name in running text ("john", "twitter"), at every level;
    - at A1-B1 (:data:`SCREENED_LEVELS`) only:
      - a noun ending in -ing whose gloss only names the verb's action ("getting: the act of
        acquiring something"; "building: a structure" is a thing of its own): the word minus "ing"
        (with a dropped "e" restored, a doubled consonant undone, or "y" back to "ie"), or its
        stem, is a verb the deck knows (see :func:`_known_words`);
      - a plural noun whose singular is a noun the deck knows ("ways"), a noun ending in -ed
        whose base is a verb the deck knows ("lied"), an irregular past form that is not an
        adjective ("sent", "fell");
      - a gloss with a subject label other than everyday science and society ("canal:
        (astronomy) a surface feature of Mars", "hit: (baseball) a successful stroke").
    """
    if not deck.screened:
        return None
    word = entry.word.casefold()
    if not _VOWEL_RE.search(word):
        return "abbreviation"
    if word in _NAME_LIKE:
        return "mostly a name"
    if entry.level not in SCREENED_LEVELS:
        return None
    if word in _IRREGULAR_PAST and entry.pos != "adjective":  # "lost", "broken" are adjectives
        return "irregular past form"
    if _is_verb_form_noun(entry, deck):
        return "-ing form of a verb"
    base = _inflected_base(entry, deck)
    if base is not None:
        return f"inflected form of {base!r}"
    label = subject_label(entry.definition)
    if label is not None and label.casefold() not in _EVERYDAY_SUBJECTS:
        return f"specialist sense ({label})"
    return None
