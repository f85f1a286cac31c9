"""A command that reaches a quiz's owner after its sender gave up is not carried out (unless an
answer): the fast regression test of what tests/netns/test_cut_off.py found.

Found there: a host's ``close``, sent to a process cut off from NATS while question 1 was open,
was refused to the host as ``unavailable`` after the router's 5 s wait, sat in the process's
socket buffer for the rest of the cut, and reached the new owner when the link came back —
which closed question 2, opened meanwhile. Every routed batch now carries the sender's
deadline (``until``); past it the owner answers ``unavailable`` for anything but answers
(which name their question, and which the core dedupes). Two processes here share the
embedded store and the in-process bus (as tests/integration/test_many_servers.py does), and
the batches are sent on the bus as the router sends them.
"""

from __future__ import annotations

from livequiz import codec, names
from livequiz.domain.commands import Answer, CloseQuestion, Start
from livequiz.domain.errors import Rejected
from livequiz.domain.session import Phase
from livequiz.ports import Outcome
from tests.integration.test_many_servers import cluster
from tests.server import RunningServer

LATE_MS = 1  # a deadline that has passed


async def request(
    servers: list[RunningServer], quiz_id: str, batch: codec.CommandBatch
) -> list[Outcome]:
    bus = servers[1].service.bus
    reply = await bus.request(names.quiz_commands(quiz_id), codec.encode(batch), 5.0)
    return list(codec.decode_outcomes(reply).outcomes)


async def test_a_late_host_command_is_refused_and_a_late_answer_is_taken() -> None:
    async with cluster(2) as servers:
        owner = servers[0]
        created = await owner.create_quiz(count=3, seed=7)
        quiz_id = created["quiz_id"]
        joined = await owner.join(created["pin"], "Anna")
        await owner.join(created["pin"], "Ben")  # who does not answer: the question stays open
        sender = servers[1].service.owner.process_id
        now = owner.service.clock()

        started = await request(
            servers, quiz_id, codec.CommandBatch(sender, (Start(),), now + 5000)
        )
        assert not isinstance(started[0], Rejected), started
        store = owner.service.store
        assert store.session(quiz_id).phase is Phase.QUESTION_OPEN

        late = codec.CommandBatch(
            sender, (CloseQuestion(), Answer(joined["player_id"], 0, 1)), LATE_MS
        )
        closing, answering = await request(servers, quiz_id, late)
        assert isinstance(closing, Rejected), closing
        assert closing.code.value == "unavailable"
        assert not isinstance(answering, Rejected), answering
        assert store.session(quiz_id).phase is Phase.QUESTION_OPEN  # the late close did nothing

        on_time = codec.CommandBatch(sender, (CloseQuestion(),), owner.service.clock() + 5000)
        closed = (await request(servers, quiz_id, on_time))[0]
        assert not isinstance(closed, Rejected), closed
        assert store.session(quiz_id).phase is Phase.QUESTION_CLOSED


def test_the_deadline_goes_over_the_bus_and_older_senders_have_none() -> None:
    batch = codec.CommandBatch("p", (CloseQuestion(),), 1_796_000_000_000)
    assert codec.decode_commands(codec.encode(batch)) == batch
    older = codec.CommandBatch("p", (CloseQuestion(),))
    assert codec.decode_commands(codec.encode(older)).until_ms is None
