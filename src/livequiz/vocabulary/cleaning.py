"""Turning WordNet glosses and example sentences into text fit for a phone screen.

The data keeps WordNet's editorial markup: usage notes in parentheses ("(usually followed by
`to')"), subject labels ("(physics) electromagnetic radiation ..."), quotes written as a backtick
and an apostrophe ("preceded by `a'"), examples pasted into the gloss (``... means :"She forced
him ..."``) and quotations signed by their author (``... be sad"- Christina Rossetti``). A learner
should see none of that, so glosses and examples are cleaned here, and whatever cannot be cleaned
reliably is refused (``None``) rather than shown half-repaired.
"""

from __future__ import annotations

import re

__all__ = [
    "MAX_DEFINITION_CHARS",
    "MIN_DEFINITION_WORDS",
    "clean_definition",
    "clean_example",
    "subject_label",
]


def _words(text: str) -> frozenset[str]:
    """The whitespace-separated words of ``text``: keeps long word lists readable."""
    return frozenset(text.split())


#: A definition is shown as an answer button; longer ones do not fit and are skipped.
MAX_DEFINITION_CHARS = 120
#: A one-word gloss ("though: however") is a synonym, not a definition.
MIN_DEFINITION_WORDS = 2

_PAREN_RE = re.compile(r"\s*\(([^()]*)\)")
_EMBEDDED_EXAMPLE_RE = re.compile(r"\s*[:,]?\s*\"")
_QUOTED_RE = re.compile(r"`([^`'\"]+)'")
_SPACES_RE = re.compile(r"\s+")
_ATTRIBUTION_RE = re.compile(r"\"\s*-+\s*[^\"]*$")
#: First words of a parenthesis that is a usage note rather than part of the meaning.
_USAGE_WORDS = _words(
    "usually often especially sometimes also used followed preceded postpositive nontechnical "
    "figurative formerly as e.g. i.e. not or and including etc informal with in of by for "
    "than typically mainly chiefly sentence behavioral"
)
#: Scientific names (a genus or family) tell a learner nothing they can use.
_TAXONOMY_RE = re.compile(r"\b(?:genus|family|order|phylum|phyla|class|subfamily) [A-Z]")
#: WordNet's abbreviations and dangling words that only make sense next to a removed parenthesis.
_TRAILING_PUNCTUATION = " \t\n\r\f\v,;:"
_DANGLING = frozenset({"a", "an", "the", "and", "or"})


def _is_usage_note(content: str) -> bool:
    first = content.split(maxsplit=1)[0].casefold() if content.strip() else ""
    return first in _USAGE_WORDS or "`" in content or "'" in content or '"' in content


def subject_label(raw: str) -> str | None:
    """The subject label a gloss starts with, e.g. ``"law"`` for "(law) a proceeding ...".

    A usage note at the start ("(of persons) ...", "(usually followed by `to') ...") is not a
    subject label. Glosses with a label are usually a specialist sense of a common word ("canal:
    (astronomy) a surface feature of Mars"), which is why the deck keeps them away from beginners.
    """
    match = _PAREN_RE.match(raw)
    if match is None or _is_usage_note(match.group(1)):
        return None
    return match.group(1).strip()


def _drop_parentheses(text: str) -> str:
    """Drop usage notes, labels and long asides; unwrap short asides ("perceive (sound) via")."""

    def replace(match: re.Match[str]) -> str:
        content = match.group(1).strip()
        at_start = match.start() == 0
        at_end = not text[match.end() :].strip(" ,.;:")
        if at_start or at_end or _is_usage_note(content) or len(content.split()) > 2:
            return ""
        return " " + content

    return _PAREN_RE.sub(replace, text)


def _drop_trailing(text: str) -> str:
    """Trailing punctuation and WordNet's trailing "etc." ("fruits, nuts, etc."), however many.

    In linear time on purpose: the regular expression this replaces nested its quantifiers
    (``(?:[\\s,;:]+|…)+$``) and backtracked for ever on a run of ';' before a letter: a 4 KiB
    word list held the server's loop for minutes (found by atheris; tests/fuzz/regressions).
    """
    while True:
        text = text.rstrip(_TRAILING_PUNCTUATION)
        for tail in ("etc.", "etc"):
            if text.endswith(tail) and text[: -len(tail)][-1:].isspace():
                text = text[: -len(tail)]
                break
        else:
            return text


_COMPASS_RE = re.compile(r"\bthat is a (\d+) degrees")


def clean_definition(raw: str) -> str | None:
    """The gloss as a learner should read it, or ``None`` if it cannot be made presentable.

    Removes pasted-in examples and parenthesised notes (short asides are kept without their
    brackets), turns WordNet's `quote' markup into plain "quote", tidies spaces and punctuation,
    and refuses glosses that end up shorter than :data:`MIN_DEFINITION_WORDS` words, longer than
    :data:`MAX_DEFINITION_CHARS` characters, cut off in the middle, full of Latin taxonomy, or
    still holding markup.
    """
    text = _EMBEDDED_EXAMPLE_RE.split(raw, maxsplit=1)[0]
    text = _drop_parentheses(text.strip())
    text = _QUOTED_RE.sub(r'"\1"', text)
    text = _SPACES_RE.sub(" ", text)
    text = re.sub(r"\s+([,;:.])", r"\1", text)
    text = _COMPASS_RE.sub(r"that is at \1 degrees", text)  # WordNet: "that is a 270 degrees"
    text = _drop_trailing(text).strip()
    words = text.split()
    if (
        len(words) < MIN_DEFINITION_WORDS
        or len(text) > MAX_DEFINITION_CHARS
        or words[-1].casefold() in _DANGLING
        or any(mark in text for mark in "`()[]{}_^*=")
        or text.count('"') % 2
        or _TAXONOMY_RE.search(text)
    ):
        return None
    return text


def clean_example(raw: str) -> str | None:
    """An example sentence without quotation marks, authors or asides, or ``None``.

    WordNet examples are often quotations ("... be sad"- Christina Rossetti), two examples run
    together ("in contrast to", "by contrast"), or hold an alternative in brackets ("an especially
    (or specially) cautious approach", which would put a second answer next to the blank). The
    author and the brackets are removed; anything still quoted or marked up is refused.
    """
    text = _ATTRIBUTION_RE.sub("", raw.strip())
    text = re.sub(r"\"\s*\([^()]*\)\s*$", "", text)  # '... English" (British)'
    text = _PAREN_RE.sub("", text)
    text = re.sub(r"\s*\.\.\.\s*", " \u2026 ", text)  # "style...is" -> "style … is"
    text = _SPACES_RE.sub(" ", text).strip().strip("\"'").strip()
    if not text or any(mark in text for mark in '"`()[]{}/_'):
        return None
    return text
