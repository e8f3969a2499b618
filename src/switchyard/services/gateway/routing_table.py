"""Every enabled router, by name and alias, with its providers ready to call — held in memory.

Built from the store at start and rebuilt whenever providers or routers change (the ``routing`` epoch), so a
request never reads the database to find where to go. Provider secrets are unsealed here, once per rebuild.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from switchyard.adapters.wire.base import Target
from switchyard.adapters.wire.registry import UnknownWireFormat, adapter
from switchyard.domain.gateway import Router, RouterMember
from switchyard.services.gateway_rows import SECRET_KEY_FIELD, provider_to_domain, router_to_domain
from switchyard.services.sealing import Sealer
from switchyard.store.tables import CredentialRow, ProviderRow, RouterProviderRow, RouterRow

log = logging.getLogger(__name__)

CREDENTIAL_SECRET_KEYS = ("api_key", "token", "secret_access_key")


@dataclass(frozen=True, slots=True)
class Route:
    router: Router
    targets: tuple[Target, ...]
    """In the router's order; the balancer reorders them per request."""


@dataclass(frozen=True, slots=True)
class ProviderEntry:
    """A provider reachable through the routing table, and the routers it serves there."""

    target: Target
    routers: frozenset[str]


class RoutingTable:
    def __init__(self) -> None:
        self._by_name: dict[str, Route] = {}
        self._providers: dict[str, ProviderEntry] = {}
        self.routes: tuple[Route, ...] = ()
        self._loading = asyncio.Lock()

    def get(self, name: str) -> Route | None:
        return self._by_name.get(name)

    def provider(self, name: str) -> ProviderEntry | None:
        return self._providers.get(name)

    def replace(self, routes: list[Route]) -> None:
        by_name: dict[str, Route] = {}
        serving: dict[str, tuple[Target, set[str]]] = {}
        for route in routes:
            for name in (route.router.name, *route.router.aliases):
                by_name[name] = route
            for target in route.targets:
                serving.setdefault(target.provider.name, (target, set()))[1].add(route.router.name)
        providers = {name: ProviderEntry(target, frozenset(names)) for name, (target, names) in serving.items()}
        self._by_name, self._providers, self.routes = by_name, providers, tuple(routes)

    async def load(self, sessions: async_sessionmaker[AsyncSession], sealer: Sealer) -> None:
        """Loads run one at a time, so the table installed last was read last: a slow load that began
        before a change can never overwrite the table a later load read after it."""
        async with self._loading:
            await self._load(sessions, sealer)

    async def _load(self, sessions: async_sessionmaker[AsyncSession], sealer: Sealer) -> None:
        async with sessions() as session:
            routers = list((await session.execute(select(RouterRow).where(RouterRow.enabled))).scalars())
            members = list((await session.execute(select(RouterProviderRow))).scalars())
            providers = {p.id: p for p in (await session.execute(select(ProviderRow))).scalars()}
            credentials = {c.id: c for c in (await session.execute(select(CredentialRow))).scalars()}
        by_router: dict[int, list[RouterProviderRow]] = {}
        for row_member in members:
            by_router.setdefault(row_member.router_id, []).append(row_member)
        routes = []
        for row in routers:
            router = router_to_domain(row, by_router.get(row.id, []))
            targets = []
            for member in router.providers:
                provider_row = providers.get(member.provider_id)
                if provider_row is None or not provider_row.enabled:
                    continue
                try:
                    adapter(provider_row.wire_format)
                except UnknownWireFormat:
                    log.error(
                        "provider %s: wire format %r is not installed", provider_row.name, provider_row.wire_format
                    )
                    continue
                targets.append(provider_target(provider_row, credentials, sealer, member))
            routes.append(Route(router, tuple(targets)))
        self.replace(routes)


def provider_target(
    row: ProviderRow, credentials: dict[int, CredentialRow], sealer: Sealer, member: RouterMember | None = None
) -> Target:
    """A provider as the gateway calls it: its secret unsealed (its own key, else its credential's), its weight
    and priority as a router's ``member`` overrides them."""
    provider = provider_to_domain(row, sealer)
    return Target(
        provider=provider,
        api_key=_secret(row, credentials, sealer),
        weight=member.weight if member is not None and member.weight is not None else provider.weight,
        priority=member.priority if member is not None and member.priority is not None else provider.priority,
    )


def _secret(row: ProviderRow, credentials: dict[int, CredentialRow], sealer: Sealer) -> str | None:
    if row.sealed_api_key:
        value = sealer.unseal(row.sealed_api_key).get(SECRET_KEY_FIELD)
        return str(value) if value else None
    credential = credentials.get(row.credential_id) if row.credential_id is not None else None
    if credential is None:
        return None
    data = sealer.unseal(credential.sealed_data)
    for key in CREDENTIAL_SECRET_KEYS:
        if data.get(key):
            return str(data[key])
    return None
