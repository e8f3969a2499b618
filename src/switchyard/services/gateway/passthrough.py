"""Raw pass-through to one provider (Fathom's ``uris.base``): ``/v1/providers/{name}/{path}``.

The request goes to that provider's base URL plus ``path`` as it came (method, query, body, content type),
with the provider's credentials; the answer comes back as it is, streamed. No translation and no failover.
The caller must be allowed a router the provider serves, or hold ``manage_providers``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass

import aiohttp

from switchyard.adapters.upstream import CallTimeouts, UpstreamPool, UpstreamRequest, iter_chunks
from switchyard.adapters.wire.base import provider_headers
from switchyard.errors import BadRequest, NotFound
from switchyard.services.gateway.routing_table import ProviderEntry, RoutingTable
from switchyard.services.permissions import Permission
from switchyard.services.principal import Principal

FORWARDED_HEADERS = ("content-type", "accept")


@dataclass(slots=True)
class RawAnswer:
    status: int
    content_type: str | None
    _response: aiohttp.ClientResponse
    _stack: AsyncExitStack

    async def chunks(self) -> AsyncIterator[bytes]:
        async for chunk in iter_chunks(self._response):
            yield chunk

    async def aclose(self) -> None:
        await self._stack.aclose()


def find_provider(routing: RoutingTable, principal: Principal, name: str) -> ProviderEntry:
    entry = routing.provider(name)
    allowed = entry is not None and (
        principal.can(Permission.manage_providers) or any(principal.may_use_router(r) for r in entry.routers)
    )
    if entry is None or not allowed:
        raise NotFound(f"No provider '{name}' you may use.", code="provider_not_found")
    return entry


async def open_raw(
    pool: UpstreamPool,
    entry: ProviderEntry,
    method: str,
    path: str,
    query: str,
    headers: dict[str, str],
    body: bytes,
) -> RawAnswer:
    if ".." in path.split("/"):
        raise BadRequest("The path may not contain '..'.", param="path")
    provider = entry.target.provider
    url = f"{provider.base_url}/{path.lstrip('/')}" + (f"?{query}" if query else "")
    sent = {k: v for k, v in headers.items() if k.lower() in FORWARDED_HEADERS}
    sent.update(provider_headers(entry.target))
    timeouts = CallTimeouts(provider.timeouts.connect, provider.timeouts.first_byte, provider.timeouts.total)
    stack = AsyncExitStack()
    try:
        response = await stack.enter_async_context(
            pool.open(UpstreamRequest(method, url, sent, body or None), timeouts)
        )
    except BaseException:
        await stack.aclose()
        raise
    return RawAnswer(response.status, response.headers.get("Content-Type"), response, stack)
