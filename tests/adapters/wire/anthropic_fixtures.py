"""Targets for the anthropic adapter's unit tests."""

from __future__ import annotations

from typing import Any

from switchyard.adapters.wire.base import Target
from switchyard.domain.gateway import WireFormat
from tests.targets import make_target


def target(api_key: str | None = "sk-ant-secret", **fields: Any) -> Target:
    values = {"name": "claude", "upstream_model": "claude-sonnet-4-5", "base_url": "https://api.anthropic.com/v1"}
    return make_target(WireFormat.anthropic, api_key=api_key, **(values | fields))
