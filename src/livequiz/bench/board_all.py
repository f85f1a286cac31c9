"""When did *every* client of a quiz see an answer on the board? Pure functions.

The question behind ``board_all_ms``: after a player answers, how long until every screen in the
room shows the new score? The server publishes one ``board`` frame per tick, carrying the
quiz's sequence number ``seq``; an answer acknowledged with ``seq = s`` is visible to a client
once that client receives a board with ``seq >= s`` (docs/protocol.md, "sequence numbers").

Recording every client's every board would be millions of records. Instead each worker keeps a
small dict: for a client whose last board had ``prev`` and whose new board has ``new``, the
*transition* ``(quiz, prev, new)`` is stored with the latest receipt time over all clients that
made the same transition. Clients mostly see the same ticks, so the dict stays small (it grows
only where slow clients had boards dropped). A client first sees answer ``s`` in the one
transition with ``prev < s <= new``; so the time *every* client had seen ``s`` is the maximum
time over the transitions that cover ``s``. ``time.perf_counter`` is ``CLOCK_MONOTONIC`` on
Linux, so times taken in different worker processes on one machine compare directly.

A client that never got a board covering ``s`` has no transition for it: that is what the
per-quiz minimum of the clients' last seen ``seq`` is for. An answer above it was not seen by
everyone, and is counted as unseen rather than measured.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping

__all__ = ["Transition", "VisibleToAll", "merge_min_seen", "merge_transitions"]

#: ``(quiz index, previous board seq of a client, new board seq)``
Transition = tuple[int, int, int]


def merge_transitions(parts: Iterable[Mapping[Transition, float]]) -> dict[Transition, float]:
    """The workers' transition dicts as one: the latest receipt time of each transition."""
    merged: dict[Transition, float] = {}
    for part in parts:
        for key, t in part.items():
            if t > merged.get(key, float("-inf")):
                merged[key] = t
    return merged


def merge_min_seen(parts: Iterable[Mapping[int, int]]) -> dict[int, int]:
    """The workers' per-quiz lowest last-seen board seq as one: the lowest over all clients."""
    merged: dict[int, int] = {}
    for part in parts:
        for quiz, seq in part.items():
            merged[quiz] = min(seq, merged.get(quiz, seq))
    return merged


class VisibleToAll:
    """For each quiz, when the last of its clients first saw a board covering a given seq.

    Built once from the merged transitions: the boundaries of all transitions of a quiz cut its
    seq line into segments ``(points[i], points[i + 1]]``; every transition covers whole
    segments, so the latest time of the transitions covering a segment answers every seq in it.
    """

    def __init__(
        self, transitions: Mapping[Transition, float], min_seen: Mapping[int, int]
    ) -> None:
        self._min_seen = dict(min_seen)
        by_quiz: dict[int, list[tuple[int, int, float]]] = {}
        for (quiz, prev, new), t in transitions.items():
            by_quiz.setdefault(quiz, []).append((prev, new, t))
        self._points: dict[int, list[int]] = {}
        self._latest: dict[int, list[float]] = {}
        for quiz, spans in by_quiz.items():
            points = sorted({p for prev, new, _ in spans for p in (prev, new)})
            latest = [float("-inf")] * max(0, len(points) - 1)
            for prev, new, t in spans:
                for segment in range(
                    bisect.bisect_left(points, prev), bisect.bisect_left(points, new)
                ):
                    if t > latest[segment]:
                        latest[segment] = t
            self._points[quiz], self._latest[quiz] = points, latest

    def time_seen(self, quiz: int, seq: int) -> float | None:
        """When every client of ``quiz`` had a board with ``seq`` or later; ``None`` if some
        client never got one (or nobody saw any board of that quiz)."""
        if seq > self._min_seen.get(quiz, -1):
            return None
        points = self._points.get(quiz)
        if not points:
            return None
        segment = bisect.bisect_left(points, seq) - 1
        if segment < 0 or segment >= len(self._latest[quiz]):
            return None
        t = self._latest[quiz][segment]
        return None if t == float("-inf") else t
