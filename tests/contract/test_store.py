"""The QuizStore contract: the rules a :class:`~livequiz.store.QuizStore` holds over every
storage backend (:class:`~livequiz.ports.Records`).

Each test runs once per backend (``adapter``) or once per durable backend (``durable``); how to
add one is in :mod:`tests.contract.harness`. Where a test says what the store returns, it also
checks it against :class:`~tests.contract.model.Reference` — the same commands applied one by one
to plain sessions — which is what "each command atomically, in order" means; and that what the
store says it committed is what the journal holds.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from livequiz.domain.commands import (
    Answer,
    CloseQuestion,
    Command,
    End,
    Executed,
    Join,
    Kick,
    Leave,
    Next,
    Rejoin,
    SetLocked,
    Skip,
    Start,
    Tick,
)
from livequiz.domain.errors import ErrorCode
from livequiz.domain.events import (
    AnswerAccepted,
    CloseReason,
    FinishReason,
    QuestionClosed,
    QuizFinished,
)
from livequiz.domain.session import AnswerOutcome, AnswerStatus, Phase
from livequiz.domain.settings import RevealMode, ScoringMode
from livequiz.ports import Envelope, Fenced, Outcome, PinTaken, QuizDefinition, UnknownQuiz
from livequiz.store import QuizStore
from tests.contract.harness import ADAPTERS, Harness
from tests.contract.model import (
    T0,
    Twin,
    at,
    definition,
    executed,
    fingerprint,
    rejected_code,
)


def answer_of(outcome: object) -> AnswerOutcome:
    assert isinstance(outcome, Executed), f"expected an answer outcome, got {outcome!r}"
    assert outcome.answer is not None
    return outcome.answer


async def run(store: QuizStore, batch: Sequence[Envelope]) -> list[Outcome]:
    """The outcomes of one stored batch."""
    outcomes, _committed = await store.execute(batch)
    return outcomes


async def open_question(store: QuizStore, players: int = 2) -> str:
    """A quiz whose players ``p1``… have joined and whose first question opened at ``T0``."""
    quiz = definition()
    await store.create(quiz)
    joins = [Join(f"p{n}") for n in range(1, players + 1)]
    for outcome in await run(store, at(quiz.quiz_id, T0 - 1000, *joins)):
        executed(outcome)
    executed((await run(store, at(quiz.quiz_id, T0, Start())))[0])
    return quiz.quiz_id


# ---------------------------------------------------------------------- creating and reading


async def test_create_stores_a_live_quiz_owned_by_its_creator(adapter: Harness) -> None:
    store = await adapter.open()
    records = store.records
    quiz = definition("123456")
    assert await records.live_quiz_for_pin("123456") is None

    await store.create(quiz)

    assert await records.live_quiz_for_pin("123456") == quiz.quiz_id
    assert await records.ended_quiz_for_pin("123456") is None
    assert store.definition(quiz.quiz_id) == quiz
    assert await records.definition(quiz.quiz_id) == quiz
    assert not await records.is_finished(quiz.quiz_id)
    session = store.session(quiz.quiz_id)
    assert (session.phase, session.seq, session.current) == (Phase.LOBBY, 0, -1)
    assert session.questions == quiz.questions
    assert session.settings == quiz.settings
    assert store.quiz_ids() == [quiz.quiz_id]
    # the creator holds its lease: nobody else may take it over
    assert list(store.owned()) == [quiz.quiz_id]
    assert await records.orphans(10) == []
    assert await records.records(quiz.quiz_id) == []


async def test_a_pin_is_unique_among_live_quizzes(adapter: Harness) -> None:
    store = await adapter.open()
    await store.create(definition("123456", "first"))

    with pytest.raises(PinTaken, match="123456"):
        await store.create(definition("123456", "second"))

    assert store.quiz_ids() == ["first"]
    assert list(store.owned()) == ["first"]
    assert await store.records.live_quiz_for_pin("123456") == "first"
    with pytest.raises(UnknownQuiz):
        store.definition("second")
    with pytest.raises(UnknownQuiz):
        store.session("second")
    with pytest.raises(UnknownQuiz):
        await store.records.definition("second")
    # another process over the same storage is refused the PIN too
    other = await adapter.peer(store)
    with pytest.raises(PinTaken, match="123456"):
        await other.create(definition("123456", "fourth"))
    assert other.quiz_ids() == []
    await store.create(definition("654321", "third"))
    assert sorted(store.quiz_ids()) == ["first", "third"]


@pytest.mark.parametrize("how", ["ended", "completed"])
async def test_a_finished_quiz_frees_its_pin(adapter: Harness, how: str) -> None:
    store = await adapter.open()
    records = store.records
    first = definition("123456", "first", count=1)
    await store.create(first)
    commands: list[Command] = [End()] if how == "ended" else [Start(), CloseQuestion(), Next()]

    outcomes = await run(store, at("first", T0, *commands))

    finished = executed(outcomes[-1]).events[-1]
    assert isinstance(finished, QuizFinished)
    assert finished.reason == FinishReason(how)
    assert await records.live_quiz_for_pin("123456") is None
    assert await records.is_finished("first")
    # a latecomer can still be told which quiz ended there
    assert await records.ended_quiz_for_pin("123456") == "first"
    assert await records.ended_quiz_for_pin("999999") is None
    # the finished quiz is still there to read (results), under its id
    assert store.definition("first") == first
    assert await records.definition("first") == first
    assert store.session("first").phase is Phase.FINISHED
    # it changes no more: its lease went with the finish, and later commands are refused
    assert store.owned() == {}
    assert await store.take("first") is None
    assert await records.orphans(10) == []
    late = await run(store, at("first", T0 + 1, Join("late"), Leave(1), End()))
    assert [rejected_code(o) for o in late] == [ErrorCode.QUIZ_FINISHED] * 3
    # and its PIN goes to the next quiz
    second = definition("123456", "second")
    await store.create(second)
    assert await records.live_quiz_for_pin("123456") == "second"
    assert await records.ended_quiz_for_pin("123456") is None
    assert sorted(store.quiz_ids()) == ["first", "second"]


async def test_a_quiz_this_store_does_not_own_is_refused_and_changes_nothing(
    adapter: Harness,
) -> None:
    store = await adapter.open()
    quiz = definition()
    await store.create(quiz)

    with pytest.raises(UnknownQuiz):
        store.definition("nope")
    with pytest.raises(UnknownQuiz):
        store.session("nope")
    with pytest.raises(UnknownQuiz):
        await store.load("nope")
    with pytest.raises(UnknownQuiz):
        await store.take("nope")
    with pytest.raises(UnknownQuiz):
        await store.records.definition("nope")
    with pytest.raises(UnknownQuiz):
        await store.records.is_finished("nope")
    assert await store.records.live_quiz_for_pin("999999") is None
    outcomes, committed = await store.execute(
        [
            Envelope("nope", Join("ann"), T0),
            Envelope(quiz.quiz_id, Join("ann"), T0),
            Envelope("nope", Start(), T0),
        ]
    )

    # the store cannot tell "no such quiz" from "owned by another server" without asking
    # storage: both are "try again" (the service resolves PINs and ids before this)
    assert rejected_code(outcomes[0]) is ErrorCode.UNAVAILABLE
    assert executed(outcomes[1]).changed
    assert rejected_code(outcomes[2]) is ErrorCode.UNAVAILABLE
    assert list(committed) == [quiz.quiz_id]
    assert store.quiz_ids() == [quiz.quiz_id]
    assert store.session(quiz.quiz_id).seq == 1


async def test_quiz_ids_lists_every_quiz_live_or_finished(adapter: Harness) -> None:
    store = await adapter.open()
    for pin in ("111111", "222222", "333333"):
        await store.create(definition(pin))
    await run(store, at("quiz-222222", T0, End()))

    assert sorted(store.quiz_ids()) == ["quiz-111111", "quiz-222222", "quiz-333333"]
    assert sorted(store.owned()) == ["quiz-111111", "quiz-333333"]
    assert store.live_count() == 2


# ---------------------------------------------------------------------- whole commands, in order


async def test_commands_apply_in_order_each_whole(adapter: Harness) -> None:
    twin = Twin(await adapter.open())
    quiz = definition()
    await twin.create(quiz)
    q = quiz.quiz_id

    outcomes = await twin.execute(
        [
            Envelope(q, Join("ann"), T0),
            Envelope(q, Join("ann"), T0),  # taken
            Envelope(q, Answer(1, 0, 0), T0 + 1),  # nothing open yet
            Envelope(q, Join("bob"), T0 + 2),
            Envelope(q, Start(), T0 + 3),
            Envelope(q, Start(), T0 + 3),  # already started
            Envelope(q, Answer(1, 0, 0), T0 + 4),  # now it counts
            Envelope(q, Answer(2, 0, 9), T0 + 4),  # no such option
            Envelope(q, Answer(2, 0, 1), T0 + 5),
            Envelope(q, CloseQuestion(), T0 + 6),
            Envelope(q, Answer(2, 0, 1), T0 + 7),  # a repeat: the first result, even now
            Envelope(q, Next(), T0 + 8),
            Envelope(q, Answer(3, 1, 1), T0 + 9),  # no such player
        ]
    )

    kinds = [
        outcome.answer.status.value
        if isinstance(outcome, Executed) and outcome.answer is not None
        else ("ok" if isinstance(outcome, Executed) else rejected_code(outcome).value)
        for outcome in outcomes
    ]
    assert kinds == [
        "ok",
        "nickname_taken",
        "question_not_open",
        "ok",
        "ok",
        "illegal_state",
        "accepted",
        "invalid_option",
        "accepted",
        "ok",
        "duplicate",
        "ok",
        "unknown_player",
    ]
    session = twin.store.session(q)
    events = [event for o in outcomes if isinstance(o, Executed) for event in o.events]
    # join, join, started + opened, accepted, accepted, closed, opened: rejections added nothing
    assert session.seq == len(events) == 8
    assert (session.phase, session.current) == (Phase.QUESTION_OPEN, 1)
    assert sorted(p.nickname for p in session.players.values()) == ["ann", "bob"]
    await twin.assert_same_state()


async def test_a_rejected_command_changes_nothing(adapter: Harness) -> None:
    twin = Twin(await adapter.open())
    quiz = definition()
    await twin.create(quiz)
    q = quiz.quiz_id
    await twin.execute(at(q, T0, Join("ann"), Join("bob"), Start(), Answer(1, 0, 0)))
    before = fingerprint(twin.store.session(q))

    outcomes = await twin.execute(
        [
            Envelope(q, Join("ANN"), T0 + 1),
            Envelope(q, Answer(2, 5, 0), T0 + 2),
            Envelope(q, Answer(2, 1, 0), T0 + 2),
            Envelope(q, Answer(2, 0, 7), T0 + 3),
            Envelope(q, Answer(99, 0, 0), T0 + 4),
            Envelope(q, Start(), T0 + 5),
            Envelope(q, Next(), T0 + 6),
            Envelope(q, Kick(99), T0 + 7),
            Envelope(q, Rejoin(99), T0 + 7),
            Envelope(q, Answer(2, 0, 0), T0 + 60_000),
            Envelope(q, Answer(1, 0, 3), T0 + 8),  # a different second answer: refused
            Envelope("nope", End(), T0 + 9),  # not a quiz of this store
        ]
    )

    codes = [answer_of(o).status if isinstance(o, Executed) else rejected_code(o) for o in outcomes]
    assert codes == [
        ErrorCode.NICKNAME_TAKEN,
        ErrorCode.WRONG_QUESTION,
        ErrorCode.WRONG_QUESTION,
        ErrorCode.INVALID_OPTION,
        ErrorCode.UNKNOWN_PLAYER,
        ErrorCode.ILLEGAL_STATE,
        ErrorCode.ILLEGAL_STATE,
        ErrorCode.UNKNOWN_PLAYER,
        ErrorCode.UNKNOWN_PLAYER,
        ErrorCode.TOO_LATE,
        AnswerStatus.ALREADY_ANSWERED,
        ErrorCode.UNAVAILABLE,
    ]
    assert fingerprint(twin.store.session(q)) == before
    await twin.assert_same_state()


# ---------------------------------------------------------------------- answers exactly once


@pytest.mark.parametrize("batches", [1, 50], ids=["one-batch", "fifty-batches"])
async def test_the_same_answer_fifty_times_is_accepted_once(adapter: Harness, batches: int) -> None:
    store = await adapter.open()
    q = await open_question(store)
    seq_before = store.session(q).seq
    repeats = [Envelope(q, Answer(1, 0, 2), T0 + 100 + i) for i in range(50)]

    if batches == 1:
        outcomes = await run(store, repeats)
    else:
        outcomes = [(await run(store, [envelope]))[0] for envelope in repeats]

    answers = [answer_of(o) for o in outcomes]
    first = answers[0]
    assert first.status is AnswerStatus.ACCEPTED
    assert [a.status for a in answers[1:]] == [AnswerStatus.DUPLICATE] * 49
    assert all(a.record == first.record for a in answers)
    assert all(not executed(o).changed for o in outcomes[1:])
    player = store.session(q).players[1]
    assert player.answers == {0: first.record}
    assert player.score == first.record.points == first.record.score
    assert store.session(q).seq == seq_before + 1 == first.record.seq
    assert store.session(q).answered_count == 1


async def test_a_different_second_answer_is_already_answered(adapter: Harness) -> None:
    store = await adapter.open()
    q = await open_question(store)
    in_batch = await run(store, at(q, T0 + 100, Answer(1, 0, 0), Answer(1, 0, 1)))
    first = answer_of(in_batch[0])
    seq = store.session(q).seq

    later = [
        answer_of(o)
        for o in await run(store, at(q, T0 + 200, *[Answer(1, 0, o) for o in (2, 3, 1, 0)]))
    ]

    assert first.status is AnswerStatus.ACCEPTED
    assert answer_of(in_batch[1]).status is AnswerStatus.ALREADY_ANSWERED
    assert answer_of(in_batch[1]).record == first.record
    assert [a.status for a in later] == [AnswerStatus.ALREADY_ANSWERED] * 3 + [
        AnswerStatus.DUPLICATE
    ]
    assert all(a.record == first.record for a in later)
    assert store.session(q).seq == seq
    assert store.session(q).players[1].score == first.record.points


async def test_a_late_answer_is_refused(adapter: Harness) -> None:
    store = await adapter.open()
    q = await open_question(store, players=3)
    session = store.session(q)
    last_ms = session.accepts_until_ms
    assert last_ms == T0 + 10_000 + 500  # time limit plus grace

    outcomes = await run(
        store,
        [
            Envelope(q, Answer(1, 0, 0), last_ms),  # just in time, by the envelope's clock
            Envelope(q, Answer(2, 0, 0), last_ms + 1),
        ],
    )

    assert answer_of(outcomes[0]).status is AnswerStatus.ACCEPTED
    assert rejected_code(outcomes[1]) is ErrorCode.TOO_LATE
    assert store.session(q).players[2].answers == {}
    assert store.session(q).players[2].score == 0
    # once the clock closed it, still too late (it used to say question_not_open: issue 16)
    closed = await run(store, at(q, last_ms + 1, Tick(), Answer(3, 0, 0)))
    event = executed(closed[0]).events[0]
    assert isinstance(event, QuestionClosed)
    assert event.reason is CloseReason.TIME
    assert rejected_code(closed[1]) is ErrorCode.TOO_LATE


async def test_scores_are_the_sum_of_accepted_answers(adapter: Harness) -> None:
    twin = Twin(await adapter.open())
    quiz = definition(count=3)
    await twin.create(quiz)
    q = quiz.quiz_id
    rng = random.Random(7)
    await twin.execute(at(q, T0 - 5000, *[Join(f"player {n}") for n in range(8)]))
    earned: dict[int, int] = dict.fromkeys(range(1, 9), 0)
    now = T0
    for index in range(3):
        await twin.execute(at(q, now, Start() if index == 0 else Next()))
        opened = now
        for _ in range(6):  # several batches per question, with repeats and changed minds
            now += rng.randrange(0, 2500)
            batch = [
                Envelope(q, Answer(rng.randrange(1, 9), index, rng.randrange(4)), now)
                for _ in range(rng.randrange(1, 12))
            ]
            for outcome in await twin.execute(batch):
                if not isinstance(outcome, Executed):
                    assert rejected_code(outcome) is ErrorCode.TOO_LATE
                    continue
                answer = answer_of(outcome)
                if answer.status is AnswerStatus.ACCEPTED:
                    earned[answer.record.player_id] += answer.record.points
        now = max(now, opened + 10_501)
        await twin.execute(at(q, now, Tick()))

    session = twin.store.session(q)
    assert sum(earned.values()) > 0
    for player_id, points in earned.items():
        player = session.players[player_id]
        assert player.score == points
        assert player.score == sum(r.points for r in player.answers.values())
        assert session.board.score_of(player_id) == points
    scores = [placing.score for placing in session.board]
    assert scores == sorted(earned.values(), reverse=True)
    await twin.assert_same_state()


async def test_sequence_numbers_rise_by_one_per_event_across_batches(adapter: Harness) -> None:
    store = await adapter.open()
    quizzes = [definition("111111"), definition("222222", close_when_all_answered=True)]
    for quiz in quizzes:
        await store.create(quiz)
    seen: dict[str, list[int]] = {quiz.quiz_id: [] for quiz in quizzes}
    script: list[tuple[int, list[Command]]] = [
        (T0 - 10, [Join("ann"), Join("bob"), SetLocked(True)]),
        (T0, [Start(), Answer(1, 0, 0), Answer(1, 0, 0)]),
        (T0 + 10, [Answer(2, 0, 1), Leave(1), Rejoin(1)]),
        (T0 + 20, [CloseQuestion(), Next(), Answer(2, 1, 1), Answer(1, 1, 2)]),
        (T0 + 30, [Skip(), Kick(2), End()]),
    ]

    for now, commands in script:
        # both quizzes' commands interleaved in one batch
        batch = [Envelope(quiz.quiz_id, c, now) for c in commands for quiz in quizzes]
        for envelope, outcome in zip(batch, await run(store, batch), strict=True):
            if not isinstance(outcome, Executed):
                continue
            seen[envelope.quiz_id] += [event.seq for event in outcome.events]
            if outcome.answer is not None and outcome.answer.status is AnswerStatus.ACCEPTED:
                accepted = outcome.events[0]
                assert isinstance(accepted, AnswerAccepted)
                assert outcome.answer.record.seq == accepted.seq

    for quiz_id, seqs in seen.items():
        assert len(seqs) > 10
        assert seqs == list(range(1, len(seqs) + 1)), quiz_id
        assert store.session(quiz_id).seq == len(seqs)


# ---------------------------------------------------------------------- any batching


_answers = st.builds(
    Answer,
    st.integers(1, 5),
    st.sampled_from([0, 0, 0, 1, 2]),  # the first question most, so most answers can count
    st.integers(0, 3),
    st.one_of(st.none(), st.integers(T0, T0 + 60_000)),
)
#: Every command, with how often it comes (out of 100): mostly answers, so examples get to
#: scoring, dedupe and closing; an ``End`` rarely, so quizzes live long enough to matter.
_WEIGHTED: list[tuple[int, st.SearchStrategy[Command]]] = [
    (15, st.builds(Join, st.sampled_from(["ann", "bob", "Ann", "cat", "dan", "x"]))),
    (45, _answers),
    (6, st.just(Start())),
    (8, st.just(Next())),
    (6, st.just(Tick())),
    (4, st.just(CloseQuestion())),
    (2, st.just(Skip())),
    (1, st.just(End())),
    (4, st.builds(Leave, st.integers(1, 5))),
    (4, st.builds(Rejoin, st.integers(1, 5))),
    (2, st.builds(Kick, st.integers(1, 5))),
    (3, st.builds(SetLocked, st.booleans())),
]
assert sum(weight for weight, _ in _WEIGHTED) == 100


def _pick(roll: int) -> st.SearchStrategy[Command]:
    for weight, strategy in _WEIGHTED:
        if roll < weight:
            return strategy
        roll -= weight
    raise AssertionError(roll)  # pragma: no cover


commands_strategy = st.integers(0, 99).flatmap(_pick)
steps_strategy = st.lists(
    st.tuples(
        st.integers(0, 1),  # which quiz
        commands_strategy,
        st.integers(0, 1500),  # ms since the previous command
        st.booleans(),  # whether a new batch starts here
    ),
    min_size=5,
    max_size=80,
)
#: Every example starts from both quizzes' first question open, with players in.
PREAMBLE: list[tuple[int, Command]] = [
    *[(which, Join(name)) for which in (0, 1) for name in ("eve", "fay", "gus")],
    (0, Start()),
    (1, Start()),
]


@pytest.mark.parametrize("name", list(ADAPTERS))
def test_any_batching_matches_one_command_at_a_time(name: str) -> None:
    """Random commands for two quizzes, cut into random batches: the store's outcomes and state
    equal those of the commands applied one by one, what it commits is what the journal holds,
    and a copy in another store fed the committed rows stays the same as the owner; a durable
    store also after a restart. (As many examples as the backend's ``examples`` says: each
    one is fresh storage, which costs a server-backed one a schema.)"""
    adapter = ADAPTERS[name]
    quizzes = [
        definition("111111", close_when_all_answered=True, time_limit_ms=3000),
        definition("222222", reveal=RevealMode.AT_CLOSE, time_limit_ms=5000),
    ]

    async def scenario(directory: Path, steps: list[tuple[int, Command, int, bool]]) -> None:
        harness = adapter.factory(directory)
        try:
            store = await harness.open()
            twin = Twin(store, copy=await harness.peer(store))
            for quiz in quizzes:
                await twin.create(quiz)
            now = T0
            batches = [[Envelope(quizzes[w].quiz_id, command, now) for w, command in PREAMBLE]]
            for which, command, delay, cut in steps:
                now += delay
                if cut and batches[-1]:
                    batches.append([])
                batches[-1].append(Envelope(quizzes[which].quiz_id, command, now))
            for batch in batches:
                await twin.execute(batch)
            await twin.assert_same_state()
            if harness.durable:
                twin.store = await harness.reopen(twin.store)
                await twin.follow(await harness.peer(twin.store))
                await twin.assert_same_state()
                probe = [Envelope(quiz.quiz_id, Join("late joiner"), now + 1) for quiz in quizzes]
                await twin.execute(
                    probe + [Envelope(q.quiz_id, Tick(), now + 60_000) for q in quizzes]
                )
                await twin.assert_same_state()
        finally:
            await harness.close_all()

    @settings(
        max_examples=adapter.examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(steps=steps_strategy)
    def check(steps: list[tuple[int, Command, int, bool]]) -> None:
        with tempfile.TemporaryDirectory() as directory:
            asyncio.run(scenario(Path(directory), steps))

    check()


# ---------------------------------------------------------------------- durability


async def test_execute_returns_only_once_the_batch_is_durable(durable: Harness) -> None:
    store = await durable.open()
    q = await open_question(store, players=3)
    await run(store, at(q, T0 + 500, Answer(1, 0, 0), Answer(2, 0, 1), Leave(3)))

    # no close(), no flush: a second store opening the same storage already sees all of it
    other = await durable.open(take_over=False)
    copy = await other.load(q)

    assert not other.owns(q)
    assert fingerprint(copy) == fingerprint(store.session(q))
    assert copy.players[1].answers == store.session(q).players[1].answers


async def build_every_kind_of_quiz(twin: Twin) -> dict[str, QuizDefinition]:
    """Quizzes in every phase, with leaves, kicks, locks, both reveal modes and every close."""
    quizzes = {
        "untouched": definition("100001"),
        "lobby": definition("100002"),
        "open": definition("100003"),
        "closed": definition("100004"),
        "at_close": definition("100005", reveal=RevealMode.AT_CLOSE),
        "all_answered": definition("100006", close_when_all_answered=True),
        "ended": definition("100007"),
        "completed": definition("100008", count=1),
        "accuracy": definition("100009", scoring=ScoringMode.ACCURACY, time_limit_ms=30_000),
    }
    for quiz in quizzes.values():
        await twin.create(quiz)
    ids = {name: quiz.quiz_id for name, quiz in quizzes.items()}
    joins = [Join(name) for name in ("ann", "bob", "cat", "dan", "eve")]

    await twin.execute(at(ids["lobby"], T0, *joins[:3], SetLocked(True), Leave(2), Join("zed")))
    for name in ("open", "closed", "at_close", "all_answered", "ended", "completed", "accuracy"):
        await twin.execute(at(ids[name], T0 - 2000, *joins))
        await twin.execute(at(ids[name], T0, Start()))
    for name in ("open", "closed", "at_close", "all_answered", "accuracy"):
        await twin.execute(
            [
                Envelope(ids[name], Answer(1, 0, 0), T0 + 1200),
                Envelope(ids[name], Answer(2, 0, 1), T0 + 2500),
                Envelope(ids[name], Answer(1, 0, 0), T0 + 2600),
                Envelope(ids[name], Leave(4), T0 + 3000),
                Envelope(ids[name], Kick(5), T0 + 3100),
            ]
        )
    await twin.execute(at(ids["all_answered"], T0 + 4000, Answer(3, 0, 0)))
    await twin.execute(at(ids["closed"], T0 + 5000, CloseQuestion(), Next()))
    await twin.execute(at(ids["closed"], T0 + 6000, Answer(1, 1, 1), Answer(3, 1, 2)))
    await twin.execute(at(ids["closed"], T0 + 16_501, Tick()))
    await twin.execute(at(ids["ended"], T0 + 900, Answer(1, 0, 0), End()))
    await twin.execute(at(ids["completed"], T0 + 900, Answer(1, 0, 0), Skip()))
    await twin.execute(at(ids["at_close"], T0 + 4000, Rejoin(4)))
    await twin.assert_same_state()
    phases = {name: twin.store.session(q).phase for name, q in ids.items()}
    assert phases == {
        "untouched": Phase.LOBBY,
        "lobby": Phase.LOBBY,
        "open": Phase.QUESTION_OPEN,
        "closed": Phase.QUESTION_CLOSED,
        "at_close": Phase.QUESTION_OPEN,
        "all_answered": Phase.QUESTION_CLOSED,
        "ended": Phase.FINISHED,
        "completed": Phase.FINISHED,
        "accuracy": Phase.QUESTION_OPEN,
    }
    return quizzes


async def test_recovery_brings_every_quiz_back_identical(durable: Harness) -> None:
    twin = Twin(await durable.open())
    quizzes = await build_every_kind_of_quiz(twin)
    live = {n for n in quizzes if twin.store.session(quizzes[n].quiz_id).phase != Phase.FINISHED}

    twin.store = await durable.reopen(twin.store)

    # the new store owns every live quiz and no finished one; players, scores, answers, board
    # order, phase, seq, current question, absolute deadline: all as they were
    assert sorted(twin.store.owned()) == sorted(quizzes[n].quiz_id for n in live)
    await twin.assert_same_state()
    records = twin.store.records
    for name, quiz in quizzes.items():
        assert twin.store.definition(quiz.quiz_id) == quiz
        if name in live:
            assert await records.live_quiz_for_pin(quiz.pin) == quiz.quiz_id
        else:
            assert await records.live_quiz_for_pin(quiz.pin) is None
            assert await records.ended_quiz_for_pin(quiz.pin) == quiz.quiz_id
    # and it carries on as the original would have
    follow_up = [
        Envelope(quiz.quiz_id, command, T0 + 7000)
        for quiz in quizzes.values()
        for command in (Join("newbie"), Answer(3, 0, 2), Answer(1, 0, 0), Rejoin(4), Next())
    ]
    await twin.execute(follow_up)
    await twin.assert_same_state()


async def test_a_recovered_open_question_keeps_its_deadline_and_waits_for_the_clock(
    durable: Harness,
) -> None:
    store = await durable.open()
    q = await open_question(store)
    first = answer_of((await run(store, at(q, T0 + 1000, Answer(1, 0, 0))))[0])

    store = await durable.reopen(store)

    session = store.session(q)
    assert (session.phase, session.current) == (Phase.QUESTION_OPEN, 0)
    assert (session.opened_at_ms, session.closes_at_ms, session.accepts_until_ms) == (
        T0,
        T0 + 10_000,
        T0 + 10_500,
    )
    # a store keeps no clock: the question is open until a Tick says the time is up …
    late = T0 + 3_600_000
    outcomes = await run(store, at(q, late, Answer(2, 0, 0), Tick()))
    assert rejected_code(outcomes[0]) is ErrorCode.TOO_LATE
    closed = executed(outcomes[1]).events[0]
    assert isinstance(closed, QuestionClosed)
    assert (closed.reason, closed.at_ms) == (CloseReason.TIME, late)
    # … and the close is as durable as anything else
    store = await durable.reopen(store)
    session = store.session(q)
    assert session.phase is Phase.QUESTION_CLOSED
    assert session.players[1].answers == {0: first.record}


async def test_answers_stay_exactly_once_across_a_restart(durable: Harness) -> None:
    store = await durable.open()
    q = await open_question(store)
    first = answer_of((await run(store, at(q, T0 + 1000, Answer(1, 0, 0))))[0])
    seq = store.session(q).seq

    store = await durable.reopen(store)
    again = [answer_of(o) for o in await run(store, at(q, T0 + 2000, *[Answer(1, 0, 0)] * 5))]
    other = answer_of((await run(store, at(q, T0 + 2000, Answer(1, 0, 3))))[0])

    assert [a.status for a in again] == [AnswerStatus.DUPLICATE] * 5
    assert all(a.record == first.record for a in again)
    assert other.status is AnswerStatus.ALREADY_ANSWERED
    assert other.record == first.record
    assert store.session(q).seq == seq
    assert store.session(q).players[1].score == first.record.points


async def test_a_pin_freed_before_a_restart_stays_free(durable: Harness) -> None:
    store = await durable.open()
    await store.create(definition("123456", "old"))
    await run(store, at("old", T0, End()))

    store = await durable.reopen(store)

    assert await store.records.live_quiz_for_pin("123456") is None
    assert await store.records.ended_quiz_for_pin("123456") == "old"
    assert store.owned() == {}
    assert (await store.load("old")).phase is Phase.FINISHED
    await store.create(definition("123456", "new"))
    store = await durable.reopen(store)
    assert await store.records.live_quiz_for_pin("123456") == "new"
    assert await store.records.ended_quiz_for_pin("123456") is None
    assert sorted(store.owned()) == ["new"]
    assert await store.records.is_finished("old")


# ---------------------------------------------------------------------- owners and copies


async def test_another_store_takes_a_quiz_over_only_once_its_owner_lets_go(
    adapter: Harness,
) -> None:
    first = await adapter.open()
    q = await open_question(first, players=3)
    await run(first, at(q, T0 + 100, Answer(1, 0, 0)))
    second = await adapter.peer(first)

    # while the owner holds the lease, nobody else takes the quiz; a copy is fine
    assert await second.take(q) is None
    assert await second.records.orphans(10) == []
    copy = await second.load(q)
    assert not second.owns(q)
    assert fingerprint(copy) == fingerprint(first.session(q))
    (outcome,) = await run(second, at(q, T0 + 150, Answer(2, 0, 1)))
    assert rejected_code(outcome) is ErrorCode.UNAVAILABLE
    # the copy misses this batch (no replicate): the takeover catches up from the journal
    await run(first, at(q, T0 + 200, Answer(2, 0, 1), Leave(3)))
    epoch = first.owned()[q]

    await first.records.release(first.owned())
    assert await second.records.orphans(10) == [q]
    taken = await second.take(q)

    assert taken is not None
    assert taken > epoch
    assert second.owns(q)
    assert fingerprint(second.session(q)) == fingerprint(first.session(q))
    # the old owner, still believing it owns the quiz, is fenced: nothing it runs is stored
    with pytest.raises(Fenced) as fenced:
        await first.execute(at(q, T0 + 300, Join("zed")))
    assert fenced.value.quiz_ids == {q}
    assert not first.owns(q)
    # the new owner carries on from what was stored: "zed" is free, the answers stand
    outcomes = await run(second, at(q, T0 + 400, Join("zed"), Answer(2, 0, 1), Answer(1, 0, 0)))
    assert executed(outcomes[0]).changed
    assert [answer_of(o).status for o in outcomes[1:]] == [AnswerStatus.DUPLICATE] * 2
    rows = await second.records.records(q)
    assert rows[-1][0] == second.session(q).seq
    assert [record["c"] for _, record in rows].count("join") == 4
    # and the old owner may follow it as a copy again: loaded up to what it had shown, the
    # rest handed over as rows to apply with their events (so its clients see them happen)
    again = await first.load(q)
    assert first.pop_behind(q)
    first.replicate(q, again.seq, await first.rows_after(q))
    assert fingerprint(again) == fingerprint(second.session(q))
