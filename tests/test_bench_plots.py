"""The bench's PNG figures: drawn from a synthetic result, skipping what was not measured."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from livequiz.bench import plots
from livequiz.bench.plots import _rolling_p99, _series, draw_plots

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def synthetic_result(
    series: tuple[str, ...] = ("ack", "board_own", "board_all"), per_series: int = 3000
) -> dict[str, Any]:
    """A play of 10 questions, 12 s apart; answers bunch early in each window, tails are long."""
    rng = random.Random(42)
    base = {"ack": 8.0, "board_own": 40.0, "board_all": 90.0}
    samples: dict[str, list[list[float]]] = {}
    for name in series:
        pairs = []
        for _ in range(per_series):
            question = rng.randrange(10)
            t = question * 12.0 + rng.betavariate(1.5, 4) * 10.0
            ms = base.get(name, 20.0) * rng.lognormvariate(0, 0.5)
            if question == 6:  # one slow question: the tail should show where it came from
                ms *= 4
            pairs.append([round(t, 3), round(ms, 2)])
        samples[name] = pairs
    return {
        "config": {"scenario": "one-big-quiz", "players": 10_000, "quizzes": 1},
        "samples": samples,
        "targets": {"ack": 50, "board_all": 300},
    }


def assert_png(path: Path) -> None:
    assert path.read_bytes()[:8] == PNG_MAGIC
    with Image.open(path) as image:
        width, height = image.size
    assert 800 <= width <= 2000
    assert 500 <= height <= 1500


def test_both_figures_are_written_as_pngs(tmp_path: Path) -> None:
    out = tmp_path / "plots"  # does not exist yet
    paths = draw_plots(synthetic_result(), out, "run1")

    assert paths == [out / "run1-latency-cdf.png", out / "run1-latency-over-time.png"]
    for path in paths:
        assert_png(path)


def test_a_big_series_is_thinned_for_the_dots_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plots, "_MAX_DOTS", 500)  # instead of building 20,000+ samples

    paths = draw_plots(synthetic_result(per_series=2000), tmp_path, "x")

    assert_png(paths[1])


@pytest.mark.parametrize(
    "samples",
    [
        {"ack": [[0.5, 3.0], [1.0, 4.0]], "board_own": [], "other": None},
        {"board_all": [[2.0, 120.0]]},  # one answer, and the known series are missing
        {"queue_wait": [[0.1, 0.0], [0.2, 5.0]]},  # an unknown name; a zero keeps the scale linear
    ],
)
def test_missing_empty_and_tiny_series_are_fine(tmp_path: Path, samples: dict[str, Any]) -> None:
    result = {"config": {"scenario": "many-small-quizzes"}, "samples": samples}

    paths = draw_plots(result, tmp_path, "x")

    assert len(paths) == 2
    for path in paths:
        assert_png(path)


def test_only_some_series_and_no_config(tmp_path: Path) -> None:
    result = synthetic_result(series=("board_all", "custom"), per_series=500)
    del result["config"], result["targets"]

    assert len(draw_plots(result, tmp_path, "x")) == 2


@pytest.mark.parametrize(
    "result",
    [{}, {"samples": {}}, {"samples": None}, {"samples": {"ack": [], "board_all": []}}],
)
def test_no_samples_writes_nothing(tmp_path: Path, result: dict[str, Any]) -> None:
    out = tmp_path / "plots"

    assert draw_plots(result, out, "x") == []
    assert not out.exists()


def test_a_missing_matplotlib_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # makes the import fail

    with pytest.raises(ModuleNotFoundError, match=r"pip install 'livequiz\[bench\]'"):
        draw_plots(synthetic_result(per_series=10), tmp_path, "x")


def test_the_p99_line_breaks_where_nobody_answered() -> None:
    t = np.array([-0.2, 0.1, 0.2, 0.3, 2.5, 2.6])  # one answer sent a little before the start
    ms = np.array([5.0, 1.0, 2.0, 3.0, 7.0, 9.0])

    centres, p99s = _rolling_p99(t, ms, 1.0)

    assert centres.tolist() == [-0.5, 0.5, 1.5, 2.5]
    assert p99s[0] == 5.0
    assert p99s[1] == 3.0
    assert np.isnan(p99s[2])  # a gap, not a line drawn across it
    assert p99s[3] == 9.0


def test_a_series_keeps_its_colour_when_others_are_missing() -> None:
    one = [[0.0, 1.0]]
    full = _series({"ack": one, "board_own": one, "board_all": one}, {})
    partial = _series({"extra": one, "board_all": one}, {"board_all": 300})

    assert [s.colour for s in full] == ["C0", "C1", "C2"]
    assert [(s.label, s.colour, s.target) for s in partial] == [
        ("answer → every client's board", "C2", 300.0),
        ("extra", "C3", None),
    ]
