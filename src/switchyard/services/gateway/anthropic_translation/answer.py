"""An OpenAI chat completion as an Anthropic message."""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from switchyard.adapters.wire.anthropic.response import member
from switchyard.adapters.wire.base import Usage, usage_from_openai

STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


def stop_reason(finish_reason: Any) -> str:
    return STOP_REASONS.get(finish_reason, "end_turn") if isinstance(finish_reason, str) else "end_turn"


def message_id(openai_id: Any) -> str:
    """Anthropic's ids start with ``msg_``: an upstream id is kept (prefixed when it lacks it) so logs match."""
    if not isinstance(openai_id, str) or not openai_id:
        return f"msg_{uuid.uuid4().hex}"
    return openai_id if openai_id.startswith("msg_") else f"msg_{openai_id}"


def anthropic_usage(usage: Usage | None) -> dict[str, int]:
    """OpenAI's prompt tokens include the cached ones; Anthropic counts fresh and cache-read input apart (what
    was written to a cache is not known here, so it counts as fresh input)."""
    usage = usage or Usage()
    return {
        "input_tokens": usage.prompt_tokens - usage.cached_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": usage.cached_tokens,
        "output_tokens": usage.completion_tokens,
    }


def tool_input(arguments: Any) -> dict[str, Any]:
    """A tool call's arguments as the object Anthropic's ``input`` must be ({} for arguments that are not one)."""
    if isinstance(arguments, dict):
        return arguments
    try:
        parsed = orjson.loads(arguments) if isinstance(arguments, str | bytes) and arguments else {}
    except orjson.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def anthropic_message(completion: dict[str, Any], usage: Usage | None, model: str) -> dict[str, Any]:
    """``completion``'s first choice as an Anthropic message; ``model`` names it when the upstream did not."""
    choices = completion.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else {}
    message = member(choice, "message")
    content: list[dict[str, Any]] = []
    text = message.get("content")
    if isinstance(text, str) and text:
        content.append({"type": "text", "text": text})
    for call in message.get("tool_calls") or []:
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict):
            block_id, name = str(call.get("id") or ""), str(function.get("name") or "")
            content.append(
                {"type": "tool_use", "id": block_id, "name": name, "input": tool_input(function.get("arguments"))}
            )
    return {
        "id": message_id(completion.get("id")),
        "type": "message",
        "role": "assistant",
        "model": completion.get("model") or model,
        "content": content,
        "stop_reason": stop_reason(choice.get("finish_reason")),
        "stop_sequence": None,
        "usage": anthropic_usage(usage or usage_from_openai(completion.get("usage"))),
    }
