"""A model-based test of self-paced quizzes: random players, clocks, answers and restarts
against an independent recount.

Beside a real :class:`QuizSession` in ``pace = "self"``, a small model keeps each player's own
question, its deadline and their answers, and predicts every command's result from the rules
(``session``'s docstring, ``scoring``'s formula). For every step it checks that

* an answer or an advance gets the outcome the model predicts: accepted, a repeat's first
  result, or the one refusal code the model allows, and a refusal changes nothing;
* scores, streaks and the board equal the model's recount, and no answer counts twice;
* no view a player receives holds the answer of a question that has not closed *for that
  player*, and the teacher's statistics hold none before the quiz has finished;
* a restart at any moment (the journal replayed into a fresh session) rebuilds the same
  session, every player's clock included, and play goes on from it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from livequiz.domain import views
from livequiz.domain.commands import (
    Advance,
    Answer,
    Command,
    End,
    Join,
    Kick,
    Leave,
    Rejoin,
    Start,
    Tick,
    execute,
    replay,
    to_record,
)
from livequiz.domain.errors import ErrorCode, Rejected
from livequiz.domain.question import Question
from livequiz.domain.session import AnswerStatus, Phase, QuizSession
from livequiz.domain.settings import Pace, QuizSettings, ScoringMode
from tests.domain.test_session_self_paced import correct_options_in

DAY = 86_400_000
#: Clock steps: a hair, the grace's edges, a question's length, hours (the due time is a day).
STEPS = st.sampled_from([0, 1, 250, 499, 500, 501, 3_000, 9_999, 10_000, 10_501, 3_600_000])


def make_questions(count: int, options: int) -> list[Question]:
    return [
        Question(
            prompt=f"Q{n}?",
            options=tuple(f"o{n}.{i}" for i in range(options)),
            correct_option=(n * 7) % options,
            kind="word_to_meaning",
            word=f"w{n}",
            definition=f"d{n}",
        )
        for n in range(count)
    ]


@dataclass
class ModelPlayer:
    id: int
    at: int = -1
    closed: bool = False
    opened_at: int = 0
    accepts_until: int = 0
    answers: dict[int, tuple[int, int, int]] = field(default_factory=dict)  # option, points, seq
    streak: int = 0
    kicked: bool = False
    present: bool = True
    finished: bool = False

    @property
    def score(self) -> int:
        return sum(points for _, points, _ in self.answers.values())


def expected_points(
    correct: bool, opened: int, sent: int | None, now: int, streak: int, s: QuizSettings
) -> int:
    start = opened if sent is None else min(max(sent, opened), opened + s.max_delivery_lag_ms)
    elapsed = min(max(now - start, 0), s.time_limit_ms)
    if not correct or s.scoring is ScoringMode.NONE:
        return 0
    base = s.base_points
    if s.scoring is ScoringMode.SPEED:
        base -= s.base_points * elapsed // (2 * s.time_limit_ms)
    return base + min(s.streak_bonus * (streak - 1), s.streak_bonus_cap)


class SelfPaced(RuleBasedStateMachine):
    @initialize(
        count=st.integers(1, 4),
        options=st.integers(2, 4),
        scoring=st.sampled_from(ScoringMode),
        grace=st.sampled_from([0, 500]),
        due_in=st.sampled_from([60_000, 90_000, DAY]),
    )
    def setup(
        self, count: int, options: int, scoring: ScoringMode, grace: int, due_in: int
    ) -> None:
        self.questions = make_questions(count, options)
        self.settings = QuizSettings(
            time_limit_ms=10_000, grace_ms=grace, scoring=scoring, pace=Pace.SELF
        )
        self.session = QuizSession(self.questions, self.settings)
        self.journal: list[dict[str, Any]] = []
        self.now = 1_000
        self.due = self.now + due_in
        self.players: dict[int, ModelPlayer] = {}
        self.finished = False
        self.run(Start(due_at_ms=self.due))
        for _ in range(2):
            self.join()

    # ------------------------------------------------------------------ helpers

    def run(self, command: Command) -> Any:
        executed = execute(self.session, command, self.now)
        if executed.changed:
            self.journal.append(to_record(command, self.now))
        return executed

    def state(self) -> str:
        return json.dumps(
            {
                "host": views.host_view(self.session, self.now),
                "players": [views.player_view(self.session, p, self.now) for p in self.players],
                "final": views.final_results(self.session),
                "wakeup": self.session.wakeup_ms,
            },
            sort_keys=True,
        )

    def refused(self, codes: set[ErrorCode], command: Command) -> None:
        before = self.state()
        with pytest.raises(Rejected) as caught:
            execute(self.session, command, self.now)
        assert caught.value.code in codes, (caught.value, codes)
        assert self.state() == before

    def pick(self, n: int) -> ModelPlayer:
        ids = sorted(self.players)
        return self.players[ids[n % len(ids)]]

    def close(self, player: ModelPlayer) -> None:
        player.closed = True
        if player.at not in player.answers:
            player.streak = 0
        if player.at == len(self.questions) - 1:
            player.finished = True

    # ------------------------------------------------------------------ rules

    @rule(step=STEPS)
    def clock(self, step: int) -> None:
        self.now += step

    @rule(pick=st.integers(0, 4), edge=st.sampled_from([-1, 0, 1]))
    def clock_to_a_players_deadline(self, pick: int, edge: int) -> None:
        """To a millisecond around a player's last accepted moment (or the due time's)."""
        player = self.pick(pick)
        target = player.accepts_until if player.at >= 0 else self.due + self.settings.grace_ms
        self.now = max(self.now, target + edge)

    @precondition(lambda self: not self.finished)
    @rule()
    def tick(self) -> None:
        wakeup = self.session.wakeup_ms
        assert wakeup is not None
        open_ones = [
            p.accepts_until
            for p in self.players.values()
            if p.at >= 0 and not p.closed and not p.kicked
        ]
        assert wakeup == min([*open_ones, self.due + self.settings.grace_ms])
        self.run(Tick())
        if self.now > self.due + self.settings.grace_ms:
            for player in self.players.values():
                if player.at >= 0 and not player.closed and not player.kicked:
                    self.close(player)
            self.finished = True
            return
        for player in self.players.values():
            expired = player.at >= 0 and not player.closed and player.accepts_until < self.now
            if expired and not player.kicked:
                self.close(player)

    @precondition(lambda self: len(self.players) < 5)
    @rule()
    def join(self) -> None:
        if self.finished:
            self.refused({ErrorCode.QUIZ_FINISHED}, Join(f"p{len(self.players)}"))
            return
        event = self.run(Join(f"p{len(self.players)}")).events[0]
        self.players[event.player_id] = ModelPlayer(event.player_id)

    @rule(pick=st.integers(0, 4))
    def advance(self, pick: int) -> None:
        player = self.pick(pick)
        command = Advance(player.id)
        if self.finished:
            return self.refused({ErrorCode.QUIZ_FINISHED}, command)
        if player.kicked:
            return self.refused({ErrorCode.KICKED}, command)
        if self.now >= self.due:
            return self.refused({ErrorCode.QUIZ_FINISHED}, command)
        if player.finished:
            return self.refused({ErrorCode.ILLEGAL_STATE}, command)
        if player.at >= 0 and not player.closed and self.now <= player.accepts_until:
            return self.refused({ErrorCode.ILLEGAL_STATE}, command)
        self.run(command)
        if player.at >= 0 and not player.closed:
            self.close(player)
            if player.finished:
                return None
        player.at += 1
        player.closed = False
        player.opened_at = self.now
        closes = min(self.now + self.settings.time_limit_ms, self.due)
        player.accepts_until = closes + self.settings.grace_ms
        return None

    @rule(
        pick=st.integers(0, 4),
        index=st.integers(-1, 4),
        option=st.integers(-1, 4),
        sent_offset=st.one_of(st.none(), st.integers(-500, 2_000)),
    )
    def answer(self, pick: int, index: int, option: int, sent_offset: int | None) -> None:
        player = self.pick(pick)
        sent = None if sent_offset is None else player.opened_at + sent_offset
        command = Answer(player.id, index, option, sent_at_ms=sent)
        if self.finished:
            return self.refused({ErrorCode.QUIZ_FINISHED}, command)
        if player.kicked:
            return self.refused({ErrorCode.KICKED}, command)
        if not 0 <= index < len(self.questions):
            return self.refused({ErrorCode.WRONG_QUESTION}, command)
        if not 0 <= option < len(self.questions[index].options):
            return self.refused({ErrorCode.INVALID_OPTION}, command)
        if index in player.answers:
            first_option, points, seq = player.answers[index]
            outcome = execute(self.session, command, self.now).answer
            assert outcome is not None
            expected = AnswerStatus.DUPLICATE if option == first_option else None
            assert outcome.status is (expected or AnswerStatus.ALREADY_ANSWERED)
            assert (outcome.record.option, outcome.record.points, outcome.record.seq) == (
                first_option,
                points,
                seq,
            )
            assert outcome.events == ()
            return None
        is_open = index == player.at and not player.closed
        if index < player.at or (index == player.at and not is_open):
            return self.refused({ErrorCode.TOO_LATE}, command)
        if is_open and self.now > player.accepts_until:
            return self.refused({ErrorCode.TOO_LATE}, command)
        if not is_open:
            code = (
                ErrorCode.QUESTION_NOT_OPEN
                if player.at < 0 or player.closed
                else ErrorCode.WRONG_QUESTION
            )
            return self.refused({code}, command)
        correct = option == self.questions[index].correct_option
        streak = player.streak + 1 if correct else 0
        points = expected_points(correct, player.opened_at, sent, self.now, streak, self.settings)
        outcome = self.run(command).answer
        assert outcome.status is AnswerStatus.ACCEPTED
        assert (outcome.record.points, outcome.record.streak) == (points, streak)
        player.answers[index] = (option, points, outcome.record.seq)
        player.streak = streak
        self.close(player)
        return None

    @rule(
        pick=st.integers(0, 4),
        option=st.integers(0, 3),
        sent_offset=st.one_of(st.none(), st.integers(-500, 2_000)),
    )
    def answer_own_question(self, pick: int, option: int, sent_offset: int | None) -> None:
        """The common case: an answer to the question the player has open (or last had)."""
        player = self.pick(pick)
        index = max(player.at, 0)
        self.answer(pick, index, option % len(self.questions[index].options), sent_offset)

    @rule(pick=st.integers(0, 4), option=st.integers(0, 3))
    def answer_a_while_later(self, pick: int, option: int) -> None:
        """Open, think for a moment, answer: speed points depend on when it reached them."""
        player = self.pick(pick)
        if self.finished or player.kicked or player.finished:
            return
        if player.at < 0 or player.closed:
            self.advance(pick)
        if player.at < 0 or player.closed:
            return
        self.now += 1_234
        self.answer(pick, player.at, option % len(self.questions[player.at].options), 700)

    @rule(pick=st.integers(0, 4), action=st.sampled_from(["leave", "rejoin", "kick"]))
    def player_goes_or_comes(self, pick: int, action: str) -> None:
        player = self.pick(pick)
        if player.kicked:
            return
        if action == "kick":
            if self.finished:
                return
            self.run(Kick(player.id))
            player.kicked = True
            player.present = False
        elif action == "leave" and player.present:
            self.run(Leave(player.id))
            player.present = False
        elif action == "rejoin" and not player.present:
            self.run(Rejoin(player.id))
            player.present = True

    @precondition(lambda self: not self.finished)
    @rule(data=st.data())
    def end(self, data: st.DataObject) -> None:
        if data.draw(st.integers(0, 9)) != 0:  # rarely: it ends everything
            return
        self.run(End())
        for player in self.players.values():
            if player.at >= 0 and not player.closed and not player.kicked:
                self.close(player)
        self.finished = True

    @rule()
    def restart(self) -> None:
        """The process dies and a new one replays the journal: same session, same clocks."""
        before = self.state()
        rebuilt = QuizSession(self.questions, self.settings)
        replay(rebuilt, self.journal)
        self.session = rebuilt
        assert self.state() == before

    # ------------------------------------------------------------------ invariants

    @invariant()
    def the_session_agrees_with_the_recount(self) -> None:
        self.session.check_invariants()
        assert (self.session.phase is Phase.FINISHED) == self.finished
        for model in self.players.values():
            player = self.session.players[model.id]
            assert player.score == model.score
            assert player.streak == model.streak
            assert (player.at, player.at_closed, player.finished) == (
                model.at,
                model.closed,
                model.finished,
            )
            assert {i: r.option for i, r in player.answers.items()} == {
                i: o for i, (o, _, _) in model.answers.items()
            }
            if not model.kicked:
                assert self.session.board.score_of(model.id) == model.score

    @invariant()
    def nothing_is_given_away_before_it_closed_for_its_viewer(self) -> None:
        for model in self.players.values():
            closed_for_them = set(range(model.at)) | ({model.at} if model.closed else set())
            view = views.player_view(self.session, model.id, self.now)
            assert correct_options_in(view) <= closed_for_them
            assert view["progress"]["done"] == len(closed_for_them)
            assert correct_options_in(views.player_results(self.session, model.id)) <= (
                closed_for_them
            )
        host = views.host_view(self.session, self.now)
        assert correct_options_in(host) == set()
        if not self.finished:
            assert views.final_results(self.session)["questions"] == []


TestSelfPaced = SelfPaced.TestCase
TestSelfPaced.settings = settings(max_examples=200, stateful_step_count=40, deadline=None)
