"""The API keys and webhook outbox contracts (:class:`~livequiz.ports.ApiKeys`,
:class:`~livequiz.ports.Deliveries`): every backend keeps the learning app's keys hashed, for
every process at once, over a restart, and a revoked key stays revoked; a delivery is stored
with the finish it is about, taken by one process at a time, and kept until it is done.

Runs once per backend: the embedded default in memory and on SQLite, and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from livequiz.apikeys import new_api_key, parse_api_key, secret_matches
from livequiz.ports import Fenced, Records, WebhookDelivery
from tests.contract.harness import Harness
from tests.contract.records_harness import T0, Storage, definition
from tests.contract.test_records import rows


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


# ---------------------------------------------------------------------- the webhook outbox


def delivery(key: str = "q:finished", quiz_id: str = "q") -> WebhookDelivery:
    return WebhookDelivery(key, quiz_id, "https://app.example/h", "whsec_x", '{"id": 1}', T0, T0)


async def test_a_finish_and_its_delivery_are_stored_together_or_not_at_all(
    records: Records,
) -> None:
    """The outbox is written in the journal's commit: never a finish without its delivery
    (a crash just after it would lose the results), nor a delivery of a finish not stored."""
    epoch = await records.add_quiz(definition("300001", "q"))
    await records.release({"q": epoch})
    newer = await records.acquire("q")
    assert newer is not None
    with pytest.raises(Fenced):
        await records.append(rows("q", 1), ["q"], {"q": epoch}, [delivery()])
    assert await records.delivery("q:finished") is None
    assert not await records.is_finished("q")
    await records.append(rows("q", 1), ["q"], {"q": newer}, [delivery()])
    assert await records.delivery("q:finished") == delivery()
    assert await records.is_finished("q")


async def test_deliveries_are_taken_once_and_kept_until_done(storage: Storage) -> None:
    first, second = await storage.open(), await storage.open()
    assert await first.add_delivery(delivery("a:finished", "a"))
    assert not await first.add_delivery(delivery("a:finished", "a"))  # once per key
    assert await first.add_delivery(replace(delivery("b:finished", "b"), next_at_ms=T0 + 50))
    taken = await first.take_deliveries(T0 + 10, T0 + 1_000, 10)
    assert [d.key for d in taken] == ["a:finished"]  # b is not due yet
    assert await second.take_deliveries(T0 + 100, T0 + 1_000, 10) == [
        replace(delivery("b:finished", "b"), next_at_ms=T0 + 1_000)
    ]  # a is held by the first process
    await first.delivery_failed("a:finished", 1, T0 + 200, "HTTP 500")
    (again,) = await second.take_deliveries(T0 + 200, T0 + 2_000, 10)
    assert (again.key, again.attempts, again.last_error) == ("a:finished", 1, "HTTP 500")
    await second.delivery_done("a:finished", T0 + 300, 2)
    done = await first.delivery("a:finished")
    assert done is not None
    assert (done.delivered_at_ms, done.attempts) == (T0 + 300, 2)
    assert await first.take_deliveries(T0 + 10**9, T0 + 10**9 + 1, 10) == [
        replace(delivery("b:finished", "b"), next_at_ms=T0 + 10**9 + 1)
    ]  # a is never taken again; b's hold ran out, so it is taken (and held) again
