"""PrincipalCache with a fake loader standing in for the store: what is loaded, when, and how often."""

from __future__ import annotations

import asyncio
import time

from switchyard.services.permissions import Permission
from switchyard.services.principal import Principal
from switchyard.services.principal_cache import PrincipalCache
from switchyard.services.tokens import hash_secret

TOKEN = "sy-unit-test-token-0123456789"


def principal(user_id: int = 1, *, expires_at: float | None = None) -> Principal:
    return Principal(
        user_id=user_id,
        email=f"user{user_id}@example.com",
        role_id=1,
        role_name="user",
        permissions=frozenset({Permission.read_usage}),
        key_id=user_id,
        expires_at=expires_at,
    )


class FakeStore:
    """Answers like ``PrincipalLoader``: reads its state when called, then optionally waits for ``gate``
    (a slow query whose answer is already decided), and counts the calls."""

    def __init__(self, known: dict[str, Principal] | None = None) -> None:
        self.known = {hash_secret(token): p for token, p in (known or {}).items()}
        self.calls = 0
        self.started = asyncio.Event()
        self.gate: asyncio.Event | None = None
        self.error: Exception | None = None

    def set(self, token: str, value: Principal | None) -> None:
        if value is None:
            self.known.pop(hash_secret(token), None)
        else:
            self.known[hash_secret(token)] = value

    async def __call__(self, token_hash: str) -> Principal | None:
        self.calls += 1
        answer = self.known.get(token_hash)
        self.started.set()
        if self.gate is not None:
            await asyncio.wait_for(self.gate.wait(), timeout=5)
        if self.error is not None:
            raise self.error
        return answer


async def test_a_hit_does_not_call_the_loader() -> None:
    store = FakeStore({TOKEN: principal()})
    cache = PrincipalCache(store)

    first = await cache.resolve(TOKEN)
    assert first == principal() and store.calls == 1
    for _ in range(100):
        assert await cache.resolve(TOKEN) is first
    assert store.calls == 1
    assert (cache.hits, cache.misses) == (100, 1)


async def test_entries_are_reloaded_after_the_ttl() -> None:
    store = FakeStore({TOKEN: principal()})
    cache = PrincipalCache(store, ttl=0.05)
    assert await cache.resolve(TOKEN) is not None
    store.set(TOKEN, None)  # revoked without any invalidation: the ttl bounds how long the cache may lag
    assert await cache.resolve(TOKEN) is not None
    await asyncio.sleep(0.1)
    assert await cache.resolve(TOKEN) is None
    assert store.calls == 2


async def test_unknown_tokens_are_negative_cached_until_negative_ttl() -> None:
    store = FakeStore()
    cache = PrincipalCache(store, negative_ttl=0.2)

    for _ in range(10):
        assert await cache.resolve(TOKEN) is None
    assert store.calls == 1

    store.set(TOKEN, principal())  # the key is created meanwhile
    assert await cache.resolve(TOKEN) is None  # still the cached "unknown"
    await asyncio.sleep(0.3)
    assert await cache.resolve(TOKEN) == principal()
    assert store.calls == 2


async def test_concurrent_misses_for_one_token_share_one_load() -> None:
    store = FakeStore({TOKEN: principal()})
    store.gate = asyncio.Event()
    cache = PrincipalCache(store)

    everyone = asyncio.ensure_future(asyncio.gather(*(cache.resolve(TOKEN) for _ in range(50))))
    await asyncio.wait_for(store.started.wait(), timeout=2)
    for _ in range(5):
        await asyncio.sleep(0)  # every resolver has reached its first await
    store.gate.set()
    results = await asyncio.wait_for(everyone, timeout=2)

    assert store.calls == 1
    assert all(r == principal() for r in results) and len(results) == 50
    assert await cache.resolve(TOKEN) == principal() and store.calls == 1


async def test_a_failed_load_fails_its_waiters_and_is_not_cached() -> None:
    store = FakeStore({TOKEN: principal()})
    store.gate = asyncio.Event()
    store.error = ConnectionError("database away")
    cache = PrincipalCache(store)

    everyone = asyncio.ensure_future(asyncio.gather(*(cache.resolve(TOKEN) for _ in range(5)), return_exceptions=True))
    await asyncio.wait_for(store.started.wait(), timeout=2)
    await asyncio.sleep(0)
    store.gate.set()
    results = await asyncio.wait_for(everyone, timeout=2)
    assert all(isinstance(r, ConnectionError) for r in results)
    assert store.calls == 1 and len(cache) == 0

    store.error = None
    assert await cache.resolve(TOKEN) == principal()
    assert store.calls == 2


async def test_a_load_racing_clear_is_not_cached_and_is_not_joined_by_later_callers() -> None:
    store = FakeStore({TOKEN: principal()})
    store.gate = asyncio.Event()
    cache = PrincipalCache(store)

    before = asyncio.ensure_future(cache.resolve(TOKEN))  # reads the key while it is still active…
    await asyncio.wait_for(store.started.wait(), timeout=2)
    store.set(TOKEN, None)  # …then the key is revoked and the change is broadcast
    cache.clear()
    after = asyncio.ensure_future(cache.resolve(TOKEN))  # a request that arrives after the invalidation
    await asyncio.sleep(0)
    store.gate.set()

    assert await asyncio.wait_for(before, timeout=2) == principal()  # began before the change: may see it
    assert await asyncio.wait_for(after, timeout=2) is None  # began after it: must not
    assert store.calls == 2
    assert await cache.resolve(TOKEN) is None  # the stale answer was not cached
    assert store.calls == 2  # the fresh (negative) answer was


async def test_clear_during_a_load_then_the_load_finishes_alone() -> None:
    store = FakeStore({TOKEN: principal()})
    store.gate = asyncio.Event()
    cache = PrincipalCache(store)

    loading = asyncio.ensure_future(cache.resolve(TOKEN))
    await asyncio.wait_for(store.started.wait(), timeout=2)
    cache.clear()
    store.gate.set()
    assert await asyncio.wait_for(loading, timeout=2) == principal()
    assert len(cache) == 0

    store.gate = None
    assert await cache.resolve(TOKEN) == principal()
    assert store.calls == 2 and len(cache) == 1


async def test_an_expired_principal_resolves_to_none() -> None:
    store = FakeStore({TOKEN: principal(expires_at=time.time() - 1)})
    cache = PrincipalCache(store)
    assert await cache.resolve(TOKEN) is None
    assert await cache.resolve(TOKEN) is None


async def test_a_principal_that_expires_while_cached_stops_resolving() -> None:
    store = FakeStore({TOKEN: principal(expires_at=time.time() + 0.1)})
    cache = PrincipalCache(store)
    assert await cache.resolve(TOKEN) is not None
    await asyncio.sleep(0.15)
    assert await cache.resolve(TOKEN) is None
    assert store.calls == 1  # decided from the cached expiry, without a query


async def test_max_entries_bounds_the_cache() -> None:
    tokens = [f"sy-token-{i:04d}" for i in range(250)]
    store = FakeStore({t: principal(i) for i, t in enumerate(tokens[:200])})  # the rest are unknown
    cache = PrincipalCache(store, max_entries=16)

    for i, token in enumerate(tokens):
        resolved = await cache.resolve(token)
        assert (resolved.user_id if resolved else None) == (i if i < 200 else None)
        assert len(cache) <= 16
    assert await cache.resolve(tokens[-1]) is None
    assert store.calls == len(tokens)  # the last one was still cached


async def test_a_caller_that_goes_away_does_not_cancel_the_others_load() -> None:
    store = FakeStore({TOKEN: principal()})
    store.gate = asyncio.Event()
    cache = PrincipalCache(store)
    leaving = asyncio.create_task(cache.resolve(TOKEN))
    staying = asyncio.create_task(cache.resolve(TOKEN))
    await asyncio.wait_for(store.started.wait(), timeout=5)
    leaving.cancel()
    store.gate.set()
    assert await asyncio.wait_for(staying, timeout=5) == principal()
    assert leaving.cancelled() and store.calls == 1
    assert await cache.resolve(TOKEN) == principal() and store.calls == 1  # and the answer was cached
