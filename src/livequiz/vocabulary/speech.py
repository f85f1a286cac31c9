"""Spoken words for listening questions: espeak-ng, run offline, its audio cached on disk.

Why espeak-ng: it is in Debian's packages, runs in ~10 ms a word with no network and no model
to download, and says any English word, an author's included. Its voice is robotic but clear,
which is what a learner picking the word they heard needs; a neural voice would add hundreds of
megabytes for little gain on single words.

The audio of a word is the same bytes every time (same program, voice and speed), so it is
made once per process and kept under the data directory, keyed by a hash of the voice, the
speed and the word; two processes that both make it write the same file (each writes a file of
its own and renames it into place, so a reader never sees half of one).
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

#: The synthesizer's program name (Debian's package ``espeak-ng``).
PROGRAM = "espeak-ng"
#: American English: the deck's spellings are American.
VOICE = "en-us"
#: Words a minute: slower than espeak's 175, for learners.
SPEED_WPM = 130
#: A synthesizer that takes longer than this for one word is broken.
TIMEOUT_S = 10.0
#: What a server that lacks the synthesizer says when a quiz asks for listening questions.
MISSING = (
    "listening questions need the speech synthesizer espeak-ng, which this server does not "
    "have (Debian: apt-get install espeak-ng)"
)
#: espeak-ng's stress and syllable marks: two words that differ only in them sound alike
#: ("their" said alone is stressed, within a phrase not).
_STRESS = str.maketrans("", "", "',%=_")


class Speech:
    """One synthesizer and its cache of audio files."""

    def __init__(self, program: str, cache_dir: Path) -> None:
        self.program = program
        self.cache_dir = cache_dir

    @classmethod
    def find(cls, cache_dir: Path, program: str = PROGRAM) -> Speech | None:
        """The synthesizer if ``program`` is installed, else ``None``."""
        path = shutil.which(program)
        return None if path is None else cls(path, cache_dir)

    def sounds(self, text: str) -> str:
        """How ``text`` is said, as espeak-ng's phonemes without stress marks."""
        return _phonemes(self.program, text)

    def sound_alike(self, a: str, b: str) -> bool:
        """Whether ``a`` and ``b`` are said the same ("right" and "write", "peace" and
        "piece"): a listening question must never offer both."""
        return a.casefold() == b.casefold() or self.sounds(a) == self.sounds(b)

    def audio(self, text: str) -> Path:
        """A WAV file of ``text`` said slowly, made on first use and kept."""
        key = hashlib.sha256(f"{VOICE}|{SPEED_WPM}|{text}".encode()).hexdigest()[:32]
        path = self.cache_dir / f"{key}.wav"
        if path.exists():
            return path
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.cache_dir, suffix=".part")
        os.close(handle)
        try:
            subprocess.run(
                [self.program, "-v", VOICE, "-s", str(SPEED_WPM), "-w", temporary, "--", text],
                check=True,
                capture_output=True,
                timeout=TIMEOUT_S,
            )
            os.replace(temporary, path)
        finally:
            Path(temporary).unlink(missing_ok=True)
        return path


@functools.lru_cache(maxsize=65_536)
def _phonemes(program: str, text: str) -> str:
    said = subprocess.run(
        [program, "-q", "-x", "-v", VOICE, "--", text],
        check=True,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    ).stdout
    return " ".join(said.translate(_STRESS).split())
