"""Anthropic's answers in OpenAI's shape: a whole message, its usage and stop reason, and error bodies."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import orjson

from switchyard.adapters.wire.base import Usage
from switchyard.adapters.wire.openai import error_message

FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
ERROR_STATUSES = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}
"""Anthropic's error types and the HTTP status each comes with (for errors that arrive inside a stream)."""


def member(data: Mapping[str, Any], name: str) -> dict[str, Any]:
    """``data[name]`` when it is an object, else an empty one (what upstreams and clients send is not trusted)."""
    value = data.get(name)
    return value if isinstance(value, dict) else {}


def finish_reason(stop_reason: Any) -> str:
    return FINISH_REASONS.get(stop_reason, "stop") if isinstance(stop_reason, str) else "stop"


def usage_from_anthropic(data: Any, into: Usage | None = None) -> Usage:
    """Anthropic counts input three ways (fresh, read from the cache, written to it); OpenAI's prompt tokens
    are their sum and its cached tokens the cache reads. Fields absent from ``data`` leave ``into`` as it was
    (a stream's ``message_delta`` repeats only some of them)."""
    usage = into or Usage()
    if not isinstance(data, Mapping):
        return usage
    if any(k in data for k in ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")):
        fresh = int(data.get("input_tokens") or 0)
        read = int(data.get("cache_read_input_tokens") or 0)
        written = int(data.get("cache_creation_input_tokens") or 0)
        usage.prompt_tokens, usage.cached_tokens = fresh + read + written, read
    if "output_tokens" in data:
        usage.completion_tokens = int(data.get("output_tokens") or 0)
    return usage


def tool_call(block: Mapping[str, Any]) -> dict[str, Any]:
    arguments = block.get("input")
    return {
        "id": str(block.get("id") or ""),
        "type": "function",
        "function": {"name": str(block.get("name") or ""), "arguments": orjson.dumps(arguments or {}).decode()},
    }


def chat_completion(data: dict[str, Any], *, created: int | None = None) -> tuple[dict[str, Any], Usage]:
    """An Anthropic ``message`` as an OpenAI ``chat.completion`` (text blocks joined, tool_use as tool calls)."""
    blocks = [b for b in data.get("content") or [] if isinstance(b, dict)]
    text = "".join(str(b.get("text") or "") for b in blocks if b.get("type") == "text")
    calls = [tool_call(b) for b in blocks if b.get("type") == "tool_use"]
    message: dict[str, Any] = {"role": "assistant", "content": text or (None if calls else "")}
    if calls:
        message["tool_calls"] = calls
    usage = usage_from_anthropic(data.get("usage"))
    completion = {
        "id": str(data.get("id") or ""),
        "object": "chat.completion",
        "created": int(time.time()) if created is None else created,
        "model": str(data.get("model") or ""),
        "choices": [
            {"index": 0, "message": message, "finish_reason": finish_reason(data.get("stop_reason")), "logprobs": None}
        ],
        "usage": usage.as_openai(),
    }
    return completion, usage


def error_parts(payload: bytes) -> tuple[str, str | None]:
    """message and type of an Anthropic error body (``{"type": "error", "error": {"type", "message"}}``), or of
    whatever else came back (a proxy's page, an OpenAI-style body)."""
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError:
        data = None
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        type_ = error.get("type")
        return error["message"], type_ if isinstance(type_, str) else None
    message, type_, _, _ = error_message(payload)
    return message, type_
