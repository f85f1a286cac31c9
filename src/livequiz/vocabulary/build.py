"""Build the deck from its upstream sources: WordNet 3.0, word frequencies and CEFR levels.

``livequiz deck build`` runs :func:`build_deck` over Debian's WordNet files
(:mod:`livequiz.vocabulary.wordnet`) with frequencies from ``wordfreq`` and CEFR levels from
``cefrpy``, and writes the deck as JSON Lines in the format :class:`~.deck.Deck` reads. The
same sources give the same file, byte for byte: nothing here is random or depends on the order
of a set.

What each headword gets, and why:

- **The sense learners meet.** A word's senses are ranked by how often WordNet's tagged texts
  met them (the tag count), and a sense loses rank when WordNet files it under a specialist
  subject ("baseball", "military") or when its definition is made of rare words; so "single"
  is "being or characteristic of a single thing", not a base hit. (The tag counts come from
  American texts of the 1960s: they cannot tell "lorry" the truck from "lorry" the wagon, both
  untagged; there the plainer definition wins.)
- **What is never asked nor offered**: proper nouns, senses WordNet marks as slang, vulgar,
  obscene, disparaging, an ethnic slur, a trade name, an abbreviation or archaic; senses about
  sex or the body's private parts; words on the profanity list that have such a sense too
  ("ass", "screw": the nickname list alone would also take "kill", "organ" and "stroke",
  which a class needs), and mild swear words (:data:`SWEAR_WORDS`); words that are mostly
  another word's inflection ("sent", "getting"), which wordfreq counts as frequent for the
  wrong reason.
- **The level**: the CEFR level ``cefrpy`` gives the word in that part of speech, but never
  more than one band easier than the word's frequency says (:meth:`.deck.Level.from_zipf`),
  and the frequency band alone where cefrpy has none (see :func:`_level`).
- **Related words** (``related``): every word that is a synonym, antonym, hypernym, hyponym,
  similar adjective or derived form of the headword *in any of its senses*, kept to words of
  the deck: none of them may be offered as a wrong option, since in some sense it is right.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from livequiz.vocabulary.cleaning import clean_definition
from livequiz.vocabulary.deck import Level
from livequiz.vocabulary.leaks import FUNCTION_WORDS
from livequiz.vocabulary.wordnet import POS_NAMES, Sense, Synset, WordNet

__all__ = ["BuildReport", "Sources", "build_deck", "content_words", "deck_lines"]

#: Usage domains (WordNet's ``;u`` pointers) of senses that offend: a word whose most used
#: sense is one of them is left out altogether.
OFFENSIVE_USAGE = frozenset({"vulgarism", "obscenity", "disparagement", "ethnic slur"})
#: Usage domains of senses that are kept out of questions, the word's other senses staying.
SCREENED_USAGE = OFFENSIVE_USAGE | {
    "slang",
    "trade name",
    "trademark",
    "abbreviation",
    "acronym",
    "archaism",
    "street name",
}
#: Words WordNet lists as nouns or adverbs that a vocabulary quiz does not teach: question
#: words and pointers ("the next _____ [matter / section / why]").
GRAMMAR_WORDS = frozenset(
    [
        "why",
        "how",
        "when",
        "where",
        "whence",
        "whither",
        "what",
        "who",
        "whom",
        "whose",
        "which",
        "there",
        "here",
        "then",
        "thus",
        "also",
        "too",
        "very",
        "yes",
        "yeah",
        "okay",
        "else",
    ]
)
#: Mild swear words: ordinary words for WordNet, not for a quiz on the projector.
SWEAR_WORDS = frozenset(
    [
        "damn",
        "damned",
        "damnation",
        "goddamn",
        "goddam",
        "hell",
        "hellish",
        "crap",
        "crappy",
        "piss",
        "pissed",
        "bastard",
        "bitch",
        "bloody",
        "bugger",
        "arse",
    ]
)
#: Words made from a swear word ("shitty", "shithead", "bitchy", "bollocks"): as swear words.
_SWEAR_STEM = re.compile(r"(shit|fuck|piss|cunt|bitch|bollock|wank|twat|crap(py|s)?$)")
#: Definitions about sex or the body's private parts: not for a classroom, at any level.
_SEXUAL = re.compile(
    r"\b(sexual (intercourse|activit\w*|desire|arousal|partners?|acts?|relations\w*|"
    r"attraction|excitement|pleasure|organs?|behavior|perversion)|sexually (arous\w*|"
    r"transmitted|attractive|explicit)|genital\w*|penis|vagina\w*|vulva|copulat\w*|coitus|"
    r"intercourse|erotic\w*|pornograph\w*|prostitut\w*|orgasm\w*|masturbat\w*|fornicat\w*|"
    r"semen|testicle\w*|scrotum|clitoris|brothel\w*|sodom\w*|fellatio|cunnilingus|"
    r"aphrodisiac\w*|libido|lust(s|ful|y|ed|ing)?|seduc\w*|adulter(y|ous|er|ess)|"
    r"rape[ds]?|raping|rapist\w*|incest\w*|(have|having|had|suggest|suggests) sex|"
    r"sex (to|with)|sexually attracted|homosexual\w*|promiscu\w*|orgy|orgies|"
    r"rapeseed)\b"  # the plant's name reads as the crime
)
#: A sense that is only a note on how the word combines ("looking: appearing to be as
#: specified; usually used as combining forms"): nothing to ask.
_COMBINING = re.compile(r"used (as|in) combining forms?\W*$|usually used as combining form")
#: Topic domains (``;c``) of everyday life: a sense filed under any other one is a specialist
#: sense of the word and is ranked below its everyday senses.
EVERYDAY_DOMAINS = frozenset(
    {
        "medicine",
        "biology",
        "physics",
        "chemistry",
        "law",
        "music",
        "cooking",
        "sport",
        "computer science",
        "mathematics",
        "geography",
        "politics",
        "economics",
        "commerce",
        "education",
        "art",
        "religion",
    }
)
#: Pointers whose targets are "also right" in some sense: never a wrong option.
RELATED_POINTERS = frozenset({"!", "@", "@i", "~", "~i", "&", "+", "\\", "^", "=", "<", "$"})
#: Only words like these are headwords: lower-case letters, 3 to 14 of them (two-letter
#: options are mostly notes and symbols: "si", "te", "ut").
#: Senses the tag counts get wrong, chosen by hand: the words a class meets in another sense
#: than WordNet's 1960s American texts did, found by reading the deck's A1–B2 words and by the
#: blind reviews (docs/questions.md). Each maps a headword to the start of the definition to
#: ask; the build fails if that definition is not one of the word's senses.
SENSE_CHOICES = {
    "bank": "a financial institution",
    "band": "a group of musicians playing popular music",
    "bill": "an itemized statement of money owed",
    "board": "a flat piece of material designed for a special purpose",
    "canal": "long and narrow strip of water",
    "church": "a place for public (especially Christian) worship",
    "club": "a formal association of people with similar interests",
    "college": "an institution of higher education",
    "form": "a printed document with spaces",
    "lorry": "a large truck",
    "outfit": "a set of clothing",
    "party": "an occasion on which people can assemble",
    "post": "the system whereby messages are transmitted",
    "program": "a radio or television show",
    "thing": "a separate and self-contained entity",
    "video": "a recording of both the visual and audible",
    # found by the second blind review and the senses it led to
    "broadcaster": "someone who broadcasts on radio or television",
    "copy": "a thing made to be similar or identical",
    "cosy": "enjoying or affording comforting warmth",
    "crease": "an angular or rounded shape made by folding",
    "draw": "represent by making a drawing of",
    "favourite": "something regarded with special favor",
    "grow": "become larger, greater, or bigger",
    "holy": "belonging to or derived from or associated with a divine power",
    "humour": "the quality of being funny",
    "jade": "a semiprecious gemstone",
    "nap": "a period of time spent sleeping",
    "now": "at the present moment",
    "queue": "a line of people or vehicles waiting",
    "tidy": "marked by order and cleanliness",
    "tier": "a relative position or degree of value",
    "vet": "a doctor who practices veterinary medicine",
}
#: Headwords left out by hand: a prefix ("non"), a modal verb WordNet only has as a noun
#: ("must"), an inflection ("gone"). (Names such as "john" stay in the deck and are screened
#: out of questions: :mod:`livequiz.vocabulary.screening`.)
EXCLUDED = frozenset(
    {"non", "must", "gone"}
    # names, abbreviations and fragments nobody tagged, found by the blind review and by
    # listing the short words no source knows
    | {"ben", "lee", "mac", "jay", "sen", "ana", "cox", "ira", "bey", "otc", "kos", "neb"}
    | {"yip", "jak", "arb", "nob", "ness", "pes", "clegg", "igg", "apc", "stanhope", "primo"}
    # crude words a teacher does not want on the projector, even as a wrong option
    | {"fart", "bong", "poo", "poop", "pee", "turd", "snot", "booger", "butt", "bum", "puke"}
    # variant spellings that read as something else, found by the blind review
    | {"calif", "sens", "batten", "brad", "babu"}
)
#: Words that may be asked but are never offered as a wrong option: drugs, diseases of sex,
#: the body's private parts and sexual identity, found as distractors by the blind reviews.
NOT_OFFERED = frozenset(
    {"ganja", "marijuana", "cannabis", "cocaine", "heroin", "opium", "syphilis", "gonorrhea"}
    | {"herpes", "anus", "rectum", "transsexual", "transvestite", "bisexual", "heterosexual"}
    | {"urine", "feces", "excrement", "vomit", "condom", "brothel"}
)
#: Roman numerals ("iii", "viii"): WordNet has them as adjectives, no class asks them.
_ROMAN = re.compile(r"m{0,3}(cm|cd|d?c{0,3})(xc|xl|l?x{0,3})(ix|iv|v?i{0,3})")
#: A headword that is also a name ("Smith", "Henry", "August") and whose own senses were
#: tagged at most this often: its frequency is the name's, so its level is no easier than C1.
_NAME_COUNT = 2
_HEADWORD = re.compile(r"[a-z]{3,14}")
#: Words rarer than this (Zipf scale) are left out: too rare to teach.
MIN_ZIPF = 2.6
#: Synonyms shown must be at least this common.
MIN_SYNONYM_ZIPF = 3.0
#: Words rarer than this (Zipf) are rare for an A1–B1 learner: in a definition (a third of
#: them makes it hard) or in an example sentence (one is too many).
_RARE_ZIPF = 3.0
#: One word rarer than this in a definition is too many for an A1–B1 learner.
_VERY_RARE_ZIPF = 2.7
#: WordNet's lexicographer files of concrete nouns (``lexnames(5WN)``): animal, artifact,
#: body, food, location, object, person, plant. Among senses nobody tagged, "accommodation"
#: as living quarters (an artifact) comes before "making or becoming suitable" (an act).
_CONCRETE_NOUNS = frozenset({5, 6, 8, 13, 15, 17, 18, 20})
#: Ranking weights (see :func:`_sense_score`).
_DOMAIN_PENALTY = 8.0
_RARE_GLOSS_PENALTY = 2.0

Zipf = Callable[[str], float]
CefrLevel = Callable[[str, str], Level | None]
Inflections = Callable[[str, str], frozenset[str]]
Lemmas = Callable[[str], frozenset[str]]
IsProfane = Callable[[str], bool]


@dataclass(frozen=True)
class Sources:
    """What a build reads besides WordNet: frequencies, CEFR levels, inflections (a base word's
    forms, by part of speech), lemmas (the base words a form may be of: "sent" → send) and the
    profanity check."""

    zipf: Zipf
    cefr: CefrLevel
    inflections: Inflections
    lemmas: Lemmas
    is_profane: IsProfane


@dataclass
class BuildReport:
    """Why words were left out, counted (printed by ``livequiz deck build``)."""

    kept: int = 0
    left_out: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str) -> None:
        self.left_out[reason] = self.left_out.get(reason, 0) + 1


def build_deck(wordnet: WordNet, sources: Sources) -> tuple[list[dict[str, object]], BuildReport]:
    """Every headword's record, most frequent first, and what was left out and why."""
    report = BuildReport()
    usage = wordnet.domains(";u")
    topics = wordnet.domains(";c")
    chosen: dict[str, tuple[Sense, float]] = {}
    for lemma, senses in sorted(wordnet.senses.items()):
        if not _HEADWORD.fullmatch(lemma) or lemma in FUNCTION_WORDS | GRAMMAR_WORDS:
            continue
        zipf = sources.zipf(lemma)
        if zipf < MIN_ZIPF:
            report.skip("rarer than Zipf 2.6")
            continue
        if lemma in SWEAR_WORDS or _SWEAR_STEM.match(lemma):
            report.skip("a swear word")
            continue
        if _SEXUAL.fullmatch(lemma):
            report.skip("a word about sex")
            continue
        if not re.search(r"[aeiouy]", lemma):
            report.skip("no vowel: an abbreviation")
            continue
        if lemma in EXCLUDED:
            report.skip("left out by hand")
            continue
        if _ROMAN.fullmatch(lemma) and not any(s.count for s in senses):
            report.skip("a Roman numeral")
            continue
        screened = [_screened(wordnet.synset(s.synset), usage) for s in senses]
        if any(screened) and sources.is_profane(lemma):
            report.skip("on the profanity list, with a screened sense")
            continue
        usable = [
            s
            for s, out in zip(senses, screened, strict=True)
            if not out and wordnet.word_in(s).islower()
        ]
        if not usable:
            report.skip("only proper-noun or screened senses")
            continue
        if offensive_sense(wordnet.synset(senses[0].synset), usage):
            report.skip("its most used sense offends")
            continue
        if _mostly_an_inflection(lemma, senses, wordnet, sources):
            report.skip("mostly another word's inflection")
            continue
        best = _chosen(lemma, usable, wordnet) or max(
            usable, key=lambda s: (_sense_score(s, wordnet, topics, sources), -s.number)
        )
        chosen[lemma] = (best, zipf)
    headwords = frozenset(chosen)
    records = [
        _record(lemma, sense, zipf, wordnet, sources, headwords)
        for lemma, (sense, zipf) in chosen.items()
    ]
    records.sort(key=lambda r: (-float(r["zipf"]), str(r["word"])))  # type: ignore[arg-type]
    report.kept = len(records)
    return records, report


def deck_lines(records: Iterable[dict[str, object]]) -> Iterator[str]:
    """The records as the deck file's lines (one JSON object each, fields in a fixed order)."""
    for record in records:
        yield json.dumps(record, ensure_ascii=False) + "\n"


def content_words(
    ranked: Iterable[str], headword: Callable[[str], str | None], count: int
) -> list[str]:
    """The first ``count`` content words of a frequency list, as the headwords a learner looks
    up: ``headword`` maps a word to the headword it is taught under ("days" to "day"), or
    ``None`` for a word that is no noun, verb, adjective or adverb in common use (a name, a
    letter); function words, :data:`GRAMMAR_WORDS` and repeats are left out."""
    words: list[str] = []
    seen: set[str] = set()
    for word in ranked:
        if not word.isalpha() or len(word) < 2 or word in FUNCTION_WORDS | GRAMMAR_WORDS:
            continue
        found = headword(word)
        if found is None or found in seen or found in FUNCTION_WORDS | GRAMMAR_WORDS:
            continue
        seen.add(found)
        words.append(found)
        if len(words) == count:
            break
    return words


# ---------------------------------------------------------------------- inside


def offensive_sense(synset: Synset, usage: dict[tuple[str, int], frozenset[str]]) -> bool:
    """A sense WordNet marks vulgar, obscene, disparaging or a slur, or one about sex."""
    if usage.get(synset.key, frozenset()) & OFFENSIVE_USAGE:
        return True
    return bool(_SEXUAL.search(synset.definition.casefold()))


def _screened(synset: Synset, usage: dict[tuple[str, int], frozenset[str]]) -> bool:
    if usage.get(synset.key, frozenset()) & SCREENED_USAGE:
        return True
    definition = synset.definition.casefold()
    if definition.startswith(("used to ", "used as ", "used for emphasis", "used in ")):
        return True  # a note on grammar ("used to form the superlative"), not a meaning
    if not SWEAR_WORDS.isdisjoint(re.findall(r"[a-z]+", definition)):
        return True  # "frankly: to tell the truth (or 'frankly, my dear, I don't give a damn')"
    return bool(_SEXUAL.search(definition) or _COMBINING.search(definition))


def _mostly_an_inflection(
    lemma: str, senses: list[Sense], wordnet: WordNet, sources: Sources
) -> bool:
    """A word whose frequency is another word's, its own senses rare: "sent", "getting".

    Its base need not be as frequent as the form: "organised" (4.1) is mostly the British
    spelling of organize's past, though "organise" is rarer (3.5), and its one adjective sense
    ("formed into a labor union") is not what a learner means by it.
    """
    bases = sources.lemmas(lemma)
    adjective = any(s.pos == "adjective" and s.count > 0 for s in senses)
    # only ever a form of another word ("men", "children", "sent"), unless it is an adjective
    # in its own right ("lost", "tired")
    if (
        bases
        and lemma not in bases
        and not adjective
        and any(wordnet.lemma_senses(b) for b in bases)
    ):
        return True
    if sum(s.count for s in senses) >= 5:
        return False
    return any(
        other != lemma
        and sources.zipf(other) >= sources.zipf(lemma) - 1.0
        and bool(wordnet.lemma_senses(other))
        for other in _lemmas_of(lemma, sources)
    )


def _lemmas_of(word: str, sources: Sources) -> list[str]:
    """Base words that have ``word`` among their inflections (by the inflection source)."""
    # "organised" is organize's past in British spelling; "centre" is a word of its own
    inflected = word.endswith(("ed", "ing", "es", "s"))
    candidates = [american_spelling(word)] if inflected and american_spelling(word) != word else []
    for suffix, base_endings in (
        ("ing", ("", "e")),
        ("ed", ("", "e")),
        ("s", ("",)),
        ("es", ("",)),
    ):
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            stem = word[: -len(suffix)]
            for ending in base_endings:
                candidates.append(stem + ending)
            if len(stem) > 2 and stem[-1] == stem[-2]:
                candidates.append(stem[:-1])  # "getting" -> "get"
    found = [base for base in sorted(sources.lemmas(word)) if base != word]
    for base in candidates:
        for spelling in (base, american_spelling(base)):
            forms = sources.inflections(spelling, "verb") | sources.inflections(spelling, "noun")
            if word in forms or american_spelling(word) in forms:
                found.append(spelling)
    return found


#: British spellings no rule below finds, with their American ones.
_BRITISH_TO_AMERICAN = {
    "grey": "gray",
    "tyre": "tire",
    "plough": "plow",
    "mould": "mold",
    "aluminium": "aluminum",
    "jewellery": "jewelry",
    "programme": "program",
    "catalogue": "catalog",
    "cheque": "check",
    "kerb": "curb",
    "pyjamas": "pajamas",
}
_AMERICAN_TO_BRITISH = {american: british for british, american in _BRITISH_TO_AMERICAN.items()}


def british_spelling(word: str) -> str:
    """The British spelling of an American word ("favorite" → "favourite", "fiber" → "fibre",
    "organize" → "organise", "gray" → "grey"), else the word itself."""
    if word in _AMERICAN_TO_BRITISH:
        return _AMERICAN_TO_BRITISH[word]
    word = re.sub(r"iz(e|ed|es|ing|ation)$", r"is\1", word)
    if len(word) >= 5:
        word = re.sub(r"([^aeiou])or(ite|s|ed|ing|able|ful)?$", r"\1our\2", word)
    return re.sub(r"([bt])er$", r"\1re", word) if len(word) >= 5 else word


def american_spelling(word: str) -> str:
    """The American spelling of a British word ("organised" → "organized", "favourite" →
    "favorite", "fibre" → "fiber", "grey" → "gray"), else the word itself."""
    if word in _BRITISH_TO_AMERICAN:
        return _BRITISH_TO_AMERICAN[word]
    word = re.sub(r"is(e|ed|es|ing|ation)$", r"iz\1", word)
    if len(word) >= 5:
        word = re.sub(r"([^aeiou])our(ite|s|ed|ing|able|ful)?$", r"\1or\2", word)
    return re.sub(r"([bt])re$", r"\1er", word)


def _chosen(lemma: str, usable: list[Sense], wordnet: WordNet) -> Sense | None:
    """The sense :data:`SENSE_CHOICES` names for ``lemma``, if any."""
    start = SENSE_CHOICES.get(lemma)
    if start is None:
        return None
    for sense in usable:
        if wordnet.synset(sense.synset).definition.startswith(start):
            return sense
    raise ValueError(f"SENSE_CHOICES: {lemma!r} has no usable sense {start!r}")


def named_after_a_name(lemma: str, wordnet: WordNet) -> bool:
    """Whether ``lemma``'s frequency is mostly a name's: WordNet has it as a proper noun
    ("Henry", "August", "China") and its own senses (or those of its American spelling) were
    tagged at most :data:`_NAME_COUNT` times."""
    senses = wordnet.lemma_senses(lemma)
    if all(wordnet.word_in(s).islower() for s in senses):
        return False
    own = sum(
        s.count
        for word in {lemma, american_spelling(lemma)}
        for s in wordnet.lemma_senses(word)
        if wordnet.word_in(s).islower()
    )
    return own <= _NAME_COUNT


def _sense_score(
    sense: Sense,
    wordnet: WordNet,
    topics: dict[tuple[str, int], frozenset[str]],
    sources: Sources,
) -> float:
    """How likely a learner meets this sense: its tag count, less a penalty for a specialist
    subject and for a definition of rare words."""
    synset = wordnet.synset(sense.synset)
    score = float(sense.count)
    domains = topics.get(synset.key, frozenset())
    if domains and not domains & EVERYDAY_DOMAINS:
        score -= _DOMAIN_PENALTY
    if re.match(r"\(([^)]*)\)", synset.definition):  # "(baseball) ...": a subject label
        score -= _DOMAIN_PENALTY / 2
    words = [w for w in re.findall(r"[a-z]+", synset.definition.casefold()) if len(w) > 3]
    if words:
        rare = sum(1 for w in words if sources.zipf(w) < _RARE_ZIPF) / len(words)
        score -= _RARE_GLOSS_PENALTY * rare
    if any(w.startswith(sense.lemma[:5]) for w in words):
        score -= 1.0  # "any of various types of cabbage": defined by itself, never askable
    if sense.count == 0 and synset.lexname in _CONCRETE_NOUNS:
        score += 0.5  # untagged senses: the thing one can point at comes first
    return score


def _record(
    lemma: str,
    sense: Sense,
    zipf: float,
    wordnet: WordNet,
    sources: Sources,
    headwords: frozenset[str],
) -> dict[str, object]:
    synset = wordnet.synset(sense.synset)
    pos = POS_NAMES[synset.pos]
    forms = {lemma} | set(sources.inflections(lemma, pos))
    level = _level(sources.cefr(lemma, pos), zipf)
    name = named_after_a_name(lemma, wordnet)
    tagged = any(s.count for s in wordnet.lemma_senses(lemma))
    known = tagged or any(sources.cefr(lemma, p) for p in POS_NAMES.values())
    if name:
        level = max(level, Level.C1, key=lambda lv: lv.rank)
    examples = [
        example
        for example in synset.examples
        if forms & set(re.findall(r"[a-z]+", example.casefold()))
        and SWEAR_WORDS.isdisjoint(re.findall(r"[a-z]+", example.casefold()))
        and not _SEXUAL.search(example.casefold())  # "its brothels, its opium parlors"
        and (level.rank > Level.B1.rank or not _rare_words(example, forms, sources))
    ][:2]
    synonyms = sorted(
        (
            w
            for w in {w.casefold() for w in synset.words}
            if w != lemma and _HEADWORD.fullmatch(w) and sources.zipf(w) >= MIN_SYNONYM_ZIPF
        ),
        key=lambda w: (-sources.zipf(w), w),
    )[:5]
    index = [w.casefold() for w in synset.words].index(lemma) + 1
    antonyms = sorted(
        {
            wordnet.synset(p.target).words[p.target_word - 1].casefold()
            for p in synset.pointers
            if p.symbol == "!" and p.source in (0, index) and p.target_word
        }
        & headwords
    )
    return {
        "word": lemma,
        "pos": pos,
        "definition": synset.definition,
        "examples": examples,
        "synonyms": synonyms,
        "antonyms": antonyms,
        "zipf": round(zipf, 1),
        "level": level.value,
        "related": sorted(wordnet.related(lemma, RELATED_POINTERS) & headwords - {lemma}),
        "forms": sorted(_forms(lemma, wordnet, sources)),
        "for_beginners": not name
        and _for_beginners(sense, wordnet, sources, by_hand=lemma in SENSE_CHOICES),
        # offered as a wrong option: a word some source knows (tagged, or with a CEFR level),
        # not a name ("franklin"), not a subject a class should not meet by chance
        "plain": known and not name and lemma not in NOT_OFFERED,
        "main": lemma in SENSE_CHOICES or _main_sense(sense, wordnet),
        "field": synset.field,
        "fields": sorted(
            {wordnet.synset(s.synset).field for s in wordnet.lemma_senses(lemma) if s.pos == pos}
        ),
    }


def _rare_words(sentence: str, forms: set[str], sources: Sources) -> list[str]:
    """The words of ``sentence`` rarer than Zipf 3 (names and terms: "Perot",
    "keratinized"), other than ``forms`` of the word itself: an A1–B1 learner would stop at
    them, so an A1–B1 word's example sentence has none."""
    return [
        word
        for word in re.findall(r"[a-z]+", sentence.casefold())
        if len(word) > 3 and word not in forms and sources.zipf(word) < _RARE_ZIPF
    ]


def _main_sense(sense: Sense, wordnet: WordNet) -> bool:
    """Whether ``sense`` is the one a reader takes the word in: met most often of all its
    senses, or, if none was ever tagged, WordNet's first sense in its part of speech. A synonym
    answer must be asked in its main sense ("root" is a source only in a rare sense)."""
    top = max(s.count for s in wordnet.lemma_senses(sense.lemma))
    if top > 0:
        return sense.count == top
    return sense.number == 1


def _for_beginners(
    sense: Sense, wordnet: WordNet, sources: Sources, *, by_hand: bool = False
) -> bool:
    """Whether the chosen sense suits A1–B1: it is the word's most met sense or near it (not
    a third of the uses of a sense met five times or more), fewer than a third of its
    definition's words are rare (Zipf < 3), and none is very rare (Zipf < 2.7: "achromatic",
    "prehensile", "instrumentality", which the blind review found in A1 definitions)."""
    top = max(s.count for s in wordnet.lemma_senses(sense.lemma))
    if not by_hand and top >= 5 and top >= 3 * sense.count:  # a sense chosen by hand is met
        return False
    definition = wordnet.synset(sense.synset).definition
    shown = clean_definition(definition) or definition  # as a question shows it
    words = [w for w in re.findall(r"[a-z]+", shown.casefold()) if len(w) > 3]
    zipfs = [sources.zipf(w) for w in words]
    rare = sum(1 for z in zipfs if z < _RARE_ZIPF)
    return not words or (rare * 3 < len(words) and min(zipfs) >= _VERY_RARE_ZIPF)


def _forms(lemma: str, wordnet: WordNet, sources: Sources) -> set[str]:
    """Forms of ``lemma`` a stemmer misses: derived words (WordNet's ``+`` and ``\\``
    pointers from the lemma, in any sense), the other spelling, and inflections."""
    # the other spelling, if it is a word at all ("wise" is no "wize")
    found = {
        spelling
        for spelling in (american_spelling(lemma), british_spelling(lemma))
        if sources.zipf(spelling) >= 1.5
    }
    for pos in ("noun", "verb", "adjective", "adverb"):
        found |= sources.inflections(lemma, pos)
    found |= wordnet.derived(lemma)
    return {form for form in found if _HEADWORD.fullmatch(form)} - {lemma}


def _level(cefr: Level | None, zipf: float) -> Level:
    """The harder of the word's CEFR level and one band easier than its frequency says.

    cefrpy lifts a frequent word that is hard to learn; but it calls many rare words A1
    ("interplay", "summation", Zipf ~3), so frequency keeps a rare word from passing for easy.
    """
    by_frequency = Level.from_zipf(zipf)
    floor = tuple(Level)[max(0, by_frequency.rank - 1)]
    if cefr is None:
        return by_frequency
    return cefr if cefr.rank >= floor.rank else floor
