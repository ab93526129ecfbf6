"""The per-process memory of token owners: short-lived, dropped per account, never stale after a drop."""

from __future__ import annotations

import time

from application.cluster.token_cache import TokenCache


def test_owners_are_remembered_for_the_lifetime_only() -> None:
    cache = TokenCache(lifetime=0.05)
    cache.put("t1", {"id": 1}, cache.generation)
    assert cache.get("t1") == {"id": 1}
    time.sleep(0.06)
    assert cache.get("t1") is None


def test_a_drop_forgets_every_token_of_that_account_and_only_those() -> None:
    cache = TokenCache()
    for token, owner in (("a1", 1), ("a2", 1), ("b1", 2)):
        cache.put(token, {"id": owner}, cache.generation)
    cache.drop_account(1)
    assert cache.get("a1") is None and cache.get("a2") is None
    assert cache.get("b1") == {"id": 2}


def test_a_lookup_that_started_before_a_drop_is_not_stored() -> None:
    cache = TokenCache()
    started = cache.generation
    cache.drop_account(1)  # e.g. the token was revoked while the lookup was at the database
    cache.put("a1", {"id": 1}, started)
    assert cache.get("a1") is None


def test_the_oldest_entry_makes_room() -> None:
    cache = TokenCache(max_entries=2)
    for n in range(3):
        cache.put(f"t{n}", {"id": n}, cache.generation)
    assert cache.get("t0") is None and cache.get("t2") == {"id": 2}
