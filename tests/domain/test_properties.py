"""Property tests of the pure rules: scoring, ranking, nicknames and settings.

Each property is stated from the module docstrings (the documented rules), not from the code,
and checked on inputs drawn by hypothesis, boundaries included.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable
from dataclasses import fields, replace
from typing import Any, TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from livequiz.domain import scoring
from livequiz.domain.errors import CoreBug, ErrorCode, Rejected
from livequiz.domain.events import CloseReason, PlayerQuestionClosed, QuestionClosed
from livequiz.domain.nicknames import (
    ALLOWED_MARKS,
    MAX_CODE_POINTS,
    MAX_MARKS_PER_LETTER,
    NicknamePolicy,
    graphemes,
)
from livequiz.domain.question import Question
from livequiz.domain.ranking import Leaderboard, Placing
from livequiz.domain.session import AnswerStatus, Phase, QuizSession
from livequiz.domain.settings import Identity, Pace, QuizSettings, RevealMode, ScoringMode

T = TypeVar("T")

# ---------------------------------------------------------------------------- strategies

#: Every value :meth:`QuizSettings.validate` accepts, field by field (its documented ranges).
VALID_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "time_limit_ms": st.integers(1_000, 600_000),
    "grace_ms": st.integers(0, 5_000),
    "scoring": st.sampled_from(ScoringMode),
    "base_points": st.integers(1, 100_000),
    "streak_bonus": st.integers(0, 10_000),
    "streak_bonus_cap": st.integers(0, 100_000),
    "reveal": st.sampled_from(RevealMode),
    "pace": st.sampled_from(Pace),
    "identity": st.sampled_from(Identity),
    "close_when_all_answered": st.booleans(),
    "allow_late_join": st.booleans(),
    "approve_names": st.booleans(),
    "shuffle_options": st.booleans(),
    "auto_advance_ms": st.one_of(st.just(0), st.integers(3_000, 120_000)),
    "reading_ms": st.one_of(st.just(0), st.integers(1_000, 30_000)),
    "teams": st.one_of(st.just(0), st.integers(2, 6)),
    "team_choice": st.booleans(),
    "max_players": st.integers(1, 100_000),
    "top_k": st.integers(1, 100),
    "max_delivery_lag_ms": st.integers(0, 10_000),
}
ANY_SETTINGS = st.builds(QuizSettings, **VALID_VALUES).map(
    lambda s: s if s.teams else replace(s, team_choice=False)  # team_choice needs teams
)
#: Settings for sessions played by the properties below: names need no approval (a player
#: waiting for the host's approval cannot answer; tests/domain/test_session.py covers that), and
#: no reading time (answers wait for the clock's tick: tests/domain/test_reading.py).
SETTINGS = ANY_SETTINGS.map(
    lambda s: replace(s, approve_names=False, auto_advance_ms=0, reading_ms=0)
)


def with_scoring(mode: ScoringMode) -> st.SearchStrategy[QuizSettings]:
    return SETTINGS.map(lambda s: replace(s, scoring=mode))


#: Settings in which a correct answer earns points.
POINTS_SETTINGS = st.sampled_from([ScoringMode.SPEED, ScoringMode.ACCURACY]).flatmap(with_scoring)


#: JSON values of every shape, as an untrusted client might send them.
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)
#: Values close to valid ones: enum strings of the wrong enum, ints just out of range, floats.
NEAR_MISSES = st.one_of(
    st.sampled_from(
        ["speed", "accuracy", "none", "immediate", "at_close", "SPEED", " speed", "self", "Live"]
    ),
    st.sampled_from([-1, 0, 1, 999, 1_000, 5_001, 10_001, 100_001, 600_001, 2.5, 1_000.0]),
    st.sampled_from([True, False, "true", "1", None]),
    st.integers(),
)


def outcome(call: Callable[[], T]) -> T | Rejected:
    """What ``call`` returns, or the :class:`Rejected` it raised (any other error propagates)."""
    try:
        return call()
    except Rejected as refusal:
        return refusal


def json_roundtrip(value: object) -> Any:
    return json.loads(json.dumps(value))


# ---------------------------------------------------------------------------- scoring


@given(s=with_scoring(ScoringMode.SPEED), data=st.data())
def test_speed_points_never_rise_with_time(s: QuizSettings, data: st.DataObject) -> None:
    elapsed = st.integers(0, s.time_limit_ms)
    early, late = sorted((data.draw(elapsed), data.draw(elapsed)))
    streak = data.draw(st.integers(1, 30))
    assert scoring.points_for(True, early, streak, s) >= scoring.points_for(True, late, streak, s)


@given(s=POINTS_SETTINGS, data=st.data())
def test_correct_points_lie_between_half_base_and_base_plus_cap(
    s: QuizSettings, data: st.DataObject
) -> None:
    elapsed = data.draw(st.integers(0, s.time_limit_ms))
    streak = data.draw(st.integers(1, 100))
    points = scoring.points_for(True, elapsed, streak, s)
    assert 2 * points >= s.base_points
    assert points <= s.base_points + s.streak_bonus_cap
    bonus = min(s.streak_bonus * (streak - 1), s.streak_bonus_cap)
    # the two ends the scoring docstring names: at once base, at the deadline base/2 (+ bonus)
    assert scoring.points_for(True, 0, streak, s) == s.base_points + bonus
    at_deadline = scoring.points_for(True, s.time_limit_ms, streak, s)
    if s.scoring is ScoringMode.SPEED:
        assert at_deadline == s.base_points - s.base_points // 2 + bonus
    else:
        assert at_deadline == s.base_points + bonus


@given(s=SETTINGS, elapsed=st.integers(0, 600_000), streak=st.integers(0, 100))
def test_a_wrong_answer_earns_nothing(s: QuizSettings, elapsed: int, streak: int) -> None:
    assert scoring.points_for(False, min(elapsed, s.time_limit_ms), streak, s) == 0


@given(s=with_scoring(ScoringMode.ACCURACY), data=st.data())
def test_accuracy_points_do_not_depend_on_time(s: QuizSettings, data: st.DataObject) -> None:
    streak = data.draw(st.integers(1, 100))
    points = {
        scoring.points_for(True, data.draw(st.integers(0, s.time_limit_ms)), streak, s)
        for _ in range(3)
    }
    assert points == {s.base_points + min(s.streak_bonus * (streak - 1), s.streak_bonus_cap)}


@given(s=with_scoring(ScoringMode.NONE), data=st.data())
def test_none_mode_never_awards_points(s: QuizSettings, data: st.DataObject) -> None:
    elapsed = data.draw(st.integers(0, s.time_limit_ms))
    assert scoring.points_for(True, elapsed, data.draw(st.integers(1, 100)), s) == 0


@given(s=POINTS_SETTINGS, data=st.data())
def test_the_streak_bonus_grows_by_steps_and_stops_at_the_cap(
    s: QuizSettings, data: st.DataObject
) -> None:
    elapsed = data.draw(st.integers(0, s.time_limit_ms))
    first = scoring.points_for(True, elapsed, 1, s)
    previous = first
    for streak in range(2, 12):
        points = scoring.points_for(True, elapsed, streak, s)
        assert points - first == min(s.streak_bonus * (streak - 1), s.streak_bonus_cap)
        assert points >= previous
        previous = points


@given(
    s=SETTINGS,
    opened=st.integers(0, 10**12),
    sent_offset=st.one_of(st.none(), st.integers(-(10**6), 10**6)),
    arrived_offset=st.integers(-(10**6), 10**6),
)
def test_answer_time_is_measured_from_a_clamped_start_and_clamped_itself(
    s: QuizSettings, opened: int, sent_offset: int | None, arrived_offset: int
) -> None:
    sent = None if sent_offset is None else opened + sent_offset
    arrived = opened + arrived_offset
    elapsed = scoring.answer_time(opened, sent, arrived, s)
    assert 0 <= elapsed <= s.time_limit_ms
    start = opened if sent is None else max(opened, min(sent, opened + s.max_delivery_lag_ms))
    assert elapsed == max(0, min(arrived - start, s.time_limit_ms))
    # no start is the same as a start at the opening; a start before it counts from the opening
    assert scoring.answer_time(opened, None, arrived, s) == scoring.answer_time(
        opened, opened, arrived, s
    )
    if sent is not None and sent < opened:
        assert elapsed == scoring.answer_time(opened, opened, arrived, s)
    # reconnecting cannot push the start later than max_delivery_lag_ms after the opening
    if sent is not None and sent > opened + s.max_delivery_lag_ms:
        assert elapsed == scoring.answer_time(opened, opened + s.max_delivery_lag_ms, arrived, s)
    # arriving later never counts as faster
    assert scoring.answer_time(opened, sent, arrived + 1, s) >= elapsed


@given(s=SETTINGS, opened=st.integers(-(10**12), 10**12))
def test_deadline_and_accepts_until(s: QuizSettings, opened: int) -> None:
    assert scoring.deadline(opened, s) == opened + s.time_limit_ms
    assert scoring.accepts_until(opened, s) == opened + s.time_limit_ms + s.grace_ms
    assert scoring.accepts_until(opened, s) >= scoring.deadline(opened, s)


QUESTIONS = [
    Question(
        prompt=f"Prompt {n}?",
        options=("yes", "no", "maybe"),
        correct_option=n % 3,
        kind="word_to_meaning",
        word=f"w{n}",
        definition=f"d{n}",
    )
    for n in range(2)
]


@given(s=SETTINGS, opened=st.integers(0, 10**12), late_by=st.integers(1, 10**6))
def test_a_session_accepts_until_the_last_millisecond_and_not_one_later(
    s: QuizSettings, opened: int, late_by: int
) -> None:
    s = replace(
        s,
        max_players=max(s.max_players, 2),
        close_when_all_answered=False,
        pace=Pace.LIVE,
        identity=Identity.NICKNAME,
    )
    session = QuizSession(QUESTIONS, s)
    on_time = session.join("on time", 0).player_id
    too_late = session.join("too late", 0).player_id
    session.start(opened)
    last = scoring.accepts_until(opened, s)
    assert session.accepts_until_ms == last
    assert session.closes_at_ms == scoring.deadline(opened, s)
    assert session.tick(last) == []
    assert session.submit_answer(on_time, 0, 0, last).status is AnswerStatus.ACCEPTED
    with pytest.raises(Rejected) as caught:
        session.submit_answer(too_late, 0, 0, last + late_by)
    assert caught.value.code is ErrorCode.TOO_LATE
    closed = session.tick(last + late_by)
    assert [type(event) for event in closed] == [QuestionClosed]
    assert isinstance(closed[0], QuestionClosed)
    assert closed[0].reason is CloseReason.TIME
    assert session.phase is Phase.QUESTION_CLOSED


@given(
    s=SETTINGS,
    opened=st.integers(0, 10**12),
    late_by=st.integers(1, 10**6),
    offset=st.integers(0, 10**6),
)
def test_a_self_paced_question_accepts_until_its_players_last_millisecond_and_not_one_later(
    s: QuizSettings, opened: int, late_by: int, offset: int
) -> None:
    """The live rule, measured per player: each player's question has its own deadline and
    grace, from when *that player* opened it, and the clock closes it for them alone."""
    s = replace(s, max_players=max(s.max_players, 2), pace=Pace.SELF, identity=Identity.NICKNAME)
    session = QuizSession(QUESTIONS, s)
    on_time = session.join("on time", 0).player_id
    too_late = session.join("too late", 0).player_id
    session.start(opened, due_at_ms=opened + 30 * 86_400_000)
    session.advance(on_time, opened)
    session.advance(too_late, opened + offset)
    last = scoring.accepts_until(opened, s)
    assert session.tick(last) == []
    assert session.submit_answer(on_time, 0, 0, last).status is AnswerStatus.ACCEPTED
    their_last = scoring.accepts_until(opened + offset, s)
    assert session.wakeup_ms == their_last
    with pytest.raises(Rejected) as caught:
        session.submit_answer(too_late, 0, 0, their_last + late_by)
    assert caught.value.code is ErrorCode.TOO_LATE
    closed = session.tick(their_last + late_by)
    assert [(type(e), getattr(e, "player_id", None)) for e in closed] == [
        (PlayerQuestionClosed, too_late)
    ]
    assert isinstance(closed[0], PlayerQuestionClosed)
    assert closed[0].reason is CloseReason.TIME
    assert session.phase is Phase.IN_PROGRESS
    assert session.players[too_late].streak == 0


# ---------------------------------------------------------------------------- ranking

SCORES = st.one_of(st.integers(0, 4).map(lambda n: n * 100), st.integers(-(10**9), 10**9))
BOARD_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("set"), st.integers(1, 8), SCORES, st.integers(0, 30)),
        st.tuples(st.just("remove"), st.integers(1, 8), st.just(0), st.just(0)),
    ),
    max_size=40,
)


@given(ops=BOARD_OPS)
def test_leaderboard_matches_an_independent_sort(ops: list[tuple[str, int, int, int]]) -> None:
    board = Leaderboard()
    model: dict[int, tuple[int, int]] = {}  # player → (score, reached_seq)
    for op, player, score, seq in ops:
        if op == "set":
            board.set(player, score, seq)
            model[player] = (score, seq)
        elif player in model:
            board.remove(player)
            del model[player]
        else:
            before = list(board)
            with pytest.raises(CoreBug):
                board.remove(player)
            assert list(board) == before

        order = sorted(model, key=lambda p: (-model[p][0], model[p][1], p))
        placings = list(board)
        assert [p.player_id for p in placings] == order
        assert [p.score for p in placings] == [model[p][0] for p in order]
        assert list(board) == placings  # reading does not change it
        assert len(board) == len(model)
        for position, placing in enumerate(placings, start=1):
            higher = sum(other_score > placing.score for other_score, _ in model.values())
            # ranks are shared by equal scores and skip after a tie (1, 2, 2, 4)
            assert placing.rank == higher + 1
            assert placing.rank == next(
                i for i, p in enumerate(placings, start=1) if p.score == placing.score
            )
            assert placing.rank <= position
            assert board.rank_of(placing.player_id) == placing.rank
            assert board.score_of(placing.player_id) == placing.score
        for k in range(len(placings) + 3):
            assert board.top(k) == placings[:k]
        for player in range(1, 9):
            assert (player in board) == (player in model)


def test_ranks_skip_after_a_tie() -> None:
    board = Leaderboard()
    for player, score in ((1, 500), (2, 300), (3, 300), (4, 100)):
        board.set(player, score, player)
    assert [p.rank for p in board] == [1, 2, 2, 4]
    assert list(board)[1:3] == [Placing(2, 300, 2), Placing(3, 300, 2)]


# ---------------------------------------------------------------------------- nicknames

#: Characters that make normalisation interesting: spaces of all kinds, full-width and styled
#: letters, ligatures, combining marks, case-folding oddities, invisible characters.
TRICKY = list(
    "\t\n\r\x0b\x0c\x1c\x85\u00a0\u1680\u2003\u2028\u3000ｂＺ９𝐀ℌ①²ﬀﬁ\u0301\u0308\u00a8"
    "ẞßİıǅ!@\u200b\u200d\ufeffㅤ\ud800\u202e\u2067\ufe0f\u0336\u20dd\u094d"
)
#: Mostly what a real nickname is made of, with the tricky characters mixed in.
PLAIN = list("abcXYZ019 -_.'") * 3
NICKNAMEISH = st.text(st.sampled_from(PLAIN + TRICKY), max_size=25)
NICKNAME_TEXT = st.one_of(
    NICKNAMEISH,
    st.text(st.one_of(st.sampled_from(PLAIN + TRICKY), st.characters()), max_size=25),
    st.text(),
)
#: Anything a client could send in place of a nickname.
NICKNAME_INPUT = st.one_of(
    NICKNAME_TEXT,
    st.binary(max_size=10),
    st.integers(),
    st.floats(),
    st.none(),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
)


def _profane(nickname: str) -> bool:
    return "bad" in nickname.casefold()


POLICIES = st.one_of(
    st.just(NicknamePolicy()),
    st.builds(
        NicknamePolicy,
        min_length=st.integers(1, 5),
        max_length=st.integers(1, 30),
        is_profane=st.just(_profane),
    ),
)


@given(raw=NICKNAME_INPUT, policy=POLICIES)
def test_normalise_never_raises_anything_but_rejected(raw: object, policy: NicknamePolicy) -> None:
    name = outcome(lambda: policy.normalise(raw))
    if isinstance(name, Rejected):
        assert name.code in (ErrorCode.NICKNAME_INVALID, ErrorCode.NICKNAME_PROFANE)
    else:
        assert isinstance(raw, str)
        assert isinstance(name, str)


@given(raw=NICKNAME_TEXT, policy=POLICIES)
def test_a_normalised_nickname_follows_the_rules_and_normalises_to_itself(
    raw: str, policy: NicknamePolicy
) -> None:
    name = outcome(lambda: policy.normalise(raw))
    if isinstance(name, Rejected):
        assert name.code in (ErrorCode.NICKNAME_INVALID, ErrorCode.NICKNAME_PROFANE)
        return
    assert policy.normalise(name) == name
    assert policy.min_length <= len(graphemes(name)) <= policy.max_length
    assert len(name) <= MAX_CODE_POINTS
    assert unicodedata.is_normalized("NFKC", name)
    assert name == name.strip()
    assert "  " not in name
    for cluster in graphemes(name):
        base, marks = cluster[0], cluster[1:]
        assert unicodedata.category(base)[0] in "LN" or base == " " or base in ALLOWED_MARKS
        assert not marks or unicodedata.category(base)[0] == "L"
        assert len(marks) <= MAX_MARKS_PER_LETTER
        assert all(unicodedata.category(c) in ("Mn", "Mc") for c in marks)
    assert any(unicodedata.category(c)[0] in "LN" for c in name)
    if policy.is_profane is _profane:
        assert not _profane(name)


@given(raw=NICKNAMEISH)
def test_spacing_and_width_variants_normalise_to_the_same_name(raw: str) -> None:
    policy = NicknamePolicy()
    name = outcome(lambda: policy.normalise(raw))
    if isinstance(name, Rejected):
        return
    assert policy.normalise(f"  {raw}\t") == name
    assert policy.normalise(raw.replace(" ", "\u3000")) == name  # ideographic space
    assert policy.normalise(name.replace(" ", "   ")) == name


# ---------------------------------------------------------------------------- settings


def test_the_strategies_know_every_setting() -> None:
    """A setting added later must get a strategy here, or the properties below would skip it."""
    assert set(VALID_VALUES) == {f.name for f in fields(QuizSettings)}


@given(s=ANY_SETTINGS)
def test_settings_survive_a_round_trip_through_json(s: QuizSettings) -> None:
    assert QuizSettings.from_mapping(s.to_mapping()) == s
    assert QuizSettings.from_mapping(json_roundtrip(s.to_mapping())) == s


@given(
    values=st.dictionaries(
        st.one_of(st.sampled_from(list(VALID_VALUES)), st.text(max_size=8), st.integers()),
        st.one_of(NEAR_MISSES, JSON_VALUES, st.sampled_from(ScoringMode)),
        max_size=6,
    )
)
def test_junk_settings_are_refused_with_rejected_or_built_exactly(values: dict[Any, Any]) -> None:
    built = outcome(lambda: QuizSettings.from_mapping(values))
    if isinstance(built, Rejected):
        assert built.code is ErrorCode.INVALID_SETTINGS
        return
    assert_built_exactly(built, values)


@given(
    values=st.fixed_dictionaries({}, optional=VALID_VALUES),
    plain=st.booleans(),
    unknown=st.one_of(st.none(), st.text(max_size=8).filter(lambda k: k not in VALID_VALUES)),
)
def test_valid_settings_are_built_exactly_and_unknown_names_refused(
    values: dict[str, Any], plain: bool, unknown: str | None
) -> None:
    if plain:  # as JSON sends them: enums as strings
        values = json_roundtrip(values)
    if values.get("team_choice") and not values.get("teams"):  # the one rule across fields
        with pytest.raises(Rejected) as caught:
            QuizSettings.from_mapping(values)
        assert caught.value.message == "team_choice needs teams (2 or more)"
        return
    assert_built_exactly(QuizSettings.from_mapping(values), values)
    if unknown is not None:
        with pytest.raises(Rejected) as caught:
            QuizSettings.from_mapping({**values, unknown: 1})
        assert caught.value.code is ErrorCode.INVALID_SETTINGS


def assert_built_exactly(built: QuizSettings, values: dict[Any, Any]) -> None:
    """Every given value taken as it is (same value, the field's own type), defaults elsewhere."""
    assert built.validate() is built
    defaults = QuizSettings()
    mapping = built.to_mapping()
    assert set(values) <= set(mapping)
    for f in fields(QuizSettings):
        value = getattr(built, f.name)
        assert type(value) is type(getattr(defaults, f.name))
        if f.name in values:
            assert mapping[f.name] == values[f.name]
        else:
            assert value == getattr(defaults, f.name)
