"""Protocol rules, property-based: generated message sequences against a running server.

Hypothesis writes sequences of the documented client messages (``answer``, ``host`` with each
action, ``sync``, ``hello``, ``join``) and of malformed frames, each sent by one of four
connections: the host, two players, and a connection that never signed in. So messages come
in any order (an answer before the start or after the end, ``next`` while a question is open,
``start`` twice) and from any role (answers from the host, host actions from players,
anything from the stranger). For every step, what docs/protocol.md says decides the one
reply the sender must get; and, as h11 puts it, an illegal event changes nothing: every
``error`` (and every repeated answer) leaves the quiz exactly as it was, down to each
player's answers and the board, carries ``q`` or ``action`` exactly when the document says,
and the quiz's own invariants hold after every step.

One server (embedded default) serves every example; each example plays a quiz of its own.
The rules it checks go through the quiz's owner the same way on PostgreSQL + NATS, where
tests/integration/test_protocol_rules.py runs them by hand.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from livequiz.domain.session import Phase, QuizSession
from livequiz.service import ServiceLimits
from tests.domain.test_session import state
from tests.integration.helpers import Client, open_client
from tests.server import RunningServer, running_server

#: Examples per run: ~0.1 s each on this machine (a quiz, three connections, the steps).
EXAMPLES = 120
ACTORS = ("host", "anna", "ben", "stranger")
REPLIES = ("welcome", "snapshot", "ack", "host_ack", "error")
QUESTIONS = 3

#: Malformed frames and the code each must get, whoever sends it (the frame is checked first).
MALFORMED: dict[str, str] = {
    '{"type": "answer", "q": 0': "bad_json",
    '{"type": "sync", "x": NaN}': "bad_json",
    "[1, 2]": "bad_message",
    '{"type": "answer", "q": "0", "option": 0}': "bad_message",
    '{"type": "answer", "q": 0, "option": 1.0}': "bad_message",
    '{"type": "host", "action": "stop"}': "bad_message",
    '{"type": "host", "action": "kick"}': "bad_message",
    '{"type": "join", "pin": "1", "nickname": "An\\ud800na"}': "bad_message",
    "[" * 100: "bad_message",
    '{"type": "dance", "q": 0}': "unknown_type",
}


@dataclass(frozen=True)
class Step:
    actor: str
    message: dict[str, Any] | str


answers = st.builds(
    lambda q, option: {"type": "answer", "q": q, "option": option},
    st.integers(-1, QUESTIONS),
    st.integers(-1, 4),
)
host_messages = st.one_of(
    st.sampled_from(
        ["start", "close", "next", "skip", "end", "lock", "unlock", "pause", "resume"]
    ).map(lambda action: {"type": "host", "action": action}),
    st.integers(0, 3).map(lambda pid: {"type": "host", "action": "kick", "player_id": pid}),
)
messages = st.one_of(
    answers,
    answers,
    host_messages,
    host_messages,
    st.just({"type": "sync"}),
    st.just({"type": "hello", "token": "v1.forged.token"}),
    st.just({"type": "join", "pin": "no such pin", "nickname": "Eve"}),
    st.sampled_from(sorted(MALFORMED)),
)
#: Half the steps are what the role may send (so the quiz moves: started, closed, moved on,
#: ended), half anything from anyone (so every step can come from the wrong role).
plausible = st.one_of(
    st.builds(Step, st.just("host"), host_messages),
    st.builds(Step, st.sampled_from(["anna", "ben"]), answers),
)
anything = st.builds(Step, st.sampled_from(ACTORS), messages)


def host_says(*actions: str) -> list[Step]:
    return [Step("host", {"type": "host", "action": action}) for action in actions]


#: Where the generated steps start from, so that every phase is reached often: the lobby, a
#: question open, closed, the next one open, finished.
OPENINGS = [
    [],
    host_says("start"),
    host_says("start", "close"),
    host_says("start", "skip"),
    host_says("start", "close", "next", "close"),
    host_says("start", "end"),
]
steps = st.builds(
    lambda opening, rest: opening + rest,
    st.sampled_from(OPENINGS),
    st.lists(st.one_of(plausible, anything), min_size=1, max_size=12),
)


def expected_answer(session: QuizSession, player_id: int, q: int, option: int) -> str:
    """docs/protocol.md, "Which refusal an answer gets", row by row ("ack": no refusal)."""
    if session.phase is Phase.FINISHED:
        return "quiz_finished"
    if not 0 <= q < len(session.questions):
        return "wrong_question"
    if not 0 <= option < len(session.questions[q].options):
        return "invalid_option"
    if q in session.players[player_id].answers:
        return "ack"
    if session.phase is Phase.QUESTION_OPEN and q == session.current:
        if session.paused_at_ms is not None:
            return "paused"
        return "ack"  # a 20 s question: an example never runs past its deadline
    if q <= session.current:
        return "too_late"
    if session.phase is not Phase.QUESTION_OPEN:
        return "question_not_open"
    return "wrong_question"


def expected_host(session: QuizSession, message: dict[str, Any]) -> str:
    """docs/protocol.md, "Host actions": "allowed when", and the host action codes."""
    if session.phase is Phase.FINISHED:
        return "quiz_finished"
    allowed = {
        "start": session.phase is Phase.LOBBY,
        "close": session.phase is Phase.QUESTION_OPEN,
        "skip": session.phase is Phase.QUESTION_OPEN,
        "next": session.phase is Phase.QUESTION_CLOSED,
        "pause": session.phase is Phase.QUESTION_OPEN and session.paused_at_ms is None,
        "resume": session.phase is Phase.QUESTION_OPEN and session.paused_at_ms is not None,
    }
    action = message["action"]
    if action == "kick":
        player = session.players.get(message["player_id"])
        if player is None:
            return "unknown_player"
        return "kicked" if player.kicked else "host_ack"
    return "host_ack" if allowed.get(action, True) else "illegal_state"


def expected(session: QuizSession, actor: str, ids: dict[str, int], message: Any) -> str:
    """The reply's ``code`` (or frame type) the document promises for this step."""
    if isinstance(message, str):
        return MALFORMED[message]
    kind = message["type"]
    if actor == "stranger":
        if kind == "join":
            return "unknown_quiz"
        return "bad_token" if kind == "hello" else "auth_required"
    if kind in ("hello", "join"):
        return "already_authenticated"
    if kind == "sync":
        return "snapshot"
    if kind == "answer":
        if actor == "host":
            return "forbidden"
        return expected_answer(session, ids[actor], message["q"], message["option"])
    if actor != "host":
        return "forbidden"
    return expected_host(session, message)


async def play(srv: RunningServer, script: list[Step]) -> int:
    """Play one generated script; returns how many steps were refused."""
    refusals = 0
    async with contextlib.AsyncExitStack() as stack:
        created = await srv.create_quiz(count=QUESTIONS, seed=5)
        quiz_id = created["quiz_id"]
        clients: dict[str, Client] = {
            "host": await stack.enter_async_context(
                open_client(srv, "host", created["host_token"])
            ),
            "stranger": await stack.enter_async_context(open_client(srv, "stranger")),
        }
        ids: dict[str, int] = {}
        for name in ("anna", "ben"):
            joined = await srv.join(created["pin"], name.title())
            ids[name] = joined["player_id"]
            clients[name] = await stack.enter_async_context(open_client(srv, name, joined["token"]))
        for step in script:
            client = clients[step.actor]
            session = srv.service.store.session(quiz_id)
            if client.is_closed or (step.actor in ids and session.players[ids[step.actor]].kicked):
                continue  # kicked (4009) or a forged token (4003): nothing more from it
            before = state(session)
            want = expected(session, step.actor, ids, step.message)
            await client.send(step.message)
            reply = await client.next_matching(
                lambda f: f.get("type") in REPLIES, f"the reply to {step}"
            )
            after = srv.service.store.session(quiz_id)
            after.check_invariants()
            got = reply["code"] if reply["type"] == "error" else reply["type"]
            if got == "bad_token":
                assert (await client.closed())[0] == 4003
            if want == "ack":
                assert reply["type"] == "ack", (step, reply)
                if reply["status"] != "accepted":  # a repeat: the first result, no change
                    assert state(after) == before, step
                continue
            assert got == want, (step, reply)
            if reply["type"] != "error":
                continue
            refusals += 1
            assert state(after) == before, f"{step} was refused with {got} but changed the quiz"
            message = step.message if isinstance(step.message, dict) else {}
            well_formed = isinstance(step.message, dict)
            assert ("q" in reply) == (well_formed and message["type"] == "answer"), reply
            assert ("action" in reply) == (well_formed and message["type"] == "host"), reply
            if "q" in reply:
                assert reply["q"] == message["q"]
            if "action" in reply:
                assert reply["action"] == message["action"]
    return refusals


def test_out_of_order_and_wrong_role_messages_get_their_documented_refusal_and_change_nothing() -> (
    None
):
    ran = {"examples": 0, "steps": 0, "refused": 0}
    with asyncio.Runner() as runner:
        server = running_server(service=ServiceLimits(joins_burst=100_000))
        srv = runner.run(server.__aenter__())
        try:

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow],
                database=None,
            )
            @given(steps)
            def check(script: list[Step]) -> None:
                ran["examples"] += 1
                ran["steps"] += len(script)
                ran["refused"] += runner.run(play(srv, script))

            check()
        finally:
            runner.run(server.__aexit__(None, None, None))
    print(f"\nprotocol rules: {ran}")  # the figures docs/reliability.md quotes
    assert ran["examples"] >= EXAMPLES
    assert ran["refused"] > ran["examples"]  # mostly illegal steps, as intended
