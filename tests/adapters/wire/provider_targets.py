"""Targets (a provider and its key) for the azure_openai, tei and cohere adapters' unit tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from switchyard.adapters.wire.base import Target
from switchyard.domain.gateway import Provider, ProviderAuth, Timeouts, WireFormat


def target(
    wire_format: WireFormat, upstream_model: str, base_url: str, api_key: str | None = "sk-secret", **fields: Any
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
        "weight": 1,
        "priority": 0,
        "enabled": True,
        "max_in_flight": None,
        "context_length": None,
        "vector_size": None,
        "total_params_b": None,
        "active_params_b": None,
        "hosting_zone": "WOR",
        "capabilities": [],
        "created_at": datetime(2025, 1, 1, tzinfo=UTC),
        "updated_at": datetime(2025, 1, 1, tzinfo=UTC),
    } | fields
    return Target(Provider(**values), api_key, 1, 0)


def split_every(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]
