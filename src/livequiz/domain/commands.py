"""Commands: every change to a quiz as a value, applied by one function.

A command is what a player, the host or the clock asks of a quiz. Making them values (rather than
method calls scattered through the server) gives three things at once:

* one place, :func:`execute`, where a command meets the session — so a store adapter applies a
  whole batch of them as whole operations, one by one, in order;
* a journal: each command that changed something is written down with the time it ran at, and
  replaying the journal into a fresh session rebuilds it exactly (the core is deterministic);
* a wire-neutral form (:func:`to_record` / :func:`from_record`) that any store can keep.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from livequiz.domain.errors import CoreBug
from livequiz.domain.events import Event
from livequiz.domain.session import AnswerOutcome, QuizSession


@dataclass(frozen=True, slots=True)
class Join:
    #: As the client sent it; the nickname rules normalise or refuse it (non-text included).
    #: For a user of the learning app, the name the app gives.
    nickname: object
    #: The learning app's id of a signed-in user (verified by the server before it gets here);
    #: ``None`` for a nickname join.
    user_id: str | None = None
    #: With ``team_choice``: the team the player picked (``None``: the smallest).
    team: int | None = None


@dataclass(frozen=True, slots=True)
class Rejoin:
    player_id: int


@dataclass(frozen=True, slots=True)
class Leave:
    player_id: int


@dataclass(frozen=True, slots=True)
class Answer:
    player_id: int
    index: int
    option: int
    #: When the server sent this question to the player's connection (server clock).
    sent_at_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Kick:
    player_id: int


@dataclass(frozen=True, slots=True)
class RequestRejoin:
    """A device asks to be the (away) player called ``nickname`` again; the host decides."""

    nickname: object
    #: The server's unguessable id of the request: the asking device's claim to the answer.
    request_id: str


@dataclass(frozen=True, slots=True)
class AnswerRejoin:
    """Host: let the device asking to be this player back in, or turn it away."""

    player_id: int
    let_in: bool


@dataclass(frozen=True, slots=True)
class Approve:
    """Host: this player's name may show (``approve_names``)."""

    player_id: int


@dataclass(frozen=True, slots=True)
class Rename:
    """Host: give this player another name (approved with it)."""

    player_id: int
    nickname: object


@dataclass(frozen=True, slots=True)
class GiveExtraTime:
    """Host: ``percent`` more time than each question's limit for one player, from the next
    question on (0 takes it away)."""

    player_id: int
    percent: int


@dataclass(frozen=True, slots=True)
class MoveToTeam:
    """Host: put a player in another team."""

    player_id: int
    team: int


@dataclass(frozen=True, slots=True)
class SetLocked:
    locked: bool


@dataclass(frozen=True, slots=True)
class Start:
    #: Self-paced only: when the quiz finishes for everyone (server clock, ms).
    due_at_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Advance:
    """Self-paced: a player asks for their next question."""

    player_id: int


@dataclass(frozen=True, slots=True)
class CloseQuestion:
    """Close the open question now (``question``: see :class:`Next`)."""

    question: int | None = None


@dataclass(frozen=True, slots=True)
class Pause:
    """Stop the open question's clock."""

    question: int | None = None


@dataclass(frozen=True, slots=True)
class Resume:
    """Start the paused question's clock again."""

    question: int | None = None


@dataclass(frozen=True, slots=True)
class Next:
    """After a reveal, open the next question (or finish).

    ``question``, when the host names it, is the question the host is looking at (the open
    one; for ``next``, the one just closed): a command that reaches the quiz after it moved on
    (sent during a network cut, carried out when the link heals) is refused instead of acting
    on a question the host never meant."""

    question: int | None = None


@dataclass(frozen=True, slots=True)
class Skip:
    """Close the open question and move on; it counts for nobody."""

    question: int | None = None


@dataclass(frozen=True, slots=True)
class End:
    pass


@dataclass(frozen=True, slots=True)
class Tick:
    """The quiz's clock: close the open question if its time (and grace) is up."""


Command = (
    Join
    | Rejoin
    | Leave
    | Answer
    | Kick
    | SetLocked
    | Start
    | CloseQuestion
    | Next
    | Skip
    | End
    | Tick
    | Advance
    | RequestRejoin
    | AnswerRejoin
    | Approve
    | Rename
    | Pause
    | Resume
    | GiveExtraTime
    | MoveToTeam
)


@dataclass(frozen=True, slots=True)
class Executed:
    """What one command did: its events, and for an answer, how it was taken."""

    events: tuple[Event, ...]
    answer: AnswerOutcome | None = None
    #: For a join: the player (new, or the app's user already in the quiz, with no event).
    player_id: int | None = None

    @property
    def changed(self) -> bool:
        """Whether the session changed (and so whether the command belongs in the journal)."""
        return bool(self.events)


def execute(session: QuizSession, command: Command, now_ms: int) -> Executed:
    """Apply one command; raises :class:`~livequiz.domain.errors.Rejected` and changes nothing
    if the rules refuse it."""
    match command:
        case Answer(player_id, index, option, sent_at_ms):
            outcome = session.submit_answer(player_id, index, option, now_ms, sent_at_ms=sent_at_ms)
            return Executed(outcome.events, outcome)
        case Join(nickname, None, team):
            joined = session.join(nickname, now_ms, team)
            return Executed((joined,), player_id=joined.player_id)
        case Join(name, user_id):
            player_id, events = session.join_user(user_id, name, now_ms)
            return Executed(tuple(events), player_id=player_id)
        case Rejoin(player_id):
            return Executed(tuple(session.rejoin(player_id, now_ms)))
        case Leave(player_id):
            return Executed(tuple(session.leave(player_id, now_ms)))
        case Kick(player_id):
            return Executed(tuple(session.kick(player_id, now_ms)))
        case RequestRejoin(nickname, request_id):
            return Executed(tuple(session.request_rejoin(nickname, request_id, now_ms)))
        case AnswerRejoin(player_id, let_in):
            return Executed(tuple(session.answer_rejoin(player_id, let_in, now_ms)))
        case Approve(player_id):
            return Executed(tuple(session.approve(player_id, now_ms)))
        case Rename(player_id, nickname):
            return Executed(tuple(session.rename(player_id, nickname, now_ms)))
        case GiveExtraTime(player_id, percent):
            return Executed(tuple(session.give_extra_time(player_id, percent, now_ms)))
        case MoveToTeam(player_id, team):
            return Executed(tuple(session.move_to_team(player_id, team, now_ms)))
        case SetLocked(locked):
            return Executed(tuple(session.set_locked(locked, now_ms)))
        case Start(due_at_ms):
            return Executed(tuple(session.start(now_ms, due_at_ms)))
        case Advance(player_id):
            return Executed(tuple(session.advance(player_id, now_ms)))
        case CloseQuestion(question):
            return Executed(tuple(session.close_question(now_ms, question)))
        case Next(question):
            return Executed(tuple(session.next(now_ms, question)))
        case Pause(question):
            return Executed(tuple(session.pause(now_ms, question)))
        case Resume(question):
            return Executed(tuple(session.resume(now_ms, question)))
        case Skip(question):
            return Executed(tuple(session.skip(now_ms, question)))
        case End():
            return Executed(tuple(session.end(now_ms)))
        case Tick():
            return Executed(tuple(session.tick(now_ms)))
    raise CoreBug(f"unknown command {command!r}")  # pragma: no cover - the match is exhaustive


# ---------------------------------------------------------------------- journal records

_NAMES: dict[type[Command], str] = {
    Join: "join",
    Rejoin: "rejoin",
    Leave: "leave",
    Answer: "answer",
    Kick: "kick",
    SetLocked: "lock",
    Start: "start",
    CloseQuestion: "close",
    Next: "next",
    Skip: "skip",
    End: "end",
    Tick: "tick",
    Advance: "advance",
    RequestRejoin: "ask_rejoin",
    AnswerRejoin: "answer_rejoin",
    Approve: "approve",
    Rename: "rename",
    Pause: "pause",
    Resume: "resume",
    GiveExtraTime: "extra_time",
    MoveToTeam: "team",
}
_TYPES = {name: kind for kind, name in _NAMES.items()}
#: Fields left out of a record while they hold their default, so that the records of a live
#: quiz stay as they were before self-paced quizzes (and older journals replay unchanged).
_OPTIONAL = frozenset({"due_at_ms", "user_id", "question", "team"})


def to_record(command: Command, now_ms: int) -> dict[str, Any]:
    """A JSON-ready record of a command and the time it ran at."""
    record: dict[str, Any] = {"c": _NAMES[type(command)], "t": now_ms}
    for name in command.__dataclass_fields__:
        value = getattr(command, name)
        if value is not None or name not in _OPTIONAL:
            record[name] = value
    return record


def from_record(record: dict[str, Any]) -> tuple[Command, int]:
    """The command and time of a record written by :func:`to_record`."""
    values = dict(record)
    kind = _TYPES[values.pop("c")]
    now_ms = values.pop("t")
    return kind(**values), now_ms


def replay(session: QuizSession, records: list[dict[str, Any]]) -> None:
    """Rebuild a session from its journal; a record the rules refuse means a corrupt journal."""
    for record in records:
        command, now_ms = from_record(record)
        if not execute(session, command, now_ms).changed:
            raise CoreBug(f"journal record changed nothing on replay: {record!r}")
