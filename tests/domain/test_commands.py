"""Commands as values: one entry point, a journal, and a replay that rebuilds a quiz exactly."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from livequiz.domain import commands as c
from livequiz.domain.errors import CoreBug, ErrorCode, Rejected
from livequiz.domain.question import Question
from livequiz.domain.session import AnswerStatus, QuizSession
from livequiz.domain.settings import QuizSettings, RevealMode
from tests.domain.factories import make_question

QUESTIONS = [make_question(n, correct=n % 4) for n in range(4)]


def fingerprint(session: QuizSession) -> tuple[object, ...]:
    return (
        session.phase,
        session.seq,
        session.current,
        session.locked,
        session.closes_at_ms,
        session.present_count,
        [
            (p.id, p.nickname, p.present, p.kicked, p.score, p.published_score, p.streak,
             sorted(p.answers.items()))
            for p in session.players.values()
        ],
        list(session.board),
    )  # fmt: skip


def run(session: QuizSession, script: list[tuple[c.Command, int]]) -> list[dict[str, Any]]:
    """Execute commands, keeping the journal a store would keep (what changed something)."""
    journal = []
    for command, now in script:
        try:
            executed = c.execute(session, command, now)
        except Rejected:
            continue
        if executed.changed:
            journal.append(json.loads(json.dumps(c.to_record(command, now))))
    return journal


SCRIPT: list[tuple[c.Command, int]] = [
    (c.Join("Anna"), 0),
    (c.Join("Ben"), 10),
    (c.Join("anna"), 20),  # refused: taken
    (c.SetLocked(True), 30),
    (c.SetLocked(True), 31),  # no change: not journaled
    (c.SetLocked(False), 32),
    (c.Start(), 1_000),
    (c.Answer(1, 0, 0, 1_100), 3_000),
    (c.Answer(1, 0, 0, None), 3_500),  # duplicate: not journaled
    (c.Answer(2, 0, 1), 4_000),
    (c.Tick(), 5_000),  # too early: not journaled
    (c.CloseQuestion(), 6_000),
    (c.Next(), 7_000),
    (c.Leave(2), 7_500),
    (c.Rejoin(2), 7_600),
    (c.Rejoin(2), 7_700),  # already here
    (c.Answer(2, 1, 1), 8_000),
    (c.Tick(), 40_000),
    (c.Next(), 41_000),
    (c.Kick(1), 41_500),
    (c.Skip(), 42_000),
    (c.End(), 43_000),
]


def test_execute_runs_every_kind_of_command_and_reports_what_it_did() -> None:
    session = QuizSession(QUESTIONS, QuizSettings(close_when_all_answered=False))
    joined = c.execute(session, c.Join("Anna"), 0)
    assert joined.changed
    assert joined.answer is None
    c.execute(session, c.Start(), 100)
    answered = c.execute(session, c.Answer(1, 0, 0), 200)
    assert answered.answer is not None
    assert answered.answer.status is AnswerStatus.ACCEPTED
    again = c.execute(session, c.Answer(1, 0, 0), 300)
    assert not again.changed
    assert again.answer is not None
    assert again.answer.status is AnswerStatus.DUPLICATE
    with pytest.raises(Rejected) as caught:
        c.execute(session, c.Next(), 400)
    assert caught.value.code is ErrorCode.ILLEGAL_STATE


def test_records_round_trip_through_json() -> None:
    for command, now in SCRIPT:
        record = json.loads(json.dumps(c.to_record(command, now)))
        assert c.from_record(record) == (command, now)


@pytest.mark.parametrize("reveal", list(RevealMode))
def test_replaying_the_journal_rebuilds_the_same_quiz(reveal: RevealMode) -> None:
    settings = QuizSettings(reveal=reveal, close_when_all_answered=False)
    live = QuizSession(QUESTIONS, settings)
    journal = run(live, SCRIPT)
    assert [r["c"] for r in journal].count("lock") == 2
    assert "tick" in [r["c"] for r in journal]
    rebuilt = QuizSession(QUESTIONS, settings)
    c.replay(rebuilt, journal)
    assert fingerprint(rebuilt) == fingerprint(live)


def test_a_journal_record_that_changes_nothing_is_a_corrupt_journal() -> None:
    session = QuizSession(QUESTIONS)
    with pytest.raises(CoreBug, match="changed nothing"):
        c.replay(session, [c.to_record(c.Tick(), 0)])


COMMANDS = st.one_of(
    st.builds(c.Join, st.sampled_from(["Anna", "Ben", "Cleo", "Dev", "x"])),
    st.builds(c.Rejoin, st.integers(1, 5)),
    st.builds(c.Leave, st.integers(1, 5)),
    st.builds(
        c.Answer,
        st.integers(1, 5),
        st.integers(0, 3),
        st.integers(0, 3),
        st.none() | st.integers(0, 100_000),
    ),
    st.builds(c.Kick, st.integers(1, 5)),
    st.builds(c.SetLocked, st.booleans()),
    st.sampled_from([c.Start(), c.CloseQuestion(), c.Next(), c.Skip(), c.End(), c.Tick()]),
)


@settings(max_examples=150, deadline=None)
@given(
    steps=st.lists(st.tuples(COMMANDS, st.integers(0, 8_000)), max_size=60),
    reveal=st.sampled_from(list(RevealMode)),
    close_when_all=st.booleans(),
)
def test_any_history_replays_to_the_same_quiz(
    steps: list[tuple[c.Command, int]], reveal: RevealMode, close_when_all: bool
) -> None:
    settings_ = QuizSettings(
        time_limit_ms=5_000, reveal=reveal, close_when_all_answered=close_when_all
    )
    script, now = [], 0
    for command, gap in steps:
        now += gap
        script.append((command, now))
    live = QuizSession(QUESTIONS, settings_)
    journal = run(live, script)
    rebuilt = QuizSession(list[Question](QUESTIONS), settings_)
    c.replay(rebuilt, journal)
    assert fingerprint(rebuilt) == fingerprint(live)
    rebuilt.check_invariants()
