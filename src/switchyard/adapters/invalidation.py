"""Carries "this changed, drop what you cached" from the process that made a change to every other process.

What changed is named by an epoch: ``principals`` (keys, users, roles, organizations) or ``routing``
(providers, routers). Listeners get the name, or None when anything may have changed (a lost connection).
Two implementations of one small protocol:

- ``DatabaseEpochBus`` (no Redis): the change bumps its counter row (``cache_epochs``) in its own transaction;
  every process polls those rows every ``interval`` seconds (≤ 1 s) and reports the ones that moved.
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


Listener = Callable[[str | None], None]
EPOCHS = (PRINCIPALS, ROUTING)


class InvalidationBus(Protocol):
    async def start(self, on_change: Listener) -> None: ...

    async def publish(self, name: str) -> None:
        """Called after a change to ``name`` was committed."""

    async def close(self) -> None: ...


async def bump_epoch(session: AsyncSession, name: str = PRINCIPALS) -> None:
    """Inside the transaction that changes identity data: move the epoch the pollers watch."""
    await session.execute(update(CacheEpochRow).where(CacheEpochRow.name == name).values(value=CacheEpochRow.value + 1))


class DatabaseEpochBus:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], interval: float) -> None:
        self._sessions = sessions
        self._interval = interval
        self._task: asyncio.Task[None] | None = None
        self._seen: dict[str, int] = {}

    async def _read(self) -> dict[str, int]:
        async with self._sessions() as session:
            rows = await session.execute(select(CacheEpochRow.name, CacheEpochRow.value))
            return {name: value for name, value in rows}

    async def start(self, on_change: Listener) -> None:
        self._seen = await self._read()
        self._task = asyncio.create_task(self._poll(on_change), name="switchyard-epoch-poll")

    async def _poll(self, on_change: Listener) -> None:
        loop = asyncio.get_running_loop()
        next_read = loop.time()
        while True:  # a fixed cadence: the read's own time does not stretch the interval
            next_read += self._interval
            await asyncio.sleep(max(0.0, next_read - loop.time()))
            next_read = max(next_read, loop.time() - self._interval)
            try:
                values = await self._read()
            except Exception:  # the database may be briefly away; keep serving from cache
                log.warning("cache epoch poll failed", exc_info=True)
                continue
            moved = [name for name, value in values.items() if self._seen.get(name) != value]
            self._seen = values
            for name in moved:
                on_change(name)

    async def publish(self, name: str) -> None:
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

    async def start(self, on_change: Listener) -> None:
        await self._client.ping()  # fail at start, not later, when Redis is configured but unreachable
        self._task = asyncio.create_task(self._listen(on_change), name="switchyard-redis-invalidation")
        await asyncio.wait_for(self._subscribed.wait(), timeout=10)

    async def _listen(self, on_change: Listener) -> None:
        first = True
        while True:
            try:
                async with self._client.pubsub() as pubsub:
                    await pubsub.subscribe(self._channel)
                    self._subscribed.set()
                    if not first:
                        on_change(None)  # messages may have been missed while disconnected
                    first = False
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            name = message["data"].decode(errors="replace")
                            on_change(name if name in EPOCHS else None)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("Redis invalidation subscription lost; reconnecting", exc_info=True)
                first = False
                await asyncio.sleep(0.2)

    async def publish(self, name: str) -> None:
        try:
            await self._client.publish(self._channel, name.encode())
        except Exception:  # the change is committed; other processes catch up when their entries expire
            log.warning("could not publish a cache invalidation", exc_info=True)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._client.aclose()
