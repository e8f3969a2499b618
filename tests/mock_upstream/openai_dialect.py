"""OpenAI's wire format: chat completions (JSON and SSE, tool calls), completions, embeddings, images, speech."""

from __future__ import annotations

import base64
import struct
import time
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

import orjson
from aiohttp import web

from tests.mock_upstream.server import MockUpstream, common_faults, fault, sse_response

WORDS = ["Hello", " from", " the", " mock", " upstream", "."]
TOOL_ARGUMENTS = '{"city": "Paris", "unit": "celsius"}'


def openai_error(status: int) -> web.Response:
    kinds = {400: "invalid_request_error", 401: "authentication_error", 429: "rate_limit_error"}
    body = {
        "error": {
            "message": f"mock failure {status}",
            "type": kinds.get(status, "server_error"),
            "param": "messages" if status == 400 else None,
            "code": f"mock_{status}",
        }
    }
    return web.json_response(body, status=status)


def usage(prompt: int = 11, completion: int = len(WORDS), cached: int = 3) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached},
    }


def _chunk(model: str, delta: dict[str, Any], finish: str | None = None) -> bytes:
    payload = {
        "id": "chatcmpl-mock",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
    }
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def _tool_call_deltas(model: str) -> list[bytes]:
    first = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"index": 0, "id": "call_mock_1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}
        ],
    }
    pieces = [TOOL_ARGUMENTS[i : i + 9] for i in range(0, len(TOOL_ARGUMENTS), 9)]
    events = [_chunk(model, first)]
    events += [_chunk(model, {"tool_calls": [{"index": 0, "function": {"arguments": p}}]}) for p in pieces]
    events.append(_chunk(model, {}, "tool_calls"))
    return events


async def chat(request: web.Request) -> web.StreamResponse:
    body = await request.json()
    model = str(body.get("model", ""))
    faulted = await common_faults(request, model, openai_error)
    if faulted is not None:
        return faulted
    tools = fault(model) == "tools" or bool(body.get("tools")) and body.get("tool_choice") == "required"
    if body.get("stream"):
        if tools:
            events = _tool_call_deltas(model)
        else:
            events = [_chunk(model, {"role": "assistant", "content": ""})]
            events += [_chunk(model, {"content": word}) for word in WORDS]
            events.append(_chunk(model, {}, "stop"))
        if (body.get("stream_options") or {}).get("include_usage"):
            payload = {
                "id": "chatcmpl-mock",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": model,
                "choices": [],
                "usage": usage(),
            }
            events.append(b"data: " + orjson.dumps(payload) + b"\n\n")
        events.append(b"data: [DONE]\n\n")
        kind = fault(model)
        return await sse_response(request, events, stall_after_first=kind == "stall", truncate=kind == "truncate")
    if tools:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_mock_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": TOOL_ARGUMENTS},
                }
            ],
        }
        finish = "tool_calls"
    else:
        message = {"role": "assistant", "content": "".join(WORDS)}
        finish = "stop"
    return web.json_response(
        {
            "id": "chatcmpl-mock",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
            "usage": usage(),
            "system_fingerprint": "fp_mock",
        }
    )


async def completions(request: web.Request) -> web.StreamResponse:
    body = await request.json()
    model = str(body.get("model", ""))
    faulted = await common_faults(request, model, openai_error)
    if faulted is not None:
        return faulted
    if body.get("stream"):
        events = [
            b"data: "
            + orjson.dumps(
                {
                    "id": "cmpl-mock",
                    "object": "text_completion",
                    "model": model,
                    "choices": [{"index": 0, "text": w, "finish_reason": None}],
                }
            )
            + b"\n\n"
            for w in WORDS
        ]
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append(
                b"data: "
                + orjson.dumps(
                    {
                        "id": "cmpl-mock",
                        "object": "text_completion",
                        "model": model,
                        "choices": [],
                        "usage": usage(cached=0),
                    }
                )
                + b"\n\n"
            )
        events.append(b"data: [DONE]\n\n")
        return await sse_response(request, events)
    return web.json_response(
        {
            "id": "cmpl-mock",
            "object": "text_completion",
            "created": int(time.time()),
            "model": model,
            "usage": usage(cached=0),
            "choices": [{"index": 0, "text": "".join(WORDS), "finish_reason": "stop"}],
        }
    )


def vector(text: str, size: int = 8) -> list[float]:
    seed = sum(text.encode()) or 1
    return [((seed * (i + 1)) % 97) / 97.0 for i in range(size)]


async def embeddings(request: web.Request) -> web.StreamResponse:
    body = await request.json()
    model = str(body.get("model", ""))
    faulted = await common_faults(request, model, openai_error)
    if faulted is not None:
        return faulted
    inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
    data = []
    for index, text in enumerate(inputs):
        values = vector(str(text))
        embedding: Any = values
        if body.get("encoding_format") == "base64":
            embedding = base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()
        data.append({"object": "embedding", "index": index, "embedding": embedding})
    tokens = sum(len(str(t).split()) for t in inputs)
    return web.json_response(
        {"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
    )


async def images(request: web.Request) -> web.StreamResponse:
    body = await request.json()
    return web.json_response(
        {
            "created": int(time.time()),
            "data": [{"b64_json": base64.b64encode(b"PNG").decode(), "revised_prompt": body.get("prompt")}],
        }
    )


async def speech(request: web.Request) -> web.StreamResponse:
    return web.Response(body=b"ID3mock-audio-bytes", content_type="audio/mpeg")


async def transcriptions(request: web.Request) -> web.StreamResponse:
    raw = await request.read()
    form = BytesParser(_class=EmailMessage, policy=HTTP).parsebytes(
        b"Content-Type: " + request.headers["Content-Type"].encode() + b"\r\n\r\n" + raw
    )
    fields, files = {}, {}
    for part in form.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if part.get_filename():
            files[str(name)] = (part.get_filename(), payload)
        else:
            fields[str(name)] = payload.decode() if isinstance(payload, bytes) else ""
    filename, data = files["file"]
    text = f"transcribed {filename} ({len(data)} bytes) with {fields.get('model')}"
    if fields.get("response_format") == "text":
        return web.Response(text=text, content_type="text/plain")
    return web.json_response({"text": text, "usage": {"type": "duration", "seconds": 3}})


async def list_models(request: web.Request) -> web.StreamResponse:
    return web.json_response({"object": "list", "data": [{"id": "upstream-model", "object": "model"}]})


def install(server: MockUpstream, prefix: str = "/v1") -> None:
    server.route("POST", f"{prefix}/chat/completions", chat)
    server.route("POST", f"{prefix}/completions", completions)
    server.route("POST", f"{prefix}/embeddings", embeddings)
    server.route("POST", f"{prefix}/images/generations", images)
    server.route("POST", f"{prefix}/audio/speech", speech)
    server.route("POST", f"{prefix}/audio/transcriptions", transcriptions)
    server.route("GET", f"{prefix}/models", list_models)
