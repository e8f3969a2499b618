"""OpenAI's embeddings answer built from plain vectors, for upstreams that answer in their own shape (TEI, Cohere).

``encoding_format: "base64"`` (the openai SDK's default) is the vector's little-endian float32 bytes in base64,
as OpenAI sends it; ``"float"`` (or nothing) is the list of numbers.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Mapping
from typing import Any

from switchyard.adapters.wire.base import Usage
from switchyard.errors import BadRequest, UpstreamError

FORMATS = ("float", "base64")


def encoding_format(body: Mapping[str, Any]) -> str:
    value = body.get("encoding_format") or "float"
    if value not in FORMATS:
        raise BadRequest(
            "'encoding_format' must be 'float' or 'base64'.", param="encoding_format", code="invalid_value"
        )
    return str(value)


def checked_vectors(data: Any, expected: int | None = None) -> list[list[float]]:
    """The upstream's vectors, or a 502 when they are not a list of number lists (one per input)."""
    if not isinstance(data, list) or not all(
        isinstance(v, list) and all(isinstance(x, int | float) for x in v) for v in data
    ):
        raise UpstreamError("The upstream's embeddings are not lists of numbers.", code="upstream_invalid_json")
    if expected is not None and len(data) != expected:
        raise UpstreamError(
            f"The upstream answered {len(data)} embeddings for {expected} inputs.", code="upstream_invalid_json"
        )
    return data


def as_base64(vector: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


def embeddings_answer(vectors: list[list[float]], *, model: str, usage: Usage, encoding: str) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": index, "embedding": as_base64(v) if encoding == "base64" else v}
            for index, v in enumerate(vectors)
        ],
        "model": model,
        "usage": {"prompt_tokens": usage.prompt_tokens, "total_tokens": usage.total_tokens},
    }
