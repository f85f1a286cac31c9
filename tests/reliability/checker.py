"""The checker every fault test reports through: what clients were told against what was stored.

Jepsen's idea, at the size of a quiz: while a fault is injected, record every acknowledgement a
client got and every frame it saw; afterwards, compare them with the quiz's final results as the
server stores them, and with the snapshot every client gets when it comes back.

What it counts (each must be 0):

* ``lost``: acknowledged answers missing from the stored results. Counted per question and
  option (``option_counts`` in the host's report) and per player (answers and score).
* ``doubled``: answers stored more often than they were acknowledged. Exact when every answer a
  client sent ended in an ``ack`` or a refusal (the clients in :mod:`tests.reliability.client`
  resend until one comes), because a stored answer repeated always gets its ``ack`` back.
* ``recount``: players whose stored score is not the sum of the points their acks gave, or whose
  acks disagree with the stored answer key (an answer acknowledged as correct that the reveal
  says was wrong, points for a wrong answer).
* ``inconsistent``: repeats of one answer that did not give back the first result (another
  ``seq`` or another ``answer``; in ``at_close`` mode a repeat after the close may reveal what
  the first ack only confirmed, and then every later one must show the same), and two answers
  acknowledged under one ``seq``.
* ``regressions``: a frame whose ``seq`` is below one the same client saw before, over all its
  connections: "numbers never go back" (docs/protocol.md, sequence numbers), across restarts too.
* ``stale``: clients whose last snapshot, taken after the quiz finished, disagrees with the final
  results (phase, own score).

The checker only reads what it is given; it is tested on its own (``test_checker.py``) with
made-up histories holding each fault, so a 0 from it means something.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Frame = dict[str, Any]

#: Frames for everyone that carry the quiz's sequence number at the top level, and always
#: arrive in sequence order (docs/protocol.md).
SEQUENCED = frozenset({"board", "question", "closed", "finished", "lock"})
#: Frames that carry a whole state, whose ``state.seq`` a client redraws from.
SNAPSHOTS = frozenset({"welcome", "snapshot"})


@dataclass
class Verdict:
    """What the checker found; :attr:`ok` when every fault count is 0."""

    acknowledged: int = 0
    lost: int = 0
    doubled: int = 0
    recount: int = 0
    inconsistent: int = 0
    regressions: int = 0
    stale: int = 0
    frames: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (
            self.lost
            or self.doubled
            or self.recount
            or self.inconsistent
            or self.regressions
            or self.stale
        )

    def counts(self) -> dict[str, int]:
        return {
            "acknowledged": self.acknowledged,
            "frames": self.frames,
            "lost": self.lost,
            "doubled": self.doubled,
            "recount": self.recount,
            "inconsistent": self.inconsistent,
            "regressions": self.regressions,
            "stale": self.stale,
        }

    def add(self, other: Verdict) -> None:
        for name, value in other.counts().items():
            setattr(self, name, getattr(self, name) + value)
        self.problems.extend(other.problems)

    def __str__(self) -> str:
        counts = ", ".join(f"{name} {value}" for name, value in self.counts().items())
        shown = "\n  ".join(self.problems[:20])
        return counts + (f"\n  {shown}" if shown else "")


class QuizHistory:
    """Everything the clients of one quiz were told: acks by player and question, and the
    frames each client saw (its whole history over every connection, in order)."""

    def __init__(self, quiz_id: str) -> None:
        self.quiz_id = quiz_id
        #: (nickname, question) -> every ack for it, in the order they came.
        self.acks: dict[tuple[str, int], list[Frame]] = {}
        #: client name -> its frames (the list the client appends to, read at check time).
        self.streams: dict[str, Sequence[Frame]] = {}

    def record(self, name: str, ack: Frame) -> None:
        """An ``ack`` a player got (``accepted`` or a repeat)."""
        assert ack["type"] == "ack", ack
        self.acks.setdefault((name, ack["q"]), []).append(ack)

    def watch(self, name: str, frames: Sequence[Frame]) -> None:
        """Check this client's frames too (read when :meth:`check` runs)."""
        self.streams[name] = frames

    # ------------------------------------------------------------------ the comparison

    def check(self, report: Frame, last_states: Mapping[str, Frame] | None = None) -> Verdict:
        """Compare with ``report`` (the host's final results, ``GET .../results``) and with each
        client's ``last_states`` (the ``state`` of a snapshot taken after the finish)."""
        verdict = Verdict()
        firsts = self._first_results(verdict)
        verdict.acknowledged = len(firsts)
        self._against_report(report, firsts, verdict)
        for name, frames in self.streams.items():
            verdict.frames += len(frames)
            self._sequence(name, frames, verdict)
        if last_states is not None:
            self._snapshots(report, last_states, verdict)
        return verdict

    def _first_results(self, verdict: Verdict) -> dict[tuple[str, int], Frame]:
        """Each answer's result: its first ack, or, in ``at_close`` mode, the first revealed
        repeat (an ack sent after the close shows what the first only confirmed)."""
        results: dict[tuple[str, int], Frame] = {}
        by_seq: dict[int, tuple[str, int]] = {}
        for key, acks in self.acks.items():
            first = result = acks[0]
            for repeat in acks[1:]:
                same = repeat["seq"] == first["seq"] and (
                    repeat["answer"]["option"] == first["answer"]["option"]
                )
                if same and result["answer"].get("revealed"):
                    same = repeat["answer"] == result["answer"]
                if not same:
                    verdict.inconsistent += 1
                    verdict.problems.append(f"{key}: repeat {repeat} differs from {result}")
                elif repeat["answer"].get("revealed"):
                    result = repeat
            results[key] = result
            other = by_seq.setdefault(first["seq"], key)
            if other != key:
                verdict.inconsistent += 1
                verdict.problems.append(f"{key} and {other} acknowledged under seq {first['seq']}")
        return results

    def _against_report(
        self, report: Frame, firsts: Mapping[tuple[str, int], Frame], verdict: Verdict
    ) -> None:
        questions = {q["index"]: q for q in report["questions"]}
        acked_options: Counter[tuple[int, int]] = Counter()
        for (name, index), ack in firsts.items():
            answer = ack["answer"]
            acked_options[(index, answer["option"])] += 1
            question = questions.get(index)
            if question is None:
                verdict.lost += 1
                verdict.problems.append(
                    f"{name}: acknowledged answer to unreported question {index}"
                )
                continue
            if not answer.get("revealed"):
                verdict.recount += 1
                verdict.problems.append(f"{name}: question {index} never revealed to its player")
            else:
                right = answer["option"] == question["correct_option"]
                if answer["correct"] != right or (not right and answer["points"] != 0):
                    verdict.recount += 1
                    verdict.problems.append(f"{name}: ack {ack} against key {question}")
        stored_options: Counter[tuple[int, int]] = Counter()
        for index, question in questions.items():
            for option, count in enumerate(question["option_counts"]):
                stored_options[(index, option)] += count
        for key in acked_options.keys() | stored_options.keys():
            acked, stored = acked_options[key], stored_options[key]
            if stored < acked:
                verdict.lost += acked - stored
                verdict.problems.append(
                    f"question {key[0]} option {key[1]}: {acked} acked, {stored} stored"
                )
            elif stored > acked:
                verdict.doubled += stored - acked
                verdict.problems.append(
                    f"question {key[0]} option {key[1]}: {stored} stored, {acked} acked"
                )
        lines = {line["nickname"]: line for line in report["players"]}
        names = {name for name, _ in firsts} | set(lines)
        for name in names:
            mine = [ack for (who, _), ack in firsts.items() if who == name]
            points = sum(ack["answer"].get("points", 0) for ack in mine)
            line = lines.get(name, {"answered": 0, "score": 0})
            if line["answered"] != len(mine) or line["score"] != points:
                verdict.recount += 1
                verdict.problems.append(
                    f"{name}: stored {line['answered']} answers, score {line['score']}; "
                    f"acks say {len(mine)} answers, {points} points"
                )

    def _sequence(self, name: str, frames: Iterable[Frame], verdict: Verdict) -> None:
        highest = 0
        for frame in frames:
            kind = frame.get("type")
            if kind in SEQUENCED:
                seq = frame["seq"]
            elif kind in SNAPSHOTS:
                seq = frame["state"]["seq"]
            else:
                continue
            if seq < highest:
                verdict.regressions += 1
                verdict.problems.append(f"{name}: {kind} seq {seq} after seq {highest}")
            highest = max(highest, seq)

    def _snapshots(self, report: Frame, states: Mapping[str, Frame], verdict: Verdict) -> None:
        scores = {line["nickname"]: line["score"] for line in report["players"]}
        for name, state in states.items():
            if state["phase"] != "finished":
                verdict.stale += 1
                verdict.problems.append(f"{name}: back in phase {state['phase']}, not finished")
            player = state.get("player")
            if player is not None and player["score"] != scores.get(name):
                verdict.stale += 1
                verdict.problems.append(
                    f"{name}: snapshot score {player['score']}, results {scores.get(name)}"
                )
