"""What the integration tests share: recording clients, a quiz with its players, small checks.

:class:`Client` wraps one real WebSocket connection and reads *every* frame the server sends
into :attr:`Client.frames` as it arrives, so a test can both wait for the frame it needs next
(:meth:`Client.expect`, :meth:`Client.wait_for`) and, afterwards, look at everything a client
ever saw (leak and isolation checks). :func:`setup_quiz` builds the usual scene: a quiz, its host
and its players, each with an open, authenticated connection.

Everything waits for a condition with a generous timeout; nothing sleeps for a fixed time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from livequiz.domain.question import Question
from livequiz.domain.session import QuizSession
from tests.server import TIMEOUT_S, RunningServer

Frame = dict[str, Any]
Predicate = Callable[[Frame], bool]

#: Close code when the TCP connection ended without a closing handshake (never on the wire).
ABNORMAL = 1006


class Client:
    """One WebSocket connection whose every incoming frame is recorded, in order."""

    def __init__(self, ws: ClientConnection, name: str) -> None:
        self.ws = ws
        self.name = name
        #: Every frame received, decoded, in arrival order.
        self.frames: list[Frame] = []
        #: The same frames as the text that came over the wire.
        self.texts: list[str] = []
        #: The close code and reason the server sent (1006: the TCP connection just ended).
        self.close_code: int | None = None
        self.close_reason = ""
        self._cursor = 0
        self._changed = asyncio.Condition()
        self._reader = asyncio.create_task(self._read(), name=f"reader-{name}")

    async def _read(self) -> None:
        try:
            while True:
                message = await self.ws.recv()
                text = message if isinstance(message, str) else message.decode()
                frame = orjson.loads(text)
                async with self._changed:
                    self.texts.append(text)
                    self.frames.append(frame)
                    self._changed.notify_all()
        except ConnectionClosed as closed:
            received = closed.rcvd
            async with self._changed:
                if received is None:
                    self.close_code, self.close_reason = ABNORMAL, ""
                else:
                    self.close_code, self.close_reason = received.code, received.reason
                self._changed.notify_all()

    @property
    def is_closed(self) -> bool:
        return self._reader.done()

    # ------------------------------------------------------------------ sending

    async def send(self, message: Frame | str) -> None:
        """Send a message (a dict as JSON) or any raw text as one text frame."""
        await self.ws.send(message if isinstance(message, str) else orjson.dumps(message).decode())

    async def hello(self, token: str) -> Frame:
        """Authenticate with ``token``; returns the ``welcome`` frame (fails on anything else)."""
        await self.send({"type": "hello", "token": token})
        frame = await self.expect("welcome", "error")
        assert frame["type"] == "welcome", f"{self.name}: {frame}"
        return frame

    async def join(self, pin: str, nickname: str) -> Frame:
        """Join by PIN and nickname over the socket; returns the ``welcome`` frame."""
        await self.send({"type": "join", "pin": pin, "nickname": nickname})
        frame = await self.expect("welcome", "error")
        assert frame["type"] == "welcome", f"{self.name}: {frame}"
        return frame

    async def answer(self, index: int, option: int, **extra: Any) -> Frame:
        """Answer question ``index``; returns its ``ack`` or its ``error`` frame (an error that
        names no question, such as ``forbidden``, is taken as this answer's)."""
        await self.send({"type": "answer", "q": index, "option": option, **extra})
        return await self.next_matching(
            lambda f: f["type"] in ("ack", "error") and f.get("q", index) == index,
            f"ack or error for question {index}",
        )

    async def host(self, action: str, **extra: Any) -> Frame:
        """A host command; returns its ``host_ack`` or its ``error`` frame."""
        await self.send({"type": "host", "action": action, **extra})
        return await self.next_matching(
            lambda f: f["type"] in ("host_ack", "error") and f.get("action", action) == action,
            f"host_ack or error for {action!r}",
        )

    async def sync(self) -> Frame:
        """Send ``sync``; returns its ``snapshot`` or its ``error`` frame."""
        since = len(self.frames)
        await self.send({"type": "sync"})
        return await self.wait_for(lambda f: f["type"] in ("snapshot", "error"), since=since)

    async def error(self, message: Frame | str) -> Frame:
        """Send something wrong; returns the ``error`` frame it gets."""
        await self.send(message)
        return await self.expect("error")

    def abort(self) -> None:
        """Drop the TCP connection at once, with no closing handshake (a phone losing signal)."""
        self.ws.transport.abort()

    # ------------------------------------------------------------------ waiting

    async def _until(self, found: Callable[[], Frame | None], what: str, timeout: float) -> Frame:
        try:
            async with asyncio.timeout(timeout), self._changed:
                while True:
                    frame = found()
                    if frame is not None:
                        return frame
                    if self.is_closed:
                        break
                    await self._changed.wait()
        except TimeoutError:
            pass
        raise AssertionError(
            f"{self.name}: no {what} (closed: {self.close_code}); last frames: {self.frames[-8:]}"
        )

    async def expect(self, *types: str, timeout: float = TIMEOUT_S, **fields: Any) -> Frame:
        """The next unread frame of one of ``types`` (any type if none) whose ``fields`` have
        the given values; frames in between are passed over (they stay in :attr:`frames`)."""

        def match(frame: Frame) -> bool:
            return (not types or frame.get("type") in types) and all(
                frame.get(key) == value for key, value in fields.items()
            )

        return await self.next_matching(match, f"frame of type {types} with {fields}", timeout)

    async def next_matching(
        self, predicate: Predicate, what: str = "matching frame", timeout: float = TIMEOUT_S
    ) -> Frame:
        """The next unread frame that matches; frames in between are passed over."""

        def found() -> Frame | None:
            for index in range(self._cursor, len(self.frames)):
                if predicate(self.frames[index]):
                    self._cursor = index + 1
                    return self.frames[index]
            return None

        return await self._until(found, what, timeout)

    async def wait_for(
        self, predicate: Predicate, *, since: int = 0, timeout: float = TIMEOUT_S
    ) -> Frame:
        """The first frame from index ``since`` on (received already or later) that matches."""

        def found() -> Frame | None:
            return next((f for f in self.frames[since:] if predicate(f)), None)

        return await self._until(found, "frame matching the condition", timeout)

    async def collect(
        self, count: int, predicate: Predicate, *, timeout: float = TIMEOUT_S
    ) -> list[Frame]:
        """Wait until ``count`` frames match and return them (there must be exactly ``count``);
        :meth:`expect` then reads on from after the last of them."""
        await self._until(
            lambda: self.frames[-1] if sum(map(predicate, self.frames)) >= count else None,
            f"{count} matching frames",
            timeout,
        )
        indices = [index for index, frame in enumerate(self.frames) if predicate(frame)]
        assert len(indices) == count, f"{self.name}: {len(indices)} frames, not {count}"
        self._cursor = max(self._cursor, indices[-1] + 1)
        return [self.frames[index] for index in indices]

    async def closed(self, timeout: float = TIMEOUT_S) -> tuple[int, str]:
        """Wait for the server to close the connection; returns ``(code, reason)``."""
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(self._reader)
        except TimeoutError:
            raise AssertionError(
                f"{self.name}: still open after {timeout} s; last frames: {self.frames[-8:]}"
            ) from None
        assert self.close_code is not None
        return self.close_code, self.close_reason

    async def stop(self) -> None:
        """Close the connection (if still open) and stop reading."""
        with contextlib.suppress(ConnectionClosed, OSError):
            async with asyncio.timeout(TIMEOUT_S):
                await self.ws.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


@contextlib.asynccontextmanager
async def open_client(
    srv: RunningServer, name: str, token: str | None = None, **connect: Any
) -> AsyncIterator[Client]:
    """A recording client on ``srv``; said ``hello`` with ``token`` if one is given."""
    async with srv.connect(**connect) as ws:
        client = Client(ws, name)
        try:
            if token is not None:
                await client.hello(token)
            yield client
        finally:
            await client.stop()


async def assert_unavailable_to_read(
    srv: RunningServer, player_token: str, quiz_id: str, host_token: str
) -> None:
    """Neither a welcome (a ``hello``: ``unavailable``, then 1013) nor the results (503): what
    a process shows when it cannot be sure what it would show is stored or current."""
    async with open_client(srv, "reader") as reader:
        await reader.send({"type": "hello", "token": player_token})
        refusal = await reader.expect("welcome", "error")
        assert refusal["type"] == "error", refusal
        assert refusal["code"] == "unavailable", refusal
        assert (await reader.closed())[0] == 1013
    results = await srv.http.get(
        f"/api/quizzes/{quiz_id}/results", headers={"authorization": f"Bearer {host_token}"}
    )
    assert results.status_code == 503, results.text


# ---------------------------------------------------------------------- a quiz and its players


@dataclass
class Quiz:
    """A quiz being played: its creation response, its host and its players' connections."""

    srv: RunningServer
    created: Frame
    host: Client
    players: dict[str, Client] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)

    @property
    def quiz_id(self) -> str:
        return str(self.created["quiz_id"])

    @property
    def pin(self) -> str:
        return str(self.created["pin"])

    @property
    def host_token(self) -> str:
        return str(self.created["host_token"])

    @property
    def clients(self) -> list[Client]:
        """The host's connection and every player's, in that order."""
        return [self.host, *self.players.values()]

    def session(self) -> QuizSession:
        """The server's own state of the quiz (what no client may see)."""
        return self.srv.service.store.session(self.quiz_id)

    def question(self, index: int) -> Question:
        return self.session().questions[index]

    def correct(self, index: int) -> int:
        """The right option of question ``index``, read inside the server."""
        return self.question(index).correct_option

    def wrong(self, index: int) -> int:
        """An option of question ``index`` that is not the right one."""
        return (self.correct(index) + 1) % len(self.question(index).options)

    async def start(self) -> None:
        """The host starts the quiz; returns once every client has question 0."""
        assert (await self.host.host("start"))["type"] == "host_ack"
        await self.everyone_gets("question", lambda f: f["question"]["index"] == 0)

    async def next(self, index: int) -> None:
        """The host moves on; returns once every client has question ``index``."""
        assert (await self.host.host("next"))["type"] == "host_ack"
        await self.everyone_gets("question", lambda f: f["question"]["index"] == index)

    async def everyone_gets(self, kind: str, predicate: Predicate = lambda _f: True) -> None:
        """Wait until every connection (host included) has received such a frame."""
        await asyncio.gather(
            *(
                client.wait_for(lambda f: f.get("type") == kind and predicate(f))
                for client in self.clients
            )
        )


async def setup_quiz(
    srv: RunningServer,
    stack: contextlib.AsyncExitStack,
    nicknames: Iterable[str],
    *,
    ws_joins: Iterable[str] = (),
    **create: Any,
) -> Quiz:
    """Create a quiz (``create`` is the ``POST /api/quizzes`` body), connect its host, and join
    each nickname: over HTTP then ``hello``, or, for those in ``ws_joins``, with a WebSocket
    ``join``. Connections close when ``stack`` does."""
    create.setdefault("count", 3)
    create.setdefault("seed", 7)
    created = await srv.create_quiz(**create)
    host = await stack.enter_async_context(open_client(srv, "host", created["host_token"]))
    quiz = Quiz(srv, created, host)
    over_ws = set(ws_joins)
    for nickname in nicknames:
        if nickname in over_ws:
            client = await stack.enter_async_context(open_client(srv, nickname))
            welcome = await client.join(quiz.pin, nickname)
            token, player_id = welcome["token"], welcome["state"]["player"]["player_id"]
        else:
            joined = await srv.join(quiz.pin, nickname)
            token, player_id = joined["token"], joined["player_id"]
            client = await stack.enter_async_context(open_client(srv, nickname, token))
        quiz.players[nickname] = client
        quiz.tokens[nickname] = token
        quiz.ids[nickname] = player_id
    return quiz


# ---------------------------------------------------------------------- checks


def board_entry(board: Frame, player_id: int) -> Frame | None:
    """A player's line in a ``board`` frame's top list, if listed."""
    return next((line for line in board["top"] if line["player_id"] == player_id), None)


async def first_board_since(client: Client, seq: int) -> Frame:
    """The first ``board`` frame a client got that is current to sequence number ``seq``."""
    return await client.wait_for(lambda f: f.get("type") == "board" and f["seq"] >= seq)


def walk(value: Any) -> Iterator[tuple[str, Any]]:
    """Every ``(key, value)`` pair anywhere inside a JSON value, depth first."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield key, item
            yield from walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)


async def assert_healthy(srv: RunningServer) -> None:
    """The server still serves: ``/healthz`` is 200 and a fresh player can join and answer."""
    response = await srv.http.get("/healthz")
    assert response.status_code == 200, response.text
    async with contextlib.AsyncExitStack() as stack:
        quiz = await setup_quiz(srv, stack, ["Fresh"], ws_joins=["Fresh"], count=1, seed=3)
        await quiz.start()
        ack = await quiz.players["Fresh"].answer(0, quiz.correct(0))
        assert ack["type"] == "ack", ack
        assert ack["status"] == "accepted", ack
        assert ack["answer"]["correct"] is True
        assert ack["standing"]["score"] == ack["answer"]["points"] > 0
