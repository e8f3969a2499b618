"""OpenAI chat requests as Anthropic Messages requests: body, URL and headers."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from switchyard.adapters.wire.anthropic import AnthropicAdapter
from switchyard.adapters.wire.anthropic.request import messages_request
from switchyard.domain.gateway import Operation, ProviderAuth
from switchyard.errors import BadRequest
from tests.adapters.wire.anthropic_fixtures import target

ADAPTER = AnthropicAdapter()
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather by city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def test_a_whole_conversation_is_translated() -> None:
    body: dict[str, Any] = {
        "model": "claude-sonnet-4-5",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": [{"type": "text", "text": "Use metric units."}]},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is on these?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
                ],
            },
            {
                "role": "assistant",
                "content": "Let me look.",
                "tool_calls": [
                    {
                        "id": "toolu_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    },
                    {"id": "toolu_2", "type": "function", "function": {"name": "get_weather", "arguments": ""}},
                ],
            },
            {"role": "tool", "tool_call_id": "toolu_1", "content": "18 C"},
            {"role": "tool", "tool_call_id": "toolu_2", "content": [{"type": "text", "text": "unknown"}]},
            {"role": "user", "content": "Thanks"},
        ],
        "max_completion_tokens": 300,
        "max_tokens": 50,
        "temperature": 0.3,
        "top_p": 0.9,
        "stop": "END",
        "tools": [WEATHER_TOOL],
        "tool_choice": "required",
        "parallel_tool_calls": False,
        "user": "user-42",
        "metadata": {"purpose": "stored-completions tag"},
        "service_tier": "flex",
        "n": 1,
        "seed": 7,
        "presence_penalty": 0.1,
        "stream_options": {"include_usage": True},
        "response_format": {"type": "text"},
    }
    assert messages_request(body, stream=True) == {
        "model": "claude-sonnet-4-5",
        "max_tokens": 300,
        "system": "Be brief.\n\nUse metric units.",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is on these?"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
                    {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Let me look."},
                    {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
                    {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18 C"},
                    {"type": "tool_result", "tool_use_id": "toolu_2", "content": "unknown"},
                    {"type": "text", "text": "Thanks"},
                ],
            },
        ],
        "temperature": 0.3,
        "top_p": 0.9,
        "stop_sequences": ["END"],
        "tools": [
            {
                "name": "get_weather",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
                "description": "Weather by city",
            }
        ],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
        "metadata": {"user_id": "user-42"},
        "stream": True,
    }


def test_defaults_max_tokens_and_keeps_plain_strings() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": None}
    assert messages_request(body, stream=False) == {
        "model": "m",
        "max_tokens": 4096,
        "messages": [{"role": "user", "content": "hi"}],
    }
    assert messages_request(body | {"max_tokens": 12}, stream=False)["max_tokens"] == 12


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", {"type": "auto"}),
        ("required", {"type": "any"}),
        ("none", {"type": "none"}),
        ({"type": "function", "function": {"name": "get_weather"}}, {"type": "tool", "name": "get_weather"}),
    ],
)
def test_tool_choice(choice: Any, expected: dict[str, Any]) -> None:
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": "x"}],
        "tools": [WEATHER_TOOL],
        "tool_choice": choice,
    }
    assert messages_request(body, stream=False)["tool_choice"] == expected


def test_a_tool_without_parameters_gets_an_empty_object_schema() -> None:
    tool = {"type": "function", "function": {"name": "now"}}
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}], "tools": [tool]}
    assert messages_request(body, stream=False)["tools"] == [
        {"name": "now", "input_schema": {"type": "object", "properties": {}}}
    ]


@pytest.mark.parametrize(
    "message",
    [
        {"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "x", "format": "wav"}}]},
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png,raw"}}]},
        {"role": "assistant", "tool_calls": [{"id": "t", "function": {"name": "f", "arguments": "{not json"}}]},
        {"role": "assistant", "tool_calls": [{"id": "t", "function": {"name": "f", "arguments": "[1]"}}]},
        {"role": "function", "name": "f", "content": "x"},
    ],
)
def test_what_anthropic_cannot_take_is_a_400(message: dict[str, Any]) -> None:
    with pytest.raises(BadRequest) as refused:
        messages_request({"model": "m", "messages": [message]}, stream=False)
    assert refused.value.param == "messages"


def test_request_url_and_default_credentials() -> None:
    body = {"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "hi"}]}
    request = ADAPTER.build(Operation.chat, dict(body), target(), stream=False)
    assert request.method == "POST" and request.url == "https://api.anthropic.com/v1/messages"
    assert request.headers == {
        "content-type": "application/json",
        "anthropic-version": "2023-06-01",
        "x-api-key": "sk-ant-secret",
    }
    assert request.body is not None and orjson.loads(request.body)["max_tokens"] == 4096


def test_configured_auth_version_paths_and_extra_headers_are_honoured() -> None:
    custom = target(
        auth=ProviderAuth(header_name="X-Proxy-Key", header_prefix="Token"),
        api_version="2024-10-22",
        extra_headers={"anthropic-beta": "prompt-caching-2024-07-31", "Anthropic-Version": "2025-01-01"},
        paths={"chat": "/v1/proxy/messages"},
        base_url="https://proxy.example.com",
    )
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    request = ADAPTER.build(Operation.chat, body, custom, stream=True)
    assert request.url == "https://proxy.example.com/v1/proxy/messages"
    assert request.headers == {
        "content-type": "application/json",
        "anthropic-beta": "prompt-caching-2024-07-31",
        "Anthropic-Version": "2025-01-01",
        "X-Proxy-Key": "Token sk-ant-secret",
    }
    assert "x-api-key" not in ADAPTER.build(Operation.chat, body, target(api_key=None), stream=False).headers


def test_only_chat_is_supported() -> None:
    assert ADAPTER.supports(Operation.chat)
    assert not any(ADAPTER.supports(op) for op in Operation if op != Operation.chat)
