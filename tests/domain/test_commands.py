"""Commands as values: one entry point, a journal, and a replay that rebuilds a quiz exactly."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from livequiz.domain import commands as c
from livequiz.domain.errors import CoreBug, ErrorCode, Rejected
from livequiz.domain.events import (
    CloseReason,
    Event,
    FinishReason,
    LobbyLockChanged,
    PlayerJoined,
    PlayerKicked,
    PlayerLeft,
    PlayerNamed,
    PlayerRejoined,
    QuestionClosed,
    QuestionOpened,
    QuizFinished,
    QuizStarted,
    RejoinAnswered,
    RejoinRequested,
)
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
    (c.CloseQuestion(0), 6_000),
    (c.Next(0), 7_000),
    (c.CloseQuestion(0), 7_100),  # refused: question 1 is open now
    (c.Leave(2), 7_500),
    (c.Rejoin(2), 7_600),
    (c.Rejoin(2), 7_700),  # already here
    (c.Answer(2, 1, 1), 8_000),
    (c.Tick(), 40_000),
    (c.Next(1), 41_000),
    (c.Kick(1), 41_500),
    (c.Skip(2), 42_000),
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


def test_a_host_command_names_its_question_in_the_journal_only_when_it_was_named() -> None:
    # journals written before host commands named their question replay unchanged
    assert c.to_record(c.Next(), 5) == {"c": "next", "t": 5}
    assert c.to_record(c.Skip(2), 5) == {"c": "skip", "t": 5, "question": 2}
    assert c.from_record({"c": "close", "t": 9}) == (c.CloseQuestion(), 9)


@pytest.mark.parametrize("kind", [c.CloseQuestion, c.Skip, c.Pause, c.Resume])
def test_a_host_command_for_a_question_the_quiz_has_left_changes_nothing(
    kind: type[c.CloseQuestion | c.Skip | c.Pause | c.Resume],
) -> None:
    session = QuizSession(QUESTIONS, QuizSettings(close_when_all_answered=False))
    c.execute(session, c.Join("Anna"), 0)
    c.execute(session, c.Start(), 10)
    c.execute(session, c.CloseQuestion(0), 20)
    c.execute(session, c.Next(0), 30)
    if kind is c.Resume:
        c.execute(session, c.Pause(1), 40)
    before = fingerprint(session)
    with pytest.raises(Rejected) as caught:
        c.execute(session, kind(0), 50)
    assert caught.value.code is ErrorCode.ILLEGAL_STATE
    assert caught.value.message == "question 0 is not the open question: question 1 is"
    assert fingerprint(session) == before
    # the same command naming question 1 acts
    assert c.execute(session, kind(1), 60).changed


def test_next_names_the_closed_question_it_moves_on_from() -> None:
    session = QuizSession(QUESTIONS, QuizSettings(close_when_all_answered=False))
    c.execute(session, c.Join("Anna"), 0)
    c.execute(session, c.Start(), 10)
    c.execute(session, c.CloseQuestion(), 20)
    for stale in (1, 2, -1):
        with pytest.raises(Rejected) as caught:
            c.execute(session, c.Next(stale), 30)
        assert caught.value.message == (
            f"question {stale} is not the closed question: question 0 is"
        )
    assert session.current == 0
    (opened,) = c.execute(session, c.Next(0), 40).events
    assert isinstance(opened, QuestionOpened)
    assert opened.index == 1


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
    st.builds(c.GiveExtraTime, st.integers(1, 5), st.sampled_from([0, 50, 100, 301])),
    st.builds(c.SetLocked, st.booleans()),
    st.sampled_from([c.Start(), c.End(), c.Tick()]),
    *(
        st.builds(kind, st.none() | st.integers(0, 3))
        for kind in (c.CloseQuestion, c.Next, c.Skip, c.Pause, c.Resume)
    ),
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


def test_execute_passes_the_answers_send_time_on() -> None:
    """Speed is measured from when the question reached the player, also through ``execute``
    (the path every server takes), not from when the question opened."""
    session = QuizSession(QUESTIONS, QuizSettings(time_limit_ms=10_000))
    c.execute(session, c.Join("Anna"), 0)
    c.execute(session, c.Start(), 1_000)
    executed = c.execute(session, c.Answer(1, 0, 0, sent_at_ms=1_400), 3_000)
    assert executed.answer is not None
    assert executed.answer.record.elapsed_ms == 1_600
    assert executed.answer.record.points == 920


def test_execute_returns_each_commands_events_stamped_with_its_time() -> None:
    """Each host and player command through ``execute`` yields exactly its events, at the time
    given: the journal and every frame sent are built from them."""
    session = QuizSession(QUESTIONS, QuizSettings(time_limit_ms=10_000, grace_ms=500))

    def events(command: c.Command, now: int) -> tuple[Event, ...]:
        return c.execute(session, command, now).events

    assert events(c.Join("Anna"), 5) == (
        PlayerJoined(seq=1, at_ms=5, player_id=1, nickname="Anna", late=False),
    )
    assert events(c.Join("Ben"), 6) == (
        PlayerJoined(seq=2, at_ms=6, player_id=2, nickname="Ben", late=False),
    )
    assert events(c.SetLocked(True), 7) == (LobbyLockChanged(seq=3, at_ms=7, locked=True),)
    assert events(c.SetLocked(False), 8) == (LobbyLockChanged(seq=4, at_ms=8, locked=False),)
    assert events(c.Start(), 1_000) == (
        QuizStarted(seq=5, at_ms=1_000, question_count=4),
        QuestionOpened(seq=6, at_ms=1_000, index=0, closes_at_ms=11_000, accepts_until_ms=11_500),
    )
    assert events(c.Leave(2), 1_100) == (PlayerLeft(seq=7, at_ms=1_100, player_id=2),)
    assert events(c.Rejoin(2), 1_200) == (PlayerRejoined(seq=8, at_ms=1_200, player_id=2),)
    assert events(c.CloseQuestion(), 2_000) == (
        QuestionClosed(
            seq=9,
            at_ms=2_000,
            index=0,
            correct_option=0,
            option_counts=(0, 0, 0, 0),
            reason=CloseReason.HOST,
        ),
    )
    assert events(c.Next(), 3_000) == (
        QuestionOpened(seq=10, at_ms=3_000, index=1, closes_at_ms=13_000, accepts_until_ms=13_500),
    )
    assert events(c.Kick(2), 3_100) == (PlayerKicked(seq=11, at_ms=3_100, player_id=2),)
    assert events(c.Tick(), 20_000) == (
        QuestionClosed(
            seq=12,
            at_ms=20_000,
            index=1,
            correct_option=1,
            option_counts=(0, 0, 0, 0),
            reason=CloseReason.TIME,
        ),
    )
    assert events(c.Next(), 21_000)[0].at_ms == 21_000
    assert events(c.Skip(), 22_000) == (
        QuestionClosed(
            seq=14,
            at_ms=22_000,
            index=2,
            correct_option=2,
            option_counts=(0, 0, 0, 0),
            reason=CloseReason.SKIP,
        ),
        QuestionOpened(seq=15, at_ms=22_000, index=3, closes_at_ms=32_000, accepts_until_ms=32_500),
    )
    assert events(c.End(), 23_000) == (
        QuestionClosed(
            seq=16,
            at_ms=23_000,
            index=3,
            correct_option=3,
            option_counts=(0, 0, 0, 0),
            reason=CloseReason.END,
        ),
        QuizFinished(seq=17, at_ms=23_000, reason=FinishReason.ENDED),
    )


def test_execute_returns_the_events_of_app_joins_names_and_rejoin_requests_at_their_time() -> None:
    """The commands of the learning app's users, of name approval and of taking a player back
    through ``execute``: exactly their events, with the app's name and the time given."""
    session = QuizSession(QUESTIONS, QuizSettings(approve_names=True))

    def events(command: c.Command, now: int) -> tuple[Event, ...]:
        return c.execute(session, command, now).events

    assert events(c.Join("  Ada   Lovelace ", user_id="user-1"), 5) == (
        PlayerJoined(seq=1, at_ms=5, player_id=1, nickname="Ada Lovelace", late=False),
    )
    assert events(c.Join("Bob"), 6) == (
        PlayerJoined(seq=2, at_ms=6, player_id=2, nickname="Bob", late=False, approved=False),
    )
    assert events(c.Approve(2), 7) == (PlayerNamed(seq=3, at_ms=7, player_id=2, nickname="Bob"),)
    assert events(c.Rename(2, "Robert"), 8) == (
        PlayerNamed(seq=4, at_ms=8, player_id=2, nickname="Robert"),
    )
    assert events(c.Leave(2), 9) == (PlayerLeft(seq=5, at_ms=9, player_id=2),)
    assert events(c.RequestRejoin("Robert", "request-0123456789"), 10) == (
        RejoinRequested(seq=6, at_ms=10, player_id=2, nickname="Robert"),
    )
    assert events(c.AnswerRejoin(2, True), 11) == (
        RejoinAnswered(seq=7, at_ms=11, player_id=2, let_in=True),
    )
