"""The API keys contract (:class:`~livequiz.ports.ApiKeys`): every backend keeps the learning
app's keys hashed, for every process at once, over a restart, and a revoked key stays revoked.

Runs once per backend: the embedded default in memory and on SQLite, and PostgreSQL.
"""

from __future__ import annotations

from livequiz.apikeys import new_api_key, parse_api_key, secret_matches
from livequiz.ports import Records
from tests.contract.harness import Harness
from tests.contract.records_harness import T0, Storage


async def test_a_key_is_stored_without_its_secret_and_checked_against_it(
    records: Records,
) -> None:
    text, key = new_api_key("Lingo app (production)", T0)
    await records.add_api_key(key)
    parsed = parse_api_key(text)
    assert parsed is not None
    key_id, secret = parsed
    stored = await records.api_key(key_id)
    assert stored == key
    assert secret not in repr(stored)  # only its SHA-256
    assert secret_matches(stored, secret)
    assert not secret_matches(stored, secret[:-1] + ("A" if secret[-1] != "A" else "B"))
    assert await records.api_key("000000000000") is None


async def test_keys_are_listed_oldest_first_and_revoked_for_good(records: Records) -> None:
    _, first = new_api_key("first", T0)
    _, second = new_api_key("second", T0 + 10)
    await records.add_api_key(second)
    await records.add_api_key(first)
    assert [k.name for k in await records.api_keys()] == ["first", "second"]
    assert await records.revoke_api_key(first.key_id, T0 + 20)
    assert not await records.revoke_api_key(first.key_id, T0 + 30)  # once
    assert not await records.revoke_api_key("000000000000", T0 + 30)
    revoked = await records.api_key(first.key_id)
    assert revoked is not None
    assert revoked.revoked_at_ms == T0 + 20
    assert (await records.api_key(second.key_id)) == second


async def test_every_process_sees_a_new_key_and_a_revocation_at_once(storage: Storage) -> None:
    first = await storage.open()
    second = await storage.open()
    _, key = new_api_key("app", T0)
    await first.add_api_key(key)
    assert await second.api_key(key.key_id) == key
    assert await second.revoke_api_key(key.key_id, T0 + 1)
    seen = await first.api_key(key.key_id)
    assert seen is not None
    assert seen.revoked_at_ms == T0 + 1


async def test_keys_survive_a_restart(durable: Harness) -> None:
    store = await durable.open()
    _, kept = new_api_key("kept", T0)
    _, gone = new_api_key("gone", T0 + 1)
    await store.records.add_api_key(kept)
    await store.records.add_api_key(gone)
    await store.records.revoke_api_key(gone.key_id, T0 + 2)
    restarted = await durable.reopen(store)
    assert await restarted.records.api_key(kept.key_id) == kept
    revoked = await restarted.records.api_key(gone.key_id)
    assert revoked is not None
    assert revoked.revoked_at_ms == T0 + 2
