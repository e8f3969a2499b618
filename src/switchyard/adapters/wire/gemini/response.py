"""Gemini answers → OpenAI's shape: chat completions, usage, finish reasons, embeddings and errors."""

from __future__ import annotations

import base64
import secrets
import struct
import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from switchyard.adapters.wire.base import Usage
from switchyard.adapters.wire.upstream_errors import from_status
from switchyard.errors import SwitchyardError

FILTERED = frozenset(
    {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT"}
)

IdFactory = Callable[[], str]


def new_call_id() -> str:
    return f"call_{secrets.token_hex(12)}"


def finish_reason(reason: Any, *, called: bool) -> str | None:
    """OpenAI's finish reason for Gemini's; None while a candidate is unfinished. Gemini ends a turn that calls
    functions with STOP, which OpenAI calls ``tool_calls``."""
    if not reason:
        return None
    if reason == "MAX_TOKENS":
        return "length"
    if reason in FILTERED:
        return "content_filter"
    return "tool_calls" if called else "stop"


def usage(metadata: Any) -> Usage | None:
    """promptTokenCount already holds the cached tokens, as OpenAI's prompt_tokens does; tool-use prompt tokens
    are billed as input and thoughts as output."""
    if not isinstance(metadata, Mapping):
        return None

    def count(name: str) -> int:
        value = metadata.get(name)
        return int(value) if isinstance(value, int | float) else 0

    return Usage(
        prompt_tokens=count("promptTokenCount") + count("toolUsePromptTokenCount"),
        completion_tokens=count("candidatesTokenCount") + count("thoughtsTokenCount"),
        cached_tokens=count("cachedContentTokenCount"),
        reasoning_tokens=count("thoughtsTokenCount"),
    )


def tool_call(call: Mapping[str, Any], signature: Any, new_id: IdFactory) -> dict[str, Any]:
    """An OpenAI tool call for a Gemini functionCall; its thought signature rides along where Google's own
    OpenAI-compatible endpoint puts it, so a client replaying the call sends it back."""
    out: dict[str, Any] = {
        "id": str(call.get("id") or new_id()),
        "type": "function",
        "function": {"name": str(call.get("name") or ""), "arguments": orjson.dumps(call.get("args") or {}).decode()},
    }
    if signature:
        out["extra_content"] = {"google": {"thought_signature": signature}}
    return out


def split_parts(parts: Any, new_id: IdFactory) -> tuple[str, str, list[dict[str, Any]]]:
    """Text, thought text and tool calls of a candidate's parts."""
    text: list[str] = []
    thoughts: list[str] = []
    calls: list[dict[str, Any]] = []
    for part in parts if isinstance(parts, list) else []:
        if not isinstance(part, Mapping):
            continue
        if isinstance(part.get("functionCall"), Mapping):
            calls.append(tool_call(part["functionCall"], part.get("thoughtSignature"), new_id))
        elif isinstance(part.get("text"), str):
            (thoughts if part.get("thought") else text).append(part["text"])
    return "".join(text), "".join(thoughts), calls


def candidate_parts(candidate: Mapping[str, Any]) -> Any:
    content = candidate.get("content")
    return content.get("parts") if isinstance(content, Mapping) else None


def completion_id(data: Mapping[str, Any]) -> str:
    response_id = data.get("responseId")
    return f"chatcmpl-{response_id}" if response_id else f"chatcmpl-{secrets.token_hex(12)}"


def chat_completion(data: Mapping[str, Any], model: str, new_id: IdFactory = new_call_id) -> dict[str, Any]:
    choices = []
    candidates = data.get("candidates")
    for position, candidate in enumerate(candidates if isinstance(candidates, list) else []):
        if not isinstance(candidate, Mapping):
            continue
        text, thoughts, calls = split_parts(candidate_parts(candidate), new_id)
        message: dict[str, Any] = {"role": "assistant", "content": text if text or not calls else None}
        if calls:
            message["tool_calls"] = calls
        if thoughts:
            message["reasoning_content"] = thoughts
        reason = finish_reason(candidate.get("finishReason") or "STOP", called=bool(calls))
        choices.append(
            {"index": candidate.get("index", position), "message": message, "finish_reason": reason, "logprobs": None}
        )
    if not choices:  # the prompt itself was blocked (promptFeedback.blockReason): nothing was generated
        message = {"role": "assistant", "content": ""}
        choices.append({"index": 0, "message": message, "finish_reason": "content_filter", "logprobs": None})
    answer: dict[str, Any] = {
        "id": completion_id(data),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": str(data.get("modelVersion") or model),
        "choices": choices,
    }
    if (found := usage(data.get("usageMetadata"))) is not None:
        answer["usage"] = found.as_openai()
    return answer


def estimate_tokens(texts: list[str]) -> int:
    """About four characters a token: Gemini's embedding answers carry no counts."""
    return sum(max(1, (len(text) + 3) // 4) for text in texts if text)


def embeddings(
    data: Mapping[str, Any], model: str, *, inputs: list[str], as_base64: bool
) -> tuple[dict[str, Any], Usage]:
    """``{"embedding": {"values"}}`` (embedContent) or ``{"embeddings": [{"values"}]}`` (batchEmbedContents)."""
    found = data.get("embeddings")
    if found is None and isinstance(data.get("embedding"), Mapping):
        found = [data["embedding"]]
    items = []
    for index, item in enumerate(found if isinstance(found, list) else []):
        values = [float(v) for v in (item.get("values") or [])] if isinstance(item, Mapping) else []
        vector: Any = values
        if as_base64:
            vector = base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()
        items.append({"object": "embedding", "index": index, "embedding": vector})
    reported = usage(data.get("usageMetadata"))
    tokens = reported.prompt_tokens if reported and reported.prompt_tokens else estimate_tokens(inputs)
    counted = Usage(prompt_tokens=tokens)
    body = {
        "object": "list",
        "data": items,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
    return body, counted


def error(status: int, payload: bytes) -> SwitchyardError:
    """``{"error": {"code", "message", "status"}}`` — Google's status name (INVALID_ARGUMENT…) becomes the code."""
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError:
        data = None
    err = data.get("error") if isinstance(data, dict) else None
    if isinstance(err, dict):
        code = err.get("status")
        return from_status(status, str(err.get("message") or ""), code=str(code) if code else None)
    return from_status(status, payload[:500].decode(errors="replace").strip())
