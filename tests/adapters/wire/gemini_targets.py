"""Targets and helpers shared by the gemini wire-format tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from itertools import count
from typing import Any

import orjson

from switchyard.adapters.wire.base import Target
from switchyard.adapters.wire.gemini import GeminiAdapter
from switchyard.domain.gateway import Operation, Provider, ProviderAuth, Timeouts, WireFormat

BASE = "https://generativelanguage.googleapis.com/v1beta"
WIRE = GeminiAdapter()


def target(upstream_model: str = "gemini-2.0-flash", **fields: Any) -> Target:
    now = datetime.now(UTC)
    provider = Provider(
        id=1,
        name="gemini",
        wire_format=WireFormat.gemini,
        base_url=BASE,
        paths={},
        upstream_model=upstream_model,
        credential_id=None,
        api_key_hint=None,
        auth=ProviderAuth(),
        timeouts=Timeouts(),
        extra_headers={},
        default_options={},
        api_version=None,
        weight=1,
        priority=0,
        enabled=True,
        max_in_flight=None,
        context_length=None,
        vector_size=None,
        total_params_b=None,
        active_params_b=None,
        hosting_zone="WOR",
        capabilities=[],
        created_at=now,
        updated_at=now,
    )
    return Target(replace(provider, **fields), api_key="gm-secret", weight=1, priority=0)


def sent(operation: Operation, body: dict[str, Any], *, stream: bool = False, at: Target | None = None) -> Any:
    request = WIRE.build(operation, body, at or target(), stream=stream)
    assert request.body is not None
    return orjson.loads(request.body)


def ids() -> Callable[[], str]:
    numbers = count(1)
    return lambda: f"call_{next(numbers)}"
