"""The OpenAPI document: well-formed, true to the routes and error codes, and every example real.

``openapi-spec-validator`` is not a dependency, so the structure is checked here: references
resolve, path parameters are declared, every route of the app is documented with its methods and
nothing else is, and every error code named exists in the code. Then every example of the
document, request or response, is played against a live server: requests must be accepted,
error bodies must come back exactly as documented, and success bodies must match their schema
(checked by the small JSON Schema subset validator below) and the example's shape.
"""

from __future__ import annotations

import ast
import asyncio
import dataclasses
import inspect
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx
import jwt
import orjson
import pytest
import pytest_asyncio
from starlette.routing import Route

from livequiz import http_api
from livequiz.apikeys import new_api_key
from livequiz.app import LiveQuizServer, ServerConfig
from livequiz.auth import Role
from livequiz.domain.commands import (
    Answer,
    AnswerRejoin,
    End,
    Join,
    Kick,
    Leave,
    Next,
    SetLocked,
    Start,
)
from livequiz.domain.errors import ErrorCode
from livequiz.identity import AppAuthConfig
from livequiz.openapi import ERROR_CODES, OPENAPI
from livequiz.ports import StorageUnavailable
from livequiz.service import ServiceLimits
from tests.server import RunningServer, running_server

METHODS = ("get", "put", "post", "delete", "patch", "options", "head", "trace")
MIB = 1 << 20


# One server for the whole module (each scenario makes quizzes of its own; monkeypatches are
# undone after each test): a server costs ~0.2 s to stop, and there are dozens of examples.
# The async tests run in the module's event loop, the server's.
in_module_loop = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def srv() -> AsyncIterator[RunningServer]:
    async with running_server() as running:
        yield running


# ---------------------------------------------------------------------- a JSON Schema subset


def resolve(node: Any) -> Any:
    """Follow a local ``$ref`` (``#/components/...``) to what it names."""
    while isinstance(node, dict) and "$ref" in node:
        target: Any = OPENAPI
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: type(v) is int,
    "number": lambda v: type(v) in (int, float),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}
#: The keywords the validator understands; a schema using another one fails the structure test.
KEYWORDS = frozenset(
    {
        "$ref",
        "allOf",
        "anyOf",
        "if",
        "then",
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "enum",
        "const",
        "minimum",
        "maximum",
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
        "pattern",
        "oneOf",
        "description",
        "default",
        "contentMediaType",
    }
)


def schema_errors(value: Any, schema: dict[str, Any], where: str = "$") -> list[str]:
    """Why ``value`` does not match ``schema`` (empty if it does)."""
    schema = resolve(schema)
    if "oneOf" in schema:
        passing = [s for s in schema["oneOf"] if not schema_errors(value, s, where)]
        if len(passing) != 1:
            return [f"{where}: matches {len(passing)} of oneOf"]
    if "anyOf" in schema and all(schema_errors(value, s, where) for s in schema["anyOf"]):
        return [f"{where}: {value!r:.60} matches none of anyOf"]
    types = schema.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else types
        if not any(_TYPES[name](value) for name in names):
            return [f"{where}: {value!r:.60} is not {types}"]
    errors: list[str] = []
    for part in schema.get("allOf", ()):
        errors += schema_errors(value, part, where)
    if "if" in schema and "then" in schema and not schema_errors(value, schema["if"], where):
        errors += schema_errors(value, schema["then"], where)
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {value!r} not in {schema['enum']}")
    if "const" in schema and value != schema["const"]:
        errors.append(f"{where}: {value!r} != {schema['const']!r}")
    if isinstance(value, int) and not isinstance(value, bool):
        if value < schema.get("minimum", value):
            errors.append(f"{where}: {value} < {schema['minimum']}")
        if value > schema.get("maximum", value):
            errors.append(f"{where}: {value} > {schema['maximum']}")
    if isinstance(value, str):
        if not schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", len(value)):
            errors.append(f"{where}: length {len(value)} out of range")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(f"{where}: {value!r} does not match {schema['pattern']}")
    if isinstance(value, list):
        if len(value) > schema.get("maxItems", len(value)):
            errors.append(f"{where}: more than {schema['maxItems']} items")
        if len(value) < schema.get("minItems", 0):
            errors.append(f"{where}: fewer than {schema['minItems']} items")
        if "items" in schema:
            for i, item in enumerate(value):
                errors += schema_errors(item, schema["items"], f"{where}[{i}]")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        errors += [f"{where}: missing {k!r}" for k in schema.get("required", ()) if k not in value]
        for key, item in value.items():
            if key in properties:
                errors += schema_errors(item, properties[key], f"{where}.{key}")
            elif schema.get("additionalProperties", True) is False:
                errors.append(f"{where}: unexpected {key!r}")
    return errors


def test_the_validator_catches_what_it_should() -> None:
    error = {"$ref": "#/components/schemas/Error"}
    assert schema_errors({"error": {"code": "bad_json", "message": "x"}}, error) == []
    assert schema_errors({"error": {"code": "nope", "message": "x"}}, error)
    assert schema_errors({"error": {"code": "bad_json"}}, error)
    assert schema_errors({"status": "ok", "extra": 1}, {"$ref": "#/components/schemas/Health"})
    assert schema_errors(True, {"type": "integer"})
    assert schema_errors(None, {"type": ["integer", "null"]}) == []
    assert schema_errors(0, {"type": "integer", "minimum": 1})
    assert schema_errors("12345", {"type": "string", "pattern": "^[1-9][0-9]{5}$"})
    either = {"anyOf": [{"type": "integer", "const": 0}, {"type": "integer", "minimum": 2}]}
    assert schema_errors(0, either) == []
    assert schema_errors(5, either) == []
    assert schema_errors(1, either)
    assert schema_errors([], {"type": "array", "minItems": 1})
    # oneOf with properties beside it (JoinRequest): both are checked
    join = {"$ref": "#/components/schemas/JoinRequest"}
    assert schema_errors({"nickname": "Anna"}, join) == []
    assert schema_errors({"nickname": ""}, join)
    assert schema_errors({"nickname": "Anna", "app_token": "x"}, join)


# ---------------------------------------------------------------------- structure


def walk(node: Any, where: str = "#") -> Iterator[tuple[str, Any]]:
    yield where, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from walk(value, f"{where}/{i}")


def operations() -> Iterator[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    """``(method, path, path item, operation)`` for every documented operation."""
    for path, item in OPENAPI["paths"].items():
        for method in METHODS:
            if method in item:
                yield method, path, item, item[method]


def test_the_document_is_openapi_3_1_with_its_required_parts() -> None:
    assert OPENAPI["openapi"] == "3.1.0"
    assert OPENAPI["info"]["title"] == "livequiz"
    assert OPENAPI["info"]["version"]
    ids = [op["operationId"] for *_, op in operations()]
    assert len(ids) == len(set(ids)), "operationIds must be unique"
    for method, path, _item, op in operations():
        assert op["responses"], f"{method} {path} has no responses"
        for status, response in op["responses"].items():
            assert re.fullmatch(r"[1-5]\d\d|default", status), status
            assert "description" in resolve(response), f"{method} {path} {status}"


def test_every_reference_resolves() -> None:
    refs = [node["$ref"] for _, node in walk(OPENAPI) if isinstance(node, dict) and "$ref" in node]
    assert refs
    for ref in refs:
        assert ref.startswith("#/components/"), ref
        resolve({"$ref": ref})  # raises KeyError if dangling


def test_every_pattern_is_a_regular_expression_other_validators_accept() -> None:
    # Outside testers validate with their own tools: jsonschema-rs (Rust's regex, close to
    # ECMA-262 with Unicode) refused a pattern holding a surrogate range, and so the whole
    # document, until the range went.
    import jsonschema_rs  # comes with schemathesis (the fuzzers' dev dependency)

    patterns = [
        (where, node["pattern"])
        for where, node in walk(OPENAPI)
        if isinstance(node, dict) and isinstance(node.get("pattern"), str)
    ]
    assert patterns
    refused = []
    for where, pattern in patterns:
        try:
            jsonschema_rs.Draft202012Validator({"type": "string", "pattern": pattern})
        except jsonschema_rs.ValidationError:
            refused.append(where)
    assert refused == []


def test_schemas_use_only_the_keywords_the_validator_checks() -> None:
    schemas = OPENAPI["components"]["schemas"]
    for where, node in (pair for name in schemas for pair in walk(schemas[name], name)):
        if isinstance(node, dict) and not where.endswith("/properties"):
            unknown = set(node) - KEYWORDS
            assert not unknown, f"{where} uses {unknown}"


def test_path_parameters_are_declared_and_used() -> None:
    for method, path, item, op in operations():
        declared = {
            resolve(p)["name"]
            for p in [*item.get("parameters", []), *op.get("parameters", [])]
            if resolve(p)["in"] == "path"
        }
        assert declared == set(re.findall(r"{(\w+)}", path)), f"{method} {path}"


def test_security_names_a_defined_scheme() -> None:
    schemes = OPENAPI["components"]["securitySchemes"]
    used = [name for *_, op in operations() for req in op.get("security", []) for name in req]
    assert used  # results and the flags use it
    assert set(used) == {"bearer"}
    assert schemes["bearer"] == schemes["bearer"] | {"type": "http", "scheme": "bearer"}


def app_routes() -> dict[str, set[str]]:
    server = LiveQuizServer(ServerConfig(port=0, data_dir=None))
    routes: dict[str, set[str]] = {}
    for route in server.api.routes:
        assert isinstance(route, Route)
        routes[route.path] = {m.lower() for m in route.methods or ()} - {"head"}
    return routes


def test_every_route_is_documented_with_its_methods_and_nothing_else() -> None:
    documented = {
        path: {m for m in METHODS if m in item} for path, item in OPENAPI["paths"].items()
    }
    assert documented == app_routes()


# ---------------------------------------------------------------------- error codes


def codes_raised_in_http_api() -> set[str]:
    """Every code literal given to ``ApiError``/``error_response`` in ``http_api``'s source."""
    tree = ast.parse(inspect.getsource(http_api))
    codes: set[str] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("ApiError", "error_response")
        ):
            code = node.args[1]
            if isinstance(code, ast.Constant) and isinstance(code.value, str):
                codes.add(code.value)
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Tuple) and isinstance(t.elts[0], ast.Name) and t.elts[0].id == "code"
            for t in node.targets
        ):
            assert isinstance(node.value, ast.Tuple)
            first = node.value.elts[0]
            assert isinstance(first, ast.Constant)
            assert isinstance(first.value, str)
            codes.add(first.value)
    return codes


def documented_error_examples() -> Iterator[tuple[str, int | None, str, str]]:
    """``(where, status, example name, code)`` of every error example of the document."""
    for method, path, _item, op in operations():
        for status, response in op["responses"].items():
            if "$ref" in response:
                continue
            content = response["content"].get("application/json", {})
            for name, example in content.get("examples", {}).items():
                if "error" in example["value"]:
                    code = example["value"]["error"]["code"]
                    yield f"{method.upper()} {path}", int(status), name, code
    for ref, response in OPENAPI["components"]["responses"].items():
        for name, example in response["content"]["application/json"]["examples"].items():
            yield f"#/components/responses/{ref}", None, name, example["value"]["error"]["code"]


def test_the_documented_codes_are_exactly_the_codes_of_the_code() -> None:
    raised = codes_raised_in_http_api()
    assert raised <= set(http_api.API_ERROR_CODES) | {c.value for c in ErrorCode}
    assert set(http_api.API_ERROR_CODES) <= set(ERROR_CODES), "an HTTP-layer code is undocumented"
    core_codes = {c.value for c in ErrorCode}
    for code in ERROR_CODES:
        assert code in http_api.API_ERROR_CODES or code in core_codes, f"{code} is made up"
    # every listed code has an example; every example uses a listed code
    exampled = {code for *_, code in documented_error_examples()}
    assert exampled == set(ERROR_CODES)


def test_each_error_example_has_the_status_the_code_gives_its_code() -> None:
    statuses = {**http_api.STATUS, **http_api.API_ERROR_CODES}
    referenced: dict[str, set[int]] = {}
    for *_, op in operations():
        for status, response in op["responses"].items():
            if "$ref" in response:
                referenced.setdefault(response["$ref"], set()).add(int(status))
    for where, status, name, code in documented_error_examples():
        expected = status if status is not None else statuses[code]
        assert statuses[code] == expected, f"{where} {name}: {code} is sent with {statuses[code]}"
        if where in referenced:
            assert referenced[where] == {statuses[code]}, where


# ---------------------------------------------------------------------- examples, live


@in_module_loop
async def test_the_served_document_matches(srv: RunningServer) -> None:
    response = await srv.http.get("/openapi.json")
    assert response.status_code == 200
    assert response.json() == orjson.loads(orjson.dumps(OPENAPI))


#: A server configured for the learning app's sign-in (HS256), and tokens signed for it.
APP_AUTH = AppAuthConfig(
    issuer="https://app.example", audience="livequiz", secret="a-test-secret-of-32-bytes-or-more"
)


def app_token(user_id: str, name: str, *, expires_in_s: int = 300, **claims: Any) -> str:
    now = int(time.time())
    payload = {
        "sub": user_id,
        "name": name,
        "iss": APP_AUTH.issuer,
        "aud": APP_AUTH.audience,
        "iat": now,
        "exp": now + expires_in_s,
        **claims,
    }
    assert APP_AUTH.secret is not None
    return jwt.encode(payload, APP_AUTH.secret, algorithm="HS256")


def request_examples() -> Iterator[tuple[str, str, str, str, Any]]:
    for method, path, _item, op in operations():
        for media, content in op.get("requestBody", {}).get("content", {}).items():
            for name, example in content.get("examples", {}).items():
                yield method, path, media, name, example["value"]


def test_request_examples_match_their_schemas() -> None:
    for method, path, media, name, value in request_examples():
        schema = OPENAPI["paths"][path][method]["requestBody"]["content"][media]["schema"]
        assert schema_errors(value, schema) == [], f"{method} {path} {name}"


@pytest.mark.parametrize(
    ("method", "path", "media", "name", "value"),
    list(request_examples()),
    ids=[f"{m} {p} {n}" for m, p, _, n, _ in request_examples()],
)
@in_module_loop
async def test_each_request_example_is_accepted(
    srv: RunningServer, method: str, path: str, media: str, name: str, value: Any
) -> None:
    if isinstance(value, dict) and "app_token" in value:
        # the learning app's sign-in: a server configured for it, and a token signed for it
        async with running_server(app_auth=APP_AUTH) as app_srv:
            pin = (await app_srv.create_quiz(count=1, seed=1))["pin"]
            body = {**value, "app_token": app_token("u-7", "Anna Schmidt")}
            response = await app_srv.http.post(path.replace("{pin}", pin), json=body)
        assert response.status_code == 201, response.text
        return
    url, headers = path, {}
    if path.endswith("/rejoin"):  # asking for an away player: Leo, whose phone died
        url = path.replace("{pin}", (await _leo_away(srv))["pin"])
    elif "{pin}" in path:
        url = path.replace("{pin}", (await srv.create_quiz(count=1, seed=1))["pin"])
    if "{quiz_id}" in path:  # a flag: a quiz whose questions have closed, a player's token
        quiz, anna, _bea = await played(srv)
        url = path.replace("{quiz_id}", quiz["quiz_id"])
        headers = bearer(anna["token"])
    if isinstance(value, dict) and "due_at_ms" in value:
        # A due time is relative to now (1 minute to 90 days away): the example's is moved to
        # a day from now, to stay accepted whatever the day the test runs.
        value = {**value, "due_at_ms": int(time.time() * 1000) + 86_400_000}
    if media == "application/json":
        response = await srv.http.request(method, url, json=value, headers=headers)
    elif media == "application/x-www-form-urlencoded":
        response = await srv.http.request(method, url, data=value, headers=headers)
    else:
        assert media == "multipart/form-data"
        fields = {k: v for k, v in value.items() if k != "words"}
        files = {"words": ("words.csv", value["words"].encode(), "text/csv")}
        response = await srv.http.request(method, url, data=fields, files=files, headers=headers)
    responses = OPENAPI["paths"][path][method]["responses"]
    (success,) = [status for status in responses if status.startswith("2")]
    assert response.status_code == int(success), response.text
    answer = responses[success]["content"]["application/json"]
    assert schema_errors(response.json(), answer["schema"]) == []


# Scenarios: for each documented response example, the request that makes the server send it.

Scenario = Callable[[RunningServer, pytest.MonkeyPatch], Awaitable[httpx.Response]]
SCENARIOS: dict[tuple[str, str, str], Scenario] = {}


def scenario(where: str, media: str, name: str) -> Callable[[Scenario], Scenario]:
    def register(run: Scenario) -> Scenario:
        SCENARIOS[(where, media, name)] = run
        return run

    return register


JSON_MEDIA = "application/json"
WORDS = "word\nharbour\nbrave\nancient\nwhisper\nglacier\n"
NEVER_A_PIN = "000000"  # PINs never start with 0
QUESTION: dict[str, Any] = OPENAPI["paths"]["/api/quizzes"]["post"]["requestBody"]["content"][
    "application/json"
]["examples"]["edited_questions"]["value"]["questions"][1]


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def unstarted_server_request(method: str, url: str) -> httpx.Response:
    """A request to the app of a server whose service has not started (or has stopped)."""
    server = LiveQuizServer(ServerConfig(port=0, data_dir=None))
    transport = httpx.ASGITransport(app=server.api)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.request(method, url)


async def played(srv: RunningServer) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A finished two-question quiz: Bea right then wrong, '-Anna' wrong then silent."""
    quiz = await srv.create_quiz(count=2, seed=3)
    anna = await srv.join(quiz["pin"], "-Anna")
    bea = await srv.join(quiz["pin"], "Bea")
    quiz_id, service = quiz["quiz_id"], srv.service
    questions = srv.server.store.session(quiz_id).questions
    await service.call(quiz_id, Start())
    right = questions[0].correct_option
    await service.call(quiz_id, Answer(bea["player_id"], 0, right))
    await service.call(quiz_id, Answer(anna["player_id"], 0, (right + 1) % 4))
    await service.call(quiz_id, Next())
    await service.call(quiz_id, Answer(bea["player_id"], 1, (questions[1].correct_option + 1) % 4))
    await service.call(quiz_id, End())
    return quiz, anna, bea


CREATE, GET_QUIZ = "POST /api/quizzes", "GET /api/quizzes/{pin}"
JOIN, RESULTS = "POST /api/quizzes/{pin}/players", "GET /api/quizzes/{quiz_id}/results"


@scenario(CREATE, JSON_MEDIA, "created")
async def _created(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    body = {"title": "Year 9 - week 3", "count": 5, "seed": 42, "time_limit_s": 30}
    return await srv.http.post("/api/quizzes", json=body)


@scenario(CREATE, JSON_MEDIA, "bad_api_key")
async def _create_revoked_key(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    text, key = new_api_key("Lingo app", int(time.time() * 1000))
    await srv.server.store.records.add_api_key(key)
    await srv.server.store.records.revoke_api_key(key.key_id, int(time.time() * 1000))
    return await srv.http.post("/api/quizzes", json={"count": 1}, headers=bearer(text))


@scenario(CREATE, JSON_MEDIA, "webhook_needs_key")
async def _create_webhook_without_key(
    srv: RunningServer, _mp: pytest.MonkeyPatch
) -> httpx.Response:
    body = {"count": 1, "webhook_url": "https://app.example/livequiz"}
    return await srv.http.post("/api/quizzes", json=body)


@scenario(CREATE, JSON_MEDIA, "bad_json")
async def _create_bad_json(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    return await srv.http.post("/api/quizzes", content=b'{"count": 3')


@scenario(CREATE, JSON_MEDIA, "bad_form")
async def _create_bad_form(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    cut = b'--b\r\nContent-Disposition: form-data; name="count"\r\n\r\n3\r\n'
    headers = {"content-type": "multipart/form-data; boundary=b"}
    return await srv.http.post("/api/quizzes", content=cut, headers=headers)


@scenario(CREATE, JSON_MEDIA, "too_large")
async def _create_too_large(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    return await srv.http.post("/api/quizzes", content=b" " * (MIB + 1))


@scenario(CREATE, JSON_MEDIA, "bad_request")
async def _create_bad_request(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    return await srv.http.post("/api/quizzes", json={"count": 0})


@scenario(CREATE, JSON_MEDIA, "bad_word_list")
async def _create_bad_words(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    words = "word,level\nharbour,B1\nbrave,Z9\nrecieve,\nwhisper,A2\nHarbour,\n"
    return await srv.http.post("/api/quizzes", json={"words": words})


@scenario(CREATE, JSON_MEDIA, "invalid_settings")
async def _create_bad_settings(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    return await srv.http.post("/api/quizzes", json={"settings": {"reveal": "later"}})


@scenario(CREATE, JSON_MEDIA, "invalid_due")
async def _create_homework_without_due(
    srv: RunningServer, _mp: pytest.MonkeyPatch
) -> httpx.Response:
    return await srv.http.post("/api/quizzes", json={"count": 3, "settings": {"pace": "self"}})


@scenario(CREATE, JSON_MEDIA, "no_questions")
async def _create_too_few(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    return await srv.http.post("/api/quizzes", json={"words": WORDS, "count": 10})


@scenario(CREATE, JSON_MEDIA, "questions_and_count")
async def _create_questions_and_count(
    srv: RunningServer, _mp: pytest.MonkeyPatch
) -> httpx.Response:
    body = {"questions": [QUESTION], "count": 1}
    return await srv.http.post("/api/quizzes", json=body)


@scenario(CREATE, JSON_MEDIA, "invalid_question")
async def _create_invalid_question(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    questions = [
        {**QUESTION, "options": ["big", "Big", "small"]},
        {**QUESTION, "prompt": " "},
    ]
    return await srv.http.post("/api/quizzes", json={"questions": questions})


DRAFT, REPLACE = "POST /api/drafts", "POST /api/drafts/replacement"
FLAG, FLAGS, CLEAR = (
    "POST /api/quizzes/{quiz_id}/flags",
    "GET /api/flags",
    "DELETE /api/flags/{kind}/{word}",
)
#: An own list of four B1 words: a replacement avoiding all four finds none left.
B1_WORDS = "word,level\nharbour,B1\nbrave,B1\nancient,B1\nwhisper,B1\n"


@scenario(DRAFT, JSON_MEDIA, "draft")
async def _draft(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    return await srv.http.post("/api/drafts", json={"count": 3, "seed": 42})


@scenario(DRAFT, JSON_MEDIA, "quizlet_with_a_mistake")
async def _draft_quizlet(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    quizlet = (
        "harbour\ta place where ships stay safe\n"
        "ancient\tvery old\n"
        "brave\tbrave and not afraid\n"
        "whisper\tto speak very quietly\n"
        "glacier\ta slow river of ice\n"
    )
    return await srv.http.post(
        "/api/drafts", json={"words": quizlet, "count": 2, "kinds": ["word_to_meaning"]}
    )


@scenario(DRAFT, JSON_MEDIA, "bad_json")
async def _draft_bad_json(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    return await srv.http.post("/api/drafts", content=b'{"count": 3')


@scenario(DRAFT, JSON_MEDIA, "bad_request")
async def _draft_bad_request(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    return await srv.http.post("/api/drafts", json={"count": 0})


@scenario(DRAFT, JSON_MEDIA, "no_questions")
async def _draft_too_few(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    return await srv.http.post("/api/drafts", json={"words": WORDS, "count": 10})


@scenario(REPLACE, JSON_MEDIA, "replacement")
async def _replacement(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    body = {"kind": "synonym", "level": "B1", "avoid": ["harbour"], "seed": 1}
    return await srv.http.post("/api/drafts/replacement", json=body)


@scenario(REPLACE, JSON_MEDIA, "bad_json")
async def _replace_bad_json(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    return await srv.http.post("/api/drafts/replacement", content=b"[]")


@scenario(REPLACE, JSON_MEDIA, "bad_request")
async def _replace_bad_request(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    body = {"kind": "synonym", "level": "B1", "avoid": "harbour"}
    return await srv.http.post("/api/drafts/replacement", json=body)


@scenario(REPLACE, JSON_MEDIA, "invalid_settings")
async def _replace_bad_kind(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    body = {"kind": "essay", "level": "B1"}
    return await srv.http.post("/api/drafts/replacement", json=body)


@scenario(REPLACE, JSON_MEDIA, "no_questions")
async def _replace_none_left(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    body = {
        "kind": "word_to_meaning",
        "level": "B1",
        "avoid": ["harbour", "brave", "ancient", "whisper"],
        "words": B1_WORDS,
    }
    return await srv.http.post("/api/drafts/replacement", json=body)


async def _flag(srv: RunningServer, quiz_id: str, token: str, body: Any) -> httpx.Response:
    return await srv.http.post(f"/api/quizzes/{quiz_id}/flags", json=body, headers=bearer(token))


@scenario(FLAG, JSON_MEDIA, "flagged")
async def _flagged(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    quiz, anna, _bea = await played(srv)
    return await _flag(srv, quiz["quiz_id"], anna["token"], {"index": 0, "reason": "odd"})


@scenario(FLAG, JSON_MEDIA, "auth_required")
async def _flag_no_token(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    quiz, _anna, _bea = await played(srv)
    return await srv.http.post(f"/api/quizzes/{quiz['quiz_id']}/flags", json={"index": 0})


@scenario(FLAG, JSON_MEDIA, "other_quiz")
async def _flag_other_quiz(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    quiz, _anna, _bea = await played(srv)
    other = await srv.create_quiz(count=1)
    return await _flag(srv, quiz["quiz_id"], other["host_token"], {"index": 0})


@scenario(FLAG, JSON_MEDIA, "kicked")
async def _flag_kicked(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    quiz = await srv.create_quiz(count=1)
    anna = await srv.join(quiz["pin"], "Anna")
    await srv.service.call(quiz["quiz_id"], Kick(anna["player_id"]))
    return await _flag(srv, quiz["quiz_id"], anna["token"], {"index": 0})


@scenario(FLAG, JSON_MEDIA, "not_in_review")
async def _flag_open(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    quiz = await srv.create_quiz(count=2)
    anna = await srv.join(quiz["pin"], "Anna")
    await srv.service.call(quiz["quiz_id"], Start())
    return await _flag(srv, quiz["quiz_id"], anna["token"], {"index": 0})


@scenario(FLAG, JSON_MEDIA, "bad_index")
async def _flag_bad_index(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    quiz, anna, _bea = await played(srv)
    return await _flag(srv, quiz["quiz_id"], anna["token"], {"index": 2})


@scenario(FLAGS, JSON_MEDIA, "flags")
async def _flags(_srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    async with running_server() as own:  # a server of its own: only these flags are open
        quiz, anna, bea = await played(own)
        await _flag(own, quiz["quiz_id"], anna["token"], {"index": 0, "reason": "two fit"})
        await _flag(own, quiz["quiz_id"], bea["token"], {"index": 0, "reason": "port"})
        return await own.http.get("/api/flags", headers=bearer(quiz["host_token"]))


@scenario(FLAGS, JSON_MEDIA, "auth_required")
async def _flags_no_token(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    return await srv.http.get("/api/flags")


@scenario(FLAGS, JSON_MEDIA, "player")
async def _flags_player(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    _quiz, anna, _bea = await played(srv)
    return await srv.http.get("/api/flags", headers=bearer(anna["token"]))


@scenario(CLEAR, JSON_MEDIA, "cleared")
async def _cleared(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    quiz, anna, _bea = await played(srv)
    flagged = (await _flag(srv, quiz["quiz_id"], anna["token"], {"index": 0})).json()
    url = f"/api/flags/{flagged['kind']}/{flagged['word']}"
    return await srv.http.delete(url, headers=bearer(quiz["host_token"]))


@scenario(CLEAR, JSON_MEDIA, "auth_required")
async def _clear_no_token(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    return await srv.http.delete("/api/flags/synonym/harbour")


@scenario(CLEAR, JSON_MEDIA, "player")
async def _clear_player(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    _quiz, anna, _bea = await played(srv)
    return await srv.http.delete("/api/flags/synonym/harbour", headers=bearer(anna["token"]))


@scenario(CLEAR, JSON_MEDIA, "bad_kind")
async def _clear_bad_kind(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    quiz = await srv.create_quiz(count=1)
    return await srv.http.delete("/api/flags/essay/harbour", headers=bearer(quiz["host_token"]))


@scenario(GET_QUIZ, JSON_MEDIA, "lobby")
async def _lobby(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    quiz = await srv.create_quiz(count=5, seed=1)
    await srv.join(quiz["pin"], "Anna")
    return await srv.http.get(f"/api/quizzes/{quiz['pin']}")


@scenario(GET_QUIZ, JSON_MEDIA, "unknown_quiz")
async def _get_unknown(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    return await srv.http.get(f"/api/quizzes/{NEVER_A_PIN}")


async def _join(srv: RunningServer, pin: str, nickname: str) -> httpx.Response:
    return await srv.http.post(f"/api/quizzes/{pin}/players", json={"nickname": nickname})


@scenario(JOIN, JSON_MEDIA, "joined")
async def _joined(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    return await _join(srv, (await srv.create_quiz(count=1))["pin"], "Anna")


@scenario(JOIN, JSON_MEDIA, "bad_json")
async def _join_bad_json(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    pin = (await srv.create_quiz(count=1))["pin"]
    return await srv.http.post(f"/api/quizzes/{pin}/players", content=b'["Anna"]')


@scenario(JOIN, JSON_MEDIA, "lobby_locked")
async def _join_locked(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    quiz = await srv.create_quiz(count=1)
    await srv.service.call(quiz["quiz_id"], SetLocked(True))
    return await _join(srv, quiz["pin"], "Anna")


@scenario(JOIN, JSON_MEDIA, "late_join_closed")
async def _join_late(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    quiz = await srv.create_quiz(count=1, settings={"allow_late_join": False})
    await srv.service.call(quiz["quiz_id"], Start())
    return await _join(srv, quiz["pin"], "Anna")


@scenario(JOIN, JSON_MEDIA, "quiz_full")
async def _join_full(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    quiz = await srv.create_quiz(count=1, settings={"max_players": 1})
    await srv.join(quiz["pin"], "Anna")
    return await _join(srv, quiz["pin"], "Bea")


@scenario(JOIN, JSON_MEDIA, "unknown_quiz")
async def _join_unknown(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    return await _join(srv, NEVER_A_PIN, "Anna")


@scenario(JOIN, JSON_MEDIA, "nickname_taken")
async def _join_taken(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    pin = (await srv.create_quiz(count=1))["pin"]
    await srv.join(pin, "Anna")
    return await _join(srv, pin, "anna")


@scenario(JOIN, JSON_MEDIA, "quiz_finished")
async def _join_finished(srv: RunningServer, monkeypatch: pytest.MonkeyPatch) -> httpx.Response:
    """The race the 410 is for: the host ends the quiz while a join is on its way.

    The store is held on an earlier batch until both the End and the join's command wait in
    the service's inbox; they then run in one batch, End first.
    """
    quiz = await srv.create_quiz(count=1)
    quiz_id, service, store = quiz["quiz_id"], srv.service, srv.server.store
    gate, join_queued = asyncio.Event(), asyncio.Event()
    execute, submit = store.execute, service.submit

    async def held_execute(batch: Any) -> Any:
        await gate.wait()
        return await execute(batch)

    def spying_submit(quiz_id: str, command: Any, reply: Any = None) -> None:
        submit(quiz_id, command, reply)
        if isinstance(command, Join):
            join_queued.set()

    monkeypatch.setattr(store, "execute", held_execute)
    monkeypatch.setattr(service, "submit", spying_submit)
    service.submit(quiz_id, SetLocked(False))  # a no-op the pump takes and is held on
    await asyncio.sleep(0.01)
    service.submit(quiz_id, End())
    join = asyncio.create_task(_join(srv, quiz["pin"], "Anna"))
    await asyncio.wait_for(join_queued.wait(), 5)
    gate.set()
    return await join


@scenario(JOIN, JSON_MEDIA, "too_large")
async def _join_too_large(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    pin = (await srv.create_quiz(count=1))["pin"]
    return await srv.http.post(f"/api/quizzes/{pin}/players", content=b" " * (MIB + 1))


@scenario(JOIN, JSON_MEDIA, "nickname_invalid")
async def _join_invalid(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    return await _join(srv, (await srv.create_quiz(count=1))["pin"], "A")


@scenario(JOIN, JSON_MEDIA, "not_a_string")
async def _join_not_a_string(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    pin = (await srv.create_quiz(count=1))["pin"]
    return await srv.http.post(f"/api/quizzes/{pin}/players", json={"nickname": 12345})


@scenario(JOIN, JSON_MEDIA, "nickname_profane")
async def _join_profane(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    return await _join(srv, (await srv.create_quiz(count=1))["pin"], "Poop")


@scenario(JOIN, JSON_MEDIA, "bad_app_token")
async def _join_expired_app_token(_srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    async with running_server(app_auth=APP_AUTH) as srv:
        pin = (await srv.create_quiz(count=1))["pin"]
        expired = app_token("u-7", "Anna", expires_in_s=-120)
        return await srv.http.post(f"/api/quizzes/{pin}/players", json={"app_token": expired})


@scenario(JOIN, JSON_MEDIA, "app_sign_in_required")
async def _join_app_quiz(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    pin = (await srv.create_quiz(count=1, settings={"identity": "app"}))["pin"]
    return await _join(srv, pin, "Anna")


@scenario(JOIN, JSON_MEDIA, "rate_limited")
async def _join_limited(_srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    async with running_server(service=ServiceLimits(joins_burst=1, joins_per_second=0.1)) as srv:
        pin = (await srv.create_quiz(count=1))["pin"]
        await srv.join(pin, "Anna")
        return await _join(srv, pin, "Bea")


@scenario(RESULTS, JSON_MEDIA, "host_report")
async def _host_report(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    quiz, _, _ = await played(srv)
    url = f"/api/quizzes/{quiz['quiz_id']}/results"
    return await srv.http.get(url, headers=bearer(quiz["host_token"]))


@scenario(RESULTS, JSON_MEDIA, "player_results")
async def _player_results(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    quiz, anna, _ = await played(srv)
    url = f"/api/quizzes/{quiz['quiz_id']}/results"
    return await srv.http.get(url, headers=bearer(anna["token"]))


@scenario(RESULTS, "text/csv", "csv")
async def _csv(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    quiz, _, _ = await played(srv)
    url = f"/api/quizzes/{quiz['quiz_id']}/results?format=csv"
    return await srv.http.get(url, headers=bearer(quiz["host_token"]))


async def _results_with(srv: RunningServer, headers: dict[str, str]) -> httpx.Response:
    quiz = await srv.create_quiz(count=1)
    return await srv.http.get(f"/api/quizzes/{quiz['quiz_id']}/results", headers=headers)


@scenario(RESULTS, JSON_MEDIA, "auth_required")
async def _no_token(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    return await _results_with(srv, {})


@scenario(RESULTS, JSON_MEDIA, "malformed")
async def _malformed(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    return await _results_with(srv, bearer("not-a-token"))


@scenario(RESULTS, JSON_MEDIA, "forged")
async def _forged(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    quiz = await srv.create_quiz(count=1)
    version, body, signature = quiz["host_token"].split(".")
    forged = f"{version}.{body}.{signature[::-1]}"
    return await srv.http.get(f"/api/quizzes/{quiz['quiz_id']}/results", headers=bearer(forged))


@scenario(RESULTS, JSON_MEDIA, "expired")
async def _expired(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    quiz = await srv.create_quiz(count=1)
    signer = srv.service.signer
    issued_at = int(time.time()) - signer.ttl_s - 1
    token = signer.issue(quiz["quiz_id"], Role.HOST, 0, issued_at)
    return await srv.http.get(f"/api/quizzes/{quiz['quiz_id']}/results", headers=bearer(token))


@scenario(RESULTS, JSON_MEDIA, "other_quiz")
async def _other_quiz(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    other = await srv.create_quiz(count=1)
    return await _results_with(srv, bearer(other["host_token"]))


@scenario(RESULTS, JSON_MEDIA, "csv_for_player")
async def _csv_for_player(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    quiz = await srv.create_quiz(count=1)
    anna = await srv.join(quiz["pin"], "Anna")
    url = f"/api/quizzes/{quiz['quiz_id']}/results?format=csv"
    return await srv.http.get(url, headers=bearer(anna["token"]))


@scenario(RESULTS, JSON_MEDIA, "kicked")
async def _kicked(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    quiz = await srv.create_quiz(count=1)
    anna = await srv.join(quiz["pin"], "Anna")
    await srv.service.call(quiz["quiz_id"], Kick(anna["player_id"]))
    url = f"/api/quizzes/{quiz['quiz_id']}/results"
    return await srv.http.get(url, headers=bearer(anna["token"]))


@scenario(RESULTS, JSON_MEDIA, "unknown_quiz")
async def _results_unknown(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    # A genuine token whose quiz this store does not hold (a store that forgot it).
    token = srv.service.signer.issue("feedfacefeedface", Role.HOST, 0, int(time.time()))
    return await srv.http.get("/api/quizzes/feedfacefeedface/results", headers=bearer(token))


@scenario(RESULTS, JSON_MEDIA, "bad_format")
async def _bad_format(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    quiz = await srv.create_quiz(count=1)
    url = f"/api/quizzes/{quiz['quiz_id']}/results?format=xlsx"
    return await srv.http.get(url, headers=bearer(quiz["host_token"]))


REPORT = "GET /api/quizzes/{quiz_id}/report"


@scenario(REPORT, JSON_MEDIA, "class_report")
async def _class_report(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    quiz, _, _ = await played(srv)
    url = f"/api/quizzes/{quiz['quiz_id']}/report"
    return await srv.http.get(url, headers=bearer(quiz["host_token"]))


@scenario(REPORT, "text/csv", "report_csv")
async def _report_csv(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    quiz, _, _ = await played(srv)
    url = f"/api/quizzes/{quiz['quiz_id']}/report?format=csv"
    return await srv.http.get(url, headers=bearer(quiz["host_token"]))


@scenario(REPORT, JSON_MEDIA, "report_auth_required")
async def _report_no_token(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    quiz = await srv.create_quiz(count=1)
    return await srv.http.get(f"/api/quizzes/{quiz['quiz_id']}/report")


@scenario(REPORT, JSON_MEDIA, "report_for_player")
async def _report_for_player(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    quiz = await srv.create_quiz(count=1)
    anna = await srv.join(quiz["pin"], "Anna")
    url = f"/api/quizzes/{quiz['quiz_id']}/report"
    return await srv.http.get(url, headers=bearer(anna["token"]))


@scenario(REPORT, JSON_MEDIA, "report_unknown_quiz")
async def _report_unknown(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    token = srv.service.signer.issue("feedfacefeedface", Role.HOST, 0, int(time.time()))
    return await srv.http.get("/api/quizzes/feedfacefeedface/report", headers=bearer(token))


@scenario(REPORT, JSON_MEDIA, "report_bad_format")
async def _report_bad_format(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    quiz = await srv.create_quiz(count=1)
    url = f"/api/quizzes/{quiz['quiz_id']}/report?format=pdf"
    return await srv.http.get(url, headers=bearer(quiz["host_token"]))


PRACTISE = "GET /api/quizzes/{quiz_id}/words"


@scenario(PRACTISE, "text/csv", "words_csv")
async def _words_csv(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    quiz, anna, _ = await played(srv)  # Anna: question 0 wrong, question 1 not answered
    url = f"/api/quizzes/{quiz['quiz_id']}/words?format=csv"
    return await srv.http.get(url, headers=bearer(anna["token"]))


@scenario(PRACTISE, JSON_MEDIA, "words_auth_required")
async def _words_no_token(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    quiz = await srv.create_quiz(count=1)
    return await srv.http.get(f"/api/quizzes/{quiz['quiz_id']}/words")


@scenario(PRACTISE, JSON_MEDIA, "words_kicked")
async def _words_kicked(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    quiz = await srv.create_quiz(count=1)
    anna = await srv.join(quiz["pin"], "Anna")
    await srv.service.call(quiz["quiz_id"], Kick(anna["player_id"]))
    url = f"/api/quizzes/{quiz['quiz_id']}/words"
    return await srv.http.get(url, headers=bearer(anna["token"]))


@scenario(PRACTISE, JSON_MEDIA, "words_unknown_quiz")
async def _words_unknown(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    token = srv.service.signer.issue("feedfacefeedface", Role.HOST, 0, int(time.time()))
    return await srv.http.get("/api/quizzes/feedfacefeedface/words", headers=bearer(token))


@scenario(PRACTISE, JSON_MEDIA, "words_bad_format")
async def _words_bad_format(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    quiz = await srv.create_quiz(count=1)
    url = f"/api/quizzes/{quiz['quiz_id']}/words?format=pdf"
    return await srv.http.get(url, headers=bearer(quiz["host_token"]))


END = "POST /api/quizzes/{quiz_id}/end"


@scenario(END, JSON_MEDIA, "ended")
async def _end(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    quiz = await srv.create_quiz(count=1)
    url = f"/api/quizzes/{quiz['quiz_id']}/end"
    return await srv.http.post(url, headers=bearer(quiz["host_token"]))


@scenario(END, JSON_MEDIA, "end_auth_required")
async def _end_no_token(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    quiz = await srv.create_quiz(count=1)
    return await srv.http.post(f"/api/quizzes/{quiz['quiz_id']}/end")


@scenario(END, JSON_MEDIA, "end_by_player")
async def _end_by_player(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    quiz = await srv.create_quiz(count=1)
    anna = await srv.join(quiz["pin"], "Anna")
    return await srv.http.post(f"/api/quizzes/{quiz['quiz_id']}/end", headers=bearer(anna["token"]))


@scenario(END, JSON_MEDIA, "end_unknown_quiz")
async def _end_unknown(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    token = srv.service.signer.issue("feedfacefeedface", Role.HOST, 0, int(time.time()))
    return await srv.http.post("/api/quizzes/feedfacefeedface/end", headers=bearer(token))


@scenario(END, JSON_MEDIA, "end_finished")
async def _end_twice(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    quiz = await srv.create_quiz(count=1)
    url = f"/api/quizzes/{quiz['quiz_id']}/end"
    await srv.http.post(url, headers=bearer(quiz["host_token"]))
    return await srv.http.post(url, headers=bearer(quiz["host_token"]))


@scenario("GET /api/quizzes/{pin}/qr.svg", JSON_MEDIA, "unknown_quiz")
async def _qr_unknown(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    return await srv.http.get("/api/quizzes/000000/qr.svg")


@scenario(JOIN, JSON_MEDIA, "bad_team")
async def _join_bad_team(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    quiz = await srv.create_quiz(count=1, settings={"teams": 2, "team_choice": True})
    body = {"nickname": "Anna", "team": "red"}
    return await srv.http.post(f"/api/quizzes/{quiz['pin']}/players", json=body)


@scenario(JOIN, JSON_MEDIA, "no_team_choice")
async def _join_no_team_choice(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    quiz = await srv.create_quiz(count=1, settings={"teams": 2})
    body = {"nickname": "Anna", "team": 1}
    return await srv.http.post(f"/api/quizzes/{quiz['pin']}/players", json=body)


AUDIO = "GET /api/quizzes/{quiz_id}/audio/{index}"


@scenario(AUDIO, JSON_MEDIA, "unknown_quiz")
async def _audio_unknown_quiz(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    return await srv.http.get("/api/quizzes/0123456789abcdef/audio/0")


@scenario(AUDIO, JSON_MEDIA, "not_asked")
async def _audio_not_asked(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    quiz = await srv.create_quiz(count=2, seed=1, kinds=["listening"])
    return await srv.http.get(f"/api/quizzes/{quiz['quiz_id']}/audio/0")  # still in the lobby


@scenario(AUDIO, JSON_MEDIA, "not_listening")
async def _audio_not_listening(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    quiz = await srv.create_quiz(count=1, seed=1, kinds=["synonym"])
    await srv.service.call(quiz["quiz_id"], Start())
    return await srv.http.get(f"/api/quizzes/{quiz['quiz_id']}/audio/0")


@scenario("GET /api/quizzes/{pin}/join", JSON_MEDIA, "lan")
async def _join_link(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    quiz = await srv.create_quiz(count=1)
    # the host page opened at the LAN address: phones can use the same
    headers = {"host": "192.168.1.20:8000"}
    response = await srv.http.get(f"/api/quizzes/{quiz['pin']}/join", headers=headers)
    assert response.json()["join_url"] == f"http://192.168.1.20:8000/play?pin={quiz['pin']}"
    return response


@scenario("GET /api/quizzes/{pin}/join", JSON_MEDIA, "unknown_quiz")
async def _join_link_unknown(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    return await srv.http.get("/api/quizzes/000000/join")


async def _leo_away(srv: RunningServer) -> dict[str, Any]:
    """A quiz where Leo joined and went away (his phone died)."""
    quiz = await srv.create_quiz(count=1)
    leo = await srv.join(quiz["pin"], "Leo")
    await srv.service.call(quiz["quiz_id"], Leave(leo["player_id"]))
    return {**quiz, "leo": leo}


@scenario("POST /api/quizzes/{pin}/rejoin", JSON_MEDIA, "waiting")
async def _rejoin_waiting(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    quiz = await _leo_away(srv)
    return await srv.http.post(f"/api/quizzes/{quiz['pin']}/rejoin", json={"nickname": "Leo"})


@scenario("POST /api/quizzes/{pin}/rejoin", JSON_MEDIA, "nickname_taken")
async def _rejoin_here(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    quiz = await srv.create_quiz(count=1)
    await srv.join(quiz["pin"], "Leo")  # joined, not away
    return await srv.http.post(f"/api/quizzes/{quiz['pin']}/rejoin", json={"nickname": "Leo"})


@scenario("POST /api/quizzes/{pin}/rejoin", JSON_MEDIA, "unknown_player")
async def _rejoin_nobody(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    quiz = await _leo_away(srv)
    return await srv.http.post(f"/api/quizzes/{quiz['pin']}/rejoin", json={"nickname": "Zed"})


@scenario("POST /api/quizzes/{pin}/rejoin", JSON_MEDIA, "app_sign_in_required")
async def _rejoin_app_quiz(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    pin = (await srv.create_quiz(count=1, settings={"identity": "app"}))["pin"]
    return await srv.http.post(f"/api/quizzes/{pin}/rejoin", json={"nickname": "Leo"})


@scenario("POST /api/quizzes/{pin}/rejoin", JSON_MEDIA, "too_large")
async def _rejoin_too_large(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    pin = (await srv.create_quiz(count=1))["pin"]
    return await srv.http.post(f"/api/quizzes/{pin}/rejoin", content=b" " * (MIB + 1))


@scenario("POST /api/quizzes/{pin}/rejoin", JSON_MEDIA, "rate_limited")
async def _rejoin_limited(_srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    async with running_server(service=ServiceLimits(joins_burst=1, joins_per_second=0.1)) as srv:
        pin = (await srv.create_quiz(count=1))["pin"]
        await srv.join(pin, "Anna")
        return await srv.http.post(f"/api/quizzes/{pin}/rejoin", json={"nickname": "Anna"})


@scenario("POST /api/quizzes/{pin}/rejoin", JSON_MEDIA, "bad_json")
async def _rejoin_bad_json(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    quiz = await _leo_away(srv)
    return await srv.http.post(f"/api/quizzes/{quiz['pin']}/rejoin", content=b"[1, 2]")


@scenario("POST /api/quizzes/{pin}/rejoin", JSON_MEDIA, "quiz_finished")
async def _rejoin_finished(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    quiz = await _leo_away(srv)
    await srv.service.call(quiz["quiz_id"], End())
    # the PIN is free once the quiz ends: asked a moment later, it has just finished
    return await srv.http.post(f"/api/quizzes/{quiz['pin']}/rejoin", json={"nickname": "Leo"})


@scenario("POST /api/quizzes/{pin}/rejoin", JSON_MEDIA, "unknown_quiz")
async def _rejoin_no_quiz(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    return await srv.http.post(f"/api/quizzes/{NEVER_A_PIN}/rejoin", json={"nickname": "Leo"})


@scenario("POST /api/quizzes/{pin}/rejoin", JSON_MEDIA, "not_a_string")
async def _rejoin_number(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    quiz = await _leo_away(srv)
    return await srv.http.post(f"/api/quizzes/{quiz['pin']}/rejoin", json={"nickname": 7})


@scenario("POST /api/quizzes/{pin}/rejoin", JSON_MEDIA, "bad_request")
async def _rejoin_unknown_field(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    quiz = await _leo_away(srv)
    return await srv.http.post(f"/api/quizzes/{quiz['pin']}/rejoin", json={"name": "Leo"})


@scenario("GET /api/quizzes/{pin}/rejoin/{request_id}", JSON_MEDIA, "let_in")
async def _rejoin_let_in(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    quiz = await _leo_away(srv)
    asked = await srv.http.post(f"/api/quizzes/{quiz['pin']}/rejoin", json={"nickname": "Leo"})
    await srv.service.call(quiz["quiz_id"], AnswerRejoin(quiz["leo"]["player_id"], True))
    return await srv.http.get(f"/api/quizzes/{quiz['pin']}/rejoin/{asked.json()['request_id']}")


@scenario("GET /api/quizzes/{pin}/rejoin/{request_id}", JSON_MEDIA, "unknown_request")
async def _rejoin_unknown(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    quiz = await _leo_away(srv)
    return await srv.http.get(f"/api/quizzes/{quiz['pin']}/rejoin/{'x' * 32}")


@scenario("GET /healthz", JSON_MEDIA, "ok")
async def _healthz(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    return await srv.http.get("/healthz")


@scenario("GET /readyz", JSON_MEDIA, "ready")
async def _ready(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    return await srv.http.get("/readyz")


@scenario("GET /readyz", JSON_MEDIA, "starting")
async def _starting(_srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    return await unstarted_server_request("GET", "/readyz")


@scenario("GET /readyz", JSON_MEDIA, "unavailable")
async def _storage_down(srv: RunningServer, monkeypatch: pytest.MonkeyPatch) -> httpx.Response:
    async def refused() -> None:
        raise StorageUnavailable("connection refused")

    monkeypatch.setattr(srv.server.records, "check", refused)
    return await srv.http.get("/readyz")


@scenario("GET /metrics", "text/plain", "sample")
async def _metrics(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    await srv.join((await srv.create_quiz(count=1))["pin"], "Anna")
    return await srv.http.get("/metrics")


@scenario("#/components/responses/InternalError", JSON_MEDIA, "internal")
async def _crash(srv: RunningServer, monkeypatch: pytest.MonkeyPatch) -> httpx.Response:
    def broken(_pin: str) -> str:
        raise RuntimeError("a bug with a secret in its message")

    monkeypatch.setattr(srv.server.records, "live_quiz_for_pin", broken)
    return await srv.http.get("/api/quizzes/123456")


@scenario("#/components/responses/Unavailable", JSON_MEDIA, "unavailable")
async def _unavailable(_srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    return await unstarted_server_request("POST", "/api/quizzes")


@scenario("#/components/responses/Unavailable", JSON_MEDIA, "storage_down")
async def _storage_unreachable(
    srv: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> httpx.Response:
    async def refused(_pin: str) -> str:
        raise StorageUnavailable("connection refused")

    monkeypatch.setattr(srv.server.records, "live_quiz_for_pin", refused)
    return await srv.http.get("/api/quizzes/123456")


async def raw_exchange(srv: RunningServer, request: bytes) -> httpx.Response:
    """Send bytes httpx would never send (a malformed or unfinished request) on a raw socket,
    and parse the server's answer, read to the end of the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    writer.write(request)
    raw = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode().split("\r\n")
    headers = [(name, value) for name, _, value in (h.partition(": ") for h in header_lines)]
    return httpx.Response(int(status_line.split()[1]), headers=headers, content=body)


@scenario("#/components/responses/MalformedRequest", JSON_MEDIA, "malformed_request")
async def _unparsable(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    return await raw_exchange(srv, b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n")


@scenario("#/components/responses/RequestTimeout", JSON_MEDIA, "request_timeout")
async def _body_too_slow(srv: RunningServer, monkeypatch: pytest.MonkeyPatch) -> httpx.Response:
    # a whole head, then half the body it announced, and nothing more: a shorter body timeout
    # than the default 30 s, so the test does not wait that long
    guard = srv.server.transport.http
    monkeypatch.setattr(guard, "limits", dataclasses.replace(guard.limits, http_body_timeout_s=0.3))
    return await raw_exchange(
        srv, b"POST /api/quizzes HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{}"
    )


@scenario("#/components/responses/NotFound", JSON_MEDIA, "not_found")
async def _not_found(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    return await srv.http.get("/api/quiz")


@scenario("#/components/responses/MethodNotAllowed", JSON_MEDIA, "method_not_allowed")
async def _not_allowed(srv: RunningServer, _mp: pytest.MonkeyPatch) -> httpx.Response:
    return await srv.http.delete("/api/quizzes")


def response_examples() -> Iterator[tuple[tuple[str, str, str], int | None, dict[str, Any]]]:
    """``((where, media, name), status, media object)`` of every documented response example;
    ``status`` is None for a shared response under ``components/responses``."""
    for method, path, _item, op in operations():
        for status, response in op["responses"].items():
            if "$ref" in response:
                continue
            for media, content in response.get("content", {}).items():
                for name in content.get("examples", {}):
                    yield (f"{method.upper()} {path}", media, name), int(status), content
    for ref, response in OPENAPI["components"]["responses"].items():
        for media, content in response["content"].items():
            for name in content["examples"]:
                yield (f"#/components/responses/{ref}", media, name), None, content


EXAMPLES = list(response_examples())


def test_every_response_example_has_a_scenario_and_every_scenario_an_example() -> None:
    assert {key for key, _, _ in EXAMPLES} == set(SCENARIOS)


def test_response_examples_match_their_schemas() -> None:
    for key, _, content in EXAMPLES:
        example = content["examples"][key[2]]["value"]
        assert schema_errors(example, content["schema"]) == [], key


def same_shape(example: Any, actual: Any, where: str = "$") -> None:
    """``actual`` has the example's keys and JSON types, recursively (values may differ)."""
    if isinstance(example, dict):
        assert isinstance(actual, dict), where
        assert set(actual) == set(example), f"{where}: keys {set(actual) ^ set(example)}"
        for key, value in example.items():
            same_shape(value, actual[key], f"{where}.{key}")
    elif isinstance(example, list):
        assert isinstance(actual, list), where
        assert bool(actual) == bool(example), f"{where}: one list is empty"
        for item in actual:
            same_shape(example[0], item, f"{where}[]")
    elif example is not None and actual is not None:
        assert type(actual) is type(example), f"{where}: {actual!r} vs {example!r}"


@pytest.mark.parametrize(
    ("key", "status", "content"), EXAMPLES, ids=[" ".join(key) for key, _, _ in EXAMPLES]
)
@in_module_loop
async def test_each_response_example_is_what_the_live_server_sends(
    srv: RunningServer,
    monkeypatch: pytest.MonkeyPatch,
    key: tuple[str, str, str],
    status: int | None,
    content: dict[str, Any],
) -> None:
    _, media, name = key
    example = content["examples"][name]["value"]
    response = await SCENARIOS[key](srv, monkeypatch)
    if status is None:  # a shared response: the status its code is sent with
        code = example["error"]["code"]
        status = {**http_api.STATUS, **http_api.API_ERROR_CODES}[code]
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0] == media
    if media == JSON_MEDIA:
        body = response.json()
        assert schema_errors(body, content["schema"]) == []
        if "error" in example:
            assert body == example  # error bodies: exactly as documented
        else:
            same_shape(example, body)
    elif media == "text/csv":
        lines = response.text.split("\r\n")
        expected = example.split("\r\n")
        # the byte order mark and the header row (the report's word columns name the quiz's
        # words, which differ from quiz to quiz: their number and form are compared)
        fixed = 6 if name == "report_csv" else None
        assert lines[0].split(",")[:fixed] == expected[0].split(",")[:fixed]
        if fixed is not None:
            assert all(re.fullmatch(r"Q\d+ \S.*", c) for c in lines[0].split(",")[fixed:])
        assert len(lines) == len(expected)  # two players, a final line end
        assert [len(line.split(",")) for line in lines] == [len(e.split(",")) for e in expected]
    else:
        assert media == "text/plain"
        lines = response.text.splitlines()
        series = {line.rpartition(" ")[0] for line in lines if not line.startswith("#")}
        for line in example.splitlines():  # the comments verbatim, the series by name
            assert line in lines if line.startswith("#") else line.rpartition(" ")[0] in series


def test_list_form_fields_hold_no_more_choices_than_the_server_takes() -> None:
    # schemathesis drew a form 'kinds' of ~30 comma-separated kinds: schema-valid, refused
    from livequiz import api_models

    form = OPENAPI["components"]["schemas"]["CreateQuizForm"]["properties"]["kinds"]["pattern"]
    at_most = ", ".join(["synonym"] * api_models.MAX_CHOICES)
    assert re.search(form, at_most)
    assert not re.search(form, at_most + ", synonym")
    assert not re.search(form, "[" + ", ".join(['"synonym"'] * 21) + "]")


def test_the_schema_says_a_due_time_goes_with_homework_and_only_with_it() -> None:
    """An outside fuzzer found schema-valid bodies the server refused (issue 16): the pairing of
    due_at_ms and pace 'self' is in the schema, for this module's validator and for
    jsonschema-rs alike (only the range, relative to the server's clock, is not)."""
    import jsonschema_rs

    create = OPENAPI["components"]["schemas"]["CreateQuiz"]
    components = {"components": OPENAPI["components"]}
    validator = jsonschema_rs.Draft202012Validator({**create, **components})
    due = 1_800_000_000_000
    for body, ok in [
        ({"settings": {"pace": "self"}, "due_at_ms": due}, True),
        ({"settings": {"pace": "live"}}, True),
        ({}, True),
        ({"settings": {"pace": "self"}}, False),
        ({"due_at_ms": due}, False),
        ({"settings": {"pace": "live"}, "due_at_ms": due}, False),
    ]:
        assert (schema_errors(body, create) == []) is ok, body
        assert validator.is_valid(body) is ok, body
