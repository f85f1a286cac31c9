"""No client is shown a change that was not stored, even while storage cannot be read back.

Found by the cluster nemesis (docs/reliability.md, section 2): a host's ``start`` was refused
``unavailable`` (PostgreSQL killed), the owner could not read the journal to undo it in memory
either, and the host's ``sync`` a millisecond later showed question 0 open (seq 8) from the
session the failed batch had left; the next showed the lobby (seq 6). The workload, trusting the
first snapshot, tried for 60 s to close a question that had never opened. A real host page would
have shown a question and then the lobby again.

Here one server runs on the embedded storage over a SQLite journal whose writes and reads are
made to fail (``tests.test_store.FaultyJournal``), as a dead database fails both.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

from livequiz.adapters.embedded import EmbeddedRecords
from tests.integration.helpers import assert_unavailable_to_read, open_client
from tests.server import RunningServer, running_server
from tests.test_store import FaultyJournal


@contextlib.asynccontextmanager
async def server_over(journal: FaultyJournal) -> AsyncIterator[RunningServer]:
    records = await EmbeddedRecords.open(journal)
    try:
        async with running_server(records=records, key=secrets.token_bytes(32)) as server:
            yield server
    finally:
        await records.close()


async def test_a_change_refused_while_storage_is_down_is_never_in_a_snapshot_or_welcome(
    tmp_path: Path,
) -> None:
    journal = FaultyJournal(tmp_path / "journal.sqlite3")
    async with server_over(journal) as server, contextlib.AsyncExitStack() as stack:
        quiz = await server.create_quiz(count=2, seed=3)
        anna = await server.join(quiz["pin"], "Anna")
        host = await stack.enter_async_context(open_client(server, "host", quiz["host_token"]))
        journal.fail_before = journal.fail_records = True  # the database is gone

        refused = await host.host("start")
        assert refused["type"] == "error", refused
        assert refused["code"] == "unavailable", refused
        reply = await host.sync()
        assert reply["type"] == "error", reply  # not a snapshot with question 0 open
        assert reply["code"] == "unavailable", reply
        await assert_unavailable_to_read(server, anna["token"], quiz["quiz_id"], quiz["host_token"])

        journal.fail_records = False  # reads back: the quiz is what its journal holds
        snapshot = await host.sync()
        assert snapshot["type"] == "snapshot", snapshot
        assert snapshot["state"]["phase"] == "lobby"
        assert snapshot["state"]["question"] is None
        again = await stack.enter_async_context(open_client(server, "Anna", anna["token"]))
        assert again.frames[-1]["state"]["phase"] == "lobby"

        journal.fail_before = False  # writes back: the host starts again, once
        since = len(host.frames)
        await host.send({"type": "host", "action": "start"})
        started = await host.wait_for(lambda f: f.get("action") == "start", since=since)
        assert started["type"] == "host_ack", started
        question = await again.wait_for(lambda f: f["type"] == "question")
        assert question["question"]["index"] == 0
