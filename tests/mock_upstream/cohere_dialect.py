"""Cohere's API v2: ``POST /v2/chat`` (JSON and server-sent events), ``/v2/embed`` and ``/v2/rerank``.

Like the real API it wants ``Authorization: Bearer`` (401 ``{"message"}`` without), answers errors as
``{"id", "message"}``, streams ``event: <type>`` / ``data: {"type": <type>, …}`` events (message-start,
content-start/-delta/-end, tool-plan-delta, tool-call-start/-delta/-end, message-end with the finish reason and
usage), reports usage as ``billed_units`` and ``tokens`` (plus ``cached_tokens``), requires ``input_type`` to
embed, and never echoes rerank documents. Finish reasons follow the request: ``max_tokens`` below the answer's
length gives ``MAX_TOKENS``, a ``stop_sequences`` entry met gives ``STOP_SEQUENCE``, a tool call ``TOOL_CALL``.
Besides the shared faults, a model named ``…generror…`` ends its generation with ``ERROR``.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from tests.mock_upstream.openai_dialect import TOOL_ARGUMENTS, WORDS, vector
from tests.mock_upstream.server import MockUpstream, common_faults, fault, sse_response
from tests.mock_upstream.tei_dialect import relevance

TOOL_PLAN = ["I will", " look up", " the weather."]
BILLED_INPUT, PROCESSED_INPUT, CACHED, TOOL_OUTPUT = 11, 19, 3, 12


def cohere_error(status: int, message: str | None = None) -> web.Response:
    return web.json_response({"id": "mock-error-id", "message": message or f"mock failure {status}"}, status=status)


def _unauthorized(request: web.Request) -> web.Response | None:
    if not request.headers.get("Authorization", "").startswith("Bearer "):
        return cohere_error(401, "no api key supplied")
    return None


def chat_usage(output: int) -> dict[str, Any]:
    return {
        "billed_units": {"input_tokens": BILLED_INPUT, "output_tokens": output},
        "tokens": {"input_tokens": PROCESSED_INPUT, "output_tokens": output},
        "cached_tokens": CACHED,
    }


def _answer_words(body: dict[str, Any]) -> tuple[list[str], str]:
    words, reason = list(WORDS), "COMPLETE"
    for stop in body.get("stop_sequences") or []:
        cut = [w.strip() for w in words].index(stop) if stop in [w.strip() for w in words] else None
        if cut is not None:
            words, reason = words[:cut], "STOP_SEQUENCE"
    limit = body.get("max_tokens")
    if isinstance(limit, int) and limit < len(words):
        words, reason = words[:limit], "MAX_TOKENS"
    return words, reason


def _event(payload: dict[str, Any]) -> bytes:
    return b"event: " + payload["type"].encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


def _stream(model: str, tools: bool, body: dict[str, Any]) -> list[bytes]:
    start = {"role": "assistant", "content": [], "tool_plan": "", "tool_calls": [], "citations": []}
    events = [_event({"id": "mock-cohere-stream", "type": "message-start", "delta": {"message": start}})]
    if tools:
        events += [_event({"type": "tool-plan-delta", "delta": {"message": {"tool_plan": p}}}) for p in TOOL_PLAN]
        call = {"id": "get_weather_mock1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}
        events.append(_event({"type": "tool-call-start", "index": 0, "delta": {"message": {"tool_calls": call}}}))
        for i in range(0, len(TOOL_ARGUMENTS), 8):
            piece = {"tool_calls": {"function": {"arguments": TOOL_ARGUMENTS[i : i + 8]}}}
            events.append(_event({"type": "tool-call-delta", "index": 0, "delta": {"message": piece}}))
        events.append(_event({"type": "tool-call-end", "index": 0}))
        end: dict[str, Any] = {"finish_reason": "TOOL_CALL", "usage": chat_usage(TOOL_OUTPUT)}
    else:
        words, reason = _answer_words(body)
        empty = {"message": {"content": {"type": "text", "text": ""}}}
        events.append(_event({"type": "content-start", "index": 0, "delta": empty}))
        for word in words:
            delta = {"message": {"content": {"text": word}}}
            events.append(_event({"type": "content-delta", "index": 0, "delta": delta}))
        events.append(_event({"type": "content-end", "index": 0}))
        end = {"finish_reason": reason, "usage": chat_usage(len(words))}
        if "generror" in model:
            end = {"finish_reason": "ERROR", "error": "mock generation failure", "usage": chat_usage(len(words))}
    events.append(_event({"type": "message-end", "delta": end}))
    return events


async def chat(request: web.Request) -> web.StreamResponse:
    refused = _unauthorized(request)
    if refused is not None:
        return refused
    body = await request.json()
    model = str(body.get("model", ""))
    faulted = await common_faults(request, model, cohere_error)
    if faulted is not None:
        return faulted
    if not isinstance(body.get("messages"), list) or not body["messages"]:
        return cohere_error(400, "invalid request: messages must not be empty")
    tools = fault(model) == "tools" or bool(body.get("tools")) and body.get("tool_choice") == "REQUIRED"
    if body.get("stream"):
        kind = fault(model)
        events = _stream(model, tools, body)
        return await sse_response(request, events, stall_after_first=kind == "stall", truncate=kind == "truncate")
    if tools:
        function = {"name": "get_weather", "arguments": TOOL_ARGUMENTS}
        call = {"id": "get_weather_mock1", "type": "function", "function": function}
        message = {"role": "assistant", "tool_plan": "".join(TOOL_PLAN), "tool_calls": [call]}
        reason, output = "TOOL_CALL", TOOL_OUTPUT
    else:
        words, reason = _answer_words(body)
        message = {"role": "assistant", "content": [{"type": "text", "text": "".join(words)}]}
        output = len(words)
        if "generror" in model:
            reason = "ERROR"
    answer = {"id": "mock-cohere-chat", "message": message, "finish_reason": reason, "usage": chat_usage(output)}
    return web.json_response(answer)


def _meta(**billed: int) -> dict[str, Any]:
    return {"api_version": {"version": "2"}, "billed_units": billed}


async def embed(request: web.Request) -> web.StreamResponse:
    refused = _unauthorized(request)
    if refused is not None:
        return refused
    body = await request.json()
    faulted = await common_faults(request, str(body.get("model", "")), cohere_error)
    if faulted is not None:
        return faulted
    if not body.get("input_type"):
        return cohere_error(400, "invalid request: valid input_type must be provided with the provided model")
    texts = body.get("texts") or []
    tokens = sum(len(t.split()) for t in texts)
    answer = {
        "id": "mock-cohere-embed",
        "embeddings": {kind: [vector(t) for t in texts] for kind in body.get("embedding_types") or ["float"]},
        "texts": texts,
        "meta": _meta(input_tokens=tokens),
        "response_type": "embeddings_by_type",
    }
    return web.json_response(answer)


async def rerank(request: web.Request) -> web.StreamResponse:
    refused = _unauthorized(request)
    if refused is not None:
        return refused
    body = await request.json()
    faulted = await common_faults(request, str(body.get("model", "")), cohere_error)
    if faulted is not None:
        return faulted
    documents = body.get("documents") or []
    if not documents or not all(isinstance(d, str) for d in documents):
        return cohere_error(400, "invalid request: documents must be a non-empty list of strings")
    results = [{"index": i, "relevance_score": relevance(body["query"], d)} for i, d in enumerate(documents)]
    results.sort(key=lambda r: r["relevance_score"], reverse=True)
    if body.get("top_n"):
        results = results[: body["top_n"]]
    return web.json_response({"id": "mock-cohere-rerank", "results": results, "meta": _meta(search_units=1)})


def install(server: MockUpstream, prefix: str = "/v2") -> None:
    server.route("POST", f"{prefix}/chat", chat)
    server.route("POST", f"{prefix}/embed", embed)
    server.route("POST", f"{prefix}/rerank", rerank)
