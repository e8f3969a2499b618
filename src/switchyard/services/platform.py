"""The long-lived parts a running server shares, built once at start and handed to every service call."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from switchyard.adapters.counters import Counters, MemoryCounters, RedisCounters
from switchyard.adapters.invalidation import (
    PRINCIPALS,
    ROUTING,
    DatabaseEpochBus,
    InvalidationBus,
    RedisBus,
    bump_epoch,
)
from switchyard.adapters.upstream import UpstreamPool
from switchyard.services.gateway.admission_queue import AdmissionQueue
from switchyard.services.gateway.dispatch import Gateway
from switchyard.services.gateway.routing_table import RoutingTable
from switchyard.services.governance.governor import Governor
from switchyard.services.governance.metrics import GatewayMetrics
from switchyard.services.governance.usage_writer import UsageWriter
from switchyard.services.key_activity import KeyActivity
from switchyard.services.principal_cache import PrincipalCache
from switchyard.services.principal_loader import PrincipalLoader
from switchyard.services.sealing import Sealer, resolve_secret_key
from switchyard.services.usage_retention import UsageRetention
from switchyard.settings import Settings
from switchyard.store.data_errors import refused_values_are_bad_requests
from switchyard.store.engine import create_engine, create_session_factory, thread_engine

log = logging.getLogger(__name__)


@dataclass
class Platform:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    sealer: Sealer
    principals: PrincipalCache
    bus: InvalidationBus
    key_activity: KeyActivity
    routing: RoutingTable
    gateway: Gateway
    counters: Counters
    governor: Governor
    metrics: GatewayMetrics
    retention: UsageRetention
    _started: bool = field(default=False, init=False)
    _reloading: asyncio.Task[None] | None = field(default=None, init=False)
    _reload_again: bool = field(default=False, init=False)

    @classmethod
    def build(cls, settings: Settings) -> Platform:
        engine = create_engine(settings.resolved_database_url)
        sessions = create_session_factory(engine)
        bus: InvalidationBus = (
            RedisBus(settings.redis_url, channel=f"{settings.redis_prefix}invalidate")
            if settings.redis_url
            else DatabaseEpochBus(sessions, settings.cache_poll_interval_seconds)
        )
        counters: Counters = (
            RedisCounters(settings.redis_url, prefix=f"{settings.redis_prefix}counter:")
            if settings.redis_url
            else MemoryCounters()
        )
        writer = UsageWriter(
            sessions,
            interval=settings.usage_flush_interval_seconds,
            batch_size=settings.usage_batch_size,
            max_queue=settings.usage_queue_size,
            thread_engine=thread_engine(engine),
        )
        metrics = GatewayMetrics()
        gateway = Gateway(UpstreamPool(), counters, queue=AdmissionQueue(metrics.queue_length))
        gateway.in_flight_observer = metrics.in_flight
        metrics.watch_usage_writer(lambda: writer.written, lambda: writer.dropped, lambda: writer.queued)
        return cls(
            settings=settings,
            engine=engine,
            sessions=sessions,
            sealer=Sealer(resolve_secret_key(settings)),
            principals=PrincipalCache(PrincipalLoader(sessions), ttl=settings.principal_cache_ttl_seconds),
            bus=bus,
            key_activity=KeyActivity(sessions),
            routing=RoutingTable(),
            gateway=gateway,
            counters=counters,
            governor=Governor(counters, writer, metrics.observe),
            metrics=metrics,
            retention=UsageRetention(sessions, settings.usage_retention_days),
        )

    async def start(self) -> None:
        await self.routing.load(self.sessions, self.sealer)
        self._started = True
        await self.bus.start(self._changed)
        self.key_activity.start()
        self.governor.writer.start()
        self.retention.start()

    def _changed(self, name: str | None) -> None:
        if name in (None, PRINCIPALS):
            self.principals.clear()
        if name in (None, ROUTING):
            self.reload_routing()

    def reload_routing(self) -> None:
        """Rebuild the routing table in the background; changes during a rebuild cause one more."""
        if self._reloading is not None and not self._reloading.done():
            self._reload_again = True
            return
        self._reloading = asyncio.create_task(self._reload(), name="switchyard-routing-reload")

    async def _reload(self) -> None:
        while True:
            self._reload_again = False
            try:
                await self.routing.load(self.sessions, self.sealer)
            except Exception:  # keep serving the table we have; the next change or poll tries again
                log.exception("could not rebuild the routing table")
            if not self._reload_again:
                return

    async def close(self) -> None:
        self._started = False
        if self._reloading is not None:
            self._reloading.cancel()
            await asyncio.gather(self._reloading, return_exceptions=True)
        await self.retention.close()
        await self.key_activity.close()
        await self.governor.close()
        await self.governor.writer.close()
        await self.bus.close()
        await self.gateway.pool.close()
        await self.counters.close()
        await self.engine.dispose()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: committed when the block ends, rolled back (nothing written) when it raises.
        Values the database refuses become a 400 here."""
        with refused_values_are_bad_requests():
            async with self.sessions.begin() as session:
                yield session

    @asynccontextmanager
    async def routing_change(self) -> AsyncIterator[AsyncSession]:
        """A transaction that changes providers or routers: every process rebuilds its routing table once it
        is committed."""
        async with self.transaction() as session:
            yield session
            await bump_epoch(session, ROUTING)
        if self._started:  # this process answers with the new table from its very next request
            await self.routing.load(self.sessions, self.sealer)
        await self.bus.publish(ROUTING)

    @asynccontextmanager
    async def identity_change(self) -> AsyncIterator[AsyncSession]:
        """A transaction that changes keys, users, roles or organizations: every process drops its cached
        principals once it is committed."""
        async with self.transaction() as session:
            yield session
            await bump_epoch(session, PRINCIPALS)
        self.principals.clear()
        await self.bus.publish(PRINCIPALS)
