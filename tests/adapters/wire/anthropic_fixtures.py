"""Targets for the anthropic adapter's unit tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from switchyard.adapters.wire.base import Target
from switchyard.domain.gateway import Provider, ProviderAuth, Timeouts, WireFormat


def target(api_key: str | None = "sk-ant-secret", **fields: Any) -> Target:
    values: dict[str, Any] = {
        "id": 1,
        "name": "claude",
        "wire_format": WireFormat.anthropic,
        "base_url": "https://api.anthropic.com/v1",
        "paths": {},
        "upstream_model": "claude-sonnet-4-5",
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
