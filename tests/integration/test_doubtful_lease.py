"""An owner whose lease renewals went unanswered for a while, then lost the quiz: nothing of its
ownership stays behind to answer for the quiz.

Found over a slow, lossy link (tests/netns/test_latency.py, docs/reliability.md "Found and
fixed"): renewals slower than the lease let the lease expire in the database while the owner
still held it (doubtful, not lost). Its own sweep then saw the quiz as nobody's and "took it
over" again — from itself: it replaced its record of the quiz's command responder with a new
one, whose subscription the bus refused ("already served on this bus"). Another process took
the quiz at the next moment, the first learnt at its next renewal that it had lost it and
stopped serving what it had on record — nothing: the first responder stayed subscribed for the
life of the process and answered every command routed for the quiz ``unavailable`` "this quiz
is moving to another server", sooner than the real owner could store it. Players joining or
answering on any process but the new owner were refused for as long as the quiz lasted.

The lease here is a minute long, so the process's own renewal loop never runs during the test:
the test decides when each renewal lands (``renew_leases``) and puts the lease row's expiry in
the past as slow renewals would have.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator

from livequiz.adapters.nats import NatsBus
from livequiz.adapters.postgres import PostgresRecords
from livequiz.service import ServiceLimits
from tests.integration.helpers import assert_unavailable_to_read, open_client
from tests.nats_server import shared_nats_url
from tests.pg_database import admin_connection, database_url, drop_schema, new_schema_name
from tests.server import RunningServer, running_server

#: Long enough that no renewal of the processes' own runs during the test (one every 20 s).
LEASE_S = 60.0
LIMITS = ServiceLimits(tick_ms=20)


@contextlib.asynccontextmanager
async def two_servers() -> AsyncIterator[tuple[list[RunningServer], str]]:
    """Two servers over one fresh PostgreSQL schema and the shared NATS server; the schema."""
    async with admin_connection():  # skips loudly when PostgreSQL is not there
        pass
    schema = new_schema_name()
    key = secrets.token_bytes(32)
    try:
        async with contextlib.AsyncExitStack() as stack:
            running = []
            for n in range(2):
                records = await PostgresRecords.connect(
                    database_url(), schema=schema, lease_s=LEASE_S
                )
                stack.push_async_callback(records.close)
                bus = await NatsBus.connect(shared_nats_url(), name=f"doubtful-{n}")
                stack.push_async_callback(bus.close)
                running.append(
                    await stack.enter_async_context(
                        running_server(records=records, bus=bus, key=key, service=LIMITS)
                    )
                )
            yield running, schema
    finally:
        await drop_schema(schema)


async def renewals_unanswered(server: RunningServer, schema: str, quiz_id: str) -> None:
    """The renewals went unanswered for longer than the lease: ``server`` no longer trusts its
    lease, and the database sees it as expired."""
    server.service.owner._owned[quiz_id].valid_until = time.monotonic() - 1
    async with admin_connection() as connection:
        await connection.execute(
            f"UPDATE \"{schema}\".quiz_leases SET expires_at = now() - interval '1 second'"
            " WHERE quiz_id = $1",
            quiz_id,
        )


async def test_an_owner_that_lost_a_doubtful_lease_leaves_no_responder_behind() -> None:
    async with two_servers() as ((first, second), schema):
        quiz = await first.create_quiz(count=2, seed=7)
        quiz_id, pin = quiz["quiz_id"], quiz["pin"]
        assert first.service.owner.owns(quiz_id)

        await renewals_unanswered(first, schema, quiz_id)
        await first.service.owner.sweep()  # its own sweep finds the quiz nobody's
        await second.service.owner.sweep()  # and so does the other process's: it takes it
        assert second.service.owner.owns(quiz_id)
        async with admin_connection() as connection:
            epoch = await connection.fetchval(
                f'SELECT epoch FROM "{schema}".quiz_leases WHERE quiz_id = $1', quiz_id
            )
        assert epoch == 2
        await first.service.owner.renew_leases()  # the first process learns it lost the quiz
        assert not first.service.owner.owns(quiz_id)

        # Players joining on the process that lost the quiz are routed to the new owner.
        for n in range(5):
            joined = await first.join(pin, f"Player {n}")
            assert joined["quiz_id"] == quiz_id
        players = second.service.store.session(quiz_id).players
        assert sorted(p.nickname for p in players.values()) == [f"Player {n}" for n in range(5)]


async def test_a_sync_on_an_owner_unsure_of_its_lease_never_shows_an_old_state() -> None:
    # Found by the cluster nemesis: renewals unanswered (PostgreSQL killed), another process
    # took the quiz over and finished it; a player on the old owner sent sync 40 ms later and
    # was shown question 5 still open, from the session of a quiz the process no longer ran.
    async with two_servers() as ((first, second), schema), contextlib.AsyncExitStack() as stack:
        quiz = await first.create_quiz(count=2, seed=7)
        quiz_id = quiz["quiz_id"]
        anna = await first.join(quiz["pin"], "Anna")
        phone = await stack.enter_async_context(open_client(first, "Anna", anna["token"]))

        await renewals_unanswered(first, schema, quiz_id)
        await second.service.owner.sweep()
        assert second.service.owner.owns(quiz_id)
        assert first.service.store.owns(quiz_id)  # it has not heard yet
        host = await stack.enter_async_context(open_client(second, "host", quiz["host_token"]))
        assert (await host.host("start"))["type"] == "host_ack"

        reply = await phone.sync()
        assert reply["type"] == "error", reply  # not the lobby it still holds
        assert reply["code"] == "unavailable", reply
        # nor a welcome, nor the results (which would list Anna with the quiz in the lobby)
        await assert_unavailable_to_read(first, anna["token"], quiz_id, quiz["host_token"])

        await first.service.owner.renew_leases()  # it learns it lost the quiz: a copy now
        assert not first.service.store.owns(quiz_id)
        async with asyncio.timeout(10):
            while True:
                reply = await phone.sync()
                if reply["type"] == "snapshot":
                    break
                await asyncio.sleep(0.05)
        assert reply["state"]["phase"] == "question_open", reply["state"]
        welcome = await stack.enter_async_context(open_client(first, "Anna", anna["token"]))
        assert welcome.frames[-1]["state"]["phase"] == "question_open"
