"""The OpenAPI 3.1 document of the HTTP API, kept as data and checked against the routes.

The schemas of the request bodies (and of the Settings and Question they hold) are not written
here: they are generated from the models the server validates the bodies with
(:mod:`livequiz.api_models`), so what the document accepts is what the server accepts. The
paths, descriptions, response schemas and examples are written here.

``GET /openapi.json`` serves :data:`OPENAPI`. The tests hold it to the code three ways: every
route of :func:`livequiz.http_api.build_api` is here with its methods and nothing else is; every
error code named here is one the code sends (and every code it sends is named); and every
example here, request or response, is sent to or checked against a live server.

The WebSocket protocol cannot be described in OpenAPI; it is written down in
``docs/protocol.md``.
"""

from __future__ import annotations

from typing import Any, get_args

from livequiz import __version__, api_models, api_responses
from livequiz.exports import APKG_MEDIA_TYPE, XLSX_MEDIA_TYPE

JSON = dict[str, Any]

# ---------------------------------------------------------------------- helpers


def _ref(name: str) -> JSON:
    return {"$ref": f"#/components/schemas/{name}"}


def _error(code: str, message: str) -> JSON:
    return {"value": {"error": {"code": code, "message": message}}}


def _errors(description: str, **examples: JSON) -> JSON:
    """A refusal: the shared error body, with one example per code this response can carry."""
    return {
        "description": description,
        "content": {"application/json": {"schema": _ref("Error"), "examples": examples}},
    }


def _json(description: str, schema: JSON, **examples: JSON) -> JSON:
    content: JSON = {"schema": schema}
    if examples:
        content["examples"] = examples
    return {"description": description, "content": {"application/json": content}}


_CRASH = {"$ref": "#/components/responses/InternalError"}
_QUIZ_ID_PARAM: JSON = {
    "name": "quiz_id",
    "in": "path",
    "required": True,
    "description": "The quiz's internal id (`quiz_id` of the creation or join answer), not its "
    "PIN.",
    "schema": {"type": "string"},
}
_HOST_TOKEN = (
    "v1.eyJxIjoiM2Y5YTJjNGQ1ZTZmNzA4MSIsInIiOiJob3N0IiwicCI6MCwiZSI6MTc2NDE2MDAwMH0"
    ".Zx0u6JbXh3aF4a3w1nQkGZ8hH1l8kZ0bqvB0u3a3s8E"
)
_PLAYER_TOKEN = (
    "v1.eyJxIjoiM2Y5YTJjNGQ1ZTZmNzA4MSIsInIiOiJwbGF5ZXIiLCJwIjo3LCJlIjoxNzY0MTYwMDAwfQ"
    ".a0Yc1mQ9t7lX2y0cJ3nV8rB5pK6wE4hU1sD7fG9jL2o"
)

#: A join (or a request to join again) past the address's limit.
_JOINS_LIMITED: JSON = {
    **_errors(
        "Too many joins from this address; retry after `Retry-After` seconds.",
        rate_limited=_error("rate_limited", "too many joins from your address; wait a moment"),
    ),
    "headers": {"Retry-After": {"$ref": "#/components/headers/Retry-After"}},
}
#: A request body over the limit.
_TOO_LARGE: JSON = _errors(
    "The body is over 1 MiB.",
    too_large=_error("too_large", "the request body may be at most 1048576 bytes"),
)

#: Every code an error body of this API can carry; ``tests/test_openapi.py`` checks it against
#: the code (``http_api.API_ERROR_CODES`` and the core's ``ErrorCode``).
ERROR_CODES = list(get_args(api_responses.ErrorCodeName))

_KINDS = list(api_models.KINDS)

_SETTINGS_EXAMPLE: JSON = {
    "time_limit_ms": 20000,
    "grace_ms": 500,
    "scoring": "speed",
    "base_points": 1000,
    "streak_bonus": 100,
    "streak_bonus_cap": 500,
    "reveal": "immediate",
    "pace": "live",
    "identity": "nickname",
    "close_when_all_answered": True,
    "allow_late_join": True,
    "approve_names": False,
    "shuffle_options": False,
    "auto_advance_ms": 0,
    "reading_ms": 0,
    "teams": 0,
    "team_choice": False,
    "max_players": 20000,
    "top_k": 10,
    "max_delivery_lag_ms": 1000,
}

_OWN_WORDS = "word\nharbour\nbrave\nancient\nwhisper\nglacier\n"

# ---------------------------------------------------------------------- schemas

# Every schema of a body, asked or answered, is generated from its typed model: the request
# bodies from the models the server validates them with (livequiz.api_models), so the document
# cannot accept what the server refuses; the answers from livequiz.api_responses. Written here:
# the paths, their descriptions and the examples.
SCHEMAS: JSON = {**api_responses.response_schemas(), **api_models.request_schemas()}

# ---------------------------------------------------------------------- examples

_QUIZ_CREATED: JSON = {
    "quiz_id": "3f9a2c4d5e6f7081",
    "pin": "482913",
    "title": "Year 9 - week 3",
    "host_token": _HOST_TOKEN,
    "join_url": "/play?pin=482913",
    "questions": 5,
    "settings": {**_SETTINGS_EXAMPLE, "time_limit_ms": 30000},
    "due_at_ms": None,
    "webhook_secret": None,
}

_HOST_REPORT: JSON = {
    "phase": "finished",
    "players": [
        {
            "rank": 1,
            "player_id": 2,
            "nickname": "Bea",
            "user_id": "u-5521",
            "score": 1000,
            "correct": 1,
            "answered": 2,
        },
        {
            "rank": 2,
            "player_id": 1,
            "nickname": "Anna",
            "user_id": None,
            "score": 0,
            "correct": 0,
            "answered": 1,
        },
    ],
    "questions": [
        {
            "index": 0,
            "kind": "word_to_meaning",
            "prompt": "What does 'harbour' mean?",
            "word": "harbour",
            "options": [
                "a sheltered port where ships can take on or discharge cargo",
                "a large body of ice moving slowly down a slope",
                "speak softly without vibration of the vocal cords",
                "possessing or displaying courage",
            ],
            "correct_option": 0,
            "option_counts": [1, 1, 0, 0],
            "correct": 1,
            "most_picked_wrong": 1,
        }
    ],
}

_CLASS_REPORT: JSON = {
    "phase": "finished",
    "words": [
        {
            "index": 1,
            "word": "glacier",
            "kind": "meaning_to_word",
            "prompt": "Which word means 'a large body of ice moving slowly down a slope'?",
            "answer": "glacier",
            "asked": 2,
            "answered": 1,
            "correct": 0,
            "share_correct": 0.0,
            "average_ms": 6400,
            "most_picked_wrong": {"option": 2, "text": "harbour", "count": 1},
            "to_reteach": True,
        },
        {
            "index": 0,
            "word": "harbour",
            "kind": "word_to_meaning",
            "prompt": "What does 'harbour' mean?",
            "answer": "a sheltered port where ships can take on or discharge cargo",
            "asked": 2,
            "answered": 2,
            "correct": 1,
            "share_correct": 0.5,
            "average_ms": 3150,
            "most_picked_wrong": {
                "option": 1,
                "text": "a large body of ice moving slowly down a slope",
                "count": 1,
            },
            "to_reteach": True,
        },
    ],
    "reteach": ["glacier", "harbour"],
    "students": [
        {
            "rank": 1,
            "player_id": 2,
            "nickname": "Bea",
            "user_id": "u-5521",
            "score": 1000,
            "asked": 2,
            "answered": 2,
            "correct": 1,
            "average_ms": 3350,
            "cells": [
                {"index": 0, "option": 0, "correct": True, "points": 1000, "elapsed_ms": 300},
                {"index": 1, "option": 2, "correct": False, "points": 0, "elapsed_ms": 6400},
            ],
        },
        {
            "rank": 2,
            "player_id": 1,
            "nickname": "Anna",
            "user_id": None,
            "score": 0,
            "asked": 2,
            "answered": 1,
            "correct": 0,
            "average_ms": 6000,
            "cells": [
                {"index": 0, "option": 1, "correct": False, "points": 0, "elapsed_ms": 6000},
                {"index": 1, "option": None, "correct": False, "points": 0, "elapsed_ms": None},
            ],
        },
    ],
}

_REPORT_CSV_EXAMPLE = (
    "\ufeffrank,nickname,score,correct,asked,average_s,Q1 harbour,Q2 glacier\r\n"
    "1,Bea,1000,1,2,3.4,✓ 0.3 s,✗ 6.4 s\r\n"
    "2,'-Anna,0,0,2,6.0,✗ 6.0 s,–\r\n"
)

_WORDS_CSV_EXAMPLE = (
    "\ufeffword,definition,example\r\n"
    "harbour,a sheltered port where ships can take on or discharge cargo,"
    "the ship sailed into the harbour at dawn\r\n"
    "glacier,a large body of ice moving slowly down a slope,\r\n"
)

_PLAYER_RESULTS: JSON = {
    "score": 0,
    "rank": 2,
    "players": 2,
    "player_id": 1,
    "nickname": "Anna",
    "correct": 0,
    "answered": 1,
    "missed": [
        {
            "index": 0,
            "word": "harbour",
            "definition": "a sheltered port where ships can take on or discharge cargo",
            "example": "the ship sailed into the harbour",
            "answered": 1,
            "correct_option": 0,
        },
        {
            "index": 1,
            "word": "brave",
            "definition": "possessing or displaying courage",
            "example": "",
            "answered": None,
            "correct_option": 2,
        },
    ],
}

_QUESTION: JSON = {
    "prompt": "What does 'harbour' mean?",
    "options": [
        "a sheltered port where ships can take on or discharge cargo",
        "a large body of ice moving slowly down a slope",
        "speak softly without vibration of the vocal cords",
        "possessing or displaying courage",
    ],
    "correct_option": 0,
    "kind": "word_to_meaning",
    "level": "B1",
    "word": "harbour",
    "definition": "a sheltered port where ships can take on or discharge cargo",
    "example": "the ship sailed into the harbour",
}

_EDITED_QUESTIONS: list[JSON] = [
    {**_QUESTION, "prompt": "Which one is a harbour?"},
    {
        "prompt": "She was _____ enough to speak first.",
        "options": ["brave", "ancient", "frozen"],
        "correct_option": 0,
        "kind": "fill_blank",
        "word": "brave",
    },
]

_FLAGGED: JSON = {
    "word": "harbour",
    "kind": "word_to_meaning",
    "level": "B1",
    "prompt": "What does 'harbour' mean?",
    "flags": 2,
    "reasons": ["port is right too"],
    "first_ms": 1764150000000,
    "last_ms": 1764150042000,
}

_CSV_EXAMPLE = (
    "\ufeffrank,nickname,score,correct,answered,questions\r\n"
    "1,Bea,1000,1,2,2\r\n"
    "2,'-Anna,0,0,1,2\r\n"
)

_METRICS_EXAMPLE = (
    "# HELP livequiz_joins_total Players joined\n"
    "# TYPE livequiz_joins_total counter\n"
    'livequiz_joins_total{via="http"} 1.0\n'
)

# ---------------------------------------------------------------------- the document

OPENAPI: JSON = {
    "openapi": "3.1.0",
    "info": {
        "title": "livequiz",
        "version": __version__,
        "summary": "A real-time vocabulary quiz server.",
        "description": (
            "Preview a quiz's questions, create it (as generated or edited), join it by its "
            "PIN, read its state and results; flag questions and clear flags. The live game "
            "(questions, answers, leaderboard) runs over a WebSocket at `/ws` on the same port; "
            "see docs/protocol.md.\n\n"
            'Every error is `{"error": {"code": "...", "message": "..."}}` with a fitting '
            "status, unknown paths (404 `not_found`) and methods (405 `method_not_allowed`, "
            "with an `Allow` header) included. Request bodies are at most 1 MiB (413 "
            "`too_large`). Whole numbers are JSON integers: `1.0` where an integer is asked "
            "for is refused (422), though JSON Schema counts it as one."
        ),
        "license": {"name": "MIT", "identifier": "MIT"},
    },
    "tags": [
        {"name": "quizzes", "description": "Creating, joining and reading quizzes."},
        {
            "name": "drafts",
            "description": "The teacher's preview before creating: the questions a quiz would "
            "have, with answers, and replacements; nothing is stored.",
        },
        {
            "name": "flags",
            "description": "Questions flagged during a review, kept out of generation on this "
            "server until a teacher clears them.",
        },
        {"name": "operations", "description": "Health, readiness, metrics and this document."},
    ],
    "paths": {
        "/api/quizzes": {
            "post": {
                "tags": ["quizzes"],
                "operationId": "createQuiz",
                "summary": "Create a quiz (host)",
                "description": "Questions come from the built-in deck or from an own word list "
                "(JSON field `words`, or a multipart upload), or are sent as `questions` (a "
                "preview of `POST /api/drafts`, perhaps edited; every field is checked). "
                "Generated questions leave out those flagged on this server. The answer is the "
                "quiz's PIN and the host's token; the host then opens a WebSocket and sends "
                "`hello` with it. The learning app creates its quizzes with its API key as the "
                "bearer (`livequiz apikey create`): that key may then read their results, "
                "report and words as their host may; without a bearer the quiz is the "
                "teacher's (the host page).",
                "security": [{}, {"bearer": []}],
                "requestBody": {
                    "required": False,
                    "content": {
                        "application/json": {
                            "schema": _ref("CreateQuiz"),
                            "examples": {
                                "defaults": {
                                    "summary": "Ten questions from the whole deck",
                                    "value": {},
                                },
                                "levels_and_kinds": {
                                    "summary": "Five B1-B2 questions, 30 s each",
                                    "value": {
                                        "title": "Year 9 - week 3",
                                        "count": 5,
                                        "seed": 42,
                                        "levels": ["B1", "B2"],
                                        "kinds": ["word_to_meaning", "synonym"],
                                        "time_limit_s": 30,
                                    },
                                },
                                "own_words": {
                                    "summary": "An own word list as CSV text",
                                    "value": {
                                        "title": "Harbour words",
                                        "count": 4,
                                        "words": _OWN_WORDS,
                                    },
                                },
                                "edited_questions": {
                                    "summary": "The teacher's own (edited) questions",
                                    "value": {
                                        "title": "Harbour words",
                                        "questions": _EDITED_QUESTIONS,
                                    },
                                },
                                "homework": {
                                    "summary": "Homework: self-paced, due on 15 January 2027 "
                                    "at 16:00 UTC (a due time must be 1 minute to 90 days away)",
                                    "value": {
                                        "title": "Harbour words - homework",
                                        "count": 10,
                                        "settings": {"pace": "self"},
                                        "due_at_ms": 1800028800000,
                                    },
                                },
                                "kahoot_style": {
                                    "summary": "Reveal at close, accuracy scoring, no late join",
                                    "value": {
                                        "count": 3,
                                        "settings": {
                                            "reveal": "at_close",
                                            "scoring": "accuracy",
                                            "allow_late_join": False,
                                        },
                                    },
                                },
                            },
                        },
                        "application/x-www-form-urlencoded": {
                            "schema": _ref("CreateQuizForm"),
                            "examples": {
                                "html_form": {
                                    "summary": "A plain HTML form: the word list as text",
                                    "value": {
                                        "title": "Harbour words",
                                        "count": "4",
                                        "words": _OWN_WORDS,
                                    },
                                }
                            },
                        },
                        "multipart/form-data": {
                            "schema": _ref("CreateQuizForm"),
                            "encoding": {"words": {"contentType": "text/csv, application/json"}},
                            "examples": {
                                "upload": {
                                    "summary": "A word list uploaded as a file",
                                    "value": {
                                        "title": "Harbour words",
                                        "count": "4",
                                        "settings": '{"reveal": "at_close"}',
                                        "words": _OWN_WORDS,
                                    },
                                }
                            },
                        },
                    },
                },
                "responses": {
                    "201": _json(
                        "The quiz, in its lobby.",
                        _ref("QuizCreated"),
                        created={"value": _QUIZ_CREATED},
                    ),
                    "403": _errors(
                        "A webhook_url without the learning app's API key as the bearer.",
                        webhook_needs_key=_error(
                            "forbidden", "a webhook needs the learning app's API key as the bearer"
                        ),
                    ),
                    "401": {
                        **_errors(
                            "A bearer that is not a genuine, unrevoked API key of the app.",
                            bad_api_key=_error("bad_api_key", "this API key was revoked"),
                        ),
                        "headers": {
                            "WWW-Authenticate": {
                                "description": 'Bearer error="invalid_token".',
                                "schema": {"type": "string"},
                            }
                        },
                    },
                    "400": _errors(
                        "The body is not a JSON object, or not a well-formed, complete form.",
                        bad_json=_error("bad_json", "the request body is not valid JSON"),
                        bad_form=_error(
                            "bad_form", "malformed form body: it ends before its last part"
                        ),
                    ),
                    "413": _TOO_LARGE,
                    "422": _errors(
                        "A field is of the wrong type or out of range, the word list has "
                        "mistakes (bad_word_list lists them all in errors, each with its "
                        "line), there are not enough words, or a question sent breaks a rule "
                        "(every problem is listed, by question and field).",
                        bad_request=_error(
                            "bad_request", "count must be a whole number from 1 to 100"
                        ),
                        questions_and_count=_error(
                            "bad_request",
                            "send questions or count, not both: questions are the quiz as it "
                            "stands (count, seed, levels, kinds and words are for generating one)",
                        ),
                        invalid_question={
                            "value": {
                                "error": {
                                    "code": "invalid_question",
                                    "message": "question 1, options[2]: is the same as option "
                                    "1 ('big'); options must differ; question 2, prompt: must "
                                    "not be empty",
                                    "problems": [
                                        {
                                            "question": 1,
                                            "field": "options[2]",
                                            "message": "is the same as option 1 ('big'); "
                                            "options must differ",
                                        },
                                        {
                                            "question": 2,
                                            "field": "prompt",
                                            "message": "must not be empty",
                                        },
                                    ],
                                }
                            }
                        },
                        bad_word_list={
                            "summary": "Every mistake of the list, each with its line",
                            "value": {
                                "error": {
                                    "code": "bad_word_list",
                                    "message": "line 3: unknown level 'Z9' (expected A1\u2026C2); "
                                    "and 2 more problems",
                                    "errors": [
                                        {
                                            "line": 3,
                                            "item": None,
                                            "message": "unknown level 'Z9' (expected A1\u2026C2)",
                                        },
                                        {
                                            "line": 4,
                                            "item": None,
                                            "message": "'recieve' is not in the built-in deck; "
                                            "did you mean 'receive'? If not, give its definition",
                                        },
                                        {
                                            "line": 6,
                                            "item": None,
                                            "message": "'Harbour' is already on line 2 as a noun",
                                        },
                                    ],
                                    "error_count": 3,
                                }
                            },
                        },
                        invalid_settings=_error(
                            "invalid_settings", "reveal must be one of: immediate, at_close"
                        ),
                        invalid_due=_error(
                            "invalid_due",
                            "a self-paced quiz needs a due time (due_at_ms, a whole number)",
                        ),
                        no_questions=_error(
                            "no_questions",
                            "only 5 of the 10 questions asked for can be made from these "
                            "words (levels A2, B1, B2; kinds word_to_meaning, meaning_to_word, "
                            "synonym, fill_blank)",
                        ),
                    ),
                    "500": _CRASH,
                    "503": {"$ref": "#/components/responses/Unavailable"},
                },
            }
        },
        "/api/quizzes/{pin}": {
            "parameters": [{"$ref": "#/components/parameters/pin"}],
            "get": {
                "tags": ["quizzes"],
                "operationId": "getQuiz",
                "summary": "A live quiz's state by its PIN (join page)",
                "responses": {
                    "200": _json(
                        "The quiz as a join page needs it.",
                        _ref("QuizState"),
                        lobby={
                            "value": {
                                "pin": "482913",
                                "title": "Year 9 - week 3",
                                "phase": "lobby",
                                "players": 1,
                                "questions": 5,
                                "current": -1,
                                "locked": False,
                                "joinable": True,
                                "due_at_ms": None,
                                "teams": 0,
                                "team_choice": False,
                            }
                        },
                    ),
                    "404": _errors(
                        "No live quiz has this PIN (a finished quiz's PIN is free again).",
                        unknown_quiz=_error("unknown_quiz", "no live quiz has that PIN"),
                    ),
                    "503": {"$ref": "#/components/responses/Unavailable"},
                    "500": _CRASH,
                },
            },
        },
        "/api/quizzes/{pin}/players": {
            "parameters": [{"$ref": "#/components/parameters/pin"}],
            "post": {
                "tags": ["quizzes"],
                "operationId": "joinQuiz",
                "summary": "Join a quiz by its PIN (player)",
                "description": "Returns the player's token: open a WebSocket and send `hello` "
                "with it (or join over the WebSocket directly with `join`). Joins are limited "
                "per client address (a burst, then a steady rate; 429 past it).",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": _ref("JoinRequest"),
                            "examples": {
                                "nickname": {"value": {"nickname": "Anna"}},
                                "app_user": {
                                    "summary": "A user of the learning app, signed in there",
                                    "value": {"app_token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIi…"},
                                },
                            },
                        }
                    },
                },
                "responses": {
                    "201": _json(
                        "Joined. The nickname comes back as shown on the board.",
                        _ref("Joined"),
                        joined={
                            "value": {
                                "quiz_id": "3f9a2c4d5e6f7081",
                                "player_id": 7,
                                "nickname": "Anna",
                                "token": _PLAYER_TOKEN,
                            }
                        },
                    ),
                    "400": _errors(
                        "The body is not a JSON object.",
                        bad_json=_error("bad_json", "the request body must be a JSON object"),
                    ),
                    "401": _errors(
                        "The app_token is not valid here; the message says why.",
                        bad_app_token=_error("bad_app_token", "app token expired"),
                    ),
                    "403": _errors(
                        "The quiz does not let anyone in now, or only the app's users.",
                        app_sign_in_required=_error(
                            "app_sign_in_required",
                            "this quiz is for the learning app's users: join from the app",
                        ),
                        lobby_locked=_error("lobby_locked", "the host has locked this quiz"),
                        late_join_closed=_error(
                            "late_join_closed", "this quiz has already started"
                        ),
                        quiz_full=_error("quiz_full", "this quiz is full"),
                    ),
                    "404": _errors(
                        "No live quiz has this PIN.",
                        unknown_quiz=_error("unknown_quiz", "no live quiz has that PIN"),
                    ),
                    "409": _errors(
                        "Another player has this nickname (case does not matter).",
                        nickname_taken=_error("nickname_taken", "the nickname 'anna' is taken"),
                    ),
                    "410": _errors(
                        "The quiz finished while the join was on its way.",
                        quiz_finished=_error("quiz_finished", "this quiz has finished"),
                    ),
                    "413": _TOO_LARGE,
                    "422": _errors(
                        "The nickname breaks the rules; the message says which.",
                        nickname_invalid=_error(
                            "nickname_invalid", "a nickname must be 2 to 20 characters long"
                        ),
                        not_a_string=_error("nickname_invalid", "nickname must be a string"),
                        nickname_profane=_error(
                            "nickname_profane", "please choose another nickname"
                        ),
                        bad_team=_error(
                            "bad_request", "team must be a whole number (0 is the first)"
                        ),
                        no_team_choice=_error(
                            "invalid_settings", "players of this quiz do not pick their team"
                        ),
                    ),
                    "429": _JOINS_LIMITED,
                    "500": _CRASH,
                    "503": {"$ref": "#/components/responses/Unavailable"},
                },
            },
        },
        "/api/quizzes/{pin}/rejoin": {
            "parameters": [{"$ref": "#/components/parameters/pin"}],
            "post": {
                "tags": ["quizzes"],
                "operationId": "askToRejoin",
                "summary": "Ask to be an away player again, from another device (the host decides)",
                "description": "For a student whose phone died: their nickname is taken by their "
                "own player, who is away. The hosts are asked (`players` frame, `rejoin_asked`) "
                "and answer with the host action `let_in` or `turn_away`; poll "
                "`GET /api/quizzes/{pin}/rejoin/{request_id}` for the answer. Keep `request_id` "
                "secret: it is the device's only claim to the player's token. Limited like "
                "joins (429).",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": _ref("RejoinRequest"),
                            "examples": {"leo": {"value": {"nickname": "Leo"}}},
                        }
                    },
                },
                "responses": {
                    "202": _json(
                        "Asked; the hosts see the request.",
                        _ref("RejoinAnswer"),
                        waiting={
                            "value": {
                                "request_id": "lqv3q6Tn0Zt3S1Yb2r7hJxR4cW9pK8mA",
                                "status": "waiting",
                                "nickname": "Leo",
                                "token": None,
                            }
                        },
                    ),
                    "400": _errors(
                        "The body is not a JSON object.",
                        bad_json=_error("bad_json", "the request body must be a JSON object"),
                    ),
                    "403": _errors(
                        "The quiz is for the learning app's users: they sign in again instead.",
                        app_sign_in_required=_error(
                            "app_sign_in_required",
                            "this quiz is for the learning app's users: sign in from the app again",
                        ),
                    ),
                    "404": _errors(
                        "No live quiz has this PIN, or nobody in it has that name.",
                        unknown_quiz=_error("unknown_quiz", "no live quiz has that PIN"),
                        unknown_player=_error(
                            "unknown_player", "nobody called 'Zed' is in this quiz"
                        ),
                    ),
                    "409": _errors(
                        "That player is connected right now: nobody may take their place.",
                        nickname_taken=_error(
                            "nickname_taken",
                            "'Leo' is playing right now: only a player who is away can be "
                            "taken back",
                        ),
                    ),
                    "410": _errors(
                        "The quiz has finished.",
                        quiz_finished=_error("quiz_finished", "this quiz has already finished"),
                    ),
                    "413": _TOO_LARGE,
                    "422": _errors(
                        "The nickname is not one, or the body has other fields.",
                        not_a_string=_error("nickname_invalid", "nickname must be a string"),
                        bad_request=_error(
                            "bad_request", "unknown field 'name'; fields are nickname"
                        ),
                    ),
                    "429": _JOINS_LIMITED,
                    "500": _CRASH,
                    "503": {"$ref": "#/components/responses/Unavailable"},
                },
            },
        },
        "/api/quizzes/{pin}/rejoin/{request_id}": {
            "parameters": [
                {"$ref": "#/components/parameters/pin"},
                {
                    "name": "request_id",
                    "in": "path",
                    "required": True,
                    "description": "The `request_id` of `POST /api/quizzes/{pin}/rejoin`.",
                    "schema": {"type": "string", "maxLength": 200},
                },
            ],
            "get": {
                "tags": ["quizzes"],
                "operationId": "getRejoinAnswer",
                "summary": "The host's answer to a rejoin request (poll it)",
                "description": "`waiting`; `turned_away`; or `let_in` with the player's `token` "
                "(send `hello` with it: the same player, score, answers and name). Not cached.",
                "responses": {
                    "200": _json(
                        "The answer so far.",
                        _ref("RejoinAnswer"),
                        let_in={
                            "value": {
                                "request_id": "lqv3q6Tn0Zt3S1Yb2r7hJxR4cW9pK8mA",
                                "status": "let_in",
                                "nickname": "Leo",
                                "token": _PLAYER_TOKEN,
                            }
                        },
                    ),
                    "404": _errors(
                        "No live quiz has this PIN, or it has no such request.",
                        unknown_request=_error("unknown_quiz", "no such quiz or request"),
                    ),
                    "500": _CRASH,
                    "503": {"$ref": "#/components/responses/Unavailable"},
                },
            },
        },
        "/api/quizzes/{quiz_id}/results": {
            "parameters": [
                {
                    "name": "quiz_id",
                    "in": "path",
                    "required": True,
                    "description": "The quiz's internal id (`quiz_id` of the creation or join "
                    "answer), not its PIN: results stay readable after the PIN is reused.",
                    "schema": {"type": "string"},
                }
            ],
            "get": {
                "tags": ["quizzes"],
                "operationId": "getResults",
                "summary": "Results: the host's report, or a player's own results",
                "description": "With the host's token: every player and every closed question, "
                "as JSON or (`format=csv`) as a spreadsheet. With a player's token: that "
                "player's score, rank and missed words. Readable during the quiz (closed "
                "questions only) and after it.",
                "security": [{"bearer": []}],
                "parameters": [
                    {
                        "name": "format",
                        "in": "query",
                        "required": False,
                        "description": "csv: the host's report as CSV (host token only).",
                        "schema": {"type": "string", "enum": ["json", "csv"], "default": "json"},
                    }
                ],
                "responses": {
                    "200": {
                        "description": "The results. CSV: UTF-8 with a byte order mark, CRLF "
                        "line ends, a header row and one row per player in rank order; a "
                        "nickname starting with = + - @ gets a leading ' so no spreadsheet "
                        "reads it as a formula.",
                        "content": {
                            "application/json": {
                                "schema": {"oneOf": [_ref("HostReport"), _ref("PlayerResults")]},
                                "examples": {
                                    "host_report": {"value": _HOST_REPORT},
                                    "player_results": {"value": _PLAYER_RESULTS},
                                },
                            },
                            "text/csv": {
                                "schema": {"type": "string"},
                                "examples": {"csv": {"value": _CSV_EXAMPLE}},
                            },
                        },
                        "headers": {
                            "Content-Disposition": {
                                "description": "CSV only: "
                                'attachment; filename="quiz-<quiz_id>-results.csv".',
                                "schema": {"type": "string"},
                            }
                        },
                    },
                    "401": {
                        **_errors(
                            "No bearer token, or one that is malformed, forged or expired "
                            "(`WWW-Authenticate` says which of the two).",
                            auth_required=_error(
                                "auth_required",
                                "send the host or player token as 'Authorization: Bearer <token>'",
                            ),
                            malformed=_error("bad_token", "malformed token"),
                            forged=_error("bad_token", "invalid token signature"),
                            expired=_error("bad_token", "token expired"),
                        ),
                        "headers": {
                            "WWW-Authenticate": {
                                "description": 'Bearer realm="livequiz" (no token) or '
                                'Bearer error="invalid_token".',
                                "schema": {"type": "string"},
                            }
                        },
                    },
                    "403": _errors(
                        "A genuine token that does not give this: another quiz's, a player "
                        "asking for the CSV, or a player the host removed.",
                        other_quiz=_error("forbidden", "this token is for another quiz"),
                        csv_for_player=_error(
                            "forbidden", "the CSV report is for the host; players get JSON"
                        ),
                        kicked=_error("kicked", "the host removed you from this quiz"),
                    ),
                    "404": _errors(
                        "The token's quiz is not stored here (any more).",
                        unknown_quiz=_error("unknown_quiz", "no quiz has that ID"),
                    ),
                    "422": _errors(
                        "An unknown format.",
                        bad_format=_error("bad_request", "format must be 'json' or 'csv'"),
                    ),
                    "503": {"$ref": "#/components/responses/Unavailable"},
                    "500": _CRASH,
                },
            },
        },
        "/api/quizzes/{quiz_id}/report": {
            "parameters": [_QUIZ_ID_PARAM],
            "get": {
                "tags": ["quizzes"],
                "operationId": "getClassReport",
                "summary": "The teacher's report: words to reteach, and a student × word grid",
                "description": "With the host's token. Per word: how many of those asked knew "
                "it, the average time, the wrong answer picked most, hardest first, and the "
                "words to reteach; per student: points, right answers and a cell per word. "
                "As JSON, as CSV (the student × word grid) or as an XLSX workbook (sheets "
                "Words, Students and Grid). Live quizzes: the questions closed so far; "
                "homework: everything once it is due (before that, nothing of a question that "
                "is still open for someone).",
                "security": [{"bearer": []}],
                "parameters": [
                    {
                        "name": "format",
                        "in": "query",
                        "required": False,
                        "schema": {
                            "type": "string",
                            "enum": ["json", "csv", "xlsx"],
                            "default": "json",
                        },
                    }
                ],
                "responses": {
                    "200": {
                        "description": "The report. CSV: UTF-8 with a byte order mark, a header "
                        "row (rank, nickname, score, correct, asked, average_s, then one column "
                        "per word in quiz order: 'Q1 harbour'), a row per student in rank "
                        "order; a cell is '✓ 0.3 s', '✗ 6.4 s', '–' (asked, no answer) or "
                        "empty (never asked). Nicknames starting with = + - @ get a leading '.",
                        "content": {
                            "application/json": {
                                "schema": _ref("ClassReport"),
                                "examples": {"class_report": {"value": _CLASS_REPORT}},
                            },
                            "text/csv": {
                                "schema": {"type": "string"},
                                "examples": {"report_csv": {"value": _REPORT_CSV_EXAMPLE}},
                            },
                            XLSX_MEDIA_TYPE: {
                                "schema": {"type": "string", "contentMediaType": XLSX_MEDIA_TYPE},
                            },
                        },
                        "headers": {
                            "Content-Disposition": {
                                "description": "CSV and XLSX: "
                                'attachment; filename="quiz-<quiz_id>-report.csv" (or .xlsx).',
                                "schema": {"type": "string"},
                            }
                        },
                    },
                    "401": _errors(
                        "No bearer token, or one that is malformed, forged or expired.",
                        report_auth_required=_error(
                            "auth_required",
                            "send the host or player token as 'Authorization: Bearer <token>'",
                        ),
                    ),
                    "403": _errors(
                        "A player's token, or another quiz's.",
                        report_for_player=_error("forbidden", "the class report is for the host"),
                    ),
                    "404": _errors(
                        "The token's quiz is not stored here (any more).",
                        report_unknown_quiz=_error("unknown_quiz", "no quiz has that ID"),
                    ),
                    "422": _errors(
                        "An unknown format.",
                        report_bad_format=_error(
                            "bad_request", "format must be 'json', 'csv' or 'xlsx'"
                        ),
                    ),
                    "503": {"$ref": "#/components/responses/Unavailable"},
                    "500": _CRASH,
                },
            },
        },
        "/api/quizzes/{quiz_id}/words": {
            "parameters": [_QUIZ_ID_PARAM],
            "get": {
                "tags": ["quizzes"],
                "operationId": "getWordsToPractise",
                "summary": "Words to keep practising, as an Anki deck or CSV",
                "description": "With a player's token: the words that player missed (of the "
                "questions closed for them), as on their review page. With the host's token: "
                "the class's words to reteach (see getClassReport). An Anki package (one note "
                "per word: the word on the front, its meaning and example on the back; "
                "downloading again updates the same deck) or CSV (word, definition, example).",
                "security": [{"bearer": []}],
                "parameters": [
                    {
                        "name": "format",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "enum": ["apkg", "csv"], "default": "apkg"},
                    }
                ],
                "responses": {
                    "200": {
                        "description": "The words (none is an empty deck or a header row).",
                        "content": {
                            APKG_MEDIA_TYPE: {
                                "schema": {"type": "string", "contentMediaType": APKG_MEDIA_TYPE},
                            },
                            "text/csv": {
                                "schema": {"type": "string"},
                                "examples": {"words_csv": {"value": _WORDS_CSV_EXAMPLE}},
                            },
                        },
                        "headers": {
                            "Content-Disposition": {
                                "description": 'attachment; filename="quiz-<quiz_id>-words.apkg" '
                                "(or .csv).",
                                "schema": {"type": "string"},
                            }
                        },
                    },
                    "401": _errors(
                        "No bearer token, or one that is malformed, forged or expired.",
                        words_auth_required=_error(
                            "auth_required",
                            "send the host or player token as 'Authorization: Bearer <token>'",
                        ),
                    ),
                    "403": _errors(
                        "Another quiz's token, or a player the host removed.",
                        words_kicked=_error("kicked", "the host removed you from this quiz"),
                    ),
                    "404": _errors(
                        "The token's quiz is not stored here (any more).",
                        words_unknown_quiz=_error("unknown_quiz", "no quiz has that ID"),
                    ),
                    "422": _errors(
                        "An unknown format.",
                        words_bad_format=_error("bad_request", "format must be 'apkg' or 'csv'"),
                    ),
                    "503": {"$ref": "#/components/responses/Unavailable"},
                    "500": _CRASH,
                },
            },
        },
        "/api/quizzes/{quiz_id}/end": {
            "parameters": [_QUIZ_ID_PARAM],
            "post": {
                "tags": ["quizzes"],
                "operationId": "endQuiz",
                "summary": "End a quiz now (host, or the app that created it)",
                "description": "With the host's token, or the learning app's API key for a quiz "
                "it created: the quiz finishes now (an open question closes and is revealed; "
                "homework is over for everyone), its results are final and go to its webhook. "
                "A quiz that has finished already: 410 quiz_finished.",
                "security": [{"bearer": []}],
                "responses": {
                    "200": _json(
                        "Ended.",
                        {
                            "type": "object",
                            "required": ["quiz_id", "phase"],
                            "additionalProperties": False,
                            "properties": {
                                "quiz_id": {"type": "string"},
                                "phase": {"type": "string", "const": "finished"},
                            },
                        },
                        ended={"value": {"quiz_id": "3f9a2c4d5e6f7081", "phase": "finished"}},
                    ),
                    "401": _errors(
                        "No bearer, or not a genuine token or API key.",
                        end_auth_required=_error(
                            "auth_required",
                            "send the host or player token as 'Authorization: Bearer <token>'",
                        ),
                    ),
                    "403": _errors(
                        "A player's token, another quiz's, or an API key that did not create it.",
                        end_by_player=_error(
                            "forbidden", "only the host (or the app that made it) ends a quiz"
                        ),
                    ),
                    "404": _errors(
                        "The token's quiz is not stored here (any more).",
                        end_unknown_quiz=_error("unknown_quiz", "no quiz has that ID"),
                    ),
                    "410": _errors(
                        "The quiz has finished already.",
                        end_finished=_error("quiz_finished", "this quiz has finished"),
                    ),
                    "503": {"$ref": "#/components/responses/Unavailable"},
                    "500": _CRASH,
                },
            },
        },
        "/api/quizzes/{pin}/qr.svg": {
            "parameters": [{"$ref": "#/components/parameters/pin"}],
            "get": {
                "tags": ["quizzes"],
                "operationId": "getJoinQrCode",
                "summary": "A QR code of the quiz's join link, as SVG",
                "description": "Encodes the `join_url` of `GET /api/quizzes/{pin}/join`; the "
                "host page and the big screen show it. Not cached: a PIN is reused once its "
                "quiz ends.",
                "responses": {
                    "200": {
                        "description": "The QR code, an SVG document.",
                        "content": {"image/svg+xml": {"schema": {"type": "string"}}},
                    },
                    "404": _errors(
                        "No live quiz has this PIN.",
                        unknown_quiz=_error("unknown_quiz", "no live quiz has that PIN"),
                    ),
                    "503": {"$ref": "#/components/responses/Unavailable"},
                    "500": _CRASH,
                },
            },
        },
        "/api/quizzes/{quiz_id}/audio/{index}": {
            "parameters": [
                _QUIZ_ID_PARAM,
                {
                    "name": "index",
                    "in": "path",
                    "required": True,
                    "description": "The question's index (`q` of the protocol).",
                    "schema": {"type": "integer", "minimum": 0},
                },
            ],
            "get": {
                "tags": ["quizzes"],
                "operationId": "getQuestionAudio",
                "summary": "The spoken word of a listening question",
                "description": "For a question of kind `listening` (the protocol's `question` "
                "frame), built from the quiz ID of `welcome` and the question's `index`. Served "
                "once the question has been asked (in a self-paced quiz: once some player has "
                "reached it), never before, since it says the answer. No token (an audio element "
                "sends none). A WAV file made by espeak-ng and kept.",
                "responses": {
                    "200": {
                        "description": "The audio.",
                        "content": {"audio/wav": {"schema": {"type": "string"}}},
                    },
                    "404": _errors(
                        "No such quiz, no such question asked yet, or not a listening question.",
                        unknown_quiz=_error("unknown_quiz", "no quiz has that ID"),
                        not_asked=_error("not_found", "no such question asked in this quiz yet"),
                        not_listening=_error(
                            "not_found", "this question is not a listening question"
                        ),
                    ),
                    "503": {"$ref": "#/components/responses/Unavailable"},
                    "500": _CRASH,
                },
            },
        },
        "/api/quizzes/{pin}/join": {
            "parameters": [{"$ref": "#/components/parameters/pin"}],
            "get": {
                "tags": ["quizzes"],
                "operationId": "getJoinLink",
                "summary": "The link phones join the quiz at",
                "description": "Built from `--public-url` if the server has one; else from the "
                "address the request was made to, unless that is a loopback address (a teacher "
                "who opened the host page at 127.0.0.1): then from this machine's LAN address "
                "when the server listens on every interface (`--host 0.0.0.0`) or on a LAN "
                "address. When only this computer could open the link, `reachable` is false "
                "and `hint` says what to do. Not cached.",
                "responses": {
                    "200": {
                        "description": "The join link.",
                        "content": {
                            "application/json": {
                                "schema": _ref("JoinLink"),
                                "examples": {
                                    "lan": {
                                        "summary": "Listening on 0.0.0.0, page at 127.0.0.1",
                                        "value": {
                                            "pin": "454891",
                                            "join_url": "http://192.168.1.20:8000/play?pin=454891",
                                            "reachable": True,
                                            "hint": None,
                                        },
                                    }
                                },
                            }
                        },
                    },
                    "404": _errors(
                        "No live quiz has this PIN.",
                        unknown_quiz=_error("unknown_quiz", "no live quiz has that PIN"),
                    ),
                    "503": {"$ref": "#/components/responses/Unavailable"},
                    "500": _CRASH,
                },
            },
        },
        "/api/drafts": {
            "post": {
                "tags": ["drafts"],
                "operationId": "draftQuiz",
                "summary": "Preview the questions a quiz would have (host), creating nothing",
                "description": "Takes the options of a creation (JSON or a form, as "
                "`POST /api/quizzes`) and answers with the questions it would make, answers "
                "included: the teacher's preview. Nothing is stored. The teacher may replace "
                "(`POST /api/drafts/replacement`) or edit questions, then create the quiz "
                "with `questions`. Questions flagged on this server are left out.",
                "requestBody": {
                    "required": False,
                    "content": {
                        "application/json": {
                            "schema": _ref("DraftQuiz"),
                            "examples": {
                                "levels_and_kinds": {
                                    "summary": "Five B1 questions",
                                    "value": {"count": 5, "seed": 42, "levels": ["B1"]},
                                },
                                "own_words": {
                                    "summary": "From an own word list",
                                    "value": {"count": 4, "words": _OWN_WORDS},
                                },
                            },
                        },
                        "multipart/form-data": {
                            "schema": _ref("DraftQuizForm"),
                            "examples": {
                                "upload": {
                                    "summary": "A word list uploaded as a file",
                                    "value": {"count": "4", "words": _OWN_WORDS},
                                }
                            },
                        },
                    },
                },
                "responses": {
                    "200": _json(
                        "The questions, in quiz order.",
                        _ref("Draft"),
                        draft={
                            "value": {"questions": [_QUESTION], "left_out": [], "left_out_count": 0}
                        },
                        quizlet_with_a_mistake={
                            "summary": "A Quizlet export with one line left out",
                            "value": {
                                "questions": [_QUESTION],
                                "left_out": [
                                    {
                                        "line": 3,
                                        "item": None,
                                        "message": "the definition of 'brave' contains 'brave', "
                                        "which gives the answer away",
                                    }
                                ],
                                "left_out_count": 1,
                            },
                        },
                    ),
                    "400": _errors(
                        "The body is not a JSON object, or not a well-formed form.",
                        bad_json=_error("bad_json", "the request body is not valid JSON"),
                    ),
                    "422": _errors(
                        "As for a creation: a bad field, a bad word list, too few words.",
                        bad_request=_error(
                            "bad_request", "count must be a whole number from 1 to 100"
                        ),
                        no_questions=_error(
                            "no_questions",
                            "only 5 of the 10 questions asked for can be made from these "
                            "words (levels A2, B1, B2; kinds word_to_meaning, meaning_to_word, "
                            "synonym, fill_blank)",
                        ),
                    ),
                    "500": _CRASH,
                    "503": {"$ref": "#/components/responses/Unavailable"},
                },
            }
        },
        "/api/drafts/replacement": {
            "post": {
                "tags": ["drafts"],
                "operationId": "replaceQuestion",
                "summary": "A fresh question of a kind and level, for a draft (host)",
                "description": "Asks none of the draft's words (`avoid`) nor a word related to "
                "one of them, and no question flagged on this server; from the same word list "
                "if `words` is given. Nothing is stored.",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": _ref("ReplacementRequest"),
                            "examples": {
                                "replace": {
                                    "summary": "Another B1 synonym question",
                                    "value": {
                                        "kind": "synonym",
                                        "level": "B1",
                                        "avoid": ["harbour", "brave", "improvement"],
                                    },
                                }
                            },
                        }
                    },
                },
                "responses": {
                    "200": _json(
                        "The new question.",
                        _ref("Replacement"),
                        replacement={"value": {"question": _QUESTION}},
                    ),
                    "400": _errors(
                        "The body is not a JSON object.",
                        bad_json=_error("bad_json", "the request body must be a JSON object"),
                    ),
                    "422": _errors(
                        "A bad field, an unknown kind or level, or no word is left.",
                        bad_request=_error(
                            "bad_request",
                            "avoid must be a list of at most 100 words (the words of the draft)",
                        ),
                        invalid_settings=_error(
                            "invalid_settings",
                            "unknown question kind 'essay' (expected one of word_to_meaning, "
                            "meaning_to_word, synonym, fill_blank, listening)",
                        ),
                        no_questions=_error(
                            "no_questions",
                            "no other B1 word is left for a word_to_meaning question (every "
                            "one is in the quiz already, related to one in it, or flagged)",
                        ),
                    ),
                    "500": _CRASH,
                    "503": {"$ref": "#/components/responses/Unavailable"},
                },
            }
        },
        "/api/quizzes/{quiz_id}/flags": {
            "parameters": [_QUIZ_ID_PARAM],
            "post": {
                "tags": ["flags"],
                "operationId": "flagQuestion",
                "summary": "Flag a question of the quiz during its review (player or host)",
                "description": "Once a question has closed (its reveal, or the review after "
                "the quiz), a player of the quiz (their token) or its host (the host token) "
                "may flag it, with an optional reason. A flag is kept for the whole server: "
                "no process generates a question of that word and kind again until a teacher "
                "clears it. A second flag by the same person on the same question counts "
                "once (`new` is false).",
                "security": [{"bearer": []}],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": _ref("FlagRequest"),
                            "examples": {
                                "flag": {
                                    "summary": "Two options fit",
                                    "value": {"index": 0, "reason": "port is right too"},
                                }
                            },
                        }
                    },
                },
                "responses": {
                    "200": _json(
                        "Flagged (or flagged already by this person).",
                        _ref("Flagged"),
                        flagged={
                            "value": {
                                "index": 0,
                                "word": "harbour",
                                "kind": "word_to_meaning",
                                "new": True,
                            }
                        },
                    ),
                    "401": _errors(
                        "No bearer token, or a bad one.",
                        auth_required=_error(
                            "auth_required",
                            "send the host or player token as 'Authorization: Bearer <token>'",
                        ),
                    ),
                    "403": _errors(
                        "Another quiz's token, or a player the host removed.",
                        other_quiz=_error("forbidden", "this token is for another quiz"),
                        kicked=_error("kicked", "the host removed you from this quiz"),
                    ),
                    "409": _errors(
                        "The question is open, or not asked yet.",
                        not_in_review=_error(
                            "not_in_review",
                            "a question can be flagged once it has closed (at its reveal or "
                            "in the review)",
                        ),
                    ),
                    "422": _errors(
                        "No such question, or a bad reason.",
                        bad_index=_error(
                            "bad_request",
                            "this quiz has 2 questions: index must be 0 to 1",
                        ),
                    ),
                    "500": _CRASH,
                    "503": {"$ref": "#/components/responses/Unavailable"},
                },
            },
        },
        "/api/flags": {
            "get": {
                "tags": ["flags"],
                "operationId": "listFlags",
                "summary": "Every flagged question not cleared yet (host)",
                "description": "With the host token of any quiz of this server: whoever hosts "
                "here is a teacher of this server. Most flagged first.",
                "security": [{"bearer": []}],
                "responses": {
                    "200": _json(
                        "The open flags.",
                        _ref("FlagList"),
                        flags={"value": {"flags": [_FLAGGED]}},
                    ),
                    "401": _errors(
                        "No bearer token, or a bad one.",
                        auth_required=_error(
                            "auth_required",
                            "send the host or player token as 'Authorization: Bearer <token>'",
                        ),
                    ),
                    "403": _errors(
                        "A player's token.",
                        player=_error(
                            "forbidden", "only a host (the teacher) may see and clear flags"
                        ),
                    ),
                    "500": _CRASH,
                    "503": {"$ref": "#/components/responses/Unavailable"},
                },
            }
        },
        "/api/flags/{kind}/{word}": {
            "parameters": [
                {
                    "name": "kind",
                    "in": "path",
                    "required": True,
                    "description": "The kind of the flagged question.",
                    "schema": {"type": "string", "enum": _KINDS},
                },
                {
                    "name": "word",
                    "in": "path",
                    "required": True,
                    "description": "Its word (any case; URL-encoded; one line).",
                    "schema": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": 50,
                        "pattern": api_models.ONE_LINE,
                    },
                },
            ],
            "delete": {
                "tags": ["flags"],
                "operationId": "clearFlags",
                "summary": "Clear every flag of a question (host): it may be generated again",
                "security": [{"bearer": []}],
                "responses": {
                    "200": _json(
                        "Cleared; `cleared` is 0 if nothing was open (clearing twice is fine).",
                        _ref("FlagsCleared"),
                        cleared={
                            "value": {"word": "harbour", "kind": "word_to_meaning", "cleared": 2}
                        },
                    ),
                    "401": _errors(
                        "No bearer token, or a bad one.",
                        auth_required=_error(
                            "auth_required",
                            "send the host or player token as 'Authorization: Bearer <token>'",
                        ),
                    ),
                    "403": _errors(
                        "A player's token.",
                        player=_error(
                            "forbidden", "only a host (the teacher) may see and clear flags"
                        ),
                    ),
                    "422": _errors(
                        "An unknown kind, or a word that is empty, longer than 50 characters "
                        "or holds a control character.",
                        bad_kind=_error(
                            "bad_request",
                            "kind must be one of fill_blank, listening, meaning_to_word, synonym, "
                            "word_to_meaning",
                        ),
                    ),
                    "500": _CRASH,
                    "503": {"$ref": "#/components/responses/Unavailable"},
                },
            },
        },
        "/healthz": {
            "get": {
                "tags": ["operations"],
                "operationId": "health",
                "summary": "Liveness: the process answers HTTP",
                "responses": {
                    "200": _json("Alive.", _ref("Health"), ok={"value": {"status": "ok"}}),
                    "500": _CRASH,
                },
            }
        },
        "/readyz": {
            "get": {
                "tags": ["operations"],
                "operationId": "readiness",
                "summary": "Readiness: started, and storage and the message bus reachable now",
                "description": "503 while the process starts or stops ('starting'), and while "
                "it cannot reach its storage or the bus between processes ('unavailable'): it "
                "would refuse answers, so a load balancer should send players elsewhere. It "
                "turns ready again by itself when they are back.",
                "responses": {
                    "200": _json(
                        "Ready for traffic.",
                        _ref("Readiness"),
                        ready={"value": {"status": "ready"}},
                    ),
                    "503": _json(
                        "Starting, stopping or cut off from storage: keep it out of the load "
                        "balancer.",
                        _ref("Readiness"),
                        starting={
                            "value": {
                                "status": "starting",
                                "reason": "the server is starting or stopping",
                            }
                        },
                        unavailable={
                            "value": {
                                "status": "unavailable",
                                "reason": "storage is unreachable: connection refused",
                            }
                        },
                    ),
                    "500": _CRASH,
                },
            }
        },
        "/metrics": {
            "get": {
                "tags": ["operations"],
                "operationId": "metrics",
                "summary": "Prometheus metrics (text exposition format 0.0.4)",
                "description": "Counters and gauges of the game (livequiz_joins_total, "
                "livequiz_answers_total, livequiz_connections, livequiz_quizzes_live, "
                "livequiz_errors_total…) and latency histograms (ack, batch, tick).",
                "responses": {
                    "200": {
                        "description": "The metrics.",
                        "content": {
                            "text/plain": {
                                "schema": {"type": "string"},
                                "examples": {"sample": {"value": _METRICS_EXAMPLE}},
                            }
                        },
                    },
                    "500": _CRASH,
                },
            }
        },
        "/openapi.json": {
            "get": {
                "tags": ["operations"],
                "operationId": "openapi",
                "summary": "This document",
                "responses": {
                    "200": {
                        "description": "The OpenAPI 3.1 document.",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    "500": _CRASH,
                },
            }
        },
    },
    "components": {
        "schemas": SCHEMAS,
        "parameters": {
            "pin": {
                "name": "pin",
                "in": "path",
                "required": True,
                "description": "The six-digit PIN players type (any other text: 404).",
                "schema": {"type": "string", "pattern": "^[1-9][0-9]{5}$"},
                "example": "482913",
            }
        },
        "headers": {
            "Retry-After": {
                "description": "Seconds to wait before trying again.",
                "schema": {"type": "integer", "minimum": 1},
            }
        },
        "securitySchemes": {
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "livequiz v1 (opaque)",
                "description": "The host_token of the quiz's creation, or a player's token of "
                "its join, as `Authorization: Bearer <token>`. Tokens are bound to one quiz. "
                "Or the learning app's API key (`lq_<key_id>.<secret>`), for the quizzes it "
                "created: results, report and words, with a host's rights.",
            }
        },
        "responses": {
            "InternalError": _errors(
                "A bug on the server side; the details are in its log, never in the answer.",
                internal=_error("internal", "something went wrong on our side"),
            ),
            "Unavailable": {
                **_errors(
                    "The server is starting or stopping, or cannot reach its storage or the "
                    "server process running the quiz right now; retry after `Retry-After` "
                    "seconds. Nothing is half done: a join that was refused so may be sent "
                    "again.",
                    unavailable=_error(
                        "unavailable", "the server is starting or stopping; try again in a moment"
                    ),
                    storage_down=_error(
                        "unavailable",
                        "the server cannot reach its storage right now; try again in a moment",
                    ),
                ),
                "headers": {"Retry-After": {"$ref": "#/components/headers/Retry-After"}},
            },
            "MalformedRequest": _errors(
                "Any path: the HTTP parser refused the request (its request line, a header, "
                "or the body's framing such as chunked encoding); answered before any route, "
                "and the connection is closed.",
                malformed_request=_error(
                    "malformed_request",
                    "malformed HTTP request (invalid header token); send HTTP/1.1 with a "
                    "valid request line, headers and body framing",
                ),
            ),
            "RequestTimeout": _errors(
                "Any path with a body: the request's head arrived but its body did not, within "
                "the body timeout (30 s by default) of the head; answered before any route, "
                "and the connection is closed.",
                request_timeout=_error(
                    "request_timeout",
                    "the request body did not arrive in time; send it again",
                ),
            ),
            "NotFound": _errors(
                "No route has this path (any method).",
                not_found=_error("not_found", "nothing at /api/quiz; see /openapi.json"),
            ),
            "MethodNotAllowed": {
                **_errors(
                    "The path exists but not with this method; `Allow` lists the methods.",
                    method_not_allowed=_error(
                        "method_not_allowed", "DELETE is not allowed here; use POST"
                    ),
                ),
                "headers": {
                    "Allow": {
                        "description": "The methods of the path.",
                        "schema": {"type": "string"},
                    }
                },
            },
        },
    },
}


def _line_breaks_in_paths(document: JSON) -> None:
    """Every route with a path parameter answers 404 ``not_found`` when the parameter holds a
    line break (``%0A``): the router matches paths line by line, so no route matches. Found by
    schemathesis; no PIN, quiz id or word has one, so it is documented rather than changed."""
    for item in document["paths"].values():
        has_parameter = any(
            p.get("in") == "path" or "$ref" in p for p in item.get("parameters", [])
        )
        for method, operation in item.items():
            if method == "parameters":
                continue
            parameters = operation.get("parameters", [])
            if has_parameter or any(p.get("in") == "path" for p in parameters):
                operation["responses"].setdefault(
                    "404",
                    _errors(
                        "A path parameter with a line break (encoded %0A) in it: no route "
                        "matches such a path (not_found)."
                    ),
                )


def _bad_bodies(document: JSON) -> None:
    """Every operation with a JSON body answers 400 ``bad_json`` to a body that is not a JSON
    object (found by schemathesis where it was missing: flags)."""
    for item in document["paths"].values():
        for method, operation in item.items():
            if method != "parameters" and "requestBody" in operation:
                operation["responses"].setdefault(
                    "400", _errors("The body is not a JSON object (bad_json).")
                )


_line_breaks_in_paths(OPENAPI)
_bad_bodies(OPENAPI)
