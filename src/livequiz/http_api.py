"""The HTTP API: create a quiz, join one by its PIN, read its state and results; health and metrics.

Starlette, one function per endpoint; each turns a request into a service call and the answer into
JSON. Errors are always ``{"error": {"code": ..., "message": ...}}`` with a fitting status; no
traceback ever reaches a client. The OpenAPI document (``GET /openapi.json``) is :data:`OPENAPI`,
kept beside the routes and checked against them by the tests.
"""

from __future__ import annotations

import csv
import io
import logging
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from livequiz.auth import Role, TokenError
from livequiz.domain import views
from livequiz.domain.errors import ErrorCode, Rejected
from livequiz.domain.settings import QuizSettings
from livequiz.openapi import OPENAPI
from livequiz.ports import UnknownQuiz
from livequiz.service import QuizService
from livequiz.vocabulary import Deck, WordListError, generate_quiz, load_wordlist

log = logging.getLogger("livequiz.http")

#: A word list of a few thousand lines is far below this; anything larger is not a word list.
MAX_BODY_BYTES = 1 << 20

#: HTTP status for each refusal of the core.
STATUS: dict[str, int] = {
    ErrorCode.UNKNOWN_QUIZ: 404,
    ErrorCode.UNKNOWN_PLAYER: 404,
    ErrorCode.NICKNAME_TAKEN: 409,
    ErrorCode.NICKNAME_INVALID: 422,
    ErrorCode.NICKNAME_PROFANE: 422,
    ErrorCode.INVALID_SETTINGS: 422,
    ErrorCode.NO_QUESTIONS: 422,
    ErrorCode.INVALID_QUESTION: 422,
    ErrorCode.QUIZ_FULL: 403,
    ErrorCode.LOBBY_LOCKED: 403,
    ErrorCode.LATE_JOIN_CLOSED: 403,
    ErrorCode.KICKED: 403,
    ErrorCode.QUIZ_FINISHED: 410,
}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def build_api(service: QuizService, deck: Deck) -> Starlette:
    """The Starlette app with every HTTP endpoint, bound to one service."""

    async def create_quiz(request: Request) -> Response:
        body = await _read_options(request)
        title = body.get("title", "Vocabulary quiz")
        if not isinstance(title, str) or not 1 <= len(title.strip()) <= 80:
            raise ApiError(422, "bad_request", "title must be 1 to 80 characters")
        settings = _settings(body)
        count = body.get("count", 10)
        if type(count) is not int or not 1 <= count <= 100:
            raise ApiError(422, "bad_request", "count must be a whole number from 1 to 100")
        seed = body.get("seed")
        if seed is not None and type(seed) is not int:
            raise ApiError(422, "bad_request", "seed must be a whole number")
        levels, kinds = body.get("levels"), body.get("kinds")
        for name, value in (("levels", levels), ("kinds", kinds)):
            if value is not None and (
                not isinstance(value, list) or not all(isinstance(v, str) for v in value)
            ):
                raise ApiError(422, "bad_request", f"{name} must be a list of strings")
        words = body.get("words")
        try:
            source: Any = deck
            if words is not None:
                if not isinstance(words, str):
                    raise ApiError(
                        422, "bad_request", "words must be the text of a CSV or JSON file"
                    )
                source = load_wordlist(words, deck=deck)
            questions = generate_quiz(source, levels=levels, kinds=kinds, count=count, seed=seed)
        except WordListError as error:
            raise ApiError(422, "bad_word_list", str(error)) from None
        definition, host_token = await service.create_quiz(title.strip(), questions, settings)
        return JSONResponse(
            {
                "quiz_id": definition.quiz_id,
                "pin": definition.pin,
                "title": definition.title,
                "host_token": host_token,
                "join_url": f"/play?pin={definition.pin}",
                "questions": len(definition.questions),
                "settings": settings.to_mapping(),
            },
            status_code=201,
        )

    async def join_quiz(request: Request) -> Response:
        pin = request.path_params["pin"]
        body = await _read_json(request)
        address = request.client.host if request.client else "unknown"
        if not service.allow_join(address):
            raise ApiError(429, "rate_limited", "too many joins from your address; wait a moment")
        quiz_id, player_id, token = await service.join(pin, body.get("nickname"))
        service.metrics.joins.labels("http").inc()
        nickname = service.store.session(quiz_id).players[player_id].nickname
        return JSONResponse(
            {"quiz_id": quiz_id, "player_id": player_id, "nickname": nickname, "token": token},
            status_code=201,
        )

    async def quiz_state(request: Request) -> Response:
        pin = request.path_params["pin"]
        quiz_id = service.store.quiz_id_for_pin(pin)
        session = service.store.session(quiz_id)
        definition = service.store.definition(quiz_id)
        return JSONResponse(
            {
                "pin": definition.pin,
                "title": definition.title,
                "phase": session.phase.value,
                "players": len(session.board),
                "questions": len(session.questions),
                "current": session.current,
                "locked": session.locked,
                "joinable": session.phase.value != "finished"
                and not session.locked
                and (session.phase.value == "lobby" or session.settings.allow_late_join),
            }
        )

    async def results(request: Request) -> Response:
        quiz_id = request.path_params["quiz_id"]
        claims = _bearer(request, service, quiz_id)
        session = service.store.session(quiz_id)
        if claims.role is Role.PLAYER:
            return JSONResponse(views.player_results(session, claims.player_id))
        report = views.final_results(session)
        if request.query_params.get("format") == "csv":
            return Response(
                _results_csv(report),
                media_type="text/csv; charset=utf-8",
                headers={
                    "content-disposition": f'attachment; filename="quiz-{quiz_id}-results.csv"'
                },
            )
        return JSONResponse(report)

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_request: Request) -> Response:
        if service.ready:
            return JSONResponse({"status": "ready"})
        return JSONResponse({"status": "starting"}, status_code=503)

    async def metrics(_request: Request) -> Response:
        return Response(service.metrics.render(), media_type="text/plain; version=0.0.4")

    async def openapi(_request: Request) -> Response:
        return JSONResponse(OPENAPI)

    async def on_api_error(_request: Request, error: Exception) -> Response:
        assert isinstance(error, ApiError)
        service.metrics.errors.labels(error.code).inc()
        return error_response(error.status, error.code, error.message)

    async def on_rejected(_request: Request, error: Exception) -> Response:
        assert isinstance(error, Rejected)
        service.metrics.errors.labels(error.code.value).inc()
        return error_response(STATUS.get(error.code, 409), error.code.value, error.message)

    async def on_unknown_quiz(_request: Request, _error: Exception) -> Response:
        service.metrics.errors.labels("unknown_quiz").inc()
        return error_response(404, "unknown_quiz", "no live quiz has that ID")

    async def on_http(_request: Request, error: Exception) -> Response:
        assert isinstance(error, HTTPException)
        return error_response(error.status_code, "http_error", str(error.detail))

    async def on_crash(_request: Request, _error: Exception) -> Response:
        log.exception("request failed")
        service.metrics.errors.labels("internal").inc()
        return error_response(500, "internal", "something went wrong on our side")

    routes = [
        Route("/api/quizzes", create_quiz, methods=["POST"]),
        Route("/api/quizzes/{pin}", quiz_state, methods=["GET"]),
        Route("/api/quizzes/{pin}/players", join_quiz, methods=["POST"]),
        Route("/api/quizzes/{quiz_id}/results", results, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
    ]
    return Starlette(
        routes=routes,
        exception_handlers={
            ApiError: on_api_error,
            Rejected: on_rejected,
            UnknownQuiz: on_unknown_quiz,
            HTTPException: on_http,
            Exception: on_crash,
        },
    )


async def _read_json(request: Request) -> dict[str, Any]:
    raw = await _read_body(request)
    try:
        body = orjson.loads(raw or b"{}")
    except orjson.JSONDecodeError:
        raise ApiError(400, "bad_json", "the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "bad_json", "the request body must be a JSON object")
    return body


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
        raise ApiError(413, "too_large", f"the request body may be at most {MAX_BODY_BYTES} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise ApiError(
                413, "too_large", f"the request body may be at most {MAX_BODY_BYTES} bytes"
            )
        chunks.append(chunk)
    return b"".join(chunks)


async def _read_options(request: Request) -> dict[str, Any]:
    """Quiz options as JSON, or as a multipart form with the word list as a file upload."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return await _read_json(request)
    declared = request.headers.get("content-length")
    if declared is None or not declared.isdigit() or int(declared) > MAX_BODY_BYTES:
        raise ApiError(413, "too_large", f"an upload may be at most {MAX_BODY_BYTES} bytes")
    form = await request.form(max_files=1, max_fields=20)
    body: dict[str, Any] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            try:
                body[key] = orjson.loads(value) if key != "title" else value
            except orjson.JSONDecodeError:
                body[key] = value
        else:
            try:
                body[key] = (await value.read()).decode("utf-8-sig")
            except UnicodeDecodeError:
                raise ApiError(422, "bad_word_list", "the word list must be UTF-8 text") from None
    for key in ("levels", "kinds"):
        if isinstance(body.get(key), str):
            body[key] = [part.strip() for part in body[key].split(",") if part.strip()]
    return body


_SETTING_ALIASES = {"time_limit_s": "time_limit_ms"}


def _settings(body: dict[str, Any]) -> QuizSettings:
    values = body.get("settings", {})
    if not isinstance(values, dict):
        raise ApiError(422, "bad_request", "settings must be an object")
    values = dict(values)
    seconds = body.get("time_limit_s")
    if seconds is not None:
        if type(seconds) is not int:
            raise ApiError(422, "bad_request", "time_limit_s must be a whole number of seconds")
        values["time_limit_ms"] = seconds * 1000
    return QuizSettings.from_mapping(values)


def _bearer(request: Request, service: QuizService, quiz_id: str) -> Any:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("bearer "):
        raise ApiError(
            401, "auth_required", "send the host or player token as 'Authorization: Bearer …'"
        )
    try:
        claims = service.signer.verify(header[7:].strip(), service.clock() // 1000, quiz_id=quiz_id)
    except TokenError as error:
        raise ApiError(403, "bad_token", str(error)) from None
    service.store.session(quiz_id)  # raises UnknownQuiz
    return claims


def _results_csv(report: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["rank", "nickname", "score", "correct", "answered", "questions"])
    asked = len(report["questions"])
    for line in report["players"]:
        writer.writerow(
            [
                line["rank"],
                _cell(line["nickname"]),
                line["score"],
                line["correct"],
                line["answered"],
                asked,
            ]
        )
    return out.getvalue()


def _cell(text: str) -> str:
    """Defuse spreadsheet formulas in user text (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
