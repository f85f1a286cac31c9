"""The quiz session state machine: every rule that changes a quiz lives in this file.

Phases::

    LOBBY --start--> QUESTION_OPEN --close/time/all answered--> QUESTION_CLOSED --next--> ...
                         |  ^                                        |
                         |  +-------------------next-----------------+
                         +--skip--> (closes, then next)      next after the last --> FINISHED
    any phase but FINISHED --end--> FINISHED

Players join (in the lobby, or late if the settings allow), leave and rejoin in any phase, and
can be kicked for good. Each command either raises :class:`~livequiz.domain.errors.Rejected`
and leaves the session exactly as it was, or changes it and returns the events it produced, each
with the next sequence number. Time is always an argument (``now_ms``), never read from a clock,
so replaying the same commands rebuilds the same session.

Answers are accepted exactly once per player and question: a repeat of the same option returns
the first result and changes nothing; a different option is refused with the first result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from livequiz.domain import scoring
from livequiz.domain.errors import CoreBug, ErrorCode, Rejected
from livequiz.domain.events import (
    AnswerAccepted,
    CloseReason,
    Event,
    FinishReason,
    LobbyLockChanged,
    PlayerJoined,
    PlayerKicked,
    PlayerLeft,
    PlayerRejoined,
    QuestionClosed,
    QuestionOpened,
    QuizFinished,
    QuizStarted,
)
from livequiz.domain.nicknames import NicknamePolicy
from livequiz.domain.question import Question
from livequiz.domain.ranking import Leaderboard
from livequiz.domain.settings import QuizSettings, RevealMode

#: More questions than anyone plays in one sitting; bounds the memory a quiz can take.
MAX_QUESTIONS = 200


class Phase(StrEnum):
    LOBBY = "lobby"
    QUESTION_OPEN = "question_open"
    QUESTION_CLOSED = "question_closed"
    FINISHED = "finished"


class AnswerStatus(StrEnum):
    """How an answer that was not refused outright was taken."""

    ACCEPTED = "accepted"  #: stored and scored now
    DUPLICATE = "duplicate"  #: the same option again: the first result, nothing changed
    ALREADY_ANSWERED = "already_answered"  #: another option: refused, the first result stands


@dataclass(frozen=True, slots=True)
class AnswerRecord:
    """One accepted answer, as stored; the first result that every repeat gets back."""

    player_id: int
    index: int
    option: int
    correct: bool
    points: int
    #: The player's total right after this answer.
    score: int
    streak: int
    elapsed_ms: int
    seq: int
    at_ms: int


@dataclass(frozen=True, slots=True)
class AnswerOutcome:
    status: AnswerStatus
    record: AnswerRecord
    #: Empty unless ``status`` is ``ACCEPTED``; may hold a ``QuestionClosed`` after the answer.
    events: tuple[Event, ...]


class Player:
    """A player's state within one quiz. Mutated only by :class:`QuizSession`."""

    __slots__ = (
        "answers",
        "correct_count",
        "id",
        "joined_seq",
        "kicked",
        "nickname",
        "present",
        "published_score",
        "published_streak",
        "score",
        "streak",
    )

    def __init__(self, player_id: int, nickname: str, joined_seq: int) -> None:
        self.id = player_id
        self.nickname = nickname
        self.joined_seq = joined_seq
        self.present = True
        self.kicked = False
        #: Sum of the points of every accepted answer.
        self.score = 0
        #: The score the leaderboard shows: equal to ``score`` except, in ``at_close`` reveal
        #: mode, while the question this player answered is still open.
        self.published_score = 0
        self.streak = 0
        #: The streak as the player may see it (lags ``streak`` like ``published_score``).
        self.published_streak = 0
        self.correct_count = 0
        self.answers: dict[int, AnswerRecord] = {}


class QuizSession:
    """One live quiz: its questions, players, answers, leaderboard and phase."""

    def __init__(
        self,
        questions: Sequence[Question],
        settings: QuizSettings | None = None,
        *,
        nicknames: NicknamePolicy | None = None,
    ) -> None:
        if not questions:
            raise Rejected(ErrorCode.NO_QUESTIONS, "a quiz needs at least one question")
        if len(questions) > MAX_QUESTIONS:
            raise Rejected(
                ErrorCode.NO_QUESTIONS, f"a quiz may have at most {MAX_QUESTIONS} questions"
            )
        self.questions: tuple[Question, ...] = tuple(questions)
        self.settings = (settings or QuizSettings()).validate()
        self.nicknames = nicknames or NicknamePolicy()
        self.phase = Phase.LOBBY
        self.locked = False
        #: Sequence number of the last event; 0 before any.
        self.seq = 0
        #: Index of the current (open or just closed) question; -1 in the lobby.
        self.current = -1
        self.opened_at_ms = 0
        self.closes_at_ms = 0
        self.accepts_until_ms = 0
        self.players: dict[int, Player] = {}
        self.board = Leaderboard()
        self._by_nickname: dict[str, int] = {}
        self._next_player_id = 1
        self._present = 0
        #: Present players who answered the current question (for "all answered → close").
        self._answered_present = 0
        #: Accepted answers to the current question, in order.
        self._current_answers: list[AnswerRecord] = []

    # ------------------------------------------------------------------ reading

    @property
    def question(self) -> Question | None:
        """The current question, open or just closed; ``None`` in the lobby."""
        return self.questions[self.current] if self.current >= 0 else None

    @property
    def present_count(self) -> int:
        return self._present

    @property
    def answered_count(self) -> int:
        """Accepted answers to the current question."""
        return len(self._current_answers)

    def player(self, player_id: int) -> Player:
        """The player with this id, kicked or not; raises ``unknown_player``."""
        player = self.players.get(player_id)
        if player is None:
            raise Rejected(ErrorCode.UNKNOWN_PLAYER, "no such player in this quiz")
        return player

    def active_player(self, player_id: int) -> Player:
        """A player who has not been kicked; raises ``unknown_player`` or ``kicked``."""
        player = self.player(player_id)
        if player.kicked:
            raise Rejected(ErrorCode.KICKED, "you were removed from this quiz")
        return player

    # ------------------------------------------------------------------ players

    def join(self, nickname: object, now_ms: int) -> PlayerJoined:
        """Add a player; returns their ``PlayerJoined`` event (it carries the new id)."""
        self._require_not_finished()
        if self.locked:
            raise Rejected(ErrorCode.LOBBY_LOCKED, "the host has locked this quiz")
        if self.phase is not Phase.LOBBY and not self.settings.allow_late_join:
            raise Rejected(ErrorCode.LATE_JOIN_CLOSED, "this quiz has already started")
        name = self.nicknames.normalise(nickname)
        key = self.nicknames.key(name)
        if key in self._by_nickname and not self.nicknames.trusted:
            raise Rejected(ErrorCode.NICKNAME_TAKEN, f"the nickname {name!r} is taken")
        if len(self.board) >= self.settings.max_players:
            raise Rejected(ErrorCode.QUIZ_FULL, "this quiz is full")
        player_id = self._next_player_id
        self._next_player_id += 1
        event = PlayerJoined(
            seq=self._next_seq(),
            at_ms=now_ms,
            player_id=player_id,
            nickname=name,
            late=self.phase is not Phase.LOBBY,
        )
        player = Player(player_id, name, event.seq)
        self.players[player_id] = player
        self._by_nickname.setdefault(key, player_id)
        self.board.set(player_id, 0, event.seq)
        self._present += 1
        return event

    def leave(self, player_id: int, now_ms: int) -> list[Event]:
        """A player went away (closed the page, lost the network). Their score stays.

        "Every present player has answered" is re-checked: if the one player still thinking
        leaves, the others need not wait for the clock.
        """
        player = self.active_player(player_id)
        if not player.present:
            raise Rejected(ErrorCode.ILLEGAL_STATE, "that player has already left")
        self._set_present(player, False)
        events: list[Event] = [PlayerLeft(seq=self._next_seq(), at_ms=now_ms, player_id=player_id)]
        return events + self._close_if_all_answered(now_ms)

    def rejoin(self, player_id: int, now_ms: int) -> list[Event]:
        """A player came back (by token). No event if they were still present."""
        player = self.active_player(player_id)
        if player.present:
            return []
        self._set_present(player, True)
        events: list[Event] = [
            PlayerRejoined(seq=self._next_seq(), at_ms=now_ms, player_id=player_id)
        ]
        # Someone who already answered coming back to an otherwise empty room completes it.
        return events + self._close_if_all_answered(now_ms)

    def kick(self, player_id: int, now_ms: int) -> list[Event]:
        """Host: remove a player for good (their nickname becomes free again)."""
        self._require_not_finished()
        player = self.active_player(player_id)
        if player.present:
            self._set_present(player, False)
        player.kicked = True
        key = self.nicknames.key(player.nickname)
        if self._by_nickname.get(key) == player_id:  # (a replayed twin may hold the key)
            del self._by_nickname[key]
        self.board.remove(player_id)
        events: list[Event] = [
            PlayerKicked(seq=self._next_seq(), at_ms=now_ms, player_id=player_id)
        ]
        events += self._close_if_all_answered(now_ms)
        return events

    def set_locked(self, locked: bool, now_ms: int) -> list[Event]:
        """Host: lock or unlock joining. No event if nothing changes."""
        self._require_not_finished()
        if locked == self.locked:
            return []
        self.locked = locked
        return [LobbyLockChanged(seq=self._next_seq(), at_ms=now_ms, locked=locked)]

    # ------------------------------------------------------------------ host flow

    def start(self, now_ms: int) -> list[Event]:
        """Host: leave the lobby and open the first question."""
        if self.phase is not Phase.LOBBY:
            raise Rejected(ErrorCode.ILLEGAL_STATE, "the quiz has already started")
        started = QuizStarted(
            seq=self._next_seq(), at_ms=now_ms, question_count=len(self.questions)
        )
        return [started, self._open(0, now_ms)]

    def close_question(self, now_ms: int) -> list[Event]:
        """Host: close the open question early and reveal the answer."""
        self._require_open()
        return [self._close(CloseReason.HOST, now_ms)]

    def next(self, now_ms: int) -> list[Event]:
        """Host: after a reveal, open the next question, or finish after the last one."""
        if self.phase is not Phase.QUESTION_CLOSED:
            raise Rejected(ErrorCode.ILLEGAL_STATE, "there is no closed question to move on from")
        if self.current + 1 < len(self.questions):
            return [self._open(self.current + 1, now_ms)]
        return [self._finish(FinishReason.COMPLETED, now_ms)]

    def skip(self, now_ms: int) -> list[Event]:
        """Host: close the open question at once and move on. Accepted answers keep their points."""
        self._require_open()
        events: list[Event] = [self._close(CloseReason.SKIP, now_ms)]
        return events + self.next(now_ms)

    def end(self, now_ms: int) -> list[Event]:
        """Host: end the whole quiz now (an open question is closed and revealed first)."""
        self._require_not_finished()
        events: list[Event] = []
        if self.phase is Phase.QUESTION_OPEN:
            events.append(self._close(CloseReason.END, now_ms))
        events.append(self._finish(FinishReason.ENDED, now_ms))
        return events

    def tick(self, now_ms: int) -> list[Event]:
        """The clock: close the open question once its answers no longer count.

        The one owner of a quiz's clock calls this at (or after) ``accepts_until_ms``; calling
        it early, or in another phase, does nothing.
        """
        if self.phase is Phase.QUESTION_OPEN and now_ms > self.accepts_until_ms:
            return [self._close(CloseReason.TIME, now_ms)]
        return []

    # ------------------------------------------------------------------ answers

    def submit_answer(
        self,
        player_id: int,
        index: object,
        option: object,
        now_ms: int,
        *,
        sent_at_ms: int | None = None,
    ) -> AnswerOutcome:
        """Accept, dedupe or refuse one answer: the whole rule in one step.

        ``sent_at_ms`` is when the server sent this question to the player's connection (the
        server's own clock, never the client's); speed points count from then.

        The checks, in this order (``docs/protocol.md``, "Which refusal an answer gets"):

        1. the quiz has finished: ``quiz_finished`` (its final results hold every answer
           that was acknowledged; nothing is taken or given back any more);
        2. the player: ``unknown_player``, ``kicked``;
        3. ``index`` names no question of the quiz: ``wrong_question``; ``option`` is not an
           option of it: ``invalid_option``;
        4. the player already answered that question, open or closed: the first result back
           (``duplicate`` or ``already_answered``), so a client that lost its ack can always
           ask again;
        5. the question has closed (by the clock, the host, a skip, everyone having
           answered), or is still open but its deadline plus grace has passed: ``too_late``.
           The clock closes a question once its grace is over, so "after the grace" and "after
           it closed" must read the same to the player who was a moment too slow;
        6. it has not been opened yet: ``question_not_open`` while no question is open,
           ``wrong_question`` while another one is.
        """
        self._require_not_finished()
        player = self.active_player(player_id)
        if type(index) is not int or not 0 <= index < len(self.questions):
            raise Rejected(ErrorCode.WRONG_QUESTION, "no such question in this quiz")
        question = self.questions[index]
        if type(option) is not int or not 0 <= option < len(question.options):
            raise Rejected(ErrorCode.INVALID_OPTION, "no such option in this question")
        first = player.answers.get(index)
        if first is not None:
            status = (
                AnswerStatus.DUPLICATE if first.option == option else AnswerStatus.ALREADY_ANSWERED
            )
            return AnswerOutcome(status, first, ())
        is_open = self.phase is Phase.QUESTION_OPEN and index == self.current
        if index < self.current or (index == self.current and not is_open):
            raise Rejected(ErrorCode.TOO_LATE, "time is up for this question: it has closed")
        if is_open and now_ms > self.accepts_until_ms:
            raise Rejected(ErrorCode.TOO_LATE, "time is up for this question")
        if self.phase is not Phase.QUESTION_OPEN:
            raise Rejected(ErrorCode.QUESTION_NOT_OPEN, "no question is open")
        if not is_open:
            raise Rejected(ErrorCode.WRONG_QUESTION, "that question is not the open one")

        correct = option == question.correct_option
        streak = player.streak + 1 if correct else 0
        elapsed = scoring.answer_time(self.opened_at_ms, sent_at_ms, now_ms, self.settings)
        points = scoring.points_for(correct, elapsed, streak, self.settings)
        seq = self._next_seq()
        record = AnswerRecord(
            player_id=player_id,
            index=index,
            option=option,
            correct=correct,
            points=points,
            score=player.score + points,
            streak=streak,
            elapsed_ms=elapsed,
            seq=seq,
            at_ms=now_ms,
        )
        player.answers[index] = record
        player.score = record.score
        player.streak = streak
        player.correct_count += correct
        self._current_answers.append(record)
        if player.present:
            self._answered_present += 1
        if self.settings.reveal is RevealMode.IMMEDIATE:
            self._publish(player, record)
        accepted = AnswerAccepted(
            seq=seq,
            at_ms=now_ms,
            player_id=player_id,
            index=index,
            option=option,
            correct=correct,
            points=points,
            score=record.score,
            streak=streak,
            elapsed_ms=elapsed,
        )
        return AnswerOutcome(
            AnswerStatus.ACCEPTED, record, (accepted, *self._close_if_all_answered(now_ms))
        )

    # ------------------------------------------------------------------ internals

    def _next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def _require_not_finished(self) -> None:
        if self.phase is Phase.FINISHED:
            raise Rejected(ErrorCode.QUIZ_FINISHED, "this quiz has finished")

    def _require_open(self) -> None:
        if self.phase is not Phase.QUESTION_OPEN:
            raise Rejected(ErrorCode.ILLEGAL_STATE, "no question is open")

    def _set_present(self, player: Player, present: bool) -> None:
        player.present = present
        delta = 1 if present else -1
        self._present += delta
        if self.phase is Phase.QUESTION_OPEN and self.current in player.answers:
            self._answered_present += delta

    def _publish(self, player: Player, record: AnswerRecord) -> None:
        """Show a player's score on the board as of ``record``.

        A player keeps their place among equal scores until their score actually changes: the
        tie-break is who *reached* a score first, and an answer worth 0 reaches nothing new.
        """
        if record.score != player.published_score:
            self.board.set(player.id, record.score, record.seq)
        player.published_score = record.score
        player.published_streak = record.streak

    def _open(self, index: int, now_ms: int) -> QuestionOpened:
        self.phase = Phase.QUESTION_OPEN
        self.current = index
        self.opened_at_ms = now_ms
        self.closes_at_ms = scoring.deadline(now_ms, self.settings)
        self.accepts_until_ms = scoring.accepts_until(now_ms, self.settings)
        self._answered_present = 0
        self._current_answers = []
        return QuestionOpened(
            seq=self._next_seq(),
            at_ms=now_ms,
            index=index,
            closes_at_ms=self.closes_at_ms,
            accepts_until_ms=self.accepts_until_ms,
        )

    def _close_if_all_answered(self, now_ms: int) -> list[Event]:
        if (
            self.settings.close_when_all_answered
            and self.phase is Phase.QUESTION_OPEN
            and self._present > 0
            and self._answered_present == self._present
        ):
            return [self._close(CloseReason.ALL_ANSWERED, now_ms)]
        return []

    def _close(self, reason: CloseReason, now_ms: int) -> QuestionClosed:
        question = self.questions[self.current]
        counts = [0] * len(question.options)
        for record in self._current_answers:
            counts[record.option] += 1
            player = self.players[record.player_id]
            if self.settings.reveal is RevealMode.AT_CLOSE and not player.kicked:
                self._publish(player, record)
        for player in self.players.values():
            if self.current not in player.answers:
                player.streak = player.published_streak = 0
        self.phase = Phase.QUESTION_CLOSED
        return QuestionClosed(
            seq=self._next_seq(),
            at_ms=now_ms,
            index=self.current,
            correct_option=question.correct_option,
            option_counts=tuple(counts),
            reason=reason,
        )

    def _finish(self, reason: FinishReason, now_ms: int) -> QuizFinished:
        self.phase = Phase.FINISHED
        return QuizFinished(seq=self._next_seq(), at_ms=now_ms, reason=reason)

    def check_invariants(self) -> None:
        """Raise :class:`CoreBug` if the session contradicts itself (used by tests and replay)."""
        for player in self.players.values():
            total = sum(record.points for record in player.answers.values())
            if total != player.score:
                raise CoreBug(f"player {player.id}: score {player.score} != answers {total}")
            if player.kicked == (player.id in self.board):
                raise CoreBug(f"player {player.id}: kicked and on the board disagree")
        present = sum(p.present for p in self.players.values())
        if present != self._present:
            raise CoreBug(f"present count {self._present} != {present}")
