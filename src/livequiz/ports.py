"""Ports: what livequiz needs from storage and messaging, not how they do it.

Two deployments implement them: the embedded default (one process; a SQLite journal and an
in-process bus, :mod:`livequiz.adapters.embedded`) and scale-out (many processes on PostgreSQL
and NATS, :mod:`livequiz.adapters.postgres` and :mod:`livequiz.adapters.nats`). Both are held to
the same rules by the contract suites in ``tests/contract/``.

The rules of a quiz are not here: they run in the pure core (:mod:`livequiz.domain`), in the one
process that owns the quiz (:mod:`livequiz.store`). Storage keeps what the core needs to be
rebuilt anywhere — the definition and the log of commands that changed the quiz — and decides
who the owner is:

* :class:`QuizDirectory`: create a quiz under a PIN unique among live quizzes; PIN → quiz.
* :class:`CommandLog`: the journal. A batch of commands is stored in one durable commit, and
  only while the writer still holds the quiz's lease (its *epoch*): a paused or cut-off old
  owner can never write after another process took the quiz over (fencing).
* :class:`Leases`: which process owns each live quiz, for how long, and at which epoch.
* :class:`QuestionFlags`: questions players and hosts flagged during a review, kept out of
  generation by every process until a teacher clears them.

:class:`Bus` carries, between processes, the commands for a quiz to its owner (request/reply)
and the owner's committed log to every process that serves the quiz's players (publish/subscribe).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from livequiz.domain.commands import Command, Executed
from livequiz.domain.errors import Rejected
from livequiz.domain.question import Question
from livequiz.domain.settings import QuizSettings


@dataclass(frozen=True, slots=True)
class QuizDefinition:
    """What a quiz is made of when it is created; never changes afterwards."""

    #: Internal id, bound into tokens; never reused.
    quiz_id: str
    #: The short quiz ID players type; unique among live quizzes, reused after a quiz ends.
    pin: str
    title: str
    questions: tuple[Question, ...]
    settings: QuizSettings
    created_at_ms: int
    #: The API key (its public id) the learning app created the quiz with, if it did: that key
    #: may read the quiz's results as its host may.
    created_by: str | None = None
    #: Where the quiz's results are POSTed (the learning app's webhook), and the secret their
    #: signature is made with; ``None``: no webhook.
    webhook_url: str | None = None
    webhook_secret: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form, for journals and stores."""
        return {
            "quiz_id": self.quiz_id,
            "pin": self.pin,
            "title": self.title,
            "questions": [
                {
                    "prompt": q.prompt,
                    "options": list(q.options),
                    "correct_option": q.correct_option,
                    "kind": q.kind,
                    "word": q.word,
                    "definition": q.definition,
                    "example": q.example,
                    "level": q.level,
                }
                for q in self.questions
            ],
            "settings": self.settings.to_mapping(),
            "created_at_ms": self.created_at_ms,
            **({"created_by": self.created_by} if self.created_by is not None else {}),
            **(
                {"webhook_url": self.webhook_url, "webhook_secret": self.webhook_secret}
                if self.webhook_url is not None
                else {}
            ),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QuizDefinition:
        return cls(
            quiz_id=data["quiz_id"],
            pin=data["pin"],
            title=data["title"],
            questions=tuple(
                Question(**{**q, "options": tuple(q["options"])}) for q in data["questions"]
            ),
            settings=QuizSettings.from_mapping(data["settings"]),
            created_at_ms=data["created_at_ms"],
            created_by=data.get("created_by"),
            webhook_url=data.get("webhook_url"),
            webhook_secret=data.get("webhook_secret"),
        )


@dataclass(frozen=True, slots=True)
class Envelope:
    """One command for one quiz, stamped with the server time it runs at."""

    quiz_id: str
    command: Command
    now_ms: int


Outcome = Executed | Rejected

#: One journal record, JSON-ready: a command and the time it ran at
#: (:func:`~livequiz.domain.commands.to_record`).
Record = dict[str, Any]
#: One journal row: ``(quiz_id, seq, record)``; ``seq`` is the quiz's sequence number after the
#: command ran, so it is unique per quiz and orders the quiz's records.
Row = tuple[str, int, Record]


class UnknownQuiz(Exception):
    """No quiz has that id, or no live quiz has that PIN."""


class PinTaken(Exception):
    """A live quiz already has this PIN: pick another and try again."""


class Fenced(Exception):
    """This process no longer holds the lease of a quiz it tried to write: nothing was stored.

    ``quiz_ids`` are the quizzes whose lease (epoch) had moved on, or whose journal already held
    a record at the sequence number being written.
    """

    def __init__(self, quiz_ids: Sequence[str], message: str = "") -> None:
        super().__init__(message or f"lease lost for {', '.join(sorted(quiz_ids))}")
        self.quiz_ids = frozenset(quiz_ids)


class Unavailable(Exception):
    """A service livequiz relies on (the storage, the bus) cannot be reached right now.

    Where a user's request meets it (loading a quiz for a hello, the results), it is answered
    as ``unavailable`` / 503 "try again", never as a server error: either kind may be the cause
    (found by the cluster nemesis with NATS killed: the results of a quiz this process did not
    follow yet got a 500 because following it needs the bus).
    """


class StorageUnavailable(Unavailable):
    """Storage cannot be reached (or refused the write) right now.

    Retryable: the same call may succeed once the database is back. A write that failed so may
    still have been stored (its commit went through and the reply was lost): the owner reads
    the journal again before the quiz's next command, and never acknowledges such a batch.
    """


class QuizDirectory(Protocol):
    """Quizzes by id and by PIN, shared by every process."""

    async def add_quiz(self, definition: QuizDefinition) -> int:
        """Store a new live quiz durably and give its lease to this process.

        Returns the lease's epoch. Raises :class:`PinTaken` if a live quiz has the PIN (the
        caller retries with another), ``ValueError`` if the quiz id exists.
        """

    async def definition(self, quiz_id: str) -> QuizDefinition:
        """A quiz's definition, live or finished; raises :class:`UnknownQuiz`."""

    async def live_quiz_for_pin(self, pin: str) -> str | None:
        """The id of the live (unfinished) quiz with this PIN, if any."""

    async def ended_quiz_for_pin(self, pin: str) -> str | None:
        """The last finished quiz that had this PIN, while no live quiz has taken it since."""

    async def is_finished(self, quiz_id: str) -> bool:
        """Whether the quiz has finished; raises :class:`UnknownQuiz`."""


class CommandLog(Protocol):
    """The journal: what changed each quiz, in order, written only by the quiz's owner."""

    async def append(
        self,
        rows: Sequence[Row],
        finished: Sequence[str],
        epochs: Mapping[str, int],
        deliveries: Sequence[WebhookDelivery] = (),
    ) -> None:
        """Store ``rows`` and mark the ``finished`` quizzes in one durable commit: all or none.
        ``deliveries`` (the webhook outbox's, of those rows' finishes) go in the same commit, so
        a finish is never stored without its delivery, nor a delivery without its finish.

        ``epochs`` gives, for every quiz in ``rows`` and ``finished``, the lease epoch the writer
        holds. If any quiz's lease has another epoch now, or a row's ``(quiz_id, seq)`` is
        already stored, nothing is stored and :class:`Fenced` is raised. A storage outage raises
        :class:`StorageUnavailable`.
        """

    async def records(self, quiz_id: str, after_seq: int = 0) -> list[tuple[int, Record]]:
        """The quiz's stored ``(seq, record)`` pairs with ``seq > after_seq``, in order."""


class Leases(Protocol):
    """Who owns each live quiz. An owner renews its leases well within ``lease_s``; a lease
    not renewed in time may be taken by any process, which bumps its epoch."""

    #: This process's id, unique among live processes.
    owner_id: str
    #: How long a lease lasts unless renewed (seconds).
    lease_s: float

    @property
    def exclusive(self) -> bool:
        """Whether no other process can take this one's leases (the embedded default, one
        process): its owner then never doubts a lease, however long its loop was busy."""

    async def acquire(self, quiz_id: str) -> int | None:
        """Take the lease of a live quiz that nobody holds (never taken, expired or released).

        Returns the new epoch (greater than any before), or ``None`` if another process holds
        an unexpired lease or the quiz has finished. Raises :class:`UnknownQuiz`.
        """

    async def renew(self, epochs: Mapping[str, int]) -> set[str]:
        """Extend the leases this process holds at these epochs; returns the quizzes whose
        lease it has lost (taken over at a newer epoch, or finished)."""

    async def release(self, epochs: Mapping[str, int]) -> None:
        """Give up these leases now (a graceful shutdown), so others take over at once."""

    async def orphans(self, limit: int) -> list[str]:
        """Live quizzes whose lease nobody holds (expired, released, or never taken), oldest
        first, at most ``limit``."""


@dataclass(frozen=True, slots=True)
class Flag:
    """One person's flag on one question of one quiz: "something is wrong with this one".

    The flagged question is known by ``(word, kind)`` (:attr:`key`, the word case-folded): a
    question of that kind about that word is not generated again until a teacher clears it.
    ``flagger`` is ``"host"`` or ``"player:<id>"``: one flag per person, question and quiz.
    """

    word: str
    kind: str
    level: str
    prompt: str
    quiz_id: str
    question: int
    flagger: str
    reason: str
    at_ms: int

    @property
    def key(self) -> tuple[str, str]:
        return flag_key(self.word, self.kind)

    def row(self) -> tuple[str | int, ...]:
        """The values in the column order of both flag tables (:data:`FLAG_COLUMNS`)."""
        return (
            *self.key,
            self.quiz_id,
            self.flagger,
            self.word,
            self.level,
            self.prompt,
            self.question,
            self.reason,
            self.at_ms,
        )


#: The columns of a stored flag, in the order of :meth:`Flag.row`, for every adapter.
FLAG_COLUMNS = (
    "word_key",
    "kind",
    "quiz_id",
    "flagger",
    "word",
    "level",
    "prompt",
    "question",
    "reason",
    "at_ms",
)


def flag_key(word: str, kind: str) -> tuple[str, str]:
    """What a flag is kept by: the word case-folded, and the kind."""
    return word.casefold(), kind


#: Reasons listed per flagged question, newest first; more flags are counted, not listed.
MAX_LISTED_REASONS = 20


@dataclass(frozen=True, slots=True)
class FlaggedQuestion:
    """The open flags of one ``(word, kind)``, as a teacher's list shows them."""

    word: str
    kind: str
    level: str
    #: The prompt as last flagged (the same word and kind may be asked with other prompts).
    prompt: str
    #: How many people flagged it (one each per quiz, whatever they did twice).
    flags: int
    #: The reasons given (empty ones left out), newest first, at most MAX_LISTED_REASONS.
    reasons: tuple[str, ...]
    first_ms: int
    last_ms: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "word": self.word,
            "kind": self.kind,
            "level": self.level,
            "prompt": self.prompt,
            "flags": self.flags,
            "reasons": list(self.reasons),
            "first_ms": self.first_ms,
            "last_ms": self.last_ms,
        }


def summarize_flags(flags: Iterable[Flag]) -> list[FlaggedQuestion]:
    """Flags grouped by question: the most flagged first, then the most recently flagged.

    One function for every backend: they store flag rows, and list them through this.
    """
    groups: dict[tuple[str, str], list[Flag]] = {}
    for flag in flags:
        groups.setdefault(flag.key, []).append(flag)
    summaries = []
    for group in groups.values():
        group.sort(key=lambda f: (f.at_ms, f.quiz_id, f.flagger), reverse=True)
        newest = group[0]
        summaries.append(
            FlaggedQuestion(
                word=newest.word,
                kind=newest.kind,
                level=newest.level,
                prompt=newest.prompt,
                flags=len(group),
                reasons=tuple(f.reason for f in group if f.reason)[:MAX_LISTED_REASONS],
                first_ms=group[-1].at_ms,
                last_ms=newest.at_ms,
            )
        )
    summaries.sort(key=lambda s: (-s.flags, -s.last_ms, s.word, s.kind))
    return summaries


class QuestionFlags(Protocol):
    """Flags on questions, for the whole server: every process sees every flag at once."""

    async def add_flag(self, flag: Flag) -> bool:
        """Store ``flag`` durably; ``False`` (and nothing changes) if its flagger already
        flagged this ``(word, kind)`` in this quiz: a repeated flag counts once."""

    async def open_flags(self) -> list[FlaggedQuestion]:
        """Every flagged question not cleared yet (:func:`summarize_flags` order)."""

    async def clear_flags(self, word: str, kind: str) -> int:
        """Clear every flag of ``(word, kind)`` (the word in any case): the question may be
        generated again. Returns how many flags were cleared (0 if none were open)."""


@dataclass(frozen=True, slots=True)
class ApiKey:
    """An API key of the learning app, as stored: never the secret itself, only its SHA-256
    (a random 256-bit secret needs no slow hash: nothing can be guessed from it)."""

    #: The public part (``lq_<key_id>.<secret>``), shown in lists and logs.
    key_id: str
    name: str
    secret_sha256: str
    created_at_ms: int
    revoked_at_ms: int | None = None
    #: The app's webhook for the results of the quizzes this key creates (unless a quiz names
    #: its own), and the secret their signatures are made with (kept as it is: it signs).
    webhook_url: str | None = None
    webhook_secret: str | None = None


class ApiKeys(Protocol):
    """The learning app's API keys, for the whole server: a key made or revoked on one process
    (or with ``livequiz apikey``) holds on every process at once."""

    async def add_api_key(self, key: ApiKey) -> None:
        """Store a new key (its id is fresh and random)."""

    async def api_key(self, key_id: str) -> ApiKey | None:
        """The key with this id, revoked or not; ``None`` if there is none."""

    async def api_keys(self) -> list[ApiKey]:
        """Every key, oldest first."""

    async def revoke_api_key(self, key_id: str, at_ms: int) -> bool:
        """Revoke a key for good; ``False`` if there is no such key or it was revoked already."""


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """One POST to a webhook, in the outbox until the receiver answers 2xx."""

    #: What it is about, once: the receiver's idempotency key (``<quiz_id>:finished``, …).
    key: str
    quiz_id: str
    url: str
    secret: str
    #: The JSON body, exactly as signed and sent on every attempt.
    body: str
    created_at_ms: int
    #: When it may be tried (again); a process that takes it moves this on while it tries.
    next_at_ms: int
    attempts: int = 0
    delivered_at_ms: int | None = None
    last_error: str = ""


class Deliveries(Protocol):
    """The webhook outbox, for the whole server: a delivery is stored before it is tried, is
    taken by one process at a time, and stays until it is delivered."""

    async def add_delivery(self, delivery: WebhookDelivery) -> bool:
        """Store a delivery; ``False`` (and nothing changes) if its key is stored already."""

    async def take_deliveries(
        self, now_ms: int, hold_until_ms: int, limit: int
    ) -> list[WebhookDelivery]:
        """Up to ``limit`` undelivered deliveries due by ``now_ms``, oldest due first, each held
        until ``hold_until_ms`` (another process taking deliveries meanwhile skips them)."""

    async def delivery_done(self, key: str, at_ms: int, attempts: int) -> None:
        """The receiver answered 2xx: never sent again."""

    async def delivery_failed(self, key: str, attempts: int, next_at_ms: int, error: str) -> None:
        """An attempt failed: try again at ``next_at_ms``."""

    async def delivery(self, key: str) -> WebhookDelivery | None:
        """The delivery with this key, delivered or not."""


class Records(QuizDirectory, CommandLog, Leases, QuestionFlags, ApiKeys, Deliveries, Protocol):
    """A storage backend: directory, journal, leases, flags, API keys and the webhook outbox
    over one database."""

    async def signing_key(self) -> bytes:
        """The token signing key shared by every process (created once, then always the same)."""

    async def check(self) -> None:
        """Raise :class:`StorageUnavailable` unless storage answers now (readiness checks)."""

    async def close(self) -> None:
        """Release connections; closing twice does nothing."""


# ---------------------------------------------------------------------- the bus


class NoResponder(Exception):
    """Nobody serves the subject of a request (no owner for the quiz right now)."""


class BusUnavailable(Unavailable):
    """The bus cannot be reached right now; retryable."""


class ResponderFailed(Exception):
    """The responder of a request raised instead of replying.

    Only the error's type name and message cross the bus (on NATS they travel in a reply header;
    the in-process bus also chains the original exception as ``__cause__``). Expected outcomes,
    such as a rejected command, belong in the reply itself: this is for failures the responder
    did not plan for. The request may have had effects before the responder failed.
    """

    def __init__(self, subject: str, error_type: str, error_message: str) -> None:
        super().__init__(f"the responder on {subject!r} failed: {error_type}: {error_message}")
        self.subject = subject
        #: The class name of what the responder raised, e.g. ``"StorageUnavailable"``.
        self.error_type = error_type
        self.error_message = error_message


class Subscription(Protocol):
    async def unsubscribe(self) -> None:
        """Stop receiving; unsubscribing twice does nothing."""


class Bus(Protocol):
    """Messages between processes: subjects (:mod:`livequiz.names`), bytes, in order.

    Messages published by one process on one subject reach each subscriber in the order they
    were published. Nothing is stored: a subscriber that was away misses what was sent
    meanwhile (the journal is where a process catches up).
    """

    async def publish(self, subject: str, data: bytes) -> None:
        """Send ``data`` to every current subscriber of ``subject``."""

    async def subscribe(self, subject: str, handler: Callable[[bytes], None]) -> Subscription:
        """Call ``handler(data)`` on the event loop for every message on ``subject``."""

    async def serve(
        self, subject: str, responder: Callable[[bytes], Awaitable[bytes]]
    ) -> Subscription:
        """Answer requests on ``subject`` with what ``responder`` returns (one responder per
        subject is what livequiz uses: the quiz's owner)."""

    async def request(self, subject: str, data: bytes, timeout_s: float) -> bytes:
        """Send a request and wait for the reply. Raises :class:`NoResponder` at once if nobody
        serves ``subject``, ``TimeoutError`` if no reply came in time, :class:`BusUnavailable`
        if the bus is down, :class:`ResponderFailed` if the responder raised."""

    @property
    def connected(self) -> bool:
        """Whether the bus is reachable now (readiness checks)."""

    @property
    def losses(self) -> int:
        """How many times so far messages may have been lost without their subscribers seeing a
        gap (a reconnect: what was published meanwhile is gone; a subscriber too slow to keep
        up). A process that follows quizzes catches their copies up from the journal when it
        changes: a copy that missed the last messages of a quiz that then went quiet would
        otherwise stay behind until the next one."""

    async def close(self) -> None:
        """Disconnect; closing twice does nothing."""
