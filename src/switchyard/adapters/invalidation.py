"""Carries "identity changed, drop your caches" from the process that made a change to every other process.

Two implementations of one small protocol:

- ``DatabaseEpochBus`` (no Redis): the change bumps a counter row (``cache_epochs``) in its own transaction;
  every process polls that row every ``interval`` seconds (≤ 1 s) and clears when it moved.
- ``RedisBus`` (``SWITCHYARD_REDIS_URL``): the process publishes on a channel after commit; subscribers clear at
  once. After a lost connection a subscriber clears too, since it may have missed messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Protocol

import redis.asyncio as aioredis
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from switchyard.store.tables import CacheEpochRow

log = logging.getLogger(__name__)

PRINCIPALS = "principals"
ROUTING = "routing"
CHANNEL = "switchyard:invalidate"


class InvalidationBus(Protocol):
    async def start(self, on_change: Callable[[], None]) -> None: ...

    async def publish(self) -> None:
        """Called after a change was committed."""

    async def close(self) -> None: ...


async def bump_epoch(session: AsyncSession, name: str = PRINCIPALS) -> None:
    """Inside the transaction that changes identity data: move the epoch the pollers watch."""
    await session.execute(update(CacheEpochRow).where(CacheEpochRow.name == name).values(value=CacheEpochRow.value + 1))


class DatabaseEpochBus:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], interval: float, name: str = PRINCIPALS) -> None:
        self._sessions = sessions
        self._interval = interval
        self._name = name
        self._task: asyncio.Task[None] | None = None
        self._seen: int | None = None

    async def _read(self) -> int | None:
        async with self._sessions() as session:
            value = (
                await session.execute(select(CacheEpochRow.value).where(CacheEpochRow.name == self._name))
            ).scalar_one_or_none()
            return value

    async def start(self, on_change: Callable[[], None]) -> None:
        self._seen = await self._read()
        self._task = asyncio.create_task(self._poll(on_change), name="switchyard-epoch-poll")

    async def _poll(self, on_change: Callable[[], None]) -> None:
        loop = asyncio.get_running_loop()
        next_read = loop.time()
        while True:  # a fixed cadence: the read's own time does not stretch the interval
            next_read += self._interval
            await asyncio.sleep(max(0.0, next_read - loop.time()))
            next_read = max(next_read, loop.time() - self._interval)
            try:
                value = await self._read()
            except Exception:  # the database may be briefly away; keep serving from cache
                log.warning("cache epoch poll failed", exc_info=True)
                continue
            if value != self._seen:
                self._seen = value
                on_change()

    async def publish(self) -> None:
        return None  # the epoch row was bumped in the change's own transaction

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class RedisBus:
    def __init__(self, url: str, channel: str = CHANNEL) -> None:
        self._client: aioredis.Redis = aioredis.Redis.from_url(url)
        self._channel = channel
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    async def start(self, on_change: Callable[[], None]) -> None:
        await self._client.ping()  # fail at start, not later, when Redis is configured but unreachable
        self._task = asyncio.create_task(self._listen(on_change), name="switchyard-redis-invalidation")
        await asyncio.wait_for(self._subscribed.wait(), timeout=10)

    async def _listen(self, on_change: Callable[[], None]) -> None:
        first = True
        while True:
            try:
                async with self._client.pubsub() as pubsub:
                    await pubsub.subscribe(self._channel)
                    self._subscribed.set()
                    if not first:
                        on_change()  # messages may have been missed while disconnected
                    first = False
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            on_change()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("Redis invalidation subscription lost; reconnecting", exc_info=True)
                first = False
                await asyncio.sleep(0.2)

    async def publish(self) -> None:
        try:
            await self._client.publish(self._channel, b"1")
        except Exception:  # the change is committed; other processes catch up when their entries expire
            log.warning("could not publish a cache invalidation", exc_info=True)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._client.aclose()
