"""The teacher stays in charge, over the HTTP API: a preview of every question before the quiz
exists, a replacement of the same kind and level, an edited list the server checks field by
field, and flags that keep a question out of generation on the whole server until a teacher
clears them (also across processes sharing PostgreSQL)."""

from __future__ import annotations

import base64
import contextlib
import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from livequiz.adapters.local_bus import LocalBus
from livequiz.adapters.postgres import PostgresRecords
from livequiz.domain.commands import CloseQuestion, End, Kick, Next, Start
from tests import pg_database
from tests.server import RunningServer, running_server
from tests.vocabulary.test_kahoot import GOOD as KAHOOT_GOOD
from tests.vocabulary.test_kahoot import kahoot_file

in_module_loop = pytest.mark.asyncio(loop_scope="module")

#: Five words, all asked as word_to_meaning: a draft of five uses every one of them.
FIVE = "word,level\nharbour,B1\nbrave,B1\nancient,B1\nwhisper,B1\nglacier,B1\n"
QUESTION_KEYS = {
    "prompt",
    "options",
    "correct_option",
    "kind",
    "level",
    "word",
    "definition",
    "example",
}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def srv() -> AsyncIterator[RunningServer]:
    async with running_server() as running:
        yield running


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def error_of(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code, error
    assert "Traceback" not in error["message"]
    return error


async def draft(srv: RunningServer, **body: Any) -> list[dict[str, Any]]:
    response = await srv.http.post("/api/drafts", json=body)
    assert response.status_code == 200, response.text
    questions: list[dict[str, Any]] = response.json()["questions"]
    return questions


async def flag(
    srv: RunningServer, quiz_id: str, token: str, index: int, reason: str | None = None
) -> httpx.Response:
    body: dict[str, Any] = {"index": index}
    if reason is not None:
        body["reason"] = reason
    return await srv.http.post(f"/api/quizzes/{quiz_id}/flags", json=body, headers=bearer(token))


async def open_flags(srv: RunningServer, host_token: str) -> list[dict[str, Any]]:
    response = await srv.http.get("/api/flags", headers=bearer(host_token))
    assert response.status_code == 200, response.text
    listed: list[dict[str, Any]] = response.json()["flags"]
    return listed


async def closed_quiz(
    srv: RunningServer, *names: str, **body: Any
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A started quiz whose first question has closed (its reveal), with players joined."""
    quiz = await srv.create_quiz(**({"count": 2, "seed": 4} | body))
    players = [await srv.join(quiz["pin"], name) for name in names]
    await srv.service.call(quiz["quiz_id"], Start())
    await srv.service.call(quiz["quiz_id"], CloseQuestion())
    return quiz, players


# ---------------------------------------------------------------------- the preview


@in_module_loop
async def test_the_preview_is_the_quiz_the_same_options_create(srv: RunningServer) -> None:
    before = set(srv.server.store.quiz_ids())
    options = {"count": 6, "seed": 17, "levels": ["A2", "B1"], "kinds": ["synonym", "fill_blank"]}
    questions = await draft(srv, **options)
    assert set(srv.server.store.quiz_ids()) == before  # nothing was created
    assert len(questions) == 6
    for q in questions:
        assert set(q) == QUESTION_KEYS
        assert q["kind"] in ("synonym", "fill_blank")
        assert q["level"] in ("A2", "B1")
        assert 0 <= q["correct_option"] < len(q["options"])
    created = await srv.create_quiz(**options)
    stored = srv.server.store.definition(created["quiz_id"]).questions
    assert [(q.prompt, list(q.options), q.correct_option, q.word, q.level) for q in stored] == [
        (q["prompt"], q["options"], q["correct_option"], q["word"], q["level"]) for q in questions
    ]


@in_module_loop
async def test_the_preview_refuses_what_a_creation_refuses(srv: RunningServer) -> None:
    error_of(await srv.http.post("/api/drafts", json={"count": 101}), 422, "bad_request")
    error_of(await srv.http.post("/api/drafts", json={"title": ""}), 422, "bad_request")
    error_of(await srv.http.post("/api/drafts", json={"questions": []}), 422, "bad_request")
    response = await srv.http.post("/api/drafts", json={"settings": {"reveal": "never"}})
    error_of(response, 422, "invalid_settings")
    response = await srv.http.post("/api/drafts", json={"words": "word\nxyzzyq\n"})
    error_of(response, 422, "bad_word_list")


@in_module_loop
async def test_a_preview_from_an_uploaded_word_list(srv: RunningServer) -> None:
    files = {"words": ("words.csv", FIVE.encode(), "text/csv")}
    response = await srv.http.post("/api/drafts", data={"count": "5"}, files=files)
    assert response.status_code == 200, response.text
    words = {q["word"] for q in response.json()["questions"]}
    assert words == {"harbour", "brave", "ancient", "whisper", "glacier"}


# ---------------------------------------------------------------------- replace


@in_module_loop
async def test_a_replacement_keeps_kind_and_level_and_asks_a_new_word(srv: RunningServer) -> None:
    questions = await draft(srv, count=8, seed=3, levels=["B1"])
    words = [q["word"] for q in questions]
    for old in questions[:4]:
        body = {"kind": old["kind"], "level": old["level"], "avoid": words}
        response = await srv.http.post("/api/drafts/replacement", json=body)
        assert response.status_code == 200, response.text
        new = response.json()["question"]
        assert set(new) == QUESTION_KEYS
        assert (new["kind"], new["level"]) == (old["kind"], old["level"])
        assert new["word"] not in words


@in_module_loop
@pytest.mark.parametrize("seed", [2**63, -(2**63) - 1])
async def test_a_replacement_seed_past_64_bits_is_refused_as_the_document_says(
    srv: RunningServer, seed: int
) -> None:
    # found by schemathesis: the document says a signed 64-bit seed; the server took any
    body = {"kind": "fill_blank", "level": "C2", "avoid": [], "seed": seed}
    response = await srv.http.post("/api/drafts/replacement", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "bad_request"


@in_module_loop
async def test_a_replacement_comes_from_the_drafts_word_list(srv: RunningServer) -> None:
    questions = await draft(srv, count=4, seed=1, words=FIVE, kinds=["word_to_meaning"])
    words = [q["word"] for q in questions]
    body = {"kind": "word_to_meaning", "level": "B1", "avoid": words, "words": FIVE}
    response = await srv.http.post("/api/drafts/replacement", json=body)
    assert response.status_code == 200, response.text
    (left,) = {"harbour", "brave", "ancient", "whisper", "glacier"} - set(words)
    assert response.json()["question"]["word"] == left
    # and then none is left: a clear 422
    body["avoid"] = [*words, left]
    response = await srv.http.post("/api/drafts/replacement", json=body)
    message = error_of(response, 422, "no_questions")["message"]
    assert "no other B1 word is left for a word_to_meaning question" in message


@in_module_loop
@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 422, "bad_request"),
        ({"kind": "synonym"}, 422, "bad_request"),
        ({"kind": "synonym", "level": "B1", "avoid": "harbour"}, 422, "bad_request"),
        ({"kind": "synonym", "level": "B1", "avoid": ["x" * 51]}, 422, "bad_request"),
        ({"kind": "synonym", "level": "B1", "avoid": ["a"] * 101}, 422, "bad_request"),
        ({"kind": "synonym", "level": "B1", "seed": "7"}, 422, "bad_request"),
        ({"kind": "synonym", "level": "B1", "count": 3}, 422, "bad_request"),
        ({"kind": "essay", "level": "B1"}, 422, "invalid_settings"),
        ({"kind": "synonym", "level": "Z9"}, 422, "invalid_settings"),
        ({"kind": "synonym", "level": "B1", "words": 5}, 422, "bad_request"),
    ],
)
async def test_a_bad_replacement_request_gets_a_clear_error(
    srv: RunningServer, body: dict[str, Any], status: int, code: str
) -> None:
    error_of(await srv.http.post("/api/drafts/replacement", json=body), status, code)


# ---------------------------------------------------------------------- edit, then create


@in_module_loop
async def test_an_edited_draft_is_the_quiz_exactly(srv: RunningServer) -> None:
    questions = await draft(srv, count=3, seed=9, kinds=["word_to_meaning"])
    questions[0]["prompt"] = "What does 'harbour' mean, really?"
    questions[1]["options"][0] = "a completely new answer"
    questions[1]["correct_option"] = 0
    questions[2]["level"] = ""
    response = await srv.http.post("/api/quizzes", json={"title": "Edited", "questions": questions})
    assert response.status_code == 201, response.text
    assert response.json()["questions"] == 3
    stored = srv.server.store.definition(response.json()["quiz_id"]).questions
    assert stored[0].prompt == "What does 'harbour' mean, really?"
    assert stored[1].options[0] == "a completely new answer"
    assert stored[1].correct_option == 0
    assert stored[2].level == ""
    assert [q.word for q in stored] == [q["word"] for q in questions]


@in_module_loop
async def test_every_problem_of_an_edited_list_is_named_and_nothing_is_created(
    srv: RunningServer,
) -> None:
    before = set(srv.server.store.quiz_ids())
    questions = await draft(srv, count=3, seed=9)
    questions[0]["options"][1] = questions[0]["options"][0].upper()
    questions[1]["correct_option"] = 4
    questions[2]["prompt"] = "line one\nline two"
    response = await srv.http.post("/api/quizzes", json={"questions": questions})
    error = error_of(response, 422, "invalid_question")
    assert [(p["question"], p["field"]) for p in error["problems"]] == [
        (1, "options[2]"),
        (2, "correct_option"),
        (3, "prompt"),
    ]
    assert error["message"].startswith("question 1, options[2]: is the same as option 1")
    assert set(srv.server.store.quiz_ids()) == before


@in_module_loop
@pytest.mark.parametrize(
    "questions",
    [
        [],
        "a quiz",
        [{"prompt": "p", "options": ["a", "b"], "correct_option": 0, "kind": "x", "word": "w"}],
        [{"prompt": "p", "options": ["a", "b"], "correct_option": 0, "kind": "synonym"}],
        [
            {
                "prompt": "p",
                "options": ["a"] * 7,
                "correct_option": 0,
                "kind": "synonym",
                "word": "w",
            }
        ],
    ],
    ids=["empty", "not-a-list", "bad-kind", "no-word", "seven-options"],
)
async def test_bad_question_lists_are_invalid_question(srv: RunningServer, questions: Any) -> None:
    response = await srv.http.post("/api/quizzes", json={"questions": questions})
    assert error_of(response, 422, "invalid_question")["problems"]


@in_module_loop
async def test_a_rude_edit_is_refused_but_the_decks_own_words_pass(srv: RunningServer) -> None:
    questions = await draft(srv, count=2, seed=9)
    questions[1]["options"][0] = "a shit answer"
    questions[0]["definition"] = "a young person of either sex"  # the deck's words: fine
    response = await srv.http.post("/api/quizzes", json={"questions": questions})
    error = error_of(response, 422, "invalid_question")
    assert error["problems"] == [
        {
            "question": 2,
            "field": "options[1]",
            "message": "holds a word not fit for a class; please reword it",
        }
    ]


@in_module_loop
async def test_questions_do_not_mix_with_generation_options(srv: RunningServer) -> None:
    questions = await draft(srv, count=1, seed=2)
    for extra in ({"count": 1}, {"seed": 2}, {"levels": ["B1"]}, {"words": FIVE}):
        response = await srv.http.post("/api/quizzes", json={"questions": questions, **extra})
        assert "send questions or" in error_of(response, 422, "bad_request")["message"]


@in_module_loop
async def test_creating_without_questions_still_generates(srv: RunningServer) -> None:
    created = await srv.create_quiz(count=4, seed=8)
    assert created["questions"] == 4


# ---------------------------------------------------------------------- flags


@in_module_loop
async def test_players_and_the_host_flag_once_each_during_the_review(
    srv: RunningServer,
) -> None:
    quiz, (anna, ben) = await closed_quiz(srv, "Anna", "Ben")
    question = srv.server.store.definition(quiz["quiz_id"]).questions[0]
    first = await flag(srv, quiz["quiz_id"], anna["token"], 0, "two answers fit")
    assert first.status_code == 200, first.text
    assert first.json() == {"index": 0, "word": question.word, "kind": question.kind, "new": True}
    again = await flag(srv, quiz["quiz_id"], anna["token"], 0, "really!")
    assert again.json()["new"] is False
    assert (await flag(srv, quiz["quiz_id"], ben["token"], 0)).json()["new"] is True
    assert (await flag(srv, quiz["quiz_id"], quiz["host_token"], 0, "yes")).json()["new"]
    listed = [
        f
        for f in await open_flags(srv, quiz["host_token"])
        if (f["word"], f["kind"]) == (question.word, question.kind)
    ]
    assert len(listed) == 1
    assert listed[0]["flags"] == 3
    assert listed[0]["reasons"] == ["yes", "two answers fit"]
    assert listed[0]["prompt"] == question.prompt
    assert listed[0]["level"] == question.level


@in_module_loop
async def test_an_open_or_unasked_question_cannot_be_flagged(srv: RunningServer) -> None:
    quiz = await srv.create_quiz(count=2, seed=4)
    anna = await srv.join(quiz["pin"], "Anna")
    error_of(await flag(srv, quiz["quiz_id"], anna["token"], 0), 409, "not_in_review")  # lobby
    await srv.service.call(quiz["quiz_id"], Start())
    error_of(await flag(srv, quiz["quiz_id"], anna["token"], 0), 409, "not_in_review")  # open
    await srv.service.call(quiz["quiz_id"], CloseQuestion())
    error_of(await flag(srv, quiz["quiz_id"], anna["token"], 1), 409, "not_in_review")
    assert (await flag(srv, quiz["quiz_id"], anna["token"], 0)).status_code == 200
    await srv.service.call(quiz["quiz_id"], Next())
    error_of(await flag(srv, quiz["quiz_id"], anna["token"], 1), 409, "not_in_review")
    await srv.service.call(quiz["quiz_id"], End())
    # after the quiz, in the review of missed words: every question asked
    assert (await flag(srv, quiz["quiz_id"], anna["token"], 1)).status_code == 200


@in_module_loop
async def test_who_may_flag(srv: RunningServer) -> None:
    quiz, (anna, ben) = await closed_quiz(srv, "Anna", "Ben")
    other = await srv.create_quiz(count=1)
    error_of(await flag(srv, quiz["quiz_id"], other["host_token"], 0), 403, "forbidden")
    await srv.service.call(quiz["quiz_id"], Kick(ben["player_id"]))
    error_of(await flag(srv, quiz["quiz_id"], ben["token"], 0), 403, "kicked")
    response = await srv.http.post(f"/api/quizzes/{quiz['quiz_id']}/flags", json={"index": 0})
    error_of(response, 401, "auth_required")
    error_of(await flag(srv, quiz["quiz_id"], "v1.forged.token", 0), 401, "bad_token")
    assert (await flag(srv, quiz["quiz_id"], anna["token"], 0)).status_code == 200


@in_module_loop
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "index must be the question's number"),
        ({"index": -1}, "index must be the question's number"),
        ({"index": "0"}, "index must be the question's number"),
        ({"index": 2}, "this quiz has 2 questions: index must be 0 to 1"),
        ({"index": 0, "reason": "x" * 201}, "reason must be at most 200 characters"),
        ({"index": 0, "reason": "bad\nline"}, "reason must be one line of plain text"),
        ({"index": 0, "reason": 3}, "reason must be text"),
        ({"index": 0, "why": "?"}, "unknown field 'why'"),
    ],
)
async def test_a_bad_flag_gets_a_clear_error(
    srv: RunningServer, body: dict[str, Any], message: str
) -> None:
    quiz, (anna,) = await closed_quiz(srv, "Anna")
    url = f"/api/quizzes/{quiz['quiz_id']}/flags"
    response = await srv.http.post(url, json=body, headers=bearer(anna["token"]))
    assert error_of(response, 422, "bad_request")["message"].startswith(message)


@in_module_loop
async def test_only_hosts_see_and_clear_flags(srv: RunningServer) -> None:
    quiz, (anna,) = await closed_quiz(srv, "Anna")
    response = await srv.http.get("/api/flags", headers=bearer(anna["token"]))
    error_of(response, 403, "forbidden")
    error_of(await srv.http.get("/api/flags"), 401, "auth_required")
    url = "/api/flags/synonym/harbour"
    error_of(await srv.http.delete(url, headers=bearer(anna["token"])), 403, "forbidden")
    response = await srv.http.delete("/api/flags/essay/harbour", headers=bearer(quiz["host_token"]))
    error_of(response, 422, "bad_request")


async def test_a_flagged_question_is_not_generated_until_a_teacher_clears_it() -> None:
    async with running_server() as srv:
        quiz, (anna,) = await closed_quiz(
            srv, "Anna", words=FIVE, count=5, kinds=["word_to_meaning"], seed=1
        )
        question = srv.server.store.definition(quiz["quiz_id"]).questions[0]
        assert (await flag(srv, quiz["quiz_id"], anna["token"], 0, "odd")).status_code == 200

        # the five-word list cannot make five word_to_meaning questions any more
        body = {"words": FIVE, "count": 5, "kinds": ["word_to_meaning"]}
        error_of(await srv.http.post("/api/drafts", json=body), 422, "no_questions")
        error_of(await srv.http.post("/api/quizzes", json=body), 422, "no_questions")
        for seed in range(5):
            questions = await draft(srv, **(body | {"count": 4, "seed": seed}))
            assert question.word not in {q["word"] for q in questions}
        # nor does a replacement bring it back
        replacement = {"kind": "word_to_meaning", "level": "B1", "words": FIVE, "avoid": []}
        for seed in range(5):
            response = await srv.http.post(
                "/api/drafts/replacement", json=replacement | {"seed": seed}
            )
            assert response.json()["question"]["word"] != question.word
        # another kind of question about the word is still made
        other = await draft(srv, words=FIVE, count=5, kinds=["meaning_to_word"], seed=1)
        assert question.word in {q["word"] for q in other}

        # a teacher clears it: generated again
        url = f"/api/flags/{question.kind}/{question.word.upper()}"
        response = await srv.http.delete(url, headers=bearer(quiz["host_token"]))
        assert response.json() == {
            "word": question.word.upper(),
            "kind": question.kind,
            "cleared": 1,
        }
        assert await open_flags(srv, quiz["host_token"]) == []
        assert len(await draft(srv, **body)) == 5
        response = await srv.http.delete(url, headers=bearer(quiz["host_token"]))
        assert response.json()["cleared"] == 0


async def test_flags_survive_a_restart_of_the_embedded_server(tmp_path: Any) -> None:
    async with running_server(data_dir=tmp_path) as srv:
        quiz, (anna,) = await closed_quiz(srv, "Anna")
        assert (await flag(srv, quiz["quiz_id"], anna["token"], 0, "kept")).status_code == 200
        host_token = quiz["host_token"]
    async with running_server(data_dir=tmp_path) as srv:
        (kept,) = await open_flags(srv, host_token)
        assert kept["reasons"] == ["kept"]


@contextlib.asynccontextmanager
async def two_processes_on_postgres() -> AsyncIterator[tuple[RunningServer, RunningServer]]:
    """Two servers over one PostgreSQL schema and one bus: two processes of one deployment."""
    schema = pg_database.new_schema_name()
    key = secrets.token_bytes(32)
    bus = LocalBus()
    opened: list[PostgresRecords] = []
    try:
        async with contextlib.AsyncExitStack() as stack:
            servers = []
            for n in range(2):
                records = await PostgresRecords.connect(
                    pg_database.database_url(), schema=schema, lease_s=3.0, owner_id=f"p{n}"
                )
                opened.append(records)
                servers.append(
                    await stack.enter_async_context(
                        running_server(records=records, bus=bus, key=key)
                    )
                )
            yield servers[0], servers[1]
    finally:
        for records in opened:
            await records.close()
        await bus.close()
        await pg_database.drop_schema(schema)


async def test_a_flag_given_on_one_process_keeps_the_question_out_on_another() -> None:
    async with two_processes_on_postgres() as (first, second):
        quiz, (anna,) = await closed_quiz(
            first, "Anna", words=FIVE, count=5, kinds=["word_to_meaning"], seed=1
        )
        question = first.server.store.definition(quiz["quiz_id"]).questions[0]
        # the player flags through the second process, which does not own the quiz
        response = await flag(second, quiz["quiz_id"], anna["token"], 0, "through p1")
        assert response.status_code == 200, response.text
        body = {"words": FIVE, "count": 5, "kinds": ["word_to_meaning"]}
        for server in (first, second):
            error_of(await server.http.post("/api/drafts", json=body), 422, "no_questions")
        (listed,) = await open_flags(first, quiz["host_token"])
        assert (listed["word"], listed["reasons"]) == (question.word, ["through p1"])
        # cleared on the first, generated again on the second
        url = f"/api/flags/{question.kind}/{question.word}"
        await first.http.delete(url, headers=bearer(quiz["host_token"]))
        assert len(await draft(second, **body)) == 5


# ---------------------------------------------------------------- a Kahoot! spreadsheet


@in_module_loop
async def test_a_kahoot_spreadsheet_previews_its_questions_and_makes_a_quiz_of_them(
    srv: RunningServer,
) -> None:
    rows = [*KAHOOT_GOOD, ["Two right?", "a", "b", None, None, 20, "1,2"]]
    encoded = base64.b64encode(kahoot_file(rows)).decode()
    response = await srv.http.post("/api/drafts", json={"kahoot": encoded, "count": 10})
    assert response.status_code == 200, response.text
    body = response.json()
    assert [q["prompt"] for q in body["questions"]] == [row[0] for row in KAHOOT_GOOD]
    assert {q["kind"] for q in body["questions"]} == {"authored"}
    assert body["left_out_count"] == 1
    assert body["left_out"] == [
        {
            "line": 11,
            "item": None,
            "message": "answers 1,2 are all marked correct: a livequiz question has one",
        }
    ]
    created = await srv.http.post("/api/quizzes", json={"questions": body["questions"]})
    assert created.status_code == 201, created.text
    assert created.json()["questions"] == 2


@in_module_loop
async def test_a_kahoot_spreadsheet_that_is_none_is_refused_clearly(srv: RunningServer) -> None:
    not_base64 = await srv.http.post("/api/drafts", json={"kahoot": "%%%"})
    error_of(not_base64, 422, "bad_request")
    csv = base64.b64encode(b"word\nharbour\n").decode()
    error = error_of(await srv.http.post("/api/drafts", json={"kahoot": csv}), 422, "bad_word_list")
    assert error["message"] == "this is not a Kahoot! spreadsheet (.xlsx)"
    all_bad = base64.b64encode(kahoot_file([["", "a", "b", None, None, 20, 1]])).decode()
    error = error_of(
        await srv.http.post("/api/drafts", json={"kahoot": all_bad}), 422, "bad_word_list"
    )
    assert error["errors"] == [{"line": 9, "item": None, "message": "the question is empty"}]
    both = await srv.http.post("/api/drafts", json={"kahoot": all_bad, "words": FIVE})
    error_of(both, 422, "bad_request")
