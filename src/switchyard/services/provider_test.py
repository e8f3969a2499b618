"""Testing one provider: a tiny request straight to its upstream, through its wire adapter and the platform's
upstream pool — no router, no failover, no circuit breaker (a test neither trips nor heals a circuit).

A chat provider is sent ``{"messages": [{"role": "user", "content": "ping"}], "max_tokens": 1}``; a provider
that only embeds (its capabilities, the routers it serves, or its wire format say so) is sent
``{"input": "ping"}``. A provider served in this process (wire format ``local``) is invoked directly, and its
status is 200 when it answered. Whatever the upstream does is the result, not an error of the test: ``ok`` says
whether it answered well, ``error`` what went wrong in the words of the error tree.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from switchyard.adapters.upstream import CallTimeouts, read_body
from switchyard.adapters.wire.base import Target, WireAdapter
from switchyard.adapters.wire.registry import UnknownWireFormat, adapter
from switchyard.domain.gateway import ModelType, Operation
from switchyard.errors import SwitchyardError, UpstreamError, UpstreamTimeout
from switchyard.services.gateway.dispatch import upstream_body
from switchyard.services.gateway.routing_table import provider_target
from switchyard.services.platform import Platform
from switchyard.store.rows import get_or_404
from switchyard.store.tables import CredentialRow, ProviderRow, RouterProviderRow, RouterRow

PING = "ping"
BODIES: dict[Operation, dict[str, Any]] = {
    Operation.chat: {"messages": [{"role": "user", "content": PING}], "max_tokens": 1},
    Operation.embeddings: {"input": PING},
}
LONGEST_WAIT = CallTimeouts(connect=10.0, first_byte=30.0, total=30.0)
"""A test waits at most this long, even for a provider whose own timeouts are longer."""


@dataclass(frozen=True, slots=True)
class ProviderTest:
    operation: Operation
    latency_ms: float
    status: int | None
    """The upstream's HTTP status; None when it never answered (connection refused, timeout)."""
    error: SwitchyardError | None

    @property
    def ok(self) -> bool:
        return self.error is None


def choose_operation(capabilities: Iterable[str], router_types: Iterable[ModelType], wire: WireAdapter) -> Operation:
    """Embeddings for a provider that only embeds; chat for any other."""
    capabilities = set(capabilities)
    types = set(router_types)
    embeds_only = (Operation.embeddings.value in capabilities and Operation.chat.value not in capabilities) or (
        types == {ModelType.text_embeddings_inference}
    )
    if embeds_only or not wire.supports(Operation.chat):
        return Operation.embeddings
    return Operation.chat


async def run_provider_test(platform: Platform, provider_id: int) -> ProviderTest:
    """Raises ``NotFound`` for an unknown provider; every upstream outcome is in the answer."""
    async with platform.sessions() as session:
        row = await get_or_404(session, ProviderRow, provider_id, "provider")
        credential = await session.get(CredentialRow, row.credential_id) if row.credential_id is not None else None
        serves = (
            select(RouterRow.model_type)
            .join(RouterProviderRow, RouterProviderRow.router_id == RouterRow.id)
            .where(RouterProviderRow.provider_id == provider_id)
        )
        router_types = [ModelType(value) for value in (await session.execute(serves)).scalars()]
    target = provider_target(row, {credential.id: credential} if credential else {}, platform.sealer)
    try:
        wire = adapter(row.wire_format)
    except UnknownWireFormat:
        missing = UpstreamError(
            f"The wire format '{row.wire_format}' is not installed on this server.", code="wire_format_not_installed"
        )
        return ProviderTest(Operation.chat, 0.0, None, missing)
    operation = choose_operation(row.capabilities, router_types, wire)
    if not wire.supports(operation):
        unsupported = UpstreamError(
            f"The wire format '{row.wire_format}' does not serve {operation.value}; there is nothing to send.",
            code="unsupported_operation",
        )
        return ProviderTest(operation, 0.0, None, unsupported)
    return await _call(platform, target, wire, operation)


async def _call(platform: Platform, target: Target, wire: WireAdapter, operation: Operation) -> ProviderTest:
    own = target.provider.timeouts
    timeouts = CallTimeouts(
        connect=min(own.connect, LONGEST_WAIT.connect),
        first_byte=min(own.first_byte, LONGEST_WAIT.first_byte),
        total=min(own.total, LONGEST_WAIT.total),
    )
    status: int | None = None
    began = time.perf_counter()
    try:
        sent = upstream_body(BODIES[operation], target)
        invoke = getattr(wire, "invoke", None)
        if invoke is not None:  # served in this process (wire format local): no HTTP to send
            try:
                await asyncio.wait_for(invoke(operation, sent, target), timeouts.total)
            except TimeoutError:
                raise UpstreamTimeout(f"The model did not answer within {timeouts.total:g} s.") from None
            return ProviderTest(operation, _since(began), 200, None)
        request = wire.build(operation, sent, target, stream=False)
        async with platform.gateway.pool.open(request, timeouts) as response:
            status = response.status
            payload = await read_body(response)
        if status >= 400:
            raise wire.error(status, payload)
        wire.answer(operation, status, payload, target, sent)
    except SwitchyardError as exc:
        return ProviderTest(operation, _since(began), status, exc)
    return ProviderTest(operation, _since(began), status, None)


def _since(began: float) -> float:
    return round((time.perf_counter() - began) * 1000, 3)
