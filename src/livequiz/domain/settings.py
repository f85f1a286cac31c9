"""Per-quiz settings: the rules a host can choose, with the defaults players expect."""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any

from livequiz.domain.errors import ErrorCode, Rejected


class ScoringMode(StrEnum):
    """How a correct answer is worth points."""

    #: Faster correct answers earn more (the live-quiz default; see :mod:`livequiz.domain.scoring`).
    SPEED = "speed"
    #: Every correct answer earns the full base points, however long it took: for learners who
    #: find the clock unfair or stressful.
    ACCURACY = "accuracy"
    #: Nobody earns points; the quiz is practice. Correct counts are still kept.
    NONE = "none"


class Pace(StrEnum):
    """Who moves a quiz on from one question to the next."""

    #: The host opens each question for everyone at once; one shared clock (a live quiz).
    LIVE = "live"
    #: Homework: assigned with a due time, each player opens their next question when they
    #: reach it, on a clock of its own (see :meth:`livequiz.domain.session.QuizSession.advance`).
    SELF = "self"


class Identity(StrEnum):
    """Who a player is."""

    #: Anyone with the quiz ID joins under a nickname they choose (checked by the rules).
    NICKNAME = "nickname"
    #: Only the learning app's signed-in users join, as themselves: the app's token names them,
    #: and the same user comes back as the same player from any device.
    APP = "app"


class RevealMode(StrEnum):
    """When a player learns whether their answer was right, and when the board shows it."""

    #: The answerer gets a private result at once and the shared board picks it up at the next
    #: tick. Colluding players could infer the right option from whose score rose; hosts who
    #: care switch to ``AT_CLOSE``.
    IMMEDIATE = "immediate"
    #: Kahoot!-style: results and the board for the open question wait until it closes.
    AT_CLOSE = "at_close"


#: Teams a quiz may have: as many as the team colours (``views.TEAM_NAMES``).
MAX_TEAMS = 6


@dataclass(frozen=True, slots=True)
class QuizSettings:
    """Everything a host may tune for one quiz. Times are in milliseconds.

    Limits below are validated by :meth:`validate`; where a number comes from is said beside it.
    """

    #: Time a question stays open. 20 s is the common live-quiz default for a one-line question.
    time_limit_ms: int = 20_000
    #: Answers that arrive up to this long after the deadline still count (with the fewest speed
    #: points): it absorbs the network delay of an answer sent just in time from a phone.
    grace_ms: int = 500
    scoring: ScoringMode = ScoringMode.SPEED
    #: Points for a correct answer given at once (speed) or at any time (accuracy).
    base_points: int = 1000
    #: Bonus for each correct answer in a row after the first (Kahoot!'s rule: +100 …).
    streak_bonus: int = 100
    #: … capped at this much per answer.
    streak_bonus_cap: int = 500
    reveal: RevealMode = RevealMode.IMMEDIATE
    #: Live (the host moves everyone on) or self-paced homework with a due time. In a
    #: self-paced quiz ``reveal`` and ``close_when_all_answered`` do not apply: each player's
    #: question closes for them, with its answer, the moment they answer or their time runs out.
    pace: Pace = Pace.LIVE
    #: Nicknames, or the learning app's users only (their sign-in verified by the server).
    identity: Identity = Identity.NICKNAME
    #: Close the question (and reveal) as soon as every present player has answered.
    close_when_all_answered: bool = True
    #: Players who join after the start begin at the current question with 0 points.
    allow_late_join: bool = True
    #: The host approves (or renames, or removes) each nickname before it shows on any board
    #: or screen; until then the player waits and cannot answer. The learning app's users,
    #: named by the app, need no approval.
    approve_names: bool = False
    #: Each player sees the options of each question in an order of their own (neighbours
    #: cannot pass on "it's the red one"); answers, reveals and reports keep the question's
    #: order (:func:`~livequiz.domain.views.option_order`).
    shuffle_options: bool = False
    #: Live: open the next question by itself this long after each reveal (``0``: the host
    #: moves on). The host may still move on sooner.
    auto_advance_ms: int = 0
    #: Live: each question shows its prompt alone this long before its options (``0``: at
    #: once), so every student reads it before anyone can answer; its time limit runs from
    #: the options.
    reading_ms: int = 0
    #: Teams (0: none; else 2 to 6): each player joins one of the smallest teams, drawn by
    #: a hash of the player and their name; the host may move them. A team's score is its
    #: members' average, so its size does not decide.
    teams: int = 0
    #: With teams: each player picks their team as they join (one who does not pick joins
    #: the smallest); the host may still move them.
    team_choice: bool = False
    #: Generous by default: a school assembly fits; a flood of bots does not grow without bound.
    max_players: int = 20_000
    #: How many players the shared leaderboard frame lists.
    top_k: int = 10
    #: Speed time runs from when the question was sent to that player, but that start is never
    #: taken as later than this after the question opened, so reconnecting cannot reset the clock
    #: by more than this.
    max_delivery_lag_ms: int = 1_000

    def validate(self) -> QuizSettings:
        """Return ``self`` if every value is in range, else raise :class:`Rejected`."""
        checks: list[tuple[bool, str]] = [
            (isinstance(self.scoring, ScoringMode), "scoring must be a ScoringMode"),
            (isinstance(self.reveal, RevealMode), "reveal must be a RevealMode"),
            (isinstance(self.pace, Pace), "pace must be a Pace"),
            (isinstance(self.identity, Identity), "identity must be an Identity"),
            (1_000 <= self.time_limit_ms <= 600_000, "time_limit_ms must be 1,000 to 600,000"),
            (0 <= self.grace_ms <= 5_000, "grace_ms must be 0 to 5,000"),
            (1 <= self.base_points <= 100_000, "base_points must be 1 to 100,000"),
            (0 <= self.streak_bonus <= 10_000, "streak_bonus must be 0 to 10,000"),
            (0 <= self.streak_bonus_cap <= 100_000, "streak_bonus_cap must be 0 to 100,000"),
            (1 <= self.max_players <= 100_000, "max_players must be 1 to 100,000"),
            (1 <= self.top_k <= 100, "top_k must be 1 to 100"),
            (0 <= self.max_delivery_lag_ms <= 10_000, "max_delivery_lag_ms must be 0 to 10,000"),
            (
                self.auto_advance_ms == 0 or 3_000 <= self.auto_advance_ms <= 120_000,
                "auto_advance_ms must be 0 (off) or 3,000 to 120,000",
            ),
            (
                self.reading_ms == 0 or 1_000 <= self.reading_ms <= 30_000,
                "reading_ms must be 0 (off) or 1,000 to 30,000",
            ),
            (
                self.teams == 0 or 2 <= self.teams <= MAX_TEAMS,
                f"teams must be 0 (none) or 2 to {MAX_TEAMS}",
            ),
            (not self.team_choice or self.teams > 0, "team_choice needs teams (2 or more)"),
        ]
        for ok, message in checks:
            if not ok:
                raise Rejected(ErrorCode.INVALID_SETTINGS, message)
        return self

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> QuizSettings:
        """Build settings from untrusted key/value pairs (JSON): names, types, ranges."""
        known = {f.name: f for f in fields(cls)}
        kwargs: dict[str, Any] = {}
        for name, value in values.items():
            if name not in known:
                raise Rejected(ErrorCode.INVALID_SETTINGS, f"unknown setting {name!r}")
            default = getattr(cls(), name)
            kwargs[name] = _coerce(name, value, default)
        return cls(**kwargs).validate()

    def to_mapping(self) -> dict[str, Any]:
        """Plain JSON-ready values (enums as their strings)."""
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, StrEnum) else value


def _coerce(name: str, value: Any, default: Any) -> Any:
    """Check one untrusted value against the type of its default."""
    if isinstance(default, StrEnum):
        try:
            return type(default)(value)
        except ValueError:
            choices = ", ".join(member.value for member in type(default))
            raise Rejected(
                ErrorCode.INVALID_SETTINGS, f"{name} must be one of: {choices}"
            ) from None
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise Rejected(ErrorCode.INVALID_SETTINGS, f"{name} must be true or false")
        return value
    if not isinstance(value, int) or isinstance(value, bool):
        raise Rejected(ErrorCode.INVALID_SETTINGS, f"{name} must be a whole number")
    return value
