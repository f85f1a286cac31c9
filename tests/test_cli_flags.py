"""``livequiz flags list|clear``: the operator's view of the flags, beside a running server, on
the embedded default's data directory and on PostgreSQL."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest

from livequiz.adapters.postgres import PostgresRecords
from livequiz.cli import main
from livequiz.domain.commands import CloseQuestion, Start
from livequiz.ports import Flag
from tests import pg_database
from tests.server import running_server


async def cli(*argv: str) -> tuple[int, str]:
    """``livequiz ARGV`` in a thread (it runs its own event loop); its status and output."""
    out = io.StringIO()
    status = await asyncio.to_thread(main, list(argv), out)
    return status, out.getvalue()


async def test_list_and_clear_beside_a_running_embedded_server(tmp_path: Path) -> None:
    async with running_server(data_dir=tmp_path) as srv:
        quiz = await srv.create_quiz(count=2, seed=4)
        anna = await srv.join(quiz["pin"], "Anna")
        await srv.service.call(quiz["quiz_id"], Start())
        await srv.service.call(quiz["quiz_id"], CloseQuestion())
        url = f"/api/quizzes/{quiz['quiz_id']}/flags"
        headers = {"authorization": f"Bearer {anna['token']}"}
        response = await srv.http.post(url, json={"index": 0, "reason": "odd"}, headers=headers)
        assert response.status_code == 200, response.text
        word, kind = response.json()["word"], response.json()["kind"]

        status, text = await cli("flags", "list", "--data-dir", str(tmp_path))
        assert status == 0
        assert f"  1  {word} ({kind}," in text
        assert "- odd" in text
        status, text = await cli("flags", "list", "--data-dir", str(tmp_path), "--json")
        (listed,) = json.loads(text)["flags"]
        assert (listed["word"], listed["kind"], listed["flags"]) == (word, kind, 1)

        status, text = await cli("flags", "clear", word, kind, "--data-dir", str(tmp_path))
        assert (status, text) == (0, f"cleared 1 flag of {word!r} ({kind})\n")
        # the running server sees the clear at once
        assert await srv.server.records.open_flags() == []
    status, text = await cli("flags", "list", "--data-dir", str(tmp_path))
    assert (status, text) == (0, "no question is flagged\n")


async def test_list_and_clear_on_postgresql() -> None:
    schema = pg_database.new_schema_name()
    records = await PostgresRecords.connect(pg_database.database_url(), schema=schema)
    try:
        flag = Flag("harbour", "synonym", "B1", "Which word ...?", "q", 0, "host", "two fit", 1)
        await records.add_flag(flag)
        options = ("--database", pg_database.database_url(), "--database-schema", schema)
        status, text = await cli("flags", "list", *options)
        assert status == 0
        assert "harbour (synonym, B1): Which word ...?" in text
        status, text = await cli("flags", "clear", "HARBOUR", "synonym", *options)
        assert (status, text) == (0, "cleared 1 flag of 'HARBOUR' (synonym)\n")
        assert await records.open_flags() == []
    finally:
        await records.close()
        await pg_database.drop_schema(schema)


def test_no_data_directory_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["flags", "list", "--data-dir", str(tmp_path / "nothing")])
    assert exited.value.code == 2
    assert "no livequiz data in" in capsys.readouterr().err


def test_an_unknown_kind_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["flags", "clear", "harbour", "essay"])
    assert "invalid choice: 'essay'" in capsys.readouterr().err
