"""Governance at the inference front doors: admission before the call, headers and usage extras on the answer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from switchyard.domain.gateway import Operation
from switchyard.errors import RateLimited
from switchyard.services.gateway.dispatch import CallRecord
from switchyard.services.gateway.routing_table import Route
from switchyard.services.governance.governor import Ticket
from switchyard.services.platform import Platform
from switchyard.services.principal import Principal

USAGE_EXTRA_OPERATIONS = frozenset({Operation.chat, Operation.completions})

CLIENT_CLOSED = 499
"""Status recorded for a request whose client went away before the answer (nginx's convention)."""


async def admit(
    platform: Platform, principal: Principal, route: Route, operation: Operation, data: dict[str, Any], rid: str
) -> Ticket:
    """Claims the request's limits and budgets; a refusal is recorded as usage and raised."""
    try:
        return await platform.governor.admit(principal, route, operation, data, rid)
    except RateLimited as exc:
        platform.governor.refused(principal, route, operation, rid, exc.status)
        raise


def ticket_headers(ticket: Ticket) -> Sequence[tuple[bytes, bytes]]:
    return ticket.headers


def with_usage_extras(platform: Platform, ticket: Ticket, record: CallRecord, payload: dict[str, Any]) -> bool:
    """Adds ``cost`` and ``carbon`` to the ``usage`` object of an answer or a stream's usage chunk, when the
    router asks for it. True when it added them."""
    usage = payload.get("usage")
    if not isinstance(usage, dict):
        return False
    prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
    usage.update(
        platform.governor.usage_extras(
            ticket, record, prompt if isinstance(prompt, int) else 0, completion if isinstance(completion, int) else 0
        )
    )
    return True


def body_with_usage_extras(platform: Platform, ticket: Ticket, record: CallRecord, body: bytes) -> bytes:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body
    if isinstance(payload, dict) and with_usage_extras(platform, ticket, record, payload):
        return orjson.dumps(payload)
    return body


def event_with_usage_extras(platform: Platform, ticket: Ticket, record: CallRecord, event: bytes) -> bytes:
    """An SSE event (``data: {...}\\n\\n``) carrying usage, with the extras added; other events as they are."""
    if b'"usage":{' not in event and b'"usage": {' not in event:
        return event
    prefix, _, rest = event.partition(b"data: ")
    payload = rest.rstrip(b"\n")
    updated = body_with_usage_extras(platform, ticket, record, payload)
    return event if updated is payload else prefix + b"data: " + updated + b"\n\n"
