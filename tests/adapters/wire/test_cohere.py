"""The cohere wire format without a network: request and answer translations, embed, rerank, errors."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from switchyard.adapters.wire.base import Usage
from switchyard.adapters.wire.cohere import CohereAdapter
from switchyard.adapters.wire.cohere.chat_request import chat_request
from switchyard.adapters.wire.cohere.chat_response import chat_completion, usage_from_cohere
from switchyard.domain.gateway import Operation, WireFormat
from switchyard.errors import BadRequest, RateLimited, UpstreamError, UpstreamRejected, UpstreamTimeout
from tests.adapters.wire.provider_targets import target

COHERE = target(WireFormat.cohere, "command-a-03-2025", "https://api.cohere.com")
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        "strict": True,
    },
}


def test_a_whole_conversation_translates() -> None:
    body: dict[str, Any] = {
        "model": "command-a-03-2025",
        "messages": [
            {"role": "developer", "content": "Be brief."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Weather here?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAA", "detail": "low"}},
                ],
            },
            {
                "role": "assistant",
                "content": "I will check.",
                "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"c": 1}'}}
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": [{"type": "text", "text": "21 C"}]},
            {"role": "assistant", "content": "It is 21 C."},
            {"role": "user", "content": "Thanks"},
        ],
        "tools": [WEATHER_TOOL],
        "tool_choice": "required",
        "max_completion_tokens": 100,
        "stop": "END",
        "top_p": 0.9,
        "temperature": 0.2,
        "seed": 7,
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}},
        "user": "someone",
        "stream_options": {"include_usage": True},
        "safety_mode": "STRICT",
    }
    assert chat_request(body, stream=True) == {
        "model": "command-a-03-2025",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Weather here?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAA", "detail": "low"}},
                ],
            },
            {
                "role": "assistant",
                "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"c": 1}'}}
                ],
                "tool_plan": "I will check.",
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "21 C"},
            {"role": "assistant", "content": "It is 21 C."},
            {"role": "user", "content": "Thanks"},
        ],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
                    "description": "Weather in a city",
                },
            }
        ],
        "tool_choice": "REQUIRED",
        "strict_tools": True,
        "max_tokens": 100,
        "stop_sequences": ["END"],
        "p": 0.9,
        "response_format": {"type": "json_object", "json_schema": {"type": "object"}},
        "temperature": 0.2,
        "seed": 7,
        "safety_mode": "STRICT",
        "stream": True,
    }


def test_a_named_tool_choice_keeps_that_tool_alone() -> None:
    other = {"type": "function", "function": {"name": "get_time"}}
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [WEATHER_TOOL, other],
        "tool_choice": {"type": "function", "function": {"name": "get_time"}},
    }
    payload = chat_request(body, stream=False)
    assert payload["tool_choice"] == "REQUIRED"
    assert [t["function"]["name"] for t in payload["tools"]] == ["get_time"]
    assert payload["tools"][0]["function"]["parameters"] == {"type": "object", "properties": {}}
    assert "stream" not in payload


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"n": 2}, "n"),
        ({"messages": [{"role": "function", "content": "x"}]}, "messages"),
        ({"messages": [{"role": "user", "content": [{"type": "input_audio"}]}]}, "messages"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages"),
        ({"tools": [{"type": "web_search"}]}, "tools"),
        ({"tools": [WEATHER_TOOL], "tool_choice": {"type": "function", "function": {"name": "nope"}}}, "tool_choice"),
        ({"response_format": {"type": "grammar"}}, "response_format"),
    ],
)
def test_requests_cohere_cannot_serve_are_400(change: dict[str, Any], param: str) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]} | change
    with pytest.raises(BadRequest) as refused:
        chat_request(body, stream=False)
    assert refused.value.param == param


def test_a_text_answer() -> None:
    data = {
        "id": "5a50480a",
        "finish_reason": "MAX_TOKENS",
        "message": {
            "role": "assistant",
            "content": [{"type": "thinking", "thinking": "Hmm."}, {"type": "text", "text": "Hello"}],
            "citations": [{"start": 0, "end": 5}],
        },
        "usage": {"billed_units": {"input_tokens": 5, "output_tokens": 9}, "tokens": {"input_tokens": 71}},
    }
    completion, usage = chat_completion(data, "command-a-03-2025")
    assert completion["id"] == "5a50480a" and completion["model"] == "command-a-03-2025"
    assert completion["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello", "reasoning_content": "Hmm."},
            "finish_reason": "length",
            "logprobs": None,
        }
    ]
    assert usage == Usage(prompt_tokens=71, completion_tokens=9)  # tokens first, billed_units where it lacks
    assert completion["usage"] == {"prompt_tokens": 71, "completion_tokens": 9, "total_tokens": 80}


def test_a_tool_call_answer_says_its_plan_as_content() -> None:
    call = {"id": "get_weather_x", "type": "function", "function": {"name": "get_weather", "arguments": '{"a":1}'}}
    data = {
        "id": "x",
        "finish_reason": "TOOL_CALL",
        "message": {"role": "assistant", "tool_plan": "I will look it up.", "tool_calls": [call]},
        "usage": {"tokens": {"input_tokens": 20, "output_tokens": 10}, "cached_tokens": 12},
    }
    completion, usage = chat_completion(data, "m")
    choice = completion["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"] == {"role": "assistant", "content": "I will look it up.", "tool_calls": [call]}
    assert completion["usage"]["prompt_tokens_details"] == {"cached_tokens": 12}


@pytest.mark.parametrize(("reason", "error"), [("ERROR", UpstreamError), ("TIMEOUT", UpstreamTimeout)])
def test_a_failed_generation_is_an_upstream_error(reason: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        chat_completion({"finish_reason": reason, "message": {"content": []}}, "m")


def test_usage_without_counts_is_none() -> None:
    assert usage_from_cohere(None) is None
    assert usage_from_cohere({"billed_units": {"input_tokens": 3}}) == Usage(prompt_tokens=3)


def test_build_chat_uses_bearer_and_v2_chat() -> None:
    request = CohereAdapter().build(
        Operation.chat,
        {"model": "command-a-03-2025", "messages": [{"role": "user", "content": "hi"}]},
        COHERE,
        stream=True,
    )
    assert request.url == "https://api.cohere.com/v2/chat"
    assert request.headers["Authorization"] == "Bearer sk-secret"
    assert request.headers["Accept"] == "text/event-stream"
    assert orjson.loads(request.body or b"")["stream"] is True


def test_embeddings_round_trip() -> None:
    adapter = CohereAdapter()
    body = {"model": "embed-v4.0", "input": ["one", "two"], "dimensions": 256, "encoding_format": "float"}
    request = adapter.build(Operation.embeddings, body, COHERE, stream=False)
    assert request.url == "https://api.cohere.com/v2/embed"
    assert orjson.loads(request.body or b"") == {
        "model": "embed-v4.0",
        "texts": ["one", "two"],
        "input_type": "search_document",
        "embedding_types": ["float"],
        "output_dimension": 256,
    }
    answer = {
        "id": "e1",
        "embeddings": {"float": [[0.5, 0.25], [1.0, 0.0]]},
        "texts": ["one", "two"],
        "meta": {"api_version": {"version": "2"}, "billed_units": {"input_tokens": 2}},
        "response_type": "embeddings_by_type",
    }
    result = adapter.answer(Operation.embeddings, 200, orjson.dumps(answer), COHERE, body)
    assert result.data == {
        "object": "list",
        "data": [
            {"object": "embedding", "index": 0, "embedding": [0.5, 0.25]},
            {"object": "embedding", "index": 1, "embedding": [1.0, 0.0]},
        ],
        "model": "command-a-03-2025",
        "usage": {"prompt_tokens": 2, "total_tokens": 2},
    }
    with pytest.raises(BadRequest):
        adapter.build(Operation.embeddings, {"model": "m", "input": [[1, 2, 3]]}, COHERE, stream=False)


def test_rerank_round_trip_serves_documents_from_the_request() -> None:
    adapter = CohereAdapter()
    body = {
        "model": "rerank-v3.5",
        "query": "capital of France",
        "documents": ["Berlin is in Germany", {"text": "Paris is the capital of France"}],
        "top_n": 1,
        "return_documents": True,
    }
    request = adapter.build(Operation.rerank, body, COHERE, stream=False)
    assert request.url == "https://api.cohere.com/v2/rerank"
    assert orjson.loads(request.body or b"") == {
        "model": "rerank-v3.5",
        "query": "capital of France",
        "documents": ["Berlin is in Germany", "Paris is the capital of France"],
        "top_n": 1,
    }
    meta = {"api_version": {"version": "2"}, "billed_units": {"search_units": 1}}
    answer = {"id": "r1", "results": [{"index": 1, "relevance_score": 0.99}], "meta": meta}
    result = adapter.answer(Operation.rerank, 200, orjson.dumps(answer), COHERE, body)
    assert result.data == {
        "id": "r1",
        "model": "command-a-03-2025",
        "results": [{"index": 1, "relevance_score": 0.99, "document": {"text": "Paris is the capital of France"}}],
        "usage": {"prompt_tokens": 23, "total_tokens": 23},  # estimated (2 x 5 + 5 + 8): Cohere bills searches
        "meta": meta,
    }


def test_embeddings_and_rerank_cannot_stream() -> None:
    with pytest.raises(BadRequest):
        CohereAdapter().build(Operation.rerank, {"model": "m", "query": "q", "documents": ["d"]}, COHERE, stream=True)


@pytest.mark.parametrize(
    ("status", "error", "expected_status"),
    [(400, UpstreamRejected, 400), (422, UpstreamRejected, 422), (429, RateLimited, 429), (498, UpstreamError, 502)],
)
def test_errors(status: int, error: type[Exception], expected_status: int) -> None:
    mapped = CohereAdapter().error(status, b'{"id": "e", "message": "invalid request: bad thing"}')
    assert isinstance(mapped, error) and mapped.status == expected_status
    assert "invalid request: bad thing" in mapped.message


def test_a_cancelled_request_is_retryable() -> None:
    mapped = CohereAdapter().error(499, b'{"message": "request cancelled"}')
    assert isinstance(mapped, UpstreamError) and mapped.retryable
