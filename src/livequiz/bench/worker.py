"""One worker process: holds a share of the players' WebSockets and plays for them.

Spawned by :mod:`livequiz.bench.runner` with a picklable spec. Cheapness is the point: at 10,000
players on a 2-core machine the load generator must not be what limits the figures, so

- each player is a picows listener (Cython WebSocket, callbacks), not a coroutine: a socket
  costs a Python object and a read buffer, not a task and its frames;
- a think time is a ``loop.call_later``; answers are sent from callbacks;
- players join over the WebSocket itself (``join`` → ``welcome``), a few hundred at a time;
- a ``board`` frame — up to 10 per second to every player — is recognised by its last bytes and
  its ``seq`` is read from its first bytes, without a JSON parse.

Messages to the runner on ``queue``: ``("ready", index, info)`` once every player has joined
(or failed to), then ``("result", index, result)`` after every player has its ``final`` (play),
or after the runner sets ``stop`` (hold: join-storm, idle; or a play past its deadline), or
``("failed", index, traceback)``.

Mode ``storm`` (:mod:`livequiz.bench.storm`) plays like ``play`` but a player whose connection
drops reconnects as docs/protocol.md ("Reconnecting") tells clients to: exponential backoff with
full jitter (``random(0, min(cap, base × 2^attempt))``; or without jitter, to show why it
matters), ``hello`` with the token of its first ``welcome``, a refused connection, an HTTP 503
or a close (1013, 1001…) tried again. Each comeback is timed (drop → ``welcome``) and checked:
the welcome's ``seq`` is not below the highest one the player saw before the drop, and its score
is what the player's acks add up to. ``("back", index, info)`` tells the runner once every
joined player of the worker has come back after a drop. Times are ``time.perf_counter()`` values
(``CLOCK_MONOTONIC`` on Linux: comparable across the processes of one machine); the runner turns
them into latencies.
"""

from __future__ import annotations

import asyncio
import gc
import os
import random
import resource
import time
import traceback
from collections import Counter
from typing import Any

import orjson
from picows import (
    WSCloseCode,
    WSFrame,
    WSHandshakeError,
    WSListener,
    WSMsgType,
    WSTransport,
    ws_connect,
)

from livequiz.bench.board_all import Transition

__all__ = ["worker_main"]

#: the server adds ``type`` last to its board dict, so a board frame ends with this …
_BOARD_END = b'"type":"board"}'
#: … and ``seq`` first, so the number can be cut out of the front
_SEQ_PREFIX = b'{"seq":'
_TYPE_PREFIX = b'{"type":"'
#: frames every player gets that the bench only counts: not even parsed
_COUNT_ONLY = frozenset({"closed", "result", "finished", "players", "lock", "snapshot"})
_TEXT = WSMsgType.TEXT
_CLOSE = WSMsgType.CLOSE
#: how often the loop-lag probe fires; its lateness is the worker's own stall
_LAG_PROBE_S = 0.01
#: after the last ``final``, keep sockets open this long for the trailing board tick
_LINGER_S = 0.5
#: close codes after which a client must not come back (docs/protocol.md, "Reconnecting")
_FINAL_CLOSES = frozenset({4003, 4004, 4009})
#: at most this many examples of each kind of stale view in a worker's result
_STALE_EXAMPLES = 5


def _kind(data: bytes) -> str:
    """A frame's ``type``, from its first bytes when the server put it first."""
    if data.startswith(_TYPE_PREFIX):
        end = data.find(b'"', 9)
        if end > 9:
            return data[9:end].decode()
    kind = orjson.loads(data).get("type", "?")
    return kind if isinstance(kind, str) else "?"


def _board_seq(data: bytes) -> int:
    """The ``seq`` of a board frame, from its first bytes when the server put it first."""
    if data.startswith(_SEQ_PREFIX):
        end = data.find(b",", 7)
        if end > 7:
            return int(data[7:end])
    seq: int = orjson.loads(data)["seq"]
    return seq


class _Player(WSListener):
    """One player's socket and what the worker must remember about it (callbacks only)."""

    def __init__(self, worker: _Worker, quiz: int, pin: str, nickname: str, index: int = 0) -> None:
        super().__init__()
        self.w = worker
        #: this player's place in the worker's lists (its address and server)
        self.index = index
        self.quiz = quiz
        self.join_msg = orjson.dumps({"type": "join", "pin": pin, "nickname": nickname})
        self.transport: WSTransport | None = None
        self.welcomed: asyncio.Future[bool] | None = None
        self.player_id = -1
        #: the seq of the last board (or of the welcome's state) this client has seen
        self.seen = -1
        self.seen_t = 0.0
        #: answers sent, not yet answered: ``[q, option, t_send, is_duplicate]``
        self.pending: list[list[Any]] = []
        #: accepted answers (rows of ``worker.answers``) not yet shown on this client's board
        self.board_wait: list[list[Any]] = []
        self.points = 0
        self.final_score: int | None = None
        #: the last question this player answered
        self.last_q = -1
        self.done = False
        self.closing = False
        # storm mode: the way back in, and what a comeback is checked against
        #: ``hello`` with the token of the first ``welcome`` (sent on every later connection)
        self.hello_msg: bytes | None = None
        #: the highest ``seq`` of any frame this client has seen (board, ack, question, closed,
        #: welcome): a comeback's welcome must not go below it
        self.max_seq = -1
        #: a reconnect is scheduled or under way: drops reported meanwhile are the old socket's
        self.reconnecting = False
        #: tries since the last drop, the one that got in included (the backoff's exponent)
        self.attempt = 0
        #: when the connection dropped (``None``: connected and welcomed)
        self.t_drop: float | None = None
        self.came_back = False
        #: sockets opened (upgrade answered) so far
        self.opened = 0

    # ---------------------------------------------------------------- picows callbacks

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.opened += 1
        self.transport = transport
        self.closing = False
        self.reconnecting = False
        transport.send(_TEXT, self.hello_msg or self.join_msg)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        w = self.w
        if frame.msg_type is not _TEXT:
            if frame.msg_type is _CLOSE and transport is self.transport:
                self._closed_by_server(frame.get_close_code().value)
                transport.send_close(frame.get_close_code())
                transport.disconnect()
            return
        data = frame.get_payload_as_bytes()
        if data.endswith(_BOARD_END):
            w.board_frames += 1
            w.board_bytes += len(data)
            seq = _board_seq(data)
            if seq > self.max_seq:
                self.max_seq = seq
            if seq > self.seen:
                now = time.perf_counter()
                key = (self.quiz, self.seen, seq)
                if now > w.transitions.get(key, 0.0):
                    w.transitions[key] = now
                self.seen, self.seen_t = seq, now
                if self.board_wait:
                    self._board_caught_up(seq, now)
            return
        kind = _kind(data)
        w.frames[kind] += 1
        w.bytes[kind] += len(data)
        if kind in _COUNT_ONLY:
            if kind == "closed" and w.storm:  # its seq counts for the comeback's check
                closed_seq = w.closed_seqs.get(data)
                if closed_seq is None:
                    closed_seq = w.closed_seqs[data] = int(orjson.loads(data)["seq"])
                self.max_seq = max(self.max_seq, closed_seq)
            return
        if kind == "question":
            # the same bytes reach every player of the quiz: parse them once per worker
            shape = w.questions.get(data)
            if shape is None:
                parsed = orjson.loads(data)
                question = parsed["question"]
                shape = w.questions[data] = (
                    question["index"],
                    len(question["options"]),
                    int(parsed["seq"]),
                )
            self.max_seq = max(self.max_seq, shape[2])
            w.loop.call_later(w.think_s(), self.answer, shape[0], shape[1])
            return
        msg = orjson.loads(data)
        if kind == "ack":
            self._on_ack(msg, time.perf_counter())
        elif kind == "error":
            self._on_error(msg)
        elif kind == "welcome":
            self._on_welcome(msg)
        elif kind == "final":
            self.final_score = msg["results"]["score"]
            w.player_done(self)
        elif kind == "kicked":
            w.errors["kicked"] += 1

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        if transport is not self.transport:  # an earlier socket of this player, long replaced
            return
        handshake = transport.close_handshake
        code: int = handshake.recv.code.value if handshake and handshake.recv else 1006
        self._closed_by_server(code)

    # ---------------------------------------------------------------- frames

    def _closed_by_server(self, code: int) -> None:
        if self.closing or self.reconnecting:
            return
        self.closing = True
        w = self.w
        if w.storm and self.hello_msg is not None and not self.done:
            if code in _FINAL_CLOSES:  # the token will never work again: not coming back
                w.errors[f"reconnect:close_{code}"] += 1
                w.lost += 1
                w.player_done(self)
                w.check_back()
                return
            if self.t_drop is None:  # the first drop since the last welcome: the clock starts
                self.t_drop = time.perf_counter()
                w.drops += 1
                w.pending_at_drop += len(self.pending)
            else:  # connected again but sent away before its welcome (1013, 1001, 503…)
                w.reconnect_failures[f"close_{code}"] += 1
            self.reconnecting = True
            task = w.loop.create_task(self._reconnect())
            w.tasks.add(task)
            task.add_done_callback(w.tasks.discard)
            return
        if self.welcomed is not None and not self.welcomed.done():
            self.w.errors[f"join:close_{code}"] += 1
            self.welcomed.set_result(False)
        elif not self.done:
            self.w.errors[f"close:{code}"] += 1
            self.w.player_done(self)

    def _on_welcome(self, msg: dict[str, Any]) -> None:
        state = msg["state"]
        self.player_id = state["player"]["player_id"]
        self.seen = state["seq"]
        if self.w.storm:
            if self.t_drop is not None:
                self._came_back(state, time.perf_counter())
            self.max_seq = max(self.max_seq, state["seq"])
            self.hello_msg = orjson.dumps({"type": "hello", "token": msg["token"]})
        if self.welcomed is not None and not self.welcomed.done():
            self.welcomed.set_result(True)

    def _came_back(self, state: dict[str, Any], now: float) -> None:
        """A welcome after a drop: timed, and checked against what this client knew before."""
        w = self.w
        assert self.t_drop is not None
        w.returns.append((self.t_drop, now, self.attempt))
        self.t_drop, self.attempt = None, 0
        question = state.get("question")
        view = f"{state['phase']}:{question['index'] if question else '-'}"
        w.views[view] += 1
        score = state["player"]["score"]
        stale = []
        if state["seq"] < self.max_seq:
            stale.append(("seq_went_back", {"welcome_seq": state["seq"], "seen": self.max_seq}))
        if score != self.points:
            stale.append(("score", {"welcome_score": score, "acked_points": self.points}))
        for reason, detail in stale:
            w.stale[reason] += 1
            if w.stale[reason] <= _STALE_EXAMPLES:
                w.stale_examples.append({"reason": reason, "player_id": self.player_id, **detail})
        if not self.came_back:
            self.came_back = True
            w.back += 1
            w.check_back()

    async def _reconnect(self) -> None:
        """Backoff, then connect again until a socket opens (its ``hello`` goes out from
        ``on_ws_connected``; a close before the welcome brings the player back here)."""
        w = self.w
        while not w.stopping:
            await asyncio.sleep(w.backoff_s(self.attempt))
            self.attempt += 1
            w.reconnect_attempts += 1
            opened = self.opened
            try:
                await w.connect(self)
            except WSHandshakeError as exc:  # 503 while the server starts, 429…
                status = int(exc.response.status) if exc.response is not None else 0
                w.reconnect_failures[f"http_{status}"] += 1
            except Exception as exc:  # refused while the server is down, reset, timed out…
                w.reconnect_failures[type(exc).__name__] += 1
            else:
                if self.opened == opened:
                    # picows returns from ws_connect without an error when the connection is
                    # lost before the upgrade's answer (seen at 10,000 clients: an accept queue
                    # overflowing); no callback follows, so this is a failed try like any other
                    w.reconnect_failures["lost_in_handshake"] += 1
                    continue
                w.reconnect_connected += 1
                return
        self.reconnecting = False

    def _on_error(self, msg: dict[str, Any]) -> None:
        w = self.w
        code = msg.get("code", "?")
        q = msg.get("q")
        if self.welcomed is not None and not self.welcomed.done():
            if code == "rate_limited":  # the server's join budget: wait and ask again
                w.join_retries += 1
                w.loop.call_later(0.25 + w.rng.random() * 0.5, self._join_again)
            else:
                w.errors[f"join:{code}"] += 1
                self.welcomed.set_result(False)
            return
        entry = self._pop_pending(q) if isinstance(q, int) else None
        if entry is None:
            w.errors[f"ws:{code}"] += 1
            return
        w.refused[code] += 1
        last = entry[0] >= self.last_q
        if entry[3] and last and (code == "quiz_finished" or self.final_score is not None):
            # a repeat of the last question's answer that reached the quiz's owner after the
            # host's last 'next' (likelier with several processes: the repeat is routed); the
            # player's final is in, so its answers are settled: counted, not an error
            w.late_duplicates += 1
            return
        w.errors[f"{'duplicate' if entry[3] else 'answer'}:{code}"] += 1

    def _join_again(self) -> None:
        if self.transport is not None and not self.closing:
            self.transport.send(_TEXT, self.join_msg)

    def _pop_pending(self, q: int) -> list[Any] | None:
        for i, entry in enumerate(self.pending):
            if entry[0] == q:
                return self.pending.pop(i)
        return None

    def _on_ack(self, msg: dict[str, Any], now: float) -> None:
        w = self.w
        q, status = msg["q"], msg["status"]
        entry = self._pop_pending(q)
        if entry is None:
            w.errors["ack:unexpected"] += 1
            return
        _, option, t_send, duplicate = entry
        if status != "accepted":
            w.refused[status] += 1
            if not duplicate or status != "duplicate":
                w.errors[f"{'duplicate' if duplicate else 'answer'}:{status}"] += 1
            return
        if duplicate:
            w.errors["duplicate:accepted"] += 1
        answer = msg.get("answer") or {}
        self.points += int(answer.get("points") or 0)
        key = (self.quiz, q)
        if answer.get("revealed"):
            if answer.get("correct"):
                w.correct_answers += 1
                w.correct[key] = answer["option"]
            else:
                w.wrong.setdefault(key, set()).add(answer["option"])
        seq = msg["seq"]
        if seq > self.max_seq:
            self.max_seq = seq
        row: list[Any] = [self.quiz, seq, t_send, now, 0.0]
        w.answers.append(row)
        if self.seen >= seq:  # the board showed it before the ack arrived
            row[4] = self.seen_t
        else:
            self.board_wait.append(row)
        if w.rng.random() < w.duplicate_rate:
            w.duplicates_sent += 1
            self.send_answer(q, option, duplicate=True)

    def _board_caught_up(self, seq: int, now: float) -> None:
        waiting = []
        for row in self.board_wait:
            if row[1] <= seq:
                row[4] = now
            else:
                waiting.append(row)
        self.board_wait = waiting

    # ---------------------------------------------------------------- sending

    def answer(self, q: int, options: int) -> None:
        """The think time is over: pick an option (right or wrong on purpose) and send it."""
        if self.transport is None or self.closing or self.done:
            return
        self.last_q = max(self.last_q, q)
        self.send_answer(q, self.w.choose((self.quiz, q), options), duplicate=False)

    def send_answer(self, q: int, option: int, *, duplicate: bool) -> None:
        assert self.transport is not None
        w = self.w
        w.answers_sent += 1
        self.pending.append([q, option, time.perf_counter(), duplicate])
        self.transport.send(_TEXT, b'{"type":"answer","q":%d,"option":%d}' % (q, option))

    def close(self) -> None:
        self.closing = True
        if self.transport is not None and not self.transport.is_disconnected:
            self.transport.send_close(WSCloseCode.OK)
            self.transport.disconnect()


class _Worker:
    """Every player of this process, the counters they share, and the phases of a run."""

    def __init__(self, spec: dict[str, Any], queue: Any, stop: Any) -> None:
        self.spec = spec
        self.queue = queue
        self.stop = stop
        self.loop = asyncio.get_running_loop()
        self.rng = random.Random(spec["seed"])
        self.window_s: float = spec["window_s"]
        self.wrong_rate: float = spec["wrong_rate"]
        self.duplicate_rate: float = spec["duplicate_rate"]
        self.players = [
            _Player(self, quiz, pin, nick, i)
            for i, (quiz, pin, nick, *_) in enumerate(spec["players"])
        ]
        self.addrs: list[str | None] = [addr for _, _, _, addr, _ in spec["players"]]
        #: each player's server (an index into ``ws_urls``: several servers go round-robin)
        self.servers: list[int] = [server for *_, server in spec["players"]]
        #: (quiz, question) → correct option, learnt from revealed acks in this process
        self.correct: dict[tuple[int, int], int] = {}
        #: a question frame's bytes → (index, number of options, seq)
        self.questions: dict[bytes, tuple[int, int, int]] = {}
        self.wrong: dict[tuple[int, int], set[int]] = {}
        self.transitions: dict[Transition, float] = {}
        #: one row per accepted answer: ``[quiz, ack seq, t_send, t_ack, t_own_board or 0]``
        self.answers: list[list[Any]] = []
        self.frames: Counter[str] = Counter()
        self.bytes: Counter[str] = Counter()
        self.board_frames = 0
        self.board_bytes = 0
        self.errors: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()
        self.answers_sent = 0
        self.duplicates_sent = 0
        #: repeats refused because the quiz finished under them (see ``_on_error``)
        self.late_duplicates = 0
        self.correct_answers = 0
        self.join_retries = 0
        self.join_ms: list[float] = []
        self.joined: list[_Player] = []
        self.joined_by_server: Counter[int] = Counter()
        self.open_players = 0
        self.counting = False
        self.all_done: asyncio.Future[None] = self.loop.create_future()
        self.lag_ms: list[float] = []
        self._lag_due = 0.0
        # storm mode (see the module's docstring)
        self.storm = spec["mode"] == "storm"
        self.backoff_base_s: float = spec.get("backoff_base_s", 0.5)
        self.backoff_cap_s: float = spec.get("backoff_cap_s", 15.0)
        self.jitter: bool = spec.get("jitter", True)
        #: the closing at the end has begun: reconnects stop
        self.stopping = False
        self.tasks: set[asyncio.Task[None]] = set()
        #: a closed frame's bytes → its seq (the same bytes reach every player)
        self.closed_seqs: dict[bytes, int] = {}
        self.drops = 0
        #: players back after a drop, and players that may not come back (4003, 4004, 4009)
        self.back = 0
        self.lost = 0
        self.back_sent = False
        #: answers sent and not acknowledged when their player's connection dropped
        self.pending_at_drop = 0
        #: one per comeback: ``(t_drop, t_welcome, tries it took, the last one included)``
        self.returns: list[tuple[float, float, int]] = []
        self.reconnect_attempts = 0
        #: tries whose socket opened (the hello went out)
        self.reconnect_connected = 0
        self.reconnect_failures: Counter[str] = Counter()
        self.stale: Counter[str] = Counter()
        self.stale_examples: list[dict[str, Any]] = []
        #: ``phase:question index`` of every comeback's welcome (the runner compares them with
        #: the host's)
        self.views: Counter[str] = Counter()

    # ---------------------------------------------------------------- choices

    def backoff_s(self, attempt: int) -> float:
        """docs/protocol.md's delay before try ``attempt`` (0 first): full jitter draws it from
        ``[0, min(cap, base × 2^attempt)]``; without jitter it is that ceiling itself, so every
        client dropped at one moment comes back at the same moments (the thundering herd)."""
        ceiling = min(self.backoff_cap_s, self.backoff_base_s * 2 ** min(attempt, 32))
        return self.rng.uniform(0.0, ceiling) if self.jitter else ceiling

    async def connect(self, player: _Player) -> None:
        """Open ``player``'s socket to its server (the first time, and on every reconnect)."""
        index = player.index
        addr = self.addrs[index]
        options: dict[str, Any] = {}
        if addr is not None:
            options["local_addr"] = (addr, 0)
        await ws_connect(
            _factory(player),
            self.spec["ws_urls"][self.servers[index]],
            websocket_handshake_timeout=30,
            read_buffer_init_size=4096,
            **options,
        )

    def check_back(self) -> None:
        """Once every joined player of this worker is back (or lost for good), tell the runner."""
        if self.back >= len(self.joined) - self.lost and not self.back_sent:
            self.back_sent = True
            self.queue.put(("back", self.spec["index"], {"t": time.perf_counter()}))

    def think_s(self) -> float:
        """Realistic think time: log-normal, median at ~35 % of the window, clipped to it."""
        window = self.window_s
        return min(window, max(0.02 * window, self.rng.lognormvariate(0.0, 0.6) * 0.35 * window))

    def choose(self, key: tuple[int, int], options: int) -> int:
        """An option, wrong with probability ``wrong_rate`` once this process knows the answer."""
        want_wrong = self.rng.random() < self.wrong_rate
        correct = self.correct.get(key)
        if correct is not None:
            if not want_wrong:
                return correct
            return self.rng.choice([o for o in range(options) if o != correct] or [correct])
        wrong = self.wrong.get(key, set())
        pool = sorted(wrong) if want_wrong else [o for o in range(options) if o not in wrong]
        return self.rng.choice(pool or list(range(options)))

    def player_done(self, player: _Player) -> None:
        """A player has its ``final`` (or lost its socket): the play ends when all have."""
        if player.done:
            return
        player.done = True
        if self.counting:
            self.open_players -= 1
            self._check_all_done()

    def _check_all_done(self) -> None:
        if self.open_players <= 0 and not self.all_done.done():
            self.all_done.set_result(None)

    # ---------------------------------------------------------------- probes

    def _lag_probe(self) -> None:
        now = time.perf_counter()
        if self._lag_due:
            self.lag_ms.append(max(0.0, now - self._lag_due) * 1000)
        self._lag_due = now + _LAG_PROBE_S
        self.loop.call_later(_LAG_PROBE_S, self._lag_probe)

    async def _stopped(self) -> None:
        """Returns once the runner sets ``stop`` (polled: cheap, and no thread)."""
        while not self.stop.is_set():
            await asyncio.sleep(0.05)

    # ---------------------------------------------------------------- phases

    async def connect_all(self) -> None:
        """Connect and join every player, at most ``connect_concurrency`` at a time."""
        todo = iter(range(len(self.players)))
        perf = time.perf_counter

        async def lane() -> None:
            for i in todo:
                player = self.players[i]
                player.welcomed = self.loop.create_future()
                t0 = perf()
                try:
                    await self.connect(player)
                except WSHandshakeError as exc:  # 429 / 503: the server's connection limits
                    status = int(exc.response.status) if exc.response is not None else 0
                    self.errors[f"connect:http_{status}"] += 1
                    continue
                except Exception as exc:  # refused, reset, timed out…: counted by kind
                    self.errors[f"connect:{type(exc).__name__}"] += 1
                    continue
                try:
                    ok = await asyncio.wait_for(player.welcomed, 30)
                except TimeoutError:
                    self.errors["join:timeout"] += 1
                    ok = False
                if ok:
                    self.join_ms.append((perf() - t0) * 1000)
                    self.joined.append(player)
                    self.joined_by_server[self.servers[i]] += 1
                else:
                    player.close()

        concurrency = max(1, min(self.spec["connect_concurrency"], len(self.players)))
        await asyncio.gather(*(lane() for _ in range(concurrency)))
        self.open_players = sum(not p.done for p in self.joined)
        self.counting = True
        self._check_all_done()

    async def run(self) -> dict[str, Any]:
        index = self.spec["index"]
        self._lag_probe()
        cpu0 = _cpu()
        t_join0 = time.perf_counter()
        await self.connect_all()
        t_join1 = time.perf_counter()
        cpu_connect = _cpu() - cpu0
        # the players live until the end: keep the collector from rescanning them (a gen-2
        # pass over 15,000 listeners is a stall that would show up as latency)
        gc.collect()
        gc.freeze()
        lag_connect, self.lag_ms, self._lag_due = self.lag_ms, [], 0.0
        joined_frames = self.frames.copy(), self.bytes.copy()
        board_before = self.board_frames, self.board_bytes
        self.queue.put(("ready", index, {"joined": len(self.joined), "t": t_join1}))
        cpu1, sys1, t_ready = _cpu(), os.times().system, time.perf_counter()

        stopped = asyncio.ensure_future(self._stopped())
        t_done = 0.0
        if self.spec["mode"] not in ("play", "storm"):  # hold or leave: the runner says when
            await stopped
        elif self.joined:  # until every player has its final (or the runner's deadline)
            await asyncio.wait({stopped, self.all_done}, return_when=asyncio.FIRST_COMPLETED)
            t_done = time.perf_counter()
            if not stopped.done():
                await asyncio.wait({stopped}, timeout=_LINGER_S)
        stopped.cancel()
        t_end = time.perf_counter()
        lag_play = self.lag_ms[:]  # not the closing below: that is no part of the play
        cpu_play, sys_play = _cpu() - cpu1, os.times().system - sys1

        t_leave = time.perf_counter()
        self.stopping = True
        for task in list(self.tasks):
            task.cancel()
        for player in self.players:
            player.close()
        for _ in range(40):  # let the close frames go out
            if all(p.transport is None or p.transport.is_disconnected for p in self.players):
                break
            await asyncio.sleep(0.05)
        leave_s = time.perf_counter() - t_leave

        connect_frames, connect_bytes = joined_frames
        frames, sizes = self.frames - connect_frames, self.bytes - connect_bytes
        frames["board"] = self.board_frames - board_before[0]
        sizes["board"] = self.board_bytes - board_before[1]
        connect_frames["board"], connect_bytes["board"] = board_before
        unanswered_repeats = sum(
            1
            for p in self.joined
            if p.final_score is not None
            for e in p.pending
            if e[3] and e[0] >= p.last_q
        )
        min_seen: dict[int, int] = {}
        for p in self.joined:
            min_seen[p.quiz] = min(p.seen, min_seen.get(p.quiz, p.seen))
        return {
            "index": index,
            "pid": os.getpid(),
            "players": len(self.players),
            "joined": len(self.joined),
            "joined_by_server": dict(self.joined_by_server),
            "join_ms": self.join_ms,
            "join_t0": t_join0,
            "join_t1": t_join1,
            "join_retries": self.join_retries,
            "leave_s": leave_s,
            "play_wall_s": t_end - t_ready,
            "t_done": t_done,
            "cpu_connect_s": cpu_connect,
            "cpu_play_s": cpu_play,
            "cpu_play_kernel_s": sys_play,
            "lag_connect_ms": lag_connect,
            "lag_play_ms": lag_play,
            "answers": [tuple(row) for row in self.answers],
            "transitions": self.transitions,
            "min_seen": min_seen,
            "frames": {"connect": dict(connect_frames), "play": dict(frames)},
            "bytes": {"connect": dict(connect_bytes), "play": dict(sizes)},
            "answers_sent": self.answers_sent,
            "duplicates_sent": self.duplicates_sent,
            "correct": self.correct_answers,
            "refused": dict(self.refused),
            "errors": dict(self.errors),
            "pending": sum(len(p.pending) for p in self.joined) - unanswered_repeats,
            #: repeats of the last answer with no reply yet from players who have their final
            #: (the quiz finished under them: a routed one may wait for an owner that has let
            #: the quiz go; their outcome changes nothing)
            "late_duplicates_unanswered": unanswered_repeats,
            "late_duplicates_refused": self.late_duplicates,
            #: per joined player: (quiz, player id, sum of acked points, own final score)
            "scores": [(p.quiz, p.player_id, p.points, p.final_score) for p in self.joined],
            "storm": self._storm_figures() if self.storm else None,
        }

    def _storm_figures(self) -> dict[str, Any]:
        return {
            "drops": self.drops,
            "back": self.back,
            "lost": self.lost,
            #: dropped and never welcomed again: still trying to connect, or connected and
            #: waiting for a welcome that never came
            "not_back": sum(p.t_drop is not None for p in self.joined),
            "not_back_connecting": sum(
                p.t_drop is not None and p.reconnecting for p in self.joined
            ),
            "not_back_waiting_welcome": sum(
                p.t_drop is not None and not p.reconnecting for p in self.joined
            ),
            "connected": self.reconnect_connected,
            "returns": self.returns,
            "attempts": self.reconnect_attempts,
            "failures": dict(self.reconnect_failures),
            "stale": dict(self.stale),
            "stale_examples": self.stale_examples,
            "views": dict(self.views),
            "pending_at_drop": self.pending_at_drop,
        }


def _factory(player: _Player) -> Any:
    """picows asks a factory for the listener; ours is made before the connection."""
    return lambda: player


def _cpu() -> float:
    times = os.times()
    return times.user + times.system


def _raise_fd_limit() -> None:
    """Each socket is a file descriptor: take the whole hard limit, not the soft default."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def _run(spec: dict[str, Any], queue: Any, stop: Any) -> None:
    worker = _Worker(spec, queue, stop)
    result = await worker.run()
    queue.put(("result", spec["index"], result))


def worker_main(spec: dict[str, Any], queue: Any, stop: Any) -> None:
    """Entry point of a spawned worker process (uvloop when available)."""
    try:
        _raise_fd_limit()
        try:
            import uvloop
        except ImportError:
            asyncio.run(_run(spec, queue, stop))
        else:
            uvloop.run(_run(spec, queue, stop))
    except BaseException:
        queue.put(("failed", spec["index"], traceback.format_exc()))
        raise
