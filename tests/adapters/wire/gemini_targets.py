"""Targets and helpers shared by the gemini wire-format tests."""

from __future__ import annotations

from collections.abc import Callable
from itertools import count
from typing import Any

import orjson

from switchyard.adapters.wire.base import Target
from switchyard.adapters.wire.gemini import GeminiAdapter
from switchyard.domain.gateway import Operation, WireFormat
from tests.targets import make_target

BASE = "https://generativelanguage.googleapis.com/v1beta"
WIRE = GeminiAdapter()


def target(upstream_model: str = "gemini-2.0-flash", **fields: Any) -> Target:
    values = {"name": "gemini", "upstream_model": upstream_model, "base_url": BASE}
    return make_target(WireFormat.gemini, api_key="gm-secret", **(values | fields))


def sent(operation: Operation, body: dict[str, Any], *, stream: bool = False, at: Target | None = None) -> Any:
    request = WIRE.build(operation, body, at or target(), stream=stream)
    assert request.body is not None
    return orjson.loads(request.body)


def ids() -> Callable[[], str]:
    numbers = count(1)
    return lambda: f"call_{next(numbers)}"
