"""The HTTP API: create a quiz, join one by its PIN, read its state and results; health and metrics.

Starlette, one function per endpoint; each turns a request into a service call and the answer into
JSON. Errors are always ``{"error": {"code": ..., "message": ...}}`` with a fitting status, for
every route and for paths and methods that do not exist (``bad_word_list`` adds every problem of
the list: ``errors`` and ``error_count``); no traceback ever reaches a client. The
codes this module sends besides the core's :class:`~livequiz.domain.errors.ErrorCode` are
:data:`API_ERROR_CODES`. The OpenAPI document (``GET /openapi.json``) is
:data:`~livequiz.openapi.OPENAPI`, kept beside the routes and checked against them by the tests.

Every request body is validated by its model in :mod:`livequiz.api_models` (:func:`_parsed`),
the models the document's request schemas are generated from: what the document accepts is what
this module accepts. A refused field gets the code and message the API has always sent for it;
the values whose rules are the core's (settings, due time, questions, levels and kinds,
nicknames) are then checked by the core, which words its own refusals.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import io
import logging
import math
import re
import unicodedata
from collections.abc import AsyncGenerator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
import segno
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import FormParser, MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from livequiz import api_models, apikeys, exports, webhooks
from livequiz.auth import Claims, Role, TokenError
from livequiz.domain import flags, reports, views
from livequiz.domain.commands import End
from livequiz.domain.errors import ErrorCode, Rejected
from livequiz.domain.question import MAX_QUESTIONS as MAX_QUIZ_QUESTIONS
from livequiz.domain.question import InvalidQuestions, Question, parse_questions
from livequiz.domain.session import Phase, QuizSession, check_due
from livequiz.domain.settings import QuizSettings
from livequiz.identity import AppTokenError, AppTokens
from livequiz.join_address import LOCAL_ONLY_HINT, JoinAddress
from livequiz.moderation import is_unfit_question_text
from livequiz.openapi import OPENAPI
from livequiz.ports import ApiKey, Flag, Unavailable, UnknownQuiz
from livequiz.service import QuizService
from livequiz.transport import MAX_BODY_BYTES
from livequiz.transport.http_guard import Refusal, Screen, too_large_message
from livequiz.vocabulary import (
    Deck,
    QuestionKind,
    WordListError,
    generate_quiz,
    load_wordlist,
    replacement_question,
)
from livequiz.vocabulary.kahoot import AUTHORED, read_kahoot
from livequiz.vocabulary.speech import MISSING as MISSING_SPEECH
from livequiz.vocabulary.speech import Speech
from livequiz.vocabulary.wordlist import MIN_WORDS, Problem, read_wordlist

log = logging.getLogger("livequiz.http")

#: A quiz ID as the service makes them (``secrets.token_hex(8)``).
_QUIZ_ID = re.compile(r"[0-9a-f]{16}")
#: Quiz generation runs here, off the event loop, one quiz at a time.
_generator = ThreadPoolExecutor(max_workers=1, thread_name_prefix="livequiz-generate")

#: What makes questions; a creation that sends its own ``questions`` sends none of these.
GENERATION_FIELDS = frozenset({"count", "seed", "levels", "kinds", "words"})
_QUESTION_KINDS = frozenset(kind.value for kind in QuestionKind)
#: The fields a form may hold (a creation's; a draft's are fewer).
_MAX_FORM_FIELDS = len(api_models.fields_of(api_models.CreateQuiz))

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
    ErrorCode.APP_SIGN_IN_REQUIRED: 403,
    ErrorCode.KICKED: 403,
    ErrorCode.QUIZ_FINISHED: 410,
    ErrorCode.INVALID_DUE: 422,
    ErrorCode.UNAVAILABLE: 503,
}

#: Error codes of the HTTP layer itself, with their status (the core's codes are in STATUS).
API_ERROR_CODES: dict[str, int] = {
    "bad_json": 400,
    "bad_form": 400,
    # answered by the transport (livequiz.transport.http_guard) before any route: the HTTP
    # parser refused the request line, a header or the body's framing
    "malformed_request": 400,
    # answered by the transport too: a complete head, then a body that did not come in time
    "request_timeout": 408,
    "auth_required": 401,
    "bad_token": 401,
    # the learning app's token (app_token) is malformed, forged, expired, or not for us
    "bad_app_token": 401,
    # an API key of the learning app that is malformed, unknown or revoked
    "bad_api_key": 401,
    "forbidden": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "too_large": 413,
    "bad_request": 422,
    "bad_word_list": 422,
    "not_in_review": 409,
    "rate_limited": 429,
    "internal": 500,
    "unavailable": 503,
}


class ApiError(Exception):
    """A refusal of the HTTP layer: status, stable code, a message a developer can act on, and
    for some codes more fields of the error object (``bad_word_list``: ``errors`` and
    ``error_count``)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: Mapping[str, str] | None = None,
        *,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers
        self.details = details


def error_response(
    status: int,
    code: str,
    message: str,
    headers: Mapping[str, str] | None = None,
    details: Mapping[str, Any] | None = None,
) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message, **(details or {})}},
        status_code=status,
        headers=headers,
    )


def word_list_error(error: WordListError) -> ApiError:
    """``bad_word_list``: ``message`` reads as the first problem and how many more there are;
    ``errors`` lists the first :data:`~livequiz.vocabulary.wordlist.MAX_PROBLEMS` problems,
    each ``{"line", "item", "message"}``, and ``error_count`` counts them all."""
    return ApiError(
        422,
        "bad_word_list",
        error.summary,
        details={
            "errors": [problem.to_json() for problem in error.problems],
            "error_count": error.total,
        },
    )


_JOIN_PATH = re.compile(r"/api/quizzes/[^/]+/players")


_JOINS_RATE_LIMITED = "too many joins from your address; wait a moment"
#: How long ``/metrics`` waits for the readiness check behind ``livequiz_ready`` (a scrape's
#: own timeout is 10 s by default).
READY_CHECK_TIMEOUT_S = 2.0


def _join_retry_after(service: QuizService) -> dict[str, str]:
    return {"retry-after": str(max(1, math.ceil(1 / service.limits.joins_per_second)))}


def join_screen(service: QuizService) -> Screen:
    """The HTTP guard's screen: a join over its address's budget is answered 429 from the
    request head, before routing, exactly as :func:`build_api`'s join would answer it (under a
    join storm most requests are such refusals). Everything else goes to the application,
    which checks the budget again (and takes the token)."""

    def screen(method: str, path: str, address: str) -> Refusal | None:
        if (
            method == "POST"
            and service.ready
            and _JOIN_PATH.fullmatch(path)
            and service.join_budget_spent(address)
        ):
            service.metrics.errors.labels("rate_limited").inc()  # as the API's own refusal
            return 429, "rate_limited", _JOINS_RATE_LIMITED, _join_retry_after(service)
        return None

    return screen


def build_api(
    service: QuizService,
    deck: Deck,
    app_tokens: AppTokens | None = None,
    join_address: JoinAddress | None = None,
    speech: Speech | None = None,
) -> Starlette:
    """The Starlette app with every HTTP endpoint, bound to one service; ``app_tokens`` checks
    the learning app's sign-in (``None``: not configured, app joins are refused); ``speech``
    says listening questions (``None``: the server has no synthesizer, they are refused)."""

    def require_ready() -> None:
        # Before start and after stop no pump runs: a command would wait forever.
        if not service.ready:
            raise ApiError(
                503,
                "unavailable",
                "the server is starting or stopping; try again in a moment",
                {"retry-after": "1"},
            )

    async def flagged() -> frozenset[tuple[str, str]]:
        """The ``(word, kind)`` pairs flagged on this server, read from storage at every
        generation: whichever process generates, it sees every flag not cleared yet."""
        return frozenset(
            (f.word.casefold(), f.kind) for f in await service.store.records.open_flags()
        )

    async def source_of(words: str | None) -> Any:
        """The built-in deck, or the author's word list of ``words`` (backed by the deck), read
        on the generator's thread: a long list would stall every quiz's acks on the loop."""
        if words is None:
            return deck
        try:
            return await asyncio.get_running_loop().run_in_executor(
                _generator, functools.partial(load_wordlist, words, deck=deck)
            )
        except WordListError as error:
            raise word_list_error(error) from None

    async def lenient_source(words: str | None) -> tuple[Any, list[Problem], int]:
        """For a preview: the author's list without the lines that have mistakes (named, with
        why), so the teacher sees the questions the rest makes; refused only if too little is
        left, or a mistake concerns the whole list (malformed, no word column, too short)."""
        if words is None:
            return deck, [], 0
        entries, problems, total = await asyncio.get_running_loop().run_in_executor(
            _generator, functools.partial(read_wordlist, words, deck=deck)
        )
        whole = any(problem.line is None and problem.item is None for problem in problems)
        if total and (whole or len(entries) < MIN_WORDS):
            raise word_list_error(WordListError.of(problems, total))
        return entries, problems, total

    async def kahoot_questions(
        body: dict[str, Any], encoded: str
    ) -> tuple[list[Question], list[Problem], int]:
        """A Kahoot! spreadsheet's questions as written, and its rows left out (and why)."""
        given = sorted((GENERATION_FIELDS - {"count"}) & set(body))
        if given:
            raise ApiError(
                422,
                "bad_request",
                f"send kahoot or {given[0]}, not both: the file has the questions",
            )
        try:
            data = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise ApiError(
                422, "bad_request", "kahoot must be the .xlsx file, base64-encoded"
            ) from None
        try:
            questions, problems, total = await asyncio.get_running_loop().run_in_executor(
                _generator, functools.partial(read_kahoot, data)
            )
        except WordListError as error:
            raise word_list_error(error) from None
        if not questions:
            raise word_list_error(WordListError.of(problems, total))
        return questions[:MAX_QUIZ_QUESTIONS], problems, total

    async def generate(
        options: api_models.CreateQuiz | api_models.DraftQuiz, source: Any = None
    ) -> list[Question]:
        if source is None:
            source = await source_of(options.words)
        exclude = await flagged()
        # Bad levels or kinds, or too few words for ``count``, are Rejected (422) by the core.
        # Generating takes 0.1-0.3 s of CPU: on the loop it would stall every quiz's acks.
        return await asyncio.get_running_loop().run_in_executor(
            _generator,
            functools.partial(
                generate_quiz,
                source,
                # the core reads them ("b1" is B1) and refuses unknown ones with its message
                levels=options.levels,
                kinds=options.kinds,
                count=options.count,
                seed=options.seed,
                exclude=exclude,
                speech=speech,
            ),
        )

    async def create_quiz(request: Request) -> Response:
        require_ready()
        # The learning app creates quizzes with its API key (optional: the host page has none).
        key: ApiKey | None = None
        if "authorization" in request.headers:
            key = await _api_key(service, _bearer_token(request))
        body = await _read_options(request)
        webhook_url, webhook_secret = _webhook(body, key)
        options = _parsed(api_models.CreateQuiz, body)
        title = options.title.strip()
        settings = _settings(body, options.time_limit_s)
        # Checked before anything is made: a self-paced quiz is created handed out.
        due_at_ms = check_due(settings, body.get("due_at_ms"), service.clock())
        if "questions" in body:
            given = sorted(GENERATION_FIELDS & set(body))
            if given:
                raise ApiError(
                    422,
                    "bad_request",
                    f"send questions or {given[0]}, not both: questions are the quiz as it "
                    "stands (count, seed, levels, kinds and words are for generating one)",
                )
            # Off the loop: the profanity check loads the deck's words the first time.
            questions = list(
                await asyncio.get_running_loop().run_in_executor(
                    _generator,
                    functools.partial(
                        parse_questions,
                        body["questions"],
                        kinds=_QUESTION_KINDS | {AUTHORED},
                        is_profane=is_unfit_question_text,
                    ),
                )
            )
        else:
            questions = await generate(options)
        if speech is None and any(q.kind == QuestionKind.LISTENING for q in questions):
            raise ApiError(422, "invalid_settings", MISSING_SPEECH)
        definition, host_token = await service.create_quiz(
            title,
            questions,
            settings,
            due_at_ms=due_at_ms,
            created_by=None if key is None else key.key_id,
            webhook=None if webhook_url is None else (webhook_url, webhook_secret),
        )
        return JSONResponse(
            {
                "quiz_id": definition.quiz_id,
                "pin": definition.pin,
                "title": definition.title,
                "host_token": host_token,
                "join_url": f"/play?pin={definition.pin}",
                "questions": len(definition.questions),
                "settings": settings.to_mapping(),
                "due_at_ms": due_at_ms,
                # a quiz's own webhook's secret, shown this once (a key's the app has already)
                "webhook_secret": None
                if webhook_url is None or "webhook_url" not in body
                else webhook_secret,
            },
            status_code=201,
        )

    async def draft(request: Request) -> Response:
        require_ready()
        body = await _read_options(request)
        # the title too is checked now, so the teacher hears of a bad one before the preview
        options = _parsed(api_models.DraftQuiz, body)
        check_due(_settings(body, options.time_limit_s), body.get("due_at_ms"), service.clock())
        if "kahoot" in body:
            questions, left_out, left_out_count = await kahoot_questions(body, options.kahoot)
        else:
            source, left_out, left_out_count = await lenient_source(options.words)
            questions = await generate(options, source)
        return JSONResponse(
            {
                "questions": [question_json(q) for q in questions],
                # the lines of the author's list left out, and why (none: an empty list)
                "left_out": [
                    {"line": p.line, "item": p.item, "message": p.message} for p in left_out
                ],
                "left_out_count": left_out_count,
            }
        )

    async def replacement(request: Request) -> Response:
        require_ready()
        body = await _read_json(request)
        wanted = _parsed(api_models.ReplacementRequest, body)
        source = await source_of(wanted.words)
        exclude = await flagged()
        question = await asyncio.get_running_loop().run_in_executor(
            _generator,
            functools.partial(
                replacement_question,
                source,
                # as sent: the core reads them and refuses an unknown kind or level
                kind=wanted.kind,
                level=wanted.level,
                avoid=wanted.avoid,
                seed=wanted.seed,
                exclude=exclude,
                speech=speech,
            ),
        )
        return JSONResponse({"question": question_json(question)})

    def limit_joins(request: Request) -> None:
        """Joins (and requests to join again) are limited per client address."""
        require_ready()
        address = request.client.host if request.client else "unknown"
        if not service.allow_join(address):
            raise ApiError(429, "rate_limited", _JOINS_RATE_LIMITED, _join_retry_after(service))

    async def join_quiz(request: Request) -> Response:
        limit_joins(request)
        pin = request.path_params["pin"]
        body = await _read_json(request)
        if "app_token" in body and "nickname" in body:
            raise ApiError(
                422, "bad_request", "send nickname or app_token, not both: the app names you"
            )
        if "app_token" not in body and "nickname" not in body:
            raise ApiError(422, "nickname_invalid", "nickname must be a string")
        joining = _parsed(api_models.JoinRequest, body)
        user_id: str | None = None
        name: object
        if "app_token" in body:
            if app_tokens is None:
                raise ApiError(
                    422, "bad_request", "this server takes no app sign-in (none is configured)"
                )
            try:
                user = await app_tokens.verify(body["app_token"])
            except AppTokenError as error:
                raise ApiError(401, "bad_app_token", str(error)) from None
            name, user_id = user.name, user.user_id
        else:
            name = joining.nickname  # the nickname rules (after normalisation) are the core's
        team = joining.team  # a team the quiz does not have: the core says which it has
        if team is not None and user_id is not None:
            raise ApiError(422, "bad_request", "the app's users join the smallest team")
        try:
            quiz_id, player_id, nickname, token = await service.join(
                pin, name, user_id=user_id, team=team
            )
        except UnknownQuiz:
            raise _unknown_pin() from None
        service.metrics.joins.labels("http").inc()
        return JSONResponse(
            {"quiz_id": quiz_id, "player_id": player_id, "nickname": nickname, "token": token},
            status_code=201,
        )

    async def ask_to_rejoin(request: Request) -> Response:
        """A student on a borrowed device asks to be their (away) player again."""
        limit_joins(request)
        pin = request.path_params["pin"]
        body = await _read_json(request)
        asking = _parsed(api_models.RejoinRequest, body)
        try:
            _, request_id, nickname = await service.request_rejoin(pin, asking.nickname)
        except UnknownQuiz:
            raise _unknown_pin() from None
        return JSONResponse(
            {"request_id": request_id, "status": "waiting", "nickname": nickname, "token": None},
            status_code=202,
        )

    async def rejoin_answer(request: Request) -> Response:
        """What the host said: poll until ``let_in`` (with the player's token) or
        ``turned_away``."""
        pin = request.path_params["pin"]
        request_id = request.path_params["request_id"]
        try:
            status, nickname, token = await service.rejoin_status(pin, request_id)
        except UnknownQuiz:
            raise ApiError(404, "unknown_quiz", "no such quiz or request") from None
        return JSONResponse(
            {"request_id": request_id, "status": status, "nickname": nickname, "token": token},
            headers={"cache-control": "no-store"},
        )

    async def quiz_state(request: Request) -> Response:
        pin = request.path_params["pin"]
        quiz_id = await service.store.records.live_quiz_for_pin(pin)
        if quiz_id is None:
            raise _unknown_pin()
        await service.ensure(quiz_id)
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
                "joinable": _joinable(session),
                "due_at_ms": session.due_at_ms,
                "teams": session.settings.teams,
                "team_choice": session.settings.team_choice,
            }
        )

    async def question_audio(request: Request) -> Response:
        """The spoken word of a listening question, once the question has been asked (before,
        it would give a player its answer early). No token: an ``<audio>`` element sends none,
        and the quiz ID is not guessable."""
        quiz_id = request.path_params["quiz_id"]
        if not _QUIZ_ID.fullmatch(quiz_id):  # no token names it: checked before any lookup
            raise ApiError(404, "unknown_quiz", "no quiz has that ID")
        text = request.path_params["index"]
        index = int(text) if text.isascii() and text.isdigit() and len(text) <= 4 else -1
        await service.ensure(quiz_id)
        session = service.store.session(quiz_id)
        asked = (
            any(player.at >= index for player in session.players.values())
            if session.self_paced
            else index <= session.current
        )
        if not 0 <= index < len(session.questions) or not asked:
            raise ApiError(404, "not_found", "no such question asked in this quiz yet")
        question = session.questions[index]
        if question.kind != QuestionKind.LISTENING:
            raise ApiError(404, "not_found", "this question is not a listening question")
        if speech is None:
            raise ApiError(503, "unavailable", MISSING_SPEECH)
        path = await asyncio.get_running_loop().run_in_executor(
            _generator, speech.audio, question.answer
        )
        return FileResponse(
            path, media_type="audio/wav", headers={"cache-control": "private, max-age=86400"}
        )

    async def results(request: Request) -> Response:
        quiz_id = request.path_params["quiz_id"]
        claims = await _caller(request, service, quiz_id)
        fmt = _format(request, "json", "csv")
        await service.ensure(quiz_id)
        # A copy lags the owner's log (the host may have seen the end on another process a
        # moment before): the report is read up to the journal.
        await service.refresh(quiz_id)
        session = service.store.session(quiz_id)
        if claims.role is Role.PLAYER:
            if fmt == "csv":
                raise ApiError(403, "forbidden", "the CSV report is for the host; players get JSON")
            session = await _with_player(service, quiz_id, claims.player_id)
            return JSONResponse(views.player_results(session, claims.player_id))
        report = views.final_results(session)
        if fmt == "csv":
            return _attachment(exports.results_csv(report), _CSV, f"quiz-{quiz_id}-results.csv")
        return JSONResponse(report)

    async def class_report(request: Request) -> Response:
        """The teacher's report: the words the class did not know, and each student's answers."""
        quiz_id = request.path_params["quiz_id"]
        claims = await _caller(request, service, quiz_id)
        fmt = _format(request, "json", "csv", "xlsx")
        if claims.role is not Role.HOST:
            raise ApiError(403, "forbidden", "the class report is for the host")
        await service.ensure(quiz_id)
        await service.refresh(quiz_id)  # a copy lags the owner's log: read up to the journal
        report = reports.class_report(service.store.session(quiz_id))
        if fmt == "json":
            return JSONResponse(report)
        # A big class's workbook takes seconds to write: off the event loop.
        loop = asyncio.get_running_loop()
        name = f"quiz-{quiz_id}-report"
        if fmt == "csv":
            text = await loop.run_in_executor(None, exports.report_csv, report)
            return _attachment(text, _CSV, f"{name}.csv")
        title = service.store.definition(quiz_id).title
        workbook = functools.partial(exports.report_xlsx, report, title=title)
        data = await loop.run_in_executor(None, workbook)
        return _attachment(data, exports.XLSX_MEDIA_TYPE, f"{name}.xlsx")

    async def words_to_practise(request: Request) -> Response:
        """Words to keep practising, as an Anki deck or CSV: a player's missed words (their
        token), or the class's words to reteach (the host's)."""
        quiz_id = request.path_params["quiz_id"]
        claims = await _caller(request, service, quiz_id)
        fmt = _format(request, "apkg", "csv")
        await service.ensure(quiz_id)
        await service.refresh(quiz_id)
        session = service.store.session(quiz_id)
        title = service.store.definition(quiz_id).title
        if claims.role is Role.PLAYER:
            session = await _with_player(service, quiz_id, claims.player_id)
            words = views.player_results(session, claims.player_id)["missed"]
            name, key = f"{title}: words to practise", f"{quiz_id}/{claims.player_id}"
        else:
            report = reports.class_report(session)
            words = [
                {
                    "word": session.questions[w["index"]].word,
                    "definition": session.questions[w["index"]].definition,
                    "example": session.questions[w["index"]].example,
                }
                for w in report["words"]
                if w["to_reteach"]
            ]
            name, key = f"{title}: words to reteach", f"{quiz_id}/class"
        filename = f"quiz-{quiz_id}-words.{fmt}"
        if fmt == "csv":
            return _attachment(exports.words_csv(words), _CSV, filename)
        deck = functools.partial(exports.words_deck, name, words, key=key)
        data = await asyncio.get_running_loop().run_in_executor(None, deck)
        return _attachment(data, exports.APKG_MEDIA_TYPE, filename)

    async def end_quiz(request: Request) -> Response:
        """End a quiz now (live or homework): the host's token, or the API key that created
        it. Its results are final, and go to its webhook."""
        require_ready()
        quiz_id = request.path_params["quiz_id"]
        claims = await _caller(request, service, quiz_id)
        if claims.role is not Role.HOST:
            raise ApiError(403, "forbidden", "only the host (or the app that made it) ends a quiz")
        await service.ensure(quiz_id)  # an unknown quiz: 404 (no owner would ever answer)
        outcome = await service.call(quiz_id, End())
        if isinstance(outcome, Rejected):
            raise outcome
        return JSONResponse({"quiz_id": quiz_id, "phase": "finished"})

    joining = join_address or JoinAddress(public_url=None, listen_host="127.0.0.1")

    def join_url_of(request: Request, pin: str) -> tuple[str, bool]:
        base, reachable = joining.base_for(str(request.base_url))
        return f"{base}/play?pin={pin}", reachable

    async def join_link(request: Request) -> Response:
        pin = request.path_params["pin"]
        if await service.store.records.live_quiz_for_pin(pin) is None:
            raise _unknown_pin()
        join_url, reachable = join_url_of(request, pin)
        return JSONResponse(
            {
                "pin": pin,
                "join_url": join_url,
                "reachable": reachable,
                "hint": None if reachable else LOCAL_ONLY_HINT,
            },
            headers={"cache-control": "no-store"},
        )

    async def qr_code(request: Request) -> Response:
        pin = request.path_params["pin"]
        if await service.store.records.live_quiz_for_pin(pin) is None:
            raise _unknown_pin()
        join_url, _ = join_url_of(request, pin)
        return Response(
            join_qr_svg(join_url),
            media_type="image/svg+xml",
            # PINs are reused once a quiz ends: never cache a code under its PIN for long.
            headers={"cache-control": "no-store"},
        )

    async def flag_question(request: Request) -> Response:
        quiz_id = request.path_params["quiz_id"]
        claims = _bearer(request, service, quiz_id)
        body = await _read_json(request)
        flag = _parsed(api_models.FlagRequest, body)
        index = flag.index
        problem = flags.reason_problem(flag.reason)  # the core's rule, lone surrogates included
        if problem is not None:
            raise ApiError(422, "bad_request", problem)
        reason = (flag.reason or "").strip()
        await service.ensure(quiz_id)
        session = service.store.session(quiz_id)
        if claims.role is Role.PLAYER:
            session = await _with_player(service, quiz_id, claims.player_id)
            flagger = f"player:{claims.player_id}"
        else:
            flagger = "host"
        if index >= len(session.questions):
            raise ApiError(
                422,
                "bad_request",
                f"this quiz has {len(session.questions)} questions: index must be 0 to "
                f"{len(session.questions) - 1}",
            )
        question = flags.flaggable(session, index)
        if question is None:
            raise ApiError(
                409,
                "not_in_review",
                "a question can be flagged once it has closed (at its reveal or in the review)",
            )
        new = await service.store.records.add_flag(
            Flag(
                word=question.word,
                kind=question.kind,
                level=question.level,
                prompt=question.prompt,
                quiz_id=quiz_id,
                question=index,
                flagger=flagger,
                reason=reason,
                at_ms=service.clock(),
            )
        )
        return JSONResponse(
            {"index": index, "word": question.word, "kind": question.kind, "new": new}
        )

    async def list_flags(request: Request) -> Response:
        _host_bearer(request, service)
        listed = await service.store.records.open_flags()
        return JSONResponse({"flags": [f.to_dict() for f in listed]})

    async def clear_flags(request: Request) -> Response:
        _host_bearer(request, service)
        kind, word = request.path_params["kind"], request.path_params["word"]
        if kind not in _QUESTION_KINDS:
            raise ApiError(
                422, "bad_request", f"kind must be one of {', '.join(sorted(_QUESTION_KINDS))}"
            )
        if not 1 <= len(word) <= api_models.MAX_AVOID_CHARS:
            raise ApiError(422, "bad_request", "word must be 1 to 50 characters")
        if any(unicodedata.category(char) == "Cc" for char in word):
            # found by schemathesis: no question's word holds one, so no flag can be cleared
            raise ApiError(422, "bad_request", "word must be one line of text")
        cleared = await service.store.records.clear_flags(word, kind)
        return JSONResponse({"word": word, "kind": kind, "cleared": cleared})

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_request: Request) -> Response:
        # Ready means able to do the work now: started, and storage and the bus reachable.
        # A load balancer takes a process that cannot store answers out of rotation.
        problem = await service.healthy()
        if problem is None:
            return JSONResponse({"status": "ready"})
        status = "starting" if not service.ready else "unavailable"
        return JSONResponse({"status": status, "reason": problem}, status_code=503)

    async def metrics(_request: Request) -> Response:
        # What /readyz would answer, for Prometheus: a fault of an idle process (storage or the
        # bus gone at night) shows before the first lesson, not with its first refused answer.
        # Bounded, so a storage check that hangs never holds the scrape itself.
        try:
            problem = await asyncio.wait_for(service.healthy(), READY_CHECK_TIMEOUT_S)
        except TimeoutError:
            problem = "storage did not answer"
        service.metrics.ready.set(0 if problem else 1)
        return Response(service.metrics.render(), media_type="text/plain; version=0.0.4")

    async def openapi(_request: Request) -> Response:
        return JSONResponse(OPENAPI)

    async def on_api_error(_request: Request, error: Exception) -> Response:
        assert isinstance(error, ApiError)
        service.metrics.errors.labels(error.code).inc()
        return error_response(error.status, error.code, error.message, error.headers, error.details)

    async def on_rejected(_request: Request, error: Exception) -> Response:
        assert isinstance(error, Rejected)
        service.metrics.errors.labels(error.code.value).inc()
        if isinstance(error, InvalidQuestions):
            # one entry per problem, each naming the question and the field, for a form to mark
            body = {
                "error": {
                    "code": error.code.value,
                    "message": error.message,
                    "problems": [problem.to_dict() for problem in error.problems],
                }
            }
            return JSONResponse(body, status_code=STATUS[error.code])
        return error_response(STATUS.get(error.code, 409), error.code.value, error.message)

    async def on_unavailable(_request: Request, error: Exception) -> Response:
        log.warning("storage or bus unavailable: %s", error)
        service.metrics.errors.labels("unavailable").inc()
        return error_response(
            503,
            "unavailable",
            "the server cannot reach its storage right now; try again in a moment",
            {"retry-after": "1"},
        )

    async def on_unknown_quiz(_request: Request, _error: Exception) -> Response:
        service.metrics.errors.labels("unknown_quiz").inc()
        return error_response(404, "unknown_quiz", "no quiz has that ID")

    async def on_http(request: Request, error: Exception) -> Response:
        # Starlette's own refusals: no route (404) or no such method on a route (405, with Allow).
        assert isinstance(error, HTTPException)
        if error.status_code == 404:
            code, message = "not_found", f"nothing at {request.url.path[:100]}; see /openapi.json"
        elif error.status_code == 405:
            allowed = (error.headers or {}).get("Allow", "")
            code, message = "method_not_allowed", f"{request.method} is not allowed here"
            message += f"; use {allowed}" if allowed else ""
        else:  # pragma: no cover - no route raises another HTTPException
            code, message = "bad_request", str(error.detail)
        service.metrics.errors.labels(code).inc()
        return error_response(error.status_code, code, message, error.headers)

    async def on_crash(_request: Request, _error: Exception) -> Response:
        log.exception("request failed")
        service.metrics.errors.labels("internal").inc()
        return error_response(500, "internal", "something went wrong on our side")

    routes = [
        Route("/api/quizzes", create_quiz, methods=["POST"]),
        Route("/api/quizzes/{pin}", quiz_state, methods=["GET"]),
        Route("/api/quizzes/{pin}/players", join_quiz, methods=["POST"]),
        Route("/api/quizzes/{quiz_id}/results", results, methods=["GET"]),
        Route("/api/quizzes/{quiz_id}/report", class_report, methods=["GET"]),
        Route("/api/quizzes/{quiz_id}/words", words_to_practise, methods=["GET"]),
        Route("/api/quizzes/{quiz_id}/end", end_quiz, methods=["POST"]),
        Route("/api/quizzes/{pin}/qr.svg", qr_code, methods=["GET"]),
        Route("/api/quizzes/{quiz_id}/audio/{index}", question_audio, methods=["GET"]),
        Route("/api/quizzes/{pin}/join", join_link, methods=["GET"]),
        Route("/api/quizzes/{pin}/rejoin", ask_to_rejoin, methods=["POST"]),
        Route("/api/quizzes/{pin}/rejoin/{request_id}", rejoin_answer, methods=["GET"]),
        Route("/api/quizzes/{quiz_id}/flags", flag_question, methods=["POST"]),
        Route("/api/drafts", draft, methods=["POST"]),
        Route("/api/drafts/replacement", replacement, methods=["POST"]),
        Route("/api/flags", list_flags, methods=["GET"]),
        Route("/api/flags/{kind}/{word}", clear_flags, methods=["DELETE"]),
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
            Unavailable: on_unavailable,
            HTTPException: on_http,
            Exception: on_crash,
        },
    )


def join_qr_svg(join_url: str) -> str:
    """A QR code of ``join_url`` as a standalone SVG document (black on white, a quiet zone)."""
    out = io.BytesIO()
    segno.make(join_url, error="m").save(
        out,
        kind="svg",
        scale=8,
        border=4,
        xmldecl=False,
        title=f"QR code to join: {join_url}",
        light="#fff",
    )
    return out.getvalue().decode("utf-8")


def _unknown_pin() -> ApiError:
    return ApiError(404, "unknown_quiz", "no live quiz has that PIN")


def _joinable(session: QuizSession) -> bool:
    """Whether a join would be let in now (the nickname aside): what a join page shows first."""
    return (
        session.phase is not Phase.FINISHED
        and not session.locked
        and (session.phase in (Phase.LOBBY, Phase.IN_PROGRESS) or session.settings.allow_late_join)
        and len(session.board) < session.settings.max_players
    )


# ---------------------------------------------------------------------- request bodies


def _too_large() -> ApiError:
    return ApiError(413, "too_large", too_large_message(MAX_BODY_BYTES))


async def _limited_stream(request: Request) -> AsyncGenerator[bytes, None]:
    """The request body, refused with 413 once it passes :data:`MAX_BODY_BYTES`.

    The declared ``Content-Length`` is checked first (nothing is read of a body that says it is
    too large); the running count covers chunked bodies that declare nothing.
    """
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
        raise _too_large()
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _too_large()
        yield chunk


async def _read_json(request: Request) -> dict[str, Any]:
    raw = b"".join([chunk async for chunk in _limited_stream(request)])
    try:
        body = orjson.loads(raw or b"{}")
    except orjson.JSONDecodeError:
        raise ApiError(400, "bad_json", "the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "bad_json", "the request body must be a JSON object")
    return body


class _MultiPartParser(MultiPartParser):
    """Starlette's multipart parser, noticing whether the closing boundary ever came: a body cut
    short must be refused, not read as a form with the missing fields left at their defaults."""

    complete = False

    def on_end(self) -> None:
        self.complete = True


#: Form fields that are text as they stand; every other field's value is read as JSON when it
#: parses (``count=10``, ``settings={...}``) and kept as text when it does not (``levels=A1,B1``).
_TEXT_FIELDS = frozenset({"title", "words", "webhook_url"})


async def _read_options(request: Request) -> dict[str, Any]:
    """Quiz options as JSON, or as a form: multipart with the word list as a file upload, or
    URL-encoded (a plain HTML form) with the word list as a text field."""
    content_type = request.headers.get("content-type", "").lower()
    if content_type.startswith("multipart/form-data"):
        parser: MultiPartParser | FormParser = _MultiPartParser(
            request.headers,
            _limited_stream(request),
            max_files=1,
            max_fields=_MAX_FORM_FIELDS,
            max_part_size=MAX_BODY_BYTES,
        )
    elif content_type.startswith("application/x-www-form-urlencoded"):
        parser = FormParser(
            request.headers,
            _limited_stream(request),
            max_fields=_MAX_FORM_FIELDS,
            max_part_size=MAX_BODY_BYTES,
        )
    else:
        return await _read_json(request)
    try:
        form = await parser.parse()
    except MultiPartException as error:
        raise ApiError(400, "bad_form", f"malformed form body: {error.message}") from None
    if isinstance(parser, _MultiPartParser) and not parser.complete:
        raise ApiError(400, "bad_form", "malformed form body: it ends before its last part")
    body: dict[str, Any] = {}
    given: set[str] = set()
    try:
        for key, value in form.multi_items():
            if key in given:
                raise ApiError(422, "bad_request", f"the field {key[:32]!r} is given twice")
            given.add(key)
            if isinstance(value, UploadFile):
                if key != "words":
                    raise ApiError(
                        422, "bad_request", "the only file field is 'words' (the word list)"
                    )
                data = await value.read()
                if not value.filename and not data:
                    continue  # a file input with no file chosen: no word list
                body[key] = _upload_text(data)
            elif value == "":
                continue  # an input left empty: a plain HTML form sends it, meaning nothing
            elif key in _TEXT_FIELDS:
                body[key] = value
            else:
                try:
                    body[key] = orjson.loads(value)
                except orjson.JSONDecodeError:
                    body[key] = value
    finally:
        await form.close()
    for key in ("levels", "kinds"):
        if isinstance(body.get(key), str):
            body[key] = [part.strip() for part in body[key].split(",") if part.strip()]
    return body


def _upload_text(data: bytes) -> str:
    """An uploaded word list as text; a file that is not UTF-8 is refused naming the line."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        problem = WordListError(line, "the file is not UTF-8 text; save it as UTF-8")
        raise word_list_error(problem) from None


def question_json(question: Question) -> dict[str, Any]:
    """A question as the preview shows it and as a creation takes it back (every field)."""
    return {
        "prompt": question.prompt,
        "options": list(question.options),
        "correct_option": question.correct_option,
        "kind": question.kind,
        "level": question.level,
        "word": question.word,
        "definition": question.definition,
        "example": question.example,
    }


def _parsed(model: type[api_models.M], body: Mapping[str, Any]) -> api_models.M:
    """``body`` as its request model (:mod:`livequiz.api_models`), or the refusal of its first
    bad field, with the code and message the API documents."""
    try:
        return api_models.parse(model, body)
    except api_models.BodyRefused as refused:
        status = {**STATUS, **API_ERROR_CODES}.get(refused.code, 422)
        raise ApiError(status, refused.code, refused.message) from None


async def _with_player(service: QuizService, quiz_id: str, player_id: int) -> QuizSession:
    """The quiz's session, read up to the journal first if this process's copy does not know
    the token's player yet (a signed token names a stored join; the copy may lag behind);
    401 if the player is not in it even so, 403 if the host removed them."""
    if player_id not in service.store.session(quiz_id).players:
        await service.refresh(quiz_id)
        await service.ensure(quiz_id)
    session = service.store.session(quiz_id)
    player = session.players.get(player_id)
    if player is None:
        raise ApiError(401, "bad_token", "no such player in this quiz", _INVALID_TOKEN)
    if player.kicked:
        raise ApiError(403, "kicked", "the host removed you from this quiz")
    return session


def _settings(body: Mapping[str, Any], time_limit_s: int | None) -> QuizSettings:
    """The quiz's settings, checked by the core (its messages name the setting); the model has
    already refused a ``settings`` that is no object."""
    values = dict(body.get("settings") or {})
    if time_limit_s is not None:
        if "time_limit_ms" in values:
            raise ApiError(
                422, "bad_request", "give time_limit_s or settings.time_limit_ms, not both"
            )
        values["time_limit_ms"] = time_limit_s * 1000
    return QuizSettings.from_mapping(values)


# ---------------------------------------------------------------------- results

_INVALID_TOKEN = {"www-authenticate": 'Bearer error="invalid_token"'}


def _bearer(request: Request, service: QuizService, quiz_id: str) -> Claims:
    """The verified claims of the request's bearer token, which must be for ``quiz_id``.

    401 for a missing, malformed, forged or expired token (RFC 6750 §3.1 ``invalid_token``);
    403 for a genuine token of another quiz.
    """
    claims = _verified(request, service)
    if claims.quiz_id != quiz_id:
        raise ApiError(403, "forbidden", "this token is for another quiz")
    return claims


_CSV = "text/csv; charset=utf-8"


def _format(request: Request, *choices: str) -> str:
    """The ``format`` query parameter, one of ``choices`` (the first is the default)."""
    fmt = request.query_params.get("format", choices[0])
    if fmt not in choices:
        listed = ", ".join(f"'{c}'" for c in choices[:-1])
        raise ApiError(422, "bad_request", f"format must be {listed} or '{choices[-1]}'")
    return fmt


def _attachment(content: str | bytes, media_type: str, filename: str) -> Response:
    """A file to download, named ``filename``."""
    disposition = {"content-disposition": f'attachment; filename="{filename}"'}
    return Response(content, media_type=media_type, headers=disposition)


async def _caller(request: Request, service: QuizService, quiz_id: str) -> Claims:
    """Who reads the quiz: a host's or player's token (:func:`_bearer`), or the API key of the
    learning app that created it (a host's rights, for that app's quizzes only)."""
    token = _bearer_token(request)
    if not apikeys.looks_like_api_key(token):
        return _bearer(request, service, quiz_id)
    key = await _api_key(service, token)
    await service.ensure(quiz_id)
    if service.store.definition(quiz_id).created_by != key.key_id:
        raise ApiError(403, "forbidden", "this quiz was not created with this API key")
    return Claims(quiz_id, Role.HOST, 0, 0)


def _webhook(body: dict[str, Any], key: ApiKey | None) -> tuple[str | None, str]:
    """The quiz's webhook (URL, signing secret): its own ``webhook_url`` (a fresh secret), else
    its API key's; only a quiz the app creates with its key has one (the server POSTs to the
    URL: not something anyone who can open the host page may point anywhere)."""
    if "webhook_url" in body:
        if key is None:
            raise ApiError(
                403, "forbidden", "a webhook needs the learning app's API key as the bearer"
            )
        try:
            return webhooks.check_url(body["webhook_url"]), webhooks.new_secret()
        except ValueError as error:
            raise ApiError(422, "bad_request", str(error)) from None
    if key is not None and key.webhook_url is not None and key.webhook_secret is not None:
        return key.webhook_url, key.webhook_secret
    return None, ""


async def _api_key(service: QuizService, token: str) -> ApiKey:
    """A genuine, unrevoked API key; 401 ``bad_api_key`` otherwise."""
    if not apikeys.looks_like_api_key(token):
        raise ApiError(
            401,
            "bad_api_key",
            "send no token, or the learning app's API key (lq_...) as the bearer",
            _INVALID_TOKEN,
        )
    parsed = apikeys.parse_api_key(token)
    if parsed is None:
        raise ApiError(401, "bad_api_key", "malformed API key", _INVALID_TOKEN)
    key_id, secret = parsed
    key = await service.store.records.api_key(key_id)
    if key is None or not apikeys.secret_matches(key, secret):
        raise ApiError(401, "bad_api_key", "unknown API key", _INVALID_TOKEN)
    if key.revoked_at_ms is not None:
        raise ApiError(401, "bad_api_key", "this API key was revoked", _INVALID_TOKEN)
    return key


def _bearer_token(request: Request) -> str:
    """The request's bearer token, or 401 ``auth_required``."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(
            401,
            "auth_required",
            "send the host or player token as 'Authorization: Bearer <token>'",
            {"www-authenticate": 'Bearer realm="livequiz"'},
        )
    return token.strip()


def _host_bearer(request: Request, service: QuizService) -> Claims:
    """The verified claims of a host's token, of any quiz of this server: the flags are the
    teachers' business, and whoever hosts a quiz here is a teacher of this server."""
    claims = _verified(request, service)
    if claims.role is not Role.HOST:
        raise ApiError(403, "forbidden", "only a host (the teacher) may see and clear flags")
    return claims


def _verified(request: Request, service: QuizService) -> Claims:
    """The verified claims of the request's bearer token (see :func:`_bearer`)."""
    token = _bearer_token(request)
    if not token.isascii():  # tokens are base64url; the signer only handles ASCII
        raise ApiError(401, "bad_token", "malformed token", _INVALID_TOKEN)
    try:
        return service.signer.verify(token, service.clock() // 1000)
    except TokenError as error:
        raise ApiError(401, "bad_token", str(error), _INVALID_TOKEN) from None
