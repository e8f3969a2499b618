"""Targets (a provider and its key) for the azure_openai, tei and cohere adapters' unit tests."""

from __future__ import annotations

from typing import Any

from switchyard.adapters.wire.base import Target
from switchyard.domain.gateway import WireFormat
from tests.targets import make_target


def target(
    wire_format: WireFormat, upstream_model: str, base_url: str, api_key: str | None = "sk-secret", **fields: Any
) -> Target:
    return make_target(wire_format, upstream_model, base_url, api_key, **fields)


def split_every(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]
