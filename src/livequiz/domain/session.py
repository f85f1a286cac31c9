"""The quiz session state machine: every rule that changes a quiz lives in this file.

Phases::

    LOBBY --start--> QUESTION_OPEN --close/time/all answered--> QUESTION_CLOSED --next--> ...
                         |  ^                                        |
                         |  +-------------------next-----------------+
                         +--skip--> (closes, then next)      next after the last --> FINISHED
    any phase but FINISHED --end--> FINISHED

A self-paced quiz (homework, ``settings.pace == "self"``) has no shared question::

    LOBBY --start(due time)--> IN_PROGRESS --due time + grace passed (tick) / end--> FINISHED

and each player moves through the questions on a clock of their own::

    not started --advance--> question i open --answer / time up--> question i closed --advance-->
    question i+1 open ... last question closed: that player has finished

A player's question opens when they ask for it (:meth:`QuizSession.advance`), never before
they have answered or run out of time on the one before, and never again: its deadline is
absolute, so leaving and coming back gives no extra time. Its answer (the reveal) goes to that
player when it closes for them. Scoring, the grace and exactly-once are the live rules, measured
per player. Nobody's question stays open past the due time: it closes at the due time (plus
grace) at the latest, and then the quiz finishes for everyone.

Players join (in the lobby, or late if the settings allow), leave and rejoin in any phase, and
can be kicked for good. Each command either raises :class:`~livequiz.domain.errors.Rejected`
and leaves the session exactly as it was, or changes it and returns the events it produced, each
with the next sequence number. Time is always an argument (``now_ms``), never read from a clock,
so replaying the same commands rebuilds the same session.

Answers are accepted exactly once per player and question: a repeat of the same option returns
the first result and changes nothing; a different option is refused with the first result.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from livequiz.domain import scoring
from livequiz.domain.errors import CoreBug, ErrorCode, Rejected
from livequiz.domain.events import (
    AnswerAccepted,
    CloseReason,
    Event,
    ExtraTimeGiven,
    FinishReason,
    LobbyLockChanged,
    OptionsShown,
    PlayerFinished,
    PlayerJoined,
    PlayerKicked,
    PlayerLeft,
    PlayerNamed,
    PlayerQuestionClosed,
    PlayerQuestionOpened,
    PlayerRejoined,
    QuestionClosed,
    QuestionOpened,
    QuestionPaused,
    QuestionResumed,
    QuizFinished,
    QuizStarted,
    RejoinAnswered,
    RejoinRequested,
    TeamChanged,
)
from livequiz.domain.nicknames import NicknamePolicy
from livequiz.domain.question import Question
from livequiz.domain.ranking import Leaderboard
from livequiz.domain.settings import Identity, Pace, QuizSettings, RevealMode

#: More questions than anyone plays in one sitting; bounds the memory a quiz can take.
MAX_QUESTIONS = 200
#: Extra time a host may give a player, in percent of each question's time limit: up to four
#: times the time (exam boards' accommodations go to double time; a margin above that).
MAX_EXTRA_TIME_PERCENT = 300
#: A self-paced quiz is due at least this long after it starts (time to do one question or
#: two) and at most this long (a school term: results that never become final help nobody).
MIN_DUE_MS = 60_000
MAX_DUE_MS = 90 * 24 * 3_600_000
#: The longest user id of the learning app's accepted (a UUID is 36; room for the app's own).
MAX_USER_ID_CHARS = 128


def check_due(settings: QuizSettings, due_at_ms: object, now_ms: int) -> int | None:
    """The due time of a quiz started at ``now_ms`` with these settings, or :class:`Rejected`
    (``invalid_due``): a self-paced quiz needs one, :data:`MIN_DUE_MS` to :data:`MAX_DUE_MS`
    away; a live quiz has none. (The HTTP API asks before it creates a quiz to start at once.)
    """
    if settings.pace is not Pace.SELF:
        if due_at_ms is not None:
            raise Rejected(ErrorCode.INVALID_DUE, "a live quiz has no due time (pace is 'live')")
        return None
    if type(due_at_ms) is not int:
        raise Rejected(
            ErrorCode.INVALID_DUE, "a self-paced quiz needs a due time (due_at_ms, a whole number)"
        )
    if not now_ms + MIN_DUE_MS <= due_at_ms <= now_ms + MAX_DUE_MS:
        raise Rejected(
            ErrorCode.INVALID_DUE,
            f"the due time must be {MIN_DUE_MS // 60_000} minute to "
            f"{MAX_DUE_MS // 86_400_000} days from now",
        )
    return due_at_ms


class Phase(StrEnum):
    LOBBY = "lobby"
    QUESTION_OPEN = "question_open"
    QUESTION_CLOSED = "question_closed"
    #: Self-paced: started; each player is somewhere of their own in the questions.
    IN_PROGRESS = "in_progress"
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
        "accepts_until_ms",
        "answers",
        "approved",
        "at",
        "at_closed",
        "closes_at_ms",
        "correct_count",
        "extra_percent",
        "finished",
        "id",
        "joined_seq",
        "kicked",
        "limit_ms",
        "nickname",
        "opened_at_ms",
        "present",
        "published_score",
        "published_streak",
        "score",
        "streak",
        "user_id",
    )

    def __init__(
        self, player_id: int, nickname: str, joined_seq: int, user_id: str | None = None
    ) -> None:
        self.id = player_id
        self.nickname = nickname
        #: The learning app's id of this user (signed in), ``None`` for a nickname join.
        self.user_id = user_id
        self.joined_seq = joined_seq
        self.present = True
        self.kicked = False
        #: Shown to the others (on the board, the big screen): false while the host has to
        #: approve the name (``approve_names``). An unapproved player is not on the board,
        #: not counted as present, and cannot answer.
        self.approved = True
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
        #: Extra time the host gave this player (an accommodation), in percent of each
        #: question's time limit, from the next question opened on.
        self.extra_percent = 0
        # Self-paced only: the player's own question and its clock.
        #: The time limit of the player's own question, their extra time included.
        self.limit_ms = 0
        #: Index of the player's current question (open or closed for them); -1 before the first.
        self.at = -1
        #: Whether question ``at`` has closed for this player (answered, time up, quiz over).
        self.at_closed = False
        self.opened_at_ms = 0
        self.closes_at_ms = 0
        self.accepts_until_ms = 0
        #: The last question has closed for this player: their score is final.
        self.finished = False


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
        #: Live: when the host paused the open question (``None``: it runs). While paused its
        #: clock stands still and answers get ``paused``.
        self.paused_at_ms: int | None = None
        #: Live, with ``auto_advance_ms``: when the next question opens by itself (``None``:
        #: the host moves on).
        self.next_at_ms: int | None = None
        #: The open question's past pauses, ``(start, end)``: not counted in answer times.
        self._pauses: list[tuple[int, int]] = []
        #: Live: the extra time (ms) of each player who has some on the open question, fixed
        #: when it opened; the question takes answers until the longest of them has run out.
        self._extra_ms: dict[int, int] = {}
        #: Live, with ``reading_ms``: when the open question's options show (``None``: they
        #: are shown). Until then players read the prompt and answers get ``reading``.
        self.options_at_ms: int | None = None
        self.players: dict[int, Player] = {}
        self.board = Leaderboard(self.settings.teams)
        #: With teams: how many players (not removed) each team has, to keep them balanced.
        self.team_sizes = [0] * self.settings.teams
        self._by_nickname: dict[str, int] = {}
        #: The learning app's user id → their player: the same user is one player.
        self._by_user: dict[str, int] = {}
        self._next_player_id = 1
        self._present = 0
        #: Present players who answered the current question (for "all answered → close").
        self._answered_present = 0
        #: Accepted answers to the current question, in order.
        self._current_answers: list[AnswerRecord] = []
        #: Live: the ``seq`` at which each question closed, in order. A player who joined before
        #: question ``i`` closed was asked it (a late joiner starts at the open question), which
        #: the teacher's report needs to count who did not know a word, answered or not.
        self.closed_seqs: list[int] = []
        #: Live: questions the host skipped. A skipped question does not count for anyone: its
        #: answers are taken back at the skip (points, right answers, streaks as they were) and
        #: it is left out of results, reports and every player's review.
        self.skipped: set[int] = set()
        #: Self-paced: when the quiz finishes for everyone (``None`` until it starts, and live).
        self.due_at_ms: int | None = None
        #: Self-paced: ``(accepts_until_ms, player_id, index)`` of every player's open question,
        #: soonest first. An entry whose question has closed since is dropped when it reaches
        #: the top, so after every command the top (if any) is a question still open.
        self._expiries: list[tuple[int, int, int]] = []
        #: A student whose device died asks, from another one, to be their player again (by
        #: name); the host lets them back in or turns them away. Per player, the request id of
        #: the latest request not yet answered …
        self._rejoin_waiting: dict[int, str] = {}
        #: … and per answered request id, ``(player_id, let_in)``: the asking device reads it.
        self._rejoin_answers: dict[str, tuple[int, bool]] = {}

    # ------------------------------------------------------------------ reading

    @property
    def question(self) -> Question | None:
        """The current question, open or just closed; ``None`` in the lobby."""
        return self.questions[self.current] if self.current >= 0 else None

    @property
    def self_paced(self) -> bool:
        return self.settings.pace is Pace.SELF

    @property
    def wakeup_ms(self) -> int | None:
        """When the clock must next :meth:`tick` (just after it), or ``None`` if nothing waits
        on time: the open question's last accepted moment (live); the soonest player's
        question's, or the due time plus grace, whichever is first (self-paced)."""
        if self.phase is Phase.QUESTION_OPEN:
            if self.options_at_ms is not None:
                return self.options_at_ms - 1  # the tick comes just after: at options_at_ms
            return None if self.paused_at_ms is not None else self.accepts_until_ms
        if self.phase is Phase.QUESTION_CLOSED and self.next_at_ms is not None:
            return self.next_at_ms - 1  # the tick comes just after: at next_at_ms
        if self.phase is Phase.IN_PROGRESS:
            assert self.due_at_ms is not None
            end = self.due_at_ms + self.settings.grace_ms
            return min(self._expiries[0][0], end) if self._expiries else end
        return None

    @property
    def finished_count(self) -> int:
        """Self-paced: players (not kicked) who have closed their last question."""
        return sum(1 for p in self.players.values() if p.finished and not p.kicked)

    @property
    def present_count(self) -> int:
        return self._present

    @property
    def answered_count(self) -> int:
        """Accepted answers to the current question."""
        return len(self._current_answers)

    def was_asked(self, player: Player, index: int) -> bool:
        """Whether question ``index`` was put to this player and has closed for them: live, they
        had joined before it closed; self-paced, they opened it and it closed for them."""
        if self.self_paced:
            return index < player.at or (index == player.at and player.at_closed)
        return (
            index < len(self.closed_seqs)
            and player.joined_seq < self.closed_seqs[index]
            and index not in self.skipped
        )

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

    def join(self, nickname: object, now_ms: int, team: int | None = None) -> PlayerJoined:
        """Add a player; returns their ``PlayerJoined`` event (it carries the new id). With
        ``team_choice``, ``team`` is the team they picked."""
        self._require_not_finished()
        if team is not None and not (
            self.settings.team_choice and type(team) is int and 0 <= team < self.settings.teams
        ):
            raise Rejected(
                ErrorCode.INVALID_SETTINGS,
                f"pick a team from 0 to {self.settings.teams - 1}"
                if self.settings.team_choice
                else "players of this quiz do not pick their team",
            )
        if self.settings.identity is Identity.APP:
            raise Rejected(
                ErrorCode.APP_SIGN_IN_REQUIRED,
                "this quiz is for the learning app's users: join from the app",
            )
        self._require_room()
        name = self.nicknames.normalise(nickname)
        key = self.nicknames.key(name)
        if key in self._by_nickname and not self.nicknames.trusted:
            raise Rejected(ErrorCode.NICKNAME_TAKEN, f"the nickname {name!r} is taken")
        self._require_seat()
        event = self._add_player(name, now_ms, approved=not self.settings.approve_names, team=team)
        self._by_nickname.setdefault(key, event.player_id)
        return event

    def join_user(self, user_id: object, name: object, now_ms: int) -> tuple[int, list[Event]]:
        """The learning app's user ``user_id`` (their sign-in verified by the server) joins
        under the name the app gives, or, already in the quiz, is the same player again (from
        another device, say): returns the player's id and the ``PlayerJoined`` of a new one.

        The name is the app's, not refused but made fit for a board
        (:meth:`NicknamePolicy.display_name`), and two users may share it. The quiz's lock,
        late-join rule and player cap apply to a new player; a user who was removed stays out.
        """
        self._require_not_finished()
        if type(user_id) is not str or not 1 <= len(user_id) <= MAX_USER_ID_CHARS:
            raise Rejected(
                ErrorCode.UNKNOWN_PLAYER, "the app's user id must be 1 to 128 characters"
            )
        known = self._by_user.get(user_id)
        if known is not None:
            if self.players[known].kicked:
                raise Rejected(ErrorCode.KICKED, "you were removed from this quiz")
            return known, []
        self._require_room()
        self._require_seat()
        event = self._add_player(self.nicknames.display_name(name), now_ms, user_id)
        self._by_user[user_id] = event.player_id
        return event.player_id, [event]

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
        waiting = self._rejoin_waiting.pop(player_id, None)
        if waiting is not None:  # the device asking to be them is turned away with them
            self._rejoin_answers[waiting] = (player_id, False)
        key = self.nicknames.key(player.nickname)
        if self._by_nickname.get(key) == player_id:  # (a replayed twin may hold the key)
            del self._by_nickname[key]
        if player.approved:
            self.board.remove(player_id)
        team = self.board.team_of(player_id)
        if team is not None:
            self.team_sizes[team] -= 1
        events: list[Event] = [
            PlayerKicked(seq=self._next_seq(), at_ms=now_ms, player_id=player_id)
        ]
        events += self._close_if_all_answered(now_ms)
        self._drop_closed_expiries()
        return events

    def request_rejoin(self, nickname: object, request_id: object, now_ms: int) -> list[Event]:
        """A device asks to be the player called ``nickname`` again (their phone died; the name
        is "taken" by their own away player). Only a player who is away can be asked for, and
        only the host can say yes (:meth:`answer_rejoin`): a name is not a password.

        ``request_id`` is the server's unguessable id of this request, the asking device's
        only claim to the answer; a later request for the same player replaces it."""
        self._require_not_finished()
        if self.settings.identity is Identity.APP:
            raise Rejected(
                ErrorCode.APP_SIGN_IN_REQUIRED,
                "this quiz is for the learning app's users: sign in from the app again",
            )
        if type(request_id) is not str or not 16 <= len(request_id) <= 64:
            raise Rejected(ErrorCode.ILLEGAL_STATE, "a rejoin request needs its server id")
        if request_id in self._rejoin_answers or request_id in self._rejoin_waiting.values():
            raise Rejected(ErrorCode.ILLEGAL_STATE, "that request has been made already")
        name = self.nicknames.normalise(nickname)
        player_id = self._by_nickname.get(self.nicknames.key(name))
        if player_id is None:
            raise Rejected(ErrorCode.UNKNOWN_PLAYER, f"nobody called {name!r} is in this quiz")
        player = self.active_player(player_id)
        if player.present:
            raise Rejected(
                ErrorCode.NICKNAME_TAKEN,
                f"{name!r} is playing right now: only a player who is away can be taken back",
            )
        self._rejoin_waiting[player_id] = request_id
        return [
            RejoinRequested(
                seq=self._next_seq(), at_ms=now_ms, player_id=player_id, nickname=player.nickname
            )
        ]

    def answer_rejoin(self, player_id: int, let_in: bool, now_ms: int) -> list[Event]:
        """Host: let the device asking to be this player back in, or turn it away."""
        self._require_not_finished()
        self.active_player(player_id)
        request_id = self._rejoin_waiting.get(player_id)
        if request_id is None:
            raise Rejected(ErrorCode.ILLEGAL_STATE, "nobody is asking to come back as that player")
        del self._rejoin_waiting[player_id]
        self._rejoin_answers[request_id] = (player_id, let_in)
        return [
            RejoinAnswered(seq=self._next_seq(), at_ms=now_ms, player_id=player_id, let_in=let_in)
        ]

    def rejoin_answer(self, request_id: str) -> tuple[int, bool] | None:
        """``(player_id, let_in)`` once the host has answered request ``request_id``; ``None``
        while it waits (or if there is no such request)."""
        return self._rejoin_answers.get(request_id)

    def rejoin_waiting(self, request_id: str) -> int | None:
        """The player a request still waiting for the host asks to be; ``None`` otherwise."""
        for player_id, waiting in self._rejoin_waiting.items():
            if waiting == request_id:
                return player_id
        return None

    def asks_to_rejoin(self, player_id: int) -> bool:
        """Whether someone is waiting for the host to let them back in as this player."""
        return player_id in self._rejoin_waiting

    def extra_ms(self, player_id: int) -> int:
        """Live: the extra time of ``player_id`` on the open (or just closed) question."""
        return self._extra_ms.get(player_id, 0)

    def move_to_team(self, player_id: int, team: int, now_ms: int) -> list[Event]:
        """Host: put a player in ``team`` (friends apart, a late joiner where they belong); their
        score counts for the new team from now on, the old one's average without them."""
        self._require_not_finished()
        if not self.team_sizes:
            raise Rejected(ErrorCode.ILLEGAL_STATE, "this quiz has no teams")
        player = self.active_player(player_id)
        if type(team) is not int or not 0 <= team < len(self.team_sizes):
            raise Rejected(
                ErrorCode.INVALID_SETTINGS, f"team must be 0 to {len(self.team_sizes) - 1}"
            )
        old = self.board.team_of(player_id)
        if old is None:  # pragma: no cover - every player of a quiz with teams joined one
            raise CoreBug(f"player {player_id} of a quiz with teams is in none")
        if old == team:
            return []
        self.team_sizes[old] -= 1
        self.team_sizes[team] += 1
        self.board.assign(player.id, team)
        return [TeamChanged(seq=self._next_seq(), at_ms=now_ms, player_id=player_id, team=team)]

    def give_extra_time(self, player_id: int, percent: int, now_ms: int) -> list[Event]:
        """Host: ``percent`` more time than each question's limit for one player (an
        accommodation: a student who reads slowly, a learner with a plan), from the next question
        on, whose deadline and speed points are then their own. ``0`` takes it away."""
        self._require_not_finished()
        player = self.active_player(player_id)
        if type(percent) is not int or not 0 <= percent <= MAX_EXTRA_TIME_PERCENT:
            raise Rejected(
                ErrorCode.INVALID_SETTINGS,
                f"extra time must be a whole number from 0 to {MAX_EXTRA_TIME_PERCENT} percent",
            )
        if percent == player.extra_percent:
            return []
        player.extra_percent = percent
        return [
            ExtraTimeGiven(seq=self._next_seq(), at_ms=now_ms, player_id=player_id, percent=percent)
        ]

    def approve(self, player_id: int, now_ms: int) -> list[Event]:
        """Host: this player's name may show; they are on the board (at 0) and may answer."""
        self._require_not_finished()
        player = self.active_player(player_id)
        if player.approved:
            raise Rejected(ErrorCode.ILLEGAL_STATE, "that name is approved already")
        return [self._name(player, player.nickname, now_ms)]

    def rename(self, player_id: int, nickname: object, now_ms: int) -> list[Event]:
        """Host: give a player another name (a friendly one instead of what they typed); the
        new name is approved with it. The nickname rules apply to it as to any join."""
        self._require_not_finished()
        player = self.active_player(player_id)
        name = self.nicknames.normalise(nickname)
        key = self.nicknames.key(name)
        holder = self._by_nickname.get(key)
        if holder is not None and holder != player_id and not self.nicknames.trusted:
            raise Rejected(ErrorCode.NICKNAME_TAKEN, f"the nickname {name!r} is taken")
        old = self.nicknames.key(player.nickname)
        if self._by_nickname.get(old) == player_id:
            del self._by_nickname[old]
        self._by_nickname[key] = player_id
        return [self._name(player, name, now_ms)]

    def _name(self, player: Player, name: str, now_ms: int) -> PlayerNamed:
        player.nickname = name
        event = PlayerNamed(seq=self._next_seq(), at_ms=now_ms, player_id=player.id, nickname=name)
        if not player.approved:
            player.approved = True
            self.board.set(player.id, player.score, event.seq)
            if player.present:
                self._present += 1
        return event

    def set_locked(self, locked: bool, now_ms: int) -> list[Event]:
        """Host: lock or unlock joining. No event if nothing changes."""
        self._require_not_finished()
        if locked == self.locked:
            return []
        self.locked = locked
        return [LobbyLockChanged(seq=self._next_seq(), at_ms=now_ms, locked=locked)]

    # ------------------------------------------------------------------ host flow

    def start(self, now_ms: int, due_at_ms: object = None) -> list[Event]:
        """Host: leave the lobby and open the first question (live), or hand out homework due
        at ``due_at_ms`` (self-paced: each player then opens their own first question)."""
        if self.phase is not Phase.LOBBY:
            raise Rejected(ErrorCode.ILLEGAL_STATE, "the quiz has already started")
        if not self.self_paced:
            check_due(self.settings, due_at_ms, now_ms)
            started = QuizStarted(
                seq=self._next_seq(), at_ms=now_ms, question_count=len(self.questions)
            )
            return [started, self._open(0, now_ms)]
        due_at_ms = check_due(self.settings, due_at_ms, now_ms)
        assert due_at_ms is not None
        self.phase = Phase.IN_PROGRESS
        self.due_at_ms = due_at_ms
        return [
            QuizStarted(
                seq=self._next_seq(),
                at_ms=now_ms,
                question_count=len(self.questions),
                due_at_ms=due_at_ms,
            )
        ]

    def close_question(self, now_ms: int, question: int | None = None) -> list[Event]:
        """Host: close the open question early and reveal the answer."""
        self._require_open(question)
        return [self._close(CloseReason.HOST, now_ms)]

    def pause(self, now_ms: int, question: int | None = None) -> list[Event]:
        """Host: stop the open question's clock (a fire drill, a question to explain); answers
        get ``paused`` until :meth:`resume`."""
        self._require_open(question)
        if self.paused_at_ms is not None:
            raise Rejected(ErrorCode.ILLEGAL_STATE, "the question is paused already")
        if self.options_at_ms is not None:
            raise Rejected(
                ErrorCode.ILLEGAL_STATE, "the answers are not shown yet: pause once they are"
            )
        if now_ms > self.accepts_until_ms:  # the clock is about to close it: too late to pause
            raise Rejected(ErrorCode.ILLEGAL_STATE, "time is up for this question")
        self.paused_at_ms = now_ms
        remaining = max(self.closes_at_ms - now_ms, 0)
        return [
            QuestionPaused(
                seq=self._next_seq(), at_ms=now_ms, index=self.current, remaining_ms=remaining
            )
        ]

    def resume(self, now_ms: int, question: int | None = None) -> list[Event]:
        """Host: start the paused question's clock again. Its deadline (and grace) move on by
        the length of the pause, exactly, and the pause counts in nobody's answer time."""
        self._require_open(question)
        if self.paused_at_ms is None:
            raise Rejected(ErrorCode.ILLEGAL_STATE, "the question is not paused")
        paused = max(now_ms - self.paused_at_ms, 0)
        self._pauses.append((self.paused_at_ms, self.paused_at_ms + paused))
        self.closes_at_ms += paused
        self.accepts_until_ms += paused
        self.paused_at_ms = None
        return [
            QuestionResumed(
                seq=self._next_seq(),
                at_ms=now_ms,
                index=self.current,
                closes_at_ms=self.closes_at_ms,
                accepts_until_ms=self.accepts_until_ms,
            )
        ]

    def next(self, now_ms: int, question: int | None = None) -> list[Event]:
        """Host: after a reveal, open the next question, or finish after the last one.

        ``question``, when given, is the closed question the host moves on from."""
        self._require_live()
        if self.phase is not Phase.QUESTION_CLOSED:
            raise Rejected(ErrorCode.ILLEGAL_STATE, "there is no closed question to move on from")
        self._require_current(question, "closed")
        if self.current + 1 < len(self.questions):
            return [self._open(self.current + 1, now_ms)]
        return [self._finish(FinishReason.COMPLETED, now_ms)]

    def skip(self, now_ms: int, question: int | None = None) -> list[Event]:
        """Host: close the open question at once and move on; it does not count for anyone.

        Answers already accepted are taken back: points, right answers and streaks return to
        what they were before the question (a teacher skips a question that was unfair or
        broken: those who had not answered yet must not fall behind those who had)."""
        self._require_open(question)
        events: list[Event] = [self._close(CloseReason.SKIP, now_ms)]
        return events + self.next(now_ms)

    def end(self, now_ms: int) -> list[Event]:
        """Host: end the whole quiz now (an open question is closed and revealed first; in a
        self-paced quiz, every player's open question)."""
        self._require_not_finished()
        events: list[Event] = []
        if self.phase is Phase.QUESTION_OPEN:
            events.append(self._close(CloseReason.END, now_ms))
        if self.phase is Phase.IN_PROGRESS:
            events += self._close_every_open(now_ms)
        events.append(self._finish(FinishReason.ENDED, now_ms))
        return events

    def tick(self, now_ms: int) -> list[Event]:
        """The clock: close what no longer takes answers.

        Live: the open question once its deadline plus grace has passed. Self-paced: each
        player's question whose deadline plus grace has passed, and the whole quiz once its due
        time plus grace has. The one owner of a quiz's clock calls this just after
        :attr:`wakeup_ms`; calling it early, or in another phase, does nothing.
        """
        if self.phase is Phase.QUESTION_OPEN and self.options_at_ms is not None:
            if now_ms < self.options_at_ms:
                return []
            self.options_at_ms = None
            return [OptionsShown(seq=self._next_seq(), at_ms=now_ms, index=self.current)]
        if (
            self.phase is Phase.QUESTION_OPEN
            and self.paused_at_ms is None
            and now_ms > self.accepts_until_ms
        ):
            return [self._close(CloseReason.TIME, now_ms)]
        if (
            self.phase is Phase.QUESTION_CLOSED
            and self.next_at_ms is not None
            and now_ms >= self.next_at_ms
        ):
            return self.next(now_ms)
        if self.phase is not Phase.IN_PROGRESS:
            return []
        assert self.due_at_ms is not None
        if now_ms > self.due_at_ms + self.settings.grace_ms:
            events = self._close_every_open(now_ms)
            events.append(self._finish(FinishReason.DUE, now_ms))
            return events
        events = []
        while self._expiries and self._expiries[0][0] < now_ms:
            _, player_id, index = heapq.heappop(self._expiries)
            player = self.players[player_id]
            if player.at == index and not player.at_closed and not player.kicked:
                events += self._close_for(player, CloseReason.TIME, now_ms)
        self._drop_closed_expiries()
        return events

    # ------------------------------------------------------------------ self-paced players

    def advance(self, player_id: int, now_ms: int) -> list[Event]:
        """Self-paced: open this player's next question (their first, after joining).

        Refused while their current question is open and still takes answers: a player cannot
        see the next question before answering this one (or running out of time on it). A
        question whose time ran out, which the clock has not closed yet, is closed first.
        The new question's clock is its own: ``time_limit`` from now, but never past the due
        time.
        """
        self._require_not_finished()
        if not self.self_paced:
            raise Rejected(
                ErrorCode.ILLEGAL_STATE, "in a live quiz the host opens each question for everyone"
            )
        if self.phase is Phase.LOBBY:
            raise Rejected(ErrorCode.QUESTION_NOT_OPEN, "this quiz has not been handed out yet")
        player = self.active_player(player_id)
        if not player.approved:
            raise Rejected(
                ErrorCode.NAME_NOT_APPROVED, "wait a moment: your teacher checks your name first"
            )
        assert self.due_at_ms is not None
        if now_ms >= self.due_at_ms:
            raise Rejected(ErrorCode.QUIZ_FINISHED, "this quiz is past its due time")
        if player.finished:
            raise Rejected(ErrorCode.ILLEGAL_STATE, "you have done every question of this quiz")
        events: list[Event] = []
        if player.at >= 0 and not player.at_closed:
            if now_ms <= player.accepts_until_ms:
                raise Rejected(
                    ErrorCode.ILLEGAL_STATE,
                    "answer the open question first (or let its time run out)",
                )
            events += self._close_for(player, CloseReason.TIME, now_ms)
            if player.finished:
                self._drop_closed_expiries()
                return events
        events.append(self._open_for(player, player.at + 1, now_ms))
        self._drop_closed_expiries()
        return events

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
        if not player.approved:
            raise Rejected(
                ErrorCode.NAME_NOT_APPROVED, "wait a moment: your teacher checks your name first"
            )
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
        if self.self_paced:
            return self._submit_self_paced(player, index, option, now_ms, sent_at_ms)
        is_open = self.phase is Phase.QUESTION_OPEN and index == self.current
        if index < self.current or (index == self.current and not is_open):
            raise Rejected(ErrorCode.TOO_LATE, "time is up for this question: it has closed")
        if is_open and self.paused_at_ms is not None:
            raise Rejected(ErrorCode.PAUSED, "the teacher has paused this question: wait a moment")
        if is_open and self.options_at_ms is not None:
            raise Rejected(ErrorCode.READING, "read the question: its answers are not shown yet")
        # the player's extra time on this question (nearly always none: no look-up then)
        extra = self._extra_ms.get(player.id, 0) if self._extra_ms else 0
        if is_open and now_ms > self.closes_at_ms + extra + self.settings.grace_ms:
            raise Rejected(ErrorCode.TOO_LATE, "time is up for this question")
        if self.phase is not Phase.QUESTION_OPEN:
            raise Rejected(ErrorCode.QUESTION_NOT_OPEN, "no question is open")
        if not is_open:
            raise Rejected(ErrorCode.WRONG_QUESTION, "that question is not the open one")

        record, accepted = self._score(
            player,
            index,
            option,
            now_ms,
            self.opened_at_ms,
            sent_at_ms,
            tuple(self._pauses),
            self.settings.time_limit_ms + extra,
        )
        self._current_answers.append(record)
        if player.present:
            self._answered_present += 1
        if self.settings.reveal is RevealMode.IMMEDIATE:
            self._publish(player, record)
        return AnswerOutcome(
            AnswerStatus.ACCEPTED, record, (accepted, *self._close_if_all_answered(now_ms))
        )

    def _submit_self_paced(
        self, player: Player, index: int, option: int, now_ms: int, sent_at_ms: int | None
    ) -> AnswerOutcome:
        """Checks 5 and 6 of :meth:`submit_answer` against the player's own question, then the
        live scoring rules with the player's own clock; the answer closes the question for
        them (the reveal) and, after the last, finishes them."""
        is_open = index == player.at and not player.at_closed
        if index < player.at or (index == player.at and not is_open):
            raise Rejected(ErrorCode.TOO_LATE, "time is up for this question: it has closed")
        if is_open and now_ms > player.accepts_until_ms:
            raise Rejected(ErrorCode.TOO_LATE, "time is up for this question")
        if not is_open:
            if player.at < 0 or player.at_closed:
                raise Rejected(ErrorCode.QUESTION_NOT_OPEN, "open your next question first")
            raise Rejected(ErrorCode.WRONG_QUESTION, "that question is not your open one")
        record, accepted = self._score(
            player, index, option, now_ms, player.opened_at_ms, sent_at_ms, (), player.limit_ms
        )
        self._publish(player, record)
        events = (accepted, *self._close_for(player, CloseReason.ANSWERED, now_ms))
        self._drop_closed_expiries()
        return AnswerOutcome(AnswerStatus.ACCEPTED, record, events)

    def _score(
        self,
        player: Player,
        index: int,
        option: int,
        now_ms: int,
        opened_at_ms: int,
        sent_at_ms: int | None,
        pauses: tuple[tuple[int, int], ...],
        limit_ms: int,
    ) -> tuple[AnswerRecord, AnswerAccepted]:
        """Score and keep one accepted answer to question ``index``, opened (for everyone, or
        for this player alone) at ``opened_at_ms``, the player's time limit ``limit_ms``: the
        one place the scoring rules are applied, whatever the pace."""
        correct = option == self.questions[index].correct_option
        streak = player.streak + 1 if correct else 0
        elapsed = scoring.answer_time(
            opened_at_ms, sent_at_ms, now_ms, self.settings, pauses, limit_ms
        )
        points = scoring.points_for(correct, elapsed, streak, self.settings, limit_ms)
        record = AnswerRecord(
            player_id=player.id,
            index=index,
            option=option,
            correct=correct,
            points=points,
            score=player.score + points,
            streak=streak,
            elapsed_ms=elapsed,
            seq=self._next_seq(),
            at_ms=now_ms,
        )
        player.answers[index] = record
        player.score = record.score
        player.streak = streak
        player.correct_count += correct
        accepted = AnswerAccepted(
            seq=record.seq,
            at_ms=now_ms,
            player_id=player.id,
            index=index,
            option=option,
            correct=correct,
            points=points,
            score=record.score,
            streak=streak,
            elapsed_ms=elapsed,
        )
        return record, accepted

    # ------------------------------------------------------------------ internals

    def _require_room(self) -> None:
        if self.locked:
            raise Rejected(ErrorCode.LOBBY_LOCKED, "the host has locked this quiz")
        if self.phase not in (Phase.LOBBY, Phase.IN_PROGRESS) and not self.settings.allow_late_join:
            raise Rejected(ErrorCode.LATE_JOIN_CLOSED, "this quiz has already started")

    def _require_seat(self) -> None:
        if len(self.board) >= self.settings.max_players:
            raise Rejected(ErrorCode.QUIZ_FULL, "this quiz is full")

    def _add_player(
        self,
        name: str,
        now_ms: int,
        user_id: str | None = None,
        *,
        approved: bool = True,
        team: int | None = None,
    ) -> PlayerJoined:
        player_id = self._next_player_id
        self._next_player_id += 1
        event = PlayerJoined(
            seq=self._next_seq(),
            at_ms=now_ms,
            player_id=player_id,
            nickname=name,
            late=self.phase not in (Phase.LOBBY, Phase.IN_PROGRESS),
            approved=approved,
            # the team picked (team_choice), else one of the smallest teams
            team=team if team is not None else self._smallest_team(player_id, name),
        )
        player = self.players[player_id] = Player(player_id, name, event.seq, user_id)
        player.approved = approved
        if event.team is not None:
            self.board.assign(player_id, event.team)
            self.team_sizes[event.team] += 1
        if approved:
            self.board.set(player_id, 0, event.seq)
            self._present += 1
        return event

    def _smallest_team(self, player_id: int, name: str) -> int | None:
        """A team for a newcomer who did not pick one: one of the smallest (so sizes never
        differ by more than one unless the host moves players), drawn by a hash of the player
        and their name, so friends who join one after the other are not split or kept together
        by their order, and a replay draws the same (the core draws nothing at random)."""
        if not self.team_sizes:
            return None
        smallest = min(self.team_sizes)
        teams = [team for team, size in enumerate(self.team_sizes) if size == smallest]
        digest = hashlib.blake2b(f"{player_id}:{name}".encode(), digest_size=8).digest()
        return teams[int.from_bytes(digest, "big") % len(teams)]

    def _next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def _require_not_finished(self) -> None:
        if self.phase is Phase.FINISHED:
            raise Rejected(ErrorCode.QUIZ_FINISHED, "this quiz has finished")

    def _require_open(self, question: int | None = None) -> None:
        self._require_live()
        if self.phase is not Phase.QUESTION_OPEN:
            raise Rejected(ErrorCode.ILLEGAL_STATE, "no question is open")
        self._require_current(question, "open")

    def _require_current(self, question: int | None, state: str) -> None:
        """A host command that names its question acts on that question only: one sent
        before the quiz moved on (over a link that failed and healed, from a second tab) is
        refused rather than closing or skipping a question the host never meant."""
        if question is not None and question != self.current:
            raise Rejected(
                ErrorCode.ILLEGAL_STATE,
                f"question {question} is not the {state} question: question {self.current} is",
            )

    def _require_live(self) -> None:
        if self.self_paced and self.phase is not Phase.FINISHED:
            raise Rejected(
                ErrorCode.ILLEGAL_STATE,
                "a self-paced quiz has no shared question: each player moves on by themselves",
            )

    def _set_present(self, player: Player, present: bool) -> None:
        player.present = present
        if not player.approved:  # counted once the host approves the name
            return
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
        # With reading time the prompt shows alone first; the time limit, speed points and
        # deadlines all run from when the options show.
        reading = self.settings.reading_ms
        self.options_at_ms = now_ms + reading if reading else None
        shown_at = now_ms + reading
        self.opened_at_ms = shown_at
        # Extra time counts for those here as it opens: an absent student's would keep the
        # whole class waiting for nobody.
        self._extra_ms = {
            player.id: scoring.extra_ms(player.extra_percent, self.settings)
            for player in self.players.values()
            if player.extra_percent and player.present and player.approved and not player.kicked
        }
        longest = max(self._extra_ms.values(), default=0)
        self.closes_at_ms = scoring.deadline(shown_at, self.settings)
        self.accepts_until_ms = scoring.accepts_until(shown_at, self.settings) + longest
        self._answered_present = 0
        self._current_answers = []
        self.paused_at_ms = None
        self._pauses = []
        self.next_at_ms = None
        return QuestionOpened(
            seq=self._next_seq(),
            at_ms=now_ms,
            index=index,
            closes_at_ms=self.closes_at_ms,
            accepts_until_ms=self.accepts_until_ms,
            extra_ms=tuple(sorted(self._extra_ms.items())),
            options_at_ms=self.options_at_ms,
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
        self.paused_at_ms = None  # closed (by the host) while paused: nothing stands still now
        self.options_at_ms = None  # or before its options showed
        counts = [0] * len(question.options)
        skipped = reason is CloseReason.SKIP
        for record in self._current_answers:
            counts[record.option] += 1
            player = self.players[record.player_id]
            if skipped:
                self._take_back(player, record)
            elif self.settings.reveal is RevealMode.AT_CLOSE and not player.kicked:
                self._publish(player, record)
        if skipped:
            self.skipped.add(self.current)
        else:  # a missed question ends a streak; a skipped one was asked of nobody
            for player in self.players.values():
                if self.current not in player.answers:
                    player.streak = player.published_streak = 0
        self.phase = Phase.QUESTION_CLOSED
        auto = self.settings.auto_advance_ms
        self.next_at_ms = now_ms + auto if auto and reason is not CloseReason.END else None
        closed = QuestionClosed(
            seq=self._next_seq(),
            at_ms=now_ms,
            index=self.current,
            correct_option=question.correct_option,
            option_counts=tuple(counts),
            reason=reason,
            next_at_ms=self.next_at_ms,
        )
        self.closed_seqs.append(closed.seq)
        return closed

    def _take_back(self, player: Player, record: AnswerRecord) -> None:
        """Undo one accepted answer to the current question (it is being skipped): the
        player's score, right answers and streak as before it, and their place on the board
        as it was (the tie-break is the event at which they reached their score)."""
        del player.answers[record.index]
        player.score -= record.points
        player.correct_count -= record.correct
        player.streak = self._streak_before(player, record.index)
        if player.kicked:
            return
        if player.published_score != player.score:
            scored = [r.seq for r in player.answers.values() if r.points > 0]
            self.board.set(player.id, player.score, max(scored, default=player.joined_seq))
        player.published_score = player.score
        player.published_streak = player.streak

    def _streak_before(self, player: Player, index: int) -> int:
        """A player's streak as it was when question ``index`` opened: their streak after the
        last question before it that counted (0 if they missed it, or there is none)."""
        for earlier in range(index - 1, -1, -1):
            if earlier in self.skipped:
                continue
            record = player.answers.get(earlier)
            return 0 if record is None else record.streak
        return 0

    def _open_for(self, player: Player, index: int, now_ms: int) -> PlayerQuestionOpened:
        assert self.due_at_ms is not None
        player.at = index
        player.at_closed = False
        player.opened_at_ms = now_ms
        extra = scoring.extra_ms(player.extra_percent, self.settings)
        player.limit_ms = self.settings.time_limit_ms + extra
        player.closes_at_ms = min(scoring.deadline(now_ms, self.settings) + extra, self.due_at_ms)
        player.accepts_until_ms = player.closes_at_ms + self.settings.grace_ms
        heapq.heappush(self._expiries, (player.accepts_until_ms, player.id, index))
        return PlayerQuestionOpened(
            seq=self._next_seq(),
            at_ms=now_ms,
            player_id=player.id,
            index=index,
            closes_at_ms=player.closes_at_ms,
            accepts_until_ms=player.accepts_until_ms,
        )

    def _close_for(self, player: Player, reason: CloseReason, now_ms: int) -> list[Event]:
        """Close a player's question: their reveal; a missed one ends their streak; after the
        last question they have finished."""
        index = player.at
        player.at_closed = True
        if index not in player.answers:
            player.streak = player.published_streak = 0
        events: list[Event] = [
            PlayerQuestionClosed(
                seq=self._next_seq(),
                at_ms=now_ms,
                player_id=player.id,
                index=index,
                correct_option=self.questions[index].correct_option,
                reason=reason,
            )
        ]
        if index == len(self.questions) - 1:
            player.finished = True
            events.append(
                PlayerFinished(
                    seq=self._next_seq(),
                    at_ms=now_ms,
                    player_id=player.id,
                    score=player.score,
                    correct=player.correct_count,
                )
            )
        return events

    def _close_every_open(self, now_ms: int) -> list[Event]:
        """Self-paced, at the end: every player's open question closes (in player order)."""
        events: list[Event] = []
        for player in self.players.values():
            if player.at >= 0 and not player.at_closed and not player.kicked:
                events += self._close_for(player, CloseReason.END, now_ms)
        self._expiries.clear()
        return events

    def _drop_closed_expiries(self) -> None:
        """Keep the promise of ``_expiries``: its top is a question still open."""
        while self._expiries:
            _, player_id, index = self._expiries[0]
            player = self.players[player_id]
            if player.at == index and not player.at_closed and not player.kicked:
                return
            heapq.heappop(self._expiries)

    def _finish(self, reason: FinishReason, now_ms: int) -> QuizFinished:
        self.phase = Phase.FINISHED
        self.next_at_ms = None
        return QuizFinished(seq=self._next_seq(), at_ms=now_ms, reason=reason)

    def check_invariants(self) -> None:
        """Raise :class:`CoreBug` if the session contradicts itself (used by tests and replay)."""
        for player in self.players.values():
            total = sum(record.points for record in player.answers.values())
            if total != player.score:
                raise CoreBug(f"player {player.id}: score {player.score} != answers {total}")
            if (not player.kicked and player.approved) != (player.id in self.board):
                raise CoreBug(f"player {player.id}: kicked, approved and on the board disagree")
        present = sum(p.present and p.approved for p in self.players.values())
        if present != self._present:
            raise CoreBug(f"present count {self._present} != {present}")
        for player in self.players.values():
            if player.finished and not (player.at == len(self.questions) - 1 and player.at_closed):
                raise CoreBug(f"player {player.id}: finished before closing the last question")
            if not self.self_paced and player.at != -1:
                raise CoreBug(f"player {player.id}: a question of their own in a live quiz")
        if self.paused_at_ms is not None and self.phase is not Phase.QUESTION_OPEN:
            raise CoreBug("paused, but no question is open")
        if self._expiries:
            _, player_id, index = self._expiries[0]
            top = self.players[player_id]
            if top.at != index or top.at_closed or top.kicked:
                raise CoreBug("the soonest expiry is of a question no longer open")
