"""The ``livequiz`` command: the single entry point for everything livequiz does.

Each subcommand is a small function that parses nothing itself: :func:`build_parser` owns every
option, so ``livequiz --help`` and ``livequiz COMMAND --help`` explain the whole tool.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from livequiz import __version__, configuration
from livequiz.domain.errors import Rejected
from livequiz.domain.question import Question
from livequiz.identity import AppAuthConfig
from livequiz.join_address import PublicUrlError, check_public_url
from livequiz.ports import StorageUnavailable
from livequiz.vocabulary import (
    Deck,
    Level,
    QuestionKind,
    WordListError,
    generate_quiz,
    load_wordlist_file,
)
from livequiz.vocabulary.sources import MissingSource
from livequiz.vocabulary.speech import PROGRAM
from livequiz.vocabulary.wordnet import DEFAULT_DIRECTORY, WordNet

DESCRIPTION = """\
livequiz: a real-time vocabulary quiz for English learners.

A host starts a quiz, learners join it with a short quiz ID from a phone or a browser, answer
timed questions built from real vocabulary data, and watch a live leaderboard.
"""

EPILOG = """\
examples:
  livequiz sample                          a 10-question quiz over all levels
  livequiz sample --level A2 --level B1 --kind fill_blank --count 5 --seed 7
  livequiz sample --words my-words.csv     questions from your own word list
  livequiz sample --json                   the same, as JSON (answers included)
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="livequiz",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"livequiz {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    sample = commands.add_parser(
        "sample",
        help="generate a vocabulary quiz and print it",
        description=(
            "Generate a vocabulary quiz from the built-in deck (18,945 English words with "
            "WordNet definitions) or from your own word list, and print it. The same options "
            "and seed always give the same quiz."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    sample.add_argument(
        "--level",
        dest="levels",
        action="append",
        choices=[level.value for level in Level],
        help="CEFR-like level of the words; repeat for several (default: all)",
    )
    sample.add_argument(
        "--kind",
        dest="kinds",
        action="append",
        choices=[kind.value for kind in QuestionKind],
        help="kind of question; repeat for several (default: all)",
    )
    sample.add_argument("--count", type=int, default=10, help="number of questions (1–200)")
    sample.add_argument("--seed", type=int, default=2026, help="seed: same seed, same quiz")
    sample.add_argument(
        "--words",
        metavar="FILE",
        help="your own word list, CSV or JSON: a 'word' column, and optionally "
        "'definition', 'pos', 'example', 'level' (missing ones come from the built-in deck)",
    )
    sample.add_argument("--json", action="store_true", help="print JSON instead of text")
    sample.add_argument(
        "--hide-answers", action="store_true", help="do not mark the correct options"
    )
    sample.set_defaults(handler=run_sample)

    serve = commands.add_parser(
        "serve",
        help="run the quiz server (HTTP API and WebSocket on one port)",
        description=(
            "Run the livequiz server: the HTTP API (POST /api/quizzes, …, OpenAPI at "
            "/openapi.json), the WebSocket endpoint /ws, /healthz, /readyz and /metrics, all on "
            "one port. State lives in memory; a SQLite journal in --data-dir makes every "
            "acknowledged answer survive a crash, and live quizzes come back on restart. "
            "Every option is also an environment variable (--some-option: "
            "LIVEQUIZ_SOME_OPTION) and a key of the --config file (some_option); "
            "'livequiz config' prints what is in effect."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    _server_options(serve)
    serve.set_defaults(handler=run_serve)

    config = commands.add_parser(
        "config",
        help="print the effective configuration of 'livequiz serve', secrets masked",
        description=(
            "Print every setting of 'livequiz serve' with the value it would run with and where "
            "that came from (flag, environment, file or default), given the same options, "
            "environment and --config file; secrets and the passwords in URLs are masked. "
            "Invalid settings are refused as 'livequiz serve' refuses them."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    _server_options(config)
    config.add_argument(
        "--format",
        choices=["toml", "json"],
        default="toml",
        help="toml: a config file, each setting's source as a comment; json: one document",
    )
    config.set_defaults(handler=run_config)

    demo = commands.add_parser(
        "demo",
        help="run the server with a demo quiz and simulated players",
        description=(
            "Start the server, create a quiz and let simulated players answer it over real "
            "WebSocket connections, with a live leaderboard in this terminal. It prints the "
            "links of the join page, the big screen and the host page; join it yourself in a "
            "browser or from another terminal with 'livequiz play'. A new quiz starts after "
            "each one ends."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    _server_options(demo)
    demo.add_argument("--players", type=int, default=12, help="simulated players (0–500)")
    demo.add_argument("--questions", type=int, default=8, help="questions per quiz")
    demo.add_argument("--seconds", type=int, default=15, help="seconds per question")
    demo.add_argument(
        "--lobby", type=float, default=10.0, help="seconds in the lobby before the start"
    )
    demo.add_argument("--rounds", type=int, default=0, help="quizzes to run, 0 for no end")
    demo.set_defaults(handler=run_demo)

    play = commands.add_parser(
        "play",
        help="join a quiz from the terminal and answer its questions",
        description="Join a live quiz by its ID and answer with the keys 1–4.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    play.add_argument("--server", default="http://127.0.0.1:8000", help="server base URL")
    play.add_argument("--pin", required=True, help="the quiz ID shown by the host")
    play.add_argument("--nickname", help="your name on the leaderboard (asked if not given)")
    play.set_defaults(handler=run_play)

    deck = commands.add_parser(
        "deck",
        help="build the vocabulary deck from its upstream sources, or measure one",
        description=(
            "Build the deck from WordNet 3.0 (Debian's wordnet-base and wordnet-sense-index), "
            "wordfreq and cefrpy (pip install 'livequiz[deck]'), and print what was left out "
            "and why; or measure a deck: the share of the most frequent English content words "
            "it can ask."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    deck_commands = deck.add_subparsers(dest="deck_command", metavar="ACTION", required=True)
    build = deck_commands.add_parser("build", help="build the deck from WordNet and friends")
    _wordnet_option(build)
    build.add_argument("--out", required=True, metavar="FILE", help="where to write the deck")
    build.set_defaults(handler=run_deck_build)
    coverage = deck_commands.add_parser(
        "coverage", help="the share of the most frequent content words a deck can ask"
    )
    coverage.add_argument("--deck", metavar="FILE", help="a deck file (default: the built-in deck)")
    _wordnet_option(coverage)
    coverage.add_argument("--top", type=int, default=1000, help="how many content words")
    coverage.set_defaults(handler=run_deck_coverage)

    audit = commands.add_parser(
        "audit",
        help="generate many questions and count the faults a teacher would find",
        description=(
            "Generate quizzes of 10 questions at every level, all kinds mixed, and count the "
            "questions with each fault (judged against WordNet, not by the generator's own "
            "rules): give-aways, a second right option, junk or offensive options, two words "
            "of one meaning in a quiz, rare senses and hard definitions at A1-B1."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    audit.add_argument("--questions", type=int, default=10_000, help="how many, in all")
    audit.add_argument("--seed", type=int, default=2026, help="seed of the first quiz")
    audit.add_argument("--deck", metavar="FILE", help="a deck file (default: the built-in deck)")
    _wordnet_option(audit)
    audit.set_defaults(handler=run_audit)

    flags = commands.add_parser(
        "flags",
        help="list or clear the questions flagged on a server",
        description=(
            "Questions flagged by players and hosts during a review are kept out of generation "
            "until a teacher clears them (on the host page, or here). Works beside a running "
            "server, on its --data-dir (the embedded default) or its --database."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    flag_commands = flags.add_subparsers(dest="flags_command", metavar="ACTION", required=True)
    flags_list = flag_commands.add_parser("list", help="every open flag, most flagged first")
    flags_list.add_argument("--json", action="store_true", help="one JSON document")
    flags_clear = flag_commands.add_parser("clear", help="clear the flags of one question")
    flags_clear.add_argument("word", help="the word of the flagged question")
    flags_clear.add_argument(
        "kind", choices=[kind.value for kind in QuestionKind], help="its kind of question"
    )
    for sub in (flags_list, flags_clear):
        _storage_options(sub)
        sub.set_defaults(handler=run_flags)

    apikey = commands.add_parser(
        "apikey",
        help="make, list or revoke the learning app's API keys",
        description=(
            "The learning app creates quizzes and reads their results with an API key. A key "
            "is shown once, when it is made; only its SHA-256 is stored. Works beside a "
            "running server, on its --data-dir (the embedded default) or its --database: a "
            "new or revoked key holds at once on every process."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    key_commands = apikey.add_subparsers(dest="apikey_command", metavar="ACTION", required=True)
    key_create = key_commands.add_parser("create", help="make a key (printed once)")
    key_create.add_argument("name", help="what the key is for, e.g. 'Lingo app (production)'")
    key_create.add_argument(
        "--webhook-url",
        metavar="URL",
        help="where the results of the quizzes this key creates are POSTed (signed with a "
        "secret printed once); a quiz may name its own",
    )
    key_list = key_commands.add_parser("list", help="every key: id, name, made, revoked")
    key_revoke = key_commands.add_parser("revoke", help="revoke a key for good")
    key_revoke.add_argument("key_id", help="the key's id (the 12 hex digits after lq_)")
    for sub in (key_create, key_list, key_revoke):
        _storage_options(sub)
        sub.set_defaults(handler=run_apikey)

    commands.add_parser(
        "bench",
        help="load-test a running server with simulated players (see 'livequiz bench --help')",
        add_help=False,
    )
    # no handler: main() hands 'bench' and everything after it to the load generator
    return parser


def _storage_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", default="data", help="the embedded server's data directory")
    parser.add_argument(
        "--database",
        default=os.environ.get("LIVEQUIZ_DATABASE_URL"),
        metavar="URL",
        help="PostgreSQL of a scale-out server instead (postgresql://…)",
    )
    parser.add_argument(
        "--database-schema",
        default=os.environ.get("LIVEQUIZ_DATABASE_SCHEMA", "livequiz"),
        metavar="NAME",
        help="its schema",
    )


def _wordnet_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--wordnet", default=str(DEFAULT_DIRECTORY), help="WordNet 3.0 database directory"
    )


def _server_options(parser: argparse.ArgumentParser) -> None:
    configuration.add_config_option(parser)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on")
    parser.add_argument(
        "--speech",
        default=PROGRAM,
        metavar="PROGRAM",
        help="the speech synthesizer that says the words of listening questions (default: "
        f"{PROGRAM}, Debian's package of that name); 'none': listening questions are refused",
    )
    parser.add_argument(
        "--public-url",
        default=None,
        help="the address phones join at, if not this machine's (e.g. https://quiz.school.example "
        "behind a proxy); default: the host page's address, or this machine's LAN address when "
        f"listening on 0.0.0.0 (also ${PUBLIC_URL_ENV})",
    )
    parser.add_argument(
        "--data-dir", default="data", help="directory for the journal and the token signing key"
    )
    parser.add_argument(
        "--memory", action="store_true", help="keep nothing on disk (nothing survives a restart)"
    )
    parser.add_argument(
        "--sync",
        choices=["normal", "full"],
        default="normal",
        help="SQLite durability: 'normal' survives a crash of the process, 'full' also a power cut",
    )
    parser.add_argument(
        "--origin",
        dest="origins",
        action="append",
        help="allowed Origin of browser WebSocket clients; repeat for several (default: any)",
    )
    parser.add_argument(
        "--trusted-proxy",
        dest="trusted_proxies",
        action="append",
        metavar="CIDR",
        help="reverse proxy (e.g. nginx) whose X-Forwarded-For names the client, as a network "
        "or address; repeat or separate with commas (default: $LIVEQUIZ_TRUSTED_PROXIES, "
        "else none: per-address limits count the TCP peer)",
    )
    parser.add_argument(
        "--app-jwt-secret",
        help="the learning app's sign-in: the shared secret (32 bytes at least) of its HS256 "
        "tokens (default: $LIVEQUIZ_APP_JWT_SECRET; prefer it, a command line is visible to "
        "other users of the machine)",
    )
    parser.add_argument(
        "--app-jwks",
        metavar="FILE_OR_URL",
        help="the learning app's sign-in: its public keys (RS256, ES256) as a JWKS file or URL",
    )
    parser.add_argument("--app-issuer", help="the 'iss' the app's tokens must carry")
    parser.add_argument("--app-audience", help="the 'aud' the app's tokens must carry")
    parser.add_argument("--tick-ms", type=int, default=100, help="leaderboard update interval")
    parser.add_argument(
        "--board-frames-per-s",
        type=int,
        default=60_000,
        help="leaderboard frames this process writes per second at most, over all quizzes "
        "(a quiz of N players then gets a board at most every N / this seconds)",
    )
    parser.add_argument(
        "--fanout-chunk",
        type=int,
        default=500,
        help="board recipients written per event-loop turn (acks go out between chunks)",
    )
    parser.add_argument(
        "--join-burst", type=int, default=200, help="joins one client address may make at once"
    )
    parser.add_argument(
        "--join-rate",
        type=float,
        default=20.0,
        help="joins per second per address, after the burst",
    )
    parser.add_argument(
        "--finished-retention-s",
        type=float,
        default=900.0,
        help="seconds a finished quiz stays in memory (end screen, podium, downloads, "
        "players reconnecting) before it leaves; its results stay in the journal and are "
        "loaded again when asked for (default 900: 15 minutes)",
    )
    parser.add_argument(
        "--max-connections-per-address",
        type=int,
        default=1000,
        help="open WebSocket connections per client address (raise it for load tests on loopback)",
    )
    parser.add_argument(
        "--http-head-timeout-s",
        type=float,
        default=10.0,
        help="seconds a connection has to send a whole request head (slowloris defence)",
    )
    parser.add_argument(
        "--http-body-timeout-s",
        type=float,
        default=30.0,
        help="seconds a request's body may take after its head (slow POST defence)",
    )
    parser.add_argument(
        "--http-idle-timeout-s",
        type=float,
        default=5.0,
        help="seconds a kept-alive HTTP connection may wait for its next request",
    )
    parser.add_argument(
        "--max-http-connections-per-address",
        type=int,
        default=256,
        help="plain HTTP connections per TCP peer address (trusted proxies exempt); at the "
        "cap a new one replaces the oldest idle one, 429 if all are busy",
    )
    parser.add_argument(
        "--max-http-connections",
        type=int,
        default=4096,
        help="plain HTTP connections in all (WebSockets not counted); at the cap a new one "
        "replaces the oldest idle one, 503 if all are busy",
    )
    parser.add_argument(
        "--new-connection-burst",
        type=int,
        default=1000,
        help="new connections (HTTP and WebSocket) one TCP peer address may open at once "
        "(trusted proxies exempt); over its budget: 429 with Retry-After",
    )
    parser.add_argument(
        "--new-connection-rate",
        type=float,
        default=50.0,
        help="new connections per second per TCP peer address, after the burst (0: no budget)",
    )
    parser.add_argument(
        "--new-connection-offence-cost",
        type=int,
        default=10,
        help="extra new connections an address pays for an oversized message (1009) or body "
        "(413) or a malformed request (400)",
    )
    parser.add_argument(
        "--http-requests-per-turn",
        type=int,
        default=8,
        help="HTTP requests begun per turn of the event loop (not WebSocket handshakes), the "
        "rest in the next turns, so bursts do not hold players' answers (0: no bound)",
    )
    parser.add_argument(
        "--http-reads-per-turn",
        type=int,
        default=4,
        help="plain HTTP connections whose received data is handled per turn of the event "
        "loop, the others read in the next turns, so a storm of requests does not hold "
        "players' answers (0: no bound)",
    )
    parser.add_argument(
        "--database",
        metavar="URL",
        help="PostgreSQL for many processes, e.g. postgresql://user@db:5432/livequiz "
        "(env LIVEQUIZ_DATABASE_URL; default: the embedded SQLite journal in --data-dir)",
    )
    parser.add_argument(
        "--database-schema",
        default="livequiz",
        metavar="NAME",
        help="the PostgreSQL schema of livequiz's tables, created if missing "
        "(env LIVEQUIZ_DATABASE_SCHEMA; default livequiz)",
    )
    parser.add_argument(
        "--bus",
        metavar="URL",
        help="NATS between processes, e.g. nats://nats:4222 (env LIVEQUIZ_BUS_URL; "
        "needed with --database)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes on this one port (SO_REUSEPORT), sharing --database and --bus "
        "(env LIVEQUIZ_WORKERS; default 1)",
    )
    parser.add_argument(
        "--lease-s",
        type=float,
        default=3.0,
        help="seconds a quiz's owner holds it unless renewed: a dead process's quizzes move "
        "to another within about this long",
    )
    # set by --workers for the processes it starts: several processes bind the same port
    parser.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"]
    )
    parser.add_argument(
        "--stall-warning-s",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="log a warning with the stack that held it, and count it in "
        "livequiz_event_loop_stalls_total, whenever the event loop does not turn for this "
        "long: every client of the process waits meanwhile (default 1; 0: not watched)",
    )
    from livequiz import tracing  # light: OpenTelemetry itself only if --otlp-endpoint is given

    parser.add_argument(
        "--otlp-endpoint",
        default=None,
        type=tracing.endpoint_option,
        metavar="URL",
        help="trace every answer's path (receive, route, batch, commit, ack, board) to this "
        "OpenTelemetry collector over OTLP/HTTP, e.g. http://otel-collector:4318 (…/v1/traces "
        "is added); the OTEL_EXPORTER_OTLP_* and OTEL_BSP_* variables still apply; needs "
        f"pip install 'livequiz[{tracing.EXTRA}]' (default: no tracing)",
    )
    parser.add_argument(
        "--trace-sample-ratio",
        default=None,
        type=tracing.sample_ratio_option,
        metavar="RATIO",
        help="with --otlp-endpoint: the share of answers traced, 0 to 1 (default: "
        "OTEL_TRACES_SAMPLER if set, else 1, every answer)",
    )


#: The learning app's HS256 secret when ``--app-jwt-secret`` is not given.
APP_JWT_SECRET_ENV = "LIVEQUIZ_APP_JWT_SECRET"
PUBLIC_URL_ENV = "LIVEQUIZ_PUBLIC_URL"


def _app_auth(args: argparse.Namespace) -> AppAuthConfig | None:
    """The learning app's sign-in from the ``--app-*`` options, or ``None`` if none is given;
    an incomplete or contradictory set is refused, naming the option."""
    secret = args.app_jwt_secret or os.environ.get(APP_JWT_SECRET_ENV) or None
    given = [secret, args.app_jwks, args.app_issuer, args.app_audience]
    if all(value is None for value in given):
        return None
    config = AppAuthConfig(
        issuer=args.app_issuer or "",
        audience=args.app_audience or "",
        secret=secret,
        jwks=args.app_jwks,
    )
    try:
        config.check()
    except ValueError as error:
        raise UsageError(str(error)) from None
    return config


#: Trusted proxies when ``--trusted-proxy`` is not given (comma-separated, as in a container).
TRUSTED_PROXIES_ENV = "LIVEQUIZ_TRUSTED_PROXIES"


def _server_config(args: argparse.Namespace) -> Any:
    from pathlib import Path

    from livequiz.adapters.sqlite import Synchronous
    from livequiz.app import ServerConfig
    from livequiz.service import ServiceLimits

    if not 1 <= args.port <= 65535:
        raise UsageError("--port must be between 1 and 65535")
    if not 10 <= args.tick_ms <= 5000:
        raise UsageError("--tick-ms must be between 10 and 5000")
    if args.board_frames_per_s < 1:
        raise UsageError("--board-frames-per-s must be at least 1")
    if args.fanout_chunk < 1:
        raise UsageError("--fanout-chunk must be at least 1")
    if (args.database is None) != (args.bus is None):
        raise UsageError(
            "--database and --bus go together: many processes share PostgreSQL and NATS"
        )
    if args.database is not None and not args.database.startswith(("postgresql://", "postgres://")):
        raise UsageError("--database must be a postgresql:// URL")
    if args.bus is not None and not args.bus.startswith(("nats://", "tls://")):
        raise UsageError("--bus must be a nats:// URL")
    if not 1 <= args.workers <= 256:
        raise UsageError("--workers must be between 1 and 256")
    if args.workers > 1 and args.database is None:
        raise UsageError(
            "--workers needs --database and --bus: processes share quizzes through them"
        )
    if not 0.5 <= args.lease_s <= 60:
        raise UsageError("--lease-s must be between 0.5 and 60")
    if args.trace_sample_ratio is not None and args.otlp_endpoint is None:
        raise UsageError("--trace-sample-ratio needs --otlp-endpoint: without it nothing is traced")
    if not 0 <= args.finished_retention_s <= 7 * 86_400:
        raise UsageError("--finished-retention-s must be between 0 and 604800 (a week)")
    if not 0 <= args.stall_warning_s <= 3600:
        raise UsageError("--stall-warning-s must be between 0 (not watched) and 3600")
    from livequiz.transport.proxy import parse_networks

    if args.trusted_proxies is not None:
        source, items = "--trusted-proxy", args.trusted_proxies
    else:
        source, items = TRUSTED_PROXIES_ENV, [os.environ.get(TRUSTED_PROXIES_ENV, "")]
    try:
        trusted_proxies = parse_networks(items)
    except ValueError as error:
        raise UsageError(f"{source}: {error}") from None
    from livequiz.transport import TransportLimits
    from livequiz.transport.origin import normalize_origins

    try:
        origins = normalize_origins(args.origins) if args.origins else None
    except ValueError as error:
        raise UsageError(f"--origin: {error}") from None
    try:
        transport = TransportLimits(
            http_head_timeout_s=args.http_head_timeout_s,
            http_body_timeout_s=args.http_body_timeout_s,
            http_idle_timeout_s=args.http_idle_timeout_s,
            max_http_connections_per_address=args.max_http_connections_per_address,
            max_http_connections=args.max_http_connections,
            http_requests_per_turn=args.http_requests_per_turn,
            http_reads_per_turn=args.http_reads_per_turn,
            new_connection_burst=args.new_connection_burst,
            new_connections_per_second=args.new_connection_rate,
            new_connection_offence_cost=args.new_connection_offence_cost,
        )
    except ValueError as error:
        raise UsageError(f"--http-*/--new-connection-*: {error}") from None
    public_url = args.public_url or os.environ.get(PUBLIC_URL_ENV) or None
    if public_url is not None:
        try:
            public_url = check_public_url(public_url)
        except PublicUrlError as error:
            raise UsageError(str(error)) from None
    return ServerConfig(
        speech_program=None if args.speech == "none" else args.speech,
        public_url=public_url,
        app_auth=_app_auth(args),
        host=args.host,
        port=args.port,
        data_dir=None if args.memory else Path(args.data_dir),
        synchronous=Synchronous(args.sync.upper()),
        origins=origins,
        transport=transport,
        trusted_proxies=trusted_proxies,
        service=ServiceLimits(
            tick_ms=args.tick_ms,
            joins_burst=args.join_burst,
            joins_per_second=args.join_rate,
            finished_retention_s=args.finished_retention_s,
        ),
        max_connections_per_address=args.max_connections_per_address,
        fanout_chunk=args.fanout_chunk,
        board_frames_per_s=args.board_frames_per_s,
        database_url=args.database,
        database_schema=args.database_schema,
        bus_url=args.bus,
        lease_s=args.lease_s,
        reuse_port=args.reuse_port,
        otlp_endpoint=args.otlp_endpoint,
        trace_sample_ratio=args.trace_sample_ratio,
        stall_warning_s=args.stall_warning_s or None,
    )


def run_config(args: argparse.Namespace, out: TextIO) -> int:
    """``livequiz config``: the settings ``livequiz serve`` would run with, and their sources."""
    _server_config(args)  # refused as 'livequiz serve' would refuse it
    effective: configuration.Configuration = args.configuration
    out.write(effective.as_json() if args.format == "json" else effective.as_toml())
    return 0


def run_serve(args: argparse.Namespace, out: TextIO) -> int:
    from livequiz.app import run_server
    from livequiz.observability import configure_logging

    config = _server_config(args)
    configure_logging(args.log_level)
    if args.workers > 1:
        from livequiz.workers import supervise

        out.write(
            f"livequiz: {args.workers} processes on http://{config.host}:{config.port}"
            "  (Ctrl-C to stop)\n"
        )
        out.flush()
        return supervise(args.workers, _worker_argv(sys.argv[1:]))
    out.write(f"livequiz listening on http://{config.host}:{config.port}  (Ctrl-C to stop)\n")
    out.flush()
    run_server(config)
    return 0


def _worker_argv(argv: list[str]) -> list[str]:
    """The command line of one worker: the same options, one process, sharing the port."""
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == "--workers":
            skip = True
            continue
        if arg.startswith("--workers="):
            continue
        kept.append(arg)
    return [*kept, "--workers", "1", "--reuse-port"]


def run_demo(args: argparse.Namespace, out: TextIO) -> int:
    from livequiz.app import run_demo_server
    from livequiz.observability import configure_logging

    if not 0 <= args.players <= 500:
        raise UsageError("--players must be between 0 and 500")
    if not 1 <= args.questions <= 50:
        raise UsageError("--questions must be between 1 and 50")
    if not 5 <= args.seconds <= 120:
        raise UsageError("--seconds must be between 5 and 120")
    config = _server_config(args)
    # Every bot comes from this host's own address, each round anew: a join POST and a
    # WebSocket (and a reconnect after a drop) per bot, with the viewer's browser beside them.
    # At 500 bots that is the whole default budget of new connections per address at once.
    transport = config.transport
    wanted = 4 * args.players + 200
    if transport.new_connections_per_second and transport.new_connection_burst < wanted:
        config = dataclasses.replace(
            config, transport=dataclasses.replace(transport, new_connection_burst=wanted)
        )
    configure_logging("warning" if args.log_level == "info" else args.log_level)
    run_demo_server(
        config,
        out,
        players=args.players,
        questions=args.questions,
        seconds=args.seconds,
        lobby_s=args.lobby,
        rounds=args.rounds,
    )
    return 0


def run_play(args: argparse.Namespace, out: TextIO) -> int:
    from livequiz.terminal import play

    nickname = args.nickname or input("your nickname: ")
    return play(args.server, args.pin, nickname, out)


def print_word_list_error(error: WordListError, out: TextIO) -> None:
    """Every problem of a word list, one a line, and how many were left out."""
    if error.total == 1:
        print(f"livequiz: {error.problems[0]}", file=out)
        return
    print(f"livequiz: the word list has {error.total} problems:", file=out)
    for problem in error.problems:
        print(f"  {problem}", file=out)
    if error.total > len(error.problems):
        print(f"  ... and {error.total - len(error.problems)} more", file=out)


def run_sample(args: argparse.Namespace, out: TextIO) -> int:
    if not 1 <= args.count <= 200:
        raise UsageError("--count must be between 1 and 200")
    deck = Deck.builtin()
    source = load_wordlist_file(args.words, deck=deck) if args.words else deck
    questions = generate_quiz(
        source,
        levels=args.levels,
        kinds=args.kinds,
        count=args.count,
        seed=args.seed,
    )
    if args.json:
        json.dump([question_to_json(q) for q in questions], out, indent=2, ensure_ascii=False)
        out.write("\n")
    else:
        for number, question in enumerate(questions, start=1):
            out.write(format_question(number, question, show_answer=not args.hide_answers))
    return 0


def question_to_json(question: Question) -> dict[str, object]:
    return {
        "kind": question.kind,
        "prompt": question.prompt,
        "options": list(question.options),
        "correct_option": question.correct_option,
        "level": question.level,
        "word": question.word,
        "definition": question.definition,
        "example": question.example,
    }


def format_question(number: int, question: Question, *, show_answer: bool) -> str:
    lines = [f"{number}. [{question.kind}] " + textwrap.fill(question.prompt, 90)]
    for index, option in enumerate(question.options):
        mark = "*" if show_answer and index == question.correct_option else " "
        lines.append(f"   {mark} {'ABCDEF'[index]}) {option}")
    return "\n".join(lines) + "\n\n"


class UsageError(Exception):
    """A command was given options that cannot work together; the message says why."""


def run_deck_build(args: argparse.Namespace, out: TextIO) -> int:
    """``livequiz deck build``: WordNet + wordfreq + cefrpy → a deck file."""
    from livequiz.vocabulary.build import build_deck, deck_lines
    from livequiz.vocabulary.sources import upstream_sources

    sources = upstream_sources()
    wordnet = WordNet.load(Path(args.wordnet))
    records, report = build_deck(wordnet, sources)
    with open(args.out, "w", encoding="utf-8") as deck_file:
        deck_file.writelines(deck_lines(records))
    print(f"{report.kept} headwords written to {args.out}; left out:", file=out)
    for reason, count in sorted(report.left_out.items(), key=lambda item: -item[1]):
        print(f"  {count:6d}  {reason}", file=out)
    return 0


def run_deck_coverage(args: argparse.Namespace, out: TextIO) -> int:
    """``livequiz deck coverage``: which of the most frequent content words a deck lacks."""
    from livequiz.vocabulary.build import content_words
    from livequiz.vocabulary.sources import frequency_list, headword_of, upstream_sources

    if args.top < 1:
        raise UsageError("--top must be at least 1")
    deck = Deck.builtin() if args.deck is None else Deck.from_jsonl(_read(args.deck))
    sources = upstream_sources()
    wordnet = WordNet.load(Path(args.wordnet))
    words = content_words(
        frequency_list(max(5000, args.top * 10)), headword_of(wordnet, sources.zipf), args.top
    )
    missing = [word for word in words if word not in deck]
    share = 1 - len(missing) / len(words)
    print(
        f"{len(words) - len(missing)} of the {len(words)} most frequent content words "
        f"({share:.1%}) are in the deck",
        file=out,
    )
    if missing:
        print("missing: " + ", ".join(missing), file=out)
    return 0


def run_audit(args: argparse.Namespace, out: TextIO) -> int:
    """``livequiz audit``: generated questions judged by fault class."""
    from livequiz.vocabulary.audit import FAULTS, Auditor
    from livequiz.vocabulary.sources import upstream_sources

    if args.questions < 10:
        raise UsageError("--questions must be at least 10")
    deck = Deck.builtin() if args.deck is None else Deck.from_jsonl(_read(args.deck), screened=True)
    auditor = Auditor(WordNet.load(Path(args.wordnet)), upstream_sources())
    levels = deck.levels()
    quizzes = []
    for n in range(args.questions // 10):
        level = levels[n % len(levels)]
        quiz = generate_quiz(deck, levels=[level], count=10, seed=args.seed + n)
        quizzes.append((level, quiz))
    report = auditor.audit(quizzes)
    print(
        f"{report.questions} questions ({len(quizzes)} quizzes of 10 over {len(levels)} "
        "levels, every kind)",
        file=out,
    )
    for fault in FAULTS:
        count = report.faults[fault]
        print(f"  {fault:22s} {count:6d}  {count / report.questions:6.1%}", file=out)
        for example in report.examples.get(fault, [])[:3]:
            print(f"      e.g. {example}", file=out)
    return 0


def run_flags(args: argparse.Namespace, out: TextIO) -> int:
    import asyncio

    return asyncio.run(_flags(args, out))


async def _flags(args: argparse.Namespace, out: TextIO) -> int:
    from livequiz import names
    from livequiz.ports import flag_key, summarize_flags

    if args.database is not None:
        if not args.database.startswith(("postgresql://", "postgres://")):
            raise UsageError("--database must be a postgresql:// URL")
        from livequiz.adapters.postgres import PostgresRecords

        records = await PostgresRecords.connect(args.database, schema=args.database_schema)
        try:
            if args.flags_command == "clear":
                cleared = await records.clear_flags(args.word, args.kind)
            else:
                listed = await records.open_flags()
        finally:
            await records.close()
    else:
        from livequiz.adapters.sqlite import SqliteJournal

        path = Path(args.data_dir) / names.SQLITE_FILE
        if not path.exists():
            raise UsageError(f"no livequiz data in {args.data_dir} ({path} is missing)")
        journal = SqliteJournal(path)
        try:
            if args.flags_command == "clear":
                cleared = await journal.clear_flags(flag_key(args.word, args.kind))
            else:
                listed = summarize_flags(await journal.flags())
        finally:
            await journal.close()
    if args.flags_command == "clear":
        print(
            f"cleared {cleared} flag{'' if cleared == 1 else 's'} of {args.word!r} ({args.kind})",
            file=out,
        )
        return 0
    if args.json:
        out.write(json.dumps({"flags": [f.to_dict() for f in listed]}, ensure_ascii=False) + "\n")
        return 0
    if not listed:
        print("no question is flagged", file=out)
    for f in listed:
        print(f"{f.flags:3d}  {f.word} ({f.kind}, {f.level or '-'}): {f.prompt}", file=out)
        for reason in f.reasons:
            print(f"       - {reason}", file=out)
    return 0


def run_apikey(args: argparse.Namespace, out: TextIO) -> int:
    import asyncio

    return asyncio.run(_apikey(args, out))


async def _apikey(args: argparse.Namespace, out: TextIO) -> int:
    import time

    from livequiz import apikeys, names

    now_ms = int(time.time() * 1000)
    records: Any
    if args.database is not None:
        if not args.database.startswith(("postgresql://", "postgres://")):
            raise UsageError("--database must be a postgresql:// URL")
        from livequiz.adapters.postgres import PostgresRecords

        records = await PostgresRecords.connect(args.database, schema=args.database_schema)
    else:
        from livequiz.adapters.embedded import EmbeddedRecords
        from livequiz.adapters.sqlite import SqliteJournal

        path = Path(args.data_dir) / names.SQLITE_FILE
        if args.apikey_command != "create" and not path.exists():
            raise UsageError(f"no livequiz data in {args.data_dir} ({path} is missing)")
        path.parent.mkdir(parents=True, exist_ok=True)
        records = EmbeddedRecords.over(SqliteJournal(path))
    try:
        if args.apikey_command == "create":
            from dataclasses import replace

            from livequiz import webhooks

            try:
                text, key = apikeys.new_api_key(args.name, now_ms)
                if args.webhook_url is not None:
                    url = webhooks.check_url(args.webhook_url)
                    key = replace(key, webhook_url=url, webhook_secret=webhooks.new_secret())
            except ValueError as error:
                raise UsageError(str(error)) from None
            await records.add_api_key(key)
            print(f"API key {key.key_id} ({key.name}); shown this once, keep it secret:", file=out)
            print(text, file=out)
            if key.webhook_secret is not None:
                print(f"webhook {key.webhook_url}, signing secret (shown once):", file=out)
                print(key.webhook_secret, file=out)
        elif args.apikey_command == "revoke":
            if not await records.revoke_api_key(args.key_id, now_ms):
                raise UsageError(f"no unrevoked API key {args.key_id!r}")
            print(f"revoked API key {args.key_id}", file=out)
        else:
            listed = await records.api_keys()
            if not listed:
                print("no API key", file=out)
            for key in listed:
                state = "revoked" if key.revoked_at_ms is not None else "active"
                hook = f"  -> {key.webhook_url}" if key.webhook_url else ""
                print(f"{key.key_id}  {state:7}  {key.name}{hook}", file=out)
    finally:
        await records.close()
    return 0


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as text:
        return text.read()


#: The commands whose server options are also read from the environment and a config file.
CONFIGURED_COMMANDS = ("serve", "demo", "config")


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 bad input, 2 bad usage)."""
    out = out or sys.stdout
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:  # the load generator owns its options (and its --help)
        from livequiz.bench.cli import main as bench_main

        return bench_main(argv[1:])
    parser = build_parser()
    try:
        args = configuration.parse_args(parser, argv, os.environ, commands=CONFIGURED_COMMANDS)
    except configuration.ConfigurationError as error:
        print(f"livequiz: {error}", file=sys.stderr)
        return 2
    if args.command is None:
        parser.print_help(out)
        return 0
    try:
        status: int = args.handler(args, out)
    except UsageError as error:
        effective = getattr(args, "configuration", None)
        explained = effective.explain(str(error)) if effective is not None else None
        if explained is None:
            parser.error(str(error))  # exits with status 2
        print(f"livequiz: invalid configuration: {explained}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (``livequiz sample | head``): not an error
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keeps the interpreter's final flush quiet
        return 0
    except WordListError as error:
        print_word_list_error(error, sys.stderr)
        return 1
    except (OSError, MissingSource, StorageUnavailable) as error:
        print(f"livequiz: {error}", file=sys.stderr)
        return 1
    except Rejected as error:
        print(f"livequiz: {error.message}", file=sys.stderr)
        return 1
    return status
