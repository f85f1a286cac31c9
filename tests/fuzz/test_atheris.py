"""Coverage-guided fuzzing (atheris) of the client-frame decoder, the bus codec and the word-list
parsers: a short run of each target in the test command, every input that ever crashed one
replayed first.

``make fuzz`` runs the same targets for minutes each, keeping its corpus in ``.fuzz/`` (out of
git); ``tests/fuzz/seeds/`` is the small seed corpus in git and ``tests/fuzz/regressions/`` the
inputs that crashed a target once. The property of each target is in
``tests/fuzz/atheris_targets.py``. The run count of each target is printed (``-s`` shows it).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from livequiz.vocabulary import WordListError, load_wordlist

HERE = Path(__file__).parent
TARGETS_SCRIPT = HERE / "atheris_targets.py"
DICTIONARY = HERE / "json.dict"

#: Inputs per target in the test command: a few seconds each on one core (the word-list target
#: is the slowest, ~1,500 inputs a second after the deck has loaded).
SHORT_RUNS = {"frame": 20_000, "bus": 20_000, "wordlist": 3_000}
#: Word lists are uploads of up to 1 MiB: long enough for the inputs that once crashed them.
MAX_LEN = {"frame": 4096, "bus": 4096, "wordlist": 8192}

_DONE = re.compile(rb"Done (\d+) runs in (\d+) second")


def fuzz(
    target: str, corpus: Path, *options: str, seeds: tuple[Path, ...] = ()
) -> subprocess.CompletedProcess[bytes]:
    """Run one target of ``atheris_targets.py`` with libFuzzer ``options``; new inputs go to
    ``corpus``, crashing ones beside it (``crash-<sha1>``)."""
    return subprocess.run(
        [
            sys.executable,
            str(TARGETS_SCRIPT),
            target,
            str(corpus),
            *(str(seed) for seed in seeds if seed.is_dir()),
            f"-dict={DICTIONARY}",
            f"-artifact_prefix={corpus}/",
            "-timeout=10",
            *options,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # libFuzzer's report on stderr, the Python traceback on stdout
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("target", sorted(SHORT_RUNS))
def test_no_input_crashes_the_parser(target: str, tmp_path: Path) -> None:
    runs = SHORT_RUNS[target]
    done = fuzz(
        target,
        tmp_path,
        f"-runs={runs}",
        f"-max_len={MAX_LEN[target]}",
        seeds=(HERE / "seeds" / target, HERE / "regressions" / target),
    )
    output = done.stdout.decode(errors="replace")
    found = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(("crash-", "timeout-")))
    assert found == [], output[-4000:]
    assert done.returncode == 0, output[-4000:]
    match = _DONE.search(done.stdout)
    assert match is not None, output[-2000:]
    assert int(match[1]) >= runs
    print(f"atheris {target}: {int(match[1])} inputs in {int(match[2])} s, no crash")


def test_a_crash_fails_the_run_and_keeps_its_input(tmp_path: Path) -> None:
    """Without this, a harness that swallowed exceptions would pass every run above."""
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "crash").write_bytes(b"crash!")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    done = fuzz("canary", corpus, "-runs=10", seeds=(seeds,))
    assert done.returncode != 0
    assert b"the canary crashed, as it should" in done.stdout
    assert [p.read_bytes() for p in corpus.glob("crash-*")] == [b"crash!"]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("json-deep-nesting", "malformed JSON: lists or objects nested too deeply"),
        ("json-long-integer", "malformed JSON: a number far too long"),
    ],
)
def test_inputs_that_once_crashed_the_word_list_parser_are_refused_clearly(
    name: str, message: str
) -> None:
    """They raised RecursionError and ValueError, which the HTTP API answered with 500."""
    data = (HERE / "regressions" / "wordlist" / name).read_bytes()
    assert data[:1] == b"j"  # the target's marker for JSON
    with pytest.raises(WordListError) as refused:
        load_wordlist(data[1:].decode(), "json")
    assert str(refused.value) == message
