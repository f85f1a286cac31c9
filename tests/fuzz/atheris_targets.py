"""Coverage-guided fuzz targets (atheris, libFuzzer) for everything that parses outside input.

Run one target as a script, with libFuzzer's own options after its name::

    .venv/bin/python tests/fuzz/atheris_targets.py frame CORPUS_DIR SEED_DIR -runs=5000

Each target states one property: whatever the bytes, the parser returns a value or raises the
one exception its callers catch and turn into a documented error. Any other exception is a
crash: libFuzzer stops, prints the traceback and writes the input to ``crash-<sha1>`` (under
``-artifact_prefix``). The short runs in the test command and the long ones of ``make fuzz``
both drive this file (``tests/fuzz/test_atheris.py``).

Targets:

- ``frame``: a client's WebSocket text frame → :func:`livequiz.protocol.decode` (a message, or
  :class:`~livequiz.protocol.ProtocolError`, which the gateway answers with an ``error`` frame).
- ``bus``: bytes from the bus between processes → the four ``livequiz.codec.decode_*`` (a
  message, or :class:`~livequiz.codec.BadMessage`, which the receiver logs and drops).
- ``wordlist``: an uploaded word list, CSV, JSON or sniffed (the first byte chooses: ``c``,
  ``j``, anything else) →
  :func:`livequiz.vocabulary.load_wordlist` (entries, or
  :class:`~livequiz.vocabulary.WordListError`, which the HTTP API answers with
  ``bad_word_list``).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable

import atheris

with atheris.instrument_imports(include=["livequiz"]):
    from livequiz import codec, protocol
    from livequiz.vocabulary import Deck, WordListError, load_wordlist
    from livequiz.vocabulary.wordlist import Format


def frame(data: bytes) -> None:
    # The transport hands the gateway a text frame as str: websockets has already refused a
    # frame that is not UTF-8 (close 1007), so only valid text reaches the decoder.
    text = data.decode("utf-8", errors="replace")
    for message in (text, data):
        try:
            protocol.decode(message)
        except protocol.ProtocolError as error:
            if error.code not in _FRAME_ERRORS:
                raise AssertionError(f"undocumented error code {error.code!r}") from error


#: The error codes docs/protocol.md gives a frame that is not a valid message.
_FRAME_ERRORS = frozenset({"bad_json", "bad_message", "unknown_type"})

_BUS_DECODERS = (codec.decode_commands, codec.decode_outcomes, codec.decode_log, codec.decode_owner)


def bus(data: bytes) -> None:
    for decode in _BUS_DECODERS:
        with contextlib.suppress(codec.BadMessage):
            decode(data)


#: The format of a word-list input, by its first byte; any other byte: sniffed, as the API does.
_FORMATS: dict[int, Format] = {ord("c"): "csv", ord("j"): "json"}
_deck: Deck | None = None


def wordlist(data: bytes) -> None:
    global _deck
    if not data:
        return
    if _deck is None:
        _deck = Deck.builtin()
    fmt = _FORMATS.get(data[0])
    # What the HTTP API passes on: a JSON string, a form field or an upload decoded as UTF-8.
    text = data[1:].decode("utf-8", errors="replace")
    with contextlib.suppress(WordListError):
        load_wordlist(text, fmt, deck=_deck)


def canary(data: bytes) -> None:
    """The harness's own check: a target that crashes on an input starting with ``crash``, so a
    test can show that a crash fails the run and leaves its input behind."""
    if data.startswith(b"crash"):
        raise RuntimeError("the canary crashed, as it should")


TARGETS: dict[str, Callable[[bytes], None]] = {
    "frame": frame,
    "bus": bus,
    "wordlist": wordlist,
    "canary": canary,
}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: {sys.argv[0]} {{{','.join(TARGETS)}}} [libFuzzer options and corpora]")
    target = TARGETS[sys.argv[1]]
    atheris.Setup([sys.argv[0], *sys.argv[2:]], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
