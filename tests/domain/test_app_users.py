"""The learning app's users in a quiz (``QuizSession.join_user``): one player per user, the
app's name made fit for a board, and quizzes only the app's users may join."""

from __future__ import annotations

import pytest

from livequiz.domain import views
from livequiz.domain.commands import Join, Kick, execute, replay, to_record
from livequiz.domain.errors import ErrorCode, Rejected
from livequiz.domain.events import PlayerJoined
from livequiz.domain.nicknames import NicknamePolicy
from livequiz.domain.question import Question
from livequiz.domain.session import QuizSession
from livequiz.domain.settings import Identity, QuizSettings


def app_quiz(questions: list[Question]) -> QuizSession:
    return QuizSession(questions, QuizSettings(identity=Identity.APP))


def test_the_same_user_is_one_player_whatever_the_device(questions: list[Question]) -> None:
    session = app_quiz(questions)
    player_id, events = session.join_user("u-42", "Anna Schmidt", 1_000)
    assert events == [
        PlayerJoined(seq=1, at_ms=1_000, player_id=player_id, nickname="Anna Schmidt", late=False)
    ]
    again, more = session.join_user("u-42", "Anna S. (phone)", 2_000)
    assert (again, more) == (player_id, [])
    assert session.seq == 1  # nothing changed: the second device is the same player
    assert len(session.players) == 1
    assert session.players[player_id].user_id == "u-42"
    assert session.players[player_id].nickname == "Anna Schmidt"


def test_two_users_may_share_a_name(questions: list[Question]) -> None:
    session = app_quiz(questions)
    first, _ = session.join_user("u-1", "Anna", 0)
    second, _ = session.join_user("u-2", "Anna", 0)
    assert first != second
    assert [p.nickname for p in session.players.values()] == ["Anna", "Anna"]


def test_a_quiz_for_the_apps_users_refuses_a_nickname(questions: list[Question]) -> None:
    session = app_quiz(questions)
    with pytest.raises(Rejected) as caught:
        session.join("Anna", 0)
    assert caught.value.code is ErrorCode.APP_SIGN_IN_REQUIRED
    assert session.players == {}


def test_an_app_user_may_join_a_nickname_quiz_too(questions: list[Question]) -> None:
    session = QuizSession(questions)
    session.join("Ben", 0)
    player_id, _ = session.join_user("u-42", "Ben", 0)  # not "taken": the app names its users
    assert session.players[player_id].user_id == "u-42"
    lines = views.final_results(session)["players"]
    assert [(line["nickname"], line["user_id"]) for line in lines] == [
        ("Ben", None),
        ("Ben", "u-42"),
    ]


def test_a_removed_user_stays_out_and_the_rules_of_joining_hold(questions: list[Question]) -> None:
    session = QuizSession(questions, QuizSettings(identity=Identity.APP, max_players=1))
    player_id, _ = session.join_user("u-1", "Anna", 0)
    with pytest.raises(Rejected) as full:
        session.join_user("u-2", "Ben", 0)
    assert full.value.code is ErrorCode.QUIZ_FULL
    session.kick(player_id, 1)
    with pytest.raises(Rejected) as kicked:
        session.join_user("u-1", "Anna", 2)
    assert kicked.value.code is ErrorCode.KICKED
    session.set_locked(True, 3)
    with pytest.raises(Rejected) as locked:
        session.join_user("u-3", "Cy", 4)
    assert locked.value.code is ErrorCode.LOBBY_LOCKED
    for bad in ("", "x" * 129, 7, None):
        with pytest.raises(Rejected):
            session.join_user(bad, "Dee", 5)


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("  Anna   Schmidt ", "Anna Schmidt"),
        ("Maximilian Hoffmann-Schulz", "Maximilian Hoffmann…"),  # 20 characters on a board
        ("Ｊｏｓé", "José"),  # NFKC
        ("Dick Johnson", "Dick Johnson"),  # a real name is not a nickname to filter
        ("A\u202eB\u0000C\u200b", "ABC"),  # direction, control and invisible characters go
        ("\u202e\u200b ", "Player"),  # nothing left to show
        (None, "Player"),
    ],
)
def test_the_apps_name_is_made_fit_for_a_board_never_refused(raw: object, shown: str) -> None:
    assert NicknamePolicy().display_name(raw) == shown


def test_the_journal_rebuilds_who_is_which_user(questions: list[Question]) -> None:
    session = app_quiz(questions)
    records = []
    for command in (Join("Anna", "u-1"), Join("Ben", "u-2"), Join("Anna again", "u-1"), Kick(2)):
        if execute(session, command, 0).changed:
            records.append(to_record(command, 0))
    assert records[0] == {"c": "join", "t": 0, "nickname": "Anna", "user_id": "u-1"}
    assert len(records) == 3  # the second join of u-1 changed nothing
    assert to_record(Join("Cy"), 0) == {"c": "join", "t": 0, "nickname": "Cy"}  # as before
    rebuilt = app_quiz(questions)
    replay(rebuilt, records)
    assert {p.id: p.user_id for p in rebuilt.players.values()} == {1: "u-1", 2: "u-2"}
    assert rebuilt.join_user("u-1", "Anna", 1) == (1, [])
    with pytest.raises(Rejected):
        rebuilt.join_user("u-2", "Ben", 1)


def test_execute_says_who_joined(questions: list[Question]) -> None:
    session = app_quiz(questions)
    first = execute(session, Join("Anna", "u-1"), 0)
    assert first.player_id == 1
    assert [type(e) for e in first.events] == [PlayerJoined]
    again = execute(session, Join("Anna", "u-1"), 0)
    assert (again.player_id, again.events) == (1, ())
    nickname = execute(QuizSession(questions), Join("Cy"), 0)
    assert nickname.player_id == 1


def refusal(action: object) -> tuple[ErrorCode, str]:
    """The code and message of the refusal ``action()`` raises (the message is what the user
    reads)."""
    with pytest.raises(Rejected) as caught:
        action()  # type: ignore[operator]
    return caught.value.code, caught.value.message


def test_the_apps_user_id_is_one_to_128_characters(questions: list[Question]) -> None:
    session = app_quiz(questions)
    bad_id = (ErrorCode.UNKNOWN_PLAYER, "the app's user id must be 1 to 128 characters")
    for bad in ("", "x" * 129, 7, None):
        assert refusal(lambda b=bad: session.join_user(b, "Dee", 5)) == bad_id
    assert session.players == {}
    # both ends are users: one character and 128
    one, _ = session.join_user("x", "Eve", 6)
    longest, _ = session.join_user("x" * 128, "Fay", 7)
    assert {p.id: p.user_id for p in session.players.values()} == {one: "x", longest: "x" * 128}


def test_a_removed_user_is_told_so_from_any_device(questions: list[Question]) -> None:
    session = app_quiz(questions)
    player_id, _ = session.join_user("u-1", "Anna", 0)
    session.kick(player_id, 1)
    assert refusal(lambda: session.join_user("u-1", "Anna (tablet)", 2)) == (
        ErrorCode.KICKED,
        "you were removed from this quiz",
    )


def test_the_apps_users_need_no_approval_but_a_nickname_waits_for_the_teacher(
    questions: list[Question],
) -> None:
    # the app names its users; a typed nickname is what the teacher checks (approve_names)
    settings = QuizSettings(approve_names=True, close_when_all_answered=False)
    session = QuizSession(questions, settings)
    user, _ = session.join_user("u-1", "Anna", 0)
    typed = session.join("Ben", 0).player_id
    session.start(1_000)
    assert session.submit_answer(user, 0, 0, 2_000).record.points == 975  # 1 s of 20
    assert refusal(lambda: session.submit_answer(typed, 0, 0, 2_000)) == (
        ErrorCode.NAME_NOT_APPROVED,
        "wait a moment: your teacher checks your name first",
    )
    assert 0 not in session.players[typed].answers
