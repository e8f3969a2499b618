"""Invalidation across processes, against the real stores: two ``Platform`` objects built from the same
settings stand for two server processes sharing one database (and Redis). A change committed by one must stop
the other from resolving a revoked key within a second, while unchanged keys keep being served from memory."""

from __future__ import annotations

import asyncio
import inspect
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
import redis.asyncio as aioredis
from sqlalchemy import text

from switchyard.services.platform import Platform
from switchyard.services.tokens import hash_secret
from switchyard.settings import Settings
from tests.conftest import ADMIN_KEY

PROPAGATION_LIMIT = 1.0


@asynccontextmanager
async def started(settings: Settings) -> AsyncIterator[Platform]:
    platform = Platform.build(settings)
    try:
        await platform.start()
        yield platform
    finally:
        await platform.close()


async def seconds_until(condition: Callable[[], bool | Awaitable[bool]], limit: float) -> float:
    """Polls ``condition`` until it holds; the seconds it took. Fails the test after ``limit`` seconds."""
    started_at = time.monotonic()
    deadline = started_at + limit
    while True:
        result = condition()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return time.monotonic() - started_at
        if time.monotonic() > deadline:
            pytest.fail(f"condition still false after {limit} s")
        await asyncio.sleep(0.005)


async def revoke_admin_key(platform: Platform) -> None:
    """The change the way any writer makes it: a plain UPDATE inside ``identity_change()``."""
    async with platform.identity_change() as session:
        await session.execute(
            text("UPDATE api_keys SET status = 'revoked' WHERE secret_hash = :hash"),
            {"hash": hash_secret(ADMIN_KEY)},
        )


@pytest.fixture(params=["database-epoch", "redis"])
def shared_settings(request: pytest.FixtureRequest, settings: Settings, platform: Platform) -> Settings:
    """Settings of the two "processes" (``platform`` has migrated and bootstrapped their store)."""
    if request.param == "redis":
        return settings.model_copy(update={"redis_url": request.getfixturevalue("redis_url")})
    assert settings.redis_url is None
    return settings


async def test_a_revoked_key_stops_working_in_the_other_process_within_a_second(
    shared_settings: Settings,
) -> None:
    async with started(shared_settings) as a, started(shared_settings) as b:
        assert type(a.bus).__name__ == ("RedisBus" if shared_settings.redis_url else "DatabaseEpochBus")
        for process in (a, b):
            assert await process.principals.resolve(ADMIN_KEY) is not None
        loads = b.principals.misses
        await asyncio.sleep(shared_settings.cache_poll_interval_seconds + 0.1)  # an idle poll drops nothing
        assert await b.principals.resolve(ADMIN_KEY) is not None
        assert b.principals.misses == loads  # served from memory, no query

        await revoke_admin_key(a)
        assert await a.principals.resolve(ADMIN_KEY) is None  # the writer at once

        async def b_refuses() -> bool:
            return await b.principals.resolve(ADMIN_KEY) is None

        elapsed = await seconds_until(b_refuses, limit=3 * PROPAGATION_LIMIT)
        assert elapsed < PROPAGATION_LIMIT, f"took {elapsed:.3f} s"


async def _kill_pubsub_connections(client: aioredis.Redis, name: str) -> int:
    """CLIENT KILL for this test's subscriber only (other suites may share the Redis server)."""
    killed = 0
    for entry in await client.client_list(_type="pubsub"):
        if entry.get("name") == name:
            killed += await client.client_kill_filter(_id=entry["id"])
    return killed


@pytest.mark.parametrize("backend", ["sqlite"])  # the store only answers the reloads here
async def test_a_redis_subscriber_that_lost_its_connection_clears_after_reconnecting(
    settings: Settings, platform: Platform, redis_url: str
) -> None:
    name = f"switchyard-test-{uuid.uuid4().hex[:12]}"
    subscriber_settings = settings.model_copy(update={"redis_url": f"{redis_url}?client_name={name}"})
    admin = aioredis.Redis.from_url(redis_url)
    try:
        async with started(subscriber_settings) as b:
            assert await b.principals.resolve(ADMIN_KEY) is not None
            assert len(b.principals) == 1

            assert await _kill_pubsub_connections(admin, name) == 1
            await seconds_until(lambda: len(b.principals) == 0, limit=5.0)

            # subscribed again: a change published after the reconnect still reaches it
            assert await b.principals.resolve(ADMIN_KEY) is not None
            assert len(b.principals) == 1
            await admin.publish(f"{settings.redis_prefix}invalidate", b"1")
            elapsed = await seconds_until(lambda: len(b.principals) == 0, limit=3 * PROPAGATION_LIMIT)
            assert elapsed < PROPAGATION_LIMIT
    finally:
        await admin.aclose()
