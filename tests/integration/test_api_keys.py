"""The learning app's API keys over HTTP, on the embedded default and on PostgreSQL + NATS: a key
creates quizzes and reads their results, reports and words as their host may, and no other
quiz's; a wrong, malformed or revoked key is refused at once on every process."""

from __future__ import annotations

import asyncio
import io
import time
from pathlib import Path

from livequiz.apikeys import new_api_key
from livequiz.cli import main
from tests.integration.test_cheating import Backend
from tests.server import running_server


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def test_an_api_key_creates_quizzes_and_reads_only_its_own(backend: Backend) -> None:
    text, key = new_api_key("Lingo app", int(time.time() * 1000))
    await backend.owner.server.store.records.add_api_key(key)
    created = await backend.owner.http.post("/api/quizzes", json={"count": 2}, headers=bearer(text))
    assert created.status_code == 201, created.text
    quiz = created.json()
    definition = backend.owner.service.store.definition(quiz["quiz_id"])
    assert definition.created_by == key.key_id
    for path in ("results", "report", "words?format=csv"):
        read = await backend.entry.http.get(
            f"/api/quizzes/{quiz['quiz_id']}/{path}", headers=bearer(text)
        )
        assert read.status_code == 200, (path, read.text)
    assert (
        await backend.entry.http.get(
            f"/api/quizzes/{quiz['quiz_id']}/results", headers=bearer(text)
        )
    ).json()["phase"] == "lobby"
    # a quiz the teacher made on the host page is not the app's
    other = await backend.owner.create_quiz(count=1)
    refused = await backend.entry.http.get(
        f"/api/quizzes/{other['quiz_id']}/results", headers=bearer(text)
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"
    # the host's token still reads the app's quiz (the app got it in the creation's answer)
    host = await backend.entry.http.get(
        f"/api/quizzes/{quiz['quiz_id']}/results", headers=bearer(quiz["host_token"])
    )
    assert host.status_code == 200


async def test_a_wrong_or_revoked_key_is_refused_on_every_process(backend: Backend) -> None:
    text, key = new_api_key("Lingo app", int(time.time() * 1000))
    await backend.owner.server.store.records.add_api_key(key)
    quiz = (
        await backend.owner.http.post("/api/quizzes", json={"count": 1}, headers=bearer(text))
    ).json()
    wrong = text[:-1] + ("A" if text[-1] != "A" else "B")
    for token, message in [
        (wrong, "unknown API key"),
        ("lq_123", "malformed API key"),
        (
            quiz["host_token"],
            "send no token, or the learning app's API key (lq_...) as the bearer",
        ),
    ]:
        response = await backend.entry.http.post(
            "/api/quizzes", json={"count": 1}, headers=bearer(token)
        )
        assert response.status_code == 401, token
        assert response.json()["error"] == {"code": "bad_api_key", "message": message}
    assert await backend.entry.server.store.records.revoke_api_key(key.key_id, 1)
    for srv in (backend.owner, backend.entry):
        response = await srv.http.get(
            f"/api/quizzes/{quiz['quiz_id']}/report", headers=bearer(text)
        )
        assert response.status_code == 401
        assert response.json()["error"]["message"] == "this API key was revoked"


async def run(*argv: str) -> str:
    """``livequiz …`` as an operator runs it beside the server (its own event loop)."""

    def command() -> str:
        out = io.StringIO()
        assert main(list(argv), out=out) == 0
        return out.getvalue()

    return await asyncio.to_thread(command)


async def test_keys_are_made_listed_and_revoked_beside_a_running_server(tmp_path: Path) -> None:
    data = str(tmp_path)
    made = await run("apikey", "create", "Lingo app (production)", "--data-dir", data)
    text = made.splitlines()[1]
    key_id = text.removeprefix("lq_").split(".")[0]
    listed = await run("apikey", "list", "--data-dir", data)
    assert f"{key_id}  active   Lingo app (production)" in listed
    async with running_server(data_dir=tmp_path) as srv:
        created = await srv.http.post("/api/quizzes", json={"count": 1}, headers=bearer(text))
        assert created.status_code == 201, created.text
        await run("apikey", "revoke", key_id, "--data-dir", data)
        refused = await srv.http.post("/api/quizzes", json={"count": 1}, headers=bearer(text))
        assert refused.status_code == 401
    assert f"{key_id}  revoked  Lingo app" in await run("apikey", "list", "--data-dir", data)


async def test_the_app_ends_its_own_quiz_and_no_other(backend: Backend) -> None:
    text, key = new_api_key("Lingo app", int(time.time() * 1000))
    await backend.owner.server.store.records.add_api_key(key)
    body = {
        "count": 1,
        "settings": {"pace": "self"},
        "due_at_ms": int(time.time() * 1000) + 86_400_000,
    }
    mine = (await backend.owner.http.post("/api/quizzes", json=body, headers=bearer(text))).json()
    teachers = await backend.owner.create_quiz(count=1)
    refused = await backend.entry.http.post(
        f"/api/quizzes/{teachers['quiz_id']}/end", headers=bearer(text)
    )
    assert refused.status_code == 403
    ended = await backend.entry.http.post(
        f"/api/quizzes/{mine['quiz_id']}/end", headers=bearer(text)
    )
    assert ended.status_code == 200, ended.text
    assert ended.json() == {"quiz_id": mine["quiz_id"], "phase": "finished"}
    state = await backend.entry.http.get(
        f"/api/quizzes/{mine['quiz_id']}/results", headers=bearer(text)
    )
    assert state.json()["phase"] == "finished"
    again = await backend.entry.http.post(
        f"/api/quizzes/{mine['quiz_id']}/end", headers=bearer(text)
    )
    assert (again.status_code, again.json()["error"]["code"]) == (410, "quiz_finished")
