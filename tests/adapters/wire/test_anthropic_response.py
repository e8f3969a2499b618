"""Anthropic's whole answers and error bodies in OpenAI's shape."""

from __future__ import annotations

import orjson
import pytest

from switchyard.adapters.wire.anthropic import AnthropicAdapter
from switchyard.adapters.wire.base import Usage
from switchyard.domain.gateway import Operation
from switchyard.errors import RateLimited, UpstreamError, UpstreamRejected, UpstreamUnavailable
from tests.adapters.wire.anthropic_fixtures import target

ADAPTER = AnthropicAdapter()


def message(content: list[dict[str, object]], stop: str, **usage: int) -> bytes:
    return orjson.dumps(
        {
            "id": "msg_01Aq9w938a90dw8q",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5-20250929",
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": {"input_tokens": 20, "output_tokens": 9} | usage,
        }
    )


def test_text_and_tool_use_with_cached_usage() -> None:
    payload = message(
        [
            {"type": "thinking", "thinking": "hmm", "signature": "sig"},
            {"type": "text", "text": "Checking "},
            {"type": "text", "text": "the weather."},
            {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}},
        ],
        "tool_use",
        cache_read_input_tokens=100,
        cache_creation_input_tokens=30,
    )
    answer = ADAPTER.answer(Operation.chat, 200, payload, target(), {})
    assert answer.usage == Usage(prompt_tokens=150, completion_tokens=9, cached_tokens=100)
    assert answer.data is not None
    created = answer.data["created"]
    assert isinstance(created, int) and created > 0
    assert answer.data == {
        "id": "msg_01Aq9w938a90dw8q",
        "object": "chat.completion",
        "created": created,
        "model": "claude-sonnet-4-5-20250929",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Checking the weather.",
                    "tool_calls": [
                        {
                            "id": "toolu_01",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                        }
                    ],
                },
                "finish_reason": "tool_calls",
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": 150,
            "completion_tokens": 9,
            "total_tokens": 159,
            "prompt_tokens_details": {"cached_tokens": 100},
        },
    }


def test_only_a_tool_call_leaves_content_null() -> None:
    payload = message([{"type": "tool_use", "id": "t", "name": "now", "input": {}}], "tool_use")
    answer = ADAPTER.answer(Operation.chat, 200, payload, target(), {})
    assert answer.data is not None
    choice = answer.data["choices"][0]
    assert choice["message"]["content"] is None
    assert choice["message"]["tool_calls"][0]["function"]["arguments"] == "{}"


@pytest.mark.parametrize(
    ("stop", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("pause_turn", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("something_new", "stop"),
    ],
)
def test_stop_reasons(stop: str, finish: str) -> None:
    answer = ADAPTER.answer(Operation.chat, 200, message([{"type": "text", "text": "x"}], stop), target(), {})
    assert answer.data is not None and answer.data["choices"][0]["finish_reason"] == finish


def test_a_broken_answer_is_an_upstream_error() -> None:
    with pytest.raises(UpstreamError):
        ADAPTER.answer(Operation.chat, 200, b'{"id": "msg_', target(), {})


def error_body(type_: str, text: str) -> bytes:
    return orjson.dumps({"type": "error", "error": {"type": type_, "message": text}, "request_id": "req_1"})


def test_errors_map_into_the_tree() -> None:
    rejected = ADAPTER.error(400, error_body("invalid_request_error", "max_tokens: Field required"))
    assert isinstance(rejected, UpstreamRejected) and rejected.status == 400
    assert rejected.message == "max_tokens: Field required" and rejected.type == "invalid_request_error"
    too_large = ADAPTER.error(413, error_body("request_too_large", "Request exceeds the maximum size"))
    assert isinstance(too_large, UpstreamRejected) and too_large.status == 413
    limited = ADAPTER.error(429, error_body("rate_limit_error", "Number of request tokens has exceeded"))
    assert isinstance(limited, RateLimited) and limited.retryable
    overloaded = ADAPTER.error(529, error_body("overloaded_error", "Overloaded"))
    assert type(overloaded) is UpstreamError and overloaded.retryable and "Overloaded" in overloaded.message
    key = ADAPTER.error(401, error_body("authentication_error", "invalid x-api-key"))
    assert key.status == 502 and key.code == "upstream_auth" and key.retryable
    assert isinstance(ADAPTER.error(503, b"<html>Service Unavailable</html>"), UpstreamUnavailable)
    assert ADAPTER.error(500, b"<html>oops</html>").message.endswith("<html>oops</html>")
