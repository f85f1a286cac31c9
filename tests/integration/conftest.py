"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.integration.test_cheating import FAST, Backend, postgres_and_nats
from tests.server import running_server


@pytest.fixture(params=["embedded", "postgres+nats"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    """A quiz's owner and the server its players come in through: one embedded server, or two
    servers sharing a fresh PostgreSQL schema and the machine's NATS (every player's message
    then crosses the bus to the owner)."""
    if request.param == "embedded":
        async with running_server(service=FAST) as srv:
            yield Backend("embedded", srv, srv)
    else:
        async with postgres_and_nats() as both:
            yield both
