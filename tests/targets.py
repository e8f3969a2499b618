"""Providers ready to call (``Target``), built without a store: for unit tests of adapters and routing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from switchyard.adapters.wire.base import Target
from switchyard.domain.gateway import Provider, ProviderAuth, Timeouts, WireFormat

CREATED = datetime(2025, 1, 1, tzinfo=UTC)


def make_target(
    wire_format: WireFormat = WireFormat.openai,
    upstream_model: str = "model",
    base_url: str = "http://upstream.test/v1",
    api_key: str | None = "sk-secret",
    *,
    weight: int = 1,
    priority: int = 0,
    **fields: Any,
) -> Target:
    values: dict[str, Any] = {
        "id": 1,
        "name": f"{wire_format.value}-provider",
        "wire_format": wire_format,
        "base_url": base_url,
        "paths": {},
        "upstream_model": upstream_model,
        "credential_id": None,
        "api_key_hint": None,
        "auth": ProviderAuth(),
        "timeouts": Timeouts(),
        "extra_headers": {},
        "default_options": {},
        "api_version": None,
        "weight": weight,
        "priority": priority,
        "enabled": True,
        "max_in_flight": None,
        "context_length": None,
        "vector_size": None,
        "total_params_b": None,
        "active_params_b": None,
        "hosting_zone": "WOR",
        "capabilities": [],
        "created_at": CREATED,
        "updated_at": CREATED,
    } | fields
    return Target(Provider(**values), api_key, weight, priority)
