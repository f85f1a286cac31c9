"""The learning app's sign-in: who a user is, from a JWT the app signed (PyJWT).

livequiz is a feature of an English-learning app, whose users are already signed in there. The
app hands each user a short-lived JWT; livequiz checks it and takes the user's id (``sub``) and
display name (``name``, else ``preferred_username``, else ``nickname``) from it. Checked, in this
order, each failure a :class:`AppTokenError` whose message says which:

* the signature, with the key the operator configured: a shared secret (HS256) or the app's
  public keys as a JWKS document, from a file or a URL (RS256, ES256; the token's ``kid`` picks
  the key). Only the configured family of algorithms is accepted: ``alg: none`` and an HS256
  token "signed" with a public key (algorithm confusion) are refused;
* ``iss`` and ``aud`` equal to the configured issuer and audience, ``exp`` in the future and
  ``nbf``/``iat`` not in the future (30 s leeway for clocks), all four of ``sub``, ``exp``,
  ``iss`` and ``aud`` present.

A JWKS URL is fetched when a token names a key not seen yet (at most every
:data:`JWKS_REFETCH_S`), off the event loop, and kept: the app rotating its keys is picked up,
a flood of tokens with made-up key ids is not a flood of fetches.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jwt

# PyJWT and cryptography (~17 MiB) are imported when a server is configured for the app's
# sign-in, not by every server.

#: Clock difference tolerated between the app and this server.
LEEWAY_S = 30
#: A JWKS URL is fetched again for an unknown key id at most this often.
JWKS_REFETCH_S = 60.0
#: Longest token read at all (a JWT with an RSA-4096 signature and a few claims is ~1 KiB).
MAX_TOKEN_CHARS = 8192
_ASYMMETRIC = ["RS256", "ES256"]


class AppTokenError(Exception):
    """The app's token is not valid here; the message says why (for the app's developers)."""


@dataclass(frozen=True, slots=True)
class AppUser:
    """A user of the learning app, as its token names them."""

    user_id: str
    name: str


@dataclass(frozen=True, slots=True)
class AppAuthConfig:
    """How to check the app's tokens (``livequiz serve --app-…``): a secret or a JWKS source,
    and the issuer and audience the tokens must name."""

    issuer: str
    audience: str
    #: HS256 with this shared secret ...
    secret: str | None = None
    #: ... or RS256/ES256 with the keys of this JWKS file path or ``https://`` URL.
    jwks: str | None = None

    def check(self) -> None:
        """Refuse a configuration that could never verify a token, naming the setting."""
        if (self.secret is None) == (self.jwks is None):
            raise ValueError("give the app's token key as --app-jwt-secret or --app-jwks (one)")
        if self.secret is not None and len(self.secret.encode()) < 32:
            raise ValueError("--app-jwt-secret must be at least 32 bytes (RFC 7518 §3.2)")
        if not self.issuer or not self.audience:
            raise ValueError("--app-issuer and --app-audience are both required")


class AppTokens:
    """Checks the learning app's tokens against one configuration."""

    def __init__(self, config: AppAuthConfig) -> None:
        config.check()
        self.config = config
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = float("-inf")
        self._fetch_lock = asyncio.Lock()
        jwks = config.jwks
        if jwks is not None and not jwks.startswith(("https://", "http://")):
            self._keys = _read_jwks(Path(jwks).read_text(encoding="utf-8"))

    async def verify(self, token: object) -> AppUser:
        """The user a genuine, current token of the app names, or :class:`AppTokenError`."""
        if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_CHARS:
            raise AppTokenError("app_token must be the app's JWT (a string)")
        import jwt

        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as error:
            raise AppTokenError(f"malformed app token: {error}") from None
        if self.config.secret is not None:
            key: Any = self.config.secret
            algorithms = ["HS256"]
        else:
            key = await self._key_for(header.get("kid"))
            algorithms = _ASYMMETRIC
        if header.get("alg") not in algorithms:
            raise AppTokenError(
                f"app token algorithm {header.get('alg')!r} is not accepted; use {algorithms}"
            )
        return self._decode(token, key, algorithms)

    def _decode(self, token: str, key: Any, algorithms: list[str]) -> AppUser:
        import jwt

        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self.config.audience,
                issuer=self.config.issuer,
                leeway=LEEWAY_S,
                options={"require": ["sub", "exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise AppTokenError("app token expired") from None
        except jwt.InvalidAudienceError:
            raise AppTokenError("app token is for another audience") from None
        except jwt.InvalidIssuerError:
            raise AppTokenError("app token is from another issuer") from None
        except jwt.InvalidSignatureError:
            raise AppTokenError("app token signature is not valid") from None
        except jwt.MissingRequiredClaimError as error:
            raise AppTokenError(f"app token has no {error.claim!r} claim") from None
        except jwt.InvalidTokenError as error:
            raise AppTokenError(f"app token not valid: {error}") from None
        user_id = claims["sub"]
        if not isinstance(user_id, str) or not 1 <= len(user_id) <= 128:
            raise AppTokenError("app token 'sub' must be a string of 1 to 128 characters")
        name = claims.get("name") or claims.get("preferred_username") or claims.get("nickname")
        if not isinstance(name, str) or not name.strip():
            raise AppTokenError("app token names no user: give 'name' or 'preferred_username'")
        return AppUser(user_id, name)

    async def _key_for(self, kid: object) -> jwt.PyJWK:
        jwks = self.config.jwks
        assert jwks is not None
        if not isinstance(kid, str):
            if len(self._keys) == 1 and not jwks.startswith(("https://", "http://")):
                return next(iter(self._keys.values()))
            raise AppTokenError("app token has no 'kid' header naming its key")
        if kid not in self._keys and jwks.startswith(("https://", "http://")):
            async with self._fetch_lock:
                if kid not in self._keys and time.monotonic() - self._fetched_at > JWKS_REFETCH_S:
                    self._fetched_at = time.monotonic()
                    text = await asyncio.get_running_loop().run_in_executor(None, _fetch, jwks)
                    self._keys = _read_jwks(text)
        key = self._keys.get(kid)
        if key is None:
            raise AppTokenError(f"app token key {kid!r} is not one of the app's keys")
        return key


def _fetch(url: str) -> str:
    """The JWKS document at ``url`` (blocking: run in an executor)."""
    import urllib.request

    with urllib.request.urlopen(url, timeout=5) as response:
        body: bytes = response.read(1 << 20)
    return body.decode("utf-8")


def _read_jwks(text: str) -> dict[str, jwt.PyJWK]:
    """The signing keys of a JWKS document by key id (keys without one get ``"default"``)."""
    import jwt

    data = json.loads(text)
    keys: dict[str, jwt.PyJWK] = {}
    for raw in data.get("keys", []):
        if raw.get("use", "sig") != "sig":
            continue
        key = jwt.PyJWK.from_dict(raw)
        keys[str(raw.get("kid", "default"))] = key
    if not keys:
        raise ValueError("the JWKS document holds no signing key")
    return keys
