"""The learning app's sign-in (``livequiz.identity``): which of the app's tokens are taken.

Tokens are signed here with real keys (HS256 secrets, RSA and EC key pairs made for the test)
and checked against a JWKS file and a JWKS URL served on this machine, as an app would publish
its keys.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from livequiz.identity import AppAuthConfig, AppTokenError, AppTokens, AppUser

ISSUER, AUDIENCE = "https://app.example", "livequiz"
SECRET = "a-test-secret-of-32-bytes-or-more"
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "sub": "u-42",
        "name": "Anna Schmidt",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 300,
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def jwks(*keys: tuple[str, Any]) -> str:
    """A JWKS document of public keys, each ``(kid, private key)``."""
    entries = []
    for kid, key in keys:
        algorithm = RSAAlgorithm if isinstance(key, rsa.RSAPrivateKey) else ECAlgorithm
        entry = json.loads(algorithm.to_jwk(key.public_key()))
        entry.update(kid=kid, use="sig")
        entries.append(entry)
    return json.dumps({"keys": entries})


def hs256() -> AppTokens:
    return AppTokens(AppAuthConfig(issuer=ISSUER, audience=AUDIENCE, secret=SECRET))


def with_jwks_file(tmp_path: Path) -> AppTokens:
    path = tmp_path / "jwks.json"
    path.write_text(jwks(("rsa-1", RSA_KEY), ("ec-1", EC_KEY)))
    return AppTokens(AppAuthConfig(issuer=ISSUER, audience=AUDIENCE, jwks=str(path)))


async def test_an_hs256_token_of_the_app_names_its_user() -> None:
    token = jwt.encode(claims(), SECRET, algorithm="HS256")
    assert await hs256().verify(token) == AppUser("u-42", "Anna Schmidt")
    other = jwt.encode(claims(name=None, preferred_username="anna.s"), SECRET, algorithm="HS256")
    assert await hs256().verify(other) == AppUser("u-42", "anna.s")


async def test_rs256_and_es256_tokens_are_checked_against_the_apps_jwks(tmp_path: Path) -> None:
    tokens = with_jwks_file(tmp_path)
    rs = jwt.encode(claims(), RSA_KEY, algorithm="RS256", headers={"kid": "rsa-1"})
    es = jwt.encode(claims(sub="u-7"), EC_KEY, algorithm="ES256", headers={"kid": "ec-1"})
    assert (await tokens.verify(rs)).user_id == "u-42"
    assert (await tokens.verify(es)).user_id == "u-7"


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: jwt.encode(claims(iss="https://evil.example"), SECRET, "HS256"), "issuer"),
        (lambda: jwt.encode(claims(aud="another-service"), SECRET, "HS256"), "audience"),
        (lambda: jwt.encode(claims(exp=int(time.time()) - 120), SECRET, "HS256"), "expired"),
        (lambda: jwt.encode(claims(exp=None), SECRET, "HS256"), "'exp'"),
        (lambda: jwt.encode(claims(sub=None), SECRET, "HS256"), "'sub'"),
        (lambda: jwt.encode(claims(name=None), SECRET, "HS256"), "names no user"),
        (lambda: jwt.encode(claims(), "another-secret-of-32-bytes-or-more!", "HS256"), "signature"),
        # "unsigned": alg none, no signature at all
        (lambda: f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims())}.", "algorithm 'none'"),
        (lambda: "not.a.jwt", "malformed"),
        (lambda: 42, "must be the app's JWT"),
        (lambda: "x" * 9000, "must be the app's JWT"),
    ],
)
async def test_a_token_that_is_not_the_apps_now_is_refused_saying_why(
    make: Any, message: str
) -> None:
    with pytest.raises(AppTokenError, match=message):
        await hs256().verify(make())


async def test_an_hs256_token_signed_with_the_apps_public_key_is_refused(tmp_path: Path) -> None:
    """Algorithm confusion: a server that took HS256 with the RSA public key as the secret
    would accept a token anyone can sign."""
    tokens = with_jwks_file(tmp_path)
    public_pem = RSA_KEY.public_key().public_bytes(
        encoding=Encoding.PEM, format=PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}
    body = f"{b64(header)}.{b64(claims())}"
    signature = hmac.new(public_pem, body.encode(), hashlib.sha256).digest()
    forged = body + "." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()
    with pytest.raises(AppTokenError, match="algorithm 'HS256' is not accepted"):
        await tokens.verify(forged)


async def test_a_key_the_app_does_not_have_is_refused(tmp_path: Path) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    tokens = with_jwks_file(tmp_path)
    token = jwt.encode(claims(), stranger, algorithm="RS256", headers={"kid": "rsa-1"})
    with pytest.raises(AppTokenError, match="signature"):
        await tokens.verify(token)
    unknown = jwt.encode(claims(), stranger, algorithm="RS256", headers={"kid": "rsa-9"})
    with pytest.raises(AppTokenError, match="not one of the app's keys"):
        await tokens.verify(unknown)


@pytest.fixture
def jwks_server() -> Iterator[tuple[str, list[str], dict[str, str]]]:
    """An HTTP server on this machine publishing a JWKS document (changeable), counting hits."""
    hits: list[str] = []
    document = {"body": jwks(("rsa-1", RSA_KEY))}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            body = document["body"].encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json", hits, document
    finally:
        server.shutdown()
        server.server_close()


async def test_a_jwks_url_is_fetched_once_and_again_for_a_new_key_not_for_every_stranger(
    jwks_server: tuple[str, list[str], dict[str, str]],
) -> None:
    url, hits, document = jwks_server
    tokens = AppTokens(AppAuthConfig(issuer=ISSUER, audience=AUDIENCE, jwks=url))
    first = jwt.encode(claims(), RSA_KEY, algorithm="RS256", headers={"kid": "rsa-1"})
    for _ in range(3):
        assert (await tokens.verify(first)).user_id == "u-42"
    assert len(hits) == 1
    # the app rotates its keys: a token with the new kid is checked after one more fetch
    document["body"] = jwks(("rsa-1", RSA_KEY), ("ec-2", EC_KEY))
    tokens._fetched_at -= 3600  # the refetch pause has passed
    second = jwt.encode(claims(), EC_KEY, algorithm="ES256", headers={"kid": "ec-2"})
    assert (await tokens.verify(second)).user_id == "u-42"
    assert len(hits) == 2
    # a flood of made-up key ids: no fetch each time (at most one per JWKS_REFETCH_S)
    for n in range(20):
        fake = jwt.encode(claims(), EC_KEY, algorithm="ES256", headers={"kid": f"x{n}"})
        with pytest.raises(AppTokenError, match="not one of the app's keys"):
            await tokens.verify(fake)
    assert len(hits) == 2


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (AppAuthConfig(issuer=ISSUER, audience=AUDIENCE), "one"),
        (AppAuthConfig(issuer=ISSUER, audience=AUDIENCE, secret=SECRET, jwks="k.json"), "one"),
        (AppAuthConfig(issuer=ISSUER, audience=AUDIENCE, secret="short"), "32 bytes"),
        (AppAuthConfig(issuer="", audience=AUDIENCE, secret=SECRET), "--app-issuer"),
        (AppAuthConfig(issuer=ISSUER, audience="", secret=SECRET), "--app-audience"),
    ],
)
def test_a_configuration_that_could_never_check_a_token_is_refused(
    config: AppAuthConfig, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        AppTokens(config)
