"""Anthropic's Messages API: ``POST /v1/messages``, JSON and SSE, text and tool_use, with Anthropic's errors.

Checked like the real API checks them: ``x-api-key`` (401) and ``anthropic-version`` (400) headers; ``model``,
``max_tokens`` and ``messages`` required and unknown top-level fields refused (400); roles user/assistant only,
non-empty text blocks, and every ``tool_result`` answering a ``tool_use`` of the turn before. The answer is
``WORDS``, cut at ``max_tokens`` words (``stop_reason: max_tokens``) or before a matching stop sequence
(``stop_sequence``). Besides the shared faults (``server.py``), ``…overloaded…`` sends an ``error`` event
(overloaded_error) in the middle of a stream.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from tests.mock_upstream.openai_dialect import TOOL_ARGUMENTS, WORDS
from tests.mock_upstream.server import MockUpstream, common_faults, fault, sse_response

MESSAGE_ID = "msg_mock01"
TOOL_USE_ID = "toolu_mock_1"
TOOL_TEXT = "Let me check the weather."
INPUT_USAGE = {"input_tokens": 5, "cache_creation_input_tokens": 2, "cache_read_input_tokens": 3}
TOOL_OUTPUT_TOKENS = 12
FIELDS = frozenset(
    {
        "model",
        "messages",
        "max_tokens",
        "system",
        "metadata",
        "stop_sequences",
        "stream",
        "temperature",
        "top_p",
        "top_k",
        "tools",
        "tool_choice",
        "thinking",
        "service_tier",
    }
)
BLOCK_TYPES = frozenset({"text", "image", "document", "tool_use", "tool_result", "thinking", "redacted_thinking"})
STATUS_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def error_body(type_: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": type_, "message": message}, "request_id": "req_mock"}


def anthropic_error(status: int, message: str | None = None) -> web.Response:
    type_ = STATUS_TYPES.get(status, "api_error")
    return web.json_response(error_body(type_, message or f"mock failure {status}"), status=status)


def _check_messages(messages: Any) -> str | None:
    if not isinstance(messages, list) or not messages:
        return "messages: at least one message is required"
    offered: set[str] = set()
    for n, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            return f"messages.{n}.role: Input should be 'user' or 'assistant'"
        content = message.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        if not isinstance(blocks, list):
            return f"messages.{n}.content: Input should be a valid list"
        for block in blocks:
            kind = block.get("type") if isinstance(block, dict) else None
            if kind not in BLOCK_TYPES:
                return f"messages.{n}.content: unknown content block type {kind!r}"
            if kind == "text" and not block.get("text"):
                return f"messages.{n}: text content blocks must be non-empty"
            if kind == "tool_result":
                if block.get("tool_use_id") not in offered:
                    return f"messages.{n}: unexpected `tool_use_id` found in `tool_result` blocks"
        offered = {b["id"] for b in blocks if b.get("type") == "tool_use"}
    return None


def check_request(request: web.Request, body: Any) -> web.Response | None:
    if not request.headers.get("x-api-key"):
        return anthropic_error(401, "x-api-key header is required")
    if not request.headers.get("anthropic-version"):
        return anthropic_error(400, "anthropic-version: header is required")
    if not isinstance(body, dict):
        return anthropic_error(400, "The request body is not valid JSON.")
    for name in body:
        if name not in FIELDS:
            return anthropic_error(400, f"{name}: Extra inputs are not permitted")
    for name in ("model", "max_tokens", "messages"):
        if name not in body:
            return anthropic_error(400, f"{name}: Field required")
    if not isinstance(body["max_tokens"], int) or body["max_tokens"] < 1:
        return anthropic_error(400, "max_tokens: Input should be a positive integer")
    problem = _check_messages(body["messages"])
    return anthropic_error(400, problem) if problem else None


def generate(body: dict[str, Any]) -> tuple[list[str], str, str | None]:
    """The text pieces, the stop reason and the stop sequence met."""
    stops = body.get("stop_sequences") or []
    pieces: list[str] = []
    text = ""
    for word in WORDS:
        if len(pieces) >= body["max_tokens"]:
            return pieces, "max_tokens", None
        candidate = text + word
        for stop in stops:
            at = candidate.find(stop)
            if at >= 0:
                piece = candidate[len(text) : max(at, len(text))]
                return [*pieces, piece] if piece else pieces, "stop_sequence", stop
        pieces.append(word)
        text = candidate
    return pieces, "end_turn", None


def tool_plan(body: dict[str, Any], model: str) -> tuple[str, bool] | None:
    """The tool to call and whether text comes first (never when the tool was forced), or None."""
    tools = body.get("tools") or []
    choice = body.get("tool_choice") or {}
    forced = bool(tools) and choice.get("type") in ("any", "tool")
    if not forced and fault(model) != "tools":
        return None
    name = choice.get("name") or (tools[0]["name"] if tools else "get_weather")
    return str(name), not forced


def _message(model: str, content: list[dict[str, Any]], usage: dict[str, Any], stop: str | None) -> dict[str, Any]:
    return {
        "id": MESSAGE_ID,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": usage,
    }


def event(kind: str, data: dict[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps({"type": kind} | data) + b"\n\n"


def _text_block(index: int, pieces: list[str]) -> list[bytes]:
    events = [event("content_block_start", {"index": index, "content_block": {"type": "text", "text": ""}})]
    events.append(event("ping", {}))
    for piece in pieces:
        events.append(event("content_block_delta", {"index": index, "delta": {"type": "text_delta", "text": piece}}))
    return [*events, event("content_block_stop", {"index": index})]


def _tool_block(index: int, name: str) -> list[bytes]:
    start = {"type": "tool_use", "id": TOOL_USE_ID, "name": name, "input": {}}
    events = [event("content_block_start", {"index": index, "content_block": start})]
    pieces = [""] + [TOOL_ARGUMENTS[i : i + 9] for i in range(0, len(TOOL_ARGUMENTS), 9)]
    for piece in pieces:
        delta = {"type": "input_json_delta", "partial_json": piece}
        events.append(event("content_block_delta", {"index": index, "delta": delta}))
    return [*events, event("content_block_stop", {"index": index})]


async def _stream(request: web.Request, body: dict[str, Any], model: str) -> web.StreamResponse:
    plan = tool_plan(body, model)
    start = _message(model, [], INPUT_USAGE | {"output_tokens": 1}, None)
    events = [event("message_start", {"message": start})]
    if plan is not None:
        name, with_text = plan
        if with_text:
            events += _text_block(0, [TOOL_TEXT])
        events += _tool_block(1 if with_text else 0, name)
        stop, sequence, output = "tool_use", None, TOOL_OUTPUT_TOKENS
    else:
        pieces, stop, sequence = generate(body)
        events += _text_block(0, pieces)
        output = len(pieces)
    if "overloaded" in model:
        events = events[:4] + [event("error", {"error": {"type": "overloaded_error", "message": "Overloaded"}})]
    else:
        delta = {"delta": {"stop_reason": stop, "stop_sequence": sequence}, "usage": {"output_tokens": output}}
        events += [event("message_delta", delta), event("message_stop", {})]
    kind = fault(model)
    return await sse_response(request, events, stall_after_first=kind == "stall", truncate=kind == "truncate")


async def messages(request: web.Request) -> web.StreamResponse:
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        body = None
    refused = check_request(request, body)
    if refused is not None:
        return refused
    model = str(body["model"])
    faulted = await common_faults(request, model, anthropic_error)
    if faulted is not None:
        return faulted
    if body.get("stream"):
        return await _stream(request, body, model)
    plan = tool_plan(body, model)
    if plan is not None:
        name, with_text = plan
        content = [{"type": "text", "text": TOOL_TEXT}] if with_text else []
        content.append({"type": "tool_use", "id": TOOL_USE_ID, "name": name, "input": orjson.loads(TOOL_ARGUMENTS)})
        usage = INPUT_USAGE | {"output_tokens": TOOL_OUTPUT_TOKENS}
        return web.json_response(_message(model, content, usage, "tool_use"))
    pieces, stop, sequence = generate(body)
    answer = _message(
        model, [{"type": "text", "text": "".join(pieces)}], INPUT_USAGE | {"output_tokens": len(pieces)}, stop
    )
    answer["stop_sequence"] = sequence
    return web.json_response(answer)


def install(server: MockUpstream, prefix: str = "/v1") -> None:
    server.route("POST", f"{prefix}/messages", messages)
