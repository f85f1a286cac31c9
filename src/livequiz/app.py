"""Wiring: build every part of a livequiz server from one :class:`ServerConfig` and run it.

The only module that knows which adapter goes with which port; everything else receives its
collaborators. ``livequiz serve`` and the tests both start servers through :class:`LiveQuizServer`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path

from livequiz.adapters.memory import EmbeddedStore, LocalBus
from livequiz.adapters.sqlite import SqliteJournal, Synchronous
from livequiz.auth import TokenSigner, load_or_create_key
from livequiz.domain.nicknames import NicknamePolicy
from livequiz.gateway import Gateway
from livequiz.http_api import build_api
from livequiz.moderation import is_profane
from livequiz.observability import Metrics
from livequiz.service import QuizService, ServiceLimits
from livequiz.transport import TransportLimits
from livequiz.transport.server import TransportServer
from livequiz.vocabulary import Deck

log = logging.getLogger("livequiz.app")


@dataclass
class ServerConfig:
    """Everything a server needs to know; ``livequiz serve --help`` lists each as an option."""

    host: str = "127.0.0.1"
    port: int = 8000
    #: Where the journal and the token signing key live. ``None``: memory only, nothing survives.
    data_dir: Path | None = Path("data")
    synchronous: Synchronous = Synchronous.NORMAL
    #: Allowed ``Origin`` values for WebSocket handshakes; ``None`` allows any.
    origins: frozenset[str] | None = None
    service: ServiceLimits = field(default_factory=ServiceLimits)
    transport: TransportLimits = field(default_factory=TransportLimits)


class LiveQuizServer:
    """A whole server: store, service, gateway, HTTP API and transport, started and stopped."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.metrics = Metrics()
        nicknames = NicknamePolicy(is_profane=is_profane)
        if config.data_dir is not None:
            key = load_or_create_key(config.data_dir / "signing.key")
            journal = SqliteJournal(
                config.data_dir / "livequiz.sqlite3", synchronous=config.synchronous
            )
            self.store = EmbeddedStore(journal, nicknames=nicknames)
        else:
            import secrets

            key = secrets.token_bytes(32)
            self.store = EmbeddedStore(None, nicknames=nicknames)
        self.bus = LocalBus()
        self.service = QuizService(
            self.store, self.bus, TokenSigner(key), self.metrics, limits=config.service
        )
        self.gateway = Gateway(self.service)
        self.bus.subscribe(self.gateway.deliver)
        limits = config.transport
        if config.origins is not None:
            from dataclasses import replace

            limits = replace(limits, origins=config.origins)
        self.deck = Deck.builtin()
        self.api = build_api(self.service, self.deck)
        self.transport = TransportServer(
            self.api, self.gateway, limits, host=config.host, port=config.port
        )

    async def serve(self, ready: asyncio.Event | None = None) -> None:
        """Recover stored quizzes, start the service, serve until told to stop, then shut down."""
        live = await self.store.recover()
        if live:
            log.info("recovered live quizzes", extra={"quizzes": len(live)})
        await self.service.start(live)
        try:
            await self.transport.serve(ready)
        finally:
            await self.service.stop()
            await self.store.close()

    def request_exit(self) -> None:
        self.transport.request_exit()

    @property
    def port(self) -> int:
        return self.transport.port
