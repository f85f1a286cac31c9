"""Signed tokens: who a connection speaks for, never taken from a field in a message.

A token says *this is player 7 of quiz q-3f9a…* (or *the host of quiz q-3f9a…*), signed with
HMAC-SHA256 under the server's key. It binds to the quiz's internal id, not its PIN (PINs are
reused once a quiz ends), carries an expiry, and is checked in constant time. A kick is not
written into tokens: the quiz itself remembers the kick, so a kicked player's token stays useless.

Format: ``v1.<base64url(JSON claims)>.<base64url(signature)>`` — short enough for a URL or local
storage, opaque to clients.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import orjson

VERSION = "v1"
#: A live quiz lasts minutes; a day leaves room for a long event and a late look at results.
DEFAULT_TTL_S = 24 * 3600
KEY_BYTES = 32


class Role(StrEnum):
    PLAYER = "player"
    HOST = "host"


class TokenError(Exception):
    """The token is malformed, forged, expired or for another quiz; the message says which."""


@dataclass(frozen=True, slots=True)
class Claims:
    quiz_id: str
    role: Role
    #: The player's id within the quiz; 0 for the host.
    player_id: int
    expires_at_s: int


class TokenSigner:
    """Issues and checks tokens under one secret key."""

    def __init__(self, key: bytes, *, ttl_s: int = DEFAULT_TTL_S) -> None:
        if len(key) < 16:
            raise ValueError("a signing key needs at least 16 bytes")
        self._key = key
        self.ttl_s = ttl_s

    def issue(
        self, quiz_id: str, role: Role, player_id: int, now_s: int, *, due_s: int | None = None
    ) -> str:
        """A token valid for ``ttl_s``; for a quiz due at ``due_s`` (self-paced homework, which
        lasts days), until ``ttl_s`` after that, so a learner comes back as themselves any
        day until it is due and reads their results after."""
        expires = now_s + self.ttl_s
        if due_s is not None:
            expires = max(expires, due_s + self.ttl_s)
        claims = {"q": quiz_id, "r": role.value, "p": player_id, "e": expires}
        body = _b64(orjson.dumps(claims))
        return f"{VERSION}.{body}.{self._sign(body)}"

    def verify(self, token: object, now_s: int, *, quiz_id: str | None = None) -> Claims:
        """The claims of a genuine, unexpired token (for ``quiz_id``, if given)."""
        if not isinstance(token, str) or len(token) > 512 or not token.isascii():
            raise TokenError("malformed token")
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != VERSION:
            raise TokenError("malformed token")
        _version, body, signature = parts
        if not hmac.compare_digest(self._sign(body), signature):
            raise TokenError("invalid token signature")
        try:
            raw = orjson.loads(_unb64(body))
            claims = Claims(
                quiz_id=str(raw["q"]),
                role=Role(raw["r"]),
                player_id=int(raw["p"]),
                expires_at_s=int(raw["e"]),
            )
        except (ValueError, KeyError, TypeError) as error:  # signed by us: only a bug gets here
            raise TokenError("malformed token") from error
        if now_s >= claims.expires_at_s:
            raise TokenError("token expired")
        if quiz_id is not None and claims.quiz_id != quiz_id:
            raise TokenError("token is for another quiz")
        return claims

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode("ascii"), hashlib.sha256).digest())


def load_or_create_key(path: Path) -> bytes:
    """The signing key kept in the data directory, so tokens survive a restart or a crash."""
    if path.exists():
        key = bytes.fromhex(path.read_text(encoding="ascii").strip())
        if len(key) < 16:
            raise ValueError(f"{path}: the signing key is too short")
        return key
    key = secrets.token_bytes(KEY_BYTES)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    # Created readable by the owner only from the first byte (no window under the umask).
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as file:
        file.write(key.hex())
    tmp.replace(path)
    return key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
