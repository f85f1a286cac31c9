"""The bus codec carries every event and every command, whatever kind of quiz made it.

A process that follows a quiz gets its events over the bus, and a command for a quiz another
process owns goes there as a record: an event or command the codec did not know would stop a
copy (or refuse a command) only in a cluster, never on one process. These tests take the list
of kinds from the core itself, so a kind added later is covered without a line here.
"""

from __future__ import annotations

import typing
from dataclasses import fields
from typing import Any

import pytest

from livequiz import codec
from livequiz.domain import events
from livequiz.domain.commands import Advance, Answer, Command, Executed, Start
from livequiz.domain.events import CloseReason, Event, FinishReason

#: A value of each field type the events use, different from any default.
SAMPLES: dict[str, object] = {
    "int": 7,
    "str": "Ann",
    "bool": True,
    "CloseReason": CloseReason.ANSWERED,
    "FinishReason": FinishReason.DUE,
    "tuple[int, ...]": (3, 0, 1),
    "tuple[tuple[int, int], ...]": ((2, 10_000), (5, 20_000)),
    "int | None": 1_800_000_000_000,
}


def every_event_kind() -> list[type[Event]]:
    return [
        cls
        for cls in vars(events).values()
        if isinstance(cls, type) and issubclass(cls, Event) and cls is not Event
    ]


def sample(cls: type[Event]) -> Event:
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for field in fields(cls):
        hint = hints[field.name]
        name = getattr(hint, "__name__", None) if not typing.get_args(hint) else str(hint)
        values[field.name] = SAMPLES[str(name).replace("typing.", "")]
    return cls(**values)


@pytest.mark.parametrize("cls", every_event_kind(), ids=lambda cls: cls.__name__)
def test_every_event_crosses_the_bus_unchanged(cls: type[Event]) -> None:
    event = sample(cls)
    batch = codec.OutcomeBatch((Executed((event,)),))
    (outcome,) = codec.decode_outcomes(codec.encode(batch)).outcomes
    assert isinstance(outcome, Executed)
    assert outcome.events == (event,)
    assert type(outcome.events[0]) is cls


def test_the_self_paced_events_are_among_them() -> None:
    names = {cls.__name__ for cls in every_event_kind()}
    assert {"PlayerQuestionOpened", "PlayerQuestionClosed", "PlayerFinished"} <= names


COMMANDS: list[Command] = [
    Start(),
    Start(due_at_ms=1_800_000_000_000),
    Advance(4),
    Answer(4, 2, 1, sent_at_ms=1_799_999_999_000),
]


@pytest.mark.parametrize("command", COMMANDS, ids=repr)
def test_self_paced_commands_cross_the_bus_unchanged(command: Command) -> None:
    batch = codec.CommandBatch("process-a", (command,), None)
    assert codec.decode_commands(codec.encode(batch)).items == (command,)
