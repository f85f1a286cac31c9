"""Errors of the quiz core.

Two kinds, as in h11: :class:`Rejected` is the caller's fault (a late answer, a taken nickname, a
host command in the wrong state); it carries a stable machine-readable :class:`ErrorCode` that the
wire protocol sends on unchanged, and the state is left exactly as it was. :class:`CoreBug` means
an invariant of the core itself broke; it is never the user's fault and is never shown to one.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """Every reason the core can refuse something; stable strings, part of the protocol."""

    # questions and quizzes built from bad input
    INVALID_QUESTION = "invalid_question"
    INVALID_SETTINGS = "invalid_settings"
    NO_QUESTIONS = "no_questions"
    # state machine
    ILLEGAL_STATE = "illegal_state"
    QUIZ_FINISHED = "quiz_finished"
    #: A self-paced quiz's due time is missing, already past, too close or too far.
    INVALID_DUE = "invalid_due"
    # joining
    UNKNOWN_QUIZ = "unknown_quiz"
    NICKNAME_INVALID = "nickname_invalid"
    NICKNAME_TAKEN = "nickname_taken"
    NICKNAME_PROFANE = "nickname_profane"
    QUIZ_FULL = "quiz_full"
    LOBBY_LOCKED = "lobby_locked"
    LATE_JOIN_CLOSED = "late_join_closed"
    #: The quiz is for the learning app's users: join with the app's sign-in, not a nickname.
    APP_SIGN_IN_REQUIRED = "app_sign_in_required"
    UNKNOWN_PLAYER = "unknown_player"
    KICKED = "kicked"
    #: The host approves names first (``approve_names``): this one has not been approved yet.
    NAME_NOT_APPROVED = "name_not_approved"
    # answering
    QUESTION_NOT_OPEN = "question_not_open"
    WRONG_QUESTION = "wrong_question"
    INVALID_OPTION = "invalid_option"
    TOO_LATE = "too_late"
    #: The host has paused the open question: answers wait for the resume.
    PAUSED = "paused"
    #: The quiz gives reading time (``reading_ms``): the options of the open question are
    #: not shown yet.
    READING = "reading"
    ALREADY_ANSWERED = "already_answered"
    # not the core's refusals but the service's: storage, or the quiz's owner, cannot be
    # reached right now. Nothing was stored; the same request may succeed in a moment.
    UNAVAILABLE = "unavailable"


class Rejected(Exception):
    """The caller asked for something the rules do not allow; nothing was changed."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"Rejected({self.code.value!r}, {self.message!r})"


class CoreBug(AssertionError):
    """An invariant of the core itself was broken: a bug in livequiz, not in the input."""
