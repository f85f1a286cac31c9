"""The wire protocol, sans I/O: text frames in, typed messages out, and frames to send.

Every client frame is decoded here into one of a few frozen message types, or refused with a
:class:`ProtocolError` carrying a stable error code and a message a developer can act on. Nothing
here touches a socket, so every rule is a unit test. The protocol is written down, with every
message's shape, in ``docs/protocol.md``; :data:`VERSION` is the number clients send and get back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

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
