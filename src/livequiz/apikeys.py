"""API keys of the learning app: how one is made, shown once, stored hashed, and checked.

A key reads ``lq_<key_id>.<secret>``: ``key_id`` (12 hex digits) is public, named in lists, logs
and the quizzes a key created; ``secret`` (32 random bytes, URL-safe base64) is shown once, when
the key is made (``livequiz apikey create``), and only its SHA-256 is stored, so a copy of the
database gives no key away. A random 256-bit secret needs no slow password hash: there is
nothing to guess. Revoking a key (``livequiz apikey revoke``) stops it on every process at once:
each use reads the key from storage.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from livequiz.ports import ApiKey

PREFIX = "lq_"
_KEY = re.compile(r"lq_([0-9a-f]{12})\.([A-Za-z0-9_-]{43})")
#: Longest name an operator may give a key (shown in lists).
MAX_NAME_CHARS = 80


def looks_like_api_key(token: str) -> bool:
    """Whether a bearer token is meant as an API key (it may still be wrong)."""
    return token.startswith(PREFIX)


def new_api_key(name: str, now_ms: int) -> tuple[str, ApiKey]:
    """A fresh key: the text to hand to the app (once) and the record to store."""
    name = " ".join(name.split())
    if not 1 <= len(name) <= MAX_NAME_CHARS:
        raise ValueError(f"a key's name must be 1 to {MAX_NAME_CHARS} characters")
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return f"{PREFIX}{key_id}.{secret}", ApiKey(key_id, name, _digest(secret), now_ms)


def parse_api_key(token: str) -> tuple[str, str] | None:
    """``(key_id, secret)`` of a well-formed key, else ``None``."""
    match = _KEY.fullmatch(token)
    return None if match is None else (match.group(1), match.group(2))


def secret_matches(key: ApiKey, secret: str) -> bool:
    """Whether ``secret`` is the key's (compared in constant time)."""
    return hmac.compare_digest(key.secret_sha256, _digest(secret))


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
