"""Raw pass-through to one provider (Fathom's ``uris.base``): ``/v1/providers/{name}/{path}``.

The request goes to that provider's base URL plus ``path`` as it came (method, query, body, content type),
with the provider's credentials; the answer comes back as it is, streamed. No translation and no failover.
The caller must be allowed a router the provider serves, or hold ``manage_providers``.

A pass-through call is governed like a routed one, on one of the provider's routers (``accounting_route``): its
limits and budgets are claimed before the call, and its usage, read from the answer as it streams by, is
settled and recorded after (endpoint ``passthrough``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass

from switchyard.adapters.upstream import UpstreamPool, UpstreamRequest, UpstreamResponse, iter_chunks
from switchyard.adapters.wire import anthropic, gemini
from switchyard.adapters.wire.azure_openai import use_api_key_header
from switchyard.adapters.wire.base import Target, provider_headers
from switchyard.domain.gateway import WireFormat
from switchyard.errors import BadRequest, NotFound
from switchyard.services.gateway.dispatch import call_timeouts
from switchyard.services.gateway.routing_table import ProviderEntry, Route, RoutingTable
from switchyard.services.permissions import Permission
from switchyard.services.principal import Principal

FORWARDED_HEADERS = ("content-type", "accept", "anthropic-version", "anthropic-beta")
"""The client's headers that reach the provider; its credentials are the provider's, never the client's."""


def credential_headers(target: Target) -> dict[str, str]:
    """The provider's extra headers and credential, sent the way its wire format sends them (``x-api-key`` for
    Anthropic, ``x-goog-api-key`` for Gemini, ``api-key`` for Azure; the provider's auth settings otherwise)."""
    wire_format = target.provider.wire_format
    if wire_format == WireFormat.anthropic:
        headers = anthropic.request_headers(target)
    elif wire_format == WireFormat.gemini:
        headers = gemini.headers(target)
    else:
        headers = provider_headers(target)
        if wire_format == WireFormat.azure_openai:
            use_api_key_header(headers, target)
    return {k: v for k, v in headers.items() if k.lower() != "content-type"}


@dataclass(slots=True)
class RawAnswer:
    status: int
    content_type: str | None
    _response: UpstreamResponse
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


def accounting_route(routing: RoutingTable, principal: Principal, entry: ProviderEntry, model: object) -> Route | None:
    """The router a pass-through call is counted on: the one the body's ``model`` names (by name or alias) if the
    provider serves it and the caller may use it; else the first, by name, of the provider's routers the caller
    may use; else (a provider manager with no router of it) the first of them. None if it serves none now."""
    if isinstance(model, str):
        named = routing.get(model)
        if named is not None and named.router.name in entry.routers and principal.may_use_router(named.router.name):
            return named
    names = sorted(entry.routers)
    chosen = next((n for n in names if principal.may_use_router(n)), names[0] if names else None)
    return routing.get(chosen) if chosen is not None else None


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
    if provider.wire_format == WireFormat.local:
        raise BadRequest(
            f"Provider '{provider.name}' is served in this process and has no HTTP API to pass through to; "
            "call it through /v1 with one of its routers.",
            param="name",
        )
    url = f"{provider.base_url}/{path.lstrip('/')}" + (f"?{query}" if query else "")
    sent = {k.lower(): v for k, v in credential_headers(entry.target).items()}
    # The client's content type, and its Anthropic version and betas over the defaults.
    sent.update({k.lower(): v for k, v in headers.items() if k.lower() in FORWARDED_HEADERS})
    timeouts = call_timeouts(entry.target)
    stack = AsyncExitStack()
    try:
        response = await stack.enter_async_context(
            pool.open(UpstreamRequest(method, url, sent, body or None), timeouts)
        )
    except BaseException:
        await stack.aclose()
        raise
    return RawAnswer(response.status, response.content_type() or None, response, stack)
