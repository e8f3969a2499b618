"""The counters behind least-busy routing and admission: the same contract in process and on a real Redis."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
import redis.asyncio as aioredis
from fastapi import FastAPI

from switchyard.adapters.counters import Change, Claim, Counters, MemoryCounters, RedisCounters
from switchyard.services.gateway.balancer import in_flight_key
from switchyard.services.platform import Platform
from tests.conftest import ModelFactory


@pytest.fixture(params=["memory", "redis"])
async def counters(request: pytest.FixtureRequest) -> AsyncIterator[Counters]:
    if request.param == "memory":
        yield MemoryCounters()
        return
    url = request.getfixturevalue("redis_url")
    shared = RedisCounters(url, prefix=f"test:{uuid.uuid4().hex}:", ttl=60)
    yield shared
    await shared.close()


async def test_add_and_read(counters: Counters) -> None:
    assert await counters.get_many(["a", "b"]) == [0, 0]
    assert await counters.add("a", 1) == 1
    assert await counters.add("a", 2) == 3
    assert await counters.add("b", -1) == -1
    assert await counters.get_many(["a", "b", "c"]) == [3, -1, 0]
    assert await counters.add("a", -3) == 0
    assert await counters.get_many([]) == []


async def test_concurrent_adds_are_exact(counters: Counters) -> None:
    await asyncio.gather(*(counters.add("n", 1) for _ in range(200)))
    await asyncio.gather(*(counters.add("n", -1) for _ in range(50)))
    assert await counters.get_many(["n"]) == [150]


async def test_claim_adds_all_or_nothing(counters: Counters) -> None:
    claims = [Claim("rpm", 1, 2, 60), Claim("tpm", 10, 25, 60)]
    assert (await counters.claim(claims)).values == [1, 10]
    assert (await counters.claim(claims)).values == [2, 20]
    refused = await counters.claim(claims)  # rpm would be 3 > 2: nothing is added anywhere
    assert (refused.admitted, refused.refused, refused.values) == (False, 0, [2, 20])
    assert await counters.get_many(["rpm", "tpm"]) == [2, 20]
    big = await counters.claim([Claim("other", 1, None, 60), Claim("tpm", 6, 25, 60)])
    assert (big.admitted, big.refused) == (False, 1)
    assert await counters.get_many(["other"]) == [0]


async def test_claim_starts_a_missing_key_from_its_seed(counters: Counters) -> None:
    spent = Claim("budget", 5, 100, 60, seed=90)
    assert (await counters.claim([spent])).values == [95]
    assert (await counters.claim([spent])).values == [100]
    assert not (await counters.claim([spent])).admitted


async def test_concurrent_claims_never_pass_the_limit(counters: Counters) -> None:
    verdicts = await asyncio.gather(*(counters.claim([Claim("window", 1, 100, 60)]) for _ in range(500)))
    assert sum(v.admitted for v in verdicts) == 100
    assert await counters.get_many(["window"]) == [100]


async def test_settle_corrects_only_keys_that_exist(counters: Counters) -> None:
    await counters.claim([Claim("tokens", 50, None, 60)])
    await counters.settle([Change("tokens", -20, 60), Change("gone", 7, 60)])
    assert await counters.get_many(["tokens", "gone"]) == [30, 0]


async def test_claimed_keys_expire(counters: Counters) -> None:
    await counters.claim([Claim("short", 1, None, 1)])
    await asyncio.sleep(1.2)
    assert await counters.get_many(["short"]) == [0]


async def test_redis_counters_are_shared_and_expire(redis_url: str) -> None:
    prefix = f"test:{uuid.uuid4().hex}:"
    first, second = RedisCounters(redis_url, prefix=prefix, ttl=30), RedisCounters(redis_url, prefix=prefix, ttl=30)
    raw = aioredis.Redis.from_url(redis_url)
    try:
        await first.add("inflight:7", 1)
        await second.add("inflight:7", 1)
        assert await first.get_many(["inflight:7"]) == [2]  # two replicas see one count
        assert 0 < await raw.ttl(prefix + "inflight:7") <= 30  # a crashed replica cannot leave it forever
    finally:
        await first.close()
        await second.close()
        await raw.aclose()


async def test_least_busy_counts_requests_in_flight(
    app: FastAPI, models: ModelFactory, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    platform: Platform = app.state.platform
    slow = await models.provider(f"slow-{uuid.uuid4().hex[:6]}")
    await models.router("busy", [slow], strategy="least_busy")
    key = in_flight_key(slow["id"])
    call = asyncio.ensure_future(
        client.post(
            "/v1/chat/completions",
            json={"model": "busy", "messages": [{"role": "user", "content": "x"}]},
            headers=admin_headers,
        )
    )
    for _ in range(100):
        if await platform.counters.get_many([key]) == [1]:
            break
        await asyncio.sleep(0.02)
    assert await platform.counters.get_many([key]) == [1]
    assert (await call).status_code == 200
    assert await platform.counters.get_many([key]) == [0]
