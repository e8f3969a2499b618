"""The long-lived parts a running server shares, built once at start and handed to every service call."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from switchyard.adapters.invalidation import (
    ROUTING,
    DatabaseEpochBus,
    InvalidationBus,
    RedisBus,
    bump_epoch,
)
from switchyard.services.key_activity import KeyActivity
from switchyard.services.principal_cache import PrincipalCache
from switchyard.services.principal_loader import PrincipalLoader
from switchyard.services.sealing import Sealer, resolve_secret_key
from switchyard.settings import Settings
from switchyard.store.data_errors import refused_values_are_bad_requests
from switchyard.store.engine import create_engine, create_session_factory


@dataclass
class Platform:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    sealer: Sealer
    principals: PrincipalCache
    bus: InvalidationBus
    key_activity: KeyActivity

    @classmethod
    def build(cls, settings: Settings) -> Platform:
        engine = create_engine(settings.resolved_database_url)
        sessions = create_session_factory(engine)
        bus: InvalidationBus = (
            RedisBus(settings.redis_url)
            if settings.redis_url
            else DatabaseEpochBus(sessions, settings.cache_poll_interval_seconds)
        )
        return cls(
            settings=settings,
            engine=engine,
            sessions=sessions,
            sealer=Sealer(resolve_secret_key(settings)),
            principals=PrincipalCache(PrincipalLoader(sessions), ttl=settings.principal_cache_ttl_seconds),
            bus=bus,
            key_activity=KeyActivity(sessions),
        )

    async def start(self) -> None:
        await self.bus.start(self.principals.clear)
        self.key_activity.start()

    async def close(self) -> None:
        await self.key_activity.close()
        await self.bus.close()
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
        await self.bus.publish()

    @asynccontextmanager
    async def identity_change(self) -> AsyncIterator[AsyncSession]:
        """A transaction that changes keys, users, roles or organizations: every process drops its cached
        principals once it is committed."""
        async with self.transaction() as session:
            yield session
            await bump_epoch(session)
        self.principals.clear()
        await self.bus.publish()
