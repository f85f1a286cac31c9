"""The wire protocol, sans I/O: text frames in, typed messages out, and every frame to send.

Every client frame is decoded here into one of a few frozen message types, or refused with a
:class:`ProtocolError` carrying a stable error code and a message a developer can act on. Nothing
here touches a socket, so every rule is a unit test. The protocol is written down, with every
message's shape, in ``docs/protocol.md``; :data:`VERSION` is the number clients send and get back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from livequiz.domain import views
from livequiz.domain.events import (
    LobbyLockChanged,
    OptionsShown,
    PlayerFinished,
    PlayerNamed,
    PlayerQuestionClosed,
    PlayerQuestionOpened,
    QuestionClosed,
    QuestionOpened,
    QuestionPaused,
    QuestionResumed,
    QuizFinished,
    QuizStarted,
)
from livequiz.domain.question import Question
from livequiz.domain.session import (
    MAX_EXTRA_TIME_PERCENT,
    AnswerOutcome,
    AnswerStatus,
    Player,
    QuizSession,
)
from livequiz.domain.settings import MAX_TEAMS, QuizSettings

if TYPE_CHECKING:
    from livequiz.ports import QuizDefinition

VERSION = 1

#: Longest nickname or PIN text worth reading before the rules refuse it anyway.
_MAX_TEXT = 64
#: How deep arrays and objects may nest in a message. Version 1's messages are flat (one
#: level); 64 leaves room for later versions, is far below orjson's own limit (1,024) and keeps
#: the standard-library fallback (:func:`_read_json`) clear of Python's recursion limit, so
#: the same bound holds whichever parser reads a frame.
MAX_NESTING = 64
#: A UTF-16 surrogate code point: JSON may escape one alone (``"\ud800"``), but it is not a
#: character, cannot be encoded as UTF-8, and so can never be a nickname, a token or a PIN.
_SURROGATE = re.compile(r"[\ud800-\udfff]")


class ProtocolError(Exception):
    """A frame that is not a valid message; the connection stays open unless said otherwise."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Hello:
    """Authenticate with a token from ``POST /api/quizzes`` or ``…/join``, or a rejoin."""

    token: str
    #: The highest sequence number the client has seen (optional, on a reconnect): a server
    #: process whose copy of the quiz is behind it reads the journal first, so the welcome
    #: never shows an older state than the client already drew.
    seen_seq: int | None = None


@dataclass(frozen=True, slots=True)
class JoinRequest:
    """Join by PIN and nickname straight over the socket (no HTTP round trip first)."""

    pin: str
    nickname: str


@dataclass(frozen=True, slots=True)
class AnswerRequest:
    index: int
    option: int


@dataclass(frozen=True, slots=True)
class HostRequest:
    action: str
    player_id: int | None
    #: ``rename`` only: the new name; ``None``: the server picks a friendly one.
    nickname: str | None = None
    #: :data:`QUESTION_ACTIONS` only, optional: the question the host means (the open one;
    #: for ``next``, the one just closed). Named, the action is refused once the quiz has
    #: moved on from it.
    question: int | None = None
    #: ``extra_time`` only: percent more than each question's time limit.
    percent: int | None = None
    #: ``team`` only: the team to move the player to (0 is the first).
    team: int | None = None


@dataclass(frozen=True, slots=True)
class SyncRequest:
    """Ask for a fresh snapshot (after missing frames, or on a tab coming back to the front)."""


@dataclass(frozen=True, slots=True)
class NextRequest:
    """A player of a self-paced quiz asks for their next question."""


ClientMessage = Hello | JoinRequest | AnswerRequest | HostRequest | SyncRequest | NextRequest

HOST_ACTIONS = frozenset(
    {
        "start", "close", "next", "skip", "end", "kick", "lock", "unlock",
        "let_in", "turn_away", "approve", "rename", "pause", "resume", "extra_time", "team",
    }
)  # fmt: skip
#: Host actions about one player: they carry its ``player_id``.
PLAYER_ACTIONS = frozenset(
    {"kick", "let_in", "turn_away", "approve", "rename", "extra_time", "team"}
)
#: Host actions about the current question: they may name it (``q``).
QUESTION_ACTIONS = frozenset({"close", "next", "skip", "pause", "resume"})


def decode(frame: str | bytes) -> ClientMessage:
    """Decode one client frame or raise :class:`ProtocolError`.

    What is refused, and with which code, is the first rule broken in this order (written in
    ``docs/protocol.md``, "Valid JSON the server does not take"): nesting deeper than
    :data:`MAX_NESTING` (``bad_message``); not JSON at all (``bad_json``); not an object, or
    no string ``type`` (``bad_message``); a known type with a field missing, of the wrong
    type, out of range, too long or holding a lone surrogate (``bad_message``); any other
    ``type`` (``unknown_type``).
    """
    _check_nesting(frame)
    try:
        data = orjson.loads(frame)
    except orjson.JSONDecodeError:
        data = _read_json(frame)
    if not isinstance(data, dict):
        raise ProtocolError("bad_message", "a message must be a JSON object")
    kind = data.get("type")
    if kind == "answer":
        return AnswerRequest(index=_int(data, "q"), option=_int(data, "option"))
    if kind == "hello":
        seen = data.get("seq")
        if seen is not None:
            seen = _int(data, "seq")
            if seen < 0:
                raise ProtocolError("bad_message", "field 'seq' is out of range")
        return Hello(token=_text(data, "token", 512), seen_seq=seen)
    if kind == "join":
        return JoinRequest(
            pin=_text(data, "pin", _MAX_TEXT), nickname=_text(data, "nickname", _MAX_TEXT)
        )
    if kind == "host":
        action = _text(data, "action", _MAX_TEXT)
        if action not in HOST_ACTIONS:
            raise ProtocolError(
                "bad_message", f"unknown host action {action!r}; one of {sorted(HOST_ACTIONS)}"
            )
        player_id = _int(data, "player_id") if action in PLAYER_ACTIONS else None
        nickname = None
        if action == "rename" and data.get("nickname") is not None:
            nickname = _text(data, "nickname", _MAX_TEXT)
        question = None
        if action in QUESTION_ACTIONS and data.get("q") is not None:
            question = _int(data, "q")
        percent = _int_within(data, "percent", MAX_EXTRA_TIME_PERCENT, action == "extra_time")
        team = _int_within(data, "team", MAX_TEAMS - 1, action == "team")
        return HostRequest(
            action=action,
            player_id=player_id,
            nickname=nickname,
            question=question,
            percent=percent,
            team=team,
        )
    if kind == "sync":
        return SyncRequest()
    if kind == "next":
        return NextRequest()
    if not isinstance(kind, str):
        raise ProtocolError("bad_message", "a message needs a string field 'type'")
    raise ProtocolError("unknown_type", f"unknown message type {kind[:_MAX_TEXT]!r}")


def _check_nesting(frame: str | bytes) -> None:
    """Refuse a frame nested deeper than :data:`MAX_NESTING`, valid JSON or not.

    Counting brackets (two scans in C, ~1 µs for a 4 KiB frame) bounds the depth from above,
    so only a frame with that many of them is walked character by character.
    """
    text = frame if isinstance(frame, str) else frame.decode("utf-8", "replace")
    if text.count("[") + text.count("{") <= MAX_NESTING:
        return
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_NESTING:
                raise ProtocolError(
                    "bad_message", f"the message is nested deeper than {MAX_NESTING} levels"
                )
        elif char in "]}":
            depth -= 1


def _read_json(frame: str | bytes) -> Any:
    """JSON that orjson refused: valid JSON it does not take, or ``bad_json``.

    orjson refuses some texts that RFC 8259 allows: a string escaping a lone surrogate
    (``"\\ud800"``), a number past a double's range (``1e400``, or an integer of hundreds of
    digits), a leading byte-order mark (which §8.1 lets a parser ignore). The standard library
    reads those (only on this error path, so the common case stays fast); the message is
    then checked like any other: a field the protocol reads must still be a whole number in
    range or a proper string, and a field it does not know is ignored, whatever it holds.
    ``NaN`` and ``Infinity`` are not JSON and stay ``bad_json``.
    """
    try:
        text = frame if isinstance(frame, str) else frame.decode("utf-8")
        return json.loads(text.removeprefix("\ufeff"), parse_constant=_not_json)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ProtocolError("bad_json", "the frame is not valid JSON") from None


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def _int_within(data: dict[str, Any], name: str, most: int, wanted: bool) -> int | None:
    """Field ``name``, a whole number from 0 to ``most``, where the action takes it
    (``wanted``; elsewhere it is ignored, like any unknown field)."""
    if not wanted:
        return None
    value = _int(data, name)
    if not 0 <= value <= most:
        raise ProtocolError("bad_message", f"field {name!r} must be 0 to {most}")
    return value


def _int(data: dict[str, Any], name: str) -> int:
    value = data.get(name)
    if type(value) is not int:
        # orjson reads an integer past 64 bits as a float: it is out of range either way.
        if isinstance(value, float) and value.is_integer() and abs(value) >= 2**31:
            raise ProtocolError("bad_message", f"field {name!r} is out of range")
        raise ProtocolError("bad_message", f"field {name!r} must be a whole number")
    if not -(2**31) <= value < 2**31:
        raise ProtocolError("bad_message", f"field {name!r} is out of range")
    return value


def _text(data: dict[str, Any], name: str, limit: int) -> str:
    value = data.get(name)
    if not isinstance(value, str):
        raise ProtocolError("bad_message", f"field {name!r} must be a string")
    if len(value) > limit:
        raise ProtocolError("bad_message", f"field {name!r} is too long")
    if _SURROGATE.search(value):
        raise ProtocolError(
            "bad_message", f"field {name!r} holds a lone surrogate escape, which is no character"
        )
    return value


# ---------------------------------------------------------------------- server → client


def encode(message: dict[str, Any]) -> bytes:
    """One server frame as UTF-8 JSON bytes (orjson: ~1 µs for a small message)."""
    return orjson.dumps(message)


def error(code: str, message: str, **extra: Any) -> bytes:
    return encode({"type": "error", "code": code, "message": message, **extra})


# ---------------------------------------------------------------------- frames, one builder each
#
# Every frame the server sends is built here. Frames about something that happened are built
# from its event and the quiz's definition (immutable), never from the session's state after
# the batch: when one batch opens question 1 and skips on to question 2, the first ``question``
# frame must show question 1. Personal frames (acks, results, snapshots) read the session of
# the process that sends them, at the sequence number they carry.


def question_frame(
    questions: Sequence[Question],
    settings: QuizSettings,
    event: QuestionOpened | PlayerQuestionOpened,
    player_id: int | None = None,
    extra_ms: int = 0,
) -> bytes:
    """A question opened: for everyone (live), or for one player (self-paced, the same shape;
    and live with ``shuffle_options``, where each player sees the options in their own order,
    or with extra time, ``extra_ms``, where that player sees their own deadline)."""
    if isinstance(event, PlayerQuestionOpened):
        player_id = event.player_id
    return encode(
        {
            "type": "question",
            "seq": event.seq,
            "question": views.question_at(
                questions,
                settings,
                event.index,
                event.closes_at_ms,
                event.at_ms,
                is_open=True,
                player_id=player_id,
                extra_ms=extra_ms,
                options_at_ms=None
                if isinstance(event, PlayerQuestionOpened)
                else event.options_at_ms,
            ),
            "server_time_ms": event.at_ms,
        }
    )


def options_frame(
    questions: Sequence[Question],
    settings: QuizSettings,
    event: OptionsShown,
    player_id: int | None = None,
) -> bytes:
    """The reading time is over: the open question's options (a player's own order with
    ``shuffle_options``). Its deadline was in its ``question`` frame."""
    return encode(
        {
            "type": "options",
            "seq": event.seq,
            **views.options_view(questions[event.index], settings, event.index, player_id),
            "server_time_ms": event.at_ms,
        }
    )


def closed_frame(questions: Sequence[Question], event: QuestionClosed) -> bytes:
    return encode(
        {
            "type": "closed",
            "seq": event.seq,
            "index": event.index,
            "reason": event.reason.value,
            "reveal": views.reveal(questions[event.index]),
            "option_counts": list(event.option_counts),
            # the quiz moves on by itself this long after the reveal; null: the host does
            "next_in_ms": None if event.next_at_ms is None else event.next_at_ms - event.at_ms,
        }
    )


def started_frame(event: QuizStarted) -> bytes:
    """A self-paced quiz was handed out: each player may now open their first question."""
    return encode(
        {
            "type": "started",
            "seq": event.seq,
            "question_count": event.question_count,
            "due_at_ms": event.due_at_ms,
        }
    )


def own_closed_frame(questions: Sequence[Question], event: PlayerQuestionClosed) -> bytes:
    """Self-paced: one player's question closed; their reveal (no counts: others are still
    answering it)."""
    return encode(
        {
            "type": "closed",
            "seq": event.seq,
            "index": event.index,
            "reason": event.reason.value,
            "reveal": views.reveal(questions[event.index]),
        }
    )


def player_finished_frame(event: PlayerFinished) -> bytes:
    """Self-paced, to the hosts: a player has done every question."""
    return encode(
        {
            "type": "player_finished",
            "seq": event.seq,
            "player_id": event.player_id,
            "score": event.score,
            "correct": event.correct,
        }
    )


def finished_frame(event: QuizFinished) -> bytes:
    return encode({"type": "finished", "seq": event.seq, "reason": event.reason.value})


def paused_frame(event: QuestionPaused) -> bytes:
    return encode(
        {
            "type": "paused",
            "seq": event.seq,
            "index": event.index,
            "remaining_ms": event.remaining_ms,
        }
    )


def resumed_frame(event: QuestionResumed) -> bytes:
    """The resume: the deadline moved on by the pause (``server_time_ms`` to draw it from)."""
    return encode(
        {
            "type": "resumed",
            "seq": event.seq,
            "index": event.index,
            "server_time_ms": event.at_ms,
            "closes_at_ms": event.closes_at_ms,
            "remaining_ms": max(event.closes_at_ms - event.at_ms, 0),
        }
    )


def lock_frame(event: LobbyLockChanged) -> bytes:
    return encode({"type": "lock", "seq": event.seq, "locked": event.locked})


KICKED_FRAME = encode({"type": "kicked", "message": "the host removed you from this quiz"})


def board_frame(session: QuizSession) -> bytes:
    """The shared leaderboard of one tick (a snapshot of the session at its ``seq``)."""
    board = views.leaderboard(session)
    board["type"] = "board"
    return encode(board)


def named_frame(event: PlayerNamed) -> bytes:
    """To the player: the host approved their name, or gave them this one."""
    return encode({"type": "named", "seq": event.seq, "nickname": event.nickname})


#: The lists of the host's ``players`` frame, in the frame's order: who joined (``{player_id,
#: nickname, approved}``), left, came back, was removed, answered the open question, was named
#: (``{player_id, nickname}``), asks to come back from another device, was answered so.
PLAYER_NEWS = (
    "joined",
    "left",
    "back",
    "kicked",
    "answered",
    "named",
    "rejoin_asked",
    "rejoin_answered",
    "extra_time",
    "team",
)


def no_player_news() -> dict[str, list[Any]]:
    """An empty delta for :func:`players_frame`, one list per :data:`PLAYER_NEWS` name."""
    return {name: [] for name in PLAYER_NEWS}


def players_frame(seq: int, news: dict[str, list[Any]], present: int, players: int) -> bytes:
    """The host's delta of one tick (:data:`PLAYER_NEWS`), with the counts after."""
    return encode({"type": "players", "seq": seq, **news, "present": present, "players": players})


def snapshot_frame(
    kind: str,
    role: str,
    definition: QuizDefinition,
    state: dict[str, Any],
    now_ms: int,
    token: str | None = None,
) -> bytes:
    """``welcome`` (after authenticating) or ``snapshot`` (on ``sync``): all a client draws."""
    frame: dict[str, Any] = {
        "type": kind,
        "v": VERSION,
        "role": role,
        "quiz": {"quiz_id": definition.quiz_id, "pin": definition.pin, "title": definition.title},
        "server_time_ms": now_ms,
        "state": state,
    }
    if token is not None:
        frame["token"] = token
    return encode(frame)


def ack_frame(session: QuizSession, index: int, answer: AnswerOutcome, player: Player) -> bytes:
    frame: dict[str, Any] = {
        "type": "ack",
        "q": index,
        "status": answer.status.value,
        "seq": answer.record.seq,
        "answer": views.answer_result(session, answer.record),
        "standing": views.standing(session, player),
    }
    if answer.status is AnswerStatus.ALREADY_ANSWERED:
        frame["message"] = "you already answered this question; your first answer stands"
    return encode(frame)


def host_ack_frame(action: str, seq: int) -> bytes:
    return encode({"type": "host_ack", "action": action, "seq": seq})


def result_frame(session: QuizSession, player: Player, index: int) -> bytes:
    """A player's own result of a closed question, with their standing."""
    record = player.answers.get(index)
    return encode(
        {
            "type": "result",
            "index": index,
            "answer": None if record is None else views.answer_result(session, record),
            "standing": views.standing(session, player),
            "streak": player.published_streak,
            "ahead": views.ahead(session, player),
        }
    )


def player_final_frame(session: QuizSession, player_id: int) -> bytes:
    return encode({"type": "final", "results": views.player_results(session, player_id)})


def host_final_frame(session: QuizSession) -> bytes:
    return encode({"type": "final", "results": views.final_results(session)})
