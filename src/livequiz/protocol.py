"""The wire protocol, sans I/O: text frames in, typed messages out, and every frame to send.

Every client frame is decoded here into one of a few frozen message types, or refused with a
:class:`ProtocolError` carrying a stable error code and a message a developer can act on. Nothing
here touches a socket, so every rule is a unit test. The protocol is written down, with every
message's shape, in ``docs/protocol.md``; :data:`VERSION` is the number clients send and get back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from livequiz.domain import views
from livequiz.domain.events import LobbyLockChanged, QuestionClosed, QuestionOpened, QuizFinished
from livequiz.domain.question import Question
from livequiz.domain.session import AnswerOutcome, AnswerStatus, Player, QuizSession
from livequiz.domain.settings import QuizSettings

if TYPE_CHECKING:
    from livequiz.ports import QuizDefinition

VERSION = 1

#: Longest nickname or PIN text worth reading before the rules refuse it anyway.
_MAX_TEXT = 64


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


@dataclass(frozen=True, slots=True)
class SyncRequest:
    """Ask for a fresh snapshot (after missing frames, or on a tab coming back to the front)."""


ClientMessage = Hello | JoinRequest | AnswerRequest | HostRequest | SyncRequest

HOST_ACTIONS = frozenset({"start", "close", "next", "skip", "end", "kick", "lock", "unlock"})


def decode(frame: str | bytes) -> ClientMessage:
    """Decode one client frame or raise :class:`ProtocolError`."""
    try:
        data = orjson.loads(frame)
    except orjson.JSONDecodeError:
        raise ProtocolError("bad_json", "the frame is not valid JSON") from None
    if not isinstance(data, dict):
        raise ProtocolError("bad_message", "a message must be a JSON object")
    kind = data.get("type")
    if kind == "answer":
        return AnswerRequest(index=_int(data, "q"), option=_int(data, "option"))
    if kind == "hello":
        return Hello(token=_text(data, "token", 512))
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
        player_id = _int(data, "player_id") if action == "kick" else None
        return HostRequest(action=action, player_id=player_id)
    if kind == "sync":
        return SyncRequest()
    if not isinstance(kind, str):
        raise ProtocolError("bad_message", "a message needs a string field 'type'")
    raise ProtocolError("unknown_type", f"unknown message type {kind[:_MAX_TEXT]!r}")


def _int(data: dict[str, Any], name: str) -> int:
    value = data.get(name)
    if type(value) is not int:
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
    questions: Sequence[Question], settings: QuizSettings, event: QuestionOpened
) -> bytes:
    return encode(
        {
            "type": "question",
            "seq": event.seq,
            "question": views.question_at(
                questions, settings, event.index, event.closes_at_ms, event.at_ms, is_open=True
            ),
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
        }
    )


def finished_frame(event: QuizFinished) -> bytes:
    return encode({"type": "finished", "seq": event.seq, "reason": event.reason.value})


def lock_frame(event: LobbyLockChanged) -> bytes:
    return encode({"type": "lock", "seq": event.seq, "locked": event.locked})


KICKED_FRAME = encode({"type": "kicked", "message": "the host removed you from this quiz"})


def board_frame(session: QuizSession) -> bytes:
    """The shared leaderboard of one tick (a snapshot of the session at its ``seq``)."""
    board = views.leaderboard(session)
    board["type"] = "board"
    return encode(board)


def players_frame(
    seq: int,
    joined: list[dict[str, Any]],
    left: list[int],
    back: list[int],
    kicked: list[int],
    present: int,
    players: int,
) -> bytes:
    """The host's lobby delta of one tick: who joined, left, came back or was removed."""
    return encode(
        {
            "type": "players",
            "seq": seq,
            "joined": joined,
            "left": left,
            "back": back,
            "kicked": kicked,
            "present": present,
            "players": players,
        }
    )


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
        }
    )


def player_final_frame(session: QuizSession, player_id: int) -> bytes:
    return encode({"type": "final", "results": views.player_results(session, player_id)})


def host_final_frame(session: QuizSession) -> bytes:
    return encode({"type": "final", "results": views.final_results(session)})
