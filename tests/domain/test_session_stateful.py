"""A model-based test of :class:`QuizSession`: random command sequences against a recount.

The machine drives a real session and, beside it, a small independent model of what the rules
(module docstrings of ``session``, ``scoring``, ``ranking``, ``views`` and ``settings``) say must
happen. For every command it checks that

* a refusal (:class:`Rejected`) carries a code the model allows and leaves the session exactly as
  it was (a deep snapshot of its public state);
* a success was expected, and returns exactly the events the model predicts, numbered
  ``old seq + 1 … session.seq``, stamped with the current time;
* an operation that changes nobody's board score does not reorder the board;

and after every step that the session agrees with the model (phase, players, answers, scores,
streaks, the board and its ranks) and that no view gives away the open question's answer.

Finished is terminal: there the model refuses every host command and every join with
``quiz_finished`` or ``illegal_state``, refuses every answer (repeats included) with
``quiz_finished``, and lets only leave/rejoin through. An answer gets exactly one refusal code,
in the order ``QuizSession.submit_answer`` documents: the model allows no other.

The plain tests at the end are minimal reproductions of core bugs this machine found.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from livequiz.domain import views
from livequiz.domain.errors import ErrorCode, Rejected
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
from livequiz.domain.question import Question
from livequiz.domain.ranking import Placing
from livequiz.domain.session import AnswerRecord, AnswerStatus, Phase, QuizSession
from livequiz.domain.settings import QuizSettings, RevealMode, ScoringMode

T = TypeVar("T")

#: What a host command may be refused with once the quiz has finished.
FINISHED_CODES = frozenset({ErrorCode.QUIZ_FINISHED, ErrorCode.ILLEGAL_STATE})

#: Raw nickname → how it must be shown (``None``: must be refused as invalid). Several collide
#: once case-folded (ann/ANN, bo/ｂｏ, Straße/STRASSE, ﬀ/FF, cy  d/Cy D).
NICKNAMES: list[tuple[object, str | None]] = [
    ("ann", "ann"),
    ("ANN", "ANN"),
    ("  Ann\t", "Ann"),
    ("bo", "bo"),
    ("ｂｏ", "bo"),  # full-width letters become plain ones (NFKC)
    ("cy  d", "cy d"),
    ("Cy D", "Cy D"),
    ("Straße", "Straße"),
    ("STRASSE", "STRASSE"),
    ("ﬀ", "ff"),  # the ligature is two letters after NFKC
    ("FF", "FF"),
    ("d'x", "d'x"),
    ("eve", "eve"),
    ("fay", "fay"),
    ("gus 2", "gus 2"),
    ("hal_9", "hal_9"),
    ("ivy.k", "ivy.k"),
    ("x", None),
    ("", None),
    ("   ", None),
    ("a!", None),
    ("--", None),
    ("a" * 21, None),
    (42, None),
    (None, None),
    (b"ann", None),
]

#: Distinct valid nicknames for the players already there when the machine starts.
FIRST_PLAYERS: list[tuple[object, str | None]] = [
    ("ann", "ann"),
    ("bo", "bo"),
    ("Cy D", "Cy D"),
    ("d'x", "d'x"),
    ("Straße", "Straße"),
    ("eve", "eve"),
]

#: Question indexes and options the clients might send, the valid ones and junk.
JUNK = st.sampled_from(["0", 1.0, True, False, None, [0]])
INDEXES = st.one_of(st.integers(-1, 6), JUNK)
OPTIONS = st.one_of(st.integers(-1, 4), JUNK)
#: ``sent_at_ms`` relative to the opening of the current question (None: not known).
SENT_OFFSETS = st.one_of(st.none(), st.integers(-2_000, 3_000))
#: Which player a command is about: mostly one who joined, sometimes an unknown id.
PICKS = st.integers(0, 20)
#: How the clock moves in one step: up to 3 s (mostly less), or to around the last accepted ms.
CLOCK_STEPS = st.one_of(
    st.integers(0, 500),
    st.integers(0, 3_000),
    st.sampled_from(["deadline-1", "deadline", "deadline+1"]),
)
#: Every host command, tried in any phase (mostly to see it refused properly); ``end`` is rarer,
#: as nothing but leave and rejoin works after it.
HOST_COMMANDS = st.sampled_from(["close", "next", "skip", "lock", "unlock", "start"] * 2 + ["end"])

SETTINGS = st.builds(
    QuizSettings,
    time_limit_ms=st.integers(1_000, 5_000),
    grace_ms=st.integers(0, 1_000),
    scoring=st.sampled_from(ScoringMode),
    base_points=st.one_of(st.just(1_000), st.integers(1, 2_000)),
    streak_bonus=st.one_of(st.just(100), st.integers(0, 300)),
    streak_bonus_cap=st.one_of(st.just(500), st.integers(0, 600)),
    reveal=st.sampled_from(RevealMode),
    close_when_all_answered=st.sampled_from([True, True, False]),  # True is the default
    allow_late_join=st.booleans(),
    max_players=st.integers(3, 6),
    top_k=st.integers(1, 6),
    max_delivery_lag_ms=st.integers(0, 1_500),
)


def make_question(index: int, option_count: int, correct: int) -> Question:
    """A question whose word, definition and example appear nowhere but in its reveal."""
    return Question(
        prompt=f"Which choice fits prompt number {index}?",
        options=tuple(f"choice {index}-{option}" for option in range(option_count)),
        correct_option=correct,
        kind="word_to_meaning",
        word=f"secretword{index}",
        definition=f"secret definition {index}",
        example=f"secret example {index}",
    )


@st.composite
def question_lists(draw: st.DrawFn) -> list[Question]:
    questions = []
    for index in range(draw(st.integers(3, 5))):
        option_count = draw(st.integers(2, 4))
        questions.append(make_question(index, option_count, draw(st.integers(0, option_count - 1))))
    return questions


# ---------------------------------------------------------------------------- snapshot


def snapshot(session: QuizSession) -> dict[str, object]:
    """A deep copy of everything observable about the session, for before/after comparison."""
    return {
        "phase": session.phase,
        "seq": session.seq,
        "current": session.current,
        "locked": session.locked,
        "opened_at_ms": session.opened_at_ms,
        "closes_at_ms": session.closes_at_ms,
        "accepts_until_ms": session.accepts_until_ms,
        "present_count": session.present_count,
        "answered_count": session.answered_count,
        "settings": session.settings,
        "players": [
            (
                player.id,
                player.nickname,
                player.joined_seq,
                player.present,
                player.kicked,
                player.score,
                player.published_score,
                player.streak,
                player.published_streak,
                player.correct_count,
                tuple(player.answers.items()),  # records are frozen: equal means unchanged
            )
            for player in session.players.values()
        ],
        "board": list(session.board),
        "board_len": len(session.board),
    }


def json_keys(value: object) -> Iterator[str]:
    """Every key of every mapping inside a JSON-like value."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from json_keys(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from json_keys(item)


# ---------------------------------------------------------------------------- the model


def expected_elapsed(opened: int, sent: int | None, arrived: int, s: QuizSettings) -> int:
    """The scoring docstring's answer time, recomputed."""
    start = opened if sent is None else sent
    if start < opened:
        start = opened
    if start > opened + s.max_delivery_lag_ms:
        start = opened + s.max_delivery_lag_ms
    elapsed = arrived - start
    if elapsed < 0:
        return 0
    return min(elapsed, s.time_limit_ms)


def expected_points(correct: bool, elapsed: int, streak: int, s: QuizSettings) -> int:
    """The scoring docstring's points, recomputed."""
    if not correct or s.scoring is ScoringMode.NONE:
        return 0
    bonus = min(s.streak_bonus * (streak - 1), s.streak_bonus_cap)
    if s.scoring is ScoringMode.ACCURACY:
        return s.base_points + bonus
    return s.base_points - (s.base_points * elapsed) // (2 * s.time_limit_ms) + bonus


@dataclass
class ModelPlayer:
    id: int
    nickname: str
    joined_seq: int
    present: bool = True
    kicked: bool = False
    streak: int = 0
    #: Accepted answers, exactly as the session returned them with status ACCEPTED.
    answers: dict[int, AnswerRecord] = field(default_factory=dict)
    published_score: int = 0
    published_streak: int = 0
    #: The event that gave the published score (the join for 0).
    reached_seq: int = 0
    #: (streak, published_score, published_streak, reached_seq) when the current question
    #: opened: what a skip of it gives back to a player who had answered it.
    at_open: tuple[int, int, int, int] = (0, 0, 0, 0)

    @property
    def key(self) -> str:
        return self.nickname.casefold()

    @property
    def score(self) -> int:
        return sum(record.points for record in self.answers.values())


@dataclass
class Model:
    questions: list[Question]
    settings: QuizSettings
    phase: Phase = Phase.LOBBY
    current: int = -1
    locked: bool = False
    seq: int = 0
    opened_at: int = 0
    closes_at: int = 0
    accepts_until: int = 0
    #: accepts_until of every question opened so far.
    accepts_until_of: dict[int, int] = field(default_factory=dict)
    players: dict[int, ModelPlayer] = field(default_factory=dict)
    next_id: int = 1
    #: Questions the host skipped: they count for nobody.
    skipped: set[int] = field(default_factory=set)
    #: The seq at which each question closed.
    closed_at_seq: dict[int, int] = field(default_factory=dict)

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def active(self) -> list[ModelPlayer]:
        return [p for p in self.players.values() if not p.kicked]

    def player_refusals(self, player_id: int) -> set[ErrorCode]:
        player = self.players.get(player_id)
        if player is None:
            return {ErrorCode.UNKNOWN_PLAYER}
        if player.kicked:
            return {ErrorCode.KICKED}
        return set()

    def all_present_answered(self) -> bool:
        present = [p for p in self.players.values() if p.present]
        return bool(present) and all(self.current in p.answers for p in present)

    def publish(self, player: ModelPlayer, record: AnswerRecord) -> None:
        if record.score != player.published_score:
            player.reached_seq = record.seq
        player.published_score = record.score
        player.published_streak = record.streak

    def open(self, index: int, now: int) -> Event:
        self.phase = Phase.QUESTION_OPEN
        self.current = index
        self.opened_at = now
        self.closes_at = now + self.settings.time_limit_ms
        self.accepts_until = self.closes_at + self.settings.grace_ms
        self.accepts_until_of[index] = self.accepts_until
        for p in self.players.values():
            p.at_open = (p.streak, p.published_score, p.published_streak, p.reached_seq)
        return QuestionOpened(
            seq=self.next_seq(),
            at_ms=now,
            index=index,
            closes_at_ms=self.closes_at,
            accepts_until_ms=self.accepts_until,
        )

    def close(self, reason: CloseReason, now: int) -> Event:
        question = self.questions[self.current]
        counts = [0] * len(question.options)
        skip = reason is CloseReason.SKIP
        for player in self.players.values():
            record = player.answers.get(self.current)
            if record is None:
                if not skip:
                    player.streak = player.published_streak = 0
                continue
            counts[record.option] += 1
            if skip:  # taken back: as it was when the question opened
                del player.answers[self.current]
                streak, published, published_streak, reached = player.at_open
                player.streak = streak
                if not player.kicked:
                    player.published_score, player.published_streak = published, published_streak
                    player.reached_seq = reached
            elif self.settings.reveal is RevealMode.AT_CLOSE and not player.kicked:
                self.publish(player, record)
        if skip:
            self.skipped.add(self.current)
        self.phase = Phase.QUESTION_CLOSED
        self.closed_at_seq[self.current] = self.seq + 1
        return QuestionClosed(
            seq=self.next_seq(),
            at_ms=now,
            index=self.current,
            correct_option=question.correct_option,
            option_counts=tuple(counts),
            reason=reason,
        )

    def close_if_all_answered(self, now: int) -> list[Event]:
        if (
            self.settings.close_when_all_answered
            and self.phase is Phase.QUESTION_OPEN
            and self.all_present_answered()
        ):
            return [self.close(CloseReason.ALL_ANSWERED, now)]
        return []

    def next(self, now: int) -> Event:
        if self.current + 1 < len(self.questions):
            return self.open(self.current + 1, now)
        return self.finish(FinishReason.COMPLETED, now)

    def finish(self, reason: FinishReason, now: int) -> Event:
        self.phase = Phase.FINISHED
        return QuizFinished(seq=self.next_seq(), at_ms=now, reason=reason)

    def board(self) -> list[Placing]:
        """The board as the ranking docstring defines it, from the model's published scores."""
        order = sorted(self.active(), key=lambda p: (-p.published_score, p.reached_seq, p.id))
        placings = []
        for position, player in enumerate(order, start=1):
            higher = sum(other.published_score > player.published_score for other in order)
            assert higher + 1 <= position
            placings.append(Placing(player.id, player.published_score, higher + 1))
        return placings


# ---------------------------------------------------------------------------- the machine


@dataclass
class Attempt:
    """A command that was not refused: what it returned and the state before it."""

    result: Any
    before: dict[str, object]
    board_before: list[int]
    published_before: dict[int, int]


@settings(max_examples=150, stateful_step_count=40, deadline=None)
class QuizMachine(RuleBasedStateMachine):
    session: QuizSession
    model: Model
    now: int
    #: Every ACCEPTED record, for repeats.
    accepted: list[AnswerRecord]

    @initialize(
        quiz_settings=SETTINGS,
        questions=question_lists(),
        start=st.integers(0, 10**6),
        first_players=st.one_of(st.integers(2, 6), st.integers(0, 6)),
        started=st.booleans(),
    )
    def setup(
        self,
        quiz_settings: QuizSettings,
        questions: list[Question],
        start: int,
        first_players: int,
        started: bool,
    ) -> None:
        self.session = QuizSession(questions, quiz_settings)
        self.model = Model(questions, quiz_settings)
        self.now = start
        self.accepted = []
        for case in FIRST_PLAYERS[:first_players]:
            self.join(case)
        if started:
            self.do_start()

    def pick_player(self, pick: int) -> int:
        """A player id: one who joined (kicked or not) for most picks, else an unknown one."""
        ids = sorted(self.model.players)
        if pick < 16 and ids:
            return ids[pick % len(ids)]
        return (0, -1, self.model.next_id, self.model.next_id + 1, 10**9)[pick % 5]

    # ------------------------------------------------------------ command harness

    def attempt(self, refusals: set[ErrorCode], action: Callable[[], T]) -> Attempt | None:
        """Run one command; check refusal ⇔ model refusal, and that a refusal changed nothing."""
        before = snapshot(self.session)
        board_before = [placing.player_id for placing in self.session.board]
        published = {p.id: p.published_score for p in self.model.players.values()}
        error: Rejected | None = None
        result: T | None = None
        try:
            result = action()
        except Rejected as caught:
            error = caught
        if error is not None:
            assert refusals, f"refused with {error!r}, but the model expected success"
            assert error.code in refusals, f"refused with {error!r}, expected one of {refusals}"
            assert snapshot(self.session) == before, f"{error!r} changed the session"
            return None
        assert not refusals, f"accepted, but the model expected a refusal with one of {refusals}"
        return Attempt(result, before, board_before, published)

    def check_events(
        self, attempt: Attempt, events: Sequence[Event], expected: Sequence[Event]
    ) -> None:
        old_seq = attempt.before["seq"]
        assert isinstance(old_seq, int)
        assert [event.seq for event in events] == list(
            range(old_seq + 1, old_seq + 1 + len(events))
        )
        assert self.session.seq == old_seq + len(events)
        assert all(event.at_ms == self.now for event in events)
        assert list(events) == list(expected)
        if not events:
            assert snapshot(self.session) == attempt.before, "a change without an event"
        # An operation that changes nobody's board score does not reorder the board.
        common = [
            pid
            for pid in attempt.board_before
            if pid in self.session.board and pid in attempt.published_before
        ]
        if all(
            self.model.players[pid].published_score == attempt.published_before[pid]
            for pid in common
        ):
            after = [p.player_id for p in self.session.board if p.player_id in common]
            assert after == common, f"board reordered without a score change: {common} → {after}"

    def host_refusals(self, legal: bool) -> set[ErrorCode]:
        if self.model.phase is Phase.FINISHED:
            return set(FINISHED_CODES)
        return set() if legal else {ErrorCode.ILLEGAL_STATE}

    # ------------------------------------------------------------ clock

    @rule(step=CLOCK_STEPS, tick=st.booleans())
    def clock(self, step: int | str, tick: bool) -> None:
        """Time passes (or jumps to around the last accepted millisecond); maybe the clock ticks."""
        if isinstance(step, int):
            self.now += step
        elif self.model.phase is Phase.QUESTION_OPEN:
            offset = {"deadline-1": -1, "deadline": 0, "deadline+1": 1}[step]
            self.now = max(self.now, self.model.accepts_until + offset)
        if tick:
            self.tick()

    def tick(self) -> None:
        attempt = self.attempt(set(), lambda: self.session.tick(self.now))
        assert attempt is not None
        m = self.model
        expected = []
        if m.phase is Phase.QUESTION_OPEN and self.now > m.accepts_until:
            expected.append(m.close(CloseReason.TIME, self.now))
        self.check_events(attempt, attempt.result, expected)

    # ------------------------------------------------------------ players

    @rule(action=st.sampled_from(["leave", "rejoin", "kick"]), pick=PICKS)
    def player_command(self, action: str, pick: int) -> None:
        """A player leaves or comes back, or the host kicks them."""
        {"leave": self.leave, "rejoin": self.rejoin, "kick": self.kick}[action](
            self.pick_player(pick)
        )

    @precondition(
        lambda self: (
            self.model.phase is Phase.QUESTION_OPEN
            and any(p.present for p in self.model.players.values())
        )
    )
    @rule(pick=PICKS, kick=st.booleans())
    def a_player_goes_during_a_question(self, pick: int, kick: bool) -> None:
        """A present player leaves or is kicked while a question is open: mostly one who has not
        answered it (after which every present player may have answered, and with
        ``close_when_all_answered`` the question must close), else one who has."""
        waiting = self.waiting()
        present = [p.id for p in self.model.players.values() if p.present]
        choices = waiting if waiting and pick % 3 else present
        (self.kick if kick else self.leave)(choices[pick % len(choices)])

    def waiting(self) -> list[int]:
        """Present players who have not answered the open question (none if no question is open)."""
        m = self.model
        if m.phase is not Phase.QUESTION_OPEN:
            return []
        return [p.id for p in m.players.values() if p.present and m.current not in p.answers]

    @rule(case=st.sampled_from(NICKNAMES))
    def join(self, case: tuple[object, str | None]) -> None:
        raw, shown = case
        m = self.model
        refusals: set[ErrorCode] = set()
        if m.phase is Phase.FINISHED:
            refusals = set(FINISHED_CODES)
        else:
            if m.locked:
                refusals.add(ErrorCode.LOBBY_LOCKED)
            if m.phase is not Phase.LOBBY and not m.settings.allow_late_join:
                refusals.add(ErrorCode.LATE_JOIN_CLOSED)
            if shown is None:
                refusals.add(ErrorCode.NICKNAME_INVALID)
            elif any(p.key == shown.casefold() for p in m.active()):
                refusals.add(ErrorCode.NICKNAME_TAKEN)
            if len(m.active()) >= m.settings.max_players:
                refusals.add(ErrorCode.QUIZ_FULL)
        attempt = self.attempt(refusals, lambda: self.session.join(raw, self.now))
        if attempt is None:
            return
        assert shown is not None
        event = PlayerJoined(
            seq=m.next_seq(),
            at_ms=self.now,
            player_id=m.next_id,
            nickname=shown,
            late=m.phase is not Phase.LOBBY,
        )
        m.players[m.next_id] = ModelPlayer(
            m.next_id, shown, event.seq, reached_seq=event.seq, at_open=(0, 0, 0, event.seq)
        )
        m.next_id += 1
        self.check_events(attempt, [attempt.result], [event])

    def leave(self, player_id: int) -> None:
        m = self.model
        refusals = m.player_refusals(player_id)
        if not refusals and not m.players[player_id].present:
            refusals.add(ErrorCode.ILLEGAL_STATE)
        attempt = self.attempt(refusals, lambda: self.session.leave(player_id, self.now))
        if attempt is None:
            return
        m.players[player_id].present = False
        expected: list[Event] = [PlayerLeft(seq=m.next_seq(), at_ms=self.now, player_id=player_id)]
        # the settings' rule: close as soon as every *present* player has answered
        expected += m.close_if_all_answered(self.now)
        self.check_events(attempt, attempt.result, expected)

    def rejoin(self, player_id: int) -> None:
        m = self.model
        attempt = self.attempt(
            m.player_refusals(player_id), lambda: self.session.rejoin(player_id, self.now)
        )
        if attempt is None:
            return
        player = m.players[player_id]
        expected: list[Event] = []
        if not player.present:
            player.present = True
            expected.append(PlayerRejoined(seq=m.next_seq(), at_ms=self.now, player_id=player_id))
            expected += m.close_if_all_answered(self.now)
        self.check_events(attempt, attempt.result, expected)

    def kick(self, player_id: int) -> None:
        m = self.model
        if m.phase is Phase.FINISHED:
            refusals = set(FINISHED_CODES)
        else:
            refusals = m.player_refusals(player_id)
        attempt = self.attempt(refusals, lambda: self.session.kick(player_id, self.now))
        if attempt is None:
            return
        player = m.players[player_id]
        player.present = False
        player.kicked = True
        expected: list[Event] = [
            PlayerKicked(seq=m.next_seq(), at_ms=self.now, player_id=player_id)
        ]
        expected += m.close_if_all_answered(self.now)
        self.check_events(attempt, attempt.result, expected)

    def set_locked(self, locked: bool) -> None:
        m = self.model
        attempt = self.attempt(
            self.host_refusals(True), lambda: self.session.set_locked(locked, self.now)
        )
        if attempt is None:
            return
        expected: list[Event] = []
        if locked != m.locked:
            m.locked = locked
            expected.append(LobbyLockChanged(seq=m.next_seq(), at_ms=self.now, locked=locked))
        self.check_events(attempt, attempt.result, expected)

    # ------------------------------------------------------------ host flow

    @rule(command=HOST_COMMANDS)
    def host_command(self, command: str) -> None:
        """Any host command in any phase; legal ones also have their own, state-aware rules."""
        if command in ("lock", "unlock"):
            self.set_locked(command == "lock")
        else:
            {
                "start": self.do_start,
                "close": self.do_close,
                "next": self.do_next,
                "skip": self.do_skip,
                "end": self.do_end,
            }[command]()

    @precondition(lambda self: self.model.phase is Phase.LOBBY)
    @rule()
    def start(self) -> None:
        self.do_start()

    @precondition(lambda self: self.model.phase is Phase.QUESTION_CLOSED)
    @rule()
    def next(self) -> None:
        self.do_next()

    def do_start(self) -> None:
        m = self.model
        refusals = self.host_refusals(m.phase is Phase.LOBBY)
        attempt = self.attempt(refusals, lambda: self.session.start(self.now))
        if attempt is None:
            return
        started = QuizStarted(seq=m.next_seq(), at_ms=self.now, question_count=len(m.questions))
        self.check_events(attempt, attempt.result, [started, m.open(0, self.now)])

    def do_close(self) -> None:
        m = self.model
        refusals = self.host_refusals(m.phase is Phase.QUESTION_OPEN)
        attempt = self.attempt(refusals, lambda: self.session.close_question(self.now))
        if attempt is None:
            return
        self.check_events(attempt, attempt.result, [m.close(CloseReason.HOST, self.now)])

    def do_next(self) -> None:
        m = self.model
        refusals = self.host_refusals(m.phase is Phase.QUESTION_CLOSED)
        attempt = self.attempt(refusals, lambda: self.session.next(self.now))
        if attempt is None:
            return
        self.check_events(attempt, attempt.result, [m.next(self.now)])

    def do_skip(self) -> None:
        m = self.model
        refusals = self.host_refusals(m.phase is Phase.QUESTION_OPEN)
        attempt = self.attempt(refusals, lambda: self.session.skip(self.now))
        if attempt is None:
            return
        closed = m.close(CloseReason.SKIP, self.now)
        self.check_events(attempt, attempt.result, [closed, m.next(self.now)])

    def do_end(self) -> None:
        m = self.model
        attempt = self.attempt(self.host_refusals(True), lambda: self.session.end(self.now))
        if attempt is None:
            return
        expected = []
        if m.phase is Phase.QUESTION_OPEN:
            expected.append(m.close(CloseReason.END, self.now))
        expected.append(m.finish(FinishReason.ENDED, self.now))
        self.check_events(attempt, attempt.result, expected)

    # ------------------------------------------------------------ answers

    def submit(self, player_id: int, index: object, option: object, sent: int | None) -> None:
        m = self.model
        refusals = m.player_refusals(player_id)
        first = None
        if m.phase is Phase.FINISHED:
            refusals = {ErrorCode.QUIZ_FINISHED}
        elif refusals:
            pass
        elif type(index) is not int or not 0 <= index < len(m.questions):
            refusals.add(ErrorCode.WRONG_QUESTION)
        elif type(option) is not int or not 0 <= option < len(m.questions[index].options):
            refusals.add(ErrorCode.INVALID_OPTION)
        else:
            first = m.players[player_id].answers.get(index)
        if not refusals and first is None:
            # a new answer: only to the open question, in time
            is_open = m.phase is Phase.QUESTION_OPEN and index == m.current
            assert isinstance(index, int)
            if index < m.current or (index == m.current and not is_open):
                refusals.add(ErrorCode.TOO_LATE)  # it has closed
            elif is_open and self.now > m.accepts_until:
                refusals.add(ErrorCode.TOO_LATE)
            elif m.phase is not Phase.QUESTION_OPEN:
                refusals.add(ErrorCode.QUESTION_NOT_OPEN)
            elif not is_open:
                refusals.add(ErrorCode.WRONG_QUESTION)
        attempt = self.attempt(
            refusals,
            lambda: self.session.submit_answer(
                player_id,
                index,
                option,
                self.now,
                sent_at_ms=sent,
            ),
        )
        if attempt is None:
            return
        outcome = attempt.result
        if first is not None:
            # a repeat: the first record back, nothing changed
            status = (
                AnswerStatus.DUPLICATE if first.option == option else AnswerStatus.ALREADY_ANSWERED
            )
            assert outcome.status is status
            assert outcome.record == first
            assert outcome.events == ()
            assert snapshot(self.session) == attempt.before
            return
        assert outcome.status is AnswerStatus.ACCEPTED
        assert type(index) is int
        assert type(option) is int
        player = m.players[player_id]
        question = m.questions[index]
        correct = option == question.correct_option
        streak = player.streak + 1 if correct else 0
        elapsed = expected_elapsed(m.opened_at, sent, self.now, m.settings)
        points = expected_points(correct, elapsed, streak, m.settings)
        seq = m.next_seq()
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
            at_ms=self.now,
        )
        assert outcome.record == record
        player.answers[index] = outcome.record
        player.streak = streak
        self.accepted.append(outcome.record)
        if m.settings.reveal is RevealMode.IMMEDIATE:
            m.publish(player, record)
        accepted = AnswerAccepted(
            seq=seq,
            at_ms=self.now,
            player_id=player_id,
            index=index,
            option=option,
            correct=correct,
            points=points,
            score=record.score,
            streak=streak,
            elapsed_ms=elapsed,
        )
        self.check_events(attempt, outcome.events, [accepted, *m.close_if_all_answered(self.now)])

    @rule(pick=PICKS, index=INDEXES, option=OPTIONS, sent_offset=SENT_OFFSETS)
    def answer_anything(
        self, pick: int, index: object, option: object, sent_offset: int | None
    ) -> None:
        sent = None if sent_offset is None else self.model.opened_at + sent_offset
        self.submit(self.pick_player(pick), index, option, sent)

    @precondition(lambda self: self.model.phase is Phase.QUESTION_OPEN)
    @rule(
        answers=st.lists(st.tuples(PICKS, st.integers(0, 7), SENT_OFFSETS), min_size=1, max_size=6)
    )
    def answers_arrive(self, answers: list[tuple[int, int, int | None]]) -> None:
        """A burst of answers to the current question, mostly from players yet to answer it."""
        m = self.model
        for pick, option, sent_offset in answers:
            active = [player.id for player in m.active()]
            waiting = self.waiting()
            if waiting and pick < 12:
                player_id = waiting[pick % len(waiting)]
            elif active and pick < 18:
                player_id = active[pick % len(active)]
            else:
                player_id = self.pick_player(pick)
            option_count = len(m.questions[m.current].options)
            sent = None if sent_offset is None else m.opened_at + sent_offset
            # options 0–5 are valid ones, 6 and 7 are as sent (often out of range)
            self.submit(player_id, m.current, option % option_count if option < 6 else option, sent)

    @precondition(lambda self: self.accepted)
    @rule(choice=st.integers(0, 100), same=st.booleans())
    def repeat_answer(self, choice: int, same: bool) -> None:
        first = self.accepted[choice % len(self.accepted)]
        option_count = len(self.model.questions[first.index].options)
        option = first.option if same else (first.option + 1) % option_count
        self.submit(first.player_id, first.index, option, None)

    # ------------------------------------------------------------ invariants

    @invariant()
    def session_agrees_with_the_model(self) -> None:
        s, m = self.session, self.model
        s.check_invariants()
        assert s.seq == m.seq
        assert s.phase is m.phase
        assert s.current == m.current
        assert s.locked == m.locked
        if m.current >= 0:
            assert (s.opened_at_ms, s.closes_at_ms, s.accepts_until_ms) == (
                m.opened_at,
                m.closes_at,
                m.accepts_until,
            )
        assert sorted(s.players) == sorted(m.players) == list(range(1, m.next_id))
        assert s.present_count == sum(p.present for p in m.players.values())
        for pid, mp in m.players.items():
            player = s.players[pid]
            assert (player.nickname, player.joined_seq) == (mp.nickname, mp.joined_seq)
            assert (player.present, player.kicked) == (mp.present, mp.kicked)
            # at most one accepted answer per question, and exactly the ones the test saw
            assert player.answers == mp.answers
            assert player.score == mp.score
            assert player.streak == mp.streak
            assert player.correct_count == sum(r.correct for r in mp.answers.values())
            assert (player.published_score, player.published_streak) == (
                mp.published_score,
                mp.published_streak,
            )
            for index, record in mp.answers.items():
                assert record.index == index
                assert record.player_id == pid
                assert record.at_ms <= m.accepts_until_of[index], "accepted after the deadline"

    @invariant()
    def board_is_sorted_ranked_and_stable(self) -> None:
        s, m = self.session, self.model
        expected = m.board()
        board = list(s.board)
        assert board == expected
        assert list(s.board) == board, "a second read gives another order"
        assert len(s.board) == len(m.active())
        for mp in m.players.values():
            assert (mp.id in s.board) is not mp.kicked
        for placing in board:
            assert s.board.rank_of(placing.player_id) == 1 + sum(
                other.score > placing.score for other in board
            )
            assert s.board.score_of(placing.player_id) == placing.score
        for k in range(len(board) + 2):
            assert s.board.top(k) == board[:k]
        # In at_close mode the board leaves out the open question's points; else it is the score.
        hidden = m.settings.reveal is RevealMode.AT_CLOSE and m.phase is Phase.QUESTION_OPEN
        for placing in board:
            answers = m.players[placing.player_id].answers
            assert placing.score == sum(
                r.points for i, r in answers.items() if not (hidden and i == m.current)
            )

    @invariant()
    def close_when_all_answered_is_honoured(self) -> None:
        m = self.model
        if m.settings.close_when_all_answered and m.phase is Phase.QUESTION_OPEN:
            assert not m.all_present_answered(), (
                "every present player has answered, but the question is still open"
            )

    @invariant()
    def views_show_what_they_may_and_no_more(self) -> None:
        s, m = self.session, self.model
        question = m.questions[m.current] if m.current >= 0 else None
        is_open = m.phase is Phase.QUESTION_OPEN
        at_close = m.settings.reveal is RevealMode.AT_CLOSE
        ranks = {placing.player_id: placing.rank for placing in m.board()}
        frame = views.leaderboard(s)
        host = views.host_view(s, self.now)
        shown: list[dict[str, Any]] = [frame, host]
        assert frame["top"] == [
            {
                "player_id": p.player_id,
                "nickname": m.players[p.player_id].nickname,
                "score": p.score,
                "rank": p.rank,
            }
            for p in m.board()[: m.settings.top_k]
        ]
        assert host["players"] == [
            {
                "player_id": p.id,
                "nickname": p.nickname,
                "present": p.present,
                "score": p.published_score,
                "answered": m.current in p.answers,
                "asks_to_rejoin": False,
                "approved": True,
                "extra_percent": 0,
            }
            for p in m.active()
        ]
        for mp in m.players.values():
            view = views.player_view(s, mp.id, self.now)
            shown.append(view)
            assert view["player"]["score"] == mp.published_score
            assert view["player"]["streak"] == mp.published_streak
            assert view["player"]["rank"] == (None if mp.kicked else ranks[mp.id])
            record = mp.answers.get(m.current)
            if record is None:
                assert view["answer"] is None
            elif at_close and is_open:
                assert view["answer"] == {
                    "index": record.index,
                    "option": record.option,
                    "revealed": False,
                }
            else:
                assert view["answer"] == {
                    "index": record.index,
                    "option": record.option,
                    "revealed": True,
                    "correct": record.correct,
                    "points": record.points,
                    "score": record.score,
                    "streak": record.streak,
                }
            # results never include a question that is still open, was skipped, or closed
            # before the player joined; every other closed one they got wrong or missed is there
            results = views.player_results(s, mp.id)
            review = [
                index
                for index, closed_seq in sorted(m.closed_at_seq.items())
                if index not in m.skipped
                and mp.joined_seq < closed_seq
                and not (index in mp.answers and mp.answers[index].correct)
            ]
            assert [missed["index"] for missed in results["missed"]] == review
            if m.phase in (Phase.QUESTION_OPEN, Phase.QUESTION_CLOSED):
                assert view["asked"] is (is_open or mp.joined_seq < m.closed_at_seq[m.current])
            else:
                assert "asked" not in view
        report = views.final_results(s)
        assert [q["index"] for q in report["questions"]] == [
            index for index in sorted(m.closed_at_seq) if index not in m.skipped
        ]

        texts = [json.dumps(view) for view in shown]  # every view is JSON-ready
        for view in (host, *shown[2:]):
            if question is None:
                assert view["question"] is None
            elif is_open:
                assert "reveal" not in view["question"]
            else:
                assert view["question"]["reveal"]["correct_option"] == question.correct_option
        if question is None or not is_open:
            return
        for view, text in zip(shown, texts, strict=True):
            keys = set(json_keys(view))
            assert "correct_option" not in keys, f"correct option shown while open: {text}"
            if at_close:
                assert "correct" not in keys, f"a result shown while open (at_close): {text}"
            for secret in (question.word, question.definition, question.example):
                assert secret not in text, f"{secret!r} shown while the question is open"


TestQuizSession = QuizMachine.TestCase


# ---------------------------------------------------------------------------- regressions


def two_player_quiz(quiz_settings: QuizSettings) -> tuple[QuizSession, int, int]:
    session = QuizSession([make_question(0, 2, 0), make_question(1, 2, 0)], quiz_settings)
    ann = session.join("ann", 0).player_id
    bob = session.join("bob", 0).player_id
    session.start(0)
    return session, ann, bob


def test_a_wrong_answer_does_not_reorder_players_with_equal_scores() -> None:
    """Ranking docstring: ties go to whoever *reached* the score first; 0 points reach nothing.

    Found by the machine: ``_publish`` used to re-stamp the board entry of every answer, so a wrong
    answer (or any answer in ``none`` scoring) sent its player behind everyone on the same score.
    """
    session, ann, bob = two_player_quiz(QuizSettings(close_when_all_answered=False))
    assert [p.player_id for p in session.board] == [ann, bob]  # both 0, ann joined first
    session.submit_answer(ann, 0, 1, 100)  # wrong: 0 points, ann's score stays 0
    assert [p.player_id for p in session.board] == [ann, bob]


def test_question_closes_when_the_last_unanswered_player_leaves() -> None:
    """Settings: close "as soon as every present player has answered", whoever made it so.

    Found by the machine: only ``submit_answer`` and ``kick`` re-checked the rule, not ``leave``.
    """
    session, ann, bob = two_player_quiz(QuizSettings(close_when_all_answered=True))
    session.submit_answer(ann, 0, 0, 100)
    session.leave(bob, 200)  # now every present player (ann) has answered
    assert session.phase is Phase.QUESTION_CLOSED


def test_question_closes_when_a_player_who_answered_comes_back_to_an_empty_room() -> None:
    """The same rule on rejoin: once the only present player is one who answered, it closes.

    Found by the machine: ``rejoin`` does not re-check the rule (the room was empty, so nothing
    closed when the others left; the first player back has answered, so nobody is left to wait for).
    """
    session, ann, bob = two_player_quiz(QuizSettings(close_when_all_answered=True))
    session.submit_answer(ann, 0, 0, 100)
    session.leave(ann, 200)
    session.leave(bob, 300)  # nobody present: nothing to wait for, nothing to close
    assert session.phase.value == "question_open"
    session.rejoin(ann, 400)  # now every present player (ann) has answered
    assert session.phase is Phase.QUESTION_CLOSED
