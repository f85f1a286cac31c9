"""What travels on the bus between processes, as typed messages and their bytes.

Three kinds of message cross from one livequiz process to another (subjects in
:mod:`livequiz.names`):

* :class:`CommandBatch` → the quiz's owner (a request): commands of players and hosts connected
  to another process, and *presence* (which players that process holds a connection of). The
  owner stamps each command with its own clock as it takes it: the owner's clock is the quiz's.
* :class:`OutcomeBatch` ← the owner's reply: each command's outcome, in order, once durable.
* :class:`LogEntry` → every process serving the quiz: the journal rows the owner just committed.
  Each process applies them to its own copy of the quiz with the same core
  (:func:`livequiz.domain.commands.execute`), so its copy is the owner's at the same sequence
  number, and builds its clients' frames from the events that come out. ``prev_seq`` lets a
  process notice a message it missed and catch up from the journal.
* :class:`OwnerChanged` → every process serving the quiz: a new owner took it (failover), so
  they re-announce their players' presence to it.

All of them are orjson-encoded dicts with short keys; decoding refuses anything malformed with
:class:`BadMessage` rather than a ``KeyError`` deep inside a handler.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import orjson

from livequiz.domain.commands import Command, Executed, from_record, to_record
from livequiz.domain.errors import ErrorCode, Rejected
from livequiz.domain.events import (
    AnswerAccepted,
    CloseReason,
    Event,
    ExtraTimeGiven,
    FinishReason,
    LobbyLockChanged,
    OptionsShown,
    PlayerFinished,
    PlayerJoined,
    PlayerKicked,
    PlayerLeft,
    PlayerNamed,
    PlayerQuestionClosed,
    PlayerQuestionOpened,
    PlayerRejoined,
    QuestionClosed,
    QuestionOpened,
    QuestionPaused,
    QuestionResumed,
    QuizFinished,
    QuizStarted,
    RejoinAnswered,
    RejoinRequested,
    TeamChanged,
)
from livequiz.domain.session import AnswerOutcome, AnswerRecord, AnswerStatus
from livequiz.ports import Outcome, Record


class BadMessage(ValueError):
    """Bytes from the bus that are not a message of the expected kind."""


@dataclass(frozen=True, slots=True)
class Presence:
    """A process gained its first, or lost its last, connection of a player."""

    player_id: int
    present: bool


Item = Command | Presence


@dataclass(frozen=True, slots=True)
class CommandBatch:
    #: The process that sent the batch (presence is counted per process).
    sender: str
    items: tuple[Item, ...]
    #: The sender's wall clock (ms) after which it no longer waits for the reply: the owner
    #: must not carry out a command that cannot be repeated safely past it (a host's ``close``
    #: delayed by a partition would close whatever question is open by then). ``None``: no
    #: limit (an older sender).
    until_ms: int | None = None
    #: Item position → the W3C ``traceparent`` of the sender's trace of that answer, for the
    #: owner's spans to join it (:mod:`livequiz.tracing`). Empty unless the sender traces:
    #: with tracing off the batch is byte for byte what it was.
    traces: Mapping[int, str] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OutcomeBatch:
    outcomes: tuple[Outcome, ...]


@dataclass(frozen=True, slots=True)
class LogEntry:
    quiz_id: str
    #: The quiz's sequence number before the first row: a process whose copy is behind it
    #: missed something and catches up from the journal first.
    prev_seq: int
    rows: tuple[tuple[int, Record], ...]


@dataclass(frozen=True, slots=True)
class OwnerChanged:
    quiz_id: str
    owner: str
    epoch: int


# ---------------------------------------------------------------------- events


_EVENTS: dict[str, type[Event]] = {
    cls.__name__: cls
    for cls in (
        PlayerJoined,
        PlayerLeft,
        PlayerRejoined,
        PlayerKicked,
        LobbyLockChanged,
        QuizStarted,
        QuestionOpened,
        AnswerAccepted,
        QuestionClosed,
        QuizFinished,
        PlayerQuestionOpened,
        PlayerQuestionClosed,
        PlayerFinished,
        RejoinRequested,
        RejoinAnswered,
        PlayerNamed,
        ExtraTimeGiven,
        TeamChanged,
        OptionsShown,
        QuestionPaused,
        QuestionResumed,
    )
}


def event_to_dict(event: Event) -> dict[str, Any]:
    data: dict[str, Any] = {"e": type(event).__name__}
    for field in fields(event):
        data[field.name] = getattr(event, field.name)
    return data


def event_from_dict(data: dict[str, Any]) -> Event:
    values = dict(data)
    cls = _EVENTS[values.pop("e")]
    if cls is QuestionClosed:
        values["reason"] = CloseReason(values["reason"])
        values["option_counts"] = tuple(values["option_counts"])
    elif cls is QuestionOpened:
        values["extra_ms"] = tuple(tuple(pair) for pair in values.get("extra_ms", ()))
    elif cls is QuizFinished:
        values["reason"] = FinishReason(values["reason"])
    elif cls is PlayerQuestionClosed:
        values["reason"] = CloseReason(values["reason"])
    return cls(**values)


# ---------------------------------------------------------------------- outcomes


def outcome_to_dict(outcome: Outcome) -> dict[str, Any]:
    if isinstance(outcome, Rejected):
        return {"x": outcome.code.value, "m": outcome.message}
    data: dict[str, Any] = {"ev": [event_to_dict(event) for event in outcome.events]}
    if outcome.answer is not None:
        record = outcome.answer.record
        data["a"] = {
            "s": outcome.answer.status.value,
            "r": {field.name: getattr(record, field.name) for field in fields(record)},
        }
    if outcome.player_id is not None:
        data["p"] = outcome.player_id
    return data


def outcome_from_dict(data: dict[str, Any]) -> Outcome:
    if "x" in data:
        return Rejected(ErrorCode(data["x"]), data["m"])
    events = tuple(event_from_dict(event) for event in data["ev"])
    answer = None
    if "a" in data:
        record = AnswerRecord(**data["a"]["r"])
        status = AnswerStatus(data["a"]["s"])
        # The events of an accepted answer are the command's events, as in the core.
        answer = AnswerOutcome(status, record, events if status is AnswerStatus.ACCEPTED else ())
    return Executed(events, answer, data.get("p"))


def outcome_seq(outcome: Outcome) -> int:
    """The quiz's sequence number a process's copy must reach before it shows this outcome
    (an ack's rank, a welcome after a join): its last event's, or the first answer's for a
    repeat; 0 for a refusal."""
    if isinstance(outcome, Rejected):
        return 0
    seq = outcome.events[-1].seq if outcome.events else 0
    if outcome.answer is not None:
        seq = max(seq, outcome.answer.record.seq)
    return seq


# ---------------------------------------------------------------------- messages


def _item_to_dict(item: Item) -> dict[str, Any]:
    if isinstance(item, Presence):
        return {"p": item.player_id, "on": item.present}
    return to_record(item, 0)


def _item_from_dict(data: dict[str, Any]) -> Item:
    if "p" in data:
        return Presence(int(data["p"]), bool(data["on"]))
    command, _ = from_record(data)
    return command


def encode(message: CommandBatch | OutcomeBatch | LogEntry | OwnerChanged) -> bytes:
    if isinstance(message, CommandBatch):
        data: dict[str, Any] = {
            "k": "cmd",
            "from": message.sender,
            "items": [_item_to_dict(item) for item in message.items],
        }
        if message.until_ms is not None:
            data["until"] = message.until_ms
        if message.traces:
            data["tp"] = [[position, parent] for position, parent in message.traces.items()]
    elif isinstance(message, OutcomeBatch):
        data = {"k": "out", "o": [outcome_to_dict(outcome) for outcome in message.outcomes]}
    elif isinstance(message, LogEntry):
        data = {"k": "log", "q": message.quiz_id, "p": message.prev_seq, "r": message.rows}
    else:
        data = {"k": "own", "q": message.quiz_id, "owner": message.owner, "e": message.epoch}
    return orjson.dumps(data)


def _decode(data: bytes, kind: str) -> dict[str, Any]:
    try:
        message = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise BadMessage(f"not JSON: {error}") from None
    if not isinstance(message, dict) or message.get("k") != kind:
        raise BadMessage(f"not a {kind!r} message")
    return message


def decode_commands(data: bytes) -> CommandBatch:
    message = _decode(data, "cmd")
    try:
        items = tuple(_item_from_dict(item) for item in message["items"])
        until = message.get("until")
        if until is not None and (not isinstance(until, int) or isinstance(until, bool)):
            raise ValueError(f"until must be an integer, not {until!r}")
        return CommandBatch(str(message["from"]), items, until, _traces(message.get("tp")))
    except (KeyError, TypeError, ValueError) as error:
        raise BadMessage(f"malformed command batch: {error!r}") from None


def _traces(value: object) -> dict[int, str]:
    """A batch's trace parents; what is not ``[position, "traceparent"]`` is left out: a
    trace is an aid to the operator, never a reason to refuse a player's answer."""
    if not isinstance(value, list):
        return {}
    return {
        pair[0]: pair[1]
        for pair in value
        if isinstance(pair, list)
        and len(pair) == 2
        and isinstance(pair[0], int)
        and not isinstance(pair[0], bool)
        and isinstance(pair[1], str)
        and len(pair[1]) <= 256
    }


def decode_outcomes(data: bytes) -> OutcomeBatch:
    message = _decode(data, "out")
    try:
        return OutcomeBatch(tuple(outcome_from_dict(outcome) for outcome in message["o"]))
    except (KeyError, TypeError, ValueError) as error:
        raise BadMessage(f"malformed outcome batch: {error!r}") from None


def decode_log(data: bytes) -> LogEntry:
    message = _decode(data, "log")
    try:
        rows = tuple((int(seq), dict(record)) for seq, record in message["r"])
        return LogEntry(str(message["q"]), int(message["p"]), rows)
    except (KeyError, TypeError, ValueError) as error:
        raise BadMessage(f"malformed log entry: {error!r}") from None


def decode_owner(data: bytes) -> OwnerChanged:
    message = _decode(data, "own")
    try:
        return OwnerChanged(str(message["q"]), str(message["owner"]), int(message["e"]))
    except (KeyError, TypeError, ValueError) as error:
        raise BadMessage(f"malformed owner message: {error!r}") from None
