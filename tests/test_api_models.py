"""The request models (:mod:`livequiz.api_models`): the one source of the HTTP API's request
validation and of its schemas in the OpenAPI document (whose every schema, the answers' from
:mod:`livequiz.api_responses` too, is generated from a model).

What is held here: the models mirror the core's rules where the core owns them (settings,
levels, kinds, questions), bound for bound; every documented request example is accepted by its
model and by the document, and every documented refusal of a bad field is what the model
answers and what the document refuses; the findings of an outside schema fuzzer (an empty
nickname, empty optional form fields) get the same verdict from the document and from a live
server; and, drawn by Hypothesis from the document's own constraints, settings valid per the
document are never refused by the server and settings invalid per it are always refused with a
documented code.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from typing import Any, get_args

import httpx
import jsonschema_rs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from livequiz import api_models, api_responses
from livequiz.api_models import (
    BodyRefused,
    CreateQuiz,
    CreateQuizForm,
    DraftQuiz,
    FlagRequest,
    JoinRequest,
    RejoinRequest,
    ReplacementRequest,
    Settings,
    parse,
)
from livequiz.domain import question as core_question
from livequiz.domain.errors import ErrorCode, Rejected
from livequiz.domain.session import Phase
from livequiz.domain.settings import Identity, Pace, QuizSettings, RevealMode, ScoringMode
from livequiz.domain.views import TEAM_NAMES
from livequiz.http_api import API_ERROR_CODES
from livequiz.openapi import ERROR_CODES, OPENAPI
from livequiz.service import ServiceLimits
from livequiz.vocabulary import Level, QuestionKind
from tests.fuzz.threaded import ThreadedServer

SCHEMAS = OPENAPI["components"]["schemas"]
MODELS = {model.__name__: model for model in api_models.REQUEST_MODELS}


def document_validator(name: str) -> Any:
    """A standard validator (jsonschema-rs, as outside testers use) of a schema of the
    document, its references resolved within the document."""
    schema = {"$ref": f"#/components/schemas/{name}", "components": OPENAPI["components"]}
    return jsonschema_rs.Draft202012Validator(schema)


# ---------------------------------------------------------------------- the document is the models'


def test_the_document_holds_the_models_schemas_as_generated() -> None:
    requests, answers = api_models.request_schemas(), api_responses.response_schemas()
    assert set(MODELS) <= set(requests)
    assert {model.__name__ for model in api_responses.RESPONSE_MODELS} <= set(answers)
    for name, schema in [*requests.items(), *answers.items()]:
        assert SCHEMAS[name] == schema, name
    # and nothing else: every schema of the document comes from a model
    assert set(SCHEMAS) == set(requests) | set(answers)


def test_the_answers_enums_are_the_cores() -> None:
    assert get_args(api_responses.TeamName) == TEAM_NAMES
    phases = SCHEMAS["QuizState"]["properties"]["phase"]["enum"]
    assert phases == [phase.value for phase in Phase]


def test_the_models_enums_are_the_cores() -> None:
    assert set(api_models.LEVELS) == {level.value for level in Level}
    assert set(api_models.KINDS) == {kind.value for kind in QuestionKind}
    assert api_models.LEVELS == core_question.LEVELS
    properties = SCHEMAS["Settings"]["properties"]
    for name, enum in [
        ("scoring", ScoringMode),
        ("reveal", RevealMode),
        ("pace", Pace),
        ("identity", Identity),
    ]:
        assert properties[name]["enum"] == [member.value for member in enum], name


def test_the_settings_model_has_the_cores_fields_and_defaults() -> None:
    core = QuizSettings().to_mapping()
    assert list(Settings.model_fields) == list(core)
    assert Settings.model_validate({}).model_dump() == core


def test_every_refusal_code_is_documented() -> None:
    for model in api_models.REQUEST_MODELS:
        for field in model.model_fields:
            refusal = api_models.refusal_of(model, field)
            if refusal is not None:
                assert refusal.code in ERROR_CODES, (model.__name__, field)
                assert refusal.code in API_ERROR_CODES or refusal.code in set(ErrorCode)


def core_accepts(values: dict[str, Any]) -> bool:
    try:
        QuizSettings.from_mapping(values)
    except Rejected:
        return False
    return True


def document_accepts(name: str, value: Any) -> bool:
    return bool(document_validator(name).is_valid(value))


def integral_float(value: Any) -> bool:
    """``1.0``: JSON Schema counts it as an integer, the server does not (the document says so
    in ``info.description``; tests/fuzz/test_schemathesis.py, ``INTEGRAL_FLOATS``)."""
    return isinstance(value, float) and value.is_integer()


def integer_bounds(schema: dict[str, Any]) -> set[int]:
    """Every bound an integer schema states, and its neighbours on both sides."""
    bounds: set[int] = set()
    for part in schema.get("anyOf", [schema]):
        for key in ("minimum", "maximum", "const"):
            if key in part:
                bounds |= {part[key] - 1, part[key], part[key] + 1}
    return bounds


def test_every_integer_setting_has_the_cores_bounds() -> None:
    """At every bound the document states, and a step either side, the model, the document and
    the core give one verdict; so do the values of other types the core refuses."""
    for name, schema in SCHEMAS["Settings"]["properties"].items():
        if name in ("scoring", "reveal", "pace", "identity"):
            # lists, not sets: a set would take True for 1 and 0.0 for 0
            values: list[Any] = ["speed", "at_close", "self", "app", "nope", "", 1]
        elif schema.get("type") == "boolean":
            values = [True, False, 0, 1, "true", None]
        else:
            others = [-1, 0, 1, 10**9, True, False, 1.0, 0.0, "1", None]
            values = [*sorted(integer_bounds(schema)), *others]
        assert values
        for value in values:
            body = {name: value}
            verdict = core_accepts(body)
            assert api_models._settings_accepted(body) is verdict, (name, value)
            if not integral_float(value):
                assert document_accepts("Settings", body) is verdict, (name, value)


def test_the_team_rule_is_in_the_document() -> None:
    bodies: list[dict[str, Any]] = [
        {"team_choice": True},
        {"team_choice": True, "teams": 0},
        {"team_choice": True, "teams": 3},
        {"team_choice": False},
        {"teams": 2},
    ]
    for body in bodies:
        verdict = core_accepts(body)
        assert api_models._settings_accepted(body) is verdict, body
        assert document_accepts("Settings", body) is verdict, body


def setting_values(name: str, schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values valid per the document's schema of one setting: from its own constraints."""
    if "anyOf" in schema:
        return st.one_of([setting_values(name, part) for part in schema["anyOf"]])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "const" in schema:
        return st.just(schema["const"])
    if schema.get("type") == "boolean":
        return st.booleans()
    assert schema.get("type") == "integer", name
    return st.integers(schema["minimum"], schema["maximum"])


def invalid_setting_values(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values the document's schema of one setting mostly refuses: of another type, or a step
    past a bound (a bound itself now and then: the tests compare verdicts, whichever it is)."""
    if "enum" in schema:
        return st.sampled_from(["", "nope", 1, None])
    if schema.get("type") == "boolean":
        return st.sampled_from([0, 1, "true", None])
    return st.sampled_from(sorted(integer_bounds(schema))) | st.sampled_from(
        [1.5, "10", None, True]
    )


SETTINGS = dict(SCHEMAS["Settings"]["properties"])
VALID_SETTINGS = st.fixed_dictionaries(
    {},
    optional={name: setting_values(name, schema) for name, schema in SETTINGS.items()},
)


@given(VALID_SETTINGS)
@settings(max_examples=300, derandomize=True, database=None)
def test_settings_valid_per_the_document_are_valid_for_the_core(values: dict[str, Any]) -> None:
    verdict = document_accepts("Settings", values)
    assert api_models._settings_accepted(values) is verdict
    assert core_accepts(values) is verdict


@given(VALID_SETTINGS, st.sampled_from(sorted(SETTINGS)), st.data())
@settings(max_examples=300, derandomize=True, database=None)
def test_settings_the_document_refuses_the_core_refuses(
    values: dict[str, Any], name: str, data: st.DataObject
) -> None:
    bad = {**values, name: data.draw(invalid_setting_values(SETTINGS[name]), label=name)}
    verdict = document_accepts("Settings", bad)
    assert api_models._settings_accepted(bad) is verdict
    assert core_accepts(bad) is verdict


# ---------------------------------------------------------------------- the examples


def request_examples() -> Iterator[tuple[str, str, Any]]:
    """``(schema name, example name, value)`` of every request example of the document."""
    for path, item in OPENAPI["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            for content in operation.get("requestBody", {}).get("content", {}).values():
                name = content["schema"]["$ref"].rsplit("/", 1)[1]
                for example, value in content.get("examples", {}).items():
                    yield name, f"{method} {path} {example}", value["value"]


EXAMPLES = list(request_examples())


@pytest.mark.parametrize(("schema", "example", "value"), EXAMPLES, ids=[e for _, e, _ in EXAMPLES])
def test_every_request_example_is_accepted_by_its_model_and_the_document(
    schema: str, example: str, value: Any
) -> None:
    assert example
    assert document_accepts(schema, value)
    MODELS[schema].model_validate(value)  # the model itself, not only the core, accepts it


def refusal_example(operation: str, example: str) -> tuple[str, str]:
    path, method = operation.split(" ")
    response = OPENAPI["paths"][path][method]["responses"]["422"]
    error = response["content"]["application/json"]["examples"][example]["value"]["error"]
    return error["code"], error["message"]


#: Documented refusals of a bad field, with a body that has that fault and nothing else.
REFUSED_BODIES = [
    (CreateQuiz, "CreateQuiz", {"count": 0}, ("/api/quizzes post", "bad_request")),
    (DraftQuiz, "DraftQuiz", {"count": 0}, ("/api/drafts post", "bad_request")),
    (
        ReplacementRequest,
        "ReplacementRequest",
        {"kind": "synonym", "level": "B1", "avoid": "harbour"},
        ("/api/drafts/replacement post", "bad_request"),
    ),
    (
        JoinRequest,
        "JoinRequest",
        {"nickname": 12345},
        ("/api/quizzes/{pin}/players post", "not_a_string"),
    ),
    (
        JoinRequest,
        "JoinRequest",
        {"nickname": "Anna", "team": "red"},
        ("/api/quizzes/{pin}/players post", "bad_team"),
    ),
    (
        RejoinRequest,
        "RejoinRequest",
        {"nickname": 7},
        ("/api/quizzes/{pin}/rejoin post", "not_a_string"),
    ),
    (
        RejoinRequest,
        "RejoinRequest",
        {"name": "Leo"},
        ("/api/quizzes/{pin}/rejoin post", "bad_request"),
    ),
]


@pytest.mark.parametrize(("model", "schema", "body", "documented"), REFUSED_BODIES)
def test_every_documented_refusal_of_a_field_is_the_models_and_the_documents(
    model: type[Any], schema: str, body: dict[str, Any], documented: tuple[str, str]
) -> None:
    code, message = refusal_example(*documented)
    with pytest.raises(BodyRefused) as refused:
        parse(model, body)
    assert (refused.value.code, refused.value.message) == (code, message)
    assert not document_accepts(schema, body)


def test_a_field_the_core_owns_goes_on_to_the_core() -> None:
    """An unknown level is the core's to refuse (with its message); a level that is no string
    is the HTTP layer's."""
    assert parse(CreateQuiz, {"levels": ["Z9"]}).levels == ["Z9"]
    assert not document_accepts("CreateQuiz", {"levels": ["Z9"]})
    with pytest.raises(BodyRefused, match="levels must be a list of short strings"):
        parse(CreateQuiz, {"levels": [1]})
    flag = parse(FlagRequest, {"index": 150})  # past the quiz: the handler says how many
    assert flag.index == 150
    with pytest.raises(BodyRefused, match="index must be the question's number"):
        parse(FlagRequest, {"index": -1})


# ---------------------------------------------------------------------- the server agrees


@pytest.fixture(scope="module")
def live() -> Iterator[ThreadedServer]:
    limits = ServiceLimits(joins_burst=1_000_000, joins_per_second=1_000_000.0)
    with ThreadedServer(service=limits) as server:
        yield server
        assert server.problems() == []


@dataclasses.dataclass
class Agreement:
    """One request: whether the document's schema accepts its body, and what the server said."""

    schema: str
    body: Any
    response: httpx.Response

    @property
    def document_accepts(self) -> bool:
        return document_accepts(self.schema, self.body)

    @property
    def server_accepts(self) -> bool:
        return self.response.status_code < 400


def new_pin(http: httpx.Client) -> str:
    created = http.post("/api/quizzes", json={"count": 1, "seed": 1})
    assert created.status_code == 201, created.text
    pin: str = created.json()["pin"]
    return pin


#: An empty nickname, one of spaces only, one of a single character that NFKC makes two ('㎏'
#: is 'kg'), white space the rules make one space, a control character, and a plain one.
NICKNAMES = [
    ("", False),
    ("   ", False),
    ("\u3000", False),
    ("㎏", True),
    ("An\tna", True),
    ("Bo\r\nb", True),
    ("\x07Anna", False),
    ("Zoe\x00", False),
    ("Mia", True),
]


@pytest.mark.parametrize(("nickname", "accepted"), NICKNAMES)
def test_a_join_nickname_gets_one_verdict_from_the_document_and_the_server(
    live: ThreadedServer, nickname: str, accepted: bool
) -> None:
    with httpx.Client(base_url=live.base_url) as http:
        pin = new_pin(http)
        body = {"nickname": nickname}
        join = Agreement("JoinRequest", body, http.post(f"/api/quizzes/{pin}/players", json=body))
        ask = Agreement("RejoinRequest", body, http.post(f"/api/quizzes/{pin}/rejoin", json=body))
    assert join.document_accepts is join.server_accepts is accepted, join.response.text
    assert ask.document_accepts is accepted
    if not accepted:
        for refused in (join, ask):
            assert refused.response.status_code == 422
            assert refused.response.json()["error"]["code"] == "nickname_invalid"
    else:  # a valid name, but nobody of it is away: refused for the quiz's state
        assert ask.response.status_code in (404, 409), ask.response.text


#: Every optional field of a form, left empty (a plain HTML form sends its empty inputs).
EMPTY_FORM = {
    "title": "",
    "count": "",
    "seed": "",
    "levels": "",
    "kinds": "",
    "time_limit_s": "",
    "settings": "",
    "due_at_ms": "",
    "words": "",
}


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
@pytest.mark.parametrize(
    ("path", "schema"), [("/api/quizzes", "CreateQuizForm"), ("/api/drafts", "DraftQuizForm")]
)
def test_empty_optional_form_fields_are_left_out_by_the_document_and_the_server(
    live: ThreadedServer, encoding: str, path: str, schema: str
) -> None:
    with httpx.Client(base_url=live.base_url, timeout=30) as http:
        if encoding == "urlencoded":
            response = http.post(path, data=EMPTY_FORM)
        else:
            fields = {k: v for k, v in EMPTY_FORM.items() if k != "words"}
            no_file = {"words": ("", b"", "application/octet-stream")}  # no file chosen
            response = http.post(path, data=fields, files=no_file)
    agreement = Agreement(schema, EMPTY_FORM, response)
    assert agreement.document_accepts
    assert agreement.server_accepts, response.text
    if path == "/api/quizzes":  # as if none was sent: the defaults
        created = response.json()
        assert created["title"] == "Vocabulary quiz"
        assert created["questions"] == 10
        assert created["settings"] == QuizSettings().to_mapping()
    else:
        assert len(response.json()["questions"]) == 10


def test_an_empty_file_chosen_is_still_a_word_list_the_server_refuses(
    live: ThreadedServer,
) -> None:
    with httpx.Client(base_url=live.base_url) as http:
        files = {"words": ("words.csv", b"", "text/csv")}
        response = http.post("/api/quizzes", files=files)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "bad_word_list"


#: JSON bodies the document refuses, and the code the server refuses each with.
REFUSED_BY_BOTH = [
    ("CreateQuiz", {"levels": []}, "invalid_settings"),
    ("CreateQuiz", {"kinds": []}, "invalid_settings"),
    ("CreateQuiz", {"title": ""}, "bad_request"),
    ("CreateQuiz", {"title": " \t "}, "bad_request"),
    ("CreateQuiz", {"count": "10"}, "bad_request"),
    ("CreateQuiz", {"settings": {"team_choice": True}}, "invalid_settings"),
    ("CreateQuiz", {"settings": {"auto_advance_ms": False}}, "invalid_settings"),
    ("CreateQuiz", {"settings": None}, "bad_request"),
    ("CreateQuiz", {"questions": []}, "invalid_question"),
    ("DraftQuiz", {"kahoot": "not base64!"}, "bad_request"),
]


@pytest.mark.parametrize(("schema", "body", "code"), REFUSED_BY_BOTH)
def test_what_the_document_refuses_the_server_refuses(
    live: ThreadedServer, schema: str, body: dict[str, Any], code: str
) -> None:
    path = "/api/quizzes" if schema == "CreateQuiz" else "/api/drafts"
    with httpx.Client(base_url=live.base_url) as http:
        response = http.post(path, json=body)
    assert not document_accepts(schema, body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == code


@pytest.mark.parametrize(
    ("settings", "due", "accepted"),
    [
        ({}, None, True),  # null is no due time: a live quiz may send it
        ({"pace": "self"}, None, False),
        ({"pace": "self"}, "day", True),
        ({"pace": "live"}, "day", False),
    ],
)
def test_a_due_time_gets_one_verdict_from_the_document_and_the_server(
    live: ThreadedServer, settings: dict[str, Any], due: str | None, accepted: bool
) -> None:
    due_at_ms = None if due is None else int(time.time() * 1000) + 86_400_000
    body = {"count": 1, "seed": 1, "settings": settings, "due_at_ms": due_at_ms}
    with httpx.Client(base_url=live.base_url) as http:
        agreement = Agreement("CreateQuiz", body, http.post("/api/quizzes", json=body))
    assert agreement.document_accepts is agreement.server_accepts is accepted
    if not accepted:
        assert agreement.response.json()["error"]["code"] == "invalid_due"


def creation(values: dict[str, Any]) -> dict[str, Any]:
    """A one-question quiz with these settings; homework gets a due time a day away (the
    document says a self-paced quiz needs one; its range is relative to the server's clock)."""
    body: dict[str, Any] = {"count": 1, "seed": 1, "settings": values}
    if values.get("pace") == "self":
        body["due_at_ms"] = int(time.time() * 1000) + 86_400_000
    return body


@given(VALID_SETTINGS)
@settings(
    max_examples=25,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_a_creation_valid_per_the_document_is_never_refused(
    live: ThreadedServer, values: dict[str, Any]
) -> None:
    body = creation(values)
    with httpx.Client(base_url=live.base_url, timeout=30) as http:
        response = http.post("/api/quizzes", json=body)
    if document_accepts("CreateQuiz", body):
        assert response.status_code == 201, response.text
    else:  # the one rule between settings: the document says it too
        assert response.status_code == 422, response.text


@given(VALID_SETTINGS, st.sampled_from(sorted(SETTINGS)), st.data())
@settings(
    max_examples=25,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_a_creation_invalid_per_the_document_is_refused_with_a_documented_code(
    live: ThreadedServer, values: dict[str, Any], name: str, data: st.DataObject
) -> None:
    bad = {**values, name: data.draw(invalid_setting_values(SETTINGS[name]), label=name)}
    body = creation(bad)
    with httpx.Client(base_url=live.base_url, timeout=30) as http:
        response = http.post("/api/quizzes", json=body)
    if document_accepts("CreateQuiz", body):
        assert response.status_code == 201, response.text
        return
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] in ERROR_CODES
    assert error["code"] in ("invalid_settings", "bad_request")
    assert name in error["message"] or "settings" in error["message"]


def test_the_form_schema_takes_what_the_json_schema_takes() -> None:
    """A form field is the JSON value as text: the bounds of the form's patterns are those of
    the JSON fields (count, time_limit_s), at every bound and a step either side."""
    validator = document_validator("CreateQuizForm")
    for field in ("count", "time_limit_s"):
        json_schema = SCHEMAS["CreateQuiz"]["properties"][field]
        integer = next(p for p in json_schema.get("anyOf", [json_schema]) if "minimum" in p)
        for value in integer_bounds(integer):
            json_ok = document_accepts("CreateQuiz", {field: value})
            assert validator.is_valid({field: str(value)}) is json_ok, (field, value)
    assert CreateQuizForm.model_validate(EMPTY_FORM)
