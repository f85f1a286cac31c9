"""PNG figures of one ``livequiz bench`` result: the latency distribution and latency over time.

A table of percentiles says how slow the tail is; these say *where* it is — which series, how
the tail is shaped, and whether it comes from a few slow moments (a burst when a question opens,
a pause) or from every answer. matplotlib is an optional extra, so it is imported only when a
plot is asked for, and the rest of the bench runs without it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from matplotlib.axes import Axes

    FloatArray = npt.NDArray[np.float64]

#: Known series in drawing order; each keeps its colour from one plot and one run to the next.
SERIES_LABELS = {
    "ack": "answer → ack (own score)",
    "board_own": "answer → own client's board",
    "board_all": "answer → every client's board",
}

_DPI = 120
_FIGSIZE = (10.0, 6.0)  # inches: 1200 × 720 pixels at _DPI
_MAX_DOTS = 20_000  # per series in the scatter; more only blurs into a blob and slows saving
_WIDE_RANGE = 20.0  # max/min latency beyond which a log scale shows the spread better


def draw_plots(result: dict[str, Any], out_dir: Path, prefix: str) -> list[Path]:
    """Write ``{prefix}-latency-cdf.png`` and ``{prefix}-latency-over-time.png`` into ``out_dir``.

    Series that are missing or empty are left out; a result without any samples writes nothing
    and returns ``[]`` (an empty plot would only look like a broken run). Returns the paths
    written. Raises :class:`ModuleNotFoundError` with an install hint if matplotlib is missing.
    """
    series = _series(result.get("samples") or {}, result.get("targets") or {})
    if not series:
        return []
    try:
        from matplotlib.figure import Figure
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            "matplotlib is needed for plots: pip install 'livequiz[bench]'"
        ) from exc

    run = _describe_run(result.get("config") or {})
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, title, draw in (
        ("latency-cdf", "Answer latency — distribution", _draw_cdf),
        ("latency-over-time", "Answer latency — over time", _draw_over_time),
    ):
        # The object-oriented API: no pyplot, so no global figure registry, no GUI backend and
        # nothing to close — the figure is freed with its last reference.
        fig = Figure(figsize=_FIGSIZE, dpi=_DPI, layout="constrained")
        ax = fig.add_subplot()
        draw(ax, series)
        ax.set_title(f"{title}\n{run}" if run else title)
        path = out_dir / f"{prefix}-{name}.png"
        fig.savefig(path, format="png")
        written.append(path)
    return written


class Series(NamedTuple):
    """One measured series, ready to draw."""

    label: str
    colour: str
    t: FloatArray  # seconds since the play started, when the answer was sent
    ms: FloatArray  # the latency of each, in milliseconds
    target: float | None  # milliseconds, if the run set one for this series


def _series(samples: dict[str, Any], targets: dict[str, Any]) -> list[Series]:
    """The non-empty series: known ones first, in a fixed order and colour, then any others."""
    import numpy as np

    names = [*SERIES_LABELS, *(n for n in samples if n not in SERIES_LABELS)]
    out = []
    for i, name in enumerate(names):
        pairs = np.asarray(samples.get(name) or [], dtype=np.float64).reshape(-1, 2)
        if len(pairs):
            label, target = SERIES_LABELS.get(name, name), targets.get(name)
            t, ms = pairs[:, 0], pairs[:, 1]
            out.append(Series(label, f"C{i}", t, ms, None if target is None else float(target)))
    return out


def _describe_run(config: dict[str, Any]) -> str:
    """``one-big-quiz · 10,000 players · 1 quiz`` from whichever of those the config has."""
    parts = [str(config["scenario"])] if config.get("scenario") else []
    for key, one, many in (("players", "player", "players"), ("quizzes", "quiz", "quizzes")):
        count = config.get(key)
        if isinstance(count, int):
            parts.append(f"{count:,} {one if count == 1 else many}")
    return " · ".join(parts)


def _draw_cdf(ax: Axes, series: list[Series]) -> None:
    """Empirical CDF per series, p50 and p99 marked on the curve and their values in the legend."""
    import numpy as np

    for label, colour, _, ms, target in series:
        ordered = np.sort(ms)
        fraction = np.arange(1, len(ordered) + 1) / len(ordered)
        p50, p99 = _percentile(ms, 50), _percentile(ms, 99)
        entry = f"{label}\np50 {_fmt_ms(p50)} · p99 {_fmt_ms(p99)} ms  (n={len(ms):,})"
        ax.step(ordered, fraction, where="post", color=colour, linewidth=1.6, label=entry)
        # A dotted drop from each percentile's point on the curve to the axis reads off its value.
        ax.vlines([p50, p99], 0, [0.5, 0.99], colors=colour, linestyles="dotted", linewidth=1.2)
        ax.plot([p50, p99], [0.5, 0.99], "o", color=colour, markersize=5)
        if target is not None:
            ax.axvline(
                target,
                color=colour,
                linestyle="--",
                linewidth=1,
                alpha=0.7,
                label=f"target {target:,g} ms",
            )
    for level in (0.5, 0.99):
        ax.axhline(level, color="0.8", linewidth=0.8, zorder=0)
    _latency_scale(ax, "x", series)
    ax.set_xlabel("latency (ms)")
    ax.set_ylabel("fraction of answers at or below")
    ax.set_ylim(0, 1.01)
    ax.grid(True, which="major", alpha=0.3)
    # Every curve rises from the lower left to the upper right, so the lower right is empty.
    ax.legend(loc="lower right", fontsize=9)


def _draw_over_time(ax: Axes, series: list[Series]) -> None:
    """A faint dot per answer and a rolling p99 line per series; the line carries the legend."""
    import numpy as np

    rng = np.random.default_rng(0)  # fixed seed: the same result always draws the same picture
    span = max(float(t.max()) for _, _, t, _, _ in series)
    width = _bucket_width(span)
    for label, colour, t, ms, target in series:
        dots = rng.choice(len(t), _MAX_DOTS, replace=False) if len(t) > _MAX_DOTS else slice(None)
        alpha = min(0.6, max(0.15, 1_000 / len(t)))  # a few dots stay visible, many don't blot
        ax.scatter(t[dots], ms[dots], s=4, color=colour, alpha=alpha, linewidths=0, rasterized=True)
        entry = f"{label}\np99 per {width:g} s"
        if target is not None:
            ax.axhline(target, color=colour, linestyle="--", linewidth=1, alpha=0.8)
            entry += f" · target {target:,g} ms (dashed)"
        ax.plot(*_rolling_p99(t, ms, width), color=colour, linewidth=1.8, marker=".", label=entry)
    _latency_scale(ax, "y", series)
    xlabel = "seconds since the play started (when the answer was sent)"
    if any(len(t) > _MAX_DOTS for _, _, t, _, _ in series):
        xlabel += f"\ndots: at most {_MAX_DOTS:,} answers per series, picked at random"
    ax.set_xlabel(xlabel)
    ax.set_ylabel("latency (ms)")
    ax.set_xlim(left=min(0.0, *(float(t.min()) for _, _, t, _, _ in series)))
    ax.grid(True, which="major", alpha=0.3)
    # The dots fill the plot wherever the answers went, so the legend goes below it.
    ax.legend(
        loc="upper center", bbox_to_anchor=(0.5, -0.12), ncols=min(len(series), 3), fontsize=9
    )


def _rolling_p99(t: FloatArray, ms: FloatArray, width: float) -> tuple[FloatArray, FloatArray]:
    """p99 of each ``width``-second bucket at its centre; NaN (a gap in the line) if it is empty.

    The gaps matter: between two questions nobody answers, and a line drawn straight across
    would suggest a latency nobody measured.
    """
    import numpy as np

    index = np.floor(t / width).astype(np.int64)
    first = int(index.min())  # below zero only if a clock was off; the line then starts there
    index -= first
    count = int(index.max()) + 1
    p99s = np.full(count, np.nan, dtype=np.float64)
    order = np.argsort(index, kind="stable")
    buckets, starts = np.unique(index[order], return_index=True)
    for bucket, chunk in zip(buckets, np.split(ms[order], starts[1:]), strict=True):
        p99s[bucket] = _percentile(chunk, 99)
    centres = np.linspace((first + 0.5) * width, (first + count - 0.5) * width, count)
    return centres, p99s


def _bucket_width(span: float) -> float:
    """One-second buckets, or narrower ones if that would leave fewer than 20 along the run."""
    for width in (1.0, 0.5, 0.2):
        if span / width >= 20:
            return width
    return 0.1


def _latency_scale(ax: Axes, which: Literal["x", "y"], series: list[Series]) -> None:
    """A log scale with plain-number ticks when latencies span more than ``_WIDE_RANGE``×.

    Tails are often ten or a hundred times the median; on a linear axis the bulk of the answers
    would then be squeezed into a sliver at one end.
    """
    from matplotlib.ticker import FuncFormatter

    low = min(float(ms.min()) for _, _, _, ms, _ in series)
    high = max(float(ms.max()) for _, _, _, ms, _ in series)
    if low <= 0 or high / low < _WIDE_RANGE:
        return
    axis = ax.xaxis if which == "x" else ax.yaxis
    (ax.set_xscale if which == "x" else ax.set_yscale)("log")
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,g}"))


def _percentile(values: FloatArray, q: float) -> float:
    """Nearest-rank percentile, the same definition as the bench's tables use."""
    import numpy as np

    return float(np.percentile(values, q, method="inverted_cdf"))


def _fmt_ms(value: float) -> str:
    """Milliseconds with the digits worth reading: ``0.42``, ``4.20``, ``42.0``, ``4,200``."""
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"
