"""Google's Gemini API (v1beta): generateContent, streamGenerateContent (``alt=sse``), embedContent and
batchEmbedContents under ``/v1beta/models/{model}:{method}``.

Like the real API it wants ``x-goog-api-key``, refuses fields it does not know and malformed turns with 400
``INVALID_ARGUMENT``, streams whole ``GenerateContentResponse`` objects as ``data:`` events separated by CRLF
pairs, and sends function calls whole. Besides the shared faults, the upstream model name picks:
``…finish-<reason>…`` (e.g. ``finish-max_tokens``, ``finish-safety``), ``…blocked…`` (the prompt is refused),
``…think…`` (thought parts and thoughtsTokenCount).
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from aiohttp import web

from tests.mock_upstream.openai_dialect import WORDS, vector
from tests.mock_upstream.server import MockUpstream, common_faults, fault, sse_response

TOOL_ARGS = {"city": "Paris", "unit": "celsius"}
THOUGHT = "The user greets me."
STATUSES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
GENERATE_FIELDS = {
    "contents",
    "tools",
    "toolConfig",
    "safetySettings",
    "systemInstruction",
    "generationConfig",
    "cachedContent",
}
EMBED_FIELDS = {"model", "content", "taskType", "title", "outputDimensionality"}


def gemini_error(status: int, message: str | None = None) -> web.Response:
    body = {"error": {"code": status, "message": message or f"mock failure {status}", "status": STATUSES.get(status)}}
    return web.json_response(body, status=status)


def _unknown(body: dict[str, Any], known: set[str], what: str) -> web.Response | None:
    for name in body:
        if name not in known:
            return gemini_error(400, f"Invalid JSON payload received. Unknown name \"{name}\" at '{what}'.")
    return None


def _check_generate(body: Any) -> web.Response | None:
    if not isinstance(body, dict):
        return gemini_error(400, "Invalid JSON payload received.")
    if (refused := _unknown(body, GENERATE_FIELDS, "")) is not None:
        return refused
    contents = body.get("contents")
    if not contents:
        return gemini_error(400, "* GenerateContentRequest.contents: contents is not specified")
    for index, content in enumerate(contents):
        if content.get("role") not in ("user", "model"):
            return gemini_error(400, "Please use a valid role: user, model.")
        if not content.get("parts"):
            return gemini_error(400, f"* GenerateContentRequest.contents[{index}].parts: must not be empty.")
    return None


def usage_metadata(model: str, *, final: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {"promptTokenCount": 11, "cachedContentTokenCount": 3}
    if final:
        data["candidatesTokenCount"] = len(WORDS)
        if "think" in model:
            data["thoughtsTokenCount"] = 5
        data["totalTokenCount"] = 11 + len(WORDS) + data.get("thoughtsTokenCount", 0)
    else:
        data["totalTokenCount"] = 11
    return data


def _function_name(body: dict[str, Any]) -> str | None:
    """The function the model calls: when the model name asks for it, or when the request forces a call."""
    declarations = [d for tool in body.get("tools") or [] for d in tool.get("functionDeclarations") or []]
    calling = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
    if fault(body["_model"]) != "tools" and not (declarations and calling.get("mode") == "ANY"):
        return None
    allowed = calling.get("allowedFunctionNames") or [d["name"] for d in declarations]
    return str(allowed[0]) if allowed else "get_weather"


def _finish(model: str) -> str:
    match = re.search(r"finish-([a-z_]+)", model)
    return match.group(1).upper() if match else "STOP"


def _candidates(body: dict[str, Any]) -> list[dict[str, Any]]:
    model = body["_model"]
    name = _function_name(body)
    reason = _finish(model)
    count = int((body.get("generationConfig") or {}).get("candidateCount") or 1)
    candidates = []
    for index in range(count):
        parts: list[dict[str, Any]] = [{"text": THOUGHT, "thought": True}] if "think" in model else []
        if name is not None:
            parts.append({"functionCall": {"name": name, "args": TOOL_ARGS}, "thoughtSignature": "c2lnbmF0dXJl"})
        elif reason == "MAX_TOKENS":
            parts.append({"text": "".join(WORDS[:3])})
        elif reason == "STOP":
            parts.append({"text": "".join(WORDS)})
        candidate: dict[str, Any] = {"finishReason": reason, "index": index}
        if parts:
            candidate["content"] = {"role": "model", "parts": parts}
        candidates.append(candidate)
    return candidates


def _response(model: str, **fields: Any) -> dict[str, Any]:
    return {**fields, "modelVersion": model, "responseId": "mock-response-1"}


def _event(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\r\n\r\n"


def _stream_events(body: dict[str, Any]) -> list[bytes]:
    model = body["_model"]
    if "blocked" in model:
        return [_event(_response(model, promptFeedback={"blockReason": "SAFETY"}, usageMetadata=usage_metadata(model)))]
    whole = _candidates(body)[0]
    parts = (whole.get("content") or {}).get("parts") or []
    texts = [p for p in parts if "text" in p and not p.get("thought")]
    others = [p for p in parts if p not in texts]
    pieces: list[list[dict[str, Any]]] = [[p] for p in others]
    if texts:
        pieces += [[{"text": w}] for w in WORDS[: len(WORDS) if whole["finishReason"] == "STOP" else 3]]
    pieces = pieces or [[]]
    events = []
    for number, piece in enumerate(pieces):
        last = number == len(pieces) - 1
        candidate: dict[str, Any] = {"index": 0}
        if piece:
            candidate["content"] = {"role": "model", "parts": piece}
        if last:
            candidate["finishReason"] = whole["finishReason"]
        metadata = usage_metadata(model, final=last)
        events.append(_event(_response(model, candidates=[candidate], usageMetadata=metadata)))
    return events


def _split(request: web.Request) -> tuple[str, str]:
    model, _, method = request.match_info["name"].partition(":")
    return model, method


async def models(request: web.Request) -> web.StreamResponse:
    model, method = _split(request)
    if "x-goog-api-key" not in request.headers and "Authorization" not in request.headers:
        return gemini_error(403, "Method doesn't allow unregistered callers. Please use an API Key.")
    faulted = await common_faults(request, model, gemini_error)
    if faulted is not None:
        return faulted
    body = await request.json()
    if method in ("generateContent", "streamGenerateContent"):
        if (refused := _check_generate(body)) is not None:
            return refused
        body["_model"] = model
        if method == "streamGenerateContent":
            if request.query.get("alt") != "sse":
                return gemini_error(400, "The mock streams with alt=sse only.")
            kind = fault(model)
            events = _stream_events(body)
            return await sse_response(request, events, stall_after_first=kind == "stall", truncate=kind == "truncate")
        if "blocked" in model:
            return web.json_response(
                _response(model, promptFeedback={"blockReason": "SAFETY"}, usageMetadata=usage_metadata(model))
            )
        return web.json_response(_response(model, candidates=_candidates(body), usageMetadata=usage_metadata(model)))
    if method == "embedContent":
        if (refused := _unknown(body, EMBED_FIELDS, "")) is not None:
            return refused
        return web.json_response({"embedding": {"values": _values(body)}})
    if method == "batchEmbedContents":
        if (refused := _unknown(body, {"requests"}, "")) is not None:
            return refused
        for item in body.get("requests") or []:
            if (refused := _unknown(item, EMBED_FIELDS, "requests[0]")) is not None:
                return refused
            if item.get("model") != f"models/{model}":
                return gemini_error(400, f"Model names should match in the batch: {item.get('model')}")
        return web.json_response({"embeddings": [{"values": _values(item)} for item in body["requests"]]})
    return gemini_error(404, f"Method {method} is not found for model models/{model}.")


def _values(request: dict[str, Any]) -> list[float]:
    text = "".join(part.get("text", "") for part in request["content"]["parts"])
    size = int(request.get("outputDimensionality") or 8)
    return vector(text, size)


def install(server: MockUpstream, prefix: str = "/v1beta") -> None:
    server.route("POST", f"{prefix}/models/{{name}}", models)
