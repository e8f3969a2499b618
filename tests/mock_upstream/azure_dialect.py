"""Azure OpenAI: deployments under ``/openai/deployments/{deployment}/…?api-version=…``.

Like the real service it wants the key in ``api-key`` (or a Microsoft Entra ID token as ``Authorization:
Bearer``) and answers 401 without one, answers 404 "Resource not found" without ``api-version``, names the
underlying model (not the deployment) in its answers, and adds its content-filter results: the prompt's
(``prompt_filter_results``; in a stream, a first event with no choices) and each choice's
(``content_filter_results``). Behaviour follows the *deployment* name: the shared faults, and ``…filtered…``
(the prompt is refused: 400 with code ``content_filter``). Other operations are OpenAI's own handlers, behind
Azure's checks.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from aiohttp import web

from tests.mock_upstream import openai_dialect
from tests.mock_upstream.openai_dialect import TOOL_ARGUMENTS, WORDS, openai_error, usage
from tests.mock_upstream.server import Handler, MockUpstream, common_faults, fault, sse_response

UNDERLYING_MODEL = "gpt-4o-2024-08-06"
SAFE = {
    "hate": {"filtered": False, "severity": "safe"},
    "self_harm": {"filtered": False, "severity": "safe"},
    "sexual": {"filtered": False, "severity": "safe"},
    "violence": {"filtered": False, "severity": "safe"},
}
PROMPT_FILTER_RESULTS = [{"prompt_index": 0, "content_filter_results": SAFE}]
FILTER_MESSAGE = (
    "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. "
    "Please modify your prompt and retry."
)


def _refusal(request: web.Request) -> web.Response | None:
    key = request.headers.get("api-key") or request.headers.get("Authorization", "").removeprefix("Bearer ")
    if not key:
        message = (
            "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key "
            "for an active subscription and use a correct regional API endpoint for your resource."
        )
        return web.json_response({"error": {"code": "401", "message": message}}, status=401)
    if not request.query.get("api-version"):
        return web.json_response({"error": {"code": "404", "message": "Resource not found"}}, status=404)
    return None


def content_filtered() -> web.Response:
    error = {
        "message": FILTER_MESSAGE,
        "type": None,
        "param": "prompt",
        "code": "content_filter",
        "status": 400,
        "innererror": {
            "code": "ResponsibleAIPolicyViolation",
            "content_filter_result": {**SAFE, "violence": {"filtered": True, "severity": "high"}},
        },
    }
    return web.json_response({"error": error}, status=400)


def _chunk(delta: dict[str, Any], finish: str | None = None, filters: dict[str, Any] | None = None) -> bytes:
    choice = {
        "content_filter_results": SAFE if filters is None else filters,
        "delta": delta,
        "finish_reason": finish,
        "index": 0,
        "logprobs": None,
    }
    payload = {
        "choices": [choice],
        "created": int(time.time()),
        "id": "chatcmpl-azure-mock",
        "model": UNDERLYING_MODEL,
        "object": "chat.completion.chunk",
        "system_fingerprint": "fp_azure",
    }
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def _stream_events(tools: bool, include_usage: bool) -> list[bytes]:
    prompt_only = {"choices": [], "created": 0, "id": "", "model": "", "object": ""}
    prompt_only["prompt_filter_results"] = PROMPT_FILTER_RESULTS
    events = [b"data: " + orjson.dumps(prompt_only) + b"\n\n"]
    if tools:
        call = {
            "index": 0,
            "id": "call_azure_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": ""},
        }
        events.append(_chunk({"role": "assistant", "content": None, "tool_calls": [call]}, filters={}))
        pieces = [TOOL_ARGUMENTS[i : i + 7] for i in range(0, len(TOOL_ARGUMENTS), 7)]
        events += [_chunk({"tool_calls": [{"index": 0, "function": {"arguments": p}}]}, filters={}) for p in pieces]
        events.append(_chunk({}, "tool_calls", filters={}))
    else:
        events.append(_chunk({"role": "assistant", "content": ""}, filters={}))
        events += [_chunk({"content": word}) for word in WORDS]
        events.append(_chunk({}, "stop", filters={}))
    if include_usage:
        final = {
            "choices": [],
            "created": int(time.time()),
            "id": "chatcmpl-azure-mock",
            "model": UNDERLYING_MODEL,
            "object": "chat.completion.chunk",
            "system_fingerprint": "fp_azure",
            "usage": usage(),
        }
        events.append(b"data: " + orjson.dumps(final) + b"\n\n")
    return [*events, b"data: [DONE]\n\n"]


async def chat(request: web.Request) -> web.StreamResponse:
    refused = _refusal(request)
    if refused is not None:
        return refused
    deployment = request.match_info["deployment"]
    body = await request.json()
    faulted = await common_faults(request, deployment, openai_error)
    if faulted is not None:
        return faulted
    if "filtered" in deployment:
        return content_filtered()
    tools = fault(deployment) == "tools" or bool(body.get("tools")) and body.get("tool_choice") == "required"
    if body.get("stream"):
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        kind = fault(deployment)
        events = _stream_events(tools, include_usage)
        return await sse_response(request, events, stall_after_first=kind == "stall", truncate=kind == "truncate")
    message: dict[str, Any] = {"role": "assistant", "content": "".join(WORDS)}
    if tools:
        function = {"name": "get_weather", "arguments": TOOL_ARGUMENTS}
        call = {"id": "call_azure_1", "type": "function", "function": function}
        message = {"role": "assistant", "content": None, "tool_calls": [call]}
    choice = {
        "content_filter_results": SAFE,
        "finish_reason": "tool_calls" if tools else "stop",
        "index": 0,
        "logprobs": None,
        "message": message,
    }
    return web.json_response(
        {
            "choices": [choice],
            "created": int(time.time()),
            "id": "chatcmpl-azure-mock",
            "model": UNDERLYING_MODEL,
            "object": "chat.completion",
            "prompt_filter_results": PROMPT_FILTER_RESULTS,
            "system_fingerprint": "fp_azure",
            "usage": usage(),
        }
    )


def _guarded(handler: Handler) -> Handler:
    async def guarded(request: web.Request) -> web.StreamResponse:
        return _refusal(request) or await handler(request)

    return guarded


def install(server: MockUpstream, prefix: str = "/openai/deployments/{deployment}") -> None:
    server.route("POST", f"{prefix}/chat/completions", chat)
    server.route("POST", f"{prefix}/completions", _guarded(openai_dialect.completions))
    server.route("POST", f"{prefix}/embeddings", _guarded(openai_dialect.embeddings))
    server.route("POST", f"{prefix}/images/generations", _guarded(openai_dialect.images))
    server.route("POST", f"{prefix}/audio/speech", _guarded(openai_dialect.speech))
