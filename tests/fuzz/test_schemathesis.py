"""The HTTP API fuzzed from its own OpenAPI document (schemathesis) against a live server.

For every operation of ``GET /openapi.json``, Hypothesis generates requests from the document:

- **valid ones** (positive mode): no 5xx; every status, content type, header and body as
  documented; and a refusal only for what the schema cannot say. A schema-valid request may be
  refused for the server's *state* or the caller's *credentials* (401, 403, 404, 409, 410,
  429: no such quiz, a token of another quiz, a nickname taken, the quiz finished...), and with
  400 or 422 only with one of the codes of :data:`BEYOND_THE_SCHEMA`: rules JSON Schema cannot
  state (the content of a word list, two options equal whatever their case, a nickname after
  Unicode normalisation). Anything else refused means the schema is looser than the server.
- **invalid ones** (negative mode): no 5xx, responses as documented, and refused (4xx).

Path parameters are the real quiz's half the time and requests carry the host's or a player's
token a third of the time each, so examples reach past "no such quiz" and "who are you". The
server's log is checked for tracebacks and errors afterwards. Examples per operation and mode:
``LIVEQUIZ_FUZZ_EXAMPLES`` (default 15 in the test command; ``make fuzz`` runs 1,000).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema_rs
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from livequiz.openapi import OPENAPI
from livequiz.service import ServiceLimits
from tests.fuzz.threaded import ThreadedServer

EXAMPLES = int(os.environ.get("LIVEQUIZ_FUZZ_EXAMPLES", "15"))
#: The short run of the test command draws the same examples every time, so that a red run
#: means a change broke something; the long run (``make fuzz``) explores at random.
DERANDOMIZE = "LIVEQUIZ_FUZZ_EXAMPLES" not in os.environ

SCHEMA = schemathesis.openapi.from_dict(OPENAPI)
OPERATIONS = {
    operation.label: operation
    for operation in (result.ok() for result in SCHEMA.get_all_operations())  # type: ignore[union-attr]
}

#: Refusals of a schema-valid request for the server's state or the caller's credentials.
STATE_OR_CREDENTIALS = frozenset({401, 403, 404, 409, 410, 429})

#: The 400/422 refusals of a schema-valid request that JSON Schema cannot foresee, per
#: operation: ``(code, start of the message or "" for any)``.
_WORD_LIST = ("bad_word_list", "")  # the content of a word list, checked against the deck
_TOO_FEW = ("no_questions", "")  # not enough words of these levels and kinds
_FORM_SETTINGS = (
    # a form's settings field is JSON text: the schema says it is an object, not which one
    ("bad_request", "settings must be an object"),
    ("invalid_settings", ""),
)
_NOT_BOTH = ("bad_request", "give time_limit_s or settings.time_limit_ms, not both")
#: a due time 1 minute to 90 days from now: relative to the server's clock; and a form's
#: settings (JSON text) may or may not say pace 'self', which due_at_ms must go with
_DUE = ("invalid_due", "the due time must be")
_FORM_DUE = (("invalid_due", "a self-paced quiz needs"), ("invalid_due", "a live quiz has no"))
BEYOND_THE_SCHEMA: dict[str, frozenset[tuple[str, str]]] = {
    "POST /api/quizzes": frozenset(
        {
            _WORD_LIST,
            _TOO_FEW,
            _NOT_BOTH,
            *_FORM_SETTINGS,
            _DUE,
            *_FORM_DUE,
            # a URL the schema's pattern lets through but that is none (a control character)
            ("bad_request", "webhook_url"),
            # options equal whatever their case, correct_option past the options, profanity
            ("invalid_question", ""),
            ("bad_request", "send questions or"),  # questions or generation options, not both
        }
    ),
    "POST /api/drafts": frozenset(
        {
            _WORD_LIST,
            _TOO_FEW,
            _NOT_BOTH,
            *_FORM_SETTINGS,
            _DUE,
            *_FORM_DUE,
            # base64 that decodes to no spreadsheet; a spreadsheet with generation options
            ("bad_request", "send kahoot or"),
            ("bad_request", "kahoot must be"),
        }
    ),
    "POST /api/drafts/replacement": frozenset({_WORD_LIST, _TOO_FEW}),
    # the rules apply after Unicode normalisation (NFKC), and profanity is a word list
    "POST /api/quizzes/{pin}/players": frozenset(
        {
            ("nickname_invalid", ""),
            ("nickname_profane", ""),
            # an app_token needs a server configured for the app's sign-in (this one is not)
            ("bad_request", "this server takes no app sign-in"),
            # a team is picked only in a quiz whose players pick theirs (the quiz's setting)
            ("invalid_settings", "players of this quiz do not pick their team"),
            ("invalid_settings", "pick a team from"),
        }
    ),
    # the same nickname rules, after Unicode normalisation
    "POST /api/quizzes/{pin}/rejoin": frozenset(
        {("nickname_invalid", ""), ("nickname_profane", "")}
    ),
    # the quiz's own number of questions
    "POST /api/quizzes/{quiz_id}/flags": frozenset({("bad_request", "this quiz has")}),
}

#: JSON Schema counts ``1.0`` as an integer; the server, as the WebSocket protocol, takes only
#: JSON integers (``type(x) is int``), so a whole number written ``1.0`` gets 422. Found by this
#: test and left as it is: the document says so in its description (``info.description``), and
#: a refusal of a body holding such a number is not counted as the schema being loose.
INTEGRAL_FLOATS = "whole numbers are JSON integers"

POSITIVE_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
NEGATIVE_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]

#: Requests sent, by mode and status: printed at the end of the module (``-s``).
SENT: Counter[tuple[str, int]] = Counter()


class Live:
    """The server under test and a quiz on it, with its host's and a player's tokens."""

    def __init__(self, server: ThreadedServer) -> None:
        self.server = server
        with httpx.Client(base_url=server.base_url) as http:
            created = http.post("/api/quizzes", json={"count": 3, "seed": 1})
            assert created.status_code == 201, created.text
            self.quiz: dict[str, Any] = created.json()
            joined = http.post(
                f"/api/quizzes/{self.quiz['pin']}/players", json={"nickname": "Anna"}
            )
            assert joined.status_code == 201, joined.text
            self.player: dict[str, Any] = joined.json()


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    # Joins are rate-limited per address, and every request here comes from one.
    limits = ServiceLimits(joins_burst=1_000_000, joins_per_second=1_000_000.0)
    with ThreadedServer(service=limits) as server:
        yield Live(server)
        assert server.problems() == []
    print("\nschemathesis requests by mode and status:", dict(sorted(SENT.items())))


def _has_a_whole_float(value: Any) -> bool:
    """Whether a JSON value holds a number like ``1.0`` anywhere (see :data:`INTEGRAL_FLOATS`)."""
    if isinstance(value, float):
        return value.is_integer()
    if isinstance(value, dict):
        return any(_has_a_whole_float(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_a_whole_float(v) for v in value)
    return False


def body_matches_schema(case: Any) -> bool:
    """Whether ``case``'s JSON body really matches its schema, by a standard validator.

    The generator's regular expressions are Python's, where ``$`` also matches before a final
    line break and a few classes come out looser: now and then a "valid" body breaks the
    document's own pattern (a flag reason with a control character in it). Such a body is not
    schema-valid, and its refusal is what the document promises.
    """
    operation = OPENAPI["paths"][case.operation.path][case.method.lower()]
    content = operation.get("requestBody", {}).get("content", {})
    schema = content.get(case.media_type or "", {}).get("schema")
    if schema is None or not isinstance(case.body, dict | list):
        return True
    root = {**schema, "components": OPENAPI["components"]}
    return bool(jsonschema_rs.Draft202012Validator(root).is_valid(case.body))


def refusal_problem(label: str, response: httpx.Response | Any, body: Any) -> str | None:
    """Why a schema-valid request should not have been refused this way, or ``None``."""
    status = response.status_code
    if status < 400 or status in STATE_OR_CREDENTIALS:
        return None
    if status == 422 and _has_a_whole_float(body):
        return None  # 1.0 for an integer: see INTEGRAL_FLOATS
    error = response.json()["error"]
    for code, start in BEYOND_THE_SCHEMA.get(label, frozenset()):
        if error["code"] == code and error["message"].startswith(start):
            return None
    return f"a schema-valid request was refused: {status} {error}"


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_the_api_behaves_as_its_document_says(label: str, mode: GenerationMode, live: Live) -> None:
    operation = OPERATIONS[label]
    if mode is GenerationMode.NEGATIVE and not _can_be_invalid(operation):
        return  # nothing of this request can be invalid (GET /healthz)
    tokens = [None, live.quiz["host_token"], live.player["token"]]

    @given(data=st.data())
    @settings(
        max_examples=EXAMPLES,
        derandomize=DERANDOMIZE,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(data: st.DataObject) -> None:
        case = data.draw(operation.as_strategy(generation_mode=mode))
        parameters = case.path_parameters or {}
        for name in ("pin", "quiz_id"):
            if name in parameters and data.draw(st.booleans(), label=f"real {name}"):
                parameters[name] = live.quiz[name]
        token = data.draw(st.sampled_from(tokens), label="token")
        sent_headers = {name.lower() for name in (case.headers or {})}
        if mode is GenerationMode.NEGATIVE and "authorization" not in sent_headers:
            # the invalid case may be "Authorization missing": adding a real token would make
            # it valid, and a 200 for it would look like invalid data accepted
            token = None
        headers = {"authorization": f"Bearer {token}"} if token else None
        checks = POSITIVE_CHECKS if mode is GenerationMode.POSITIVE else NEGATIVE_CHECKS
        response = case.call_and_validate(
            base_url=live.server.base_url, headers=headers, checks=checks, timeout=30
        )
        SENT[(mode.value, response.status_code)] += 1
        if mode is GenerationMode.POSITIVE:
            problem = (
                None
                if not body_matches_schema(case)
                else (refusal_problem(label, response, case.body))
            )
            assert problem is None, f"{problem}\n{case.as_curl_command()}"

    fuzz()


def _can_be_invalid(operation: Any) -> bool:
    """Whether the operation takes anything a request could get wrong."""
    return bool(operation.body) or any(True for _ in operation.iter_parameters())
