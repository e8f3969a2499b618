"""The Anthropic front door's translations: Anthropic requests in, OpenAI answers and streams back out."""

from __future__ import annotations

from typing import Any

import pytest

from switchyard.adapters.wire.base import Usage
from switchyard.errors import BadRequest, UpstreamError
from switchyard.services.gateway.anthropic_translation import AnthropicEvents, anthropic_message, openai_request

OPENAI_STREAM = (
    b'data: {"id":"chatcmpl-9x","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,'
    b'"delta":{"role":"assistant","content":""},"finish_reason":null}]}\n\n'
    b'data: {"id":"chatcmpl-9x","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,'
    b'"delta":{"content":"Let me"},"finish_reason":null}]}\n\n'
    b'data: {"id":"chatcmpl-9x","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,'
    b'"delta":{"content":" check."},"finish_reason":null}]}\n\n'
    b'data: {"id":"chatcmpl-9x","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,'
    b'"delta":{"tool_calls":[{"index":0,"id":"call_A","type":"function","function":{"name":"get_weather",'
    b'"arguments":""}}]},"finish_reason":null}]}\n\n'
    b'data: {"id":"chatcmpl-9x","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,'
    b'"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\\"city\\":"}}]},"finish_reason":null}]}\n\n'
    b'data: {"id":"chatcmpl-9x","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,'
    b'"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\\"Paris\\"}"}}]},"finish_reason":null}]}\n\n'
    b'data: {"id":"chatcmpl-9x","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,'
    b'"delta":{"tool_calls":[{"index":1,"id":"call_B","type":"function","function":{"name":"get_time",'
    b'"arguments":"{}"}}]},"finish_reason":null}]}\n\n'
    b'data: {"id":"chatcmpl-9x","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,'
    b'"delta":{},"finish_reason":"tool_calls"}]}\n\n'
    b'data: {"id":"chatcmpl-9x","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[],'
    b'"usage":{"prompt_tokens":30,"completion_tokens":17,"total_tokens":47,'
    b'"prompt_tokens_details":{"cached_tokens":12}}}\n\n'
    b"data: [DONE]\n\n"
)
ANTHROPIC_EVENTS = [
    b"event: message_start\n"
    b'data: {"type":"message_start","message":{"id":"msg_chatcmpl-9x","type":"message","role":"assistant",'
    b'"model":"gpt-4o","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":0,'
    b'"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0}}}\n\n',
    b"event: content_block_start\n"
    b'data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n',
    b"event: content_block_delta\n"
    b'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Let me"}}\n\n',
    b"event: content_block_delta\n"
    b'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" check."}}\n\n',
    b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n',
    b"event: content_block_start\n"
    b'data: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"call_A",'
    b'"name":"get_weather","input":{}}}\n\n',
    b"event: content_block_delta\n"
    b'data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta",'
    b'"partial_json":"{\\"city\\":"}}\n\n',
    b"event: content_block_delta\n"
    b'data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta",'
    b'"partial_json":"\\"Paris\\"}"}}\n\n',
    b'event: content_block_stop\ndata: {"type":"content_block_stop","index":1}\n\n',
    b"event: content_block_start\n"
    b'data: {"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"call_B",'
    b'"name":"get_time","input":{}}}\n\n',
    b"event: content_block_delta\n"
    b'data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{}"}}\n\n',
]
CLOSING = [
    b'event: content_block_stop\ndata: {"type":"content_block_stop","index":2}\n\n',
    b"event: message_delta\n"
    b'data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},'
    b'"usage":{"input_tokens":18,"cache_creation_input_tokens":0,"cache_read_input_tokens":12,"output_tokens":17}}\n\n',
    b'event: message_stop\ndata: {"type":"message_stop"}\n\n',
]


def run(events: AnthropicEvents, upstream: bytes, size: int, known: Usage | None = None) -> list[bytes]:
    out: list[bytes] = []
    for start in range(0, len(upstream), size):
        out += events.feed(upstream[start : start + size], known)
    return out


@pytest.mark.parametrize("size", [len(OPENAI_STREAM), 1, 3, 50, 200])
def test_golden_openai_stream_to_anthropic_events(size: int) -> None:
    events = AnthropicEvents("claude-alias")
    assert run(events, OPENAI_STREAM, size) == ANTHROPIC_EVENTS
    assert events.finish() == CLOSING


def test_input_tokens_known_early_go_in_message_start() -> None:
    events = AnthropicEvents("claude-alias")
    out = run(events, OPENAI_STREAM, 40, known=Usage(prompt_tokens=15, completion_tokens=1, cached_tokens=5))
    assert b'"usage":{"input_tokens":10,"cache_creation_input_tokens":0,"cache_read_input_tokens":5,' in out[0]


def test_an_empty_stream_still_makes_a_whole_message() -> None:
    events = AnthropicEvents("claude-alias")
    assert list(events.feed(b"data: [DONE]\n\n")) == []
    out = events.finish()
    assert [e.split(b"\n")[0] for e in out] == [
        b"event: message_start",
        b"event: message_delta",
        b"event: message_stop",
    ]
    assert b'"model":"claude-alias"' in out[0] and b'"stop_reason":"end_turn"' in out[1]


def test_an_error_in_the_stream_is_raised_after_what_came_before() -> None:
    events = AnthropicEvents("m")
    raw = OPENAI_STREAM[: OPENAI_STREAM.index(b"data: ", 10)] + b'data: {"error": {"message": "boom"}}\n\n'
    got: list[bytes] = []
    with pytest.raises(UpstreamError) as failed:
        for event in events.feed(raw):
            got.append(event)
    assert got == ANTHROPIC_EVENTS[:1] and failed.value.message == "boom"


def completion(message: dict[str, Any], finish: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13},
    }


def test_a_whole_answer_with_text_and_tool_calls() -> None:
    message = {
        "role": "assistant",
        "content": "Sure.",
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}},
            {"id": "call_2", "type": "function", "function": {"name": "broken", "arguments": "{not json"}},
        ],
    }
    answer = anthropic_message(completion(message, "tool_calls"), Usage(9, 4, cached_tokens=6), "alias")
    assert answer == {
        "id": "msg_chatcmpl-1",
        "type": "message",
        "role": "assistant",
        "model": "gpt-4o",
        "content": [
            {"type": "text", "text": "Sure."},
            {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Oslo"}},
            {"type": "tool_use", "id": "call_2", "name": "broken", "input": {}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 3,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 6,
            "output_tokens": 4,
        },
    }


@pytest.mark.parametrize(
    ("finish", "stop"),
    [("stop", "end_turn"), ("length", "max_tokens"), ("tool_calls", "tool_use"), ("content_filter", "refusal")],
)
def test_finish_reasons_become_stop_reasons(finish: str, stop: str) -> None:
    answer = anthropic_message(completion({"role": "assistant", "content": "x"}, finish), None, "alias")
    assert answer["stop_reason"] == stop
    assert answer["usage"]["input_tokens"] == 9 and answer["usage"]["output_tokens"] == 4


def test_a_whole_anthropic_request_becomes_an_openai_body() -> None:
    data = {
        "model": "claude-alias",
        "max_tokens": 256,
        "system": [{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Be kind."}],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQ"}},
                    {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "…", "signature": "s"},
                    {"type": "text", "text": "Looking."},
                    {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "3 C"}]},
                    {"type": "text", "text": "And tomorrow?"},
                ],
            },
        ],
        "tools": [{"name": "get_weather", "description": "Weather", "input_schema": {"type": "object"}}],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
        "stop_sequences": ["\n\nHuman:"],
        "temperature": 0.5,
        "top_k": 40,
        "metadata": {"user_id": "u-1"},
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "stream": True,
    }
    assert openai_request(data) == {
        "model": "claude-alias",
        "max_tokens": 256,
        "messages": [
            {"role": "system", "content": "Be brief.\n\nBe kind."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ"}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
                ],
            },
            {
                "role": "assistant",
                "content": "Looking.",
                "tool_calls": [
                    {
                        "id": "toolu_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "toolu_1", "content": "3 C"},
            {"role": "user", "content": "And tomorrow?"},
        ],
        "temperature": 0.5,
        "top_k": 40,
        "stop": ["\n\nHuman:"],
        "tools": [
            {
                "type": "function",
                "function": {"name": "get_weather", "parameters": {"type": "object"}, "description": "Weather"},
            }
        ],
        "tool_choice": "required",
        "parallel_tool_calls": False,
        "user": "u-1",
        "stream": True,
        "stream_options": {"include_usage": True},
    }


@pytest.mark.parametrize(
    ("data", "param"),
    [
        ({"max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}, "model"),
        ({"model": "m", "messages": [{"role": "user", "content": "x"}]}, "max_tokens"),
        ({"model": "m", "max_tokens": 0, "messages": [{"role": "user", "content": "x"}]}, "max_tokens"),
        ({"model": "m", "max_tokens": True, "messages": [{"role": "user", "content": "x"}]}, "max_tokens"),
        ({"model": "m", "max_tokens": 5, "messages": []}, "messages"),
        ({"model": "m", "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]}, "messages"),
        ({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": 3}]}, "messages.0.content"),
        ({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}], "stream": "no"}, "stream"),
        (
            {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}], "stop_sequences": "x"},
            "stop_sequences",
        ),
        (
            {
                "model": "m",
                "max_tokens": 5,
                "messages": [{"role": "user", "content": "x"}],
                "tools": [{"type": "web_search_20250305", "name": "web_search"}],
            },
            "tools",
        ),
    ],
)
def test_invalid_requests_are_refused_naming_the_field(data: dict[str, Any], param: str) -> None:
    with pytest.raises(BadRequest) as refused:
        openai_request(data)
    assert refused.value.param == param
