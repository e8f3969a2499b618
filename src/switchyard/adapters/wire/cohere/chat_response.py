"""A Cohere v2 chat answer as an OpenAI chat completion; finish reasons and usage, shared with the stream.

Content: ``text`` items joined become the message's ``content``; ``thinking`` items become
``reasoning_content`` (as vLLM and DeepSeek name it). ``tool_calls`` keep their shape; the ``tool_plan`` said
before them becomes the ``content`` (OpenAI models say such text there too). Citations and logprobs are dropped.

Finish reasons: ``COMPLETE``/``STOP_SEQUENCE`` → ``stop``, ``MAX_TOKENS``/``ERROR_LIMIT`` → ``length``,
``TOOL_CALL`` → ``tool_calls``, ``CONTENT_BLOCKED`` → ``content_filter``. ``ERROR`` and ``TIMEOUT`` mean the
generation failed: an upstream error (502/504, another provider may be tried; in a stream already under way it
ends the stream as an error event).

Usage: ``tokens`` — everything the model read and wrote, its prompt template included, which is what OpenAI's
counts mean and what Cohere's ``cached_tokens`` (prompt tokens that hit its cache) is a part of — else
``billed_units``. Cohere bills fewer input tokens than it reads (``billed_units`` leaves its own template out),
so budgets counted here err on the high side by that template.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any

from switchyard.adapters.wire.base import Usage
from switchyard.errors import UpstreamError, UpstreamTimeout

FINISH_REASONS = {
    "COMPLETE": "stop",
    "STOP_SEQUENCE": "stop",
    "MAX_TOKENS": "length",
    "ERROR_LIMIT": "length",
    "TOOL_CALL": "tool_calls",
    "CONTENT_BLOCKED": "content_filter",
}


def mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def finish_reason(value: Any, error: Any = None) -> str:
    reason = str(value or "COMPLETE").upper()
    if reason == "ERROR":
        detail = error if isinstance(error, str) and error else "no detail given"
        raise UpstreamError(f"The upstream's generation failed: {detail}", code="upstream_generation_failed")
    if reason == "TIMEOUT":
        raise UpstreamTimeout("The upstream's generation timed out.")
    return FINISH_REASONS.get(reason, "stop")


def usage_from_cohere(usage: Any) -> Usage | None:
    if not isinstance(usage, Mapping):
        return None
    tokens, billed = mapping(usage.get("tokens")), mapping(usage.get("billed_units"))

    def count(name: str) -> int:
        value = tokens.get(name)
        if value is None:
            value = billed.get(name)
        return int(value or 0)

    prompt = count("input_tokens")
    cached = int(usage.get("cached_tokens") or 0)
    return Usage(prompt_tokens=prompt, completion_tokens=count("output_tokens"), cached_tokens=min(cached, prompt))


def tool_call(call: Mapping[str, Any], fallback_id: str) -> dict[str, Any]:
    function = mapping(call.get("function"))
    arguments = function.get("arguments")
    return {
        "id": str(call.get("id") or fallback_id),
        "type": "function",
        "function": {"name": str(function.get("name") or ""), "arguments": arguments or "{}"},
    }


def chat_completion(data: Mapping[str, Any], model: str) -> tuple[dict[str, Any], Usage]:
    message = mapping(data.get("message"))
    texts, thoughts = [], []
    for item in message.get("content") or []:
        if isinstance(item, Mapping) and item.get("type") == "text":
            texts.append(str(item.get("text") or ""))
        elif isinstance(item, Mapping) and item.get("type") == "thinking":
            thoughts.append(str(item.get("thinking") or ""))
    calls = [tool_call(c, f"call_{i}") for i, c in enumerate(message.get("tool_calls") or []) if isinstance(c, Mapping)]
    content: str | None = "".join(texts) if texts else None
    if content is None and calls and message.get("tool_plan"):
        content = str(message["tool_plan"])
    answer_message: dict[str, Any] = {"role": "assistant", "content": content}
    if calls:
        answer_message["tool_calls"] = calls
    if thoughts:
        answer_message["reasoning_content"] = "".join(thoughts)
    usage = usage_from_cohere(data.get("usage")) or Usage()
    completion = {
        "id": str(data.get("id") or f"chatcmpl-{uuid.uuid4().hex}"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": answer_message,
                "finish_reason": finish_reason(data.get("finish_reason")),
                "logprobs": None,
            }
        ],
        "usage": usage.as_openai(),
    }
    return completion, usage
