"""Counters shared by the gateway's replicas: in process by default, Redis when several replicas run.

One small protocol, two implementations. Keys expire (``ttl`` seconds after their last change) so that a
replica that died with requests in flight cannot leave a count stuck forever.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import redis.asyncio as aioredis


class Counters(Protocol):
    async def add(self, key: str, amount: int) -> int:
        """Adds ``amount`` (may be negative) and answers the new value."""

    async def get_many(self, keys: Sequence[str]) -> list[int]: ...

    async def close(self) -> None: ...


class MemoryCounters:
    def __init__(self) -> None:
        self._values: dict[str, int] = {}

    async def add(self, key: str, amount: int) -> int:
        value = self._values.get(key, 0) + amount
        if value:
            self._values[key] = value
        else:
            self._values.pop(key, None)
        return value

    async def get_many(self, keys: Sequence[str]) -> list[int]:
        return [self._values.get(key, 0) for key in keys]

    async def close(self) -> None:
        return None


_ADD = """
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return value
"""


class RedisCounters:
    def __init__(
        self, url: str, *, prefix: str = "switchyard:counter:", ttl: int = 900, max_connections: int = 64
    ) -> None:
        # A blocking pool: under a burst, requests wait a moment for a connection instead of failing.
        self._pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=max_connections, timeout=5)
        self._client: aioredis.Redis = aioredis.Redis(connection_pool=self._pool)
        self._prefix = prefix
        self._ttl = ttl
        self._add = self._client.register_script(_ADD)

    async def add(self, key: str, amount: int) -> int:
        return int(await self._add(keys=[self._prefix + key], args=[amount, self._ttl]))

    async def get_many(self, keys: Sequence[str]) -> list[int]:
        if not keys:
            return []
        values = await self._client.mget([self._prefix + key for key in keys])
        return [int(v) if v is not None else 0 for v in values]

    async def close(self) -> None:
        await self._client.aclose()
        await self._pool.aclose()
