"""What happened in a quiz: frozen events, each with the next sequence number.

Every change to a quiz produces one or more events; ``seq`` increases by one per event and never
repeats, so a client that has seen event ``n`` knows exactly what it missed, and a leaderboard
frame stamped with ``seq`` shows every answer whose event has a smaller or equal number.

Events are internal facts, some of them secret while a question is open (an
:class:`AnswerAccepted` says whether the answer was right). What each audience may see is
decided in :mod:`livequiz.domain.views`, never by sending an event as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class CloseReason(StrEnum):
    """Why a question closed."""

    TIME = "time"  #: its deadline (plus grace) passed
    HOST = "host"  #: the host closed it early
    ALL_ANSWERED = "all_answered"  #: every present player had answered
    SKIP = "skip"  #: the host skipped to the next question
    END = "end"  #: the host ended the whole quiz (or, self-paced, its due time came)
    ANSWERED = "answered"  #: self-paced: the player answered, so their question closed for them


class FinishReason(StrEnum):
    """Why a quiz finished."""

    COMPLETED = "completed"  #: the host moved on after the last question
    ENDED = "ended"  #: the host ended it early
    DUE = "due"  #: self-paced: its due time (plus the grace) passed


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Base of all events: its place in the quiz's history and when it happened."""

    seq: int
    at_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PlayerJoined(Event):
    player_id: int
    nickname: str
    #: True if the quiz had already started: the player begins at the current question.
    late: bool
    #: False while the host has to approve the name (``approve_names``): shown to nobody else.
    approved: bool = True
    #: With teams: the team the player joined (the smallest one).
    team: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PlayerNamed(Event):
    """The host approved a player's name, or gave them another one (approved with it)."""

    player_id: int
    nickname: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ExtraTimeGiven(Event):
    """The host gave a player extra time (an accommodation), from the next question on:
    ``percent`` more than each question's time limit (0: none)."""

    player_id: int
    percent: int


@dataclass(frozen=True, slots=True, kw_only=True)
class TeamChanged(Event):
    """The host moved a player to another team (their score counts for it from now on)."""

    player_id: int
    team: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PlayerLeft(Event):
    player_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PlayerRejoined(Event):
    player_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PlayerKicked(Event):
    player_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class QuestionPaused(Event):
    """The host paused the open question: its clock stands still, answers wait."""

    index: int
    #: Time left on the clock, as it stands still.
    remaining_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class QuestionResumed(Event):
    """The host resumed the paused question: its deadline moved on by the pause, exactly."""

    index: int
    closes_at_ms: int
    accepts_until_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RejoinRequested(Event):
    """Someone on another device asks to be this (away) player again; the host decides."""

    player_id: int
    nickname: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RejoinAnswered(Event):
    """The host let the device asking to be this player back in, or turned it away."""

    player_id: int
    let_in: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class LobbyLockChanged(Event):
    locked: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class QuizStarted(Event):
    question_count: int
    #: Self-paced: when the quiz finishes for everyone; ``None`` for a live quiz.
    due_at_ms: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class QuestionOpened(Event):
    index: int
    #: When the countdown reaches zero (for a player with extra time: that much later).
    closes_at_ms: int
    #: The last moment an answer still counts (``closes_at_ms`` plus the grace, plus the
    #: longest extra time of this question).
    accepts_until_ms: int
    #: ``(player_id, extra_ms)`` of each player who has extra time on this question.
    extra_ms: tuple[tuple[int, int], ...] = ()
    #: With reading time: when the options show (the prompt alone until then; the time
    #: limit runs from then). ``None``: shown at once.
    options_at_ms: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OptionsShown(Event):
    """The reading time of the open question is over: its options show, answers count."""

    index: int


@dataclass(frozen=True, slots=True, kw_only=True)
class AnswerAccepted(Event):
    """An answer was stored and scored. Secret until the question closes (it says ``correct``)."""

    player_id: int
    index: int
    option: int
    correct: bool
    points: int
    #: The player's total after this answer.
    score: int
    streak: int
    elapsed_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class QuestionClosed(Event):
    """A question closed; this is the reveal."""

    index: int
    correct_option: int
    #: How many accepted answers chose each option.
    option_counts: tuple[int, ...]
    reason: CloseReason
    #: When the next question opens by itself (``auto_advance_ms``); ``None``: the host moves on.
    next_at_ms: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class QuizFinished(Event):
    reason: FinishReason


# ---------------------------------------------------------------------- self-paced quizzes
# Each player moves through the questions on their own clock; these events concern one player
# and go to that player alone (the board and the host see their effect, never their answers).


@dataclass(frozen=True, slots=True, kw_only=True)
class PlayerQuestionOpened(Event):
    """Self-paced: question ``index`` opened for one player, on a clock of its own."""

    player_id: int
    index: int
    closes_at_ms: int
    accepts_until_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PlayerQuestionClosed(Event):
    """Self-paced: one player's question closed (answered, time up, or the quiz ended); the
    reveal for that player alone."""

    player_id: int
    index: int
    correct_option: int
    reason: CloseReason


@dataclass(frozen=True, slots=True, kw_only=True)
class PlayerFinished(Event):
    """Self-paced: a player is done with the last question; their score is final."""

    player_id: int
    score: int
    correct: int
