"""Points for an answer: speed, streak, deadline.

The rules, in whole milliseconds and integer arithmetic (so that replaying a journal gives the
same numbers to the point, on any process and any machine):

* **Deadline.** A question opened at ``opened_at`` closes at ``closes_at = opened_at +
  time_limit``. An answer counts if it arrives no later than ``closes_at + grace``.
* **Answer time.** ``elapsed = arrived_at - start``, where ``start`` is when the question was
  sent to that player's connection, clamped to ``[opened_at, opened_at + max_delivery_lag]``
  (a player late in a big broadcast is not penalised; reconnecting does not reset the clock).
  ``elapsed`` is then clamped to ``[0, time_limit]``.
* **Pauses.** While the host has a question paused, its clock stands still: the deadline
  moves on by the length of the pause, and the paused time is not counted in ``elapsed``.
* **Speed points** (the well-known live-quiz rule ``base × (1 − (t/T)/2)``)::

      points = base - (base × elapsed) // (2 × time_limit)

  so an instant answer earns ``base`` (1000) and one at the deadline ``base/2`` (500).
* **Accuracy mode**: a correct answer earns ``base`` whatever the time. **None**: 0.
* **Streak bonus.** ``streak`` counts correct answers in a row, this one included; a wrong or
  missing answer resets it to 0. A correct answer adds ``min(streak_bonus × (streak − 1),
  streak_bonus_cap)``: +0 for the first, +100 for the second in a row, … at most +500.
  No bonus in ``none`` mode.
* A wrong answer, or no answer, earns 0.
* **Extra time** (an accommodation the host gives a player): that player's time limit is
  ``time_limit × (100 + percent) // 100``, and it is their ``time_limit`` in every rule above:
  their deadline, their answer time's cap, their speed points (an answer at their own deadline
  earns ``base/2``, like anyone's at theirs).
"""

from __future__ import annotations

from livequiz.domain.settings import QuizSettings, ScoringMode


def deadline(opened_at_ms: int, settings: QuizSettings) -> int:
    """When the question closes for display (the countdown reaches zero)."""
    return opened_at_ms + settings.time_limit_ms


def accepts_until(opened_at_ms: int, settings: QuizSettings) -> int:
    """The last millisecond at which an answer still counts (deadline plus grace)."""
    return deadline(opened_at_ms, settings) + settings.grace_ms


def extra_ms(percent: int, settings: QuizSettings) -> int:
    """A player's extra time on each question, given ``percent`` more than the time limit."""
    return settings.time_limit_ms * percent // 100


def answer_time(
    opened_at_ms: int,
    sent_at_ms: int | None,
    arrived_at_ms: int,
    settings: QuizSettings,
    pauses: tuple[tuple[int, int], ...] = (),
    limit_ms: int | None = None,
) -> int:
    """Milliseconds the player took, measured from when the question reached their connection,
    less the time the host had the question paused (``pauses``: ``(start, end)`` pairs), at
    most their time limit (``limit_ms``: the question's, or with their extra time)."""
    start = opened_at_ms if sent_at_ms is None else sent_at_ms
    start = min(max(start, opened_at_ms), opened_at_ms + settings.max_delivery_lag_ms)
    paused = (
        sum(max(0, min(end, arrived_at_ms) - max(begin, start)) for begin, end in pauses)
        if pauses  # none, nearly always: no generator per answer
        else 0
    )
    limit = settings.time_limit_ms if limit_ms is None else limit_ms
    return min(max(arrived_at_ms - start - paused, 0), limit)


def points_for(
    correct: bool,
    elapsed_ms: int,
    streak: int,
    settings: QuizSettings,
    limit_ms: int | None = None,
) -> int:
    """Points for one answer; ``streak`` counts this answer if it is correct; ``limit_ms`` is
    the player's time limit (the question's, or with their extra time)."""
    if not correct or settings.scoring is ScoringMode.NONE:
        return 0
    base = settings.base_points
    if settings.scoring is ScoringMode.SPEED:
        limit = settings.time_limit_ms if limit_ms is None else limit_ms
        base -= (settings.base_points * elapsed_ms) // (2 * limit)
    bonus = min(settings.streak_bonus * (streak - 1), settings.streak_bonus_cap)
    return base + bonus
