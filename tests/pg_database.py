"""The shared test PostgreSQL server, and a fresh schema of its own for each test.

Tests talk to the real server on this machine (never a mock): ``$LIVEQUIZ_TEST_DATABASE_URL``,
by default ``postgresql://postgres@127.0.0.1:5432/test`` (trust authentication). Each test works
in a schema with a random name, dropped afterwards, so tests never see each other's quizzes and
can run against a database that other things use too. If the server cannot be reached the test
skips and says what to start; under ``CI=true`` the suite's conftest turns that into a failure.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest

from livequiz.adapters.postgres import quote_ident

DSN_ENV = "LIVEQUIZ_TEST_DATABASE_URL"
DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/test"
#: Every schema a test makes starts with this, so a left-over one is easy to spot and drop.
SCHEMA_PREFIX = "livequiz_test_"


def database_url() -> str:
    return os.environ.get(DSN_ENV) or DEFAULT_DSN


def new_schema_name() -> str:
    return SCHEMA_PREFIX + secrets.token_hex(6)


@asynccontextmanager
async def admin_connection(dsn: str | None = None) -> AsyncIterator[Any]:
    """A plain connection to the test database, for setting up and inspecting; skips the test
    loudly if the server is not reachable."""
    url = dsn or database_url()
    try:
        connection = await asyncpg.connect(url, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.skip(
            f"PostgreSQL is not reachable at {url} ({type(exc).__name__}: {exc}). Start it "
            f"(pg_ctlcluster --skip-systemctl-redirect 15 main start) or point {DSN_ENV} at one."
        )
    try:
        yield connection
    finally:
        await connection.close()


async def drop_schema(schema: str, dsn: str | None = None) -> None:
    async with admin_connection(dsn) as connection:
        await connection.execute(f"DROP SCHEMA IF EXISTS {quote_ident(schema)} CASCADE")


@asynccontextmanager
async def fresh_schema(dsn: str | None = None) -> AsyncIterator[str]:
    """The name of a schema no one uses (checking first that the server answers); dropped,
    with everything in it, when the block ends."""
    schema = new_schema_name()
    async with admin_connection(dsn):
        pass
    try:
        yield schema
    finally:
        await drop_schema(schema, dsn)
