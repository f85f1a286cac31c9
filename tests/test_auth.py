"""Signed tokens and the signing key: genuine tokens verify, anything else is a TokenError; the
key is private to its owner and survives restarts, so tokens do too."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import stat
from pathlib import Path
from typing import Any

import orjson
import pytest

from livequiz.auth import (
    DEFAULT_TTL_S,
    KEY_BYTES,
    Claims,
    Role,
    TokenError,
    TokenSigner,
    load_or_create_key,
)
from livequiz.domain.commands import Start
from tests.server import running_server

KEY = bytes(range(32))
NOW = 1_764_000_000
QUIZ = "3f9a2c4d5e6f7081"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed(body: bytes, key: bytes = KEY, version: str = "v1") -> str:
    """A token built by hand: any claims, correctly signed under ``key``."""
    encoded = b64(body)
    signature = b64(hmac.new(key, encoded.encode(), hashlib.sha256).digest())
    return f"{version}.{encoded}.{signature}"


def rejected(token: Any, *, now: int = NOW, quiz_id: str | None = None) -> str:
    with pytest.raises(TokenError) as caught:
        TokenSigner(KEY).verify(token, now, quiz_id=quiz_id)
    return str(caught.value)


# ---------------------------------------------------------------------- issue and verify


@pytest.mark.parametrize(("role", "player_id"), [(Role.HOST, 0), (Role.PLAYER, 7)])
def test_an_issued_token_verifies_to_its_claims(role: Role, player_id: int) -> None:
    signer = TokenSigner(KEY)
    token = signer.issue(QUIZ, role, player_id, NOW)
    claims = signer.verify(token, NOW, quiz_id=QUIZ)
    assert claims == Claims(QUIZ, role, player_id, NOW + DEFAULT_TTL_S)
    assert signer.verify(token, NOW) == claims  # the quiz check is optional


def test_a_token_is_short_url_safe_text_in_three_parts() -> None:
    token = TokenSigner(KEY).issue(QUIZ, Role.PLAYER, 12345, NOW)
    version, body, signature = token.split(".")
    assert version == "v1"
    assert len(token) < 200
    for part in (body, signature):
        assert set(part) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    claims = orjson.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    assert claims == {"q": QUIZ, "r": "player", "p": 12345, "e": NOW + DEFAULT_TTL_S}


def test_the_ttl_is_configurable() -> None:
    signer = TokenSigner(KEY, ttl_s=60)
    token = signer.issue(QUIZ, Role.HOST, 0, NOW)
    assert signer.verify(token, NOW + 59).expires_at_s == NOW + 60
    with pytest.raises(TokenError, match="token expired"):
        signer.verify(token, NOW + 60)


def test_a_token_expires_exactly_at_its_expiry() -> None:
    token = TokenSigner(KEY).issue(QUIZ, Role.HOST, 0, NOW)
    TokenSigner(KEY).verify(token, NOW + DEFAULT_TTL_S - 1)
    assert rejected(token, now=NOW + DEFAULT_TTL_S) == "token expired"
    assert rejected(token, now=NOW + 10 * DEFAULT_TTL_S) == "token expired"


def test_a_token_of_another_quiz_is_refused() -> None:
    token = TokenSigner(KEY).issue(QUIZ, Role.HOST, 0, NOW)
    assert rejected(token, quiz_id="0000000000000000") == "token is for another quiz"
    assert rejected(token, quiz_id=QUIZ.upper()) == "token is for another quiz"


def test_a_token_signed_under_another_key_is_forged() -> None:
    token = TokenSigner(bytes(32)).issue(QUIZ, Role.HOST, 0, NOW)
    assert rejected(token) == "invalid token signature"


@pytest.mark.parametrize(
    "claims",
    [
        {"q": QUIZ, "r": "host", "p": 0, "e": NOW + 100},  # a player made themselves host
        {"q": QUIZ, "r": "player", "p": 8, "e": NOW + 100},  # another player
        {"q": "0000000000000000", "r": "player", "p": 7, "e": NOW + 100},  # another quiz
        {"q": QUIZ, "r": "player", "p": 7, "e": NOW + 10**9},  # never expires
    ],
)
def test_a_tampered_body_is_refused(claims: dict[str, Any]) -> None:
    genuine = TokenSigner(KEY).issue(QUIZ, Role.PLAYER, 7, NOW)
    version, _, signature = genuine.split(".")
    tampered = f"{version}.{b64(orjson.dumps(claims))}.{signature}"
    assert rejected(tampered) == "invalid token signature"


def test_a_tampered_signature_is_refused() -> None:
    genuine = TokenSigner(KEY).issue(QUIZ, Role.PLAYER, 7, NOW)
    last = genuine[-1]
    assert rejected(genuine[:-1] + ("A" if last != "A" else "B")) == "invalid token signature"
    assert rejected(genuine[:-4]) == "invalid token signature"
    assert rejected(genuine.rpartition(".")[0] + ".") == "invalid token signature"


@pytest.mark.parametrize("version", ["v0", "v2", "V1", "", "v1 "])
def test_another_version_is_malformed(version: str) -> None:
    genuine = TokenSigner(KEY).issue(QUIZ, Role.HOST, 0, NOW)
    resigned = signed(orjson.dumps({"q": QUIZ, "r": "host", "p": 0, "e": NOW + 100}), KEY, version)
    for token in (version + genuine[2:], resigned):
        assert rejected(token) == "malformed token"


@pytest.mark.parametrize(
    "token", ["", "v1", "v1.abc", "v1..", "v1.a.b.c", "....", "not a token at all"]
)
def test_a_token_not_in_three_parts_is_malformed(token: str) -> None:
    message = rejected(token)
    assert message in ("malformed token", "invalid token signature")
    if token.count(".") != 2:
        assert message == "malformed token"


@pytest.mark.parametrize("token", [None, 42, 1.5, True, b"v1.a.b", ["v1", "a", "b"], {"t": 1}])
def test_a_token_that_is_not_a_string_is_malformed(token: Any) -> None:
    assert rejected(token) == "malformed token"


def test_an_overlong_token_is_malformed_before_any_work() -> None:
    genuine = TokenSigner(KEY).issue(QUIZ, Role.HOST, 0, NOW)
    assert rejected(genuine + "=" * (513 - len(genuine))) == "malformed token"
    assert rejected("v1." + "a" * 1_000_000 + ".b") == "malformed token"


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'{"r": "host", "p": 0, "e": 1}',
        b'{"q": "x", "r": "admin", "p": 0, "e": 1}',
        b'{"q": "x", "r": "host", "p": "zero", "e": 1}',
        b'{"q": "x", "r": "host", "p": 0, "e": null}',
        b"\xff\xfe",
    ],
)
def test_correctly_signed_nonsense_is_malformed(body: bytes) -> None:
    # Only a bug (or a stolen key) could produce these; they must still fail cleanly.
    assert rejected(signed(body)) == "malformed token"


@pytest.mark.parametrize("token", ["v1.é.x", "v1.abc.dé", "v1.\U0001f98a.x"])
def test_a_non_ascii_token_is_malformed(token: str) -> None:
    assert rejected(token) == "malformed token"


# ---------------------------------------------------------------------- the signing key


def test_a_short_key_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        TokenSigner(bytes(15))
    TokenSigner(bytes(16))


def test_a_new_key_file_is_private_hex_and_in_new_directories(tmp_path: Path) -> None:
    path = tmp_path / "data" / "deeper" / "signing.key"
    key = load_or_create_key(path)
    assert len(key) == KEY_BYTES
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text(encoding="ascii") == key.hex()
    assert [p.name for p in path.parent.iterdir()] == ["signing.key"]  # no temporary left


def test_the_key_file_is_reused(tmp_path: Path) -> None:
    path = tmp_path / "signing.key"
    first = load_or_create_key(path)
    token = TokenSigner(first).issue(QUIZ, Role.PLAYER, 3, NOW)
    again = load_or_create_key(path)
    assert again == first
    assert TokenSigner(again).verify(token, NOW).player_id == 3
    assert load_or_create_key(tmp_path / "other.key") != first  # a fresh key is random


def test_a_key_given_in_the_file_is_used(tmp_path: Path) -> None:
    path = tmp_path / "signing.key"
    path.write_text(KEY.hex() + "\n", encoding="ascii")
    assert load_or_create_key(path) == KEY


@pytest.mark.parametrize("content", ["", "00" * 15, "  abcd  "])
def test_a_key_file_with_a_short_key_is_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "signing.key"
    path.write_text(content, encoding="ascii")
    with pytest.raises(ValueError, match="too short"):
        load_or_create_key(path)


def test_a_key_file_that_is_not_hex_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "signing.key"
    path.write_text("not a key", encoding="ascii")
    with pytest.raises(ValueError, match="non-hexadecimal"):
        load_or_create_key(path)


def test_the_key_is_never_readable_by_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    created: list[int] = []
    real_open = os.open

    def spy(path: Any, flags: int, mode: int = 0o777, *args: Any, **kwargs: Any) -> int:
        if flags & os.O_CREAT:
            created.append(mode)  # the mode the file is born with, before any chmod
        return real_open(path, flags, mode, *args, **kwargs)

    monkeypatch.setattr(os, "open", spy)
    umask = os.umask(0o022)
    try:
        load_or_create_key(tmp_path / "signing.key")
    finally:
        os.umask(umask)
    assert created
    assert all(mode & 0o077 == 0 for mode in created), [oct(m) for m in created]
    assert stat.S_IMODE((tmp_path / "signing.key").stat().st_mode) & 0o077 == 0


async def test_tokens_stay_valid_across_a_restart(tmp_path: Path) -> None:
    async with running_server(data_dir=tmp_path) as srv:
        quiz = await srv.create_quiz(count=2, seed=1)
        anna = await srv.join(quiz["pin"], "Anna")
        await srv.service.call(quiz["quiz_id"], Start())
    assert stat.S_IMODE((tmp_path / "signing.key").stat().st_mode) == 0o600
    async with running_server(data_dir=tmp_path) as srv:
        url = f"/api/quizzes/{quiz['quiz_id']}/results"
        for token in (quiz["host_token"], anna["token"]):
            response = await srv.http.get(url, headers={"authorization": f"Bearer {token}"})
            assert response.status_code == 200, response.text
        async with srv.connect() as ws:
            welcome = await srv.hello(ws, anna["token"])
        assert welcome["state"]["phase"] == "question_open"  # the quiz came back too
        assert welcome["state"]["player"]["nickname"] == "Anna"
